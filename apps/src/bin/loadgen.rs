//! `loadgen`: the load generator (see `apps::loadgen`).
//!
//! ```text
//! loadgen rpc                                   # embedded: engine client and echo server, ring
//! loadgen rpc --stack kernel                    # the same over Linux loopback sockets
//! loadgen rate --rate 100000 --arrivals poisson
//! loadgen stream --direction both
//! loadgen churn --close rst
//! loadgen rpc --target '[fd00::2]:7'           # embedded, over IPv6
//! loadgen rpc --port tap:lg0 --ip 10.0.0.1/24 --target 10.0.0.2:7 --json out.json
//! loadgen rpc --port tap:lg0 --ip 10.0.0.1/24 --ip fd00::1/64 --target '[fd00::2]:7'
//! ```

use std::process::ExitCode;

use apps::loadgen::{self, Cli, report};
use apps::signal;

fn main() -> ExitCode {
    let cli: Cli = apps::setup::parse_args("loadgen");
    signal::install();
    match loadgen::execute(&cli.cmd) {
        Ok((rep, _)) => {
            print!("{}", rep.table());
            if let Some(c) = &rep.engine_counters {
                print!("{}", report::counters_block("client engine counters:", c));
            }
            if let Some(c) = rep.server.as_ref().and_then(|s| s.counters.as_ref()) {
                print!("{}", report::counters_block("server engine counters:", c));
            }
            if let Some(path) = &cli.cmd.common().json {
                let json = serde_json::to_string_pretty(&rep).expect("serializable report");
                if let Err(e) = std::fs::write(path, json + "\n") {
                    eprintln!("loadgen: cannot write {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
            }
            // A run that did not do what was asked says why, in one line, and fails.
            match &rep.failure {
                Some(why) => {
                    eprintln!("loadgen: failed: {why}");
                    ExitCode::FAILURE
                }
                None => ExitCode::SUCCESS,
            }
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}
