//! CloudWatch alarm notifications (JSON). Real messages carry `null` in fields such
//! as `AlarmDescription` or `Trigger.Unit`, and newer ones add fields; the types
//! here accept both, and only `AlarmName` and `NewStateValue` are required.

use super::{json_number, json_text};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmState {
    Alarm,
    Ok,
    InsufficientData,
}

impl std::fmt::Display for AlarmState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AlarmState::Alarm => "ALARM",
            AlarmState::Ok => "OK",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlarmNotice {
    pub name: String,
    pub state: AlarmState,
    pub old_state: Option<String>,
    pub reason: Option<String>,
    pub description: Option<String>,
    pub metric_name: Option<String>,
    pub namespace: Option<String>,
    pub threshold: Option<f64>,
    pub region: Option<String>,
    pub account: Option<String>,
    pub state_change_time: Option<String>,
}

impl AlarmNotice {
    /// An `AWS/Billing` `EstimatedCharges` alarm.
    pub(crate) fn is_billing(&self) -> bool {
        self.metric_name.as_deref() == Some("EstimatedCharges")
            && self.namespace.as_deref().is_none_or(|n| n == "AWS/Billing")
    }
}

pub(crate) fn looks_like_alarm(value: &serde_json::Value) -> bool {
    value.get("AlarmName").is_some() && value.get("NewStateValue").is_some()
}

pub(crate) fn parse_alarm(value: &serde_json::Value) -> Result<AlarmNotice, String> {
    let name = json_text(value.get("AlarmName")).ok_or("alarm message has no `AlarmName`")?;
    let state = match json_text(value.get("NewStateValue")).as_deref() {
        Some("ALARM") => AlarmState::Alarm,
        Some("OK") => AlarmState::Ok,
        Some("INSUFFICIENT_DATA") => AlarmState::InsufficientData,
        other => {
            return Err(format!(
                "alarm message has `NewStateValue` {}; expected ALARM, OK or INSUFFICIENT_DATA",
                other
                    .map(super::excerpt)
                    .unwrap_or_else(|| "missing".into())
            ))
        }
    };
    let trigger = value.get("Trigger");
    let threshold = trigger.and_then(|t| t.get("Threshold"));
    let threshold = match threshold {
        None | Some(serde_json::Value::Null) => None,
        Some(t) => Some(
            json_number(Some(t))
                .filter(|v| *v >= 0.0 && *v <= crate::domain::money::MAX_AMOUNT)
                .ok_or(
                    "alarm message has a `Trigger.Threshold` that is not a number of zero or more",
                )?,
        ),
    };
    Ok(AlarmNotice {
        name,
        state,
        old_state: json_text(value.get("OldStateValue")),
        reason: json_text(value.get("NewStateReason")),
        description: json_text(value.get("AlarmDescription")),
        metric_name: trigger.and_then(|t| json_text(t.get("MetricName"))),
        namespace: trigger.and_then(|t| json_text(t.get("Namespace"))),
        threshold,
        region: json_text(value.get("Region")),
        account: json_text(value.get("AWSAccountId")),
        state_change_time: json_text(value.get("StateChangeTime")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_alarm_is_a_message_with_a_name_and_a_new_state() {
        assert!(looks_like_alarm(
            &json!({"AlarmName": "a", "NewStateValue": "ALARM"})
        ));
        assert!(!looks_like_alarm(&json!({"AlarmName": "a"})));
        assert!(!looks_like_alarm(&json!({"NewStateValue": "ALARM"})));
    }

    fn billing(state: &str) -> serde_json::Value {
        json!({
            "AlarmName": "billing-over-100", "AlarmDescription": null,
            "AWSAccountId": "123456789012", "NewStateValue": state,
            "NewStateReason": "Threshold Crossed: 1 datapoint [142.5] was greater than the threshold (100.0).",
            "StateChangeTime": "2026-11-22T08:00:00.000+0000", "Region": "US East (N. Virginia)",
            "OldStateValue": "OK",
            "Trigger": {"MetricName": "EstimatedCharges", "Namespace": "AWS/Billing",
                        "StatisticType": "Statistic", "Statistic": "MAXIMUM", "Unit": null,
                        "Dimensions": [{"value": "USD", "name": "Currency"}], "Period": 21600,
                        "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanThreshold",
                        "Threshold": 100.0, "TreatMissingData": "", "EvaluateLowSampleCountPercentile": ""}
        })
    }

    #[test]
    fn parses_billing_alarm_with_null_fields() {
        let a = parse_alarm(&billing("ALARM")).unwrap();
        assert_eq!(a.name, "billing-over-100");
        assert_eq!(a.state, AlarmState::Alarm);
        assert_eq!(a.description, None);
        assert_eq!(a.threshold, Some(100.0));
        assert!(a.is_billing());
    }

    #[test]
    fn states() {
        assert_eq!(parse_alarm(&billing("OK")).unwrap().state, AlarmState::Ok);
        assert_eq!(
            parse_alarm(&billing("INSUFFICIENT_DATA")).unwrap().state,
            AlarmState::InsufficientData
        );
        assert!(parse_alarm(&billing("PANIC"))
            .unwrap_err()
            .contains("PANIC"));
    }

    #[test]
    fn missing_trigger_is_fine_bad_threshold_is_not() {
        let a = parse_alarm(&json!({"AlarmName": "x", "NewStateValue": "ALARM"})).unwrap();
        assert!(!a.is_billing());
        let mut v = billing("ALARM");
        v["Trigger"]["Threshold"] = json!(-1);
        assert!(parse_alarm(&v).unwrap_err().contains("Threshold"));
        v["Trigger"]["Threshold"] = json!("lots");
        assert!(parse_alarm(&v).is_err());
        v["Trigger"]["Threshold"] = json!(1e300);
        assert!(parse_alarm(&v).is_err());
    }
}
