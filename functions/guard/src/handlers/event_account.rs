//! Where an event-driven function (launch-tripwire, keep-stopped) acts: in
//! the guard's own account with its own role, or in the member account the
//! event comes from, through the role member.yaml made there for that
//! function alone; or nowhere, when the event comes from an account the guard
//! does not cover. A member role is assumed once per account and cold start;
//! the SDK assumes it again before the credentials expire.
//!
//! The guard's own account id comes from the function's ARN in Lambda's
//! context when the runtime hands it in, else from one `GetCallerIdentity`
//! per cold start.

use std::collections::HashMap;

use crate::aws::{accounts, iam, regions};
use crate::domain::accounts::{member_role_advice, AccountsConfig, EventAccount, MemberRole};
use crate::domain::tripwire::GuardRoles;

/// The guard's accounts, as one event-driven function reaches them.
pub(crate) struct EventAccounts {
    accounts: AccountsConfig,
    role: MemberRole,
    sdk: aws_types::SdkConfig,
    own: tokio::sync::OnceCell<String>,
    members: tokio::sync::Mutex<HashMap<String, aws_types::SdkConfig>>,
    /// Each member account's guard roles, as member.yaml tagged them.
    member_roles: tokio::sync::Mutex<HashMap<String, GuardRoles>>,
}

/// Where an event is acted on.
pub(crate) enum Place {
    /// The guard's own account: the function's own clients.
    Own,
    /// A member account, with credentials of its member role there.
    Member {
        account: String,
        sdk: Box<aws_types::SdkConfig>,
    },
}

/// Which account an event is acted in, before any credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Located {
    Own(String),
    Member(String),
}

impl Located {
    pub(crate) fn account(&self) -> &str {
        match self {
            Located::Own(a) | Located::Member(a) => a,
        }
    }
}

/// Why an event is not acted on.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The event is not the guard's: it comes from an account the guard does
    /// not cover, or names none. Why, in a sentence.
    NotCovered(String),
    /// It is, but the account cannot be reached: what failed, and the fix.
    Unreachable { account: String, why: String },
}

impl EventAccounts {
    pub(crate) fn new(
        accounts: AccountsConfig,
        role: MemberRole,
        sdk: &aws_types::SdkConfig,
    ) -> EventAccounts {
        EventAccounts {
            accounts,
            role,
            sdk: sdk.clone(),
            own: tokio::sync::OnceCell::new(),
            members: tokio::sync::Mutex::default(),
            member_roles: tokio::sync::Mutex::default(),
        }
    }

    /// Learns the guard's own account from the function's ARN, which Lambda
    /// hands every invocation (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`),
    /// so that no `GetCallerIdentity` is needed.
    pub(crate) fn learn_own_account(&self, function_arn: &str) {
        if let Some(account) = function_arn
            .split(':')
            .nth(4)
            .filter(|a| a.len() == 12 && a.chars().all(|c| c.is_ascii_digit()))
        {
            let _ = self.own.set(account.to_string());
        }
    }

    /// The guard's own account, once known.
    pub(crate) fn own_account(&self) -> Option<&str> {
        self.own.get().map(String::as_str)
    }

    /// Whether an event that names `account` is the guard's, and in which
    /// account it is acted on; nothing is assumed yet.
    pub(crate) async fn locate(&self, account: Option<&str>) -> Result<Located, Refused> {
        let own = self
            .own
            .get_or_try_init(|| accounts::own_account(&self.sdk))
            .await
            .map_err(|e| Refused::Unreachable {
                account: account.unwrap_or("unknown").to_string(),
                why: format!(
                    "the guard's own account id could not be read, so it cannot tell whether the event is its own: {e} ({})",
                    e.advice()
                ),
            })?;
        match self.accounts.event_account(own, account) {
            EventAccount::Own => Ok(Located::Own(own.clone())),
            EventAccount::NotCovered(why) => Err(Refused::NotCovered(why)),
            EventAccount::Member => Ok(Located::Member(account.unwrap_or_default().to_string())),
        }
    }

    /// Credentials to act where `located` says: the function's own for its
    /// own account, the member role's in a member account.
    pub(crate) async fn reach(&self, located: Located) -> Result<Place, Refused> {
        match located {
            Located::Own(_) => Ok(Place::Own),
            Located::Member(account) => {
                let sdk = self
                    .member(&account)
                    .await
                    .map_err(|why| Refused::Unreachable {
                        account: account.clone(),
                        why,
                    })?;
                Ok(Place::Member {
                    account,
                    sdk: Box::new(sdk),
                })
            }
        }
    }

    /// Where to act on an event that names `account`, with credentials there.
    pub(crate) async fn place(&self, account: Option<&str>) -> Result<Place, Refused> {
        let located = self.locate(account).await?;
        self.reach(located).await
    }

    /// The member role's credentials in `account`, assumed on first use.
    async fn member(&self, account: &str) -> Result<aws_types::SdkConfig, String> {
        let mut members = self.members.lock().await;
        if let Some(sdk) = members.get(account) {
            return Ok(sdk.clone());
        }
        let arn = self.role_arn(account, self.role);
        let sdk = accounts::member_config(&self.sdk, &arn, &self.accounts.external_id)
            .await
            .map_err(|e| {
                let fix = if e.is_access_denied() {
                    member_role_advice(&self.accounts, self.role)
                } else {
                    e.advice().to_string()
                };
                format!("cannot assume {arn}: {e}; {fix}")
            })?;
        members.insert(account.to_string(), sdk.clone());
        Ok(sdk)
    }

    fn role_arn(&self, account: &str, role: MemberRole) -> String {
        let home = self
            .sdk
            .region()
            .map(|r| r.as_ref().to_string())
            .unwrap_or_else(|| "us-east-1".into());
        self.accounts
            .member_role_arn(regions::partition(&home), account, role)
    }

    /// The names of the roles member.yaml makes in every member account.
    pub(crate) fn member_role_names(&self) -> Vec<String> {
        [
            MemberRole::Sweep,
            MemberRole::Tripwire,
            MemberRole::KeepStopped,
        ]
        .iter()
        .map(|r| format!("{}{}", self.accounts.member_role, r.suffix()))
        .collect()
    }

    /// Whether `role_name` is one of the roles member.yaml makes.
    pub(crate) fn is_member_role_name(&self, role_name: &str) -> bool {
        [
            MemberRole::Sweep,
            MemberRole::Tripwire,
            MemberRole::KeepStopped,
        ]
        .iter()
        .any(|r| {
            role_name
                .strip_prefix(self.accounts.member_role.as_str())
                .is_some_and(|rest| rest == r.suffix())
        })
    }

    /// The unique ids of member.yaml's roles in a member account, read once
    /// per cold start from the tags member.yaml put on this function's own
    /// member role there (`sdk` holds its credentials). A role deleted and
    /// created anew under the same name has another id, so it is not
    /// trusted; when the ids cannot be read, no member role is.
    pub(crate) async fn member_roles(
        &self,
        account: &str,
        sdk: &aws_types::SdkConfig,
    ) -> GuardRoles {
        let mut cache = self.member_roles.lock().await;
        if let Some(roles) = cache.get(account) {
            return roles.clone();
        }
        let name = format!("{}{}", self.accounts.member_role, self.role.suffix());
        match iam::guard_roles(&aws_sdk_iam::Client::new(sdk), &name).await {
            Ok(roles) => {
                cache.insert(account.to_string(), roles.clone());
                roles
            }
            // Not kept: the next event asks again.
            Err(e) => {
                let why = format!(
                    "the ids of member.yaml's roles in account {account} could not be read from role {name}: {e} ({}); update the member stack to the current member.yaml",
                    e.advice()
                );
                tracing::warn!(account, %why, "member roles unknown: none trusted");
                GuardRoles {
                    unknown: Some(why),
                    ..Default::default()
                }
            }
        }
    }
}
