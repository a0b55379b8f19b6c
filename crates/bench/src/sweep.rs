//! The all-region sweep benchmark: the same fleet, seeded afresh in every
//! enabled region of a local emulator, stopped by cost-guard's
//! `stop-on-overspend` release binary and by Cloud Custodian, alternately, each
//! as a whole process, with every AWS request counted by a loopback proxy.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use aws_types::SdkConfig;
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::process::{self, Measured};
use emulator::Moto;
use testkit::Proxy;

use crate::Error;

/// The tag both tools select on.
pub const TAG: (&str, &str) = ("cost-guard", "stop");

/// What is seeded in each region.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FleetSpec {
    /// Running instances with the stop tag, per region.
    pub tagged: usize,
    /// Running instances without it, per region.
    pub untagged: usize,
    /// Regions (the first ones, sorted) that also get two tagged DB instances,
    /// one untagged and a tagged Aurora cluster with one member.
    pub db_regions: usize,
    /// Every region also gets the other kinds, all tagged: 2 Auto Scaling
    /// groups of 5 instances, 3 ECS services (one with a scaling target), 2
    /// SageMaker notebooks and a Redshift cluster.
    pub other_kinds: bool,
}

impl Default for FleetSpec {
    fn default() -> Self {
        FleetSpec {
            tagged: 40,
            untagged: 10,
            db_regions: 3,
            other_kinds: false,
        }
    }
}

/// A resource as both tools' outcomes are compared: (region, kind, id).
pub type Key = (String, &'static str, String);

/// The seeded fleet: what should be stopped, and how much there is.
#[derive(Debug, Clone, PartialEq)]
pub struct Seeded {
    pub regions: Vec<String>,
    pub to_stop: BTreeSet<Key>,
    pub resources: usize,
    pub topic: String,
    /// The key that seals saved states, as the template makes it.
    pub key: String,
}

/// One emulator per enabled region, as AWS regions answer independently
/// (one moto answers one request at a time), the first also serving global
/// calls, behind one routing proxy that counts every request.
pub async fn region_emulators() -> Result<(Vec<Moto>, Proxy), Error> {
    let home = Moto::start()?;
    let regions = enabled_regions(&home.sdk_config().await).await?;
    let mut motos = vec![home];
    let mut routes = std::collections::HashMap::new();
    for region in regions.iter().filter(|r| *r != emulator::HOME_REGION) {
        let moto = Moto::start()?;
        routes.insert(region.clone(), moto.endpoint.clone());
        motos.push(moto);
    }
    let proxy = Proxy::start_routed(&motos[0].endpoint, routes)?;
    Ok((motos, proxy))
}

/// The regions `DescribeRegions` reports as enabled, as the sweep sees them.
pub async fn enabled_regions(sdk: &SdkConfig) -> Result<Vec<String>, Error> {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    Ok(guard::aws::regions::enabled_regions(&ec2).await?)
}

/// Empties the emulators and seeds `spec` in every enabled region.
pub async fn seed(motos: &[Moto], sdk: &SdkConfig, spec: FleetSpec) -> Result<Seeded, Error> {
    for moto in motos {
        moto.api("POST", "/moto-api/reset", None)?;
    }
    let regions = enabled_regions(sdk).await?;
    // No subscriber: the sweep's publish is measured, not moto's delivery.
    let topic = emulator::create_topic(sdk, "bench-notify").await?;
    let key = emulator::saved_state_key(sdk).await?;
    let per_region: Vec<(Vec<Key>, usize)> = stream::iter(regions.iter().enumerate())
        .map(|(i, region)| seed_region(sdk, region, spec, i < spec.db_regions))
        .buffer_unordered(4)
        .try_collect()
        .await?;
    let mut to_stop = BTreeSet::new();
    let mut resources = 0;
    for (keys, n) in per_region {
        to_stop.extend(keys);
        resources += n;
    }
    Ok(Seeded {
        regions,
        to_stop,
        resources,
        topic,
        key,
    })
}

async fn seed_region(
    sdk: &SdkConfig,
    region: &str,
    spec: FleetSpec,
    with_dbs: bool,
) -> Result<(Vec<Key>, usize), Error> {
    let mut keys: Vec<Key> = Vec::new();
    let mut count = 0;
    if spec.tagged > 0 {
        let ids =
            emulator::launch(sdk, region, spec.tagged, "g4dn.xlarge", "miner", &[TAG]).await?;
        count += ids.len();
        keys.extend(ids.into_iter().map(|id| (region.to_string(), "ec2", id)));
    }
    if spec.untagged > 0 {
        count += emulator::launch(sdk, region, spec.untagged, "t3.small", "web", &[])
            .await?
            .len();
    }
    if with_dbs {
        for db in ["orders-db", "reports-db"] {
            emulator::create_db(sdk, region, db, &[TAG]).await?;
            keys.push((region.to_string(), "rds", db.to_string()));
        }
        emulator::create_db(sdk, region, "prod-db", &[]).await?;
        emulator::create_aurora(sdk, region, "analytics", "analytics-1", &[TAG]).await?;
        keys.push((region.to_string(), "aurora", "analytics".to_string()));
        count += 5;
    }
    if spec.other_kinds {
        let key = |kind: &'static str, id: &str| (region.to_string(), kind, id.to_string());
        for group in ["render-farm", "batch-workers"] {
            let ids = emulator::create_group(sdk, region, group, 5, "c5.xlarge", &[TAG]).await?;
            keys.extend(ids.iter().map(|id| key("ec2", id)));
            keys.push(key("asg", group));
            count += 1 + ids.len();
        }
        for (service, scaling) in [("api", Some((1, 10))), ("worker", None), ("crawler", None)] {
            emulator::create_service(sdk, region, "prod", service, 2, &[TAG], scaling).await?;
            keys.push(key("ecs-service", service));
            count += 1;
        }
        for notebook in ["thesis", "experiments"] {
            emulator::create_notebook(sdk, region, notebook, "ml.p3.2xlarge", &[TAG]).await?;
            keys.push(key("notebook", notebook));
            count += 1;
        }
        emulator::create_redshift(sdk, region, "warehouse", &[TAG]).await?;
        keys.push(key("redshift", "warehouse"));
        count += 1;
    }
    Ok((keys, count))
}

/// What is stopped now: every resource not running or available (a group
/// whose launches are suspended, a service that wants no tasks, a notebook
/// stopped, a Redshift cluster paused). Aurora members are not counted:
/// stopping the cluster is what stops them.
pub async fn stopped_now(sdk: &SdkConfig, regions: &[String]) -> Result<BTreeSet<Key>, Error> {
    let refs: Vec<&str> = regions.iter().map(String::as_str).collect();
    let rows = emulator::fleet(sdk, &refs).await?;
    Ok(rows
        .into_iter()
        .filter(|r| r.kind != "rds-member")
        .filter(|r| match r.kind {
            "ecs-service" => r.state == "desired 0",
            _ => !matches!(
                r.state.as_str(),
                "running" | "pending" | "available" | "active" | "InService" | "Pending"
            ),
        })
        .map(|r| (r.region, r.kind, r.id))
        .collect())
}

/// The two tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tool {
    CostGuard,
    Custodian,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::CostGuard => "cost-guard",
            Tool::Custodian => "Cloud Custodian",
        }
    }
}

/// Where each tool is.
#[derive(Debug, Clone)]
pub struct Tools {
    /// The `stop-on-overspend` release binary.
    pub function: PathBuf,
    /// `custodian` from .venv-bench, when the comparison runs.
    pub custodian: Option<PathBuf>,
    /// Cloud Custodian's policy file.
    pub policy: PathBuf,
    /// `ATTEMPT_TIMEOUT_SECONDS` for the function, when not its default.
    pub attempt_timeout_secs: Option<u64>,
}

impl Tools {
    pub fn locate(with_custodian: bool) -> Result<Tools, Error> {
        let root = emulator::workspace_root();
        let function = crate::stats::release_binaries()
            .into_iter()
            .find(|p| p.ends_with("stop-on-overspend"))
            .ok_or("no stop-on-overspend binary path")?;
        if !function.is_file() {
            return Err(format!(
                "{} not found: build it first (cargo build --release -p stop-on-overspend)",
                function.display()
            )
            .into());
        }
        let custodian = if with_custodian {
            let c = root.join(".venv-bench/bin/custodian");
            if !c.is_file() {
                return Err(format!(
                    "{} not found: install Cloud Custodian first (scripts/setup bench)",
                    c.display()
                )
                .into());
            }
            Some(c)
        } else {
            None
        };
        Ok(Tools {
            function,
            custodian,
            policy: root.join("bench/custodian-policy.yml"),
            attempt_timeout_secs: None,
        })
    }
}

/// One run of one tool on a fresh fleet.
#[derive(Debug, Clone)]
pub struct Run {
    pub tool: Tool,
    pub measured: Measured,
    /// Requests by (service, action).
    pub requests: BTreeMap<(String, String), usize>,
    /// Time the emulator spent answering this run's requests (overlaps once).
    pub emulator_busy: Duration,
    pub stopped: BTreeSet<Key>,
}

impl Run {
    pub fn total_requests(&self) -> usize {
        self.requests.values().sum()
    }
}

const RUN_TIMEOUT: Duration = Duration::from_secs(900);

/// Seeds a fresh fleet, runs `tool` through the counting proxy, and reads what
/// it stopped.
pub async fn run_once(
    motos: &[Moto],
    sdk: &SdkConfig,
    proxy: &Proxy,
    tools: &Tools,
    tool: Tool,
    spec: FleetSpec,
) -> Result<(Seeded, Run), Error> {
    let seeded = seed(motos, sdk, spec).await?;
    proxy.reset_log();
    let measured = match tool {
        Tool::CostGuard => {
            let mut env = vec![
                ("AWS_ENDPOINT_URL", proxy.endpoint.clone()),
                ("NOTIFY_TOPIC_ARN", seeded.topic.clone()),
                ("SAVED_STATE_KEY_ARN", seeded.key.clone()),
                ("REGIONS", "all".to_string()),
                ("SELECTION", "tagged".to_string()),
                ("STOP_TAG_KEY", TAG.0.to_string()),
                ("STOP_TAG_VALUE", TAG.1.to_string()),
                ("SPEND_CONTEXT", "false".to_string()),
            ];
            if let Some(secs) = tools.attempt_timeout_secs {
                env.push(("ATTEMPT_TIMEOUT_SECONDS", secs.to_string()));
            }
            let event = emulator::sample_event("budget-actual.json")?;
            process::invoke_function(&tools.function, &env, &event, RUN_TIMEOUT).await?
        }
        Tool::Custodian => {
            let custodian = tools
                .custodian
                .as_ref()
                .ok_or("Cloud Custodian is not installed")?;
            custodian_run(custodian, &tools.policy, &proxy.endpoint).await?
        }
    };
    if !measured.success {
        return Err(format!("{} failed: {}", tool.name(), measured.output).into());
    }
    let requests = proxy.counts();
    let emulator_busy = proxy.upstream_busy();
    let stopped = stopped_now(sdk, &seeded.regions).await?;
    Ok((
        seeded,
        Run {
            tool,
            measured,
            requests,
            emulator_busy,
            stopped,
        },
    ))
}

async fn custodian_run(custodian: &Path, policy: &Path, endpoint: &str) -> Result<Measured, Error> {
    let out = std::env::temp_dir().join(format!("cost-guard-bench-c7n-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let mut command = Command::new(custodian);
    command
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &out)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .args(["run", "--cache-period", "0", "--region", "all", "-s"])
        .arg(&out)
        .arg(policy);
    let measured = process::run_command(command, RUN_TIMEOUT).await;
    let _ = std::fs::remove_dir_all(&out);
    measured
}

/// Checks a run stopped exactly the tagged set and nothing else.
pub fn check_outcome(seeded: &Seeded, run: &Run) -> Result<(), String> {
    if run.stopped == seeded.to_stop {
        return Ok(());
    }
    let missed: Vec<&Key> = seeded.to_stop.difference(&run.stopped).take(5).collect();
    let extra: Vec<&Key> = run.stopped.difference(&seeded.to_stop).take(5).collect();
    Err(format!(
        "{} did not stop exactly the tagged set: {} missed (e.g. {missed:?}), {} stopped that should not be (e.g. {extra:?})",
        run.tool.name(),
        seeded.to_stop.difference(&run.stopped).count(),
        run.stopped.difference(&seeded.to_stop).count(),
    ))
}

/// Every run of the comparison, in the order they ran.
pub struct Comparison {
    pub seeded: Seeded,
    pub runs: Vec<Run>,
}

/// Runs both tools `rounds` times each on a fresh fleet, alternating which
/// goes first. Fails, reporting no figures, if any run's outcome differs.
pub async fn compare(
    spec: FleetSpec,
    rounds: usize,
    tools: &Tools,
    tools_to_run: &[Tool],
    mut progress: impl FnMut(&Run),
) -> Result<Comparison, Error> {
    let (motos, proxy) = region_emulators().await?;
    // Seeding and reading back go through the proxy too, to reach each region's
    // emulator; the counts are reset before each tool runs.
    let sdk = emulator::sdk_config_for(&proxy.endpoint).await;
    // One unmeasured run of each tool first: each emulator process prepares
    // its answers on first use, which would otherwise be charged to whichever
    // tool runs first.
    for tool in tools_to_run {
        let (seeded, run) = run_once(&motos, &sdk, &proxy, tools, *tool, spec).await?;
        check_outcome(&seeded, &run).map_err(|e| format!("warm-up run: {e}"))?;
    }
    let mut runs = Vec::new();
    let mut first: Option<Seeded> = None;
    for round in 0..rounds {
        let mut order = tools_to_run.to_vec();
        if round % 2 == 1 {
            order.reverse();
        }
        for tool in order {
            let (seeded, run) = run_once(&motos, &sdk, &proxy, tools, tool, spec).await?;
            check_outcome(&seeded, &run).map_err(|e| {
                format!(
                    "refusing to compare: {e}. Run output:\n{}",
                    run.measured.output
                )
            })?;
            progress(&run);
            runs.push(run);
            first.get_or_insert(seeded);
        }
    }
    Ok(Comparison {
        seeded: first.ok_or("no runs")?,
        runs,
    })
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// One line per run, as the runs go.
pub fn run_line(n: usize, run: &Run) -> String {
    format!(
        "run {n:>2}  {:<15}  {:>9}  (emulator busy {:>8})  peak {:>9}  {:>5} requests  stopped {}",
        run.tool.name(),
        secs(run.measured.elapsed),
        secs(run.emulator_busy),
        mib(run.measured.peak_rss_kib),
        run.total_requests(),
        run.stopped.len()
    )
}

/// Median, minimum and maximum wall time, peak memory and requests per tool.
pub fn summary(runs: &[Run]) -> (String, BTreeMap<Tool, crate::stats::Stats>) {
    let mut by_tool: BTreeMap<Tool, Vec<&Run>> = BTreeMap::new();
    for r in runs {
        by_tool.entry(r.tool).or_default().push(r);
    }
    let mut stats = BTreeMap::new();
    let rows: Vec<Vec<String>> = by_tool
        .iter()
        .filter_map(|(tool, runs)| {
            let times: Vec<Duration> = runs.iter().map(|r| r.measured.elapsed).collect();
            let s = crate::stats::Stats::of(&times)?;
            stats.insert(*tool, s);
            let peak = runs
                .iter()
                .map(|r| r.measured.peak_rss_kib)
                .max()
                .unwrap_or(0);
            let requests = spread(runs.iter().map(|r| r.total_requests()));
            let busy: Vec<Duration> = runs.iter().map(|r| r.emulator_busy).collect();
            let busy = crate::stats::Stats::of(&busy).map_or(Duration::ZERO, |b| b.median);
            Some(vec![
                tool.name().to_string(),
                runs.len().to_string(),
                secs(s.median),
                secs(s.min),
                secs(s.max),
                secs(busy),
                secs(s.median.saturating_sub(busy)),
                mib(peak),
                requests,
            ])
        })
        .collect();
    (
        cost_guard::table::columns(
            &[
                "TOOL",
                "RUNS",
                "MEDIAN",
                "MIN",
                "MAX",
                "EMULATOR BUSY",
                "OWN TIME",
                "PEAK RSS",
                "REQUESTS/RUN",
            ],
            &rows,
        ),
        stats,
    )
}

/// `n`, or `lo–hi` when runs differ.
fn spread(values: impl Iterator<Item = usize>) -> String {
    let v: Vec<usize> = values.collect();
    match (v.iter().min(), v.iter().max()) {
        (Some(lo), Some(hi)) if lo == hi => lo.to_string(),
        (Some(lo), Some(hi)) => format!("{lo}-{hi}"),
        _ => "-".into(),
    }
}

/// Requests per run by service and action, one column per tool.
pub fn requests_table(runs: &[Run], tools: &[Tool]) -> String {
    let keys: BTreeSet<&(String, String)> = runs.iter().flat_map(|r| r.requests.keys()).collect();
    let rows: Vec<Vec<String>> = keys
        .into_iter()
        .map(|k| {
            let mut row = vec![k.0.clone(), k.1.clone()];
            for tool in tools {
                row.push(spread(
                    runs.iter()
                        .filter(|r| r.tool == *tool)
                        .map(|r| r.requests.get(k).copied().unwrap_or(0)),
                ));
            }
            row
        })
        .collect();
    let mut header = vec!["SERVICE", "ACTION"];
    header.extend(tools.iter().map(|t| t.name()));
    cost_guard::table::columns(&header, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(region: &str, kind: &'static str, id: &str) -> Key {
        (region.into(), kind, id.into())
    }

    #[test]
    fn outcome_must_match_exactly() {
        let seeded = Seeded {
            regions: vec!["eu-west-1".into()],
            to_stop: [
                key("eu-west-1", "ec2", "i-1"),
                key("eu-west-1", "rds", "db"),
            ]
            .into(),
            resources: 3,
            topic: String::new(),
            key: String::new(),
        };
        let run = |stopped: &[Key]| Run {
            tool: Tool::Custodian,
            measured: Measured {
                elapsed: Duration::ZERO,
                peak_rss_kib: 0,
                output: String::new(),
                success: true,
                started: std::time::Instant::now(),
                event_at: None,
            },
            requests: BTreeMap::new(),
            emulator_busy: Duration::ZERO,
            stopped: stopped.iter().cloned().collect(),
        };
        assert!(check_outcome(
            &seeded,
            &run(&[
                key("eu-west-1", "ec2", "i-1"),
                key("eu-west-1", "rds", "db")
            ])
        )
        .is_ok());
        let missed = check_outcome(&seeded, &run(&[key("eu-west-1", "ec2", "i-1")])).unwrap_err();
        assert!(missed.contains("1 missed"), "{missed}");
        let extra = check_outcome(
            &seeded,
            &run(&[
                key("eu-west-1", "ec2", "i-1"),
                key("eu-west-1", "rds", "db"),
                key("eu-west-1", "ec2", "i-2"),
            ]),
        )
        .unwrap_err();
        assert!(extra.contains("1 stopped that should not be"), "{extra}");
    }
}
