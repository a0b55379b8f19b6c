//! spend-watch and the "Where the money went" context against the emulator,
//! with Cost Explorer results set through moto's API.

use emulator::{sample_event, sdk_config_for, set_cost_by_service};
use guard::aws::fleet::Fleet;
use guard::domain::config::StopOnOverspendConfig;
use guard::handlers::spend_watch::SpendWatch;
use guard::handlers::stop_on_overspend::StopOnOverspend;
use guard::STOPPED_BY_TAG;

use crate::harness::{Env, STOP};

const REGIONS: &str = "us-east-1,eu-west-1,sa-east-1";
const TODAY: time::Date = time::macros::date!(2026 - 11 - 22);

/// The demo's sample costs (a zero-cost service is left out of reports; see the spend unit tests).
use emulator::SAMPLE_COSTS as SERVICES;
use guard::handlers::{Function, Invocation};

fn watch(env: &Env, limit: &str) -> SpendWatch {
    env.spend_watch(
        &[("REGIONS", REGIONS), ("SPEND_LIMIT_USD", limit)],
        &env.sdk,
    )
}

/// The sample costs from November 1st to TODAY, the 22nd, as Cost Explorer
/// would report them.
fn month_so_far(env: &Env) {
    set_cost_by_service(
        &env.moto,
        "2026-11-01",
        "2026-11-22",
        "UnblendedCost",
        SERVICES,
    )
    .unwrap();
}

async fn seed(env: &Env) -> Vec<(String, String)> {
    let mut tagged = Vec::new();
    for region in REGIONS.split(',') {
        for id in env.launch(region, 2, "gpu", STOP).await {
            tagged.push((region.to_string(), id));
        }
        env.launch(region, 1, "web", &[]).await;
    }
    tagged
}

#[tokio::test]
async fn over_the_limit_stops_tagged_instances_everywhere_and_names_the_top_services() {
    let env = Env::start().await;
    let tagged = seed(&env).await;
    month_so_far(&env);
    let w = watch(&env, "500");
    let s = w
        .handle(&Invocation::new(&sample_event("scheduled.json").unwrap()).on(TODAY))
        .await
        .expect("clean sweep");
    assert_eq!(s.verdict, "stop");
    assert_eq!(s.stopped, 6);
    for (region, id) in &tagged {
        let row = env.row(region, id).await;
        assert_eq!(row.state, "stopped");
        assert_eq!(
            row.tag(STOPPED_BY_TAG),
            Some("spend-watch:month-to-date-over-500-usd")
        );
    }
    let m = env.one_message().await;
    assert_eq!(
        m.subject,
        "cost-guard stopped 6 resources in 3 regions (month-to-date spend $1,257.17 > $500.00)"
    );
    assert!(
        m.body
            .contains("Month to date (2026-11-01 to 2026-11-22, UnblendedCost): $1,257.17"),
        "{}",
        m.body
    );
    for line in [
        "   $1,112.40  Amazon Elastic Compute Cloud - Compute",
        "      $96.10  Amazon Relational Database Service",
        "      $31.00  Amazon Virtual Private Cloud",
        "      $12.25  Amazon Simple Storage Service",
        "       $4.80  AmazonCloudWatch",
        "       $0.62  1 other service",
    ] {
        assert!(m.body.contains(line), "missing {line:?} in\n{}", m.body);
    }
    assert!(m
        .body
        .contains("Stopped 6 resources in 3 regions (6 EC2 instances); 3 regions swept."));
}

#[tokio::test]
async fn under_the_limit_sends_nothing_and_stops_nothing() {
    let env = Env::start().await;
    let tagged = seed(&env).await;
    month_so_far(&env);
    let w = watch(&env, "2000");
    let s = w
        .handle(&Invocation::new(&sample_event("scheduled.json").unwrap()).on(TODAY))
        .await
        .unwrap();
    assert_eq!(s.verdict, "quiet");
    assert!(!s.notified);
    assert!(env.received().await.is_empty());
    for (region, id) in &tagged {
        assert_eq!(env.row(region, id).await.state, "running");
    }
}

#[tokio::test]
async fn stop_on_overspend_reports_where_the_money_went() {
    let env = Env::start().await;
    seed(&env).await;
    let today = time::OffsetDateTime::now_utc().date();
    let Some(period) = guard::domain::spend::month_to_date_period(today) else {
        // On the 1st of a month there is no month-to-date period to set.
        return check_first_day(&env).await;
    };
    set_cost_by_service(
        &env.moto,
        &period.start_text(),
        &period.end_text(),
        "UnblendedCost",
        SERVICES,
    )
    .unwrap();
    let guard = env.guard(&[("REGIONS", REGIONS)]);
    let s = env.invoke(&guard, "budget-actual.json").await.unwrap();
    assert_eq!(s.stopped, 6);
    let m = env.one_message().await;
    assert!(m.body.contains("WHERE THE MONEY WENT"), "{}", m.body);
    assert!(
        m.body
            .contains("   $1,112.40  Amazon Elastic Compute Cloud - Compute"),
        "{}",
        m.body
    );
}

async fn check_first_day(env: &Env) {
    let guard = env.guard(&[("REGIONS", REGIONS)]);
    env.invoke(&guard, "budget-actual.json").await.unwrap();
    assert!(env
        .one_message()
        .await
        .body
        .contains("Month to date: not yet available (first day of the month"));
}

#[tokio::test]
async fn cost_explorer_failure_still_stops_everything_and_says_spend_was_unavailable() {
    let env = Env::start().await;
    let tagged = seed(&env).await;
    // Cost Explorer behind a closed port: every request fails to connect.
    let dead = sdk_config_for("http://127.0.0.1:9").await;
    let config: StopOnOverspendConfig = env.config(&[("REGIONS", REGIONS)]);
    let guard = StopOnOverspend::with_parts(
        Fleet::new(&config.sweep.accounts, &config.sweep.regions, &env.sdk),
        aws_sdk_sns::Client::new(&env.sdk),
        Some(guard::aws::costexplorer::client(&dead)),
        config,
    );
    let s = env
        .invoke(&guard, "budget-actual.json")
        .await
        .expect("the sweep does not depend on Cost Explorer");
    assert_eq!(s.stopped, 6);
    for (region, id) in &tagged {
        assert_eq!(env.row(region, id).await.state, "stopped");
    }
    let m = env.one_message().await;
    assert!(m
        .subject
        .starts_with("cost-guard stopped 6 resources in 3 regions (budget student-monthly"));
    let today = time::OffsetDateTime::now_utc().date();
    if guard::domain::spend::month_to_date_period(today).is_some() {
        assert!(
            m.body
                .contains("Spend unavailable: Cost Explorer did not answer"),
            "{}",
            m.body
        );
    }
}

#[tokio::test]
async fn spend_context_can_be_turned_off() {
    let env = Env::start().await;
    seed(&env).await;
    let guard = env.guard(&[("REGIONS", REGIONS), ("SPEND_CONTEXT", "false")]);
    // Without a Cost Explorer client the section is not even attempted (with
    // one, an empty month still prints the section's heading).
    env.invoke(&guard, "budget-actual.json").await.unwrap();
    assert!(!env
        .one_message()
        .await
        .body
        .contains("WHERE THE MONEY WENT"));
}

/// A sweep that cannot start (the regions cannot be listed) is told with
/// AWS's reason, and fails the invocation.
#[tokio::test]
async fn a_sweep_that_cannot_start_is_told_with_its_reason() {
    let env = Env::start().await;
    month_so_far(&env);
    let (_proxy, sdk) = env.regions_refused_after(0).await;
    let config: guard::domain::config::SpendWatchConfig = env.config(&[("SPEND_LIMIT_USD", "500")]);
    let w = SpendWatch::with_parts(
        Fleet::new(&config.sweep.accounts, &config.sweep.regions, &sdk),
        aws_sdk_sns::Client::new(&env.sdk),
        guard::aws::costexplorer::client(&env.sdk),
        config,
    );
    let err = w
        .handle(&Invocation::new(&sample_event("scheduled.json").unwrap()).on(TODAY))
        .await
        .unwrap_err();
    env.assert_told_the_sweep_did_not_start(&err, "The sweep could not start")
        .await;
}
