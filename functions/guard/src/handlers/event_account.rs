//! Where an event-driven function (launch-tripwire, keep-stopped) acts: in
//! the guard's own account with its own role, or in the member account the
//! event comes from, through the role member.yaml made there for that
//! function alone. A member role is assumed once per account and cold start;
//! the SDK assumes it again before the credentials expire.

use std::collections::HashMap;

use crate::aws::{accounts, regions};
use crate::domain::accounts::{member_role_advice, AccountsConfig, EventAccount, MemberRole};

/// The guard's accounts, as one event-driven function reaches them.
pub(crate) struct EventAccounts {
    accounts: AccountsConfig,
    role: MemberRole,
    sdk: aws_types::SdkConfig,
    own: tokio::sync::OnceCell<String>,
    members: tokio::sync::Mutex<HashMap<String, aws_types::SdkConfig>>,
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

/// Why an event is not acted on.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The event is not the guard's: it comes from an account outside
    /// `ACCOUNTS`. Why, in a sentence.
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
        }
    }

    /// Where to act on an event that names `account`. With `ACCOUNTS=self`
    /// nothing is asked: every event is the guard's own account's, as before
    /// accounts existed.
    pub(crate) async fn place(&self, account: Option<&str>) -> Result<Place, Refused> {
        if self.accounts.is_single() || account.is_none() {
            return Ok(Place::Own);
        }
        let own = self
            .own
            .get_or_try_init(|| accounts::own_account(&self.sdk))
            .await
            .map_err(|e| Refused::Unreachable {
                account: account.unwrap_or_default().to_string(),
                why: format!(
                    "the guard's own account id could not be read: {e} ({})",
                    e.advice()
                ),
            })?;
        match self.accounts.event_account(Some(own), account) {
            EventAccount::Own => Ok(Place::Own),
            EventAccount::NotCovered(why) => Err(Refused::NotCovered(why)),
            EventAccount::Member => {
                let account = account.unwrap_or_default().to_string();
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

    /// The member role's credentials in `account`, assumed on first use.
    async fn member(&self, account: &str) -> Result<aws_types::SdkConfig, String> {
        let mut members = self.members.lock().await;
        if let Some(sdk) = members.get(account) {
            return Ok(sdk.clone());
        }
        let home = self
            .sdk
            .region()
            .map(|r| r.as_ref().to_string())
            .unwrap_or_else(|| "us-east-1".into());
        let arn = self
            .accounts
            .member_role_arn(regions::partition(&home), account, self.role);
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
}
