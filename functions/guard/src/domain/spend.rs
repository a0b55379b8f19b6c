//! Month-to-date spend: the periods Cost Explorer is asked about (UTC calendar),
//! the limit decisions, and the "Where the money went" section. Pure.

use time::{Date, Month};

use crate::domain::money::Amount;

/// A Cost Explorer period: `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: Date,
    pub end: Date,
}

impl Period {
    /// `YYYY-MM-DD`, the form Cost Explorer takes.
    pub fn start_text(&self) -> String {
        ymd(self.start)
    }
    pub fn end_text(&self) -> String {
        ymd(self.end)
    }
}

pub(crate) fn ymd(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

pub(crate) fn first_of_month(d: Date) -> Date {
    d.replace_day(1).unwrap_or(d)
}

pub(crate) fn first_of_next_month(d: Date) -> Date {
    let (year, month) = match d.month() {
        Month::December => (d.year() + 1, Month::January),
        m => (d.year(), m.next()),
    };
    Date::from_calendar_date(year, month, 1).unwrap_or(d)
}

/// Complete days of this month so far: from the 1st to today, today excluded
/// (Cost Explorer's figures for the current day are incomplete). `None` on the
/// first day of a month, when that period is empty.
pub fn month_to_date_period(today: Date) -> Option<Period> {
    let start = first_of_month(today);
    (today > start).then_some(Period { start, end: today })
}

/// The rest of the month, for the month-end forecast: today to the 1st of next month.
pub(crate) fn rest_of_month(today: Date) -> Period {
    Period {
        start: today,
        end: first_of_next_month(today),
    }
}

/// Cost metrics, as `GetCostAndUsage` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostMetric {
    UnblendedCost,
    BlendedCost,
    AmortizedCost,
    NetUnblendedCost,
    NetAmortizedCost,
}

impl CostMetric {
    pub(crate) const ACCEPTED: &'static str =
        "UnblendedCost (default), BlendedCost, AmortizedCost, NetUnblendedCost or NetAmortizedCost";

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.trim() {
            "" | "UnblendedCost" => CostMetric::UnblendedCost,
            "BlendedCost" => CostMetric::BlendedCost,
            "AmortizedCost" => CostMetric::AmortizedCost,
            "NetUnblendedCost" => CostMetric::NetUnblendedCost,
            "NetAmortizedCost" => CostMetric::NetAmortizedCost,
            _ => return None,
        })
    }

    /// The name `GetCostAndUsage` uses.
    pub(crate) fn usage_name(self) -> &'static str {
        match self {
            CostMetric::UnblendedCost => "UnblendedCost",
            CostMetric::BlendedCost => "BlendedCost",
            CostMetric::AmortizedCost => "AmortizedCost",
            CostMetric::NetUnblendedCost => "NetUnblendedCost",
            CostMetric::NetAmortizedCost => "NetAmortizedCost",
        }
    }

    /// The name `GetCostForecast` uses.
    pub(crate) fn forecast_name(self) -> &'static str {
        match self {
            CostMetric::UnblendedCost => "UNBLENDED_COST",
            CostMetric::BlendedCost => "BLENDED_COST",
            CostMetric::AmortizedCost => "AMORTIZED_COST",
            CostMetric::NetUnblendedCost => "NET_UNBLENDED_COST",
            CostMetric::NetAmortizedCost => "NET_AMORTIZED_COST",
        }
    }
}

/// Month-to-date spend, by service.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthToDate {
    pub period: Period,
    pub total: Amount,
    /// Every service with a cost, largest first.
    pub services: Vec<(String, Amount)>,
}

impl MonthToDate {
    /// Builds the figures from per-service amounts (any order, repeated services summed).
    pub(crate) fn from_services(period: Period, amounts: Vec<(String, f64)>) -> MonthToDate {
        let mut by_service: Vec<(String, f64)> = Vec::new();
        for (name, v) in amounts {
            if !v.is_finite() {
                continue;
            }
            match by_service.iter_mut().find(|(n, _)| *n == name) {
                Some((_, sum)) => *sum += v,
                None => by_service.push((name, v)),
            }
        }
        // Credits can make a service negative; the total is what is owed.
        let total: f64 = by_service.iter().map(|(_, v)| v).sum();
        let mut services: Vec<(String, Amount)> = by_service
            .into_iter()
            .filter_map(|(n, v)| {
                Amount::new(v)
                    .filter(|a| a.value() >= 0.005)
                    .map(|a| (n, a))
            })
            .collect();
        services.sort_by(|a, b| {
            b.1.value()
                .total_cmp(&a.1.value())
                .then_with(|| a.0.cmp(&b.0))
        });
        MonthToDate {
            period,
            total: Amount::new(total.max(0.0))
                .unwrap_or(Amount::new(0.0).expect("zero is an amount")),
            services,
        }
    }

    pub fn top(&self, n: usize) -> &[(String, Amount)] {
        &self.services[..self.services.len().min(n)]
    }
}

/// What is known of the month-end forecast.
#[derive(Debug, Clone, PartialEq)]
pub enum Forecast {
    Available(Amount),
    /// Early in a month or for a new account, Cost Explorer has no forecast.
    NotYetAvailable,
    Failed(String),
    /// Not asked (no forecast limit set): saves a $0.01 request.
    NotAsked,
}

/// What the spend queries returned.
#[derive(Debug, Clone, PartialEq)]
pub enum MonthToDateState {
    Known(MonthToDate),
    /// The first day of a month: no complete day yet.
    FirstDayOfMonth,
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Month-to-date spend above this stops the selection.
    pub spend_usd: f64,
    /// Forecast above this alerts (never stops).
    pub forecast_usd: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SpendVerdict {
    /// Month-to-date spend passed the limit: run the sweep.
    Stop { spent: Amount, limit: f64 },
    /// The forecast passed its limit: alert only.
    ForecastAlert { forecast: Amount, limit: f64 },
    /// Below both limits (or nothing known): no message.
    Quiet,
}

pub(crate) fn check_limits(
    mtd: &MonthToDateState,
    forecast: &Forecast,
    limits: &Limits,
) -> SpendVerdict {
    if let MonthToDateState::Known(m) = mtd {
        if m.total.value() > limits.spend_usd {
            return SpendVerdict::Stop {
                spent: m.total,
                limit: limits.spend_usd,
            };
        }
    }
    if let (Forecast::Available(f), Some(limit)) = (forecast, limits.forecast_usd) {
        if f.value() > limit {
            return SpendVerdict::ForecastAlert {
                forecast: *f,
                limit,
            };
        }
    }
    SpendVerdict::Quiet
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn every_cost_metric_is_read_by_the_name_cost_explorer_uses() {
        for m in [
            CostMetric::UnblendedCost,
            CostMetric::BlendedCost,
            CostMetric::AmortizedCost,
            CostMetric::NetUnblendedCost,
            CostMetric::NetAmortizedCost,
        ] {
            assert_eq!(CostMetric::parse(m.usage_name()), Some(m));
            assert!(CostMetric::ACCEPTED.contains(m.usage_name()));
        }
        assert_eq!(CostMetric::parse(" "), Some(CostMetric::UnblendedCost));
        assert_eq!(CostMetric::parse("unblendedcost"), None);
    }

    #[test]
    fn month_to_date_periods() {
        assert_eq!(month_to_date_period(date!(2026 - 11 - 01)), None);
        let p = month_to_date_period(date!(2026 - 11 - 22)).unwrap();
        assert_eq!(
            (p.start_text(), p.end_text()),
            ("2026-11-01".into(), "2026-11-22".into())
        );
        let p = month_to_date_period(date!(2026 - 11 - 30)).unwrap();
        assert_eq!(p.end_text(), "2026-11-30");
        let p = month_to_date_period(date!(2026 - 11 - 02)).unwrap();
        assert_eq!(
            (p.start_text(), p.end_text()),
            ("2026-11-01".into(), "2026-11-02".into())
        );
        // Leap day and the day after it.
        let p = month_to_date_period(date!(2028 - 02 - 29)).unwrap();
        assert_eq!(
            (p.start_text(), p.end_text()),
            ("2028-02-01".into(), "2028-02-29".into())
        );
        assert_eq!(month_to_date_period(date!(2028 - 03 - 01)), None);
        // Year end.
        let p = month_to_date_period(date!(2026 - 12 - 31)).unwrap();
        assert_eq!(
            (p.start_text(), p.end_text()),
            ("2026-12-01".into(), "2026-12-31".into())
        );
        assert_eq!(month_to_date_period(date!(2027 - 01 - 01)), None);
    }

    #[test]
    fn forecast_periods() {
        let p = rest_of_month(date!(2026 - 11 - 22));
        assert_eq!(
            (p.start_text(), p.end_text()),
            ("2026-11-22".into(), "2026-12-01".into())
        );
        let p = rest_of_month(date!(2026 - 12 - 31));
        assert_eq!(
            (p.start_text(), p.end_text()),
            ("2026-12-31".into(), "2027-01-01".into())
        );
        let p = rest_of_month(date!(2028 - 02 - 29));
        assert_eq!(p.end_text(), "2028-03-01");
        let p = rest_of_month(date!(2027 - 02 - 28));
        assert_eq!(p.end_text(), "2027-03-01");
        let p = rest_of_month(date!(2026 - 01 - 01));
        assert_eq!(p.end_text(), "2026-02-01");
        assert!(p.end > p.start);
    }

    fn mtd(total_by_service: &[(&str, f64)]) -> MonthToDateState {
        MonthToDateState::Known(MonthToDate::from_services(
            month_to_date_period(date!(2026 - 11 - 22)).unwrap(),
            total_by_service
                .iter()
                .map(|(n, v)| (n.to_string(), *v))
                .collect(),
        ))
    }

    const LIMITS: Limits = Limits {
        spend_usd: 100.0,
        forecast_usd: Some(150.0),
    };

    #[test]
    fn decisions() {
        let over = mtd(&[("EC2", 90.0), ("S3", 10.5)]);
        assert!(
            matches!(check_limits(&over, &Forecast::NotAsked, &LIMITS), SpendVerdict::Stop { limit, .. } if limit == 100.0)
        );
        let at = mtd(&[("EC2", 100.0)]);
        assert_eq!(
            check_limits(&at, &Forecast::NotAsked, &LIMITS),
            SpendVerdict::Quiet,
            "at the limit is not over it"
        );
        let under = mtd(&[("EC2", 40.0)]);
        let high = Forecast::Available(Amount::new(151.0).unwrap());
        assert!(matches!(
            check_limits(&under, &high, &LIMITS),
            SpendVerdict::ForecastAlert { .. }
        ));
        assert_eq!(
            check_limits(&under, &Forecast::NotYetAvailable, &LIMITS),
            SpendVerdict::Quiet
        );
        let at_forecast_limit = Forecast::Available(Amount::new(150.0).unwrap());
        assert_eq!(
            check_limits(&under, &at_forecast_limit, &LIMITS),
            SpendVerdict::Quiet,
            "a forecast at the limit is not over it"
        );
        let no_forecast_limit = Limits {
            forecast_usd: None,
            ..LIMITS
        };
        assert_eq!(
            check_limits(&under, &high, &no_forecast_limit),
            SpendVerdict::Quiet
        );
        // Stop wins over a forecast alert; nothing known is quiet.
        assert!(matches!(
            check_limits(&over, &high, &LIMITS),
            SpendVerdict::Stop { .. }
        ));
        assert_eq!(
            check_limits(
                &MonthToDateState::FirstDayOfMonth,
                &Forecast::NotAsked,
                &LIMITS
            ),
            SpendVerdict::Quiet
        );
        assert_eq!(
            check_limits(
                &MonthToDateState::Failed("x".into()),
                &Forecast::NotAsked,
                &LIMITS
            ),
            SpendVerdict::Quiet
        );
    }

    #[test]
    fn metrics() {
        assert_eq!(CostMetric::parse(""), Some(CostMetric::UnblendedCost));
        assert_eq!(
            CostMetric::parse("AmortizedCost").unwrap().forecast_name(),
            "AMORTIZED_COST"
        );
        assert_eq!(CostMetric::parse("unblended"), None);
    }
}
