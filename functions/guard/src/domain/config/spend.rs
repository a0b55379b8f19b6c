//! `SPEND_LIMIT_USD`, `FORECAST_LIMIT_USD`, `SPEND_SUMMARY` and
//! `COST_METRIC`: spend-watch's limits, and the metric every Cost Explorer
//! query uses.

use super::{usd_setting, ConfigError};
use crate::domain::spend::CostMetric;

#[derive(Debug, Clone, PartialEq)]
pub struct SpendConfig {
    pub limits: crate::domain::spend::Limits,
    /// A second schedule sends a daily summary (`SPEND_SUMMARY=daily`).
    pub daily_summary: bool,
    /// Cost Explorer metric (`COST_METRIC`).
    pub cost_metric: CostMetric,
}

impl SpendConfig {
    /// Reads `SPEND_LIMIT_USD` (required), `FORECAST_LIMIT_USD`,
    /// `SPEND_SUMMARY` and `COST_METRIC`.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let spend_usd = usd_var("SPEND_LIMIT_USD", lookup("SPEND_LIMIT_USD"), true)?
            .unwrap_or(crate::domain::money::MAX_AMOUNT);
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
            limits: crate::domain::spend::Limits {
                spend_usd,
                forecast_usd,
            },
            daily_summary,
            cost_metric: cost_metric_from(lookup("COST_METRIC"))?,
        })
    }
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
    match usd_setting(name, text)? {
        v if v > 0.0 => Ok(Some(v)),
        _ => Err(ConfigError::Invalid {
            name,
            value: text.to_string(),
            expected: "a number of US dollars greater than zero",
        }),
    }
}

/// Reads `COST_METRIC`.
pub(crate) fn cost_metric_from(value: Option<String>) -> Result<CostMetric, ConfigError> {
    let raw = value.unwrap_or_default();
    CostMetric::parse(&raw).ok_or(ConfigError::Invalid {
        name: "COST_METRIC",
        value: raw,
        expected: CostMetric::ACCEPTED,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spend_config() {
        let c =
            SpendConfig::from_lookup(&|n| (n == "SPEND_LIMIT_USD").then(|| "100".into())).unwrap();
        assert_eq!(c.limits.spend_usd, 100.0);
        assert_eq!(c.limits.forecast_usd, None);
        assert!(!c.daily_summary);
        let err = SpendConfig::from_lookup(&|_| None).unwrap_err().to_string();
        assert!(err.starts_with("SPEND_LIMIT_USD is required"), "{err}");
        for (name, value) in [
            ("SPEND_LIMIT_USD", "-1"),
            ("SPEND_LIMIT_USD", "NaN"),
            ("SPEND_LIMIT_USD", "lots"),
            ("SPEND_LIMIT_USD", "0"),
            ("SPEND_LIMIT_USD", "$5 per day"),
            ("SPEND_LIMIT_USD", "1e3"),
            ("FORECAST_LIMIT_USD", "inf"),
            ("SPEND_SUMMARY", "hourly"),
        ] {
            let err = SpendConfig::from_lookup(&|n| match n {
                n if n == name => Some(value.to_string()),
                "SPEND_LIMIT_USD" => Some("100".into()),
                _ => None,
            })
            .unwrap_err()
            .to_string();
            assert!(err.starts_with(name) && err.contains(value), "{err}");
        }
        let c = SpendConfig::from_lookup(&|n| match n {
            "SPEND_LIMIT_USD" => Some("50".into()),
            "FORECAST_LIMIT_USD" => Some("80".into()),
            "SPEND_SUMMARY" => Some("daily".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.limits.forecast_usd, Some(80.0));
        assert!(c.daily_summary);
        // Read like the amounts in the alerts it sits beside.
        let c =
            SpendConfig::from_lookup(&|n| (n == "SPEND_LIMIT_USD").then(|| " $1,000.50 ".into()))
                .unwrap();
        assert_eq!(c.limits.spend_usd, 1000.5);
    }
}
