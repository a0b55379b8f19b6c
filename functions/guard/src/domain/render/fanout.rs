//! What subscribers read when a sweep of many accounts goes through the queue:
//! each worker's report on its account, and the incident's summary. Pure.

use std::fmt::Write as _;

use crate::domain::fanout::{AccountResult, IncidentRef, SummaryJob};
use crate::domain::outcome::SweepReport;
use crate::domain::render::{outcome_subject, plural, sweep_outcome, sweep_section, Message};

/// One account's report, from the worker that swept it.
pub(crate) fn account_report(
    incident: &IncidentRef,
    sweep: &SweepReport,
    resume_function: Option<&str>,
    selection: &str,
) -> Message {
    let mut b = String::new();
    if sweep.dry_run {
        b.push_str(
            "DRY RUN: nothing was stopped or tagged. This is what cost-guard would stop.\n\n",
        );
    }
    let _ = writeln!(
        b,
        "WHAT FIRED\n- {}\n  One of {} swept through cost-guard's queue for this alert (incident {}); a summary of them all follows.\n",
        incident.cause,
        plural(incident.accounts, "account", "accounts"),
        incident.id
    );
    sweep_section(&mut b, sweep, Some(&incident.stamp), resume_function);
    let _ = writeln!(b, "--\ncost-guard selection: {selection}.");
    Message {
        subject: outcome_subject(&sweep_outcome(sweep), &incident.cause),
        body: b,
    }
}

/// The incident's summary: how many accounts were swept, what they stopped,
/// and which are not finished.
pub(crate) fn summary(job: &SummaryJob) -> Message {
    let incident = &job.incident;
    let total = job.accounts.len();
    let unfinished = job.unfinished();
    let done = total - unfinished.len();
    // A worker in a dry run stopped nothing, whatever the incident: only
    // what the others stopped is counted as stopped. When every account
    // finished and none stopped for real, the incident reads as the dry run
    // it was (an account not finished may yet stop something).
    let (dry, real): (Vec<&AccountResult>, Vec<&AccountResult>) =
        job.results.iter().partition(|r| r.dry_run);
    let all_dry = incident.dry_run || (real.is_empty() && !dry.is_empty() && unfinished.is_empty());
    let counted: Vec<&AccountResult> = match (incident.dry_run, all_dry) {
        (true, _) => job.results.iter().collect(),
        (false, true) => dry.clone(),
        (false, false) => real,
    };
    let stopped: usize = counted.iter().map(|r| r.stopped).sum();
    let with_stops = counted.iter().filter(|r| r.stopped > 0).count();
    let verb = if all_dry {
        "[dry run] cost-guard would stop"
    } else {
        "cost-guard stopped"
    };
    let mut outcome = format!(
        "{verb} {} in {}; {done} of {} swept",
        plural(stopped, "resource", "resources"),
        plural(with_stops, "account", "accounts"),
        plural(total, "account", "accounts"),
    );
    if !all_dry && !dry.is_empty() {
        let _ = write!(outcome, ", {} in a dry run", dry.len());
    }
    if !unfinished.is_empty() {
        let _ = write!(outcome, ", {} not finished", unfinished.len());
    }
    let mut b = String::new();
    let _ = writeln!(
        b,
        "SUMMARY of incident {}\nCause: {}\nSwept through cost-guard's queue, one worker invocation per account; each account's own report came separately.\n",
        incident.id, incident.cause
    );
    let _ = writeln!(
        b,
        "{} of {} finished cleanly. {} {} in {}.\n",
        done,
        plural(total, "account", "accounts"),
        if all_dry { "Would stop" } else { "Stopped" },
        plural(stopped, "resource", "resources"),
        plural(with_stops, "account", "accounts"),
    );
    if !incident.dry_run && !dry.is_empty() {
        let _ = writeln!(
            b,
            "DRY_RUN was on for the sweep of {}, so nothing was stopped there (it would have stopped {}); marked \"would stop\" below.\n",
            plural(dry.len(), "account", "accounts"),
            plural(dry.iter().map(|r| r.stopped).sum(), "resource", "resources"),
        );
    }
    if !unfinished.is_empty() {
        let _ = writeln!(b, "NOT FINISHED ({}):", unfinished.len());
        for a in &unfinished {
            let last = job
                .results
                .iter()
                .find(|r| r.account.id == a.id)
                .and_then(|r| r.problem.clone())
                .unwrap_or_else(|| "no result yet".into());
            let _ = writeln!(b, "  {}: {last}", a.label());
        }
        b.push_str("The queue tries each of these three times; one that still fails lands in the dead-letter queue, whose alarm tells you. Its own report says what it did.\n\n");
    }
    b.push_str("PER ACCOUNT\n");
    for r in &job.results {
        let _ = writeln!(
            b,
            "  {}: {} {}, {} skipped, {} failed in {}{}",
            r.account.label(),
            r.stopped,
            if r.dry_run { "would stop" } else { "stopped" },
            r.skipped,
            r.failed,
            plural(r.regions, "region", "regions"),
            if r.finished { "" } else { " (not finished)" }
        );
    }
    Message {
        subject: outcome_subject(&outcome, &incident.cause),
        body: b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::accounts::Account;
    use crate::domain::outcome::Stamp;

    fn job() -> SummaryJob {
        let incident = IncidentRef::new(
            "Budget team-monthly: ACTUAL $912.40 of $800.00",
            &Stamp {
                at: "2026-12-02T14:00:00Z".into(),
                by: "budget:team-monthly".into(),
            },
            false,
            3,
        );
        let result = |id: &str, stopped: usize, finished: bool| AccountResult {
            incident: incident.id.clone(),
            account: Account::new(id),
            stopped,
            skipped: 0,
            failed: 0,
            regions: 3,
            finished,
            problem: (!finished).then(|| {
                "sts:AssumeRole failed: AccessDenied: not authorized; deploy member.yaml".into()
            }),
            dry_run: false,
        };
        SummaryJob {
            accounts: vec![
                Account::new("111111111111"),
                Account::new("222222222222"),
                Account {
                    id: "333333333333".into(),
                    name: Some("team-c".into()),
                },
            ],
            results: vec![
                result("111111111111", 4, true),
                result("222222222222", 0, true),
                result("333333333333", 0, false),
            ],
            incident,
            round: 9,
        }
    }

    #[test]
    fn the_summary_counts_accounts_and_names_the_unfinished() {
        let m = summary(&job());
        assert_eq!(
            m.subject,
            "cost-guard stopped 4 resources in 1 account; 2 of 3 accounts swept, 1 not finished (Budget team-...)"
        );
        assert!(m.subject.len() <= 100);
        assert!(
            m.body
                .contains("NOT FINISHED (1):\n  333333333333 (team-c): sts:AssumeRole failed"),
            "{}",
            m.body
        );
        assert!(m
            .body
            .contains("  111111111111: 4 stopped, 0 skipped, 0 failed in 3 regions\n"));
    }

    #[test]
    fn a_complete_summary_says_so() {
        let mut j = job();
        j.results[2].finished = true;
        j.results[2].problem = None;
        let m = summary(&j);
        assert!(
            m.subject.starts_with(
                "cost-guard stopped 4 resources in 1 account; 3 of 3 accounts swept ("
            ),
            "{}",
            m.subject
        );
        assert!(!m.body.contains("NOT FINISHED"));
    }

    /// A worker that swept in a dry run stopped nothing: what it would stop
    /// is not counted as stopped, and when no worker stopped anything for
    /// real the incident reads as a dry run.
    #[test]
    fn what_workers_in_a_dry_run_would_stop_is_never_counted_as_stopped() {
        let mut j = job();
        j.results[1].stopped = 2;
        j.results[1].dry_run = true;
        let m = summary(&j);
        assert_eq!(
            m.subject,
            "cost-guard stopped 4 resources in 1 account; 2 of 3 accounts swept, 1 in a dry run, 1 not finished"
        );
        assert!(
            m.body.contains("DRY_RUN was on for the sweep of 1 account, so nothing was stopped there (it would have stopped 2 resources)"),
            "{}",
            m.body
        );
        assert!(m
            .body
            .contains("  222222222222: 2 would stop, 0 skipped, 0 failed in 3 regions\n"));

        for r in &mut j.results {
            r.dry_run = true;
        }
        // One account not finished may yet stop something: not a dry run.
        let m = summary(&j);
        assert_eq!(
            m.subject,
            "cost-guard stopped 0 resources in 0 accounts; 2 of 3 accounts swept, 3 in a dry run, 1 not finished"
        );
        j.results[2].finished = true;
        j.results[2].problem = None;
        let m = summary(&j);
        assert_eq!(
            m.subject,
            "[dry run] cost-guard would stop 6 resources in 2 accounts; 3 of 3 accounts swept (Budget team-mo...)"
        );
        assert!(
            m.body.contains("Would stop 6 resources in 2 accounts."),
            "{}",
            m.body
        );

        // The incident itself a dry run: every result is what would stop,
        // and no line says DRY_RUN was on for some.
        let mut j = job();
        j.incident.dry_run = true;
        let m = summary(&j);
        assert!(
            m.subject
                .starts_with("[dry run] cost-guard would stop 4 resources in 1 account;"),
            "{}",
            m.subject
        );
        assert!(!m.body.contains("DRY_RUN was on"), "{}", m.body);
    }
}
