//! RDS DB clusters (Aurora): stopped as a whole, never Aurora Serverless v1,
//! a replica cluster, or one with an exempt member (see `rds`).

use crate::domain::inventory::{tag, Record, Resource, ResourceKind, Tags};
use crate::domain::tags::{STOPPED_AT_TAG, STOPPED_BY_TAG};

use super::{one_each, RestartLines};

#[derive(Debug, Clone, PartialEq)]
pub struct DbCluster {
    pub id: String,
    pub arn: String,
    pub engine: String,
    pub engine_mode: Option<String>,
    pub status: String,
    /// Set on a cluster that replicates another (cross-region or global secondary).
    pub replication_source: Option<String>,
    pub tags: Tags,
}

impl From<&DbCluster> for Resource {
    fn from(c: &DbCluster) -> Self {
        Resource {
            kind: ResourceKind::DbCluster,
            id: c.id.clone(),
            name: tag(&c.tags, "Name").map(str::to_string),
            size: c.engine.clone(),
        }
    }
}
impl Record for DbCluster {
    fn resource(&self) -> Resource {
        Resource::from(self)
    }
    fn tags(&self) -> &Tags {
        &self.tags
    }
    fn state(&self) -> &str {
        &self.status
    }
    fn handle(&self) -> String {
        self.arn.clone()
    }
}

/// One command per cluster: the stamp comes off, then it starts.
pub(crate) fn restart_lines(
    region: &str,
    stamped: &[&Resource],
    unstamped: &[&Resource],
) -> RestartLines {
    one_each(stamped, unstamped, |r| {
        format!(
                "aws rds remove-tags-from-resource --region {region} --resource-name $(aws rds describe-db-clusters --region {region} --db-cluster-identifier {0} --query \"DBClusters[0].DBClusterArn\" --output text) --tag-keys {STOPPED_AT_TAG} {STOPPED_BY_TAG} && aws rds start-db-cluster --region {region} --db-cluster-identifier {0}",
                r.id
            )
    })
}
