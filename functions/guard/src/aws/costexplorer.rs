//! Cost Explorer: month-to-date cost by service and the month-end forecast.
//! The service answers only in us-east-1, whatever region the stack is in. Each
//! request costs $0.01, so callers ask only for what they use.

use aws_sdk_costexplorer::operation::get_cost_forecast::GetCostForecastError;
use aws_sdk_costexplorer::types::{
    DateInterval, Granularity, GroupDefinition, GroupDefinitionType, Metric,
};
use aws_sdk_costexplorer::Client;
use aws_types::region::Region;
use time::Date;

use crate::domain::error::AwsError;
use crate::domain::money::Amount;
use crate::domain::spend::{self, CostMetric, Forecast, MonthToDate, MonthToDateState, Period};

/// The one region Cost Explorer answers in.
pub(crate) const CE_REGION: &str = "us-east-1";

/// A Cost Explorer client pinned to us-east-1.
pub fn client(sdk: &aws_types::SdkConfig) -> Client {
    Client::from_conf(
        aws_sdk_costexplorer::config::Builder::from(sdk)
            .region(Region::new(CE_REGION))
            .build(),
    )
}

fn interval(p: &Period) -> Result<DateInterval, AwsError> {
    DateInterval::builder()
        .start(p.start_text())
        .end(p.end_text())
        .build()
        .map_err(|e| AwsError::new("ce:GetCostAndUsage", "InvalidPeriod", e.to_string()))
}

/// Month-to-date cost grouped by service: one request (more only if Cost
/// Explorer pages the groups). On the first of a month nothing is asked.
pub async fn month_to_date_spend(
    client: &Client,
    metric: CostMetric,
    today: Date,
) -> MonthToDateState {
    let Some(period) = spend::month_to_date_period(today) else {
        return MonthToDateState::FirstDayOfMonth;
    };
    match query_month_to_date(client, metric, period).await {
        Ok(m) => MonthToDateState::Known(m),
        Err(e) => {
            tracing::warn!(error = %e, "month-to-date spend unavailable");
            MonthToDateState::Failed(e.to_string())
        }
    }
}

async fn query_month_to_date(
    client: &Client,
    metric: CostMetric,
    period: Period,
) -> Result<MonthToDate, AwsError> {
    let mut amounts: Vec<(String, f64)> = Vec::new();
    let mut token: Option<String> = None;
    for _page in 0..20 {
        let out = client
            .get_cost_and_usage()
            .time_period(interval(&period)?)
            .granularity(Granularity::Monthly)
            .metrics(metric.usage_name())
            .group_by(
                GroupDefinition::builder()
                    .r#type(GroupDefinitionType::Dimension)
                    .key("SERVICE")
                    .build(),
            )
            .set_next_page_token(token.clone())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ce:GetCostAndUsage", e))?;
        for result in out.results_by_time() {
            for group in result.groups() {
                let name = group
                    .keys()
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "(unnamed)".into());
                let amount = group
                    .metrics()
                    .and_then(|m| m.get(metric.usage_name()))
                    .and_then(|v| v.amount())
                    .and_then(|a| a.parse::<f64>().ok());
                if let Some(v) = amount {
                    amounts.push((name, v));
                }
            }
        }
        token = out
            .next_page_token()
            .map(str::to_string)
            .filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    Ok(MonthToDate::from_services(period, amounts))
}

/// The forecast for the whole month (one request). Early in a month, or for a
/// new account, Cost Explorer has none: that is "not yet available", not an error.
pub async fn month_forecast(
    client: &Client,
    metric: CostMetric,
    today: Date,
    spent: Option<Amount>,
) -> Forecast {
    let period = spend::rest_of_month(today);
    let interval = match interval(&period) {
        Ok(i) => i,
        Err(e) => return Forecast::Failed(e.to_string()),
    };
    let result = client
        .get_cost_forecast()
        .time_period(interval)
        .metric(Metric::from(metric.forecast_name()))
        .granularity(Granularity::Monthly)
        .send()
        .await;
    match result {
        Ok(out) => {
            let rest = out
                .total()
                .and_then(|t| t.amount())
                .and_then(|a| a.parse::<f64>().ok())
                .unwrap_or(0.0);
            // The forecast covers today to month end; the month is what was
            // spent before today plus that.
            let whole = rest + spent.map_or(0.0, Amount::value);
            Amount::new(whole)
                .map(Forecast::Available)
                .unwrap_or_else(|| Forecast::Failed(format!("forecast {whole} is not an amount")))
        }
        Err(e) => {
            if matches!(
                e.as_service_error(),
                Some(GetCostForecastError::DataUnavailableException(_))
            ) {
                return Forecast::NotYetAvailable;
            }
            let e = AwsError::from_sdk("ce:GetCostForecast", e);
            tracing::warn!(error = %e, "forecast unavailable");
            Forecast::Failed(e.to_string())
        }
    }
}
