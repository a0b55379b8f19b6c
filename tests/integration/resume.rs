//! resume end to end against the emulator: what a sweep stopped is started
//! again, stamp first removed; nothing unstamped is ever started.

use guard::{STOPPED_AT_TAG, STOPPED_BY_TAG};
use serde_json::json;

use crate::harness::{Env, STOP};
use guard::handlers::{Function, Invocation};

const REGIONS: &str = "us-east-1,eu-west-1,ap-southeast-2";
const RESUMING: &str = "cost-guard:resuming";

/// Two tagged instances per region, a tagged database, a tagged Aurora
/// cluster, all stopped by a budget alert; an untagged instance the owner
/// stopped by hand; and one more instance stopped later by a billing alarm.
struct Stopped {
    by_budget: Vec<(String, String)>,
    by_alarm: (String, String),
    by_hand: (String, String),
}

async fn stop_everything(env: &Env) -> Stopped {
    let mut by_budget = Vec::new();
    for region in REGIONS.split(',') {
        for id in env.launch(region, 2, "gpu", STOP).await {
            by_budget.push((region.to_string(), id));
        }
    }
    emulator::create_db(&env.sdk, "us-east-1", "analytics-db", STOP)
        .await
        .unwrap();
    emulator::create_aurora(&env.sdk, "eu-west-1", "reports", "reports-1", STOP)
        .await
        .unwrap();
    by_budget.push(("us-east-1".into(), "analytics-db".into()));
    by_budget.push(("eu-west-1".into(), "reports".into()));
    let by_hand = env.launch("us-east-1", 1, "web", &[]).await.remove(0);
    let ec2 = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(&env.sdk)
            .region(aws_types::region::Region::new("us-east-1"))
            .build(),
    );
    ec2.stop_instances()
        .instance_ids(&by_hand)
        .send()
        .await
        .unwrap();
    let guard = env.guard(&[("REGIONS", REGIONS)]);
    env.invoke(&guard, "budget-actual.json").await.unwrap();
    let later = env.launch("eu-west-1", 1, "late", STOP).await.remove(0);
    env.invoke(&guard, "alarm-billing-alarm.json")
        .await
        .unwrap();
    env.received().await;
    Stopped {
        by_budget,
        by_alarm: ("eu-west-1".into(), later),
        by_hand: ("us-east-1".into(), by_hand),
    }
}

#[tokio::test]
async fn resume_starts_what_one_trigger_stopped_removes_its_stamp_and_nothing_else() {
    let env = Env::start().await;
    let s = stop_everything(&env).await;
    for (region, id) in &s.by_budget {
        let row = env.row(region, id).await;
        assert_eq!(row.state, "stopped", "{id}");
        assert_eq!(row.tag(STOPPED_BY_TAG), Some("budget:student-monthly"));
    }
    let regions: Vec<&str> = REGIONS.split(',').collect();
    let resume = env.resume(&[("REGIONS", REGIONS)]);

    // A dry run changes nothing and lists exactly the budget's resources.
    let before = env.fleet(&regions).await;
    let dry = resume
        .handle(&Invocation::new(
            &json!({"stopped_by": "budget:student-monthly", "dry_run": true}),
        ))
        .await
        .unwrap();
    assert_eq!((dry.started, dry.failed), (8, 0));
    assert_eq!(
        env.fleet(&regions).await,
        before,
        "a dry run changes nothing"
    );
    let m = env.one_message().await;
    assert!(m.subject.starts_with(
        "[dry run] cost-guard would start 8 resources in 3 regions (resume what budget:student-monthly"
    ), "{}", m.subject);
    for (_, id) in &s.by_budget {
        assert!(m.body.contains(id.as_str()), "{id} not listed");
    }
    assert!(!m.body.contains(&s.by_alarm.1));

    let done = resume
        .handle(&Invocation::new(
            &json!({"stopped_by": "budget:student-monthly"}),
        ))
        .await
        .unwrap();
    assert_eq!((done.started, done.failed), (8, 0));
    for (region, id) in &s.by_budget {
        let row = env.row(region, id).await;
        assert!(
            matches!(row.state.as_str(), "running" | "pending" | "available"),
            "{row:?}"
        );
        for key in [STOPPED_AT_TAG, STOPPED_BY_TAG, RESUMING] {
            assert_eq!(row.tag(key), None, "{id} still has {key}");
        }
    }
    // The Aurora member follows its cluster; RDS starts it, not resume.
    let m = env.one_message().await;
    assert!(
        m.subject
            .starts_with("cost-guard started 8 resources in 3 regions"),
        "{}",
        m.subject
    );
    assert!(m
        .body
        .contains("taken off each resource before it was started"));

    // What another trigger stopped, and what the owner stopped, stay stopped.
    let (region, id) = &s.by_alarm;
    let row = env.row(region, id).await;
    assert_eq!(row.state, "stopped");
    assert_eq!(row.tag(STOPPED_BY_TAG), Some("alarm:cost-guard-billing"));
    let (region, id) = &s.by_hand;
    assert_eq!(env.row(region, id).await.state, "stopped");

    // Since a time after every stamp: nothing. Then all of it: the alarm's.
    let none = resume
        .handle(&Invocation::new(&json!({"since": "2099-01-01T00:00:00Z"})))
        .await
        .unwrap();
    assert_eq!(none.started, 0);
    assert!(env
        .one_message()
        .await
        .subject
        .starts_with("cost-guard found nothing to start"));
    let rest = resume
        .handle(&Invocation::new(&json!({"since": "2020-01-01T00:00:00Z"})))
        .await
        .unwrap();
    assert_eq!(rest.started, 1);
    let (alarm_region, alarm_id) = &s.by_alarm;
    assert_eq!(env.row(alarm_region, alarm_id).await.state, "running");
    env.received().await;
    let (region, id) = &s.by_hand;
    assert_eq!(
        env.row(region, id).await.state,
        "stopped",
        "never stamped, never started"
    );
}

#[tokio::test]
async fn a_resume_that_stopped_half_way_is_finished_by_the_next_and_a_bad_payload_changes_nothing()
{
    let env = Env::start().await;
    let id = env.launch("us-east-1", 1, "gpu", STOP).await.remove(0);
    let guard = env.guard(&[("REGIONS", "us-east-1")]);
    env.invoke(&guard, "budget-actual.json").await.unwrap();
    env.received().await;
    // As a resume leaves it when it stops between the tags and the start.
    let ec2 = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(&env.sdk)
            .region(aws_types::region::Region::new("us-east-1"))
            .build(),
    );
    let stamp_at = env
        .row("us-east-1", &id)
        .await
        .tag(STOPPED_AT_TAG)
        .unwrap()
        .to_string();
    ec2.create_tags()
        .resources(&id)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key(RESUMING)
                .value(format!("{stamp_at} budget:student-monthly"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    ec2.delete_tags()
        .resources(&id)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key(STOPPED_AT_TAG)
                .build(),
        )
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key(STOPPED_BY_TAG)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let resume = env.resume(&[("REGIONS", "us-east-1")]);
    let before = env.fleet(&["us-east-1"]).await;
    let err = resume
        .handle(&Invocation::new(&json!({"stoped_by": "x"})))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("the resume payload is not valid"),
        "{err}"
    );
    assert!(err.to_string().contains("stoped_by"), "{err}");
    assert_eq!(env.fleet(&["us-east-1"]).await, before);
    assert!(env.received().await.is_empty());

    let done = resume
        .handle(&Invocation::new(
            &json!({"stopped_by": "budget:student-monthly"}),
        ))
        .await
        .unwrap();
    assert_eq!(done.started, 1, "found by its marker");
    let row = env.row("us-east-1", &id).await;
    assert_eq!(row.state, "running");
    assert_eq!(row.tag(RESUMING), None);
}

/// A start AWS refuses in one region fails the invocation (so that Lambda,
/// or the owner, tries again), while the other regions are started and the
/// report says which could not be and why; regions that cannot be listed
/// start nothing and fail it too.
#[tokio::test]
async fn a_start_that_fails_in_one_region_is_reported_and_fails_the_invocation() {
    use guard::handlers::HandlerError;
    use testkit::{Fault, FaultRule};
    let env = Env::start().await;
    let regions = "us-east-1,eu-west-1";
    let east = env.launch("us-east-1", 1, "gpu", STOP).await.remove(0);
    let west = env.launch("eu-west-1", 1, "gpu", STOP).await.remove(0);
    let guard = env.guard(&[("REGIONS", regions)]);
    env.invoke(&guard, "budget-actual.json").await.unwrap();
    env.received().await;
    let (proxy, sdk) = env.proxied().await;

    let everywhere = guard::handlers::resume::Resume::new(env.config(&[]), &sdk);
    proxy.inject(FaultRule::always("us-east-1", Fault::Status(500)).on_action("DescribeRegions"));
    let err = everywhere
        .handle(&Invocation::new(&json!({})))
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::SweepNotStarted(_)), "{err}");
    assert!(env.received().await.is_empty());
    proxy.clear_faults();

    let resume = guard::handlers::resume::Resume::new(env.config(&[("REGIONS", regions)]), &sdk);
    proxy.inject(FaultRule::always("eu-west-1", Fault::Status(500)).on_action("StartInstances"));
    let err = resume
        .handle(&Invocation::new(&json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, HandlerError::Incomplete { at, .. } if at == "eu-west-1"),
        "{err}"
    );
    assert_eq!(env.row("us-east-1", &east).await.state, "running");
    let row = env.row("eu-west-1", &west).await;
    assert_eq!(row.state, "stopped");
    // Its stamp is swapped for resume's marker, by which the next resume
    // finds it.
    assert!(row.tag(RESUMING).is_some(), "marked: {row:?}");
    let m = env.one_message().await;
    assert!(m.body.contains(&west), "{}", m.body);

    proxy.clear_faults();
    let s = resume.handle(&Invocation::new(&json!({}))).await.unwrap();
    assert_eq!((s.started, s.failed, s.regions), (1, 0, 2), "{s:?}");
    assert_eq!(env.row("eu-west-1", &west).await.state, "running");
    env.one_message().await;
}
