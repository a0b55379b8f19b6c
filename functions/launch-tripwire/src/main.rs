//! Lambda function `launch-tripwire`: EventBridge sends it EC2 launches and
//! starts recorded by CloudTrail, and GuardDuty findings; a costly or
//! out-of-region launch by an untrusted principal is stopped within seconds.

use guard::handlers::launch_tripwire::LaunchTripwire;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    guard::handlers::serve::<LaunchTripwire>().await
}
