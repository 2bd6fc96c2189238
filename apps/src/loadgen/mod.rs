//! `loadgen`, the load generator: closed-loop RPC, open-loop rate, bulk streams and connection
//! churn against any TCP server, over the engine or over Linux sockets, with HDR latency
//! percentiles, a progress line each second, a summary table and a JSON report.
//!
//! Module map:
//! - [`args`]: the command line; [`run`]: the plan, the phases and the coordinator;
//! - [`net`]: the `Net` trait both stacks implement; [`engine`] and [`kernel`]: the drivers
//!   (one pinned thread per core), including the embedded servers;
//! - [`workload`]: rpc/rate, stream, churn, written once over `Net`; [`proto`]: request bytes
//!   and response framing; [`stats`]: histograms and counters; [`report`]: output.

pub mod args;
pub mod engine;
pub mod kernel;
pub mod net;
pub mod proto;
pub mod report;
pub mod run;
pub mod sources;
pub mod stats;
pub mod workload;

pub use args::{Cli, Cmd, OptPortArgs, StackKind};

use crate::setup::SetupError;

/// Runs the command and returns its report (already printed unless `quiet`... the caller
/// prints the table).
pub fn execute(cmd: &Cmd) -> Result<(report::Report, run::Outcome), SetupError> {
    let plan = run::Plan::new(cmd);
    let out = match plan.common.stack {
        StackKind::Engine if plan.common.congestion.is_some() => {
            return Err(SetupError::Other(
                "--congestion is for the kernel stack; the engine's congestion control is --cc"
                    .into(),
            ));
        }
        StackKind::Engine => engine::run(&plan)?,
        StackKind::Kernel => {
            if plan.common.engine.port.is_some() {
                return Err(SetupError::Other(
                    "--port is for the engine stack; the kernel stack uses the host's interfaces"
                        .into(),
                ));
            }
            if plan.common.local_ports.is_some() {
                return Err(SetupError::Other(
                    "--local-ports is for the engine stack; the kernel's ephemeral ports are \
                     the sysctl net.ipv4.ip_local_port_range"
                        .into(),
                ));
            }
            if plan.common.engine.cc.is_some() {
                return Err(SetupError::Other(crate::setup::CC_KERNEL.into()));
            }
            if plan.common.ecn {
                return Err(SetupError::Other(
                    "--ecn is for the engine stack; Linux sockets ask for ECN when `sysctl \
                     net.ipv4.tcp_ecn` is 1 (leave out --ecn and set it)"
                        .into(),
                ));
            }
            kernel::run(&plan)?
        }
    };
    Ok((report::Report::new(&plan, &out), out))
}
