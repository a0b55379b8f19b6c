//! What `resume`'s subscribers (and the command line) read: what was asked,
//! what was started in each region, what was left and why. Pure.

use std::fmt::Write as _;

use time::format_description::well_known::Rfc3339;

use crate::domain::render::{outcome_subject, plural, res_line, section, subject_line, Message};
use crate::domain::resume::{ResumeReport, ResumeRequest};
use crate::domain::tags::{RESUMING_TAG, STOPPED_AT_TAG};

/// What was asked, in words: `everything cost-guard stopped`, `what budget:x
/// stopped since 2026-11-22T10:00:00Z`.
pub(crate) fn asked(request: &ResumeRequest) -> String {
    let since = request
        .since
        .and_then(|t| t.format(&Rfc3339).ok())
        .map(|t| format!(" since {t}"));
    match (&request.stopped_by, since) {
        (None, None) => "everything cost-guard stopped".into(),
        (None, Some(since)) => format!("what cost-guard stopped{since}"),
        (Some(by), since) => format!("what {by} stopped{}", since.unwrap_or_default()),
    }
}

pub fn render(report: &ResumeReport, request: &ResumeRequest) -> Message {
    let n = report.started_count();
    let where_ = plural(
        report
            .regions
            .iter()
            .filter(|r| !r.started.is_empty())
            .count(),
        "region",
        "regions",
    );
    let mut outcome = if report.dry_run {
        format!(
            "[dry run] cost-guard would start {} in {where_}",
            plural(n, "resource", "resources")
        )
    } else if n == 0 {
        "cost-guard found nothing to start".to_string()
    } else {
        format!(
            "cost-guard started {} in {where_}",
            plural(n, "resource", "resources")
        )
    };
    let troubled = report.troubled_regions();
    if !troubled.is_empty() {
        let _ = write!(
            outcome,
            ", {} failed",
            plural(troubled.len(), "region", "regions")
        );
    }
    let subject = outcome_subject(&outcome, &format!("resume {}", asked(request)));

    let mut b = String::new();
    if report.dry_run {
        b.push_str(
            "DRY RUN: nothing was started or untagged. This is what resume would start.\n\n",
        );
    }
    let _ = writeln!(
        b,
        "WHAT WAS ASKED\nResume {}: start again what carries the {STOPPED_AT_TAG} stamp and is stopped.\n",
        asked(request)
    );
    b.push_str("WHAT HAPPENED\n");
    let _ = writeln!(
        b,
        "{} {} in {}; {} swept.",
        if report.dry_run {
            "Would start"
        } else {
            "Started"
        },
        plural(n, "resource", "resources"),
        where_,
        plural(report.regions.len(), "region", "regions"),
    );
    if report.skipped_count() > 0 {
        let _ = writeln!(
            b,
            "Left as they are: {} (reasons below).",
            plural(report.skipped_count(), "resource", "resources")
        );
    }
    if !troubled.is_empty() {
        let names: Vec<String> = troubled.iter().map(|r| r.label()).collect();
        let _ = writeln!(
            b,
            "NOT COMPLETE in {}: run resume again; what is already started is left alone.",
            names.join(", ")
        );
    }
    b.push('\n');
    let mut quiet = Vec::new();
    for r in &report.regions {
        if r.started.is_empty() && r.skipped.is_empty() && r.is_clean() && r.warnings.is_empty() {
            quiet.push(r.label());
            continue;
        }
        let _ = writeln!(b, "{}", r.label());
        let title = if report.dry_run {
            "Would start"
        } else {
            "Started"
        };
        section(&mut b, title, r.started.iter().map(res_line).collect());
        section(
            &mut b,
            "Left as they are",
            r.skipped
                .iter()
                .map(|s| format!("{}: {}", res_line(&s.resource), s.reason))
                .collect(),
        );
        section(
            &mut b,
            "Failed",
            r.failed
                .iter()
                .map(|f| format!("{}: {}", res_line(&f.resource), f.error))
                .collect(),
        );
        section(&mut b, "Region errors", r.errors.clone());
        section(&mut b, "Warnings", r.warnings.clone());
        b.push('\n');
    }
    if !quiet.is_empty() {
        let _ = writeln!(b, "Nothing to start in: {}.\n", quiet.join(", "));
    }
    if !report.dry_run && n > 0 {
        let _ = writeln!(
            b,
            "The stamp was taken off each resource before it was started (the {RESUMING_TAG} tag held it meanwhile), so the keep-stopped watch does not stop them again."
        );
    }
    Message {
        subject: subject_line(&subject),
        body: b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::inventory::{Resource, ResourceKind};
    use crate::domain::resume::ResumeRegion;
    use crate::domain::select::Skipped;

    fn res(id: &str, kind: ResourceKind) -> Resource {
        Resource {
            kind,
            id: id.into(),
            name: None,
            size: "g4dn.xlarge".into(),
        }
    }

    #[test]
    fn subjects_and_sections() {
        let report = ResumeReport {
            dry_run: false,
            regions: vec![
                ResumeRegion {
                    region: "eu-west-1".into(),
                    started: vec![
                        res("i-1", ResourceKind::Ec2Instance),
                        res("db-1", ResourceKind::DbInstance),
                    ],
                    skipped: vec![Skipped {
                        resource: res("i-2", ResourceKind::Ec2Instance),
                        reason: "still stopping: run resume again once it has stopped".into(),
                    }],
                    ..Default::default()
                },
                ResumeRegion {
                    region: "us-east-1".into(),
                    ..Default::default()
                },
            ],
        };
        let by = ResumeRequest {
            stopped_by: Some("budget:monthly".into()),
            ..Default::default()
        };
        let m = render(&report, &by);
        assert_eq!(
            m.subject,
            "cost-guard started 2 resources in 1 region (resume what budget:monthly stopped)"
        );
        assert!(m
            .body
            .contains("  Started:\n    i-1  -  g4dn.xlarge  (EC2 instance)\n    db-1"));
        assert!(m.body.contains(
            "  Left as they are:\n    i-2  -  g4dn.xlarge  (EC2 instance): still stopping"
        ));
        assert!(m.body.contains("Nothing to start in: us-east-1."));
        assert!(m
            .body
            .contains("taken off each resource before it was started"));
        let dry = ResumeReport {
            dry_run: true,
            ..report.clone()
        };
        let m = render(&dry, &ResumeRequest::default());
        assert!(m.subject.starts_with(
            "[dry run] cost-guard would start 2 resources in 1 region (resume everything"
        ));
        assert!(m.body.starts_with("DRY RUN"));
        assert!(!m.body.contains("taken off"));
    }

    /// Resume's report for each shape a run can take: starts in some regions
    /// and not others, skips, failures, warnings alone, an account that
    /// could not be reached, a dry run, and nothing to start.
    #[test]
    fn golden_every_shape() {
        use crate::domain::outcome::Failed;
        use crate::domain::render::{check_golden, golden_case};
        let region = |name: &str| ResumeRegion {
            region: name.into(),
            ..Default::default()
        };
        let report = ResumeReport {
            dry_run: false,
            regions: vec![
                ResumeRegion {
                    started: vec![
                        res("i-1", ResourceKind::Ec2Instance),
                        res("db-1", ResourceKind::DbInstance),
                    ],
                    skipped: vec![Skipped {
                        resource: res("i-2", ResourceKind::Ec2Instance),
                        reason: "still stopping: run resume again once it has stopped".into(),
                    }],
                    ..region("eu-west-1")
                },
                ResumeRegion {
                    started: vec![res("render-farm", ResourceKind::AutoScalingGroup)],
                    warnings: vec!["the resuming marker could not be removed: Throttling".into()],
                    ..region("us-east-1")
                },
                region("sa-east-1"),
                ResumeRegion {
                    failed: vec![Failed {
                        resource: res("i-3", ResourceKind::Ec2Instance),
                        error: "InsufficientInstanceCapacity".into(),
                    }],
                    errors: vec!["rds:DescribeDBInstances failed: Throttling".into()],
                    ..region("ap-south-1")
                },
                ResumeRegion {
                    warnings: vec!["a saved state was refused: its seal does not match".into()],
                    ..region("eu-north-1")
                },
                ResumeRegion {
                    skipped: vec![Skipped {
                        resource: res("nb-1", ResourceKind::SageMakerNotebook),
                        reason: "running already".into(),
                    }],
                    ..region("ca-central-1")
                },
                ResumeRegion {
                    account: Some("222222222222".into()),
                    errors: vec!["cannot assume the member role: AccessDenied".into()],
                    ..region("")
                },
            ],
        };
        let since = time::macros::datetime!(2026-11-22 10:00:00 UTC);
        let by = ResumeRequest {
            stopped_by: Some("budget:monthly".into()),
            since: Some(since),
            ..Default::default()
        };
        let mut out = String::new();
        golden_case(&mut out, "every shape", Some(&render(&report, &by)));
        let dry = ResumeReport {
            dry_run: true,
            ..report.clone()
        };
        let since_only = ResumeRequest {
            since: Some(since),
            ..Default::default()
        };
        golden_case(&mut out, "a dry run", Some(&render(&dry, &since_only)));
        let nothing = ResumeReport {
            dry_run: false,
            regions: vec![region("eu-west-1"), region("us-east-1")],
        };
        let all = ResumeRequest::default();
        golden_case(&mut out, "nothing to start", Some(&render(&nothing, &all)));
        check_golden("resume", &out);
    }
}
