//! Which accounts and regions an invocation reaches, and with which clients:
//! the guard's own account with its own role, every other account through
//! its member role. The sweep and the resume share it.

use std::sync::Arc;

use crate::aws::accounts;
use crate::aws::regions;
use crate::aws::sweep::{Prepared, RegionClients, SdkClients};
use crate::domain::accounts::{unreachable_advice, Account, AccountScope, AccountsConfig, Targets};
use crate::domain::config::RegionScope;
use crate::domain::error::AwsError;

/// What a sweep of several accounts needs beyond the guard's own clients.
struct OrgAccess {
    sdk: aws_types::SdkConfig,
    organizations: aws_sdk_organizations::Client,
    sqs: aws_sdk_sqs::Client,
    own: tokio::sync::OnceCell<String>,
}

/// The accounts and regions of an invocation.
pub(crate) enum Reached {
    /// The guard's own account only, in these regions: as before accounts.
    Single(Vec<String>),
    /// Several accounts: the guard's own id, and those to cover.
    Several { own: String, targets: Targets },
}

pub(crate) struct Reach {
    pub(crate) accounts: AccountsConfig,
    regions: RegionScope,
    clients: Arc<dyn RegionClients>,
    /// Client in the function's own region, for `DescribeRegions`.
    home_ec2: aws_sdk_ec2::Client,
    /// `None` with mocked clients: the guard's own account only.
    org: Option<Arc<OrgAccess>>,
}

impl Reach {
    pub(crate) fn new(
        accounts: AccountsConfig,
        regions: RegionScope,
        sdk: &aws_types::SdkConfig,
    ) -> Reach {
        Reach {
            accounts,
            regions,
            clients: Arc::new(SdkClients::new(sdk.clone())),
            home_ec2: aws_sdk_ec2::Client::new(sdk),
            org: Some(Arc::new(OrgAccess {
                sdk: sdk.clone(),
                organizations: aws_sdk_organizations::Client::new(sdk),
                sqs: aws_sdk_sqs::Client::new(sdk),
                own: tokio::sync::OnceCell::new(),
            })),
        }
    }

    /// The guard's own account only, with the given clients.
    pub(crate) fn with_clients(
        regions: RegionScope,
        clients: Arc<dyn RegionClients>,
        home_ec2: aws_sdk_ec2::Client,
    ) -> Reach {
        Reach {
            accounts: AccountsConfig::default(),
            regions,
            clients,
            home_ec2,
            org: None,
        }
    }

    /// The guard's own clients.
    pub(crate) fn own_clients(&self) -> &dyn RegionClients {
        self.clients.as_ref()
    }

    /// The SQS client, when several accounts can be reached.
    pub(crate) fn sqs(&self) -> Option<&aws_sdk_sqs::Client> {
        self.org.as_ref().map(|o| &o.sqs)
    }

    /// The guard's own account id, asked once per cold start.
    async fn own(&self, org: &OrgAccess) -> Result<String, AwsError> {
        org.own
            .get_or_try_init(|| accounts::own_account(&org.sdk))
            .await
            .cloned()
    }

    /// The guard's own account id, when it reaches several accounts.
    pub(crate) async fn own_account(&self) -> Result<Option<String>, AwsError> {
        match &self.org {
            Some(org) if !self.accounts.is_single() => Ok(Some(self.own(org).await?)),
            _ => Ok(None),
        }
    }

    /// The accounts (and, for the guard's own account alone, the regions) to
    /// cover for an alert that names `named`. Fails when they cannot be read.
    pub(crate) async fn resolve(&self, named: Option<&[String]>) -> Result<Reached, AwsError> {
        let org = match &self.org {
            Some(org) if !self.accounts.is_single() => org,
            _ => {
                return Ok(Reached::Single(
                    regions::resolve(&self.regions, &self.home_ec2).await?,
                ))
            }
        };
        let own = self.own(org).await?;
        let listed = match &self.accounts.scope {
            AccountScope::Organization => {
                Some(accounts::list_organization(&org.organizations).await?)
            }
            // Names only: a guard outside the management account may not
            // list the organization, and a list of ids needs no names.
            AccountScope::List(_) => accounts::list_organization(&org.organizations)
                .await
                .inspect_err(|e| tracing::info!(error = %e, "account names unavailable"))
                .ok(),
            AccountScope::This => None,
        };
        let targets =
            crate::domain::accounts::targets(&self.accounts, &own, listed.as_deref(), named);
        Ok(Reached::Several { own, targets })
    }

    /// The clients and regions of one account: the guard's own, or those of
    /// its member role; or why they cannot be had.
    pub(crate) async fn prepare(&self, own: &str, account: &Account) -> Prepared {
        let Some(org) = &self.org else {
            return Err("this function reaches its own account only".into());
        };
        let home = org
            .sdk
            .region()
            .map(|r| r.as_ref().to_string())
            .unwrap_or_else(|| "us-east-1".into());
        let clients: Arc<dyn RegionClients> = if account.id == own {
            self.clients.clone()
        } else {
            let arn = self
                .accounts
                .role_arn(regions::partition(&home), &account.id);
            let config = accounts::member_config(&org.sdk, &arn, &self.accounts.external_id)
                .await
                .map_err(|e| {
                    let fix = if e.is_access_denied() {
                        unreachable_advice(&self.accounts)
                    } else {
                        e.advice().to_string()
                    };
                    format!("cannot assume {arn}: {e}; {fix}")
                })?;
            Arc::new(SdkClients::new(config))
        };
        let regions = match &self.regions {
            RegionScope::List(list) => list.clone(),
            RegionScope::AllEnabled => regions::enabled_regions(&clients.ec2(&home))
                .await
                .map_err(|e| format!("{e} ({})", e.advice()))?,
        };
        Ok((clients, regions))
    }
}
