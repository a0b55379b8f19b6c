//! Lambda function `spend-watch`: on an EventBridge schedule, checks month-to-date
//! spend with Cost Explorer and starts the stop sweep above the limit.

use guard::handlers::spend_watch::SpendWatch;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    guard::handlers::serve::<SpendWatch>().await
}
