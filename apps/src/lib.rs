//! Shared code of the engine's programs (`serve`, `loadgen`, `proxy`): clock, signals, port
//! set-up and reporting. Each program is a thin `main` over these and the engine's API.

pub mod clock;
pub mod conn_table;
pub mod cores;
pub mod cpus;
pub mod kernel_servers;
pub mod loadgen;
pub mod proxy;
pub mod report;
pub mod servers;
pub mod setup;
pub mod signal;
