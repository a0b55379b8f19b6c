//! The accounts of a sweep: the organization's list, the guard's own account
//! id, and credentials in each member account through its member role.

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_types::SdkConfig;

use crate::domain::accounts::{Account, ListedAccount};
use crate::domain::error::AwsError;

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
pub async fn own_account(sdk: &SdkConfig) -> Result<String, AwsError> {
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
