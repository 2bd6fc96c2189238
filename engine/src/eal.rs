//! Starting DPDK's Environment Abstraction Layer (EAL) from a typed configuration.
//!
//! `rte_eal_init` can run once per process: a second call fails with EALREADY even after
//! `rte_eal_cleanup` (measured, notes/dpdk-on-this-machine.md §4). [`init`] therefore keeps the
//! first outcome in a `OnceLock` and returns it to every later caller, whatever configuration
//! they pass; [`init_for_tests`] is the configuration the test suite shares.
//!
//! Failures come back as [`EalError`] values whose messages name the cause and the fix.
//!
//! Which CPUs the EAL's threads may run on is EAL's own business (`-l`, `-c`, `--lcores`):
//! [`EalConfig::names_lcores`] says whether a configuration chose them, and [`Eal::lcores`]
//! reads back what EAL made of it, so that programs place their stacks on exactly the CPUs the
//! user gave (apps::cpus).

use std::ffi::{CStr, CString};
use std::sync::OnceLock;

/// How to start the EAL. The defaults suit this project's machines: no hugepages, no PCI scan,
/// no shared configuration file, so that several processes and tests can each start their own.
#[derive(Clone, Debug)]
pub struct EalConfig {
    /// CPU list for EAL threads (`-l`), e.g. "0" or "0-1". `None`: EAL's default (all CPUs).
    pub cores: Option<String>,
    /// Memory in MiB (`-m`). With `no_huge` this is all the memory DPDK will ever have.
    pub memory_mb: u32,
    /// Use ordinary pages instead of hugepages (`--no-huge`).
    pub no_huge: bool,
    /// Skip the PCI bus scan (`--no-pci`): right when only virtual devices are used.
    pub no_pci: bool,
    /// Keep no shared runtime files (`--no-shconf`), so processes do not collide on a lock.
    pub no_shconf: bool,
    /// Devices created at start-up (`--vdev=...`); ports can also be hot-plugged later.
    pub vdevs: Vec<String>,
    /// PCI devices to use (`-a BDF`); empty means all (unless `no_pci`).
    pub allow_pci: Vec<String>,
    /// EAL log level (`--log-level`), e.g. "warning".
    pub log_level: Option<String>,
    /// Any further raw EAL arguments, appended as given.
    pub extra_args: Vec<String>,
}

impl Default for EalConfig {
    fn default() -> Self {
        EalConfig {
            cores: None,
            memory_mb: 1024,
            no_huge: true,
            no_pci: true,
            no_shconf: true,
            vdevs: Vec::new(),
            allow_pci: Vec::new(),
            log_level: Some("warning".into()),
            extra_args: Vec::new(),
        }
    }
}

impl EalConfig {
    /// Whether this configuration chooses the EAL's CPUs: `cores`, or `-l`, `-c` or
    /// `--lcores` among `extra_args` (either spelling, `-l 1` or `-l1`, `--lcores=...`).
    pub fn names_lcores(&self) -> bool {
        self.cores.is_some()
            || self.extra_args.iter().any(|a| {
                a.starts_with("--lcores")
                    || (a.starts_with("-l") || a.starts_with("-c")) && !a.starts_with("--")
            })
    }

    /// The argv this configuration gives `rte_eal_init` (program name first).
    pub fn to_args(&self) -> Vec<String> {
        let mut a = vec!["engine".to_string()];
        if let Some(c) = &self.cores {
            a.push("-l".into());
            a.push(c.clone());
        }
        a.push("-m".into());
        a.push(self.memory_mb.to_string());
        for (on, flag) in [
            (self.no_huge, "--no-huge"),
            (self.no_pci, "--no-pci"),
            (self.no_shconf, "--no-shconf"),
        ] {
            if on {
                a.push(flag.into());
            }
        }
        a.push("--no-telemetry".into());
        for d in &self.allow_pci {
            a.push("-a".into());
            a.push(d.clone());
        }
        for v in &self.vdevs {
            a.push(format!("--vdev={v}"));
        }
        if let Some(l) = &self.log_level {
            a.push(format!("--log-level={l}"));
            // net_tap and memif log harmless noise under --no-shconf (note §6.12).
            a.push("--log-level=pmd.net.tap:crit".into());
            a.push("--log-level=pmd.net.memif:error".into());
        }
        a.extend(self.extra_args.iter().cloned());
        a
    }
}

/// Why the EAL did not start.
#[derive(Clone, Debug, thiserror::Error)]
pub enum EalError {
    #[error(
        "DPDK EAL start-up failed: permission denied ({detail}); run as root \
         (or with CAP_SYS_ADMIN, CAP_NET_ADMIN and CAP_IPC_LOCK)"
    )]
    Permission { detail: String },
    #[error("DPDK EAL start-up failed: bad EAL arguments {args:?} ({detail}); check --eal-args")]
    BadArgs { args: Vec<String>, detail: String },
    #[error(
        "DPDK EAL start-up failed: not enough memory ({detail}); lower the EAL memory (-m) \
         or free memory"
    )]
    NoMemory { detail: String },
    #[error("DPDK EAL start-up failed: {detail} (EAL arguments {args:?})")]
    Other { args: Vec<String>, detail: String },
}

/// Proof that the EAL is running; the handle other modules ask for.
#[derive(Clone, Copy, Debug)]
pub struct Eal {
    _private: (),
}

impl Eal {
    /// TSC ticks per second, as DPDK calibrated it.
    pub fn tsc_hz(&self) -> u64 {
        // SAFETY: EAL is initialised (this handle exists only after a successful init).
        unsafe { dpdk_sys::rte_get_tsc_hz() }
    }
}

/// An EAL logical core: its id and the CPUs its thread may run on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lcore {
    pub id: u32,
    pub cpus: Vec<usize>,
}

impl Eal {
    /// The enabled lcores in id order, each with its CPU set (`-l 1,3` gives lcores 1 and 3 on
    /// CPUs 1 and 3; `--lcores=0@(0-1)` gives lcore 0 on CPUs 0 and 1).
    pub fn lcores(&self) -> Vec<Lcore> {
        const WORDS: usize = 16; // 1024 CPUs, glibc's CPU_SETSIZE
        (0..dpdk_sys::RTE_MAX_LCORE)
            .filter_map(|id| {
                let mut words = [0u64; WORDS];
                // SAFETY: EAL is initialised; `words` has room for WORDS words.
                let rc =
                    unsafe { dpdk_sys::shim_rte_lcore_cpus(id, words.as_mut_ptr(), WORDS as u32) };
                (rc == 0).then(|| Lcore {
                    id,
                    cpus: (0..WORDS * 64)
                        .filter(|&c| words[c / 64] & (1 << (c % 64)) != 0)
                        .collect(),
                })
            })
            .collect()
    }
}

static EAL: OnceLock<Result<Eal, EalError>> = OnceLock::new();

/// Starts the EAL once per process. Later calls return the first outcome and ignore `cfg`.
pub fn init(cfg: &EalConfig) -> Result<Eal, EalError> {
    EAL.get_or_init(|| start(cfg)).clone()
}

/// The EAL configuration shared by the test suite: 512 MiB of ordinary pages, no PCI, no shared
/// files, the calling thread free to run on any CPU (`--lcores=0@(0-N)`), quiet logs.
pub fn init_for_tests() -> Eal {
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cfg = EalConfig {
        memory_mb: 256,
        log_level: Some("error".into()),
        extra_args: vec![format!("--lcores=0@(0-{})", ncpu - 1)],
        ..EalConfig::default()
    };
    init(&cfg).unwrap_or_else(|e| panic!("{e}"))
}

fn start(cfg: &EalConfig) -> Result<Eal, EalError> {
    let args = cfg.to_args();
    // EAL permutes argv and keeps pointers into it: the strings must live forever (note §6.13).
    let mut argv: Vec<*mut libc::c_char> = args
        .iter()
        .map(|a| {
            CString::new(a.as_str())
                .expect("EAL args have no NUL")
                .into_raw()
        })
        .collect();
    argv.push(std::ptr::null_mut());
    let argv: &'static mut [*mut libc::c_char] = Box::leak(argv.into_boxed_slice());
    let argc = (argv.len() - 1) as libc::c_int;
    // SAFETY: argv is a leaked, NUL-terminated array of leaked C strings, valid forever.
    let rc = unsafe { dpdk_sys::rte_eal_init(argc, argv.as_mut_ptr()) };
    if rc >= 0 {
        return Ok(Eal { _private: () });
    }
    // SAFETY: rte_errno is thread-local and was set by the failed init on this thread.
    let errno = unsafe { dpdk_sys::shim_rte_errno() };
    let detail = error_string(errno);
    Err(match errno {
        libc::EACCES | libc::EPERM => EalError::Permission { detail },
        libc::EINVAL => EalError::BadArgs { args, detail },
        libc::ENOMEM => EalError::NoMemory { detail },
        _ => EalError::Other { args, detail },
    })
}

/// DPDK's description of an error number (`rte_strerror`).
pub fn error_string(errno: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a static or thread-local NUL-terminated string.
    unsafe { CStr::from_ptr(dpdk_sys::rte_strerror(errno)) }
        .to_string_lossy()
        .into_owned()
}

/// The calling thread's last DPDK error (`rte_errno`) as text.
pub fn last_error() -> String {
    // SAFETY: rte_errno is a thread-local int; reading it has no side effects.
    let errno = unsafe { dpdk_sys::shim_rte_errno() };
    error_string(errno)
}

/// Registers the calling (non-EAL) thread with DPDK so it gets an lcore id and mempool caches.
/// Harmless to call twice. Returns false if DPDK has no lcore left.
pub fn register_thread(_eal: Eal) -> bool {
    // SAFETY: EAL is initialised; registering an already registered thread is a no-op.
    unsafe {
        if dpdk_sys::shim_rte_lcore_id() != u32::MAX {
            return true;
        }
        let ok = dpdk_sys::rte_thread_register() == 0;
        // The thread's lcore id changed: the inline mempool-cache paths must read it again.
        crate::buf::forget_lcore();
        ok
    }
}

/// Reads the CPU's time-stamp counter (for the apps' clocks; the engine itself never does).
pub fn tsc() -> u64 {
    // SAFETY: rdtsc has no preconditions on x86_64.
    unsafe { core::arch::x86_64::_rdtsc() }
}
