//! The resume function: invoked by the user (`aws lambda invoke`) with a small
//! JSON payload, it starts again what cost-guard stopped and tells subscribers.

use serde::Serialize;

use super::{conclude, incomplete, Function, HandlerError, Invocation};
use crate::aws::fleet::Fleet;
use crate::aws::sns::Notifier;
use crate::domain::config::ResumeConfig;
use crate::domain::outcome::first_problem;
use crate::domain::render::resume::render;
use crate::domain::resume::ResumeRequest;

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

/// The function's state, built once per cold start.
pub struct Resume {
    fleet: Fleet,
    notifier: Notifier,
}

impl Function for Resume {
    type Config = ResumeConfig;
    type Output = ResumeSummary;

    fn new(config: ResumeConfig, sdk: &aws_types::SdkConfig) -> Self {
        Resume {
            fleet: Fleet::new(&config.accounts, &config.regions, sdk)
                .with_seal(sdk, config.saved_state_key.as_deref()),
            notifier: Notifier::new(
                aws_sdk_sns::Client::new(sdk),
                &config.common.notify_topic_arn,
            ),
        }
    }

    async fn handle(&self, invocation: &Invocation<'_>) -> Result<ResumeSummary, HandlerError> {
        if let Some(arn) = invocation.invoked_arn() {
            self.fleet.learn_own_account(arn);
        }
        let request = ResumeRequest::from_payload(invocation.payload()).map_err(|why| {
            tracing::error!(%why, "malformed resume payload: nothing started");
            HandlerError::Malformed(why)
        })?;
        let report = self
            .fleet
            .resume(&request, invocation.budget())
            .await
            .map_err(HandlerError::SweepNotStarted)?;
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
        conclude(
            invocation,
            &self.notifier,
            Some(&message),
            summary,
            &report,
            failure,
        )
        .await
    }
}
