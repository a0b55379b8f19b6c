//! What subscribers read: a subject of at most 100 characters that says the
//! outcome, and a plain-text body for email. Pure.

use std::fmt::Write as _;

use crate::config::{Selection, SelectionConfig};
use crate::inventory::ResourceKind;
use crate::policy::{Decision, Verdict};
use crate::sweep::{RegionReport, SweepReport};
use crate::trigger::Trigger;
use crate::{STOPPED_AT_TAG, STOPPED_BY_TAG};

/// SNS subjects: ASCII, no line breaks, at most 100 characters.
pub const MAX_SUBJECT: usize = 100;
/// Bodies stay under SNS's 256 KB limit with room for the envelope.
pub const MAX_BODY_BYTES: usize = 240 * 1024;
/// Resources listed per region and section before "... and N more".
pub const MAX_LISTED: usize = 50;

/// Everything one notification is about.
pub struct Incident<'a> {
    /// Each trigger that arrived, with what policy made of it.
    pub fired: &'a [(Trigger, Decision)],
    /// The sweep, when one ran.
    pub sweep: Option<&'a SweepReport>,
    /// Set when the sweep could not start (the region list could not be read).
    pub sweep_error: Option<&'a str>,
    pub select: &'a SelectionConfig,
    /// The stamp written on what was stopped.
    pub stamp: Option<&'a crate::sweep::Stamp>,
    /// Month-to-date spend by service, when asked for.
    pub money: Option<&'a crate::spend::MonthToDateState>,
    pub cost_metric: crate::spend::CostMetric,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub subject: String,
    pub body: String,
}

pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The trigger the subject talks about: the first that acted, else the first.
fn lead(fired: &[(Trigger, Decision)]) -> Option<&(Trigger, Decision)> {
    fired
        .iter()
        .find(|(_, d)| d.verdict == Verdict::Act)
        .or_else(|| fired.first())
}

pub fn render(incident: &Incident) -> Message {
    Message {
        subject: subject(incident),
        body: body(incident),
    }
}

/// What a sweep did, for a subject: `cost-guard stopped 14 resources in 5 regions`,
/// `[dry run] cost-guard would stop ...`, `cost-guard found nothing to stop`, with
/// `, 2 regions failed` when some did not finish.
pub fn sweep_outcome(s: &SweepReport) -> String {
    let n = s.stopped_count();
    let what_where = format!(
        "{} in {}",
        plural(n, "resource", "resources"),
        plural(s.regions_with_stops(), "region", "regions")
    );
    let earlier = s.earlier_count();
    let mut text = if s.dry_run {
        format!("[dry run] cost-guard would stop {what_where}")
    } else if n == 0 && earlier > 0 {
        format!(
            "cost-guard found nothing left to stop, {} stopped by an earlier run",
            plural(earlier, "resource", "resources")
        )
    } else if n == 0 {
        "cost-guard found nothing to stop".to_string()
    } else {
        format!("cost-guard stopped {what_where}")
    };
    let troubled = s.troubled_regions().len();
    if troubled > 0 {
        let _ = write!(text, ", {} failed", plural(troubled, "region", "regions"));
    }
    text
}

/// `outcome (cause)` within 100 ASCII characters: the outcome stays whole and
/// the cause in parentheses is shortened when the line is too long.
pub fn outcome_subject(outcome: &str, cause: &str) -> String {
    let outcome = ascii_line(outcome);
    let cause = ascii_line(cause);
    let full = format!("{outcome} ({cause})");
    if full.len() <= MAX_SUBJECT {
        return full;
    }
    match MAX_SUBJECT.checked_sub(outcome.len() + 6) {
        Some(room) if room > 0 => {
            let short: String = cause.chars().take(room).collect();
            format!("{outcome} ({short}...)")
        }
        _ => subject_line(&outcome),
    }
}

pub fn subject(incident: &Incident) -> String {
    let lead = lead(incident.fired);
    let headline = match lead {
        Some((Trigger::Unrecognised { .. }, _)) | None => None,
        Some((t, _)) => Some(t.headline()),
    };
    let outcome = match (incident.sweep, incident.sweep_error) {
        (_, Some(_)) => "cost-guard could not start the sweep".to_string(),
        (Some(s), None) => sweep_outcome(s),
        (None, None) => match &headline {
            None => {
                return subject_line("cost-guard received an unrecognised message, nothing stopped")
            }
            Some(h) => return subject_line(&format!("cost-guard: {h}, nothing stopped")),
        },
    };
    match headline {
        Some(h) => outcome_subject(&outcome, &h),
        None => subject_line(&outcome),
    }
}

/// A subject SNS accepts: printable ASCII, one line, at most 100 characters.
pub fn subject_line(text: &str) -> String {
    let line = ascii_line(text);
    if line.len() <= MAX_SUBJECT {
        return line;
    }
    let mut cut: String = line.chars().take(MAX_SUBJECT - 3).collect();
    cut.push_str("...");
    cut
}

/// Printable ASCII only (what SNS accepts in a subject), one line.
fn ascii_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = match c {
            '…' => {
                out.push_str("...");
                continue;
            }
            c if c.is_ascii_graphic() || c == ' ' => c,
            c if c.is_whitespace() || c.is_control() => ' ',
            _ => '?',
        };
        if c == ' ' && out.ends_with(' ') {
            continue;
        }
        out.push(c);
    }
    out.trim().to_string()
}

fn describe_selection(select: &SelectionConfig) -> String {
    match &select.selection {
        Selection::Tagged {
            key,
            value: Some(v),
        } => {
            format!(
                "resources tagged {key}={v}, except those tagged {}",
                select.exempt_tag_key
            )
        }
        Selection::Tagged { key, value: None } => {
            format!(
                "resources tagged {key} (any value), except those tagged {}",
                select.exempt_tag_key
            )
        }
        Selection::AllExceptExempt => format!(
            "every running resource except those tagged {}",
            select.exempt_tag_key
        ),
    }
}

pub fn body(incident: &Incident) -> String {
    let mut b = String::new();
    let dry = incident.sweep.is_some_and(|s| s.dry_run);
    if dry {
        b.push_str(
            "DRY RUN: nothing was stopped or tagged. This is what cost-guard would stop.\n\n",
        );
    }
    b.push_str("WHAT FIRED\n");
    for (trigger, decision) in incident.fired {
        let _ = writeln!(b, "- {}", trigger.headline());
        describe_trigger(&mut b, trigger);
        let verb = match decision.verdict {
            Verdict::Act => "cost-guard acted",
            Verdict::Report => "cost-guard did not act",
        };
        let _ = writeln!(b, "  {verb}: {}.", decision.why);
    }
    b.push('\n');
    if let Some(money) = incident.money {
        crate::spend::money_section(
            &mut b,
            money,
            &crate::spend::Forecast::NotAsked,
            incident.cost_metric,
        );
    }

    if let Some(err) = incident.sweep_error {
        let _ = writeln!(
            b,
            "WHAT HAPPENED\nThe sweep could not start: {err}\nNothing was stopped. The invocation fails so that Lambda retries it.\n"
        );
    }
    match incident.sweep {
        None if incident.sweep_error.is_none() => {
            b.push_str("WHAT HAPPENED\nNothing was stopped.\n\n");
        }
        None => {}
        Some(sweep) => sweep_section(&mut b, sweep, incident.stamp),
    }
    let _ = writeln!(
        b,
        "--\ncost-guard selection: {}.",
        describe_selection(incident.select)
    );
    if b.len() > MAX_BODY_BYTES {
        let mut cut = MAX_BODY_BYTES - 200;
        while !b.is_char_boundary(cut) {
            cut -= 1;
        }
        b.truncate(cut);
        b.push_str(
            "\n\n[message shortened to fit SNS; the function's log holds the full report]\n",
        );
    }
    b
}

fn describe_trigger(b: &mut String, trigger: &Trigger) {
    match trigger {
        Trigger::Budget(x) => {
            let _ = write!(b, "  AWS Budgets {} alert", x.alert_type);
            if let Some(a) = x.budgeted {
                let _ = write!(
                    b,
                    ", budgeted {a}{}",
                    if x.daily { " per day" } else { " per period" }
                );
            }
            if let Some(acct) = &x.account {
                let _ = write!(b, ", account {acct}");
            }
            b.push_str(".\n");
        }
        Trigger::Alarm(a) => {
            let _ = write!(b, "  CloudWatch alarm, now {}", a.state);
            if let Some(old) = &a.old_state {
                let _ = write!(b, " (was {old})");
            }
            if let Some(m) = &a.metric_name {
                let _ = write!(b, ", metric {m}");
            }
            b.push_str(".\n");
            if let Some(reason) = &a.reason {
                let _ = writeln!(b, "  Reason: {}", crate::trigger::excerpt(reason));
            }
        }
        Trigger::Anomaly(a) => {
            let _ = write!(b, "  Cost Anomaly Detection: impact {}", a.total_impact);
            if let (Some(actual), Some(expected)) = (a.total_actual_spend, a.total_expected_spend) {
                let _ = write!(b, " (spent {actual}, expected {expected})");
            }
            b.push_str(".\n");
            for c in &a.root_causes {
                let parts: Vec<&str> = [&c.service, &c.region, &c.usage_type, &c.linked_account]
                    .iter()
                    .filter_map(|p| p.as_deref())
                    .collect();
                if !parts.is_empty() {
                    let _ = writeln!(b, "  Root cause: {}", parts.join(", "));
                }
            }
            if let Some(link) = &a.details_link {
                let _ = writeln!(b, "  Details: {link}");
            }
        }
        Trigger::Unrecognised { why, excerpt } => {
            let _ = writeln!(b, "  {why}");
            let _ = writeln!(b, "  Excerpt: {excerpt}");
            b.push_str("  cost-guard understands AWS Budgets notifications, CloudWatch alarm notifications and Cost Anomaly Detection alerts. Check what publishes to the trigger topic.\n");
        }
    }
}

/// The WHAT HAPPENED section of a sweep, per-region details and restart commands.
pub fn sweep_section(b: &mut String, sweep: &SweepReport, stamp: Option<&crate::sweep::Stamp>) {
    let n = sweep.stopped_count();
    let verb = if sweep.dry_run {
        "Would stop"
    } else {
        "Stopped"
    };
    let kinds: Vec<String> = sweep
        .stopped_by_kind()
        .iter()
        .map(|(k, c)| plural(*c, &k.to_string(), &format!("{k}s")))
        .collect();
    b.push_str("WHAT HAPPENED\n");
    let _ = write!(
        b,
        "{verb} {} in {}",
        plural(n, "resource", "resources"),
        plural(sweep.regions_with_stops(), "region", "regions"),
    );
    if !kinds.is_empty() {
        let _ = write!(b, " ({})", kinds.join(", "));
    }
    let _ = writeln!(
        b,
        "; {} swept.",
        plural(sweep.regions.len(), "region", "regions")
    );
    if sweep.earlier_count() > 0 {
        let _ = writeln!(
            b,
            "Already stopped for this alert by an earlier run: {} (listed below).",
            plural(sweep.earlier_count(), "resource", "resources")
        );
    }
    if sweep.skipped_count() > 0 {
        let _ = writeln!(
            b,
            "Skipped {} (reasons below).",
            plural(sweep.skipped_count(), "resource", "resources")
        );
    }
    let troubled = sweep.troubled_regions();
    if !troubled.is_empty() {
        let names: Vec<&str> = troubled.iter().map(|r| r.region.as_str()).collect();
        let _ = writeln!(
            b,
            "NOT COMPLETE in {}: {}. The invocation fails so that Lambda retries; the retry stops what is left.",
            plural(names.len(), "region", "regions"),
            names.join(", ")
        );
    }
    if let (Some(stamp), false, true) = (stamp, sweep.dry_run, n > 0) {
        let _ = writeln!(
            b,
            "Everything stopped is tagged {STOPPED_AT_TAG}={} and {STOPPED_BY_TAG}={}.",
            stamp.at, stamp.by
        );
    }
    b.push('\n');

    let mut quiet = Vec::new();
    for r in &sweep.regions {
        if r.stopped.is_empty()
            && r.earlier.is_empty()
            && r.skipped.is_empty()
            && r.is_clean()
            && r.stamp_warnings.is_empty()
        {
            quiet.push(r.region.as_str());
            continue;
        }
        render_region(b, r, sweep.dry_run);
    }
    if !quiet.is_empty() {
        let _ = writeln!(b, "Nothing to stop in: {}.\n", quiet.join(", "));
    }
    if n > 0 && !sweep.dry_run {
        render_restart(b, sweep, stamp);
    }
}

fn render_region(b: &mut String, r: &RegionReport, dry: bool) {
    let _ = writeln!(b, "{}", r.region);
    let mut section = |title: &str, lines: Vec<String>| {
        if lines.is_empty() {
            return;
        }
        let _ = writeln!(b, "  {title}:");
        for line in lines.iter().take(MAX_LISTED) {
            let _ = writeln!(b, "    {line}");
        }
        if lines.len() > MAX_LISTED {
            let _ = writeln!(b, "    ... and {} more", lines.len() - MAX_LISTED);
        }
    };
    let res_line = |res: &crate::inventory::Resource| {
        format!(
            "{}  {}  {}  ({})",
            res.id,
            res.name.as_deref().unwrap_or("-"),
            res.size,
            res.kind
        )
    };
    section(
        if dry { "Would stop" } else { "Stopped" },
        r.stopped.iter().map(res_line).collect(),
    );
    section(
        "Stopped earlier for this alert",
        r.earlier.iter().map(res_line).collect(),
    );
    section(
        "Skipped",
        r.skipped
            .iter()
            .map(|s| format!("{}: {}", res_line(&s.resource), s.reason))
            .collect(),
    );
    section(
        "Failed",
        r.failed
            .iter()
            .map(|f| format!("{}: {}", res_line(&f.resource), f.error))
            .collect(),
    );
    section("Region errors", r.errors.clone());
    section("Warnings", r.stamp_warnings.clone());
    b.push('\n');
}

fn render_restart(b: &mut String, sweep: &SweepReport, stamp: Option<&crate::sweep::Stamp>) {
    b.push_str("HOW TO START EVERYTHING AGAIN\n");
    b.push_str("When you have found the cause, start what cost-guard stopped (AWS CLI):\n");
    let at = stamp.map(|s| s.at.as_str()).unwrap_or("*");
    for r in sweep.regions.iter().filter(|r| !r.stopped.is_empty()) {
        if r.stopped
            .iter()
            .any(|s| s.kind == ResourceKind::Ec2Instance)
        {
            let _ = writeln!(
                b,
                "  aws ec2 start-instances --region {0} --instance-ids $(aws ec2 describe-instances --region {0} --filters \"Name=tag:{STOPPED_AT_TAG},Values={at}\" \"Name=instance-state-name,Values=stopped\" --query \"Reservations[].Instances[].InstanceId\" --output text)",
                r.region
            );
        }
        for s in r.stopped.iter().take(MAX_LISTED) {
            match s.kind {
                ResourceKind::DbInstance => {
                    let _ = writeln!(
                        b,
                        "  aws rds start-db-instance --region {} --db-instance-identifier {}",
                        r.region, s.id
                    );
                }
                ResourceKind::DbCluster => {
                    let _ = writeln!(
                        b,
                        "  aws rds start-db-cluster --region {} --db-cluster-identifier {}",
                        r.region, s.id
                    );
                }
                ResourceKind::Ec2Instance => {}
            }
        }
    }
    let _ = writeln!(
        b,
        "Everything cost-guard ever stopped carries the tag {STOPPED_AT_TAG}; RDS starts a stopped database by itself after 7 days.\n"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Selection;
    use crate::inventory::Resource;
    use crate::policy::{decide, Policy};
    use crate::select::Skipped;
    use crate::sweep::{Failed, Stamp};
    use crate::trigger::parse_message;

    const BUDGET: &str = "AWS Budget Notification November 22, 2026\nAWS Account 123456789012\n\nBudget Name: student-monthly\nBudget Type: Cost\nBudgeted Amount: $50.00\nAlert Type: ACTUAL\nAlert Threshold: > $40.00\nACTUAL Amount: $1,287.34\n";

    fn select() -> SelectionConfig {
        SelectionConfig {
            selection: Selection::Tagged {
                key: "cost-guard".into(),
                value: Some("stop".into()),
            },
            exempt_tag_key: "cost-guard-exempt".into(),
        }
    }

    fn fired(message: &str) -> Vec<(Trigger, Decision)> {
        let t = parse_message(message);
        let d = decide(
            &t,
            &Policy {
                act_on_forecasted: false,
                anomaly: crate::config::AnomalyAction::Report,
            },
        );
        vec![(t, d)]
    }

    fn ec2(id: &str) -> Resource {
        Resource {
            kind: ResourceKind::Ec2Instance,
            id: id.into(),
            name: Some("gpu-box".into()),
            size: "p3.2xlarge".into(),
        }
    }

    fn sweep(regions: usize, per_region: usize) -> SweepReport {
        SweepReport {
            dry_run: false,
            regions: (0..regions)
                .map(|r| RegionReport {
                    region: format!("us-test-{r}"),
                    stopped: (0..per_region)
                        .map(|i| ec2(&format!("i-{r}-{i}")))
                        .collect(),
                    finished: true,
                    ..Default::default()
                })
                .collect(),
        }
    }

    #[test]
    fn subject_says_the_outcome() {
        let f = fired(BUDGET);
        let s = sweep(5, 3);
        let stamp = Stamp::now("budget:student-monthly");
        let m = render(&Incident {
            fired: &f,
            sweep: Some(&s),
            sweep_error: None,
            select: &select(),
            stamp: Some(&stamp),
            money: None,
            cost_metric: crate::spend::CostMetric::UnblendedCost,
        });
        assert_eq!(
            m.subject,
            "cost-guard stopped 15 resources in 5 regions (budget student-monthly: $1,287.34 > $40.00)"
        );
        assert!(m
            .body
            .contains("Stopped 15 resources in 5 regions (15 EC2 instances); 5 regions swept."));
        assert!(m
            .body
            .contains("i-0-0  gpu-box  p3.2xlarge  (EC2 instance)"));
        assert!(m.body.contains("HOW TO START EVERYTHING AGAIN"));
        assert!(m
            .body
            .contains("aws ec2 start-instances --region us-test-0"));
        assert!(m
            .body
            .contains(&format!("cost-guard:stopped-at={}", stamp.at)));
    }

    #[test]
    fn subjects_stay_within_100_ascii_characters() {
        let long = BUDGET.replace("student-monthly", &"ü-very-long-budget-name".repeat(4));
        let f = fired(&long);
        let s = sweep(17, 100);
        let m = render(&Incident {
            fired: &f,
            sweep: Some(&s),
            sweep_error: None,
            select: &select(),
            stamp: None,
            money: None,
            cost_metric: crate::spend::CostMetric::UnblendedCost,
        });
        assert!(m.subject.len() <= MAX_SUBJECT, "{}", m.subject);
        assert!(m.subject.is_ascii());
        assert!(m
            .subject
            .starts_with("cost-guard stopped 1700 resources in 17 regions ("));
        assert!(m.body.contains("... and 50 more"));
    }

    #[test]
    fn dry_run_says_so_first() {
        let f = fired(BUDGET);
        let mut s = sweep(1, 2);
        s.dry_run = true;
        let m = render(&Incident {
            fired: &f,
            sweep: Some(&s),
            sweep_error: None,
            select: &select(),
            stamp: None,
            money: None,
            cost_metric: crate::spend::CostMetric::UnblendedCost,
        });
        assert!(m
            .subject
            .starts_with("[dry run] cost-guard would stop 2 resources in 1 region"));
        assert!(m.body.starts_with("DRY RUN"));
        assert!(!m.body.contains("HOW TO START"));
    }

    #[test]
    fn nothing_to_stop_is_still_a_message() {
        let f = fired(BUDGET);
        let s = sweep(3, 0);
        let m = render(&Incident {
            fired: &f,
            sweep: Some(&s),
            sweep_error: None,
            select: &select(),
            stamp: None,
            money: None,
            cost_metric: crate::spend::CostMetric::UnblendedCost,
        });
        assert!(m
            .subject
            .starts_with("cost-guard found nothing to stop (budget student-monthly"));
        assert!(m
            .body
            .contains("Nothing to stop in: us-test-0, us-test-1, us-test-2."));
    }

    #[test]
    fn failures_skips_and_errors_are_listed() {
        let f = fired(BUDGET);
        let mut s = sweep(2, 1);
        s.regions[0].skipped.push(Skipped {
            resource: ec2("i-spot"),
            reason: "spot instance of a one-time request: it cannot be stopped, only terminated"
                .into(),
        });
        s.regions[1].failed.push(Failed {
            resource: ec2("i-bad"),
            error: "ec2:StopInstances failed: Throttling".into(),
        });
        s.regions[1]
            .errors
            .push("rds:DescribeDBInstances failed: AccessDenied".into());
        let m = render(&Incident {
            fired: &f,
            sweep: Some(&s),
            sweep_error: None,
            select: &select(),
            stamp: None,
            money: None,
            cost_metric: crate::spend::CostMetric::UnblendedCost,
        });
        assert!(
            m.subject
                .contains("2 resources in 2 regions, 1 region failed"),
            "{}",
            m.subject
        );
        assert!(m.body.contains(
            "i-spot  gpu-box  p3.2xlarge  (EC2 instance): spot instance of a one-time request"
        ));
        assert!(m.body.contains("Failed:\n    i-bad"));
        assert!(m.body.contains("NOT COMPLETE in 1 region: us-test-1"));
        assert!(m
            .body
            .contains("Region errors:\n    rds:DescribeDBInstances failed: AccessDenied"));
    }

    #[test]
    fn report_only_and_unrecognised() {
        let forecast = BUDGET
            .replace("Alert Type: ACTUAL", "Alert Type: FORECASTED")
            .replace("ACTUAL Amount", "FORECASTED Amount");
        let f = fired(&forecast);
        let m = render(&Incident {
            fired: &f,
            sweep: None,
            sweep_error: None,
            select: &select(),
            stamp: None,
            money: None,
            cost_metric: crate::spend::CostMetric::UnblendedCost,
        });
        assert_eq!(
            m.subject,
            "cost-guard: budget student-monthly: $1,287.34 > $40.00 forecast, nothing stopped"
        );
        assert!(m
            .body
            .contains("cost-guard did not act: budget student-monthly is only forecast"));

        let f = fired("hello there, buy cheap watches");
        let m = render(&Incident {
            fired: &f,
            sweep: None,
            sweep_error: None,
            select: &select(),
            stamp: None,
            money: None,
            cost_metric: crate::spend::CostMetric::UnblendedCost,
        });
        assert_eq!(
            m.subject,
            "cost-guard received an unrecognised message, nothing stopped"
        );
        assert!(m.body.contains("Excerpt: hello there, buy cheap watches"));
    }

    #[test]
    fn huge_bodies_are_shortened() {
        let f = fired(BUDGET);
        let mut s = sweep(1, 0);
        s.regions[0].errors = (0..20_000)
            .map(|i| format!("error number {i} with some words"))
            .collect();
        s.regions[0].skipped = (0..20_000)
            .map(|i| Skipped {
                resource: ec2(&format!("i-{i}")),
                reason: "x".repeat(50),
            })
            .collect();
        let m = render(&Incident {
            fired: &f,
            sweep: Some(&s),
            sweep_error: None,
            select: &select(),
            stamp: None,
            money: None,
            cost_metric: crate::spend::CostMetric::UnblendedCost,
        });
        assert!(m.body.len() <= MAX_BODY_BYTES);
    }
}
