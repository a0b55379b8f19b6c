//! The kinds of resource cost-guard stops and starts again, one module each:
//! its record, how it is chosen (and why one is skipped), whether resume may
//! start it, and what the report's restart commands say. The AWS side of each
//! kind is in `aws::kinds`. Pure.
//!
//! | kind | module |
//! |---|---|
//! | EC2 instance | [`ec2_instance`] |
//! | Auto Scaling group | [`auto_scaling_group`] |
//! | RDS DB instance | [`db_instance`] |
//! | RDS DB cluster (Aurora) | [`db_cluster`] |
//! | ECS service | [`ecs_service`] |
//! | SageMaker notebook instance and endpoint | [`sagemaker`] |
//! | Redshift provisioned cluster | [`redshift_cluster`] |
//! | EKS managed node group (opt-in) | [`eks_node_group`] |
//!
//! What a kind without a stopped state of its own saves for resume (a
//! group's processes, a service's count) is written and read by [`saved`].
//!
//! RDS instances and clusters are chosen together ([`rds`]): a cluster is
//! stopped as a whole, on its own tags, and never when a member is exempt.

use crate::domain::inventory::{Resource, ResourceKind};

pub mod auto_scaling_group;
#[cfg(test)]
mod charged;
pub mod db_cluster;
pub mod db_instance;
pub mod ec2_instance;
pub mod ecs_service;
pub mod eks_node_group;
pub mod rds;
pub mod redshift_cluster;
pub mod sagemaker;
pub(crate) mod saved;

/// Restart commands for what one region's sweep stopped of one kind:
/// `region_wide` lines cover every stamped resource of the kind at once,
/// `each` holds one line per resource.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct RestartLines {
    pub region_wide: Vec<String>,
    pub each: Vec<String>,
}

/// The restart commands of `kind` in `region`: `stamped` carry the stamp
/// written `at` (`*` when unknown), `unstamped` do not.
pub(crate) fn restart_lines(
    kind: ResourceKind,
    region: &str,
    stamped: &[&Resource],
    unstamped: &[&Resource],
    at: &str,
) -> RestartLines {
    match kind {
        ResourceKind::Ec2Instance => ec2_instance::restart_lines(region, stamped, unstamped, at),
        ResourceKind::DbInstance => db_instance::restart_lines(region, stamped, unstamped),
        ResourceKind::DbCluster => db_cluster::restart_lines(region, stamped, unstamped),
        ResourceKind::AutoScalingGroup => {
            auto_scaling_group::restart_lines(region, stamped, unstamped)
        }
        ResourceKind::EcsService => ecs_service::restart_lines(region, stamped, unstamped),
        ResourceKind::SageMakerNotebook => {
            sagemaker::notebook_restart_lines(region, stamped, unstamped)
        }
        // Never stopped: nothing to start.
        ResourceKind::SageMakerEndpoint => RestartLines::default(),
        ResourceKind::RedshiftCluster => {
            redshift_cluster::restart_lines(region, stamped, unstamped)
        }
        ResourceKind::EksNodeGroup => eks_node_group::restart_lines(region, stamped, unstamped),
    }
}

/// One restart line per resource, stamped and unstamped, in id order.
fn one_each(
    stamped: &[&Resource],
    unstamped: &[&Resource],
    line: impl Fn(&Resource) -> String,
) -> RestartLines {
    RestartLines {
        region_wide: Vec::new(),
        each: by_id(stamped, unstamped).into_iter().map(line).collect(),
    }
}

/// Stamped and unstamped together, in id order, as the report lists them.
fn by_id<'a>(stamped: &[&'a Resource], unstamped: &[&'a Resource]) -> Vec<&'a Resource> {
    let mut all: Vec<&Resource> = stamped.iter().chain(unstamped).copied().collect();
    all.sort_by(|a, b| a.id.cmp(&b.id));
    all
}

/// What a warning calls some resources of `kind`: a count of EC2 instances
/// (acted on in batches), else the ids.
pub(crate) fn label_of(kind: ResourceKind, ids: &[String]) -> String {
    match kind {
        ResourceKind::Ec2Instance => format!("{} instance(s)", ids.len()),
        _ => ids.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_database_kind_is_acted_on_by_its_arn_and_restarted_by_its_id() {
        use crate::domain::inventory::Record;
        use fixtures::{cluster, db, ec2};
        let d = db("orders", &[]);
        assert_eq!((d.state(), d.handle()), ("available", d.arn.clone()));
        let c = cluster("reports", &[]);
        assert_eq!((c.state(), c.handle()), ("available", c.arn.clone()));
        let (dr, cr) = (d.resource(), c.resource());
        let lines = db_instance::restart_lines("eu-west-1", &[&dr], &[]);
        assert!(
            lines.each.concat().contains(
                "aws rds start-db-instance --region eu-west-1 --db-instance-identifier orders"
            ),
            "{lines:?}"
        );
        let lines = db_cluster::restart_lines("eu-west-1", &[&cr], &[]);
        assert!(
            lines.each.concat().contains(
                "aws rds start-db-cluster --region eu-west-1 --db-cluster-identifier reports"
            ),
            "{lines:?}"
        );
        // An instance is named by its Name tag.
        assert_eq!(ec2("i-1", &[("Name", "web")]).name(), Some("web"));
        assert_eq!(ec2("i-1", &[]).name(), None);
        assert_eq!(ec2("i-1", &[]).handle(), "i-1");
    }

    #[test]
    fn a_warning_counts_instances_and_names_the_rest() {
        let ids = ["i-1".to_string(), "i-2".to_string()];
        assert_eq!(label_of(ResourceKind::Ec2Instance, &ids), "2 instance(s)");
        let groups = ["web".to_string(), "batch".to_string()];
        assert_eq!(
            label_of(ResourceKind::AutoScalingGroup, &groups),
            "web, batch"
        );
    }

    /// Every kind's restart lines are valid shell: bash parses them
    /// (`bash -n`), with a hostile name where the service lets its creator
    /// choose almost any characters (groups, ECS clusters and services;
    /// AWS gives instance ids, and RDS, SageMaker and Redshift allow only
    /// letters, digits and hyphens).
    #[test]
    fn every_restart_line_is_valid_shell() {
        use std::io::Write;
        let free = [
            ResourceKind::AutoScalingGroup,
            ResourceKind::EcsService,
            ResourceKind::EksNodeGroup,
        ];
        for kind in ResourceKind::ALL {
            let hostile = ["it's; rm -rf ~ $(x)", "prod/a`b`c", "a,b=c"];
            let ids: &[&str] = if free.contains(&kind) {
                &hostile
            } else {
                &["i-0123456789abcdef0"]
            };
            for id in ids {
                let r = Resource {
                    kind,
                    id: id.to_string(),
                    name: None,
                    size: String::new(),
                };
                let lines = restart_lines(kind, "eu-west-1", &[&r], &[&r], "2026-12-04T10:00:00Z");
                for line in lines.region_wide.iter().chain(&lines.each) {
                    let mut bash = std::process::Command::new("bash")
                        .arg("-n")
                        .stdin(std::process::Stdio::piped())
                        .stderr(std::process::Stdio::piped())
                        .spawn()
                        .expect("bash");
                    bash.stdin
                        .take()
                        .unwrap()
                        .write_all(line.as_bytes())
                        .unwrap();
                    let out = bash.wait_with_output().unwrap();
                    assert!(
                        out.status.success(),
                        "{kind} {id:?}: {}\n{line}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
        }
    }
}

/// Records for tests, built with the fields that matter.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::db_cluster::DbCluster;
    use super::db_instance::DbInstance;
    use super::ec2_instance::Ec2Instance;
    use crate::domain::config::{Selection, SelectionConfig};
    use crate::domain::inventory::Tags;

    pub(crate) fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    pub(crate) fn tagged() -> SelectionConfig {
        SelectionConfig {
            selection: Selection::Tagged {
                key: "cost-guard".into(),
                value: Some("stop".into()),
            },
            exempt_tag_key: "cost-guard-exempt".into(),
        }
    }

    pub(crate) fn all() -> SelectionConfig {
        SelectionConfig {
            selection: Selection::AllExceptExempt,
            exempt_tag_key: "cost-guard-exempt".into(),
        }
    }

    pub(crate) fn ec2(id: &str, t: &[(&str, &str)]) -> Ec2Instance {
        Ec2Instance {
            id: id.into(),
            instance_type: "t3.micro".into(),
            state: "running".into(),
            root_device_type: Some("ebs".into()),
            spot_request_id: None,
            tags: tags(t),
        }
    }

    pub(crate) fn db(id: &str, t: &[(&str, &str)]) -> DbInstance {
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

    pub(crate) fn cluster(id: &str, t: &[(&str, &str)]) -> DbCluster {
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

    pub(crate) fn ids(v: &[Ec2Instance]) -> Vec<&str> {
        v.iter().map(|i| i.id.as_str()).collect()
    }
}
