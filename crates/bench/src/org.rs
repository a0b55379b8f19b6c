//! A sweep of a whole organization: moto's default account as management
//! account with N member accounts, the same small fleet in three regions of
//! each, swept by the stop-on-overspend release binary (ACCOUNTS=organization)
//! as one process through the counting proxy, optionally with a fixed delay
//! on every request to stand in for AWS's round trips. Then the same
//! organization handed to the sweep queue instead (FANOUT_ABOVE=1), to time
//! the dispatch alone.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use aws_types::SdkConfig;
use futures::stream::{self, StreamExt, TryStreamExt};
use testkit::{Fault, FaultRule, Proxy};

use crate::process::{self, Measured};
use crate::Error;

/// The regions of every account.
pub const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];
/// Per account and region: tagged and untagged running instances.
pub const TAGGED: usize = 2;
pub const UNTAGGED: usize = 1;
const RUN_TIMEOUT: Duration = Duration::from_secs(900);

/// One measured sweep of an organization.
#[derive(Debug, Clone)]
pub struct OrgRun {
    pub accounts: usize,
    pub sweep: Measured,
    pub stopped: usize,
    pub requests: BTreeMap<(String, String), usize>,
    /// The same organization handed to the queue: the dispatcher's process.
    pub dispatch: Measured,
    pub dispatch_requests: BTreeMap<(String, String), usize>,
}

/// An organization of `members` member accounts plus the management account,
/// each seeded in every region.
async fn seed(sdk: &SdkConfig, members: usize) -> Result<Vec<SdkConfig>, Error> {
    let names: Vec<String> = (0..members).map(|i| format!("member-{i:03}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let ids = emulator::organization(sdk, &refs).await?;
    let mut accounts = vec![sdk.clone()];
    for id in &ids {
        accounts.push(emulator::member_sdk(sdk, id).await?);
    }
    stream::iter(
        accounts
            .iter()
            .flat_map(|a| REGIONS.iter().map(move |r| (a, *r))),
    )
    .map(|(account, region)| async move {
        emulator::launch(
            account,
            region,
            TAGGED,
            "t3.micro",
            "miner",
            &[crate::sweep::TAG],
        )
        .await?;
        emulator::launch(account, region, UNTAGGED, "t3.micro", "web", &[]).await?;
        Ok::<_, Error>(())
    })
    .buffer_unordered(8)
    .try_collect::<Vec<()>>()
    .await?;
    Ok(accounts)
}

/// Stopped instances, over every account and region.
async fn stopped(accounts: &[SdkConfig]) -> Result<usize, Error> {
    let mut n = 0;
    for a in accounts {
        n += emulator::fleet(a, &REGIONS)
            .await?
            .iter()
            .filter(|r| r.state == "stopped")
            .count();
    }
    Ok(n)
}

/// Seeds an organization of `members` member accounts in a fresh emulator
/// and sweeps it with `binary`, every request delayed by `latency`.
pub async fn run(binary: &Path, members: usize, latency: Duration) -> Result<OrgRun, Error> {
    let moto = emulator::Moto::start()?;
    let direct = moto.sdk_config().await;
    let accounts = seed(&direct, members).await?;
    let topic = emulator::create_topic(&direct, "cost-guard-notify").await?;
    let queue = emulator::queue(&direct, "cost-guard-sweep", &[]).await?;
    let results = emulator::queue(&direct, "cost-guard-results", &[]).await?;
    let proxy = Proxy::start(&moto.endpoint)?;
    if !latency.is_zero() {
        for region in REGIONS {
            proxy.inject(FaultRule::always(region, Fault::Slow(latency)));
        }
    }
    let env = |extra: &[(&'static str, String)]| {
        let mut env = vec![
            ("AWS_ENDPOINT_URL", proxy.endpoint.clone()),
            ("NOTIFY_TOPIC_ARN", topic.clone()),
            ("REGIONS", REGIONS.join(",")),
            ("ACCOUNTS", "organization".to_string()),
            ("ORG_SCOPE", "all".to_string()),
            ("SPEND_CONTEXT", "false".to_string()),
        ];
        env.extend(extra.iter().cloned());
        env
    };
    let event = emulator::sample_event("budget-actual.json")?;

    proxy.reset_log();
    let sweep = process::invoke_function(binary, &env(&[]), &event, RUN_TIMEOUT).await?;
    if !sweep.success {
        return Err(format!("the sweep failed: {}", sweep.output).into());
    }
    let requests = proxy.counts();
    let stopped = stopped(&accounts).await?;

    proxy.reset_log();
    let dispatch = process::invoke_function(
        binary,
        &env(&[
            ("FANOUT_ABOVE", "1".to_string()),
            ("SWEEP_QUEUE_URL", queue),
            ("RESULTS_QUEUE_URL", results),
        ]),
        &event,
        RUN_TIMEOUT,
    )
    .await?;
    if !dispatch.success {
        return Err(format!("the dispatch failed: {}", dispatch.output).into());
    }
    let dispatch_requests = proxy.counts();
    Ok(OrgRun {
        accounts: accounts.len(),
        sweep,
        stopped,
        requests,
        dispatch,
        dispatch_requests,
    })
}
