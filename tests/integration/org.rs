//! Every account of an organization: Organizations lists the accounts, the
//! guard assumes its member role in each (moto's AssumeRole acts in the named
//! account), and sweeps them all; one that cannot be assumed (refused by the
//! fault proxy, as STS refuses a role that is not deployed) is reported with
//! its fix; many accounts go through the sweep queue and end in a summary.

use std::time::{Duration, SystemTime};

use aws_types::SdkConfig;
use emulator::{FleetRow, Received, ACCOUNT};
use guard::handlers::keep_stopped::KeepStopped;
use guard::handlers::launch_tripwire::LaunchTripwire;
use guard::handlers::stop_on_overspend::StopOnOverspend;
use guard::handlers::HandlerError;
use guard::{STOPPED_AT_TAG, STOPPED_BY_TAG};
use testkit::{Fault, FaultRule, Proxy};

use crate::harness::{Env, STOP};
use crate::tripwire::as_role;
use guard::handlers::{Function, Invocation};

const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];

/// The emulator's account as management account, three members, and in every
/// account and region one tagged and one untagged instance.
struct Org {
    env: Env,
    /// `(id, sdk acting in it)`, the management account first.
    accounts: Vec<(String, SdkConfig)>,
}

impl Org {
    async fn start() -> Org {
        let env = Env::start().await;
        let members = emulator::organization(&env.sdk, &["team-a", "team-b", "team-c"])
            .await
            .unwrap();
        let mut accounts = vec![(ACCOUNT.to_string(), env.sdk.clone())];
        for id in members {
            let sdk = emulator::member_sdk(&env.sdk, &id).await.unwrap();
            accounts.push((id, sdk));
        }
        for (_, sdk) in &accounts {
            for region in REGIONS {
                emulator::launch(sdk, region, 1, "t3.micro", "miner", STOP)
                    .await
                    .unwrap();
                emulator::launch(sdk, region, 1, "t3.micro", "web", &[])
                    .await
                    .unwrap();
            }
        }
        Org { env, accounts }
    }

    fn member(&self, n: usize) -> &str {
        &self.accounts[n].0
    }

    async fn fleet(&self, account: usize) -> Vec<FleetRow> {
        emulator::fleet(&self.accounts[account].1, &REGIONS)
            .await
            .unwrap()
    }

    /// Every tagged instance of `account` is stopped and stamped, every
    /// other one runs; or, with `stopped` false, all still run.
    async fn assert_account(&self, account: usize, stopped: bool) {
        let rows = self.fleet(account).await;
        assert_eq!(rows.len(), 6, "{rows:#?}");
        for r in rows {
            let tagged = r.tag("cost-guard") == Some("stop");
            if tagged && stopped {
                assert_eq!(r.state, "stopped", "account {account}: {r:?}");
                assert!(r.tag(STOPPED_AT_TAG).is_some(), "unstamped: {r:?}");
            } else {
                assert_eq!(r.state, "running", "account {account}: {r:?}");
            }
        }
    }

    fn vars(&self, extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("REGIONS", REGIONS.join(",")),
            ("ACCOUNTS", "organization".into()),
        ];
        v.extend(extra.iter().cloned());
        v
    }
}

fn borrowed<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The sample budget alert, from `account`'s own budget.
fn budget_from(account: &str) -> serde_json::Value {
    let mut event = emulator::sample_event("budget-actual.json").unwrap();
    let message = event["Records"][0]["Sns"]["Message"]
        .as_str()
        .unwrap()
        .replace(
            "AWS Account 123456789012",
            &format!("AWS Account {account}"),
        );
    event["Records"][0]["Sns"]["Message"] = serde_json::json!(message);
    event
}

fn deadline() -> Option<SystemTime> {
    Some(SystemTime::now() + Duration::from_secs(120))
}

#[tokio::test]
async fn organization_mode_stops_the_selection_in_every_account_and_region() {
    let org = Org::start().await;
    let vars = org.vars(&[("ORG_SCOPE", "all".into())]);
    let guard = org.env.guard(&borrowed(&vars));
    let summary = org.env.invoke(&guard, "budget-actual.json").await.unwrap();
    assert_eq!(summary.stopped, 12, "{summary:#?}");
    assert_eq!(summary.regions_swept, 12);
    for account in 0..4 {
        org.assert_account(account, true).await;
    }
    let m = org.env.one_message().await;
    assert!(
        m.subject
            .starts_with("cost-guard stopped 12 resources in 4 accounts, 3 regions ("),
        "{}",
        m.subject
    );
    assert!(
        m.body.contains("; 12 regions swept in 4 accounts."),
        "{}",
        m.body
    );
    for (n, name) in [(1, "team-a"), (2, "team-b"), (3, "team-c")] {
        let header = format!("ACCOUNT {} ({name})\n", org.member(n));
        assert!(m.body.contains(&header), "{header} missing:\n{}", m.body);
    }

    // Resume starts it all again, through the member role in each account.
    let resume = org.env.resume(&borrowed(&vars));
    let done = resume
        .handle(&Invocation::new(
            &serde_json::json!({"stopped_by": "budget:student-monthly"}),
        ))
        .await
        .unwrap();
    assert_eq!((done.started, done.failed), (12, 0), "{done:#?}");
    for account in 0..4 {
        org.assert_account(account, false).await;
        for r in org.fleet(account).await {
            assert!(r.tag(STOPPED_AT_TAG).is_none(), "still stamped: {r:?}");
        }
    }
    let m = org.env.one_message().await;
    assert!(
        m.subject.starts_with("cost-guard started 12 resources"),
        "{}",
        m.subject
    );
    // Each region under its account.
    for n in 1..4 {
        let place = format!("{}/{}\n", org.member(n), REGIONS[0]);
        assert!(m.body.contains(&place), "{place} missing:\n{}", m.body);
    }
}

/// A closed account (Organizations lists it SUSPENDED) is not swept, and
/// the report names it and says why; the others are swept as ever.
#[tokio::test]
async fn a_suspended_account_is_left_alone_and_named_in_the_report() {
    let org = Org::start().await;
    let closed = org.member(3).to_string();
    emulator::close_account(&org.env.sdk, &closed)
        .await
        .unwrap();
    let vars = org.vars(&[("ORG_SCOPE", "all".into())]);
    let guard = org.env.guard(&borrowed(&vars));
    let summary = org.env.invoke(&guard, "budget-actual.json").await.unwrap();
    assert_eq!(summary.stopped, 9, "{summary:#?}");
    for account in 0..3 {
        org.assert_account(account, true).await;
    }
    org.assert_account(3, false).await;
    let m = org.env.one_message().await;
    assert!(
        m.body.contains(&format!(
            "Not swept: {closed} (team-c): Organizations lists it as SUSPENDED; only ACTIVE accounts are swept."
        )),
        "{}",
        m.body
    );
    assert!(!m.body.contains(&format!("ACCOUNT {closed}")), "{}", m.body);
}

#[tokio::test]
async fn alerting_account_scope_sweeps_only_the_account_the_budget_names() {
    let org = Org::start().await;
    let guard = org.env.guard(&borrowed(&org.vars(&[])));
    let named = org.member(2).to_string();
    let summary = guard
        .handle_alert(&Invocation::new(&budget_from(&named)).deadline(deadline()))
        .await
        .unwrap();
    assert_eq!(summary.stopped, 3, "{summary:#?}");
    org.assert_account(2, true).await;
    for other in [0, 1, 3] {
        org.assert_account(other, false).await;
    }
    let m = org.env.one_message().await;
    assert!(
        m.subject
            .starts_with("cost-guard stopped 3 resources in 1 account, 3 regions ("),
        "{}",
        m.subject
    );
    assert!(
        m.body.contains(&format!("ACCOUNT {named} (team-b)")),
        "{}",
        m.body
    );
}

/// The organization reached through a fault proxy that refuses to assume
/// the member role in `denied`, as STS does for a role not deployed there.
async fn with_denied_role(org: &Org, denied: &str) -> (Proxy, SdkConfig) {
    let proxy = Proxy::start(&org.env.endpoint).expect("proxy starts");
    proxy.inject(
        FaultRule::always("us-east-1", Fault::Denied)
            .on_action("AssumeRole")
            .body_contains(denied),
    );
    let sdk = emulator::lambda_sdk_config_for(&proxy.endpoint).await;
    (proxy, sdk)
}

#[tokio::test]
async fn an_account_whose_role_cannot_be_assumed_is_reported_and_the_others_are_swept() {
    let org = Org::start().await;
    let missing = org.member(1).to_string();
    let (proxy, sdk) = with_denied_role(&org, &missing).await;
    let vars = org.vars(&[("ORG_SCOPE", "all".into())]);
    let guard = StopOnOverspend::new(org.env.config(&borrowed(&vars)), &sdk);
    let event = emulator::sample_event("budget-actual.json").unwrap();
    let err = guard
        .handle_alert(&Invocation::new(&event).deadline(deadline()))
        .await
        .unwrap_err();
    match &err {
        HandlerError::Incomplete {
            at: regions,
            detail,
        } => {
            assert_eq!(regions, &format!("account {missing}"));
            assert!(detail.contains("AccessDenied"), "{detail}");
        }
        other => panic!("expected an incomplete sweep, got {other:?}"),
    }
    org.assert_account(1, false).await;
    for other in [0, 2, 3] {
        org.assert_account(other, true).await;
    }
    let m = org.env.one_message().await;
    assert!(
        m.subject.starts_with(
            "cost-guard stopped 9 resources in 3 accounts, 3 regions, 1 account unreachable ("
        ),
        "{}",
        m.subject
    );
    let line = m
        .body
        .lines()
        .find(|l| l.starts_with(&format!("  {missing} (team-a): cannot assume")))
        .unwrap_or_else(|| panic!("no line for {missing}:\n{}", m.body));
    assert!(
        line.contains(&format!(
            "arn:aws:iam::{missing}:role/cost-guard-member: sts:AssumeRole failed: AccessDenied"
        )) && line.contains("deploy member.yaml to this account"),
        "{line}"
    );
    // Asked once, refused once: nothing else was tried in that account.
    assert_eq!(proxy.attempts("us-east-1", "AssumeRole"), 3);
}

/// Member roles are assumed for every account at once: with STS taking 8 s
/// for each, three member accounts are all swept within a 20 s budget (one
/// after another they would need 24 s, and the last would be reported out of
/// time).
#[tokio::test]
async fn member_roles_are_assumed_at_once_not_one_after_another() {
    let org = Org::start().await;
    let proxy = Proxy::start(&org.env.endpoint).expect("proxy starts");
    proxy.inject(
        FaultRule::always("us-east-1", Fault::Slow(Duration::from_secs(8))).on_action("AssumeRole"),
    );
    let sdk = emulator::lambda_sdk_config_for(&proxy.endpoint).await;
    let vars = org.vars(&[("ORG_SCOPE", "all".into())]);
    let guard = StopOnOverspend::new(org.env.config(&borrowed(&vars)), &sdk);
    let event = emulator::sample_event("budget-actual.json").unwrap();
    let deadline = SystemTime::now() + Duration::from_secs(25);
    let summary = guard
        .handle_alert(&Invocation::new(&event).deadline(Some(deadline)))
        .await
        .expect("every account swept in time");
    assert_eq!(summary.stopped, 12, "{summary:#?}");
    for account in 0..4 {
        org.assert_account(account, true).await;
    }
    assert_eq!(proxy.attempts("us-east-1", "AssumeRole"), 3);
}

/// What Lambda's SQS event source does with a batch of one message: hands it
/// to the function, deletes it unless the function returns it as failed.
async fn deliver(guard: &StopOnOverspend, sqs: &aws_sdk_sqs::Client, url: &str) -> usize {
    let got = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    let messages = got.messages().to_vec();
    for m in &messages {
        let event = serde_json::json!({"Records": [{
            "messageId": m.message_id(),
            "receiptHandle": m.receipt_handle(),
            "body": m.body(),
            "attributes": {},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:cost-guard-sweep",
            "awsRegion": "us-east-1"
        }]});
        let answer = guard
            .handle(&Invocation::new(&event).deadline(deadline()))
            .await
            .unwrap();
        let answer = serde_json::to_value(answer).unwrap();
        let failed = answer["batchItemFailures"].as_array().unwrap();
        if failed.is_empty() {
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        } else {
            assert_eq!(failed[0]["itemIdentifier"], m.message_id().unwrap());
        }
    }
    messages.len()
}

/// Lambda's workers: one invocation per message of the sweep queue, until
/// the incident's summary arrives. The accounts' reports, and the summary.
async fn work_through(
    org: &Org,
    guard: &StopOnOverspend,
    sqs: &aws_sdk_sqs::Client,
    sweep: &str,
) -> (Vec<Received>, Received) {
    let mut reports = Vec::new();
    for _ in 0..60 {
        deliver(guard, sqs, sweep).await;
        for m in org.env.received().await {
            if m.body.starts_with("SUMMARY of incident") {
                return (reports, m);
            }
            reports.push(m);
        }
    }
    panic!("no summary within 60 deliveries: {reports:#?}");
}

#[tokio::test]
async fn many_accounts_go_through_the_queue_each_reports_and_a_summary_ends_the_incident() {
    let org = Org::start().await;
    let missing = org.member(3).to_string();
    let (_proxy, sdk) = with_denied_role(&org, &missing).await;
    let dlq = emulator::queue(&org.env.sdk, "cost-guard-sweep-dlq", &[])
        .await
        .unwrap();
    let redrive = serde_json::json!({
        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:cost-guard-sweep-dlq",
        "maxReceiveCount": 2
    })
    .to_string();
    let sweep = emulator::queue(
        &org.env.sdk,
        "cost-guard-sweep",
        &[("VisibilityTimeout", "1"), ("RedrivePolicy", &redrive)],
    )
    .await
    .unwrap();
    let results = emulator::queue(&org.env.sdk, "cost-guard-results", &[])
        .await
        .unwrap();
    let vars = org.vars(&[
        ("ORG_SCOPE", "all".into()),
        ("FANOUT_ABOVE", "2".into()),
        ("SWEEP_QUEUE_URL", sweep.clone()),
        ("RESULTS_QUEUE_URL", results),
        ("SUMMARY_DELAY_SECONDS", "0".into()),
    ]);
    let guard = StopOnOverspend::new(org.env.config(&borrowed(&vars)), &sdk);

    // The alert only hands the four accounts to the queue.
    let summary = org.env.invoke(&guard, "budget-actual.json").await.unwrap();
    assert_eq!(summary.stopped, 0);
    let m = org.env.one_message().await;
    assert!(
        m.subject
            .starts_with("cost-guard is sweeping 4 accounts through its queue ("),
        "{}",
        m.subject
    );
    for account in 0..4 {
        org.assert_account(account, false).await;
    }

    // The workers: one invocation per message, until the summary arrives.
    let sqs = aws_sdk_sqs::Client::new(&org.env.sdk);
    let (reports, summary) = work_through(&org, &guard, &sqs, &sweep).await;
    for account in 0..3 {
        org.assert_account(account, true).await;
    }
    org.assert_account(3, false).await;
    // Each reachable account reported once; the unreachable one on each of
    // the queue's two attempts.
    let about = |id: &str| {
        reports
            .iter()
            .filter(|r| {
                r.body.contains(&format!("ACCOUNT {id}")) || r.body.contains(&format!("  {id} ("))
            })
            .count()
    };
    for account in 0..3 {
        assert_eq!(about(org.member(account)), 1, "{reports:#?}");
    }
    assert_eq!(about(&missing), 2, "{reports:#?}");
    assert!(
        summary.subject.starts_with(
            "cost-guard stopped 9 resources in 3 accounts; 3 of 4 accounts swept, 1 not finished ("
        ),
        "{}",
        summary.subject
    );
    assert!(
        summary.body.contains(&format!(
            "NOT FINISHED (1):\n  {missing} (team-c): cannot assume"
        )),
        "{}",
        summary.body
    );
    // The queue gave up on it: its message is in the dead-letter queue.
    let dead = sqs
        .receive_message()
        .queue_url(&dlq)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let dead: Vec<&str> = dead.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(dead[0].contains(&missing), "{}", dead[0]);
}

// launch-tripwire and keep-stopped act in the member account an event comes
// from (the forwarder brings it to the guard's bus), through the role
// member.yaml made there for each of them.

/// launch-tripwire as Lambda would build it, with `ACCOUNTS` and this SDK.
fn tripwire(org: &Org, sdk: &SdkConfig, accounts: &str) -> LaunchTripwire {
    LaunchTripwire::new(org.env.config(&[("ACCOUNTS", accounts)]), sdk)
}

/// CloudTrail's RunInstances event for `ids` (p3.2xlarge) in `region` of
/// `account`, as the forwarder brings it from there.
/// An IAM tag, as member.yaml writes them on its roles.
fn iam_tag(key: &str, value: &str) -> aws_sdk_iam::types::Tag {
    aws_sdk_iam::types::Tag::builder()
        .key(key)
        .value(value)
        .build()
        .unwrap()
}

fn launch_in(account: &str, region: &str, ids: &[String]) -> serde_json::Value {
    let event =
        emulator::launch_event("tripwire-run-instances.json", region, ids, "p3.2xlarge").unwrap();
    emulator::in_account(event, account)
}

/// `n` p3.2xlarge instances launched in eu-west-1 of member `account`.
async fn gpus_in(org: &Org, account: usize, n: usize) -> Vec<String> {
    emulator::launch(
        &org.accounts[account].1,
        "eu-west-1",
        n,
        "p3.2xlarge",
        "gpu",
        &[],
    )
    .await
    .unwrap()
}

async fn states(org: &Org, account: usize, ids: &[String]) -> Vec<String> {
    let rows = org.fleet(account).await;
    ids.iter()
        .map(|id| {
            let row = rows.iter().find(|r| &r.id == id).expect("launched");
            format!("{}/{}", row.state, row.tag(STOPPED_BY_TAG).unwrap_or("-"))
        })
        .collect()
}

#[tokio::test]
async fn a_costly_launch_in_a_member_account_is_stopped_there_through_its_tripwire_role() {
    let org = Org::start().await;
    let member = org.member(2).to_string();
    let gpus = gpus_in(&org, 2, 2).await;
    let trip = tripwire(&org, &org.env.sdk, "organization");
    let s = trip
        .handle(&Invocation::new(&launch_in(&member, "eu-west-1", &gpus)))
        .await
        .unwrap();
    assert_eq!(
        (s.action.as_str(), &s.stopped),
        ("stopped", &gpus),
        "{s:#?}"
    );
    assert_eq!(
        states(&org, 2, &gpus).await,
        ["stopped/tripwire:RunInstances"; 2]
    );
    // Nothing else anywhere: the guard's own account and the member's
    // other instances run on.
    org.assert_account(0, false).await;
    let m = org.env.one_message().await;
    assert!(
        m.subject.starts_with(&format!(
            "URGENT: cost-guard stopped 2 x p3.2xlarge launched in eu-west-1 ({member}) by"
        )),
        "{}",
        m.subject
    );
    assert!(
        m.body.contains(&format!(
            "Stopped 2 instances in eu-west-1 of account {member}:"
        )),
        "{}",
        m.body
    );

    // The same event for an account outside ACCOUNTS is not the guard's.
    let more = gpus_in(&org, 1, 1).await;
    let listed = tripwire(&org, &org.env.sdk, &format!("{ACCOUNT},{member}"));
    let s = listed
        .handle(&Invocation::new(&launch_in(
            org.member(1),
            "eu-west-1",
            &more,
        )))
        .await
        .unwrap();
    assert_eq!(s.action, "ignored", "{s:#?}");
    assert!(s
        .why
        .unwrap()
        .contains("not one of the accounts in ACCOUNTS"));
    assert_eq!(states(&org, 1, &more).await, ["running/-"]);
    assert!(org.env.received().await.is_empty());
}

#[tokio::test]
async fn a_member_account_without_the_tripwire_role_gets_an_urgent_alert_and_a_retry() {
    let org = Org::start().await;
    let member = org.member(1).to_string();
    let gpus = gpus_in(&org, 1, 1).await;
    // Only the tripwire's role is missing there (the request is
    // form-encoded: `ACCOUNT:role/NAME` reads `ACCOUNT%3Arole%2FNAME`).
    let role = format!("{member}%3Arole%2Fcost-guard-member-tripwire");
    let (proxy, sdk) = with_denied_role(&org, &role).await;
    let trip = tripwire(&org, &sdk, "organization");
    let err = trip
        .handle(&Invocation::new(&launch_in(&member, "eu-west-1", &gpus)))
        .await
        .unwrap_err();
    match &err {
        HandlerError::Incomplete { detail, .. } => assert!(
            detail.contains(&format!(
                "cannot assume arn:aws:iam::{member}:role/cost-guard-member-tripwire: sts:AssumeRole failed: AccessDenied"
            )) && detail.contains("TripwireRoleArn"),
            "{detail}"
        ),
        other => panic!("expected a failed invocation, got {other:?}"),
    }
    assert_eq!(states(&org, 1, &gpus).await, ["running/-"]);
    let m = org.env.one_message().await;
    assert!(
        m.subject.starts_with(&format!(
            "URGENT: cost-guard: 1 x p3.2xlarge launched in eu-west-1 ({member})"
        )),
        "{}",
        m.subject
    );
    assert!(
        m.body
            .contains(&format!("cost-guard cannot act in account {member}")),
        "{}",
        m.body
    );
    assert_eq!(proxy.attempts("us-east-1", "AssumeRole"), 1);
}

#[tokio::test]
async fn a_database_rds_restarts_in_a_member_account_is_stopped_again_there() {
    let org = Org::start().await;
    let member = org.member(3).to_string();
    let stamp = [
        ("cost-guard", "stop"),
        (STOPPED_AT_TAG, "2026-11-20T08:00:00Z"),
        (STOPPED_BY_TAG, "budget:student-monthly"),
    ];
    // The same database name in the guard's own account, stopped: an event
    // acted on in the wrong account would find it stopped and leave the
    // member's running.
    for (n, _) in [(0, "own"), (3, "member")] {
        emulator::create_db(&org.accounts[n].1, "us-east-1", "analytics-db", &stamp)
            .await
            .unwrap();
    }
    aws_sdk_rds::Client::new(&org.env.sdk)
        .stop_db_instance()
        .db_instance_identifier("analytics-db")
        .send()
        .await
        .unwrap();
    let mut forced = emulator::sample_event("rds-instance-forced-start.json").unwrap();
    forced["account"] = serde_json::json!(member);
    forced["detail"]["SourceArn"] =
        serde_json::json!(format!("arn:aws:rds:us-east-1:{member}:db:analytics-db"));
    // Only keep-stopped's own member role may be assumed there: the sweep's
    // and the tripwire's are refused, as the emulator itself would accept
    // any role name (the request is form-encoded: `role/NAME&`).
    let (proxy, sdk) =
        with_denied_role(&org, &format!("{member}%3Arole%2Fcost-guard-member&")).await;
    proxy.inject(
        FaultRule::always("us-east-1", Fault::Denied)
            .on_action("AssumeRole")
            .body_contains(&format!("{member}%3Arole%2Fcost-guard-member-tripwire&")),
    );
    let watch = KeepStopped::new(org.env.config(&[("ACCOUNTS", "organization")]), &sdk);
    let s = watch.handle(&Invocation::new(&forced)).await.unwrap();
    assert_eq!(
        (s.action.as_str(), s.restops),
        ("stopped-again", Some(1)),
        "{s:#?}"
    );
    let refused = proxy
        .log()
        .iter()
        .filter(|(c, fault)| c.action == "AssumeRole" && fault.is_some())
        .count();
    assert_eq!(
        (proxy.attempts("us-east-1", "AssumeRole"), refused),
        (1, 0),
        "one AssumeRole, of keep-stopped's own role"
    );
    let db = |n: usize| {
        let sdk = org.accounts[n].1.clone();
        async move {
            emulator::fleet(&sdk, &["us-east-1"])
                .await
                .unwrap()
                .into_iter()
                .find(|r| r.id == "analytics-db")
                .unwrap()
        }
    };
    let theirs = db(3).await;
    assert_eq!(
        (theirs.state.as_str(), theirs.tag("cost-guard:restops")),
        ("stopped", Some("1"))
    );
    let ours = db(0).await;
    assert_eq!(
        (ours.state.as_str(), ours.tag("cost-guard:restops")),
        ("stopped", None)
    );
    let m = org.env.one_message().await;
    assert!(
        m.subject.starts_with(&format!(
            "RDS restarted analytics-db in account {member} after 7 days"
        )),
        "{}",
        m.subject
    );
}

/// In an organization, resume starts things through the member role; its
/// sessions are trusted only as the role member.yaml made, by the unique id
/// member.yaml wrote on the tripwire's own role there. A role deleted and
/// made anew under the same name (by a stolen key with IAM rights) is not.
#[tokio::test]
async fn a_member_role_is_trusted_only_as_the_role_member_yaml_made() {
    let org = Org::start().await;
    let member = org.member(2).to_string();
    let iam = aws_sdk_iam::Client::new(&org.accounts[2].1);
    let make = |name: &'static str, tags: Vec<aws_sdk_iam::types::Tag>| {
        let iam = iam.clone();
        async move { crate::tripwire::create_role(&iam, name, tags).await }
    };
    let genuine = make("cost-guard-member", vec![]).await;
    make(
        "cost-guard-member-tripwire",
        vec![iam_tag("cost-guard:resume-role-id", &genuine)],
    )
    .await;
    let gpus = gpus_in(&org, 2, 2).await;
    let trip = tripwire(&org, &org.env.sdk, "organization");
    let started = |ids: &[String], id: &str| {
        as_role(
            emulator::in_account(crate::tripwire::start_instances("eu-west-1", ids), &member),
            &member,
            "cost-guard-member",
            id,
        )
    };
    // resume, through member.yaml's role, starts a GPU instance: left running.
    let s = trip
        .handle(&Invocation::new(&started(&gpus[..1], &genuine)))
        .await
        .unwrap();
    assert!(s.stopped.is_empty(), "{s:#?}");
    assert_eq!(states(&org, 2, &gpus[..1]).await, ["running/-"]);
    assert!(org
        .env
        .one_message()
        .await
        .body
        .contains("a session of cost-guard's resume role"));

    // The role is deleted and made anew under its name: another id, stopped.
    iam.delete_role()
        .role_name("cost-guard-member")
        .send()
        .await
        .unwrap();
    let impostor = make("cost-guard-member", vec![]).await;
    assert_ne!(impostor, genuine);
    let s = trip
        .handle(&Invocation::new(&started(&gpus[1..], &impostor)))
        .await
        .unwrap();
    assert_eq!(s.stopped, &gpus[1..], "{s:#?}");
    assert_eq!(
        states(&org, 2, &gpus[1..]).await,
        ["stopped/tripwire:StartInstances"]
    );
    org.env.one_message().await;
}

/// The tripwire assumes a member account's role, and reads the ids
/// member.yaml wrote on it, once per account and cold start: a second event
/// from the same account asks STS and IAM nothing again, another account
/// once, and a new instance of the function (a cold start) once more.
#[tokio::test]
async fn a_member_role_is_assumed_and_read_once_per_account_and_cold_start() {
    let org = Org::start().await;
    for account in [2, 3] {
        let iam = aws_sdk_iam::Client::new(&org.accounts[account].1);
        let genuine = crate::tripwire::create_role(&iam, "cost-guard-member", vec![]).await;
        let ids = vec![iam_tag("cost-guard:resume-role-id", &genuine)];
        crate::tripwire::create_role(&iam, "cost-guard-member-tripwire", ids).await;
    }
    let proxy = Proxy::start(&org.env.endpoint).expect("proxy starts");
    let sdk = emulator::lambda_sdk_config_for(&proxy.endpoint).await;
    // Calls made by a session of a role named like member.yaml's (not the
    // genuine one), so the tripwire reads the ids to tell.
    let by_member_role = |account: usize, ids: &[String]| {
        let member = org.member(account).to_string();
        crate::tripwire::as_role(
            launch_in(&member, "eu-west-1", ids),
            &member,
            "cost-guard-member",
            "AROAIMPOSTOR00000001",
        )
    };
    let calls = |action: &str| {
        proxy
            .log()
            .iter()
            .filter(|(c, _)| c.action == action)
            .count()
    };
    let warm = tripwire(&org, &sdk, "organization");
    // Any other session's tag write needs nothing of the member account,
    // and its launch needs the account but not the role ids: neither is
    // read for them.
    let contractor = |event: serde_json::Value| {
        let member = org.member(3).to_string();
        as_role(
            emulator::in_account(event, &member),
            &member,
            "contractor",
            "AROACONTRACTOR000001",
        )
    };
    let stamp_removed = emulator::sample_event("tripwire-stamp-removed.json").unwrap();
    warm.handle(&Invocation::new(&contractor(stamp_removed)))
        .await
        .unwrap();
    assert_eq!((calls("AssumeRole"), calls("GetRole")), (0, 0));
    let gpus = gpus_in(&org, 3, 1).await;
    let event = contractor(launch_in(org.member(3), "eu-west-1", &gpus));
    let s = warm.handle(&Invocation::new(&event)).await.unwrap();
    assert_eq!(s.stopped, gpus, "{s:#?}");
    assert_eq!((calls("AssumeRole"), calls("GetRole")), (1, 0));
    for account in [2, 2, 3] {
        let gpus = gpus_in(&org, account, 1).await;
        let s = warm
            .handle(&Invocation::new(&by_member_role(account, &gpus)))
            .await
            .unwrap();
        assert_eq!(s.stopped, gpus, "{s:#?}");
    }
    assert_eq!((calls("AssumeRole"), calls("GetRole")), (2, 2));

    let cold = tripwire(&org, &sdk, "organization");
    let gpus = gpus_in(&org, 2, 1).await;
    let s = cold
        .handle(&Invocation::new(&by_member_role(2, &gpus)))
        .await
        .unwrap();
    assert_eq!(s.stopped, gpus, "{s:#?}");
    assert_eq!((calls("AssumeRole"), calls("GetRole")), (3, 3));
}

/// An alerting-account sweep reads the account from the notification's
/// header: a budget whose name holds an `AWS Account` line of another
/// account does not point the sweep there.
#[tokio::test]
async fn a_budget_names_its_account_in_its_header_only() {
    let org = Org::start().await;
    let guard = org.env.guard(&borrowed(&org.vars(&[])));
    let named = org.member(2).to_string();
    let mut event = budget_from(&named);
    let message = event["Records"][0]["Sns"]["Message"]
        .as_str()
        .unwrap()
        .replace(
            "Budget Name: student-monthly",
            &format!(
                "Budget Name: student-monthly\nAWS Account {}",
                org.member(1)
            ),
        );
    event["Records"][0]["Sns"]["Message"] = serde_json::json!(message);
    let summary = guard
        .handle_alert(&Invocation::new(&event).deadline(deadline()))
        .await
        .unwrap();
    assert_eq!(summary.stopped, 3, "{summary:#?}");
    org.assert_account(2, true).await;
    for other in [0, 1, 3] {
        org.assert_account(other, false).await;
    }
    org.env.one_message().await;
}

/// When the tripwire cannot read the ids member.yaml wrote (an older member
/// stack, or its role gone), a session named like the member role is neither
/// trusted nor stopped: reported. And cost-guard's own roles are never
/// quarantined.
#[tokio::test]
async fn an_unconfirmed_member_role_is_reported_neither_trusted_nor_stopped_nor_quarantined() {
    let org = Org::start().await;
    let member = org.member(2).to_string();
    let iam = aws_sdk_iam::Client::new(&org.accounts[2].1);
    let id = crate::tripwire::create_role(&iam, "cost-guard-member", Vec::new()).await;
    // No cost-guard-member-tripwire role here: its tags cannot be read.
    let gpus = gpus_in(&org, 2, 1).await;
    let config = org
        .env
        .config(&[("ACCOUNTS", "organization"), ("TRIPWIRE_QUARANTINE", "on")]);
    let trip = LaunchTripwire::new(config, &org.env.sdk);
    let started = as_role(
        emulator::in_account(
            crate::tripwire::start_instances("eu-west-1", &gpus),
            &member,
        ),
        &member,
        "cost-guard-member",
        &id,
    );
    let s = trip.handle(&Invocation::new(&started)).await.unwrap();
    assert_eq!((s.action.as_str(), s.urgent), ("alerted", true), "{s:#?}");
    assert_eq!(states(&org, 2, &gpus).await, ["running/-"]);
    let attached = iam
        .list_attached_role_policies()
        .role_name("cost-guard-member")
        .send()
        .await
        .unwrap();
    assert!(attached.attached_policies().is_empty(), "quarantined");
    let m = org.env.one_message().await;
    assert!(
        m.body
            .contains("is named like one of member.yaml's roles, whose ids could not be read"),
        "{}",
        m.body
    );
}

#[tokio::test]
async fn a_group_made_in_a_member_account_is_stopped_there_and_the_same_name_here_is_left() {
    let org = Org::start().await;
    let member = org.member(2).to_string();
    let region = "eu-west-1";
    // The same group name in the member account (a hijacker's) and in the
    // guard's own account (the owner's): only the member's is acted on.
    let theirs = emulator::create_group(
        &org.accounts[2].1,
        region,
        "render-farm",
        2,
        "p3.2xlarge",
        &[],
    )
    .await
    .unwrap();
    let ours = emulator::create_group(&org.env.sdk, region, "render-farm", 1, "p3.2xlarge", &[])
        .await
        .unwrap();
    let event = emulator::in_account(
        emulator::call_event("tripwire-create-auto-scaling-group.json", region, &[]).unwrap(),
        &member,
    );
    let s = tripwire(&org, &org.env.sdk, "organization")
        .handle(&Invocation::new(&event))
        .await
        .unwrap();
    assert_eq!(s.action, "stopped", "{s:#?}");
    assert_eq!(
        states(&org, 2, &theirs).await,
        ["stopped/tripwire:CreateAutoScalingGroup"; 2]
    );
    let here = emulator::fleet(&org.env.sdk, &[region]).await.unwrap();
    let row = |id: &str| here.iter().find(|r| r.id == id).unwrap().clone();
    assert_eq!(
        row(&ours[0]).state,
        "running",
        "the guard account's instance of the same name"
    );
    assert_eq!(
        row("render-farm").state,
        "active",
        "the guard account's group of the same name"
    );
}

#[tokio::test]
async fn the_burn_rate_covers_every_account_and_names_the_one_it_cannot_reach() {
    let org = Org::start().await;
    let missing = org.member(1).to_string();
    let (_proxy, sdk) = with_denied_role(&org, &missing).await;
    let vars = org.vars(&[]);
    let config: guard::domain::config::StopOnOverspendConfig = org.env.config(&borrowed(&vars));
    let prices = emulator::PriceList::start().await.unwrap();
    let book = guard::aws::pricing::PriceBook::new(prices.client(&sdk));
    let fleet =
        guard::aws::fleet::Fleet::direct(&config.sweep.accounts, &config.sweep.regions, &sdk);
    let (burn, _) = fleet.burn(&book, Duration::from_secs(60)).await.unwrap();
    // Two t3.micro in each of 3 regions of the 3 accounts it reaches, each
    // line under its own account (the management account's too).
    for n in [0, 2, 3] {
        let id = org.member(n);
        let lines = burn
            .lines
            .iter()
            .filter(|l| l.running.account.as_deref() == Some(id))
            .count();
        assert_eq!(lines, 6, "account {id}: {:#?}", burn.lines);
    }
    assert_eq!(burn.lines.len(), 18);
    // 18 × $0.0104 in us-east-1's figures, the others' own.
    assert!(burn.per_hour() > guard::domain::burn::usd::Usd::ZERO);
    assert!(burn.is_lower_bound());
    assert_eq!(burn.unread.len(), 1, "{:?}", burn.unread);
    let u = &burn.unread[0];
    assert_eq!(u.account.as_deref(), Some(missing.as_str()));
    assert!(u.error.contains("AccessDenied"), "{}", u.error);
    let text =
        guard::domain::render::status::status_text(&burn, &[], time::OffsetDateTime::now_utc());
    assert!(
        text.contains(&format!("account {}, eu-west-1\n", org.member(2))),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "Not read: account {missing} (every region): cannot assume"
        )),
        "{text}"
    );
}

/// A dry run stays one through the queue: an incident queued in a dry run
/// stops nothing when a worker takes it up without DRY_RUN, and nor does a
/// real incident whose worker runs with DRY_RUN (switched on while its jobs
/// were queued).
#[tokio::test]
async fn a_queued_dry_run_stops_nothing_and_nor_does_a_worker_in_a_dry_run() {
    let org = Org::start().await;
    let sweep = emulator::queue(
        &org.env.sdk,
        "cost-guard-sweep",
        &[("VisibilityTimeout", "1")],
    )
    .await
    .unwrap();
    let results = emulator::queue(&org.env.sdk, "cost-guard-results", &[])
        .await
        .unwrap();
    let queued = |dry: &str| {
        org.vars(&[
            ("ORG_SCOPE", "all".into()),
            ("FANOUT_ABOVE", "2".into()),
            ("SWEEP_QUEUE_URL", sweep.clone()),
            ("RESULTS_QUEUE_URL", results.clone()),
            ("SUMMARY_DELAY_SECONDS", "0".into()),
            ("DRY_RUN", dry.into()),
        ])
    };
    let (dry, real) = (queued("true"), queued("false"));
    let dry = org.env.guard(&borrowed(&dry));
    let real = org.env.guard(&borrowed(&real));
    let sqs = aws_sdk_sqs::Client::new(&org.env.sdk);

    for (alerted, worker) in [(&dry, &real), (&real, &dry)] {
        org.env.invoke(alerted, "budget-actual.json").await.unwrap();
        org.env.one_message().await;
        let (reports, summary) = work_through(&org, worker, &sqs, &sweep).await;
        assert_eq!(reports.len(), 4, "{reports:#?}");
        for account in 0..4 {
            org.assert_account(account, false).await;
        }
        assert!(
            summary
                .subject
                .starts_with("[dry run] cost-guard would stop 12 resources in 4 accounts"),
            "{}",
            summary.subject
        );
        for r in &reports {
            assert!(r.subject.starts_with("[dry run]"), "{}", r.subject);
        }
    }
}

/// resume takes cost-guard's stamps off in a member account through
/// member.yaml's role: quiet, once the tripwire has read that role's id from
/// the tags member.yaml wrote there. The same write by a role merely named
/// like it is URGENT.
#[tokio::test]
async fn the_member_roles_own_tag_writes_are_quiet_and_an_impostors_are_not() {
    let org = Org::start().await;
    let member = org.member(2).to_string();
    let iam = aws_sdk_iam::Client::new(&org.accounts[2].1);
    let genuine = crate::tripwire::create_role(&iam, "cost-guard-member", vec![]).await;
    let keeper = crate::tripwire::create_role(&iam, "cost-guard-member-keep-stopped", vec![]).await;
    let tripwire_role = crate::tripwire::create_role(
        &iam,
        "cost-guard-member-tripwire",
        vec![
            iam_tag("cost-guard:resume-role-id", &genuine),
            iam_tag("cost-guard:guard-role-ids", &keeper),
        ],
    )
    .await;
    let trip = tripwire(&org, &org.env.sdk, "organization");
    let removed_by = |role: &str, id: &str| {
        as_role(
            emulator::in_account(
                emulator::sample_event("tripwire-stamp-removed.json").unwrap(),
                &member,
            ),
            &member,
            role,
            id,
        )
    };
    let removed = |id: &str| removed_by("cost-guard-member", id);

    let s = trip
        .handle(&Invocation::new(&removed(&genuine)))
        .await
        .unwrap();
    assert_eq!(s.action, "quiet", "{s:#?}");
    assert!(org.env.received().await.is_empty());
    // The tripwire's own member role (its stamps) and the roles its tags
    // name (keep-stopped's restart marks): the guard's own writes.
    for (role, id) in [
        ("cost-guard-member-tripwire", &tripwire_role),
        ("cost-guard-member-keep-stopped", &keeper),
    ] {
        let s = trip
            .handle(&Invocation::new(&removed_by(role, id)))
            .await
            .unwrap();
        assert_eq!(s.action, "quiet", "{role}: {s:#?}");
    }
    assert!(org.env.received().await.is_empty());

    let s = trip
        .handle(&Invocation::new(&removed("AROAIMPOSTOR00000001")))
        .await
        .unwrap();
    assert_eq!((s.action.as_str(), s.urgent), ("alerted", true), "{s:#?}");
    assert!(org.env.one_message().await.subject.starts_with("URGENT"));
}
