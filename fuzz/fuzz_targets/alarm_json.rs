//! The CloudWatch alarm parser on any JSON value.
//! The checks are in guard::domain::fuzzing, where the unit tests replay saved crashes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| guard::domain::fuzzing::alarm_json(data));
