//! RDS instances and clusters are chosen together: a cluster runs compute
//! only through its member instances and is stopped as a whole, on the
//! cluster's tags, and never when any of its members carries the exempt tag;
//! a member is never stopped on its own. Both RDS kinds take their part of
//! one plan.

use std::collections::{BTreeMap, HashSet};

use crate::domain::config::SelectionConfig;
use crate::domain::inventory::has_exempt_tag;
use crate::domain::select::{exempt_reason_of, match_tags, Match, Skipped};

use super::db_cluster::DbCluster;
use super::db_instance::DbInstance;
use crate::domain::inventory::Resource;

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
            if has_exempt_tag(&d.tags, &select.exempt_tag_key) {
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
                    plan.skipped.push(skip(exempt_reason_of(select)));
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
                    plan.skipped.push(skip(exempt_reason_of(select)));
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
    use crate::domain::kinds::fixtures::*;

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
            // The exempt key in any case, as IAM reads it.
            member("guarded-1", "guarded", &[("COST-GUARD-EXEMPT", "true")]),
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
}
