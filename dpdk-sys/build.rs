//! Generates bindings to the system's DPDK (found by pkg-config, `libdpdk` >= 22.11) and compiles
//! `shim.c`, the out-of-line copies of the static inline functions the engine calls.
//!
//! When DPDK is missing the build stops with one line naming the package and the set-up command.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const MISSING: &str = "dpdk-sys: pkg-config finds no libdpdk >= 22.11: install Debian's \
     libdpdk-dev and pkg-config (the README's `./test.sh` or `./run.sh` installs them as root)";

/// Types the offload, mbuf-flag and RSS constants as `u64`: DPDK defines them with
/// `RTE_BIT64(n)`, which bindgen's macro fallback would otherwise type as `u32`.
#[derive(Debug)]
struct U64Flags;

impl bindgen::callbacks::ParseCallbacks for U64Flags {
    fn int_macro(&self, name: &str, _value: i64) -> Option<bindgen::callbacks::IntKind> {
        const PREFIXES: [&str; 4] = [
            "RTE_MBUF_F_",
            "RTE_ETH_RSS_",
            "RTE_ETH_TX_OFFLOAD_",
            "RTE_ETH_RX_OFFLOAD_",
        ];
        PREFIXES
            .iter()
            .any(|p| name.starts_with(p))
            .then_some(bindgen::callbacks::IntKind::U64)
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1);
}

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=shim.h");
    println!("cargo:rerun-if-changed=shim.c");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    if pkg_config::Config::new()
        .atleast_version("22.11")
        .probe("libdpdk")
        .is_err()
    {
        fail(MISSING);
    }
    // The pkg-config crate drops `-include rte_config.h -march=corei7`; the shim needs them.
    let out = Command::new("pkg-config")
        .args(["--cflags", "libdpdk"])
        .output()
        .unwrap_or_else(|_| fail(MISSING));
    let cflags: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect();
    // Driver and bus libraries are not in `--libs`; these two export functions we call.
    println!("cargo:rustc-link-lib=rte_net_ring");
    println!("cargo:rustc-link-lib=rte_bus_vdev");

    let mut cc = cc::Build::new();
    cc.file("shim.c").include(".").opt_level(3).warnings(false);
    for f in &cflags {
        cc.flag(f);
    }
    cc.compile("dpdk_shim");

    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    if !clang_available() {
        fail(
            "dpdk-sys: bindgen needs libclang: install Debian's clang and libclang-dev \
             (the README's `./test.sh` installs them as root)",
        );
    }
    let bindings = bindgen::Builder::default()
        .header("wrapper.h")
        .clang_args(&cflags)
        .clang_arg("-I.")
        .allowlist_function("shim_.*")
        .allowlist_function("rte_eal_(init|cleanup|process_type|hotplug_add|hotplug_remove)")
        .allowlist_function("rte_thread_(register|unregister)|rte_lcore_count|rte_socket_id")
        .allowlist_function("rte_eth_(dev_.*|rx_queue_setup|tx_queue_setup|macaddr_get)")
        .allowlist_function("rte_eth_(stats_.*|xstats_.*|link_get_nowait|link_get|from_rings?)")
        .allowlist_function("rte_eth_(promiscuous_enable|allmulticast_enable|find_next)")
        .allowlist_function("rte_pktmbuf_(pool_create|clone|copy|free_bulk)")
        .allowlist_function("rte_mempool_(avail_count|in_use_count|free|lookup)")
        .allowlist_function("rte_ring_(create|free)")
        .allowlist_function("rte_(get_tsc_hz|strerror|vdev_init|vdev_uninit|dev_probe|dev_remove)")
        .allowlist_type("rte_(ether|ipv4|tcp|arp)_hdr")
        .allowlist_var("RTE_MBUF_F_.*|RTE_PTYPE_.*|RTE_ETHER_.*|RTE_PKTMBUF_HEADROOM")
        .allowlist_var("RTE_MBUF_DEFAULT_.*|RTE_MAX_LCORE|RTE_ETH_NAME_MAX_LEN")
        .allowlist_var("RTE_ETH_(RSS_.*|TX_OFFLOAD_.*|RX_OFFLOAD_.*|LINK_.*)")
        .allowlist_var("RING_F_.*|SOCKET_ID_ANY|RTE_MAX_ETHPORTS")
        .blocklist_type("max_align_t")
        .derive_default(true)
        .prepend_enum_name(false)
        .layout_tests(false)
        .clang_macro_fallback()
        .clang_macro_fallback_build_dir(&out_dir)
        .parse_callbacks(Box::new(U64Flags))
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .unwrap_or_else(|e| {
            fail(&format!(
                "dpdk-sys: bindgen failed on the DPDK headers: {e}"
            ))
        });
    bindings
        .write_to_file(out_dir.join("bindings.rs"))
        .expect("write bindings.rs to OUT_DIR");
}

/// True when libclang can be loaded (bindgen's `runtime` feature loads it with dlopen).
fn clang_available() -> bool {
    let dirs = [
        "/usr/lib/llvm-14/lib",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib",
        "/usr/local/lib",
    ];
    env::var("LIBCLANG_PATH").is_ok()
        || dirs.iter().any(|d| {
            std::fs::read_dir(d).is_ok_and(|mut it| {
                it.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("libclang")))
            })
        })
        || glob_llvm()
}

fn glob_llvm() -> bool {
    std::fs::read_dir("/usr/lib").is_ok_and(|it| {
        it.filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("llvm-"))
            .any(|e| e.path().join("lib/libclang.so.1").exists())
    })
}
