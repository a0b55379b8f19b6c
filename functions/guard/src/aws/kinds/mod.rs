//! The AWS side of each kind of resource: how it is listed and chosen in one
//! region, stopped and stamped, and started again. The sweep (`aws::sweep`)
//! and resume (`aws::resume`) run every kind in [`KINDS`] the same way; what
//! a kind's resources need is in its own module here and in
//! [`domain::kinds`](crate::domain::kinds).
//!
//! Adding a kind: a module here implementing [`Kind`], one in
//! `domain::kinds`, and its line in [`KINDS`]. (The two RDS kinds share one
//! module, as they share one listing and one plan.)

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};

use futures::future::BoxFuture;

use by_one::ByOne;

use crate::aws::accounts::RegionClients;
use crate::aws::seal::Seal;
use crate::domain::burn::usage::Running;
use crate::domain::config::{KindSet, SelectionConfig};
use crate::domain::error::AwsError;
use crate::domain::inventory::{Resource, ResourceKind, Target};
use crate::domain::outcome::{Outcome, Stamp};
use crate::domain::resume::{ResumeRequest, StartPlan};
use crate::domain::select::Skipped;

pub(crate) mod auto_scaling_group;
mod by_one;
mod ec2_instance;
pub(crate) mod ecs_service;
mod eks_node_group;
mod rds;
pub(crate) mod redshift_cluster;
pub(crate) mod sagemaker;

/// Every kind the sweep stops and resume starts, in the order reports list
/// them.
pub(crate) const KINDS: &[&dyn Kind] = &[
    &ec2_instance::Ec2Instances,
    &auto_scaling_group::Groups,
    &rds::DB_INSTANCES,
    &rds::DB_CLUSTERS,
    &ByOne(ecs_service::Services),
    &ByOne(sagemaker::Notebooks),
    &ByOne(sagemaker::Endpoints),
    &ByOne(redshift_cluster::Clusters),
    &ByOne(eks_node_group::NodeGroups),
];

/// Reports each call's answer, target by target (by handle), the moment it
/// arrives.
pub(crate) type Answer<'a> = &'a (dyn Fn(Vec<(String, Outcome)>) + Send + Sync);

/// What one region's sweep does with one kind.
#[derive(Debug, Default)]
pub(crate) struct StopPlan {
    pub to_stop: Vec<Target>,
    pub skipped: Vec<Skipped>,
    /// Already stopped for this very alert by an earlier invocation.
    pub earlier: Vec<Resource>,
}

/// A kind of resource, in one region at a time.
pub(crate) trait Kind: Send + Sync {
    fn kind(&self) -> ResourceKind;

    /// How many targets one stop or start call takes.
    fn batch(&self) -> usize {
        1
    }

    /// Whether resume starts it only once the capacity it runs on (EC2
    /// instances, Auto Scaling groups) is started.
    fn needs_capacity(&self) -> bool {
        false
    }

    /// Lists the region's resources of this kind and chooses what to stop.
    fn plan_stop<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        select: &'a SelectionConfig,
        stamp: &'a Stamp,
    ) -> BoxFuture<'a, Result<StopPlan, AwsError>>;

    /// Stops one batch, reporting each outcome through `answer` as it
    /// arrives; returns the handles of what was stopped.
    fn stop<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        batch: &'a [Target],
        answer: Answer<'a>,
    ) -> BoxFuture<'a, Vec<String>>;

    /// Writes the stamp on what was stopped.
    fn stamp<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        stopped: &'a [Target],
        stamp: &'a Stamp,
    ) -> BoxFuture<'a, Result<(), AwsError>>;

    /// Lists the region's stamped resources of this kind and chooses what to
    /// start.
    fn plan_start<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        request: &'a ResumeRequest,
    ) -> BoxFuture<'a, Result<StartPlan, AwsError>>;

    /// Writes the resuming marker in place of the stamp, before the start.
    fn mark_resuming<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        batch: &'a [Target],
        marker: &'a str,
    ) -> BoxFuture<'a, Result<(), AwsError>>;

    /// Starts one batch, reporting each outcome through `answer`; returns
    /// the handles of what was started.
    fn start<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        batch: &'a [Target],
        answer: Answer<'a>,
    ) -> BoxFuture<'a, Vec<String>>;

    /// Removes the resuming marker from what was started.
    fn clear_marker<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        started: &'a [Target],
    ) -> BoxFuture<'a, Result<(), AwsError>>;

    /// What of this kind runs in the region now and is billed by the hour,
    /// selected or not (`cost-guard status`, burn-watch). A kind billed
    /// through another kind's resources lists nothing, so nothing is
    /// counted twice: an Auto Scaling group's and an EKS node group's
    /// instances are EC2 instances, an RDS cluster's are DB instances.
    fn running<'a>(
        &'a self,
        _at: &'a InRegion<'a>,
    ) -> BoxFuture<'a, Result<Vec<Running>, AwsError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// Runs `act` on each target of a batch (RDS acts on one resource per call)
/// and reports each outcome as it comes; returns the handles whose outcome
/// `counts`.
pub(super) async fn one_by_one<'a, F, Fut>(
    batch: &'a [Target],
    answer: Answer<'a>,
    counts: fn(&Outcome) -> bool,
    act: F,
) -> Vec<String>
where
    F: Fn(&'a Target) -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let mut done = Vec::new();
    for t in batch {
        let outcome = act(t).await;
        if counts(&outcome) {
            done.push(t.handle.clone());
        }
        answer(vec![(t.handle.clone(), outcome)]);
    }
    done
}

/// A stop counts when it was done now: only that is stamped.
pub(super) fn stopped(o: &Outcome) -> bool {
    matches!(o, Outcome::Done)
}

/// A start counts when it was done now or already under way: either way the
/// resuming marker goes.
pub(super) fn started(o: &Outcome) -> bool {
    matches!(o, Outcome::Done | Outcome::AlreadyDone)
}

/// One region, as every kind works in it: its clients, made once, and what
/// kinds list once and share (RDS lists instances and clusters once for
/// both RDS kinds; EC2 reads the Auto Scaling groups' listing for their
/// instances).
pub(crate) struct InRegion<'a> {
    pub region: &'a str,
    /// The kinds this sweep or resume covers.
    pub kinds: &'a KindSet,
    /// The key that seals saved states, when configured.
    pub seal: Option<&'a Seal>,
    /// The stop being made, whose trigger and time a seal binds (none in
    /// resume).
    pub stamp: Option<&'a Stamp>,
    clients: &'a dyn RegionClients,
    ec2: OnceLock<aws_sdk_ec2::Client>,
    rds: OnceLock<aws_sdk_rds::Client>,
    config: OnceLock<aws_types::SdkConfig>,
    autoscaling: OnceLock<aws_sdk_autoscaling::Client>,
    ecs: OnceLock<aws_sdk_ecs::Client>,
    app_scaling: OnceLock<aws_sdk_applicationautoscaling::Client>,
    sagemaker: OnceLock<aws_sdk_sagemaker::Client>,
    redshift: OnceLock<aws_sdk_redshift::Client>,
    eks: OnceLock<aws_sdk_eks::Client>,
    account: tokio::sync::OnceCell<String>,
    listed: Mutex<HashMap<&'static str, Arc<Listing>>>,
}

type Listing = tokio::sync::OnceCell<Arc<dyn Any + Send + Sync>>;

impl<'a> InRegion<'a> {
    pub(crate) fn new(clients: &'a dyn RegionClients, region: &'a str, kinds: &'a KindSet) -> Self {
        InRegion {
            region,
            kinds,
            seal: None,
            stamp: None,
            clients,
            ec2: OnceLock::new(),
            rds: OnceLock::new(),
            config: OnceLock::new(),
            autoscaling: OnceLock::new(),
            ecs: OnceLock::new(),
            app_scaling: OnceLock::new(),
            sagemaker: OnceLock::new(),
            redshift: OnceLock::new(),
            eks: OnceLock::new(),
            account: tokio::sync::OnceCell::new(),
            listed: Mutex::default(),
        }
    }

    /// Seals saved states with `seal` for the stop `stamp` (a sweep, the
    /// tripwire), or only opens them (resume, without a stamp).
    pub(crate) fn sealing(self, seal: Option<&'a Seal>, stamp: Option<&'a Stamp>) -> Self {
        InRegion {
            seal,
            stamp,
            ..self
        }
    }

    fn config(&self) -> &aws_types::SdkConfig {
        self.config.get_or_init(|| self.clients.config(self.region))
    }

    pub(crate) fn autoscaling(&self) -> &aws_sdk_autoscaling::Client {
        self.autoscaling
            .get_or_init(|| aws_sdk_autoscaling::Client::new(self.config()))
    }

    pub(crate) fn ecs(&self) -> &aws_sdk_ecs::Client {
        self.ecs
            .get_or_init(|| aws_sdk_ecs::Client::new(self.config()))
    }

    pub(crate) fn app_scaling(&self) -> &aws_sdk_applicationautoscaling::Client {
        self.app_scaling
            .get_or_init(|| aws_sdk_applicationautoscaling::Client::new(self.config()))
    }

    pub(crate) fn sagemaker(&self) -> &aws_sdk_sagemaker::Client {
        self.sagemaker
            .get_or_init(|| aws_sdk_sagemaker::Client::new(self.config()))
    }

    pub(crate) fn redshift(&self) -> &aws_sdk_redshift::Client {
        self.redshift
            .get_or_init(|| aws_sdk_redshift::Client::new(self.config()))
    }

    pub(crate) fn eks(&self) -> &aws_sdk_eks::Client {
        self.eks
            .get_or_init(|| aws_sdk_eks::Client::new(self.config()))
    }

    /// The account these clients act in, asked once (only kinds that build
    /// ARNs themselves need it).
    pub(crate) async fn account(&self) -> Result<&str, AwsError> {
        self.account
            .get_or_try_init(|| crate::aws::accounts::own_account(self.config()))
            .await
            .map(String::as_str)
    }

    pub(crate) fn ec2(&self) -> &aws_sdk_ec2::Client {
        self.ec2.get_or_init(|| self.clients.ec2(self.region))
    }

    pub(crate) fn rds(&self) -> &aws_sdk_rds::Client {
        self.rds.get_or_init(|| self.clients.rds(self.region))
    }

    /// What `list` gives, asked once per region under `key` however many
    /// kinds ask (at the same time or not).
    pub(crate) async fn shared<T, F, Fut>(&self, key: &'static str, list: F) -> Arc<T>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let cell = self
            .listed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_default()
            .clone();
        let any = cell
            .get_or_init(|| async { Arc::new(list().await) as Arc<dyn Any + Send + Sync> })
            .await
            .clone();
        any.downcast::<T>()
            .unwrap_or_else(|_| unreachable!("each key holds one type: {key}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_listed_once_each_in_report_order() {
        let kinds: Vec<ResourceKind> = KINDS.iter().map(|k| k.kind()).collect();
        let mut sorted = kinds.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(kinds, sorted);
    }
}
