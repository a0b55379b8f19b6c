//! EC2 for the launch tripwire: what a call launched or started (from the
//! event alone for RunInstances, else by asking EC2 about exactly those ids,
//! never the whole fleet), and stopping exactly the instances the decision
//! names, turning stop protection off only where the decision allows it.

use std::sync::Mutex;

use aws_sdk_ec2::types::AttributeBooleanValue;
use aws_sdk_ec2::Client;

use crate::aws::ec2;
use crate::domain::error::AwsError;
use crate::domain::inventory::tag;
use crate::domain::kinds::ec2_instance::Ec2Instance;
use crate::domain::outcome::{Outcome, Stamp};
use crate::domain::tags::{STOPPED_AT_TAG, STOPPED_BY_TAG};
use crate::domain::trigger::launch::ApiCall;
use crate::domain::tripwire::{Observed, StopOutcome, Target};

impl From<&Ec2Instance> for Observed {
    fn from(i: &Ec2Instance) -> Self {
        let mut requests = Observed::fleet_tags(&i.tags);
        requests.extend(i.spot_request_id.clone());
        Observed {
            id: i.id.clone(),
            instance_type: Some(i.instance_type.clone()).filter(|t| !t.is_empty()),
            stamped_by: tag(&i.tags, STOPPED_AT_TAG).map(|_| {
                tag(&i.tags, STOPPED_BY_TAG)
                    .unwrap_or("an earlier alert")
                    .to_string()
            }),
            tags: i.tags.clone(),
            requests,
            one_time_spot: None,
        }
    }
}

/// The instances a call launched or started. RunInstances and an instant
/// CreateFleet name them with their types, so EC2 is not asked, unless an
/// AWS service launched them (its tags tell which request or group); a start
/// is described (type and stamp), and only for the instances it started
/// (stopped before the call); spot requests and fleets are asked for theirs.
pub(crate) async fn observe(client: &Client, call: &ApiCall) -> Result<Vec<Observed>, AwsError> {
    let Some(launch) = call.launch() else {
        return Ok(Vec::new());
    };
    if call.error.is_some() {
        return Ok(Vec::new());
    }
    let known =
        !launch.instances.is_empty() && launch.instances.iter().all(|i| i.instance_type.is_some());
    let by_service = call.principal.service().is_some() || call.principal.invoked_by.is_some();
    let all_ids = || launch.instances.iter().map(|i| i.id.clone()).collect();
    let mut seen = match call.event_name.as_str() {
        "StartInstances" => {
            let started = launch
                .instances
                .iter()
                .filter(|i| i.was_stopped())
                .map(|i| i.id.clone())
                .collect();
            describe(client, started).await?
        }
        _ if known && !by_service => Observed::from_event(launch),
        // What the call's requests and fleets run (a RunInstances of spot
        // instances names its instances by their spot requests too).
        _ if launch.instances.is_empty() => {
            let mut seen = spot_request_instances(client, &launch.spot_requests).await?;
            seen.extend(fleet_instances(client, &launch.spot_fleets, true).await?);
            seen.extend(fleet_instances(client, &launch.fleets, false).await?);
            seen
        }
        _ => describe(client, all_ids()).await?,
    };
    one_time_spots(client, &mut seen).await?;
    Ok(seen)
}

/// One instance as EC2 describes it now, or `None` when EC2 does not know it.
pub(crate) async fn describe_one(client: &Client, id: &str) -> Result<Option<Observed>, AwsError> {
    let out = client.describe_instances().instance_ids(id).send().await;
    let mut seen = match out {
        Ok(page) => page
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| Observed::from(&Ec2Instance::from(i)))
            .filter(|i| i.id == id)
            .collect::<Vec<_>>(),
        Err(e) => {
            let e = AwsError::from_sdk("ec2:DescribeInstances", e);
            if e.code == "InvalidInstanceID.NotFound" || e.code == "InvalidInstanceID.Malformed" {
                return Ok(None);
            }
            return Err(e);
        }
    };
    one_time_spots(client, &mut seen).await?;
    Ok(seen.pop())
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

/// Marks the one-time spot instances among `seen`: EC2 cannot stop them. One
/// call, made only when some instance is a spot instance.
async fn one_time_spots(client: &Client, seen: &mut [Observed]) -> Result<(), AwsError> {
    let spot: Vec<String> = seen
        .iter()
        .flat_map(|i| i.requests.iter())
        .filter(|r| r.starts_with("sir-"))
        .cloned()
        .collect();
    if spot.is_empty() {
        return Ok(());
    }
    let one_time = ec2::one_time_spot_requests(client, &spot).await?;
    for i in seen.iter_mut() {
        i.one_time_spot = i.requests.iter().find(|r| one_time.contains(*r)).cloned();
    }
    Ok(())
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
            // Which of them are one-time requests, one_time_spots says.
            let request = r.spot_instance_request_id()?.to_string();
            Some(Observed {
                id: r.instance_id()?.to_string(),
                instance_type: r
                    .launch_specification()
                    .and_then(|l| l.instance_type())
                    .map(|t| t.as_str().to_string()),
                requests: vec![request],
                ..Default::default()
            })
        })
        .collect())
}

/// The active instances of spot fleet requests (`spot`) or EC2 fleets.
async fn fleet_instances(
    client: &Client,
    fleets: &[String],
    spot: bool,
) -> Result<Vec<Observed>, AwsError> {
    let mut seen = Vec::new();
    for fleet in fleets {
        let active = if spot {
            client
                .describe_spot_fleet_instances()
                .spot_fleet_request_id(fleet)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ec2:DescribeSpotFleetInstances", e))?
                .active_instances
        } else {
            client
                .describe_fleet_instances()
                .fleet_id(fleet)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ec2:DescribeFleetInstances", e))?
                .active_instances
        };
        seen.extend(active.unwrap_or_default().iter().filter_map(|a| {
            let mut requests = vec![fleet.clone()];
            requests.extend(a.spot_instance_request_id().map(str::to_string));
            Some(Observed {
                id: a.instance_id()?.to_string(),
                instance_type: a.instance_type().map(str::to_string),
                requests,
                ..Default::default()
            })
        }));
    }
    Ok(seen)
}

/// Stops exactly `targets` and stamps them. An instance refused for its stop
/// protection has it turned off (that instance alone) and is stopped again,
/// when the target allows it; otherwise it is reported as protected. A
/// one-time spot instance is not stopped (EC2 would refuse): it is reported.
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
    let (spot, stoppable): (Vec<&Target>, Vec<&Target>) =
        targets.iter().partition(|t| t.one_time_spot.is_some());
    outcome.one_time_spot = spot
        .iter()
        .map(|t| (t.id.clone(), t.one_time_spot.clone().unwrap_or_default()))
        .collect();
    let ids: Vec<String> = stoppable.iter().map(|t| t.id.clone()).collect();
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
        let may = stoppable.iter().any(|t| t.id == id && t.may_unprotect);
        if !may {
            tracing::warn!(instance = %id, "stop protection is on and stays on");
            outcome.protected.push(id);
            continue;
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::operation::stop_instances::StopInstancesError;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    /// An instance that is gone by the time of the stop is skipped with the
    /// reason: only a refusal for stop protection makes the tripwire look at
    /// the protection (and, for what it may, turn it off).
    #[tokio::test]
    async fn an_instance_gone_before_the_stop_is_skipped_not_taken_for_protected() {
        let gone = mock!(Client::stop_instances).then_error(|| {
            StopInstancesError::generic(
                aws_smithy_types::error::ErrorMetadata::builder()
                    .code("InvalidInstanceID.NotFound")
                    .message("The instance ID 'i-0gone' does not exist")
                    .build(),
            )
        });
        let unprotect = mock!(Client::modify_instance_attribute).then_output(|| {
            aws_sdk_ec2::operation::modify_instance_attribute::ModifyInstanceAttributeOutput::builder()
                .build()
        });
        let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&gone, &unprotect]);
        let target = Target {
            id: "i-0gone".into(),
            instance_type: Some("p3.2xlarge".into()),
            why: "a costly type".into(),
            may_unprotect: true,
            one_time_spot: None,
        };
        let stamp = Stamp {
            at: "2026-12-05T12:00:00Z".into(),
            by: "tripwire:RunInstances".into(),
        };
        let o = stop(&client, &[target], &stamp, false).await;
        assert_eq!(
            o.skipped,
            [("i-0gone".to_string(), "it no longer exists".to_string())]
        );
        assert!(
            o.protected.is_empty() && o.protection_removed.is_empty(),
            "{o:?}"
        );
        assert!(o.stopped.is_empty() && o.failed.is_empty(), "{o:?}");
        assert_eq!(unprotect.num_calls(), 0);
    }
}
