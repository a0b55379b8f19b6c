//! The resume function: invoked by the user (`aws lambda invoke`) with a small
//! JSON payload, it starts again what cost-guard stopped and tells subscribers.

use std::sync::Arc;

use serde::Serialize;

use super::{conclude, first_problem, incomplete, HandlerError, Notifier};
use crate::aws::sweep::{RegionClients, SdkClients};
use crate::aws::{regions, resume};
use crate::domain::config::{Config, RegionScope};
use crate::domain::render::resume::render;
use crate::domain::resume::{ResumeReport, ResumeRequest};

/// What an invocation returns (and logs) when it completes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ResumeSummary {
    pub dry_run: bool,
    pub started: usize,
    pub skipped: usize,
    pub failed: usize,
    pub regions: usize,
    pub subject: String,
    pub notified: bool,
}

/// Resolves the regions and resumes in all of them (the function and
/// `cost-guard resume` share it).
pub struct Resumer {
    regions: RegionScope,
    clients: Arc<dyn RegionClients>,
    home_ec2: aws_sdk_ec2::Client,
}

impl Resumer {
    pub fn new(regions: RegionScope, sdk: &aws_types::SdkConfig) -> Self {
        Resumer {
            regions,
            clients: Arc::new(SdkClients::new(sdk.clone())),
            home_ec2: aws_sdk_ec2::Client::new(sdk),
        }
    }

    pub async fn run(
        &self,
        request: &ResumeRequest,
    ) -> Result<ResumeReport, crate::domain::error::AwsError> {
        let regions = regions::resolve(&self.regions, &self.home_ec2).await?;
        tracing::info!(
            regions = regions.len(),
            dry_run = request.dry_run,
            stopped_by = request.stopped_by.as_deref().unwrap_or("any"),
            "resume starting"
        );
        Ok(Box::pin(resume::resume(self.clients.as_ref(), &regions, request)).await)
    }
}

/// The function's state, built once per cold start.
pub struct Resume {
    resumer: Resumer,
    notifier: Notifier,
}

impl Resume {
    pub fn new(config: &Config, sdk: &aws_types::SdkConfig) -> Self {
        Resume {
            resumer: Resumer::new(config.regions.clone(), sdk),
            notifier: Notifier::new(aws_sdk_sns::Client::new(sdk), &config.notify_topic_arn),
        }
    }

    pub async fn handle(&self, payload: &serde_json::Value) -> Result<ResumeSummary, HandlerError> {
        let request = ResumeRequest::from_payload(payload).map_err(|why| {
            tracing::error!(%why, "malformed resume payload: nothing started");
            HandlerError::Malformed(why)
        })?;
        let report = self
            .resumer
            .run(&request)
            .await
            .map_err(HandlerError::Regions)?;
        let message = render(&report, &request);
        let summary = |notified| ResumeSummary {
            dry_run: report.dry_run,
            started: report.started_count(),
            skipped: report.skipped_count(),
            failed: report.failed_count(),
            regions: report.regions.len(),
            subject: message.subject.clone(),
            notified,
        };
        let failure = incomplete(
            report
                .troubled_regions()
                .into_iter()
                .map(|r| (r.region.clone(), first_problem(&r.errors, &r.failed))),
        );
        conclude(&self.notifier, Some(&message), summary, &report, failure).await
    }
}
