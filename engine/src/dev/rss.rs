//! RSS set-up of a DPDK port with several receive queues, and how its frames reach the queues
//! ([`Spread`], ARCHITECTURE decision 8).
//!
//! A port that has RSS (`flow_type_rss_offloads` non-zero) is configured with
//! `RTE_ETH_MQ_RX_RSS`, the engine's key and the TCP/IPv4 and TCP/IPv6 hash types (plus the
//! address-only ones for other IP traffic), restricted to what the port offers. After start the
//! engine writes a redirection table spreading the queues evenly, then reads back the key
//! (`rte_eth_dev_rss_hash_conf_get`) and the table (`rte_eth_dev_rss_reta_query`): ownership
//! is computed from what the port says it uses, never from what was asked or from a default.
//! A port whose key read back is not the one given at configure is given it once more with
//! `rte_eth_dev_rss_hash_update` (net_null keeps its built-in key at configure) and read again.
//! Only when both TCP hash types, a key of at least 40 bytes and the whole table come back is
//! the port trusted to steer ([`Spread::Nic`]); net_null, which does RSS bookkeeping in
//! software, is how the tests reach this path without a NIC.
//!
//! Otherwise the port "cannot steer", and the engine's own key and even table decide
//! ([`Spread::Software`]); frames reach their owner through the cross-core rings. What the
//! vdevs here do (DPDK 22.11): net_tap advertises RSS (`flow_type_rss_offloads` 0x3afbc, a
//! 40-byte key, a table of size 0) and accepts the configuration, but `rss_hash_conf_get`
//! fails with -ENOTSUP (its eBPF RSS needs the multiq qdisc this kernel lacks): the kernel's
//! tun hash picks the queue. af_packet (fanout hash), net_ring and memif have no RSS; over
//! net_ring and memif the *sender* picks the queue (the peer's queue `i` feeds ours), so frames
//! already arrive on their owner ([`Spread::Sender`]). A port whose driver refuses the RSS
//! configuration is configured again without it: the result is a reason, not a failure.

use std::sync::Arc;

use dpdk_sys as sys;

use crate::eal;
use crate::rand::Rng;
use crate::rss::{KEY_LEN, Redirection, Spread};

/// Hash types the engine asks for (the port's offer masks them).
const WANTED_HF: u64 = sys::RTE_ETH_RSS_NONFRAG_IPV4_TCP
    | sys::RTE_ETH_RSS_NONFRAG_IPV6_TCP
    | sys::RTE_ETH_RSS_IPV4
    | sys::RTE_ETH_RSS_IPV6;

/// Hash types ownership needs: addresses and ports of TCP in both families.
const NEEDED_HF: u64 = sys::RTE_ETH_RSS_NONFRAG_IPV4_TCP | sys::RTE_ETH_RSS_NONFRAG_IPV6_TCP;

/// Longest key read back (NICs have 40 or 52 bytes).
const KEY_MAX: usize = 64;

/// The RSS part of a port's configuration, before `rte_eth_dev_configure`.
pub(super) struct RssPlan {
    /// The key given to the port (lives until configure has copied it).
    key: Vec<u8>,
    hf: u64,
}

/// The key for a port: `fixed` if given, else random; as long as the port's key (at least
/// [`KEY_LEN`]: longer keys add bytes that inputs of up to 36 bytes never reach).
pub(super) fn engine_key(fixed: Option<[u8; KEY_LEN]>, port_len: u8) -> Vec<u8> {
    let mut rng = Rng::from_entropy();
    let mut key: Vec<u8> = (0..usize::from(port_len).max(KEY_LEN))
        .map(|_| rng.next_u32() as u8)
        .collect();
    if let Some(k) = fixed {
        key[..KEY_LEN].copy_from_slice(&k);
    }
    key
}

/// Sets `conf` up for RSS if the port has it and more than one receive queue is used.
pub(super) fn plan(
    conf: &mut sys::rte_eth_conf,
    info: &sys::rte_eth_dev_info,
    nrx: u16,
    key: Vec<u8>,
) -> Option<RssPlan> {
    let hf = info.flow_type_rss_offloads & WANTED_HF;
    if nrx < 2 || info.flow_type_rss_offloads == 0 || hf == 0 {
        return None;
    }
    let mut plan = RssPlan { key, hf };
    conf.rxmode.mq_mode = sys::RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf = sys::rte_eth_rss_conf {
        rss_key: plan.key.as_mut_ptr(),
        rss_key_len: plan.key.len() as u8,
        rss_hf: plan.hf,
    };
    Some(plan)
}

/// Undoes [`plan`] (the driver refused it).
pub(super) fn unplan(conf: &mut sys::rte_eth_conf) {
    conf.rxmode.mq_mode = sys::RTE_ETH_MQ_RX_NONE;
    conf.rx_adv_conf.rss_conf = sys::rte_eth_rss_conf::default();
}

/// How the started port `id` spreads frames over its `nrx` queues, and a line saying why.
pub(super) fn spread(
    id: u16,
    driver: &str,
    nrx: u16,
    planned: Option<&RssPlan>,
    refused: Option<String>,
    soft_key: &[u8],
) -> (Spread, String) {
    if nrx < 2 {
        return (Spread::Sender, "one receive queue: nothing to steer".into());
    }
    if matches!(driver, "net_ring" | "net_memif") {
        return (
            Spread::Sender,
            format!("{driver}: the sender picks the queue; frames arrive on their owner"),
        );
    }
    let why = match (planned, refused) {
        (_, Some(r)) => r,
        (None, _) => "the port has no RSS".into(),
        (Some(p), None) => match read_back(id, nrx, p) {
            Ok(r) => {
                let line = format!(
                    "RSS: key and {}-entry redirection table read back from the port",
                    r.table().len()
                );
                return (Spread::Nic(Arc::new(r)), line);
            }
            Err(e) => e,
        },
    };
    let soft = Redirection::even(soft_key, crate::rss::SOFTWARE_TABLE_LEN, nrx)
        .expect("a full key and a table");
    (
        Spread::Software(Arc::new(soft)),
        format!(
            "{driver} cannot steer ({why}): frames reach their owner through the cross-core rings"
        ),
    )
}

/// Writes an even table to the port, then reads key, hash types and table back.
fn read_back(id: u16, nrx: u16, plan: &RssPlan) -> Result<Redirection, String> {
    let info = super::dpdk::dev_info(id);
    let size = info.reta_size;
    if size == 0 {
        return Err("it reports a redirection table of size 0".into());
    }
    let mut reta = even_table(size, nrx);
    // SAFETY: started port; `reta` holds ceil(size / 64) groups, as the call reads.
    let rc = unsafe { sys::rte_eth_dev_rss_reta_update(id, reta.as_mut_ptr(), size) };
    check(rc, "rte_eth_dev_rss_reta_update")?;
    // The call wants room for the port's whole key (hash_key_size).
    let key_len = usize::from(info.hash_key_size).clamp(plan.key.len().min(KEY_MAX), KEY_MAX);
    let (mut key, mut hf) = hash_conf(id, key_len)?;
    if key[..KEY_LEN] != plan.key[..KEY_LEN] || hf & NEEDED_HF != NEEDED_HF {
        // Some drivers (net_null) ignore the key given at configure: ask once more, then
        // believe what the port says.
        let mut again = sys::rte_eth_rss_conf {
            rss_key: plan.key.as_ptr().cast_mut(),
            rss_key_len: plan.key.len() as u8,
            rss_hf: plan.hf,
        };
        // SAFETY: started port; the key is read (not written) during the call.
        unsafe { sys::rte_eth_dev_rss_hash_update(id, &mut again) };
        (key, hf) = hash_conf(id, key_len)?;
    }
    if hf & NEEDED_HF != NEEDED_HF {
        return Err(format!(
            "it hashes {hf:#x}, not TCP over both IPv4 and IPv6 (ports included)"
        ));
    }
    for e in reta.iter_mut() {
        e.reta = [0; 64];
    }
    // SAFETY: as for the update; the masks select the entries to read.
    let rc = unsafe { sys::rte_eth_dev_rss_reta_query(id, reta.as_mut_ptr(), size) };
    check(rc, "rte_eth_dev_rss_reta_query")?;
    let table: Vec<u16> = reta
        .iter()
        .flat_map(|e| e.reta)
        .take(usize::from(size))
        .collect();
    Redirection::new(&key[..key_len], table, nrx).map_err(|e| format!("read back: {e}"))
}

/// A table of `size` entries, entry `i` naming queue `i mod nrx`, in 64-entry groups.
fn even_table(size: u16, nrx: u16) -> Vec<sys::rte_eth_rss_reta_entry64> {
    let groups = usize::from(size).div_ceil(64);
    let mut reta = vec![sys::rte_eth_rss_reta_entry64::default(); groups];
    for (g, e) in reta.iter_mut().enumerate() {
        let n = (usize::from(size) - g * 64).min(64);
        e.mask = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
        for (i, q) in e.reta.iter_mut().enumerate().take(n) {
            *q = ((g * 64 + i) % usize::from(nrx)) as u16;
        }
    }
    reta
}

/// The key (`key_len` bytes of room) and hash types the port says it uses.
fn hash_conf(id: u16, key_len: usize) -> Result<([u8; KEY_MAX], u64), String> {
    let mut key = [0u8; KEY_MAX];
    let mut conf = sys::rte_eth_rss_conf {
        rss_key: key.as_mut_ptr(),
        rss_key_len: key_len as u8,
        rss_hf: 0,
    };
    // SAFETY: started port; conf.rss_key points at KEY_MAX writable bytes, at least rss_key_len.
    let rc = unsafe { sys::rte_eth_dev_rss_hash_conf_get(id, &mut conf) };
    check(rc, "rte_eth_dev_rss_hash_conf_get")?;
    Ok((key, conf.rss_hf))
}

fn check(rc: i32, call: &str) -> Result<(), String> {
    if rc == 0 {
        Ok(())
    } else {
        Err(format!("{call}: {}", eal::error_string(-rc)))
    }
}
