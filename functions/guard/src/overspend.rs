//! The stop-on-overspend function: an SNS event in, a sweep when policy says so,
//! one message to subscribers out.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::config::Config;
use crate::policy::{self, Decision, Policy, Verdict};
use crate::report::{self, Incident};
use crate::sweep::{self, RegionClients, Stamp, SweepReport, SweepSpec};
use crate::trigger::{self, Trigger};
use crate::{notify, regions};

/// Time kept back from the Lambda deadline for the report and the publish.
pub const DEADLINE_RESERVE: Duration = Duration::from_secs(5);
/// Time a sweep may take when there is no Lambda deadline (the command line).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(120);
/// Longest wait for Cost Explorer's month-to-date figures.
pub const SPEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Stop calls in flight per region.
pub const REGION_CONCURRENCY: usize = 4;

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

#[derive(thiserror::Error)]
pub enum GuardError {
    /// The sweep did not finish everywhere; Lambda's retry runs it again.
    #[error("sweep incomplete in {regions}: {detail}; subscribers were told, and the retry will stop what is left")]
    Incomplete { regions: String, detail: String },
    #[error("could not notify subscribers: {0}")]
    Notify(#[from] crate::error::AwsError),
    #[error("could not start the sweep: {0}")]
    Regions(String),
}

crate::error::lambda_error!(GuardError);

impl GuardError {
    /// The `errorType` Lambda reports for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            GuardError::Incomplete { .. } => "CostGuard.SweepIncomplete",
            GuardError::Notify(_) => "CostGuard.NotifyFailed",
            GuardError::Regions(_) => "CostGuard.RegionsUnavailable",
        }
    }
}

/// Everything the function needs, built once per cold start.
pub struct Guard {
    pub config: Config,
    pub clients: Arc<dyn RegionClients>,
    /// Client in the function's own region, for `DescribeRegions`.
    pub home_ec2: aws_sdk_ec2::Client,
    pub sns: aws_sdk_sns::Client,
    /// Cost Explorer, for the "Where the money went" section (`None` when
    /// `SPEND_CONTEXT=false`).
    pub ce: Option<aws_sdk_costexplorer::Client>,
}

impl Guard {
    pub fn new(config: Config, sdk: &aws_types::SdkConfig) -> Self {
        Guard {
            clients: Arc::new(sweep::SdkClients::new(sdk.clone())),
            home_ec2: aws_sdk_ec2::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            ce: config
                .spend_context
                .then(|| crate::costexplorer::client(sdk)),
            config,
        }
    }

    fn policy(&self) -> Policy {
        Policy {
            act_on_forecasted: self.config.act_on_forecasted,
            anomaly: self.config.anomaly,
        }
    }

    /// Handles one Lambda event. `deadline` is the invocation's deadline.
    pub async fn handle(
        &self,
        event: &serde_json::Value,
        deadline: Option<SystemTime>,
    ) -> Result<Summary, GuardError> {
        let fired: Vec<(Trigger, Decision)> = match trigger::parse_sns_event(event) {
            Ok(records) => records
                .iter()
                .map(|r| {
                    let t = trigger::parse_message(&r.message);
                    let d = policy::decide(&t, &self.policy());
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

        // The sweep never waits for Cost Explorer: both run at once, and the
        // spend query is capped so it cannot delay the report much either.
        let recognised = fired
            .iter()
            .any(|(t, _)| !matches!(t, Trigger::Unrecognised { .. }));
        let sweep = async {
            match &stamp {
                Some(stamp) => Some(self.run_sweep(stamp.clone(), deadline).await),
                None => None,
            }
        };
        let (swept, money) = tokio::join!(sweep, self.money(recognised));
        let mut sweep_report: Option<SweepReport> = None;
        let mut sweep_error: Option<String> = None;
        match swept {
            Some(Ok(r)) => sweep_report = Some(r),
            Some(Err(e)) => {
                tracing::error!(error = %e, "cannot list regions; nothing stopped");
                sweep_error = Some(e);
            }
            None => {}
        }

        let message = report::render(&Incident {
            fired: &fired,
            sweep: sweep_report.as_ref(),
            sweep_error: sweep_error.as_deref(),
            select: &self.config.select,
            stamp: stamp.as_ref(),
            money: money.as_ref(),
            cost_metric: self.config.cost_metric,
        });
        let published = notify::publish(&self.sns, &self.config.notify_topic_arn, &message).await;

        let summary = Summary {
            acted: stamp.is_some(),
            dry_run: self.config.dry_run,
            triggers: fired.iter().map(|(t, _)| t.headline()).collect(),
            stopped: sweep_report.as_ref().map_or(0, SweepReport::stopped_count),
            skipped: sweep_report.as_ref().map_or(0, SweepReport::skipped_count),
            failed: sweep_report.as_ref().map_or(0, SweepReport::failed_count),
            regions_swept: sweep_report.as_ref().map_or(0, |s| s.regions.len()),
            troubled_regions: sweep_report
                .as_ref()
                .map(|s| {
                    s.troubled_regions()
                        .iter()
                        .map(|r| r.region.clone())
                        .collect()
                })
                .unwrap_or_default(),
            subject: message.subject.clone(),
            notified: published.is_ok(),
        };
        // One line that holds the whole outcome, whatever happens next.
        tracing::info!(
            outcome = %serde_json::to_string(&summary).unwrap_or_default(),
            report = %sweep_report.as_ref().and_then(|r| serde_json::to_string(r).ok()).unwrap_or_default(),
            "invocation finished"
        );

        if let Err(e) = published {
            tracing::error!(error = %e, body = %message.body, "publishing the report failed");
            return Err(GuardError::Notify(e));
        }
        if let Some(e) = sweep_error {
            return Err(GuardError::Regions(e));
        }
        if let Some(report) = &sweep_report {
            let troubled = report.troubled_regions();
            if !troubled.is_empty() {
                let detail = troubled
                    .iter()
                    .map(|r| {
                        let first = r
                            .errors
                            .first()
                            .cloned()
                            .or_else(|| {
                                r.failed
                                    .first()
                                    .map(|f| format!("{}: {}", f.resource.id, f.error))
                            })
                            .unwrap_or_else(|| "unfinished".into());
                        format!("{}: {first}", r.region)
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                return Err(GuardError::Incomplete {
                    regions: troubled
                        .iter()
                        .map(|r| r.region.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    detail,
                });
            }
        }
        Ok(summary)
    }

    /// Month-to-date spend by service, best effort, at most [`SPEND_TIMEOUT`].
    pub async fn money(&self, wanted: bool) -> Option<crate::spend::MonthToDateState> {
        let ce = self.ce.as_ref().filter(|_| wanted)?;
        let today = time::OffsetDateTime::now_utc().date();
        let query = crate::costexplorer::month_to_date(ce, self.config.cost_metric, today);
        Some(
            tokio::time::timeout(SPEND_TIMEOUT, query)
                .await
                .unwrap_or_else(|_| {
                    crate::spend::MonthToDateState::Failed(format!(
                        "no answer within {} s",
                        SPEND_TIMEOUT.as_secs()
                    ))
                }),
        )
    }

    /// Resolves the regions and sweeps them within the time left.
    pub async fn run_sweep(
        &self,
        stamp: Stamp,
        deadline: Option<SystemTime>,
    ) -> Result<SweepReport, String> {
        let regions = regions::resolve(&self.config.regions, &self.home_ec2)
            .await
            .map_err(|e| format!("{e} ({})", e.advice()))?;
        let spec = SweepSpec {
            select: self.config.select.clone(),
            dry_run: self.config.dry_run,
            stamp,
            concurrency: REGION_CONCURRENCY,
        };
        let budget = time_budget(deadline, SystemTime::now());
        tracing::info!(
            regions = regions.len(),
            budget_s = budget.as_secs(),
            dry_run = spec.dry_run,
            "sweep starting"
        );
        Ok(sweep::sweep(self.clients.as_ref(), &regions, &spec, budget).await)
    }
}

/// The time a sweep may take: until the deadline less the reserve, at least 1 s.
pub fn time_budget(deadline: Option<SystemTime>, now: SystemTime) -> Duration {
    match deadline {
        None => DEFAULT_BUDGET,
        Some(d) => d
            .duration_since(now)
            .unwrap_or_default()
            .saturating_sub(DEADLINE_RESERVE)
            .max(Duration::from_secs(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_sees_a_named_type_and_a_readable_message() {
        let e = GuardError::Regions("ec2:DescribeRegions failed: Timeout".into());
        assert_eq!(
            format!("{e:?}"),
            "could not start the sweep: ec2:DescribeRegions failed: Timeout"
        );
        let d: lambda_runtime::Diagnostic = e.into();
        assert_eq!(d.error_type, "CostGuard.RegionsUnavailable");
        assert_eq!(
            d.error_message,
            "could not start the sweep: ec2:DescribeRegions failed: Timeout"
        );
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
        assert_eq!(
            time_budget(Some(now - Duration::from_secs(2)), now),
            Duration::from_secs(1)
        );
    }
}
