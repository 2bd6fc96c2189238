//! The TCP servers `serve` runs on an engine stack: echo (RFC 862), discard-and-count (sink,
//! RFC 863) and a minimal HTTP/1.1 keep-alive responder with a fixed body.
//!
//! Each is run to completion on the stack's core: [`Server::on_event`] handles the stack's
//! events and [`Server::poll`] retries what backpressure held back. Echo and sink never copy
//! payload: echo hands the received mbufs straight back to `send_pkt`, sink drops them.
//! Half-close passes through: when the client shuts down its side, echo finishes sending
//! what it holds and then closes.

use crate::conn_table::ConnTable;
use engine::buf::Pkt;
use engine::dev::Device;
use engine::tcp::{ConnId, Event, ListenerId, TcpError};
use engine::{Stack, StackConfig};

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Send back every byte received.
    Echo,
    /// Discard every byte received, counting them.
    Sink,
    /// Answer every HTTP/1.1 request with a fixed body, keeping the connection open.
    Http,
}

impl Mode {
    /// The well-known port of the mode (echo 7, discard 9, http 80).
    pub fn default_port(self) -> u16 {
        match self {
            Mode::Echo => 7,
            Mode::Sink => 9,
            Mode::Http => 80,
        }
    }
}

/// What a server counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    pub accepted: u64,
    pub closed: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub requests: u64,
    pub errors: u64,
}

impl ServerStats {
    /// Adds another server's counts (several cores, several threads).
    pub fn add(&mut self, o: &ServerStats) {
        self.accepted += o.accepted;
        self.closed += o.closed;
        self.bytes_in += o.bytes_in;
        self.bytes_out += o.bytes_out;
        self.requests += o.requests;
        self.errors += o.errors;
    }

    /// Every count as (name, value), as `serve` prints them.
    pub fn entries(&self) -> [(&'static str, u64); 6] {
        [
            ("ServerAccepted", self.accepted),
            ("ServerClosed", self.closed),
            ("ServerBytesIn", self.bytes_in),
            ("ServerBytesOut", self.bytes_out),
            ("ServerRequests", self.requests),
            ("ServerErrors", self.errors),
        ]
    }
}

#[derive(Default)]
struct Conn {
    /// Echo: received data waiting for send-buffer room.
    held: Option<Pkt>,
    /// Echo: a received chain that did not fit in `held` (sent after it).
    spill: Option<Pkt>,
    /// HTTP: bytes of a request seen so far (until the blank line).
    request: Vec<u8>,
    /// HTTP: the client asked to close after the response.
    close_after: bool,
    /// The peer closed its side.
    eof: bool,
}

/// A server bound to one listener of one stack.
pub struct Server {
    mode: Mode,
    listener: ListenerId,
    conns: ConnTable<Conn>,
    response: Vec<u8>,
    buf: Vec<u8>,
    pub stats: ServerStats,
}

/// Echo gathers at most this many bytes into one chain before sending.
pub const GATHER: usize = 256 * 1024;
/// ... or this many mbufs (DPDK chains hold at most 65535).
pub const GATHER_SEGS: usize = 4096;

/// The body the HTTP mode serves.
pub const HTTP_BODY: &[u8] = b"Hello from the engine.\n";

/// Stack configuration for a server on `addrs` (either family): the defaults.
pub fn server_config(addrs: Vec<engine::ip::IpCidr>) -> StackConfig {
    StackConfig::with_addrs(addrs)
}

impl Server {
    /// Listens on `port` of `stack` (backlog 4096).
    pub fn new<D: Device>(stack: &mut Stack<D>, mode: Mode, port: u16) -> Result<Server, TcpError> {
        let listener = stack.listen(port, 4096, None)?;
        let response = format!(
            "HTTP/1.1 200 OK\r\nServer: engine\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
            HTTP_BODY.len()
        )
        .into_bytes()
        .into_iter()
        .chain(HTTP_BODY.iter().copied())
        .collect();
        Ok(Server {
            mode,
            listener,
            conns: ConnTable::with_capacity(1024),
            response,
            buf: vec![0; 64 * 1024],
            stats: ServerStats::default(),
        })
    }

    /// Handles one event of the stack.
    pub fn on_event<D: Device>(&mut self, stack: &mut Stack<D>, ev: Event) {
        match ev {
            Event::Acceptable(l) if l == self.listener => {
                while let Some(c) = stack.accept(l) {
                    self.stats.accepted += 1;
                    self.conns.insert(c, Conn::default());
                    self.serve(stack, c);
                }
            }
            Event::Readable(c) | Event::Writable(c) => self.serve(stack, c),
            Event::Closed(c, err) => {
                if err.is_some() {
                    self.stats.errors += 1;
                }
                self.finish(stack, c);
            }
            _ => {}
        }
    }

    /// Drains every event of the stack.
    pub fn handle_events<D: Device>(&mut self, stack: &mut Stack<D>) {
        while let Some(ev) = stack.poll_event() {
            self.on_event(stack, ev);
        }
    }

    fn finish<D: Device>(&mut self, stack: &mut Stack<D>, c: ConnId) {
        if self.conns.remove(c).is_some() {
            self.stats.closed += 1;
            stack.close(c);
        }
    }

    /// Serves connection `c` as far as it can go now.
    fn serve<D: Device>(&mut self, stack: &mut Stack<D>, c: ConnId) {
        let Some(conn) = self.conns.get_mut(c) else {
            return;
        };
        let stats = &mut self.stats;
        let done = match self.mode {
            Mode::Echo => echo(stack, c, conn, stats),
            Mode::Sink => sink(stack, c, stats),
            Mode::Http => http(stack, c, conn, stats, &mut self.buf, &self.response),
        };
        if done {
            self.conns.remove(c);
            self.stats.closed += 1;
            stack.close(c);
        }
    }
}

/// Returns true when the connection is finished. Everything readable (up to [`GATHER`] bytes
/// or [`GATHER_SEGS`] mbufs) is gathered into one mbuf chain before it is handed back, so bulk
/// echo leaves as full (TSO) segments; the payload is never copied.
fn echo<D: Device>(
    stack: &mut Stack<D>,
    c: ConnId,
    conn: &mut Conn,
    stats: &mut ServerStats,
) -> bool {
    loop {
        if conn.held.is_none() {
            conn.held = conn.spill.take();
        }
        // Whether the receive queue ran dry (nothing more to gather after this send).
        let mut drained = false;
        while conn.spill.is_none()
            && conn
                .held
                .as_ref()
                .is_none_or(|h| h.len() < GATHER && h.nb_segs() < GATHER_SEGS)
        {
            match stack.recv_pkt(c) {
                Ok(Some(p)) => {
                    stats.bytes_in += p.len() as u64;
                    match conn.held.as_mut() {
                        None => conn.held = Some(p),
                        Some(h) => {
                            if let Err(p) = h.chain(p) {
                                conn.spill = Some(p);
                            }
                        }
                    }
                }
                Ok(None) => {
                    conn.eof = true;
                    drained = true;
                    break;
                }
                Err(TcpError::WouldBlock) => {
                    drained = true;
                    break;
                }
                Err(_) => return true,
            }
        }
        let Some(p) = conn.held.take() else {
            return conn.eof;
        };
        let n = p.len() as u64;
        match stack.send_pkt(c, p) {
            Ok(()) => stats.bytes_out += n,
            Err((TcpError::WouldBlock, p)) => {
                conn.held = Some(p);
                return false;
            }
            Err(_) => return true,
        }
        if drained && conn.spill.is_none() {
            // Everything readable was sent; the next Readable brings more.
            return conn.eof;
        }
    }
}

fn sink<D: Device>(stack: &mut Stack<D>, c: ConnId, stats: &mut ServerStats) -> bool {
    loop {
        match stack.recv_pkt(c) {
            Ok(Some(p)) => stats.bytes_in += p.len() as u64,
            Ok(None) => return true,
            Err(TcpError::WouldBlock) => return false,
            Err(_) => return true,
        }
    }
}

fn http<D: Device>(
    stack: &mut Stack<D>,
    c: ConnId,
    conn: &mut Conn,
    stats: &mut ServerStats,
    buf: &mut [u8],
    response: &[u8],
) -> bool {
    loop {
        match stack.recv(c, buf) {
            Ok(0) => conn.eof = true,
            Ok(n) => {
                stats.bytes_in += n as u64;
                conn.request.extend_from_slice(&buf[..n]);
                if conn.request.len() > 64 * 1024 {
                    return true;
                }
                continue;
            }
            Err(TcpError::WouldBlock) => {}
            Err(_) => return true,
        }
        break;
    }
    while let Some(end) = find(&conn.request, b"\r\n\r\n") {
        let head = &conn.request[..end];
        conn.close_after |=
            contains_ci(head, b"connection: close") || head.windows(8).any(|w| w == b"HTTP/1.0");
        conn.request.drain(..end + 4);
        stats.requests += 1;
        match stack.send(c, response) {
            Ok(n) => stats.bytes_out += n as u64,
            Err(_) => return true,
        }
        if conn.close_after {
            return true;
        }
    }
    conn.eof
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}
