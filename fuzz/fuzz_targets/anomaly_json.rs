//! The Cost Anomaly Detection parser on any JSON value.
//! The checks are in guard::fuzzing, where the unit tests replay saved crashes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| guard::fuzzing::anomaly_json(data));
