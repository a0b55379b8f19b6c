//! Which of a region's resources to stop, and which to leave with a reason. Pure.

use std::collections::{BTreeMap, HashSet};

use crate::domain::config::{Selection, SelectionConfig};
use crate::domain::inventory::{tag, DbCluster, DbInstance, Ec2Instance, Resource, Tags};
use crate::domain::tags::ASG_TAG;

/// A resource the selection matched but that will not be stopped, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Skipped {
    pub resource: Resource,
    pub reason: String,
}

/// How a resource's tags relate to the selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Match {
    Selected,
    /// Carries the exempt tag; never stopped.
    Exempt,
    NotSelected,
}

/// Decides from tags alone whether a resource is selected.
pub(crate) fn match_tags(tags: &Tags, select: &SelectionConfig) -> Match {
    let exempt = tag(tags, &select.exempt_tag_key).is_some();
    let selected = match &select.selection {
        Selection::AllExceptExempt => true,
        Selection::Tagged { key, value } => match (tag(tags, key), value) {
            (Some(_), None) => true,
            (Some(have), Some(want)) => have == want,
            (None, _) => false,
        },
    };
    match (selected, exempt) {
        (true, true) => Match::Exempt,
        (true, false) => Match::Selected,
        (false, _) => Match::NotSelected,
    }
}

/// How long after a stop a later invocation for the same alert still reports
/// it as this alert's work (Lambda retries an event for up to 6 hours).
pub(crate) const EARLIER_WINDOW: time::Duration = time::Duration::hours(24);

/// Whether a selected, stopped resource was stopped for the same alert by an
/// earlier invocation: it carries this alert's `stopped-by` stamp and a
/// `stopped-at` no more than [`EARLIER_WINDOW`] before `now_at` (both RFC 3339).
pub(crate) fn stopped_earlier(tags: &Tags, status: &str, by: &str, now_at: &str) -> bool {
    use time::format_description::well_known::Rfc3339;
    if !matches!(status, "stopped" | "stopping")
        || tag(tags, crate::domain::tags::STOPPED_BY_TAG) != Some(by)
    {
        return false;
    }
    let parse = |t: &str| time::OffsetDateTime::parse(t, &Rfc3339).ok();
    match (
        tag(tags, crate::domain::tags::STOPPED_AT_TAG).and_then(parse),
        parse(now_at),
    ) {
        (Some(at), Some(now)) => at <= now && now - at <= EARLIER_WINDOW,
        _ => false,
    }
}

fn exempt_reason(select: &SelectionConfig) -> String {
    format!("exempt: tagged {}", select.exempt_tag_key)
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ec2Plan {
    pub to_stop: Vec<Ec2Instance>,
    pub skipped: Vec<Skipped>,
}

/// Chooses the EC2 instances to stop. `one_time_spot` holds the spot request ids
/// that are one-time requests (their instances cannot be stopped).
pub fn plan_ec2(
    instances: &[Ec2Instance],
    select: &SelectionConfig,
    one_time_spot: &HashSet<String>,
) -> Ec2Plan {
    let mut plan = Ec2Plan::default();
    for i in instances {
        if !matches!(i.state.as_str(), "running" | "pending") {
            continue;
        }
        let skip = |reason: String| Skipped {
            resource: Resource::from(i),
            reason,
        };
        match match_tags(&i.tags, select) {
            Match::NotSelected => continue,
            Match::Exempt => plan.skipped.push(skip(exempt_reason(select))),
            Match::Selected => {
                if let Some(group) = tag(&i.tags, ASG_TAG) {
                    plan.skipped.push(skip(format!(
                        "member of Auto Scaling group {group}: stopping it would only make the group launch a replacement; set the group's desired capacity to 0 instead"
                    )));
                } else if i.root_device_type.as_deref() == Some("instance-store") {
                    plan.skipped.push(skip(
                        "instance-store root device: such instances cannot be stopped, only terminated".into(),
                    ));
                } else if i
                    .spot_request_id
                    .as_ref()
                    .is_some_and(|r| one_time_spot.contains(r))
                {
                    plan.skipped.push(skip(
                        "spot instance of a one-time request: it cannot be stopped, only terminated".into(),
                    ));
                } else {
                    plan.to_stop.push(i.clone());
                }
            }
        }
    }
    plan
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RdsPlan {
    pub instances: Vec<DbInstance>,
    pub clusters: Vec<DbCluster>,
    pub skipped: Vec<Skipped>,
}

fn is_done(status: &str) -> bool {
    matches!(status, "stopped" | "stopping")
}

/// Chooses the RDS DB instances and clusters to stop. Cluster members are never
/// stopped one by one: the cluster is stopped as a whole, on the cluster's tags,
/// and never when any of its members carries the exempt tag.
pub fn plan_rds(
    instances: &[DbInstance],
    clusters: &[DbCluster],
    select: &SelectionConfig,
) -> RdsPlan {
    let mut plan = RdsPlan::default();
    let mut selected_clusters = HashSet::new();
    // StopDBCluster stops every member, so one exempt member protects its
    // whole cluster. The first in id order is named, so reports are stable.
    let mut exempt_members: BTreeMap<&str, &str> = BTreeMap::new();
    for d in instances {
        if let Some(cluster) = &d.cluster_id {
            if tag(&d.tags, &select.exempt_tag_key).is_some() {
                exempt_members
                    .entry(cluster.as_str())
                    .and_modify(|m| *m = (*m).min(d.id.as_str()))
                    .or_insert(d.id.as_str());
            }
        }
    }
    for c in clusters {
        let skip = |reason: String| Skipped {
            resource: Resource::from(c),
            reason,
        };
        match match_tags(&c.tags, select) {
            Match::NotSelected => continue,
            Match::Exempt => {
                selected_clusters.insert(c.id.as_str());
                if !is_done(&c.status) {
                    plan.skipped.push(skip(exempt_reason(select)));
                }
                continue;
            }
            Match::Selected => {
                selected_clusters.insert(c.id.as_str());
            }
        }
        if is_done(&c.status) {
            continue;
        }
        if let Some(member) = exempt_members.get(c.id.as_str()) {
            plan.skipped.push(skip(format!(
                "member DB instance {member} is exempt (tagged {}): stopping the cluster would stop it too",
                select.exempt_tag_key
            )));
        } else if c.engine_mode.as_deref() == Some("serverless") {
            plan.skipped.push(skip(
                "Aurora Serverless v1 cluster: it cannot be stopped (it pauses by itself)".into(),
            ));
        } else if let Some(source) = &c.replication_source {
            plan.skipped.push(skip(format!(
                "replica cluster of {source}: RDS cannot stop a cluster that replicates another"
            )));
        } else if c.status != "available" {
            plan.skipped.push(skip(format!(
                "status is {}: RDS stops a cluster only when it is available",
                c.status
            )));
        } else {
            plan.clusters.push(c.clone());
        }
    }
    for d in instances {
        let m = match_tags(&d.tags, select);
        let skip = |reason: String| Skipped {
            resource: Resource::from(d),
            reason,
        };
        if let Some(cluster) = &d.cluster_id {
            // Members follow their cluster. Only mention a member when the user
            // tagged it but not its cluster, so they learn why it kept running.
            if m == Match::Selected
                && !selected_clusters.contains(cluster.as_str())
                && !is_done(&d.status)
            {
                plan.skipped.push(skip(format!(
                    "member of DB cluster {cluster}, which is not selected: clusters are stopped as a whole, so tag the cluster"
                )));
            }
            continue;
        }
        match m {
            Match::NotSelected => continue,
            Match::Exempt => {
                if !is_done(&d.status) {
                    plan.skipped.push(skip(exempt_reason(select)));
                }
                continue;
            }
            Match::Selected => {}
        }
        if is_done(&d.status) {
            continue;
        }
        if let Some(source) = &d.replica_source {
            plan.skipped.push(skip(format!(
                "read replica of {source}: RDS cannot stop a read replica"
            )));
        } else if !d.replicas.is_empty() {
            plan.skipped.push(skip(format!(
                "source of read replica {}: RDS cannot stop a DB instance that has read replicas",
                d.replicas.join(", ")
            )));
        } else if d.status != "available" {
            plan.skipped.push(skip(format!(
                "status is {}: RDS stops a DB instance only when it is available",
                d.status
            )));
        } else {
            plan.instances.push(d.clone());
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn tagged() -> SelectionConfig {
        SelectionConfig {
            selection: Selection::Tagged {
                key: "cost-guard".into(),
                value: Some("stop".into()),
            },
            exempt_tag_key: "cost-guard-exempt".into(),
        }
    }

    fn all() -> SelectionConfig {
        SelectionConfig {
            selection: Selection::AllExceptExempt,
            exempt_tag_key: "cost-guard-exempt".into(),
        }
    }

    fn ec2(id: &str, t: &[(&str, &str)]) -> Ec2Instance {
        Ec2Instance {
            id: id.into(),
            instance_type: "t3.micro".into(),
            state: "running".into(),
            root_device_type: Some("ebs".into()),
            spot_request_id: None,
            tags: tags(t),
        }
    }

    fn db(id: &str, t: &[(&str, &str)]) -> DbInstance {
        DbInstance {
            id: id.into(),
            arn: format!("arn:aws:rds:us-east-1:123456789012:db:{id}"),
            class: "db.t3.micro".into(),
            engine: "postgres".into(),
            status: "available".into(),
            cluster_id: None,
            replica_source: None,
            replicas: vec![],
            tags: tags(t),
        }
    }

    fn cluster(id: &str, t: &[(&str, &str)]) -> DbCluster {
        DbCluster {
            id: id.into(),
            arn: format!("arn:aws:rds:us-east-1:123456789012:cluster:{id}"),
            engine: "aurora-postgresql".into(),
            engine_mode: Some("provisioned".into()),
            status: "available".into(),
            replication_source: None,
            tags: tags(t),
        }
    }

    fn ids(v: &[Ec2Instance]) -> Vec<&str> {
        v.iter().map(|i| i.id.as_str()).collect()
    }

    #[test]
    fn tag_matching() {
        let sel = tagged();
        assert_eq!(
            match_tags(&tags(&[("cost-guard", "stop")]), &sel),
            Match::Selected
        );
        assert_eq!(
            match_tags(&tags(&[("cost-guard", "keep")]), &sel),
            Match::NotSelected
        );
        assert_eq!(match_tags(&tags(&[]), &sel), Match::NotSelected);
        assert_eq!(
            match_tags(
                &tags(&[("cost-guard", "stop"), ("cost-guard-exempt", "")]),
                &sel
            ),
            Match::Exempt
        );
        let any = SelectionConfig {
            selection: Selection::Tagged {
                key: "cost-guard".into(),
                value: None,
            },
            ..tagged()
        };
        assert_eq!(
            match_tags(&tags(&[("cost-guard", "whatever")]), &any),
            Match::Selected
        );
        assert_eq!(match_tags(&tags(&[]), &all()), Match::Selected);
        assert_eq!(
            match_tags(&tags(&[("cost-guard-exempt", "yes")]), &all()),
            Match::Exempt
        );
    }

    #[test]
    fn ec2_tagged_mode() {
        let fleet = vec![
            ec2("i-tagged", &[("cost-guard", "stop")]),
            ec2("i-untagged", &[]),
            ec2("i-other", &[("cost-guard", "keep")]),
            ec2(
                "i-exempt",
                &[("cost-guard", "stop"), ("cost-guard-exempt", "true")],
            ),
            Ec2Instance {
                state: "stopped".into(),
                ..ec2("i-stopped", &[("cost-guard", "stop")])
            },
        ];
        let plan = plan_ec2(&fleet, &tagged(), &HashSet::new());
        assert_eq!(ids(&plan.to_stop), ["i-tagged"]);
        assert_eq!(plan.skipped.len(), 1);
        assert_eq!(plan.skipped[0].resource.id, "i-exempt");
        assert!(plan.skipped[0].reason.contains("exempt"));
    }

    #[test]
    fn ec2_all_except_exempt() {
        let fleet = vec![
            ec2("i-a", &[]),
            ec2("i-b", &[("x", "y")]),
            ec2("i-c", &[("cost-guard-exempt", "")]),
        ];
        let plan = plan_ec2(&fleet, &all(), &HashSet::new());
        assert_eq!(ids(&plan.to_stop), ["i-a", "i-b"]);
        assert_eq!(plan.skipped[0].resource.id, "i-c");
    }

    #[test]
    fn ec2_unstoppable_kinds_are_skipped_with_reasons() {
        let t = [("cost-guard", "stop")];
        let fleet = vec![
            ec2("i-asg", &[("cost-guard", "stop"), (ASG_TAG, "web")]),
            Ec2Instance {
                root_device_type: Some("instance-store".into()),
                ..ec2("i-store", &t)
            },
            Ec2Instance {
                spot_request_id: Some("sir-once".into()),
                ..ec2("i-spot-once", &t)
            },
            Ec2Instance {
                spot_request_id: Some("sir-persistent".into()),
                ..ec2("i-spot-persistent", &t)
            },
            Ec2Instance {
                state: "pending".into(),
                ..ec2("i-pending", &t)
            },
        ];
        let once: HashSet<String> = ["sir-once".to_string()].into();
        let plan = plan_ec2(&fleet, &tagged(), &once);
        assert_eq!(ids(&plan.to_stop), ["i-spot-persistent", "i-pending"]);
        let reasons: Vec<(&str, &str)> = plan
            .skipped
            .iter()
            .map(|s| (s.resource.id.as_str(), s.reason.as_str()))
            .collect();
        assert!(reasons[0].0 == "i-asg" && reasons[0].1.contains("Auto Scaling group web"));
        assert!(reasons[1].0 == "i-store" && reasons[1].1.contains("instance-store"));
        assert!(reasons[2].0 == "i-spot-once" && reasons[2].1.contains("one-time"));
    }

    #[test]
    fn rds_instances_clusters_members_and_replicas() {
        let t = [("cost-guard", "stop")];
        let instances = vec![
            db("db-tagged", &t),
            db("db-untagged", &[]),
            DbInstance {
                cluster_id: Some("aurora-tagged".into()),
                ..db("aurora-tagged-1", &[])
            },
            DbInstance {
                cluster_id: Some("aurora-untagged".into()),
                ..db("aurora-untagged-1", &t)
            },
            DbInstance {
                replica_source: Some("db-source".into()),
                ..db("db-replica", &t)
            },
            DbInstance {
                replicas: vec!["db-r".into()],
                ..db("db-source", &t)
            },
            DbInstance {
                status: "backing-up".into(),
                ..db("db-busy", &t)
            },
            DbInstance {
                status: "stopped".into(),
                ..db("db-stopped", &t)
            },
        ];
        let clusters = vec![
            cluster("aurora-tagged", &t),
            cluster("aurora-untagged", &[]),
            DbCluster {
                engine_mode: Some("serverless".into()),
                ..cluster("aurora-v1", &t)
            },
        ];
        let plan = plan_rds(&instances, &clusters, &tagged());
        let inst: Vec<&str> = plan.instances.iter().map(|d| d.id.as_str()).collect();
        let clus: Vec<&str> = plan.clusters.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(inst, ["db-tagged"]);
        assert_eq!(clus, ["aurora-tagged"]);
        let skipped: Vec<&str> = plan
            .skipped
            .iter()
            .map(|s| s.resource.id.as_str())
            .collect();
        assert_eq!(
            skipped,
            [
                "aurora-v1",
                "aurora-untagged-1",
                "db-replica",
                "db-source",
                "db-busy"
            ]
        );
        assert!(plan.skipped[1].reason.contains("tag the cluster"));
    }

    #[test]
    fn rds_all_except_exempt() {
        let instances = vec![db("a", &[]), db("b", &[("cost-guard-exempt", "1")])];
        let clusters = vec![cluster("c", &[("cost-guard-exempt", "1")])];
        let plan = plan_rds(&instances, &clusters, &all());
        let inst: Vec<&str> = plan.instances.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(inst, ["a"]);
        assert!(plan.clusters.is_empty());
        let skipped: Vec<(&str, &str)> = plan
            .skipped
            .iter()
            .map(|s| (s.resource.id.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(
            skipped,
            [
                ("c", "exempt: tagged cost-guard-exempt"),
                ("b", "exempt: tagged cost-guard-exempt")
            ]
        );
    }

    #[test]
    fn an_exempt_member_protects_its_cluster_in_both_modes() {
        let t = [("cost-guard", "stop")];
        let exempt = [("cost-guard-exempt", "true")];
        let member = |id: &str, cluster: &str, tags: &[(&str, &str)]| DbInstance {
            cluster_id: Some(cluster.into()),
            ..db(id, tags)
        };
        let instances = vec![
            member("guarded-2", "guarded", &[]),
            member("guarded-1", "guarded", &exempt),
            member("guarded-3", "guarded", &exempt),
            member("open-1", "open", &[]),
        ];
        for (mode, tags) in [(tagged(), &t[..]), (all(), &[][..])] {
            let clusters = vec![cluster("guarded", tags), cluster("open", tags)];
            let plan = plan_rds(&instances, &clusters, &mode);
            let clus: Vec<&str> = plan.clusters.iter().map(|c| c.id.as_str()).collect();
            assert_eq!(clus, ["open"], "{mode:?}");
            assert!(plan.instances.is_empty(), "{mode:?}");
            let skipped: Vec<(&str, &str)> = plan
                .skipped
                .iter()
                .map(|s| (s.resource.id.as_str(), s.reason.as_str()))
                .collect();
            assert_eq!(
                skipped,
                [(
                    "guarded",
                    "member DB instance guarded-1 is exempt (tagged cost-guard-exempt): stopping the cluster would stop it too"
                )],
                "{mode:?}"
            );
        }
    }

    #[test]
    fn earlier_stops_are_this_alerts_recent_ones() {
        let stamped = |by: &str, at: &str| {
            tags(&[
                ("cost-guard", "stop"),
                (crate::domain::tags::STOPPED_BY_TAG, by),
                (crate::domain::tags::STOPPED_AT_TAG, at),
            ])
        };
        let now = "2026-11-22T19:00:00Z";
        let t = stamped("budget:monthly", "2026-11-22T18:59:30Z");
        assert!(stopped_earlier(&t, "stopped", "budget:monthly", now));
        assert!(stopped_earlier(&t, "stopping", "budget:monthly", now));
        assert!(
            !stopped_earlier(&t, "running", "budget:monthly", now),
            "restarted since"
        );
        assert!(
            !stopped_earlier(&t, "stopped", "anomaly:abc", now),
            "another alert"
        );
        let old = stamped("budget:monthly", "2026-10-22T19:00:00Z");
        assert!(
            !stopped_earlier(&old, "stopped", "budget:monthly", now),
            "last month's"
        );
        let bad = stamped("budget:monthly", "yesterday");
        assert!(!stopped_earlier(&bad, "stopped", "budget:monthly", now));
        let unstamped = tags(&[("cost-guard", "stop")]);
        assert!(!stopped_earlier(
            &unstamped,
            "stopped",
            "budget:monthly",
            now
        ));
    }
}
