//! Integration tests: the real function code, through the real AWS SDK over
//! HTTP, against moto's server mode started on a loopback port per test.
//! moto must be installed (scripts/setup does it); a missing moto fails the
//! tests loudly, it never skips them.

mod burn;
mod cli;
mod doctor;
mod faults;
mod harness;
mod keep_stopped;
mod kinds;
mod org;
mod overspend;
mod resume;
mod root;
mod spend;
mod support;
mod tripwire;
