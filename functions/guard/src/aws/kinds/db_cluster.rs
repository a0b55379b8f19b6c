//! RDS DB clusters: stopped and started as a whole, one by one, stamped by
//! ARN; chosen from the region's RDS listing, shared with the instance kind.

use futures::future::BoxFuture;
use futures::FutureExt;

use super::db_instance::{
    clear_each, mark_each, one_by_one, rds_listing, stamp_each, started, stopped,
};
use super::{Answer, InRegion, Kind, StopPlan};
use crate::aws::rds;
use crate::domain::config::SelectionConfig;
use crate::domain::error::AwsError;
use crate::domain::inventory::{ResourceKind, Target};
use crate::domain::kinds::rds::plan_rds;
use crate::domain::outcome::Stamp;
use crate::domain::resume::{plan_start, ResumeRequest, StartPlan};
use crate::domain::select;

pub(super) struct DbClusters;

impl Kind for DbClusters {
    fn kind(&self) -> ResourceKind {
        ResourceKind::DbCluster
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
            Ok(StopPlan {
                to_stop: plan.clusters.iter().map(Target::of).collect(),
                skipped: plan
                    .skipped
                    .into_iter()
                    .filter(|s| s.resource.kind == ResourceKind::DbCluster)
                    .collect(),
                earlier: select::earlier(clusters, select, &stamp.by, &stamp.at),
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
        one_by_one(batch, answer, stopped, |t| {
            rds::stop_cluster(at.rds(), &t.resource.id)
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
            let (_, clusters) = listed.as_ref().as_ref().map_err(Clone::clone)?;
            Ok(plan_start(clusters, request))
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
        one_by_one(batch, answer, started, |t| {
            rds::start_cluster(at.rds(), &t.resource.id)
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
}
