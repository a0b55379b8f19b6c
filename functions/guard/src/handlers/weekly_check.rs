//! The weekly-check function: on the stack's `DoctorSchedule`, runs
//! `cost-guard doctor`'s checks with its own read-only role, and tells
//! subscribers when a check fails or something changed since the last run.
//! It changes nothing in the account: its only writes are the message and
//! its own memory of what it saw.

use serde::Serialize;

use super::{conclude, Function, HandlerError, Invocation};
use crate::aws::doctor::{last_run, read_as, remember, Reach};
use crate::aws::sns::Notifier;
use crate::domain::config::WeeklyCheckConfig;
use crate::domain::doctor::{checklist, Status};
use crate::domain::render::doctor::Scope;
use crate::domain::render::weekly_check::{render, WeeklyOutcome};
use crate::domain::trigger::schedule::{parse_run, Run};
use crate::domain::weekly_check::{decide, remembered, Verdict};

/// What one run found, as Lambda logs and returns it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WeeklySummary {
    pub failed: usize,
    pub unknown: usize,
    /// Checks whose status changed since the last run (every check on the
    /// first run).
    pub changed: usize,
    pub notified: bool,
    pub subject: Option<String>,
}

/// The function's state, built once per cold start.
pub struct WeeklyCheck {
    config: WeeklyCheckConfig,
    sdk: aws_types::SdkConfig,
    notifier: Notifier,
    ddb: aws_sdk_dynamodb::Client,
}

impl Function for WeeklyCheck {
    type Config = WeeklyCheckConfig;
    type Output = WeeklySummary;

    fn new(config: WeeklyCheckConfig, sdk: &aws_types::SdkConfig) -> Self {
        WeeklyCheck {
            notifier: Notifier::new(
                aws_sdk_sns::Client::new(sdk),
                &config.common.notify_topic_arn,
            ),
            ddb: aws_sdk_dynamodb::Client::new(sdk),
            sdk: sdk.clone(),
            config,
        }
    }

    async fn handle(&self, invocation: &Invocation<'_>) -> Result<WeeklySummary, HandlerError> {
        // Only its schedule invokes it; anything else is a mistake to name.
        match parse_run(invocation.payload()) {
            Ok(Run::Check) => {}
            Ok(Run::DailySummary) => {
                return Err(HandlerError::Malformed(
                    "the weekly check has no daily summary; its schedule sends a Scheduled Event"
                        .into(),
                ))
            }
            Err(e) => return Err(HandlerError::Malformed(e)),
        }
        let stack = &self.config.stack_name;
        let facts = read_as(&self.sdk, stack, Reach::ReadOnly).await;
        let checks = checklist(&facts, stack);
        let before = last_run(&self.ddb, &self.config.state_table).await;
        let verdict = decide(&before, &checks);
        let scope = Scope {
            stack: stack.clone(),
            region: self
                .sdk
                .region()
                .map(|r| r.as_ref().to_string())
                .unwrap_or_default(),
            account: match &facts.stack {
                Ok(Some(s)) => s.account.clone(),
                _ => String::new(),
            },
        };
        let message = render(&WeeklyOutcome {
            scope: &scope,
            checks: &checks,
            before: &before,
            verdict: &verdict,
            schedule: &self.config.schedule,
        });
        let count = |s: Status| checks.iter().filter(|c| c.status == s).count();
        tracing::info!(
            failed = count(Status::Fail),
            unknown = count(Status::Unknown),
            ?before,
            tell = message.is_some(),
            "weekly check made"
        );
        let summary = |notified| WeeklySummary {
            failed: count(Status::Fail),
            unknown: count(Status::Unknown),
            changed: match &verdict {
                Verdict::Tell { changes } => changes.len(),
                Verdict::Quiet => 0,
            },
            notified,
            subject: message.as_ref().map(|m| m.subject.clone()),
        };
        let summary = conclude(
            invocation,
            &self.notifier,
            message.as_ref(),
            summary,
            &checks,
            None,
        )
        .await?;
        // Remembered only once subscribers were told: a failed publish is
        // retried by Lambda and compared with the same last run. A failure
        // that could not be checked again stays remembered as one.
        remember(
            &self.ddb,
            &self.config.state_table,
            &remembered(&before, &checks),
            invocation.started(),
        )
        .await
        .map_err(HandlerError::Remember)?;
        Ok(summary)
    }
}
