//! Sweep-queue jobs and worker results on any text.
//! The checks are in guard::domain::fuzzing, where the unit tests replay saved crashes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| guard::domain::fuzzing::sweep_job(data));
