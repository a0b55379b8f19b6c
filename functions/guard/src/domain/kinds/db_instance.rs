//! RDS DB instances: stopped one by one, never a read replica, the source of
//! one, or a cluster member (its cluster is stopped instead; see `rds`).

use crate::domain::inventory::{tag, Record, Resource, ResourceKind, Tags};
use crate::domain::tags::{STOPPED_AT_TAG, STOPPED_BY_TAG};

use super::{one_each, RestartLines};

#[derive(Debug, Clone, PartialEq)]
pub struct DbInstance {
    pub id: String,
    pub arn: String,
    pub class: String,
    pub engine: String,
    pub status: String,
    pub cluster_id: Option<String>,
    /// Set on a read replica: its source.
    pub replica_source: Option<String>,
    /// Set on a source: its read replicas.
    pub replicas: Vec<String>,
    pub tags: Tags,
}

impl From<&DbInstance> for Resource {
    fn from(d: &DbInstance) -> Self {
        Resource {
            kind: ResourceKind::DbInstance,
            id: d.id.clone(),
            name: tag(&d.tags, "Name").map(str::to_string),
            size: d.class.clone(),
        }
    }
}

impl Record for DbInstance {
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
    fn startable(&self) -> Result<(), String> {
        match (&self.cluster_id, self.status.as_str()) {
            (Some(cluster), _) => Err(format!(
                "member of DB cluster {cluster}: RDS starts it with its cluster"
            )),
            (None, "stopped") => Ok(()),
            (None, status) => Err(crate::domain::inventory::state_reason(status)),
        }
    }
}

/// One command per database: the stamp comes off, then it starts (a stamped
/// database that starts is one the keep-stopped watch stops again).
pub(crate) fn restart_lines(
    region: &str,
    stamped: &[&Resource],
    unstamped: &[&Resource],
) -> RestartLines {
    one_each(stamped, unstamped, |r| {
        format!(
                "aws rds remove-tags-from-resource --region {region} --resource-name $(aws rds describe-db-instances --region {region} --db-instance-identifier {0} --query \"DBInstances[0].DBInstanceArn\" --output text) --tag-keys {STOPPED_AT_TAG} {STOPPED_BY_TAG} && aws rds start-db-instance --region {region} --db-instance-identifier {0}",
                r.id
            )
    })
}
/// What a DB instance is billed for while it is not stopped: an hour of its
/// class, engine and deployment (an Aurora cluster's instances each count;
/// the cluster itself adds none).
pub fn charged(
    d: &DbInstance,
    multi_az: bool,
    region: &str,
) -> Option<crate::domain::burn::usage::Running> {
    use crate::domain::burn::usage::{Charge, Product, Running};
    if matches!(
        d.status.as_str(),
        "stopped" | "deleting" | "failed" | "creating" | "inaccessible-encryption-credentials"
    ) {
        return None;
    }
    Some(Running {
        account: None,
        region: region.to_string(),
        resource: Resource::from(d),
        count: 1,
        charges: vec![Charge::units(
            Product::Rds {
                class: d.class.clone(),
                engine: d.engine.clone(),
                multi_az,
            },
            1,
        )],
    })
}
