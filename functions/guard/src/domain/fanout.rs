//! A sweep of many accounts through the queue: the jobs the dispatcher puts
//! on it (one per account, and one summary), what a worker leaves for the
//! summary, and how the summary decides whether to wait longer. Pure.

use serde::{Deserialize, Serialize};

use crate::domain::accounts::Account;
use crate::domain::outcome::{Stamp, SweepReport};

/// How many times the summary looks at the results before it reports the
/// accounts that are still not finished (with `SUMMARY_DELAY_SECONDS` of 120,
/// 20 minutes: room for the queue's three attempts at each account).
pub(crate) const MAX_SUMMARY_ROUNDS: u32 = 10;

/// One message on the sweep queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub(crate) enum Job {
    SweepAccount(AccountJob),
    Summary(SummaryJob),
}

impl Job {
    /// Reads a queue message's body, or says what is wrong with it.
    pub fn parse(body: &str) -> Result<Job, String> {
        serde_json::from_str(body).map_err(|e| {
            crate::domain::trigger::excerpt(&format!(
                "not a cost-guard sweep job ({e}): {}",
                crate::domain::trigger::excerpt(body)
            ))
        })
    }

    pub(crate) fn to_body(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What the whole incident is about, carried by every job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct IncidentRef {
    /// The stamp's trigger and time: unique per incident.
    pub id: String,
    /// The trigger's headline, for the subjects.
    pub cause: String,
    pub stamp: Stamp,
    pub dry_run: bool,
    /// How many accounts the incident handed to the queue.
    pub accounts: usize,
}

impl IncidentRef {
    pub fn new(cause: &str, stamp: &Stamp, dry_run: bool, accounts: usize) -> IncidentRef {
        IncidentRef {
            id: format!("{}@{}", stamp.by, stamp.at),
            cause: cause.to_string(),
            stamp: stamp.clone(),
            dry_run,
            accounts,
        }
    }
}

/// Sweep one account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AccountJob {
    pub incident: IncidentRef,
    pub account: Account,
}

/// Gather the results and tell subscribers how the incident ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SummaryJob {
    pub incident: IncidentRef,
    pub accounts: Vec<Account>,
    /// What the earlier rounds gathered, latest per account.
    #[serde(default)]
    pub results: Vec<AccountResult>,
    #[serde(default)]
    pub round: u32,
}

/// What a worker's sweep of one account did, left for the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AccountResult {
    pub incident: String,
    pub account: Account,
    pub stopped: usize,
    pub skipped: usize,
    pub failed: usize,
    pub regions: usize,
    /// Every region finished cleanly.
    pub finished: bool,
    /// The first thing that went wrong, when something did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// The worker swept in a dry run (the incident's, or its own DRY_RUN):
    /// `stopped` is what it would have stopped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

impl AccountResult {
    /// Reads a results-queue message.
    pub fn parse(body: &str) -> Result<AccountResult, String> {
        serde_json::from_str(body).map_err(|e| format!("not a sweep result ({e})"))
    }

    /// From one account's sweep report.
    pub(crate) fn from_report(
        incident: &str,
        account: &Account,
        report: &SweepReport,
    ) -> AccountResult {
        let problem = report
            .unreachable_accounts()
            .first()
            .map(|(_, why)| why.to_string())
            .or_else(|| {
                report.troubled_regions().first().map(|r| {
                    format!(
                        "{}: {}",
                        r.region,
                        crate::domain::outcome::first_problem(&r.errors, &r.failed)
                    )
                })
            });
        AccountResult {
            incident: incident.to_string(),
            account: account.clone(),
            stopped: report.stopped_count(),
            skipped: report.skipped_count(),
            failed: report.failed_count(),
            regions: report.regions.len(),
            finished: report.is_clean(),
            problem,
            dry_run: report.dry_run,
        }
    }
}

impl SummaryJob {
    /// Adds newly gathered results; a finished result is never replaced by an
    /// unfinished one (a late message of an earlier attempt).
    pub(crate) fn merge(&mut self, gathered: impl IntoIterator<Item = AccountResult>) {
        for r in gathered {
            if r.incident != self.incident.id {
                continue;
            }
            match self
                .results
                .iter_mut()
                .find(|old| old.account.id == r.account.id)
            {
                Some(old) if old.finished && !r.finished => {}
                Some(old) => *old = r,
                None => self.results.push(r),
            }
        }
        self.results.sort_by(|a, b| a.account.cmp(&b.account));
    }

    /// The accounts without a finished result.
    pub fn unfinished(&self) -> Vec<&Account> {
        self.accounts
            .iter()
            .filter(|a| {
                !self
                    .results
                    .iter()
                    .any(|r| r.account.id == a.id && r.finished)
            })
            .collect()
    }

    /// Report now, or look again after the delay.
    pub(crate) fn ready(&self) -> bool {
        self.unfinished().is_empty() || self.round + 1 >= MAX_SUMMARY_ROUNDS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident() -> IncidentRef {
        IncidentRef::new(
            "Budget team-monthly: ACTUAL $912.40 of $800.00",
            &Stamp {
                at: "2026-12-02T14:00:00Z".into(),
                by: "budget:team-monthly".into(),
            },
            false,
            2,
        )
    }

    fn result(id: &str, finished: bool) -> AccountResult {
        AccountResult {
            incident: incident().id,
            account: Account::new(id),
            stopped: 1,
            skipped: 0,
            failed: usize::from(!finished),
            regions: 3,
            finished,
            problem: (!finished).then(|| "eu-west-1: throttled".into()),
            dry_run: false,
        }
    }

    #[test]
    fn jobs_round_trip_through_the_queue() {
        let job = Job::SweepAccount(AccountJob {
            incident: incident(),
            account: Account {
                id: "111111111111".into(),
                name: Some("team-a".into()),
            },
        });
        let body = job.to_body();
        assert!(body.contains(r#""job":"sweep_account""#), "{body}");
        assert_eq!(Job::parse(&body).unwrap(), job);
        assert_eq!(incident().id, "budget:team-monthly@2026-12-02T14:00:00Z");
        let err = Job::parse(r#"{"job":"delete_everything"}"#).unwrap_err();
        assert!(err.starts_with("not a cost-guard sweep job"), "{err}");
        assert!(Job::parse("{").is_err());
    }

    #[test]
    fn the_summary_keeps_the_latest_result_and_never_unfinishes() {
        let mut s = SummaryJob {
            incident: incident(),
            accounts: vec![Account::new("111111111111"), Account::new("222222222222")],
            results: Vec::new(),
            round: 0,
        };
        s.merge([result("111111111111", false)]);
        assert_eq!(s.unfinished().len(), 2);
        assert!(!s.ready());
        s.merge([result("111111111111", true), result("222222222222", false)]);
        assert_eq!(s.unfinished(), [&Account::new("222222222222")]);
        // A late message of the first, failed attempt changes nothing.
        s.merge([result("111111111111", false)]);
        assert_eq!(s.unfinished().len(), 1);
        assert!(s.results[0].finished);
        // Of two unfinished attempts, the later one's figures stand.
        let mut again = result("222222222222", false);
        again.stopped = 5;
        s.merge([again]);
        assert_eq!(s.results[1].stopped, 5);
        // Another incident's result is not this one's.
        let mut other = result("222222222222", true);
        other.incident = "budget:other@2026-12-02T15:00:00Z".into();
        s.merge([other]);
        assert_eq!(s.unfinished().len(), 1);
        s.merge([result("222222222222", true)]);
        assert!(s.unfinished().is_empty());
        assert!(s.ready());
    }

    #[test]
    fn the_summary_stops_waiting_after_the_last_round() {
        let mut s = SummaryJob {
            incident: incident(),
            accounts: vec![Account::new("111111111111")],
            results: Vec::new(),
            round: MAX_SUMMARY_ROUNDS - 2,
        };
        assert!(!s.ready());
        s.round += 1;
        assert!(s.ready());
    }
}
