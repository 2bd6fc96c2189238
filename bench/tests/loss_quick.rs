//! Smoke test of the loss part: `bench --only loss` at 0 % and 1 % with one seed and short
//! cells writes its section and its cells, drops segments where asked, finds the virtual-time
//! transfers intact and repeatable, and leaves no namespace behind. No performance assertions
//! (and none on the engine's figures under loss, which measure the engine, not the harness).
//! Needs root, nftables and iproute2, like the rest of the suite.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// The output directory, removed when the test ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn cell<'a>(cells: &'a [Value], id: &str) -> &'a Value {
    cells
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no cell {id} in {cells:?}"))
}

#[test]
fn loss_run_writes_its_section_and_cleans_up() {
    let dir = TempDir(std::env::temp_dir().join(format!("bench-loss-{}", std::process::id())));
    let child = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args([
            "--quick",
            "--only",
            "loss",
            "--loss-rates",
            "0,1",
            "--vt-seeds",
            "1",
            "--duration",
            "0.5",
            "--warmup",
            "0.2",
            "--out",
        ])
        .arg(&dir.0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("bench starts");
    let pid = child.id();
    let out = child.wait_with_output().expect("bench runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench failed: {stderr}");

    let md = std::fs::read_to_string(dir.0.join("RESULTS.md")).expect("RESULTS.md written");
    for want in [
        "## Bulk goodput under random loss",
        "### Acceptance",
        "### Real link",
        "### Virtual time",
    ] {
        assert!(md.contains(want), "{want} missing: {md}");
    }

    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.0.join("results.json")).expect("results.json written"),
    )
    .expect("results.json parses");
    let loss = &json["loss"];
    assert!(loss["setup_error"].is_null(), "{loss}");
    let link = loss["link"].as_array().expect("link cells");
    assert_eq!(link.len(), 4, "two senders at two rates: {link:?}");
    for s in ["engine", "linux"] {
        let c = cell(link, &format!("loss-{s}-0pct"));
        assert_eq!(c["status"], "ok", "{c}");
        assert!(c["goodput_mbps"].as_f64().unwrap_or(0.0) > 0.0, "{c}");
        assert!(c["nft"]["seen_segs"].as_u64().unwrap_or(0) > 0, "{c}");
        assert_eq!(c["nft"]["dropped_segs"], 0, "nothing dropped at 0 %: {c}");
    }
    let l1 = cell(link, "loss-linux-1pct");
    assert_eq!(l1["status"], "ok", "{l1}");
    assert!(l1["nft"]["dropped_segs"].as_u64().unwrap_or(0) > 0, "{l1}");
    assert!(l1["retrans_segs"].as_u64().unwrap_or(0) > 0, "{l1}");

    let vt = loss["vtime"].as_array().expect("vtime cells");
    assert_eq!(vt.len(), 2, "{vt:?}");
    for c in vt {
        assert_eq!(c["same_outcome"], true, "{c}");
        assert_eq!(c["outcome"]["intact"], true, "{c}");
        assert_eq!(c["outcome"]["bytes_received"], 16 << 20, "{c}");
    }
    let v1 = cell(vt, "vtime-1pct-s1");
    assert!(v1["outcome"]["lost_segs"].as_u64().unwrap_or(0) > 0, "{v1}");
    assert_eq!(loss["targets"].as_array().map(Vec::len), Some(8));

    let ns = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    let left = String::from_utf8_lossy(&ns.stdout);
    let suffix = format!("-{pid}");
    assert!(
        !left
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .any(|n| n.starts_with("bench-") && n.ends_with(&suffix)),
        "namespaces of bench {pid} left behind: {left}"
    );
}
