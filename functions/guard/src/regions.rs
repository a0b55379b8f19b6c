//! Which regions to sweep.

use aws_sdk_ec2::types::Filter;
use aws_sdk_ec2::Client;

use crate::config::RegionScope;
use crate::error::AwsError;

/// The regions enabled for the account: `DescribeRegions` filtered on opt-in status.
pub async fn enabled_regions(client: &Client) -> Result<Vec<String>, AwsError> {
    let out = client
        .describe_regions()
        .filters(
            Filter::builder()
                .name("opt-in-status")
                .values("opt-in-not-required")
                .values("opted-in")
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeRegions", e))?;
    let mut regions: Vec<String> = out
        .regions()
        .iter()
        .filter(|r| {
            r.opt_in_status()
                .is_none_or(|s| s == "opt-in-not-required" || s == "opted-in")
        })
        .filter_map(|r| r.region_name().map(str::to_string))
        .collect();
    regions.sort();
    regions.dedup();
    Ok(regions)
}

/// Resolves the configured scope to a list of regions.
pub async fn resolve(scope: &RegionScope, client: &Client) -> Result<Vec<String>, AwsError> {
    match scope {
        RegionScope::List(list) => Ok(list.clone()),
        RegionScope::AllEnabled => enabled_regions(client).await,
    }
}
