//! The kernel driver (`--stack kernel`): the same workloads over Linux sockets, one thread per
//! core, each with its own epoll instance (edge-triggered), nonblocking sockets and
//! `TCP_NODELAY`. Without `--target`, an in-process kernel echo server
//! ([`crate::kernel_servers`]) listens on loopback, one thread per client core (SO_REUSEPORT),
//! pinned after the client threads.
//!
//! By default a thread sleeps in `epoll_wait` when it has nothing to do (as wrk does);
//! `--busy-poll` makes it spin with a zero timeout, as the engine spins on its port.
//! `--congestion NAME` sets `TCP_CONGESTION` on every socket (checked once at start).

use std::ffi::CString;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::net::{ErrKind, IoErr, Net, NetEvent};
use super::run::{self, Outcome, Pacer, Plan, ServerSide};
use super::stats::{Control, Stats};
use super::workload::{AnyWorkload, Workload};
use crate::kernel_servers;
use crate::setup::{IpCidr, SetupError};

/// Per file descriptor: which token it carries and a generation (stale events are dropped).
#[derive(Clone, Copy, Debug, Default)]
struct FdInfo {
    token: u32,
    generation: u32,
    connecting: bool,
    live: bool,
}

/// Linux sockets as a [`Net`]: one epoll instance and the target.
pub struct KernelNet {
    epfd: i32,
    target: SockAddr,
    /// Where connections are bound before connecting (`--source-ips`): connection `t` from
    /// `sources[t mod len]`, port chosen by connect. Empty: the kernel chooses the address.
    sources: Vec<SockAddr>,
    fds: Vec<FdInfo>,
    scratch: Vec<u8>,
    /// `TCP_CONGESTION` for every socket (`--congestion`).
    congestion: Option<CString>,
}

/// The report's kind of an errno.
pub fn errno_kind(e: i32) -> ErrKind {
    match e {
        libc::ECONNREFUSED => ErrKind::Refused,
        libc::ECONNRESET | libc::EPIPE | libc::ECONNABORTED => ErrKind::Reset,
        libc::ETIMEDOUT => ErrKind::TimedOut,
        libc::EADDRNOTAVAIL | libc::EADDRINUSE => ErrKind::NoPorts,
        _ => ErrKind::Other,
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// A socket address for the C API: a `sockaddr_in` or a `sockaddr_in6` in a
/// `sockaddr_storage`, with its length and family.
#[derive(Clone, Copy)]
pub struct SockAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
    /// `AF_INET` or `AF_INET6`, for `socket(2)`.
    pub family: i32,
}

impl SockAddr {
    /// The C form of `a`, IPv4 or IPv6.
    pub fn new(a: SocketAddr) -> SockAddr {
        // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
        let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let (len, family) = match a {
            SocketAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from(*a.ip()).to_be(),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
                unsafe {
                    std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin)
                };
                (std::mem::size_of::<libc::sockaddr_in>(), libc::AF_INET)
            }
            SocketAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo().to_be(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
                unsafe {
                    std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6)
                };
                (std::mem::size_of::<libc::sockaddr_in6>(), libc::AF_INET6)
            }
        };
        SockAddr {
            storage,
            len: len as libc::socklen_t,
            family,
        }
    }

    /// The pointer `bind(2)` and `connect(2)` take.
    pub fn as_ptr(&self) -> *const libc::sockaddr {
        (&self.storage as *const libc::sockaddr_storage).cast()
    }

    /// The length that goes with [`SockAddr::as_ptr`].
    pub fn socklen(&self) -> libc::socklen_t {
        self.len
    }
}

fn setsockopt_int(fd: i32, level: i32, name: i32, v: i32) {
    // SAFETY: fd is an open socket; the option value is a valid int of the given size.
    unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&v as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        );
    }
}

/// Sets `TCP_CONGESTION` on `fd`.
fn set_congestion(fd: i32, name: &CString) -> std::io::Result<()> {
    let bytes = name.as_bytes();
    // SAFETY: fd is an open socket; the value points at `bytes.len()` readable bytes.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_CONGESTION,
            bytes.as_ptr().cast(),
            bytes.len() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Checks that Linux accepts congestion control `name` on a socket of this namespace.
fn check_congestion(name: &str) -> Result<(), SetupError> {
    let bad = |why: String| {
        let avail = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_available_congestion_control")
            .unwrap_or_default();
        SetupError::Other(format!(
            "--congestion {name}: {why}; available here: {}",
            avail.trim()
        ))
    };
    let c = CString::new(name).map_err(|_| bad("not a name".into()))?;
    // SAFETY: plain syscall; the descriptor is closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(bad(std::io::Error::last_os_error().to_string()));
    }
    let res = set_congestion(fd, &c);
    // SAFETY: fd is ours and open.
    unsafe { libc::close(fd) };
    res.map_err(|e| bad(format!("Linux refused it ({e})")))
}

impl KernelNet {
    /// Binds `fd` to its source address (if `--source-ips` gave any), leaving the port to
    /// `connect` (`IP_BIND_ADDRESS_NO_PORT`), so each address has its own ephemeral ports per
    /// target. Returns the errno on failure (an address the host does not have:
    /// `EADDRNOTAVAIL`).
    fn bind_source(&self, fd: i32, token: u32) -> Result<(), i32> {
        if self.sources.is_empty() {
            return Ok(());
        }
        let src = &self.sources[token as usize % self.sources.len()];
        setsockopt_int(fd, libc::IPPROTO_IP, libc::IP_BIND_ADDRESS_NO_PORT, 1);
        // SAFETY: fd is an open socket; src is a valid socket address of its family.
        match unsafe { libc::bind(fd, src.as_ptr(), src.socklen()) } {
            0 => Ok(()),
            _ => Err(errno()),
        }
    }

    pub fn new(
        target: SocketAddr,
        sources: &[IpAddr],
        congestion: Option<CString>,
    ) -> std::io::Result<KernelNet> {
        // SAFETY: plain syscall.
        let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epfd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(KernelNet {
            epfd,
            target: SockAddr::new(target),
            sources: sources
                .iter()
                .map(|&a| SockAddr::new(SocketAddr::new(a, 0)))
                .collect(),
            fds: vec![FdInfo::default(); 1024],
            scratch: vec![0; 64 * 1024],
            congestion,
        })
    }

    /// Waits up to `timeout_ms` for events and appends the workload's view of them to `out`.
    pub fn wait(
        &mut self,
        evs: &mut [libc::epoll_event],
        timeout_ms: i32,
        out: &mut Vec<NetEvent>,
    ) {
        // SAFETY: evs is a writable array of epoll_event of the given length.
        let n =
            unsafe { libc::epoll_wait(self.epfd, evs.as_mut_ptr(), evs.len() as i32, timeout_ms) };
        for ev in evs.iter().take(n.max(0) as usize) {
            let (bits, data) = (ev.events, ev.u64);
            let fd = data as u32 as usize;
            let generation = (data >> 32) as u32;
            let Some(info) = self.fds.get_mut(fd) else {
                continue;
            };
            if !info.live || info.generation != generation {
                continue;
            }
            let t = info.token;
            if info.connecting {
                let outish = (libc::EPOLLOUT | libc::EPOLLERR | libc::EPOLLHUP) as u32;
                if bits & outish == 0 {
                    continue;
                }
                let mut err: i32 = 0;
                let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
                // SAFETY: fd is open; err and len are valid out-parameters.
                unsafe {
                    libc::getsockopt(
                        fd as i32,
                        libc::SOL_SOCKET,
                        libc::SO_ERROR,
                        (&mut err as *mut i32).cast(),
                        &mut len,
                    )
                };
                if err != 0 {
                    out.push(NetEvent::Closed(t, Some(errno_kind(err))));
                    continue;
                }
                info.connecting = false;
                out.push(NetEvent::Connected(t));
                if bits & (libc::EPOLLIN | libc::EPOLLRDHUP) as u32 != 0 {
                    out.push(NetEvent::Readable(t));
                }
                continue;
            }
            let readish =
                (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32;
            if bits & readish != 0 {
                out.push(NetEvent::Readable(t));
            }
            if bits & libc::EPOLLOUT as u32 != 0 {
                out.push(NetEvent::Writable(t));
            }
        }
    }

    fn forget(&mut self, fd: i32) {
        if let Some(i) = self.fds.get_mut(fd as usize) {
            i.live = false;
        }
    }
}

impl Drop for KernelNet {
    fn drop(&mut self) {
        // SAFETY: epfd is ours.
        unsafe { libc::close(self.epfd) };
    }
}

impl Net for KernelNet {
    type Conn = i32;

    fn connect(&mut self, token: u32) -> Result<i32, ErrKind> {
        // SAFETY: plain syscalls on a socket we create; target is a valid socket address.
        unsafe {
            let fd = libc::socket(
                self.target.family,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            );
            if fd < 0 {
                return Err(errno_kind(errno()));
            }
            setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1);
            if let Some(cc) = &self.congestion
                && set_congestion(fd, cc).is_err()
            {
                let e = errno();
                libc::close(fd);
                return Err(errno_kind(e));
            }
            if let Err(e) = self.bind_source(fd, token) {
                libc::close(fd);
                return Err(errno_kind(e));
            }
            let rc = libc::connect(fd, self.target.as_ptr(), self.target.socklen());
            if rc != 0 && errno() != libc::EINPROGRESS {
                let e = errno();
                libc::close(fd);
                return Err(errno_kind(e));
            }
            let i = fd as usize;
            if i >= self.fds.len() {
                self.fds.resize((i + 1) * 2, FdInfo::default());
            }
            let info = &mut self.fds[i];
            info.generation = info.generation.wrapping_add(1);
            info.token = token;
            info.connecting = true;
            info.live = true;
            let mut ev = libc::epoll_event {
                events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
                u64: (fd as u32 as u64) | (u64::from(info.generation) << 32),
            };
            if libc::epoll_ctl(self.epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) != 0 {
                let e = errno();
                info.live = false;
                libc::close(fd);
                return Err(errno_kind(e));
            }
            Ok(fd)
        }
    }

    #[inline]
    fn send(&mut self, fd: i32, data: &[u8]) -> Result<usize, IoErr> {
        // SAFETY: data is a valid buffer of its length; fd is ours.
        let n = unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), libc::MSG_NOSIGNAL) };
        if n >= 0 {
            return Ok(n as usize);
        }
        match errno() {
            libc::EAGAIN | libc::EINTR => Err(IoErr::WouldBlock),
            e => Err(IoErr::Failed(errno_kind(e))),
        }
    }

    #[inline]
    fn recv(&mut self, fd: i32, buf: &mut [u8]) -> Result<usize, IoErr> {
        // SAFETY: buf is writable for its length; fd is ours.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n >= 0 {
            return Ok(n as usize);
        }
        match errno() {
            libc::EAGAIN | libc::EINTR => Err(IoErr::WouldBlock),
            e => Err(IoErr::Failed(errno_kind(e))),
        }
    }

    fn discard(&mut self, fd: i32) -> Result<(usize, bool), ErrKind> {
        let mut total = 0;
        loop {
            // SAFETY: scratch is writable for its length; fd is ours.
            let n =
                unsafe { libc::recv(fd, self.scratch.as_mut_ptr().cast(), self.scratch.len(), 0) };
            if n > 0 {
                total += n as usize;
                continue;
            }
            if n == 0 {
                return Ok((total, true));
            }
            return match errno() {
                libc::EAGAIN | libc::EINTR => Ok((total, false)),
                e => Err(errno_kind(e)),
            };
        }
    }

    fn shutdown(&mut self, fd: i32) {
        // SAFETY: fd is ours.
        unsafe { libc::shutdown(fd, libc::SHUT_WR) };
    }

    fn close(&mut self, fd: i32) {
        self.forget(fd);
        // SAFETY: fd is ours; closing removes it from the epoll set.
        unsafe { libc::close(fd) };
    }

    fn abort(&mut self, fd: i32) {
        self.forget(fd);
        let l = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: fd is ours; linger {1, 0} makes close send a reset.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&l as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
            libc::close(fd);
        }
    }
}

/// Runs `plan` over Linux sockets.
pub fn run(plan: &Plan) -> Result<Outcome, SetupError> {
    let c = &plan.common;
    let cpus = run::cpus();
    let n = plan.cores;
    let first = c.first_cpu.unwrap_or(0);
    let cpu = |k: usize| cpus[(first + k) % cpus.len()];
    let embedded = c.target.is_none();
    if let Some(cc) = &c.congestion {
        check_congestion(cc)?;
    }
    let stop = AtomicBool::new(false);
    let (target, listeners) = if let Some(t) = c.target {
        (t, Vec::new())
    } else {
        let lo = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0);
        let ls = kernel_servers::bind(&[lo], n)
            .map_err(|e| SetupError::Other(format!("cannot listen on loopback: {e}")))?;
        let port = ls[0][0]
            .local_addr()
            .map_err(|e| SetupError::Other(e.to_string()))?
            .port();
        (SocketAddr::new(lo.ip(), port), ls)
    };
    let sources = kernel_sources(c.source_ips, &c.engine.ip, target.ip())?;
    let setup = if embedded {
        format!(
            "kernel sockets over loopback: client on {n} core(s) (CPUs {:?}), in-process kernel \
             {:?} server {target} on {n} thread(s) (CPUs {:?})",
            (0..n).map(cpu).collect::<Vec<_>>(),
            c.server,
            (n..2 * n).map(cpu).collect::<Vec<_>>()
        )
    } else {
        format!(
            "kernel sockets, {n} core(s) on CPUs {:?}",
            (0..n).map(cpu).collect::<Vec<_>>()
        )
    };
    if !c.quiet {
        eprintln!("loadgen: {setup}");
    }
    let ctl = Control::new(n);
    let t0 = Instant::now();
    let host = target.to_string();
    let (clients, servers, measured) = std::thread::scope(|s| {
        let mut server_handles = Vec::new();
        for (i, l) in listeners.into_iter().enumerate() {
            let (stop, mode, at) = (&stop, c.server, cpu(n + i));
            server_handles.push(s.spawn(move || {
                run::pin(at);
                kernel_servers::serve(l, mode, &|| stop.load(Ordering::Relaxed))
            }));
        }
        let mut handles = Vec::new();
        for i in 0..n {
            let (ctl, host, at, src) = (&ctl, &host, cpu(i), &sources);
            handles.push(s.spawn(move || client_thread(plan, ctl, i, target, src, host, at, t0)));
        }
        let measured = run::coordinate(&ctl, &plan.common);
        let clients: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect();
        stop.store(true, Ordering::Relaxed);
        let servers: Vec<_> = server_handles
            .into_iter()
            .map(|h| h.join().expect("server thread"))
            .collect();
        (clients, servers, measured)
    });
    let mut stats = Stats::default();
    for st in clients {
        stats.merge(&st.map_err(|e| SetupError::Other(format!("epoll: {e}")))?);
    }
    let server = embedded.then(|| {
        let mut side = ServerSide::default();
        for st in servers {
            side.stats.add(&st);
        }
        side
    });
    Ok(Outcome {
        stats,
        measured,
        client_counters: None,
        server,
        setup,
        target: target.to_string(),
        embedded,
    })
}

/// `--source-ips N` over Linux sockets: N consecutive addresses from the first `--ip` of the
/// target's family (the host must have them: every 127.0.0.0/8 address is local), empty
/// without the option.
fn kernel_sources(
    n: Option<usize>,
    ips: &[IpCidr],
    target: IpAddr,
) -> Result<Vec<IpAddr>, SetupError> {
    let Some(n) = n else {
        return Ok(Vec::new());
    };
    let Some(first) = ips
        .iter()
        .copied()
        .find(|c| c.addr.is_ipv4() == target.is_ipv4())
    else {
        return Err(SetupError::Other(format!(
            "--source-ips with --stack kernel binds to consecutive host addresses from --ip: \
             give the first (e.g. --ip 127.0.0.1/8 toward {target})"
        )));
    };
    Ok(super::sources::consecutive(first, n, target)?
        .into_iter()
        .map(|c| c.addr)
        .collect())
}

#[allow(clippy::too_many_arguments)]
fn client_thread(
    plan: &Plan,
    ctl: &Control,
    i: usize,
    target: SocketAddr,
    sources: &[IpAddr],
    host: &str,
    cpu: usize,
    t0: Instant,
) -> std::io::Result<Stats> {
    let _guard = run::DoneGuard(ctl, i);
    run::pin(cpu);
    // Checked in `run`: a name Linux accepts has no NUL.
    let congestion = plan
        .common
        .congestion
        .as_deref()
        .and_then(|n| CString::new(n).ok());
    let mut net = KernelNet::new(target, sources, congestion)?;
    let mut wl: AnyWorkload<i32> = plan.workload(i, host);
    let mut pacer = Pacer::new(i, plan.common.drain);
    let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    let mut pending = Vec::with_capacity(512);
    let now_ns = || t0.elapsed().as_nanos() as u64;
    wl.start(&mut net, now_ns());
    ctl.worker_started();
    let busy = plan.common.busy_poll;
    loop {
        let now = now_ns();
        let timeout = if busy {
            0
        } else {
            match wl.next_wakeup() {
                Some(t) if t <= now => 0,
                Some(t) => ((t - now) / 1_000_000).min(10) as i32,
                None => 10,
            }
        };
        net.wait(&mut evs, timeout, &mut pending);
        let now = now_ns();
        let t = &mut wl.stats().total;
        t.polls += 1;
        t.idle_polls += u64::from(pending.is_empty());
        for ev in pending.drain(..) {
            wl.on_event(&mut net, now, ev);
        }
        wl.tick(&mut net, now);
        if !pacer.step(ctl, &mut wl, &mut net, now) {
            break;
        }
    }
    pacer.done(ctl);
    Ok(std::mem::take(wl.stats()))
}
