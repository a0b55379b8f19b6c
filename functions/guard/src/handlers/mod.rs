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

use crate::aws::sweep::{self as sweeping, RegionClients, SweepSpec};
use crate::aws::{queue, sns};
use crate::domain::accounts::{Account, AccountState, AccountStatus, AccountsConfig, QueueConfig};
use crate::domain::config::{Config, RegionScope, SelectionConfig};
use crate::domain::error::AwsError;
use crate::domain::fanout::{AccountJob, IncidentRef, Job, SummaryJob};
use crate::domain::outcome::{first_problem, Stamp, SweepReport};
use crate::domain::render::Message;

mod event_account;
pub mod keep_stopped;
pub mod launch_tripwire;
mod reach;
use reach::{Reach, Reached};
pub mod resume;
pub mod root_login_alert;
pub mod spend_watch;
pub mod stop_on_overspend;
pub mod sweep_queue;

/// Time kept back from the Lambda deadline for the report and the publish.
pub(crate) const DEADLINE_RESERVE: Duration = Duration::from_secs(5);
/// Time a sweep may take when there is no Lambda deadline (the command line).
pub(crate) const DEFAULT_BUDGET: Duration = Duration::from_secs(120);
/// Stop calls of one kind (EC2, RDS) in flight per region.
pub(crate) const REGION_CONCURRENCY: usize = 4;
/// Accounts swept at once by one invocation (each with all its regions at
/// once): API limits are per account and region, so accounts add load to
/// the function, not to any one account's limits.
pub(crate) const ACCOUNTS_AT_ONCE: usize = 16;

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

/// What one sweep is for: the accounts the alert names (`None` for an alert
/// about the whole bill) and its headline, which queued jobs carry.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub named: Option<Vec<String>>,
    pub cause: String,
}

impl Scope {
    pub fn new(named: Option<Vec<String>>, cause: &str) -> Scope {
        Scope {
            named,
            cause: cause.to_string(),
        }
    }
}

/// Resolves the accounts and regions, and stops the selection in all of them
/// at once (or hands the accounts to the sweep queue when they are many).
pub struct Sweeper {
    select: SelectionConfig,
    dry_run: bool,
    reach: Reach,
}

impl Sweeper {
    /// Per-region clients from the function's one `SdkConfig`.
    pub fn new(config: &Config, sdk: &aws_types::SdkConfig) -> Self {
        Sweeper {
            select: config.select.clone(),
            dry_run: config.dry_run,
            reach: Reach::new(config.accounts.clone(), config.regions.clone(), sdk),
        }
    }

    /// With the given clients (the SDK fault tests hand in mocked ones); the
    /// guard's own account only.
    pub fn with_clients(
        config: &Config,
        clients: Arc<dyn RegionClients>,
        home_ec2: aws_sdk_ec2::Client,
    ) -> Self {
        Sweeper {
            select: config.select.clone(),
            dry_run: config.dry_run,
            reach: Reach::with_clients(config.regions.clone(), clients, home_ec2),
        }
    }

    /// For [`plan`](Self::plan) alone, which needs no topic: only what to
    /// select, where, and in which accounts. A plan looks at every account
    /// itself: it never queues.
    pub fn planner(
        select: SelectionConfig,
        regions: RegionScope,
        accounts: AccountsConfig,
        sdk: &aws_types::SdkConfig,
    ) -> Self {
        let accounts = AccountsConfig {
            queue: None,
            ..accounts
        };
        Sweeper {
            select,
            dry_run: true,
            reach: Reach::new(accounts, regions, sdk),
        }
    }

    /// Resolves the accounts and regions and sweeps them within the time left
    /// before `deadline`. Fails only when the accounts or the region list
    /// cannot be read; what fails inside an account or a region is in the
    /// report.
    pub(crate) async fn run_sweep(
        &self,
        stamp: Stamp,
        deadline: Option<SystemTime>,
        scope: &Scope,
    ) -> Result<SweepReport, AwsError> {
        // Boxed: a sweep of many accounts is a deep future, past the
        // compiler's layout limit in the functions' own futures.
        Box::pin(self.sweep(
            stamp,
            self.dry_run,
            time_budget(deadline, SystemTime::now()),
            scope,
        ))
        .await
    }

    /// What a sweep would stop now, changing nothing (`cost-guard plan`).
    pub async fn plan(&self) -> Result<SweepReport, AwsError> {
        self.sweep(
            Stamp::now("plan"),
            true,
            DEFAULT_BUDGET,
            &Scope::new(None, "plan"),
        )
        .await
    }

    fn spec(&self, stamp: Stamp, dry_run: bool) -> SweepSpec {
        SweepSpec {
            select: self.select.clone(),
            dry_run,
            stamp,
            concurrency: REGION_CONCURRENCY,
        }
    }

    async fn sweep(
        &self,
        stamp: Stamp,
        dry_run: bool,
        budget: Duration,
        scope: &Scope,
    ) -> Result<SweepReport, AwsError> {
        let (own, targets) = match self.reach.resolve(scope.named.as_deref()).await? {
            Reached::Single(regions) => {
                tracing::info!(
                    regions = regions.len(),
                    budget_s = budget.as_secs(),
                    dry_run,
                    "sweep starting"
                );
                let spec = self.spec(stamp, dry_run);
                return Ok(
                    sweeping::sweep(self.reach.own_clients(), &regions, &spec, budget).await,
                );
            }
            Reached::Several { own, targets } => (own, targets),
        };
        tracing::info!(
            accounts = targets.sweep.len(),
            left_out = targets.left_out.len(),
            budget_s = budget.as_secs(),
            dry_run,
            "sweep of several accounts starting"
        );
        let mut report = match self.queue() {
            Some((sqs, queue)) if targets.sweep.len() > self.reach.accounts.fanout_above => {
                dispatch(sqs, queue, &targets.sweep, &stamp, dry_run, scope).await?
            }
            _ => {
                self.sweep_accounts(&own, targets.sweep, stamp, dry_run, budget)
                    .await
            }
        };
        report.accounts.extend(targets.left_out);
        Ok(report)
    }

    /// Sweeps exactly these accounts in this invocation.
    async fn sweep_accounts(
        &self,
        own: &str,
        targets: Vec<Account>,
        stamp: Stamp,
        dry_run: bool,
        budget: Duration,
    ) -> SweepReport {
        let spec = self.spec(stamp, dry_run);
        let until = tokio::time::Instant::now() + budget;
        let prepare = |account: Account| async move { self.reach.prepare(own, &account).await };
        let (statuses, regions) = Box::pin(sweeping::sweep_accounts(
            targets,
            prepare,
            &spec,
            until,
            ACCOUNTS_AT_ONCE,
        ))
        .await;
        SweepReport {
            dry_run,
            regions,
            accounts: statuses,
        }
    }

    /// A worker's sweep of one queued account, in this invocation.
    pub(crate) async fn sweep_one(
        &self,
        account: &Account,
        stamp: Stamp,
        dry_run: bool,
        deadline: Option<SystemTime>,
    ) -> Result<SweepReport, AwsError> {
        // The worker needs only its own account id: the dispatcher already
        // chose the accounts.
        let Some(own) = self.reach.own_account().await? else {
            return Err(AwsError::new(
                "sweep",
                "NotConfigured",
                "a queued account, but ACCOUNTS=self: this function reaches its own account only",
            ));
        };
        Ok(self
            .sweep_accounts(
                &own,
                vec![account.clone()],
                stamp,
                dry_run || self.dry_run,
                time_budget(deadline, SystemTime::now()),
            )
            .await)
    }

    /// The sweep queue's client and settings.
    pub(crate) fn queue(&self) -> Option<(&aws_sdk_sqs::Client, &QueueConfig)> {
        Some((self.reach.sqs()?, self.reach.accounts.queue.as_ref()?))
    }
}

/// One message per account on the sweep queue, and the summary job, delayed.
/// Fails when SQS refuses them: the invocation fails and its retry sends them
/// again (a second sweep of an account changes nothing).
async fn dispatch(
    sqs: &aws_sdk_sqs::Client,
    queue: &QueueConfig,
    targets: &[Account],
    stamp: &Stamp,
    dry_run: bool,
    scope: &Scope,
) -> Result<SweepReport, AwsError> {
    let incident = IncidentRef::new(&scope.cause, stamp, dry_run, targets.len());
    let jobs: Vec<String> = targets
        .iter()
        .map(|account| {
            Job::SweepAccount(AccountJob {
                incident: incident.clone(),
                account: account.clone(),
            })
            .to_body()
        })
        .collect();
    queue::send_all(sqs, &queue.sweep_url, &jobs).await?;
    let summary = Job::Summary(SummaryJob {
        incident: incident.clone(),
        accounts: targets.to_vec(),
        results: Vec::new(),
        round: 0,
    });
    queue::send(
        sqs,
        &queue.sweep_url,
        &summary.to_body(),
        queue.summary_delay_s,
    )
    .await?;
    tracing::info!(incident = %incident.id, accounts = targets.len(), "accounts handed to the sweep queue");
    Ok(SweepReport {
        dry_run,
        regions: Vec::new(),
        accounts: targets
            .iter()
            .map(|a| AccountStatus {
                account: a.clone(),
                state: AccountState::Queued,
            })
            .collect(),
    })
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
                .map(|r| (r.label(), first_problem(&r.errors, &r.failed)))
                .chain(
                    report
                        .unreachable_accounts()
                        .into_iter()
                        .map(|(account, why)| (format!("account {}", account.id), why.to_string())),
                ),
        ),
        None => None,
    }
}

/// The regions that did not finish cleanly, each with its first problem.
pub(crate) fn incomplete(troubled: impl Iterator<Item = (String, String)>) -> Option<HandlerError> {
    let troubled: Vec<(String, String)> = troubled.collect();
    if troubled.is_empty() {
        return None;
    }
    Some(HandlerError::Incomplete {
        regions: troubled
            .iter()
            .map(|(r, _)| r.as_str())
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
