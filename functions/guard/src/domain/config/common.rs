//! What every function reads: the subscribers' topic and the resume
//! function's name; and the SDK's attempt timeout.

use super::ConfigError;

/// The settings every function shares.
#[derive(Debug, Clone, PartialEq)]
pub struct Common {
    /// `NOTIFY_TOPIC_ARN`: the topic subscribers read.
    pub notify_topic_arn: String,
    /// `RESUME_FUNCTION_NAME`: the resume function's name, for the one-step
    /// restart command in every report (the template sets it).
    pub resume_function: Option<String>,
}

impl Common {
    /// Reads `NOTIFY_TOPIC_ARN` (required) and `RESUME_FUNCTION_NAME`.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let notify_topic_arn = match lookup("NOTIFY_TOPIC_ARN").map(|v| v.trim().to_string()) {
            Some(arn) if crate::domain::arn::Arn::parse(&arn).is_some() => arn,
            Some(arn) if !arn.is_empty() => return Err(ConfigError::Invalid {
                name: "NOTIFY_TOPIC_ARN",
                value: arn,
                expected:
                    "an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:cost-guard-notify",
            }),
            _ => {
                return Err(ConfigError::Missing {
                    name: "NOTIFY_TOPIC_ARN",
                    hint: "set it to the ARN of the SNS topic that tells subscribers what happened",
                })
            }
        };
        Ok(Common {
            notify_topic_arn,
            resume_function: resume_function_from(lookup("RESUME_FUNCTION_NAME"))?,
        })
    }
}

/// Reads `RESUME_FUNCTION_NAME`: a Lambda function name (letters, digits,
/// `-` and `_`, at most 64), or empty for none.
fn resume_function_from(value: Option<String>) -> Result<Option<String>, ConfigError> {
    let raw = value.unwrap_or_default();
    let name = raw.trim();
    if name.is_empty() {
        return Ok(None);
    }
    if name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Ok(Some(name.to_string()));
    }
    Err(ConfigError::Invalid {
        name: "RESUME_FUNCTION_NAME",
        value: raw,
        expected: "a Lambda function name (letters, digits, - and _, at most 64), or empty",
    })
}

/// Default of `ATTEMPT_TIMEOUT_SECONDS`.
pub(crate) const DEFAULT_ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Reads `ATTEMPT_TIMEOUT_SECONDS`: how long one attempt of an AWS call may
/// take before it is abandoned and retried, 1 to 300 seconds (default 15).
/// AWS answers well within the default; an emulator on a busy machine may not.
pub(crate) fn attempt_timeout_from(
    value: Option<String>,
) -> Result<std::time::Duration, ConfigError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(DEFAULT_ATTEMPT_TIMEOUT),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|s| (1..=300).contains(s))
            .map(std::time::Duration::from_secs)
            .ok_or_else(|| ConfigError::Invalid {
                name: "ATTEMPT_TIMEOUT_SECONDS",
                value: v.to_string(),
                expected: "a whole number of seconds from 1 to 300 (default 15)",
            }),
    }
}

/// Reads `SAVED_STATE_KEY_ARN`: the KMS HMAC key that seals what a stop
/// saves for resume (the template's `SavedStateKey`). Unset or empty: no
/// seal, and resume refuses every saved state it cannot check.
pub fn saved_state_key_from(value: Option<String>) -> Result<Option<String>, ConfigError> {
    let raw = value.unwrap_or_default();
    let key = raw.trim();
    if key.is_empty() {
        return Ok(None);
    }
    match crate::domain::arn::Arn::parse(key) {
        Some(arn)
            if arn.service == "kms"
                && !arn.region.is_empty()
                && arn.account_id().is_some()
                && arn.resource.strip_prefix("key/").is_some_and(|id| !id.is_empty()) =>
        {
            Ok(Some(key.to_string()))
        }
        _ => Err(ConfigError::Invalid {
            name: "SAVED_STATE_KEY_ARN",
            value: raw.clone(),
            expected: "a KMS key ARN such as arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab (the stack's SavedStateKeyArn output), or empty",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_topic_is_required_and_the_resume_function_a_lambda_name() {
        let common = |topic: &str, resume: &str| {
            Common::from_lookup(&|name| match name {
                "NOTIFY_TOPIC_ARN" => Some(topic.to_string()),
                "RESUME_FUNCTION_NAME" => Some(resume.to_string()),
                _ => None,
            })
        };
        let topic = "arn:aws:sns:us-east-1:123456789012:cost-guard-notify";
        assert!(matches!(
            common(" ", ""),
            Err(ConfigError::Missing {
                name: "NOTIFY_TOPIC_ARN",
                ..
            })
        ));
        assert!(matches!(
            common("cost-guard-notify", ""),
            Err(ConfigError::Invalid {
                name: "NOTIFY_TOPIC_ARN",
                ..
            })
        ));
        let longest = "r".repeat(64);
        for (name, ok) in [
            ("cost-guard-resume", true),
            ("cost_guard_resume", true),
            (longest.as_str(), true),
            (&format!("{longest}r"), false),
            ("cost-guard.resume", false),
            ("cost guard", false),
        ] {
            let got = common(topic, name);
            assert_eq!(got.is_ok(), ok, "{name}: {got:?}");
            if ok {
                assert_eq!(got.unwrap().resume_function.as_deref(), Some(name));
            }
        }
        assert_eq!(common(topic, "").unwrap().resume_function, None);
    }

    #[test]
    fn the_saved_state_key_is_a_kms_key_arn_or_nothing() {
        let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab";
        assert_eq!(
            saved_state_key_from(Some(format!(" {key} ")))
                .unwrap()
                .as_deref(),
            Some(key)
        );
        assert_eq!(saved_state_key_from(None).unwrap(), None);
        assert_eq!(saved_state_key_from(Some(" ".into())).unwrap(), None);
        for bad in [
            "1234abcd-12ab",
            "alias/cost-guard",
            "arn:aws:kms:us-east-1:123456789012:alias/x",
            "arn:aws:sns:us-east-1:123456789012:key/x",
            "arn:aws:kms::123456789012:key/x",
            "arn:aws:kms:us-east-1:123456789012:key/",
        ] {
            let err = saved_state_key_from(Some(bad.into()))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("SAVED_STATE_KEY_ARN="), "{bad}: {err}");
        }
    }

    #[test]
    fn attempt_timeout_is_read_in_whole_seconds_within_bounds() {
        use std::time::Duration;
        assert_eq!(attempt_timeout_from(None), Ok(DEFAULT_ATTEMPT_TIMEOUT));
        assert_eq!(
            attempt_timeout_from(Some(" ".into())),
            Ok(DEFAULT_ATTEMPT_TIMEOUT)
        );
        assert_eq!(
            attempt_timeout_from(Some("120".into())),
            Ok(Duration::from_secs(120))
        );
        for bad in ["0", "301", "1.5", "-3", "15s", "NaN"] {
            let err = attempt_timeout_from(Some(bad.into()))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("ATTEMPT_TIMEOUT_SECONDS="), "{err}");
            assert!(err.contains("1 to 300"), "{err}");
        }
    }
}
