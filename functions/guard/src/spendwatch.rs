//! The spend-watch function: on a schedule, asks Cost Explorer for month-to-date
//! spend and starts the stop sweep when it passes `SPEND_LIMIT_USD`; alerts
//! when the month-end forecast passes `FORECAST_LIMIT_USD`; otherwise stays
//! quiet (or sends a daily summary when a second schedule asks for one).

use std::fmt::Write as _;
use std::time::SystemTime;

use serde::Serialize;
use time::Date;

use crate::config::ConfigError;
use crate::costexplorer;
use crate::error::AwsError;
use crate::notify;
use crate::overspend::Guard;
use crate::report::{self, Message};
use crate::spend::{self, Forecast, Limits, MonthToDateState, SpendVerdict};
use crate::sweep::{Stamp, SweepReport};

/// The constant input of the daily-summary schedule.
pub const SUMMARY_INPUT: &str = "daily-summary";

#[derive(Debug, Clone, PartialEq)]
pub struct SpendConfig {
    pub limits: Limits,
    /// A second schedule sends a daily summary (`SPEND_SUMMARY=daily`).
    pub daily_summary: bool,
}

fn usd_var(
    name: &'static str,
    value: Option<String>,
    required: bool,
) -> Result<Option<f64>, ConfigError> {
    let text = value.as_deref().map(str::trim).unwrap_or("");
    if text.is_empty() || (!required && text == "0") {
        return if required {
            Err(ConfigError::Missing {
                name,
                hint: "set it to the month-to-date spend in US dollars above which the selection is stopped",
            })
        } else {
            Ok(None)
        };
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= crate::money::MAX_AMOUNT => Ok(Some(v)),
        _ => Err(ConfigError::Invalid {
            name,
            value: text.to_string(),
            expected: "a number of US dollars greater than zero",
        }),
    }
}

impl SpendConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|n| std::env::var(n).ok())
    }

    /// Reads `SPEND_LIMIT_USD` (required), `FORECAST_LIMIT_USD` and `SPEND_SUMMARY`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let spend_usd = usd_var("SPEND_LIMIT_USD", lookup("SPEND_LIMIT_USD"), true)?
            .unwrap_or(crate::money::MAX_AMOUNT);
        let forecast_usd = usd_var("FORECAST_LIMIT_USD", lookup("FORECAST_LIMIT_USD"), false)?;
        let daily_summary = match lookup("SPEND_SUMMARY")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("") | Some("off") => false,
            Some("daily") => true,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "SPEND_SUMMARY",
                    value: lookup("SPEND_SUMMARY").unwrap_or_default(),
                    expected: "`off` (default) or `daily`",
                })
            }
        };
        Ok(SpendConfig {
            limits: Limits {
                spend_usd,
                forecast_usd,
            },
            daily_summary,
        })
    }
}

/// What the schedule asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    Check,
    DailySummary,
}

/// Reads the event: an EventBridge `Scheduled Event`, or the daily-summary input.
pub fn parse_run(event: &serde_json::Value) -> Result<Run, String> {
    if event.get("cost-guard").and_then(|v| v.as_str()) == Some(SUMMARY_INPUT) {
        return Ok(Run::DailySummary);
    }
    match (
        event.get("source").and_then(|v| v.as_str()),
        event.get("detail-type").and_then(|v| v.as_str()),
    ) {
        (Some("aws.events"), Some("Scheduled Event")) => Ok(Run::Check),
        _ => Err(format!(
            "expected an EventBridge Scheduled Event or {{\"cost-guard\": \"{SUMMARY_INPUT}\"}}, got: {}",
            crate::trigger::excerpt(&event.to_string())
        )),
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SpendSummary {
    pub verdict: String,
    pub month_to_date_usd: Option<f64>,
    pub forecast_usd: Option<f64>,
    pub notified: bool,
    pub stopped: usize,
    pub subject: Option<String>,
}

#[derive(thiserror::Error)]
pub enum SpendError {
    #[error("malformed event: {0}")]
    Malformed(String),
    #[error("month-to-date spend unavailable, so the limit could not be checked: {0}")]
    CostExplorer(String),
    #[error("could not notify subscribers: {0}")]
    Notify(AwsError),
    #[error(
        "sweep incomplete in {0}; subscribers were told, and the retry will stop what is left"
    )]
    Incomplete(String),
}

crate::error::lambda_error!(SpendError);

impl SpendError {
    /// The `errorType` Lambda reports for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            SpendError::Malformed(_) => "CostGuard.MalformedEvent",
            SpendError::CostExplorer(_) => "CostGuard.SpendUnavailable",
            SpendError::Notify(_) => "CostGuard.NotifyFailed",
            SpendError::Incomplete(_) => "CostGuard.SweepIncomplete",
        }
    }
}

fn usd(v: f64) -> String {
    crate::money::Amount::new(v)
        .map(|a| a.to_string())
        .unwrap_or_else(|| format!("${v}"))
}

/// Everything one spend check found, for the message.
pub struct SpendOutcome<'a> {
    pub verdict: &'a SpendVerdict,
    pub run: Run,
    pub mtd: &'a MonthToDateState,
    pub forecast: &'a Forecast,
    pub config: &'a crate::config::Config,
    pub limits: &'a Limits,
    /// The sweep and its stamp, when one ran.
    pub sweep: Option<(&'a SweepReport, &'a Stamp)>,
    pub sweep_error: Option<&'a str>,
}

/// The message for a verdict (none when quiet and no summary is due).
pub fn render(o: &SpendOutcome) -> Option<Message> {
    let SpendOutcome {
        verdict,
        run,
        mtd,
        forecast,
        config,
        limits,
        sweep,
        sweep_error,
    } = *o;
    let mut b = String::new();
    let subject = match verdict {
        SpendVerdict::Stop { spent, limit } => {
            let what = format!("month-to-date spend {spent} > {}", usd(*limit));
            let _ = writeln!(
                b,
                "{}WHAT FIRED\n- spend-watch: {what}\n  cost-guard acted: Cost Explorer reports month-to-date spend above SPEND_LIMIT_USD.\n",
                if config.dry_run { "DRY RUN: nothing was stopped or tagged. This is what cost-guard would stop.\n\n" } else { "" }
            );
            spend::money_section(&mut b, mtd, forecast, config.cost_metric);
            if let Some(e) = sweep_error {
                let _ = writeln!(b, "WHAT HAPPENED\nThe sweep could not start: {e}\n");
            }
            match sweep {
                Some((s, stamp)) => {
                    report::sweep_section(&mut b, s, Some(stamp));
                    report::outcome_subject(&report::sweep_outcome(s), &what)
                }
                None => report::outcome_subject("cost-guard could not start the sweep", &what),
            }
        }
        SpendVerdict::ForecastAlert { forecast: f, limit } => {
            let what = format!("forecast {f} for the month > {}", usd(*limit));
            let _ = writeln!(
                b,
                "WHAT FIRED\n- spend-watch: {what}\n  cost-guard did not act: a forecast passing FORECAST_LIMIT_USD only alerts. It stops when month-to-date spend passes SPEND_LIMIT_USD ({}).\n",
                usd(limits.spend_usd)
            );
            spend::money_section(&mut b, mtd, forecast, config.cost_metric);
            b.push_str("WHAT TO DO\nFind what is running in the services above and stop what you do not need, or raise the limits.\n\n");
            format!("cost-guard: {what}, nothing stopped")
        }
        SpendVerdict::Quiet if run == Run::DailySummary => {
            let spent = match mtd {
                MonthToDateState::Known(m) => m.total.to_string(),
                _ => "unknown".into(),
            };
            let _ = writeln!(
                b,
                "Daily summary: spend is below SPEND_LIMIT_USD ({}); nothing was stopped.\n",
                usd(limits.spend_usd)
            );
            spend::money_section(&mut b, mtd, forecast, config.cost_metric);
            format!(
                "cost-guard daily: {spent} spent this month, limit {}",
                usd(limits.spend_usd)
            )
        }
        SpendVerdict::Quiet => return None,
    };
    Some(Message {
        subject: report::subject_line(&subject),
        body: b,
    })
}

/// The function's state, built once per cold start.
pub struct SpendWatch {
    pub guard: Guard,
    pub spend: SpendConfig,
    pub ce: aws_sdk_costexplorer::Client,
}

impl SpendWatch {
    /// Builds the function's clients once. The stop-on-overspend spend context
    /// is not used here, so the guard gets no Cost Explorer client of its own.
    pub fn new(
        config: crate::config::Config,
        spend: SpendConfig,
        sdk: &aws_types::SdkConfig,
    ) -> Self {
        let config = crate::config::Config {
            spend_context: false,
            ..config
        };
        SpendWatch {
            ce: costexplorer::client(sdk),
            guard: Guard::new(config, sdk),
            spend,
        }
    }

    pub async fn handle(
        &self,
        event: &serde_json::Value,
        deadline: Option<SystemTime>,
        today: Date,
    ) -> Result<SpendSummary, SpendError> {
        let run = parse_run(event).map_err(SpendError::Malformed)?;
        let metric = self.guard.config.cost_metric;
        let mtd = costexplorer::month_to_date(&self.ce, metric, today).await;
        let spent = match &mtd {
            MonthToDateState::Known(m) => Some(m.total),
            _ => None,
        };
        // Each request costs $0.01: ask for the forecast only when it is used.
        let forecast = if self.spend.limits.forecast_usd.is_some() || run == Run::DailySummary {
            costexplorer::month_forecast(&self.ce, metric, today, spent).await
        } else {
            Forecast::NotAsked
        };
        let verdict = spend::decide(&mtd, &forecast, &self.spend.limits);
        tracing::info!(?verdict, ?run, month_to_date = ?spent, ?forecast, "spend checked");

        let mut sweep = None;
        let mut sweep_error = None;
        if let SpendVerdict::Stop { limit, .. } = &verdict {
            let stamp = Stamp::now(&format!("spend-watch:month-to-date-over-{limit}-usd"));
            match self.guard.run_sweep(stamp.clone(), deadline).await {
                Ok(r) => sweep = Some((r, stamp)),
                Err(e) => sweep_error = Some(e),
            }
        }
        let message = render(&SpendOutcome {
            verdict: &verdict,
            run,
            mtd: &mtd,
            forecast: &forecast,
            config: &self.guard.config,
            limits: &self.spend.limits,
            sweep: sweep.as_ref().map(|(r, s)| (r, s)),
            sweep_error: sweep_error.as_deref(),
        });
        let mut notified = false;
        if let Some(m) = &message {
            notify::publish(&self.guard.sns, &self.guard.config.notify_topic_arn, m)
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, body = %m.body, "publishing failed");
                    SpendError::Notify(e)
                })?;
            notified = true;
        }
        let summary = SpendSummary {
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
            stopped: sweep.as_ref().map_or(0, |(r, _)| r.stopped_count()),
            subject: message.map(|m| m.subject),
        };
        tracing::info!(outcome = %serde_json::to_string(&summary).unwrap_or_default(), "invocation finished");
        if let MonthToDateState::Failed(e) = mtd {
            return Err(SpendError::CostExplorer(e));
        }
        if let Some(e) = sweep_error {
            return Err(SpendError::Incomplete(e));
        }
        if let Some((r, _)) = &sweep {
            let troubled: Vec<&str> = r
                .troubled_regions()
                .iter()
                .map(|x| x.region.as_str())
                .collect();
            if !troubled.is_empty() {
                return Err(SpendError::Incomplete(troubled.join(", ")));
            }
        }
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Amount;
    use crate::spend::MonthToDate;
    use time::macros::date;

    const SCHEDULED: &str = include_str!("../../../events/scheduled.json");

    fn config() -> crate::config::Config {
        crate::config::Config::from_lookup(|n| {
            (n == "NOTIFY_TOPIC_ARN")
                .then(|| "arn:aws:sns:us-east-1:123456789012:notify".to_string())
        })
        .unwrap()
    }

    #[test]
    fn spend_config() {
        let c =
            SpendConfig::from_lookup(|n| (n == "SPEND_LIMIT_USD").then(|| "100".into())).unwrap();
        assert_eq!(c.limits.spend_usd, 100.0);
        assert_eq!(c.limits.forecast_usd, None);
        assert!(!c.daily_summary);
        let err = SpendConfig::from_lookup(|_| None).unwrap_err().to_string();
        assert!(err.starts_with("SPEND_LIMIT_USD is required"), "{err}");
        for (name, value) in [
            ("SPEND_LIMIT_USD", "-1"),
            ("SPEND_LIMIT_USD", "NaN"),
            ("SPEND_LIMIT_USD", "lots"),
            ("FORECAST_LIMIT_USD", "inf"),
            ("SPEND_SUMMARY", "hourly"),
        ] {
            let err = SpendConfig::from_lookup(|n| match n {
                n if n == name => Some(value.to_string()),
                "SPEND_LIMIT_USD" => Some("100".into()),
                _ => None,
            })
            .unwrap_err()
            .to_string();
            assert!(err.starts_with(name) && err.contains(value), "{err}");
        }
        let c = SpendConfig::from_lookup(|n| match n {
            "SPEND_LIMIT_USD" => Some("50".into()),
            "FORECAST_LIMIT_USD" => Some("80".into()),
            "SPEND_SUMMARY" => Some("daily".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.limits.forecast_usd, Some(80.0));
        assert!(c.daily_summary);
    }

    #[test]
    fn runs() {
        assert_eq!(
            parse_run(&serde_json::from_str(SCHEDULED).unwrap()),
            Ok(Run::Check)
        );
        assert_eq!(
            parse_run(&serde_json::json!({"cost-guard": "daily-summary"})),
            Ok(Run::DailySummary)
        );
        assert!(parse_run(&serde_json::json!({"Records": []}))
            .unwrap_err()
            .contains("Scheduled Event"));
        let typed: Result<aws_lambda_events::event::cloudwatch_events::CloudWatchEvent, _> =
            serde_json::from_str(SCHEDULED);
        assert!(typed.is_ok());
    }

    fn known(total: &[(&str, f64)]) -> MonthToDateState {
        MonthToDateState::Known(MonthToDate::from_services(
            spend::month_to_date(date!(2026 - 11 - 22)).unwrap(),
            total.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
        ))
    }

    const LIMITS: Limits = Limits {
        spend_usd: 100.0,
        forecast_usd: Some(300.0),
    };

    #[test]
    fn quiet_sends_nothing_but_a_summary_when_asked() {
        let mtd = known(&[("Amazon Simple Storage Service", 3.0)]);
        let c = config();
        let outcome = |verdict, run, forecast| SpendOutcome {
            verdict,
            run,
            mtd: &mtd,
            forecast,
            config: &c,
            limits: &LIMITS,
            sweep: None,
            sweep_error: None,
        };
        assert_eq!(
            render(&outcome(
                &SpendVerdict::Quiet,
                Run::Check,
                &Forecast::NotAsked
            )),
            None
        );
        let summary = outcome(
            &SpendVerdict::Quiet,
            Run::DailySummary,
            &Forecast::NotYetAvailable,
        );
        let m = render(&summary).unwrap();
        assert_eq!(
            m.subject,
            "cost-guard daily: $3.00 spent this month, limit $100.00"
        );
        assert!(m
            .body
            .contains("Forecast for the whole month: not yet available"));
    }

    #[test]
    fn forecast_alert_stops_nothing() {
        let mtd = known(&[("Amazon Elastic Compute Cloud - Compute", 60.0)]);
        let f = Forecast::Available(Amount::new(420.0).unwrap());
        let verdict = spend::decide(&mtd, &f, &LIMITS);
        let c = config();
        let m = render(&SpendOutcome {
            verdict: &verdict,
            run: Run::Check,
            mtd: &mtd,
            forecast: &f,
            config: &c,
            limits: &LIMITS,
            sweep: None,
            sweep_error: None,
        })
        .unwrap();
        assert_eq!(
            m.subject,
            "cost-guard: forecast $420.00 for the month > $300.00, nothing stopped"
        );
        assert!(m.body.contains("Forecast for the whole month: $420.00"));
        assert!(m
            .body
            .contains("$60.00  Amazon Elastic Compute Cloud - Compute"));
    }
}
