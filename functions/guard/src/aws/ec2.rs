//! EC2: list the instances that could be stopped, stop them in batches, stamp them.

use std::collections::{HashSet, VecDeque};

use aws_sdk_ec2::types::{Filter, Instance, Tag};
use aws_sdk_ec2::Client;

use crate::domain::config::{Selection, SelectionConfig};
use crate::domain::error::AwsError;
use crate::domain::inventory::Tags;
use crate::domain::kinds::ec2_instance::Ec2Instance;
use crate::domain::outcome::{Outcome, Stamp};
use crate::domain::tags::{RESUMING_TAG, STOPPED_AT_TAG, STOPPED_BY_TAG};

/// `DescribeInstances` page size: the API's maximum.
pub(crate) const PAGE_SIZE: i32 = 1000;
/// Ids per `StopInstances` call.
pub(crate) const STOP_BATCH: usize = 100;
/// Ids per `CreateTags` call.
const TAG_BATCH: usize = 500;
/// How a stop refused for the instance's stop protection is reported.
pub(crate) const STOP_PROTECTION: &str = "stop protection is enabled";

/// A resource's tags as the domain keeps them (a tag without a key is dropped).
pub fn tag_pairs(tags: &[Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

impl From<&Instance> for Ec2Instance {
    fn from(i: &Instance) -> Self {
        Ec2Instance {
            id: i.instance_id().unwrap_or_default().to_string(),
            instance_type: i
                .instance_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            state: i
                .state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_string())
                .unwrap_or_default(),
            root_device_type: i.root_device_type().map(|t| t.as_str().to_string()),
            spot_request_id: i.spot_instance_request_id().map(str::to_string),
            tags: tag_pairs(i.tags()),
        }
    }
}

/// Lists running and pending instances, and stopping and stopped ones (to tell
/// which an earlier invocation already stopped). In tagged mode the tag filter
/// runs on the server, so untagged instances are never even listed.
pub(crate) async fn describe_candidates(
    client: &Client,
    select: &SelectionConfig,
) -> Result<Vec<Ec2Instance>, AwsError> {
    let mut request = client
        .describe_instances()
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .values("running")
                .values("pending")
                .values("stopping")
                .values("stopped")
                .build(),
        )
        .max_results(PAGE_SIZE);
    if let Selection::Tagged { key, value } = &select.selection {
        request = request.filters(match value {
            Some(v) => Filter::builder()
                .name(format!("tag:{key}"))
                .values(v)
                .build(),
            None => Filter::builder().name("tag-key").values(key).build(),
        });
    }
    let mut pages = request.into_paginator().send();
    let mut instances = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ec2:DescribeInstances", e))?;
        for reservation in page.reservations() {
            for i in reservation.instances() {
                if i.instance_id().is_some() {
                    instances.push(Ec2Instance::from(i));
                }
            }
        }
    }
    Ok(instances)
}

/// The region's running and starting instances, every one (no tag filter),
/// as what they are billed for.
pub(crate) async fn describe_running(
    client: &Client,
    region: &str,
) -> Result<Vec<crate::domain::burn::usage::Running>, AwsError> {
    use crate::domain::burn::usage::{Os, Tenancy};
    use crate::domain::kinds::ec2_instance::charged;
    let mut pages = client
        .describe_instances()
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .values("running")
                .values("pending")
                .build(),
        )
        .max_results(PAGE_SIZE)
        .into_paginator()
        .send();
    let mut running = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ec2:DescribeInstances", e))?;
        for i in page.reservations().iter().flat_map(|r| r.instances()) {
            if i.instance_id().is_none() {
                continue;
            }
            let os = Os::from_platform(i.platform_details());
            let tenancy = Tenancy::from_placement(
                i.placement().and_then(|p| p.tenancy()).map(|t| t.as_str()),
            );
            running.extend(charged(&Ec2Instance::from(i), os, tenancy, region));
        }
    }
    Ok(running)
}

/// The instances `ids` as members of an Auto Scaling group: state, type
/// and tags. One call per 1,000 ids (paged); an id EC2 does not know is
/// left out, never an error for the rest.
pub(crate) async fn describe_by_ids(
    client: &Client,
    ids: &[String],
) -> Result<Vec<crate::domain::kinds::auto_scaling_group::Member>, AwsError> {
    use crate::domain::kinds::auto_scaling_group::Member;
    let mut members = Vec::new();
    for chunk in ids.chunks(1000) {
        let mut pages = client
            .describe_instances()
            .filters(
                Filter::builder()
                    .name("instance-id")
                    .set_values(Some(chunk.to_vec()))
                    .build(),
            )
            .max_results(PAGE_SIZE)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ec2:DescribeInstances", e))?;
            for i in page.reservations().iter().flat_map(|r| r.instances()) {
                let i = Ec2Instance::from(i);
                members.push(Member {
                    id: i.id,
                    state: i.state,
                    instance_type: i.instance_type,
                    tags: i.tags,
                });
            }
        }
    }
    Ok(members)
}

/// Of the given spot request ids, those that are one-time requests. One call per
/// 1,000 requests (paged), made only when the region has spot instances to stop.
pub(crate) async fn one_time_spot_requests(
    client: &Client,
    request_ids: &[String],
) -> Result<HashSet<String>, AwsError> {
    let mut one_time = HashSet::new();
    // The id filter takes at most 1,000 values; each chunk's answer is paged.
    for chunk in request_ids.chunks(1000) {
        let mut pages = client
            .describe_spot_instance_requests()
            .filters(
                Filter::builder()
                    .name("spot-instance-request-id")
                    .set_values(Some(chunk.to_vec()))
                    .build(),
            )
            .max_results(PAGE_SIZE)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::from_sdk("ec2:DescribeSpotInstanceRequests", e))?;
            for r in page.spot_instance_requests() {
                if r.r#type().map(|t| t.as_str()) == Some("one-time") {
                    if let Some(id) = r.spot_instance_request_id() {
                        one_time.insert(id.to_string());
                    }
                }
            }
        }
    }
    Ok(one_time)
}

/// Stops one batch of instances (see [`in_halves`]); returns the ids stopped.
pub(crate) async fn stop_batch(
    client: &Client,
    ids: Vec<String>,
    record: &(dyn Fn(Vec<(String, Outcome)>) + Send + Sync),
) -> Vec<String> {
    let call = |batch: Vec<String>| async move {
        client
            .stop_instances()
            .set_instance_ids(Some(batch))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("ec2:StopInstances", e))
    };
    in_halves(ids, call, classify_single, record).await
}

/// Starts one batch of instances (see [`in_halves`]); returns the ids started.
pub(crate) async fn start_batch(
    client: &Client,
    ids: Vec<String>,
    record: &(dyn Fn(Vec<(String, Outcome)>) + Send + Sync),
) -> Vec<String> {
    let call = |batch: Vec<String>| async move {
        client
            .start_instances()
            .set_instance_ids(Some(batch))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("ec2:StartInstances", e))
    };
    in_halves(ids, call, classify_single_start, record).await
}

/// Calls `call` on a batch of instance ids. When the call fails because of
/// some instance in it, the batch is split in halves and each half retried, so
/// one bad instance costs a few extra calls and the rest still go through.
/// Errors about the whole call (throttling after the SDK's retries, access
/// denied, no answer) are not split: every id of the batch gets that error;
/// one instance's own error is read by `single`.
///
/// `record` gets the outcomes of each answer as soon as it arrives (a split
/// batch answers several times), so nothing acknowledged is lost if the caller
/// runs out of time. The ids the calls accepted are returned.
async fn in_halves<Fut>(
    ids: Vec<String>,
    call: impl Fn(Vec<String>) -> Fut,
    single: fn(AwsError) -> Outcome,
    record: &(dyn Fn(Vec<(String, Outcome)>) + Send + Sync),
) -> Vec<String>
where
    Fut: std::future::Future<Output = Result<(), AwsError>>,
{
    let mut done = Vec::with_capacity(ids.len());
    let mut queue = VecDeque::from([ids]);
    while let Some(batch) = queue.pop_front() {
        if batch.is_empty() {
            continue;
        }
        let results: Vec<(String, Outcome)> = match call(batch.clone()).await {
            // Every id of an accepted call is acted on: an instance the answer
            // leaves out, or lists as already in that state, was acted on by an
            // earlier attempt of this same call.
            Ok(()) => batch.into_iter().map(|id| (id, Outcome::Done)).collect(),
            Err(err) if batch.len() == 1 => {
                let id = batch.into_iter().next().unwrap_or_default();
                vec![(id, single(err))]
            }
            Err(err) if err.is_region_wide() => {
                tracing::warn!(error = %err, ids = batch.len(), "batch failed as a whole");
                batch
                    .into_iter()
                    .map(|id| (id, Outcome::Failed(err.clone())))
                    .collect()
            }
            Err(err) => {
                tracing::info!(error = %err, ids = batch.len(), "batch failed; splitting it to isolate the instance");
                let mut left = batch;
                let right = left.split_off(left.len() / 2);
                queue.push_front(right);
                queue.push_front(left);
                continue;
            }
        };
        done.extend(
            results
                .iter()
                .filter(|(_, o)| *o == Outcome::Done)
                .map(|(id, _)| id.clone()),
        );
        record(results);
    }
    done
}

/// What one instance's own `StartInstances` error means.
fn classify_single_start(err: AwsError) -> Outcome {
    let message = err.message.clone();
    match err.code.as_str() {
        "IncorrectInstanceState" | "IncorrectSpotRequestState" => Outcome::Skipped(format!(
            "its state changed before it could be started: {message}"
        )),
        "InvalidInstanceID.NotFound" => Outcome::Skipped("it no longer exists".into()),
        "UnsupportedOperation" | "OperationNotPermitted" => {
            Outcome::Skipped(format!("EC2 does not permit starting it: {message}"))
        }
        // InsufficientInstanceCapacity among them: a failure, so that
        // resume is run again.
        _ => Outcome::Failed(err),
    }
}

/// What one instance's own `StopInstances` error means.
fn classify_single(err: AwsError) -> Outcome {
    let message = err.message.clone();
    match err.code.as_str() {
        "OperationNotPermitted"
            if ["protect", "disableapistop"]
                .iter()
                .any(|w| message.to_ascii_lowercase().contains(w)) =>
        {
            Outcome::Skipped(format!("{STOP_PROTECTION} ({message})"))
        }
        "OperationNotPermitted" => Outcome::Skipped(format!("EC2 does not permit stopping it: {message}")),
        "UnsupportedOperation" => Outcome::Skipped(format!(
            "EC2 cannot stop it (for example a spot instance of a one-time request, or an instance-store root device): {message}"
        )),
        "IncorrectInstanceState" | "IncorrectSpotRequestState" => {
            Outcome::Skipped(format!("its state changed before it could be stopped: {message}"))
        }
        "InvalidInstanceID.NotFound" => Outcome::Skipped("it no longer exists".into()),
        _ => Outcome::Failed(err),
    }
}

/// Stamps stopped instances with `cost-guard:stopped-at` and `cost-guard:stopped-by`.
pub async fn stamp(client: &Client, ids: &[String], stamp: &Stamp) -> Result<(), AwsError> {
    for chunk in ids.chunks(TAG_BATCH) {
        client
            .create_tags()
            .set_resources(Some(chunk.to_vec()))
            .tags(
                Tag::builder()
                    .key(crate::domain::tags::STOPPED_AT_TAG)
                    .value(&stamp.at)
                    .build(),
            )
            .tags(
                Tag::builder()
                    .key(crate::domain::tags::STOPPED_BY_TAG)
                    .value(&stamp.by)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:CreateTags", e))?;
    }
    Ok(())
}

/// Every instance that carries the stamp or a resume's marker, in any state:
/// what `resume` chooses from. The tag filter runs on the server.
pub(crate) async fn describe_stamped(client: &Client) -> Result<Vec<Ec2Instance>, AwsError> {
    let mut pages = client
        .describe_instances()
        .filters(
            Filter::builder()
                .name("tag-key")
                .values(STOPPED_AT_TAG)
                .values(RESUMING_TAG)
                .build(),
        )
        .max_results(PAGE_SIZE)
        .into_paginator()
        .send();
    let mut instances = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ec2:DescribeInstances", e))?;
        for reservation in page.reservations() {
            instances.extend(
                reservation
                    .instances()
                    .iter()
                    .filter(|i| i.instance_id().is_some())
                    .map(Ec2Instance::from),
            );
        }
    }
    Ok(instances)
}

/// Puts the resuming marker in place of the stamp: the marker first (the role
/// may write it only where the stamp is), then the stamp goes.
pub(crate) async fn mark_resuming(
    client: &Client,
    ids: &[String],
    marker: &str,
) -> Result<(), AwsError> {
    for chunk in ids.chunks(TAG_BATCH) {
        client
            .create_tags()
            .set_resources(Some(chunk.to_vec()))
            .tags(Tag::builder().key(RESUMING_TAG).value(marker).build())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:CreateTags", e))?;
        delete_tags(client, chunk, &[STOPPED_AT_TAG, STOPPED_BY_TAG]).await?;
    }
    Ok(())
}

/// Removes the resuming marker from what was started.
pub(crate) async fn clear_marker(client: &Client, ids: &[String]) -> Result<(), AwsError> {
    for chunk in ids.chunks(TAG_BATCH) {
        delete_tags(client, chunk, &[RESUMING_TAG]).await?;
    }
    Ok(())
}

async fn delete_tags(client: &Client, ids: &[String], keys: &[&str]) -> Result<(), AwsError> {
    let mut request = client.delete_tags().set_resources(Some(ids.to_vec()));
    for key in keys {
        request = request.tags(Tag::builder().key(*key).build());
    }
    request
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DeleteTags", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `classify` makes of one instance's error: the reason it was
    /// skipped, or `failed` with the error's code.
    fn said(classify: fn(AwsError) -> Outcome, code: &str, message: &str) -> String {
        match classify(AwsError::new("ec2:Call", code, message)) {
            Outcome::Skipped(why) => why,
            Outcome::Failed(e) => format!("failed: {}", e.code),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn single_instance_errors() {
        let stop = |code: &str, message: &str| said(classify_single, code, message);
        assert_eq!(
            stop(
                "OperationNotPermitted",
                "The instance has DisableApiStop enabled"
            ),
            format!("{STOP_PROTECTION} (The instance has DisableApiStop enabled)")
        );
        assert_eq!(
            stop(
                "OperationNotPermitted",
                "Stop is not allowed for this instance"
            ),
            "EC2 does not permit stopping it: Stop is not allowed for this instance"
        );
        assert!(stop("UnsupportedOperation", "spot").starts_with("EC2 cannot stop it ("));
        for code in ["IncorrectInstanceState", "IncorrectSpotRequestState"] {
            assert_eq!(
                stop(code, "pending"),
                "its state changed before it could be stopped: pending"
            );
        }
        assert_eq!(
            stop("InvalidInstanceID.NotFound", ""),
            "it no longer exists"
        );
        assert_eq!(stop("Throttling", ""), "failed: Throttling");

        let start = |code: &str, message: &str| said(classify_single_start, code, message);
        for code in ["IncorrectInstanceState", "IncorrectSpotRequestState"] {
            assert_eq!(
                start(code, "stopping"),
                "its state changed before it could be started: stopping"
            );
        }
        assert_eq!(
            start("InvalidInstanceID.NotFound", ""),
            "it no longer exists"
        );
        for code in ["UnsupportedOperation", "OperationNotPermitted"] {
            assert_eq!(start(code, "no"), "EC2 does not permit starting it: no");
        }
        assert_eq!(
            start("InsufficientInstanceCapacity", ""),
            "failed: InsufficientInstanceCapacity"
        );
    }

    /// Runs `in_halves` over four ids with a call that answers `answer(batch)`,
    /// and returns the batches it was asked with and what was recorded.
    async fn halves(
        answer: impl Fn(&[String]) -> Result<(), AwsError>,
    ) -> (Vec<Vec<String>>, Vec<(String, Outcome)>) {
        let ids: Vec<String> = (1..=4).map(|i| format!("i-{i}")).collect();
        let asked = std::sync::Mutex::new(Vec::new());
        let recorded = std::sync::Mutex::new(Vec::new());
        let record = |r: Vec<(String, Outcome)>| recorded.lock().unwrap().extend(r);
        in_halves(
            ids,
            |batch| {
                asked.lock().unwrap().push(batch.clone());
                let r = answer(&batch);
                async move { r }
            },
            classify_single,
            &record,
        )
        .await;
        (asked.into_inner().unwrap(), recorded.into_inner().unwrap())
    }

    #[tokio::test]
    async fn a_region_wide_error_fails_the_batch_at_once_and_one_instances_error_is_isolated() {
        // Throttling is about the region, not an instance: splitting would
        // only multiply the calls that AWS is throttling.
        let (asked, recorded) =
            halves(|_| Err(AwsError::new("ec2:StopInstances", "Throttling", ""))).await;
        assert_eq!(asked.len(), 1, "{asked:?}");
        assert_eq!(recorded.len(), 4);
        assert!(recorded
            .iter()
            .all(|(_, o)| matches!(o, Outcome::Failed(_))));

        // One protected instance fails its whole batch: halving finds it,
        // and the other three are stopped.
        let (asked, recorded) = halves(|batch| {
            if batch.iter().any(|id| id == "i-3") {
                Err(AwsError::new(
                    "ec2:StopInstances",
                    "OperationNotPermitted",
                    "stop protection",
                ))
            } else {
                Ok(())
            }
        })
        .await;
        assert_eq!(asked.len(), 5, "{asked:?}");
        let done: Vec<&str> = recorded
            .iter()
            .filter(|(_, o)| *o == Outcome::Done)
            .map(|(id, _)| id.as_str())
            .collect();
        assert_eq!(done, ["i-1", "i-2", "i-4"]);
        assert!(recorded
            .iter()
            .any(|(id, o)| id == "i-3" && matches!(o, Outcome::Skipped(_))));
    }
}
