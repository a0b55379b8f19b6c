//! Lambda function `root-login-alert`: EventBridge rules send it root console
//! sign-ins and root API calls; it tells subscribers at once.

use guard::domain::config::{Config, RootConfig};
use guard::handlers::root_login_alert::RootLoginAlert;
use lambda_runtime::{run, service_fn, tracing, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    // A bad setting fails the cold start with a message that names the variable.
    let (config, root) = Config::from_env()
        .and_then(|c| Ok((c, RootConfig::from_env()?)))
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let sdk = guard::aws::sdk::load()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let function = &RootLoginAlert::new(&config, root, &sdk);
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            function
                .handle(&event.payload, Some(event.context.deadline()))
                .await
        },
    ))
    .await
}
