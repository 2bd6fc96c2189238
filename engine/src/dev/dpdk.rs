//! DPDK ethdev ports: creation from a [`PortSpec`], configuration, and [`DpdkQueue`], the
//! [`Device`] for one rx/tx queue pair.
//!
//! Set-up follows `rte_eth_dev_info`: offloads are enabled only where the port has them
//! (asking for more makes `rte_eth_dev_configure` fail), unless the caller *requires* one, in
//! which case a port that lacks it is a clear error. Every failure names the cause and the fix.

use std::ffi::CString;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use dpdk_sys as sys;

use super::rss;
use super::spec::{MemifRole, PortSpec};
use super::{Device, DeviceCaps, TxCaps, TxFrames};
use crate::buf::{Mempool, Pkt};
use crate::eal::{self, Eal};
use crate::rss::{KEY_LEN, Spread};
use crate::time::Instant;
use crate::wire::MacAddr;

/// Whether to use an offload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Want {
    /// Use it if the port has it.
    #[default]
    Auto,
    /// Fail if the port lacks it.
    Require,
    /// Never use it.
    Off,
}

/// How to configure a port.
#[derive(Clone, Debug)]
pub struct PortConfig {
    /// Receive queues; queue i receives into `rx_pools[i]` (or the last pool given).
    pub rx_queues: u16,
    pub tx_queues: u16,
    pub rx_desc: u16,
    pub tx_desc: u16,
    /// One pool per receive queue (at least one).
    pub rx_pools: Vec<Mempool>,
    /// IP MTU to set; `None` keeps the port's.
    pub mtu: Option<u16>,
    /// TCP segmentation offload.
    pub tso: Want,
    /// IPv4 and TCP checksum offload (transmit and receive).
    pub checksum: Want,
    /// How long to wait for the link to come up (memif servers wait for their client).
    pub link_wait: Duration,
    /// The RSS key (the first 40 bytes of a longer one) given to a port with RSS, and used
    /// by software steering where the port cannot steer; `None`: a random one (as Linux's
    /// `netdev_rss_key_fill`: a public key would let peers aim every flow at one core).
    pub rss_key: Option<[u8; KEY_LEN]>,
}

impl PortConfig {
    /// One queue pair receiving into `pool`, offloads where available, 10 s link wait.
    pub fn new(pool: Mempool) -> PortConfig {
        PortConfig {
            rx_queues: 1,
            tx_queues: 1,
            rx_desc: 1024,
            tx_desc: 1024,
            rx_pools: vec![pool],
            mtu: None,
            tso: Want::Auto,
            checksum: Want::Auto,
            link_wait: Duration::from_secs(10),
            rss_key: None,
        }
    }
}

/// Why a port could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("cannot create port {spec}: {cause}; {fix}")]
    Create {
        spec: String,
        cause: String,
        fix: String,
    },
    #[error("cannot configure port {spec} ({driver}): {step} failed: {cause}")]
    Configure {
        spec: String,
        driver: String,
        step: &'static str,
        cause: String,
    },
    #[error(
        "port {spec} ({driver}) lacks {what}, which was required; use a port that has it or \
         let the engine do it in software (offload setting auto or off)"
    )]
    MissingOffload {
        spec: String,
        driver: String,
        what: &'static str,
    },
    #[error("port {spec} ({driver}): link did not come up within {waited:?}; {fix}")]
    LinkDown {
        spec: String,
        driver: String,
        waited: Duration,
        fix: &'static str,
    },
}

/// Traffic counters of a port (`rte_eth_stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    pub ipackets: u64,
    pub opackets: u64,
    pub ibytes: u64,
    pub obytes: u64,
    pub imissed: u64,
    pub ierrors: u64,
    pub oerrors: u64,
    pub rx_nombuf: u64,
}

/// A configured, started DPDK port.
#[derive(Clone, Debug)]
pub struct Port {
    pub id: u16,
    pub spec: String,
    pub caps: DeviceCaps,
    pub rx_queues: u16,
    pub tx_queues: u16,
    /// How frames reach the receive queues: give it to `ip::steer::mesh` (see `dev::rss`).
    pub spread: Spread,
    /// One line on how the port steers (or why it cannot), for the operator.
    pub steering: String,
}

static PORT_SEQ: AtomicU32 = AtomicU32::new(0);

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", PORT_SEQ.fetch_add(1, Ordering::Relaxed))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

impl Port {
    /// Creates the device named by `spec` and configures and starts it. For `ring`, returns the
    /// first port of a new back-to-back pair; use [`Port::open_ring_pair`] to get both ends.
    pub fn open(eal: Eal, spec: &PortSpec, cfg: &PortConfig) -> Result<Port, PortError> {
        if *spec == PortSpec::Ring {
            return Port::open_ring_pair(eal, cfg).map(|(a, _)| a);
        }
        let id = create_device(spec, cfg.rx_queues.max(cfg.tx_queues))?;
        Port::configure(id, &spec.to_string(), cfg)
    }

    /// Creates two net_ring ports wired back to back (queue i of one feeds queue i of the
    /// other), configures and starts both.
    pub fn open_ring_pair(_eal: Eal, cfg: &PortConfig) -> Result<(Port, Port), PortError> {
        let nq = cfg.rx_queues.max(cfg.tx_queues);
        let err = |cause: String| PortError::Create {
            spec: "ring".into(),
            cause,
            fix: "give the EAL more memory (-m)".into(),
        };
        let mut ab = Vec::new();
        let mut ba = Vec::new();
        for _ in 0..nq {
            ab.push(create_ring(4096).ok_or_else(|| err(eal::last_error()))?);
            ba.push(create_ring(4096).ok_or_else(|| err(eal::last_error()))?);
        }
        let a =
            ring_port(&unique("ringA"), &mut ba, &mut ab).ok_or_else(|| err(eal::last_error()))?;
        let b =
            ring_port(&unique("ringB"), &mut ab, &mut ba).ok_or_else(|| err(eal::last_error()))?;
        let (mut pa, mut pb) = (
            Port::configure(a, "ring", cfg)?,
            Port::configure(b, "ring", cfg)?,
        );
        // net_ring ports report 00:00:00:00:00:00; give each a distinct locally administered
        // address (the ring filters nothing, the interface layer filters by it).
        for p in [&mut pa, &mut pb] {
            let [hi, lo] = p.id.to_be_bytes();
            p.caps.mac = MacAddr([0x02, b'r', b'n', b'g', hi, lo]);
        }
        Ok((pa, pb))
    }

    fn configure(id: u16, spec: &str, cfg: &PortConfig) -> Result<Port, PortError> {
        let info = dev_info(id);
        let driver = driver_name(&info);
        let fail = |step: &'static str, rc: i32| PortError::Configure {
            spec: spec.into(),
            driver: driver.clone(),
            step,
            cause: eal::error_string(-rc),
        };
        let (mut conf, tx) = offload_conf(spec, &driver, &info, cfg)?;
        let nrx = cfg.rx_queues.min(info.max_rx_queues).max(1);
        let ntx = cfg.tx_queues.min(info.max_tx_queues).max(1);
        let key = rss::engine_key(cfg.rss_key, info.hash_key_size);
        let planned = rss::plan(&mut conf, &info, nrx, key.clone());
        // SAFETY: id is a valid port (created above); conf is a fully initialised struct
        // whose RSS key (if any) lives in `planned` across the call.
        let mut rc = unsafe { sys::rte_eth_dev_configure(id, nrx, ntx, &conf) };
        let mut refused = None;
        if rc != 0 && planned.is_some() {
            refused = Some(format!(
                "it refused the RSS configuration: {}",
                eal::error_string(-rc)
            ));
            rss::unplan(&mut conf);
            // SAFETY: as above, without RSS.
            rc = unsafe { sys::rte_eth_dev_configure(id, nrx, ntx, &conf) };
        }
        if rc != 0 {
            return Err(fail("rte_eth_dev_configure", rc));
        }
        if let Some(mtu) = cfg.mtu {
            // SAFETY: configured port; MTU changes are allowed before start.
            let rc = unsafe { sys::rte_eth_dev_set_mtu(id, mtu) };
            if rc != 0 {
                return Err(fail("rte_eth_dev_set_mtu", rc));
            }
        }
        setup_queues(id, nrx, ntx, cfg).map_err(|(step, rc)| fail(step, rc))?;
        // SAFETY: all queues are set up.
        let rc = unsafe { sys::rte_eth_dev_start(id) };
        if rc != 0 {
            return Err(fail("rte_eth_dev_start", rc));
        }
        // Promiscuous mode is not supported everywhere (ring); our own MAC filter is in the IP layer.
        // SAFETY: started port; failure is harmless.
        unsafe { sys::rte_eth_promiscuous_enable(id) };
        wait_link(id, spec, &driver, cfg.link_wait)?;
        let caps = read_caps(id, &driver, tx, &conf);
        let planned = planned.filter(|_| refused.is_none());
        let (spread, steering) = rss::spread(id, &driver, nrx, planned.as_ref(), refused, &key);
        Ok(Port {
            id,
            spec: spec.into(),
            caps,
            rx_queues: nrx,
            tx_queues: ntx,
            spread,
            steering,
        })
    }

    /// The [`Device`] for queue pair `q` of this port.
    pub fn queue(&self, q: u16) -> DpdkQueue {
        DpdkQueue {
            port: self.id,
            queue: q,
            caps: self.caps.clone(),
        }
    }

    /// The port's traffic counters.
    pub fn stats(&self) -> PortStats {
        let mut s = sys::rte_eth_stats::default();
        // SAFETY: valid port; s is a writable stats struct.
        unsafe { sys::rte_eth_stats_get(self.id, &mut s) };
        PortStats {
            ipackets: s.ipackets,
            opackets: s.opackets,
            ibytes: s.ibytes,
            obytes: s.obytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        }
    }

    /// Stops and closes the port, removing its device (a tap interface disappears).
    pub fn close(self) {
        // SAFETY: the port exists; stop then close is the documented teardown order.
        unsafe {
            sys::rte_eth_dev_stop(self.id);
            sys::rte_eth_dev_close(self.id);
        }
    }
}

fn create_ring(size: u32) -> Option<*mut sys::rte_ring> {
    let name = CString::new(unique("rq")).expect("no NUL");
    let flags = sys::RING_F_SP_ENQ | sys::RING_F_SC_DEQ;
    // SAFETY: EAL is up; name is valid; DPDK copies it.
    let r = unsafe { sys::rte_ring_create(name.as_ptr(), size, sys::SOCKET_ID_ANY, flags) };
    (!r.is_null()).then_some(r)
}

fn ring_port(
    name: &str,
    rx: &mut [*mut sys::rte_ring],
    tx: &mut [*mut sys::rte_ring],
) -> Option<u16> {
    let cname = CString::new(name).expect("no NUL");
    // SAFETY: the rings live forever (never freed); the arrays are read during the call.
    let rc = unsafe {
        sys::rte_eth_from_rings(
            cname.as_ptr(),
            rx.as_ptr(),
            rx.len() as u32,
            tx.as_ptr(),
            tx.len() as u32,
            0,
        )
    };
    u16::try_from(rc).ok()
}

/// Creates (hot-plugs) the DPDK device for `spec` with `queues` queue pairs where the driver
/// takes the count at creation (af_packet's `qpairs`), and returns its port id.
fn create_device(spec: &PortSpec, queues: u16) -> Result<u16, PortError> {
    let (name, args, fix) = match spec {
        PortSpec::Tap { ifname } => (
            unique("net_tap_e"),
            format!("iface={ifname}"),
            if is_root() {
                format!(
                    "check that no interface named {ifname} already exists (ip link show {ifname})"
                )
            } else {
                "creating a tap needs root (CAP_NET_ADMIN): run as root".into()
            },
        ),
        PortSpec::AfPacket { ifname } => {
            if !std::path::Path::new("/sys/class/net").join(ifname).exists() {
                return Err(PortError::Create {
                    spec: spec.to_string(),
                    cause: format!("there is no interface named {ifname} in this network namespace"),
                    fix: "create it first (e.g. ip link add veth0 type veth peer name veth1) or run in its namespace".into(),
                });
            }
            // Several queue pairs are one PACKET_FANOUT_HASH group: the kernel picks the
            // queue by its flow hash, so the port cannot steer (software steering decides).
            (
                unique("net_af_packet_e"),
                format!("iface={ifname},qpairs={}", queues.max(1)),
                "af_packet needs root (CAP_NET_RAW)".into(),
            )
        }
        PortSpec::Memif { socket, role } => {
            let r = if *role == MemifRole::Server {
                "server"
            } else {
                "client"
            };
            (
                unique("net_memif_e"),
                format!("role={r},socket={socket},id=0"),
                "check the socket path and that only one server uses it".into(),
            )
        }
        PortSpec::Pci { bdf } => return port_by_name(spec, bdf, probe(spec, bdf)),
        PortSpec::Eal { devargs } => {
            let name = devargs.split(',').next().unwrap_or(devargs).to_string();
            return port_by_name(spec, &name, probe(spec, devargs));
        }
        PortSpec::Ring => unreachable!("ring pairs are created by open_ring_pair"),
    };
    let cname = CString::new(name.clone()).expect("no NUL");
    let cargs = CString::new(args).map_err(|_| PortError::Create {
        spec: spec.to_string(),
        cause: "the spec contains a NUL byte".into(),
        fix: "remove it".into(),
    })?;
    // SAFETY: EAL is up; both strings are valid C strings copied by DPDK.
    let rc = unsafe { sys::rte_vdev_init(cname.as_ptr(), cargs.as_ptr()) };
    if rc != 0 {
        return Err(PortError::Create {
            spec: spec.to_string(),
            cause: format!("rte_vdev_init({name}) failed: {}", eal::error_string(-rc)),
            fix,
        });
    }
    if let PortSpec::Tap { ifname } = spec {
        // The kernel's queue toward the engine: 1000 frames overflow under load (dev::tap).
        super::tap::set_txqueuelen(ifname, super::tap::TAP_TXQUEUELEN).map_err(|e| {
            PortError::Create {
                spec: spec.to_string(),
                cause: format!("cannot set txqueuelen of {ifname}: {e}"),
                fix: "run as root (CAP_NET_ADMIN)".into(),
            }
        })?;
    }
    port_by_name(spec, &name, Ok(()))
}

fn probe(spec: &PortSpec, devargs: &str) -> Result<(), PortError> {
    let c = CString::new(devargs).expect("no NUL");
    // SAFETY: EAL is up; devargs is copied by DPDK.
    let rc = unsafe { sys::rte_dev_probe(c.as_ptr()) };
    if rc != 0 {
        return Err(PortError::Create {
            spec: spec.to_string(),
            cause: format!("rte_dev_probe({devargs}) failed: {}", eal::error_string(-rc)),
            fix: "check the devargs; a PCI NIC must be bound to vfio-pci and the EAL started without --no-pci".into(),
        });
    }
    Ok(())
}

fn port_by_name(
    spec: &PortSpec,
    name: &str,
    probed: Result<(), PortError>,
) -> Result<u16, PortError> {
    probed?;
    let c = CString::new(name).expect("no NUL");
    let mut id = 0u16;
    // SAFETY: c is a valid C string; id is writable.
    let rc = unsafe { sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
    if rc != 0 {
        return Err(PortError::Create {
            spec: spec.to_string(),
            cause: format!("no ethdev port named {name} after creating it"),
            fix: "the device is not an Ethernet device, or its driver is missing".into(),
        });
    }
    Ok(id)
}

pub(super) fn dev_info(id: u16) -> sys::rte_eth_dev_info {
    let mut info = sys::rte_eth_dev_info::default();
    // SAFETY: valid port id; info is writable.
    unsafe { sys::rte_eth_dev_info_get(id, &mut info) };
    info
}

fn driver_name(info: &sys::rte_eth_dev_info) -> String {
    if info.driver_name.is_null() {
        return "unknown".into();
    }
    // SAFETY: driver_name points at a static NUL-terminated string owned by the driver.
    unsafe { std::ffi::CStr::from_ptr(info.driver_name) }
        .to_string_lossy()
        .into_owned()
}

/// Chooses the offloads to enable from what the port has and what the caller wants.
fn offload_conf(
    spec: &str,
    driver: &str,
    info: &sys::rte_eth_dev_info,
    cfg: &PortConfig,
) -> Result<(sys::rte_eth_conf, TxCaps), PortError> {
    let capa = info.tx_offload_capa;
    let has = |bits: u64| capa & bits == bits;
    let missing = |what| PortError::MissingOffload {
        spec: spec.into(),
        driver: driver.into(),
        what,
    };
    let csum_bits = sys::RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | sys::RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
    let csum = match cfg.checksum {
        Want::Off => false,
        Want::Auto => has(csum_bits),
        Want::Require if has(csum_bits) => true,
        Want::Require => return Err(missing("IPv4/TCP checksum offload")),
    };
    // TSO without the checksum offloads leaves wrong checksums (note §3, limit 3).
    let tso = match cfg.tso {
        Want::Off => false,
        Want::Auto => csum && has(sys::RTE_ETH_TX_OFFLOAD_TCP_TSO),
        Want::Require if csum && has(sys::RTE_ETH_TX_OFFLOAD_TCP_TSO) => true,
        Want::Require => return Err(missing("TCP segmentation offload (with checksum offload)")),
    };
    let multi = has(sys::RTE_ETH_TX_OFFLOAD_MULTI_SEGS);
    let mut conf = sys::rte_eth_conf::default();
    conf.txmode.offloads = if csum { csum_bits } else { 0 }
        | if tso {
            sys::RTE_ETH_TX_OFFLOAD_TCP_TSO
        } else {
            0
        }
        | if multi {
            sys::RTE_ETH_TX_OFFLOAD_MULTI_SEGS
        } else {
            0
        };
    let rx_bits = sys::RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | sys::RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
    if cfg.checksum != Want::Off {
        conf.rxmode.offloads = info.rx_offload_capa & rx_bits;
    }
    let tx = TxCaps {
        ipv4_cksum: csum,
        tcp_cksum: csum,
        tso,
        multi_segs: multi,
    };
    Ok((conf, tx))
}

fn setup_queues(id: u16, nrx: u16, ntx: u16, cfg: &PortConfig) -> Result<(), (&'static str, i32)> {
    // SAFETY: vdevs report -1 (SOCKET_ID_ANY) as their socket; the cast keeps that meaning.
    let socket = unsafe { sys::rte_eth_dev_socket_id(id) } as u32;
    for q in 0..nrx {
        let pool = cfg.rx_pools[usize::from(q).min(cfg.rx_pools.len() - 1)];
        // SAFETY: configured port; null rxconf means driver defaults; the pool outlives the port.
        let rc = unsafe {
            sys::rte_eth_rx_queue_setup(id, q, cfg.rx_desc, socket, std::ptr::null(), pool.as_ptr())
        };
        if rc != 0 {
            return Err(("rte_eth_rx_queue_setup", rc));
        }
    }
    for q in 0..ntx {
        // SAFETY: configured port; null txconf means driver defaults.
        let rc =
            unsafe { sys::rte_eth_tx_queue_setup(id, q, cfg.tx_desc, socket, std::ptr::null()) };
        if rc != 0 {
            return Err(("rte_eth_tx_queue_setup", rc));
        }
    }
    Ok(())
}

fn wait_link(id: u16, spec: &str, driver: &str, wait: Duration) -> Result<(), PortError> {
    let start = std::time::Instant::now();
    loop {
        let mut link = sys::rte_eth_link::default();
        // SAFETY: started port; link is writable.
        unsafe { sys::rte_eth_link_get_nowait(id, &mut link) };
        if link.link_status() != 0 {
            return Ok(());
        }
        if start.elapsed() >= wait {
            let fix = if driver.contains("memif") {
                "a memif port's link comes up when its peer connects: start the other side"
            } else {
                "check the device and its peer"
            };
            return Err(PortError::LinkDown {
                spec: spec.into(),
                driver: driver.into(),
                waited: wait,
                fix,
            });
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn read_caps(id: u16, driver: &str, tx: TxCaps, conf: &sys::rte_eth_conf) -> DeviceCaps {
    let mut mac = sys::rte_ether_addr::default();
    // SAFETY: valid port; mac is writable.
    unsafe { sys::rte_eth_macaddr_get(id, &mut mac) };
    let mut mtu = 1500u16;
    // SAFETY: valid port; mtu is writable.
    unsafe { sys::rte_eth_dev_get_mtu(id, &mut mtu) };
    let info = dev_info(id);
    let rx = conf.rxmode.offloads;
    DeviceCaps {
        mac: MacAddr(mac.addr_bytes),
        mtu,
        tx,
        rx_ipv4_cksum: rx & sys::RTE_ETH_RX_OFFLOAD_IPV4_CKSUM != 0,
        rx_tcp_cksum: rx & sys::RTE_ETH_RX_OFFLOAD_TCP_CKSUM != 0,
        // These PMDs copy the frame (writev, TPACKET ring, memif copy mode) and free the mbuf
        // inside tx_burst (note §2); net_ring and NICs keep or pass on the mbuf itself.
        tx_copies: matches!(driver, "net_tap" | "net_af_packet" | "net_memif"),
        max_tso_segs: if driver == "net_tap" { 64 } else { 0 },
        tso_counts_l2: driver == "net_tap",
        max_tx_segs: info.tx_desc_lim.nb_seg_max,
        // DPDK 22.11's net_tap `tap_write_mbufs` adds each segment with `__rte_raw_cksum(seg,
        // len, sum)`, which takes the segment's first byte as the high half of a word: after a
        // segment of odd length every byte lands in the wrong half (fixed upstream in 23.11 by
        // "net/tap: rework checksum offloading", 81890dbb91). Only matters with the offload on.
        tx_cksum_odd_chain_bug: driver == "net_tap" && tx.tcp_cksum,
        trusted: driver == "net_ring",
        driver: driver.into(),
    }
}

/// One rx/tx queue pair of a DPDK port, as a [`Device`]. Owned by one core's stack.
#[derive(Debug)]
pub struct DpdkQueue {
    port: u16,
    queue: u16,
    caps: DeviceCaps,
}

impl Device for DpdkQueue {
    fn caps(&self) -> &DeviceCaps {
        &self.caps
    }

    fn rx_burst(&mut self, _now: Instant, out: &mut Vec<Pkt>, max: usize) -> usize {
        out.reserve(max);
        let len = out.len();
        let n = max.min(u16::MAX as usize) as u16;
        // SAFETY: Pkt is repr(transparent) over a non-null mbuf pointer, so the spare capacity
        // is an array of `max` mbuf pointer slots; DPDK writes `got` valid owned mbufs there.
        let got = unsafe {
            let slots = out.as_mut_ptr().add(len) as *mut *mut sys::rte_mbuf;
            sys::shim_rte_eth_rx_burst(self.port, self.queue, slots, n)
        };
        // SAFETY: the first `got` spare slots now hold initialised Pkts, each owning one
        // reference and, exclusively, its headers' metadata (buf's rule for `from_raw`): a PMD
        // hands over every received mbuf with one reference, filled from its own pool, except
        // net_ring, which hands over the very mbuf the peer port's `tx_burst` took; that sender
        // gave up its reference and kept no handle to the header (a `Pkt` cannot be cloned, and
        // `Pkt::share`'s contract forbids changing a shared header's metadata, which a
        // receiving stack does), and what it still shares with the frame (payload reached
        // through indirect clones) is data, not metadata.
        unsafe { out.set_len(len + usize::from(got)) };
        usize::from(got)
    }

    /// One `rte_eth_tx_prepare` + `rte_eth_tx_burst` over the offered frames; the PMD takes a
    /// prefix of them (all of them unless its TX ring is full).
    fn transmit(&mut self, _now: Instant, frames: &mut TxFrames<'_>) {
        if frames.is_empty() {
            return;
        }
        let n = frames.len().min(u16::MAX as usize) as u16;
        let ptrs = frames.as_mbufs();
        // SAFETY: `ptrs` is an array of `n` valid mbuf pointers owned by the offer; the PMD
        // takes ownership of the first `sent` (prepared) ones and leaves the rest alone.
        let sent = unsafe {
            let ok = sys::shim_rte_eth_tx_prepare(self.port, self.queue, ptrs, n);
            sys::shim_rte_eth_tx_burst(self.port, self.queue, ptrs, ok)
        };
        // SAFETY: sent <= n <= frames.len(), and the PMD owns those references now (freed
        // inside tx_burst by tap/af_packet/memif, kept in the ring by NICs, handed to the peer
        // port's receive by net_ring): they are forgotten, not freed.
        unsafe { frames.mark_taken(usize::from(sent)) };
    }
}
