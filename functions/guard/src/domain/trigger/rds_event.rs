//! RDS's events, as EventBridge delivers them (`source` aws.rds, "RDS DB
//! Instance Event" or "RDS DB Cluster Event"): which database, and whether RDS
//! is starting it because it was stopped for 7 days. Pure.

use serde_json::Value;

use super::{excerpt, json_text};

/// RDS starts a DB instance stopped for 7 days (AWS's event id).
pub(crate) const INSTANCE_FORCED_START: &str = "RDS-EVENT-0154";
/// A DB instance has been started.
pub(crate) const INSTANCE_STARTED: &str = "RDS-EVENT-0088";
/// RDS starts a DB cluster stopped for 7 days.
pub(crate) const CLUSTER_FORCED_START: &str = "RDS-EVENT-0153";
/// A DB cluster has been started.
pub(crate) const CLUSTER_STARTED: &str = "RDS-EVENT-0151";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DbKind {
    Instance,
    Cluster,
}

/// What the event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RdsHappening {
    /// RDS is starting it because it was stopped for the longest time RDS allows.
    ForcedStart,
    /// It has started (after a forced start, or because someone started it).
    Started,
    /// Anything else RDS reports (backups, maintenance, ...).
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RdsEvent {
    pub kind: DbKind,
    pub id: String,
    pub arn: String,
    pub region: String,
    /// The account the database is in: the event's, or its ARN's.
    pub account: Option<String>,
    pub event_id: String,
    pub message: String,
    pub happening: RdsHappening,
}

/// Reads an RDS event; an error says what is missing.
pub(crate) fn parse_rds_event(event: &Value) -> Result<RdsEvent, String> {
    let field = |key: &str| json_text(event.get(key));
    if field("source").as_deref() != Some("aws.rds") {
        return Err(format!(
            "expected an EventBridge event from aws.rds, got source {}",
            field("source")
                .map(|s| excerpt(&s))
                .unwrap_or_else(|| "missing".into())
        ));
    }
    let kind = match field("detail-type").as_deref() {
        Some("RDS DB Instance Event") => DbKind::Instance,
        Some("RDS DB Cluster Event") => DbKind::Cluster,
        other => {
            return Err(format!(
                "expected an RDS DB Instance Event or RDS DB Cluster Event, got {}",
                other
                    .map(excerpt)
                    .unwrap_or_else(|| "no detail-type".into())
            ))
        }
    };
    let detail = event
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or("the RDS event has no `detail` object")?;
    let arn = json_text(detail.get("SourceArn"))
        .or_else(|| {
            event
                .get("resources")
                .and_then(|r| r.get(0))
                .and_then(|r| json_text(Some(r)))
        })
        .ok_or("the RDS event names no database (`detail.SourceArn`)")?;
    // arn:aws:rds:REGION:ACCOUNT:db:NAME or ...:cluster:NAME
    let parsed = crate::domain::arn::Arn::parse(&arn).filter(|a| a.service == "rds");
    let kind_and_name = parsed.and_then(|a| a.resource.split_once(':'));
    let (arn_region, arn_account, arn_type, arn_name) = match (parsed, kind_and_name) {
        (Some(a), Some((kind, name))) if !name.is_empty() && !name.contains(':') => {
            (a.region, a.account, kind, name)
        }
        _ => {
            return Err(format!(
                "`detail.SourceArn` {} is not an RDS ARN",
                excerpt(&arn)
            ))
        }
    };
    if (kind == DbKind::Instance) != (arn_type == "db") {
        return Err(format!(
            "`detail.SourceArn` {} does not name a {}",
            excerpt(&arn),
            if kind == DbKind::Instance {
                "DB instance"
            } else {
                "DB cluster"
            }
        ));
    }
    let event_id = json_text(detail.get("EventID")).unwrap_or_default();
    let message = json_text(detail.get("Message")).unwrap_or_default();
    // The id names the happening; the message is the fallback where it is absent.
    let happening = match event_id.as_str() {
        INSTANCE_FORCED_START | CLUSTER_FORCED_START => RdsHappening::ForcedStart,
        INSTANCE_STARTED | CLUSTER_STARTED => RdsHappening::Started,
        "" if message.contains("exceeding the maximum allowed time being stopped") => {
            RdsHappening::ForcedStart
        }
        _ => RdsHappening::Other,
    };
    Ok(RdsEvent {
        kind,
        id: arn_name.to_string(),
        region: field("region").unwrap_or_else(|| arn_region.to_string()),
        account: field("account")
            .or_else(|| Some(arn_account.to_string()).filter(|a| !a.is_empty())),
        arn,
        event_id,
        message: excerpt(&message),
        happening,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> Value {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn every_rds_sample() {
        let cases = [
            (
                "rds-instance-forced-start.json",
                DbKind::Instance,
                "analytics-db",
                RdsHappening::ForcedStart,
            ),
            (
                "rds-instance-started.json",
                DbKind::Instance,
                "analytics-db",
                RdsHappening::Started,
            ),
            (
                "rds-cluster-forced-start.json",
                DbKind::Cluster,
                "reporting-aurora",
                RdsHappening::ForcedStart,
            ),
            (
                "rds-cluster-started.json",
                DbKind::Cluster,
                "reporting-aurora",
                RdsHappening::Started,
            ),
            (
                "rds-instance-backup.json",
                DbKind::Instance,
                "analytics-db",
                RdsHappening::Other,
            ),
        ];
        for (file, kind, id, happening) in cases {
            let e = parse_rds_event(&sample(file)).unwrap();
            assert_eq!(
                (e.kind, e.id.as_str(), e.happening),
                (kind, id, happening),
                "{file}"
            );
            assert!(e.arn.ends_with(id));
        }
        let e = parse_rds_event(&sample("rds-cluster-started.json")).unwrap();
        assert_eq!(e.region, "eu-west-1");
        assert_eq!(e.account.as_deref(), Some("123456789012"));
    }

    #[test]
    fn the_account_is_the_events_or_else_the_arns() {
        let mut e = sample("rds-instance-started.json");
        e["account"] = serde_json::json!("222222222222");
        assert_eq!(
            parse_rds_event(&e).unwrap().account.as_deref(),
            Some("222222222222")
        );
        e.as_object_mut().unwrap().remove("account");
        let arn = e["detail"]["SourceArn"].as_str().unwrap().to_string();
        let in_arn = arn.split(':').nth(4).unwrap().to_string();
        assert_eq!(parse_rds_event(&e).unwrap().account, Some(in_arn));
    }

    #[test]
    fn the_message_stands_in_for_a_missing_event_id() {
        let mut e = sample("rds-instance-forced-start.json");
        e["detail"].as_object_mut().unwrap().remove("EventID");
        assert_eq!(
            parse_rds_event(&e).unwrap().happening,
            RdsHappening::ForcedStart
        );
        // Any other message, without an id, is not a forced start.
        let mut e = sample("rds-instance-started.json");
        e["detail"].as_object_mut().unwrap().remove("EventID");
        assert_eq!(parse_rds_event(&e).unwrap().happening, RdsHappening::Other);
    }

    #[test]
    fn the_arn_must_name_one_database() {
        for arn in [
            "arn:aws:rds:us-east-1:123456789012:db:",
            "arn:aws:rds:us-east-1:123456789012:db:analytics:db",
        ] {
            let mut e = sample("rds-instance-started.json");
            e["detail"]["SourceArn"] = arn.into();
            let err = parse_rds_event(&e).unwrap_err();
            assert!(err.contains("is not an RDS ARN"), "{arn}: {err}");
        }
    }

    #[test]
    fn malformed_events_say_what_is_wrong() {
        let base = sample("rds-instance-started.json");
        let with = |f: &dyn Fn(&mut Value)| {
            let mut e = base.clone();
            f(&mut e);
            parse_rds_event(&e).unwrap_err()
        };
        assert!(with(&|e| e["source"] = "aws.ec2".into()).contains("aws.rds"));
        assert!(with(&|e| e["detail-type"] = "RDS DB Snapshot Event".into())
            .contains("RDS DB Instance Event"));
        assert!(with(&|e| e["detail"] = Value::Null).contains("no `detail` object"));
        assert!(with(&|e| {
            e["detail"].as_object_mut().unwrap().remove("SourceArn");
            e.as_object_mut().unwrap().remove("resources");
        })
        .contains("names no database"));
        assert!(
            with(&|e| e["detail"]["SourceArn"] = "arn:aws:rds:us-east-1:1:cluster:c".into())
                .contains("does not name a DB instance")
        );
        assert!(
            with(&|e| e["detail"]["SourceArn"] = "analytics-db".into()).contains("not an RDS ARN")
        );
    }
}
