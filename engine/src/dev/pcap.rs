//! Packet capture in the classic libpcap format, which tcpdump and Wireshark read
//! (ARCHITECTURE decision 12: an optional pcap writer on any port).
//!
//! [`PcapWriter`] writes the file: a 24-byte global header (magic `0xa1b23c4d` for nanosecond
//! timestamps, version 2.4, snaplen 65535, linktype 1 = Ethernet) in the machine's byte order,
//! as libpcap itself does, then one record per frame (seconds, nanoseconds, captured length,
//! original length, bytes). A chained frame is written as one record; frames longer than the
//! snaplen are truncated to it, with the original length kept. Timestamps are the engine's
//! [`Instant`]s, i.e. time since the caller's epoch (tcpdump shows them as dates in 1970).
//!
//! [`Pcap`] wraps any [`Device`] and records every frame it receives and every frame the inner
//! device accepts for transmission. Because the inner device takes ownership of what it
//! accepts, offered frames are first serialized into a reusable staging buffer, and only the
//! records of the accepted frames (a prefix of the offer, by the `Device` contract) are written
//! afterwards. The inner device is offered windows of at most [`PCAP_WINDOW`] frames (the next
//! one only if it took all of the last), so the staging work per call is bounded by the frames
//! sent plus one window, not by how many frames wait; the staging buffer grows to the largest
//! window, then stays.
//!
//! This is a debugging tool, not the fast path: writes go through a `BufWriter` and copy every
//! byte. `Device` methods cannot return I/O errors, so [`Pcap`] keeps the first one for
//! [`Pcap::take_error`] and counts the records it failed to write.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::{Device, DeviceCaps, TxFrames};
use crate::buf::Pkt;
use crate::time::Instant;

/// Magic number of a pcap file with nanosecond timestamps.
pub const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
/// Largest number of bytes captured per frame.
pub const SNAPLEN: u32 = 65_535;
/// Link type of Ethernet frames (`LINKTYPE_ETHERNET`).
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Most frames offered to the inner device (and staged) at once.
pub const PCAP_WINDOW: usize = 64;

/// The 24-byte global header, native byte order.
fn global_header() -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&MAGIC_NANOS.to_ne_bytes());
    h[4..6].copy_from_slice(&2u16.to_ne_bytes()); // version major
    h[6..8].copy_from_slice(&4u16.to_ne_bytes()); // version minor
    // thiszone and sigfigs (8..16) stay 0.
    h[16..20].copy_from_slice(&SNAPLEN.to_ne_bytes());
    h[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_ne_bytes());
    h
}

/// Writes one record (16-byte header, then the captured bytes of every segment) to `w`.
fn write_record<W: Write>(w: &mut W, now: Instant, pkt: &Pkt) -> io::Result<()> {
    let ns = now.as_nanos();
    let secs = u32::try_from(ns / 1_000_000_000).unwrap_or(u32::MAX);
    let nanos = (ns % 1_000_000_000) as u32;
    let orig = u32::try_from(pkt.len()).unwrap_or(u32::MAX);
    let caplen = orig.min(SNAPLEN);
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&secs.to_ne_bytes());
    h[4..8].copy_from_slice(&nanos.to_ne_bytes());
    h[8..12].copy_from_slice(&caplen.to_ne_bytes());
    h[12..16].copy_from_slice(&orig.to_ne_bytes());
    w.write_all(&h)?;
    let mut left = caplen as usize;
    for seg in pkt.segments() {
        if left == 0 {
            break;
        }
        let n = seg.len().min(left);
        w.write_all(&seg[..n])?;
        left -= n;
    }
    Ok(())
}

/// A writer of classic pcap files (nanosecond timestamps, Ethernet).
pub struct PcapWriter<W: Write = BufWriter<File>> {
    out: W,
}

impl PcapWriter {
    /// Creates (or truncates) the file at `path` and writes the global header.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        PcapWriter::new(BufWriter::new(File::create(path)?))
    }
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header to `out` and returns a writer appending records to it.
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(&global_header())?;
        Ok(PcapWriter { out })
    }

    /// Writes `pkt` (all its segments, as one record) captured at `now`.
    pub fn write(&mut self, now: Instant, pkt: &Pkt) -> io::Result<()> {
        write_record(&mut self.out, now, pkt)
    }

    /// Writes already-formatted records (from [`write_record`]).
    fn write_raw(&mut self, records: &[u8]) -> io::Result<()> {
        self.out.write_all(records)
    }

    /// Flushes buffered records to the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A [`Device`] wrapper that records received and accepted transmitted frames to a pcap file.
pub struct Pcap<D: Device, W: Write = BufWriter<File>> {
    inner: D,
    writer: PcapWriter<W>,
    /// Records of the frames offered to the inner device, before it decides.
    staging: Vec<u8>,
    /// End offset in `staging` of each frame's record.
    ends: Vec<usize>,
    first_error: Option<io::Error>,
    failed: u64,
}

impl<D: Device, W: Write> Pcap<D, W> {
    /// Wraps `inner`, recording to `writer`.
    pub fn new(inner: D, writer: PcapWriter<W>) -> Self {
        Pcap {
            inner,
            writer,
            staging: Vec::new(),
            ends: Vec::new(),
            first_error: None,
            failed: 0,
        }
    }

    pub fn inner(&self) -> &D {
        &self.inner
    }

    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    pub fn writer_mut(&mut self) -> &mut PcapWriter<W> {
        &mut self.writer
    }

    /// The first write error since the last call, if any.
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.first_error.take()
    }

    /// Records (or bursts of records) that could not be written.
    pub fn failed_writes(&self) -> u64 {
        self.failed
    }

    /// Flushes buffered records.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    /// Unwraps into the inner device and the writer (not flushed).
    pub fn into_parts(self) -> (D, PcapWriter<W>) {
        (self.inner, self.writer)
    }

    fn check(&mut self, r: io::Result<()>) {
        if let Err(e) = r {
            self.failed += 1;
            self.first_error.get_or_insert(e);
        }
    }
}

impl<D: Device, W: Write> Device for Pcap<D, W> {
    fn caps(&self) -> &DeviceCaps {
        self.inner.caps()
    }

    fn rx_burst(&mut self, now: Instant, out: &mut Vec<Pkt>, max: usize) -> usize {
        let start = out.len();
        let n = self.inner.rx_burst(now, out, max);
        for pkt in out.get(start..).unwrap_or_default() {
            let r = self.writer.write(now, pkt);
            self.check(r);
        }
        n
    }

    /// Offers the frames in windows of [`PCAP_WINDOW`], recording those the inner device takes.
    fn transmit(&mut self, now: Instant, frames: &mut TxFrames<'_>) {
        loop {
            let window = frames.len().min(PCAP_WINDOW);
            if window == 0 {
                return;
            }
            self.staging.clear();
            self.ends.clear();
            for pkt in &frames.as_slice()[..window] {
                // Writing to a Vec cannot fail.
                let _ = write_record(&mut self.staging, now, pkt);
                self.ends.push(self.staging.len());
            }
            let before = frames.accepted();
            frames.with_window(window, |w| self.inner.transmit(now, w));
            let n = frames.accepted() - before;
            if let Some(&end) = n.checked_sub(1).and_then(|i| self.ends.get(i)) {
                let r = self.writer.write_raw(&self.staging[..end]);
                self.check(r);
            }
            if n < window {
                return;
            }
        }
    }

    fn next_arrival(&self) -> Option<Instant> {
        self.inner.next_arrival()
    }
}
