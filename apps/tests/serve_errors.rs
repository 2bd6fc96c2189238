//! `serve` set-up errors (ARCHITECTURE decision 11): a bad port spec, a bad address (IPv4 or
//! IPv6), two gateways of one family, an af_packet port on an interface that does not exist,
//! an invalid tap name, and a run without root privileges each end with a non-zero exit and
//! ONE line on stderr that names the cause, with no panic and no backtrace. So do `--listen 0`,
//! more `--cores` than the EAL lcores given, and `loadgen` given an IPv6 target and only IPv4
//! addresses.
//!
//! Lines DPDK itself logs (`EAL: ...`, `TAP: ...`: an upper-case component, a colon) are not
//! serve's message: they are counted and shown on failure, but do not count as lines that
//! matter; neither does clap's usage hint (`For more information, try '--help'.`).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use common::{Finished, Netns, Proc, serve_bin};

/// True for a line DPDK's logger wrote (`EAL: ...`, `TAP: ...`, `ETHDEV: ...`).
fn is_dpdk_log(line: &str) -> bool {
    line.split_once(": ").is_some_and(|(tag, _)| {
        !tag.is_empty()
            && tag
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    })
}

/// The lines of stderr that carry serve's own message.
fn lines_that_matter(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter(|l| !is_dpdk_log(l))
        .filter(|l| !l.starts_with("For more information, try"))
        .collect()
}

/// Asserts a failed start: non-zero exit, nothing that looks like a panic, and exactly one line
/// that matters, containing every one of `keywords` (case-insensitive). Returns that line.
fn assert_one_clear_line(done: &Finished, keywords: &[&str]) -> String {
    let stderr = &done.stderr;
    assert!(
        !done.status.success(),
        "serve must fail; it exited {}: stdout {:?} stderr {stderr:?}",
        done.status,
        done.stdout
    );
    assert!(
        done.status.code().is_some(),
        "serve must exit, not die of a signal: {}",
        done.status
    );
    for bad in ["panicked", "backtrace", "RUST_BACKTRACE", "thread 'main'"] {
        assert!(!stderr.contains(bad), "no panic: {stderr:?}");
    }
    let lines = lines_that_matter(stderr);
    let dpdk = stderr.lines().filter(|l| is_dpdk_log(l)).count();
    assert_eq!(
        lines.len(),
        1,
        "one line that matters (plus {dpdk} DPDK log lines): {stderr:?}"
    );
    let line = lines[0].to_string();
    let lower = line.to_lowercase();
    for k in keywords {
        assert!(
            lower.contains(&k.to_lowercase()),
            "the message names the cause ({k:?}): {line:?}"
        );
    }
    line
}

/// Runs serve with `args` in a fresh namespace (so that a case that wrongly succeeds creates
/// nothing on the host) and waits for it to exit.
fn serve(args: &[&str]) -> Finished {
    run_in_ns(serve_bin(), args)
}

/// Runs `bin args` in a fresh namespace and waits for it to exit.
fn run_in_ns(bin: PathBuf, args: &[&str]) -> Finished {
    let ns = Netns::new();
    Proc::spawn(ns.command(bin, args)).wait()
}

#[test]
fn bad_port_spec_is_one_clear_line() {
    let done = serve(&["--port", "bogus:x0", "--ip", "10.0.0.2/24"]);
    let line = assert_one_clear_line(&done, &["bad port spec", "bogus:x0", "expected one of"]);
    assert!(line.contains("tap:IFNAME"), "lists the valid kinds: {line}");
}

#[test]
fn listening_on_port_0_is_one_clear_line() {
    let done = serve(&[
        "echo",
        "--port",
        "tap:unused0",
        "--ip",
        "10.0.0.2/24",
        "--listen",
        "0",
    ]);
    assert_one_clear_line(&done, &["--listen 0", "1-65535", "--stack kernel"]);
}

#[test]
fn more_cores_than_the_eal_lcores_given_is_one_clear_line() {
    let tap = common::unique_name("se");
    let port = format!("tap:{tap}");
    let args = [
        "echo",
        "--port",
        &port,
        "--ip",
        "10.0.0.2/24",
        "--cores",
        "2",
    ];
    let done = serve(&[&args[..], &["--eal-args", "-l 0"]].concat());
    assert_one_clear_line(&done, &["2 stacks need 2 EAL lcores", "-l 0-1", "--cores"]);
}

#[test]
fn address_with_an_octet_above_255_is_one_clear_line() {
    let done = serve(&["--port", "tap:unused0", "--ip", "10.0.0.300/24"]);
    assert_one_clear_line(&done, &["bad address", "10.0.0.300/24", "ADDR/PREFIX"]);
}

#[test]
fn address_without_prefix_is_one_clear_line() {
    let done = serve(&["--port", "tap:unused0", "--ip", "10.0.0.2"]);
    assert_one_clear_line(&done, &["bad address", "\"10.0.0.2\"", "ADDR/PREFIX"]);
}

#[test]
fn ipv6_address_with_a_prefix_above_128_is_one_clear_line() {
    let done = serve(&[
        "--port",
        "tap:unused0",
        "--ip",
        "10.0.0.2/24",
        "--ip",
        "fd00::2/129",
    ]);
    assert_one_clear_line(&done, &["bad address", "\"fd00::2/129\"", "ADDR/PREFIX"]);
}

#[test]
fn two_gateways_of_one_family_or_one_of_a_missing_family_are_one_clear_line() {
    let cases: [(&[&str], &[&str]); 2] = [
        (
            &["--gateway", "10.0.0.1", "--gateway", "10.0.0.9"],
            &["--gateway", "twice", "IPv4"],
        ),
        (
            &["--gateway", "fd00::1"],
            &["--gateway fd00::1 is IPv6", "fd00::2/64"],
        ),
    ];
    for (gateways, keywords) in cases {
        let mut args = vec!["--port", "tap:unused0", "--ip", "10.0.0.2/24"];
        args.extend_from_slice(gateways);
        assert_one_clear_line(&serve(&args), keywords);
    }
}

#[test]
fn ipv6_target_without_an_ipv6_address_is_one_clear_line() {
    let tap = common::unique_name("lgx");
    let port = format!("tap:{tap}");
    let done = run_in_ns(
        PathBuf::from(env!("CARGO_BIN_EXE_loadgen")),
        &[
            "rpc",
            "--port",
            &port,
            "--ip",
            "10.0.0.1/24",
            "--target",
            "[fd00::2]:7",
        ],
    );
    let line = assert_one_clear_line(&done, &["--target [fd00::2]:7", "IPv6", "--ip fd00::1/64"]);
    assert_eq!(
        line,
        "loadgen: --target [fd00::2]:7 is IPv6 but no --ip is IPv6: add --ip fd00::1/64"
    );
}

#[test]
fn af_packet_on_a_missing_interface_is_one_clear_line() {
    // serve runs in a fresh namespace, where only `lo` exists.
    let ifname = common::unique_name("nx");
    let port = format!("af_packet:{ifname}");
    let done = serve(&["--port", &port, "--ip", "10.0.0.2/24"]);
    assert_one_clear_line(&done, &[&port, "no interface named", &ifname]);
}

#[test]
fn invalid_tap_names_are_one_clear_line() {
    for (spec, why) in [
        ("tap:bad/name", "interface names use letters"),
        ("tap:has space", "interface names use letters"),
        ("tap:sixteen-chars-00", "at most 15 characters"),
        ("tap:", "interface name is empty"),
    ] {
        let done = serve(&["--port", spec, "--ip", "10.0.0.2/24"]);
        assert_one_clear_line(&done, &["bad port spec", spec, why]);
    }
}

/// A copy of the serve binary that user nobody can execute (the build tree may not be
/// readable by it), removed on drop.
struct NobodyCopy {
    dir: PathBuf,
}

impl NobodyCopy {
    fn new() -> NobodyCopy {
        let dir = std::env::temp_dir().join(common::unique_name("srvnb"));
        std::fs::create_dir(&dir).expect("temp dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let bin = dir.join("serve");
        std::fs::copy(serve_bin(), &bin).expect("copy serve");
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        NobodyCopy { dir }
    }

    fn bin(&self) -> PathBuf {
        self.dir.join("serve")
    }
}

impl Drop for NobodyCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn running_without_root_is_one_clear_line() {
    let ns = Netns::new();
    let copy = NobodyCopy::new();
    let bin = copy.bin();
    let tap = common::unique_name("tnb");
    let port = format!("tap:{tap}");
    let mut cmd = ns.command(
        "setpriv",
        &[
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            bin.to_str().expect("utf-8 temp path"),
            "--port",
            &port,
            "--ip",
            "10.0.0.2/24",
        ],
    );
    cmd.current_dir(&copy.dir);
    let done = Proc::spawn(cmd).wait();
    assert_one_clear_line(&done, &[&port, "root"]);
    let out = ns.exec(&["ip", "link", "show", "dev", &tap]);
    assert!(!out.status.success(), "no tap {tap} was created");
}
