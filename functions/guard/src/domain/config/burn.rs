//! `BURN_LIMIT_USD_PER_HOUR`, `BURN_WARN_USD_PER_HOUR`, `MONTHLY_LIMIT_USD`,
//! `BURN_ACTION` and `BURN_STATE_TABLE`: burn-watch's limits and where it
//! remembers its last check.

use super::ConfigError;
use crate::domain::burn::usd::Usd;
use crate::domain::burn::watch::Limits;

#[derive(Debug, Clone, PartialEq)]
pub struct BurnConfig {
    pub limits: Limits,
    /// `BURN_STATE_TABLE`: the table of what the last check saw.
    pub state_table: String,
}

const DOLLARS: &str = "a number of US dollars such as 10 or 2.50, greater than zero";

/// A limit in dollars: plain decimal digits (`10`, `2.50`), more than zero.
/// `$` and thousands separators are taken as people write them. `None`
/// when unset, empty or `0` and `optional`.
fn dollars(
    name: &'static str,
    value: Option<String>,
    optional: bool,
) -> Result<Option<Usd>, ConfigError> {
    let text = value.as_deref().map(str::trim).unwrap_or("");
    if text.is_empty() || (optional && text == "0") {
        return if optional {
            Ok(None)
        } else {
            Err(ConfigError::Missing {
                name,
                hint: "set it to the US dollars an hour above which burn-watch stops the selection (the template sets it from BurnLimitUsdPerHour)",
            })
        };
    }
    let plain: String = text
        .trim_start_matches('$')
        .chars()
        .filter(|c| *c != ',')
        .collect();
    match Usd::parse(&plain) {
        Some(v) if v > Usd::ZERO => Ok(Some(v)),
        _ => Err(ConfigError::Invalid {
            name,
            value: text.to_string(),
            expected: DOLLARS,
        }),
    }
}

impl BurnConfig {
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        // Every variable is read before any is judged: the first error is
        // reported, and the wiring test sees every name.
        let limit = lookup("BURN_LIMIT_USD_PER_HOUR");
        let warn = lookup("BURN_WARN_USD_PER_HOUR");
        let monthly = lookup("MONTHLY_LIMIT_USD");
        let action = lookup("BURN_ACTION");
        let table = lookup("BURN_STATE_TABLE");

        let per_hour = dollars("BURN_LIMIT_USD_PER_HOUR", limit, false)?.unwrap_or(Usd::ZERO);
        let warn_per_hour = dollars("BURN_WARN_USD_PER_HOUR", warn.clone(), true)?;
        if warn_per_hour.is_some_and(|w| w >= per_hour) {
            return Err(ConfigError::Invalid {
                name: "BURN_WARN_USD_PER_HOUR",
                value: warn.unwrap_or_default(),
                expected: "less than BURN_LIMIT_USD_PER_HOUR (a warning above the limit would never be sent), or 0 for none",
            });
        }
        let monthly = dollars("MONTHLY_LIMIT_USD", monthly, true)?;
        let stop_on_projection = match action.as_deref().map(|a| a.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("alert") => false,
            Some("stop") => true,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "BURN_ACTION",
                    value: action.unwrap_or_default(),
                    expected: "`alert` (default: a month projected over MONTHLY_LIMIT_USD only alerts) or `stop`",
                })
            }
        };
        let state_table = match table.map(|t| t.trim().to_string()) {
            Some(t)
                if (3..=255).contains(&t.len())
                    && t.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) =>
            {
                t
            }
            Some(t) if !t.is_empty() => {
                return Err(ConfigError::Invalid {
                    name: "BURN_STATE_TABLE",
                    value: t,
                    expected: "a DynamoDB table name (3 to 255 letters, digits, _ . and -)",
                })
            }
            _ => {
                return Err(ConfigError::Missing {
                    name: "BURN_STATE_TABLE",
                    hint: "the DynamoDB table where burn-watch remembers its last check (the template sets it)",
                })
            }
        };
        Ok(BurnConfig {
            limits: Limits {
                per_hour,
                warn_per_hour,
                monthly,
                stop_on_projection,
            },
            state_table,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<BurnConfig, ConfigError> {
        BurnConfig::from_lookup(&|n| {
            pairs
                .iter()
                .chain(&[("BURN_STATE_TABLE", "cost-guard-BurnWatchState-1")])
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        })
    }

    fn usd(t: &str) -> Usd {
        Usd::parse(t).unwrap()
    }

    #[test]
    fn reads_the_limits() {
        let c = read(&[("BURN_LIMIT_USD_PER_HOUR", "10")]).unwrap();
        assert_eq!(c.limits.per_hour, usd("10"));
        assert_eq!(c.limits.warn_per_hour, None);
        assert_eq!(c.limits.monthly, None);
        assert!(!c.limits.stop_on_projection);
        assert_eq!(c.state_table, "cost-guard-BurnWatchState-1");
        let c = read(&[
            ("BURN_LIMIT_USD_PER_HOUR", "$2.50"),
            ("BURN_WARN_USD_PER_HOUR", "1"),
            ("MONTHLY_LIMIT_USD", "1,000"),
            ("BURN_ACTION", "Stop"),
        ])
        .unwrap();
        assert_eq!(c.limits.per_hour, usd("2.5"));
        assert_eq!(c.limits.warn_per_hour, Some(usd("1")));
        assert_eq!(c.limits.monthly, Some(usd("1000")));
        assert!(c.limits.stop_on_projection);
        let off = read(&[
            ("BURN_LIMIT_USD_PER_HOUR", "1"),
            ("BURN_WARN_USD_PER_HOUR", "0"),
            ("MONTHLY_LIMIT_USD", "0"),
        ])
        .unwrap();
        assert_eq!((off.limits.warn_per_hour, off.limits.monthly), (None, None));
        // The template's default action.
        let alert = read(&[("BURN_LIMIT_USD_PER_HOUR", "1"), ("BURN_ACTION", "alert")]).unwrap();
        assert!(!alert.limits.stop_on_projection);
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let name = |pairs: &[(&str, &str)]| match read(pairs).unwrap_err() {
            ConfigError::Missing { name, .. } | ConfigError::Invalid { name, .. } => name,
        };
        assert_eq!(name(&[]), "BURN_LIMIT_USD_PER_HOUR");
        for bad in ["0", "-1", "ten", "1e3", "NaN"] {
            assert_eq!(
                name(&[("BURN_LIMIT_USD_PER_HOUR", bad)]),
                "BURN_LIMIT_USD_PER_HOUR",
                "{bad}"
            );
        }
        let with =
            |k: &'static str, v: &'static str| name(&[("BURN_LIMIT_USD_PER_HOUR", "10"), (k, v)]);
        assert_eq!(
            with("BURN_WARN_USD_PER_HOUR", "10"),
            "BURN_WARN_USD_PER_HOUR"
        );
        assert_eq!(
            with("BURN_WARN_USD_PER_HOUR", "x"),
            "BURN_WARN_USD_PER_HOUR"
        );
        assert_eq!(with("MONTHLY_LIMIT_USD", "-5"), "MONTHLY_LIMIT_USD");
        assert_eq!(with("BURN_ACTION", "terminate"), "BURN_ACTION");
        let table = BurnConfig::from_lookup(&|n| match n {
            "BURN_LIMIT_USD_PER_HOUR" => Some("10".into()),
            "BURN_STATE_TABLE" => Some("a table".into()),
            _ => None,
        })
        .unwrap_err();
        assert!(
            matches!(
                table,
                ConfigError::Invalid {
                    name: "BURN_STATE_TABLE",
                    ..
                }
            ),
            "{table}"
        );
        let missing =
            BurnConfig::from_lookup(&|n| (n == "BURN_LIMIT_USD_PER_HOUR").then(|| "10".into()))
                .unwrap_err();
        assert!(
            matches!(
                missing,
                ConfigError::Missing {
                    name: "BURN_STATE_TABLE",
                    ..
                }
            ),
            "{missing}"
        );
    }

    #[test]
    fn an_empty_table_name_is_missing_not_invalid() {
        let e = BurnConfig::from_lookup(&|n| match n {
            "BURN_LIMIT_USD_PER_HOUR" => Some("10".into()),
            "BURN_STATE_TABLE" => Some("  ".into()),
            _ => None,
        })
        .unwrap_err();
        assert!(
            matches!(
                e,
                ConfigError::Missing {
                    name: "BURN_STATE_TABLE",
                    ..
                }
            ),
            "{e}"
        );
    }
}
