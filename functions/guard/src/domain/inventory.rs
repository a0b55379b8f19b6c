//! Plain data describing what a region holds, as the adapters read it. Pure
//! selection logic runs over these types, so it is tested with no AWS at all.

use std::fmt;

/// A resource's tags, in the order AWS returned them.
pub type Tags = Vec<(String, String)>;

/// Looks up a tag's value.
pub fn tag<'a>(tags: &'a Tags, key: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ec2Instance {
    pub id: String,
    pub instance_type: String,
    /// `running`, `pending`, ...
    pub state: String,
    /// `ebs` or `instance-store`.
    pub root_device_type: Option<String>,
    /// Set for spot instances.
    pub spot_request_id: Option<String>,
    pub tags: Tags,
}

impl Ec2Instance {
    pub fn name(&self) -> Option<&str> {
        tag(&self.tags, "Name")
    }
}

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

/// What kind of resource a report line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum ResourceKind {
    Ec2Instance,
    DbInstance,
    DbCluster,
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResourceKind::Ec2Instance => "EC2 instance",
            ResourceKind::DbInstance => "RDS DB instance",
            ResourceKind::DbCluster => "RDS DB cluster",
        })
    }
}

/// One resource, as reports show it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Resource {
    pub kind: ResourceKind,
    pub id: String,
    pub name: Option<String>,
    /// Instance type, DB instance class, or cluster engine.
    pub size: String,
}

impl From<&Ec2Instance> for Resource {
    fn from(i: &Ec2Instance) -> Self {
        Resource {
            kind: ResourceKind::Ec2Instance,
            id: i.id.clone(),
            name: i.name().map(str::to_string),
            size: i.instance_type.clone(),
        }
    }
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
