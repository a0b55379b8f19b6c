//! Starting again what cost-guard stopped, in every region at once. For each
//! resource: the resuming marker replaces the stamp, then it is started, then
//! the marker goes. With the stamp gone before the start, the keep-stopped
//! watch (which stops again a stamped database that starts) leaves it alone;
//! a resume that stops half-way leaves the marker, and the next one finds it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use futures::stream::{self, StreamExt};

use crate::aws::accounts::RegionClients;
use crate::aws::{ec2, rds};
use crate::domain::inventory::{Resource, ResourceKind};
use crate::domain::outcome::{Failed, Outcome};
use crate::domain::resume::{marker_value, plan_resume, ResumePlan, ResumeRegion, ResumeRequest};
use crate::domain::select::Skipped;

/// Start calls of one kind (EC2, RDS) in flight per region, as for stops.
const CONCURRENCY: usize = 4;

type Shared = Arc<Mutex<ResumeRegion>>;

fn update<T>(shared: &Shared, f: impl FnOnce(&mut ResumeRegion) -> T) -> T {
    f(&mut shared.lock().unwrap_or_else(|p| p.into_inner()))
}

/// Resumes `regions` of one account at once, each until `until`; one
/// region's failure never stops another. `account` labels the reports when
/// resume covers several accounts.
pub(crate) async fn resume_regions(
    clients: &dyn RegionClients,
    regions: &[String],
    request: &ResumeRequest,
    account: Option<&str>,
    until: tokio::time::Instant,
) -> Vec<ResumeRegion> {
    let runs = regions.iter().map(|region| async move {
        let shared: Shared = Arc::new(Mutex::new(ResumeRegion {
            region: region.clone(),
            account: account.map(str::to_string),
            ..Default::default()
        }));
        let budget = until.saturating_duration_since(tokio::time::Instant::now());
        let work = resume_region(clients, region, request, &shared);
        if tokio::time::timeout_at(until, work).await.is_err() {
            update(&shared, |r| {
                r.errors.push(format!(
                    "did not finish within {}s, the time left before the Lambda deadline; what was started stays started, and running resume again finishes the rest",
                    budget.as_secs()
                ))
            });
        }
        let mut report = update(&shared, std::mem::take);
        report.started.sort();
        report.skipped.sort();
        tracing::info!(
            account,
            region = %report.region,
            started = report.started.len(),
            skipped = report.skipped.len(),
            failed = report.failed.len(),
            errors = report.errors.len(),
            "region resumed"
        );
        report
    });
    let mut regions = futures::future::join_all(runs).await;
    regions.sort_by(|a, b| a.region.cmp(&b.region));
    regions
}

async fn resume_region(
    clients: &dyn RegionClients,
    region: &str,
    request: &ResumeRequest,
    shared: &Shared,
) {
    let ec2_client = clients.ec2(region);
    let rds_client = clients.rds(region);
    let (instances, databases) = futures::join!(
        ec2::describe_stamped(&ec2_client),
        list_databases(&rds_client)
    );
    let instances = instances.unwrap_or_else(|e| {
        update(shared, |r| r.errors.push(format!("{e} ({})", e.advice())));
        Vec::new()
    });
    let (dbs, clusters) = databases.unwrap_or_else(|e| {
        update(shared, |r| r.errors.push(format!("{e} ({})", e.advice())));
        (Vec::new(), Vec::new())
    });
    let plan = plan_resume(&instances, &dbs, &clusters, request);
    update(shared, |r| r.skipped.extend(plan.skipped.iter().cloned()));
    if request.dry_run {
        update(shared, |r| r.started.extend(planned(&plan)));
        return;
    }
    futures::join!(
        start_instances(&ec2_client, region, &plan, shared),
        start_databases(&rds_client, region, &plan, shared)
    );
}

/// What a plan would start, as reports show it.
fn planned(plan: &ResumePlan) -> Vec<Resource> {
    plan.instances
        .iter()
        .map(|(i, _)| Resource::from(i))
        .chain(plan.databases.iter().map(|(d, _)| Resource::from(d)))
        .chain(plan.clusters.iter().map(|(c, _)| Resource::from(c)))
        .collect()
}

/// DB instances, and clusters where some instance belongs to one (as the sweep).
async fn list_databases(
    client: &aws_sdk_rds::Client,
) -> Result<
    (
        Vec<crate::domain::inventory::DbInstance>,
        Vec<crate::domain::inventory::DbCluster>,
    ),
    crate::domain::error::AwsError,
> {
    let dbs = rds::describe_instances(client).await?;
    let clusters = if dbs.iter().any(|d| d.cluster_id.is_some()) {
        rds::describe_clusters(client).await?
    } else {
        Vec::new()
    };
    Ok((dbs, clusters))
}

fn record(r: &mut ResumeRegion, region: &str, resource: Resource, outcome: Outcome) {
    match outcome {
        Outcome::Done => {
            tracing::info!(region, resource = %resource.id, kind = %resource.kind, action = "start", "started");
            r.started.push(resource);
        }
        Outcome::AlreadyDone => r.skipped.push(Skipped {
            resource,
            reason: "already starting or running when the start call arrived".into(),
        }),
        Outcome::Skipped(reason) => r.skipped.push(Skipped { resource, reason }),
        Outcome::Failed(err) => {
            tracing::error!(region, resource = %resource.id, action = "start", error = %err, "start failed");
            r.failed.push(Failed {
                resource,
                error: format!("{err} ({})", err.advice()),
            });
        }
    }
}

async fn start_instances(
    client: &aws_sdk_ec2::Client,
    region: &str,
    plan: &ResumePlan,
    shared: &Shared,
) {
    let by_id: HashMap<&str, Resource> = plan
        .instances
        .iter()
        .map(|(i, _)| (i.id.as_str(), Resource::from(i)))
        .collect();
    // One marker value per stamp; instances already marked keep theirs.
    let mut by_marker: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut ready = Vec::new();
    for (i, stamp) in &plan.instances {
        if stamp.resuming {
            ready.push(i.id.clone());
        } else {
            by_marker
                .entry(marker_value(stamp))
                .or_default()
                .push(i.id.clone());
        }
    }
    for (marker, ids) in by_marker {
        match ec2::mark_resuming(client, &ids, &marker).await {
            Ok(()) => ready.extend(ids),
            Err(e) => update(shared, |r| {
                for resource in ids.iter().filter_map(|id| by_id.get(id.as_str())) {
                    record(r, region, resource.clone(), Outcome::Failed(e.clone()));
                }
            }),
        }
    }
    let record_answer = |answer: Vec<(String, Outcome)>| {
        update(shared, |r| {
            for (id, outcome) in answer {
                if let Some(resource) = by_id.get(id.as_str()) {
                    record(r, region, resource.clone(), outcome);
                }
            }
        })
    };
    let record_answer = &record_answer;
    let batches: Vec<Vec<String>> = ready
        .chunks(ec2::STOP_BATCH)
        .map(<[String]>::to_vec)
        .collect();
    let mut runs = stream::iter(batches)
        .map(|batch| async move {
            let started = ec2::start_batch(client, batch, record_answer).await;
            if started.is_empty() {
                return;
            }
            if let Err(e) = ec2::clear_marker(client, &started).await {
                update(shared, |r| {
                    r.warnings.push(format!(
                        "{} instance(s) started, but the {} tag could not be removed: {e}",
                        started.len(),
                        crate::domain::tags::RESUMING_TAG
                    ))
                });
            }
        })
        .buffer_unordered(CONCURRENCY);
    while runs.next().await.is_some() {}
}

async fn start_databases(
    client: &aws_sdk_rds::Client,
    region: &str,
    plan: &ResumePlan,
    shared: &Shared,
) {
    // Owned: the marker to write first, unless an earlier resume left one.
    let marker = |s: &crate::domain::resume::Stamped| (!s.resuming).then(|| marker_value(s));
    let targets: Vec<(Resource, String, Option<String>)> = plan
        .clusters
        .iter()
        .map(|(c, s)| (Resource::from(c), c.arn.clone(), marker(s)))
        .chain(
            plan.databases
                .iter()
                .map(|(d, s)| (Resource::from(d), d.arn.clone(), marker(s))),
        )
        .collect();
    let mut runs = stream::iter(targets)
        .map(|(resource, arn, marker)| async move {
            if let Some(marker) = marker {
                if let Err(e) = rds::mark_resuming(client, &arn, &marker).await {
                    update(shared, |r| record(r, region, resource, Outcome::Failed(e)));
                    return;
                }
            }
            let outcome = match resource.kind {
                ResourceKind::DbCluster => rds::start_cluster(client, &resource.id).await,
                _ => rds::start_instance(client, &resource.id).await,
            };
            let started = matches!(outcome, Outcome::Done | Outcome::AlreadyDone);
            update(shared, |r| record(r, region, resource.clone(), outcome));
            if started {
                if let Err(e) = rds::clear_marker(client, &arn).await {
                    update(shared, |r| {
                        r.warnings.push(format!(
                            "{} started, but the {} tag could not be removed: {e}",
                            resource.id,
                            crate::domain::tags::RESUMING_TAG
                        ))
                    });
                }
            }
        })
        .buffer_unordered(CONCURRENCY);
    while runs.next().await.is_some() {}
}
