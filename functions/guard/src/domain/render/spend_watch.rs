//! What spend-watch's subscribers read: the limit that was passed, where the
//! money went, and the sweep; or a forecast alert; or a daily summary. Pure.

use std::fmt::Write as _;

use crate::domain::config::SpendWatchConfig;
use crate::domain::money::usd;
use crate::domain::outcome::{Stamp, SweepReport};
use crate::domain::render::{self, money_section, Message};
use crate::domain::spend::{Forecast, Limits, MonthToDateState, SpendVerdict};
use crate::domain::trigger::schedule::Run;

/// Everything one spend check found, for the message.
pub(crate) struct SpendOutcome<'a> {
    pub verdict: &'a SpendVerdict,
    pub run: Run,
    pub mtd: &'a MonthToDateState,
    pub forecast: &'a Forecast,
    pub config: &'a SpendWatchConfig,
    pub limits: &'a Limits,
    /// The sweep and its stamp, when one ran.
    pub sweep: Option<(&'a SweepReport, &'a Stamp)>,
    pub sweep_error: Option<&'a str>,
}

/// The message for a verdict (none when quiet and no summary is due).
pub(crate) fn render(o: &SpendOutcome) -> Option<Message> {
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
                if config.sweep.dry_run { "DRY RUN: nothing was stopped or tagged. This is what cost-guard would stop.\n\n" } else { "" }
            );
            money_section(&mut b, mtd, forecast, config.spend.cost_metric);
            if let Some(e) = sweep_error {
                let _ = writeln!(b, "WHAT HAPPENED\nThe sweep could not start: {e}\n");
            }
            match sweep {
                Some((s, stamp)) => {
                    if let Some(line) = render::burn_watch::was_burning_at_table(s) {
                        let _ = writeln!(b, "{line}\n");
                    }
                    render::sweep_section(
                        &mut b,
                        s,
                        Some(stamp),
                        config.common.resume_function.as_deref(),
                    );
                    render::outcome_subject(&render::sweep_outcome(s), &what)
                }
                None => render::outcome_subject("cost-guard could not start the sweep", &what),
            }
        }
        SpendVerdict::ForecastAlert { forecast: f, limit } => {
            let what = format!("forecast {f} for the month > {}", usd(*limit));
            let _ = writeln!(
                b,
                "WHAT FIRED\n- spend-watch: {what}\n  cost-guard did not act: a forecast passing FORECAST_LIMIT_USD only alerts. It stops when month-to-date spend passes SPEND_LIMIT_USD ({}).\n",
                usd(limits.spend_usd)
            );
            money_section(&mut b, mtd, forecast, config.spend.cost_metric);
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
            money_section(&mut b, mtd, forecast, config.spend.cost_metric);
            format!(
                "cost-guard daily: {spent} spent this month, limit {}",
                usd(limits.spend_usd)
            )
        }
        SpendVerdict::Quiet => return None,
    };
    Some(Message {
        subject: render::subject_line(&subject),
        body: b,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Amount;
    use crate::domain::spend::{self, MonthToDate};
    use time::macros::date;

    fn config() -> SpendWatchConfig {
        use crate::domain::config::Settings;
        SpendWatchConfig::from_lookup(&|n| match n {
            "NOTIFY_TOPIC_ARN" => Some("arn:aws:sns:us-east-1:123456789012:notify".to_string()),
            "SPEND_LIMIT_USD" => Some("100".to_string()),
            _ => None,
        })
        .unwrap()
    }

    fn known(total: &[(&str, f64)]) -> MonthToDateState {
        MonthToDateState::Known(MonthToDate::from_services(
            spend::month_to_date_period(date!(2026 - 11 - 22)).unwrap(),
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
        let verdict = spend::check_limits(&mtd, &f, &LIMITS);
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
