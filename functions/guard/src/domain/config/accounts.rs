//! `ACCOUNTS` and its companions: which accounts a sweep covers, the roles
//! member.yaml makes in each, and the sweep queue.

use super::ConfigError;

/// Default of `MEMBER_ROLE_NAME`: the role member.yaml creates in each account.
pub(crate) const DEFAULT_MEMBER_ROLE: &str = "cost-guard-member";
/// Default of `MEMBER_EXTERNAL_ID` (member.yaml's `ExternalId` default).
pub(crate) const DEFAULT_EXTERNAL_ID: &str = "cost-guard";
/// Default of `FANOUT_ABOVE`: above this many accounts, a sweep goes through
/// the queue, one message per account. Measured with `cost-guard-bench org`
/// (docs/performance.md): one invocation swept 51 accounts x 3 regions in
/// 3.8 s and 201 in 19.5 s (20.6 s with 50 ms per request), at 34 to 42 MiB.
/// Up to 50 a sweep is done in seconds with no queue in between; above, each
/// account gets its own invocation, time budget and retries.
pub(crate) const DEFAULT_FANOUT_ABOVE: usize = 50;

/// `ACCOUNTS`: which accounts a sweep covers.
#[derive(Debug, Clone, PartialEq)]
pub enum AccountScope {
    /// The account the guard runs in (default).
    This,
    /// Every ACTIVE account that Organizations lists, this one included.
    Organization,
    /// Exactly these account ids.
    List(Vec<String>),
}

/// `ORG_SCOPE`: what an alert that names its account sweeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgScope {
    /// Only the account the alert names (default).
    AlertingAccount,
    /// Every account in `ACCOUNTS`, whatever the alert names.
    All,
}

/// Everything about accounts, read at cold start.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountsConfig {
    pub scope: AccountScope,
    /// The role assumed in every account but the guard's own.
    pub member_role: String,
    /// The `sts:ExternalId` the member role's trust policy requires.
    pub external_id: String,
    pub org_scope: OrgScope,
    /// Above this many accounts, one queue message per account.
    pub fanout_above: usize,
    /// The sweep queue and its results queue (`SWEEP_QUEUE_URL`,
    /// `RESULTS_QUEUE_URL`); without them every sweep runs in one invocation.
    pub queue: Option<QueueConfig>,
}

/// Where a sweep of many accounts goes, one message per account.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueConfig {
    /// Consumed by the worker: one message per account, and the summary job.
    pub sweep_url: String,
    /// Where workers leave what each account's sweep did, for the summary.
    pub results_url: String,
    /// How long after the dispatch the summary first looks at the results,
    /// and then waits between looks (`SUMMARY_DELAY_SECONDS`, 0 to 900).
    pub summary_delay_s: u32,
}

/// Default of `SUMMARY_DELAY_SECONDS`.
pub(crate) const DEFAULT_SUMMARY_DELAY_S: u32 = 120;

impl Default for AccountsConfig {
    fn default() -> Self {
        AccountsConfig {
            scope: AccountScope::This,
            member_role: DEFAULT_MEMBER_ROLE.into(),
            external_id: DEFAULT_EXTERNAL_ID.into(),
            org_scope: OrgScope::AlertingAccount,
            fanout_above: DEFAULT_FANOUT_ABOVE,
            queue: None,
        }
    }
}

impl AccountsConfig {
    /// Reads `ACCOUNTS`, `MEMBER_ROLE_NAME`, `MEMBER_EXTERNAL_ID`, `ORG_SCOPE`
    /// and `FANOUT_ABOVE`.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(AccountsConfig {
            scope: scope_from(lookup("ACCOUNTS"))?,
            member_role: role_name_from(lookup("MEMBER_ROLE_NAME"))?,
            external_id: external_id_from(lookup("MEMBER_EXTERNAL_ID"))?,
            org_scope: org_scope_from(lookup("ORG_SCOPE"))?,
            fanout_above: fanout_from(lookup("FANOUT_ABOVE"))?,
            queue: queue_from(lookup)?,
        })
    }

    /// The guard's own account only: today's single-account behaviour.
    pub(crate) fn is_single(&self) -> bool {
        self.scope == AccountScope::This
    }

    /// The ARN of one of member.yaml's roles in `account`.
    pub(crate) fn member_role_arn(
        &self,
        partition: &str,
        account: &str,
        role: MemberRole,
    ) -> String {
        format!(
            "arn:{partition}:iam::{account}:role/{}{}",
            self.member_role,
            role.suffix()
        )
    }
}

/// The roles member.yaml creates in an account: one per function of the
/// guard that acts there, each trusting that function's role alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberRole {
    /// The sweep's and resume's (`MEMBER_ROLE_NAME`): stops only the
    /// selection, starts only what is being resumed.
    Sweep,
    /// launch-tripwire's: stops exactly what an untrusted principal launched,
    /// whatever its tags.
    Tripwire,
    /// keep-stopped's: stops again only stamped databases.
    KeepStopped,
}

impl MemberRole {
    /// Every role member.yaml makes.
    pub(crate) const ALL: [MemberRole; 3] = [
        MemberRole::Sweep,
        MemberRole::Tripwire,
        MemberRole::KeepStopped,
    ];

    /// What member.yaml appends to `MEMBER_ROLE_NAME` for this role.
    pub(crate) fn suffix(self) -> &'static str {
        match self {
            MemberRole::Sweep => "",
            MemberRole::Tripwire => "-tripwire",
            MemberRole::KeepStopped => "-keep-stopped",
        }
    }
}

/// The longest `MEMBER_ROLE_NAME`: IAM role names have at most 64
/// characters, and member.yaml appends `-keep-stopped` for one of its roles.
pub(crate) const MAX_MEMBER_ROLE_NAME: usize = 64 - "-keep-stopped".len();

/// Twelve digits.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

fn scope_from(value: Option<String>) -> Result<AccountScope, ConfigError> {
    let raw = value.unwrap_or_default();
    let text = raw.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("self") {
        return Ok(AccountScope::This);
    }
    if text.eq_ignore_ascii_case("organization") {
        return Ok(AccountScope::Organization);
    }
    let mut ids: Vec<String> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if !is_account_id(part) {
            return Err(ConfigError::Invalid {
                name: "ACCOUNTS",
                value: raw.clone(),
                expected:
                    "`self` (default), `organization`, or a comma list of 12-digit account ids",
            });
        }
        if !ids.iter().any(|i| i == part) {
            ids.push(part.to_string());
        }
    }
    if ids.is_empty() {
        return Err(ConfigError::Invalid {
            name: "ACCOUNTS",
            value: raw,
            expected: "`self` (default), `organization`, or a comma list of 12-digit account ids",
        });
    }
    Ok(AccountScope::List(ids))
}

fn role_name_from(value: Option<String>) -> Result<String, ConfigError> {
    let raw = value.unwrap_or_default();
    let name = raw.trim();
    if name.is_empty() {
        return Ok(DEFAULT_MEMBER_ROLE.into());
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    if name.len() <= MAX_MEMBER_ROLE_NAME && name.chars().all(allowed) {
        return Ok(name.to_string());
    }
    Err(ConfigError::Invalid {
        name: "MEMBER_ROLE_NAME",
        value: raw,
        expected:
            "an IAM role name (letters, digits and +=,.@_-, at most 51: member.yaml appends -keep-stopped), default cost-guard-member",
    })
}

fn external_id_from(value: Option<String>) -> Result<String, ConfigError> {
    let raw = value.unwrap_or_default();
    if raw.is_empty() {
        return Ok(DEFAULT_EXTERNAL_ID.into());
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "+=,.@:/_-".contains(c);
    if (2..=1224).contains(&raw.len()) && raw.chars().all(allowed) {
        return Ok(raw);
    }
    Err(ConfigError::Invalid {
        name: "MEMBER_EXTERNAL_ID",
        value: raw,
        expected: "2 to 1224 characters of letters, digits and +=,.@:/_- (what STS accepts as an external id), the same as member.yaml's ExternalId",
    })
}

fn org_scope_from(value: Option<String>) -> Result<OrgScope, ConfigError> {
    let raw = value.unwrap_or_default();
    match raw.trim().to_ascii_lowercase().as_str() {
        "" | "alerting-account" => Ok(OrgScope::AlertingAccount),
        "all" => Ok(OrgScope::All),
        _ => Err(ConfigError::Invalid {
            name: "ORG_SCOPE",
            value: raw,
            expected: "`alerting-account` (default) or `all`",
        }),
    }
}

fn queue_from(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Option<QueueConfig>, ConfigError> {
    let url = |name: &'static str| -> Result<Option<String>, ConfigError> {
        let raw = lookup(name).unwrap_or_default();
        let text = raw.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if (text.starts_with("https://") || text.starts_with("http://")) && text.len() > 10 {
            return Ok(Some(text.to_string()));
        }
        Err(ConfigError::Invalid {
            name,
            value: raw,
            expected: "an SQS queue URL such as https://sqs.us-east-1.amazonaws.com/123456789012/cost-guard-sweep",
        })
    };
    let sweep = url("SWEEP_QUEUE_URL")?;
    let results = url("RESULTS_QUEUE_URL")?;
    let delay_raw = lookup("SUMMARY_DELAY_SECONDS").unwrap_or_default();
    let summary_delay_s = match delay_raw.trim() {
        "" => DEFAULT_SUMMARY_DELAY_S,
        text => text
            .parse::<u32>()
            .ok()
            .filter(|s| *s <= 900)
            .ok_or(ConfigError::Invalid {
                name: "SUMMARY_DELAY_SECONDS",
                value: delay_raw.clone(),
                expected:
                    "a whole number of seconds from 0 to 900 (SQS's longest delay), default 120",
            })?,
    };
    match (sweep, results) {
        (None, None) => Ok(None),
        (Some(sweep_url), Some(results_url)) => Ok(Some(QueueConfig {
            sweep_url,
            results_url,
            summary_delay_s,
        })),
        (Some(_), None) => Err(ConfigError::Missing {
            name: "RESULTS_QUEUE_URL",
            hint: "SWEEP_QUEUE_URL is set: set the results queue too (the template sets both)",
        }),
        (None, Some(_)) => Err(ConfigError::Missing {
            name: "SWEEP_QUEUE_URL",
            hint: "RESULTS_QUEUE_URL is set: set the sweep queue too (the template sets both)",
        }),
    }
}

fn fanout_from(value: Option<String>) -> Result<usize, ConfigError> {
    let raw = value.unwrap_or_default();
    let text = raw.trim();
    if text.is_empty() {
        return Ok(DEFAULT_FANOUT_ABOVE);
    }
    text.parse::<usize>()
        .ok()
        .filter(|n| (1..=100_000).contains(n))
        .ok_or(ConfigError::Invalid {
            name: "FANOUT_ABOVE",
            value: raw,
            expected: "a whole number of accounts from 1 to 100000 (default 50)",
        })
}
