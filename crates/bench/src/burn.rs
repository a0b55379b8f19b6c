//! The burn-rate check: the sweep benchmark's fleet (with every other kind)
//! in every enabled region, priced the way burn-watch prices it each check,
//! against one moto server per region and the Price List stand-in; the
//! first check with an empty price book, then warm ones. Prints wall time,
//! every AWS request of a check, and what the check costs a month at the
//! default schedule.

use std::time::{Duration, Instant};

use emulator::PriceList;
use guard::aws::fleet::Fleet;
use guard::aws::pricing::PriceBook;
use guard::domain::config::{AccountsConfig, RegionScope};

use crate::stats::{ms, Stats};
use crate::sweep::{self, FleetSpec};
use crate::Error;

/// burn-watch's default schedule, rate(15 minutes), over a 30-day month.
const CHECKS_PER_MONTH: f64 = 30.0 * 24.0 * 4.0;
/// Lambda on x86_64 in us-east-1: per GB-second and per request (AWS's
/// Lambda pricing page); the function has 128 MB.
const LAMBDA_GB_SECOND_USD: f64 = 0.000_016_666_7;
const LAMBDA_REQUEST_USD: f64 = 0.000_000_2;
const MEMORY_GB: f64 = 0.125;
/// DynamoDB on demand: a strongly consistent read (one read request unit)
/// and a write (one write request unit) per check.
const DYNAMODB_PER_CHECK_USD: f64 = (0.25 + 1.25) / 1_000_000.0;
/// Cost Explorer: $0.01 a request; asked at least once a day with a monthly
/// limit, and once more per change of the burn rate.
const CE_REQUEST_USD: f64 = 0.01;

pub async fn run(runs: usize) -> Result<(), Error> {
    let (motos, proxy) = sweep::region_emulators().await?;
    let sdk = emulator::lambda_sdk_config_for(&proxy.endpoint).await;
    let spec = FleetSpec {
        other_kinds: true,
        ..FleetSpec::default()
    };
    let seeded = sweep::seed(&motos, &sdk, spec).await?;
    let prices = PriceList::start().await?;
    println!(
        "Fleet: the sweep benchmark's, with every other kind: {} resources in {} enabled regions (one moto server each, every request through a counting proxy); prices from the Price List stand-in.\n",
        seeded.resources,
        seeded.regions.len()
    );
    let fleet = Fleet::direct(&AccountsConfig::default(), &RegionScope::AllEnabled, &sdk);
    let book = PriceBook::new(prices.client(&sdk));

    let check = || async {
        proxy.reset_log();
        let start = Instant::now();
        let (burn, notes) = fleet.burn(&book, Duration::from_secs(120)).await?;
        Ok::<_, Error>((start.elapsed(), burn, notes, proxy.counts()))
    };
    let (cold, burn, notes, cold_requests) = check().await?;
    let cold_prices = prices.requests();
    let mut warm = Vec::new();
    let mut warm_requests = None;
    for _ in 0..runs {
        let (t, b, _, requests) = check().await?;
        if b.per_hour() != burn.per_hour() {
            return Err("a warm check priced the same fleet differently".into());
        }
        warm.push(t);
        warm_requests = Some(requests);
    }
    let warm_prices = prices.requests() - cold_prices;
    let stats = Stats::of(&warm).ok_or("no warm run")?;

    println!(
        "Priced: {} running resources, {} with no known price; burning {} an hour ({} a day).",
        burn.lines.len(),
        burn.unknown(),
        burn.per_hour().fine(),
        burn.per_day().cents()
    );
    if !notes.is_empty() || !burn.unread.is_empty() {
        return Err(format!("the check was not clean: {notes:?} {:?}", burn.unread).into());
    }
    println!(
        "First check (empty price book): {}, {} GetProducts requests.",
        ms(cold),
        cold_prices
    );
    println!(
        "Warm checks (the same function instance), {} runs: median {}, p90 {}, min {}, max {}; GetProducts requests in all: {}.\n",
        stats.n,
        ms(stats.median),
        ms(stats.p90),
        ms(stats.min),
        ms(stats.max),
        warm_prices
    );
    let warm_requests = warm_requests.unwrap_or_default();
    let mut rows: Vec<Vec<String>> = cold_requests
        .iter()
        .map(|((service, action), n)| {
            vec![
                service.clone(),
                action.clone(),
                n.to_string(),
                warm_requests
                    .get(&(service.clone(), action.clone()))
                    .copied()
                    .unwrap_or(0)
                    .to_string(),
            ]
        })
        .collect();
    rows.sort();
    println!("AWS requests of one check (the Price List stand-in is not behind the proxy; its requests are counted above):");
    print!(
        "{}",
        cost_guard::table::columns(&["SERVICE", "ACTION", "FIRST", "WARM"], &rows)
    );
    let per_check: usize = warm_requests.values().sum();

    // Billed duration rounds up to the millisecond.
    let billed_s = (stats.median.as_secs_f64() * 1000.0).ceil() / 1000.0;
    let lambda =
        CHECKS_PER_MONTH * (billed_s * MEMORY_GB * LAMBDA_GB_SECOND_USD + LAMBDA_REQUEST_USD);
    let dynamodb = CHECKS_PER_MONTH * DYNAMODB_PER_CHECK_USD;
    println!(
        "\nAt the default schedule, rate(15 minutes): {CHECKS_PER_MONTH} checks a month, {} AWS requests a month for the survey.",
        per_check as f64 * CHECKS_PER_MONTH
    );
    println!(
        "  Lambda, 128 MB, x86_64, at the warm median: ${lambda:.4} a month (within the free tier of 400,000 GB-s and 1 million requests)."
    );
    println!("  DynamoDB, one read and one write a check: ${dynamodb:.4} a month.");
    println!(
        "  Price List API: no charge; asked once per type and region while the function is warm."
    );
    println!(
        "  Cost Explorer, with MonthlyLimitUsd: at least ${:.2} a month (one request a day), and $0.01 more per change of the burn rate; none without it.",
        30.0 * CE_REQUEST_USD
    );
    println!(
        "  In all, without a monthly limit: ${:.2} a month; with one and a rate that changes twice a day: ${:.2}.",
        lambda + dynamodb,
        lambda + dynamodb + 90.0 * CE_REQUEST_USD
    );
    Ok(())
}
