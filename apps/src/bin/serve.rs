//! `serve`: brings a port up and answers ARP and ping; with a mode, serves TCP (echo, sink,
//! http). Prints its counters on Ctrl-C or SIGTERM.
//!
//! ```text
//! serve --port tap:dtap0 --ip 10.0.0.2/24
//! ```

use std::process::ExitCode;

use apps::clock::Clock;
use apps::setup::{self, PortArgs, SetupError};
use apps::{report, signal};
use clap::Parser;
use engine::{Stack, StackConfig};

/// Answer ARP and ping on a DPDK port (TCP server modes: see --help of each mode).
#[derive(Parser, Debug)]
#[command(name = "serve", version)]
struct Cli {
    #[command(flatten)]
    port: PortArgs,
    /// Print every counter at exit, zeros included.
    #[arg(long)]
    all_counters: bool,
}

fn run(cli: &Cli) -> Result<(), SetupError> {
    let eal = setup::start_eal(&cli.port, None)?;
    let (port, mut pools) = setup::open_port(eal, &cli.port, 1, "srv")?;
    let mut cfg = StackConfig::new(cli.port.ip.addr, cli.port.ip.prefix);
    cfg.gateway = cli.port.gateway;
    cfg.seed = cli.port.seed;
    let mut stack = Stack::new(port.queue(0), pools.remove(0), cfg);
    println!("serve: {} ip {}", setup::describe(&port), cli.port.ip);
    println!("serve: ready");
    let clock = Clock::new(eal);
    while !signal::stopped() {
        stack.poll(clock.now());
    }
    print!("{}", report::counters(&stack.counters(), cli.all_counters));
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    signal::install();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("serve: {e}");
            ExitCode::FAILURE
        }
    }
}
