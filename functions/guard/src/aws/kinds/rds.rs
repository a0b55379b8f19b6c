//! RDS DB instances and DB clusters, two kinds on one listing: chosen
//! together (`domain::kinds::rds`), each kind taking its part; stopped and
//! started one by one, stamped by ARN.

use futures::future::BoxFuture;
use futures::FutureExt;

use super::{one_by_one, started, stopped, Answer, InRegion, Kind, StopPlan};
use crate::aws::rds;
use crate::domain::config::SelectionConfig;
use crate::domain::error::AwsError;
use crate::domain::inventory::{ResourceKind, Target};
use crate::domain::kinds::db_cluster::DbCluster;
use crate::domain::kinds::db_instance::DbInstance;
use crate::domain::kinds::rds::plan_rds;
use crate::domain::outcome::Stamp;
use crate::domain::resume::{plan_start, ResumeRequest, StartPlan};
use crate::domain::select;

/// One of the two RDS kinds.
pub(super) struct Rds(pub ResourceKind);

/// RDS DB instances (not cluster members: their cluster is the kind).
pub(super) const DB_INSTANCES: Rds = Rds(ResourceKind::DbInstance);
/// RDS DB clusters (Aurora).
pub(super) const DB_CLUSTERS: Rds = Rds(ResourceKind::DbCluster);

/// A region's DB instances, and its clusters where some instance belongs to
/// one: a cluster runs compute only through its members, so where no
/// instance has a cluster there is none worth stopping, and the cluster
/// describe is skipped (in most regions that saves a request). Listed once
/// per region for both RDS kinds.
async fn rds_listing(
    at: &InRegion<'_>,
) -> std::sync::Arc<Result<(Vec<DbInstance>, Vec<DbCluster>), AwsError>> {
    at.shared("rds", || async {
        let instances = rds::describe_instances(at.rds()).await?;
        let clusters = if instances.iter().any(|d| d.cluster_id.is_some()) {
            rds::describe_clusters(at.rds()).await?
        } else {
            Vec::new()
        };
        Ok((instances, clusters))
    })
    .await
}

impl Rds {
    fn clusters(&self) -> bool {
        self.0 == ResourceKind::DbCluster
    }
}

impl Kind for Rds {
    fn kind(&self) -> ResourceKind {
        self.0
    }

    fn plan_stop<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        select: &'a SelectionConfig,
        stamp: &'a Stamp,
    ) -> BoxFuture<'a, Result<StopPlan, AwsError>> {
        async move {
            let listed = rds_listing(at).await;
            let (instances, clusters) = listed.as_ref().as_ref().map_err(Clone::clone)?;
            let plan = plan_rds(instances, clusters, select);
            let (to_stop, earlier) = if self.clusters() {
                (
                    plan.clusters.iter().map(Target::of).collect(),
                    select::earlier(clusters, select, &stamp.by, &stamp.at),
                )
            } else {
                // Members are reported with their cluster.
                let alone: Vec<DbInstance> = instances
                    .iter()
                    .filter(|d| d.cluster_id.is_none())
                    .cloned()
                    .collect();
                (
                    plan.instances.iter().map(Target::of).collect(),
                    select::earlier(&alone, select, &stamp.by, &stamp.at),
                )
            };
            Ok(StopPlan {
                to_stop,
                skipped: plan
                    .skipped
                    .into_iter()
                    .filter(|s| s.resource.kind == self.0)
                    .collect(),
                earlier,
            })
        }
        .boxed()
    }

    fn stop<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        batch: &'a [Target],
        answer: Answer<'a>,
    ) -> BoxFuture<'a, Vec<String>> {
        one_by_one(batch, answer, stopped, move |t| async move {
            match self.0 {
                ResourceKind::DbCluster => rds::stop_cluster(at.rds(), &t.resource.id).await,
                _ => rds::stop_instance(at.rds(), &t.resource.id).await,
            }
        })
        .boxed()
    }

    fn stamp<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        stopped: &'a [Target],
        stamp: &'a Stamp,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        stamp_each(at, stopped, stamp).boxed()
    }

    fn plan_start<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        request: &'a ResumeRequest,
    ) -> BoxFuture<'a, Result<StartPlan, AwsError>> {
        async move {
            let listed = rds_listing(at).await;
            let (instances, clusters) = listed.as_ref().as_ref().map_err(Clone::clone)?;
            Ok(if self.clusters() {
                plan_start(clusters, request)
            } else {
                plan_start(instances, request)
            })
        }
        .boxed()
    }

    fn mark_resuming<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        batch: &'a [Target],
        marker: &'a str,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        mark_each(at, batch, marker).boxed()
    }

    fn start<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        batch: &'a [Target],
        answer: Answer<'a>,
    ) -> BoxFuture<'a, Vec<String>> {
        one_by_one(batch, answer, started, move |t| async move {
            match self.0 {
                ResourceKind::DbCluster => rds::start_cluster(at.rds(), &t.resource.id).await,
                _ => rds::start_instance(at.rds(), &t.resource.id).await,
            }
        })
        .boxed()
    }

    fn clear_marker<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        started: &'a [Target],
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        clear_each(at, started).boxed()
    }

    /// The DB instances, cluster members too (a cluster is billed through
    /// its instances): listed for the instances' kind only.
    fn running<'a>(
        &'a self,
        at: &'a InRegion<'a>,
    ) -> BoxFuture<'a, Result<Vec<crate::domain::burn::usage::Running>, AwsError>> {
        async move {
            if self.clusters() {
                return Ok(Vec::new());
            }
            rds::describe_running(at.rds(), at.region).await
        }
        .boxed()
    }
}

/// Stamps each stopped database, by ARN.
async fn stamp_each(at: &InRegion<'_>, stopped: &[Target], stamp: &Stamp) -> Result<(), AwsError> {
    for t in stopped {
        rds::stamp(at.rds(), &t.handle, stamp).await?;
    }
    Ok(())
}

/// Writes the resuming marker on each database, by ARN.
async fn mark_each(at: &InRegion<'_>, batch: &[Target], marker: &str) -> Result<(), AwsError> {
    for t in batch {
        rds::mark_resuming(at.rds(), &t.handle, marker).await?;
    }
    Ok(())
}

/// Removes the resuming marker from each database, by ARN.
async fn clear_each(at: &InRegion<'_>, started: &[Target]) -> Result<(), AwsError> {
    for t in started {
        rds::clear_marker(at.rds(), &t.handle).await?;
    }
    Ok(())
}
