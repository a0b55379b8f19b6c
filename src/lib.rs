//! The `cost-guard` command line's tables, shared with the benchmarks.

pub mod table;
