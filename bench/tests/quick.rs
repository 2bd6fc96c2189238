//! Smoke test of the benchmark: `bench --quick` restricted to one cheap workload (64 B echo
//! RPC) on one core over engine ring and kernel loopback produces RESULTS.md and results.json
//! with non-zero figures for both cells. No performance assertions. Needs root (the kernel
//! cell runs in a network namespace), like the rest of the suite.

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

#[test]
fn quick_run_of_one_cell_writes_both_reports() {
    let dir = TempDir(std::env::temp_dir().join(format!("bench-quick-{}", std::process::id())));
    let out = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args([
            "--quick",
            "--only",
            "rpc64",
            "--cores",
            "1",
            "--setups",
            "ring,loopback",
            "--out",
        ])
        .arg(&dir.0)
        .output()
        .expect("bench runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench failed: {stderr}");

    let md = std::fs::read_to_string(dir.0.join("RESULTS.md")).expect("RESULTS.md written");
    assert!(md.contains("## Machine"), "{md}");
    assert!(md.contains("64 B echo RPC"), "{md}");
    assert!(
        md.contains("\"Cores\" are"),
        "the definition of cores is written: {md}"
    );

    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.0.join("results.json")).expect("results.json written"),
    )
    .expect("results.json parses");
    let cells = json["cells"].as_array().expect("cells");
    assert_eq!(cells.len(), 2, "exactly the cells asked for: {cells:?}");
    for setup in ["ring", "loopback"] {
        let c = cells
            .iter()
            .find(|c| c["setup"] == setup)
            .unwrap_or_else(|| panic!("no {setup} cell in {cells:?}"));
        assert_eq!(c["status"], "ok", "{setup}: {c}");
        assert_eq!(c["workload"], "rpc64");
        assert_eq!(c["cores"], 1);
        let m = &c["metrics"];
        for k in ["requests_per_sec", "p50_us", "p99_us"] {
            assert!(
                m[k].as_f64().unwrap_or(0.0) > 0.0,
                "{setup}: {k} is zero: {m}"
            );
        }
        assert!(
            c["loadgen"]["requests"].as_u64().unwrap_or(0) > 0,
            "{setup}: {c}"
        );
    }
    assert!(json["raw"].as_array().is_some_and(|r| r.is_empty()));
    assert!(json["callgrind"].is_null());
    assert!(json["machine"]["nproc"].as_u64().unwrap_or(0) > 0);
}
