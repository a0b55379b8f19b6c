//! The stop-on-overspend function: an SNS event in, a sweep when policy says so,
//! one message to subscribers out. Its second event source, the sweep queue,
//! is [`sweep_queue`].

use std::time::Duration;

use serde::Serialize;

use super::{conclude, sweep_failure, Function, HandlerError, Invocation};
use crate::aws::costexplorer;
use crate::aws::fleet::{Fleet, Scope};
use crate::aws::sns::Notifier;
use crate::domain::config::StopOnOverspendConfig;
use crate::domain::outcome::{Stamp, SweepReport};
use crate::domain::policy::{self, Decision, Policy, Verdict};
use crate::domain::render::stop_on_overspend::{render, Incident};
use crate::domain::spend::MonthToDateState;
use crate::domain::trigger::{self, Trigger};

mod sweep_queue;
pub use sweep_queue::QueueAnswer;

/// Longest wait for Cost Explorer's month-to-date figures.
pub(crate) const SPEND_TIMEOUT: Duration = Duration::from_secs(10);

/// What an invocation returns (and logs) when it completes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub acted: bool,
    pub dry_run: bool,
    pub triggers: Vec<String>,
    pub stopped: usize,
    pub skipped: usize,
    pub failed: usize,
    pub regions_swept: usize,
    pub troubled_regions: Vec<String>,
    pub subject: String,
    pub notified: bool,
}

/// What the function answers: the alert's outcome, or the sweep queue's
/// messages to try again.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Answer {
    Alert(Summary),
    Queue(QueueAnswer),
}

/// Everything the function needs, built once per cold start.
pub struct StopOnOverspend {
    config: StopOnOverspendConfig,
    fleet: Fleet,
    notifier: Notifier,
    /// Cost Explorer, for the "Where the money went" section (`None` when
    /// `SPEND_CONTEXT=false`).
    ce: Option<aws_sdk_costexplorer::Client>,
}

impl Function for StopOnOverspend {
    type Config = StopOnOverspendConfig;
    type Output = Answer;

    fn new(config: StopOnOverspendConfig, sdk: &aws_types::SdkConfig) -> Self {
        let ce = config.spend_context.then(|| costexplorer::client(sdk));
        Self::with_parts(
            Fleet::new(&config.sweep.accounts, &config.sweep.regions, sdk)
                .with_kinds(&config.sweep.kinds)
                .with_seal(sdk, config.sweep.saved_state_key.as_deref()),
            aws_sdk_sns::Client::new(sdk),
            ce,
            config,
        )
    }

    /// Handles any event the function receives: an SNS alert, or a batch from
    /// the sweep queue.
    async fn handle(&self, invocation: &Invocation<'_>) -> Result<Answer, HandlerError> {
        if let Some(arn) = invocation.invoked_arn() {
            self.fleet.learn_own_account(arn);
        }
        // Boxed: a sweep of many accounts is a deep future, past the
        // compiler's layout limit in the binary's own future.
        if sweep_queue::is_sqs_batch(invocation.payload()) {
            let worker = sweep_queue::Worker {
                fleet: &self.fleet,
                notifier: &self.notifier,
                select: &self.config.sweep.select,
                dry_run: self.config.sweep.dry_run,
                resume_function: self.config.common.resume_function.as_deref(),
            };
            Ok(Answer::Queue(
                Box::pin(worker.handle(invocation.payload(), invocation.budget())).await?,
            ))
        } else {
            Ok(Answer::Alert(
                Box::pin(self.handle_alert(invocation)).await?,
            ))
        }
    }
}

impl StopOnOverspend {
    /// From clients built elsewhere (the SDK fault tests hand in mocked ones).
    pub fn with_parts(
        fleet: Fleet,
        sns: aws_sdk_sns::Client,
        ce: Option<aws_sdk_costexplorer::Client>,
        config: StopOnOverspendConfig,
    ) -> Self {
        StopOnOverspend {
            notifier: Notifier::new(sns, &config.common.notify_topic_arn),
            fleet,
            ce,
            config,
        }
    }

    fn policy(&self) -> Policy {
        Policy {
            act_on_forecasted: self.config.act_on_forecasted,
            anomaly: self.config.anomaly,
        }
    }

    /// Handles one alert (the SNS event the trigger topic sends).
    pub async fn handle_alert(&self, invocation: &Invocation<'_>) -> Result<Summary, HandlerError> {
        let event = invocation.payload();
        let fired: Vec<(Trigger, Decision)> = match trigger::parse_sns_event(event) {
            Ok(records) => records
                .iter()
                .map(|r| {
                    let t = trigger::parse_message(&r.message);
                    let d = policy::decide(&t, &self.policy());
                    tracing::info!(
                        sns_message_id = r.message_id.as_deref().unwrap_or("unknown"),
                        trigger = %t.headline(),
                        "SNS record"
                    );
                    (t, d)
                })
                .collect(),
            Err(e) => {
                let t = Trigger::Unrecognised {
                    why: e.to_string(),
                    excerpt: trigger::excerpt(&event.to_string()),
                };
                let d = policy::decide(&t, &self.policy());
                vec![(t, d)]
            }
        };
        for (t, d) in &fired {
            match t {
                Trigger::Unrecognised { why, excerpt } => {
                    tracing::error!(%why, %excerpt, "unrecognised message: nothing stopped")
                }
                _ => {
                    tracing::info!(trigger = %t.headline(), verdict = ?d.verdict, why = %d.why, "trigger")
                }
            }
        }
        let acting = fired.iter().find(|(_, d)| d.verdict == Verdict::Act);
        let stamp = acting.map(|(t, _)| Stamp::now(&t.stamp_label()));
        // The accounts the acting alert names; any alert about the whole bill
        // among them widens the sweep to every account.
        let scope = acting.map(|(t, _)| {
            let named = fired
                .iter()
                .filter(|(_, d)| d.verdict == Verdict::Act)
                .map(|(t, _)| t.accounts())
                .try_fold(Vec::new(), |mut all, named| {
                    all.extend(named?);
                    Some(all)
                });
            Scope::new(named, &t.headline())
        });

        // The sweep never waits for Cost Explorer: both run at once, and the
        // spend query is capped so it cannot delay the report much either.
        let recognised = fired
            .iter()
            .any(|(t, _)| !matches!(t, Trigger::Unrecognised { .. }));
        let sweep = async {
            match (&stamp, &scope) {
                (Some(stamp), Some(scope)) => Some(
                    self.fleet
                        .sweep(
                            &self.config.sweep.select,
                            stamp.clone(),
                            self.config.sweep.dry_run,
                            invocation.budget(),
                            scope,
                        )
                        .await,
                ),
                _ => None,
            }
        };
        // Boxed: the every-region sweep is a deep future, and joined with the
        // spend query inline it passes the compiler's nesting limit.
        let sweep = Box::pin(sweep);
        let (swept, money) = tokio::join!(sweep, self.money(recognised, invocation));
        if let Some(Err(e)) = &swept {
            tracing::error!(error = %e, "cannot list regions; nothing stopped");
        }
        let sweep_report = swept.as_ref().and_then(|s| s.as_ref().ok());
        let sweep_error = swept
            .as_ref()
            .and_then(|s| s.as_ref().err())
            .map(|e| format!("{e} ({})", e.advice()));
        let message = render(&Incident {
            fired: &fired,
            sweep: sweep_report,
            sweep_error: sweep_error.as_deref(),
            select: &self.config.sweep.select,
            stamp: stamp.as_ref(),
            money: money.as_ref(),
            cost_metric: self.config.cost_metric,
            resume_function: self.config.common.resume_function.as_deref(),
        });
        let summary = |notified| Summary {
            acted: stamp.is_some(),
            dry_run: self.config.sweep.dry_run,
            triggers: fired.iter().map(|(t, _)| t.headline()).collect(),
            stopped: sweep_report.map_or(0, SweepReport::stopped_count),
            skipped: sweep_report.map_or(0, SweepReport::skipped_count),
            failed: sweep_report.map_or(0, SweepReport::failed_count),
            regions_swept: sweep_report.map_or(0, |s| s.regions.len()),
            troubled_regions: sweep_report
                .map(|s| s.troubled_regions().iter().map(|r| r.label()).collect())
                .unwrap_or_default(),
            subject: message.subject.clone(),
            notified,
        };
        let failure = sweep_failure(swept.as_ref());
        conclude(
            invocation,
            &self.notifier,
            Some(&message),
            summary,
            &sweep_report,
            failure,
        )
        .await
    }

    /// Month-to-date spend by service, best effort, at most [`SPEND_TIMEOUT`].
    async fn money(&self, wanted: bool, invocation: &Invocation<'_>) -> Option<MonthToDateState> {
        let ce = self.ce.as_ref().filter(|_| wanted)?;
        let today = invocation.today();
        let query = costexplorer::month_to_date_spend(ce, self.config.cost_metric, today);
        Some(
            tokio::time::timeout(SPEND_TIMEOUT, query)
                .await
                .unwrap_or_else(|_| {
                    MonthToDateState::Failed(format!(
                        "no answer within {} s",
                        SPEND_TIMEOUT.as_secs()
                    ))
                }),
        )
    }
}
