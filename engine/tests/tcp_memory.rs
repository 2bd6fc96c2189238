//! Memory held per idle ESTABLISHED connection, buffers excluded (issue 3 asks for it to be
//! reported; target under 1 KiB).

#[test]
fn idle_connection_costs_under_one_kib() {
    let report = engine::tcp::layer::memory_per_connection();
    eprintln!("{report:#?}");
    assert!(report.total < 1024, "{report:#?}");
}
