//! Lambda function `launch-tripwire`: EventBridge sends it EC2 launches and
//! starts recorded by CloudTrail, and GuardDuty findings; a costly or
//! out-of-region launch by an untrusted principal is stopped within seconds.

use guard::domain::config::{Config, TripwireConfig};
use guard::handlers::launch_tripwire::LaunchTripwire;
use lambda_runtime::{run, service_fn, tracing, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    // A bad setting fails the cold start with a message that names the variable.
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let tripwire = TripwireConfig::from_env()
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let sdk = guard::aws::sdk::load()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let function = &LaunchTripwire::new(&config, tripwire, &sdk);
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            function.learn_own_account(&event.context.invoked_function_arn);
            function.handle(&event.payload).await
        },
    ))
    .await
}
