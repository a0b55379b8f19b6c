//! The keep-stopped function: EventBridge sends it RDS's start events (from
//! every region, through the forwarder). When RDS starts a database cost-guard
//! stopped, because it had been stopped for 7 days, it stops it again as soon
//! as RDS lets it, and tells subscribers. It never sleeps waiting: a database
//! still starting is marked, and the "started" event that follows finishes.

use std::sync::Arc;

use serde::Serialize;

use super::{conclude, Function, HandlerError, Invocation};
use crate::aws::accounts::{Access, Accounts, NoAccess, RegionClients, SdkClients};
use crate::aws::rds;
use crate::aws::sns::Notifier;
use crate::domain::accounts::MemberRole;
use crate::domain::arn::Arn;
use crate::domain::config::{KeepStoppedConfig, RegionScope};
use crate::domain::error::AwsError;
use crate::domain::inventory::{tag, Resource, Tags};
use crate::domain::keep_stopped::{decide, KeepAction};
use crate::domain::outcome::{Outcome, Stamp};
use crate::domain::render::keep_stopped::render;
use crate::domain::tags::STOPPED_BY_TAG;
use crate::domain::tags::{RESTART_PENDING_TAG, RESTOPS_TAG};
use crate::domain::trigger::rds_event::{parse_rds_event, DbKind, RdsEvent};

/// What an invocation returns (and logs).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KeepStoppedSummary {
    pub database: String,
    pub region: String,
    pub event_id: String,
    /// `stopped-again`, `waiting-for-start`, `left-alone` or `failed`.
    pub action: String,
    pub why: Option<String>,
    pub restops: Option<u32>,
    pub notified: bool,
}

/// The function's state, built once per cold start.
pub struct KeepStopped {
    config: KeepStoppedConfig,
    /// The guard's own account, and the member accounts reached through
    /// member.yaml's keep-stopped role.
    accounts: Accounts,
    notifier: Notifier,
}

impl Function for KeepStopped {
    type Config = KeepStoppedConfig;
    type Output = KeepStoppedSummary;

    fn new(config: KeepStoppedConfig, sdk: &aws_types::SdkConfig) -> Self {
        KeepStopped {
            // The event names its region: no region list is ever resolved.
            accounts: Accounts::new(
                config.accounts.clone(),
                RegionScope::AllEnabled,
                MemberRole::KeepStopped,
                sdk,
            ),
            notifier: Notifier::new(
                aws_sdk_sns::Client::new(sdk),
                &config.common.notify_topic_arn,
            ),
            config,
        }
    }

    /// Handles one RDS event. The describe and the stop get the invocation's
    /// time budget; subscribers are told after them, in the time kept back.
    async fn handle(
        &self,
        invocation: &Invocation<'_>,
    ) -> Result<KeepStoppedSummary, HandlerError> {
        if let Some(arn) = invocation.invoked_arn() {
            self.accounts.learn_own_account(arn);
        }
        self.act(invocation).await
    }
}

impl KeepStopped {
    async fn act(&self, invocation: &Invocation<'_>) -> Result<KeepStoppedSummary, HandlerError> {
        let budget = invocation.budget();
        let until = tokio::time::Instant::now() + budget;
        let out_of_time = || {
            AwsError::new(
                "keep-stopped",
                "Timeout",
                format!(
                    "no answer within {}s, the time left before the Lambda deadline",
                    budget.as_secs()
                ),
            )
        };
        let e = parse_rds_event(invocation.payload()).map_err(|why| {
            tracing::error!(%why, "malformed RDS event: nothing changed");
            HandlerError::Malformed(why)
        })?;
        let summary =
            |action: &str, why: Option<String>, restops: Option<u32>| KeepStoppedSummary {
                database: e.id.clone(),
                region: e.region.clone(),
                event_id: e.event_id.clone(),
                action: action.to_string(),
                why,
                restops,
                notified: false,
            };
        // The account the database is in: the guard's own, or a member
        // account reached through its keep-stopped role.
        let (clients, account) = match self.accounts.event_access(e.account.as_deref()).await {
            Ok(Access::Own) => (self.accounts.own_clients().clone(), None),
            Ok(Access::Member { account, sdk }) => (
                Arc::new(SdkClients::new(*sdk)) as Arc<dyn RegionClients>,
                Some(account),
            ),
            Err(NoAccess::NotCovered(why)) => {
                tracing::warn!(database = %e.id, %why, "left alone");
                return Ok(summary("left-alone", Some(why), None));
            }
            // Whether the database is one cost-guard stopped cannot be known
            // without its tags: fail, so that Lambda retries and, failing
            // that, the failure queue's alarm tells subscribers.
            Err(NoAccess::Unreachable { account, why }) => {
                tracing::error!(database = %e.id, %account, %why, "account unreachable");
                return Err(HandlerError::Incomplete {
                    at: e.region.clone(),
                    detail: format!("{} in account {account}: {why}", e.id),
                });
            }
        };
        let client = clients.rds(&e.region);
        let found = tokio::time::timeout_at(until, self.describe(&client, &e))
            .await
            .unwrap_or_else(|_| Err(out_of_time()))
            .map_err(HandlerError::Unreadable)?;
        let Some((resource, arn, tags, status)) = found else {
            let s = summary("left-alone", Some("it no longer exists".into()), None);
            tracing::info!(database = %e.id, "RDS event for a database that no longer exists");
            return Ok(s);
        };
        let action = decide(e.happening, &tags, &status, &self.config.exempt_tag_key);
        tracing::info!(database = %e.id, region = %e.region, event = %e.event_id, %status, ?action, "RDS start");
        match action {
            KeepAction::Leave(why) => Ok(summary("left-alone", Some(why), None)),
            KeepAction::WaitForStart => {
                self.mark_pending(&client, &arn).await?;
                Ok(summary(
                    "waiting-for-start",
                    Some(format!("status is {status}: stopped once started")),
                    None,
                ))
            }
            KeepAction::StopAgain { restops } => {
                let stop = async {
                    match e.kind {
                        DbKind::Instance => rds::stop_instance(&client, &e.id).await,
                        DbKind::Cluster => rds::stop_cluster(&client, &e.id).await,
                    }
                };
                // Out of time, the stop is reported failed; the retry stops
                // it if it still runs.
                let outcome = tokio::time::timeout_at(until, stop)
                    .await
                    .unwrap_or_else(|_| Outcome::Failed(out_of_time()));
                let failure = match outcome {
                    Outcome::Done | Outcome::AlreadyDone => {
                        self.restamp(&client, &arn, restops).await;
                        None
                    }
                    // It was not stoppable after all (still starting): the
                    // "started" event comes next.
                    Outcome::Skipped(why) => {
                        self.mark_pending(&client, &arn).await?;
                        return Ok(summary("waiting-for-start", Some(why), None));
                    }
                    Outcome::Failed(err) => Some(err),
                };
                let stopped_by = tag(&tags, STOPPED_BY_TAG).unwrap_or("an earlier alert");
                let reason = failure.as_ref().map(|f| format!("{f} ({})", f.advice()));
                let message = render(
                    &resource,
                    &e.region,
                    account.as_deref(),
                    restops,
                    stopped_by,
                    reason.as_deref(),
                    self.config.common.resume_function.as_deref(),
                );
                let action = if failure.is_some() {
                    "failed"
                } else {
                    "stopped-again"
                };
                let done = |notified| KeepStoppedSummary {
                    notified,
                    ..summary(action, reason.clone(), Some(restops))
                };
                let failure = failure.map(|f| HandlerError::Incomplete {
                    at: e.region.clone(),
                    detail: format!("{}: {f}", e.id),
                });
                conclude(
                    invocation,
                    &self.notifier,
                    Some(&message),
                    done,
                    &e.id,
                    failure,
                )
                .await
            }
        }
    }

    async fn describe(
        &self,
        client: &aws_sdk_rds::Client,
        e: &RdsEvent,
    ) -> Result<Option<(Resource, String, Tags, String)>, AwsError> {
        Ok(match e.kind {
            DbKind::Instance => rds::describe_instance(client, &e.id)
                .await?
                .map(|d| (Resource::from(&d), d.arn, d.tags, d.status)),
            DbKind::Cluster => rds::describe_cluster(client, &e.id)
                .await?
                .map(|c| (Resource::from(&c), c.arn, c.tags, c.status)),
        })
    }

    async fn mark_pending(
        &self,
        client: &aws_sdk_rds::Client,
        arn: &str,
    ) -> Result<(), HandlerError> {
        // Without the mark the "started" event would take this for the
        // owner's own start and leave it running: failing lets Lambda retry.
        rds::put_tag(client, arn, RESTART_PENDING_TAG, &Stamp::now("").at)
            .await
            .map_err(|e| HandlerError::Incomplete {
                at: Arn::parse(arn).map_or(arn, |a| a.region).to_string(),
                detail: format!("the restart mark could not be written: {e}"),
            })
    }

    /// The stamp stays; the count goes up and the mark goes. Best effort: the
    /// database is stopped either way.
    async fn restamp(&self, client: &aws_sdk_rds::Client, arn: &str, restops: u32) {
        if let Err(e) = rds::put_tag(client, arn, RESTOPS_TAG, &restops.to_string()).await {
            tracing::warn!(%arn, error = %e, "the restop count could not be written");
        }
        if let Err(e) = rds::drop_tag(client, arn, RESTART_PENDING_TAG).await {
            tracing::warn!(%arn, error = %e, "the restart mark could not be removed");
        }
    }
}
