//! The shared AWS SDK configuration: retries with backoff and timeouts sized for
//! a function that must finish before its deadline.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;

use crate::domain::config::{self, ConfigError};

/// Attempts per call, the first included (standard retry mode, exponential backoff).
pub const MAX_ATTEMPTS: u32 = 5;

/// Loads credentials, region and endpoint (`AWS_ENDPOINT_URL` for an emulator)
/// from the environment, with the attempt timeout from `ATTEMPT_TIMEOUT_SECONDS`.
pub async fn load() -> Result<aws_types::SdkConfig, ConfigError> {
    let attempt =
        config::common::attempt_timeout_from(std::env::var("ATTEMPT_TIMEOUT_SECONDS").ok())?;
    Ok(
        tuned_with(aws_config::defaults(BehaviorVersion::latest()), attempt)
            .load()
            .await,
    )
}

/// The functions' retry and timeout settings on top of `loader` (tests use it to
/// point the same settings at an emulator).
pub fn tuned(loader: aws_config::ConfigLoader) -> aws_config::ConfigLoader {
    tuned_with(loader, config::common::DEFAULT_ATTEMPT_TIMEOUT)
}

/// Retries with backoff; one attempt may take `attempt`, a call with its
/// retries three times that.
pub(crate) fn tuned_with(
    loader: aws_config::ConfigLoader,
    attempt: Duration,
) -> aws_config::ConfigLoader {
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
                .operation_attempt_timeout(attempt)
                .operation_timeout(attempt * 3)
                .build(),
        )
}
