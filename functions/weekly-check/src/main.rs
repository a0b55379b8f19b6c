//! Lambda function `weekly-check`: on the stack's `DoctorSchedule`, runs
//! `cost-guard doctor`'s checks read-only and tells subscribers when one
//! fails or something changed since the last run.

use guard::handlers::weekly_check::WeeklyCheck;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    guard::handlers::serve::<WeeklyCheck>().await
}
