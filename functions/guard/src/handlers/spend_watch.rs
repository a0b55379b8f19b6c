//! The spend-watch function: on a schedule, asks Cost Explorer for month-to-date
//! spend and starts the stop sweep when it passes `SPEND_LIMIT_USD`; alerts
//! when the month-end forecast passes `FORECAST_LIMIT_USD`; otherwise stays
//! quiet (or sends a daily summary when a second schedule asks for one).

use serde::Serialize;

use super::{conclude, sweep_failure, Function, HandlerError, Invocation};
use crate::aws::costexplorer;
use crate::aws::fleet::{Fleet, Scope};
use crate::aws::sns::Notifier;
use crate::domain::config::SpendWatchConfig;
use crate::domain::outcome::Stamp;
use crate::domain::render::spend_watch::{render, SpendOutcome};
use crate::domain::spend::{self, Forecast, MonthToDateState, SpendVerdict};
use crate::domain::trigger::schedule::{parse_run, Run};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SpendSummary {
    pub verdict: String,
    pub month_to_date_usd: Option<f64>,
    pub forecast_usd: Option<f64>,
    pub notified: bool,
    pub stopped: usize,
    pub subject: Option<String>,
}

/// The function's state, built once per cold start.
pub struct SpendWatch {
    config: SpendWatchConfig,
    fleet: Fleet,
    notifier: Notifier,
    ce: aws_sdk_costexplorer::Client,
}

impl SpendWatch {
    /// From clients built elsewhere (the SDK fault tests hand in mocked ones).
    pub fn with_parts(
        fleet: Fleet,
        sns: aws_sdk_sns::Client,
        ce: aws_sdk_costexplorer::Client,
        config: SpendWatchConfig,
    ) -> Self {
        SpendWatch {
            notifier: Notifier::new(sns, &config.common.notify_topic_arn),
            fleet,
            ce,
            config,
        }
    }
}

impl Function for SpendWatch {
    type Config = SpendWatchConfig;
    type Output = SpendSummary;

    fn new(config: SpendWatchConfig, sdk: &aws_types::SdkConfig) -> Self {
        Self::with_parts(
            Fleet::new(&config.sweep.accounts, &config.sweep.regions, sdk)
                .with_kinds(&config.sweep.kinds)
                .with_seal(sdk, config.sweep.saved_state_key.as_deref()),
            aws_sdk_sns::Client::new(sdk),
            costexplorer::client(sdk),
            config,
        )
    }

    async fn handle(&self, invocation: &Invocation<'_>) -> Result<SpendSummary, HandlerError> {
        if let Some(arn) = invocation.invoked_arn() {
            self.fleet.learn_own_account(arn);
        }
        let today = invocation.today();
        let run = parse_run(invocation.payload()).map_err(HandlerError::Malformed)?;
        let metric = self.config.spend.cost_metric;
        let mtd = costexplorer::month_to_date_spend(&self.ce, metric, today).await;
        let spent = match &mtd {
            MonthToDateState::Known(m) => Some(m.total),
            _ => None,
        };
        // Each request costs $0.01: ask for the forecast only when it is used.
        let forecast =
            if self.config.spend.limits.forecast_usd.is_some() || run == Run::DailySummary {
                costexplorer::month_forecast(&self.ce, metric, today, spent).await
            } else {
                Forecast::NotAsked
            };
        let verdict = spend::check_limits(&mtd, &forecast, &self.config.spend.limits);
        tracing::info!(?verdict, ?run, month_to_date = ?spent, ?forecast, "spend checked");

        let swept = match &verdict {
            SpendVerdict::Stop { limit, .. } => {
                let stamp = Stamp::now(&format!("spend-watch:month-to-date-over-{limit}-usd"));
                // Cost Explorer in the management account sees the whole
                // organization's spend: every account.
                let scope = Scope::new(None, &format!("month-to-date spend over ${limit}"));
                let report = self
                    .fleet
                    .sweep(
                        &self.config.sweep.select,
                        stamp.clone(),
                        self.config.sweep.dry_run,
                        invocation.budget(),
                        &scope,
                    )
                    .await;
                Some((report, stamp))
            }
            _ => None,
        };
        let sweep_error = match &swept {
            Some((Err(e), _)) => Some(format!("{e} ({})", e.advice())),
            _ => None,
        };
        let message = render(&SpendOutcome {
            verdict: &verdict,
            run,
            mtd: &mtd,
            forecast: &forecast,
            config: &self.config,
            limits: &self.config.spend.limits,
            sweep: swept
                .as_ref()
                .and_then(|(r, s)| r.as_ref().ok().map(|r| (r, s))),
            sweep_error: sweep_error.as_deref(),
        });
        let summary = |notified| SpendSummary {
            verdict: match verdict {
                SpendVerdict::Stop { .. } => "stop",
                SpendVerdict::ForecastAlert { .. } => "forecast-alert",
                SpendVerdict::Quiet => "quiet",
            }
            .to_string(),
            month_to_date_usd: spent.map(|a| a.value()),
            forecast_usd: match forecast {
                Forecast::Available(f) => Some(f.value()),
                _ => None,
            },
            notified,
            stopped: match &swept {
                Some((Ok(r), _)) => r.stopped_count(),
                _ => 0,
            },
            subject: message.as_ref().map(|m| m.subject.clone()),
        };
        let summary = conclude(
            invocation,
            &self.notifier,
            message.as_ref(),
            summary,
            &swept.as_ref().and_then(|(r, _)| r.as_ref().ok()),
            sweep_failure(swept.as_ref().map(|(r, _)| r)),
        )
        .await?;
        // No spend means no sweep: the limit could not be checked at all.
        if let MonthToDateState::Failed(e) = mtd {
            return Err(HandlerError::SpendUnavailable(e));
        }
        Ok(summary)
    }
}
