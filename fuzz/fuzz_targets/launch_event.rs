//! CloudTrail launches, first moves and GuardDuty findings as EventBridge
//! delivers them to launch-tripwire.
//! The checks are in guard::domain::fuzzing, where the unit tests replay saved crashes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| guard::domain::fuzzing::launch_event(data));
