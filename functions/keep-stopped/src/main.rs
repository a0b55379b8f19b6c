//! Lambda function `keep-stopped`: EventBridge sends it RDS's start events; a
//! database cost-guard stopped that RDS restarts after 7 days is stopped again.

use guard::domain::config::Config;
use guard::handlers::keep_stopped::KeepStopped;
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
    let function = &KeepStopped::new(&config, &sdk);
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            function.learn_own_account(&event.context.invoked_function_arn);
            function.handle(&event.payload).await
        },
    ))
    .await
}
