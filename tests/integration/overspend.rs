//! stop-on-overspend end to end against the emulator.

use crate::harness::{Env, STOP};
use guard::handlers::{Function, Invocation};
use guard::{STOPPED_AT_TAG, STOPPED_BY_TAG};

const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];

fn regions_var() -> String {
    REGIONS.join(",")
}

/// Tagged, untagged, other-value and exempt instances in every test region.
struct Seeded {
    tagged: Vec<(String, String)>,
    untouched: Vec<(String, String)>,
    exempt: Vec<(String, String)>,
}

async fn seed(env: &Env) -> Seeded {
    let mut s = Seeded {
        tagged: vec![],
        untouched: vec![],
        exempt: vec![],
    };
    for region in REGIONS {
        let r = region.to_string();
        for id in env.launch(region, 2, "tagged", STOP).await {
            s.tagged.push((r.clone(), id));
        }
        for id in env.launch(region, 1, "untagged", &[]).await {
            s.untouched.push((r.clone(), id));
        }
        for id in env
            .launch(region, 1, "other", &[("cost-guard", "keep")])
            .await
        {
            s.untouched.push((r.clone(), id));
        }
        for id in env
            .launch(
                region,
                1,
                "exempt",
                &[("cost-guard", "stop"), ("cost-guard-exempt", "yes")],
            )
            .await
        {
            s.exempt.push((r.clone(), id));
        }
    }
    s
}

#[tokio::test]
async fn tagged_mode_stops_only_tagged_instances_in_every_region_and_stamps_them() {
    let env = Env::start().await;
    let seeded = seed(&env).await;
    let guard = env.guard(&[("REGIONS", &regions_var())]);

    let summary = env
        .invoke(&guard, "budget-actual.json")
        .await
        .expect("clean sweep");
    assert!(summary.acted);
    assert_eq!(summary.stopped, 6);
    assert_eq!(summary.regions_swept, 3);

    for (region, id) in &seeded.tagged {
        let row = env.row(region, id).await;
        assert_eq!(row.state, "stopped", "{id} in {region}");
        assert_eq!(row.tag(STOPPED_BY_TAG), Some("budget:student-monthly"));
        let at = row.tag(STOPPED_AT_TAG).expect("stopped-at stamp");
        assert!(
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).is_ok(),
            "{at}"
        );
        assert!(at.ends_with('Z'), "UTC: {at}");
    }
    for (region, id) in seeded.untouched.iter().chain(&seeded.exempt) {
        let row = env.row(region, id).await;
        assert_eq!(row.state, "running", "{id} in {region} must be untouched");
        assert_eq!(row.tag(STOPPED_AT_TAG), None);
    }

    let m = env.one_message().await;
    assert_eq!(
        m.subject,
        "cost-guard stopped 6 resources in 3 regions (budget student-monthly: $1,287.34 > $40.00)"
    );
    assert!(m
        .body
        .contains("cost-guard acted: AWS Budgets reports that actual spend passed"));
    assert!(m
        .body
        .contains("Stopped 6 resources in 3 regions (6 EC2 instances); 3 regions swept."));
    for (region, id) in &seeded.tagged {
        assert!(m.body.contains(&format!("{id}  tagged-")), "{id} listed");
        assert!(m
            .body
            .contains(&format!("aws ec2 start-instances --region {region}")));
    }
    for (_, id) in &seeded.exempt {
        assert!(m.body.contains(&format!(
            "{id}  exempt  t3.micro  (EC2 instance): exempt: tagged cost-guard-exempt"
        )));
    }
    for (_, id) in &seeded.untouched {
        assert!(
            !m.body.contains(id.as_str()),
            "untouched {id} is not in the report"
        );
    }
}

#[tokio::test]
async fn all_except_exempt_stops_everything_but_exempt() {
    let env = Env::start().await;
    let seeded = seed(&env).await;
    let guard = env.guard(&[
        ("REGIONS", &regions_var()),
        ("SELECTION", "all-except-exempt"),
    ]);
    let summary = env
        .invoke(&guard, "alarm-billing-alarm.json")
        .await
        .expect("clean sweep");
    assert_eq!(summary.stopped, 12);
    for (region, id) in seeded.tagged.iter().chain(&seeded.untouched) {
        let row = env.row(region, id).await;
        assert_eq!(row.state, "stopped", "{id}");
        assert_eq!(row.tag(STOPPED_BY_TAG), Some("alarm:cost-guard-billing"));
    }
    for (region, id) in &seeded.exempt {
        assert_eq!(env.row(region, id).await.state, "running");
    }
    let m = env.one_message().await;
    assert!(m.subject.starts_with(
        "cost-guard stopped 12 resources in 3 regions (billing alarm cost-guard-billing ALARM"
    ));
    assert!(m
        .body
        .contains("every running resource except those tagged cost-guard-exempt"));
}

#[tokio::test]
async fn dry_run_changes_nothing_and_says_so() {
    let env = Env::start().await;
    let seeded = seed(&env).await;
    let before = env.fleet(&REGIONS).await;
    let guard = env.guard(&[("REGIONS", &regions_var()), ("DRY_RUN", "true")]);
    let summary = env
        .invoke(&guard, "budget-actual.json")
        .await
        .expect("dry run");
    assert_eq!(summary.stopped, 6, "would stop");
    assert_eq!(
        env.fleet(&REGIONS).await,
        before,
        "nothing changed, no tag written"
    );
    let m = env.one_message().await;
    assert!(m
        .subject
        .starts_with("[dry run] cost-guard would stop 6 resources in 3 regions"));
    assert!(m
        .body
        .starts_with("DRY RUN: nothing was stopped or tagged."));
    for (_, id) in &seeded.tagged {
        assert!(m.body.contains(id.as_str()));
    }
}

#[tokio::test]
async fn rds_instance_and_aurora_cluster_are_stopped_members_are_not_stopped_alone() {
    let env = Env::start().await;
    emulator::create_db(&env.sdk, "us-east-1", "tagged-db", STOP)
        .await
        .unwrap();
    emulator::create_db(&env.sdk, "us-east-1", "untagged-db", &[])
        .await
        .unwrap();
    emulator::create_aurora(
        &env.sdk,
        "eu-west-1",
        "tagged-aurora",
        "tagged-aurora-1",
        STOP,
    )
    .await
    .unwrap();
    // A member tagged on its own, in a cluster that is not tagged.
    emulator::create_aurora(&env.sdk, "eu-west-1", "plain-aurora", "plain-aurora-1", &[])
        .await
        .unwrap();
    // Through a counting proxy, to see which regions are asked for clusters.
    let proxy = testkit::Proxy::start(&env.endpoint).expect("proxy starts");
    let guard = guard::handlers::stop_on_overspend::StopOnOverspend::new(
        env.config(&[("REGIONS", "us-east-1,eu-west-1,ap-south-1")]),
        &emulator::lambda_sdk_config_for(&proxy.endpoint).await,
    );
    // Tag the member of the untagged cluster directly.
    let rds = aws_sdk_rds::Client::from_conf(
        aws_sdk_rds::config::Builder::from(&env.sdk)
            .region(aws_types::region::Region::new("eu-west-1"))
            .build(),
    );
    rds.add_tags_to_resource()
        .resource_name("arn:aws:rds:eu-west-1:123456789012:db:plain-aurora-1")
        .tags(
            aws_sdk_rds::types::Tag::builder()
                .key("cost-guard")
                .value("stop")
                .build(),
        )
        .send()
        .await
        .unwrap();

    let summary = env
        .invoke(&guard, "budget-actual.json")
        .await
        .expect("clean sweep");
    assert_eq!(summary.stopped, 2);
    // Clusters are listed only where some instance belongs to one.
    for region in ["us-east-1", "eu-west-1", "ap-south-1"] {
        assert_eq!(proxy.attempts(region, "DescribeDBInstances"), 1, "{region}");
        let clusters = usize::from(region == "eu-west-1");
        assert_eq!(
            proxy.attempts(region, "DescribeDBClusters"),
            clusters,
            "{region}"
        );
    }
    assert_eq!(env.row("us-east-1", "tagged-db").await.state, "stopped");
    assert_eq!(env.row("us-east-1", "untagged-db").await.state, "available");
    let cluster = env.row("eu-west-1", "tagged-aurora").await;
    assert_eq!(cluster.state, "stopped");
    assert_eq!(cluster.tag(STOPPED_BY_TAG), Some("budget:student-monthly"));
    assert_eq!(
        env.row("us-east-1", "tagged-db").await.tag(STOPPED_BY_TAG),
        Some("budget:student-monthly")
    );
    // Members are never stopped one by one.
    assert_eq!(
        env.row("eu-west-1", "tagged-aurora-1").await.state,
        "available"
    );
    assert_eq!(
        env.row("eu-west-1", "plain-aurora-1").await.state,
        "available"
    );
    assert_eq!(
        env.row("eu-west-1", "plain-aurora").await.state,
        "available"
    );

    let m = env.one_message().await;
    assert!(m
        .subject
        .starts_with("cost-guard stopped 2 resources in 2 regions"));
    assert!(m
        .body
        .contains("tagged-aurora  -  aurora-postgresql  (RDS DB cluster)"));
    assert!(m
        .body
        .contains("tagged-db  -  db.t3.medium  (RDS DB instance)"));
    assert!(m.body.contains("plain-aurora-1  -  db.r6g.large  (RDS DB instance): member of DB cluster plain-aurora, which is not selected"));
    assert!(m.body.contains(
        "aws rds start-db-cluster --region eu-west-1 --db-cluster-identifier tagged-aurora"
    ));
    assert!(m.body.contains(
        "aws rds start-db-instance --region us-east-1 --db-instance-identifier tagged-db"
    ));
}

/// Tags one RDS resource directly, as a user would in the console.
async fn tag_rds(env: &Env, region: &str, arn_tail: &str, key: &str, value: &str) {
    let rds = aws_sdk_rds::Client::from_conf(
        aws_sdk_rds::config::Builder::from(&env.sdk)
            .region(aws_types::region::Region::new(region.to_string()))
            .build(),
    );
    rds.add_tags_to_resource()
        .resource_name(format!("arn:aws:rds:{region}:123456789012:{arn_tail}"))
        .tags(
            aws_sdk_rds::types::Tag::builder()
                .key(key)
                .value(value)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_cluster_with_an_exempt_member_is_not_stopped_in_either_mode() {
    for (mode, cluster_tags) in [("tagged", STOP), ("all-except-exempt", &[][..])] {
        let env = Env::start().await;
        for cluster in ["guarded-aurora", "open-aurora"] {
            emulator::create_aurora(
                &env.sdk,
                "eu-west-1",
                cluster,
                &format!("{cluster}-1"),
                cluster_tags,
            )
            .await
            .unwrap();
        }
        tag_rds(
            &env,
            "eu-west-1",
            "db:guarded-aurora-1",
            "cost-guard-exempt",
            "true",
        )
        .await;
        let guard = env.guard(&[("REGIONS", "eu-west-1"), ("SELECTION", mode)]);

        let summary = env
            .invoke(&guard, "budget-actual.json")
            .await
            .expect("clean sweep");
        assert_eq!(summary.stopped, 1, "{mode}");
        for (id, state) in [
            ("open-aurora", "stopped"),
            ("guarded-aurora", "available"),
            ("guarded-aurora-1", "available"),
        ] {
            assert_eq!(env.row("eu-west-1", id).await.state, state, "{mode}: {id}");
        }
        let guarded = env.row("eu-west-1", "guarded-aurora").await;
        assert_eq!(guarded.tag(STOPPED_BY_TAG), None, "{mode}: no stamp");
        let m = env.one_message().await;
        assert!(
            m.body.contains("guarded-aurora  -  aurora-postgresql  (RDS DB cluster): member DB instance guarded-aurora-1 is exempt (tagged cost-guard-exempt): stopping the cluster would stop it too"),
            "{mode}: {}",
            m.body
        );
    }
}

#[tokio::test]
async fn ok_alarm_and_forecast_under_default_policy_stop_nothing_but_tell_subscribers() {
    let env = Env::start().await;
    seed(&env).await;
    let before = env.fleet(&REGIONS).await;
    let guard = env.guard(&[("REGIONS", &regions_var())]);

    let s = env.invoke(&guard, "alarm-billing-ok.json").await.unwrap();
    assert!(!s.acted);
    let m = env.one_message().await;
    assert_eq!(
        m.subject,
        "cost-guard: billing alarm cost-guard-billing OK (> $100.00), nothing stopped"
    );

    let s = env.invoke(&guard, "budget-forecasted.json").await.unwrap();
    assert!(!s.acted);
    let m = env.one_message().await;
    assert!(m.subject.contains("forecast, nothing stopped"));
    assert!(m
        .body
        .contains("with ACT_ON=actual forecasts are reported, not acted on"));

    let s = env.invoke(&guard, "anomaly.json").await.unwrap();
    assert!(!s.acted);
    assert!(env
        .one_message()
        .await
        .body
        .contains("Root cause: Amazon Elastic Compute Cloud - Compute, ap-south-1"));

    assert_eq!(env.fleet(&REGIONS).await, before);
}

#[tokio::test]
async fn forecast_acts_when_configured_and_anomaly_acts_over_the_minimum() {
    let env = Env::start().await;
    let seeded = seed(&env).await;
    let guard = env.guard(&[("REGIONS", &regions_var()), ("ACT_ON", "actual,forecasted")]);
    assert_eq!(
        env.invoke(&guard, "budget-forecasted.json")
            .await
            .unwrap()
            .stopped,
        6
    );
    env.received().await;
    for (region, id) in &seeded.tagged {
        assert_eq!(env.row(region, id).await.state, "stopped");
    }
    let env = Env::start().await;
    seed(&env).await;
    let high = env.guard(&[
        ("REGIONS", &regions_var()),
        ("ANOMALY_ACTION", "stop"),
        ("ANOMALY_MIN_IMPACT_USD", "1000"),
    ]);
    assert!(
        !env.invoke(&high, "anomaly.json").await.unwrap().acted,
        "$825.10 is below 1000"
    );
    let low = env.guard(&[("REGIONS", &regions_var()), ("ANOMALY_ACTION", "stop")]);
    let s = env.invoke(&low, "anomaly.json").await.unwrap();
    assert_eq!(s.stopped, 6);
    let msgs = env.received().await;
    assert_eq!(msgs.len(), 2);
    assert!(msgs[1]
        .body
        .contains("stopped-by=anomaly:8c2e4a6b-1d3f-4e5a-9b7c-2d4f6a8b0c1e"));
}

#[tokio::test]
async fn duplicate_delivery_is_harmless() {
    let env = Env::start().await;
    let seeded = seed(&env).await;
    let guard = env.guard(&[("REGIONS", &regions_var())]);
    env.invoke(&guard, "budget-actual.json").await.unwrap();
    env.received().await;
    let (region, id) = &seeded.tagged[0];
    let first_stamp = env
        .row(region, id)
        .await
        .tag(STOPPED_AT_TAG)
        .map(str::to_string);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    let again = env
        .invoke(&guard, "budget-actual.json")
        .await
        .expect("second delivery succeeds");
    assert!(again.acted);
    assert_eq!(again.stopped, 0);
    assert_eq!(again.failed, 0);
    let m = env.one_message().await;
    let stopped_first = seeded.tagged.len();
    assert!(
        m.subject.starts_with(&format!(
            "cost-guard found nothing left to stop, {stopped_first} resources stopped by an earlier run (budget"
        )),
        "{}",
        m.subject
    );
    // The report still shows the whole incident.
    assert!(m.body.contains(&format!(
        "Already stopped for this alert by an earlier run: {stopped_first} resources"
    )));
    // The first stamp stays: the duplicate did not touch what was already stopped.
    assert_eq!(
        env.row(region, id)
            .await
            .tag(STOPPED_AT_TAG)
            .map(str::to_string),
        first_stamp
    );
}

#[tokio::test]
async fn more_than_a_thousand_instances_in_one_region_are_all_stopped() {
    let env = Env::start().await;
    let ids = env.launch("us-west-2", 1100, "fleet", STOP).await;
    env.launch("us-west-2", 30, "keep", &[]).await;
    let guard = env.guard(&[("REGIONS", "us-west-2")]);
    let s = env
        .invoke(&guard, "budget-actual.json")
        .await
        .expect("clean sweep");
    assert_eq!(s.stopped, 1100);
    let fleet = env.fleet(&["us-west-2"]).await;
    let stopped = fleet.iter().filter(|r| r.state == "stopped").count();
    assert_eq!(stopped, 1100);
    assert!(fleet
        .iter()
        .filter(|r| ids.contains(&r.id))
        .all(|r| r.state == "stopped" && r.tag(STOPPED_BY_TAG).is_some()));
    assert_eq!(fleet.iter().filter(|r| r.state == "running").count(), 30);
    let m = env.one_message().await;
    assert!(m
        .subject
        .starts_with("cost-guard stopped 1100 resources in 1 region"));
    assert!(m.body.contains("... and 1050 more"));
}

#[tokio::test]
async fn stop_protected_instance_is_isolated_and_the_rest_stop() {
    let env = Env::start().await;
    let ids = env.launch("eu-central-1", 6, "web", STOP).await;
    let ec2 = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(&env.sdk)
            .region(aws_types::region::Region::new("eu-central-1"))
            .build(),
    );
    let protected = &ids[2];
    ec2.modify_instance_attribute()
        .instance_id(protected)
        .disable_api_stop(
            aws_sdk_ec2::types::AttributeBooleanValue::builder()
                .value(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let guard = env.guard(&[("REGIONS", "eu-central-1")]);
    let s = env
        .invoke(&guard, "budget-actual.json")
        .await
        .expect("a skipped instance is not a failure");
    assert_eq!(s.stopped, 5);
    assert_eq!(s.skipped, 1);
    for id in &ids {
        let row = env.row("eu-central-1", id).await;
        if id == protected {
            assert_eq!(row.state, "running");
            assert_eq!(row.tag(STOPPED_AT_TAG), None);
        } else {
            assert_eq!(row.state, "stopped", "{id}");
            assert!(row.tag(STOPPED_AT_TAG).is_some(), "{id} stamped");
        }
    }
    let m = env.one_message().await;
    assert!(
        m.body.contains(&format!(
            "{protected}  web-3  t3.micro  (EC2 instance): stop protection is enabled"
        )),
        "{}",
        m.body
    );
}

#[tokio::test]
async fn all_enabled_regions_by_default() {
    let env = Env::start().await;
    seed(&env).await;
    let guard = env.guard(&[]);
    let s = env.invoke(&guard, "budget-daily.json").await.unwrap();
    assert!(
        s.regions_swept > REGIONS.len(),
        "DescribeRegions lists more than the seeded regions"
    );
    assert_eq!(s.stopped, 6);
    let m = env.one_message().await;
    assert!(m.subject.starts_with(
        "cost-guard stopped 6 resources in 3 regions (budget gpu-daily: $18.75 > $8.00)"
    ));
    assert!(m.body.contains("budgeted $10.00 per day"));
}

#[tokio::test]
async fn unrecognised_and_non_sns_events_stop_nothing_and_tell_subscribers() {
    let logs = crate::harness::Captured::start();
    let env = Env::start().await;
    seed(&env).await;
    let before = env.fleet(&REGIONS).await;
    let guard = env.guard(&[
        ("REGIONS", &regions_var()),
        ("SELECTION", "all-except-exempt"),
    ]);

    let s = env.invoke(&guard, "unrecognised.json").await.unwrap();
    assert!(!s.acted);
    let m = env.one_message().await;
    assert_eq!(
        m.subject,
        "cost-guard received an unrecognised message, nothing stopped"
    );
    assert!(m
        .body
        .contains("Excerpt: Hello! Your free trial of ExampleCloudTool"));
    // An error in the log, for a log alarm, with why and what it said.
    let lines = logs.lines();
    assert!(
        lines.iter().any(|l| l["level"] == "ERROR"
            && l["fields"]["message"] == "unrecognised message: nothing stopped"
            && l["fields"]["excerpt"]
                .as_str()
                .is_some_and(|e| e.contains("ExampleCloudTool"))),
        "{lines:#?}"
    );

    let not_sns =
        serde_json::json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
    let s = guard
        .handle_alert(&Invocation::new(&not_sns))
        .await
        .unwrap();
    assert!(!s.acted);
    let m = env.one_message().await;
    assert!(m
        .body
        .contains("event is not an SNS notification (an EventBridge event from aws.events)"));
    assert_eq!(env.fleet(&REGIONS).await, before);
}

#[tokio::test]
async fn several_records_in_one_event_make_one_sweep_and_one_message() {
    let env = Env::start().await;
    let seeded = seed(&env).await;
    let guard = env.guard(&[("REGIONS", &regions_var())]);
    let ok = emulator::sample_event("alarm-billing-ok.json").unwrap();
    let actual = emulator::sample_event("budget-actual.json").unwrap();
    let event = serde_json::json!({"Records": [ok["Records"][0], actual["Records"][0]]});
    let s = guard
        .handle_alert(&Invocation::new(&event))
        .await
        .expect("clean sweep");
    assert!(s.acted);
    assert_eq!(s.triggers.len(), 2);
    assert_eq!(s.stopped, seeded.tagged.len());
    let m = env.one_message().await;
    assert!(m
        .subject
        .starts_with("cost-guard stopped 6 resources in 3 regions (budget student-monthly"));
    assert!(m.body.contains("- billing alarm cost-guard-billing OK"));
    assert!(m
        .body
        .contains("- budget student-monthly: $1,287.34 > $40.00"));
}

/// The two RDS kinds share one listing and one plan: with only
/// `rds-instances` in KINDS, the report holds the instances' skips and none
/// of the clusters'.
#[tokio::test]
async fn with_one_rds_kind_in_kinds_the_report_holds_only_that_kinds_skips() {
    let env = Env::start().await;
    let region = "eu-west-1";
    emulator::create_db(&env.sdk, region, "orders-db", STOP)
        .await
        .unwrap();
    emulator::create_db(
        &env.sdk,
        region,
        "ledger-db",
        &[("cost-guard", "stop"), ("cost-guard-exempt", "true")],
    )
    .await
    .unwrap();
    emulator::create_aurora(&env.sdk, region, "guarded-aurora", "guarded-aurora-1", STOP)
        .await
        .unwrap();
    tag_rds(
        &env,
        region,
        "db:guarded-aurora-1",
        "cost-guard-exempt",
        "true",
    )
    .await;
    let guard = env.guard(&[("REGIONS", region), ("KINDS", "rds-instances")]);

    let summary = env
        .invoke(&guard, "budget-actual.json")
        .await
        .expect("clean sweep");
    assert_eq!(summary.stopped, 1, "{summary:?}");
    assert_eq!(env.row(region, "orders-db").await.state, "stopped");
    for id in ["ledger-db", "guarded-aurora", "guarded-aurora-1"] {
        assert_eq!(env.row(region, id).await.state, "available", "{id}");
    }
    let m = env.one_message().await;
    assert!(
        m.body.contains(
            "ledger-db  -  db.t3.medium  (RDS DB instance): exempt: tagged cost-guard-exempt"
        ),
        "{}",
        m.body
    );
    assert!(!m.body.contains("guarded-aurora"), "{}", m.body);
}
