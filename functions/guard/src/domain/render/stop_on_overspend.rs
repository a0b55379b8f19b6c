//! What stop-on-overspend's subscribers read: what fired, what policy made of
//! it, what the sweep did, and the selection. Pure.

use std::fmt::Write as _;

use crate::domain::config::{Selection, SelectionConfig};
use crate::domain::outcome::SweepReport;
use crate::domain::policy::{Decision, Verdict};
use crate::domain::render::{
    outcome_subject, subject_line, sweep_outcome, sweep_section, Message, MAX_BODY_BYTES,
};
use crate::domain::trigger::Trigger;

/// Everything one notification is about.
pub(crate) struct Incident<'a> {
    /// Each trigger that arrived, with what policy made of it.
    pub fired: &'a [(Trigger, Decision)],
    /// The sweep, when one ran.
    pub sweep: Option<&'a SweepReport>,
    /// Set when the sweep could not start (the region list could not be read).
    pub sweep_error: Option<&'a str>,
    pub select: &'a SelectionConfig,
    /// The stamp written on what was stopped.
    pub stamp: Option<&'a crate::domain::outcome::Stamp>,
    /// Month-to-date spend by service, when asked for.
    pub money: Option<&'a crate::domain::spend::MonthToDateState>,
    pub cost_metric: crate::domain::spend::CostMetric,
    /// The resume function's name, for the one-step restart command.
    pub resume_function: Option<&'a str>,
}

/// The trigger the subject talks about: the first that acted, else the first.
fn lead(fired: &[(Trigger, Decision)]) -> Option<&(Trigger, Decision)> {
    fired
        .iter()
        .find(|(_, d)| d.verdict == Verdict::Act)
        .or_else(|| fired.first())
}

pub(crate) fn render(incident: &Incident) -> Message {
    Message {
        subject: subject(incident),
        body: body(incident),
    }
}

fn subject(incident: &Incident) -> String {
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

pub(crate) fn describe_selection(select: &SelectionConfig) -> String {
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

fn body(incident: &Incident) -> String {
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
        crate::domain::render::money_section(
            &mut b,
            money,
            &crate::domain::spend::Forecast::NotAsked,
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
        Some(sweep) => {
            if let Some(line) = crate::domain::render::burn_watch::was_burning_at_table(sweep) {
                let _ = writeln!(b, "{line}\n");
            }
            sweep_section(&mut b, sweep, incident.stamp, incident.resume_function)
        }
    }
    let _ = writeln!(
        b,
        "--\ncost-guard selection: {}.",
        describe_selection(incident.select)
    );
    shorten(b)
}

/// A body SNS accepts: past [`MAX_BODY_BYTES`], cut at a character
/// boundary, with a line that says so.
fn shorten(mut b: String) -> String {
    if b.len() > MAX_BODY_BYTES {
        let mut cut = MAX_BODY_BYTES - 200;
        while !b.is_char_boundary(cut) {
            cut -= 1;
        }
        b.truncate(cut);
        b.push_str(SHORTENED);
    }
    b
}

const SHORTENED: &str =
    "\n\n[message shortened to fit SNS; the function's log holds the full report]\n";

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
                let _ = writeln!(b, "  Reason: {}", crate::domain::trigger::excerpt(reason));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::Selection;
    use crate::domain::inventory::Resource;
    use crate::domain::inventory::ResourceKind;
    use crate::domain::outcome::{Failed, RegionReport, Stamp};
    use crate::domain::policy::{decide, Policy};
    use crate::domain::render::MAX_SUBJECT;
    use crate::domain::select::Skipped;
    use crate::domain::trigger::parse_message;

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
                anomaly: crate::domain::config::AnomalyAction::Report,
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
            accounts: Vec::new(),
        }
    }

    #[test]
    fn several_accounts_are_counted_grouped_and_the_unreachable_named() {
        use crate::domain::accounts::{Account, AccountState, AccountStatus};
        let f = fired(BUDGET);
        let region = |account: &str, region: &str, ids: &[&str]| RegionReport {
            region: region.into(),
            account: Some(account.into()),
            stopped: ids.iter().map(|i| ec2(i)).collect(),
            finished: true,
            ..Default::default()
        };
        let s = SweepReport {
            dry_run: false,
            regions: vec![
                region("111111111111", "eu-west-1", &["i-0a1"]),
                region("111111111111", "us-east-1", &["i-0a2", "i-0a3"]),
                region("333333333333", "eu-west-1", &["i-0c1"]),
                region("333333333333", "us-east-1", &[]),
            ],
            accounts: vec![
                AccountStatus {
                    account: Account {
                        id: "111111111111".into(),
                        name: Some("team-a".into()),
                    },
                    state: AccountState::Swept,
                },
                AccountStatus {
                    account: Account::new("222222222222"),
                    state: AccountState::Unreachable(
                        "cannot assume arn:aws:iam::222222222222:role/cost-guard-member: sts:AssumeRole failed: AccessDenied; deploy member.yaml to this account".into(),
                    ),
                },
                AccountStatus {
                    account: Account::new("333333333333"),
                    state: AccountState::Swept,
                },
            ],
        };
        let stamp = Stamp::now("budget:student-monthly");
        let m = render(&Incident {
            fired: &f,
            sweep: Some(&s),
            sweep_error: None,
            select: &select(),
            stamp: Some(&stamp),
            money: None,
            cost_metric: crate::domain::spend::CostMetric::UnblendedCost,
            resume_function: None,
        });
        assert!(
            m.subject.starts_with(
                "cost-guard stopped 4 resources in 2 accounts, 2 regions, 1 account unreachable ("
            ),
            "{}",
            m.subject
        );
        let body = &m.body;
        assert!(
            body.contains("Stopped 4 resources in 2 accounts, 2 regions (4 EC2 instances); 4 regions swept in 2 accounts."),
            "{body}"
        );
        assert!(
            body.contains(
                "NOT SWEPT, role not available in 1 account:\n  222222222222: cannot assume"
            ),
            "{body}"
        );
        let a = body
            .find("ACCOUNT 111111111111 (team-a)\neu-west-1\n")
            .expect(body);
        let c = body.find("ACCOUNT 333333333333\neu-west-1\n").expect(body);
        assert!(a < c);
        assert!(
            body[c..].contains("Nothing to stop in: us-east-1."),
            "{body}"
        );
        // Restart commands say which account's credentials they need.
        assert!(
            body.contains("  # in account 333333333333, with that account's credentials"),
            "{body}"
        );
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
            cost_metric: crate::domain::spend::CostMetric::UnblendedCost,
            resume_function: Some("guard-Resume-1A2B"),
        });
        assert!(m.body.contains("aws lambda invoke --function-name guard-Resume-1A2B --cli-binary-format raw-in-base64-out --payload '{\"stopped_by\": \"budget:student-monthly\"}' /dev/stdout"), "{}", m.body);
        // The stamp comes off before anything starts, in every command shown.
        for line in m
            .body
            .lines()
            .filter(|l| l.contains("start-instances") || l.contains("start-db-"))
        {
            let (untag, start) = line
                .split_once("&&")
                .unwrap_or_else(|| panic!("no untag before: {line}"));
            assert!(
                untag.contains("delete-tags") || untag.contains("remove-tags-from-resource"),
                "{line}"
            );
            assert!(
                untag.contains("cost-guard:stopped-at") && untag.contains("cost-guard:stopped-by"),
                "{line}"
            );
            assert!(start.contains("start-"), "{line}");
        }
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
            cost_metric: crate::domain::spend::CostMetric::UnblendedCost,
            resume_function: None,
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
            cost_metric: crate::domain::spend::CostMetric::UnblendedCost,
            resume_function: None,
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
            cost_metric: crate::domain::spend::CostMetric::UnblendedCost,
            resume_function: None,
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
            cost_metric: crate::domain::spend::CostMetric::UnblendedCost,
            resume_function: None,
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
            cost_metric: crate::domain::spend::CostMetric::UnblendedCost,
            resume_function: None,
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
            cost_metric: crate::domain::spend::CostMetric::UnblendedCost,
            resume_function: None,
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
        // Each region lists at most MAX_LISTED of each: many regions it takes.
        let mut s = sweep(200, 0);
        for r in &mut s.regions {
            r.skipped = (0..60)
                .map(|i| Skipped {
                    resource: ec2(&format!("i-{i}")),
                    reason: "x".repeat(50),
                })
                .collect();
        }
        let m = render(&Incident {
            fired: &f,
            sweep: Some(&s),
            sweep_error: None,
            select: &select(),
            stamp: None,
            money: None,
            cost_metric: crate::domain::spend::CostMetric::UnblendedCost,
            resume_function: None,
        });
        assert!(m.body.len() <= MAX_BODY_BYTES);
        assert!(
            m.body.ends_with(SHORTENED),
            "{}",
            &m.body[m.body.len() - 300..]
        );
        assert!(m.body.len() > MAX_BODY_BYTES - 300);
    }

    #[test]
    fn the_subject_names_the_trigger_that_acted_not_the_first() {
        let path = format!(
            "{}/../../events/budget-forecasted.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut f = fired(v["Records"][0]["Sns"]["Message"].as_str().unwrap());
        assert_eq!(f[0].1.verdict, Verdict::Report);
        f.extend(fired(BUDGET));
        let s = sweep(1, 1);
        let m = render(&Incident {
            fired: &f,
            sweep: Some(&s),
            sweep_error: None,
            select: &select(),
            stamp: None,
            money: None,
            cost_metric: crate::domain::spend::CostMetric::UnblendedCost,
            resume_function: None,
        });
        assert_eq!(
            m.subject,
            "cost-guard stopped 1 resource in 1 region (budget student-monthly: $1,287.34 > $40.00)"
        );
    }

    #[test]
    fn a_body_is_cut_at_the_character_boundary_before_the_limit() {
        // Three-byte characters after two letters: MAX_BODY_BYTES - 200 falls
        // inside one, and the cut goes back to where it starts.
        let body = format!("ab{}", "\u{20ac}".repeat(MAX_BODY_BYTES / 3));
        let limit = MAX_BODY_BYTES - 200;
        assert!(!body.is_char_boundary(limit));
        let cut = (0..=limit)
            .rev()
            .find(|&i| body.is_char_boundary(i))
            .unwrap();
        assert_eq!(
            shorten(body.clone()),
            format!("{}{SHORTENED}", &body[..cut])
        );
        // A body within the limit is left whole.
        let whole = "x".repeat(MAX_BODY_BYTES);
        assert_eq!(shorten(whole.clone()), whole);
    }

    /// A resource of each kind, named after its region.
    fn one_of_each(region: &str) -> Vec<Resource> {
        ResourceKind::ALL
            .iter()
            .enumerate()
            .map(|(i, kind)| Resource {
                kind: *kind,
                id: format!("{region}-{i}"),
                name: (i % 2 == 0).then(|| format!("name-{i}")),
                size: "m5.large".into(),
            })
            .collect()
    }

    /// A sweep with everything a region can report: each kind stopped, one
    /// stopped earlier, skips, a stamp that failed, more than a list shows,
    /// a region that failed and one that ran out of time.
    fn eventful() -> SweepReport {
        let stopped = one_of_each("eu-west-1");
        let unstamped = vec![stopped[0].clone()];
        SweepReport {
            dry_run: false,
            regions: vec![
                RegionReport {
                    region: "eu-west-1".into(),
                    stopped,
                    earlier: vec![ec2("i-0earlier")],
                    skipped: vec![
                        Skipped {
                            resource: ec2("i-0exempt"),
                            reason: "tagged cost-guard-exempt".into(),
                        },
                        Skipped {
                            resource: ec2("i-0spot"),
                            reason: "a one-time spot instance".into(),
                        },
                    ],
                    stamp_warnings: vec!["CreateTags was throttled".into()],
                    unstamped,
                    finished: true,
                    ..Default::default()
                },
                RegionReport {
                    region: "us-east-1".into(),
                    stopped: (0..52).map(|i| ec2(&format!("i-0many{i:02}"))).collect(),
                    finished: true,
                    ..Default::default()
                },
                RegionReport {
                    region: "ap-south-1".into(),
                    failed: vec![Failed {
                        resource: ec2("i-0denied"),
                        error: "UnauthorizedOperation".into(),
                    }],
                    errors: vec!["rds:DescribeDBInstances failed: Throttling".into()],
                    finished: false,
                    ..Default::default()
                },
                RegionReport {
                    region: "sa-east-1".into(),
                    finished: true,
                    ..Default::default()
                },
                RegionReport {
                    region: "us-west-2".into(),
                    finished: false,
                    ..Default::default()
                },
            ],
            accounts: Vec::new(),
        }
    }

    /// A sweep of an organization: accounts swept, unreachable, left out
    /// and (more than a list shows) queued.
    fn organization(regions: bool) -> SweepReport {
        use crate::domain::accounts::{Account, AccountState, AccountStatus};
        let mut accounts = vec![
            AccountStatus {
                account: Account {
                    id: "111111111111".into(),
                    name: Some("team-a".into()),
                },
                state: AccountState::Swept,
            },
            AccountStatus {
                account: Account::new("222222222222"),
                state: AccountState::Unreachable("sts:AssumeRole failed: AccessDenied".into()),
            },
            AccountStatus {
                account: Account::new("333333333333"),
                state: AccountState::NotSwept("the account is suspended".into()),
            },
        ];
        accounts.extend((0..52).map(|i| AccountStatus {
            account: Account::new(&format!("4444444444{i:02}")),
            state: AccountState::Queued,
        }));
        let region = |account: &str, region: &str, stopped: Vec<Resource>| RegionReport {
            region: region.into(),
            account: Some(account.into()),
            stopped,
            finished: true,
            ..Default::default()
        };
        SweepReport {
            dry_run: false,
            regions: if regions {
                vec![
                    region("111111111111", "eu-west-1", one_of_each("eu-west-1")),
                    region("111111111111", "us-east-1", vec![]),
                    region("555555555555", "us-east-1", vec![ec2("i-0other")]),
                ]
            } else {
                vec![]
            },
            accounts,
        }
    }

    /// Each trigger sample, and the sweeps above rendered as every kind of
    /// incident: acted, dry run, not started, nothing found, stopped
    /// earlier, an organization, and one only queued.
    #[test]
    fn golden_every_trigger_and_sweep() {
        use crate::domain::render::{check_golden, golden_case};
        use crate::domain::spend::{month_to_date_period, MonthToDate, MonthToDateState};
        let stamp = Stamp {
            at: "2026-11-22T06:00:05Z".into(),
            by: "budget:student-monthly".into(),
        };
        let money = MonthToDateState::Known(MonthToDate::from_services(
            month_to_date_period(time::macros::date!(2026 - 11 - 22)).unwrap(),
            vec![
                ("Amazon Elastic Compute Cloud - Compute".into(), 812.4),
                ("Amazon Relational Database Service".into(), 120.0),
            ],
        ));
        let every = SelectionConfig {
            selection: Selection::AllExceptExempt,
            exempt_tag_key: "cost-guard-exempt".into(),
        };
        let any_value = SelectionConfig {
            selection: Selection::Tagged {
                key: "team".into(),
                value: None,
            },
            exempt_tag_key: "keep".into(),
        };
        let mut out = String::new();
        let incident = |fired: &[(Trigger, Decision)],
                        sweep: Option<&SweepReport>,
                        select: &SelectionConfig,
                        money: Option<&MonthToDateState>,
                        resume: Option<&str>| {
            render(&Incident {
                fired,
                sweep,
                sweep_error: None,
                select,
                stamp: Some(&stamp),
                money,
                cost_metric: crate::domain::spend::CostMetric::UnblendedCost,
                resume_function: resume,
            })
        };

        let dir = format!("{}/../../events", env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| {
                ["budget-", "alarm-", "anomaly", "unrecognised"]
                    .iter()
                    .any(|p| n.starts_with(p))
            })
            .collect();
        files.sort();
        let small = sweep(1, 1);
        for file in &files {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{file}")).unwrap())
                    .unwrap();
            let message = v["Records"][0]["Sns"]["Message"].as_str().expect(file);
            let f = fired(message);
            let acts = f[0].1.verdict == Verdict::Act;
            let m = incident(&f, acts.then_some(&small), &select(), None, None);
            golden_case(&mut out, file, Some(&m));
        }

        let f = fired(BUDGET);
        let big = eventful();
        let m = incident(
            &f,
            Some(&big),
            &every,
            Some(&money),
            Some("guard-Resume-1A2B"),
        );
        golden_case(&mut out, "a sweep with everything", Some(&m));
        let dry = SweepReport {
            dry_run: true,
            ..eventful()
        };
        let m = incident(&f, Some(&dry), &any_value, None, None);
        golden_case(&mut out, "the same, a dry run", Some(&m));
        let m = render(&Incident {
            fired: &f,
            sweep: None,
            sweep_error: Some("ec2:DescribeRegions failed: AccessDenied"),
            select: &select(),
            stamp: None,
            money: None,
            cost_metric: crate::domain::spend::CostMetric::NetUnblendedCost,
            resume_function: None,
        });
        golden_case(&mut out, "the sweep could not start", Some(&m));
        let nothing = SweepReport {
            dry_run: false,
            regions: vec![RegionReport {
                region: "eu-west-1".into(),
                finished: true,
                ..Default::default()
            }],
            accounts: vec![],
        };
        let m = incident(&f, Some(&nothing), &select(), None, None);
        golden_case(&mut out, "nothing to stop", Some(&m));
        let earlier = SweepReport {
            dry_run: false,
            regions: vec![RegionReport {
                region: "eu-west-1".into(),
                earlier: vec![ec2("i-0a"), ec2("i-0b")],
                finished: true,
                ..Default::default()
            }],
            accounts: vec![],
        };
        let m = incident(&f, Some(&earlier), &select(), None, None);
        golden_case(&mut out, "stopped by an earlier run", Some(&m));
        let org = organization(true);
        let m = incident(&f, Some(&org), &select(), None, Some("guard-Resume-1A2B"));
        golden_case(&mut out, "an organization", Some(&m));
        let queued = organization(false);
        let m = incident(&f, Some(&queued), &select(), None, None);
        golden_case(&mut out, "an organization, queued", Some(&m));
        let queued = SweepReport {
            dry_run: true,
            ..organization(false)
        };
        let m = incident(&f, Some(&queued), &select(), None, None);
        golden_case(&mut out, "an organization, queued, dry run", Some(&m));
        check_golden("stop_on_overspend", &out);
    }
}
