//! The shared AWS SDK configuration: retries with backoff and timeouts sized for
//! a function that must finish before its deadline.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;

/// Attempts per call, the first included (standard retry mode, exponential backoff).
pub const MAX_ATTEMPTS: u32 = 5;

/// Loads credentials, region and endpoint (`AWS_ENDPOINT_URL` for an emulator)
/// from the environment.
pub async fn load() -> aws_types::SdkConfig {
    tuned(aws_config::defaults(BehaviorVersion::latest()))
        .load()
        .await
}

/// The functions' retry and timeout settings on top of `loader` (tests use it to
/// point the same settings at an emulator).
pub fn tuned(loader: aws_config::ConfigLoader) -> aws_config::ConfigLoader {
    loader
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(200))
                .with_max_backoff(Duration::from_secs(5)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(15))
                .operation_timeout(Duration::from_secs(45))
                .build(),
        )
}
