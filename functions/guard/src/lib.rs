//! cost-guard's shared library: the domain (triggers, policy, selection, report)
//! as pure functions over plain data, and the small AWS adapters the Lambda
//! functions and the command line share.
//!
//! | concern | module |
//! |---|---|
//! | configuration from the environment | [`config`] |
//! | SNS envelope and message parsers | [`trigger`] |
//! | act or only report | [`policy`] |
//! | which resources to stop | [`select`] over [`inventory`] |
//! | EC2, RDS, regions | [`ec2`], [`rds`], [`regions`] |
//! | all regions at once | [`sweep`] |
//! | what subscribers read | [`report`], [`notify`] |
//! | the stop-on-overspend function | [`overspend`] |
//! | what the fuzz targets check | [`fuzzing`] |
//!
//! The AWS adapters, the report and the handlers need the default `aws`
//! feature; without it only the pure domain is built (what `fuzz/` uses).

#[cfg(feature = "aws")]
pub mod aws;
pub mod cidr;
pub mod config;
#[cfg(feature = "aws")]
pub mod costexplorer;
#[cfg(feature = "aws")]
pub mod ec2;
#[cfg(feature = "aws")]
pub mod error;
pub mod fuzzing;
pub mod inventory;
pub mod money;
#[cfg(feature = "aws")]
pub mod notify;
#[cfg(feature = "aws")]
pub mod overspend;
pub mod policy;
#[cfg(feature = "aws")]
pub mod rds;
#[cfg(feature = "aws")]
pub mod regions;
#[cfg(feature = "aws")]
pub mod report;
#[cfg(feature = "aws")]
pub mod rootalert;
pub mod select;
pub mod spend;
#[cfg(feature = "aws")]
pub mod spendwatch;
#[cfg(feature = "aws")]
pub mod sweep;
pub mod trigger;

/// Tag written on everything cost-guard stops: when (RFC 3339 UTC).
pub const STOPPED_AT_TAG: &str = "cost-guard:stopped-at";
/// Tag written on everything cost-guard stops: which trigger.
pub const STOPPED_BY_TAG: &str = "cost-guard:stopped-by";

#[cfg(all(test, feature = "aws"))]
mod fault_tests;
#[cfg(test)]
mod select_props;
