//! The stop sweep: every region at once, bounded concurrency inside a region, a
//! time budget per region. Progress is recorded as it happens, so a region that
//! runs out of time still reports what it already stopped.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use futures::stream::{self, StreamExt};

use crate::aws::accounts::RegionClients;
use crate::aws::{ec2, rds};
use crate::domain::config::SelectionConfig;
use crate::domain::inventory::{Resource, ResourceKind};
use crate::domain::outcome::{Failed, Outcome, RegionReport, Stamp};
use crate::domain::select::{self, Skipped};

/// Stop calls of one kind in flight per region.
pub(crate) const REGION_CONCURRENCY: usize = 4;

/// What one sweep does in every region it covers.
#[derive(Debug, Clone)]
pub struct SweepSpec {
    pub select: SelectionConfig,
    pub dry_run: bool,
    pub stamp: Stamp,
    /// Concurrent stop calls inside one region.
    pub concurrency: usize,
}

impl SweepSpec {
    pub fn new(select: &SelectionConfig, stamp: Stamp, dry_run: bool) -> SweepSpec {
        SweepSpec {
            select: select.clone(),
            dry_run,
            stamp,
            concurrency: REGION_CONCURRENCY,
        }
    }
}

type Shared = Arc<Mutex<RegionReport>>;

fn update<T>(shared: &Shared, f: impl FnOnce(&mut RegionReport) -> T) -> T {
    let mut guard = shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    f(&mut guard)
}

/// Sweeps `regions` of one account at once, each until `until`. `account`
/// labels the reports in a sweep of several accounts.
pub async fn sweep_regions(
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
            update(&shared, |r| {
                r.errors.push(format!(
                    "did not finish within {}s, the time left before the Lambda deadline; the next invocation continues",
                    budget.as_secs()
                ))
            });
        } else {
            update(&shared, |r| r.finished = true);
        }
        let mut report = update(&shared, std::mem::take);
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
            update(shared, |r| r.errors.push(format!("{e} ({})", e.advice())));
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
    update(shared, |r| {
        r.skipped.extend(plan.skipped);
        r.earlier.extend(earlier);
    });
    let by_id: std::collections::HashMap<String, Resource> = plan
        .to_stop
        .iter()
        .map(|i| (i.id.clone(), Resource::from(i)))
        .collect();
    if spec.dry_run {
        update(shared, |r| r.stopped.extend(by_id.into_values()));
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
        update(shared, |r| {
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
                Ok(()) => update(shared, |r| r.stamped(&stopped)),
                Err(e) => {
                    tracing::warn!(region, error = %e, instances = ?stopped, "stopped instances could not be stamped");
                    update(shared, |r| {
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
            update(shared, |r| r.errors.push(format!("{e} ({})", e.advice())));
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
    update(shared, |r| {
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
        update(shared, |r| {
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
            update(shared, |r| record(r, region, resource.clone(), outcome));
            if !stopped {
                return;
            }
            match rds::stamp(client, &arn, &spec.stamp).await {
                Ok(()) => update(shared, |r| r.stamped(std::slice::from_ref(&resource.id))),
                Err(e) => {
                    tracing::warn!(region, resource = %resource.id, error = %e, "stopped but not stamped");
                    update(shared, |r| {
                        r.stamp_warnings
                            .push(format!("{} stopped but not stamped: {e}", resource.id))
                    });
                }
            }
        })
        .buffer_unordered(spec.concurrency.max(1));
    while stops.next().await.is_some() {}
}
