//! An EventBridge sign-in or CloudTrail event as root-login-alert receives it.
//! The checks are in guard::fuzzing, where the unit tests replay saved crashes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| guard::fuzzing::root_event(data));
