//! Lambda function `spend-watch`: on an EventBridge schedule, checks month-to-date
//! spend with Cost Explorer and starts the stop sweep above the limit.

use guard::config::Config;
use guard::spendwatch::{SpendConfig, SpendWatch};
use lambda_runtime::{run, service_fn, tracing, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    // A bad setting fails the cold start with a message that names the variable.
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let spend = SpendConfig::from_env()
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let sdk = guard::aws::load()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let handler = &SpendWatch::new(config, spend, &sdk);
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let deadline = event.context.deadline();
            let today = time::OffsetDateTime::now_utc().date();
            handler.handle(&event.payload, Some(deadline), today).await
        },
    ))
    .await
}
