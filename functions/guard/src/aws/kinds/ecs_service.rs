//! ECS services: listed cluster by cluster with their tags, and with the
//! region's Application Auto Scaling targets (one paged describe); stopped
//! by saving what they were, suspending their target's scaling with its
//! minimum at 0, and setting the count to 0; started by the saved count and
//! target. Tagged by ARN.

use std::collections::HashMap;

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace, SuspendedState};
use aws_sdk_ecs::types::{ServiceField, Tag};
use futures::future::BoxFuture;
use futures::FutureExt;

use super::by_one::{Listed, OneAtATime};
use super::InRegion;
use crate::aws::seal;
use crate::domain::config::SelectionConfig;
use crate::domain::error::AwsError;
use crate::domain::inventory::{ResourceKind, Target};
use crate::domain::kinds::ecs_service::{
    plan_services, EcsService, ScalingTarget, Suspended, TaskSize,
};
use crate::domain::outcome::Outcome;
use crate::domain::select::Skipped;
use crate::domain::tags::{RESUMING_TAG, SAVED_TAG};

pub(crate) struct Services;

/// A task definition, by its ARN or family:revision (what the tripwire and
/// the burn rate read a task's size from).
pub(crate) async fn task_definition(
    at: &InRegion<'_>,
    definition: &str,
) -> Result<Option<aws_sdk_ecs::types::TaskDefinition>, AwsError> {
    let out = at
        .ecs()
        .describe_task_definition()
        .task_definition(definition)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ecs:DescribeTaskDefinition", e))?;
    Ok(out.task_definition)
}

/// A task definition's Fargate size: its task-level CPU units and memory,
/// and whether it runs on ARM. `None` when either is not set at the task
/// level (Fargate requires both, so that is not a Fargate definition).
async fn task_size(at: &InRegion<'_>, definition: &str) -> Result<Option<TaskSize>, AwsError> {
    let Some(def) = task_definition(at, definition).await? else {
        return Ok(None);
    };
    let number = |v: Option<&str>| v.and_then(|c| c.trim().parse::<u64>().ok());
    let arm = def
        .runtime_platform()
        .and_then(|p| p.cpu_architecture())
        .is_some_and(|a| a.as_str() == "ARM64");
    Ok(match (number(def.cpu()), number(def.memory())) {
        (Some(cpu_units), Some(memory_mib)) => Some(TaskSize {
            cpu_units,
            memory_mib,
            arm,
        }),
        _ => None,
    })
}

/// The part of an ARN after its last `/`: a cluster's or service's name.
fn name_of(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The region's services with their tags and scaling targets.
pub(crate) async fn describe_services(at: &InRegion<'_>) -> Result<Vec<EcsService>, AwsError> {
    let ecs = at.ecs();
    let mut clusters = Vec::new();
    let mut pages = ecs.list_clusters().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ecs:ListClusters", e))?;
        clusters.extend(page.cluster_arns().iter().cloned());
    }
    let mut services = Vec::new();
    for cluster in &clusters {
        let mut arns = Vec::new();
        let mut pages = ecs.list_services().cluster(cluster).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ecs:ListServices", e))?;
            arns.extend(page.service_arns().iter().cloned());
        }
        services.extend(describe_in(at, cluster, &arns).await?);
    }
    if services.is_empty() {
        return Ok(services);
    }
    let targets = describe_targets(at, None).await?;
    for s in &mut services {
        s.target = targets.get(&s.scaling_id()).copied();
    }
    Ok(services)
}

/// One service of `cluster` by its exact name, with its tags and scaling
/// target (the tripwire's, which needs no other).
pub(crate) async fn service(
    at: &InRegion<'_>,
    cluster: &str,
    name: &str,
) -> Result<Option<EcsService>, AwsError> {
    let found = describe_in(at, cluster, &[name.to_string()]).await?;
    let Some(mut s) = found.into_iter().find(|s| s.name == name) else {
        return Ok(None);
    };
    let targets = describe_targets(at, Some(s.scaling_id())).await?;
    s.target = targets.get(&s.scaling_id()).copied();
    Ok(Some(s))
}

/// The services `arns` (ARNs or names) of `cluster`, ten per call.
async fn describe_in(
    at: &InRegion<'_>,
    cluster: &str,
    arns: &[String],
) -> Result<Vec<EcsService>, AwsError> {
    let ecs = at.ecs();
    let mut services = Vec::new();
    for chunk in arns.chunks(10) {
        let out = ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .include(ServiceField::Tags)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ecs:DescribeServices", e))?;
        for s in out.services() {
            let launch_type = match s.launch_type() {
                Some(t) => t.as_str().to_string(),
                None => s
                    .capacity_provider_strategy()
                    .first()
                    .map(|c| c.capacity_provider().to_string())
                    .unwrap_or_else(|| "EC2".into()),
            };
            services.push(EcsService {
                arn: s.service_arn().unwrap_or_default().to_string(),
                name: s.service_name().unwrap_or_default().to_string(),
                cluster: name_of(s.cluster_arn().unwrap_or(cluster)).to_string(),
                desired: s.desired_count(),
                running: s.running_count(),
                launch_type,
                task_definition: s.task_definition().map(str::to_string),
                target: None,
                tags: s
                    .tags()
                    .iter()
                    .map(|t| {
                        (
                            t.key().unwrap_or_default().to_string(),
                            t.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
            });
        }
    }
    Ok(services)
}

/// The region's ECS scaling targets (or the one of resource `only`), by
/// resource id.
async fn describe_targets(
    at: &InRegion<'_>,
    only: Option<String>,
) -> Result<HashMap<String, ScalingTarget>, AwsError> {
    let mut targets = HashMap::new();
    let mut pages = at
        .app_scaling()
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .set_resource_ids(only.map(|id| vec![id]))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            AwsError::from_sdk("application-autoscaling:DescribeScalableTargets", e)
        })?;
        for t in page.scalable_targets() {
            if t.scalable_dimension() != &ScalableDimension::EcsServiceDesiredCount {
                continue;
            }
            let s = t.suspended_state();
            targets.insert(
                t.resource_id().to_string(),
                ScalingTarget {
                    min: t.min_capacity(),
                    max: t.max_capacity(),
                    suspended: Suspended {
                        scale_in: s
                            .and_then(|s| s.dynamic_scaling_in_suspended())
                            .unwrap_or(false),
                        scale_out: s
                            .and_then(|s| s.dynamic_scaling_out_suspended())
                            .unwrap_or(false),
                        scheduled: s
                            .and_then(|s| s.scheduled_scaling_suspended())
                            .unwrap_or(false),
                    },
                },
            );
        }
    }
    Ok(targets)
}

/// Sets a service's scaling target; its maximum is never changed.
async fn set_target(
    at: &InRegion<'_>,
    s: &EcsService,
    min: i32,
    max: i32,
    suspended: Suspended,
) -> Result<(), AwsError> {
    at.app_scaling()
        .register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(s.scaling_id())
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .min_capacity(min)
        .max_capacity(max)
        .suspended_state(
            SuspendedState::builder()
                .dynamic_scaling_in_suspended(suspended.scale_in)
                .dynamic_scaling_out_suspended(suspended.scale_out)
                .scheduled_scaling_suspended(suspended.scheduled)
                .build(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::from_sdk("application-autoscaling:RegisterScalableTarget", e))
}

async fn set_count(at: &InRegion<'_>, s: &EcsService, desired: i32) -> Result<(), AwsError> {
    at.ecs()
        .update_service()
        .cluster(&s.cluster)
        .service(&s.name)
        .desired_count(desired)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::from_sdk("ecs:UpdateService", e))
}

pub(crate) async fn tag(
    at: &InRegion<'_>,
    arn: &str,
    pairs: &[(&str, &str)],
) -> Result<(), AwsError> {
    let tags: Vec<Tag> = pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
        .collect();
    at.ecs()
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tags))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::from_sdk("ecs:TagResource", e))
}

/// Stops one service: what it was saved first, then its target (else the
/// target would raise the count again), then the count.
pub(crate) async fn stop_service(at: &InRegion<'_>, s: &EcsService) -> Result<(), AwsError> {
    let prior = seal::prior(at, &s.arn, &s.tags).await;
    let s = &match prior.keeps() {
        true => s.clone(),
        false => EcsService {
            tags: seal::without_saved(&s.tags),
            ..s.clone()
        },
    };
    if prior.writes() {
        let value = seal::seal_value(at, &s.arn, &s.to_save().encode()).await;
        tag(at, &s.arn, &[(SAVED_TAG, &value)]).await?;
    }
    if let Some(t) = s.target {
        set_target(at, s, 0, t.max, Suspended::ALL).await?;
    }
    set_count(at, s, 0).await
}

impl OneAtATime for Services {
    type Record = EcsService;

    /// The services running Fargate tasks, each priced by its task
    /// definition's size (read once per definition).
    fn running<'a>(
        &'a self,
        at: &'a InRegion<'a>,
    ) -> BoxFuture<'a, Result<Vec<crate::domain::burn::usage::Running>, AwsError>> {
        async move {
            let listed = self.list(at).await;
            let services = listed.as_ref().as_ref().map_err(Clone::clone)?;
            let mut sizes: HashMap<String, Option<TaskSize>> = HashMap::new();
            let mut running = Vec::new();
            for s in services.iter().filter(|s| s.on_fargate()) {
                let size = match &s.task_definition {
                    Some(def) => match sizes.get(def) {
                        Some(size) => *size,
                        None => {
                            // One definition that cannot be read makes its
                            // services' price unknown, not the region's.
                            let size = task_size(at, def).await.unwrap_or_else(|e| {
                                tracing::warn!(region = at.region, definition = %def, error = %e, "task size unknown");
                                None
                            });
                            sizes.insert(def.clone(), size);
                            size
                        }
                    },
                    None => None,
                };
                running.extend(s.charged(size, at.region));
            }
            Ok(running)
        }
        .boxed()
    }

    fn kind(&self) -> ResourceKind {
        ResourceKind::EcsService
    }

    fn needs_capacity(&self) -> bool {
        true
    }

    fn list<'a>(&'a self, at: &'a InRegion<'a>) -> BoxFuture<'a, Listed<EcsService>> {
        at.shared("ecs", || describe_services(at)).boxed()
    }

    fn choose(
        &self,
        records: &[EcsService],
        select: &SelectionConfig,
        _: &str,
    ) -> (Vec<Target>, Vec<Skipped>) {
        let plan = plan_services(records, select);
        (plan.to_stop.iter().map(Target::of).collect(), plan.skipped)
    }

    fn stop_one<'a>(&'a self, at: &'a InRegion<'a>, s: &'a EcsService) -> BoxFuture<'a, Outcome> {
        async move {
            match stop_service(at, s).await {
                Ok(()) => Outcome::Done,
                Err(e) => Outcome::Failed(e),
            }
        }
        .boxed()
    }

    fn start_one<'a>(&'a self, at: &'a InRegion<'a>, s: &'a EcsService) -> BoxFuture<'a, Outcome> {
        async move {
            let saved = match s.saved() {
                Ok(saved) => saved,
                Err(why) => return Outcome::Skipped(why),
            };
            // The count first, within the target's minimum of 0; then the
            // target as it was.
            if let Err(e) = set_count(at, s, saved.desired).await {
                return Outcome::Failed(e);
            }
            if let Some(t) = saved.target {
                if let Err(e) = set_target(at, s, t.min, t.max, t.suspended).await {
                    return Outcome::Failed(e);
                }
            }
            Outcome::Done
        }
        .boxed()
    }

    fn tag<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        s: &'a EcsService,
        pairs: &'a [(&'a str, &'a str)],
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        tag(at, &s.arn, pairs).boxed()
    }

    fn untag<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        s: &'a EcsService,
        keys: &'a [&'a str],
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        async move {
            at.ecs()
                .untag_resource()
                .resource_arn(&s.arn)
                .set_tag_keys(Some(keys.iter().map(|k| k.to_string()).collect()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("ecs:UntagResource", e))
        }
        .boxed()
    }

    fn cleared(&self) -> &'static [&'static str] {
        &[RESUMING_TAG, SAVED_TAG]
    }

    fn sealed<'a>(&self, s: &'a EcsService) -> Option<&'a str> {
        Some(&s.arn)
    }
}
