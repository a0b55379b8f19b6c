//! `SELECTION`, `STOP_TAG_KEY`, `STOP_TAG_VALUE` and `EXEMPT_TAG_KEY`: which
//! resources a sweep stops, and which it never touches.

use super::ConfigError;
use crate::domain::tags::{
    DEFAULT_EXEMPT_TAG_KEY, DEFAULT_STOP_TAG_KEY, DEFAULT_STOP_TAG_VALUE, STOPPED_AT_TAG,
    STOPPED_BY_TAG,
};

/// Which resources a sweep stops.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// Only resources tagged `key` (with `value`, or any value when `None`).
    Tagged { key: String, value: Option<String> },
    /// Every running resource except those tagged with the exempt key.
    AllExceptExempt,
}

/// Everything the sweep needs to know about what to stop.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectionConfig {
    pub selection: Selection,
    pub exempt_tag_key: String,
}

/// Reads `SELECTION`, `STOP_TAG_KEY`, `STOP_TAG_VALUE` and `EXEMPT_TAG_KEY`.
pub fn selection_from_lookup(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<SelectionConfig, ConfigError> {
    let exempt_tag_key = exempt_key_from(lookup)?;
    let mode = lookup("SELECTION").map(|v| v.trim().to_ascii_lowercase());
    let selection = match mode.as_deref() {
        None | Some("") | Some("tagged") => {
            let key = tag_key_from("STOP_TAG_KEY", lookup("STOP_TAG_KEY"), DEFAULT_STOP_TAG_KEY)?;
            // Unset means the default value; set but empty means "any value".
            let value = match lookup("STOP_TAG_VALUE") {
                None => Some(DEFAULT_STOP_TAG_VALUE.to_string()),
                Some(v) if v.trim().is_empty() => None,
                Some(v) if v.len() > 256 => {
                    return Err(ConfigError::Invalid {
                        name: "STOP_TAG_VALUE",
                        value: v,
                        expected: "a tag value of at most 256 characters, or empty for any value",
                    })
                }
                // IAM compares the raw value: one trimmed here would match
                // nothing there, and the whole stop call would be denied.
                Some(v) if v.trim() != v => {
                    return Err(ConfigError::Invalid {
                        name: "STOP_TAG_VALUE",
                        value: v,
                        expected: "a tag value without spaces at either end (the role's IAM condition compares it exactly), or empty for any value",
                    })
                }
                Some(v) => Some(v),
            };
            // IAM reads the exempt deny's key without case: a stop key that
            // differs only in case would have every stop denied.
            if crate::domain::inventory::is_exempt_key(&key, &exempt_tag_key) {
                // Blame the variable the user set: the stop key may be the default.
                let stop_key_set = lookup("STOP_TAG_KEY").is_some_and(|v| !v.trim().is_empty());
                return Err(if stop_key_set {
                    ConfigError::Invalid {
                        name: "STOP_TAG_KEY",
                        value: key,
                        expected: "a tag key different from EXEMPT_TAG_KEY, in any case",
                    }
                } else {
                    ConfigError::Invalid {
                        name: "EXEMPT_TAG_KEY",
                        value: key,
                        expected: "a tag key different from STOP_TAG_KEY (default cost-guard), in any case",
                    }
                });
            }
            Selection::Tagged { key, value }
        }
        Some("all-except-exempt") => Selection::AllExceptExempt,
        Some(_) => {
            return Err(ConfigError::Invalid {
                name: "SELECTION",
                value: lookup("SELECTION").unwrap_or_default(),
                expected: "`tagged` (default) or `all-except-exempt`",
            })
        }
    };
    Ok(SelectionConfig {
        selection,
        exempt_tag_key,
    })
}

fn tag_key_from(
    name: &'static str,
    value: Option<String>,
    default: &str,
) -> Result<String, ConfigError> {
    let Some(raw) = value else {
        return Ok(default.to_string());
    };
    let key = raw.trim();
    if key.is_empty() {
        return Ok(default.to_string());
    }
    if key != raw {
        // IAM's conditions name the raw key (aws:ResourceTag/KEY).
        return Err(ConfigError::Invalid {
            name,
            value: raw,
            expected:
                "a tag key without spaces at either end (the role's IAM conditions name it exactly)",
        });
    }
    if key.len() > 128
        || key.to_ascii_lowercase().starts_with("aws:")
        || [STOPPED_AT_TAG, STOPPED_BY_TAG].contains(&key)
    {
        return Err(ConfigError::Invalid {
            name,
            value: raw,
            expected: "a tag key of at most 128 characters that does not start with `aws:` and is not one of cost-guard's stamp keys (cost-guard:stopped-at, cost-guard:stopped-by)",
        });
    }
    Ok(key.to_string())
}

/// Reads `EXEMPT_TAG_KEY` alone (the functions that never select read no
/// more).
pub(crate) fn exempt_key_from(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    tag_key_from(
        "EXEMPT_TAG_KEY",
        lookup("EXEMPT_TAG_KEY"),
        DEFAULT_EXEMPT_TAG_KEY,
    )
}
