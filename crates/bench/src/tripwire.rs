//! The launch tripwire's speed: from a CloudTrail launch event reaching the
//! handler to the StopInstances request leaving it, warm (one handler serving
//! event after event, as a warm Lambda does) and cold (a fresh release binary
//! per event, through the runtime-API stub), with every AWS request an event
//! costs, counted by the loopback proxy. Both again for launches in a member
//! account of an organization, which the tripwire reaches through its member
//! role (`ACCOUNTS=organization`).

use guard::domain::config::{LaunchTripwireConfig, Settings};
use guard::handlers::launch_tripwire::LaunchTripwire;
use guard::handlers::{Function, Invocation};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::InstanceType;
use emulator::Moto;
use serde_json::Value;
use testkit::Proxy;

use crate::stats::Stats;
use crate::Error;

/// The regions the hijacker's launches come from, in turn.
pub const REGIONS: [&str; 3] = ["sa-east-1", "eu-west-1", "ap-southeast-2"];
/// What each launch asks for.
pub const PER_EVENT: usize = 3;
pub const INSTANCE_TYPE: &str = "p3.2xlarge";
const COLD_TIMEOUT: Duration = Duration::from_secs(60);

/// One case's figures.
#[derive(Debug, Clone)]
pub struct Case {
    /// Event handed to the handler, to the StopInstances request arriving at the proxy.
    pub to_stop: Stats,
    /// Event handed to the handler, to the handler's answer (alert published).
    pub to_answer: Stats,
    /// Cold only: process spawn to the StopInstances request.
    pub spawn_to_stop: Option<Stats>,
    /// Cold only: the largest peak RSS of a process, KiB.
    pub peak_rss_kib: Option<u64>,
    /// Requests per event by (service, action): the fewest and the most seen.
    pub requests: BTreeMap<(String, String), (usize, usize)>,
}

/// Every case over `events` events each.
#[derive(Debug, Clone)]
pub struct Report {
    pub events: usize,
    pub warm: Case,
    pub cold: Case,
    /// Launches in a member account, the guard covering the organization.
    pub member_warm: Case,
    pub member_cold: Case,
}

struct Setup {
    _moto: Moto,
    proxy: Proxy,
    /// Through the proxy: what the function uses.
    sdk: aws_types::SdkConfig,
    /// Straight to the emulator: launching and checking, not counted.
    direct: aws_types::SdkConfig,
    /// A member account, straight to the emulator: its id and credentials.
    member: (String, aws_types::SdkConfig),
    topic: String,
}

/// Where the hijacker launches: the guard's own account, or the member's.
#[derive(Clone, Copy, PartialEq)]
enum Where {
    Own,
    Member,
}

impl Setup {
    /// Credentials acting where the launches happen, straight to the emulator.
    fn direct(&self, at: Where) -> &aws_types::SdkConfig {
        match at {
            Where::Own => &self.direct,
            Where::Member => &self.member.1,
        }
    }

    /// The function's environment beyond its endpoint.
    fn vars(&self, at: Where) -> Vec<(&'static str, String)> {
        let mut vars = vec![
            ("NOTIFY_TOPIC_ARN", self.topic.clone()),
            ("TRIPWIRE_MARKS_TABLE", emulator::MARKS_TABLE.to_string()),
        ];
        if at == Where::Member {
            vars.push(("ACCOUNTS", "organization".into()));
        }
        vars
    }
}

async fn setup() -> Result<Setup, Error> {
    let moto = Moto::start()?;
    let proxy = Proxy::start(&moto.endpoint)?;
    let sdk = emulator::sdk_config_for(&proxy.endpoint).await;
    let direct = moto.sdk_config().await;
    let topic = emulator::create_topic(&direct, "bench-tripwire-notify").await?;
    emulator::marks_table(&direct).await?;
    let id = emulator::organization(&direct, &["team-a"])
        .await?
        .pop()
        .ok_or("no member account")?;
    let member = emulator::member_sdk(&direct, &id).await?;
    Ok(Setup {
        _moto: moto,
        proxy,
        sdk,
        direct,
        member: (id, member),
        topic,
    })
}

fn ec2(sdk: &aws_types::SdkConfig, region: &str) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(sdk)
            .region(aws_types::region::Region::new(region.to_string()))
            .build(),
    )
}

/// A hijacker's launch: `PER_EVENT` costly instances in `region`, and the
/// CloudTrail event that reports it (the sample, with the emulator's ids;
/// from the member account, as its forwarder brings it).
async fn launch(s: &Setup, at: Where, region: &str) -> Result<(Vec<String>, Value), Error> {
    let out = ec2(s.direct(at), region)
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(InstanceType::from(INSTANCE_TYPE))
        .min_count(PER_EVENT as i32)
        .max_count(PER_EVENT as i32)
        .send()
        .await
        .map_err(|e| {
            format!(
                "launching in {region}: {}",
                aws_sdk_ec2::error::DisplayErrorContext(e)
            )
        })?;
    let ids: Vec<String> = out
        .instances()
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect();
    let event = emulator::launch_event("tripwire-run-instances.json", region, &ids, INSTANCE_TYPE)?;
    let event = match at {
        Where::Own => event,
        Where::Member => emulator::in_account(event, &s.member.0),
    };
    Ok((ids, event))
}

/// The instances are stopped (or stopping) and carry the tripwire's stamp.
async fn check_stopped(
    direct: &aws_types::SdkConfig,
    region: &str,
    ids: &[String],
) -> Result<(), Error> {
    let out = ec2(direct, region)
        .describe_instances()
        .set_instance_ids(Some(ids.to_vec()))
        .send()
        .await
        .map_err(|e| aws_sdk_ec2::error::DisplayErrorContext(e).to_string())?;
    let instances: Vec<_> = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .collect();
    if instances.len() != ids.len() {
        return Err(format!(
            "{region}: {} of {} instances found",
            instances.len(),
            ids.len()
        )
        .into());
    }
    for i in instances {
        let state = i
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .unwrap_or_default();
        let stamped = i.tags().iter().any(|t| {
            t.key() == Some(guard::STOPPED_BY_TAG) && t.value() == Some("tripwire:RunInstances")
        });
        if !(state == "stopped" || state == "stopping") || !stamped {
            return Err(format!(
                "{region} {:?}: {state}, stamped: {stamped}",
                i.instance_id()
            )
            .into());
        }
    }
    Ok(())
}

fn add_counts(
    into: &mut BTreeMap<(String, String), (usize, usize)>,
    counts: BTreeMap<(String, String), usize>,
    first: bool,
) {
    // An action missing from this event counts as zero for it.
    for (key, range) in into.iter_mut() {
        if !counts.contains_key(key) {
            range.0 = 0;
        }
    }
    for (key, n) in counts {
        let entry = into.entry(key).or_insert((if first { n } else { 0 }, n));
        entry.0 = entry.0.min(n);
        entry.1 = entry.1.max(n);
    }
}

/// `events` events to one handler, after one unmeasured event (connections,
/// and for a member account its role's credentials).
async fn warm(s: &Setup, at: Where, events: usize) -> Result<Case, Error> {
    let vars: std::collections::HashMap<String, String> = s
        .vars(at)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let handler = LaunchTripwire::new(LaunchTripwireConfig::from_map(&vars)?, &s.sdk);
    // As Lambda hands it every invocation (the cold case's stub does too).
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:bench";
    let mut to_stop = Vec::with_capacity(events);
    let mut to_answer = Vec::with_capacity(events);
    let mut requests = BTreeMap::new();
    for n in 0..=events {
        let region = REGIONS[n % REGIONS.len()];
        let (ids, event) = launch(s, at, region).await?;
        s.proxy.reset_log();
        let start = Instant::now();
        let summary = handler
            .handle(&Invocation::new(&event).function_arn(arn))
            .await
            .map_err(|e| e.to_string())?;
        let answered = start.elapsed();
        let stop_at = s
            .proxy
            .first_arrival("StopInstances")
            .ok_or("no StopInstances request")?;
        if summary.stopped.len() != ids.len() || !summary.notified {
            return Err(format!(
                "event {n}: stopped {:?}, notified {}",
                summary.stopped, summary.notified
            )
            .into());
        }
        let counts = s.proxy.counts();
        check_stopped(s.direct(at), region, &ids).await?;
        if n == 0 {
            continue; // the unmeasured first event
        }
        to_stop.push(stop_at - start);
        to_answer.push(answered);
        add_counts(&mut requests, counts, n == 1);
    }
    Ok(Case {
        to_stop: Stats::of(&to_stop).ok_or("no events")?,
        to_answer: Stats::of(&to_answer).ok_or("no events")?,
        spawn_to_stop: None,
        peak_rss_kib: None,
        requests,
    })
}

/// `events` events, each to a freshly started release binary.
async fn cold(s: &Setup, at: Where, binary: &Path, events: usize) -> Result<Case, Error> {
    if !binary.is_file() {
        return Err(format!(
            "{} not found: build the release binaries first (cargo build --release --workspace --bins)",
            binary.display()
        )
        .into());
    }
    let mut env = vec![("AWS_ENDPOINT_URL", s.proxy.endpoint.clone())];
    env.extend(s.vars(at));
    let mut to_stop = Vec::with_capacity(events);
    let mut to_answer = Vec::with_capacity(events);
    let mut spawn_to_stop = Vec::with_capacity(events);
    let mut rss = 0;
    let mut requests = BTreeMap::new();
    // One unmeasured start first: the binary into the page cache.
    for n in 0..=events {
        let region = REGIONS[n % REGIONS.len()];
        let (ids, event) = launch(s, at, region).await?;
        s.proxy.reset_log();
        let m = crate::process::invoke_function(binary, &env, &event, COLD_TIMEOUT).await?;
        if !m.success {
            return Err(format!("event {n}: the function failed: {}", m.output).into());
        }
        let stop_at = s
            .proxy
            .first_arrival("StopInstances")
            .ok_or("no StopInstances request")?;
        let event_at = m.event_at.ok_or("the function never asked for its event")?;
        let counts = s.proxy.counts();
        check_stopped(s.direct(at), region, &ids).await?;
        if n == 0 {
            continue;
        }
        to_stop.push(stop_at - event_at);
        to_answer.push(m.started + m.elapsed - event_at);
        spawn_to_stop.push(stop_at - m.started);
        rss = rss.max(m.peak_rss_kib);
        add_counts(&mut requests, counts, n == 1);
    }
    Ok(Case {
        to_stop: Stats::of(&to_stop).ok_or("no events")?,
        to_answer: Stats::of(&to_answer).ok_or("no events")?,
        spawn_to_stop: Some(Stats::of(&spawn_to_stop).ok_or("no events")?),
        peak_rss_kib: Some(rss),
        requests,
    })
}

/// Every case, `events` events each, on one emulator.
pub async fn run(binary: &Path, events: usize) -> Result<Report, Error> {
    let s = setup().await?;
    Ok(Report {
        events,
        warm: warm(&s, Where::Own, events).await?,
        cold: cold(&s, Where::Own, binary, events).await?,
        member_warm: warm(&s, Where::Member, events).await?,
        member_cold: cold(&s, Where::Member, binary, events).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ranges_count_a_missing_action_as_zero() {
        let k = |a: &str| ("ec2".to_string(), a.to_string());
        let mut into = BTreeMap::new();
        add_counts(
            &mut into,
            [(k("StopInstances"), 1), (k("CreateTags"), 1)].into(),
            true,
        );
        add_counts(&mut into, [(k("StopInstances"), 2)].into(), false);
        add_counts(
            &mut into,
            [(k("StopInstances"), 1), (k("DescribeInstances"), 1)].into(),
            false,
        );
        assert_eq!(into[&k("StopInstances")], (1, 2));
        assert_eq!(into[&k("CreateTags")], (0, 1));
        assert_eq!(into[&k("DescribeInstances")], (0, 1));
    }
}
