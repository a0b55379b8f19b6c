//! EKS managed node groups (opt-in): listed cluster by cluster (EKS has no
//! call that describes several node groups, so one `DescribeNodegroup` per
//! group), scaled to zero after their sizes are saved, scaled back by
//! resume; tagged by ARN.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_eks::types::NodegroupScalingConfig;
use futures::future::BoxFuture;
use futures::FutureExt;

use super::by_one::{Listed, OneAtATime};
use super::InRegion;
use crate::aws::seal;
use crate::domain::config::SelectionConfig;
use crate::domain::error::AwsError;
use crate::domain::inventory::{ResourceKind, Target};
use crate::domain::kinds::eks_node_group::{plan_node_groups, NodeGroup, Sizes};
use crate::domain::outcome::Outcome;
use crate::domain::select::Skipped;
use crate::domain::tags::{RESUMING_TAG, SAVED_TAG};

pub(crate) struct NodeGroups;

/// The region's node groups, listed once per region (the Auto Scaling
/// kind reads it too, for the groups EKS runs the nodes in).
pub(crate) async fn listing(at: &InRegion<'_>) -> Listed<NodeGroup> {
    at.shared("eks", || describe_node_groups(at)).await
}

async fn describe_node_groups(at: &InRegion<'_>) -> Result<Vec<NodeGroup>, AwsError> {
    let eks = at.eks();
    let mut clusters = Vec::new();
    let mut pages = eks.list_clusters().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("eks:ListClusters", e))?;
        clusters.extend(page.clusters().iter().cloned());
    }
    let mut groups = Vec::new();
    for cluster in &clusters {
        let mut names = Vec::new();
        let mut pages = eks
            .list_nodegroups()
            .cluster_name(cluster)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("eks:ListNodegroups", e))?;
            names.extend(page.nodegroups().iter().cloned());
        }
        for name in names {
            let out = match eks
                .describe_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(&name)
                .send()
                .await
            {
                Ok(out) => out,
                // Deleted between the list and the describe.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_resource_not_found_exception()) =>
                {
                    continue
                }
                Err(e) => return Err(AwsError::from_sdk("eks:DescribeNodegroup", e)),
            };
            let Some(g) = out.nodegroup() else { continue };
            let scaling = g.scaling_config();
            groups.push(NodeGroup {
                arn: g.nodegroup_arn().unwrap_or_default().to_string(),
                cluster: cluster.clone(),
                name: g.nodegroup_name().unwrap_or(&name).to_string(),
                status: g
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                sizes: Sizes {
                    min: scaling.and_then(|s| s.min_size()).unwrap_or_default(),
                    desired: scaling.and_then(|s| s.desired_size()).unwrap_or_default(),
                    max: scaling.and_then(|s| s.max_size()).unwrap_or_default(),
                },
                instance_types: g.instance_types().to_vec(),
                capacity_type: g
                    .capacity_type()
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_else(|| "ON_DEMAND".into()),
                auto_scaling_groups: g
                    .resources()
                    .map(|r| {
                        r.auto_scaling_groups()
                            .iter()
                            .filter_map(|a| a.name().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                tags: g
                    .tags()
                    .map(|t| {
                        let mut t: Vec<(String, String)> =
                            t.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                        t.sort();
                        t
                    })
                    .unwrap_or_default(),
            });
        }
    }
    Ok(groups)
}

/// The node group each Auto Scaling group of the region runs the nodes of
/// (`cluster/name`), by the Auto Scaling group's name; empty when EKS could
/// not be listed (its own kind reports that).
pub(crate) async fn owners(at: &InRegion<'_>) -> Arc<HashMap<String, String>> {
    let listed = listing(at).await;
    let groups: &[NodeGroup] = listed.as_ref().as_deref().unwrap_or_default();
    Arc::new(
        groups
            .iter()
            .flat_map(|g| {
                g.auto_scaling_groups
                    .iter()
                    .map(move |a| (a.clone(), format!("{}/{}", g.cluster, g.name)))
            })
            .collect(),
    )
}

/// Why each Auto Scaling group that runs a node group's nodes is not
/// stopped as a group, by its name: its node group is stopped, or is not
/// (with the node group's own reason).
pub(crate) async fn verdicts(
    at: &InRegion<'_>,
    select: &SelectionConfig,
) -> HashMap<String, String> {
    let listed = listing(at).await;
    let groups: &[NodeGroup] = listed.as_ref().as_deref().unwrap_or_default();
    let plan = plan_node_groups(groups, select);
    let stopped: Vec<&str> = plan.to_stop.iter().map(|g| g.arn.as_str()).collect();
    let mut why = HashMap::new();
    for g in groups {
        let id = format!("{}/{}", g.cluster, g.name);
        let verdict = if stopped.contains(&g.arn.as_str()) {
            format!("it runs the nodes of EKS node group {id}, which is stopped as a node group")
        } else {
            let reason = plan
                .skipped
                .iter()
                .find(|s| s.resource.id == id)
                .map(|s| s.reason.clone())
                .unwrap_or_else(|| "it wants no nodes or is not selected".into());
            format!(
                "it runs the nodes of EKS node group {id}, which is not stopped ({reason}): a node group's nodes are stopped through it"
            )
        };
        for a in &g.auto_scaling_groups {
            why.insert(a.clone(), verdict.clone());
        }
    }
    why
}

/// Sets a node group's sizes.
async fn scale(at: &InRegion<'_>, g: &NodeGroup, to: Sizes) -> Outcome {
    let config = NodegroupScalingConfig::builder()
        .min_size(to.min)
        .desired_size(to.desired)
        .max_size(to.max)
        .build();
    match at
        .eks()
        .update_nodegroup_config()
        .cluster_name(&g.cluster)
        .nodegroup_name(&g.name)
        .scaling_config(config)
        .send()
        .await
    {
        Ok(_) => Outcome::Done,
        Err(e) => scale_refused(AwsError::from_sdk("eks:UpdateNodegroupConfig", e)),
    }
}

/// What EKS's refusal to change a node group's sizes means: a node group
/// being changed already, or gone, is skipped (the report says why); any
/// other error is a failure the report names and Lambda retries.
fn scale_refused(err: AwsError) -> Outcome {
    match err.code.as_str() {
        "ResourceInUseException" => Outcome::Skipped(format!(
            "EKS is changing it already ({}); the next alert or resume tries again",
            err.message
        )),
        "ResourceNotFoundException" => Outcome::Skipped("it no longer exists".into()),
        _ => Outcome::Failed(err),
    }
}

async fn tag(at: &InRegion<'_>, arn: &str, pairs: &[(&str, &str)]) -> Result<(), AwsError> {
    at.eks()
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::from_sdk("eks:TagResource", e))
}

impl OneAtATime for NodeGroups {
    type Record = NodeGroup;

    /// Nothing of its own: a node group's nodes are EC2 instances, priced
    /// there. Not even listed.
    fn running<'a>(
        &'a self,
        _at: &'a InRegion<'a>,
    ) -> BoxFuture<'a, Result<Vec<crate::domain::burn::usage::Running>, AwsError>> {
        async { Ok(Vec::new()) }.boxed()
    }

    fn kind(&self) -> ResourceKind {
        ResourceKind::EksNodeGroup
    }

    fn list<'a>(&'a self, at: &'a InRegion<'a>) -> BoxFuture<'a, Listed<NodeGroup>> {
        listing(at).boxed()
    }

    fn choose(
        &self,
        records: &[NodeGroup],
        select: &SelectionConfig,
        _: &str,
    ) -> (Vec<Target>, Vec<Skipped>) {
        let plan = plan_node_groups(records, select);
        (plan.to_stop.iter().map(Target::of).collect(), plan.skipped)
    }

    /// Saves the sizes, then scales to zero (the maximum kept).
    fn stop_one<'a>(&'a self, at: &'a InRegion<'a>, g: &'a NodeGroup) -> BoxFuture<'a, Outcome> {
        async move {
            let prior = seal::prior(at, &g.arn, &g.tags).await;
            let g = &match prior.keeps() {
                true => g.clone(),
                false => NodeGroup {
                    tags: seal::without_saved(&g.tags),
                    ..g.clone()
                },
            };
            if prior.writes() {
                let value = seal::seal_value(at, &g.arn, &g.to_save().encode()).await;
                if let Err(e) = tag(at, &g.arn, &[(SAVED_TAG, &value)]).await {
                    return Outcome::Failed(e);
                }
            }
            let zero = Sizes {
                min: 0,
                desired: 0,
                max: g.sizes.max,
            };
            scale(at, g, zero).await
        }
        .boxed()
    }

    fn start_one<'a>(&'a self, at: &'a InRegion<'a>, g: &'a NodeGroup) -> BoxFuture<'a, Outcome> {
        async move {
            match g.saved() {
                Ok(saved) => scale(at, g, saved).await,
                Err(why) => Outcome::Skipped(why),
            }
        }
        .boxed()
    }

    fn tag<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        g: &'a NodeGroup,
        pairs: &'a [(&'a str, &'a str)],
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        tag(at, &g.arn, pairs).boxed()
    }

    fn untag<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        g: &'a NodeGroup,
        keys: &'a [&'a str],
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        async move {
            at.eks()
                .untag_resource()
                .resource_arn(&g.arn)
                .set_tag_keys(Some(keys.iter().map(|k| k.to_string()).collect()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("eks:UntagResource", e))
        }
        .boxed()
    }

    fn cleared(&self) -> &'static [&'static str] {
        &[RESUMING_TAG, SAVED_TAG]
    }

    fn sealed<'a>(&self, g: &'a NodeGroup) -> Option<&'a str> {
        Some(&g.arn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_group_being_changed_or_gone_is_skipped_and_any_other_refusal_fails() {
        let refused =
            |code: &str| scale_refused(AwsError::new("eks:UpdateNodegroupConfig", code, "m"));
        assert_eq!(
            refused("ResourceInUseException"),
            Outcome::Skipped(
                "EKS is changing it already (m); the next alert or resume tries again".into()
            )
        );
        assert_eq!(
            refused("ResourceNotFoundException"),
            Outcome::Skipped("it no longer exists".into())
        );
        for code in [
            "AccessDeniedException",
            "ThrottlingException",
            "ServerException",
        ] {
            assert!(
                matches!(refused(code), Outcome::Failed(e) if e.code == code),
                "{code}"
            );
        }
    }
}
