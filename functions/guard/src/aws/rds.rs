//! RDS: list DB instances and clusters (tags come inline), stop them, stamp them.

use aws_sdk_rds::types::Tag;
use aws_sdk_rds::Client;

use crate::domain::error::AwsError;
use crate::domain::inventory::Tags;
use crate::domain::kinds::db_cluster::DbCluster;
use crate::domain::kinds::db_instance::DbInstance;
use crate::domain::outcome::{Outcome, Stamp};
use crate::domain::tags::{RESUMING_TAG, STOPPED_AT_TAG, STOPPED_BY_TAG};

/// Describe page size: the API's maximum.
pub(crate) const PAGE_SIZE: i32 = 100;

/// A resource's tags as the domain keeps them (a tag without a key is dropped).
pub fn tag_pairs(list: &[Tag]) -> Tags {
    list.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

impl From<&aws_sdk_rds::types::DbInstance> for DbInstance {
    fn from(d: &aws_sdk_rds::types::DbInstance) -> Self {
        DbInstance {
            id: d.db_instance_identifier().unwrap_or_default().to_string(),
            arn: d.db_instance_arn().unwrap_or_default().to_string(),
            class: d.db_instance_class().unwrap_or_default().to_string(),
            engine: d.engine().unwrap_or_default().to_string(),
            status: d.db_instance_status().unwrap_or_default().to_string(),
            cluster_id: d.db_cluster_identifier().map(str::to_string),
            replica_source: d
                .read_replica_source_db_instance_identifier()
                .map(str::to_string),
            replicas: d.read_replica_db_instance_identifiers().to_vec(),
            tags: tag_pairs(d.tag_list()),
        }
    }
}

impl From<&aws_sdk_rds::types::DbCluster> for DbCluster {
    fn from(c: &aws_sdk_rds::types::DbCluster) -> Self {
        DbCluster {
            id: c.db_cluster_identifier().unwrap_or_default().to_string(),
            arn: c.db_cluster_arn().unwrap_or_default().to_string(),
            engine: c.engine().unwrap_or_default().to_string(),
            engine_mode: c.engine_mode().map(str::to_string),
            status: c.status().unwrap_or_default().to_string(),
            replication_source: c.replication_source_identifier().map(str::to_string),
            tags: tag_pairs(c.tag_list()),
        }
    }
}

/// Every DB instance of the region, as RDS describes it, page by page.
async fn db_instances(client: &Client) -> Result<Vec<aws_sdk_rds::types::DbInstance>, AwsError> {
    let mut pages = client
        .describe_db_instances()
        .max_records(PAGE_SIZE)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("rds:DescribeDBInstances", e))?;
        out.extend(
            page.db_instances()
                .iter()
                .filter(|d| d.db_instance_identifier().is_some())
                .cloned(),
        );
    }
    Ok(out)
}

pub async fn describe_instances(client: &Client) -> Result<Vec<DbInstance>, AwsError> {
    Ok(db_instances(client)
        .await?
        .iter()
        .map(DbInstance::from)
        .collect())
}

/// The region's DB instances that are billed now, as what they are billed
/// for (Multi-AZ is read here: the sweep has no use for it).
pub(crate) async fn describe_running(
    client: &Client,
    region: &str,
) -> Result<Vec<crate::domain::burn::usage::Running>, AwsError> {
    use crate::domain::kinds::db_instance::charged;
    Ok(db_instances(client)
        .await?
        .iter()
        .filter_map(|d| charged(&DbInstance::from(d), d.multi_az().unwrap_or(false), region))
        .collect())
}

pub(crate) async fn describe_clusters(client: &Client) -> Result<Vec<DbCluster>, AwsError> {
    let mut pages = client
        .describe_db_clusters()
        .max_records(PAGE_SIZE)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("rds:DescribeDBClusters", e))?;
        out.extend(
            page.db_clusters()
                .iter()
                .filter(|c| c.db_cluster_identifier().is_some())
                .map(DbCluster::from),
        );
    }
    Ok(out)
}

/// RDS's answer to stopping a database that is not `available`. Its message
/// does not say the state (moto: `Instance db-1 is not in available state.`,
/// whatever it is), so the database's status is read again to tell "already
/// stopped" from "busy".
fn is_state_error(err: &AwsError) -> bool {
    matches!(
        err.code.as_str(),
        "InvalidDBInstanceState" | "InvalidDBInstanceStateFault" | "InvalidDBClusterStateFault"
    )
}

fn is_not_found(err: &AwsError) -> bool {
    matches!(
        err.code.as_str(),
        "DBInstanceNotFound" | "DBInstanceNotFoundFault" | "DBClusterNotFoundFault"
    )
}

fn classify(err: AwsError) -> Outcome {
    match err.code.as_str() {
        _ if is_not_found(&err) => Outcome::Skipped("it no longer exists".into()),
        "UnsupportedDBEngineVersion" | "InvalidParameterCombination" | "InvalidParameterValue" => {
            Outcome::Skipped(format!("RDS cannot stop it: {}", err.message))
        }
        _ => Outcome::Failed(err),
    }
}

/// What a state error means, given the status the database has now (`None`
/// when it no longer exists, an error when it could not be read).
fn settle(err: AwsError, status: Result<Option<String>, AwsError>) -> Outcome {
    match status {
        Ok(Some(s)) if matches!(s.as_str(), "stopped" | "stopping") => Outcome::AlreadyDone,
        Ok(Some(s)) => Outcome::Skipped(format!(
            "RDS refused to stop it while its status is {s}: {}",
            err.message
        )),
        Ok(None) => Outcome::Skipped("it no longer exists".into()),
        Err(_) => Outcome::Failed(err),
    }
}

async fn instance_status(client: &Client, id: &str) -> Result<Option<String>, AwsError> {
    match client
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .db_instances()
            .first()
            .and_then(|d| d.db_instance_status().map(str::to_string))),
        Err(e) => match AwsError::from_sdk("rds:DescribeDBInstances", e) {
            e if is_not_found(&e) => Ok(None),
            e => Err(e),
        },
    }
}

async fn cluster_status(client: &Client, id: &str) -> Result<Option<String>, AwsError> {
    match client
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .db_clusters()
            .first()
            .and_then(|c| c.status().map(str::to_string))),
        Err(e) => match AwsError::from_sdk("rds:DescribeDBClusters", e) {
            e if is_not_found(&e) => Ok(None),
            e => Err(e),
        },
    }
}

pub(crate) async fn stop_instance(client: &Client, id: &str) -> Outcome {
    match client
        .stop_db_instance()
        .db_instance_identifier(id)
        .send()
        .await
    {
        Ok(_) => Outcome::Done,
        Err(e) => match AwsError::from_sdk("rds:StopDBInstance", e) {
            e if is_state_error(&e) => settle(e, instance_status(client, id).await),
            e => classify(e),
        },
    }
}

pub(crate) async fn stop_cluster(client: &Client, id: &str) -> Outcome {
    match client
        .stop_db_cluster()
        .db_cluster_identifier(id)
        .send()
        .await
    {
        Ok(_) => Outcome::Done,
        Err(e) => match AwsError::from_sdk("rds:StopDBCluster", e) {
            e if is_state_error(&e) => settle(e, cluster_status(client, id).await),
            e => classify(e),
        },
    }
}

/// Starts a stopped DB instance; a state error is settled by its status.
pub(crate) async fn start_instance(client: &Client, id: &str) -> Outcome {
    match client
        .start_db_instance()
        .db_instance_identifier(id)
        .send()
        .await
    {
        Ok(_) => Outcome::Done,
        Err(e) => match AwsError::from_sdk("rds:StartDBInstance", e) {
            e if is_state_error(&e) => settle_start(e, instance_status(client, id).await),
            e => classify(e),
        },
    }
}

/// Starts a stopped DB cluster; a state error is settled by its status.
pub(crate) async fn start_cluster(client: &Client, id: &str) -> Outcome {
    match client
        .start_db_cluster()
        .db_cluster_identifier(id)
        .send()
        .await
    {
        Ok(_) => Outcome::Done,
        Err(e) => match AwsError::from_sdk("rds:StartDBCluster", e) {
            e if is_state_error(&e) => settle_start(e, cluster_status(client, id).await),
            e => classify(e),
        },
    }
}

/// What a state error from a start means, given the status now.
fn settle_start(err: AwsError, status: Result<Option<String>, AwsError>) -> Outcome {
    match status {
        Ok(Some(s)) if matches!(s.as_str(), "available" | "starting") => Outcome::AlreadyDone,
        Ok(Some(s)) => Outcome::Skipped(format!(
            "RDS refused to start it while its status is {s}: {}",
            err.message
        )),
        Ok(None) => Outcome::Skipped("it no longer exists".into()),
        Err(_) => Outcome::Failed(err),
    }
}

/// Puts the resuming marker in place of the stamp (see `ec2::mark_resuming`).
pub(crate) async fn mark_resuming(
    client: &Client,
    arn: &str,
    marker: &str,
) -> Result<(), AwsError> {
    client
        .add_tags_to_resource()
        .resource_name(arn)
        .tags(Tag::builder().key(RESUMING_TAG).value(marker).build())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds:AddTagsToResource", e))?;
    remove_tags(client, arn, &[STOPPED_AT_TAG, STOPPED_BY_TAG]).await
}

/// Removes the resuming marker from what was started.
pub(crate) async fn clear_marker(client: &Client, arn: &str) -> Result<(), AwsError> {
    remove_tags(client, arn, &[RESUMING_TAG]).await
}

async fn remove_tags(client: &Client, arn: &str, keys: &[&str]) -> Result<(), AwsError> {
    client
        .remove_tags_from_resource()
        .resource_name(arn)
        .set_tag_keys(Some(keys.iter().map(|k| k.to_string()).collect()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds:RemoveTagsFromResource", e))?;
    Ok(())
}

/// One DB instance by id, tags included; `None` when it no longer exists.
pub(crate) async fn describe_instance(
    client: &Client,
    id: &str,
) -> Result<Option<DbInstance>, AwsError> {
    match client
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.db_instances().first().map(DbInstance::from)),
        Err(e) => match AwsError::from_sdk("rds:DescribeDBInstances", e) {
            e if is_not_found(&e) => Ok(None),
            e => Err(e),
        },
    }
}

/// One DB cluster by id, tags included; `None` when it no longer exists.
pub(crate) async fn describe_cluster(
    client: &Client,
    id: &str,
) -> Result<Option<DbCluster>, AwsError> {
    match client
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.db_clusters().first().map(DbCluster::from)),
        Err(e) => match AwsError::from_sdk("rds:DescribeDBClusters", e) {
            e if is_not_found(&e) => Ok(None),
            e => Err(e),
        },
    }
}

/// Writes one tag (the keep-stopped watch's restart mark and restop count).
pub(crate) async fn put_tag(
    client: &Client,
    arn: &str,
    key: &str,
    value: &str,
) -> Result<(), AwsError> {
    client
        .add_tags_to_resource()
        .resource_name(arn)
        .tags(Tag::builder().key(key).value(value).build())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("rds:AddTagsToResource", e))?;
    Ok(())
}

/// Removes one tag.
pub(crate) async fn drop_tag(client: &Client, arn: &str, key: &str) -> Result<(), AwsError> {
    remove_tags(client, arn, &[key]).await
}

pub async fn stamp(client: &Client, arn: &str, stamp: &Stamp) -> Result<(), AwsError> {
    client
        .add_tags_to_resource()
        .resource_name(arn)
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
        .map_err(|e| AwsError::from_sdk("rds:AddTagsToResource", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_errors_are_settled_by_the_status_not_the_words() {
        // The messages RDS and moto return name no state, or a misleading one.
        let state = |msg: &str| AwsError::new("rds:StopDBInstance", "InvalidDBInstanceState", msg);
        let now = |s: &str| Ok(Some(s.to_string()));
        assert_eq!(
            settle(
                state("Instance db-1 is not in available state."),
                now("stopped")
            ),
            Outcome::AlreadyDone
        );
        assert_eq!(
            settle(state("DbCluster c is in stopping state"), now("stopping")),
            Outcome::AlreadyDone
        );
        // "cannot be stopped" is not "already stopped".
        assert_eq!(
            settle(state("Instance db-1 cannot be stopped now."), now("backing-up")),
            Outcome::Skipped(
                "RDS refused to stop it while its status is backing-up: Instance db-1 cannot be stopped now.".into()
            )
        );
        assert_eq!(
            settle(state("x"), Ok(None)),
            Outcome::Skipped("it no longer exists".into())
        );
        let unreadable = Err(AwsError::new("rds:DescribeDBInstances", "Throttling", ""));
        assert_eq!(settle(state("x"), unreadable), Outcome::Failed(state("x")));
    }

    #[test]
    fn only_rds_state_errors_are_settled_by_reading_the_status() {
        // Any other error (denied, throttled, gone) is not "busy" nor
        // "already stopped", whatever the status says.
        let error = |code: &str| AwsError::new("rds:StopDBInstance", code, "m");
        for code in [
            "InvalidDBInstanceState",
            "InvalidDBInstanceStateFault",
            "InvalidDBClusterStateFault",
        ] {
            assert!(is_state_error(&error(code)), "{code}");
        }
        for code in [
            "AccessDenied",
            "Throttling",
            "DBInstanceNotFound",
            "InvalidParameterValue",
        ] {
            assert!(!is_state_error(&error(code)), "{code}");
        }
        for code in [
            "DBInstanceNotFound",
            "DBInstanceNotFoundFault",
            "DBClusterNotFoundFault",
        ] {
            assert!(is_not_found(&error(code)), "{code}");
        }
        assert!(!is_not_found(&error("InvalidDBInstanceState")));
    }

    /// A client whose stop and start calls fail with `code`, and whose
    /// describe calls say the database's status is `status`.
    fn refusing(code: &'static str, status: &'static str) -> Client {
        use aws_sdk_rds::error::ErrorMetadata;
        use aws_sdk_rds::operation::describe_db_clusters::DescribeDbClustersOutput;
        use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
        use aws_sdk_rds::operation::start_db_cluster::StartDBClusterError;
        use aws_sdk_rds::operation::start_db_instance::StartDBInstanceError;
        use aws_sdk_rds::operation::stop_db_cluster::StopDBClusterError;
        use aws_sdk_rds::operation::stop_db_instance::StopDBInstanceError;
        use aws_sdk_rds::types::{DbCluster, DbInstance};
        use aws_smithy_mocks::{mock, mock_client, RuleMode};
        let meta = move || ErrorMetadata::builder().code(code).message("m").build();
        let stop = mock!(Client::stop_db_instance)
            .then_error(move || StopDBInstanceError::generic(meta()));
        let stop_cluster =
            mock!(Client::stop_db_cluster).then_error(move || StopDBClusterError::generic(meta()));
        let start = mock!(Client::start_db_instance)
            .then_error(move || StartDBInstanceError::generic(meta()));
        let start_cluster = mock!(Client::start_db_cluster)
            .then_error(move || StartDBClusterError::generic(meta()));
        let instances = mock!(Client::describe_db_instances).then_output(move || {
            DescribeDbInstancesOutput::builder()
                .db_instances(DbInstance::builder().db_instance_status(status).build())
                .build()
        });
        let clusters = mock!(Client::describe_db_clusters).then_output(move || {
            DescribeDbClustersOutput::builder()
                .db_clusters(DbCluster::builder().status(status).build())
                .build()
        });
        mock_client!(
            aws_sdk_rds,
            RuleMode::MatchAny,
            &[
                &stop,
                &stop_cluster,
                &start,
                &start_cluster,
                &instances,
                &clusters
            ]
        )
    }

    #[tokio::test]
    async fn a_state_error_is_settled_by_the_status_and_any_other_error_fails() {
        // RDS's state errors: the status tells "already done" from "busy".
        let c = refusing("InvalidDBInstanceState", "stopped");
        assert_eq!(stop_instance(&c, "db").await, Outcome::AlreadyDone);
        let c = refusing("InvalidDBClusterStateFault", "stopped");
        assert_eq!(stop_cluster(&c, "c").await, Outcome::AlreadyDone);
        let c = refusing("InvalidDBInstanceState", "available");
        assert_eq!(start_instance(&c, "db").await, Outcome::AlreadyDone);
        let c = refusing("InvalidDBClusterStateFault", "available");
        assert_eq!(start_cluster(&c, "c").await, Outcome::AlreadyDone);
        let c = refusing("InvalidDBInstanceState", "starting");
        assert_eq!(start_instance(&c, "db").await, Outcome::AlreadyDone);
        // Still stopping: not started, and said so.
        let c = refusing("InvalidDBInstanceState", "stopping");
        assert_eq!(
            start_instance(&c, "db").await,
            Outcome::Skipped("RDS refused to start it while its status is stopping: m".into())
        );
        // A denied call is a failure, whatever the status: it is neither
        // stopped nor busy, and the report and the retry must say so.
        let denied = |status| refusing("AccessDenied", status);
        let failed = |o: Outcome| matches!(o, Outcome::Failed(e) if e.code == "AccessDenied");
        assert!(failed(stop_instance(&denied("stopped"), "db").await));
        assert!(failed(stop_cluster(&denied("stopped"), "c").await));
        assert!(failed(start_instance(&denied("available"), "db").await));
        assert!(failed(start_cluster(&denied("available"), "c").await));
    }

    #[test]
    fn other_errors() {
        let e = |code: &str| classify(AwsError::new("rds:StopDBInstance", code, "m"));
        assert_eq!(
            e("DBInstanceNotFound"),
            Outcome::Skipped("it no longer exists".into())
        );
        assert!(
            matches!(e("InvalidParameterCombination"), Outcome::Skipped(r) if r == "RDS cannot stop it: m")
        );
        assert!(matches!(e("AccessDenied"), Outcome::Failed(_)));
    }
}
