//! SageMaker: notebook instances (listed, then their tags one by one, as
//! SageMaker's list gives none; stopped and started one by one; tagged by
//! ARN) and real-time endpoints (never stopped: listed with what runs
//! behind them, for the report).

use aws_sdk_sagemaker::types::Tag;
use futures::future::BoxFuture;
use futures::FutureExt;

use super::by_one::{Listed, OneAtATime};
use super::InRegion;
use crate::domain::config::SelectionConfig;
use crate::domain::error::AwsError;
use crate::domain::inventory::{ResourceKind, Tags, Target};
use crate::domain::kinds::sagemaker::{
    plan_endpoints, plan_notebooks, Endpoint, Notebook, Variant,
};
use crate::domain::outcome::Outcome;
use crate::domain::select::Skipped;

pub(crate) struct Notebooks;
pub(crate) struct Endpoints;

/// A resource's tags (SageMaker lists none with the resource).
async fn tags_of(at: &InRegion<'_>, arn: &str) -> Result<Tags, AwsError> {
    let mut pages = at
        .sagemaker()
        .list_tags()
        .resource_arn(arn)
        .into_paginator()
        .send();
    let mut tags = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("sagemaker:ListTags", e))?;
        tags.extend(page.tags().iter().map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        }));
    }
    Ok(tags)
}

pub(crate) async fn describe_notebooks(at: &InRegion<'_>) -> Result<Vec<Notebook>, AwsError> {
    let mut pages = at
        .sagemaker()
        .list_notebook_instances()
        .into_paginator()
        .send();
    let mut notebooks = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("sagemaker:ListNotebookInstances", e))?;
        for n in page.notebook_instances() {
            notebooks.push(Notebook {
                name: n.notebook_instance_name().unwrap_or_default().to_string(),
                arn: n.notebook_instance_arn().unwrap_or_default().to_string(),
                instance_type: n
                    .instance_type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                status: n
                    .notebook_instance_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                tags: Vec::new(),
            });
        }
    }
    // Only what a sweep may stop or resume may start needs its tags.
    for n in notebooks.iter_mut().filter(|n| {
        matches!(
            n.status.as_str(),
            "InService" | "Pending" | "Stopped" | "Stopping"
        )
    }) {
        n.tags = tags_of(at, &n.arn).await?;
    }
    Ok(notebooks)
}

pub(crate) async fn describe_endpoints(at: &InRegion<'_>) -> Result<Vec<Endpoint>, AwsError> {
    let sm = at.sagemaker();
    let mut pages = sm.list_endpoints().into_paginator().send();
    let mut endpoints = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("sagemaker:ListEndpoints", e))?;
        for e in page.endpoints() {
            endpoints.push(Endpoint {
                name: e.endpoint_name().unwrap_or_default().to_string(),
                arn: e.endpoint_arn().unwrap_or_default().to_string(),
                status: e
                    .endpoint_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                variants: Vec::new(),
                tags: Vec::new(),
            });
        }
    }
    // Every billed endpoint: one being updated runs two fleets at once.
    for e in endpoints.iter_mut().filter(|e| e.billed()) {
        e.tags = tags_of(at, &e.arn).await?;
        let described = sm
            .describe_endpoint()
            .endpoint_name(&e.name)
            .send()
            .await
            .map_err(|err| AwsError::from_sdk("sagemaker:DescribeEndpoint", err))?;
        let config = sm
            .describe_endpoint_config()
            .endpoint_config_name(described.endpoint_config_name().unwrap_or_default())
            .send()
            .await
            .map_err(|err| AwsError::from_sdk("sagemaker:DescribeEndpointConfig", err))?;
        e.variants = config
            .production_variants()
            .iter()
            .map(|v| {
                // What runs now, where the endpoint says; else what the
                // configuration asks for.
                let count = described
                    .production_variants()
                    .iter()
                    .find(|d| d.variant_name() == v.variant_name())
                    .and_then(|d| d.current_instance_count())
                    .or(v.initial_instance_count())
                    .unwrap_or(0);
                Variant {
                    instance_type: v
                        .instance_type()
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_default(),
                    count,
                }
            })
            .collect();
    }
    Ok(endpoints)
}

pub(crate) async fn add_tags(
    at: &InRegion<'_>,
    arn: &str,
    pairs: &[(&str, &str)],
) -> Result<(), AwsError> {
    let tags: Vec<Tag> = pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
        .collect();
    at.sagemaker()
        .add_tags()
        .resource_arn(arn)
        .set_tags(Some(tags))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::from_sdk("sagemaker:AddTags", e))
}

async fn delete_tags(at: &InRegion<'_>, arn: &str, keys: &[&str]) -> Result<(), AwsError> {
    at.sagemaker()
        .delete_tags()
        .resource_arn(arn)
        .set_tag_keys(Some(keys.iter().map(|k| k.to_string()).collect()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::from_sdk("sagemaker:DeleteTags", e))
}

/// What a notebook's own stop or start error means: SageMaker answers a
/// notebook in the wrong status with a validation error.
fn classify(err: AwsError) -> Outcome {
    match err.code.as_str() {
        "ValidationException" => Outcome::Skipped(format!(
            "its status changed before the call arrived: {}",
            err.message
        )),
        _ => Outcome::Failed(err),
    }
}

pub(crate) async fn stop_notebook(at: &InRegion<'_>, name: &str) -> Outcome {
    match at
        .sagemaker()
        .stop_notebook_instance()
        .notebook_instance_name(name)
        .send()
        .await
    {
        Ok(_) => Outcome::Done,
        Err(e) => classify(AwsError::from_sdk("sagemaker:StopNotebookInstance", e)),
    }
}

impl OneAtATime for Notebooks {
    type Record = Notebook;

    fn charged(&self, r: &Notebook, region: &str) -> Option<crate::domain::burn::usage::Running> {
        r.charged(region)
    }

    fn kind(&self) -> ResourceKind {
        ResourceKind::SageMakerNotebook
    }

    fn list<'a>(&'a self, at: &'a InRegion<'a>) -> BoxFuture<'a, Listed<Notebook>> {
        at.shared("sagemaker-notebooks", || describe_notebooks(at))
            .boxed()
    }

    fn choose(
        &self,
        records: &[Notebook],
        select: &SelectionConfig,
        _: &str,
    ) -> (Vec<Target>, Vec<Skipped>) {
        let plan = plan_notebooks(records, select);
        (plan.to_stop.iter().map(Target::of).collect(), plan.skipped)
    }

    fn stop_one<'a>(&'a self, at: &'a InRegion<'a>, n: &'a Notebook) -> BoxFuture<'a, Outcome> {
        stop_notebook(at, &n.name).boxed()
    }

    fn start_one<'a>(&'a self, at: &'a InRegion<'a>, n: &'a Notebook) -> BoxFuture<'a, Outcome> {
        async move {
            match at
                .sagemaker()
                .start_notebook_instance()
                .notebook_instance_name(&n.name)
                .send()
                .await
            {
                Ok(_) => Outcome::Done,
                Err(e) => classify(AwsError::from_sdk("sagemaker:StartNotebookInstance", e)),
            }
        }
        .boxed()
    }

    fn tag<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        n: &'a Notebook,
        pairs: &'a [(&'a str, &'a str)],
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        add_tags(at, &n.arn, pairs).boxed()
    }

    fn untag<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        n: &'a Notebook,
        keys: &'a [&'a str],
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        delete_tags(at, &n.arn, keys).boxed()
    }
}

/// Endpoints are only reported: nothing is stopped, stamped or started.
impl OneAtATime for Endpoints {
    type Record = Endpoint;

    fn charged(&self, r: &Endpoint, region: &str) -> Option<crate::domain::burn::usage::Running> {
        r.charged(region)
    }

    fn kind(&self) -> ResourceKind {
        ResourceKind::SageMakerEndpoint
    }

    fn list<'a>(&'a self, at: &'a InRegion<'a>) -> BoxFuture<'a, Listed<Endpoint>> {
        at.shared("sagemaker-endpoints", || describe_endpoints(at))
            .boxed()
    }

    fn choose(
        &self,
        records: &[Endpoint],
        select: &SelectionConfig,
        region: &str,
    ) -> (Vec<Target>, Vec<Skipped>) {
        (Vec::new(), plan_endpoints(records, select, region))
    }

    fn stop_one<'a>(&'a self, _: &'a InRegion<'a>, _: &'a Endpoint) -> BoxFuture<'a, Outcome> {
        async { Outcome::Skipped("a SageMaker endpoint cannot be stopped".into()) }.boxed()
    }

    fn start_one<'a>(&'a self, _: &'a InRegion<'a>, _: &'a Endpoint) -> BoxFuture<'a, Outcome> {
        async { Outcome::Skipped("a SageMaker endpoint is never stopped".into()) }.boxed()
    }

    fn tag<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        e: &'a Endpoint,
        pairs: &'a [(&'a str, &'a str)],
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        add_tags(at, &e.arn, pairs).boxed()
    }

    fn untag<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        e: &'a Endpoint,
        keys: &'a [&'a str],
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        delete_tags(at, &e.arn, keys).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notebook_whose_status_changed_is_skipped_and_any_other_error_fails() {
        let refused =
            |code: &str| classify(AwsError::new("sagemaker:StopNotebookInstance", code, "m"));
        assert_eq!(
            refused("ValidationException"),
            Outcome::Skipped("its status changed before the call arrived: m".into())
        );
        for code in [
            "AccessDeniedException",
            "ThrottlingException",
            "ResourceLimitExceeded",
        ] {
            assert!(
                matches!(refused(code), Outcome::Failed(e) if e.code == code),
                "{code}"
            );
        }
    }
}
