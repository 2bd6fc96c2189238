//! Counters named after Linux's SNMP MIB (`IpInReceives`, `TcpRetransSegs`, ...) (ARCHITECTURE
//! decision 12).
//!
//! Each layer keeps a plain struct of `u64` fields, one per core, bumped without atomics on the
//! data path. [`mib!`] generates the struct with its Linux names, so counters can be listed,
//! summed over cores, and compared with `nstat` output.

/// Defines a counter struct: `field => "LinuxName"` pairs, each a `u64`, with `entries()`
/// (name, value) in declaration order, `get(name)`, and `add(&other)` for summing cores.
#[macro_export]
macro_rules! mib {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* $field:ident => $label:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct $name {
            $($(#[$fm])* pub $field: u64,)*
        }

        impl $name {
            /// The Linux-style names of the counters, in order.
            pub const NAMES: &'static [&'static str] = &[$($label),*];

            /// (name, value) pairs in declaration order.
            pub fn entries(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
                [$(($label, self.$field)),*].into_iter()
            }

            /// The value of the counter called `name`, if there is one.
            pub fn get(&self, name: &str) -> Option<u64> {
                self.entries().find(|(n, _)| *n == name).map(|(_, v)| v)
            }

            /// Adds every counter of `other` to this one (summing per-core counters).
            pub fn add(&mut self, other: &Self) {
                $(self.$field += other.$field;)*
            }
        }
    };
}
