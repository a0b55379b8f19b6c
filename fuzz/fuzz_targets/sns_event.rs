//! A Lambda event as stop-on-overspend receives it: the SNS envelope and every message in it.
//! The checks are in guard::domain::fuzzing, where the unit tests replay saved crashes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| guard::domain::fuzzing::sns_event(data));
