//! cost-guard's shared library, in three layers, one feature gate per folder:
//!
//! | layer | what | needs |
//! |---|---|---|
//! | [`domain`] | triggers and their parsers, configuration, money, policy, selection, the sweep's outcome types, one renderer per function: pure functions over plain data | nothing of AWS |
//! | [`aws`] | the adapters: SDK loading, errors, EC2, RDS, regions, Cost Explorer, SNS, the sweep over every region; SDK types become domain types here | feature `aws` (default) |
//! | [`handlers`] | one module per Lambda function, named like its binary, on one shared skeleton | feature `aws` |
//!
//! Without the `aws` feature only the domain is built: that is what the fuzz
//! targets in `fuzz/` compile (with feature `fuzzing`), so they skip the SDK.

// Without the handlers, much of the domain has no caller: dead code is judged
// in the full build (which clippy runs with -D warnings), not in this one.
#![cfg_attr(not(feature = "aws"), allow(dead_code))]

#[cfg(feature = "aws")]
pub mod aws;
pub mod domain;
#[cfg(feature = "aws")]
pub mod handlers;

pub use domain::tags::{STOPPED_AT_TAG, STOPPED_BY_TAG};
