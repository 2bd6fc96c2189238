//! The machine a run happened on.

use serde::Serialize;

use crate::child::run;

#[derive(Serialize, Clone, Debug, Default)]
pub struct Machine {
    pub cpu_model: String,
    pub nproc: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub dpdk: String,
    pub date_utc: String,
    pub hostname: String,
    pub git_commit: String,
    pub rustc: String,
    pub loadavg_start: String,
    pub loadavg_end: String,
    /// Other work on the machine during the whole run.
    pub interference: Interference,
}

fn first_line_with(path: &str, key: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()?.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

fn trimmed(r: Result<String, String>) -> String {
    r.map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Reads what describes this machine (and the source tree at `workspace`).
pub fn collect(workspace: &std::path::Path) -> Machine {
    let nproc = std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| s.lines().filter(|l| l.starts_with("processor")).count())
        .unwrap_or(0);
    let mem_kib: f64 = first_line_with("/proc/meminfo", "MemTotal")
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0.0);
    let ws = workspace.display().to_string();
    let commit = run(&["git", "-C", &ws, "rev-parse", "--short", "HEAD"])
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let dirty = run(&[
        "git",
        "-C",
        &ws,
        "status",
        "--porcelain",
        "--untracked-files=no",
    ])
    .map(|s| !s.trim().is_empty())
    .unwrap_or(false);
    Machine {
        cpu_model: first_line_with("/proc/cpuinfo", "model name").unwrap_or_default(),
        nproc,
        memory_gib: (mem_kib / (1024.0 * 1024.0) * 10.0).round() / 10.0,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        dpdk: trimmed(run(&["pkg-config", "--modversion", "libdpdk"])),
        date_utc: trimmed(run(&["date", "-u", "+%Y-%m-%d %H:%M:%S UTC"])),
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        git_commit: if dirty {
            format!("{commit} (with uncommitted changes)")
        } else {
            commit
        },
        rustc: trimmed(run(&["rustc", "--version"])),
        loadavg_start: loadavg(),
        loadavg_end: String::new(),
        interference: Interference::default(),
    }
}

/// CPU time on the whole machine and in this benchmark's processes, to tell how much other
/// work ran beside a measurement.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuSnapshot {
    at: Option<std::time::Instant>,
    /// Busy CPU seconds of the whole machine (user, nice, system, irq, softirq).
    busy: f64,
    /// Seconds stolen by the hypervisor.
    steal: f64,
    /// CPU seconds of this process and its reaped children.
    ours: f64,
    /// CPU seconds of kernel threads (ksoftirqd, kworkers: partly the kernel stack's own work).
    kthreads: f64,
}

/// Other work beside a measurement: CPU that other processes used (kernel threads left out:
/// softirq work of the kernel stack under test runs in them) and time the hypervisor stole, as
/// a share of all the machine's CPUs over the interval.
#[derive(Serialize, Clone, Copy, Debug, Default)]
pub struct Interference {
    pub other_cpu_pct: f64,
    pub steal_pct: f64,
}

fn rusage_secs(who: libc::c_int) -> f64 {
    // SAFETY: ru is a plain out-parameter.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

impl CpuSnapshot {
    pub fn take() -> CpuSnapshot {
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let f: Vec<f64> = stat
            .lines()
            .find(|l| l.starts_with("cpu "))
            .map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .filter_map(|x| x.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let g = |i: usize| f.get(i).copied().unwrap_or(0.0) / hz;
        CpuSnapshot {
            at: Some(std::time::Instant::now()),
            // user nice system idle iowait irq softirq steal
            busy: g(0) + g(1) + g(2) + g(5) + g(6),
            steal: g(7),
            ours: rusage_secs(libc::RUSAGE_SELF) + rusage_secs(libc::RUSAGE_CHILDREN),
            kthreads: kthread_ticks() / hz,
        }
    }

    /// What other work used between `self` and `later` on `ncpu` CPUs.
    pub fn since(&self, later: &CpuSnapshot, ncpu: usize) -> Interference {
        let (Some(a), Some(b)) = (self.at, later.at) else {
            return Interference::default();
        };
        let capacity = (b - a).as_secs_f64() * ncpu.max(1) as f64;
        if capacity <= 0.0 {
            return Interference::default();
        }
        let other =
            (later.busy - self.busy) - (later.ours - self.ours) - (later.kthreads - self.kthreads);
        Interference {
            other_cpu_pct: (100.0 * other / capacity).clamp(0.0, 100.0),
            steal_pct: (100.0 * (later.steal - self.steal) / capacity).clamp(0.0, 100.0),
        }
    }
}

/// Sum of utime + stime (clock ticks) of all kernel threads.
fn kthread_ticks() -> f64 {
    const PF_KTHREAD: u64 = 0x0020_0000;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    let mut sum = 0.0;
    for e in dir.flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // Fields after the command name (which may hold spaces) start with the state (field 3).
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
        if num(6) & PF_KTHREAD != 0 {
            sum += (num(11) + num(12)) as f64;
        }
    }
    sum
}
