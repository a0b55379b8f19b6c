//! Lambda function `resume`: invoked by the user with `aws lambda invoke` and a
//! small JSON payload (`{"stopped_by": ..., "since": ..., "dry_run": ...}`), it
//! starts again what cost-guard stopped and tells subscribers what it did.

use guard::domain::config::Config;
use guard::handlers::resume::Resume;
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
    let function = &Resume::new(&config, &sdk);
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            function.handle(&event.payload).await
        },
    ))
    .await
}
