//! Faults between the functions and AWS, injected by a loopback proxy in front
//! of moto: throttling, 5xx answers, dropped connections and answers slower
//! than the time left. The guard runs with the retry and timeout settings the
//! Lambda functions use.

use std::time::{Duration, SystemTime};

use emulator::{self, FleetRow};
use guard::handlers::stop_on_overspend::StopOnOverspend;
use guard::handlers::HandlerError;
use testkit::{Fault, FaultRule, Proxy};

use crate::harness::{Captured, Env, STOP};
use guard::handlers::{Function, Invocation};

/// An emulator reached only through a fault-injecting proxy.
struct Faulty {
    env: Env,
    proxy: Proxy,
    sdk: aws_types::SdkConfig,
}

impl Faulty {
    async fn start() -> Faulty {
        let env = Env::start().await;
        let (proxy, sdk) = env.proxied().await;
        Faulty { env, proxy, sdk }
    }

    /// A seeded fleet in two regions, whose answers from THROTTLED all take `slow`.
    async fn with_slow_region(slow: Duration) -> (Faulty, [&'static str; 2]) {
        let f = Faulty::start().await;
        let regions = [HEALTHY, THROTTLED];
        f.seed(&regions).await;
        f.proxy
            .inject(FaultRule::always(THROTTLED, Fault::Slow(slow)));
        (f, regions)
    }

    /// The function as Lambda builds it, talking through the proxy.
    fn guard(&self, vars: &[(&str, &str)]) -> StopOnOverspend {
        StopOnOverspend::new(self.env.config(vars), &self.sdk)
    }

    async fn seed(&self, regions: &[&str]) {
        for region in regions {
            self.env.launch(region, 3, "miner", STOP).await;
            self.env.launch(region, 2, "web", &[]).await;
        }
    }
}

fn tagged(rows: &[FleetRow]) -> impl Iterator<Item = &FleetRow> {
    rows.iter().filter(|r| r.tag("cost-guard") == Some("stop"))
}

fn untouched_outside_selection(rows: &[FleetRow]) {
    for r in rows.iter().filter(|r| r.tag("cost-guard").is_none()) {
        assert_eq!(r.state, "running", "{} outside the selection", r.id);
        assert!(r.tag(guard::STOPPED_AT_TAG).is_none(), "{} stamped", r.id);
    }
}

const HEALTHY: &str = "us-east-1";
const THROTTLED: &str = "eu-west-1";
const FLAKY: &str = "sa-east-1";
const DOWN: &str = "ap-southeast-2";
const UNREACHABLE: &str = "ca-central-1";

#[tokio::test]
async fn faulty_regions_never_hold_up_healthy_ones_and_a_retry_finishes_the_job() {
    let f = Faulty::start().await;
    let regions = [HEALTHY, THROTTLED, FLAKY, DOWN, UNREACHABLE];
    f.seed(&regions).await;
    emulator::create_db(&f.env.sdk, THROTTLED, "orders-db", STOP)
        .await
        .unwrap();
    // Throttled twice, then fine: EC2's and RDS's own throttling errors.
    f.proxy
        .inject(FaultRule::times(THROTTLED, Fault::Throttle, 2).on_action("StopInstances"));
    f.proxy
        .inject(FaultRule::times(THROTTLED, Fault::Throttle, 1).on_action("DescribeDBInstances"));
    // Two 503s, then fine.
    f.proxy
        .inject(FaultRule::times(FLAKY, Fault::Status(503), 2).on_action("DescribeInstances"));
    // Never recover: 500 on every call, or the connection dropped.
    f.proxy.inject(FaultRule::always(DOWN, Fault::Status(500)));
    f.proxy.inject(FaultRule::always(UNREACHABLE, Fault::Drop));

    let guard = f.guard(&[("REGIONS", &regions.join(","))]);
    let err = f
        .env
        .invoke(&guard, "budget-actual.json")
        .await
        .unwrap_err();
    let HandlerError::Incomplete { at: failed, detail } = &err else {
        panic!("expected an incomplete sweep, got {err}");
    };
    assert_eq!(failed, &format!("{DOWN}, {UNREACHABLE}"), "{detail}");

    // Retried with backoff until the fault cleared, counted at the proxy.
    assert_eq!(f.proxy.attempts(THROTTLED, "StopInstances"), 3);
    assert_eq!(f.proxy.attempts(THROTTLED, "DescribeDBInstances"), 2);
    assert_eq!(f.proxy.attempts(FLAKY, "DescribeInstances"), 3);
    // A fault that never clears gets every attempt, then is reported.
    assert_eq!(
        f.proxy.attempts(DOWN, "DescribeInstances"),
        guard::aws::sdk::MAX_ATTEMPTS as usize
    );
    assert_eq!(f.proxy.attempts(DOWN, "StopInstances"), 0);

    let fleet = f.env.fleet(&regions).await;
    untouched_outside_selection(&fleet);
    for r in tagged(&fleet) {
        let should_stop = [HEALTHY, THROTTLED, FLAKY].contains(&r.region.as_str());
        assert_eq!(r.state == "stopped", should_stop, "{r:?}");
    }
    let m = f.env.one_message().await;
    assert!(
        m.subject
            .starts_with("cost-guard stopped 10 resources in 3 regions, 2 regions failed"),
        "{}",
        m.subject
    );
    assert!(m
        .body
        .contains(&format!("NOT COMPLETE in 2 regions: {DOWN}, {UNREACHABLE}")));
    assert!(m.body.contains("InternalError"), "{}", m.body);

    // The faults clear; Lambda's retry delivers the same event again.
    f.proxy.clear_faults();
    let s = f.env.invoke(&guard, "budget-actual.json").await.unwrap();
    assert_eq!(s.stopped, 6);
    assert!(s.troubled_regions.is_empty());
    let fleet = f.env.fleet(&regions).await;
    untouched_outside_selection(&fleet);
    assert!(tagged(&fleet).all(|r| r.state == "stopped"));
    let m = f.env.one_message().await;
    assert!(
        m.subject
            .starts_with("cost-guard stopped 6 resources in 2 regions"),
        "{}",
        m.subject
    );
    assert!(
        m.body
            .contains("Already stopped for this alert by an earlier run: 10 resources"),
        "{}",
        m.body
    );
    assert!(m.body.contains("Stopped earlier for this alert:"));
}

#[tokio::test]
async fn a_region_slower_than_the_deadline_is_reported_unfinished() {
    let (f, regions) = Faulty::with_slow_region(Duration::from_secs(60)).await;
    let guard = f.guard(&[("REGIONS", &regions.join(","))]);
    let event = emulator::sample_event("budget-actual.json").unwrap();
    // 8 s left: the reserve for the report keeps 5, so regions get 3.
    let deadline = SystemTime::now() + Duration::from_secs(8);
    let err = guard
        .handle_alert(&Invocation::new(&event).deadline(Some(deadline)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, HandlerError::Incomplete { at, .. } if at == THROTTLED),
        "{err}"
    );
    assert!(SystemTime::now() < deadline, "answered before the deadline");
    let m = f.env.one_message().await;
    assert!(m.body.contains("did not finish within"), "{}", m.body);
    let fleet = f.env.fleet(&regions).await;
    untouched_outside_selection(&fleet);
    for r in tagged(&fleet) {
        assert_eq!(r.state == "stopped", r.region == HEALTHY, "{r:?}");
    }
}

/// `cargo lambda watch` hands the function a deadline that lies in the past.
/// Taken at its word, every region would get 1 s and a region whose describe
/// takes longer (a large fleet) would be reported unfinished with nothing
/// stopped. A past deadline is unknown: the sweep gets the default budget.
#[tokio::test]
async fn a_deadline_already_past_is_not_taken_at_its_word() {
    // Every answer from one region takes 1.5 s: longer than a 1 s budget.
    let (f, regions) = Faulty::with_slow_region(Duration::from_millis(1_500)).await;
    let guard = f.guard(&[("REGIONS", &regions.join(","))]);
    let event = emulator::sample_event("budget-actual.json").unwrap();
    let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let summary = guard
        .handle_alert(&Invocation::new(&event).deadline(Some(past)))
        .await
        .unwrap();
    assert_eq!(summary.stopped, 6, "{summary:?}");
    let m = f.env.one_message().await;
    assert!(!m.body.contains("did not finish within"), "{}", m.body);
    for r in tagged(&f.env.fleet(&regions).await) {
        assert_eq!(r.state, "stopped", "{r:?}");
    }
}

/// The same through a real Lambda runtime loop: this test binary, started
/// again as the function's process (see [`lambda_process`]), polls a
/// runtime-API stub that hands out the event with the constant deadline
/// header `cargo lambda watch` sends, and posts its answer back.
#[tokio::test]
async fn a_runtime_that_sends_a_past_deadline_still_gets_a_full_sweep() {
    let (f, regions) = Faulty::with_slow_region(Duration::from_millis(1_500)).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let runtime_api = listener.local_addr().unwrap().to_string();
    let event = emulator::sample_event("budget-actual.json")
        .unwrap()
        .to_string();
    let (answer_tx, answer_rx) = tokio::sync::oneshot::channel::<(String, String)>();
    let answer_tx = std::sync::Arc::new(std::sync::Mutex::new(Some(answer_tx)));
    let served = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stub = tokio::spawn(async move {
        loop {
            let (conn, _) = listener.accept().await.unwrap();
            let (event, answer_tx, served) = (event.clone(), answer_tx.clone(), served.clone());
            tokio::spawn(testkit::serve_http(conn, move |req| {
                let (event, answer_tx, served) = (event.clone(), answer_tx.clone(), served.clone());
                async move {
                    if req.path().ends_with("/invocation/next") {
                        if served.swap(true, std::sync::atomic::Ordering::SeqCst) {
                            std::future::pending::<()>().await;
                        }
                        // What cargo lambda watch sends: a constant, long past.
                        return Some(testkit::Answer::new(
                            200,
                            &[
                                ("content-type", "application/json"),
                                ("lambda-runtime-aws-request-id", "req-1"),
                                ("lambda-runtime-deadline-ms", "1700000000000"),
                                (
                                    "lambda-runtime-invoked-function-arn",
                                    "arn:aws:lambda:us-east-1:123456789012:function:stop-on-overspend",
                                ),
                            ],
                            event,
                        ));
                    }
                    if let Some(tx) = answer_tx.lock().unwrap().take() {
                        let _ = tx.send((
                            req.path().to_string(),
                            String::from_utf8_lossy(&req.body).into_owned(),
                        ));
                    }
                    Some(testkit::Answer::new(202, &[], "{}"))
                }
            }));
        }
    });
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "faults::lambda_process",
            "--nocapture",
        ])
        .env("AWS_LAMBDA_RUNTIME_API", &runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "stop-on-overspend")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_ENDPOINT_URL", &f.proxy.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("NOTIFY_TOPIC_ARN", &f.env.topic)
        .env("REGIONS", regions.join(","))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(120), answer_rx).await;
    let _ = child.kill();
    let _ = child.wait();
    stub.abort();
    let (path, body) = answer.expect("the function answered").unwrap();
    assert!(path.ends_with("/req-1/response"), "{path}: {body}");
    let summary: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(summary["stopped"], 6, "{body}");
    for r in tagged(&f.env.fleet(&regions).await) {
        assert_eq!(r.state, "stopped", "{r:?}");
    }
}

/// The function's process for the test above, which starts this test binary
/// again with the Lambda variables set: stop-on-overspend's `main`, run by the
/// real `lambda_runtime` loop against the test's runtime-API stub. Ignored
/// in normal runs; without `AWS_LAMBDA_RUNTIME_API` it has nothing to serve.
#[tokio::test]
#[ignore = "the Lambda process a_runtime_that_sends_a_past_deadline_still_gets_a_full_sweep starts"]
async fn lambda_process() {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        return;
    }
    guard::handlers::serve::<StopOnOverspend>().await.unwrap();
}

#[tokio::test]
async fn a_failed_publish_fails_the_invocation_after_stopping() {
    let logs = Captured::start();
    let f = Faulty::start().await;
    f.seed(&[HEALTHY]).await;
    // SNS lives in the home region; EC2 there stays healthy.
    f.proxy
        .inject(FaultRule::always(emulator::HOME_REGION, Fault::Status(500)).on_action("Publish"));
    let guard = f.guard(&[("REGIONS", HEALTHY)]);
    let err = f
        .env
        .invoke(&guard, "budget-actual.json")
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::Notify(_)), "{err}");
    assert_eq!(
        f.proxy.attempts(emulator::HOME_REGION, "Publish"),
        guard::aws::sdk::MAX_ATTEMPTS as usize
    );
    assert!(f.env.received().await.is_empty());
    let fleet = f.env.fleet(&[HEALTHY]).await;
    assert!(tagged(&fleet).all(|r| r.state == "stopped"));
    untouched_outside_selection(&fleet);

    // The whole outcome is still in the log, in one structured line.
    let lines = logs.lines();
    let finished = logs.finished();
    assert_eq!(finished.len(), 1, "{lines:#?}");
    let (outcome, report) = &finished[0];
    assert_eq!(outcome["stopped"], 3);
    assert_eq!(outcome["notified"], false);
    let report = report.to_string();
    for r in tagged(&fleet) {
        assert!(report.contains(&r.id), "{} missing from {report}", r.id);
    }
    assert!(lines
        .iter()
        .any(|l| l["fields"]["message"] == "publishing the report failed"
            && l["fields"]["body"]
                .as_str()
                .is_some_and(|b| b.contains("WHAT HAPPENED"))));
}

#[tokio::test]
async fn a_region_that_stalls_after_stopping_reports_every_stop_and_that_none_is_stamped() {
    let f = Faulty::start().await;
    f.seed(&[HEALTHY]).await;
    emulator::create_db(&f.env.sdk, HEALTHY, "orders-db", STOP)
        .await
        .unwrap();
    // The stops go through; the stamps never come back before the deadline.
    for action in ["CreateTags", "AddTagsToResource"] {
        f.proxy.inject(
            FaultRule::always(HEALTHY, Fault::Slow(Duration::from_secs(60))).on_action(action),
        );
    }
    let guard = f.guard(&[("REGIONS", HEALTHY)]);
    let event = emulator::sample_event("budget-actual.json").unwrap();
    // 8 s left: the reserve for the report keeps 5, so the region gets 3.
    let deadline = SystemTime::now() + Duration::from_secs(8);
    let err = guard
        .handle_alert(&Invocation::new(&event).deadline(Some(deadline)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, HandlerError::Incomplete { at, .. } if at == HEALTHY),
        "{err}"
    );
    let fleet = f.env.fleet(&[HEALTHY]).await;
    let stopped: Vec<&FleetRow> = tagged(&fleet).collect();
    assert_eq!(stopped.len(), 4, "3 instances and the database");
    let m = f.env.one_message().await;
    let not_stamped = m
        .body
        .split("Stopped but NOT stamped")
        .nth(1)
        .unwrap_or_else(|| panic!("no unstamped section in\n{}", m.body));
    for r in &stopped {
        assert_eq!(r.state, "stopped", "{r:?}");
        assert!(r.tag(guard::STOPPED_AT_TAG).is_none(), "{r:?}");
        // Listed as stopped and as unstamped: the report is the only record.
        assert!(m
            .body
            .split("Stopped but NOT stamped")
            .next()
            .unwrap()
            .contains(&r.id));
        assert!(
            not_stamped.contains(&r.id),
            "{} not listed as unstamped",
            r.id
        );
    }
    let mut instance_ids: Vec<&str> = stopped
        .iter()
        .filter(|r| r.kind == "ec2")
        .map(|r| r.id.as_str())
        .collect();
    instance_ids.sort();
    // Without a stamp they can only be started by id.
    assert!(m.body.contains(&format!(
        "aws ec2 start-instances --region {HEALTHY} --instance-ids {}",
        instance_ids.join(" ")
    )));
    assert!(m.body.contains(&format!(
        "aws rds start-db-instance --region {HEALTHY} --db-instance-identifier orders-db"
    )));
    untouched_outside_selection(&fleet);
}

#[tokio::test]
async fn a_stamp_that_fails_is_a_warning_listed_in_the_report_and_the_log() {
    let logs = Captured::start();
    let f = Faulty::start().await;
    f.seed(&[HEALTHY]).await;
    f.proxy
        .inject(FaultRule::always(HEALTHY, Fault::Status(500)).on_action("CreateTags"));
    let guard = f.guard(&[("REGIONS", HEALTHY)]);
    let summary = f
        .env
        .invoke(&guard, "budget-actual.json")
        .await
        .expect("a missing stamp leaves nothing for a retry to do");
    assert_eq!(summary.stopped, 3);
    let m = f.env.one_message().await;
    assert!(
        m.body.contains(
            "3 instance(s) stopped but not stamped: ec2:CreateTags failed: InternalError"
        ),
        "{}",
        m.body
    );
    let fleet = f.env.fleet(&[HEALTHY]).await;
    let lines = logs.lines();
    let finished = lines
        .iter()
        .find(|l| l["fields"]["message"] == "invocation finished")
        .expect("the outcome is logged");
    let report: serde_json::Value =
        serde_json::from_str(finished["fields"]["report"].as_str().unwrap()).unwrap();
    let unstamped: Vec<&str> = report["regions"][0]["unstamped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for r in tagged(&fleet) {
        assert_eq!(r.state, "stopped");
        assert!(r.tag(guard::STOPPED_AT_TAG).is_none());
        assert!(
            unstamped.contains(&r.id.as_str()),
            "{} missing from {unstamped:?}",
            r.id
        );
        assert!(lines
            .iter()
            .any(|l| l["fields"]["message"] == "stopped but not stamped"
                && l["fields"]["resource"] == r.id.as_str()));
    }
}

#[tokio::test]
async fn a_database_stopped_by_someone_else_meanwhile_is_reported_as_already_stopped() {
    let f = Faulty::start().await;
    emulator::create_db(&f.env.sdk, HEALTHY, "orders-db", STOP)
        .await
        .unwrap();
    // The stop call is held back while the owner stops the database by hand;
    // moto then refuses it with "Instance orders-db is not in available state."
    f.proxy.inject(
        FaultRule::times(HEALTHY, Fault::Slow(Duration::from_secs(2)), 1)
            .on_action("StopDBInstance"),
    );
    let guard = f.guard(&[("REGIONS", HEALTHY)]);
    let event = emulator::sample_event("budget-actual.json").unwrap();
    let deadline = SystemTime::now() + Duration::from_secs(60);
    let invocation = Invocation::new(&event).deadline(Some(deadline));
    let run = guard.handle_alert(&invocation);
    let owner = async {
        while f.proxy.attempts(HEALTHY, "StopDBInstance") == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let rds = aws_sdk_rds::Client::from_conf(
            aws_sdk_rds::config::Builder::from(&f.env.sdk)
                .region(aws_types::region::Region::new(HEALTHY))
                .build(),
        );
        rds.stop_db_instance()
            .db_instance_identifier("orders-db")
            .send()
            .await
            .unwrap();
    };
    let (summary, ()) = tokio::join!(run, owner);
    let summary = summary.expect("already stopped is not a failure");
    assert_eq!(
        (summary.stopped, summary.skipped, summary.failed),
        (0, 1, 0)
    );
    // Settled by reading its status again, not by the words of the refusal.
    assert_eq!(f.proxy.attempts(HEALTHY, "DescribeDBInstances"), 2);
    let m = f.env.one_message().await;
    assert!(
        m.body.contains("orders-db  -  db.t3.medium  (RDS DB instance): already stopped or stopping when the stop call arrived"),
        "{}",
        m.body
    );
    assert_eq!(f.env.row(HEALTHY, "orders-db").await.state, "stopped");
}
