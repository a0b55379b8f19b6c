//! Which AWS accounts a sweep covers: this one (the default), every active
//! account of the organization, or a list; and, for an alert that names its
//! account, whether only that one is swept. Pure.

use serde::{Deserialize, Serialize};

pub use crate::domain::config::accounts::{
    is_account_id, AccountScope, AccountsConfig, MemberRole, OrgScope, QueueConfig,
};

/// Where an event-driven function (launch-tripwire, keep-stopped) acts on
/// an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EventAccount {
    /// In the guard's own account, with its own role.
    Own,
    /// In the member account the event comes from, through its member role.
    Member,
    /// Nowhere: why.
    NotCovered(String),
}

impl AccountsConfig {
    /// Whether an event from `account` is this guard's to act on, and with
    /// which credentials. `own` is the guard's account id. The account comes
    /// from the event, which a shared or central event bus can carry from
    /// accounts the guard does not cover: acting on such an event would stop
    /// an instance of the same id, or quarantine a user of the same name,
    /// here. So an event is acted on only in an account the guard covers, and
    /// one that names no account is not acted on.
    pub(crate) fn event_account(&self, own: &str, account: Option<&str>) -> EventAccount {
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
pub(crate) struct Targets {
    pub sweep: Vec<Account>,
    pub left_out: Vec<AccountStatus>,
}

/// Chooses the accounts to sweep. `own` is the guard's account; `listed` what
/// Organizations lists (`None` when it was not asked); `named` the accounts the
/// alert concerns (`None` for alerts about the whole bill).
pub(crate) fn targets(
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
pub(crate) fn member_role_advice(config: &AccountsConfig, role: MemberRole) -> String {
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
pub(crate) fn unreachable_advice(config: &AccountsConfig) -> String {
    format!(
        "deploy member.yaml to this account (role {}, ExternalId as MEMBER_EXTERNAL_ID), or take it out of ACCOUNTS",
        config.member_role
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::accounts::MAX_MEMBER_ROLE_NAME;
    use crate::domain::config::ConfigError;

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
    fn the_advice_names_the_role_to_deploy_and_the_parameter_that_makes_it() {
        let c =
            AccountsConfig::from_lookup(&lookup(&[("MEMBER_ROLE_NAME", "guard-member")])).unwrap();
        let sweep = member_role_advice(&c, MemberRole::Sweep);
        assert_eq!(sweep, unreachable_advice(&c));
        assert_eq!(
            sweep,
            "deploy member.yaml to this account (role guard-member, ExternalId as MEMBER_EXTERNAL_ID), or take it out of ACCOUNTS"
        );
        assert_eq!(
            member_role_advice(&c, MemberRole::Tripwire),
            "deploy member.yaml to this account with TripwireRoleArn (the guard's output MemberTripwireTrustedRole) set, which creates role guard-member-tripwire, or take the account out of ACCOUNTS"
        );
        assert!(member_role_advice(&c, MemberRole::KeepStopped).contains(
            "with KeepStoppedRoleArn (the guard's output MemberKeepStoppedTrustedRole) set, which creates role guard-member-keep-stopped,"
        ));
    }

    #[test]
    fn an_account_without_a_name_is_labelled_by_its_id_alone() {
        let named = Account {
            id: "111111111111".into(),
            name: Some("team-a".into()),
        };
        assert_eq!(named.label(), "111111111111 (team-a)");
        let blank = Account {
            name: Some(String::new()),
            ..named
        };
        assert_eq!(blank.label(), "111111111111");
        assert_eq!(Account::new("222222222222").label(), "222222222222");
    }

    #[test]
    fn defaults_keep_one_account() {
        let c = AccountsConfig::from_lookup(&lookup(&[])).unwrap();
        assert_eq!(c, AccountsConfig::default());
        assert!(c.is_single());
        assert_eq!(
            c.member_role_arn("aws", "111111111111", MemberRole::Sweep),
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
        // A URL is https:// or http:// and something after it.
        let with = |sweep: &str| {
            AccountsConfig::from_lookup(&lookup(&[
                ("SWEEP_QUEUE_URL", sweep),
                ("RESULTS_QUEUE_URL", "http://localhost:4566/results"),
            ]))
        };
        assert!(with("http://a.b").is_err());
        assert!(with("http://a.bc").is_ok());
        assert!(with("sqs.us-east-1.amazonaws.com/123456789012/sweep").is_err());
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
