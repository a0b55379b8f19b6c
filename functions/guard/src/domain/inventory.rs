//! What every kind of resource has in common, as plain data: its tags, how
//! reports name it, and what the sweep and resume act on. Each kind's own
//! record is in `domain::kinds`. Pure.

use std::fmt;

/// A resource's tags, in the order AWS returned them.
pub type Tags = Vec<(String, String)>;

/// Looks up a tag's value.
pub fn tag<'a>(tags: &'a Tags, key: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Whether a tag key is the exempt key, in whatever case it is spelt. Tag
/// keys are case-sensitive in every service, but IAM reads the key of a
/// condition's `aws:ResourceTag/<key>` without case: the roles' deny spares
/// a resource tagged `Cost-Guard-Exempt` as it spares `cost-guard-exempt`,
/// so cost-guard must take both for the exempt key, to report the resource
/// as exempt rather than fail on the denial, and to watch writes of either.
///
/// ASCII case only, as AWS documents it (`TagKey1` and `tagkey1`): a key
/// that folds to the exempt key only under Unicode rules (a Kelvin sign for
/// `k`) is not taken for it, so it never hides a resource from the sweep
/// on a reading IAM may not share.
pub fn is_exempt_key(key: &str, exempt_key: &str) -> bool {
    key.eq_ignore_ascii_case(exempt_key)
}

/// The exempt key as the tags spell it, if they carry it in any case.
pub fn exempt_key_in<'a>(tags: &'a Tags, exempt_key: &str) -> Option<&'a str> {
    tags.iter()
        .map(|(k, _)| k.as_str())
        .find(|k| is_exempt_key(k, exempt_key))
}

/// Whether the tags carry the exempt key, in any case, whatever its value.
pub fn has_exempt_tag(tags: &Tags, exempt_key: &str) -> bool {
    exempt_key_in(tags, exempt_key).is_some()
}

/// What kind of resource a report line is about, in the order reports list
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum ResourceKind {
    Ec2Instance,
    AutoScalingGroup,
    DbInstance,
    DbCluster,
    EcsService,
    SageMakerNotebook,
    SageMakerEndpoint,
    RedshiftCluster,
    EksNodeGroup,
}

impl ResourceKind {
    /// Every kind, in report order.
    pub const ALL: [ResourceKind; 9] = [
        ResourceKind::Ec2Instance,
        ResourceKind::AutoScalingGroup,
        ResourceKind::DbInstance,
        ResourceKind::DbCluster,
        ResourceKind::EcsService,
        ResourceKind::SageMakerNotebook,
        ResourceKind::SageMakerEndpoint,
        ResourceKind::RedshiftCluster,
        ResourceKind::EksNodeGroup,
    ];

    /// Its name in `KINDS` (the SAM parameter `Kinds`).
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::Ec2Instance => "ec2-instances",
            ResourceKind::AutoScalingGroup => "auto-scaling-groups",
            ResourceKind::DbInstance => "rds-instances",
            ResourceKind::DbCluster => "rds-clusters",
            ResourceKind::EcsService => "ecs-services",
            ResourceKind::SageMakerNotebook => "sagemaker-notebooks",
            ResourceKind::SageMakerEndpoint => "sagemaker-endpoints",
            ResourceKind::RedshiftCluster => "redshift-clusters",
            ResourceKind::EksNodeGroup => "eks-node-groups",
        }
    }

    /// Whether a sweep covers it only when `KINDS` names it: scaling an EKS
    /// node group to zero terminates its nodes.
    pub fn opt_in(self) -> bool {
        self == ResourceKind::EksNodeGroup
    }

    pub fn from_name(name: &str) -> Option<ResourceKind> {
        ResourceKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResourceKind::Ec2Instance => "EC2 instance",
            ResourceKind::AutoScalingGroup => "Auto Scaling group",
            ResourceKind::DbInstance => "RDS DB instance",
            ResourceKind::DbCluster => "RDS DB cluster",
            ResourceKind::EcsService => "ECS service",
            ResourceKind::SageMakerNotebook => "SageMaker notebook instance",
            ResourceKind::SageMakerEndpoint => "SageMaker endpoint",
            ResourceKind::RedshiftCluster => "Redshift cluster",
            ResourceKind::EksNodeGroup => "EKS node group",
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

/// A kind's record, as its adapter lists it: what selection, resume and the
/// reports need of it, whatever the kind.
pub trait Record {
    /// The resource, as reports show it.
    fn resource(&self) -> Resource;
    fn tags(&self) -> &Tags;
    /// Its state as the service words it (`running`, `stopped`, `available`).
    fn state(&self) -> &str;
    /// What the adapter acts on: the id, or the ARN where tagging needs it.
    fn handle(&self) -> String;
    /// Whether resume may start it now, or why not. A kind whose resources
    /// are started another way (an RDS cluster member, with its cluster)
    /// says so first.
    fn startable(&self) -> Result<(), String> {
        match self.state() {
            "stopped" => Ok(()),
            state => Err(state_reason(state)),
        }
    }
}

/// Why resume does not start something in `state`.
pub(crate) fn state_reason(state: &str) -> String {
    match state {
        "stopping" => "still stopping: run resume again once it has stopped".into(),
        "running" | "pending" | "available" | "starting" => {
            "already running: it was started outside resume, which leaves its stamp alone".into()
        }
        "terminated" | "shutting-down" | "deleting" => {
            format!("it is {state}: there is nothing to start")
        }
        other => format!("its state is {other}: only a stopped resource can be started"),
    }
}

/// One resource the sweep stops or resume starts: as reports show it, and
/// what its adapter acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub resource: Resource,
    /// The id, or the ARN where tagging needs it.
    pub handle: String,
}

impl Target {
    pub fn of(record: &impl Record) -> Target {
        Target {
            resource: record.resource(),
            handle: record.handle(),
        }
    }
}
