//! Auto Scaling groups: listed with their instances (one describe of the
//! groups and one of their instances per region), stopped by saving and
//! suspending their processes and stopping their instances, started by
//! starting the instances, waiting until they run, and resuming the
//! processes cost-guard suspended. No instance is terminated, and no size
//! is changed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_autoscaling::types::Tag;
use futures::future::BoxFuture;
use futures::FutureExt;

use super::{one_by_one, started, Answer, InRegion, Kind, StopPlan};
use crate::aws::ec2;
use crate::aws::seal;
use crate::domain::config::SelectionConfig;
use crate::domain::error::AwsError;
use crate::domain::inventory::{ResourceKind, Target};
use crate::domain::kinds::auto_scaling_group::{plan_groups, AutoScalingGroup, Member};
use crate::domain::outcome::{Outcome, Stamp};
use crate::domain::resume::{plan_start, ResumeRequest, StartPlan};
use crate::domain::select;
use crate::domain::tags::{RESUMING_TAG, SAVED_TAG, STOPPED_AT_TAG, STOPPED_BY_TAG};

pub(crate) struct Groups;

/// How often resume looks whether a group's instances run yet, and how many
/// times before it leaves the group for the next resume (so that one slow
/// group does not hold up the services waiting for capacity).
const RUNNING_POLL: Duration = Duration::from_secs(3);
const RUNNING_POLLS: u32 = 20;

/// The region's groups with their instances, listed once per region (the
/// EC2 kind reads it too, for the instances that belong to a group).
pub(crate) async fn listing(at: &InRegion<'_>) -> Arc<Result<Vec<AutoScalingGroup>, AwsError>> {
    at.shared("autoscaling", || async {
        let mut groups = describe_groups(at, None).await?;
        // A group whose nodes an EKS node group runs is stopped as that
        // node group, when the sweep covers them. Its tags could claim it
        // (eks:nodegroup-name); only EKS's own answer is believed.
        if at.kinds.contains(ResourceKind::EksNodeGroup) && !groups.is_empty() {
            let owners = super::eks_node_group::owners(at).await;
            for g in &mut groups {
                g.node_group = owners.get(&g.name).cloned();
            }
        }
        Ok(groups)
    })
    .await
}

/// One group by its exact name, with its instances (the tripwire's, which
/// needs no other).
pub(crate) async fn group(
    at: &InRegion<'_>,
    name: &str,
) -> Result<Option<AutoScalingGroup>, AwsError> {
    let groups = describe_groups(at, Some(name)).await?;
    Ok(groups.into_iter().find(|g| g.name == name))
}

/// The region's groups, or the one named.
async fn describe_groups(
    at: &InRegion<'_>,
    name: Option<&str>,
) -> Result<Vec<AutoScalingGroup>, AwsError> {
    let mut pages = at
        .autoscaling()
        .describe_auto_scaling_groups()
        .set_auto_scaling_group_names(name.map(|n| vec![n.to_string()]))
        .into_paginator()
        .send();
    let mut groups = Vec::new();
    let mut members: Vec<Vec<String>> = Vec::new();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| AwsError::from_sdk("autoscaling:DescribeAutoScalingGroups", e))?;
        for g in page.auto_scaling_groups() {
            members.push(
                g.instances()
                    .iter()
                    .filter_map(|i| i.instance_id().map(str::to_string))
                    .collect(),
            );
            groups.push(AutoScalingGroup {
                name: g.auto_scaling_group_name().unwrap_or_default().to_string(),
                arn: g.auto_scaling_group_arn().unwrap_or_default().to_string(),
                min: g.min_size().unwrap_or_default(),
                desired: g.desired_capacity().unwrap_or_default(),
                max: g.max_size().unwrap_or_default(),
                suspended: g
                    .suspended_processes()
                    .iter()
                    .filter_map(|p| p.process_name().map(str::to_string))
                    .collect(),
                members: Vec::new(),
                tags: g
                    .tags()
                    .iter()
                    .map(|t| {
                        (
                            t.key().unwrap_or_default().to_string(),
                            t.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
                node_group: None,
            });
        }
    }
    let ids: Vec<String> = members.iter().flatten().cloned().collect();
    let described = ec2::describe_by_ids(at.ec2(), &ids).await?;
    let by_id: HashMap<&str, &Member> = described.iter().map(|m| (m.id.as_str(), m)).collect();
    for (g, ids) in groups.iter_mut().zip(members) {
        g.members = ids
            .into_iter()
            .map(|id| match by_id.get(id.as_str()) {
                Some(m) => (*m).clone(),
                None => Member {
                    id,
                    state: "unknown".into(),
                    instance_type: String::new(),
                    tags: Vec::new(),
                },
            })
            .collect();
    }
    Ok(groups)
}

fn tag(group: &str, key: &str, value: &str) -> Tag {
    Tag::builder()
        .resource_id(group)
        .resource_type("auto-scaling-group")
        .key(key)
        .value(value)
        .propagate_at_launch(false)
        .build()
}

pub(crate) async fn write_tags(
    at: &InRegion<'_>,
    group: &str,
    pairs: &[(&str, &str)],
) -> Result<(), AwsError> {
    let tags: Vec<Tag> = pairs.iter().map(|(k, v)| tag(group, k, v)).collect();
    at.autoscaling()
        .create_or_update_tags()
        .set_tags(Some(tags))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::from_sdk("autoscaling:CreateOrUpdateTags", e))
}

async fn delete_tags(at: &InRegion<'_>, group: &str, keys: &[&str]) -> Result<(), AwsError> {
    let tags: Vec<Tag> = keys.iter().map(|k| tag(group, k, "")).collect();
    at.autoscaling()
        .delete_tags()
        .set_tags(Some(tags))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::from_sdk("autoscaling:DeleteTags", e))
}

/// The group as listed, by name.
fn find<'a>(groups: &'a [AutoScalingGroup], name: &str) -> Option<&'a AutoScalingGroup> {
    groups.iter().find(|g| g.name == name)
}

/// Notes the instances an answer says were not acted on, with why.
fn note_left(left: &Mutex<Vec<String>>, outcomes: Vec<(String, Outcome)>) {
    let mut left = left.lock().unwrap_or_else(|p| p.into_inner());
    for (id, outcome) in outcomes {
        match outcome {
            Outcome::Done | Outcome::AlreadyDone => {}
            Outcome::Skipped(why) => left.push(format!("{id} ({why})")),
            Outcome::Failed(e) => left.push(format!("{id} ({e})")),
        }
    }
}

/// Stops one group: saves what the stop changes, suspends the processes,
/// stops the instances. Done only when every instance stopped; when some
/// did not, the group still counts as stopped (its processes are suspended,
/// so it is stamped for resume) and the report says which.
pub(crate) async fn stop_group(at: &InRegion<'_>, g: &AutoScalingGroup) -> (Outcome, bool) {
    let prior = seal::prior(at, &g.arn, &g.tags).await;
    let g = &match prior.keeps() {
        true => g.clone(),
        false => AutoScalingGroup {
            tags: seal::without_saved(&g.tags),
            ..g.clone()
        },
    };
    let saved = g.to_save();
    if prior.writes() {
        let value = seal::seal_value(at, &g.arn, &saved.encode()).await;
        if let Err(e) = write_tags(at, &g.name, &[(SAVED_TAG, &value)]).await {
            return (Outcome::Failed(e), false);
        }
    }
    if !saved.ours.is_empty() {
        let suspend = at
            .autoscaling()
            .suspend_processes()
            .auto_scaling_group_name(&g.name)
            .set_scaling_processes(Some(saved.ours.clone()))
            .send()
            .await;
        if let Err(e) = suspend {
            return (
                Outcome::Failed(AwsError::from_sdk("autoscaling:SuspendProcesses", e)),
                false,
            );
        }
    }
    let left = Mutex::new(Vec::new());
    let record = |outcomes| note_left(&left, outcomes);
    ec2::stop_batch(at.ec2(), g.to_stop(), &record).await;
    let left = left.into_inner().unwrap_or_else(|p| p.into_inner());
    if left.is_empty() {
        return (Outcome::Done, true);
    }
    let error = AwsError::new(
        "ec2:StopInstances",
        "InstancesNotStopped",
        format!(
            "its processes are suspended, so it launches nothing, but {} of its instances still run: {}",
            left.len(),
            left.join(", ")
        ),
    );
    (Outcome::Failed(error), true)
}

/// Starts one group: its instances, then, once they run, the processes
/// cost-guard suspended. Until they run, the processes stay suspended (the
/// health check would replace a stopped instance); a resume that runs out
/// of time leaves the marker, and the next one finishes.
async fn start_group(at: &InRegion<'_>, g: &AutoScalingGroup) -> Outcome {
    let saved = match g.saved() {
        Ok(saved) => saved,
        Err(why) => return Outcome::Skipped(why),
    };
    let client = at.ec2();
    let left = Mutex::new(Vec::new());
    let record = |outcomes| note_left(&left, outcomes);
    ec2::start_batch(client, g.to_start(), &record).await;
    let left = left.into_inner().unwrap_or_else(|p| p.into_inner());
    if !left.is_empty() {
        return Outcome::Failed(AwsError::new(
            "ec2:StartInstances",
            "InstancesNotStarted",
            format!(
                "{} of its instances did not start, so its processes stay suspended: {}; run resume again",
                left.len(),
                left.join(", ")
            ),
        ));
    }
    // Every instance of the group must run before the health check is back,
    // else it replaces (terminates) the ones that do not. One that is not
    // starting (stopped by its owner, terminated) keeps the processes
    // suspended, with why; so does one still starting after a minute.
    let ids: Vec<String> = g.members.iter().map(|m| m.id.clone()).collect();
    let mut polls = 0;
    loop {
        let now = match ec2::describe_by_ids(client, &ids).await {
            Ok(now) => now,
            Err(e) => return Outcome::Failed(e),
        };
        let not_starting: Vec<String> = ids
            .iter()
            .filter(|id| {
                !now.iter()
                    .any(|m| &m.id == *id && matches!(m.state.as_str(), "pending" | "running"))
            })
            .cloned()
            .collect();
        if !not_starting.is_empty() {
            return Outcome::Failed(AwsError::new(
                "ec2:DescribeInstances",
                "InstancesNotRunning",
                format!(
                    "its instances {} are not starting, so its processes stay suspended (the health check would replace them); start them, then run resume again",
                    not_starting.join(", ")
                ),
            ));
        }
        if now.iter().all(|m| m.state == "running") {
            break;
        }
        polls += 1;
        if polls >= RUNNING_POLLS {
            return Outcome::Failed(AwsError::new(
                "ec2:DescribeInstances",
                "InstancesStillStarting",
                "its instances are still starting, so its processes stay suspended; run resume again in a minute".to_string(),
            ));
        }
        tokio::time::sleep(RUNNING_POLL).await;
    }
    if !saved.ours.is_empty() {
        let resumed = at
            .autoscaling()
            .resume_processes()
            .auto_scaling_group_name(&g.name)
            .set_scaling_processes(Some(saved.ours.clone()))
            .send()
            .await;
        if let Err(e) = resumed {
            return Outcome::Failed(AwsError::from_sdk("autoscaling:ResumeProcesses", e));
        }
    }
    if let Some(change) = g.size_change(&saved) {
        tracing::warn!(region = at.region, group = %g.name, "{change}");
    }
    Outcome::Done
}

impl Kind for Groups {
    fn kind(&self) -> ResourceKind {
        ResourceKind::AutoScalingGroup
    }

    fn plan_stop<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        select: &'a SelectionConfig,
        stamp: &'a Stamp,
    ) -> BoxFuture<'a, Result<StopPlan, AwsError>> {
        async move {
            let listed = listing(at).await;
            let groups = listed.as_ref().as_ref().map_err(Clone::clone)?;
            let mut plan = plan_groups(groups, select);
            if groups.iter().any(|g| g.node_group.is_some()) {
                let owners = super::eks_node_group::verdicts(at, select).await;
                for s in &mut plan.skipped {
                    if let Some(why) = owners.get(&s.resource.id) {
                        s.reason = why.clone();
                    }
                }
            }
            Ok(StopPlan {
                to_stop: plan.to_stop.iter().map(Target::of).collect(),
                skipped: plan.skipped,
                earlier: select::earlier(groups, select, &stamp.by, &stamp.at),
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
        async move {
            let listed = listing(at).await;
            let groups = listed.as_ref().as_deref().unwrap_or_default();
            let mut done = Vec::new();
            for t in batch {
                let (outcome, stamp) = match find(groups, &t.handle) {
                    Some(g) => stop_group(at, g).await,
                    None => (Outcome::Skipped("it no longer exists".into()), false),
                };
                if stamp {
                    done.push(t.handle.clone());
                }
                answer(vec![(t.handle.clone(), outcome)]);
            }
            done
        }
        .boxed()
    }

    /// The group, and each instance it stopped (running when listed).
    fn stamp<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        stopped: &'a [Target],
        stamp: &'a Stamp,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        async move {
            let listed = listing(at).await;
            let groups = listed.as_ref().as_deref().unwrap_or_default();
            // The instances first: a group stamped with unstamped stopped
            // instances would be resumed without them, and its health check
            // would then replace them.
            for t in stopped {
                if let Some(g) = find(groups, &t.handle) {
                    ec2::stamp(at.ec2(), &g.to_stop(), stamp).await?;
                }
                write_tags(
                    at,
                    &t.handle,
                    &[(STOPPED_AT_TAG, &stamp.at), (STOPPED_BY_TAG, &stamp.by)],
                )
                .await?;
            }
            Ok(())
        }
        .boxed()
    }

    fn plan_start<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        request: &'a ResumeRequest,
    ) -> BoxFuture<'a, Result<StartPlan, AwsError>> {
        async move {
            let listed = listing(at).await;
            let groups = listed.as_ref().as_ref().map_err(Clone::clone)?;
            let plan = plan_start(groups, request);
            Ok(seal::checked(at, plan, |t| {
                find(groups, &t.handle).map(|g| (g.arn.as_str(), &g.tags))
            })
            .await)
        }
        .boxed()
    }

    /// The group and its stamped instances: the marker in place of the stamp.
    fn mark_resuming<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        batch: &'a [Target],
        marker: &'a str,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        async move {
            let listed = listing(at).await;
            let groups = listed.as_ref().as_deref().unwrap_or_default();
            for t in batch {
                write_tags(at, &t.handle, &[(RESUMING_TAG, marker)]).await?;
                delete_tags(at, &t.handle, &[STOPPED_AT_TAG, STOPPED_BY_TAG]).await?;
                if let Some(g) = find(groups, &t.handle) {
                    ec2::mark_resuming(at.ec2(), &g.to_mark(), marker).await?;
                }
            }
            Ok(())
        }
        .boxed()
    }

    fn start<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        batch: &'a [Target],
        answer: Answer<'a>,
    ) -> BoxFuture<'a, Vec<String>> {
        async move {
            let listed = listing(at).await;
            let groups = listed.as_ref().as_deref().unwrap_or_default();
            one_by_one(batch, answer, started, |t| async move {
                match find(groups, &t.handle) {
                    Some(g) => start_group(at, g).await,
                    None => Outcome::Skipped("it no longer exists".into()),
                }
            })
            .await
        }
        .boxed()
    }

    fn clear_marker<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        started: &'a [Target],
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        async move {
            let listed = listing(at).await;
            let groups = listed.as_ref().as_deref().unwrap_or_default();
            for t in started {
                if let Some(g) = find(groups, &t.handle) {
                    ec2::clear_marker(at.ec2(), &g.to_start()).await?;
                }
                delete_tags(at, &t.handle, &[RESUMING_TAG, SAVED_TAG]).await?;
            }
            Ok(())
        }
        .boxed()
    }
}
