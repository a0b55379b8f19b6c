//! Starting again what cost-guard stopped, in every region at once. For each
//! resource: the resuming marker replaces the stamp, then it is started, then
//! the marker goes. With the stamp gone before the start, the keep-stopped
//! watch (which stops again a stamped database that starts) leaves it alone;
//! a resume that stops half-way leaves the marker, and the next one finds it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use futures::stream::{self, StreamExt};

use crate::aws::accounts::RegionClients;
use crate::aws::kinds::{InRegion, Kind, KINDS};
use crate::aws::seal::Seal;
use crate::domain::config::KindSet;
use crate::domain::inventory::{Resource, Target};
use crate::domain::kinds::label_of;
use crate::domain::outcome::{Failed, Outcome};
use crate::domain::resume::{marker_value, ResumeRegion, ResumeRequest};
use crate::domain::select::Skipped;
use crate::domain::tags::RESUMING_TAG;

/// Start calls of one kind in flight per region, as for stops.
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
    seal: Option<&Seal>,
    until: tokio::time::Instant,
) -> Vec<ResumeRegion> {
    let runs = regions.iter().map(|region| async move {
        let shared: Shared = Arc::new(Mutex::new(ResumeRegion {
            region: region.clone(),
            account: account.map(str::to_string),
            ..Default::default()
        }));
        let budget = until.saturating_duration_since(tokio::time::Instant::now());
        let work = resume_region(clients, region, request, seal, &shared);
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
    seal: Option<&Seal>,
    shared: &Shared,
) {
    let all = KindSet::every();
    let at = InRegion::new(clients, region, &all).sealing(seal, None);
    let at = &at;
    // Capacity first: an ECS service on EC2 capacity needs its instances
    // and groups running before its tasks can be placed.
    for after_capacity in [false, true] {
        let kinds = KINDS
            .iter()
            .filter(|k| k.needs_capacity() == after_capacity);
        futures::future::join_all(kinds.map(|kind| resume_kind(*kind, at, request, shared))).await;
    }
}

/// Resumes one kind in one region: its plan; then, batch by batch, the
/// marker in place of the stamp, the start, and the marker off.
async fn resume_kind(kind: &dyn Kind, at: &InRegion<'_>, request: &ResumeRequest, shared: &Shared) {
    let region = at.region;
    let plan = match kind.plan_start(at, request).await {
        Ok(plan) => plan,
        Err(e) => {
            // Kinds that share a listing share its failure: said once.
            let error = format!("{e} ({})", e.advice());
            update(shared, |r| {
                if !r.errors.contains(&error) {
                    r.errors.push(error)
                }
            });
            return;
        }
    };
    update(shared, |r| r.skipped.extend(plan.skipped.iter().cloned()));
    if request.dry_run {
        update(shared, |r| {
            r.started
                .extend(plan.targets.iter().map(|(t, _)| t.resource.clone()))
        });
        return;
    }
    let by_handle: HashMap<&str, &Target> = plan
        .targets
        .iter()
        .map(|(t, _)| (t.handle.as_str(), t))
        .collect();
    let by_handle = &by_handle;
    // One marker value per stamp; what an earlier resume marked keeps its own.
    let mut by_marker: BTreeMap<String, Vec<Target>> = BTreeMap::new();
    let mut ready: Vec<Target> = Vec::new();
    for (t, stamp) in &plan.targets {
        if stamp.resuming {
            ready.push(t.clone());
        } else {
            by_marker
                .entry(marker_value(stamp))
                .or_default()
                .push(t.clone());
        }
    }
    for (marker, targets) in by_marker {
        for batch in targets.chunks(kind.batch().max(1)) {
            match kind.mark_resuming(at, batch, &marker).await {
                Ok(()) => ready.extend(batch.iter().cloned()),
                Err(e) => update(shared, |r| {
                    for t in batch {
                        record(r, region, t.resource.clone(), Outcome::Failed(e.clone()));
                    }
                }),
            }
        }
    }
    let answer = move |outcomes: Vec<(String, Outcome)>| {
        update(shared, |r| {
            for (handle, outcome) in outcomes {
                if let Some(t) = by_handle.get(handle.as_str()) {
                    record(r, region, t.resource.clone(), outcome);
                }
            }
        })
    };
    let answer = &answer;
    let batches: Vec<Vec<Target>> = ready
        .chunks(kind.batch().max(1))
        .map(<[Target]>::to_vec)
        .collect();
    let mut runs = stream::iter(batches)
        .map(|batch: Vec<Target>| async move {
            let batch = batch.as_slice();
            let done = kind.start(at, batch, answer).await;
            if done.is_empty() {
                return;
            }
            let started: Vec<Target> = done
                .iter()
                .filter_map(|h| by_handle.get(h.as_str()).map(|t| (*t).clone()))
                .collect();
            if let Err(e) = kind.clear_marker(at, &started).await {
                let ids: Vec<String> = started.iter().map(|t| t.resource.id.clone()).collect();
                update(shared, |r| {
                    r.warnings.push(format!(
                        "{} started, but the {RESUMING_TAG} tag could not be removed: {e}",
                        label_of(kind.kind(), &ids)
                    ))
                });
            }
        })
        .buffer_unordered(CONCURRENCY);
    while runs.next().await.is_some() {}
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
