//! Which regions to sweep.

use aws_sdk_ec2::types::Filter;
use aws_sdk_ec2::Client;

use crate::domain::config::RegionScope;
use crate::domain::error::AwsError;

/// The partition a region belongs to (`aws`, `aws-cn`, `aws-us-gov`, ...).
pub(crate) fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("eusc-") {
        "aws-eusc"
    } else {
        "aws"
    }
}

/// The regions enabled for the account: `DescribeRegions` filtered on opt-in
/// status, in the partition of the client's own region (credentials of one
/// partition never reach another's regions; AWS lists only its own, emulators
/// may list them all).
pub async fn enabled_regions(client: &Client) -> Result<Vec<String>, AwsError> {
    let home = client
        .config()
        .region()
        .map(|r| partition(r.as_ref()))
        .unwrap_or("aws");
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
        .filter(|name| partition(name) == home)
        .collect();
    regions.sort();
    regions.dedup();
    Ok(regions)
}

/// Resolves the configured scope to a list of regions.
pub(crate) async fn resolve(scope: &RegionScope, client: &Client) -> Result<Vec<String>, AwsError> {
    match scope {
        RegionScope::List(list) => Ok(list.clone()),
        RegionScope::AllEnabled => enabled_regions(client).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions() {
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("us-east-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("us-iso-east-1"), "aws-iso");
        assert_eq!(partition("us-isob-east-1"), "aws-iso-b");
    }
}
