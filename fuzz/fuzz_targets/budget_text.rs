//! The AWS Budgets text parser on its own.
//! The checks are in guard::fuzzing, where the unit tests replay saved crashes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| guard::fuzzing::budget_text(data));
