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

pub mod aws;
pub mod cidr;
pub mod config;
pub mod costexplorer;
pub mod ec2;
pub mod error;
pub mod inventory;
pub mod money;
pub mod notify;
pub mod overspend;
pub mod policy;
pub mod rds;
pub mod regions;
pub mod report;
pub mod rootalert;
pub mod select;
pub mod spend;
pub mod spendwatch;
pub mod sweep;
pub mod trigger;

/// Tag written on everything cost-guard stops: when (RFC 3339 UTC).
pub const STOPPED_AT_TAG: &str = "cost-guard:stopped-at";
/// Tag written on everything cost-guard stops: which trigger.
pub const STOPPED_BY_TAG: &str = "cost-guard:stopped-by";

#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod select_props;
