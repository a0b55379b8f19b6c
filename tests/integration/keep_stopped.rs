//! keep-stopped end to end against the emulator: a stamped database that RDS
//! restarts is stopped again and counted; nothing else is touched.

use guard::STOPPED_BY_TAG;
use serde_json::json;

use crate::harness::{Env, STOP};
use guard::handlers::{Function, Invocation};

const RESTOPS: &str = "cost-guard:restops";
const PENDING: &str = "cost-guard:restart-pending";

fn rds(env: &Env, region: &str) -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::from_conf(
        aws_sdk_rds::config::Builder::from(&env.sdk)
            .region(aws_types::region::Region::new(region.to_string()))
            .build(),
    )
}

/// What RDS does after 7 days: starts the database.
async fn rds_restarts(env: &Env, id: &str) {
    rds(env, "us-east-1")
        .start_db_instance()
        .db_instance_identifier(id)
        .send()
        .await
        .unwrap();
}

async fn stamped_and_stopped(env: &Env) {
    emulator::create_db(&env.sdk, "us-east-1", "analytics-db", STOP)
        .await
        .unwrap();
    let guard = env.guard(&[("REGIONS", "us-east-1")]);
    env.invoke(&guard, "budget-actual.json").await.unwrap();
    env.received().await;
    assert_eq!(env.row("us-east-1", "analytics-db").await.state, "stopped");
}

#[tokio::test]
async fn a_stamped_database_rds_restarts_is_stopped_again_and_counted() {
    let env = Env::start().await;
    stamped_and_stopped(&env).await;
    let watch = env.keep_stopped(&[("RESUME_FUNCTION_NAME", "guard-resume")]);
    let forced = emulator::sample_event("rds-instance-forced-start.json").unwrap();
    for (n, nth) in [(1, "1st"), (2, "2nd")] {
        rds_restarts(&env, "analytics-db").await;
        let s = watch.handle(&Invocation::new(&forced)).await.unwrap();
        assert_eq!((s.action.as_str(), s.restops), ("stopped-again", Some(n)));
        assert!(s.notified, "{s:?}");
        let row = env.row("us-east-1", "analytics-db").await;
        assert_eq!(row.state, "stopped");
        assert_eq!(row.tag(RESTOPS), Some(n.to_string().as_str()));
        assert_eq!(
            row.tag(STOPPED_BY_TAG),
            Some("budget:student-monthly"),
            "the original stamp stays"
        );
        let m = env.one_message().await;
        assert_eq!(
            m.subject,
            format!("RDS restarted analytics-db after 7 days stopped; cost-guard stopped it again ({nth} time)")
        );
        assert!(m.body.contains("--function-name guard-resume"));
    }
    // The "started" event that follows a forced start finds it stopped already.
    let started = emulator::sample_event("rds-instance-started.json").unwrap();
    let s = watch.handle(&Invocation::new(&started)).await.unwrap();
    assert_eq!(s.action, "left-alone");
    assert!(env.received().await.is_empty());
}

#[tokio::test]
async fn the_owners_start_an_unstamped_or_a_resumed_database_is_left_running() {
    let env = Env::start().await;
    stamped_and_stopped(&env).await;
    let watch = env.keep_stopped(&[]);
    let started = emulator::sample_event("rds-instance-started.json").unwrap();
    let forced = emulator::sample_event("rds-instance-forced-start.json").unwrap();

    // The owner starts it from the console, stamp and all: a start RDS did not force.
    rds_restarts(&env, "analytics-db").await;
    let s = watch.handle(&Invocation::new(&started)).await.unwrap();
    assert_eq!(s.action, "left-alone");
    assert!(s.why.unwrap().contains("started by someone"));
    assert_eq!(
        env.row("us-east-1", "analytics-db").await.state,
        "available"
    );

    // A start RDS announced while it could not be stopped yet leaves a mark,
    // and the "started" event stops it.
    rds(&env, "us-east-1")
        .add_tags_to_resource()
        .resource_name("arn:aws:rds:us-east-1:123456789012:db:analytics-db")
        .tags(
            aws_sdk_rds::types::Tag::builder()
                .key(PENDING)
                .value("2026-11-29T10:02:11Z")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let s = watch.handle(&Invocation::new(&started)).await.unwrap();
    assert_eq!(s.action, "stopped-again");
    let row = env.row("us-east-1", "analytics-db").await;
    assert_eq!((row.state.as_str(), row.tag(PENDING)), ("stopped", None));
    env.received().await;

    // Resumed: the stamp is gone, so RDS's next restart is the owner's business.
    let resume = env.resume(&[("REGIONS", "us-east-1")]);
    assert_eq!(
        resume
            .handle(&Invocation::new(&json!({})))
            .await
            .unwrap()
            .started,
        1
    );
    env.received().await;
    let s = watch.handle(&Invocation::new(&forced)).await.unwrap();
    assert_eq!(s.action, "left-alone");
    assert_eq!(
        env.row("us-east-1", "analytics-db").await.state,
        "available"
    );

    // Never stamped: left alone, and nobody is told.
    emulator::create_db(&env.sdk, "us-east-1", "prod-db", &[])
        .await
        .unwrap();
    let mut other = forced.clone();
    other["detail"]["SourceArn"] = "arn:aws:rds:us-east-1:123456789012:db:prod-db".into();
    let s = watch.handle(&Invocation::new(&other)).await.unwrap();
    assert_eq!(s.action, "left-alone");
    assert_eq!(env.row("us-east-1", "prod-db").await.state, "available");
    assert!(env.received().await.is_empty());

    // A malformed event changes nothing and says why.
    let err = watch
        .handle(&Invocation::new(&json!({"source": "aws.rds"})))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("RDS DB Instance Event"), "{err}");
}

#[tokio::test]
async fn an_aurora_cluster_rds_restarts_is_stopped_again() {
    let env = Env::start().await;
    emulator::create_aurora(
        &env.sdk,
        "eu-west-1",
        "reporting-aurora",
        "reporting-aurora-1",
        STOP,
    )
    .await
    .unwrap();
    let guard = env.guard(&[("REGIONS", "eu-west-1")]);
    env.invoke(&guard, "budget-actual.json").await.unwrap();
    env.received().await;
    rds(&env, "eu-west-1")
        .start_db_cluster()
        .db_cluster_identifier("reporting-aurora")
        .send()
        .await
        .unwrap();
    let watch = env.keep_stopped(&[]);
    let forced = emulator::sample_event("rds-cluster-forced-start.json").unwrap();
    let s = watch.handle(&Invocation::new(&forced)).await.unwrap();
    assert_eq!((s.action.as_str(), s.restops), ("stopped-again", Some(1)));
    let row = env.row("eu-west-1", "reporting-aurora").await;
    assert_eq!(
        (row.state.as_str(), row.tag(RESTOPS)),
        ("stopped", Some("1"))
    );
    assert!(env
        .one_message()
        .await
        .subject
        .starts_with("RDS restarted reporting-aurora after 7 days stopped"));
}

/// RDS announces its 7-day restart while the database is still starting:
/// keep-stopped cannot stop it yet, so it writes its restart mark (without
/// it, the "started" event that follows would look like the owner's own
/// start and be left alone); the "started" event then stops it and takes
/// the mark off. The emulator starts a database at once, so the proxy shows
/// it `starting` for the first event.
#[tokio::test]
async fn a_database_still_starting_is_marked_and_stopped_once_started() {
    let env = Env::start().await;
    stamped_and_stopped(&env).await;
    rds_restarts(&env, "analytics-db").await;
    let proxy = testkit::Proxy::start(&env.endpoint).expect("proxy starts");
    proxy.inject(
        testkit::FaultRule::always(
            "us-east-1",
            testkit::Fault::Edit {
                from: "<DBInstanceStatus>available</DBInstanceStatus>".into(),
                to: "<DBInstanceStatus>starting</DBInstanceStatus>".into(),
            },
        )
        .on_action("DescribeDBInstances"),
    );
    let sdk = emulator::lambda_sdk_config_for(&proxy.endpoint).await;
    let watch = guard::handlers::keep_stopped::KeepStopped::new(env.config(&[]), &sdk);
    let forced = emulator::sample_event("rds-instance-forced-start.json").unwrap();
    let s = watch.handle(&Invocation::new(&forced)).await.unwrap();
    assert_eq!(s.action, "waiting-for-start", "{s:?}");
    let row = env.row("us-east-1", "analytics-db").await;
    assert_eq!(row.state, "available", "not stopped while starting");
    assert!(
        row.tag(PENDING).is_some(),
        "the restart mark is written: {row:?}"
    );

    proxy.clear_faults();
    let started = emulator::sample_event("rds-instance-started.json").unwrap();
    let s = watch.handle(&Invocation::new(&started)).await.unwrap();
    assert_eq!(s.action, "stopped-again", "{s:?}");
    let row = env.row("us-east-1", "analytics-db").await;
    assert_eq!((row.state.as_str(), row.tag(PENDING)), ("stopped", None));
    assert_eq!(row.tag(RESTOPS), Some("1"));
}

/// The database looked stoppable, but RDS refused the stop because it is
/// still starting: the restart mark is written all the same (without it the
/// "started" event would take it for the owner's start), and the "started"
/// event stops it. The emulator shows the database `available` to the
/// first read and `starting` after, while it is in fact still stopped, so
/// that RDS refuses.
#[tokio::test]
async fn a_stop_rds_refuses_while_the_database_starts_leaves_the_restart_mark() {
    use testkit::{Fault, FaultRule, Proxy};
    let env = Env::start().await;
    stamped_and_stopped(&env).await;
    let proxy = Proxy::start(&env.endpoint).expect("proxy starts");
    let shown = |status: &str| Fault::Edit {
        from: "<DBInstanceStatus>stopped</DBInstanceStatus>".into(),
        to: format!("<DBInstanceStatus>{status}</DBInstanceStatus>"),
    };
    proxy.inject(
        FaultRule::times("us-east-1", shown("available"), 1).on_action("DescribeDBInstances"),
    );
    proxy
        .inject(FaultRule::always("us-east-1", shown("starting")).on_action("DescribeDBInstances"));
    let sdk = emulator::lambda_sdk_config_for(&proxy.endpoint).await;
    let watch = guard::handlers::keep_stopped::KeepStopped::new(env.config(&[]), &sdk);
    let forced = emulator::sample_event("rds-instance-forced-start.json").unwrap();
    let s = watch.handle(&Invocation::new(&forced)).await.unwrap();
    assert_eq!(s.action, "waiting-for-start", "{s:?}");
    assert!(
        s.why.as_deref().unwrap_or_default().contains("starting"),
        "{s:?}"
    );
    let row = env.row("us-east-1", "analytics-db").await;
    assert!(row.tag(PENDING).is_some(), "the restart mark: {row:?}");
    assert_eq!(row.tag(RESTOPS), None);
    assert!(env.received().await.is_empty());

    // It starts; the "started" event stops it and takes the mark off.
    proxy.clear_faults();
    rds_restarts(&env, "analytics-db").await;
    let started = emulator::sample_event("rds-instance-started.json").unwrap();
    let s = watch.handle(&Invocation::new(&started)).await.unwrap();
    assert_eq!(s.action, "stopped-again", "{s:?}");
    let row = env.row("us-east-1", "analytics-db").await;
    assert_eq!((row.state.as_str(), row.tag(PENDING)), ("stopped", None));
    env.one_message().await;
}

/// A stop that fails: subscribers are told it could not be stopped and
/// why, nothing is counted, and the invocation fails so that Lambda tries
/// again; the retry stops it.
#[tokio::test]
async fn a_stop_again_that_fails_is_told_not_counted_and_retried() {
    use guard::handlers::HandlerError;
    use testkit::{Fault, FaultRule, Proxy};
    let env = Env::start().await;
    stamped_and_stopped(&env).await;
    rds_restarts(&env, "analytics-db").await;
    let proxy = Proxy::start(&env.endpoint).expect("proxy starts");
    proxy.inject(FaultRule::always("us-east-1", Fault::Status(500)).on_action("StopDBInstance"));
    let sdk = emulator::lambda_sdk_config_for(&proxy.endpoint).await;
    let watch = guard::handlers::keep_stopped::KeepStopped::new(env.config(&[]), &sdk);
    let forced = emulator::sample_event("rds-instance-forced-start.json").unwrap();
    let err = watch.handle(&Invocation::new(&forced)).await.unwrap_err();
    assert!(
        matches!(&err, HandlerError::Incomplete { detail, .. } if detail.contains("analytics-db")),
        "{err}"
    );
    let row = env.row("us-east-1", "analytics-db").await;
    assert_eq!((row.state.as_str(), row.tag(RESTOPS)), ("available", None));
    let m = env.one_message().await;
    assert!(
        m.subject.starts_with("URGENT") && m.subject.contains("could not stop it again"),
        "{}",
        m.subject
    );

    proxy.clear_faults();
    let s = watch.handle(&Invocation::new(&forced)).await.unwrap();
    assert_eq!((s.action.as_str(), s.restops), ("stopped-again", Some(1)));
    env.one_message().await;
}

/// A member account whose keep-stopped role cannot be assumed: whether the
/// database is one cost-guard stopped cannot be known, so nothing is
/// decided and the invocation fails for Lambda to retry.
#[tokio::test]
async fn an_unreachable_member_account_fails_the_invocation() {
    use guard::handlers::HandlerError;
    use testkit::{Fault, FaultRule, Proxy};
    let env = Env::start().await;
    let member = "210987654321";
    let proxy = Proxy::start(&env.endpoint).expect("proxy starts");
    proxy.inject(FaultRule::always("us-east-1", Fault::Denied).on_action("AssumeRole"));
    let sdk = emulator::lambda_sdk_config_for(&proxy.endpoint).await;
    let watch = guard::handlers::keep_stopped::KeepStopped::new(
        env.config(&[("ACCOUNTS", &format!("123456789012,{member}"))]),
        &sdk,
    );
    let mut forced = emulator::sample_event("rds-instance-forced-start.json").unwrap();
    forced["account"] = json!(member);
    forced["detail"]["SourceArn"] =
        json!(format!("arn:aws:rds:us-east-1:{member}:db:analytics-db"));
    let err = watch.handle(&Invocation::new(&forced)).await.unwrap_err();
    assert!(
        matches!(&err, HandlerError::Incomplete { detail, .. } if detail.contains(member)),
        "{err}"
    );
    assert!(env.received().await.is_empty());
}
