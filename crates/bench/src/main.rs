//! `cost-guard-bench`: the benchmarks. They print figures (medians, p90,
//! memory, request counts) and never assert on time: these machines are shared.
//!
//! Build the release functions first: `cargo build --release --workspace --bins`.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Errors of the benchmarks: any error, printed by the command line.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

mod burn;
mod org;
mod process;
mod stats;
mod sweep;
mod tripwire;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[derive(Parser)]
#[command(name = "cost-guard-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Seed the same fleet in every enabled region of a local emulator, then stop
    /// it with the stop-on-overspend release binary and with Cloud Custodian
    /// (`scripts/setup bench` installs it), alternately, each on a fresh fleet.
    /// Checks both stopped exactly the tagged set; prints wall time, peak memory
    /// and every AWS request by service and action.
    Sweep(SweepArgs),
    /// The same sweep by cost-guard alone at about SIZE tagged instances spread
    /// over every enabled region.
    Scale(ScaleArgs),
    /// Time the root-login-alert handler from event to published alert against
    /// a local emulator; prints median, p90, min and max.
    RootAlert {
        #[arg(default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
        runs: u32,
    },
    /// launch-tripwire against a local emulator: a RunInstances of 3 x
    /// p3.2xlarge by an untrusted user per event, in three regions in turn.
    /// Times the event to the StopInstances request, warm (one handler) and
    /// cold (the release binary started per event), and counts the requests.
    Tripwire {
        #[arg(default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
        events: u32,
    },
    /// Sweep a whole organization with the stop-on-overspend release binary
    /// (ACCOUNTS=organization): the management account and MEMBERS member
    /// accounts, 2 tagged and 1 untagged instance in each of 3 regions of each.
    /// Prints wall time, peak memory and requests per size, then the time of
    /// handing the same accounts to the sweep queue instead.
    Org {
        /// Delay added to every request, standing in for AWS's round trips.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Member accounts, one organization (and one emulator) per size.
        #[arg(default_values_t = [10, 50, 100, 200])]
        members: Vec<usize>,
    },
    /// Start each release function binary against a local runtime-API stub and
    /// time it until its first request for an event, with its memory.
    Startup {
        #[arg(default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
        runs: u32,
    },
    /// burn-watch's check: the sweep benchmark's fleet with every other
    /// kind, priced as each check prices it (the first with an empty price
    /// book, then RUNS warm); wall time, requests, and its cost a month.
    Burn {
        #[arg(default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
        runs: u32,
    },
}

/// The fleet seeded in every region.
#[derive(Args, Clone, Copy)]
struct FleetArgs {
    /// Running instances tagged cost-guard=stop per region.
    #[arg(long, default_value_t = 40)]
    tagged: usize,
    /// Untagged running instances per region.
    #[arg(long, default_value_t = 10)]
    untagged: usize,
    /// Regions that also get 2 tagged DB instances, 1 untagged and a tagged Aurora cluster.
    #[arg(long, default_value_t = 3)]
    db_regions: usize,
    /// Every region also gets, tagged: 2 Auto Scaling groups of 5 instances, 3
    /// ECS services, 2 SageMaker notebooks and a Redshift cluster (cost-guard
    /// alone: the Cloud Custodian policy covers EC2 and RDS).
    #[arg(long)]
    other_kinds: bool,
}

impl FleetArgs {
    fn spec(self) -> sweep::FleetSpec {
        sweep::FleetSpec {
            tagged: self.tagged,
            untagged: self.untagged,
            db_regions: self.db_regions,
            other_kinds: self.other_kinds,
        }
    }
}

#[derive(Args)]
struct SweepArgs {
    /// Measured runs per tool, after one unmeasured warm-up run of each.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    #[command(flatten)]
    fleet: FleetArgs,
    /// Run cost-guard alone.
    #[arg(long)]
    no_custodian: bool,
}

#[derive(Args)]
struct ScaleArgs {
    /// Measured runs per size.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    #[command(flatten)]
    fleet: FleetArgs,
    /// Total tagged instances, spread over every enabled region.
    #[arg(default_values_t = [100, 1_000, 10_000])]
    sizes: Vec<usize>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Sweep(o) => bench_sweep(o).await,
        Command::Scale(o) => bench_scale(o).await,
        Command::RootAlert { runs } => bench_root_alert(runs as usize).await,
        Command::Startup { runs } => bench_startup(runs as usize),
        Command::Burn { runs } => burn::run(runs as usize).await,
        Command::Tripwire { events } => bench_tripwire(events as usize).await,
        Command::Org {
            latency_ms,
            members,
        } => bench_org(&members, Duration::from_millis(latency_ms)).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cost-guard-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn bench_org(members: &[usize], latency: Duration) -> Result<()> {
    let binary = stats::release_binaries()
        .into_iter()
        .find(|b| b.ends_with("stop-on-overspend"))
        .ok_or("no stop-on-overspend binary in the list")?;
    println!(
        "stop-on-overspend, ACCOUNTS=organization ORG_SCOPE=all, {} tagged + {} untagged t3.micro per account in each of {}; moto on loopback, every request through a counting proxy{}\n",
        org::TAGGED,
        org::UNTAGGED,
        org::REGIONS.join(", "),
        if latency.is_zero() {
            String::new()
        } else {
            format!(" that delays each by {} ms", latency.as_millis())
        }
    );
    let mut rows = Vec::new();
    let mut last = None;
    for &n in members {
        let r = org::run(&binary, n, latency).await?;
        let total: usize = r.requests.values().sum();
        let dispatched: usize = r.dispatch_requests.values().sum();
        rows.push(vec![
            r.accounts.to_string(),
            format!("{}", r.accounts * org::REGIONS.len()),
            format!(
                "{}/{}",
                r.stopped,
                r.accounts * org::REGIONS.len() * org::TAGGED
            ),
            format!("{:.2} s", r.sweep.elapsed.as_secs_f64()),
            format!(
                "{:.1} ms",
                r.sweep.elapsed.as_secs_f64() * 1000.0 / r.accounts as f64
            ),
            format!("{:.1} MiB", r.sweep.peak_rss_kib as f64 / 1024.0),
            total.to_string(),
            format!("{:.2} s", r.dispatch.elapsed.as_secs_f64()),
            dispatched.to_string(),
        ]);
        println!("{} accounts done", r.accounts);
        last = Some(r);
    }
    println!();
    print!(
        "{}",
        cost_guard::table::columns(
            &[
                "ACCOUNTS",
                "ACCOUNT-REGIONS",
                "STOPPED",
                "SWEEP WALL",
                "PER ACCOUNT",
                "PEAK RSS",
                "REQUESTS",
                "QUEUE DISPATCH WALL",
                "DISPATCH REQUESTS"
            ],
            &rows
        )
    );
    if let Some(r) = last {
        println!("\nRequests of the largest sweep, by service and action:");
        print!("{}", requests_table(&r.requests));
        println!("\nRequests of the largest dispatch to the queue:");
        print!("{}", requests_table(&r.dispatch_requests));
    }
    Ok(())
}

/// Requests by service and action, as a table.
fn requests_table(requests: &std::collections::BTreeMap<(String, String), usize>) -> String {
    let rows: Vec<Vec<String>> = requests
        .iter()
        .map(|((svc, action), n)| vec![svc.clone(), action.clone(), n.to_string()])
        .collect();
    cost_guard::table::columns(&["SERVICE", "ACTION", "REQUESTS"], &rows)
}

async fn bench_root_alert(runs: usize) -> Result<()> {
    println!("root-login-alert handler, event to published alert, against moto on loopback ({runs} runs)");
    let s = stats::root_alert(runs).await?;
    use stats::ms;
    println!(
        "median {}  p90 {}  min {}  max {}",
        ms(s.median),
        ms(s.p90),
        ms(s.min),
        ms(s.max)
    );
    Ok(())
}

async fn bench_tripwire(events: usize) -> Result<()> {
    use stats::ms;
    let binary = stats::release_binaries()
        .into_iter()
        .find(|b| b.ends_with("launch-tripwire"))
        .ok_or("no launch-tripwire binary in the list")?;
    println!(
        "launch-tripwire, one CloudTrail RunInstances event of {} x {} by an untrusted IAM user per launch, in {} in turn; moto on loopback, every request through a counting proxy ({events} events per case, after one unmeasured event)\n",
        tripwire::PER_EVENT,
        tripwire::INSTANCE_TYPE,
        tripwire::REGIONS.join(", ")
    );
    let r = tripwire::run(&binary, events).await?;
    let row = |label: &str, s: &stats::Stats| {
        vec![
            label.to_string(),
            ms(s.median),
            ms(s.p90),
            ms(s.min),
            ms(s.max),
        ]
    };
    let mut rows = vec![
        row("warm: event -> StopInstances sent", &r.warm.to_stop),
        row(
            "warm: event -> alert published, handler done",
            &r.warm.to_answer,
        ),
        row("cold: event -> StopInstances sent", &r.cold.to_stop),
        row(
            "cold: event -> alert published, handler done",
            &r.cold.to_answer,
        ),
    ];
    if let Some(s) = &r.cold.spawn_to_stop {
        rows.push(row("cold: process start -> StopInstances sent", s));
    }
    rows.push(row(
        "member account, warm: event -> StopInstances sent",
        &r.member_warm.to_stop,
    ));
    rows.push(row(
        "member account, cold: event -> StopInstances sent",
        &r.member_cold.to_stop,
    ));
    rows.push(row(
        "member account, cold: event -> alert published",
        &r.member_cold.to_answer,
    ));
    print!(
        "{}",
        cost_guard::table::columns(&["CASE", "MEDIAN", "P90", "MIN", "MAX"], &rows)
    );
    if let (Some(own), Some(member)) = (r.cold.peak_rss_kib, r.member_cold.peak_rss_kib) {
        println!(
            "\nPeak RSS of a cold process: {:.1} MiB (member account: {:.1} MiB)",
            own as f64 / 1024.0,
            member as f64 / 1024.0
        );
    }
    println!(
        "\nAWS requests per event (fewest-most over the {} events of each case):",
        r.events
    );
    let mut keys: Vec<_> = r
        .warm
        .requests
        .keys()
        .chain(r.cold.requests.keys())
        .chain(r.member_warm.requests.keys())
        .chain(r.member_cold.requests.keys())
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    let range = |m: &std::collections::BTreeMap<(String, String), (usize, usize)>, k| match m.get(k)
    {
        Some((lo, hi)) if lo == hi => lo.to_string(),
        Some((lo, hi)) => format!("{lo}-{hi}"),
        None => "0".into(),
    };
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                k.0.clone(),
                k.1.clone(),
                range(&r.warm.requests, k),
                range(&r.cold.requests, k),
                range(&r.member_warm.requests, k),
                range(&r.member_cold.requests, k),
            ]
        })
        .collect();
    print!(
        "{}",
        cost_guard::table::columns(
            &[
                "SERVICE",
                "ACTION",
                "WARM",
                "COLD",
                "MEMBER WARM",
                "MEMBER COLD"
            ],
            &rows
        )
    );
    Ok(())
}

fn bench_startup(runs: usize) -> Result<()> {
    use stats::ms;
    println!("Start-up until the first runtime-API request for an event ({runs} runs each)");
    let rows = stats::startup(&stats::release_binaries(), runs)?;
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.binary.clone(),
                ms(r.time.median),
                ms(r.time.p90),
                ms(r.time.min),
                ms(r.time.max),
                format!("{:.1} MiB", r.rss_kib as f64 / 1024.0),
            ]
        })
        .collect();
    print!(
        "{}",
        cost_guard::table::columns(&["BINARY", "MEDIAN", "P90", "MIN", "MAX", "RSS"], &table)
    );
    Ok(())
}

fn secs(d: std::time::Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

async fn bench_sweep(o: SweepArgs) -> Result<()> {
    use crate::sweep::{self, Tool, Tools};
    let runs = o.runs.max(1);
    let custodian = !o.no_custodian && !o.fleet.other_kinds;
    let tools = Tools::locate(custodian)?;
    let which: Vec<Tool> = if custodian {
        vec![Tool::CostGuard, Tool::Custodian]
    } else {
        vec![Tool::CostGuard]
    };
    let spec = o.fleet.spec();
    println!(
        "Fleet per region: {} running instances tagged cost-guard=stop, {} untagged; in the first {} regions also 2 tagged DB instances, 1 untagged and a tagged Aurora cluster.",
        spec.tagged, spec.untagged, spec.db_regions
    );
    if spec.other_kinds {
        println!("Every region also: 2 Auto Scaling groups of 5 c5.xlarge instances, 3 ECS services on Fargate (one with a scaling target), 2 SageMaker notebooks (ml.p3.2xlarge) and a Redshift cluster, all tagged (cost-guard alone: the Cloud Custodian policy covers EC2 and RDS).");
    }
    println!("Each run: a fresh fleet in local moto servers (one per region, as AWS regions answer independently), the tool as a whole process, every AWS request counted by a loopback proxy; after one unmeasured warm-up run of each tool, {runs} runs per tool, alternating.\n");
    let mut n = 0;
    let c = sweep::compare(spec, runs, &tools, &which, |run| {
        n += 1;
        println!("{}", sweep::run_line(n, run));
    })
    .await
    .map_err(|e| e.to_string())?;
    let kinds = |kind: &str| c.seeded.to_stop.iter().filter(|k| k.1 == kind).count();
    println!(
        "\n{} enabled regions (DescribeRegions), {} resources; to stop: {} instances, {} DB instances, {} Aurora clusters, {} Auto Scaling groups, {} ECS services, {} SageMaker notebooks, {} Redshift clusters.",
        c.seeded.regions.len(),
        c.seeded.resources,
        kinds("ec2"),
        kinds("rds"),
        kinds("aurora"),
        kinds("asg"),
        kinds("ecs-service"),
        kinds("notebook"),
        kinds("redshift"),
    );
    println!("Every run of every tool stopped exactly that set and nothing else.\n");
    let (table, stats) = sweep::summary(&c.runs);
    print!("{table}");
    if let (Some(cg), Some(c7n)) = (stats.get(&Tool::CostGuard), stats.get(&Tool::Custodian)) {
        println!(
            "\ncost-guard is {:.1}x faster than Cloud Custodian (ratio of medians: {} / {}).",
            c7n.median.as_secs_f64() / cg.median.as_secs_f64(),
            secs(c7n.median),
            secs(cg.median)
        );
    }
    println!("\nAWS requests per run, by service and action:");
    print!("{}", sweep::requests_table(&c.runs, &which));
    Ok(())
}

/// `ATTEMPT_TIMEOUT_SECONDS` for the function in `bench scale`.
const SCALE_ATTEMPT_TIMEOUT_SECS: u64 = 300;

async fn bench_scale(o: ScaleArgs) -> Result<()> {
    use crate::sweep::{self, Tool, Tools};
    let runs = o.runs.max(1);
    let sizes = o.sizes;
    let mut tools = Tools::locate(false)?;
    // moto renders a describe page at a few milliseconds per instance, and at
    // 10,000 instances twenty emulators share this machine's cores: one page
    // can take far longer than AWS ever would. A longer attempt timeout keeps
    // the function from abandoning (and so repeating) that work.
    tools.attempt_timeout_secs = Some(SCALE_ATTEMPT_TIMEOUT_SECS);
    let regions = {
        let moto = emulator::Moto::start()?;
        sweep::enabled_regions(&moto.sdk_config().await)
            .await?
            .len()
    };
    println!("cost-guard's sweep at growing fleets, spread over {regions} enabled regions (10 untagged instances per region, DB instances in 3); {runs} runs each, with ATTEMPT_TIMEOUT_SECONDS={SCALE_ATTEMPT_TIMEOUT_SECS} for the emulators' sake.\n");
    let mut rows = Vec::new();
    for size in sizes {
        let spec = sweep::FleetSpec {
            tagged: size.div_ceil(regions),
            ..o.fleet.spec()
        };
        let c = sweep::compare(spec, runs, &tools, &[Tool::CostGuard], |_| {})
            .await
            .map_err(|e| e.to_string())?;
        let times: Vec<_> = c.runs.iter().map(|r| r.measured.elapsed).collect();
        let s = stats::Stats::of(&times).ok_or("no runs")?;
        let peak = c
            .runs
            .iter()
            .map(|r| r.measured.peak_rss_kib)
            .max()
            .unwrap_or(0);
        let requests = c.runs.iter().map(|r| r.total_requests()).max().unwrap_or(0);
        let stops: usize = c.runs[0]
            .requests
            .iter()
            .filter(|((_, action), _)| action.starts_with("Stop"))
            .map(|(_, n)| n)
            .sum();
        let row = vec![
            c.seeded
                .to_stop
                .iter()
                .filter(|k| k.1 == "ec2")
                .count()
                .to_string(),
            secs(s.median),
            secs(s.min),
            secs(s.max),
            format!("{:.1} MiB", peak as f64 / 1024.0),
            requests.to_string(),
            stops.to_string(),
        ];
        println!("{}", row.join("  "));
        rows.push(row);
    }
    println!();
    print!(
        "{}",
        cost_guard::table::columns(
            &[
                "TAGGED",
                "MEDIAN",
                "MIN",
                "MAX",
                "PEAK RSS",
                "REQUESTS",
                "STOP CALLS"
            ],
            &rows
        )
    );
    Ok(())
}
