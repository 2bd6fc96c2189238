//! Memory held per idle ESTABLISHED connection: the per-core tables and the queue arrays each
//! live connection reserves whether it uses them or not (payload mbufs excluded).

use engine::tcp::layer::memory_per_connection;

#[test]
fn idle_connection_cost_counts_tables_and_queue_arrays() {
    let r = memory_per_connection();
    eprintln!("{r:#?}");
    let parts = r.slab_entry + r.flow_entry + r.timer_node + r.event_room + r.queue_arrays;
    assert_eq!(r.total, parts, "the total is the sum of its parts");
    // The queue arrays are most of it: a figure without them would understate the cost.
    assert!(r.queue_arrays > r.slab_entry, "{r:#?}");
    // Where the scale work starts from (about 5.4 KiB); it may only shrink.
    assert!(r.total < 8 * 1024, "{r:#?}");
}
