//! `cost-guard doctor` against the emulator: a stand-in for the deployed
//! stack, then each piece taken away or put in place, and the check that
//! says so.

use std::collections::BTreeMap;
use std::process::Command;

use aws_types::SdkConfig;
use emulator::{DeployedStack, ACCOUNT, HOME_REGION};
use guard::domain::doctor::{checklist, Check, Status};
use guard::handlers::weekly_check::{WeeklyCheck, WeeklySummary};
use guard::handlers::{Function, HandlerError, Invocation};

use testkit::{Fault, FaultRule, Proxy};

use crate::harness::Env;

const STACK: &str = "cost-guard";

async fn checks(sdk: &SdkConfig) -> BTreeMap<&'static str, Check> {
    let facts = guard::aws::doctor::read(sdk, STACK).await;
    checklist(&facts, STACK)
        .into_iter()
        .map(|c| (c.check, c))
        .collect()
}

fn status(checks: &BTreeMap<&'static str, Check>, name: &str) -> Status {
    checks
        .get(name)
        .unwrap_or_else(|| panic!("no check {name}: {checks:#?}"))
        .status
}

fn found<'a>(checks: &'a BTreeMap<&'static str, Check>, name: &str) -> &'a str {
    &checks[name].found
}

fn fix<'a>(checks: &'a BTreeMap<&'static str, Check>, name: &str) -> &'a str {
    checks[name].fix.as_deref().unwrap_or_default()
}

/// The enabled regions other than the stack's, as doctor finds them.
async fn other_regions(sdk: &SdkConfig) -> Vec<String> {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    guard::aws::regions::enabled_regions(&ec2)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r != HOME_REGION)
        .collect()
}

async fn stack(env: &Env, overrides: &[(&str, &str)]) -> DeployedStack {
    emulator::deployed_stack(&env.sdk, STACK, overrides)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_bare_stack_fails_each_missing_piece_and_each_piece_put_in_place_passes() {
    let env = Env::start().await;
    let deployed = stack(&env, &[]).await;
    let c = checks(&env.sdk).await;
    assert_eq!(status(&c, "stack"), Status::Pass, "{c:#?}");
    assert!(found(&c, "stack").contains("CREATE_COMPLETE"), "{c:#?}");
    // What the one function runs with is what the stack says.
    assert_eq!(status(&c, "function-settings"), Status::Pass, "{c:#?}");
    assert!(
        found(&c, "function-settings").contains("EXEMPT_TAG_KEY=cost-guard-exempt"),
        "{c:#?}"
    );
    assert_eq!(status(&c, "dry-run"), Status::Pass);
    assert_eq!(status(&c, "function-errors"), Status::Pass, "{c:#?}");
    assert_eq!(status(&c, "failure-queue"), Status::Pass, "{c:#?}");
    // Nobody subscribed: nobody is told.
    assert_eq!(status(&c, "subscription"), Status::Fail);
    assert!(
        fix(&c, "subscription").contains(&deployed.notify_topic),
        "{c:#?}"
    );
    // No budget, no alarm, no spend-watch: nothing ever starts the sweep.
    assert_eq!(status(&c, "trigger"), Status::Fail);
    assert!(fix(&c, "trigger").contains("MonthlyBudgetUsd="), "{c:#?}");
    assert!(
        !c.contains_key("billing-alerts"),
        "no billing alarm, no check"
    );
    assert_eq!(status(&c, "trail"), Status::Fail);
    assert!(fix(&c, "trail").contains("CreateTrail=true"), "{c:#?}");
    // Every other enabled region lacks the forwarder, and is named.
    let others = other_regions(&env.sdk).await;
    assert!(others.len() > 10, "{others:?}");
    assert_eq!(status(&c, "forwarder"), Status::Fail);
    for r in &others {
        assert!(found(&c, "forwarder").contains(r.as_str()), "{r}: {c:#?}");
        assert!(fix(&c, "forwarder").contains(r.as_str()), "{r}: {c:#?}");
    }
    assert!(!found(&c, "forwarder").contains(&format!("{HOME_REGION},")));
    // TripwireGuardDutyAction=stop and no detector: advice, not failure.
    assert_eq!(status(&c, "guardduty"), Status::Advice);
    // The emulator's root user never has MFA.
    assert_eq!(status(&c, "root-mfa"), Status::Fail);
    assert_eq!(status(&c, "root-keys"), Status::Pass);
    assert_eq!(status(&c, "user-mfa"), Status::Pass);
    assert_eq!(status(&c, "billing-contact"), Status::Advice);
    // With one account, no member checks.
    assert!(!c.contains_key("member-roles") && !c.contains_key("stack-sets"));

    // Each piece put in place.
    let sns = aws_sdk_sns::Client::new(&env.sdk);
    sns.subscribe()
        .topic_arn(&deployed.notify_topic)
        .protocol("email")
        .endpoint("ana@example.com")
        .send()
        .await
        .unwrap();
    let cw = aws_sdk_cloudwatch::Client::new(&env.sdk);
    cw.put_metric_alarm()
        .alarm_name("my-billing-alarm")
        .namespace("AWS/Billing")
        .metric_name("EstimatedCharges")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Maximum)
        .period(21600)
        .evaluation_periods(1)
        .threshold(50.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .alarm_actions(&deployed.trigger_topic)
        .send()
        .await
        .unwrap();
    emulator::trail(&env.sdk, "everywhere", true, true)
        .await
        .unwrap();
    for r in &others {
        emulator::forwarder(&env.sdk, r, HOME_REGION, ACCOUNT)
            .await
            .unwrap();
    }
    for r in others.iter().chain([&HOME_REGION.to_string()]) {
        emulator::guardduty(&env.sdk, r).await.unwrap();
    }
    aws_sdk_account::Client::new(&env.sdk)
        .put_alternate_contact()
        .alternate_contact_type(aws_sdk_account::types::AlternateContactType::Billing)
        .name("Ana")
        .title("Owner")
        .email_address("billing@example.com")
        .phone_number("+10000000000")
        .send()
        .await
        .unwrap();

    let c = checks(&env.sdk).await;
    assert_eq!(status(&c, "subscription"), Status::Pass, "{c:#?}");
    // Shown masked: the report may be read by others.
    assert!(
        found(&c, "subscription").contains("email a***@example.com"),
        "{c:#?}"
    );
    assert_eq!(status(&c, "trigger"), Status::Pass, "{c:#?}");
    assert!(
        found(&c, "trigger").contains("alarm my-billing-alarm"),
        "{c:#?}"
    );
    // The alarm fires only once billing metrics exist: billing alerts off.
    assert_eq!(status(&c, "billing-alerts"), Status::Fail, "{c:#?}");
    cw.put_metric_data()
        .namespace("AWS/Billing")
        .metric_data(
            aws_sdk_cloudwatch::types::MetricDatum::builder()
                .metric_name("EstimatedCharges")
                .value(3.0)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let c = checks(&env.sdk).await;
    assert_eq!(status(&c, "billing-alerts"), Status::Pass, "{c:#?}");
    assert_eq!(status(&c, "trail"), Status::Pass, "{c:#?}");
    assert!(found(&c, "trail").contains("everywhere"), "{c:#?}");
    assert_eq!(status(&c, "forwarder"), Status::Pass, "{c:#?}");
    assert!(
        found(&c, "forwarder").contains(&format!("all {} other", others.len())),
        "{c:#?}"
    );
    assert_eq!(status(&c, "guardduty"), Status::Pass, "{c:#?}");
    assert_eq!(status(&c, "billing-contact"), Status::Pass, "{c:#?}");
}

#[tokio::test]
async fn faults_of_a_running_stack_are_each_named_with_their_fix() {
    let env = Env::start().await;
    let deployed = stack(&env, &[("DryRun", "true"), ("MonthlyBudgetUsd", "25")]).await;
    let others = other_regions(&env.sdk).await;
    // The forwarder everywhere but in two regions, one of its rules off in a third.
    let (left_out, rest) = others.split_at(2);
    let mut in_third = vec![];
    for (i, r) in rest.iter().enumerate() {
        let names = emulator::forwarder(&env.sdk, r, HOME_REGION, ACCOUNT)
            .await
            .unwrap();
        if i == 0 {
            in_third = names;
        }
    }
    let events = aws_sdk_eventbridge::Client::new(
        &env.sdk
            .to_builder()
            .region(aws_types::region::Region::new(rest[0].clone()))
            .build(),
    );
    events
        .disable_rule()
        .name(&in_third[0])
        .send()
        .await
        .unwrap();
    // A multi-region trail that was stopped.
    emulator::trail(&env.sdk, "stopped", true, false)
        .await
        .unwrap();
    // The function failed three times this week.
    aws_sdk_cloudwatch::Client::new(&env.sdk)
        .put_metric_data()
        .namespace("AWS/Lambda")
        .metric_data(
            aws_sdk_cloudwatch::types::MetricDatum::builder()
                .metric_name("Errors")
                .dimensions(
                    aws_sdk_cloudwatch::types::Dimension::builder()
                        .name("FunctionName")
                        .value(&deployed.function)
                        .build(),
                )
                .value(3.0)
                .build(),
        )
        .send()
        .await
        .unwrap();
    // An event that failed for good waits in the failure queue.
    aws_sdk_sqs::Client::new(&env.sdk)
        .send_message()
        .queue_url(&deployed.failure_queue)
        .message_body("{}")
        .send()
        .await
        .unwrap();
    // A console user without MFA, and one with a key only (not asked).
    let iam = aws_sdk_iam::Client::new(&env.sdk);
    for user in ["console-no-mfa", "key-only"] {
        iam.create_user().user_name(user).send().await.unwrap();
    }
    iam.create_login_profile()
        .user_name("console-no-mfa")
        .password("Correct-Horse-9")
        .send()
        .await
        .unwrap();

    // The function's exempt key changed by hand in the console.
    emulator::set_function_variable(&env.sdk, &deployed.function, "EXEMPT_TAG_KEY", "other")
        .await
        .unwrap();

    let c = checks(&env.sdk).await;
    assert_eq!(status(&c, "function-settings"), Status::Fail, "{c:#?}");
    assert!(
        found(&c, "function-settings").contains(
            "EXEMPT_TAG_KEY: StopOnOverspendFunction has \"other\" where the stack's ExemptTagKey is \"cost-guard-exempt\""
        ),
        "{c:#?}"
    );
    assert_eq!(status(&c, "dry-run"), Status::Advice, "{c:#?}");
    assert!(fix(&c, "dry-run").contains("DryRun=false"), "{c:#?}");
    // The stack's own budget triggers it.
    assert_eq!(status(&c, "trigger"), Status::Pass, "{c:#?}");
    assert!(found(&c, "trigger").contains("budget of 25 USD"), "{c:#?}");
    assert_eq!(status(&c, "function-errors"), Status::Fail, "{c:#?}");
    assert!(
        found(&c, "function-errors").contains("StopOnOverspendFunction (3)"),
        "{c:#?}"
    );
    assert_eq!(status(&c, "failure-queue"), Status::Fail, "{c:#?}");
    assert!(
        found(&c, "failure-queue").contains("FailureQueue holds 1"),
        "{c:#?}"
    );
    assert!(
        fix(&c, "failure-queue").contains(&deployed.failure_queue),
        "{c:#?}"
    );
    assert_eq!(status(&c, "trail"), Status::Fail, "{c:#?}");
    assert!(
        found(&c, "trail").contains("stopped (not logging)"),
        "{c:#?}"
    );
    assert!(
        fix(&c, "trail").contains("aws cloudtrail start-logging --name stopped"),
        "{c:#?}"
    );
    assert_eq!(status(&c, "forwarder"), Status::Fail, "{c:#?}");
    let forwarder = found(&c, "forwarder");
    assert!(
        forwarder.contains(&format!("no forwarder in 2 of {}", others.len())),
        "{c:#?}"
    );
    for r in left_out {
        assert!(forwarder.contains(r.as_str()), "{r}: {c:#?}");
    }
    assert!(
        forwarder.contains(&format!("rules disabled: {} in {}", in_third[0], rest[0])),
        "{c:#?}"
    );
    assert_eq!(status(&c, "user-mfa"), Status::Fail, "{c:#?}");
    assert!(
        found(&c, "user-mfa").ends_with(": console-no-mfa"),
        "{c:#?}"
    );
}

#[tokio::test]
async fn the_command_exits_1_on_a_failure_prints_each_fix_and_json_for_scripts() {
    let env = Env::start().await;
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cost-guard"))
            .arg("doctor")
            .args(args)
            .env("AWS_ENDPOINT_URL", &env.endpoint)
            .env("AWS_REGION", HOME_REGION)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .output()
            .unwrap()
    };
    // No stack: the first check fails and says how to deploy.
    let out = run(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL    stack"), "{text}");
    assert!(text.contains("no stack named cost-guard"), "{text}");
    assert!(
        text.contains("fix: sam build && sam deploy --guided"),
        "{text}"
    );

    stack(&env, &[]).await;
    let out = run(&["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["stack"], "cost-guard");
    assert_eq!(doc["account"], ACCOUNT);
    let checks = doc["checks"].as_array().unwrap();
    let by_name = |name: &str| {
        checks
            .iter()
            .find(|c| c["check"] == name)
            .unwrap_or_else(|| panic!("{name}: {doc:#}"))
    };
    assert_eq!(by_name("stack")["status"], "pass");
    assert_eq!(by_name("subscription")["status"], "fail");
    assert!(by_name("subscription")["fix"]
        .as_str()
        .unwrap()
        .contains("aws sns subscribe"));
    assert_eq!(
        doc["failed"].as_u64().unwrap() as usize,
        checks.iter().filter(|c| c["status"] == "fail").count()
    );
    // Another name: that stack does not exist.
    let out = run(&["--stack-name", "other"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("no stack named other"));
    // Another region: the stack is not there, and the heading says where
    // it looked.
    let out = run(&["--region", "eu-west-1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("cost-guard doctor: stack cost-guard in eu-west-1"),
        "{text}"
    );
    assert!(text.contains("no stack named cost-guard"), "{text}");
}

/// The weekly check as the stack runs it, on the stand-in's table.
fn weekly(env: &Env, deployed: &DeployedStack) -> WeeklyCheck {
    WeeklyCheck::new(
        env.config(&[
            ("STACK_NAME", STACK),
            ("CHECK_STATE_TABLE", &deployed.check_table),
            ("DOCTOR_SCHEDULE", "rate(7 days)"),
        ]),
        &env.sdk,
    )
}

async fn run_weekly(check: &WeeklyCheck) -> Result<WeeklySummary, HandlerError> {
    let event = emulator::sample_event("scheduled.json").unwrap();
    check.run(&Invocation::new(&event)).await
}

/// What the table holds of the last run: each check's name and status.
async fn remembered(env: &Env, deployed: &DeployedStack) -> Option<String> {
    let item = aws_sdk_dynamodb::Client::new(&env.sdk)
        .get_item()
        .table_name(&deployed.check_table)
        .key(
            "id",
            aws_sdk_dynamodb::types::AttributeValue::S("last-run".into()),
        )
        .send()
        .await
        .unwrap()
        .item?;
    Some(item["checks"].as_s().unwrap().clone())
}

#[tokio::test]
async fn the_weekly_check_tells_what_fails_then_what_changed_and_remembers_each_run() {
    let env = Env::start().await;
    let deployed = stack(&env, &[("MonthlyBudgetUsd", "20")]).await;
    emulator::trail(&env.sdk, "management-events", true, true)
        .await
        .unwrap();
    let check = weekly(&env, &deployed);

    // Something that is not its schedule is named, and nothing is sent or
    // remembered.
    let e = check
        .run(&Invocation::new(&serde_json::json!({"Records": []})))
        .await
        .unwrap_err();
    assert!(matches!(e, HandlerError::Malformed(_)), "{e}");
    assert!(env.received().await.is_empty());
    assert_eq!(remembered(&env, &deployed).await, None);

    // A message that cannot be published is not remembered: Lambda's retry
    // compares with the same last run, and tells.
    let unpublished = WeeklyCheck::new(
        {
            let mut c: guard::domain::config::WeeklyCheckConfig = env.config(&[
                ("STACK_NAME", STACK),
                ("CHECK_STATE_TABLE", &deployed.check_table),
            ]);
            c.common.notify_topic_arn =
                format!("arn:aws:sns:{HOME_REGION}:{ACCOUNT}:no-such-topic");
            c
        },
        &env.sdk,
    );
    let e = run_weekly(&unpublished).await.unwrap_err();
    assert!(matches!(e, HandlerError::Notify(_)), "{e}");
    assert_eq!(remembered(&env, &deployed).await, None);

    // The first run: every check, the failures counted in the subject.
    let first = run_weekly(&check).await.unwrap();
    assert!(first.notified && first.failed > 0, "{first:?}");
    let m = env.one_message().await;
    assert_eq!(Some(&m.subject), first.subject.as_ref());
    assert!(
        m.subject.starts_with(&format!(
            "cost-guard weekly check: {} checks failed in {STACK}",
            first.failed
        )),
        "{}",
        m.subject
    );
    assert!(
        m.body.starts_with("This is the first weekly check"),
        "{}",
        m.body
    );
    assert!(m.body.contains("FAIL    subscription"), "{}", m.body);
    // The stack's account, as the stack says it.
    assert!(
        m.body.contains(&format!(
            "cost-guard doctor: stack {STACK} in {HOME_REGION}, account {ACCOUNT}\n"
        )),
        "{}",
        m.body
    );
    let left = remembered(&env, &deployed).await.unwrap();
    assert!(
        left.contains(r#"{"check":"subscription","status":"fail"}"#),
        "{left}"
    );

    // A week later, nothing changed: the failures are told again, as such.
    let second = run_weekly(&check).await.unwrap();
    assert_eq!(second.changed, 0, "{second:?}");
    let m = env.one_message().await;
    assert!(
        m.body.starts_with("Nothing changed since the last check"),
        "{}",
        m.body
    );

    // The owner confirms an email: the next run says what was fixed.
    emulator::subscribe(
        &env.sdk,
        &deployed.notify_topic,
        "email",
        "owner@example.com",
    )
    .await
    .unwrap();
    let third = run_weekly(&check).await.unwrap();
    assert_eq!(third.failed, second.failed - 1, "{third:?}");
    assert_eq!(third.changed, 1, "{third:?}");
    let m = env.one_message().await;
    assert!(
        m.body
            .starts_with("CHANGED SINCE THE LAST CHECK\n  subscription  FAIL -> ok\n"),
        "{}",
        m.body
    );
    let left = remembered(&env, &deployed).await.unwrap();
    assert!(
        left.contains(r#"{"check":"subscription","status":"pass"}"#),
        "{left}"
    );
}

#[tokio::test]
async fn the_weekly_check_never_assumes_a_member_role() {
    // Its role is read-only: the sweep's member role can stop things. With
    // an organization, the member roles are left to the StackSets' check.
    let env = Env::start().await;
    emulator::organization(&env.sdk, &["111111111111"])
        .await
        .unwrap();
    let deployed = stack(&env, &[("Accounts", "organization")]).await;
    let cli = checks(&env.sdk).await;
    assert!(cli.contains_key("member-roles"), "{cli:#?}");
    run_weekly(&weekly(&env, &deployed)).await.unwrap();
    let m = env.one_message().await;
    assert!(!m.body.contains("member-roles"), "{}", m.body);
    assert!(m.body.contains("stack-sets"), "{}", m.body);
}

#[tokio::test]
async fn an_organization_needs_a_member_role_and_stack_set_instance_in_every_account() {
    let env = Env::start().await;
    let members = emulator::organization(&env.sdk, &["team-a", "team-b"])
        .await
        .unwrap();
    stack(&env, &[("Accounts", "organization")]).await;
    let c = checks(&env.sdk).await;
    // moto lets any role be assumed: the member roles pass here (a refused
    // one is a unit test's and the fault proxy's).
    assert_eq!(status(&c, "member-roles"), Status::Pass, "{c:#?}");
    assert_eq!(status(&c, "stack-sets"), Status::Fail, "{c:#?}");
    assert!(
        found(&c, "stack-sets")
            .starts_with("no StackSet cost-guard-member nor cost-guard-member-forwarder"),
        "{c:#?}"
    );
    // The member roles' StackSet, with the stack's settings, in one of the
    // two member accounts: the other is named.
    emulator::stack_set(
        &env.sdk,
        "cost-guard-member",
        &[("ExemptTagKey", "cost-guard-exempt")],
        &[members[0].as_str()],
        &[HOME_REGION],
    )
    .await
    .unwrap();
    let c = checks(&env.sdk).await;
    assert_eq!(status(&c, "stack-sets"), Status::Fail, "{c:#?}");
    let f = found(&c, "stack-sets");
    assert!(
        f.contains(&format!(
            "cost-guard-member has no instance in account {}",
            members[1]
        )),
        "{c:#?}"
    );
    assert!(
        !f.contains(&format!(
            "cost-guard-member has no instance in account {}",
            members[0]
        )),
        "{c:#?}"
    );
    assert_eq!(status(&c, "settings-agree"), Status::Pass, "{c:#?}");

    // The second account too, and the member forwarder in every account
    // and enabled region, but with another exempt key than the stack's:
    // every instance is there, and the settings disagree.
    let cfn_regions = emulator::enabled_regions(&env.sdk).await.unwrap();
    let regions: Vec<&str> = cfn_regions.iter().map(String::as_str).collect();
    let both = [members[0].as_str(), members[1].as_str()];
    emulator::add_stack_instances(&env.sdk, "cost-guard-member", &both[1..], &[HOME_REGION])
        .await
        .unwrap();
    emulator::stack_set(
        &env.sdk,
        "cost-guard-member-forwarder",
        &[("ExemptTagKey", "keep-out")],
        &both,
        &regions,
    )
    .await
    .unwrap();
    let c = checks(&env.sdk).await;
    assert_eq!(status(&c, "stack-sets"), Status::Pass, "{c:#?}");
    assert_eq!(status(&c, "settings-agree"), Status::Fail, "{c:#?}");
    assert!(
        found(&c, "settings-agree").contains(
            "ExemptTagKey is \"keep-out\" in cost-guard-member-forwarder but \"cost-guard-exempt\" in the stack"
        ),
        "{c:#?}"
    );

    // A member account where the role cannot be assumed (STS refuses, as
    // for a role not deployed there): named, with the others passing.
    let proxy = Proxy::start(&env.endpoint).expect("proxy starts");
    proxy.inject(
        FaultRule::always("us-east-1", Fault::Denied)
            .on_action("AssumeRole")
            .body_contains(&members[1]),
    );
    let through = emulator::sdk_config_for(&proxy.endpoint).await;
    let c = checks(&through).await;
    assert_eq!(status(&c, "member-roles"), Status::Fail, "{c:#?}");
    assert!(found(&c, "member-roles").contains(&members[1]), "{c:#?}");
    assert!(!found(&c, "member-roles").contains(&members[0]), "{c:#?}");
}
