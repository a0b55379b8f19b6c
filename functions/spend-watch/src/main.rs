//! Lambda function `spend-watch`: on an EventBridge schedule, checks month-to-date
//! spend with Cost Explorer and starts the stop sweep above the limit.

use guard::domain::config::{Config, SpendConfig};
use guard::handlers::spend_watch::SpendWatch;
use lambda_runtime::{run, service_fn, tracing, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    // A bad setting fails the cold start with a message that names the variable.
    let (config, spend) = Config::from_env()
        .and_then(|c| Ok((c, SpendConfig::from_env()?)))
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let sdk = guard::aws::sdk::load()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let function = &SpendWatch::new(config, spend, &sdk);
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let today = time::OffsetDateTime::now_utc().date();
            function
                .handle(&event.payload, Some(event.context.deadline()), today)
                .await
        },
    ))
    .await
}
