//! Redshift provisioned clusters: paused (compute stops billing, storage
//! and data stay) and resumed. Pure.

use crate::domain::config::SelectionConfig;
use crate::domain::inventory::{Record, Resource, ResourceKind, Tags};
use crate::domain::select::{choose, Choice};
use crate::domain::shell::word;
use crate::domain::tags::{STOPPED_AT_TAG, STOPPED_BY_TAG};

use super::{one_each, RestartLines};

#[derive(Debug, Clone, PartialEq)]
pub struct RedshiftCluster {
    pub id: String,
    pub node_type: String,
    pub nodes: i32,
    /// Redshift's status: `available`, `paused`, `pausing`, `resuming`,
    /// `creating`, ...
    pub status: String,
    pub tags: Tags,
}

impl Record for RedshiftCluster {
    fn resource(&self) -> Resource {
        Resource {
            kind: ResourceKind::RedshiftCluster,
            id: self.id.clone(),
            name: None,
            size: format!("{} x {}", self.nodes, self.node_type),
        }
    }
    fn tags(&self) -> &Tags {
        &self.tags
    }
    /// Redshift's status in the words the sweep and resume share: paused is
    /// stopped.
    fn state(&self) -> &str {
        match self.status.as_str() {
            "paused" => "stopped",
            "pausing" => "stopping",
            "resuming" => "starting",
            "creating" => "pending",
            other => other,
        }
    }
    /// Redshift tags by ARN; the adapter builds it, as describe does not
    /// give it.
    fn handle(&self) -> String {
        self.id.clone()
    }
}

/// Chooses the clusters to pause: those available. One still being created
/// (or resumed) is listed: Redshift pauses only an available cluster.
pub fn plan_clusters(
    clusters: &[RedshiftCluster],
    select: &SelectionConfig,
) -> Choice<RedshiftCluster> {
    choose(
        clusters,
        select,
        |c| matches!(c.status.as_str(), "available" | "creating" | "resuming"),
        |c| {
            (c.status != "available").then(|| {
                format!(
                    "{}: Redshift pauses only an available cluster; the next alert pauses it",
                    c.status
                )
            })
        },
    )
}

pub(crate) fn restart_lines(
    region: &str,
    stamped: &[&Resource],
    unstamped: &[&Resource],
) -> RestartLines {
    one_each(stamped, unstamped, |r| {
        let id = word(&r.id);
        format!(
                    "aws redshift delete-tags --region {region} --resource-name arn:aws:redshift:{region}:$(aws sts get-caller-identity --query Account --output text):cluster:{id} --tag-keys {STOPPED_AT_TAG} {STOPPED_BY_TAG} && aws redshift resume-cluster --region {region} --cluster-identifier {id}"
                )
    })
}

impl RedshiftCluster {
    /// Its nodes' hours, unless it is paused (compute is not billed then)
    /// or going away.
    pub fn charged(&self, region: &str) -> Option<crate::domain::burn::usage::Running> {
        use crate::domain::burn::usage::{Charge, Product, Running};
        if matches!(
            self.status.as_str(),
            "paused" | "deleting" | "creating" | "final-snapshot"
        ) || self.node_type.is_empty()
        {
            return None;
        }
        let nodes = u64::try_from(self.nodes.max(1)).unwrap_or(1);
        Some(Running {
            account: None,
            region: region.to_string(),
            resource: self.resource(),
            count: nodes,
            charges: vec![Charge::units(
                Product::Redshift {
                    node_type: self.node_type.clone(),
                },
                nodes,
            )],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::kinds::fixtures::{tagged, tags};

    fn cluster(id: &str, status: &str, t: &[(&str, &str)]) -> RedshiftCluster {
        RedshiftCluster {
            id: id.into(),
            node_type: "ra3.xlplus".into(),
            nodes: 2,
            status: status.into(),
            tags: tags(t),
        }
    }

    #[test]
    fn a_cluster_is_acted_on_by_its_id_and_resumed_by_its_command() {
        let c = cluster("dw", "paused", &[]);
        assert_eq!(c.handle(), "dw");
        let r = c.resource();
        let lines = restart_lines("eu-west-1", &[&r], &[]);
        assert!(
            lines
                .each
                .concat()
                .contains("aws redshift resume-cluster --region eu-west-1 --cluster-identifier dw"),
            "{lines:?}"
        );
    }

    #[test]
    fn available_selected_clusters_are_paused() {
        let sel = [("cost-guard", "stop")];
        let plan = plan_clusters(
            &[
                cluster("dw", "available", &sel),
                cluster("creating", "creating", &sel),
                cluster("other", "available", &[]),
                cluster(
                    "kept",
                    "available",
                    &[("cost-guard", "stop"), ("cost-guard-exempt", "x")],
                ),
            ],
            &tagged(),
        );
        let ids: Vec<&str> = plan.to_stop.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["dw"]);
        let skipped: Vec<&str> = plan
            .skipped
            .iter()
            .map(|s| s.resource.id.as_str())
            .collect();
        assert_eq!(skipped, ["creating", "kept"]);
        assert!(plan.skipped[0]
            .reason
            .contains("pauses only an available cluster"));
        assert_eq!(plan.to_stop[0].resource().size, "2 x ra3.xlplus");
    }

    #[test]
    fn paused_is_stopped_for_resume() {
        assert_eq!(cluster("dw", "paused", &[]).startable(), Ok(()));
        assert!(cluster("dw", "resuming", &[])
            .startable()
            .unwrap_err()
            .contains("already running"));
    }
}
