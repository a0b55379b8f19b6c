//! The resume function: invoked by the user (`aws lambda invoke`) with a small
//! JSON payload, it starts again what cost-guard stopped and tells subscribers.

use serde::Serialize;

use super::{conclude, incomplete, HandlerError, Notifier};
use crate::domain::outcome::first_problem;
use futures::StreamExt;

use super::reach::{Reach, Reached};
use crate::aws::resume;
use crate::domain::accounts::AccountsConfig;
use crate::domain::config::{Config, RegionScope};
use crate::domain::render::resume::render;
use crate::domain::resume::{ResumeRegion, ResumeReport, ResumeRequest};

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

/// Resolves the accounts and regions and resumes in all of them (the
/// function and `cost-guard resume` share it).
pub struct Resumer {
    reach: Reach,
}

impl Resumer {
    pub fn new(regions: RegionScope, accounts: AccountsConfig, sdk: &aws_types::SdkConfig) -> Self {
        Resumer {
            reach: Reach::new(accounts, regions, sdk),
        }
    }

    pub async fn run(
        &self,
        request: &ResumeRequest,
    ) -> Result<ResumeReport, crate::domain::error::AwsError> {
        let (own, targets) = match self.reach.resolve(None).await? {
            Reached::Single(regions) => {
                tracing::info!(
                    regions = regions.len(),
                    dry_run = request.dry_run,
                    stopped_by = request.stopped_by.as_deref().unwrap_or("any"),
                    "resume starting"
                );
                return Ok(
                    Box::pin(resume::resume(self.reach.own_clients(), &regions, request)).await,
                );
            }
            Reached::Several { own, targets } => (own, targets),
        };
        tracing::info!(
            accounts = targets.sweep.len(),
            dry_run = request.dry_run,
            stopped_by = request.stopped_by.as_deref().unwrap_or("any"),
            "resume in several accounts starting"
        );
        let own = own.as_str();
        let runs = futures::stream::iter(targets.sweep)
            .map(|account| async move {
                match self.reach.prepare(own, &account).await {
                    Ok((clients, regions)) => {
                        resume::resume_regions(
                            clients.as_ref(),
                            &regions,
                            request,
                            Some(&account.id),
                        )
                        .await
                    }
                    Err(why) => vec![ResumeRegion {
                        account: Some(account.id.clone()),
                        errors: vec![why],
                        ..Default::default()
                    }],
                }
            })
            .buffer_unordered(super::ACCOUNTS_AT_ONCE);
        let mut regions: Vec<ResumeRegion> = Box::pin(runs.collect::<Vec<_>>())
            .await
            .into_iter()
            .flatten()
            .collect();
        regions.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
        Ok(ResumeReport {
            dry_run: request.dry_run,
            regions,
        })
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
            resumer: Resumer::new(config.regions.clone(), config.accounts.clone(), sdk),
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
                .map(|r| (r.label(), first_problem(&r.errors, &r.failed))),
        );
        conclude(&self.notifier, Some(&message), summary, &report, failure).await
    }
}
