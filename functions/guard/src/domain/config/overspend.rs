//! `ACT_ON`, `ANOMALY_ACTION`, `ANOMALY_MIN_IMPACT_USD`: which alerts make
//! stop-on-overspend act.

use super::{usd_setting, ConfigError};

/// Default minimum anomaly impact, in USD, before `ANOMALY_ACTION=stop` acts.
pub(crate) const DEFAULT_ANOMALY_MIN_IMPACT_USD: f64 = 100.0;

/// What to do with Cost Anomaly Detection alerts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AnomalyAction {
    Report,
    Stop { min_impact_usd: f64 },
}

pub(crate) fn act_on_from(value: Option<String>) -> Result<bool, ConfigError> {
    let raw = value.unwrap_or_default();
    let mut parts: Vec<String> = raw
        .split(',')
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    parts.sort();
    parts.dedup();
    match parts
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["actual"] => Ok(false),
        ["actual", "forecasted"] => Ok(true),
        _ => Err(ConfigError::Invalid {
            name: "ACT_ON",
            value: raw,
            expected: "`actual` (default) or `actual,forecasted`",
        }),
    }
}

pub(crate) fn anomaly_from(
    action: Option<String>,
    min: Option<String>,
) -> Result<AnomalyAction, ConfigError> {
    let min_impact_usd = match min.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_ANOMALY_MIN_IMPACT_USD,
        Some(text) => usd_setting("ANOMALY_MIN_IMPACT_USD", text)?,
    };
    match action
        .as_deref()
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("report") => Ok(AnomalyAction::Report),
        Some("stop") => Ok(AnomalyAction::Stop { min_impact_usd }),
        Some(_) => Err(ConfigError::Invalid {
            name: "ANOMALY_ACTION",
            value: action.unwrap_or_default(),
            expected: "`report` (default) or `stop`",
        }),
    }
}
