//! TCP counters, named as Linux's `nstat` names them (`Tcp*` from RFC 4022's MIB, `TcpExt*`
//! from Linux's extensions), plus a few of the engine's own, marked as such. How frames were
//! built (`TcpExtTso*`, `TcpExtTx*`) is the IP layer's to count (`ip::IpCounters`); so are the
//! segments it rejects before TCP sees them (bad checksum or header), which the stack adds to
//! `TcpInErrs` when it reports (`stack::Counters`), as Linux counts them in `tcp_v4_rcv`.

crate::mib! {
    /// One core's TCP counters.
    pub struct TcpCounters {
        active_opens => "TcpActiveOpens",
        passive_opens => "TcpPassiveOpens",
        attempt_fails => "TcpAttemptFails",
        estab_resets => "TcpEstabResets",
        in_segs => "TcpInSegs",
        out_segs => "TcpOutSegs",
        retrans_segs => "TcpRetransSegs",
        /// Segments TCP itself rejects as errors: a SYN on a synchronized connection (Linux
        /// `tcp_validate_incoming`). The stack's report adds the IP layer's checksum and
        /// header failures.
        in_errs => "TcpInErrs",
        out_rsts => "TcpOutRsts",
        listen_overflows => "TcpExtListenOverflows",
        listen_drops => "TcpExtListenDrops",
        timeouts => "TcpExtTCPTimeouts",
        reno_recovery => "TcpExtTCPRenoRecovery",
        sack_recovery => "TcpExtTCPSackRecovery",
        /// Retransmissions in Recovery (Linux counts each segment so resent).
        fast_retrans => "TcpExtTCPFastRetrans",
        /// RTOs during SACK recovery, Reno recovery, and after an RTO.
        sack_recovery_fail => "TcpExtTCPSackRecoveryFail",
        reno_failures => "TcpExtTCPRenoFailures",
        loss_failures => "TcpExtTCPLossFailures",
        /// Reordering seen in SACK blocks (a never-resent segment SACKed below the highest).
        sack_reorder => "TcpExtTCPSACKReorder",
        /// D-SACK blocks received (RFC 2883).
        dsack_recv => "TcpExtTCPDSACKRecv",
        /// The receiver acknowledged up to SACKed data only (RFC 2018 §8 reneging).
        sack_reneging => "TcpExtTCPSACKReneging",
        /// Retransmissions deemed lost in turn (RACK).
        lost_retransmit => "TcpExtTCPLostRetransmit",
        /// Undo of a reduction: D-SACK, at the end of recovery, on a partial ACK, after an RTO.
        dsack_undo => "TcpExtTCPDSACKUndo",
        full_undo => "TcpExtTCPFullUndo",
        partial_undo => "TcpExtTCPPartialUndo",
        loss_undo => "TcpExtTCPLossUndo",
        /// RTOs F-RTO found spurious (RFC 5682).
        spurious_rtos => "TcpExtTCPSpuriousRTOs",
        /// Tail loss probes sent, and those that repaired a loss (RFC 8985 §7).
        loss_probes => "TcpExtTCPLossProbes",
        loss_probe_recovery => "TcpExtTCPLossProbeRecovery",
        slow_start_retrans => "TcpExtTCPSlowStartRetrans",
        /// NewReno partial acknowledgments in recovery (RFC 6582 §3.2 step 5). The engine's
        /// own: Linux keeps no such counter.
        partial_acks => "TcpExtTCPRenoPartialAck",
        delayed_acks => "TcpExtDelayedACKs",
        /// ACKs without data processed outside header prediction (Linux `tcp_ack`).
        pure_acks_in => "TcpExtTCPPureAcks",
        /// ACKs that advanced SND.UNA on the header-prediction path (Linux `tcp_ack`).
        hp_acks => "TcpExtTCPHPAcks",
        paws_estab => "TcpExtPAWSEstab",
        dsack_old_sent => "TcpExtTCPDSACKOldSent",
        dsack_ofo_sent => "TcpExtTCPDSACKOfoSent",
        ofo_queue => "TcpExtTCPOFOQueue",
        ofo_drop => "TcpExtTCPOFODrop",
        rcvq_drop => "TcpExtTCPRcvQDrop",
        /// Times the stack entered memory pressure (payload pool low).
        memory_pressures => "TcpExtTCPMemoryPressures",
        /// Payload segments dropped at the memory hard limit (`tcp::memory`).
        pressure_drops => "TcpExtTCPPressureDrop",
        /// Out-of-order segments dropped or pruned under memory pressure (Linux
        /// `tcp_prune_ofo_queue`).
        ofo_pruned => "TcpExtOfoPruned",
        /// `send` calls refused (`WouldBlock`) under memory pressure.
        send_pressure => "TcpExtTCPSendPressure",
        abort_on_data => "TcpExtTCPAbortOnData",
        abort_on_close => "TcpExtTCPAbortOnClose",
        abort_on_timeout => "TcpExtTCPAbortOnTimeout",
        challenge_acks => "TcpExtTCPChallengeACK",
        /// ACKs not sent in answer to out-of-window segments (RFC 5961 §7 rate limit).
        oow_rate_limited => "TcpExtTCPACKSkippedSeq",
        syn_challenge => "TcpExtTCPSYNChallenge",
        win_probes => "TcpExtTCPWinProbe",
        keepalive_probes => "TcpExtTCPKeepAlive",
        tw_recycled => "TcpExtTWRecycled",
        time_wait => "TcpExtTW",
        /// Segments for no connection or listener, answered with RST (RFC 9293 §3.10.7.1).
        no_port => "TcpExtNoPort",
        /// Segments acknowledged by ACKs carrying ECE (RFC 3168; Linux `tcp_count_delivered`),
        /// counted as MSS-sized pieces of the bytes they acknowledged.
        delivered_ce => "TcpExtTCPDeliveredCE",
        /// Window reductions for ECN echoes (RFC 3168 §6.1.2). The engine's own: Linux counts
        /// none.
        ecn_reductions => "TcpExtTCPECNReductions",
    }
}
