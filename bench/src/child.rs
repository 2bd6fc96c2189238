//! Child processes with timeouts, and the Ctrl-C flag.
//!
//! Every child runs in a process group of its own (so that a terminal's Ctrl-C reaches only
//! the benchmark, which then stops its children in order: a server gets SIGINT and prints its
//! counters) and gets SIGTERM if the benchmark dies (`PR_SET_PDEATHSIG`), so that no busy
//! poller outlives it. Its stdout and stderr go to files in the log directory.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Turns SIGINT, SIGTERM and SIGHUP into a flag ([`interrupted`]).
pub fn install_signals() {
    let handler: extern "C" fn(libc::c_int) = on_signal;
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { libc::signal(sig, handler as libc::sighandler_t) };
    }
}

/// True once a stop signal arrived.
pub fn interrupted() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// How a wait ended.
#[derive(Debug)]
pub enum Waited {
    Exited(ExitStatus),
    TimedOut,
    Interrupted,
}

/// A running child process.
pub struct Child {
    pub argv: Vec<String>,
    proc: std::process::Child,
    pub out: PathBuf,
    pub err: PathBuf,
    status: Option<ExitStatus>,
    /// Its peak resident set, KiB (`ru_maxrss` of `wait4`), once it has exited.
    pub max_rss_kib: Option<u64>,
}

/// Starts `argv` with stdout and stderr in `logs/NAME.out` and `logs/NAME.err`.
pub fn spawn(argv: &[String], logs: &Path, name: &str) -> Result<Child, String> {
    let out = logs.join(format!("{name}.out"));
    let err = logs.join(format!("{name}.err"));
    let open =
        |p: &Path| File::create(p).map_err(|e| format!("cannot create {}: {e}", p.display()));
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(open(&out)?)
        .stderr(open(&err)?)
        .process_group(0);
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    let proc = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", argv[0]))?;
    Ok(Child {
        argv: argv.to_vec(),
        proc,
        out,
        err,
        status: None,
        max_rss_kib: None,
    })
}

impl Child {
    /// The exit status, if it has exited (reaps it).
    /// `wait4` rather than `try_wait`, for the child's peak memory (`ip netns exec` and
    /// `taskset` exec the program they run, so the pid is the program's).
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            let mut raw = 0;
            // SAFETY: an all-zero rusage is a valid out-parameter.
            let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
            let pid = self.proc.id() as libc::pid_t;
            // SAFETY: our own child's pid; `raw` and `ru` are valid out-parameters.
            let rc = unsafe { libc::wait4(pid, &mut raw, libc::WNOHANG, &mut ru) };
            if rc == pid {
                self.status = Some(std::os::unix::process::ExitStatusExt::from_raw(raw));
                self.max_rss_kib = Some(ru.ru_maxrss as u64);
            }
        }
        self.status
    }

    /// Waits up to `timeout` for the child to exit (or for Ctrl-C).
    pub fn wait(&mut self, timeout: Duration) -> Waited {
        let start = Instant::now();
        loop {
            if let Some(s) = self.try_status() {
                return Waited::Exited(s);
            }
            if interrupted() {
                return Waited::Interrupted;
            }
            if start.elapsed() >= timeout {
                return Waited::TimedOut;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Reaps a child sent SIGKILL (it dies at once; up to 2 s for a loaded machine).
    fn reap_killed(&mut self) {
        for _ in 0..400 {
            if self.try_status().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn signal(&self, sig: libc::c_int) {
        // The child leads its own process group (process_group(0)): signal the whole group.
        // SAFETY: plain syscall on a process group we created.
        unsafe { libc::kill(-(self.proc.id() as libc::pid_t), sig) };
    }

    /// Stops the child: SIGINT (servers print their counters), then SIGKILL after `grace`.
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        if let Some(s) = self.try_status() {
            return Some(s);
        }
        self.signal(libc::SIGINT);
        let start = Instant::now();
        while start.elapsed() < grace {
            if let Some(s) = self.try_status() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.signal(libc::SIGKILL);
        self.reap_killed();
        self.status
    }

    /// What it wrote to stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// The last `n` lines of its stderr, joined with " | ".
    pub fn stderr_tail(&self, n: usize) -> String {
        let s = std::fs::read_to_string(&self.err).unwrap_or_default();
        let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(n)..].join(" | ")
    }

    /// Waits until `ready()` holds, the child exits, Ctrl-C, or `timeout`.
    pub fn wait_until(
        &mut self,
        timeout: Duration,
        ready: impl Fn(&Child) -> bool,
    ) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if ready(self) {
                return Ok(());
            }
            if let Some(s) = self.try_status() {
                return Err(format!(
                    "{} exited during start-up ({s}): {}",
                    self.argv.join(" "),
                    self.stderr_tail(3)
                ));
            }
            if interrupted() {
                return Err("interrupted".into());
            }
            if start.elapsed() >= timeout {
                return Err(format!(
                    "{} not ready within {timeout:?}: {}",
                    self.argv.join(" "),
                    self.stderr_tail(3)
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.try_status().is_none() {
            self.signal(libc::SIGKILL);
            self.reap_killed();
        }
    }
}

/// Runs a short command to completion; its stdout, or its stderr as the error.
pub fn run(argv: &[&str]) -> Result<String, String> {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", argv.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{}` failed ({}): {}",
            argv.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Strings from string slices, for argv building.
pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}
