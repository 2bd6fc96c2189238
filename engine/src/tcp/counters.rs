//! TCP counters, named as Linux's `nstat` names them (`Tcp*` from RFC 4022's MIB, `TcpExt*`
//! from Linux's extensions), plus a few of the engine's own (`TcpExtTso*`, `TcpExtTx*`),
//! which say how frames were built.

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
        in_errs => "TcpInErrs",
        out_rsts => "TcpOutRsts",
        listen_overflows => "TcpExtListenOverflows",
        listen_drops => "TcpExtListenDrops",
        timeouts => "TcpExtTCPTimeouts",
        reno_recovery => "TcpExtTCPRenoRecovery",
        fast_retrans => "TcpExtTCPFastRetrans",
        slow_start_retrans => "TcpExtTCPSlowStartRetrans",
        partial_acks => "TcpExtTCPRenoRecoveryFail",
        delayed_acks => "TcpExtDelayedACKs",
        pure_acks_in => "TcpExtTCPPureAcks",
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
        /// Data segments whose previous copy was still in the TX ring: retransmission skipped
        /// and re-armed (Linux skb_still_in_host_queue).
        retrans_in_host_queue => "TcpExtTCPSpuriousRtxHostQueues",
        /// TSO super-segments handed to the port.
        tso_frames => "TcpExtTsoFrames",
        /// Wire segments those super-segments become.
        tso_wire_segs => "TcpExtTsoWireSegs",
        /// Frames built with headers in the payload's headroom (one extra reference).
        tx_in_headroom => "TcpExtTxInHeadroom",
        /// Frames built as a header mbuf chained to an indirect clone of the payload.
        tx_hdr_mbuf => "TcpExtTxHeaderMbuf",
        /// Frames whose small payload was copied into the header mbuf (copy-break).
        tx_copybreak => "TcpExtTxCopyBreak",
        /// Frames whose TCP checksum the engine computed because the port's offload gets their
        /// chain wrong (`DeviceCaps::tx_cksum_odd_chain_bug`).
        tx_csum_odd_chain => "TcpExtTxCsumOddChain",
        /// TSO units sent as ordinary frames for the same reason.
        tso_odd_chain_split => "TcpExtTsoOddChainSplit",
        /// Frames that could not be built for lack of mbufs.
        tx_nombuf => "TcpExtTxNoBuf",
        /// Segments for no connection or listener, answered with RST (RFC 9293 §3.10.7.1).
        no_port => "TcpExtNoPort",
    }
}
