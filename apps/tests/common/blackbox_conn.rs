//! Declared by each black-box test crate as `#[path = "common/blackbox_conn.rs"] mod
//! blackbox_conn;` beside `mod common;` and `#[path = "common/blackbox.rs"] mod blackbox;` (it
//! refers to both).
//!
//! TCP from the peer's side, for the black-box scripts: [`Conn`], the peer's end of one
//! connection to a device under test ([`crate::blackbox::Dut`]) played by hand, segment by
//! segment (sequence numbers, acknowledgments and timestamps kept as a peer keeps them, the
//! device's segments recorded); [`SynAck`], what matters in a SYN-ACK; [`full_syn_options`],
//! the options a Linux client offers.

#![allow(dead_code)] // each test crate uses a different subset

use std::time::Instant;

use crate::blackbox::{ANSWER, Dut, Fam, PEER_MAC};
use crate::common::packets::{self as pk, ACK, FIN, PROTO_TCP, Parsed, RST, SYN, Tcp, TcpOpt};

/// Our first TSval; each segment we send takes the next one.
const FIRST_TSVAL: u32 = 0x0001_0000;

/// The options a Linux client puts in its SYN: MSS 1400 (ours), SACK-permitted, timestamps,
/// window scale 7.
pub fn full_syn_options(tsval: u32) -> Vec<TcpOpt> {
    vec![
        TcpOpt::Mss(1400),
        TcpOpt::SackPermitted,
        TcpOpt::Timestamps { val: tsval, ecr: 0 },
        TcpOpt::Nop,
        TcpOpt::WindowScale(7),
    ]
}

/// The peer's end of one TCP connection to the device, played by hand.
pub struct Conn<'a> {
    pub d: &'a Dut,
    pub fam: Fam,
    pub sport: u16,
    pub dport: u16,
    pub isn: u32,
    pub snd_nxt: u32,
    pub rcv_nxt: u32,
    /// Timestamps negotiated: every segment carries the option.
    pub ts: bool,
    /// The device's last TSval (our TSecr).
    pub ts_recent: u32,
    /// Every TSval we sent, in order.
    pub tsvals: Vec<u32>,
    /// In-order bytes received from the device.
    pub received: Vec<u8>,
    /// Every segment of this connection the device sent.
    pub segs: Vec<Tcp>,
    /// The ECN field of the IP header of each of `segs`.
    pub ecn: Vec<u8>,
    pub bad_checksums: usize,
    /// The device's FIN arrived in order.
    pub fin_received: bool,
    /// Flags added to the ACKs [`Conn::take`] sends (ECE, to echo a congestion mark).
    pub ack_flags: u8,
}

impl<'a> Conn<'a> {
    pub fn new(d: &'a Dut, fam: Fam, sport: u16, dport: u16, isn: u32) -> Conn<'a> {
        Conn {
            d,
            fam,
            sport,
            dport,
            isn,
            snd_nxt: isn,
            rcv_nxt: 0,
            ts: false,
            ts_recent: 0,
            tsvals: Vec::new(),
            received: Vec::new(),
            segs: Vec::new(),
            ecn: Vec::new(),
            bad_checksums: 0,
            fin_received: false,
            ack_flags: 0,
        }
    }

    /// Our next TSval (recorded in `tsvals`).
    pub fn next_tsval(&mut self) -> u32 {
        let v = FIRST_TSVAL + self.tsvals.len() as u32;
        self.tsvals.push(v);
        v
    }

    /// This connection's segment in `p`, if it is one from the device.
    pub fn ours<'p>(&self, p: &'p Parsed) -> Option<&'p Tcp> {
        p.tcp_between((self.fam.dut(), self.dport), (self.fam.peer(), self.sport))
    }

    /// The frame carrying `t` from the peer to the device.
    pub fn frame(&self, t: &Tcp) -> Vec<u8> {
        let (src, dst) = (self.fam.peer(), self.fam.dut());
        pk::ip_frame(self.d.mac, PEER_MAC, src, dst, PROTO_TCP, &t.emit(src, dst))
    }

    /// A segment at `snd_nxt` (acknowledging `rcv_nxt` if `flags` has ACK), window 65535,
    /// with `options`.
    pub fn segment(&self, flags: u8, options: Vec<TcpOpt>, payload: &[u8]) -> Tcp {
        Tcp {
            sport: self.sport,
            dport: self.dport,
            seq: self.snd_nxt,
            ack: if flags & ACK != 0 { self.rcv_nxt } else { 0 },
            flags,
            window: 65535,
            urgent: 0,
            options,
            payload: payload.to_vec(),
        }
    }

    /// Sends a SYN with `options` (their timestamps option, if any, takes our next TSval).
    pub fn send_syn(&mut self, options: Vec<TcpOpt>) -> Tcp {
        self.send_syn_flags(0, options)
    }

    /// [`Conn::send_syn`] with `extra` flags (ECE and CWR: an ECN-setup SYN, RFC 3168).
    pub fn send_syn_flags(&mut self, extra: u8, mut options: Vec<TcpOpt>) -> Tcp {
        for o in &mut options {
            if let TcpOpt::Timestamps { val, .. } = o {
                *val = self.next_tsval();
            }
        }
        let t = self.segment(SYN | extra, options, &[]);
        self.d.send(&self.frame(&t));
        self.snd_nxt = self.snd_nxt.wrapping_add(1);
        t
    }

    /// Sends a segment with `flags` and `payload` (and the timestamps option once negotiated).
    pub fn send(&mut self, flags: u8, payload: &[u8]) {
        self.send_with(flags, payload, self.ts)
    }

    /// Sends a segment with `flags` and `payload` in a datagram whose ECN field is `ecn` (ECT(0)
    /// as an ECN sender marks data, CE as a router marks it then), with the timestamps option
    /// once negotiated.
    pub fn send_marked(&mut self, flags: u8, payload: &[u8], ecn: u8) {
        self.send_full(flags, payload, self.ts, ecn)
    }

    /// Sends a segment with `flags` and `payload`, with the timestamps option if `ts`.
    pub fn send_with(&mut self, flags: u8, payload: &[u8], ts: bool) {
        self.send_full(flags, payload, ts, pk::NOT_ECT)
    }

    fn send_full(&mut self, flags: u8, payload: &[u8], ts: bool, ecn: u8) {
        let options = if ts {
            let val = self.next_tsval();
            vec![
                TcpOpt::Nop,
                TcpOpt::Nop,
                TcpOpt::Timestamps {
                    val,
                    ecr: self.ts_recent,
                },
            ]
        } else {
            Vec::new()
        };
        let t = self.segment(flags, options, payload);
        let mut frame = self.frame(&t);
        pk::set_ecn(&mut frame, ecn);
        self.d.send(&frame);
        self.snd_nxt = self.snd_nxt.wrapping_add(t.seg_len());
    }

    /// Waits for this connection's first segment from the device that satisfies `pred`.
    pub fn wait(&mut self, what: &str, pred: impl Fn(&Tcp) -> bool) -> Tcp {
        let p = self.d.expect(what, |p| self.ours(p).is_some_and(&pred));
        let t = self.ours(&p).expect("matched").clone();
        self.take(&p, t.clone());
        t
    }

    /// Takes the device's segment `t` (from frame `p`) in: in-order data is appended to
    /// `received` and acknowledged at once, anything else with data is answered with a
    /// duplicate ACK, a repeated SYN-ACK with an ACK.
    pub fn take(&mut self, p: &Parsed, t: Tcp) {
        self.bad_checksums += usize::from(!p.checksums_ok);
        if let Some((val, _)) = t.timestamps() {
            self.ts_recent = val;
        }
        if t.has(SYN) && !self.segs.is_empty() {
            self.send(ACK, &[]);
        } else if !t.has(SYN) && (!t.payload.is_empty() || t.has(FIN)) {
            let offset = self.rcv_nxt.wrapping_sub(t.seq) as usize;
            if offset < t.payload.len() {
                self.received.extend_from_slice(&t.payload[offset..]);
                self.rcv_nxt = t.seq.wrapping_add(t.payload.len() as u32);
            }
            if t.has(FIN) && t.seq.wrapping_add(t.payload.len() as u32) == self.rcv_nxt {
                self.rcv_nxt = self.rcv_nxt.wrapping_add(1);
                self.fin_received = true;
            }
            if !t.has(RST) {
                self.send(ACK | self.ack_flags, &[]);
            }
        }
        self.segs.push(t);
        self.ecn.push(p.ip.as_ref().map_or(0, |ip| ip.tclass & 3));
    }

    /// Reads the device's segments of this connection, taking each in, until `done` holds;
    /// fails the test after [`ANSWER`].
    pub fn pump_until(&mut self, what: &str, done: impl Fn(&Conn) -> bool) {
        let deadline = Instant::now() + ANSWER;
        while !done(self) {
            let Some(p) = self.d.recv(deadline) else {
                self.d.fail(&format!(
                    "{what}: not done within {ANSWER:?}; {} bytes received",
                    self.received.len()
                ));
            };
            if let Some(t) = self.ours(&p).cloned() {
                self.take(&p, t);
            }
        }
    }

    /// Sends the SYN with `options`, waits for the SYN-ACK (or RST), and if it is a SYN-ACK,
    /// completes the handshake with an ACK. Returns the answer.
    pub fn connect(&mut self, options: Vec<TcpOpt>) -> Tcp {
        self.connect_flags(0, options)
    }

    /// [`Conn::connect`] with `extra` flags on the SYN.
    pub fn connect_flags(&mut self, extra: u8, options: Vec<TcpOpt>) -> Tcp {
        let syn = self.send_syn_flags(extra, options);
        let answer = self.wait("SYN-ACK", |t| t.has(SYN) || t.has(RST));
        if answer.has(SYN | ACK) {
            self.rcv_nxt = answer.seq.wrapping_add(1);
            self.ts = syn.timestamps().is_some() && answer.timestamps().is_some();
            self.send(ACK, &[]);
        }
        answer
    }

    /// Ends the connection with a RST at `snd_nxt`.
    pub fn abort(&mut self) {
        let t = self.segment(RST, Vec::new(), &[]);
        self.d.send(&self.frame(&t));
    }

    /// Whether the device has acknowledged everything we sent.
    pub fn all_acked(&self) -> bool {
        self.segs
            .iter()
            .any(|t| t.has(ACK) && t.ack == self.snd_nxt)
    }
}

/// What matters in a SYN-ACK.
#[derive(Debug, PartialEq, Eq)]
pub struct SynAck {
    pub flags: String,
    pub ack_is_our_isn_plus_1: bool,
    pub mss: Option<u16>,
    pub window_scale: bool,
    pub sack_permitted: bool,
    /// Whether TSecr equals the SYN's TSval; `None` without a timestamps option.
    pub tsecr_echoes_our_tsval: Option<bool>,
    pub sack_blocks: bool,
    pub payload: usize,
}

impl SynAck {
    pub fn of(c: &Conn, t: &Tcp) -> SynAck {
        SynAck {
            flags: pk::flag_str(t.flags),
            ack_is_our_isn_plus_1: t.ack == c.isn.wrapping_add(1),
            mss: t.mss(),
            window_scale: t.window_scale().is_some(),
            sack_permitted: t.sack_permitted(),
            tsecr_echoes_our_tsval: t
                .timestamps()
                .map(|(_, ecr)| Some(&ecr) == c.tsvals.first()),
            sack_blocks: t.has_sack_blocks(),
            payload: t.payload.len(),
        }
    }
}
