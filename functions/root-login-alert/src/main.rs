//! Lambda function `root-login-alert`: EventBridge rules send it root console
//! sign-ins and root API calls; it tells subscribers at once.

use guard::config::Config;
use guard::rootalert::{RootConfig, RootGuard};
use lambda_runtime::{run, service_fn, tracing, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    // A bad setting fails the cold start with a message that names the variable.
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let root =
        RootConfig::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let sdk = guard::aws::load()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let handler = &RootGuard::new(config, root, &sdk);
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let deadline = event.context.deadline();
            handler.handle(&event.payload, Some(deadline)).await
        },
    ))
    .await
}
