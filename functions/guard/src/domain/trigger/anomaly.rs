//! Cost Anomaly Detection alerts published to SNS (IMMEDIATE subscriptions): JSON
//! with `anomalyId`, `impact.totalImpact`, `dimensionalValue`, `rootCauses[]` and
//! `anomalyDetailsLink`.

use super::{json_number, json_text};
use crate::domain::money::Amount;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RootCause {
    pub service: Option<String>,
    pub region: Option<String>,
    pub usage_type: Option<String>,
    pub linked_account: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyNotice {
    pub id: String,
    pub total_impact: Amount,
    pub total_actual_spend: Option<Amount>,
    pub total_expected_spend: Option<Amount>,
    pub dimensional_value: Option<String>,
    pub root_causes: Vec<RootCause>,
    pub details_link: Option<String>,
    pub start_date: Option<String>,
    pub account: Option<String>,
}

pub(crate) fn looks_like_anomaly(value: &serde_json::Value) -> bool {
    value.get("anomalyId").is_some() && value.get("impact").is_some()
}

pub(crate) fn parse_anomaly(value: &serde_json::Value) -> Result<AnomalyNotice, String> {
    let id = json_text(value.get("anomalyId")).ok_or("anomaly alert has no `anomalyId`")?;
    let impact = value.get("impact").ok_or("anomaly alert has no `impact`")?;
    let total_impact = json_number(impact.get("totalImpact"))
        .and_then(Amount::new)
        .ok_or("anomaly alert has no `impact.totalImpact` of zero or more")?;
    let amount = |key: &str| json_number(impact.get(key)).and_then(Amount::new);
    let root_causes = value
        .get("rootCauses")
        .and_then(|r| r.as_array())
        .map(|causes| {
            causes
                .iter()
                .take(20)
                .map(|c| RootCause {
                    service: json_text(c.get("service")),
                    region: json_text(c.get("region")),
                    usage_type: json_text(c.get("usageType")),
                    linked_account: json_text(c.get("linkedAccount")),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(AnomalyNotice {
        id,
        total_impact,
        total_actual_spend: amount("totalActualSpend"),
        total_expected_spend: amount("totalExpectedSpend"),
        dimensional_value: json_text(value.get("dimensionalValue")),
        root_causes,
        details_link: json_text(value.get("anomalyDetailsLink")),
        start_date: json_text(value.get("anomalyStartDate")),
        account: json_text(value.get("accountId")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_anomaly_is_a_message_with_an_id_and_an_impact() {
        assert!(looks_like_anomaly(&json!({"anomalyId": "a", "impact": {}})));
        assert!(!looks_like_anomaly(&json!({"anomalyId": "a"})));
        assert!(!looks_like_anomaly(&json!({"impact": {}})));
    }

    #[test]
    fn parses_alert() {
        let v = json!({
            "accountId": "123456789012", "anomalyId": "a1b2", "dimensionalValue": "Amazon Elastic Compute Cloud - Compute",
            "anomalyDetailsLink": "https://console.aws.amazon.com/cost-management/home#/anomaly-detection/monitors/m/anomalies/a1b2",
            "impact": {"maxImpact": 151, "totalActualSpend": 1301, "totalExpectedSpend": 300, "totalImpact": 1001, "totalImpactPercentage": 333.67},
            "rootCauses": [{"linkedAccount": "123456789012", "region": "ap-south-1", "service": "Amazon Elastic Compute Cloud - Compute", "usageType": "BoxUsage:p4d.24xlarge"}]
        });
        let a = parse_anomaly(&v).unwrap();
        assert_eq!(a.id, "a1b2");
        assert_eq!(a.total_impact, Amount::new(1001.0).unwrap());
        assert_eq!(a.root_causes.len(), 1);
        assert_eq!(a.root_causes[0].region.as_deref(), Some("ap-south-1"));
    }

    #[test]
    fn missing_or_bad_impact_is_an_error() {
        assert!(parse_anomaly(&json!({"anomalyId": "x", "impact": {}})).is_err());
        assert!(parse_anomaly(&json!({"anomalyId": "x", "impact": {"totalImpact": -3}})).is_err());
        assert!(
            parse_anomaly(&json!({"anomalyId": "x", "impact": {"totalImpact": "NaN"}})).is_err()
        );
        let ok = parse_anomaly(
            &json!({"anomalyId": "x", "impact": {"totalImpact": "12.5"}, "rootCauses": null}),
        )
        .unwrap();
        assert!(ok.root_causes.is_empty());
    }
}
