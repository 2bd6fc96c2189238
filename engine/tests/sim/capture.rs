//! [`Capture`]: a device wrapper that logs the frames its stack transmits (instant and parsed
//! TCP header) and drops the ones a test's [`Script`] selects.

use engine::buf::Pkt;
use engine::dev::{Device, DeviceCaps, TxFrames};
use engine::time::Instant;
use engine::wire::{TcpFlags, TcpPacket};

/// A TCP segment as it left a stack (parsed from the transmitted frame).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seg {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// Payload bytes.
    pub len: u32,
}

impl Seg {
    pub fn has(&self, f: TcpFlags) -> bool {
        self.flags.contains(f)
    }

    /// A SYN without ACK (an active open).
    pub fn is_syn(&self) -> bool {
        self.has(TcpFlags::SYN) && !self.has(TcpFlags::ACK)
    }

    pub fn is_syn_ack(&self) -> bool {
        self.has(TcpFlags::SYN) && self.has(TcpFlags::ACK)
    }

    pub fn is_rst(&self) -> bool {
        self.has(TcpFlags::RST)
    }

    pub fn is_fin(&self) -> bool {
        self.has(TcpFlags::FIN)
    }

    /// Carries payload.
    pub fn is_data(&self) -> bool {
        self.len > 0
    }

    /// No payload, no SYN/FIN/RST.
    pub fn is_pure_ack(&self) -> bool {
        self.len == 0
            && !self
                .flags
                .intersects(TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST)
    }
}

/// One frame a stack handed to its device.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    /// Position among all frames this stack transmitted (0, 1, ...).
    pub index: u64,
    /// When the stack transmitted it.
    pub at: Instant,
    /// Its TCP header, if it is an IPv4 TCP segment.
    pub tcp: Option<Seg>,
    /// The script dropped it.
    pub dropped: bool,
}

/// Decides, frame by frame, which transmitted frames to drop (true = drop).
pub type Script = Box<dyn FnMut(&Frame) -> bool>;

/// A script that drops the `nth` (0-based) TCP segment matching `pred`, and nothing else.
pub fn drop_nth(nth: usize, pred: impl Fn(&Seg) -> bool + 'static) -> Script {
    let mut seen = 0;
    Box::new(move |f| match f.tcp {
        Some(s) if pred(&s) => {
            seen += 1;
            seen == nth + 1
        }
        _ => false,
    })
}

/// A script that drops every TCP segment (the peer has vanished; ARP still works).
pub fn drop_all_tcp() -> Script {
    Box::new(|f| f.tcp.is_some())
}

/// A [`Device`] wrapper that logs the frames its stack transmits and drops those a [`Script`]
/// selects, before they reach the inner device (so the fault injector's frame indices count
/// only surviving frames).
pub struct Capture<D: Device> {
    inner: D,
    clock: Instant,
    frames: u64,
    recording: bool,
    log: Vec<Frame>,
    script: Option<Script>,
    dropped: u64,
    /// Frames the inner device refused, retried first.
    pending: Vec<Pkt>,
}

impl<D: Device> Capture<D> {
    pub fn new(inner: D) -> Self {
        Capture {
            inner,
            clock: Instant::ZERO,
            frames: 0,
            recording: false,
            log: Vec::new(),
            script: None,
            dropped: 0,
            pending: Vec::with_capacity(64),
        }
    }

    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// Starts or stops logging transmitted frames.
    pub fn record(&mut self, on: bool) {
        self.recording = on;
    }

    /// The frames logged so far.
    pub fn log(&self) -> &[Frame] {
        &self.log
    }

    /// TCP segments logged so far, with their transmit instant (dropped ones included).
    pub fn segs(&self) -> impl Iterator<Item = (Instant, Seg)> + '_ {
        self.log.iter().filter_map(|f| f.tcp.map(|s| (f.at, s)))
    }

    /// Installs (or with `None` removes) the drop script.
    pub fn set_script(&mut self, s: Option<Script>) {
        self.script = s;
    }

    /// Frames the script dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn retry(&mut self, now: Instant) {
        if !self.pending.is_empty() {
            self.inner.tx_burst(now, &mut self.pending);
        }
    }
}

/// The TCP header of an Ethernet/IPv4/TCP frame, if it is one.
pub fn parse_tcp(pkt: &Pkt) -> Option<Seg> {
    let mut hdr = [0u8; 128];
    let n = pkt.copy_out(0, &mut hdr);
    let b = &hdr[..n];
    if n < 14 + 20 + 20 || b[12..14] != [0x08, 0x00] {
        return None;
    }
    let ip = &b[14..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    if ip[9] != 6 || ip.len() < ihl + 20 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let tcp = TcpPacket::new_checked(&ip[ihl..]).ok()?;
    Some(Seg {
        src_port: tcp.src_port(),
        dst_port: tcp.dst_port(),
        seq: tcp.seq().0,
        ack: tcp.ack().0,
        flags: tcp.flags(),
        window: tcp.window(),
        len: total.saturating_sub(ihl + tcp.header_len()) as u32,
    })
}

impl<D: Device> Device for Capture<D> {
    fn caps(&self) -> &DeviceCaps {
        self.inner.caps()
    }

    fn rx_burst(&mut self, now: Instant, out: &mut Vec<Pkt>, max: usize) -> usize {
        self.clock = self.clock.max(now);
        self.retry(self.clock);
        self.inner.rx_burst(self.clock, out, max)
    }

    fn transmit(&mut self, now: Instant, frames: &mut TxFrames<'_>) {
        self.clock = self.clock.max(now);
        let now = self.clock;
        self.retry(now);
        if !self.pending.is_empty() {
            return;
        }
        while let Some(pkt) = frames.take() {
            let parse = self.recording || self.script.is_some();
            let mut frame = Frame {
                index: self.frames,
                at: now,
                tcp: if parse { parse_tcp(&pkt) } else { None },
                dropped: false,
            };
            self.frames += 1;
            frame.dropped = self.script.as_mut().is_some_and(|s| s(&frame));
            if self.recording {
                self.log.push(frame);
            }
            if frame.dropped {
                self.dropped += 1;
            } else {
                self.pending.push(pkt);
            }
        }
        self.retry(now);
    }

    fn next_arrival(&self) -> Option<Instant> {
        if !self.pending.is_empty() {
            return Some(self.clock);
        }
        self.inner.next_arrival()
    }
}
