//! The stop sweep: every region at once, bounded concurrency inside a region, a
//! time budget per region. Progress is recorded as it happens, so a region that
//! runs out of time still reports what it already stopped.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_types::region::Region;
use aws_types::SdkConfig;
use futures::stream::{self, StreamExt};

use crate::aws::{ec2, rds};
use crate::domain::config::SelectionConfig;
use crate::domain::inventory::{Resource, ResourceKind};
use crate::domain::outcome::{Failed, Outcome, RegionReport, Stamp, SweepReport};
use crate::domain::select::{self, Skipped};

#[derive(Debug, Clone)]
pub struct SweepSpec {
    pub select: SelectionConfig,
    pub dry_run: bool,
    pub stamp: Stamp,
    /// Concurrent stop calls inside one region.
    pub concurrency: usize,
}

/// Builds the clients a region needs. Real sweeps use [`SdkClients`]; fault
/// tests hand in mocked clients per region.
pub trait RegionClients: Send + Sync {
    fn ec2(&self, region: &str) -> aws_sdk_ec2::Client;
    fn rds(&self, region: &str) -> aws_sdk_rds::Client;
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
}

type Shared = Arc<Mutex<RegionReport>>;

fn with<T>(shared: &Shared, f: impl FnOnce(&mut RegionReport) -> T) -> T {
    let mut guard = shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    f(&mut guard)
}

/// Sweeps every region at once. Each region gets `budget` to finish; what it did
/// before running out is kept and the region is marked unfinished.
pub async fn sweep(
    clients: &dyn RegionClients,
    regions: &[String],
    spec: &SweepSpec,
    budget: Duration,
) -> SweepReport {
    let until = tokio::time::Instant::now() + budget;
    SweepReport {
        dry_run: spec.dry_run,
        regions: sweep_regions(clients, regions, spec, None, until).await,
        accounts: Vec::new(),
    }
}

/// Sweeps `regions` of one account at once, each until `until`. `account`
/// labels the reports in a sweep of several accounts.
pub(crate) async fn sweep_regions(
    clients: &dyn RegionClients,
    regions: &[String],
    spec: &SweepSpec,
    account: Option<&str>,
    until: tokio::time::Instant,
) -> Vec<RegionReport> {
    let runs = regions.iter().map(|region| async move {
        let shared: Shared = Arc::new(Mutex::new(RegionReport {
            region: region.clone(),
            account: account.map(str::to_string),
            ..Default::default()
        }));
        let budget = until.saturating_duration_since(tokio::time::Instant::now());
        let work = sweep_region(clients, region, spec, shared.clone());
        if tokio::time::timeout_at(until, work).await.is_err() {
            with(&shared, |r| {
                r.errors.push(format!(
                    "did not finish within {}s, the time left before the Lambda deadline; the next invocation continues",
                    budget.as_secs()
                ))
            });
        } else {
            with(&shared, |r| r.finished = true);
        }
        let mut report = with(&shared, std::mem::take);
        report.stopped.sort();
        report.earlier.sort();
        report.skipped.sort();
        report.unstamped.sort();
        for r in &report.unstamped {
            // The retry and `resume` look for the stamp: say which stops lack it.
            tracing::warn!(account, region = %report.region, resource = %r.id, kind = %r.kind, "stopped but not stamped");
        }
        tracing::info!(
            account,
            region = %report.region,
            stopped = report.stopped.len(),
            earlier = report.earlier.len(),
            skipped = report.skipped.len(),
            failed = report.failed.len(),
            unstamped = report.unstamped.len(),
            errors = report.errors.len(),
            finished = report.finished,
            "region swept"
        );
        report
    });
    let mut reports = futures::future::join_all(runs).await;
    reports.sort_by(|a, b| a.region.cmp(&b.region));
    reports
}

async fn sweep_region(clients: &dyn RegionClients, region: &str, spec: &SweepSpec, shared: Shared) {
    let ec2 = clients.ec2(region);
    let rds = clients.rds(region);
    futures::join!(
        sweep_ec2(&ec2, region, spec, &shared),
        sweep_rds(&rds, region, spec, &shared)
    );
}

async fn sweep_ec2(client: &aws_sdk_ec2::Client, region: &str, spec: &SweepSpec, shared: &Shared) {
    let instances = match ec2::describe_candidates(client, &spec.select).await {
        Ok(i) => i,
        Err(e) => {
            tracing::error!(region, error = %e, "cannot list EC2 instances");
            with(shared, |r| r.errors.push(format!("{e} ({})", e.advice())));
            return;
        }
    };
    let spot_requests: Vec<String> = instances
        .iter()
        .filter(|i| matches!(i.state.as_str(), "running" | "pending"))
        .filter(|i| select::match_tags(&i.tags, &spec.select) == select::Match::Selected)
        .filter_map(|i| i.spot_request_id.clone())
        .collect();
    let one_time = if spot_requests.is_empty() {
        HashSet::new()
    } else {
        // Best effort: if this fails, StopInstances itself rejects one-time spot
        // instances and the batch split isolates them.
        ec2::one_time_spot_requests(client, &spot_requests)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(region, error = %e, "cannot read spot requests");
                HashSet::new()
            })
    };
    let plan = select::plan_ec2(&instances, &spec.select, &one_time);
    let earlier = instances
        .iter()
        .filter(|i| select::match_tags(&i.tags, &spec.select) == select::Match::Selected)
        .filter(|i| select::stopped_earlier(&i.tags, &i.state, &spec.stamp.by, &spec.stamp.at))
        .map(Resource::from);
    with(shared, |r| {
        r.skipped.extend(plan.skipped);
        r.earlier.extend(earlier);
    });
    let by_id: std::collections::HashMap<String, Resource> = plan
        .to_stop
        .iter()
        .map(|i| (i.id.clone(), Resource::from(i)))
        .collect();
    if spec.dry_run {
        with(shared, |r| r.stopped.extend(by_id.into_values()));
        return;
    }
    let ids: Vec<String> = plan.to_stop.iter().map(|i| i.id.clone()).collect();
    let batches: Vec<Vec<String>> = ids
        .chunks(ec2::STOP_BATCH)
        .map(<[String]>::to_vec)
        .collect();
    // Each answer is recorded as it arrives, before anything else is awaited:
    // a region that runs out of time still reports every stop EC2 acknowledged.
    let record_answer = |answer: Vec<(String, Outcome)>| {
        with(shared, |r| {
            for (id, outcome) in answer {
                if let Some(resource) = by_id.get(&id) {
                    record(r, region, resource.clone(), outcome);
                }
            }
        })
    };
    let record_answer = &record_answer;
    let mut batches = stream::iter(batches)
        .map(|batch| async move {
            let stopped = ec2::stop_batch(client, batch, record_answer).await;
            if stopped.is_empty() {
                return;
            }
            match ec2::stamp(client, &stopped, &spec.stamp).await {
                Ok(()) => with(shared, |r| r.stamped(&stopped)),
                Err(e) => {
                    tracing::warn!(region, error = %e, instances = ?stopped, "stopped instances could not be stamped");
                    with(shared, |r| {
                        r.stamp_warnings.push(format!(
                            "{} instance(s) stopped but not stamped: {e}",
                            stopped.len()
                        ))
                    });
                }
            }
        })
        .buffer_unordered(spec.concurrency.max(1));
    while batches.next().await.is_some() {}
}

/// Records one outcome the moment it is known. A stopped resource is also
/// listed as unstamped until its stamp is written.
fn record(r: &mut RegionReport, region: &str, resource: Resource, outcome: Outcome) {
    match outcome {
        Outcome::Done => {
            tracing::info!(region, resource = %resource.id, kind = %resource.kind, action = "stop", "stopped");
            r.unstamped.push(resource.clone());
            r.stopped.push(resource);
        }
        Outcome::AlreadyDone => {
            tracing::info!(region, resource = %resource.id, action = "stop", "already stopped or stopping");
            r.skipped.push(Skipped {
                resource,
                reason: "already stopped or stopping when the stop call arrived (stopped by someone else meanwhile)".into(),
            });
        }
        Outcome::Skipped(reason) => {
            tracing::info!(region, resource = %resource.id, action = "skip", %reason, "skipped");
            r.skipped.push(Skipped { resource, reason });
        }
        Outcome::Failed(err) => {
            tracing::error!(region, resource = %resource.id, action = "stop", error = %err, "stop failed");
            r.failed.push(Failed {
                resource,
                error: format!("{err} ({})", err.advice()),
            });
        }
    }
}

async fn sweep_rds(client: &aws_sdk_rds::Client, region: &str, spec: &SweepSpec, shared: &Shared) {
    // A cluster runs compute only through its member instances, which
    // DescribeDBInstances lists with their cluster's id. Where no instance has
    // one there is no cluster worth stopping, and the cluster describe is
    // skipped: in most regions that saves a request.
    let listed = match rds::describe_instances(client).await {
        Ok(instances) if instances.iter().any(|d| d.cluster_id.is_some()) => {
            rds::describe_clusters(client)
                .await
                .map(|clusters| (instances, clusters))
        }
        Ok(instances) => Ok((instances, Vec::new())),
        Err(e) => Err(e),
    };
    let (instances, clusters) = match listed {
        Ok(listed) => listed,
        Err(e) => {
            tracing::error!(region, error = %e, "cannot list RDS databases");
            with(shared, |r| r.errors.push(format!("{e} ({})", e.advice())));
            return;
        }
    };
    let plan = select::plan_rds(&instances, &clusters, &spec.select);
    let earlier_by = |tags: &crate::domain::inventory::Tags, status: &str| {
        select::match_tags(tags, &spec.select) == select::Match::Selected
            && select::stopped_earlier(tags, status, &spec.stamp.by, &spec.stamp.at)
    };
    let earlier: Vec<Resource> = clusters
        .iter()
        .filter(|c| earlier_by(&c.tags, &c.status))
        .map(Resource::from)
        .chain(
            instances
                .iter()
                .filter(|d| d.cluster_id.is_none() && earlier_by(&d.tags, &d.status))
                .map(Resource::from),
        )
        .collect();
    with(shared, |r| {
        r.skipped.extend(plan.skipped);
        r.earlier.extend(earlier);
    });
    let targets: Vec<(Resource, String)> = plan
        .clusters
        .iter()
        .map(|c| (Resource::from(c), c.arn.clone()))
        .chain(
            plan.instances
                .iter()
                .map(|d| (Resource::from(d), d.arn.clone())),
        )
        .collect();
    if spec.dry_run {
        with(shared, |r| {
            r.stopped.extend(targets.into_iter().map(|(res, _)| res))
        });
        return;
    }
    let mut stops = stream::iter(targets)
        .map(|(resource, arn)| async move {
            let outcome = match resource.kind {
                ResourceKind::DbCluster => rds::stop_cluster(client, &resource.id).await,
                _ => rds::stop_instance(client, &resource.id).await,
            };
            let stopped = outcome == Outcome::Done;
            // Recorded before the stamp is awaited, so running out of time
            // during the stamp cannot lose the stop.
            with(shared, |r| record(r, region, resource.clone(), outcome));
            if !stopped {
                return;
            }
            match rds::stamp(client, &arn, &spec.stamp).await {
                Ok(()) => with(shared, |r| r.stamped(std::slice::from_ref(&resource.id))),
                Err(e) => {
                    tracing::warn!(region, resource = %resource.id, error = %e, "stopped but not stamped");
                    with(shared, |r| {
                        r.stamp_warnings
                            .push(format!("{} stopped but not stamped: {e}", resource.id))
                    });
                }
            }
        })
        .buffer_unordered(spec.concurrency.max(1));
    while stops.next().await.is_some() {}
}

/// What an account needs before its regions are swept: its clients and its
/// regions, or why they could not be had.
pub(crate) type Prepared = Result<(Arc<dyn RegionClients>, Vec<String>), String>;

/// Sweeps several accounts, `at_once` at a time, each with the clients and
/// regions `prepare` gives it, every region until `until`. An account that
/// cannot be prepared is reported unreachable and does not hold up the others.
pub(crate) async fn sweep_accounts<F, Fut>(
    accounts: Vec<crate::domain::accounts::Account>,
    prepare: F,
    spec: &SweepSpec,
    until: tokio::time::Instant,
    at_once: usize,
) -> (
    Vec<crate::domain::accounts::AccountStatus>,
    Vec<RegionReport>,
)
where
    F: Fn(crate::domain::accounts::Account) -> Fut,
    Fut: std::future::Future<Output = Prepared>,
{
    use crate::domain::accounts::{AccountState, AccountStatus};
    let prepare = &prepare;
    let runs = stream::iter(accounts)
        .map(|account| async move {
            let prepared = match tokio::time::timeout_at(until, prepare(account.clone())).await {
                Ok(p) => p,
                Err(_) => Err("time ran out before its credentials and regions were known; the next invocation continues".into()),
            };
            match prepared {
                Err(why) => {
                    tracing::error!(account = %account.id, %why, "account not swept");
                    (
                        AccountStatus {
                            account,
                            state: AccountState::Unreachable(why),
                        },
                        Vec::new(),
                    )
                }
                Ok((clients, regions)) => {
                    let reports = sweep_regions(
                        clients.as_ref(),
                        &regions,
                        spec,
                        Some(&account.id),
                        until,
                    )
                    .await;
                    (
                        AccountStatus {
                            account,
                            state: AccountState::Swept,
                        },
                        reports,
                    )
                }
            }
        })
        .buffer_unordered(at_once.max(1));
    let mut statuses = Vec::new();
    let mut regions = Vec::new();
    let done: Vec<_> = runs.collect().await;
    for (status, reports) in done {
        statuses.push(status);
        regions.extend(reports);
    }
    statuses.sort_by(|a, b| a.account.cmp(&b.account));
    regions.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
    (statuses, regions)
}
