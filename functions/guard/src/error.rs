//! Errors from AWS calls, reduced to what a report needs: the operation, the
//! service's error code and message, and whether retrying later could help.

use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// A failed AWS call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct AwsError {
    /// `ec2:StopInstances`, `rds:DescribeDBInstances`, ...
    pub operation: &'static str,
    /// The service's error code (`RequestLimitExceeded`, `UnauthorizedOperation`),
    /// or `Timeout` / `Network` for failures before an answer arrived.
    pub code: String,
    pub message: String,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.operation, self.code)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "SlowDown",
];

const ACCESS: &[&str] = &[
    "UnauthorizedOperation",
    "AccessDenied",
    "AccessDeniedException",
    "AuthFailure",
    "OptInRequired",
    "Blocked",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
];

impl AwsError {
    pub fn new(
        operation: &'static str,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        AwsError {
            operation,
            code: code.into(),
            message: message.into(),
        }
    }

    /// Converts an SDK error, keeping the service's code and message.
    pub fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> Self
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

    pub fn is_throttling(&self) -> bool {
        THROTTLING.contains(&self.code.as_str())
    }

    pub fn is_access_denied(&self) -> bool {
        ACCESS.contains(&self.code.as_str())
    }

    /// An error that says nothing about one resource but about the whole region
    /// or call: retrying the same call with fewer ids would fail the same way.
    pub fn is_region_wide(&self) -> bool {
        self.is_throttling()
            || self.is_access_denied()
            || matches!(
                self.code.as_str(),
                "Timeout"
                    | "Network"
                    | "InvalidResponse"
                    | "InternalError"
                    | "InternalFailure"
                    | "ServiceUnavailable"
                    | "Unavailable"
                    | "Unknown"
            )
    }

    /// What the user can do about it, for the report.
    pub fn advice(&self) -> &'static str {
        if self.is_throttling() {
            "AWS throttled the calls even after retries; the next invocation tries again"
        } else if self.is_access_denied() {
            "the function's role lacks permission here, or the region is disabled or blocked by an SCP"
        } else if self.is_region_wide() {
            "the service did not answer in time; the next invocation tries again"
        } else {
            "see the message"
        }
    }
}

/// Lambda logs a handler's error with `Debug` and reports a type name: this
/// makes the `Debug` text the readable message and the type `CostGuard.*`
/// (from the error's `error_type` method).
macro_rules! lambda_error {
    ($ty:ty) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(self, f)
            }
        }

        impl From<$ty> for lambda_runtime::Diagnostic {
            fn from(e: $ty) -> Self {
                lambda_runtime::Diagnostic {
                    error_type: e.error_type().to_string(),
                    error_message: e.to_string(),
                }
            }
        }
    };
}
pub(crate) use lambda_error;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert!(AwsError::new("x", "RequestLimitExceeded", "").is_throttling());
        assert!(AwsError::new("x", "UnauthorizedOperation", "").is_region_wide());
        assert!(!AwsError::new("x", "UnsupportedOperation", "").is_region_wide());
        assert!(!AwsError::new("x", "IncorrectInstanceState", "").is_region_wide());
        assert_eq!(
            AwsError::new("ec2:StopInstances", "Throttling", "Rate exceeded").to_string(),
            "ec2:StopInstances failed: Throttling: Rate exceeded"
        );
    }
}
