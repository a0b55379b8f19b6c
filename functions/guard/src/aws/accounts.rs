//! Reaching accounts and regions, for every function and the command line
//! alike: the guard's own account id, the organization's list, credentials
//! in each member account through the role member.yaml made there for the
//! function (assumed once per account, role and cold start; the SDK assumes
//! it again before the credentials expire), and the regions to act in.
//!
//! The guard's own account id comes from the function's ARN in Lambda's
//! context when the runtime hands it in, else from one `GetCallerIdentity`
//! per cold start.

use std::collections::HashMap;
use std::sync::Arc;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_types::region::Region;
use aws_types::SdkConfig;

use crate::aws::{iam, regions};
use crate::domain::accounts::{
    member_role_advice, Account, AccountScope, AccountsConfig, EventAccount, ListedAccount,
    MemberRole, Targets,
};
use crate::domain::arn::Arn;
use crate::domain::config::RegionScope;
use crate::domain::error::AwsError;
use crate::domain::tripwire::GuardRoles;

/// Builds the clients a region needs. Real functions use [`SdkClients`];
/// fault tests hand in mocked clients per region.
pub trait RegionClients: Send + Sync {
    fn ec2(&self, region: &str) -> aws_sdk_ec2::Client;
    fn rds(&self, region: &str) -> aws_sdk_rds::Client;
    /// The configuration the other kinds' clients are built from, in
    /// `region`.
    fn config(&self, region: &str) -> SdkConfig;
}

/// Per-region clients from one shared `SdkConfig` (one HTTP connection pool).
#[derive(Clone)]
pub struct SdkClients {
    config: SdkConfig,
}

impl SdkClients {
    pub fn new(config: SdkConfig) -> Self {
        SdkClients { config }
    }
}

impl RegionClients for SdkClients {
    fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        let conf = aws_sdk_ec2::config::Builder::from(&self.config)
            .region(Region::new(region.to_string()))
            .build();
        aws_sdk_ec2::Client::from_conf(conf)
    }
    fn rds(&self, region: &str) -> aws_sdk_rds::Client {
        let conf = aws_sdk_rds::config::Builder::from(&self.config)
            .region(Region::new(region.to_string()))
            .build();
        aws_sdk_rds::Client::from_conf(conf)
    }
    fn config(&self, region: &str) -> SdkConfig {
        self.config
            .to_builder()
            .region(Region::new(region.to_string()))
            .build()
    }
}

/// The accounts and regions a fleet operation covers.
pub(crate) enum Coverage {
    /// The guard's own account only (`ACCOUNTS=self`), in these regions.
    OwnAccount(Vec<String>),
    /// Several accounts: the guard's own id, and those to cover.
    Accounts { own: String, targets: Targets },
}

/// One account's clients and regions, or why they cannot be had.
pub(crate) type AccountClients = Result<(Arc<dyn RegionClients>, Vec<String>), String>;

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

/// The credentials an event is acted on with.
pub(crate) enum Access {
    /// The guard's own account: the function's own clients.
    Own,
    /// A member account, with credentials of the function's member role.
    Member {
        account: String,
        sdk: Box<SdkConfig>,
    },
}

/// Why an event is not acted on.
#[derive(Debug)]
pub(crate) enum NoAccess {
    /// The event is not the guard's: it comes from an account the guard does
    /// not cover, or names none. Why, in a sentence.
    NotCovered(String),
    /// It is, but the account cannot be reached: what failed, and the fix.
    Unreachable { account: String, why: String },
}

/// The guard's accounts, as one function reaches them: with its own clients
/// in its own account, through `role` in every other.
pub(crate) struct Accounts {
    config: AccountsConfig,
    regions: RegionScope,
    role: MemberRole,
    /// `None` with mocked clients: the guard's own account only.
    sdk: Option<SdkConfig>,
    clients: Arc<dyn RegionClients>,
    /// Client in the function's own region, for `DescribeRegions`.
    home_ec2: aws_sdk_ec2::Client,
    own: tokio::sync::OnceCell<String>,
    /// Member credentials, by account (the role is this function's): one
    /// cell per account, so that accounts are assumed at once and each only
    /// once.
    members: std::sync::Mutex<HashMap<String, Arc<tokio::sync::OnceCell<SdkConfig>>>>,
    /// Each member account's guard roles, as member.yaml tagged them.
    member_roles: tokio::sync::Mutex<HashMap<String, GuardRoles>>,
}

impl Accounts {
    /// `role` is the member role this function assumes in other accounts.
    pub(crate) fn new(
        config: AccountsConfig,
        regions: RegionScope,
        role: MemberRole,
        sdk: &SdkConfig,
    ) -> Accounts {
        Accounts {
            config,
            regions,
            role,
            sdk: Some(sdk.clone()),
            clients: Arc::new(SdkClients::new(sdk.clone())),
            home_ec2: aws_sdk_ec2::Client::new(sdk),
            own: tokio::sync::OnceCell::new(),
            members: std::sync::Mutex::default(),
            member_roles: tokio::sync::Mutex::default(),
        }
    }

    /// The guard's own account only, with the given clients (the SDK fault
    /// tests hand in mocked ones).
    pub(crate) fn own_only(
        regions: RegionScope,
        clients: Arc<dyn RegionClients>,
        home_ec2: aws_sdk_ec2::Client,
    ) -> Accounts {
        Accounts {
            config: AccountsConfig::default(),
            regions,
            role: MemberRole::Sweep,
            sdk: None,
            clients,
            home_ec2,
            own: tokio::sync::OnceCell::new(),
            members: std::sync::Mutex::default(),
            member_roles: tokio::sync::Mutex::default(),
        }
    }

    pub(crate) fn config(&self) -> &AccountsConfig {
        &self.config
    }

    /// The function's own clients.
    pub(crate) fn own_clients(&self) -> &Arc<dyn RegionClients> {
        &self.clients
    }

    /// The region the function runs in.
    pub(crate) fn home_region(&self) -> String {
        self.sdk
            .as_ref()
            .and_then(|s| s.region())
            .map(|r| r.as_ref().to_string())
            .unwrap_or_else(|| "us-east-1".into())
    }

    /// Learns the guard's own account from the function's ARN, which Lambda
    /// hands every invocation (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`),
    /// so that no `GetCallerIdentity` is needed.
    pub(crate) fn learn_own_account(&self, function_arn: &str) {
        if let Some(account) = Arn::parse(function_arn).and_then(|a| a.account_id()) {
            let _ = self.own.set(account.to_string());
        }
    }

    /// The guard's own account, once known.
    pub(crate) fn known_own_account(&self) -> Option<&str> {
        self.own.get().map(String::as_str)
    }

    /// The guard's own account id, asked once per cold start.
    pub(crate) async fn own_account(&self) -> Result<String, AwsError> {
        let Some(sdk) = &self.sdk else {
            return Err(AwsError::new(
                "sts:GetCallerIdentity",
                "NotConfigured",
                "this function reaches its own account only",
            ));
        };
        self.own.get_or_try_init(|| own_account(sdk)).await.cloned()
    }

    /// The accounts (and, for the guard's own account alone, the regions) to
    /// cover for an alert that names `named`. Fails when they cannot be read.
    pub(crate) async fn coverage(&self, named: Option<&[String]>) -> Result<Coverage, AwsError> {
        let sdk = match &self.sdk {
            Some(sdk) if !self.config.is_single() => sdk,
            _ => {
                return Ok(Coverage::OwnAccount(
                    regions::resolve(&self.regions, &self.home_ec2).await?,
                ))
            }
        };
        let own = self.own_account().await?;
        let organizations = aws_sdk_organizations::Client::new(sdk);
        let listed = match &self.config.scope {
            AccountScope::Organization => Some(list_organization(&organizations).await?),
            // Names only: a guard outside the management account may not
            // list the organization, and a list of ids needs no names.
            AccountScope::List(_) => list_organization(&organizations)
                .await
                .inspect_err(|e| tracing::info!(error = %e, "account names unavailable"))
                .ok(),
            AccountScope::This => None,
        };
        let targets =
            crate::domain::accounts::targets(&self.config, &own, listed.as_deref(), named);
        Ok(Coverage::Accounts { own, targets })
    }

    /// The clients and regions of one account: the guard's own, or those of
    /// its member role; or why they cannot be had.
    pub(crate) async fn account_clients(&self, own: &str, account: &Account) -> AccountClients {
        let clients: Arc<dyn RegionClients> = if account.id == own {
            self.clients.clone()
        } else {
            Arc::new(SdkClients::new(self.member(&account.id).await?))
        };
        let regions = match &self.regions {
            RegionScope::List(list) => list.clone(),
            RegionScope::AllEnabled => regions::enabled_regions(&clients.ec2(&self.home_region()))
                .await
                .map_err(|e| format!("{e} ({})", e.advice()))?,
        };
        Ok((clients, regions))
    }

    /// Whether an event that names `account` is the guard's, and in which
    /// account it is acted on; nothing is assumed yet.
    pub(crate) async fn locate(&self, account: Option<&str>) -> Result<Located, NoAccess> {
        let own = self.own_account().await.map_err(|e| NoAccess::Unreachable {
            account: account.unwrap_or("unknown").to_string(),
            why: format!(
                "the guard's own account id could not be read, so it cannot tell whether the event is its own: {e} ({})",
                e.advice()
            ),
        })?;
        match self.config.event_account(&own, account) {
            EventAccount::Own => Ok(Located::Own(own)),
            EventAccount::NotCovered(why) => Err(NoAccess::NotCovered(why)),
            EventAccount::Member => Ok(Located::Member(account.unwrap_or_default().to_string())),
        }
    }

    /// Credentials to act where `located` says: the function's own for its
    /// own account, the member role's in a member account.
    pub(crate) async fn access(&self, located: Located) -> Result<Access, NoAccess> {
        match located {
            Located::Own(_) => Ok(Access::Own),
            Located::Member(account) => {
                let sdk = self
                    .member(&account)
                    .await
                    .map_err(|why| NoAccess::Unreachable {
                        account: account.clone(),
                        why,
                    })?;
                Ok(Access::Member {
                    account,
                    sdk: Box::new(sdk),
                })
            }
        }
    }

    /// Where to act on an event that names `account`, with credentials there.
    pub(crate) async fn event_access(&self, account: Option<&str>) -> Result<Access, NoAccess> {
        let located = self.locate(account).await?;
        self.access(located).await
    }

    /// The member role's credentials in `account`, assumed on first use and
    /// kept for the cold start (the SDK assumes the role again before they
    /// expire). Accounts are assumed at once: the lock is held only to find
    /// an account's cell, never across the call to STS. A failure is not
    /// kept: the next use asks again.
    async fn member(&self, account: &str) -> Result<SdkConfig, String> {
        let Some(sdk) = &self.sdk else {
            return Err("this function reaches its own account only".into());
        };
        let cell = self
            .members
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(account.to_string())
            .or_default()
            .clone();
        let arn = self.config.member_role_arn(
            regions::partition(&self.home_region()),
            account,
            self.role,
        );
        cell.get_or_try_init(|| async {
            member_config(sdk, &arn, &self.config.external_id)
                .await
                .map_err(|e| {
                    let fix = if e.is_access_denied() {
                        member_role_advice(&self.config, self.role)
                    } else {
                        e.advice().to_string()
                    };
                    format!("cannot assume {arn}: {e}; {fix}")
                })
        })
        .await
        .cloned()
    }

    /// The names of the roles member.yaml makes in every member account.
    pub(crate) fn member_role_names(&self) -> Vec<String> {
        MemberRole::ALL
            .iter()
            .map(|r| format!("{}{}", self.config.member_role, r.suffix()))
            .collect()
    }

    /// Whether `role_name` is one of the roles member.yaml makes.
    pub(crate) fn is_member_role_name(&self, role_name: &str) -> bool {
        role_name
            .strip_prefix(self.config.member_role.as_str())
            .is_some_and(|rest| MemberRole::ALL.iter().any(|r| rest == r.suffix()))
    }

    /// The unique ids of member.yaml's roles in a member account, read once
    /// per cold start from the tags member.yaml put on this function's own
    /// member role there (`sdk` holds its credentials). A role deleted and
    /// created anew under the same name has another id, so it is not
    /// trusted; when the ids cannot be read, no member role is.
    pub(crate) async fn member_roles(&self, account: &str, sdk: &SdkConfig) -> GuardRoles {
        let mut cache = self.member_roles.lock().await;
        if let Some(roles) = cache.get(account) {
            return roles.clone();
        }
        let name = format!("{}{}", self.config.member_role, self.role.suffix());
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

/// Every account of the organization, with its state, all pages.
pub async fn list_organization(
    client: &aws_sdk_organizations::Client,
) -> Result<Vec<ListedAccount>, AwsError> {
    let mut pages = client.list_accounts().into_paginator().send();
    let mut accounts = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("organizations:ListAccounts", e))?;
        for a in page.accounts() {
            let Some(id) = a.id() else { continue };
            // `State` replaces `Status` (retired in September 2026); an
            // older endpoint may still send only the latter.
            let status = a
                .state()
                .map(|s| s.as_str().to_string())
                .or_else(|| {
                    #[allow(deprecated)]
                    a.status().map(|s| s.as_str().to_string())
                })
                .unwrap_or_else(|| "UNKNOWN".into());
            accounts.push(ListedAccount {
                account: Account {
                    id: id.to_string(),
                    name: a.name().map(str::to_string),
                },
                status,
            });
        }
    }
    Ok(accounts)
}

/// The account the credentials in `sdk` belong to.
pub(crate) async fn own_account(sdk: &SdkConfig) -> Result<String, AwsError> {
    aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("sts:GetCallerIdentity", e))?
        .account()
        .map(str::to_string)
        .ok_or_else(|| {
            AwsError::new(
                "sts:GetCallerIdentity",
                "InvalidResponse",
                "the answer names no account",
            )
        })
}

/// `sdk` with credentials of `role_arn`, assumed with `external_id`. The
/// SDK's identity cache keeps them and assumes the role again before they
/// expire, so a long sweep never runs on stale credentials. The first
/// credentials are fetched here: an account whose role cannot be assumed is
/// known before anything is asked of it.
pub async fn member_config(
    sdk: &SdkConfig,
    role_arn: &str,
    external_id: &str,
) -> Result<SdkConfig, AwsError> {
    let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
        .external_id(external_id)
        .session_name("cost-guard")
        .configure(sdk)
        .build()
        .await;
    let first = provider
        .provide_credentials()
        .await
        .map_err(|e| assume_error(&e))?;
    Ok(sdk
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(Primed {
            first: std::sync::Mutex::new(Some(first)),
            inner: provider,
        }))
        // A cache of its own: the shared one holds 64 providers and then
        // evicts, and a sweep of hundreds of accounts would assume their
        // roles again and again (`cost-guard-bench org` counted 446
        // AssumeRole calls for 200 accounts before this).
        .identity_cache(aws_config::identity::IdentityCache::lazy().build())
        .build())
}

/// The member role's provider, handing out the credentials already fetched
/// before it assumes the role again: one AssumeRole per account and sweep,
/// then one each time the SDK's cache finds them close to expiry.
#[derive(Debug)]
struct Primed {
    first: std::sync::Mutex<Option<aws_credential_types::Credentials>>,
    inner: aws_config::sts::AssumeRoleProvider,
}

impl ProvideCredentials for Primed {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let first = self.first.lock().unwrap_or_else(|p| p.into_inner()).take();
        match first {
            Some(c) => aws_credential_types::provider::future::ProvideCredentials::ready(Ok(c)),
            None => self.inner.provide_credentials(),
        }
    }
}

/// The STS error inside a credentials error, as an [`AwsError`].
fn assume_error(e: &aws_credential_types::provider::error::CredentialsError) -> AwsError {
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(sdk) = s.downcast_ref::<aws_sdk_sts::error::SdkError<
            aws_sdk_sts::operation::assume_role::AssumeRoleError,
            aws_smithy_runtime_api::http::Response,
        >>() {
            if let Some(service) = sdk.as_service_error() {
                return AwsError::new(
                    "sts:AssumeRole",
                    service.code().unwrap_or("Unknown"),
                    service.message().unwrap_or_default(),
                );
            }
        }
        source = s.source();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    AwsError::new("sts:AssumeRole", "CredentialsError", text)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Credentials and an endpoint nothing listens on: any request fails.
    pub(crate) fn unreachable_sdk() -> SdkConfig {
        SdkConfig::builder()
            .region(aws_types::region::Region::new("eu-west-1"))
            .endpoint_url("http://127.0.0.1:9")
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new("AKID", "SECRET", None, None, "test"),
                ),
            )
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build()
    }

    #[tokio::test]
    async fn the_own_account_is_learnt_from_the_function_arn_without_asking_sts() {
        let accounts = Accounts::new(
            AccountsConfig::default(),
            RegionScope::AllEnabled,
            MemberRole::Sweep,
            &unreachable_sdk(),
        );
        // Not a function ARN: nothing is learnt.
        accounts.learn_own_account("not-an-arn");
        assert_eq!(accounts.known_own_account(), None);
        accounts.learn_own_account("arn:aws:lambda:eu-west-1:123456789012:function:cost-guard");
        assert_eq!(accounts.known_own_account(), Some("123456789012"));
        // STS cannot be reached, so this answer is the one learnt.
        assert_eq!(accounts.own_account().await.unwrap(), "123456789012");
        // A later ARN does not change it.
        accounts.learn_own_account("arn:aws:lambda:eu-west-1:999999999999:function:other");
        assert_eq!(accounts.known_own_account(), Some("123456789012"));
    }

    #[test]
    fn only_the_roles_member_yaml_makes_are_member_roles() {
        let accounts = Accounts::new(
            AccountsConfig {
                member_role: "guard".into(),
                ..AccountsConfig::default()
            },
            RegionScope::AllEnabled,
            MemberRole::Tripwire,
            &unreachable_sdk(),
        );
        assert_eq!(
            accounts.member_role_names(),
            ["guard", "guard-tripwire", "guard-keep-stopped"]
        );
        for name in ["guard", "guard-tripwire", "guard-keep-stopped"] {
            assert!(accounts.is_member_role_name(name), "{name}");
        }
        // A role anyone can create with a name that starts or ends alike.
        for name in [
            "guard-evil",
            "guard-tripwire-x",
            "xguard",
            "Guard",
            "",
            "guard-",
        ] {
            assert!(!accounts.is_member_role_name(name), "{name}");
        }
    }
}
