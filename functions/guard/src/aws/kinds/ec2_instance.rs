//! EC2 instances: listed with a server-side tag filter, stopped and started
//! in batches (a batch that fails because of one instance is split until the
//! rest go through), stamped with one call per batch.

use std::collections::HashSet;

use futures::future::BoxFuture;
use futures::FutureExt;

use super::{Answer, InRegion, Kind, StopPlan};
use crate::aws::ec2;
use crate::domain::config::SelectionConfig;
use crate::domain::error::AwsError;
use crate::domain::inventory::tag;
use crate::domain::inventory::{ResourceKind, Target};
use crate::domain::kinds::auto_scaling_group::member_verdict;
use crate::domain::kinds::ec2_instance::{plan_ec2, Ec2Instance};
use crate::domain::outcome::Stamp;
use crate::domain::resume::{plan_start, ResumeRequest, StartPlan};
use crate::domain::select::{self, Match};
use crate::domain::tags::ASG_TAG;

pub(super) struct Ec2Instances;

/// The instances outside any Auto Scaling group: what a group stopped
/// (stamped with it) it reports and starts again itself.
fn alone(instances: Vec<Ec2Instance>) -> Vec<Ec2Instance> {
    instances
        .into_iter()
        .filter(|i| tag(&i.tags, ASG_TAG).is_none())
        .collect()
}

/// A running (or starting) member of an Auto Scaling group: the groups are
/// listed only when there is one.
fn runs_in_group(i: &Ec2Instance) -> bool {
    matches!(i.state.as_str(), "running" | "pending") && tag(&i.tags, ASG_TAG).is_some()
}

fn ids(targets: &[Target]) -> Vec<String> {
    targets.iter().map(|t| t.handle.clone()).collect()
}

impl Kind for Ec2Instances {
    fn kind(&self) -> ResourceKind {
        ResourceKind::Ec2Instance
    }

    fn batch(&self) -> usize {
        ec2::STOP_BATCH
    }

    fn plan_stop<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        select: &'a SelectionConfig,
        stamp: &'a Stamp,
    ) -> BoxFuture<'a, Result<StopPlan, AwsError>> {
        async move {
            let client = at.ec2();
            let instances = ec2::describe_candidates(client, select).await?;
            let spot_requests: Vec<String> = instances
                .iter()
                .filter(|i| matches!(i.state.as_str(), "running" | "pending"))
                .filter(|i| select::match_tags(&i.tags, select) == Match::Selected)
                .filter_map(|i| i.spot_request_id.clone())
                .collect();
            let one_time = if spot_requests.is_empty() {
                HashSet::new()
            } else {
                // Best effort: if this fails, StopInstances itself rejects
                // one-time spot instances and the batch split isolates them.
                ec2::one_time_spot_requests(client, &spot_requests)
                    .await
                    .unwrap_or_else(|e| {
                        tracing::warn!(region = at.region, error = %e, "cannot read spot requests");
                        HashSet::new()
                    })
            };
            let groups = if instances.iter().any(runs_in_group) && at.kinds.contains(ResourceKind::AutoScalingGroup) {
                Some(super::auto_scaling_group::listing(at).await)
            } else {
                None
            };
            let member = |name: &str| match groups.as_deref() {
                None => member_verdict(None, name, select, false),
                Some(Ok(groups)) => {
                    member_verdict(groups.iter().find(|g| g.name == name), name, select, true)
                }
                Some(Err(e)) => Some(format!(
                    "member of Auto Scaling group {name}, which could not be listed ({e}): stopping it alone would only make the group launch a replacement"
                )),
            };
            let plan = plan_ec2(&instances, select, &one_time, &member);
            Ok(StopPlan {
                to_stop: plan.to_stop.iter().map(Target::of).collect(),
                skipped: plan.skipped,
                earlier: select::earlier(&alone(instances), select, &stamp.by, &stamp.at),
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
        ec2::stop_batch(at.ec2(), ids(batch), answer).boxed()
    }

    fn stamp<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        stopped: &'a [Target],
        stamp: &'a Stamp,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        async move { ec2::stamp(at.ec2(), &ids(stopped), stamp).await }.boxed()
    }

    fn plan_start<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        request: &'a ResumeRequest,
    ) -> BoxFuture<'a, Result<StartPlan, AwsError>> {
        async move {
            let instances = ec2::describe_stamped(at.ec2()).await?;
            Ok(plan_start(&alone(instances), request))
        }
        .boxed()
    }

    fn mark_resuming<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        batch: &'a [Target],
        marker: &'a str,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        async move { ec2::mark_resuming(at.ec2(), &ids(batch), marker).await }.boxed()
    }

    fn start<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        batch: &'a [Target],
        answer: Answer<'a>,
    ) -> BoxFuture<'a, Vec<String>> {
        ec2::start_batch(at.ec2(), ids(batch), answer).boxed()
    }

    fn clear_marker<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        started: &'a [Target],
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        async move { ec2::clear_marker(at.ec2(), &ids(started)).await }.boxed()
    }

    fn running<'a>(
        &'a self,
        at: &'a InRegion<'a>,
    ) -> BoxFuture<'a, Result<Vec<crate::domain::burn::usage::Running>, AwsError>> {
        ec2::describe_running(at.ec2(), at.region).boxed()
    }
}
