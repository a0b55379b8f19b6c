//! The stop sweep: every region at once, bounded concurrency inside a region, a
//! time budget per region. Progress is recorded as it happens, so a region that
//! runs out of time still reports what it already stopped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::stream::{self, StreamExt};

use crate::aws::accounts::RegionClients;
use crate::aws::kinds::{InRegion, Kind, KINDS};
use crate::aws::seal::Seal;
use crate::domain::config::{KindSet, SelectionConfig};
use crate::domain::inventory::{Resource, Target};
use crate::domain::kinds::label_of;
use crate::domain::outcome::{Failed, Outcome, RegionReport, Stamp};
use crate::domain::select::Skipped;

/// Stop calls of one kind in flight per region.
pub(crate) const REGION_CONCURRENCY: usize = 4;

/// What one sweep does in every region it covers.
#[derive(Debug, Clone)]
pub struct SweepSpec {
    pub select: SelectionConfig,
    pub dry_run: bool,
    pub stamp: Stamp,
    /// The kinds it stops (`KINDS`).
    pub kinds: KindSet,
    /// Concurrent stop calls inside one region.
    pub concurrency: usize,
    /// Seals what the stops save for resume.
    pub seal: Option<Seal>,
}

impl SweepSpec {
    pub fn new(select: &SelectionConfig, stamp: Stamp, dry_run: bool) -> SweepSpec {
        SweepSpec {
            select: select.clone(),
            dry_run,
            stamp,
            kinds: KindSet::standard(),
            concurrency: REGION_CONCURRENCY,
            seal: None,
        }
    }

    /// Stops only these kinds.
    pub fn kinds(self, kinds: &KindSet) -> SweepSpec {
        SweepSpec {
            kinds: kinds.clone(),
            ..self
        }
    }

    /// Seals what the stops save with `seal`.
    pub fn sealed(self, seal: Option<&Seal>) -> SweepSpec {
        SweepSpec {
            seal: seal.cloned(),
            ..self
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
    let at =
        InRegion::new(clients, region, &spec.kinds).sealing(spec.seal.as_ref(), Some(&spec.stamp));
    let at = &at;
    let shared = &shared;
    let kinds = KINDS.iter().filter(|k| spec.kinds.contains(k.kind()));
    futures::future::join_all(kinds.map(|kind| sweep_kind(*kind, at, spec, shared))).await;
}

/// Sweeps one kind in one region: its plan, then its stops in batches, each
/// stamped as soon as it is stopped.
async fn sweep_kind(kind: &dyn Kind, at: &InRegion<'_>, spec: &SweepSpec, shared: &Shared) {
    let region = at.region;
    let plan = match kind.plan_stop(at, &spec.select, &spec.stamp).await {
        Ok(plan) => plan,
        Err(e) => {
            tracing::error!(region, kind = %kind.kind(), error = %e, "cannot list");
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
    update(shared, |r| {
        r.skipped.extend(plan.skipped);
        r.earlier.extend(plan.earlier);
    });
    if spec.dry_run {
        update(shared, |r| {
            r.stopped
                .extend(plan.to_stop.into_iter().map(|t| t.resource))
        });
        return;
    }
    let by_handle: HashMap<&str, &Target> = plan
        .to_stop
        .iter()
        .map(|t| (t.handle.as_str(), t))
        .collect();
    let by_handle = &by_handle;
    // Each answer is recorded as it arrives, before anything else is awaited:
    // a region that runs out of time still reports every stop AWS acknowledged.
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
    let batches: Vec<Vec<Target>> = plan
        .to_stop
        .chunks(kind.batch().max(1))
        .map(<[Target]>::to_vec)
        .collect();
    let mut batches = stream::iter(batches)
        .map(|batch: Vec<Target>| async move {
            let batch = batch.as_slice();
            let done = kind.stop(at, batch, answer).await;
            if done.is_empty() {
                return;
            }
            let stopped: Vec<Target> = done
                .iter()
                .filter_map(|h| by_handle.get(h.as_str()).map(|t| (*t).clone()))
                .collect();
            let ids: Vec<String> = stopped.iter().map(|t| t.resource.id.clone()).collect();
            match kind.stamp(at, &stopped, &spec.stamp).await {
                Ok(()) => update(shared, |r| r.stamped(&ids)),
                Err(e) => {
                    tracing::warn!(region, kind = %kind.kind(), error = %e, resources = ?ids, "stopped but not stamped");
                    update(shared, |r| {
                        r.stamp_warnings.push(format!(
                            "{} stopped but not stamped: {e}",
                            label_of(kind.kind(), &ids)
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
