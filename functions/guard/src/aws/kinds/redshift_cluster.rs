//! Redshift provisioned clusters: listed with their tags (one paged
//! describe), paused and resumed one by one, tagged by ARN.

use aws_sdk_redshift::types::Tag;
use futures::future::BoxFuture;
use futures::FutureExt;

use super::by_one::{Listed, OneAtATime};
use super::InRegion;
use crate::domain::config::SelectionConfig;
use crate::domain::error::AwsError;
use crate::domain::inventory::{ResourceKind, Target};
use crate::domain::kinds::redshift_cluster::{plan_clusters, RedshiftCluster};
use crate::domain::outcome::Outcome;
use crate::domain::select::Skipped;

pub(crate) struct Clusters;

/// The region's clusters, or only the one named (none when it does not
/// exist).
pub(crate) async fn describe_clusters(
    at: &InRegion<'_>,
    only: Option<&str>,
) -> Result<Vec<RedshiftCluster>, AwsError> {
    let mut pages = at
        .redshift()
        .describe_clusters()
        .set_cluster_identifier(only.map(str::to_string))
        .into_paginator()
        .send();
    let mut clusters = Vec::new();
    while let Some(page) = pages.next().await {
        let page = match page.map_err(|e| AwsError::from_sdk("redshift:DescribeClusters", e)) {
            Ok(page) => page,
            Err(e) if only.is_some() && e.code.starts_with("ClusterNotFound") => break,
            Err(e) => return Err(e),
        };
        for c in page.clusters() {
            clusters.push(RedshiftCluster {
                id: c.cluster_identifier().unwrap_or_default().to_string(),
                node_type: c.node_type().unwrap_or_default().to_string(),
                nodes: c.number_of_nodes().unwrap_or(1),
                status: c.cluster_status().unwrap_or_default().to_string(),
                tags: c
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
    Ok(clusters)
}

/// A cluster's ARN, which Redshift's describe does not give.
async fn arn(at: &InRegion<'_>, id: &str) -> Result<String, AwsError> {
    let account = at.account().await?;
    Ok(format!(
        "arn:{}:redshift:{}:{account}:cluster:{id}",
        crate::aws::regions::partition(at.region),
        at.region
    ))
}

/// What a cluster's own pause or resume error means.
fn classify(err: AwsError) -> Outcome {
    match err.code.as_str() {
        "InvalidClusterState" | "InvalidClusterStateFault" => Outcome::Skipped(format!(
            "its state changed before the call arrived: {}",
            err.message
        )),
        "ClusterNotFound" | "ClusterNotFoundFault" => {
            Outcome::Skipped("it no longer exists".into())
        }
        _ => Outcome::Failed(err),
    }
}

pub(crate) async fn pause(at: &InRegion<'_>, id: &str) -> Outcome {
    match at
        .redshift()
        .pause_cluster()
        .cluster_identifier(id)
        .send()
        .await
    {
        Ok(_) => Outcome::Done,
        Err(e) => classify(AwsError::from_sdk("redshift:PauseCluster", e)),
    }
}

pub(crate) async fn tag(
    at: &InRegion<'_>,
    id: &str,
    pairs: &[(&str, &str)],
) -> Result<(), AwsError> {
    let tags: Vec<Tag> = pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
        .collect();
    at.redshift()
        .create_tags()
        .resource_name(arn(at, id).await?)
        .set_tags(Some(tags))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::from_sdk("redshift:CreateTags", e))
}

impl OneAtATime for Clusters {
    type Record = RedshiftCluster;

    fn charged(
        &self,
        r: &RedshiftCluster,
        region: &str,
    ) -> Option<crate::domain::burn::usage::Running> {
        r.charged(region)
    }

    fn kind(&self) -> ResourceKind {
        ResourceKind::RedshiftCluster
    }

    fn list<'a>(&'a self, at: &'a InRegion<'a>) -> BoxFuture<'a, Listed<RedshiftCluster>> {
        at.shared("redshift", || describe_clusters(at, None))
            .boxed()
    }

    fn choose(
        &self,
        records: &[RedshiftCluster],
        select: &SelectionConfig,
        _: &str,
    ) -> (Vec<Target>, Vec<Skipped>) {
        let plan = plan_clusters(records, select);
        (plan.to_stop.iter().map(Target::of).collect(), plan.skipped)
    }

    fn stop_one<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        c: &'a RedshiftCluster,
    ) -> BoxFuture<'a, Outcome> {
        pause(at, &c.id).boxed()
    }

    fn start_one<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        c: &'a RedshiftCluster,
    ) -> BoxFuture<'a, Outcome> {
        async move {
            match at
                .redshift()
                .resume_cluster()
                .cluster_identifier(&c.id)
                .send()
                .await
            {
                Ok(_) => Outcome::Done,
                Err(e) => classify(AwsError::from_sdk("redshift:ResumeCluster", e)),
            }
        }
        .boxed()
    }

    fn tag<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        c: &'a RedshiftCluster,
        pairs: &'a [(&'a str, &'a str)],
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        tag(at, &c.id, pairs).boxed()
    }

    fn untag<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        c: &'a RedshiftCluster,
        keys: &'a [&'a str],
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        async move {
            at.redshift()
                .delete_tags()
                .resource_name(arn(at, &c.id).await?)
                .set_tag_keys(Some(keys.iter().map(|k| k.to_string()).collect()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("redshift:DeleteTags", e))
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_whose_state_changed_or_that_is_gone_is_skipped_and_any_other_error_fails() {
        let refused = |code: &str| classify(AwsError::new("redshift:PauseCluster", code, "m"));
        for code in ["InvalidClusterState", "InvalidClusterStateFault"] {
            assert_eq!(
                refused(code),
                Outcome::Skipped("its state changed before the call arrived: m".into()),
                "{code}"
            );
        }
        for code in ["ClusterNotFound", "ClusterNotFoundFault"] {
            assert_eq!(
                refused(code),
                Outcome::Skipped("it no longer exists".into()),
                "{code}"
            );
        }
        for code in ["AccessDenied", "Throttling", "UnsupportedOperation"] {
            assert!(
                matches!(refused(code), Outcome::Failed(e) if e.code == code),
                "{code}"
            );
        }
    }
}
