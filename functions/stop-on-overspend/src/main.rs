//! Lambda function `stop-on-overspend`: subscribed to the trigger topic that AWS
//! Budgets, CloudWatch billing alarms and Cost Anomaly Detection publish to.

use guard::config::Config;
use guard::overspend::{Guard, Summary};
use lambda_runtime::{run, service_fn, tracing, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let sdk = guard::aws::load().await;
    let guard = Guard::new(config, &sdk);
    let guard = &guard;
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let deadline = event.context.deadline();
            guard
                .handle(&event.payload, Some(deadline))
                .await
                .map_err(Error::from)
        },
    ))
    .await
}

#[allow(dead_code)]
fn _assert_summary_is_the_response(s: Summary) -> Summary {
    s
}
