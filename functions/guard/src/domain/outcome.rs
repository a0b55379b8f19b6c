//! What a sweep did, as plain data: the stamp it writes, each resource's
//! outcome, and the per-region and whole reports that the renderers read. Pure.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::accounts::{Account, AccountState, AccountStatus};
use crate::domain::error::AwsError;
use crate::domain::inventory::{Resource, ResourceKind};
use crate::domain::select::Skipped;

/// What a sweep writes on everything it stops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Stamp {
    /// RFC 3339 UTC, seconds precision.
    pub at: String,
    /// The trigger, e.g. `budget:student-monthly`.
    pub by: String,
}

impl Stamp {
    /// A stamp with the current time.
    pub fn now(by: &str) -> Stamp {
        let now = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
        let at = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| now.unix_timestamp().to_string());
        Stamp {
            at,
            by: crate::domain::trigger::sanitize_tag_value(by),
        }
    }
}

/// What happened to one resource an action (a stop, a start) was tried on.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done,
    /// It was already in the state the action leads to (stopped or stopping
    /// for a stop): success, since SNS delivers at least once.
    AlreadyDone,
    Skipped(String),
    Failed(AwsError),
}

/// A resource that could not be stopped because of an error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failed {
    pub resource: Resource,
    pub error: String,
}

/// What a troubled region reports first: an error about the region, else the
/// first resource that failed, else that it did not finish.
pub(crate) fn first_problem(errors: &[String], failed: &[Failed]) -> String {
    errors
        .first()
        .cloned()
        .or_else(|| {
            failed
                .first()
                .map(|f| format!("{}: {}", f.resource.id, f.error))
        })
        .unwrap_or_else(|| "unfinished".into())
}

/// Distinct values, counted.
fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> usize {
    let mut values: Vec<&str> = values.collect();
    values.sort_unstable();
    values.dedup();
    values.len()
}

/// Everything one region reported.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RegionReport {
    pub region: String,
    /// The account, when the sweep covers more than the guard's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Stopped now (or, in a dry run, that would be stopped).
    pub stopped: Vec<Resource>,
    /// Stopped for the same alert by an earlier invocation (a retry's report
    /// still shows the whole incident).
    pub earlier: Vec<Resource>,
    pub skipped: Vec<Skipped>,
    pub failed: Vec<Failed>,
    /// Errors about the region as a whole (a describe that failed, the deadline).
    pub errors: Vec<String>,
    /// Stopped, but the stamp tags could not be written: why.
    pub stamp_warnings: Vec<String>,
    /// Stopped, but not (yet) stamped: a stamp call failed, or time ran out
    /// before it was made. These carry no `cost-guard:stopped-at` tag, so
    /// the report is the only record that this incident stopped them.
    pub unstamped: Vec<Resource>,
    pub finished: bool,
}

impl RegionReport {
    /// The stamp of these resources is written.
    pub(crate) fn stamped(&mut self, ids: &[String]) {
        self.unstamped.retain(|r| !ids.contains(&r.id));
    }

    pub fn is_clean(&self) -> bool {
        self.finished && self.errors.is_empty() && self.failed.is_empty()
    }

    /// `eu-west-1`, or `111111111111/eu-west-1` in a sweep of several accounts.
    pub fn label(&self) -> String {
        match &self.account {
            Some(a) => format!("{a}/{}", self.region),
            None => self.region.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SweepReport {
    pub dry_run: bool,
    pub regions: Vec<RegionReport>,
    /// Every account the sweep concerned, in a sweep of several accounts
    /// (empty when it covers the guard's own account only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountStatus>,
}

impl SweepReport {
    pub fn stopped_count(&self) -> usize {
        self.regions.iter().map(|r| r.stopped.len()).sum()
    }
    pub(crate) fn earlier_count(&self) -> usize {
        self.regions.iter().map(|r| r.earlier.len()).sum()
    }
    pub fn skipped_count(&self) -> usize {
        self.regions.iter().map(|r| r.skipped.len()).sum()
    }
    pub(crate) fn failed_count(&self) -> usize {
        self.regions.iter().map(|r| r.failed.len()).sum()
    }
    /// Regions where something was stopped (each region counted once,
    /// whatever the number of accounts).
    pub(crate) fn regions_with_stops(&self) -> usize {
        distinct(
            self.regions
                .iter()
                .filter(|r| !r.stopped.is_empty())
                .map(|r| r.region.as_str()),
        )
    }
    /// Regions with an error, a failed resource, or unfinished work.
    pub fn troubled_regions(&self) -> Vec<&RegionReport> {
        self.regions.iter().filter(|r| !r.is_clean()).collect()
    }
    /// Accounts whose credentials could not be had, each with why.
    pub(crate) fn unreachable_accounts(&self) -> Vec<(&Account, &str)> {
        self.accounts
            .iter()
            .filter_map(|a| match &a.state {
                AccountState::Unreachable(why) => Some((&a.account, why.as_str())),
                _ => None,
            })
            .collect()
    }
    /// Accounts handed to the queue.
    pub(crate) fn queued_accounts(&self) -> Vec<&AccountStatus> {
        self.accounts
            .iter()
            .filter(|a| a.state == AccountState::Queued)
            .collect()
    }
    /// Accounts where something was stopped.
    pub(crate) fn accounts_with_stops(&self) -> usize {
        distinct(
            self.regions
                .iter()
                .filter(|r| !r.stopped.is_empty())
                .filter_map(|r| r.account.as_deref()),
        )
    }
    /// Whether the report covers several accounts (and says so).
    pub fn multi_account(&self) -> bool {
        !self.accounts.is_empty()
    }
    pub fn is_clean(&self) -> bool {
        self.regions.iter().all(RegionReport::is_clean) && self.unreachable_accounts().is_empty()
    }
    pub(crate) fn stopped_by_kind(&self) -> BTreeMap<ResourceKind, usize> {
        let mut m = BTreeMap::new();
        for r in self.regions.iter().flat_map(|r| &r.stopped) {
            *m.entry(r.kind).or_default() += 1;
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(id: &str) -> Resource {
        Resource {
            kind: ResourceKind::Ec2Instance,
            id: id.into(),
            name: None,
            size: "t3.micro".into(),
        }
    }

    fn failed(id: &str) -> Failed {
        Failed {
            resource: r(id),
            error: "AccessDenied".into(),
        }
    }

    #[test]
    fn the_first_problem_is_the_regions_then_a_resources_then_unfinished() {
        let errors = vec!["DescribeInstances: throttled".to_string()];
        assert_eq!(first_problem(&errors, &[failed("i-1")]), errors[0]);
        assert_eq!(first_problem(&[], &[failed("i-1")]), "i-1: AccessDenied");
        assert_eq!(first_problem(&[], &[]), "unfinished");
    }

    #[test]
    fn a_report_counts_every_region_and_knows_what_went_wrong() {
        let mut clean = RegionReport {
            region: "eu-west-1".into(),
            stopped: vec![r("i-1"), r("i-2")],
            earlier: vec![r("i-3"), r("i-4")],
            skipped: ["i-5", "i-6", "i-7"]
                .map(|id| Skipped {
                    resource: r(id),
                    reason: "exempt".into(),
                })
                .to_vec(),
            unstamped: vec![r("i-1"), r("i-2")],
            finished: true,
            ..Default::default()
        };
        clean.stamped(&["i-2".to_string()]);
        assert_eq!(clean.unstamped, [r("i-1")]);
        let errors = RegionReport {
            region: "us-east-1".into(),
            account: Some("111111111111".into()),
            errors: vec!["throttled".into()],
            finished: true,
            ..Default::default()
        };
        let failures = RegionReport {
            region: "ap-south-1".into(),
            failed: vec![failed("i-8"), failed("i-9")],
            finished: true,
            ..Default::default()
        };
        let cut_short = RegionReport {
            region: "sa-east-1".into(),
            ..Default::default()
        };
        assert!(clean.is_clean());
        for troubled in [&errors, &failures, &cut_short] {
            assert!(!troubled.is_clean(), "{troubled:?}");
        }
        let status = |id: &str, state: AccountState| AccountStatus {
            account: Account::new(id),
            state,
        };
        let report = SweepReport {
            dry_run: false,
            regions: vec![clean.clone(), errors, failures, cut_short],
            accounts: vec![
                status("111111111111", AccountState::Swept),
                status("222222222222", AccountState::Queued),
                status("333333333333", AccountState::Unreachable("no role".into())),
            ],
        };
        assert_eq!(
            (
                report.stopped_count(),
                report.earlier_count(),
                report.skipped_count(),
                report.failed_count()
            ),
            (2, 2, 3, 2)
        );
        let troubled: Vec<String> = report
            .troubled_regions()
            .iter()
            .map(|r| r.label())
            .collect();
        assert_eq!(
            troubled,
            ["111111111111/us-east-1", "ap-south-1", "sa-east-1"]
        );
        let queued: Vec<&str> = report
            .queued_accounts()
            .iter()
            .map(|a| a.account.id.as_str())
            .collect();
        assert_eq!(queued, ["222222222222"]);
        assert!(!report.is_clean());
        // Clean regions, but an account out of reach: not clean.
        let unreachable = SweepReport {
            regions: vec![clean.clone()],
            ..report.clone()
        };
        assert!(!unreachable.is_clean());
        let all_clean = SweepReport {
            dry_run: false,
            regions: vec![clean],
            accounts: Vec::new(),
        };
        assert!(all_clean.is_clean());
    }
}
