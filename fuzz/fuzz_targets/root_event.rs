//! An EventBridge sign-in or CloudTrail event as root-login-alert receives it.
//! The checks are in guard::domain::fuzzing, where the unit tests replay saved crashes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| guard::domain::fuzzing::root_event(data));
