//! EC2 for the launch tripwire: what a call launched (from the event alone for
//! RunInstances, else by asking EC2 about exactly those ids, never the whole
//! fleet), and stopping exactly those instances, turning off stop protection
//! where it is on.

use std::sync::Mutex;

use aws_sdk_ec2::types::AttributeBooleanValue;
use aws_sdk_ec2::Client;

use crate::aws::ec2;
use crate::domain::error::AwsError;
use crate::domain::inventory::{tag, Ec2Instance};
use crate::domain::outcome::{Outcome, Stamp, STOPPED_AT_TAG, STOPPED_BY_TAG};
use crate::domain::trigger::launch::{ApiCall, Launch};
use crate::domain::tripwire::{Observed, StopOutcome, Target};

impl From<&Ec2Instance> for Observed {
    fn from(i: &Ec2Instance) -> Self {
        Observed {
            id: i.id.clone(),
            instance_type: Some(i.instance_type.clone()).filter(|t| !t.is_empty()),
            stamped_by: tag(&i.tags, STOPPED_AT_TAG).map(|_| {
                tag(&i.tags, STOPPED_BY_TAG)
                    .unwrap_or("an earlier alert")
                    .to_string()
            }),
            tags: i
                .tags
                .iter()
                .filter(|(k, _)| k.starts_with("aws:"))
                .cloned()
                .collect(),
        }
    }
}

/// The instances a call launched or started. RunInstances and an instant
/// CreateFleet name them with their types, so EC2 is not asked; a start is
/// described (type and stamp), spot requests and fleets are asked for theirs.
pub(crate) async fn observe(client: &Client, call: &ApiCall) -> Result<Vec<Observed>, AwsError> {
    let Some(launch) = call.launch() else {
        return Ok(Vec::new());
    };
    if call.error.is_some() {
        return Ok(Vec::new());
    }
    let from_event = || Observed::from_event(launch);
    let known =
        !launch.instances.is_empty() && launch.instances.iter().all(|i| i.instance_type.is_some());
    match call.event_name.as_str() {
        "StartInstances" => describe(client, ids(launch)).await,
        _ if known => Ok(from_event()),
        "RequestSpotInstances" => spot_request_instances(client, &launch.spot_requests).await,
        "RequestSpotFleet" => spot_fleet_instances(client, &launch.spot_fleets).await,
        "CreateFleet" => fleet_instances(client, &launch.fleets).await,
        _ => describe(client, ids(launch)).await,
    }
}

fn ids(launch: &Launch) -> Vec<String> {
    launch.instances.iter().map(|i| i.id.clone()).collect()
}

/// Those instances, by id (one call per 1,000).
async fn describe(client: &Client, ids: Vec<String>) -> Result<Vec<Observed>, AwsError> {
    let mut seen = Vec::new();
    for chunk in ids.chunks(1000) {
        let mut pages = client
            .describe_instances()
            .set_instance_ids(Some(chunk.to_vec()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ec2:DescribeInstances", e))?;
            for r in page.reservations() {
                seen.extend(
                    r.instances()
                        .iter()
                        .map(|i| Observed::from(&Ec2Instance::from(i))),
                );
            }
        }
    }
    Ok(seen)
}

async fn spot_request_instances(
    client: &Client,
    requests: &[String],
) -> Result<Vec<Observed>, AwsError> {
    if requests.is_empty() {
        return Ok(Vec::new());
    }
    let out = client
        .describe_spot_instance_requests()
        .set_spot_instance_request_ids(Some(requests.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeSpotInstanceRequests", e))?;
    Ok(out
        .spot_instance_requests()
        .iter()
        .filter_map(|r| {
            Some(Observed {
                id: r.instance_id()?.to_string(),
                instance_type: r
                    .launch_specification()
                    .and_then(|l| l.instance_type())
                    .map(|t| t.as_str().to_string()),
                stamped_by: None,
                tags: Vec::new(),
            })
        })
        .collect())
}

async fn spot_fleet_instances(
    client: &Client,
    fleets: &[String],
) -> Result<Vec<Observed>, AwsError> {
    let mut seen = Vec::new();
    for fleet in fleets {
        let out = client
            .describe_spot_fleet_instances()
            .spot_fleet_request_id(fleet)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeSpotFleetInstances", e))?;
        seen.extend(out.active_instances().iter().filter_map(|a| {
            Some(Observed {
                id: a.instance_id()?.to_string(),
                instance_type: a.instance_type().map(str::to_string),
                stamped_by: None,
                tags: Vec::new(),
            })
        }));
    }
    Ok(seen)
}

async fn fleet_instances(client: &Client, fleets: &[String]) -> Result<Vec<Observed>, AwsError> {
    let mut seen = Vec::new();
    for fleet in fleets {
        let out = client
            .describe_fleet_instances()
            .fleet_id(fleet)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeFleetInstances", e))?;
        seen.extend(out.active_instances().iter().filter_map(|a| {
            Some(Observed {
                id: a.instance_id()?.to_string(),
                instance_type: a.instance_type().map(str::to_string),
                stamped_by: None,
                tags: Vec::new(),
            })
        }));
    }
    Ok(seen)
}

/// Stops exactly `targets` and stamps them. An instance refused for its stop
/// protection has it turned off (that instance alone) and is stopped again.
/// A dry run changes nothing.
pub(crate) async fn stop(
    client: &Client,
    targets: &[Target],
    stamp: &Stamp,
    dry_run: bool,
) -> StopOutcome {
    let mut outcome = StopOutcome {
        dry_run,
        ..Default::default()
    };
    let ids: Vec<String> = targets.iter().map(|t| t.id.clone()).collect();
    if dry_run {
        outcome.stopped = ids;
        return outcome;
    }
    let results: Mutex<Vec<(String, Outcome)>> = Mutex::default();
    let record =
        |r: Vec<(String, Outcome)>| results.lock().unwrap_or_else(|p| p.into_inner()).extend(r);
    for batch in ids.chunks(ec2::STOP_BATCH) {
        ec2::stop_batch(client, batch.to_vec(), &record).await;
    }
    let first = std::mem::take(&mut *results.lock().unwrap_or_else(|p| p.into_inner()));
    let mut protected = Vec::new();
    for (id, o) in first {
        match o {
            Outcome::Skipped(why) if why.starts_with(ec2::STOP_PROTECTION) => protected.push(id),
            o => settle(&mut outcome, id, o),
        }
    }
    for id in protected {
        match unprotect(client, &id).await {
            Ok(()) => {
                tracing::warn!(instance = %id, "stop protection turned off");
                outcome.protection_removed.push(id.clone());
                ec2::stop_batch(client, vec![id], &record).await;
            }
            Err(e) => outcome.failed.push((
                id,
                format!(
                    "stop protection is on and could not be turned off: {e} ({})",
                    e.advice()
                ),
            )),
        }
    }
    let second = std::mem::take(&mut *results.lock().unwrap_or_else(|p| p.into_inner()));
    for (id, o) in second {
        settle(&mut outcome, id, o);
    }
    if !outcome.stopped.is_empty() {
        if let Err(e) = ec2::stamp(client, &outcome.stopped, stamp).await {
            tracing::warn!(error = %e, "stopped but not stamped");
            outcome.unstamped = Some(format!("{e} ({})", e.advice()));
        }
    }
    outcome
}

fn settle(outcome: &mut StopOutcome, id: String, o: Outcome) {
    match o {
        Outcome::Done => outcome.stopped.push(id),
        Outcome::AlreadyDone => outcome
            .skipped
            .push((id, "already stopped or stopping".into())),
        Outcome::Skipped(why) => outcome.skipped.push((id, why)),
        Outcome::Failed(e) => outcome.failed.push((id, format!("{e} ({})", e.advice()))),
    }
}

/// Turns stop protection off on one instance.
async fn unprotect(client: &Client, id: &str) -> Result<(), AwsError> {
    client
        .modify_instance_attribute()
        .instance_id(id)
        .disable_api_stop(AttributeBooleanValue::builder().value(false).build())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::from_sdk("ec2:ModifyInstanceAttribute", e))
}
