//! Lambda function `stop-on-overspend`: subscribed to the trigger topic that AWS
//! Budgets, CloudWatch billing alarms and Cost Anomaly Detection publish to,
//! and, in a sweep of many accounts, to the sweep queue (one message per account).

use guard::domain::config::Config;
use guard::handlers::stop_on_overspend::StopOnOverspend;
use lambda_runtime::{run, service_fn, tracing, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    // A bad setting fails the cold start with a message that names the variable.
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let sdk = guard::aws::sdk::load()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let function = &StopOnOverspend::new(config, &sdk);
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            function
                .handle_event(&event.payload, Some(event.context.deadline()))
                .await
        },
    ))
    .await
}
