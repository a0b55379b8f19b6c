//! A failed AWS call as plain data, reduced to what a report needs: the
//! operation, the service's error code and message, and whether retrying later
//! could help. The conversion from the SDK's errors is in `aws::error`.

use std::fmt;

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

    pub(crate) fn is_throttling(&self) -> bool {
        THROTTLING.contains(&self.code.as_str())
    }

    pub(crate) fn is_access_denied(&self) -> bool {
        ACCESS.contains(&self.code.as_str())
    }

    /// An error that says nothing about one resource but about the whole region
    /// or call: retrying the same call with fewer ids would fail the same way.
    pub(crate) fn is_region_wide(&self) -> bool {
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

    #[test]
    fn advice_follows_the_class() {
        for (code, want) in [
            ("Throttling", "AWS throttled the calls even after retries; the next invocation tries again"),
            ("AccessDenied", "the function's role lacks permission here, or the region is disabled or blocked by an SCP"),
            ("ServiceUnavailable", "the service did not answer in time; the next invocation tries again"),
            ("IncorrectInstanceState", "see the message"),
        ] {
            assert_eq!(AwsError::new("x", code, "").advice(), want, "{code}");
        }
    }
}
