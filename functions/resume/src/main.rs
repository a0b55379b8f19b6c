//! Lambda function `resume`: invoked by the user with `aws lambda invoke` and a
//! small JSON payload (`{"stopped_by": ..., "since": ..., "dry_run": ...}`), it
//! starts again what cost-guard stopped and tells subscribers what it did.

use guard::handlers::resume::Resume;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    guard::handlers::serve::<Resume>().await
}
