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

use crate::aws::accounts::RegionClients;
use crate::domain::config::SelectionConfig;
use crate::domain::error::AwsError;
use crate::domain::inventory::{Resource, ResourceKind, Target};
use crate::domain::outcome::{Outcome, Stamp};
use crate::domain::resume::{ResumeRequest, StartPlan};
use crate::domain::select::Skipped;

mod ec2_instance;
mod rds;

/// Every kind the sweep stops and resume starts, in the order reports list
/// them.
pub(crate) const KINDS: &[&dyn Kind] = &[
    &ec2_instance::Ec2Instances,
    &rds::DB_INSTANCES,
    &rds::DB_CLUSTERS,
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
}

/// One region, as every kind works in it: its clients, made once, and what
/// kinds list once and share (RDS lists instances and clusters once for
/// both RDS kinds).
pub(crate) struct InRegion<'a> {
    pub region: &'a str,
    clients: &'a dyn RegionClients,
    ec2: OnceLock<aws_sdk_ec2::Client>,
    rds: OnceLock<aws_sdk_rds::Client>,
    listed: Mutex<HashMap<&'static str, Arc<Listing>>>,
}

type Listing = tokio::sync::OnceCell<Arc<dyn Any + Send + Sync>>;

impl<'a> InRegion<'a> {
    pub(crate) fn new(clients: &'a dyn RegionClients, region: &'a str) -> Self {
        InRegion {
            region,
            clients,
            ec2: OnceLock::new(),
            rds: OnceLock::new(),
            listed: Mutex::default(),
        }
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
