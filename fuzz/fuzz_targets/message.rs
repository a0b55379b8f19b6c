//! One SNS message body of any family: Budgets text or JSON, CloudWatch alarm, Cost Anomaly Detection.
//! The checks are in guard::domain::fuzzing, where the unit tests replay saved crashes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| guard::domain::fuzzing::message(data));
