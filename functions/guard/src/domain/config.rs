//! Configuration from environment variables. Every variable is read once, at cold
//! start; a bad value is an error that names the variable and the accepted values.

use std::collections::HashMap;

/// Default tag key that marks a resource for stopping.
pub(crate) const DEFAULT_STOP_TAG_KEY: &str = "cost-guard";
/// Default value of the stop tag.
pub(crate) const DEFAULT_STOP_TAG_VALUE: &str = "stop";
/// Default tag key that exempts a resource from every sweep.
pub(crate) const DEFAULT_EXEMPT_TAG_KEY: &str = "cost-guard-exempt";
/// Default minimum anomaly impact, in USD, before `ANOMALY_ACTION=stop` acts.
pub(crate) const DEFAULT_ANOMALY_MIN_IMPACT_USD: f64 = 100.0;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{name} is required but not set: {hint}")]
    Missing {
        name: &'static str,
        hint: &'static str,
    },
    #[error("{name}={value:?} is not valid: expected {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// Which resources a sweep stops.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// Only resources tagged `key` (with `value`, or any value when `None`).
    Tagged { key: String, value: Option<String> },
    /// Every running resource except those tagged with the exempt key.
    AllExceptExempt,
}

/// Which regions a sweep covers.
#[derive(Debug, Clone, PartialEq)]
pub enum RegionScope {
    /// The regions enabled for the account, as `DescribeRegions` reports them.
    AllEnabled,
    /// Exactly these regions.
    List(Vec<String>),
}

/// What to do with Cost Anomaly Detection alerts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AnomalyAction {
    Report,
    Stop { min_impact_usd: f64 },
}

/// Everything the sweep needs to know about what to stop.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectionConfig {
    pub selection: Selection,
    pub exempt_tag_key: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub notify_topic_arn: String,
    pub select: SelectionConfig,
    pub regions: RegionScope,
    pub dry_run: bool,
    /// Act on FORECASTED budget alerts too (`ACT_ON=actual,forecasted`).
    pub act_on_forecasted: bool,
    pub anomaly: AnomalyAction,
    /// Add month-to-date spend by service to notifications (`SPEND_CONTEXT`).
    pub spend_context: bool,
    /// Cost Explorer metric (`COST_METRIC`).
    pub cost_metric: crate::domain::spend::CostMetric,
    /// The resume function's name, for the one-step restart command in every
    /// report (`RESUME_FUNCTION_NAME`; the template sets it).
    pub resume_function: Option<String>,
    /// Which accounts a sweep covers, and how (`ACCOUNTS` and its companions).
    pub accounts: crate::domain::accounts::AccountsConfig,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration from a map (tests and the command line).
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| vars.get(name).cloned())
    }

    /// Reads the configuration through `lookup`, which returns a variable's value.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let notify_topic_arn = match lookup("NOTIFY_TOPIC_ARN").map(|v| v.trim().to_string()) {
            Some(arn) if arn.starts_with("arn:") && arn.split(':').count() >= 6 => arn,
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
        Ok(Config {
            notify_topic_arn,
            select: selection_from_lookup(&lookup)?,
            regions: regions_from(lookup("REGIONS"))?,
            dry_run: bool_from("DRY_RUN", lookup("DRY_RUN"), false)?,
            act_on_forecasted: act_on_from(lookup("ACT_ON"))?,
            anomaly: anomaly_from(lookup("ANOMALY_ACTION"), lookup("ANOMALY_MIN_IMPACT_USD"))?,
            spend_context: bool_from("SPEND_CONTEXT", lookup("SPEND_CONTEXT"), true)?,
            cost_metric: cost_metric_from(lookup("COST_METRIC"))?,
            resume_function: resume_function_from(lookup("RESUME_FUNCTION_NAME"))?,
            accounts: crate::domain::accounts::AccountsConfig::from_lookup(&lookup)?,
        })
    }
}

/// Reads `SELECTION`, `STOP_TAG_KEY`, `STOP_TAG_VALUE` and `EXEMPT_TAG_KEY`.
pub fn selection_from_lookup(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<SelectionConfig, ConfigError> {
    let exempt_tag_key = tag_key_from(
        "EXEMPT_TAG_KEY",
        lookup("EXEMPT_TAG_KEY"),
        DEFAULT_EXEMPT_TAG_KEY,
    )?;
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
            if key == exempt_tag_key {
                // Blame the variable the user set: the stop key may be the default.
                let stop_key_set = lookup("STOP_TAG_KEY").is_some_and(|v| !v.trim().is_empty());
                return Err(if stop_key_set {
                    ConfigError::Invalid {
                        name: "STOP_TAG_KEY",
                        value: key,
                        expected: "a tag key different from EXEMPT_TAG_KEY",
                    }
                } else {
                    ConfigError::Invalid {
                        name: "EXEMPT_TAG_KEY",
                        value: key,
                        expected: "a tag key different from STOP_TAG_KEY (default cost-guard)",
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
        || [
            crate::domain::outcome::STOPPED_AT_TAG,
            crate::domain::outcome::STOPPED_BY_TAG,
        ]
        .contains(&key)
    {
        return Err(ConfigError::Invalid {
            name,
            value: raw,
            expected: "a tag key of at most 128 characters that does not start with `aws:` and is not one of cost-guard's stamp keys (cost-guard:stopped-at, cost-guard:stopped-by)",
        });
    }
    Ok(key.to_string())
}

/// Reads `REGIONS`: `all` or a comma list of region names.
pub fn regions_from(value: Option<String>) -> Result<RegionScope, ConfigError> {
    let raw = value.unwrap_or_default();
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("all") {
        return Ok(RegionScope::AllEnabled);
    }
    let mut regions: Vec<String> = Vec::new();
    for part in trimmed.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if !is_region_name(part) {
            return Err(ConfigError::Invalid {
                name: "REGIONS",
                value: raw.clone(),
                expected: "`all` or a comma list of region names such as us-east-1,eu-west-1",
            });
        }
        if !regions.iter().any(|r| r == part) {
            regions.push(part.to_string());
        }
    }
    if regions.is_empty() {
        return Ok(RegionScope::AllEnabled);
    }
    Ok(RegionScope::List(regions))
}

/// A region name: lowercase letters, digits and dashes, with at least two dashes
/// (`us-east-1`, `us-gov-west-1`, `ap-southeast-5`).
pub(crate) fn is_region_name(name: &str) -> bool {
    (6..=32).contains(&name.len())
        && name.matches('-').count() >= 2
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.chars().last().is_some_and(|c| c.is_ascii_digit())
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
}

/// Reads `COST_METRIC`.
pub(crate) fn cost_metric_from(
    value: Option<String>,
) -> Result<crate::domain::spend::CostMetric, ConfigError> {
    let raw = value.unwrap_or_default();
    crate::domain::spend::CostMetric::parse(&raw).ok_or(ConfigError::Invalid {
        name: "COST_METRIC",
        value: raw,
        expected: crate::domain::spend::CostMetric::ACCEPTED,
    })
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

fn bool_from(
    name: &'static str,
    value: Option<String>,
    default: bool,
) -> Result<bool, ConfigError> {
    match value
        .as_deref()
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") => Ok(default),
        Some("true") | Some("1") | Some("yes") => Ok(true),
        Some("false") | Some("0") | Some("no") => Ok(false),
        Some(_) => Err(ConfigError::Invalid {
            name,
            value: value.unwrap_or_default(),
            expected: "`true` or `false`",
        }),
    }
}

fn act_on_from(value: Option<String>) -> Result<bool, ConfigError> {
    let raw = value.unwrap_or_default();
    let mut parts: Vec<String> = raw
        .split(',')
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    parts.sort();
    parts.dedup();
    match parts
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["actual"] => Ok(false),
        ["actual", "forecasted"] => Ok(true),
        _ => Err(ConfigError::Invalid {
            name: "ACT_ON",
            value: raw,
            expected: "`actual` (default) or `actual,forecasted`",
        }),
    }
}

fn anomaly_from(action: Option<String>, min: Option<String>) -> Result<AnomalyAction, ConfigError> {
    let min_impact_usd = match min.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_ANOMALY_MIN_IMPACT_USD,
        Some(text) => usd_setting("ANOMALY_MIN_IMPACT_USD", text)?,
    };
    match action
        .as_deref()
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("report") => Ok(AnomalyAction::Report),
        Some("stop") => Ok(AnomalyAction::Stop { min_impact_usd }),
        Some(_) => Err(ConfigError::Invalid {
            name: "ANOMALY_ACTION",
            value: action.unwrap_or_default(),
            expected: "`report` (default) or `stop`",
        }),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootAction {
    /// Alert only (default).
    Alert,
    /// Alert, and run the stop sweep after a successful sign-in from an untrusted address.
    Stop,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RootConfig {
    pub trusted: Vec<crate::domain::cidr::Cidr>,
    pub action: RootAction,
}

impl RootConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads `ROOT_TRUSTED_CIDRS` and `ROOT_LOGIN_ACTION`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let raw = lookup("ROOT_TRUSTED_CIDRS").unwrap_or_default();
        let trusted = crate::domain::cidr::parse_list(&raw).map_err(|_| ConfigError::Invalid {
            name: "ROOT_TRUSTED_CIDRS",
            value: raw.clone(),
            expected: "a comma list of CIDR ranges such as 198.51.100.0/24,2001:db8::/32, or empty",
        })?;
        let action = match lookup("ROOT_LOGIN_ACTION")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("") | Some("alert") => RootAction::Alert,
            Some("stop") => RootAction::Stop,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "ROOT_LOGIN_ACTION",
                    value: lookup("ROOT_LOGIN_ACTION").unwrap_or_default(),
                    expected: "`alert` (default) or `stop`",
                })
            }
        };
        Ok(RootConfig { trusted, action })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SpendConfig {
    pub limits: crate::domain::spend::Limits,
    /// A second schedule sends a daily summary (`SPEND_SUMMARY=daily`).
    pub daily_summary: bool,
}

fn usd_var(
    name: &'static str,
    value: Option<String>,
    required: bool,
) -> Result<Option<f64>, ConfigError> {
    let text = value.as_deref().map(str::trim).unwrap_or("");
    if text.is_empty() || (!required && text == "0") {
        return if required {
            Err(ConfigError::Missing {
                name,
                hint: "set it to the month-to-date spend in US dollars above which the selection is stopped",
            })
        } else {
            Ok(None)
        };
    }
    match usd_setting(name, text)? {
        v if v > 0.0 => Ok(Some(v)),
        _ => Err(ConfigError::Invalid {
            name,
            value: text.to_string(),
            expected: "a number of US dollars greater than zero",
        }),
    }
}

/// A setting in US dollars, read like the amounts in notifications (`100`,
/// `$1,000.50`, `USD 40`), so a value copied from a budget alert is accepted;
/// not per day, not negative, not NaN.
fn usd_setting(name: &'static str, text: &str) -> Result<f64, ConfigError> {
    match crate::domain::money::Amount::parse(text) {
        Some((amount, false)) => Ok(amount.value()),
        _ => Err(ConfigError::Invalid {
            name,
            value: text.to_string(),
            expected: "a number of US dollars such as 100 or $1,000.50, zero or more",
        }),
    }
}

impl SpendConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads `SPEND_LIMIT_USD` (required), `FORECAST_LIMIT_USD` and `SPEND_SUMMARY`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let spend_usd = usd_var("SPEND_LIMIT_USD", lookup("SPEND_LIMIT_USD"), true)?
            .unwrap_or(crate::domain::money::MAX_AMOUNT);
        let forecast_usd = usd_var("FORECAST_LIMIT_USD", lookup("FORECAST_LIMIT_USD"), false)?;
        let daily_summary = match lookup("SPEND_SUMMARY")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("") | Some("off") => false,
            Some("daily") => true,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "SPEND_SUMMARY",
                    value: lookup("SPEND_SUMMARY").unwrap_or_default(),
                    expected: "`off` (default) or `daily`",
                })
            }
        };
        Ok(SpendConfig {
            limits: crate::domain::spend::Limits {
                spend_usd,
                forecast_usd,
            },
            daily_summary,
        })
    }
}

/// Default of `TRIPWIRE_INSTANCE_TYPES`: GPU and accelerator families
/// (p, g, inf, trn, dl, f, vt), very large memory (x, u-, u7), bare metal, and
/// every size of 16xlarge and above.
pub const DEFAULT_TRIPWIRE_TYPES: &str = "p*,g*,inf*,trn*,dl*,f*,vt*,x*,u-*,u7*,*.metal*,*.16xlarge,*.18xlarge,*.24xlarge,*.32xlarge,*.48xlarge,*.56xlarge,*.96xlarge,*.112xlarge,*.224xlarge,*.480xlarge";

/// What the tripwire does with a launch it judges costly or out of region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TripwireAction {
    /// Stop what was launched (default).
    Stop,
    /// Tell subscribers only.
    Alert,
}

/// The launch tripwire's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TripwireConfig {
    /// `TRIPWIRE_INSTANCE_TYPES`: instance types that count as costly.
    pub costly_types: Vec<crate::domain::glob::Glob>,
    /// `TRIPWIRE_ALLOWED_REGIONS`: empty means every region is allowed.
    pub allowed_regions: Vec<String>,
    /// `TRIPWIRE_TRUSTED_PRINCIPALS`: ARN patterns whose launches are reported, never stopped.
    pub trusted: Vec<crate::domain::glob::Glob>,
    /// `TRIPWIRE_ACTION`.
    pub action: TripwireAction,
    /// `TRIPWIRE_GUARDDUTY_ACTION`.
    pub guardduty_action: TripwireAction,
    /// `TRIPWIRE_QUARANTINE=on`: attach AWS's quarantine policy to whoever launched.
    pub quarantine: bool,
    /// `TRIPWIRE_RESUME_ROLE_ID`: the unique id of the stack's resume role,
    /// whose starts are the owner's (the template sets it; empty: none).
    pub resume_role_ids: Vec<String>,
    /// `TRIPWIRE_GUARD_ROLE_IDS`: the unique ids of the stack's other roles,
    /// whose writes of cost-guard's tags are its own (the template sets it).
    pub guard_role_ids: Vec<String>,
    /// `TRIPWIRE_MARKS_TABLE`: the DynamoDB table where the tripwire remembers
    /// the spot requests and fleets untrusted principals made (the template
    /// sets it); without it, what they launch later is reported, not stopped.
    pub marks_table: Option<String>,
}

impl TripwireConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the `TRIPWIRE_*` variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        use crate::domain::glob::Glob;
        let types_raw = lookup("TRIPWIRE_INSTANCE_TYPES").unwrap_or_default();
        let types_text = if types_raw.trim().is_empty() {
            DEFAULT_TRIPWIRE_TYPES.to_string()
        } else {
            types_raw.clone()
        };
        let mut costly_types = Vec::new();
        for part in comma_list(&types_text) {
            let ok = part.len() <= 64
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.*?".contains(c));
            if !ok {
                return Err(ConfigError::Invalid {
                    name: "TRIPWIRE_INSTANCE_TYPES",
                    value: types_raw.clone(),
                    expected: "a comma list of instance types or patterns with * and ?, such as p*,g5.*,*.24xlarge; empty for the default",
                });
            }
            costly_types.push(Glob::new(part, true));
        }
        if costly_types.is_empty() {
            // Only commas: no type would count as costly, and the tripwire
            // would stop no costly launch while looking configured.
            return Err(ConfigError::Invalid {
                name: "TRIPWIRE_INSTANCE_TYPES",
                value: types_raw,
                expected: "a comma list of instance types or patterns with * and ?, such as p*,g5.*,*.24xlarge; empty for the default",
            });
        }

        let regions_raw = lookup("TRIPWIRE_ALLOWED_REGIONS").unwrap_or_default();
        let mut allowed_regions: Vec<String> = Vec::new();
        for part in comma_list(&regions_raw) {
            if !is_region_name(part) {
                return Err(ConfigError::Invalid {
                    name: "TRIPWIRE_ALLOWED_REGIONS",
                    value: regions_raw.clone(),
                    expected: "a comma list of region names such as us-east-1,eu-west-1, or empty to allow every region",
                });
            }
            if !allowed_regions.iter().any(|r| r == part) {
                allowed_regions.push(part.to_string());
            }
        }

        let trusted_raw = lookup("TRIPWIRE_TRUSTED_PRINCIPALS").unwrap_or_default();
        let mut trusted = Vec::new();
        for part in comma_list(&trusted_raw) {
            let ok = part.starts_with("arn:")
                && part.split(':').count() >= 6
                && part.len() <= 2048
                && part.chars().all(|c| c.is_ascii_graphic());
            if !ok {
                return Err(ConfigError::Invalid {
                    name: "TRIPWIRE_TRUSTED_PRINCIPALS",
                    value: trusted_raw.clone(),
                    expected: "a comma list of IAM ARN patterns with * and ?, such as arn:aws:iam::123456789012:user/ci-*,arn:aws:sts::123456789012:assumed-role/deploy/*, or empty",
                });
            }
            trusted.push(Glob::new(part, false));
        }

        let resume_role_ids = role_ids(
            "TRIPWIRE_RESUME_ROLE_ID",
            lookup("TRIPWIRE_RESUME_ROLE_ID"),
            ROLE_ID_EXPECTED_ONE,
        )?;
        if resume_role_ids.len() > 1 {
            return Err(ConfigError::Invalid {
                name: "TRIPWIRE_RESUME_ROLE_ID",
                value: lookup("TRIPWIRE_RESUME_ROLE_ID").unwrap_or_default(),
                expected: ROLE_ID_EXPECTED_ONE,
            });
        }
        let guard_role_ids = role_ids(
            "TRIPWIRE_GUARD_ROLE_IDS",
            lookup("TRIPWIRE_GUARD_ROLE_IDS"),
            "a comma list of role unique ids (AROA followed by capital letters and digits, as `aws iam get-role` shows them as RoleId), or empty",
        )?;

        let marks_raw = lookup("TRIPWIRE_MARKS_TABLE").unwrap_or_default();
        let marks_table = match marks_raw.trim() {
            "" => None,
            t if (3..=255).contains(&t.len())
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) =>
            {
                Some(t.to_string())
            }
            _ => {
                return Err(ConfigError::Invalid {
                    name: "TRIPWIRE_MARKS_TABLE",
                    value: marks_raw,
                    expected:
                        "a DynamoDB table name (3 to 255 letters, digits, _ . and -), or empty",
                })
            }
        };

        Ok(TripwireConfig {
            costly_types,
            allowed_regions,
            trusted,
            resume_role_ids,
            guard_role_ids,
            marks_table,
            action: tripwire_action("TRIPWIRE_ACTION", lookup("TRIPWIRE_ACTION"))?,
            guardduty_action: tripwire_action(
                "TRIPWIRE_GUARDDUTY_ACTION",
                lookup("TRIPWIRE_GUARDDUTY_ACTION"),
            )?,
            quarantine: match lookup("TRIPWIRE_QUARANTINE")
                .map(|v| v.trim().to_ascii_lowercase())
                .as_deref()
            {
                None | Some("") | Some("off") => false,
                Some("on") => true,
                Some(_) => {
                    return Err(ConfigError::Invalid {
                        name: "TRIPWIRE_QUARANTINE",
                        value: lookup("TRIPWIRE_QUARANTINE").unwrap_or_default(),
                        expected: "`off` (default) or `on`",
                    })
                }
            },
        })
    }
}

const ROLE_ID_EXPECTED_ONE: &str =
    "one role's unique id (AROA followed by capital letters and digits, as `aws iam get-role` shows it as RoleId), or empty";

/// A comma list of role unique ids; empty is none.
fn role_ids(
    name: &'static str,
    value: Option<String>,
    expected: &'static str,
) -> Result<Vec<String>, ConfigError> {
    let raw = value.unwrap_or_default();
    let mut ids: Vec<String> = Vec::new();
    for part in comma_list(&raw) {
        if !is_role_id(part) {
            return Err(ConfigError::Invalid {
                name,
                value: raw.clone(),
                expected,
            });
        }
        if !ids.iter().any(|i| i == part) {
            ids.push(part.to_string());
        }
    }
    Ok(ids)
}

/// A role's unique id as IAM writes it: `AROA` and capital letters and digits.
pub(crate) fn is_role_id(text: &str) -> bool {
    text.strip_prefix("AROA").is_some_and(|rest| {
        (4..=124).contains(&rest.len())
            && rest
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    })
}

/// The non-empty, trimmed entries of a comma list.
fn comma_list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|p| !p.is_empty())
}

fn tripwire_action(
    name: &'static str,
    value: Option<String>,
) -> Result<TripwireAction, ConfigError> {
    match value
        .as_deref()
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("stop") => Ok(TripwireAction::Stop),
        Some("alert") => Ok(TripwireAction::Alert),
        Some(_) => Err(ConfigError::Invalid {
            name,
            value: value.unwrap_or_default(),
            expected: "`stop` (default) or `alert`",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:notify";

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        vars.entry("NOTIFY_TOPIC_ARN".into())
            .or_insert(TOPIC.into());
        Config::from_map(&vars)
    }

    #[test]
    fn defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.notify_topic_arn, TOPIC);
        assert_eq!(
            c.select.selection,
            Selection::Tagged {
                key: "cost-guard".into(),
                value: Some("stop".into())
            }
        );
        assert_eq!(c.select.exempt_tag_key, "cost-guard-exempt");
        assert_eq!(c.regions, RegionScope::AllEnabled);
        assert!(!c.dry_run);
        assert!(!c.act_on_forecasted);
        assert_eq!(c.anomaly, AnomalyAction::Report);
        assert!(c.spend_context);
        assert_eq!(
            c.cost_metric,
            crate::domain::spend::CostMetric::UnblendedCost
        );
    }

    #[test]
    fn missing_topic_names_the_variable() {
        let err = Config::from_map(&HashMap::new()).unwrap_err();
        assert!(err.to_string().starts_with("NOTIFY_TOPIC_ARN is required"));
        let err = config(&[("NOTIFY_TOPIC_ARN", "my-topic")]).unwrap_err();
        assert!(err.to_string().contains("NOTIFY_TOPIC_ARN=\"my-topic\""));
    }

    #[test]
    fn empty_stop_tag_value_means_any_value() {
        let c = config(&[("STOP_TAG_KEY", "team"), ("STOP_TAG_VALUE", "")]).unwrap();
        assert_eq!(
            c.select.selection,
            Selection::Tagged {
                key: "team".into(),
                value: None
            }
        );
    }

    #[test]
    fn all_except_exempt() {
        let c = config(&[
            ("SELECTION", "All-Except-Exempt"),
            ("EXEMPT_TAG_KEY", "keep"),
        ])
        .unwrap();
        assert_eq!(c.select.selection, Selection::AllExceptExempt);
        assert_eq!(c.select.exempt_tag_key, "keep");
    }

    #[test]
    fn bad_values_name_variable_and_accepted_values() {
        let cases = [
            (
                "SELECTION",
                "everything",
                "`tagged` (default) or `all-except-exempt`",
            ),
            ("DRY_RUN", "maybe", "`true` or `false`"),
            (
                "ACT_ON",
                "forecasted",
                "`actual` (default) or `actual,forecasted`",
            ),
            ("ANOMALY_ACTION", "panic", "`report` (default) or `stop`"),
            ("ANOMALY_MIN_IMPACT_USD", "-5", "zero or more"),
            ("ANOMALY_MIN_IMPACT_USD", "NaN", "zero or more"),
            ("REGIONS", "us-east-1,Mars", "comma list of region names"),
            ("STOP_TAG_KEY", "aws:foo", "does not start with `aws:`"),
            ("SPEND_CONTEXT", "perhaps", "`true` or `false`"),
            (
                "RESUME_FUNCTION_NAME",
                "my resume;rm",
                "a Lambda function name",
            ),
            (
                "COST_METRIC",
                "Dollars",
                "UnblendedCost (default), BlendedCost",
            ),
        ];
        for (name, value, expected) in cases {
            let err = config(&[(name, value)]).unwrap_err().to_string();
            assert!(err.starts_with(name), "{err}");
            assert!(err.contains(value), "{err}");
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn tag_settings_with_spaces_at_the_ends_are_refused() {
        for (name, value) in [
            ("STOP_TAG_VALUE", "stop "),
            ("STOP_TAG_VALUE", " stop"),
            ("STOP_TAG_KEY", "cost-guard "),
            ("EXEMPT_TAG_KEY", " keep"),
        ] {
            let err = config(&[(name, value)]).unwrap_err().to_string();
            assert!(err.starts_with(&format!("{name}={value:?}")), "{err}");
            assert!(err.contains("without spaces at either end"), "{err}");
        }
        // Inside a value a space is fine: IAM compares the same text.
        let c = config(&[("STOP_TAG_VALUE", "stop now")]).unwrap();
        assert_eq!(
            c.select.selection,
            Selection::Tagged {
                key: "cost-guard".into(),
                value: Some("stop now".into())
            }
        );
    }

    #[test]
    fn stop_key_must_differ_from_exempt_key() {
        let err = config(&[("STOP_TAG_KEY", "cost-guard-exempt")]).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("STOP_TAG_KEY=\"cost-guard-exempt\""));
        assert!(err.to_string().contains("different from EXEMPT_TAG_KEY"));
        // With the stop key left at its default, the exempt key is the one set.
        let err = config(&[("EXEMPT_TAG_KEY", "cost-guard")]).unwrap_err();
        assert!(
            err.to_string().starts_with("EXEMPT_TAG_KEY=\"cost-guard\""),
            "{err}"
        );
        assert!(err.to_string().contains("different from STOP_TAG_KEY"));
    }

    #[test]
    fn regions_list_is_trimmed_and_deduplicated() {
        let c = config(&[("REGIONS", " us-east-1, eu-west-1 ,us-east-1,")]).unwrap();
        assert_eq!(
            c.regions,
            RegionScope::List(vec!["us-east-1".into(), "eu-west-1".into()])
        );
        assert_eq!(
            config(&[("REGIONS", "ALL")]).unwrap().regions,
            RegionScope::AllEnabled
        );
    }

    #[test]
    fn act_on_and_anomaly_and_dry_run() {
        let c = config(&[
            ("ACT_ON", "forecasted, actual"),
            ("ANOMALY_ACTION", "stop"),
            ("ANOMALY_MIN_IMPACT_USD", "250.5"),
            ("DRY_RUN", "TRUE"),
        ])
        .unwrap();
        assert!(c.act_on_forecasted);
        assert!(c.dry_run);
        assert_eq!(
            c.anomaly,
            AnomalyAction::Stop {
                min_impact_usd: 250.5
            }
        );
    }

    #[test]
    fn region_names() {
        for ok in [
            "us-east-1",
            "ap-southeast-5",
            "us-gov-west-1",
            "il-central-1",
        ] {
            assert!(is_region_name(ok), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "useast1",
            "us_east_1",
            "-us-east-1",
        ] {
            assert!(!is_region_name(bad), "{bad}");
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
    #[test]
    fn root_config() {
        let c = RootConfig::from_lookup(|_| None).unwrap();
        assert_eq!(c.action, RootAction::Alert);
        assert!(c.trusted.is_empty());
        let c = RootConfig::from_lookup(|n| match n {
            "ROOT_TRUSTED_CIDRS" => Some("203.0.113.0/24, 2001:db8::/32".into()),
            "ROOT_LOGIN_ACTION" => Some("Stop".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.action, RootAction::Stop);
        assert_eq!(c.trusted.len(), 2);
        let err =
            RootConfig::from_lookup(|n| (n == "ROOT_TRUSTED_CIDRS").then(|| "office".to_string()))
                .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("ROOT_TRUSTED_CIDRS=\"office\" is not valid"));
        let err =
            RootConfig::from_lookup(|n| (n == "ROOT_LOGIN_ACTION").then(|| "kill".to_string()))
                .unwrap_err();
        assert!(err.to_string().contains("`alert` (default) or `stop`"));
    }
    #[test]
    fn spend_config() {
        let c =
            SpendConfig::from_lookup(|n| (n == "SPEND_LIMIT_USD").then(|| "100".into())).unwrap();
        assert_eq!(c.limits.spend_usd, 100.0);
        assert_eq!(c.limits.forecast_usd, None);
        assert!(!c.daily_summary);
        let err = SpendConfig::from_lookup(|_| None).unwrap_err().to_string();
        assert!(err.starts_with("SPEND_LIMIT_USD is required"), "{err}");
        for (name, value) in [
            ("SPEND_LIMIT_USD", "-1"),
            ("SPEND_LIMIT_USD", "NaN"),
            ("SPEND_LIMIT_USD", "lots"),
            ("SPEND_LIMIT_USD", "0"),
            ("SPEND_LIMIT_USD", "$5 per day"),
            ("SPEND_LIMIT_USD", "1e3"),
            ("FORECAST_LIMIT_USD", "inf"),
            ("SPEND_SUMMARY", "hourly"),
        ] {
            let err = SpendConfig::from_lookup(|n| match n {
                n if n == name => Some(value.to_string()),
                "SPEND_LIMIT_USD" => Some("100".into()),
                _ => None,
            })
            .unwrap_err()
            .to_string();
            assert!(err.starts_with(name) && err.contains(value), "{err}");
        }
        let c = SpendConfig::from_lookup(|n| match n {
            "SPEND_LIMIT_USD" => Some("50".into()),
            "FORECAST_LIMIT_USD" => Some("80".into()),
            "SPEND_SUMMARY" => Some("daily".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.limits.forecast_usd, Some(80.0));
        assert!(c.daily_summary);
        // Read like the amounts in the alerts it sits beside.
        let c =
            SpendConfig::from_lookup(|n| (n == "SPEND_LIMIT_USD").then(|| " $1,000.50 ".into()))
                .unwrap();
        assert_eq!(c.limits.spend_usd, 1000.5);
    }

    /// The SAM parameter shows the user the same default the function applies
    /// to an empty value.
    #[test]
    fn template_default_of_tripwire_types_is_the_functions() {
        let template = include_str!("../../../../template.yaml");
        let line = format!("    Default: \"{DEFAULT_TRIPWIRE_TYPES}\"");
        let param = template
            .split("\n  TripwireInstanceTypes:\n")
            .nth(1)
            .expect("template.yaml has the TripwireInstanceTypes parameter");
        assert!(
            param.lines().take(4).any(|l| l == line),
            "TripwireInstanceTypes' default in template.yaml differs from DEFAULT_TRIPWIRE_TYPES"
        );
    }

    #[test]
    fn tripwire_config() {
        let c = TripwireConfig::from_lookup(|_| None).unwrap();
        assert_eq!(c.action, TripwireAction::Stop);
        assert_eq!(c.guardduty_action, TripwireAction::Stop);
        assert!(!c.quarantine);
        assert!(c.allowed_regions.is_empty() && c.trusted.is_empty());
        let costly = |t: &str| crate::domain::glob::first_match(&c.costly_types, t).is_some();
        for t in [
            "p3.2xlarge",
            "p5.48xlarge",
            "g4dn.xlarge",
            "g6e.2xlarge",
            "inf2.xlarge",
            "trn1.32xlarge",
            "dl1.24xlarge",
            "f1.2xlarge",
            "x2iedn.32xlarge",
            "u-6tb1.112xlarge",
            "i3.metal",
            "m7i.metal-48xl",
            "m5.24xlarge",
            "c5.18xlarge",
        ] {
            assert!(costly(t), "{t} should be costly by default");
        }
        for t in [
            "t3.micro",
            "m5.large",
            "c5.9xlarge",
            "r6g.8xlarge",
            "t4g.nano",
        ] {
            assert!(!costly(t), "{t} should not be costly by default");
        }
        let c = TripwireConfig::from_lookup(|n| match n {
            "TRIPWIRE_INSTANCE_TYPES" => Some("p*, G5.* ,".into()),
            "TRIPWIRE_ALLOWED_REGIONS" => Some("us-east-1, eu-west-1,us-east-1".into()),
            "TRIPWIRE_TRUSTED_PRINCIPALS" => Some("arn:aws:iam::123456789012:user/ci-*".into()),
            "TRIPWIRE_ACTION" => Some("Alert".into()),
            "TRIPWIRE_GUARDDUTY_ACTION" => Some("alert".into()),
            "TRIPWIRE_QUARANTINE" => Some("on".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.costly_types.len(), 2);
        assert_eq!(c.allowed_regions, ["us-east-1", "eu-west-1"]);
        assert_eq!(c.action, TripwireAction::Alert);
        assert_eq!(c.guardduty_action, TripwireAction::Alert);
        assert!(c.quarantine);
        assert!(c.resume_role_ids.is_empty() && c.guard_role_ids.is_empty());
        assert_eq!(c.marks_table, None);
        let ids = TripwireConfig::from_lookup(|n| match n {
            "TRIPWIRE_RESUME_ROLE_ID" => Some(" AROA3XFRBF23RESUME01 ".into()),
            "TRIPWIRE_GUARD_ROLE_IDS" => Some("AROA3XFRBF23SWEEP001,AROA3XFRBF23KEEP0001,".into()),
            "TRIPWIRE_MARKS_TABLE" => Some(" cost-guard-UntrustedRequests-1A2B ".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            ids.marks_table.as_deref(),
            Some("cost-guard-UntrustedRequests-1A2B")
        );
        assert_eq!(ids.resume_role_ids, ["AROA3XFRBF23RESUME01"]);
        assert_eq!(
            ids.guard_role_ids,
            ["AROA3XFRBF23SWEEP001", "AROA3XFRBF23KEEP0001"]
        );
        for (name, value, expected) in [
            (
                "TRIPWIRE_INSTANCE_TYPES",
                "p3 2xlarge",
                "comma list of instance types",
            ),
            // Only commas: nothing would count as costly.
            (
                "TRIPWIRE_INSTANCE_TYPES",
                " , ,",
                "comma list of instance types",
            ),
            (
                "TRIPWIRE_ALLOWED_REGIONS",
                "us-east-1,moon",
                "comma list of region names",
            ),
            (
                "TRIPWIRE_TRUSTED_PRINCIPALS",
                "ci-deployer",
                "IAM ARN patterns",
            ),
            ("TRIPWIRE_TRUSTED_PRINCIPALS", "*", "IAM ARN patterns"),
            (
                "TRIPWIRE_ACTION",
                "terminate",
                "`stop` (default) or `alert`",
            ),
            (
                "TRIPWIRE_GUARDDUTY_ACTION",
                "kill",
                "`stop` (default) or `alert`",
            ),
            ("TRIPWIRE_QUARANTINE", "yes", "`off` (default) or `on`"),
            // A role's name is no unique id: anyone who may create roles can take it.
            (
                "TRIPWIRE_RESUME_ROLE_ID",
                "cost-guard-ResumeRole",
                "one role's unique id",
            ),
            (
                "TRIPWIRE_RESUME_ROLE_ID",
                "AROAAAAAAAAAAAAAAAAA1,AROAAAAAAAAAAAAAAAAA2",
                "one role's unique id",
            ),
            (
                "TRIPWIRE_GUARD_ROLE_IDS",
                "AROAAAAAAAAAAAAAAAAA1,arn:aws:iam::123456789012:role/x",
                "role unique ids",
            ),
            (
                "TRIPWIRE_MARKS_TABLE",
                "arn:aws:dynamodb:us-east-1:123456789012:table/marks",
                "a DynamoDB table name",
            ),
        ] {
            let err = TripwireConfig::from_lookup(|n| (n == name).then(|| value.to_string()))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(&format!("{name}={value:?}")), "{err}");
            assert!(err.contains(expected), "{err}");
        }
    }
}
