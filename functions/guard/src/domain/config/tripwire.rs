//! The `TRIPWIRE_*` variables: what the launch tripwire counts as costly,
//! whom it trusts, and what it does.

use super::regions::is_region_name;
use super::{comma_list, ConfigError};

/// Default of `TRIPWIRE_INSTANCE_TYPES`: GPU and accelerator families
/// (p, g, inf, trn, dl, f, vt), very large memory (x, u-, u7), bare metal, and
/// every size of 16xlarge and above.
pub(crate) const DEFAULT_TRIPWIRE_TYPES: &str = "p*,g*,inf*,trn*,dl*,f*,vt*,x*,u-*,u7*,*.metal*,*.16xlarge,*.18xlarge,*.24xlarge,*.32xlarge,*.48xlarge,*.56xlarge,*.96xlarge,*.112xlarge,*.224xlarge,*.480xlarge";

/// What the tripwire does with a launch it judges costly or out of region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TripwireAction {
    /// Stop what was launched (default).
    Stop,
    /// Tell subscribers only.
    Alert,
}

/// Default of `TRIPWIRE_ECS_MAX_VCPU`.
pub const DEFAULT_ECS_MAX_VCPU: u32 = 4;

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
    /// `TRIPWIRE_ECS_MAX_VCPU`: an untrusted principal's ECS task larger than
    /// this many vCPU is suspicious (Fargate has no instance type).
    pub ecs_max_vcpu: u32,
    /// `TRIPWIRE_MARKS_TABLE`: the DynamoDB table where the tripwire remembers
    /// the spot requests and fleets untrusted principals made (the template
    /// sets it); without it, what they launch later is reported, not stopped.
    pub marks_table: Option<String>,
}

impl TripwireConfig {
    /// Reads the `TRIPWIRE_*` variables.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
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
            let ok = crate::domain::arn::Arn::parse(part).is_some()
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

        let vcpu_raw = lookup("TRIPWIRE_ECS_MAX_VCPU").unwrap_or_default();
        let ecs_max_vcpu = match vcpu_raw.trim() {
            "" => DEFAULT_ECS_MAX_VCPU,
            v => match v.parse::<u32>() {
                Ok(n) if (1..=192).contains(&n) => n,
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "TRIPWIRE_ECS_MAX_VCPU",
                        value: vcpu_raw,
                        expected: "a whole number of vCPU from 1 to 192 (default 4)",
                    })
                }
            },
        };

        Ok(TripwireConfig {
            costly_types,
            ecs_max_vcpu,
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

    #[test]
    fn the_ecs_task_size_limit_is_1_to_192_vcpu() {
        let with = |v: &str| {
            TripwireConfig::from_lookup(&|name| {
                (name == "TRIPWIRE_ECS_MAX_VCPU").then(|| v.to_string())
            })
        };
        assert_eq!(with("").unwrap().ecs_max_vcpu, DEFAULT_ECS_MAX_VCPU);
        assert_eq!(with("1").unwrap().ecs_max_vcpu, 1);
        assert_eq!(with("192").unwrap().ecs_max_vcpu, 192);
        for bad in ["0", "193", "-1", "4.5", "four"] {
            let err = with(bad).unwrap_err().to_string();
            assert!(err.starts_with("TRIPWIRE_ECS_MAX_VCPU="), "{bad}: {err}");
        }
    }

    /// The SAM parameter shows the user the same default the function applies
    /// to an empty value.
    #[test]
    fn template_default_of_tripwire_types_is_the_functions() {
        let template = include_str!("../../../../../template.yaml");
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
        let c = TripwireConfig::from_lookup(&|_| None).unwrap();
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
        let c = TripwireConfig::from_lookup(&|n| match n {
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
        let ids = TripwireConfig::from_lookup(&|n| match n {
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
            let err = TripwireConfig::from_lookup(&|n| (n == name).then(|| value.to_string()))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(&format!("{name}={value:?}")), "{err}");
            assert!(err.contains(expected), "{err}");
        }
    }
}
