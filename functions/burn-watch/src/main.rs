//! Lambda function `burn-watch`: on its schedule, prices what runs now in
//! every account and region and stops the selection above
//! `BURN_LIMIT_USD_PER_HOUR`.

use guard::handlers::burn_watch::BurnWatch;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    guard::handlers::serve::<BurnWatch>().await
}
