//! The `cost-guard` command line's library: a local AWS emulator harness (moto in
//! server mode) shared by `cost-guard demo`, the benchmarks and the integration
//! tests, and the tables the command line prints.

pub mod bench;
pub mod emulator;
pub mod proxy;
pub mod table;
