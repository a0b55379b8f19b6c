//! `cost-guard`: try the guard locally, or see what it would stop.
//!
//! ```text
//! cost-guard demo [--dry-run]   run stop-on-overspend on the sample events against a local emulator
//! cost-guard plan               dry run against the configured AWS credentials and endpoint
//! ```

use std::collections::HashMap;
use std::process::ExitCode;

use cost_guard::{emulator, table};
use guard::config::{self, Config, SelectionConfig};
use guard::overspend::Guard;

const USAGE: &str = "\
cost-guard: stops runaway AWS spend; this command line tries it locally or plans a sweep.

USAGE:
    cost-guard demo [--dry-run]
        Start a local AWS emulator (moto), seed a fleet in several regions, run the
        stop-on-overspend function on the sample events in events/, and print what
        subscribers received and the fleet before and after. No AWS account needed.

    cost-guard plan
        Dry run against whatever AWS credentials and endpoint are configured
        (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...): print, per region, what a
        sweep would stop and what it would skip, and why. Changes nothing. Reads
        SELECTION, STOP_TAG_KEY, STOP_TAG_VALUE, EXEMPT_TAG_KEY and REGIONS.

    cost-guard bench sweep [--runs N] [--tagged N] [--untagged N] [--db-regions N] [--no-custodian]
        Seed the same fleet in every enabled region of a local emulator (default per
        region 40 instances tagged cost-guard=stop and 10 untagged; in 3 regions also
        DB instances and an Aurora cluster), then stop it with the stop-on-overspend
        release binary and with Cloud Custodian (scripts/setup bench installs it),
        alternately, each on a fresh fleet, N times each (default 5). Checks both
        stopped exactly the tagged set; prints wall time, peak memory and every AWS
        request by service and action. Build first: cargo build --release -p stop-on-overspend

    cost-guard bench scale [--runs N] [SIZE...]
        The same sweep by cost-guard alone at about SIZE tagged instances spread over
        every enabled region (default 100 1000 10000, 3 runs each).

    cost-guard bench root-alert [RUNS]
        Time the root-login-alert handler from event to published alert against a
        local emulator (default 50 runs); prints median, p90, min and max.

    cost-guard bench startup [RUNS]
        Start each release function binary (target/release; build them with
        `cargo build --release --bins`) against a local runtime-API stub and time
        it until its first request for an event (default 20 runs), with its memory.

    cost-guard help
";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let result = match args.first().map(String::as_str) {
        Some("demo") => {
            let dry_run = match &args[1..] {
                [] => false,
                [flag] if flag == "--dry-run" => true,
                other => return usage_error(&format!("demo: unexpected arguments {other:?}")),
            };
            demo(dry_run).await
        }
        Some("plan") if args.len() == 1 => plan().await,
        Some("bench") if matches!(args.get(1).map(String::as_str), Some("sweep" | "scale")) => {
            let options = match BenchOptions::parse(&args[2..]) {
                Ok(o) => o,
                Err(e) => return usage_error(&format!("bench {}: {e}", args[1])),
            };
            if args[1] == "sweep" {
                bench_sweep(options).await
            } else {
                bench_scale(options).await
            }
        }
        Some("bench") => {
            let runs = match args.get(2).map(|r| r.parse::<usize>()) {
                None => None,
                Some(Ok(n)) if n > 0 => Some(n),
                Some(_) => return usage_error("bench: RUNS must be a positive number"),
            };
            match args.get(1).map(String::as_str) {
                Some("root-alert") => bench_root_alert(runs.unwrap_or(50)).await,
                Some("startup") => bench_startup(runs.unwrap_or(20)),
                _ => {
                    return usage_error(
                        "bench: expected `sweep`, `scale`, `startup` or `root-alert`",
                    )
                }
            }
        }
        Some("help") | Some("--help") | Some("-h") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => return usage_error(&format!("unknown command or arguments: {other}")),
        None => return usage_error("no command given"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cost-guard: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("cost-guard: {msg}\n\n{USAGE}");
    ExitCode::from(2)
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The fleet the demo seeds: per region, what it launches.
const DEMO_REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];

async fn demo(dry_run: bool) -> Result<()> {
    println!("Starting a local AWS emulator (moto server)...");
    let moto = emulator::Moto::start()?;
    println!("Emulator at {}\n", moto.endpoint);
    let sdk = moto.sdk_config().await;

    let stop = [("cost-guard", "stop")];
    for (i, region) in DEMO_REGIONS.iter().enumerate() {
        emulator::launch(
            &sdk,
            region,
            2 + i,
            "g4dn.xlarge",
            &format!("gpu-miner-{region}"),
            &stop,
        )
        .await?;
        emulator::launch(
            &sdk,
            region,
            1,
            "t3.small",
            &format!("website-{region}"),
            &[],
        )
        .await?;
        emulator::launch(
            &sdk,
            region,
            1,
            "t3.micro",
            &format!("ci-runner-{region}"),
            &[("cost-guard", "keep")],
        )
        .await?;
        emulator::launch(
            &sdk,
            region,
            1,
            "m5.large",
            &format!("prod-api-{region}"),
            &[("cost-guard", "stop"), ("cost-guard-exempt", "true")],
        )
        .await?;
    }
    emulator::create_db(&sdk, "us-east-1", "analytics-db", &stop).await?;
    emulator::create_db(&sdk, "us-east-1", "prod-db", &[]).await?;
    emulator::create_aurora(
        &sdk,
        "eu-west-1",
        "reporting-aurora",
        "reporting-aurora-1",
        &stop,
    )
    .await?;
    let (topic, inbox) = emulator::notify_topic(&sdk, "cost-guard-notify").await?;
    // Month-to-date spend for the "Where the money went" section.
    if let Some(period) = guard::spend::month_to_date(time::OffsetDateTime::now_utc().date()) {
        emulator::set_cost_by_service(
            &moto,
            &period.start_text(),
            &period.end_text(),
            "UnblendedCost",
            emulator::SAMPLE_COSTS,
        )?;
    }

    let select = SelectionConfig {
        selection: config::Selection::Tagged {
            key: "cost-guard".into(),
            value: Some("stop".into()),
        },
        exempt_tag_key: "cost-guard-exempt".into(),
    };
    println!("FLEET BEFORE (seeded in {})", DEMO_REGIONS.join(", "));
    print_fleet(&sdk, &select).await?;

    let vars: HashMap<String, String> = [
        ("NOTIFY_TOPIC_ARN", topic.as_str()),
        ("REGIONS", "all"),
        ("DRY_RUN", if dry_run { "true" } else { "false" }),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = Config::from_map(&vars)?;
    println!(
        "\nConfiguration: SELECTION=tagged STOP_TAG_KEY=cost-guard STOP_TAG_VALUE=stop REGIONS=all DRY_RUN={dry_run}"
    );
    let guard = Guard::new(config, &sdk);

    let steps = [
        ("alarm-billing-ok.json", "a billing alarm returns to OK"),
        (
            "budget-forecasted.json",
            "AWS Budgets forecasts the budget will be passed",
        ),
        ("anomaly.json", "Cost Anomaly Detection reports an anomaly"),
        (
            "unrecognised.json",
            "something else is published to the trigger topic",
        ),
        (
            "budget-actual.json",
            "AWS Budgets: actual spend passed the threshold",
        ),
        (
            "budget-actual.json",
            "the same notification delivered a second time",
        ),
    ];
    for (file, what) in steps {
        println!("\n{}\nEVENT events/{file}: {what}", "=".repeat(78));
        let event = emulator::sample_event(file)?;
        let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        match guard.handle(&event, Some(deadline)).await {
            Ok(summary) => println!(
                "Function returned: acted={} stopped={} skipped={} failed={} regions swept={}",
                summary.acted,
                summary.stopped,
                summary.skipped,
                summary.failed,
                summary.regions_swept
            ),
            Err(e) => println!("Function returned an error (Lambda would retry): {e}"),
        }
        for m in inbox.take().await? {
            println!(
                "\nSubscribers received:\nSubject: {}\n\n{}",
                m.subject,
                indent(&m.body)
            );
        }
    }

    println!("\n{}\nFLEET AFTER", "=".repeat(78));
    print_fleet(&sdk, &select).await?;
    println!("\nThe emulator stops with this command; nothing outside this machine was touched.");
    Ok(())
}

async fn bench_root_alert(runs: usize) -> Result<()> {
    println!("root-login-alert handler, event to published alert, against moto on loopback ({runs} runs)");
    let s = cost_guard::bench::root_alert(runs).await?;
    use cost_guard::bench::ms;
    println!(
        "median {}  p90 {}  min {}  max {}",
        ms(s.median),
        ms(s.p90),
        ms(s.min),
        ms(s.max)
    );
    Ok(())
}

fn bench_startup(runs: usize) -> Result<()> {
    use cost_guard::bench::ms;
    println!("Start-up until the first runtime-API request for an event ({runs} runs each)");
    let rows = cost_guard::bench::startup(&cost_guard::bench::release_binaries(), runs)?;
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
        table::columns(&["BINARY", "MEDIAN", "P90", "MIN", "MAX", "RSS"], &table)
    );
    Ok(())
}

/// Options of `bench sweep` and `bench scale`.
struct BenchOptions {
    runs: Option<usize>,
    spec: cost_guard::bench::sweep::FleetSpec,
    custodian: bool,
    sizes: Vec<usize>,
}

impl BenchOptions {
    fn parse(args: &[String]) -> std::result::Result<BenchOptions, String> {
        let mut o = BenchOptions {
            runs: None,
            spec: Default::default(),
            custodian: true,
            sizes: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut number = |name: &str| -> std::result::Result<usize, String> {
                it.next()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| format!("{name} needs a number"))
            };
            match arg.as_str() {
                "--runs" => o.runs = Some(number("--runs")?.max(1)),
                "--tagged" => o.spec.tagged = number("--tagged")?,
                "--untagged" => o.spec.untagged = number("--untagged")?,
                "--db-regions" => o.spec.db_regions = number("--db-regions")?,
                "--no-custodian" => o.custodian = false,
                size => o.sizes.push(
                    size.parse()
                        .map_err(|_| format!("unexpected argument {size:?}"))?,
                ),
            }
        }
        Ok(o)
    }
}

fn secs(d: std::time::Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

async fn bench_sweep(o: BenchOptions) -> Result<()> {
    use cost_guard::bench::sweep::{self, Tool, Tools};
    if !o.sizes.is_empty() {
        return Err(format!("bench sweep: unexpected arguments {:?}", o.sizes).into());
    }
    let runs = o.runs.unwrap_or(5);
    let tools = Tools::locate(o.custodian)?;
    let which: Vec<Tool> = if o.custodian {
        vec![Tool::CostGuard, Tool::Custodian]
    } else {
        vec![Tool::CostGuard]
    };
    let spec = o.spec;
    println!(
        "Fleet per region: {} running instances tagged cost-guard=stop, {} untagged; in the first {} regions also 2 tagged DB instances, 1 untagged and a tagged Aurora cluster.",
        spec.tagged, spec.untagged, spec.db_regions
    );
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
        "\n{} enabled regions (DescribeRegions), {} resources; to stop: {} instances, {} DB instances, {} Aurora clusters.",
        c.seeded.regions.len(),
        c.seeded.resources,
        kinds("ec2"),
        kinds("rds"),
        kinds("aurora"),
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

async fn bench_scale(o: BenchOptions) -> Result<()> {
    use cost_guard::bench::sweep::{self, Tool, Tools};
    let runs = o.runs.unwrap_or(3);
    let sizes = if o.sizes.is_empty() {
        vec![100, 1_000, 10_000]
    } else {
        o.sizes
    };
    let mut tools = Tools::locate(false)?;
    // moto renders a describe page at a few milliseconds per instance, and at
    // 10,000 instances twenty emulators share this machine's cores: one page
    // can take far longer than AWS ever would. A longer attempt timeout keeps
    // the function from abandoning (and so repeating) that work.
    tools.attempt_timeout_secs = Some(SCALE_ATTEMPT_TIMEOUT_SECS);
    let regions = {
        let moto = cost_guard::emulator::Moto::start()?;
        sweep::enabled_regions(&moto.sdk_config().await)
            .await?
            .len()
    };
    println!("cost-guard's sweep at growing fleets, spread over {regions} enabled regions (10 untagged instances per region, DB instances in 3); {runs} runs each, with ATTEMPT_TIMEOUT_SECONDS={SCALE_ATTEMPT_TIMEOUT_SECS} for the emulators' sake.\n");
    let mut rows = Vec::new();
    for size in sizes {
        let spec = sweep::FleetSpec {
            tagged: size.div_ceil(regions),
            ..o.spec
        };
        let c = sweep::compare(spec, runs, &tools, &[Tool::CostGuard], |_| {})
            .await
            .map_err(|e| e.to_string())?;
        let times: Vec<_> = c.runs.iter().map(|r| r.measured.elapsed).collect();
        let s = cost_guard::bench::Stats::of(&times).ok_or("no runs")?;
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
        table::columns(
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

async fn print_fleet(sdk: &aws_types::SdkConfig, select: &SelectionConfig) -> Result<()> {
    let rows = emulator::fleet(sdk, &DEMO_REGIONS).await?;
    print!(
        "{}",
        table::fleet(&rows, "cost-guard", &select.exempt_tag_key)
    );
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

async fn plan() -> Result<()> {
    let lookup = |name: &str| std::env::var(name).ok();
    let select = config::selection_from_lookup(&lookup)?;
    let regions_scope = config::regions_from(lookup("REGIONS"))?;
    let sdk = guard::aws::load().await?;
    let home = aws_sdk_ec2::Client::new(&sdk);
    let regions = guard::regions::resolve(&regions_scope, &home).await?;
    let spec = guard::sweep::SweepSpec {
        select,
        dry_run: true,
        stamp: guard::sweep::Stamp::now("plan"),
        concurrency: guard::overspend::REGION_CONCURRENCY,
    };
    let clients = guard::sweep::SdkClients::new(sdk);
    let report =
        guard::sweep::sweep(&clients, &regions, &spec, guard::overspend::DEFAULT_BUDGET).await;
    print!("{}", table::plan(&report));
    if !report.is_clean() {
        return Err("some regions could not be read completely (see the errors above)".into());
    }
    Ok(())
}
