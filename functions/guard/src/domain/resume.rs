//! What `resume` starts again: only what carries cost-guard's stamp (or the
//! marker of a resume that did not finish), all of it or only what one trigger
//! stopped or what was stopped since a time; and what it leaves, with why. Pure.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::domain::inventory::{tag, Record, Resource, Tags, Target};
use crate::domain::outcome::Failed;
use crate::domain::select::Skipped;
use crate::domain::tags::{RESUMING_TAG, STOPPED_AT_TAG, STOPPED_BY_TAG};

/// What to resume, as the function's payload or the command line's flags:
/// `{"stopped_by": "budget:student-monthly", "since": "2026-11-22T10:00:00Z", "dry_run": true}`,
/// every field optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResumeRequest {
    /// Only what this trigger stopped (the `cost-guard:stopped-by` value).
    #[serde(default)]
    pub stopped_by: Option<String>,
    /// Only what was stopped at or after this time (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
    /// List what would be started; start nothing.
    #[serde(default)]
    pub dry_run: bool,
}

impl ResumeRequest {
    /// Reads the function's payload; an error names what is wrong.
    pub(crate) fn from_payload(payload: &serde_json::Value) -> Result<Self, String> {
        let expected = "expected for example {\"stopped_by\": \"budget:student-monthly\", \"since\": \"2026-11-22T10:00:00Z\", \"dry_run\": true}, every field optional";
        match payload {
            serde_json::Value::Null => return Ok(ResumeRequest::default()),
            serde_json::Value::Object(_) => {}
            // serde would read a struct from an array too: `[]` would mean "everything".
            other => {
                return Err(format!(
                    "the resume payload is not valid (a JSON {}, not an object); {expected}",
                    match other {
                        serde_json::Value::Array(_) => "array",
                        serde_json::Value::String(_) => "string",
                        serde_json::Value::Number(_) => "number",
                        _ => "boolean",
                    }
                ))
            }
        }
        serde_json::from_value(payload.clone()).map_err(|e| {
            format!(
                "the resume payload is not valid ({}); expected for example {{\"stopped_by\": \"budget:student-monthly\", \"since\": \"2026-11-22T10:00:00Z\", \"dry_run\": true}}, every field optional",
                crate::domain::trigger::excerpt(&e.to_string())
            )
        })
    }
}

/// The stamp a resource carries: its two tags, or the resuming marker a
/// resume wrote in their place before it started the resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stamped {
    pub at: String,
    pub by: String,
    /// Read from the resuming marker: an earlier resume removed the stamp but
    /// did not finish starting the resource.
    pub resuming: bool,
}

pub(crate) fn stamp_of(tags: &Tags) -> Option<Stamped> {
    if let Some(at) = tag(tags, STOPPED_AT_TAG) {
        return Some(Stamped {
            at: at.to_string(),
            by: tag(tags, STOPPED_BY_TAG).unwrap_or_default().to_string(),
            resuming: false,
        });
    }
    let marker = tag(tags, RESUMING_TAG)?;
    let (at, by) = marker.split_once(' ').unwrap_or((marker, ""));
    Some(Stamped {
        at: at.to_string(),
        by: by.to_string(),
        resuming: true,
    })
}

/// The resuming marker's value: the stamp's time and trigger, in one tag
/// value (RDS allows letters, digits, spaces and `_.:/=+-@`).
pub(crate) fn marker_value(stamp: &Stamped) -> String {
    format!("{} {}", stamp.at, stamp.by)
        .chars()
        .take(256)
        .collect()
}

/// The trigger of everything the launch tripwire stops starts so
/// (`tripwire:RunInstances`, `tripwire:guardduty`, ...).
pub(crate) const TRIPWIRE_STAMP_PREFIX: &str = "tripwire:";

/// What one resume will start of one kind in a region, each with the stamp
/// it carries, and what it leaves, with why.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct StartPlan {
    pub targets: Vec<(Target, Stamped)>,
    pub skipped: Vec<Skipped>,
}

/// Whether a stamped resource is one the request asks for. A stamp whose time
/// cannot be read is asked for only when no time was given.
///
/// What the launch tripwire stopped is started only when the request names
/// its trigger: it is what a principal the owner did not trust launched (a
/// hijacker's miners, as likely as not), and resume's own starts are trusted,
/// so a resume of "everything" would start them for good.
fn wanted(stamp: &Stamped, request: &ResumeRequest) -> Result<bool, String> {
    match request.stopped_by.as_deref() {
        Some(by) if by != stamp.by => return Ok(false),
        None if stamp.by.starts_with(TRIPWIRE_STAMP_PREFIX) => {
            return Err(format!(
                "stopped by the launch tripwire ({}): an untrusted principal launched it, so only a resume that names `{}` starts it (\"stopped_by\", or --stopped-by)",
                stamp.by, stamp.by
            ))
        }
        _ => {}
    }
    match request.since {
        None => Ok(true),
        Some(since) => match OffsetDateTime::parse(&stamp.at, &Rfc3339) {
            Ok(at) => Ok(at >= since),
            Err(_) => Err(format!(
                "its stamp {STOPPED_AT_TAG}={} is not a time, so --since cannot place it; start it by hand",
                stamp.at
            )),
        },
    }
}

/// Chooses what to start among one kind's records in one region: the stamp
/// and the request first; then the kind says whether it can be started now.
pub(crate) fn plan_start<R: Record>(records: &[R], request: &ResumeRequest) -> StartPlan {
    let mut plan = StartPlan::default();
    let mut not_now = Vec::new();
    for r in records {
        let Some(stamp) = stamp_of(r.tags()) else {
            continue;
        };
        match wanted(&stamp, request) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(reason) => {
                plan.skipped.push(Skipped {
                    resource: r.resource(),
                    reason,
                });
                continue;
            }
        }
        match r.startable() {
            Ok(()) => plan.targets.push((Target::of(r), stamp)),
            Err(reason) => not_now.push(Skipped {
                resource: r.resource(),
                reason,
            }),
        }
    }
    plan.skipped.extend(not_now);
    plan
}

/// What one resume did in one region.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ResumeRegion {
    /// Empty for an account that could not be reached at all.
    pub region: String,
    /// The account, when resume covers more than the guard's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Started (or, in a dry run, that would be started).
    pub started: Vec<Resource>,
    pub skipped: Vec<Skipped>,
    pub failed: Vec<Failed>,
    /// Errors about the region as a whole (a describe that failed).
    pub errors: Vec<String>,
    /// Started, but the resuming marker could not be removed, and the like.
    pub warnings: Vec<String>,
}

impl ResumeRegion {
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty() && self.failed.is_empty()
    }

    /// `eu-west-1`, `111111111111/eu-west-1`, or `account 111111111111`
    /// when the account itself could not be reached.
    pub fn label(&self) -> String {
        match (&self.account, self.region.is_empty()) {
            (Some(a), true) => format!("account {a}"),
            (Some(a), false) => format!("{a}/{}", self.region),
            (None, _) => self.region.clone(),
        }
    }
}

/// What one resume did everywhere.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ResumeReport {
    pub dry_run: bool,
    pub regions: Vec<ResumeRegion>,
}

impl ResumeReport {
    pub fn started_count(&self) -> usize {
        self.regions.iter().map(|r| r.started.len()).sum()
    }
    pub fn skipped_count(&self) -> usize {
        self.regions.iter().map(|r| r.skipped.len()).sum()
    }
    pub(crate) fn failed_count(&self) -> usize {
        self.regions.iter().map(|r| r.failed.len()).sum()
    }
    pub fn troubled_regions(&self) -> Vec<&ResumeRegion> {
        self.regions.iter().filter(|r| !r.is_clean()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::kinds::db_cluster::DbCluster;
    use crate::domain::kinds::db_instance::DbInstance;
    use crate::domain::kinds::ec2_instance::Ec2Instance;

    /// The three kinds' plans for one region.
    struct ResumePlan {
        instances: Vec<(Target, Stamped)>,
        databases: Vec<(Target, Stamped)>,
        clusters: Vec<(Target, Stamped)>,
        skipped: Vec<Skipped>,
    }

    fn plan_resume(
        i: &[Ec2Instance],
        d: &[DbInstance],
        c: &[DbCluster],
        request: &ResumeRequest,
    ) -> ResumePlan {
        let (i, d, c) = (
            plan_start(i, request),
            plan_start(d, request),
            plan_start(c, request),
        );
        ResumePlan {
            skipped: [&i, &d, &c]
                .iter()
                .flat_map(|p| p.skipped.clone())
                .collect(),
            instances: i.targets,
            databases: d.targets,
            clusters: c.targets,
        }
    }

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn stamp(at: &str, by: &str) -> Tags {
        tags(&[(STOPPED_AT_TAG, at), (STOPPED_BY_TAG, by)])
    }

    fn ec2(id: &str, state: &str, tags: Tags) -> Ec2Instance {
        Ec2Instance {
            id: id.into(),
            instance_type: "g4dn.xlarge".into(),
            state: state.into(),
            root_device_type: Some("ebs".into()),
            spot_request_id: None,
            tags,
        }
    }

    fn db(id: &str, status: &str, cluster: Option<&str>, tags: Tags) -> DbInstance {
        DbInstance {
            id: id.into(),
            arn: format!("arn:aws:rds:us-east-1:123456789012:db:{id}"),
            class: "db.t3.micro".into(),
            engine: "postgres".into(),
            status: status.into(),
            cluster_id: cluster.map(str::to_string),
            replica_source: None,
            replicas: vec![],
            tags,
        }
    }

    fn cluster(id: &str, status: &str, tags: Tags) -> DbCluster {
        DbCluster {
            id: id.into(),
            arn: format!("arn:aws:rds:us-east-1:123456789012:cluster:{id}"),
            engine: "aurora-postgresql".into(),
            engine_mode: Some("provisioned".into()),
            status: status.into(),
            replication_source: None,
            tags,
        }
    }

    const EARLY: &str = "2026-11-22T08:00:00Z";
    const LATE: &str = "2026-11-22T12:00:00Z";

    fn fleet() -> (Vec<Ec2Instance>, Vec<DbInstance>, Vec<DbCluster>) {
        (
            vec![
                ec2("i-budget", "stopped", stamp(EARLY, "budget:monthly")),
                ec2("i-alarm", "stopped", stamp(LATE, "alarm:billing")),
                ec2("i-unstamped", "stopped", tags(&[("cost-guard", "stop")])),
                ec2("i-stopping", "stopping", stamp(LATE, "alarm:billing")),
                ec2("i-running", "running", stamp(LATE, "alarm:billing")),
                ec2("i-gone", "terminated", stamp(LATE, "alarm:billing")),
                ec2(
                    "i-half-resumed",
                    "stopped",
                    tags(&[(RESUMING_TAG, "2026-11-22T12:00:00Z alarm:billing")]),
                ),
            ],
            vec![
                db("db-budget", "stopped", None, stamp(EARLY, "budget:monthly")),
                db(
                    "aurora-1",
                    "stopped",
                    Some("aurora"),
                    stamp(LATE, "alarm:billing"),
                ),
                db("db-plain", "stopped", None, tags(&[])),
            ],
            vec![cluster("aurora", "stopped", stamp(LATE, "alarm:billing"))],
        )
    }

    fn ids(plan: &ResumePlan) -> Vec<&str> {
        let mut v: Vec<&str> = plan
            .instances
            .iter()
            .chain(&plan.databases)
            .chain(&plan.clusters)
            .map(|(t, _)| t.resource.id.as_str())
            .collect();
        v.sort();
        v
    }

    fn skipped(plan: &ResumePlan) -> Vec<(&str, &str)> {
        let mut v: Vec<(&str, &str)> = plan
            .skipped
            .iter()
            .map(|s| (s.resource.id.as_str(), s.reason.as_str()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn the_report_counts_each_region_and_names_the_troubled_ones() {
        use crate::domain::inventory::{Resource, ResourceKind};
        use crate::domain::outcome::Failed;
        let r = |id: &str| Resource {
            kind: ResourceKind::Ec2Instance,
            id: id.into(),
            name: None,
            size: "t3.micro".into(),
        };
        let skipped = |id: &str| Skipped {
            resource: r(id),
            reason: "running".into(),
        };
        let clean = ResumeRegion {
            region: "eu-west-1".into(),
            started: vec![r("i-1"), r("i-2")],
            skipped: vec![skipped("i-3")],
            warnings: vec!["the marker stayed".into()],
            ..Default::default()
        };
        // A describe that failed, with nothing failed to start: troubled.
        let unread = ResumeRegion {
            region: "us-east-1".into(),
            errors: vec!["DescribeInstances: throttled".into()],
            ..Default::default()
        };
        // A start that failed, with no error about the region: troubled.
        let refused = ResumeRegion {
            region: "ap-south-1".into(),
            account: Some("111111111111".into()),
            started: vec![r("i-4")],
            skipped: vec![skipped("i-5"), skipped("i-6")],
            failed: ["i-7", "i-8"]
                .map(|id| Failed {
                    resource: r(id),
                    error: "AccessDenied".into(),
                })
                .to_vec(),
            ..Default::default()
        };
        assert!(clean.is_clean() && !unread.is_clean() && !refused.is_clean());
        let report = ResumeReport {
            dry_run: false,
            regions: vec![clean, unread, refused],
        };
        assert_eq!(
            (
                report.started_count(),
                report.skipped_count(),
                report.failed_count()
            ),
            (3, 3, 2)
        );
        let troubled: Vec<String> = report
            .troubled_regions()
            .iter()
            .map(|r| r.label())
            .collect();
        assert_eq!(troubled, ["us-east-1", "111111111111/ap-south-1"]);
    }

    #[test]
    fn everything_stamped_and_stopped_is_started_and_nothing_else() {
        let (i, d, c) = fleet();
        let plan = plan_resume(&i, &d, &c, &ResumeRequest::default());
        assert_eq!(
            ids(&plan),
            [
                "aurora",
                "db-budget",
                "i-alarm",
                "i-budget",
                "i-half-resumed"
            ]
        );
        let reasons = skipped(&plan);
        assert_eq!(
            reasons.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            ["aurora-1", "i-gone", "i-running", "i-stopping"]
        );
        assert!(reasons[0].1.contains("member of DB cluster aurora"));
        assert!(reasons[1].1.contains("terminated"));
        assert!(reasons[2].1.contains("already running"));
        assert!(reasons[3].1.contains("still stopping"));
    }

    #[test]
    fn by_trigger_and_by_time() {
        let (i, d, c) = fleet();
        let by = ResumeRequest {
            stopped_by: Some("budget:monthly".into()),
            ..Default::default()
        };
        assert_eq!(
            ids(&plan_resume(&i, &d, &c, &by)),
            ["db-budget", "i-budget"]
        );
        let since = ResumeRequest {
            since: Some(OffsetDateTime::parse("2026-11-22T10:00:00Z", &Rfc3339).unwrap()),
            ..Default::default()
        };
        assert_eq!(
            ids(&plan_resume(&i, &d, &c, &since)),
            ["aurora", "i-alarm", "i-half-resumed"]
        );
        // At the very second counts ("at or after").
        let at = ResumeRequest {
            since: Some(OffsetDateTime::parse(LATE, &Rfc3339).unwrap()),
            ..Default::default()
        };
        assert!(ids(&plan_resume(&i, &d, &c, &at)).contains(&"i-alarm"));
    }

    #[test]
    fn what_the_tripwire_stopped_starts_only_when_named() {
        let i = [
            ec2("i-miner", "stopped", stamp(LATE, "tripwire:RunInstances")),
            ec2("i-budget", "stopped", stamp(LATE, "budget:monthly")),
        ];
        let everything = plan_resume(&i, &[], &[], &ResumeRequest::default());
        assert_eq!(ids(&everything), ["i-budget"]);
        let left = skipped(&everything);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].0, "i-miner");
        assert!(
            left[0]
                .1
                .contains("stopped by the launch tripwire (tripwire:RunInstances)")
                && left[0].1.contains("names `tripwire:RunInstances`"),
            "{}",
            left[0].1
        );
        // A time alone names no trigger either.
        let since = ResumeRequest {
            since: Some(OffsetDateTime::parse(EARLY, &Rfc3339).unwrap()),
            ..Default::default()
        };
        assert_eq!(ids(&plan_resume(&i, &[], &[], &since)), ["i-budget"]);
        let named = ResumeRequest {
            stopped_by: Some("tripwire:RunInstances".into()),
            ..Default::default()
        };
        let plan = plan_resume(&i, &[], &[], &named);
        assert_eq!(ids(&plan), ["i-miner"]);
        assert!(plan.skipped.is_empty());
    }

    #[test]
    fn a_stamp_that_is_no_time_is_named_when_a_time_is_asked_for() {
        let i = [ec2("i-odd", "stopped", stamp("yesterday", "x"))];
        let since = ResumeRequest {
            since: Some(OffsetDateTime::parse(EARLY, &Rfc3339).unwrap()),
            ..Default::default()
        };
        let plan = plan_resume(&i, &[], &[], &since);
        assert!(plan.instances.is_empty());
        assert!(skipped(&plan)[0].1.contains("is not a time"));
        let plan = plan_resume(&i, &[], &[], &ResumeRequest::default());
        assert_eq!(ids(&plan), ["i-odd"]);
    }

    #[test]
    fn the_marker_keeps_the_stamp_for_a_second_resume() {
        let s = stamp_of(&stamp(LATE, "budget:monthly")).unwrap();
        assert!(!s.resuming);
        let marker = marker_value(&s);
        assert_eq!(marker, "2026-11-22T12:00:00Z budget:monthly");
        let again = stamp_of(&tags(&[(RESUMING_TAG, &marker)])).unwrap();
        assert_eq!(
            (again.at.as_str(), again.by.as_str()),
            (LATE, "budget:monthly")
        );
        assert!(again.resuming);
        assert_eq!(stamp_of(&tags(&[("cost-guard", "stop")])), None);
    }

    #[test]
    fn the_sample_payload() {
        let text = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/resume-dry-run.json"
        ));
        let r = ResumeRequest::from_payload(&serde_json::from_str(text).unwrap()).unwrap();
        assert_eq!(r.stopped_by.as_deref(), Some("budget:student-monthly"));
        assert!(r.dry_run);
        assert_eq!(
            r.since,
            Some(OffsetDateTime::parse("2026-11-22T10:00:00Z", &Rfc3339).unwrap())
        );
    }

    #[test]
    fn payloads() {
        assert_eq!(
            ResumeRequest::from_payload(&serde_json::Value::Null),
            Ok(ResumeRequest::default())
        );
        let r = ResumeRequest::from_payload(&serde_json::json!({
            "stopped_by": "budget:monthly", "since": "2026-11-22T10:00:00Z", "dry_run": true
        }))
        .unwrap();
        assert_eq!(r.stopped_by.as_deref(), Some("budget:monthly"));
        assert!(r.dry_run && r.since.is_some());
        for bad in [
            serde_json::json!({"stoped_by": "x"}),
            serde_json::json!({"since": "last week"}),
            serde_json::json!({"dry_run": "yes"}),
            serde_json::json!([1]),
            // Found by fuzzing: an array was read positionally, `[]` as "everything".
            serde_json::json!([]),
            serde_json::json!([null, null, true]),
            serde_json::json!("dry_run"),
        ] {
            let err = ResumeRequest::from_payload(&bad).unwrap_err();
            assert!(err.starts_with("the resume payload is not valid"), "{err}");
            assert!(err.contains("\"dry_run\": true"), "{err}");
        }
    }
}
