//! Raw bindings to the system's DPDK (22.11), generated at build time by bindgen, plus `shim_*`
//! wrappers for the static inline functions (`rte_eth_rx_burst`, `rte_pktmbuf_alloc`, ...).
//!
//! Only `engine::buf` and `engine::dev::dpdk` use this crate; everything else goes through them.
//! The offload and mbuf-flag constants (`RTE_ETH_TX_OFFLOAD_*`, `RTE_MBUF_F_*`, `RTE_ETH_RSS_*`)
//! are `u64`.
#![allow(
    non_upper_case_globals,
    non_camel_case_types,
    non_snake_case,
    dead_code
)]
#![allow(clippy::all, unsafe_op_in_unsafe_fn, unnecessary_transmutes)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
