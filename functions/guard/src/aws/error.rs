//! The conversion of the SDK's errors into [`AwsError`], keeping the service's
//! code and message, or saying what failed before an answer arrived.

use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::domain::error::AwsError;

impl AwsError {
    /// Converts an SDK error, keeping the service's code and message.
    pub(crate) fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug,
    {
        match &err {
            SdkError::TimeoutError(_) => {
                AwsError::new(operation, "Timeout", "no answer before the timeout")
            }
            SdkError::DispatchFailure(f) => {
                let detail = if f.is_timeout() {
                    "connection timed out"
                } else if f.is_io() {
                    "connection failed"
                } else {
                    "request could not be sent"
                };
                AwsError::new(
                    operation,
                    "Network",
                    format!("{detail}: {}", source_chain(&err)),
                )
            }
            SdkError::ResponseError(_) => {
                AwsError::new(operation, "InvalidResponse", source_chain(&err))
            }
            SdkError::ServiceError(service) => {
                let e = service.err();
                AwsError::new(
                    operation,
                    e.code().unwrap_or("Unknown"),
                    e.message()
                        .map(str::to_string)
                        .unwrap_or_else(|| source_chain(&err)),
                )
            }
            _ => AwsError::new(operation, "Unknown", source_chain(&err)),
        }
    }
}

fn source_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}
