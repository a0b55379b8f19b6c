//! stop-on-overspend's second event source: the sweep queue. A sweep of more
//! accounts than one invocation should carry arrives here as one message per
//! account, each swept and reported by its own worker invocation, and one
//! delayed summary job that gathers the results and tells subscribers how the
//! incident ended.

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsMessage};

use crate::aws::fleet::Fleet;
use crate::aws::queue;
use crate::aws::sns::Notifier;
use crate::domain::config::SelectionConfig;
use crate::domain::fanout::{AccountJob, AccountResult, Job, SummaryJob};
use crate::domain::render::fanout;
use crate::handlers::HandlerError;

/// Lambda's answer to an SQS batch: the messages to try again.
pub type QueueAnswer = SqsBatchResponse;

/// What the worker needs of the function.
pub(super) struct Worker<'a> {
    pub fleet: &'a Fleet,
    pub notifier: &'a Notifier,
    pub select: &'a SelectionConfig,
    pub dry_run: bool,
    pub resume_function: Option<&'a str>,
}

/// Whether `event` is a batch from SQS.
pub(crate) fn is_sqs_batch(event: &serde_json::Value) -> bool {
    event
        .get("Records")
        .and_then(|r| r.as_array())
        .and_then(|r| r.first())
        .and_then(|r| r.get("eventSource"))
        .and_then(|s| s.as_str())
        == Some("aws:sqs")
}

impl Worker<'_> {
    /// Handles a batch of sweep-queue messages, within `budget`. A message
    /// whose account did not finish cleanly is returned as a failure, so the
    /// queue tries it again, and after its last attempt moves it to the
    /// dead-letter queue.
    pub(super) async fn handle(
        &self,
        event: &serde_json::Value,
        budget: Duration,
    ) -> Result<QueueAnswer, HandlerError> {
        let records = event
            .get("Records")
            .and_then(|r| r.as_array())
            .ok_or_else(|| HandlerError::Malformed("an SQS event without Records".into()))?;
        let until = tokio::time::Instant::now() + budget;
        let mut response = QueueAnswer::default();
        for raw in records {
            // One record at a time: one that is not an SQS message fails
            // alone (and ends in the dead-letter queue), not the batch.
            let record: SqsMessage = serde_json::from_value(raw.clone()).unwrap_or_default();
            let id = record.message_id.clone().unwrap_or_else(|| {
                raw.get("messageId")
                    .and_then(|m| m.as_str())
                    .unwrap_or_default()
                    .to_string()
            });
            let body = record.body.as_deref().unwrap_or_default();
            let done = match Job::parse(body) {
                Err(why) => {
                    // Never acted on: it ends in the dead-letter queue, whose
                    // alarm tells the owner.
                    tracing::error!(message_id = %id, %why, "malformed sweep job: nothing done");
                    false
                }
                Ok(Job::SweepAccount(job)) => {
                    let left = until.saturating_duration_since(tokio::time::Instant::now());
                    self.sweep_account(&job, left).await
                }
                Ok(Job::Summary(job)) => self.summarise(job).await,
            };
            if !done {
                response.add_failure(id);
            }
        }
        Ok(response)
    }

    /// Sweeps one account, reports it, and leaves the result for the
    /// summary. True when the account finished cleanly and was reported.
    async fn sweep_account(&self, job: &AccountJob, budget: Duration) -> bool {
        let incident = &job.incident;
        tracing::info!(incident = %incident.id, account = %job.account.id, "queued account");
        let report = match self
            .fleet
            .sweep_one(
                &job.account,
                self.select,
                incident.stamp.clone(),
                incident.dry_run || self.dry_run,
                budget,
            )
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(account = %job.account.id, error = %e, "account not swept");
                return false;
            }
        };
        let message = fanout::account_report(
            incident,
            &report,
            self.resume_function,
            &crate::domain::render::stop_on_overspend::describe_selection(self.select),
        );
        let result = AccountResult::from_report(&incident.id, &job.account, &report);
        tracing::info!(
            report = %serde_json::to_string(&report).unwrap_or_default(),
            result = %serde_json::to_string(&result).unwrap_or_default(),
            "queued account swept"
        );
        let published = self.notifier.publish(&message).await;
        if let Err(e) = &published {
            tracing::error!(error = %e, body = %message.body, "publishing the account's report failed");
        }
        if let Some((sqs, q)) = self.fleet.queue() {
            let body = match serde_json::to_string(&result) {
                Ok(body) => body,
                Err(e) => {
                    tracing::error!(error = %e, "this account's result could not be written as JSON");
                    return false;
                }
            };
            if let Err(e) = queue::send(sqs, &q.results_url, &body, 0).await {
                tracing::error!(error = %e, "the summary will not see this account's result");
                return false;
            }
        }
        result.finished && published.is_ok()
    }

    /// Gathers the results so far; reports when every account finished or the
    /// last round is reached, else looks again after the delay.
    async fn summarise(&self, mut job: SummaryJob) -> bool {
        let Some((sqs, q)) = self.fleet.queue() else {
            tracing::error!("a summary job, but no queues are configured");
            return false;
        };
        let incident = job.incident.id.clone();
        let gathered = match queue::take_matching(sqs, &q.results_url, |body| {
            AccountResult::parse(body).is_ok_and(|r| r.incident == incident)
        })
        .await
        {
            Ok(bodies) => bodies,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the results queue");
                return false;
            }
        };
        job.merge(gathered.iter().filter_map(|b| AccountResult::parse(b).ok()));
        tracing::info!(
            incident = %job.incident.id,
            round = job.round,
            accounts = job.accounts.len(),
            unfinished = job.unfinished().len(),
            "summary round"
        );
        if !job.ready() {
            job.round += 1;
            return match queue::send(
                sqs,
                &q.sweep_url,
                &Job::Summary(job).to_body(),
                q.summary_delay_s,
            )
            .await
            {
                Ok(()) => true,
                Err(e) => {
                    // The results gathered so far are in this failed message,
                    // which the queue delivers again.
                    tracing::error!(error = %e, "cannot queue the next summary round");
                    false
                }
            };
        }
        let message = fanout::summary(&job);
        match self.notifier.publish(&message).await {
            Ok(_) => {
                tracing::info!(subject = %message.subject, "summary published");
                true
            }
            Err(e) => {
                tracing::error!(error = %e, body = %message.body, "publishing the summary failed");
                false
            }
        }
    }
}
