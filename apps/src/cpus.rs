//! Where the busy-polling stacks of a program run: which CPUs, the advisory CPU locks that keep
//! two engine programs on one host off each other's CPUs, and pinning.
//!
//! The rules (every program: `serve`, `proxy`, `loadgen`):
//!
//! - **The user chose** (`-l`, `-c` or `--lcores` in `--eal-args`): stack `i` runs on the CPUs
//!   of the `i`-th EAL lcore, as EAL itself reads the option ([`engine::eal::Eal::lcores`]):
//!   pinned when that is one CPU, free to move among them when it is a set
//!   (`--lcores=0@(0-1)`). More stacks than lcores is a set-up error naming the fix.
//! - **By default** the candidates are the CPUs this process may run on (its affinity, so
//!   `taskset` is respected), and EAL's main thread may run on any of them (`--lcores=0@(...)`
//!   instead of EAL's default, which pins it to the first CPU). Stacks take, in CPU order, the
//!   CPUs no other engine program holds; then CPUs another program holds (a warning names it);
//!   then, with more stacks than CPUs, CPUs this program already uses (a warning).
//! - **Locks**: a stack pinned to CPU `n` holds an exclusive `flock` on `cpu-n.lock` in
//!   [`lock_dir`] (`/run/engine`, or `$ENGINE_CPU_LOCK_DIR`) for the program's life; the kernel
//!   drops it when the program ends, however it ends, so a stale file never blocks a CPU. The
//!   file holds the holder's pid and name, for the warning. A stack that may move among several
//!   CPUs takes no lock: the kernel's scheduler places it.
//!
//! Nothing here runs per packet: the choice is made once at start, each thread enters its
//! place once.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use engine::eal::{Eal, EalConfig};

use crate::setup::SetupError;

/// Where one stack runs.
#[derive(Debug)]
pub struct Place {
    /// The CPUs its thread may run on (one: pinned).
    pub cpus: Vec<usize>,
    /// The CPU lock it holds (pinned stacks whose CPU was free).
    _lock: Option<File>,
}

impl Place {
    /// Restricts the calling thread to this place's CPUs (a warning if the kernel refuses).
    pub fn enter(&self, prog: &str) {
        // SAFETY: cpu_set_t is plain data; zeroed is the empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        for &c in &self.cpus {
            // SAFETY: CPU_SET bounds-checks against the set's size.
            unsafe { libc::CPU_SET(c, &mut set) };
        }
        // SAFETY: pid 0 is the calling thread; `set` is a valid cpu_set_t of the given size.
        let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
        if rc != 0 {
            eprintln!(
                "{prog}: warning: cannot restrict a stack's thread to CPUs {}: {}",
                list(&self.cpus),
                std::io::Error::last_os_error()
            );
        }
    }

    /// `3`, or `(0-1)` for a thread free to move among several CPUs.
    pub fn describe(&self) -> String {
        match self.cpus.as_slice() {
            [c] => c.to_string(),
            cs => format!("({})", list(cs)),
        }
    }
}

/// The stacks' places and what is wrong with them.
#[derive(Debug)]
pub struct Placement {
    pub places: Vec<Place>,
    /// One line each: stacks sharing a CPU, with each other or with another program.
    pub warnings: Vec<String>,
}

impl Placement {
    /// `CPUs 0,1` / `CPU 1` / `CPUs (0-1)`: the line every program prints at start.
    pub fn describe(&self) -> String {
        let all: Vec<String> = self.places.iter().map(Place::describe).collect();
        let s = if all.len() == 1 && self.places[0].cpus.len() == 1 {
            "CPU"
        } else {
            "CPUs"
        };
        format!("{s} {}", all.join(","))
    }

    /// Prints the warnings on stderr, `PROG: warning: ...`.
    pub fn warn(&self, prog: &str) {
        for w in &self.warnings {
            eprintln!("{prog}: warning: {w}");
        }
    }
}

/// `0-3,5`: a sorted CPU list in the kernel's list format.
pub fn list(cpus: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        out.push(if j > i {
            format!("{}-{}", cpus[i], cpus[j])
        } else {
            cpus[i].to_string()
        });
        i = j + 1;
    }
    out.join(",")
}

/// The CPUs this process may run on (its affinity mask), in order.
pub fn allowed() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; zeroed is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is the calling thread; `set` is writable and of the given size.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    let cpus: Vec<usize> = if rc == 0 {
        // SAFETY: CPU_ISSET only reads the set.
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
            .collect()
    } else {
        Vec::new()
    };
    if cpus.is_empty() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        return (0..n).collect();
    }
    cpus
}

/// Who chooses the stacks' CPUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chooser {
    /// The user, through EAL's `-l`, `-c` or `--lcores`.
    Eal,
    /// [`choose`], among the CPUs this process may use.
    Default,
}

/// Lets EAL's main thread run on every CPU this process may use, unless the configuration
/// names the lcores itself (then EAL places it as told). Call before `eal::init`; pass what
/// it returns to [`choose`].
pub fn prepare(cfg: &mut EalConfig) -> Chooser {
    if cfg.names_lcores() {
        return Chooser::Eal;
    }
    cfg.extra_args
        .push(format!("--lcores=0@({})", list(&allowed())));
    Chooser::Default
}

/// How many CPUs `chooser` has for stacks: the EAL lcores, or the CPUs this process may use.
pub fn available(eal: Eal, chooser: Chooser) -> usize {
    match chooser {
        Chooser::Eal => eal.lcores().len(),
        Chooser::Default => allowed().len(),
    }
}

/// Where the CPU locks live: `$ENGINE_CPU_LOCK_DIR`, else `/run/engine`.
pub fn lock_dir() -> PathBuf {
    std::env::var_os("ENGINE_CPU_LOCK_DIR")
        .map_or_else(|| PathBuf::from("/run/engine"), PathBuf::from)
}

/// Why a CPU could not be locked.
enum Held {
    /// Another program holds it (its pid and name, as it wrote them).
    By(String),
    /// The lock file could not be used at all.
    NoLock(String),
}

/// Takes the lock of `cpu` (exclusive, without waiting) and writes our pid and name into it.
fn lock(cpu: usize, prog: &str) -> Result<File, Held> {
    let dir = lock_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| Held::NoLock(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join(format!("cpu-{cpu}.lock"));
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Held::NoLock(format!("cannot open {}: {e}", path.display())))?;
    // SAFETY: a valid open descriptor; LOCK_NB makes flock return at once.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let mut who = String::new();
        let _ = f.read_to_string(&mut who);
        let who = who.trim();
        return Err(Held::By(if who.is_empty() {
            format!("another engine program ({})", path.display())
        } else {
            format!("{who} ({})", path.display())
        }));
    }
    let _ = f.set_len(0);
    let _ = writeln!(f, "pid {} {prog}", std::process::id());
    Ok(f)
}

/// Chooses the places of `stacks` busy-polling stacks for `prog` (see the module's rules).
/// `chooser` is what [`prepare`] returned; `first` (loadgen's `--first-cpu`) starts the
/// default choice at that CPU instead of preferring free ones.
pub fn choose(
    eal: Eal,
    chooser: Chooser,
    stacks: usize,
    first: Option<usize>,
    prog: &str,
) -> Result<Placement, SetupError> {
    if chooser == Chooser::Eal {
        return from_lcores(eal, stacks, prog);
    }
    let cpus = allowed();
    let mut out = Placement {
        places: Vec::new(),
        warnings: Vec::new(),
    };
    let order: Vec<usize> = match first {
        Some(f) => (0..cpus.len())
            .map(|k| cpus[(f + k) % cpus.len()])
            .collect(),
        None => cpus.clone(),
    };
    let mut held: Vec<(usize, String)> = Vec::new();
    for &c in &order {
        if out.places.len() == stacks {
            break;
        }
        match lock(c, prog) {
            Ok(f) => out.places.push(Place {
                cpus: vec![c],
                _lock: Some(f),
            }),
            Err(Held::By(who)) if first.is_none() => held.push((c, who)),
            Err(Held::By(who)) => {
                out.warnings.push(shared_with(prog, c, &who));
                out.places.push(Place {
                    cpus: vec![c],
                    _lock: None,
                });
            }
            Err(Held::NoLock(why)) => {
                out.warnings.push(format!(
                    "{why}: CPUs are chosen without knowing what other engine programs use \
                     (set ENGINE_CPU_LOCK_DIR to a writable directory)"
                ));
                return Ok(unlocked(out.warnings, &order, stacks));
            }
        }
    }
    for (c, who) in held {
        if out.places.len() == stacks {
            break;
        }
        out.warnings.push(shared_with(prog, c, &who));
        out.places.push(Place {
            cpus: vec![c],
            _lock: None,
        });
    }
    let mine = out.places.len();
    for k in mine..stacks {
        let c = out.places[k % mine].cpus[0];
        out.places.push(Place {
            cpus: vec![c],
            _lock: None,
        });
    }
    if stacks > mine {
        out.warnings.push(format!(
            "{stacks} busy-polling stacks on {mine} CPU(s) ({}): stacks share CPUs and slow \
             each other down; use at most {mine} (or run on more CPUs)",
            list(&cpus)
        ));
    }
    Ok(out)
}

fn shared_with(prog: &str, cpu: usize, who: &str) -> String {
    format!(
        "CPU {cpu} is already busy-polled by {who}: {prog}'s stack there shares it, and both \
         slow down (stop the other program, or give each its own CPUs with --eal-args \"-l ...\")"
    )
}

/// Places without locks, in `order`, cycling when there are more stacks than CPUs.
fn unlocked(warnings: Vec<String>, order: &[usize], stacks: usize) -> Placement {
    Placement {
        places: (0..stacks)
            .map(|k| Place {
                cpus: vec![order[k % order.len()]],
                _lock: None,
            })
            .collect(),
        warnings,
    }
}

/// Fails when the user's lcores are fewer than `stacks` (call before opening ports, so that
/// this mistake is reported before anything is created).
pub fn check(eal: Eal, chooser: Chooser, stacks: usize) -> Result<(), SetupError> {
    let lcores = eal.lcores();
    if chooser == Chooser::Eal && lcores.len() < stacks {
        let have: Vec<String> = lcores
            .iter()
            .map(|l| format!("({})", list(&l.cpus)))
            .collect();
        return Err(SetupError::Other(format!(
            "{stacks} stacks need {stacks} EAL lcores but --eal-args gives {} ({}): give one \
             CPU per stack (e.g. -l 0-{}) or fewer --cores",
            lcores.len(),
            have.join(" "),
            stacks - 1
        )));
    }
    Ok(())
}

/// The user named the lcores: stack `i` on lcore `i`'s CPUs.
fn from_lcores(eal: Eal, stacks: usize, prog: &str) -> Result<Placement, SetupError> {
    check(eal, Chooser::Eal, stacks)?;
    let lcores = eal.lcores();
    let mut out = Placement {
        places: Vec::new(),
        warnings: Vec::new(),
    };
    for l in lcores.into_iter().take(stacks) {
        let mut place = Place {
            cpus: l.cpus,
            _lock: None,
        };
        if let [c] = place.cpus[..] {
            if out.places.iter().any(|p: &Place| p.cpus == [c]) {
                out.warnings.push(format!(
                    "two of {prog}'s busy-polling stacks are pinned to CPU {c} (--eal-args): \
                     they slow each other down; give each stack its own CPU"
                ));
            } else {
                match lock(c, prog) {
                    Ok(f) => place._lock = Some(f),
                    Err(Held::By(who)) => out.warnings.push(shared_with(prog, c, &who)),
                    Err(Held::NoLock(_)) => {}
                }
            }
        }
        out.places.push(place);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_use_ranges() {
        assert_eq!(list(&[0, 1, 2, 3, 5, 7, 8]), "0-3,5,7-8");
        assert_eq!(list(&[1]), "1");
        assert_eq!(list(&[]), "");
    }
}
