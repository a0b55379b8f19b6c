//! Configuration from environment variables, one part per concern; each
//! function reads only the parts it uses ([`functions`]). Every variable is
//! read once, at cold start; a bad value is an error that names the variable
//! and the accepted values.
//!
//! | concern | module |
//! |---|---|
//! | the subscribers' topic, the resume function's name | [`common`] |
//! | which resources a sweep selects: tags, exemption | [`selection`] |
//! | which regions | [`regions`] |
//! | which kinds of resource a sweep stops | [`kinds`] |
//! | which accounts, their member roles, the sweep queue | [`accounts`] |
//! | what an alert makes stop-on-overspend do | [`overspend`] |
//! | root-login-alert's trusted networks and action | [`root`] |
//! | spend-watch's limits and Cost Explorer metric | [`spend`] |
//! | the launch tripwire | [`tripwire`] |
//! | burn-watch's limits and its table | [`burn`] |
//! | each function's whole configuration | [`functions`] |
//!
//! This module depends on nothing of the domain but its value types (money,
//! globs, CIDR ranges, the tag keys): the rest of the domain reads it, never
//! the other way round.

use std::collections::HashMap;

pub mod accounts;
pub mod burn;
pub mod common;
pub mod functions;
pub mod kinds;
pub mod overspend;
pub mod regions;
pub mod root;
pub mod selection;
pub mod spend;
pub mod tripwire;

pub use accounts::{AccountScope, AccountsConfig, MemberRole, OrgScope, QueueConfig};
pub use common::Common;
pub use functions::{
    BurnWatchConfig, KeepStoppedConfig, LaunchTripwireConfig, ResumeConfig, RootLoginAlertConfig,
    SpendWatchConfig, StopOnOverspendConfig, SweepConfig, WeeklyCheckConfig,
};
pub use kinds::KindSet;
pub use overspend::AnomalyAction;
pub use regions::RegionScope;
pub use root::{RootAction, RootConfig};
pub use selection::{Selection, SelectionConfig};
pub use spend::SpendConfig;
pub use tripwire::{TripwireAction, TripwireConfig};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{name} is required but not set: {hint}")]
    Missing {
        name: &'static str,
        hint: &'static str,
    },
    #[error("{name}={value:?} is not valid: expected {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// A function's whole configuration, read from its environment variables.
pub trait Settings: Sized {
    /// Reads it through `lookup`, which returns a variable's value.
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError>;

    /// Reads it from the process environment (Lambda's cold start).
    fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Reads it from a map (tests and the command line).
    fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| vars.get(name).cloned())
    }
}

pub(crate) fn bool_from(
    name: &'static str,
    value: Option<String>,
    default: bool,
) -> Result<bool, ConfigError> {
    match value
        .as_deref()
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") => Ok(default),
        Some("true") | Some("1") | Some("yes") => Ok(true),
        Some("false") | Some("0") | Some("no") => Ok(false),
        Some(_) => Err(ConfigError::Invalid {
            name,
            value: value.unwrap_or_default(),
            expected: "`true` or `false`",
        }),
    }
}

/// The non-empty, trimmed entries of a comma list.
pub(crate) fn comma_list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|p| !p.is_empty())
}

/// A setting in US dollars, read like the amounts in notifications (`100`,
/// `$1,000.50`, `USD 40`), so a value copied from a budget alert is accepted;
/// not per day, not negative, not NaN.
pub(crate) fn usd_setting(name: &'static str, text: &str) -> Result<f64, ConfigError> {
    match crate::domain::money::Amount::parse(text) {
        Some((amount, false)) => Ok(amount.value()),
        _ => Err(ConfigError::Invalid {
            name,
            value: text.to_string(),
            expected: "a number of US dollars such as 100 or $1,000.50, zero or more",
        }),
    }
}
