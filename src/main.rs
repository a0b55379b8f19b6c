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
        Some("bench") => {
            let runs = match args.get(2).map(|r| r.parse::<usize>()) {
                None => None,
                Some(Ok(n)) if n > 0 => Some(n),
                Some(_) => return usage_error("bench: RUNS must be a positive number"),
            };
            match args.get(1).map(String::as_str) {
                Some("root-alert") => bench_root_alert(runs.unwrap_or(50)).await,
                Some("startup") => bench_startup(runs.unwrap_or(20)),
                _ => return usage_error("bench: expected `root-alert` or `startup`"),
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

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

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
    let sdk = guard::aws::load().await;
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
