//! The Lambda handlers, one module per function and named like its binary, on
//! one skeleton:
//!
//! - [`Sweeper`] resolves the regions and sweeps them within the time left
//!   before the Lambda deadline (and gives the command line its `plan`);
//! - [`Notifier`] publishes to the subscribers' topic;
//! - [`conclude`] ends every invocation the same way: publish, log one line with
//!   the whole outcome, then turn what went wrong into one [`HandlerError`],
//!   whose `errorType` Lambda reports and the self-alarms count.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::aws::sweep::{self as sweeping, RegionClients, SdkClients, SweepSpec};
use crate::aws::{regions, sns};
use crate::domain::config::{Config, RegionScope, SelectionConfig};
use crate::domain::error::AwsError;
use crate::domain::outcome::{Stamp, SweepReport};
use crate::domain::render::Message;

pub mod keep_stopped;
pub mod launch_tripwire;
pub mod resume;
pub mod root_login_alert;
pub mod spend_watch;
pub mod stop_on_overspend;

/// Time kept back from the Lambda deadline for the report and the publish.
pub(crate) const DEADLINE_RESERVE: Duration = Duration::from_secs(5);
/// Time a sweep may take when there is no Lambda deadline (the command line).
pub(crate) const DEFAULT_BUDGET: Duration = Duration::from_secs(120);
/// Stop calls of one kind (EC2, RDS) in flight per region.
pub(crate) const REGION_CONCURRENCY: usize = 4;

/// What can go wrong in an invocation, after subscribers were told whatever
/// could be told. Each variant is one `errorType` in Lambda's metrics and logs.
#[derive(thiserror::Error)]
pub enum HandlerError {
    #[error("malformed event: {0}")]
    Malformed(String),
    #[error("could not notify subscribers: {0}")]
    Notify(AwsError),
    #[error("could not start the sweep: {0} ({advice})", advice = .0.advice())]
    Regions(AwsError),
    /// The sweep did not finish everywhere; Lambda's retry runs it again.
    #[error("incomplete in {regions}: {detail}; subscribers were told, and the retry finishes what is left")]
    Incomplete { regions: String, detail: String },
    #[error("month-to-date spend unavailable, so the limit could not be checked: {0}")]
    SpendUnavailable(String),
}

impl HandlerError {
    /// The `errorType` Lambda reports for this error.
    pub(crate) fn error_type(&self) -> &'static str {
        match self {
            HandlerError::Malformed(_) => "CostGuard.MalformedEvent",
            HandlerError::Notify(_) => "CostGuard.NotifyFailed",
            HandlerError::Regions(_) => "CostGuard.RegionsUnavailable",
            HandlerError::Incomplete { .. } => "CostGuard.SweepIncomplete",
            HandlerError::SpendUnavailable(_) => "CostGuard.SpendUnavailable",
        }
    }
}

/// Lambda logs a handler's error with `Debug`: make that the readable message.
impl std::fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_type().to_string(),
            error_message: e.to_string(),
        }
    }
}

/// Resolves the regions and stops the selection in all of them at once.
pub struct Sweeper {
    select: SelectionConfig,
    regions: RegionScope,
    dry_run: bool,
    clients: Arc<dyn RegionClients>,
    /// Client in the function's own region, for `DescribeRegions`.
    home_ec2: aws_sdk_ec2::Client,
}

impl Sweeper {
    /// Per-region clients from the function's one `SdkConfig`.
    pub fn new(config: &Config, sdk: &aws_types::SdkConfig) -> Self {
        Self::with_clients(
            config,
            Arc::new(SdkClients::new(sdk.clone())),
            aws_sdk_ec2::Client::new(sdk),
        )
    }

    /// With the given clients (the SDK fault tests hand in mocked ones).
    pub fn with_clients(
        config: &Config,
        clients: Arc<dyn RegionClients>,
        home_ec2: aws_sdk_ec2::Client,
    ) -> Self {
        Sweeper {
            select: config.select.clone(),
            regions: config.regions.clone(),
            dry_run: config.dry_run,
            clients,
            home_ec2,
        }
    }

    /// For [`plan`](Self::plan) alone, which needs no topic: only what to
    /// select and where.
    pub fn planner(
        select: SelectionConfig,
        regions: RegionScope,
        sdk: &aws_types::SdkConfig,
    ) -> Self {
        Sweeper {
            select,
            regions,
            dry_run: true,
            clients: Arc::new(SdkClients::new(sdk.clone())),
            home_ec2: aws_sdk_ec2::Client::new(sdk),
        }
    }

    /// Resolves the regions and sweeps them within the time left before
    /// `deadline`. Fails only when the region list cannot be read; what fails
    /// inside a region is in that region's report.
    pub(crate) async fn run_sweep(
        &self,
        stamp: Stamp,
        deadline: Option<SystemTime>,
    ) -> Result<SweepReport, AwsError> {
        self.sweep(
            stamp,
            self.dry_run,
            time_budget(deadline, SystemTime::now()),
        )
        .await
    }

    /// What a sweep would stop now, changing nothing (`cost-guard plan`).
    pub async fn plan(&self) -> Result<SweepReport, AwsError> {
        self.sweep(Stamp::now("plan"), true, DEFAULT_BUDGET).await
    }

    async fn sweep(
        &self,
        stamp: Stamp,
        dry_run: bool,
        budget: Duration,
    ) -> Result<SweepReport, AwsError> {
        let regions = regions::resolve(&self.regions, &self.home_ec2).await?;
        let spec = SweepSpec {
            select: self.select.clone(),
            dry_run,
            stamp,
            concurrency: REGION_CONCURRENCY,
        };
        tracing::info!(
            regions = regions.len(),
            budget_s = budget.as_secs(),
            dry_run,
            "sweep starting"
        );
        Ok(sweeping::sweep(self.clients.as_ref(), &regions, &spec, budget).await)
    }
}

/// The subscribers' topic.
pub(crate) struct Notifier {
    sns: aws_sdk_sns::Client,
    topic_arn: String,
}

impl Notifier {
    pub fn new(sns: aws_sdk_sns::Client, topic_arn: &str) -> Self {
        Notifier {
            sns,
            topic_arn: topic_arn.to_string(),
        }
    }

    pub async fn publish(&self, message: &Message) -> Result<String, AwsError> {
        sns::publish(&self.sns, &self.topic_arn, message).await
    }
}

/// Lambda's longest timeout: a deadline further ahead is not a real one.
pub(crate) const LAMBDA_MAX_TIMEOUT: Duration = Duration::from_secs(900);

/// The time a sweep may take: until the deadline less the reserve, at least
/// 1 s. A deadline that has already passed, or lies more than Lambda's 15
/// minutes ahead, is not one Lambda sent (local runtimes such as `cargo lambda
/// watch` send a constant): it is treated as unknown, with a warning, and the
/// sweep gets the default budget rather than 1 s for every region.
pub(crate) fn time_budget(deadline: Option<SystemTime>, now: SystemTime) -> Duration {
    let Some(d) = deadline else {
        return DEFAULT_BUDGET;
    };
    match d.duration_since(now) {
        Ok(left) if left <= LAMBDA_MAX_TIMEOUT => left
            .saturating_sub(DEADLINE_RESERVE)
            .max(Duration::from_secs(1)),
        ahead => {
            let deadline_ms = d
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|t| t.as_millis())
                .unwrap_or_default();
            let why = if ahead.is_ok() {
                "more than Lambda's 15-minute maximum ahead"
            } else {
                "already past"
            };
            tracing::warn!(
                deadline_ms,
                budget_secs = DEFAULT_BUDGET.as_secs(),
                "the invocation's deadline is {why}, so not one Lambda sent (a local runtime?); using the default time budget"
            );
            DEFAULT_BUDGET
        }
    }
}

/// Ends an invocation: publishes `message` (when there is one), logs one line
/// that holds the whole outcome (`summary` and the full `report`) whatever
/// happens next, then reports the first thing that went wrong: the publish,
/// else `failure` (a sweep that could not start, regions that did not finish,
/// so that Lambda retries).
pub(crate) async fn conclude<S: Serialize>(
    notifier: &Notifier,
    message: Option<&Message>,
    summary: impl FnOnce(bool) -> S,
    report: &impl Serialize,
    failure: Option<HandlerError>,
) -> Result<S, HandlerError> {
    let published = match message {
        Some(m) => Some(notifier.publish(m).await),
        None => None,
    };
    let summary = summary(matches!(published, Some(Ok(_))));
    tracing::info!(
        outcome = %serde_json::to_string(&summary).unwrap_or_default(),
        report = %serde_json::to_string(report).unwrap_or_default(),
        "invocation finished"
    );
    if let (Some(Err(e)), Some(m)) = (published, message) {
        tracing::error!(error = %e, body = %m.body, "publishing the report failed");
        return Err(HandlerError::Notify(e));
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

/// What a sweep's outcome makes of the invocation: the sweep that could not
/// start, or the regions that did not finish cleanly.
pub(crate) fn sweep_failure(sweep: Option<&Result<SweepReport, AwsError>>) -> Option<HandlerError> {
    match sweep {
        Some(Err(e)) => Some(HandlerError::Regions(e.clone())),
        Some(Ok(report)) => incomplete(
            report
                .troubled_regions()
                .iter()
                .map(|r| (r.region.as_str(), first_problem(&r.errors, &r.failed))),
        ),
        None => None,
    }
}

/// What a troubled region reports first: an error about the region, else the
/// first resource that failed, else that it did not finish.
pub(crate) fn first_problem(
    errors: &[String],
    failed: &[crate::domain::outcome::Failed],
) -> String {
    errors
        .first()
        .cloned()
        .or_else(|| {
            failed
                .first()
                .map(|f| format!("{}: {}", f.resource.id, f.error))
        })
        .unwrap_or_else(|| "unfinished".into())
}

/// The regions that did not finish cleanly, each with its first problem.
pub(crate) fn incomplete<'a>(
    troubled: impl Iterator<Item = (&'a str, String)>,
) -> Option<HandlerError> {
    let troubled: Vec<(&str, String)> = troubled.collect();
    if troubled.is_empty() {
        return None;
    }
    Some(HandlerError::Incomplete {
        regions: troubled
            .iter()
            .map(|(r, _)| *r)
            .collect::<Vec<_>>()
            .join(", "),
        detail: troubled
            .iter()
            .map(|(r, first)| format!("{r}: {first}"))
            .collect::<Vec<_>>()
            .join("; "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_sees_a_named_type_and_a_readable_message() {
        let e = HandlerError::Regions(AwsError::new(
            "ec2:DescribeRegions",
            "Timeout",
            "no answer before the timeout",
        ));
        let text = "could not start the sweep: ec2:DescribeRegions failed: Timeout: no answer before the timeout (the service did not answer in time; the next invocation tries again)";
        assert_eq!(format!("{e:?}"), text);
        let d: lambda_runtime::Diagnostic = e.into();
        assert_eq!(d.error_type, "CostGuard.RegionsUnavailable");
        assert_eq!(d.error_message, text);
    }

    #[test]
    fn budget_from_deadline() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(time_budget(None, now), DEFAULT_BUDGET);
        assert_eq!(
            time_budget(Some(now + Duration::from_secs(60)), now),
            Duration::from_secs(55)
        );
        assert_eq!(
            time_budget(Some(now + Duration::from_secs(2)), now),
            Duration::from_secs(1)
        );
        // Not deadlines Lambda sends: already past (cargo lambda watch sends
        // a constant in the past), or beyond the 15-minute maximum.
        assert_eq!(
            time_budget(Some(now - Duration::from_secs(2)), now),
            DEFAULT_BUDGET
        );
        assert_eq!(
            time_budget(Some(now + Duration::from_secs(901)), now),
            DEFAULT_BUDGET
        );
        assert_eq!(
            time_budget(Some(now + LAMBDA_MAX_TIMEOUT), now),
            LAMBDA_MAX_TIMEOUT - DEADLINE_RESERVE
        );
    }
}
