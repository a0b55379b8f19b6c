//! Each function's whole configuration: the parts it reads, and nothing else,
//! so that a bad value of a variable a function never uses cannot stop it
//! from starting.
//!
//! | function | reads |
//! |---|---|
//! | stop-on-overspend | common, sweep, `ACT_ON`, `ANOMALY_*`, `SPEND_CONTEXT`, `COST_METRIC` |
//! | root-login-alert | common, sweep, root |
//! | spend-watch | common, sweep, spend (with `COST_METRIC`) |
//! | resume | common, `REGIONS`, accounts, `SAVED_STATE_KEY_ARN` |
//! | keep-stopped | common, `EXEMPT_TAG_KEY`, accounts |
//! | launch-tripwire | common, `EXEMPT_TAG_KEY`, `DRY_RUN`, accounts, tripwire, `SAVED_STATE_KEY_ARN` |
//! | weekly-check | common, `STACK_NAME`, `CHECK_STATE_TABLE`, `DOCTOR_SCHEDULE` |
//! | burn-watch | common, sweep, burn (`BURN_*`, `MONTHLY_LIMIT_USD`), `COST_METRIC` |
//!
//! The sweep's part includes `SAVED_STATE_KEY_ARN`.

use super::accounts::AccountsConfig;
use super::burn::BurnConfig;
use super::common::{saved_state_key_from, Common};
use super::kinds::{kinds_from, KindSet};
use super::overspend::{act_on_from, anomaly_from, AnomalyAction};
use super::regions::{regions_from, RegionScope};
use super::root::RootConfig;
use super::selection::{exempt_key_from, selection_from_lookup, SelectionConfig};
use super::spend::{cost_metric_from, SpendConfig};
use super::tripwire::TripwireConfig;
use super::{bool_from, ConfigError, Settings};
use crate::domain::spend::CostMetric;

/// What a stop sweep needs: what to select, where, in which accounts, and
/// whether to stop at all (`DRY_RUN`).
#[derive(Debug, Clone, PartialEq)]
pub struct SweepConfig {
    pub select: SelectionConfig,
    pub regions: RegionScope,
    /// Which kinds it stops (`KINDS`).
    pub kinds: KindSet,
    pub dry_run: bool,
    pub accounts: AccountsConfig,
    /// The key that seals what a stop saves (`SAVED_STATE_KEY_ARN`).
    pub saved_state_key: Option<String>,
}

impl SweepConfig {
    /// Reads the selection variables, `REGIONS`, `KINDS`, `DRY_RUN` and `ACCOUNTS`
    /// with its companions.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(SweepConfig {
            select: selection_from_lookup(lookup)?,
            regions: regions_from(lookup("REGIONS"))?,
            kinds: kinds_from(lookup("KINDS"))?,
            dry_run: dry_run_from(lookup)?,
            accounts: AccountsConfig::from_lookup(lookup)?,
            saved_state_key: saved_state_key_from(lookup("SAVED_STATE_KEY_ARN"))?,
        })
    }
}

fn dry_run_from(lookup: &dyn Fn(&str) -> Option<String>) -> Result<bool, ConfigError> {
    bool_from("DRY_RUN", lookup("DRY_RUN"), false)
}

/// stop-on-overspend's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct StopOnOverspendConfig {
    pub common: Common,
    pub sweep: SweepConfig,
    /// Act on FORECASTED budget alerts too (`ACT_ON=actual,forecasted`).
    pub act_on_forecasted: bool,
    pub anomaly: AnomalyAction,
    /// Add month-to-date spend by service to notifications (`SPEND_CONTEXT`).
    pub spend_context: bool,
    /// Cost Explorer metric (`COST_METRIC`).
    pub cost_metric: CostMetric,
}

impl Settings for StopOnOverspendConfig {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(StopOnOverspendConfig {
            common: Common::from_lookup(lookup)?,
            sweep: SweepConfig::from_lookup(lookup)?,
            act_on_forecasted: act_on_from(lookup("ACT_ON"))?,
            anomaly: anomaly_from(lookup("ANOMALY_ACTION"), lookup("ANOMALY_MIN_IMPACT_USD"))?,
            spend_context: bool_from("SPEND_CONTEXT", lookup("SPEND_CONTEXT"), true)?,
            cost_metric: cost_metric_from(lookup("COST_METRIC"))?,
        })
    }
}

/// root-login-alert's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct RootLoginAlertConfig {
    pub common: Common,
    pub sweep: SweepConfig,
    pub root: RootConfig,
}

impl Settings for RootLoginAlertConfig {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(RootLoginAlertConfig {
            common: Common::from_lookup(lookup)?,
            sweep: SweepConfig::from_lookup(lookup)?,
            root: RootConfig::from_lookup(lookup)?,
        })
    }
}

/// spend-watch's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendWatchConfig {
    pub common: Common,
    pub sweep: SweepConfig,
    pub spend: SpendConfig,
}

impl Settings for SpendWatchConfig {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(SpendWatchConfig {
            common: Common::from_lookup(lookup)?,
            sweep: SweepConfig::from_lookup(lookup)?,
            spend: SpendConfig::from_lookup(lookup)?,
        })
    }
}

/// burn-watch's configuration: the sweep it runs over the limit, and its
/// limits.
#[derive(Debug, Clone, PartialEq)]
pub struct BurnWatchConfig {
    pub common: Common,
    pub sweep: SweepConfig,
    pub burn: BurnConfig,
    /// Cost Explorer metric for month-to-date spend (`COST_METRIC`).
    pub cost_metric: CostMetric,
}

impl Settings for BurnWatchConfig {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let common = Common::from_lookup(lookup);
        let sweep = SweepConfig::from_lookup(lookup);
        let burn = BurnConfig::from_lookup(lookup);
        let metric = cost_metric_from(lookup("COST_METRIC"));
        Ok(BurnWatchConfig {
            common: common?,
            sweep: sweep?,
            burn: burn?,
            cost_metric: metric?,
        })
    }
}

/// weekly-check's configuration: the stack it checks, the table where it
/// remembers what the last run saw, and its schedule (for the message).
#[derive(Debug, Clone, PartialEq)]
pub struct WeeklyCheckConfig {
    pub common: Common,
    /// `STACK_NAME`: the stack the function belongs to (the template sets it).
    pub stack_name: String,
    /// `CHECK_STATE_TABLE`: the table of what the last run saw.
    pub state_table: String,
    /// `DOCTOR_SCHEDULE`: when it runs, quoted in the message.
    pub schedule: String,
}

impl Settings for WeeklyCheckConfig {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let common = Common::from_lookup(lookup);
        let stack = lookup("STACK_NAME");
        let table = lookup("CHECK_STATE_TABLE");
        let schedule = lookup("DOCTOR_SCHEDULE");
        Ok(WeeklyCheckConfig {
            common: common?,
            stack_name: named(
                "STACK_NAME",
                stack,
                |v| {
                    v.len() <= 128
                        && v.starts_with(|c: char| c.is_ascii_alphabetic())
                        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                },
                "a CloudFormation stack name (a letter, then letters, digits and -, at most 128)",
            )?,
            state_table: named(
                "CHECK_STATE_TABLE",
                table,
                |v| {
                    (3..=255).contains(&v.len())
                        && v.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
                },
                "a DynamoDB table name (3 to 255 letters, digits, _ . and -)",
            )?,
            schedule: schedule
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "its schedule".into()),
        })
    }
}

/// A required name: present, and of the shape `ok` accepts.
fn named(
    name: &'static str,
    value: Option<String>,
    ok: impl Fn(&str) -> bool,
    expected: &'static str,
) -> Result<String, ConfigError> {
    match value.map(|v| v.trim().to_string()) {
        Some(v) if ok(&v) => Ok(v),
        Some(v) if !v.is_empty() => Err(ConfigError::Invalid {
            name,
            value: v,
            expected,
        }),
        _ => Err(ConfigError::Missing {
            name,
            hint: expected,
        }),
    }
}

/// resume's configuration: where to look for what cost-guard stopped. What
/// to start comes with each invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct ResumeConfig {
    pub common: Common,
    pub regions: RegionScope,
    pub accounts: AccountsConfig,
    /// The key that opens what a stop saved (`SAVED_STATE_KEY_ARN`).
    pub saved_state_key: Option<String>,
}

impl Settings for ResumeConfig {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(ResumeConfig {
            common: Common::from_lookup(lookup)?,
            regions: regions_from(lookup("REGIONS"))?,
            accounts: AccountsConfig::from_lookup(lookup)?,
            saved_state_key: saved_state_key_from(lookup("SAVED_STATE_KEY_ARN"))?,
        })
    }
}

/// keep-stopped's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct KeepStoppedConfig {
    pub common: Common,
    /// A database with this tag (any value) is never stopped again.
    pub exempt_tag_key: String,
    pub accounts: AccountsConfig,
}

impl Settings for KeepStoppedConfig {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(KeepStoppedConfig {
            common: Common::from_lookup(lookup)?,
            exempt_tag_key: exempt_key_from(lookup)?,
            accounts: AccountsConfig::from_lookup(lookup)?,
        })
    }
}

/// launch-tripwire's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchTripwireConfig {
    pub common: Common,
    /// An instance with this tag (any value) is never stopped.
    pub exempt_tag_key: String,
    /// Report what would be stopped, stop nothing (`DRY_RUN`).
    pub dry_run: bool,
    pub accounts: AccountsConfig,
    pub tripwire: TripwireConfig,
    /// The key that seals what a stop saves (`SAVED_STATE_KEY_ARN`).
    pub saved_state_key: Option<String>,
}

impl Settings for LaunchTripwireConfig {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(LaunchTripwireConfig {
            common: Common::from_lookup(lookup)?,
            exempt_tag_key: exempt_key_from(lookup)?,
            dry_run: dry_run_from(lookup)?,
            accounts: AccountsConfig::from_lookup(lookup)?,
            tripwire: TripwireConfig::from_lookup(lookup)?,
            saved_state_key: saved_state_key_from(lookup("SAVED_STATE_KEY_ARN"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    use crate::domain::config::{RegionScope, Selection};

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:notify";

    fn config(pairs: &[(&str, &str)]) -> Result<StopOnOverspendConfig, ConfigError> {
        let mut vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        vars.entry("NOTIFY_TOPIC_ARN".into())
            .or_insert(TOPIC.into());
        StopOnOverspendConfig::from_map(&vars)
    }

    /// Every variable a configuration asks for, under a few settings (a
    /// reader may ask for a variable only when another one is set).
    fn asked_for<C: Settings>() -> std::collections::BTreeSet<String> {
        let asked = std::cell::RefCell::new(std::collections::BTreeSet::new());
        let settings: [&[(&str, &str)]; 3] = [
            &[],
            &[
                ("ACCOUNTS", "organization"),
                ("SELECTION", "all-except-exempt"),
            ],
            &[
                ("SPEND_LIMIT_USD", "100"),
                ("ROOT_LOGIN_ACTION", "stop"),
                ("ACCOUNTS", "111111111111"),
            ],
        ];
        for set in settings {
            let lookup = |name: &str| {
                asked.borrow_mut().insert(name.to_string());
                match name {
                    "NOTIFY_TOPIC_ARN" => Some(TOPIC.to_string()),
                    _ => set
                        .iter()
                        .find(|(k, _)| *k == name)
                        .map(|(_, v)| v.to_string()),
                }
            };
            let _ = C::from_lookup(&lookup);
        }
        asked.into_inner()
    }

    /// The variables each function reads, as `scripts/check-wiring.py`
    /// checks the template against them: scripts/function-vars.json is
    /// this, written out (the test prints it when they differ).
    #[test]
    fn the_variables_each_function_reads_are_the_ones_check_wiring_knows() {
        let read: std::collections::BTreeMap<&str, std::collections::BTreeSet<String>> = [
            ("stop-on-overspend", asked_for::<StopOnOverspendConfig>()),
            ("root-login-alert", asked_for::<RootLoginAlertConfig>()),
            ("spend-watch", asked_for::<SpendWatchConfig>()),
            ("resume", asked_for::<ResumeConfig>()),
            ("keep-stopped", asked_for::<KeepStoppedConfig>()),
            ("launch-tripwire", asked_for::<LaunchTripwireConfig>()),
            ("weekly-check", asked_for::<WeeklyCheckConfig>()),
            ("burn-watch", asked_for::<BurnWatchConfig>()),
        ]
        .into_iter()
        .collect();
        let want = serde_json::to_string_pretty(&read).unwrap() + "\n";
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/function-vars.json"
        );
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "scripts/function-vars.json is not what the functions read; it should be:\n{want}"
        );
    }

    #[test]
    fn defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.common.notify_topic_arn, TOPIC);
        assert_eq!(
            c.sweep.select.selection,
            Selection::Tagged {
                key: "cost-guard".into(),
                value: Some("stop".into())
            }
        );
        assert_eq!(c.sweep.select.exempt_tag_key, "cost-guard-exempt");
        assert_eq!(c.sweep.regions, RegionScope::AllEnabled);
        assert!(!c.sweep.dry_run);
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
        let err = StopOnOverspendConfig::from_map(&HashMap::new()).unwrap_err();
        assert!(err.to_string().starts_with("NOTIFY_TOPIC_ARN is required"));
        let err = config(&[("NOTIFY_TOPIC_ARN", "my-topic")]).unwrap_err();
        assert!(err.to_string().contains("NOTIFY_TOPIC_ARN=\"my-topic\""));
    }

    #[test]
    fn empty_stop_tag_value_means_any_value() {
        let c = config(&[("STOP_TAG_KEY", "team"), ("STOP_TAG_VALUE", "")]).unwrap();
        assert_eq!(
            c.sweep.select.selection,
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
        assert_eq!(c.sweep.select.selection, Selection::AllExceptExempt);
        assert_eq!(c.sweep.select.exempt_tag_key, "keep");
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
            c.sweep.select.selection,
            Selection::Tagged {
                key: "cost-guard".into(),
                value: Some("stop now".into())
            }
        );
    }

    #[test]
    fn tag_keys_and_values_within_the_lengths_aws_allows() {
        let value = |n: usize| config(&[("STOP_TAG_VALUE", &"v".repeat(n))]);
        assert!(value(256).is_ok());
        assert!(value(257)
            .unwrap_err()
            .to_string()
            .starts_with("STOP_TAG_VALUE="));
        let key = |n: usize| config(&[("STOP_TAG_KEY", &"k".repeat(n))]);
        assert!(key(128).is_ok());
        assert!(key(129)
            .unwrap_err()
            .to_string()
            .starts_with("STOP_TAG_KEY="));
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
        // IAM reads the exempt deny's key without case: every stop would be denied.
        let err = config(&[("STOP_TAG_KEY", "Cost-Guard-Exempt")]).unwrap_err();
        assert!(err.to_string().contains("in any case"), "{err}");
    }

    #[test]
    fn regions_list_is_trimmed_and_deduplicated() {
        let c = config(&[("REGIONS", " us-east-1, eu-west-1 ,us-east-1,")]).unwrap();
        assert_eq!(
            c.sweep.regions,
            RegionScope::List(vec!["us-east-1".into(), "eu-west-1".into()])
        );
        assert_eq!(
            config(&[("REGIONS", "ALL")]).unwrap().sweep.regions,
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
        assert!(c.sweep.dry_run);
        assert_eq!(
            c.anomaly,
            AnomalyAction::Stop {
                min_impact_usd: 250.5
            }
        );
    }

    #[test]
    fn the_weekly_check_names_its_stack_and_table_and_rejects_what_is_not_one() {
        let vars = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .chain([("NOTIFY_TOPIC_ARN".to_string(), TOPIC.to_string())])
                .collect()
        };
        let c = WeeklyCheckConfig::from_map(&vars(&[
            ("STACK_NAME", "cost-guard"),
            ("CHECK_STATE_TABLE", "cost-guard-WeeklyCheckState-1AB2"),
            ("DOCTOR_SCHEDULE", "rate(7 days)"),
        ]))
        .unwrap();
        assert_eq!(c.stack_name, "cost-guard");
        assert_eq!(c.state_table, "cost-guard-WeeklyCheckState-1AB2");
        assert_eq!(c.schedule, "rate(7 days)");
        let e = WeeklyCheckConfig::from_map(&vars(&[("CHECK_STATE_TABLE", "t12")])).unwrap_err();
        assert!(
            matches!(
                e,
                ConfigError::Missing {
                    name: "STACK_NAME",
                    ..
                }
            ),
            "{e}"
        );
        for bad in ["1stack", "cost guard", "stack;rm", &"s".repeat(129)] {
            let e = WeeklyCheckConfig::from_map(&vars(&[
                ("STACK_NAME", bad),
                ("CHECK_STATE_TABLE", "t12"),
            ]))
            .unwrap_err();
            assert!(
                matches!(
                    e,
                    ConfigError::Invalid {
                        name: "STACK_NAME",
                        ..
                    }
                ),
                "{bad}: {e}"
            );
        }
        for bad in ["ab", "a table", "t/12"] {
            let e = WeeklyCheckConfig::from_map(&vars(&[
                ("STACK_NAME", "s"),
                ("CHECK_STATE_TABLE", bad),
            ]))
            .unwrap_err();
            assert!(
                matches!(
                    e,
                    ConfigError::Invalid {
                        name: "CHECK_STATE_TABLE",
                        ..
                    }
                ),
                "{bad}: {e}"
            );
        }
        let c = WeeklyCheckConfig::from_map(&vars(&[
            ("STACK_NAME", "s"),
            ("CHECK_STATE_TABLE", "abc"),
        ]))
        .unwrap();
        assert_eq!(c.schedule, "its schedule");
    }
}
