//! The servers of [`crate::servers`] (echo, sink, http) over Linux sockets, for `serve --stack
//! kernel` and for `loadgen --stack kernel`'s embedded server: the same protocols and the same
//! [`ServerStats`], so that every figure can be compared with the kernel by the same tools.
//!
//! One thread per listener, each with its own epoll instance (edge-triggered) and nonblocking
//! sockets with `TCP_NODELAY`; several threads share a port through `SO_REUSEPORT` (the kernel
//! spreads connections over them). Echo writes back what it reads; when the peer does not read,
//! the rest waits in a per-connection buffer and the connection is not read until it drains
//! (backpressure). Half-close passes through: after the client's FIN, echo finishes sending and
//! closes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd};

use crate::loadgen::kernel::SockAddr;
use crate::servers::{HTTP_BODY, Mode, ServerStats};

/// Listening sockets on every address of `addrs` for each of `n` threads (SO_REUSEPORT):
/// `result[thread][address]`. Port 0 in the first address picks one port for all. An IPv6
/// socket is IPv6-only (`IPV6_V6ONLY`), so `0.0.0.0` and `[::]` on one port are one socket
/// per family.
pub fn bind(addrs: &[SocketAddr], n: usize) -> std::io::Result<Vec<Vec<TcpListener>>> {
    let mut addrs = addrs.to_vec();
    let mut out: Vec<Vec<TcpListener>> = Vec::with_capacity(n.max(1));
    for _ in 0..n.max(1) {
        let mut ls = Vec::with_capacity(addrs.len());
        for i in 0..addrs.len() {
            let l = bind_one(addrs[i])?;
            if addrs[i].port() == 0 {
                let port = l.local_addr()?.port();
                for a in addrs[i..].iter_mut().filter(|a| a.port() == 0) {
                    a.set_port(port);
                }
            }
            ls.push(l);
        }
        out.push(ls);
    }
    Ok(out)
}

/// `[0.0.0.0:port, [::]:port]`: every address of both families, or only IPv4 when this
/// kernel has no IPv6.
pub fn any_addrs(port: u16) -> Vec<SocketAddr> {
    let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
    let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port);
    // SAFETY: plain syscalls on a socket we create and close at once.
    let has_v6 = unsafe {
        let fd = libc::socket(libc::AF_INET6, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd >= 0 {
            libc::close(fd);
        }
        fd >= 0
    };
    if has_v6 { vec![v4, v6] } else { vec![v4] }
}

fn bind_one(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let err = std::io::Error::last_os_error;
    let sa = SockAddr::new(addr);
    // SAFETY: plain syscalls on a socket we create and own (wrapped in a TcpListener below).
    unsafe {
        let fd = libc::socket(
            sa.family,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return Err(err());
        }
        let l = TcpListener::from_raw_fd(fd);
        let one: i32 = 1;
        let mut opts = vec![
            (libc::SOL_SOCKET, libc::SO_REUSEADDR),
            (libc::SOL_SOCKET, libc::SO_REUSEPORT),
        ];
        if sa.family == libc::AF_INET6 {
            opts.push((libc::IPPROTO_IPV6, libc::IPV6_V6ONLY));
        }
        for (level, opt) in opts {
            libc::setsockopt(
                fd,
                level,
                opt,
                (&one as *const i32).cast(),
                std::mem::size_of::<i32>() as libc::socklen_t,
            );
        }
        if libc::bind(fd, sa.as_ptr(), sa.socklen()) != 0 {
            return Err(err());
        }
        if libc::listen(fd, 4096) != 0 {
            return Err(err());
        }
        Ok(l)
    }
}

#[derive(Default)]
struct Conn {
    live: bool,
    /// Echo/http: bytes still to write (backpressure), from `off`.
    pending: Vec<u8>,
    off: usize,
    /// HTTP: the request bytes seen so far.
    request: Vec<u8>,
    close_after: bool,
    eof: bool,
}

struct KServer {
    mode: Mode,
    epfd: i32,
    conns: Vec<Conn>,
    buf: Vec<u8>,
    response: Vec<u8>,
    stats: ServerStats,
}

/// The epoll data of listener `i` (accepted sockets carry their descriptor).
const LISTENER: u64 = u64::MAX;

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Serves connections accepted on `listeners` (one thread's, e.g. one per address family)
/// until `stop()` is true; returns what it counted.
pub fn serve(listeners: Vec<TcpListener>, mode: Mode, stop: &dyn Fn() -> bool) -> ServerStats {
    // SAFETY: plain syscall.
    let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(
        epfd >= 0,
        "epoll_create1: {}",
        std::io::Error::last_os_error()
    );
    for (i, l) in listeners.iter().enumerate() {
        let _ = l.set_nonblocking(true);
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLET) as u32,
            u64: LISTENER - i as u64,
        };
        // SAFETY: both descriptors are open; ev is valid.
        unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, l.as_raw_fd(), &mut ev) };
    }
    let response = format!(
        "HTTP/1.1 200 OK\r\nServer: kernel\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        HTTP_BODY.len()
    )
    .into_bytes()
    .into_iter()
    .chain(HTTP_BODY.iter().copied())
    .collect();
    let mut s = KServer {
        mode,
        epfd,
        conns: (0..1024).map(|_| Conn::default()).collect(),
        buf: vec![0; 64 * 1024],
        response,
        stats: ServerStats::default(),
    };
    let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    while !stop() {
        // SAFETY: evs is writable for its length.
        let n = unsafe { libc::epoll_wait(epfd, evs.as_mut_ptr(), evs.len() as i32, 20) };
        for e in evs.iter().take(n.max(0) as usize) {
            let data = e.u64;
            let listener = LISTENER - data;
            if listener < listeners.len() as u64 {
                s.accept(listeners[listener as usize].as_raw_fd());
            } else {
                s.serve(data as i32);
            }
        }
    }
    for fd in 0..s.conns.len() {
        if s.conns[fd].live {
            s.close(fd as i32);
        }
    }
    // SAFETY: epfd is ours.
    unsafe { libc::close(epfd) };
    s.stats
}

impl KServer {
    fn accept(&mut self, lfd: i32) {
        loop {
            // SAFETY: lfd is a listening socket; no address is asked for.
            let fd = unsafe {
                libc::accept4(
                    lfd,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            if fd < 0 {
                return; // EAGAIN (or a transient error: the next edge retries)
            }
            let one: i32 = 1;
            let mut ev = libc::epoll_event {
                events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
                u64: fd as u64,
            };
            // SAFETY: fd is the socket just accepted; option and event are valid.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::IPPROTO_TCP,
                    libc::TCP_NODELAY,
                    (&one as *const i32).cast(),
                    std::mem::size_of::<i32>() as libc::socklen_t,
                );
                libc::epoll_ctl(self.epfd, libc::EPOLL_CTL_ADD, fd, &mut ev);
            }
            let i = fd as usize;
            if i >= self.conns.len() {
                self.conns.resize_with((i + 1) * 2, Conn::default);
            }
            self.conns[i] = Conn {
                live: true,
                ..Conn::default()
            };
            self.stats.accepted += 1;
            self.serve(fd);
        }
    }

    fn close(&mut self, fd: i32) {
        let c = &mut self.conns[fd as usize];
        if !c.live {
            return;
        }
        *c = Conn::default();
        self.stats.closed += 1;
        // SAFETY: fd is an accepted socket we own; close removes it from epoll.
        unsafe { libc::close(fd) };
    }

    fn fail(&mut self, fd: i32) {
        self.stats.errors += 1;
        self.close(fd);
    }

    /// Writes what is pending; true when nothing is left.
    fn flush(&mut self, fd: i32) -> Result<bool, ()> {
        let c = &mut self.conns[fd as usize];
        while c.off < c.pending.len() {
            let rest = &c.pending[c.off..];
            // SAFETY: rest is a valid buffer; fd is ours.
            let n = unsafe { libc::send(fd, rest.as_ptr().cast(), rest.len(), libc::MSG_NOSIGNAL) };
            if n < 0 {
                return match errno() {
                    libc::EAGAIN | libc::EINTR => Ok(false),
                    _ => Err(()),
                };
            }
            c.off += n as usize;
            self.stats.bytes_out += n as u64;
        }
        c.pending.clear();
        c.off = 0;
        Ok(true)
    }

    /// Sends `data` (from `self.buf` or the response), keeping what the socket does not take.
    fn write(&mut self, fd: i32, data: &[u8]) -> Result<(), ()> {
        // SAFETY: data is a valid buffer; fd is ours.
        let n = unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), libc::MSG_NOSIGNAL) };
        let n = if n < 0 {
            match errno() {
                libc::EAGAIN | libc::EINTR => 0,
                _ => return Err(()),
            }
        } else {
            n as usize
        };
        self.stats.bytes_out += n as u64;
        if n < data.len() {
            self.conns[fd as usize]
                .pending
                .extend_from_slice(&data[n..]);
        }
        Ok(())
    }

    fn serve(&mut self, fd: i32) {
        if !self.conns.get(fd as usize).is_some_and(|c| c.live) {
            return;
        }
        match self.flush(fd) {
            Err(()) => return self.fail(fd),
            Ok(false) => return, // wait for EPOLLOUT before reading more
            Ok(true) => {}
        }
        if self.conns[fd as usize].eof {
            return self.close(fd);
        }
        loop {
            // SAFETY: buf is writable for its length; fd is ours.
            let n = unsafe { libc::recv(fd, self.buf.as_mut_ptr().cast(), self.buf.len(), 0) };
            if n < 0 {
                match errno() {
                    libc::EAGAIN | libc::EINTR => return,
                    _ => return self.fail(fd),
                }
            }
            if n == 0 {
                let c = &mut self.conns[fd as usize];
                c.eof = true;
                if c.pending.is_empty() {
                    self.close(fd);
                }
                return;
            }
            let n = n as usize;
            self.stats.bytes_in += n as u64;
            let ok = match self.mode {
                Mode::Sink => Ok(()),
                Mode::Echo => {
                    let data = std::mem::take(&mut self.buf);
                    let r = self.write(fd, &data[..n]);
                    self.buf = data;
                    r
                }
                Mode::Http => self.http(fd, n),
            };
            if ok.is_err() {
                return self.fail(fd);
            }
            let c = &self.conns[fd as usize];
            if !c.live {
                return;
            }
            if !c.pending.is_empty() {
                return; // backpressure: read again once the peer has taken the rest
            }
        }
    }

    fn http(&mut self, fd: i32, n: usize) -> Result<(), ()> {
        let c = &mut self.conns[fd as usize];
        c.request.extend_from_slice(&self.buf[..n]);
        if c.request.len() > 64 * 1024 {
            return Err(());
        }
        loop {
            let c = &mut self.conns[fd as usize];
            let Some(end) = c.request.windows(4).position(|w| w == b"\r\n\r\n") else {
                return Ok(());
            };
            let head = &c.request[..end];
            let close = head.windows(8).any(|w| w == b"HTTP/1.0")
                || head
                    .windows(17)
                    .any(|w| w.eq_ignore_ascii_case(b"connection: close"));
            c.request.drain(..end + 4);
            c.close_after |= close;
            self.stats.requests += 1;
            let resp = std::mem::take(&mut self.response);
            let r = self.write(fd, &resp);
            self.response = resp;
            r?;
            let c = &mut self.conns[fd as usize];
            if c.close_after {
                c.eof = true;
                if c.pending.is_empty() {
                    self.close(fd);
                }
                return Ok(());
            }
        }
    }
}
