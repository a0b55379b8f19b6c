//! Lambda function `keep-stopped`: EventBridge sends it RDS's start events; a
//! database cost-guard stopped that RDS restarts after 7 days is stopped again.

use guard::handlers::keep_stopped::KeepStopped;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    guard::handlers::serve::<KeepStopped>().await
}
