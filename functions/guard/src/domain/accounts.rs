//! Which AWS accounts a sweep covers: this one (the default), every active
//! account of the organization, or a list; and, for an alert that names its
//! account, whether only that one is swept. Pure.

use serde::{Deserialize, Serialize};

use crate::domain::config::ConfigError;

/// Default of `MEMBER_ROLE_NAME`: the role member.yaml creates in each account.
pub const DEFAULT_MEMBER_ROLE: &str = "cost-guard-member";
/// Default of `MEMBER_EXTERNAL_ID` (member.yaml's `ExternalId` default).
pub const DEFAULT_EXTERNAL_ID: &str = "cost-guard";
/// Default of `FANOUT_ABOVE`: above this many accounts, a sweep goes through
/// the queue, one message per account. Measured with `cost-guard-bench org`
/// (README, Performance): one invocation swept 51 accounts x 3 regions in
/// 3.8 s and 201 in 19.5 s (20.6 s with 50 ms per request), at 34 to 42 MiB.
/// Up to 50 a sweep is done in seconds with no queue in between; above, each
/// account gets its own invocation, time budget and retries.
pub const DEFAULT_FANOUT_ABOVE: usize = 50;

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
pub const DEFAULT_SUMMARY_DELAY_S: u32 = 120;

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
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
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
    pub fn is_single(&self) -> bool {
        self.scope == AccountScope::This
    }

    /// The member role's ARN in `account`.
    pub fn role_arn(&self, partition: &str, account: &str) -> String {
        self.member_role_arn(partition, account, MemberRole::Sweep)
    }

    /// The ARN of one of member.yaml's roles in `account`.
    pub fn member_role_arn(&self, partition: &str, account: &str, role: MemberRole) -> String {
        format!(
            "arn:{partition}:iam::{account}:role/{}{}",
            self.member_role,
            role.suffix()
        )
    }

    /// Whether an event from `account` is this guard's to act on, and with
    /// which credentials. `own` is the guard's account id. The account comes
    /// from the event, which a shared or central event bus can carry from
    /// accounts the guard does not cover: acting on such an event would stop
    /// an instance of the same id, or quarantine a user of the same name,
    /// here. So an event is acted on only in an account the guard covers, and
    /// one that names no account is not acted on.
    pub fn event_account(&self, own: &str, account: Option<&str>) -> EventAccount {
        let Some(account) = account else {
            return EventAccount::NotCovered("the event names no account".into());
        };
        if account == own {
            return EventAccount::Own;
        }
        if !is_account_id(account) {
            return EventAccount::NotCovered(format!(
                "the event names account {account:?}, which is not a 12-digit account id"
            ));
        }
        match &self.scope {
            AccountScope::This => EventAccount::NotCovered(format!(
                "it comes from account {account}, and this guard covers only its own account {own} (ACCOUNTS=self)"
            )),
            AccountScope::Organization => EventAccount::Member,
            AccountScope::List(ids) if ids.iter().any(|id| id == account) => EventAccount::Member,
            _ => EventAccount::NotCovered(format!(
                "it comes from account {account}, which is not one of the accounts in ACCOUNTS"
            )),
        }
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
    /// What member.yaml appends to `MEMBER_ROLE_NAME` for this role.
    pub fn suffix(self) -> &'static str {
        match self {
            MemberRole::Sweep => "",
            MemberRole::Tripwire => "-tripwire",
            MemberRole::KeepStopped => "-keep-stopped",
        }
    }
}

/// The longest `MEMBER_ROLE_NAME`: IAM role names have at most 64
/// characters, and member.yaml appends `-keep-stopped` for one of its roles.
pub const MAX_MEMBER_ROLE_NAME: usize = 64 - "-keep-stopped".len();

/// Where an event-driven function (launch-tripwire, keep-stopped) acts on
/// an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventAccount {
    /// In the guard's own account, with its own role.
    Own,
    /// In the member account the event comes from, through its member role.
    Member,
    /// Nowhere: why.
    NotCovered(String),
}

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

fn queue_from(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Option<QueueConfig>, ConfigError> {
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

/// An account, with its name when Organizations gave one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Account {
    pub fn new(id: &str) -> Account {
        Account {
            id: id.to_string(),
            name: None,
        }
    }

    /// `111111111111 (team-a)`, or the bare id.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) if !n.is_empty() => format!("{} ({n})", self.id),
            _ => self.id.clone(),
        }
    }
}

/// One account as Organizations lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedAccount {
    pub account: Account,
    /// `ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`.
    pub status: String,
}

/// What became of one account in a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", content = "detail", rename_all = "snake_case")]
pub enum AccountState {
    /// Swept: its regions are in the report.
    Swept,
    /// Its credentials could not be had: why, and the fix.
    Unreachable(String),
    /// Deliberately left out: why.
    NotSwept(String),
    /// Handed to the queue: a worker sweeps it and reports on its own.
    Queued,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountStatus {
    pub account: Account,
    #[serde(flatten)]
    pub state: AccountState,
}

/// The accounts one sweep covers, and those it leaves out with the reason.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Targets {
    pub sweep: Vec<Account>,
    pub left_out: Vec<AccountStatus>,
}

/// Chooses the accounts to sweep. `own` is the guard's account; `listed` what
/// Organizations lists (`None` when it was not asked); `named` the accounts the
/// alert concerns (`None` for alerts about the whole bill).
pub fn targets(
    config: &AccountsConfig,
    own: &str,
    listed: Option<&[ListedAccount]>,
    named: Option<&[String]>,
) -> Targets {
    let name_of = |id: &str| {
        listed
            .and_then(|l| l.iter().find(|a| a.account.id == id))
            .and_then(|a| a.account.name.clone())
    };
    let mut t = Targets::default();
    match &config.scope {
        AccountScope::This => t.sweep.push(Account {
            id: own.to_string(),
            name: name_of(own),
        }),
        AccountScope::List(ids) => t.sweep.extend(ids.iter().map(|id| Account {
            id: id.clone(),
            name: name_of(id),
        })),
        AccountScope::Organization => {
            for a in listed.unwrap_or_default() {
                if a.status.eq_ignore_ascii_case("ACTIVE") {
                    t.sweep.push(a.account.clone());
                } else {
                    t.left_out.push(AccountStatus {
                        account: a.account.clone(),
                        state: AccountState::NotSwept(format!(
                            "Organizations lists it as {}; only ACTIVE accounts are swept",
                            a.status
                        )),
                    });
                }
            }
        }
    }
    let named: Vec<&String> = named
        .unwrap_or_default()
        .iter()
        .filter(|id| is_account_id(id))
        .collect();
    if config.org_scope == OrgScope::AlertingAccount && !config.is_single() && !named.is_empty() {
        t.sweep.retain(|a| named.contains(&&a.id));
        // Accounts the alert does not name are not part of this incident.
        t.left_out.retain(|a| named.contains(&&a.account.id));
        for id in named {
            let known = t.sweep.iter().any(|a| &a.id == id)
                || t.left_out.iter().any(|a| &a.account.id == id);
            if !known {
                t.left_out.push(AccountStatus {
                    account: Account {
                        id: id.clone(),
                        name: name_of(id),
                    },
                    state: AccountState::NotSwept(
                        "the alert names it, but it is not one of the accounts in ACCOUNTS".into(),
                    ),
                });
            }
        }
    }
    t.sweep.sort();
    t.sweep.dedup();
    t
}

/// One of the event-driven functions' member roles is missing or denies:
/// what the administrator does.
pub fn member_role_advice(config: &AccountsConfig, role: MemberRole) -> String {
    let parameter = match role {
        MemberRole::Sweep => return unreachable_advice(config),
        MemberRole::Tripwire => "TripwireRoleArn (the guard's output MemberTripwireTrustedRole)",
        MemberRole::KeepStopped => {
            "KeepStoppedRoleArn (the guard's output MemberKeepStoppedTrustedRole)"
        }
    };
    format!(
        "deploy member.yaml to this account with {parameter} set, which creates role {}{}, or take the account out of ACCOUNTS",
        config.member_role,
        role.suffix()
    )
}

/// The member role's trust is missing or denies: what the administrator does.
pub fn unreachable_advice(config: &AccountsConfig) -> String {
    format!(
        "deploy member.yaml to this account (role {}, ExternalId as MEMBER_EXTERNAL_ID), or take it out of ACCOUNTS",
        config.member_role
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    fn listed(id: &str, name: &str, status: &str) -> ListedAccount {
        ListedAccount {
            account: Account {
                id: id.into(),
                name: Some(name.into()),
            },
            status: status.into(),
        }
    }

    const OWN: &str = "123456789012";

    fn org() -> Vec<ListedAccount> {
        vec![
            listed(OWN, "management", "ACTIVE"),
            listed("111111111111", "team-a", "ACTIVE"),
            listed("222222222222", "team-b", "SUSPENDED"),
            listed("333333333333", "team-c", "ACTIVE"),
            listed("444444444444", "leaving", "PENDING_CLOSURE"),
        ]
    }

    fn ids(t: &Targets) -> Vec<&str> {
        t.sweep.iter().map(|a| a.id.as_str()).collect()
    }

    #[test]
    fn defaults_keep_one_account() {
        let c = AccountsConfig::from_lookup(&lookup(&[])).unwrap();
        assert_eq!(c, AccountsConfig::default());
        assert!(c.is_single());
        assert_eq!(
            c.role_arn("aws", "111111111111"),
            "arn:aws:iam::111111111111:role/cost-guard-member"
        );
    }

    #[test]
    fn reads_every_setting() {
        let c = AccountsConfig::from_lookup(&lookup(&[
            ("ACCOUNTS", " 111111111111, 222222222222,111111111111 "),
            ("MEMBER_ROLE_NAME", "guard-role"),
            ("MEMBER_EXTERNAL_ID", "org-7f3a"),
            ("ORG_SCOPE", "ALL"),
            ("FANOUT_ABOVE", "10"),
        ]))
        .unwrap();
        assert_eq!(
            c.scope,
            AccountScope::List(vec!["111111111111".into(), "222222222222".into()])
        );
        assert_eq!(c.member_role, "guard-role");
        assert_eq!(c.external_id, "org-7f3a");
        assert_eq!(c.org_scope, OrgScope::All);
        assert_eq!(c.fanout_above, 10);
        let org = AccountsConfig::from_lookup(&lookup(&[("ACCOUNTS", "Organization")])).unwrap();
        assert_eq!(org.scope, AccountScope::Organization);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value) in [
            ("ACCOUNTS", "11111111111"),
            ("ACCOUNTS", "organisation"),
            ("ACCOUNTS", "111111111111;222222222222"),
            ("ACCOUNTS", " , "),
            ("MEMBER_ROLE_NAME", "role/with/path"),
            // 52 characters: with -keep-stopped, 65, one more than IAM allows.
            (
                "MEMBER_ROLE_NAME",
                "a-member-role-name-that-is-just-too-long-for-iam-xyz",
            ),
            ("MEMBER_EXTERNAL_ID", "x"),
            ("MEMBER_EXTERNAL_ID", "has space"),
            ("ORG_SCOPE", "alerting"),
            ("FANOUT_ABOVE", "0"),
            ("FANOUT_ABOVE", "lots"),
            ("SWEEP_QUEUE_URL", "cost-guard-sweep"),
            ("SUMMARY_DELAY_SECONDS", "901"),
        ] {
            match AccountsConfig::from_lookup(&lookup(&[(name, value)])) {
                Err(ConfigError::Invalid {
                    name: n, value: v, ..
                }) => {
                    assert_eq!((n, v.as_str()), (name, value))
                }
                other => panic!("{name}={value}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_longest_role_name_leaves_room_for_every_member_role() {
        let name = "r".repeat(MAX_MEMBER_ROLE_NAME);
        let c = AccountsConfig::from_lookup(&lookup(&[("MEMBER_ROLE_NAME", &name)])).unwrap();
        for role in [
            MemberRole::Sweep,
            MemberRole::Tripwire,
            MemberRole::KeepStopped,
        ] {
            let arn = c.member_role_arn("aws", "111111111111", role);
            let role_name = arn.rsplit('/').next().unwrap();
            assert!(role_name.len() <= 64, "{role_name}");
        }
        assert_eq!(
            c.member_role_arn("aws", "111111111111", MemberRole::Tripwire),
            format!("arn:aws:iam::111111111111:role/{name}-tripwire")
        );
    }

    #[test]
    fn events_are_acted_on_in_the_account_they_come_from_when_it_is_covered() {
        let own = "111111111111";
        let member = Some("222222222222");
        // One account: an event of another account (a shared event bus) is
        // not this guard's, nor is one that names no account.
        let single = AccountsConfig::default();
        assert_eq!(single.event_account(own, Some(own)), EventAccount::Own);
        assert!(matches!(
            single.event_account(own, member),
            EventAccount::NotCovered(why) if why.contains("222222222222") && why.contains("ACCOUNTS=self")
        ));
        assert!(matches!(
            single.event_account(own, None),
            EventAccount::NotCovered(why) if why.contains("names no account")
        ));
        let org = AccountsConfig {
            scope: AccountScope::Organization,
            ..AccountsConfig::default()
        };
        assert_eq!(org.event_account(own, Some(own)), EventAccount::Own);
        assert!(matches!(
            org.event_account(own, None),
            EventAccount::NotCovered(_)
        ));
        assert_eq!(org.event_account(own, member), EventAccount::Member);
        assert!(matches!(
            org.event_account(own, Some("22222222222x")),
            EventAccount::NotCovered(why) if why.contains("not a 12-digit account id")
        ));
        let list = AccountsConfig {
            scope: AccountScope::List(vec!["111111111111".into(), "222222222222".into()]),
            ..AccountsConfig::default()
        };
        assert_eq!(list.event_account(own, member), EventAccount::Member);
        assert!(matches!(
            list.event_account(own, Some("333333333333")),
            EventAccount::NotCovered(why) if why.contains("333333333333") && why.contains("ACCOUNTS")
        ));
    }

    #[test]
    fn the_two_queues_go_together() {
        let both = AccountsConfig::from_lookup(&lookup(&[
            (
                "SWEEP_QUEUE_URL",
                "https://sqs.us-east-1.amazonaws.com/123456789012/sweep",
            ),
            (
                "RESULTS_QUEUE_URL",
                "https://sqs.us-east-1.amazonaws.com/123456789012/results",
            ),
            ("SUMMARY_DELAY_SECONDS", "0"),
        ]))
        .unwrap();
        let q = both.queue.unwrap();
        assert_eq!(q.summary_delay_s, 0);
        assert!(q.results_url.ends_with("/results"));
        let half = AccountsConfig::from_lookup(&lookup(&[(
            "SWEEP_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/123456789012/sweep",
        )]));
        assert!(
            matches!(
                half,
                Err(ConfigError::Missing {
                    name: "RESULTS_QUEUE_URL",
                    ..
                })
            ),
            "{half:?}"
        );
    }

    #[test]
    fn organization_sweeps_active_accounts_and_reports_the_others() {
        let c = AccountsConfig {
            scope: AccountScope::Organization,
            org_scope: OrgScope::All,
            ..Default::default()
        };
        let t = targets(&c, OWN, Some(&org()), Some(&["111111111111".into()]));
        assert_eq!(ids(&t), ["111111111111", OWN, "333333333333"]);
        let left: Vec<(&str, &AccountState)> = t
            .left_out
            .iter()
            .map(|a| (a.account.id.as_str(), &a.state))
            .collect();
        assert_eq!(left.len(), 2);
        assert!(
            matches!(left[0], ("222222222222", AccountState::NotSwept(why)) if why.contains("SUSPENDED"))
        );
        assert!(
            matches!(left[1], ("444444444444", AccountState::NotSwept(why)) if why.contains("PENDING_CLOSURE"))
        );
    }

    #[test]
    fn alerting_account_scope_sweeps_the_named_account_only() {
        let c = AccountsConfig {
            scope: AccountScope::Organization,
            ..Default::default()
        };
        let t = targets(&c, OWN, Some(&org()), Some(&["333333333333".into()]));
        assert_eq!(ids(&t), ["333333333333"]);
        assert_eq!(t.sweep[0].name.as_deref(), Some("team-c"));
        assert!(t.left_out.is_empty(), "{:?}", t.left_out);
        // An alert about the whole bill names no account: every account.
        let t = targets(&c, OWN, Some(&org()), None);
        assert_eq!(ids(&t).len(), 3);
        // A named account outside ACCOUNTS is said, and nothing is swept.
        let t = targets(&c, OWN, Some(&org()), Some(&["999999999999".into()]));
        assert!(t.sweep.is_empty());
        assert!(
            matches!(&t.left_out[..], [AccountStatus { account, state: AccountState::NotSwept(_) }] if account.id == "999999999999")
        );
        // A suspended account the alert names is left out with its own reason.
        let t = targets(&c, OWN, Some(&org()), Some(&["222222222222".into()]));
        assert!(t.sweep.is_empty());
        assert!(
            matches!(&t.left_out[..], [AccountStatus { state: AccountState::NotSwept(why), .. }] if why.contains("SUSPENDED"))
        );
    }

    #[test]
    fn a_list_takes_names_from_organizations_when_known() {
        let c = AccountsConfig {
            scope: AccountScope::List(vec!["111111111111".into(), "555555555555".into()]),
            org_scope: OrgScope::All,
            ..Default::default()
        };
        let t = targets(&c, OWN, Some(&org()), None);
        assert_eq!(ids(&t), ["111111111111", "555555555555"]);
        assert_eq!(t.sweep[0].label(), "111111111111 (team-a)");
        assert_eq!(t.sweep[1].label(), "555555555555");
    }

    #[test]
    fn a_single_account_ignores_the_named_account() {
        // Today's behaviour: the guard sweeps its own account whatever the
        // alert says (a budget's account line may be the payer's).
        let t = targets(
            &AccountsConfig::default(),
            OWN,
            None,
            Some(&["111111111111".into()]),
        );
        assert_eq!(ids(&t), [OWN]);
    }
}
