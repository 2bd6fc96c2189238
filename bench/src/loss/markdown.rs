//! The loss section of RESULTS.md, written from [`LossResults`].

use std::fmt::Write as _;

use super::LossResults;
use super::cells::{LinkCell, VtCell};
use super::net::Sender;
use super::report::bounds;
use crate::cells::Status;
use crate::report::{DISTURBED_PCT, Notes, short};

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |x| format!("{x:.digits$}"))
}

fn mbps(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "**met**",
        Some(false) => "**not met**",
        None => "not measured",
    }
}

fn status_word(st: &Status) -> &'static str {
    match st {
        Status::Ok => "ok",
        Status::Failed(_) => "failed",
        Status::Skipped(_) => "skipped",
        Status::Interrupted => "interrupted",
    }
}

/// A failed or skipped cell's word with its footnote (the status's text, shortened).
fn mark(notes: &mut Notes, id: &str, st: &Status) -> String {
    match st {
        Status::Failed(e) | Status::Skipped(e) => {
            let n = notes.add(format!("{id}: {}", short(e)));
            format!("{} <sup>{n}</sup>", status_word(st))
        }
        _ => status_word(st).into(),
    }
}

/// A note on a cell that other processes disturbed.
fn disturbed(notes: &mut Notes, other_cpu_pct: f64) -> String {
    if other_cpu_pct < DISTURBED_PCT {
        return String::new();
    }
    let n = notes.add(format!(
        "other processes used ≥ {DISTURBED_PCT:.0} % of the machine's CPU while this cell ran \
         (*other CPU %* in *All loss cells*): disturbed"
    ));
    format!(" <sup>{n}</sup>")
}

impl LossResults {
    fn any_link(&self, s: Sender, pct: f64) -> Option<&LinkCell> {
        self.link
            .iter()
            .find(|c| c.sender == s && c.loss_pct == pct)
    }

    /// Whether Reno's and CUBIC's bounds coincide at every loss rate of the run.
    fn bounds_equal(&self) -> bool {
        self.config
            .loss_rates_pct
            .iter()
            .filter_map(|&p| bounds(self, p, 1448.0))
            .all(|(r, c)| (r - c).abs() < 1e-6 * r.max(1.0))
    }

    /// The loss section.
    pub fn markdown(&self, s: &mut String) {
        let _ = writeln!(s, "## Bulk goodput under random loss\n");
        self.intro(s);
        let _ = writeln!(s, "### Acceptance\n");
        let _ = writeln!(s, "| target | required | measured | |\n|---|---|---|---|");
        for t in &self.targets {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                t.name,
                t.required,
                t.measured,
                verdict(t.met)
            );
        }
        s.push('\n');
        self.link_md(s);
        self.vt_md(s);
        self.raw_md(s);
    }

    fn intro(&self, s: &mut String) {
        let c = &self.config;
        let t = &c.timing;
        let _ = writeln!(
            s,
            "One bulk connection (loadgen `stream`, 64 KiB writes) into a Linux sink \
             (`serve sink --stack kernel`) at each loss rate. **Real link:** the engine \
             (`net_af_packet` on one end of a veth pair) and Linux (`loadgen --stack kernel` \
             on a twin pair) send in turn, each from its own namespace into a sink in its \
             own, over veth pairs alike (MTU 1500, checksum, TSO, GSO and GRO off on both \
             ends); the receiver's namespace drops the share of the arriving data segments \
             with nftables (`{}`), never the handshake or pure ACKs. Sender on CPU {}, sink \
             on CPU {}; {} s measured after {} s of warm-up. Congestion control: the engine \
             {} (its default), Linux {} (set per socket; the namespace's default is {}). \
             Linux's sysctls in the sender namespace: {}. **Virtual time:** two engine \
             stacks over the in-process simulated link ({} Mbit/s, {} µs round trip, 1024-frame \
             NIC queue), {} MiB from A to B, the sender's data segments dropped at random with \
             the rate (one seeded draw each; nothing else lost, reordered or duplicated); seeds \
             {:?}, each run twice in two processes.\n",
            c.nft_rule,
            c.sender_cpu,
            c.receiver_cpu,
            t.duration,
            t.warmup,
            c.engine_cc,
            c.linux_cc,
            c.linux_default_cc.as_deref().unwrap_or("unknown"),
            if c.linux_sysctls.is_empty() {
                "not read".into()
            } else {
                c.linux_sysctls
                    .iter()
                    .map(|(k, v)| format!("`{k}={v}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            c.vt_rate_mbps,
            c.vt_rtt_us,
            c.vt_bytes >> 20,
            c.vt_seeds,
        );
        let _ = writeln!(
            s,
            "**Columns.** *Mbit/s*: goodput, application bytes per second (real link: over \
             the measured seconds; virtual time: from connected to the last byte read, in \
             virtual seconds). *kept*: goodput ÷ the same sender's goodput at 0 %. *RTOs/MiB*: \
             the sender's retransmission timeouts (`TcpExtTCPTimeouts`: the engine's counter, \
             Linux's from `nstat` in its namespace) over the whole connection ÷ the MiB the \
             sink read. *retrans ÷ lost*: the sender's retransmitted segments \
             (`TcpRetransSegs`) ÷ the data segments dropped (nftables' counter; in virtual \
             time, the dropper's); all data segments of a bulk transfer are full-sized (1448 \
             B), so it is also the byte ratio; 1.00 means each lost segment was sent again \
             once, more means spurious or repeated retransmissions. *Mathis*: the bound of \
             Reno (`MSS/RTT · √(3/2)/√p`) and CUBIC's response function (RFC 9438 §5.1: the \
             larger of its cubic and Reno-friendly regions{}), with MSS 1448 B and the link's \
             propagation RTT, capped at the link's payload rate.\n",
            if self.bounds_equal() {
                "; at this RTT the Reno-friendly one, so both are equal"
            } else {
                ""
            }
        );
        let _ = writeln!(
            s,
            "**Reading it.** A sender that loses a segment and recovers it by fast retransmit \
             loses a round trip (tens of µs on veth); one that waits for its retransmission \
             timer loses at least 200 ms (both stacks' minimum RTO), so on this link the RTOs \
             decide the goodput. Linux may retransmit even at 0 %: it sees reordering on this \
             link (`TcpExtTCPTSReorder` in results.json; it vanished in a trial with the sink \
             on the sender's CPU, so segments sent from both CPUs, it seems), and the \
             retransmissions come back D-SACKed (`TcpExtTCPDSACKRecvSegs`); under loss they \
             count in its retrans ÷ lost. \
             The engine's loss-free goodput is lower than Linux's (net_af_packet copies every \
             frame through a socket), which is why *kept* compares each sender with itself.\n"
        );
        if let Some(e) = &self.setup_error {
            let _ = writeln!(s, "**The real-link cells did not run:** {e}\n");
        }
    }

    fn link_md(&self, s: &mut String) {
        if self.link.is_empty() {
            return;
        }
        let _ = writeln!(s, "### Real link: the engine and Linux as senders\n");
        let _ = writeln!(
            s,
            "| loss % | engine Mbit/s | engine kept | Linux Mbit/s | Linux kept | kept, engine ÷ \
             Linux | engine RTOs/MiB | Linux RTOs/MiB | engine retrans ÷ lost | Linux retrans \
             ÷ lost |\n|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
        );
        let mut notes = Notes::default();
        for &p in &self.config.loss_rates_pct {
            let mut row = vec![format!("{p}")];
            let cells = [Sender::Engine, Sender::Linux].map(|x| self.any_link(x, p));
            let kept = [Sender::Engine, Sender::Linux].map(|x| self.kept(x, p));
            for (c, k) in cells.iter().zip(kept) {
                row.push(match c {
                    Some(c) if c.status == Status::Ok => {
                        opt(c.goodput_mbps, 1)
                            + &disturbed(&mut notes, c.interference.other_cpu_pct)
                    }
                    Some(c) => mark(&mut notes, &c.id, &c.status),
                    None => "–".into(),
                });
                row.push(opt(k, 3));
            }
            row.push(opt(kept[0].zip(kept[1]).map(|(e, l)| e / l), 3));
            let ok = cells.map(|c| c.filter(|c| c.status == Status::Ok));
            for c in ok {
                row.push(opt(c.and_then(LinkCell::rtos_per_mib), 4));
            }
            for c in ok {
                row.push(opt(c.and_then(LinkCell::retrans_per_loss), 2));
            }
            let _ = writeln!(s, "| {} |", row.join(" | "));
        }
        s.push('\n');
        notes.write(s);
    }

    fn vt_md(&self, s: &mut String) {
        if self.vtime.is_empty() {
            return;
        }
        let cc = &self.config.engine_cc;
        let seeds: Vec<String> = self.config.vt_seeds.iter().map(u64::to_string).collect();
        let _ = writeln!(
            s,
            "### Virtual time: engine to engine beside the Mathis bound\n"
        );
        let _ = writeln!(
            s,
            "| loss % | Mbit/s (seeds {}) | Mathis Reno | Mathis CUBIC | lowest ÷ bound ({cc}) \
             | RTOs | retrans ÷ lost | intact | same outcome twice |\n\
             |--:|--:|--:|--:|--:|--:|--:|--:|--:|",
            seeds.join(" / ")
        );
        let mut notes = Notes::default();
        for &p in &self.config.loss_rates_pct {
            let cells: Vec<&VtCell> = self.vtime.iter().filter(|c| c.loss_pct == p).collect();
            let outs: Vec<_> = cells.iter().filter_map(|c| c.outcome.as_ref()).collect();
            let mss = outs.first().map_or(1448.0, |o| f64::from(o.mss));
            let b = bounds(self, p, mss);
            let in_use = b.map(|(r, c)| if cc.contains("cubic") { c } else { r });
            let good: Vec<String> = cells
                .iter()
                .map(|c| match (&c.status, &c.outcome) {
                    (Status::Ok, Some(o)) => mbps(o.goodput_mbps),
                    (st, _) => mark(&mut notes, &c.id, st),
                })
                .collect();
            let lowest = outs.iter().map(|o| o.goodput_mbps).reduce(f64::min);
            let join = |f: &dyn Fn(&super::vtime::VtOutcome) -> String| {
                outs.iter().map(|o| f(o)).collect::<Vec<_>>().join(" / ")
            };
            let _ = writeln!(
                s,
                "| {p} | {} | {} | {} | {} | {} | {} | {} | {} |",
                good.join(" / "),
                b.map_or("–".into(), |(r, _)| mbps(r)),
                b.map_or("–".into(), |(_, c)| mbps(c)),
                opt(lowest.zip(in_use).map(|(g, b)| g / b), 2),
                join(&|o| o.rtos.to_string()),
                join(&|o| if o.lost_segs > 0 {
                    format!("{:.2}", o.retrans_segs as f64 / o.lost_segs as f64)
                } else {
                    "–".into()
                }),
                join(&|o| (if o.intact { "yes" } else { "**no**" }).into()),
                cells
                    .iter()
                    .map(|c| match c.same_outcome {
                        Some(true) => "yes",
                        Some(false) => "**no**",
                        None => "–",
                    })
                    .collect::<Vec<_>>()
                    .join(" / "),
            );
        }
        s.push('\n');
        notes.write(s);
    }

    fn raw_md(&self, s: &mut String) {
        let _ = writeln!(s, "### All loss cells\n");
        if !self.link.is_empty() {
            let _ = writeln!(
                s,
                "| cell | status | Mbit/s | delivered MiB | RTOs | retransmitted | lost | data \
                 segments seen | measured loss % | wall s | other CPU % |\n\
                 |---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
            );
            for c in &self.link {
                let n = c.nft.as_ref();
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.0} |",
                    c.id,
                    status_word(&c.status),
                    opt(c.goodput_mbps, 1),
                    opt(c.delivered_bytes.map(|b| b as f64 / (1u64 << 20) as f64), 1),
                    c.rtos.map_or("–".into(), |v| v.to_string()),
                    c.retrans_segs.map_or("–".into(), |v| v.to_string()),
                    n.map_or("–".into(), |n| n.dropped_segs.to_string()),
                    n.map_or("–".into(), |n| n.seen_segs.to_string()),
                    opt(c.measured_loss_pct(), 2),
                    c.wall_s,
                    c.interference.other_cpu_pct
                );
            }
            s.push('\n');
        }
        if !self.vtime.is_empty() {
            let _ = writeln!(
                s,
                "| cell | status | Mbit/s | virtual s | RTOs | fast retransmits | retransmitted \
                 | lost | data segments | SRTT µs | fingerprint | wall s |\n\
                 |---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|"
            );
            for c in &self.vtime {
                let Some(o) = &c.outcome else {
                    let _ = writeln!(
                        s,
                        "| {} | {} | | | | | | | | | | {:.1} |",
                        c.id,
                        status_word(&c.status),
                        c.wall_s
                    );
                    continue;
                };
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {:.3} | {} | {} | {} | {} | {} | {} | `{}` | {:.1} |",
                    c.id,
                    status_word(&c.status),
                    mbps(o.goodput_mbps),
                    o.elapsed_s,
                    o.rtos,
                    o.fast_retrans,
                    o.retrans_segs,
                    o.lost_segs,
                    o.data_segs,
                    opt(o.srtt_us, 0),
                    o.fingerprint,
                    c.wall_s
                );
            }
            s.push('\n');
        }
        let _ = writeln!(
            s,
            "Reproduce: `cargo run --release -p bench -- --only loss` (as root; about 2 minutes \
             with the defaults; `--quick` for 2 s per real-link cell; `--loss-rates`, \
             `--linux-cc`, `--vt-seeds`, `--vt-rtt-us` to change the matrix). One virtual-time \
             transfer by hand: `bench vtime --loss 1 --seed 1`.\n"
        );
    }
}
