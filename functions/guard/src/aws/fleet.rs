//! Fleet operations over every account and region a function covers: the
//! stop sweep, its dry-run plan, and resume; and, when the accounts are many,
//! handing them to the sweep queue instead. The functions and the command
//! line use the same code.
//!
//! Accounts and regions come from [`Accounts`]; what happens in one region
//! is [`sweep`](crate::aws::sweep) or [`resume`](crate::aws::resume).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use crate::aws::accounts::{Accounts, Coverage, RegionClients};
use crate::aws::burn;
use crate::aws::pricing::PriceBook;
use crate::aws::seal::Seal;
use crate::aws::sweep::{self as sweeping, SweepSpec};
use crate::aws::{queue, resume};
use crate::domain::accounts::{Account, AccountState, AccountStatus, MemberRole};
use crate::domain::burn::status::{Burn, Unread};
use crate::domain::config::{AccountsConfig, KindSet, QueueConfig, RegionScope, SelectionConfig};
use crate::domain::error::AwsError;
use crate::domain::fanout::{AccountJob, IncidentRef, Job, SummaryJob};
use crate::domain::outcome::{Stamp, SweepReport};
use crate::domain::resume::{ResumeRegion, ResumeReport, ResumeRequest};

/// Accounts swept at once by one invocation (each with all its regions at
/// once): API limits are per account and region, so accounts add load to
/// the function, not to any one account's limits.
pub(crate) const ACCOUNTS_AT_ONCE: usize = 16;

/// What one sweep is for: the accounts the alert names (`None` for an alert
/// about the whole bill) and its headline, which queued jobs carry.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    pub named: Option<Vec<String>>,
    pub cause: String,
}

impl Scope {
    pub fn new(named: Option<Vec<String>>, cause: &str) -> Scope {
        Scope {
            named,
            cause: cause.to_string(),
        }
    }
}

/// The accounts and regions one function covers. What to do there (the
/// selection, the stamp, a dry run) comes with each operation.
pub struct Fleet {
    accounts: Accounts,
    /// The kinds a sweep stops (resume starts every kind it finds stamped).
    kinds: KindSet,
    /// Seals what a stop saves, and opens it for resume.
    seal: Option<Seal>,
    /// The sweep queue's client, when several accounts can be reached.
    sqs: Option<aws_sdk_sqs::Client>,
}

impl Fleet {
    /// Per-region clients from the function's one `SdkConfig`, through the
    /// sweep's member role in other accounts.
    pub fn new(
        accounts: &AccountsConfig,
        regions: &RegionScope,
        sdk: &aws_types::SdkConfig,
    ) -> Self {
        Fleet {
            accounts: Accounts::new(accounts.clone(), regions.clone(), MemberRole::Sweep, sdk),
            kinds: KindSet::standard(),
            seal: None,
            sqs: Some(aws_sdk_sqs::Client::new(sdk)),
        }
    }

    /// Sweeps only these kinds (`KINDS`).
    pub fn with_kinds(self, kinds: &KindSet) -> Self {
        Fleet {
            kinds: kinds.clone(),
            ..self
        }
    }

    /// Seals saved states with the key `SAVED_STATE_KEY_ARN` names (when
    /// set), through the function's own credentials.
    pub fn with_seal(self, sdk: &aws_types::SdkConfig, key: Option<&str>) -> Self {
        Fleet {
            seal: Seal::for_key(sdk, key),
            ..self
        }
    }

    /// With the given clients (the SDK fault tests hand in mocked ones); the
    /// guard's own account only.
    pub fn with_clients(
        regions: &RegionScope,
        clients: Arc<dyn RegionClients>,
        home_ec2: aws_sdk_ec2::Client,
    ) -> Self {
        Fleet {
            accounts: Accounts::own_only(regions.clone(), clients, home_ec2),
            kinds: KindSet::standard(),
            seal: None,
            sqs: None,
        }
    }

    /// For the command line, which never queues: it looks at every account
    /// itself.
    pub fn direct(
        accounts: &AccountsConfig,
        regions: &RegionScope,
        sdk: &aws_types::SdkConfig,
    ) -> Self {
        // Without the SQS client it has no queue (`Fleet::queue`).
        Fleet {
            sqs: None,
            ..Fleet::new(accounts, regions, sdk)
        }
    }

    /// Learns the guard's own account from the function's ARN.
    pub(crate) fn learn_own_account(&self, function_arn: &str) {
        self.accounts.learn_own_account(function_arn);
    }

    /// The sweep queue's client and settings.
    pub(crate) fn queue(&self) -> Option<(&aws_sdk_sqs::Client, &QueueConfig)> {
        Some((self.sqs.as_ref()?, self.accounts.config().queue.as_ref()?))
    }

    /// Resolves the accounts and regions and stops `select` in them within
    /// `budget`, or hands the accounts to the sweep queue when they are
    /// many. Fails only when the accounts or the region list cannot be read;
    /// what fails inside an account or a region is in the report.
    pub(crate) async fn sweep(
        &self,
        select: &SelectionConfig,
        stamp: Stamp,
        dry_run: bool,
        budget: Duration,
        scope: &Scope,
    ) -> Result<SweepReport, AwsError> {
        let spec = SweepSpec::new(select, stamp, dry_run)
            .kinds(&self.kinds)
            .sealed(self.seal.as_ref());
        // Boxed: a sweep of many accounts is a deep future, past the
        // compiler's layout limit in the functions' own futures.
        Box::pin(self.sweep_spec(spec, budget, scope)).await
    }

    /// What a sweep of `select` would stop now, changing nothing
    /// (`cost-guard plan`).
    pub async fn plan(
        &self,
        select: &SelectionConfig,
        budget: Duration,
    ) -> Result<SweepReport, AwsError> {
        let spec = SweepSpec::new(select, Stamp::now("plan"), true)
            .kinds(&self.kinds)
            .sealed(self.seal.as_ref());
        self.sweep_spec(spec, budget, &Scope::new(None, "plan"))
            .await
    }

    async fn sweep_spec(
        &self,
        spec: SweepSpec,
        budget: Duration,
        scope: &Scope,
    ) -> Result<SweepReport, AwsError> {
        let dry_run = spec.dry_run;
        let until = tokio::time::Instant::now() + budget;

        let (own, targets) = match self.accounts.coverage(scope.named.as_deref()).await? {
            Coverage::OwnAccount(regions) => {
                tracing::info!(
                    regions = regions.len(),
                    budget_s = budget.as_secs(),
                    dry_run,
                    "sweep starting"
                );
                return Ok(SweepReport {
                    dry_run,
                    regions: sweeping::sweep_regions(
                        self.accounts.own_clients().as_ref(),
                        &regions,
                        &spec,
                        None,
                        until,
                    )
                    .await,
                    accounts: Vec::new(),
                });
            }
            Coverage::Accounts { own, targets } => (own, targets),
        };
        tracing::info!(
            accounts = targets.sweep.len(),
            left_out = targets.left_out.len(),
            budget_s = budget.as_secs(),
            dry_run,
            "sweep of several accounts starting"
        );
        let mut report = match self.queue() {
            Some((sqs, queue)) if targets.sweep.len() > self.accounts.config().fanout_above => {
                dispatch(sqs, queue, &targets.sweep, &spec.stamp, dry_run, scope).await?
            }
            _ => self.sweep_accounts(&own, targets.sweep, &spec, until).await,
        };
        report.accounts.extend(targets.left_out);
        Ok(report)
    }

    /// Sweeps exactly these accounts, `ACCOUNTS_AT_ONCE` at a time, every
    /// region until `until`. An account that cannot be reached is reported
    /// unreachable and does not hold up the others.
    async fn sweep_accounts(
        &self,
        own: &str,
        targets: Vec<Account>,
        spec: &SweepSpec,
        until: tokio::time::Instant,
    ) -> SweepReport {
        let runs = futures::stream::iter(targets)
            .map(|account| async move {
                let reached = tokio::time::timeout_at(until, self.accounts.account_clients(own, &account))
                    .await
                    .unwrap_or_else(|_| Err("time ran out before its credentials and regions were known; the next invocation continues".into()));
                match reached {
                    Err(why) => {
                        tracing::error!(account = %account.id, %why, "account not swept");
                        let state = AccountState::Unreachable(why);
                        (AccountStatus { account, state }, Vec::new())
                    }
                    Ok((clients, regions)) => {
                        let reports = sweeping::sweep_regions(
                            clients.as_ref(),
                            &regions,
                            spec,
                            Some(&account.id),
                            until,
                        )
                        .await;
                        let state = AccountState::Swept;
                        (AccountStatus { account, state }, reports)
                    }
                }
            })
            .buffer_unordered(ACCOUNTS_AT_ONCE);
        let done: Vec<_> = Box::pin(runs.collect()).await;
        let (mut accounts, regions): (Vec<AccountStatus>, Vec<Vec<_>>) = done.into_iter().unzip();
        let mut regions: Vec<_> = regions.into_iter().flatten().collect();
        accounts.sort_by(|a, b| a.account.cmp(&b.account));
        regions.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
        SweepReport {
            dry_run: spec.dry_run,
            regions,
            accounts,
        }
    }

    /// A worker's sweep of one queued account, in this invocation.
    pub(crate) async fn sweep_one(
        &self,
        account: &Account,
        select: &SelectionConfig,
        stamp: Stamp,
        dry_run: bool,
        budget: Duration,
    ) -> Result<SweepReport, AwsError> {
        if self.accounts.config().is_single() {
            return Err(AwsError::new(
                "sweep",
                "NotConfigured",
                "a queued account, but ACCOUNTS=self: this function reaches its own account only",
            ));
        }
        // The worker needs only its own account id: the dispatcher already
        // chose the accounts.
        let own = self.accounts.own_account().await?;
        let until = tokio::time::Instant::now() + budget;
        let spec = SweepSpec::new(select, stamp, dry_run)
            .kinds(&self.kinds)
            .sealed(self.seal.as_ref());
        Ok(self
            .sweep_accounts(&own, vec![account.clone()], &spec, until)
            .await)
    }

    /// What runs now in every account and region, priced with `book`
    /// (`cost-guard status`, burn-watch): every kind, whatever the
    /// selection. Fails only when the accounts or the region list cannot be
    /// read; an account or a region that cannot be listed is in the burn's
    /// `unread`, and the burn is then a lower bound.
    pub async fn burn(
        &self,
        book: &PriceBook,
        budget: Duration,
    ) -> Result<(Burn, Vec<String>), AwsError> {
        let until = tokio::time::Instant::now() + budget;
        let survey = match self.accounts.coverage(None).await? {
            Coverage::OwnAccount(regions) => {
                burn::survey_regions(self.accounts.own_clients().as_ref(), &regions, None, until)
                    .await
            }
            Coverage::Accounts { own, targets } => {
                let runs = futures::stream::iter(targets.sweep)
                    .map(|account| {
                        let own = own.clone();
                        async move {
                            let reached = tokio::time::timeout_at(
                                until,
                                self.accounts.account_clients(&own, &account),
                            )
                            .await
                            .unwrap_or_else(|_| {
                                Err("time ran out before its credentials and regions were known"
                                    .into())
                            });
                            match reached {
                                Ok((clients, regions)) => {
                                    burn::survey_regions(
                                        clients.as_ref(),
                                        &regions,
                                        Some(&account.id),
                                        until,
                                    )
                                    .await
                                }
                                Err(why) => burn::Survey {
                                    running: Vec::new(),
                                    unread: vec![Unread {
                                        account: Some(account.id.clone()),
                                        region: "every region".into(),
                                        what: "the account".into(),
                                        error: why,
                                    }],
                                },
                            }
                        }
                    })
                    .buffer_unordered(ACCOUNTS_AT_ONCE);
                let done: Vec<burn::Survey> = Box::pin(runs.collect()).await;
                let mut all = burn::Survey::default();
                for s in done {
                    all.extend(s);
                }
                all
            }
        };
        Ok(burn::price(survey, book, self.accounts.own_clients().as_ref()).await)
    }

    /// Starts again what cost-guard stopped, in every account and region,
    /// within `budget`. Fails only when the accounts or the region list
    /// cannot be read.
    pub async fn resume(
        &self,
        request: &ResumeRequest,
        budget: Duration,
    ) -> Result<ResumeReport, AwsError> {
        let until = tokio::time::Instant::now() + budget;
        let (own, targets) = match self.accounts.coverage(None).await? {
            Coverage::OwnAccount(regions) => {
                tracing::info!(
                    regions = regions.len(),
                    dry_run = request.dry_run,
                    stopped_by = request.stopped_by.as_deref().unwrap_or("any"),
                    "resume starting"
                );
                let clients = self.accounts.own_clients().as_ref();
                return Ok(ResumeReport {
                    dry_run: request.dry_run,
                    regions: Box::pin(resume::resume_regions(
                        clients,
                        &regions,
                        request,
                        None,
                        self.seal.as_ref(),
                        until,
                    ))
                    .await,
                });
            }
            Coverage::Accounts { own, targets } => (own, targets),
        };
        tracing::info!(
            accounts = targets.sweep.len(),
            dry_run = request.dry_run,
            stopped_by = request.stopped_by.as_deref().unwrap_or("any"),
            "resume in several accounts starting"
        );
        let own = own.as_str();
        let runs = futures::stream::iter(targets.sweep)
            .map(|account| async move {
                let reached =
                    tokio::time::timeout_at(until, self.accounts.account_clients(own, &account))
                        .await
                        .unwrap_or_else(|_| {
                            Err("time ran out before its credentials and regions were known; run resume again".into())
                        });
                match reached {
                    Ok((clients, regions)) => {
                        resume::resume_regions(
                            clients.as_ref(),
                            &regions,
                            request,
                            Some(&account.id),
                            self.seal.as_ref(),
                            until,
                        )
                        .await
                    }
                    Err(why) => vec![ResumeRegion {
                        account: Some(account.id.clone()),
                        errors: vec![why],
                        ..Default::default()
                    }],
                }
            })
            .buffer_unordered(ACCOUNTS_AT_ONCE);
        let mut regions: Vec<ResumeRegion> = Box::pin(runs.collect::<Vec<_>>())
            .await
            .into_iter()
            .flatten()
            .collect();
        regions.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
        Ok(ResumeReport {
            dry_run: request.dry_run,
            regions,
        })
    }
}

/// One message per account on the sweep queue, and the summary job, delayed.
/// Fails when SQS refuses them: the invocation fails and its retry sends them
/// again (a second sweep of an account changes nothing).
async fn dispatch(
    sqs: &aws_sdk_sqs::Client,
    queue: &QueueConfig,
    targets: &[Account],
    stamp: &Stamp,
    dry_run: bool,
    scope: &Scope,
) -> Result<SweepReport, AwsError> {
    let incident = IncidentRef::new(&scope.cause, stamp, dry_run, targets.len());
    let jobs: Vec<String> = targets
        .iter()
        .map(|account| {
            Job::SweepAccount(AccountJob {
                incident: incident.clone(),
                account: account.clone(),
            })
            .to_body()
        })
        .collect();
    queue::send_all(sqs, &queue.sweep_url, &jobs).await?;
    let summary = Job::Summary(SummaryJob {
        incident: incident.clone(),
        accounts: targets.to_vec(),
        results: Vec::new(),
        round: 0,
    });
    queue::send(
        sqs,
        &queue.sweep_url,
        &summary.to_body(),
        queue.summary_delay_s,
    )
    .await?;
    tracing::info!(incident = %incident.id, accounts = targets.len(), "accounts handed to the sweep queue");
    Ok(SweepReport {
        dry_run,
        regions: Vec::new(),
        accounts: targets
            .iter()
            .map(|a| AccountStatus {
                account: a.clone(),
                state: AccountState::Queued,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::accounts::tests::unreachable_sdk;
    use crate::domain::config::accounts::QueueConfig;

    #[test]
    fn the_command_lines_fleet_never_queues() {
        let queued = AccountsConfig {
            queue: Some(QueueConfig {
                sweep_url: "https://sqs.eu-west-1.amazonaws.com/123456789012/sweep".into(),
                results_url: "https://sqs.eu-west-1.amazonaws.com/123456789012/results".into(),
                summary_delay_s: 0,
            }),
            ..AccountsConfig::default()
        };
        let sdk = unreachable_sdk();
        let regions = RegionScope::AllEnabled;
        assert!(Fleet::new(&queued, &regions, &sdk).queue().is_some());
        assert!(Fleet::direct(&queued, &regions, &sdk).queue().is_none());
    }
}
