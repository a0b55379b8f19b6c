//! Lambda function `root-login-alert`: EventBridge rules send it root console
//! sign-ins and root API calls; it tells subscribers at once.

use guard::handlers::root_login_alert::RootLoginAlert;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    guard::handlers::serve::<RootLoginAlert>().await
}
