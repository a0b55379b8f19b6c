//! Lambda function `stop-on-overspend`: subscribed to the trigger topic that AWS
//! Budgets, CloudWatch billing alarms and Cost Anomaly Detection publish to,
//! and, in a sweep of many accounts, to the sweep queue (one message per account).

use guard::handlers::stop_on_overspend::StopOnOverspend;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    guard::handlers::serve::<StopOnOverspend>().await
}
