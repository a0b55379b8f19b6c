//! root-login-alert end to end against the emulator.

use emulator::sample_event;
use guard::handlers::HandlerError;
use guard::STOPPED_BY_TAG;

use crate::harness::{Env, STOP};
use guard::handlers::{Function, Invocation};

const REGIONS: &str = "us-east-1,eu-west-1,ap-northeast-1";

async fn seed(env: &Env) -> Vec<(String, String)> {
    let mut tagged = Vec::new();
    for region in REGIONS.split(',') {
        for id in env.launch(region, 2, "miner", STOP).await {
            tagged.push((region.to_string(), id));
        }
        env.launch(region, 1, "web", &[]).await;
    }
    tagged
}

#[tokio::test]
async fn root_sign_in_without_mfa_alerts_subscribers() {
    let env = Env::start().await;
    let seeded = seed(&env).await;
    let root = env.root_guard(&[("REGIONS", REGIONS)]);
    let s = root
        .handle(&Invocation::new(
            &sample_event("root-signin-no-mfa.json").unwrap(),
        ))
        .await
        .unwrap();
    assert!(s.alerted && s.urgent && !s.swept);
    let m = env.one_message().await;
    assert_eq!(
        m.subject,
        "URGENT: Root sign-in to 123456789012 from 198.51.100.23 without MFA"
    );
    for line in [
        "URGENT: the root user signed in WITHOUT MFA.",
        "Account:      123456789012",
        "Time:         2026-11-22 07:58:12 UTC",
        "Outcome:      success",
        "MFA used:     NO",
        "Source IP:    198.51.100.23 (not in a trusted network)",
        "Event region: us-east-1",
        "Event id:     3f6c1d2e-8a4b-4c7d-9e0f-1a2b3c4d5e6f",
        "CloudTrail:   https://us-east-1.console.aws.amazon.com/cloudtrail/home?region=us-east-1#/events/3f6c1d2e-8a4b-4c7d-9e0f-1a2b3c4d5e6f",
        "WHAT TO DO NOW",
    ] {
        assert!(m.body.contains(line), "missing {line:?} in\n{}", m.body);
    }
    // Alert mode never stops anything.
    for (region, id) in &seeded {
        assert_eq!(env.row(region, id).await.state, "running");
    }
}

#[tokio::test]
async fn stop_mode_from_an_untrusted_address_stops_tagged_instances_everywhere() {
    let env = Env::start().await;
    let seeded = seed(&env).await;
    let root = env.root_guard(&[
        ("REGIONS", REGIONS),
        ("ROOT_LOGIN_ACTION", "stop"),
        ("ROOT_TRUSTED_CIDRS", "203.0.113.0/24"),
    ]);
    let s = root
        .handle(&Invocation::new(
            &sample_event("root-signin-mfa.json").unwrap(),
        ))
        .await
        .unwrap();
    assert!(s.swept);
    assert_eq!(s.stopped, seeded.len());
    for (region, id) in &seeded {
        let row = env.row(region, id).await;
        assert_eq!(row.state, "stopped", "{id} in {region}");
        assert_eq!(row.tag(STOPPED_BY_TAG), Some("root-sign-in:198.51.100.23"));
    }
    let m = env.one_message().await;
    assert_eq!(
        m.subject,
        "Root sign-in to 123456789012 from 198.51.100.23 with MFA; stopped 6"
    );
    assert!(m
        .body
        .contains("WHAT COST-GUARD DID (ROOT_LOGIN_ACTION=stop)"));
    assert!(m
        .body
        .contains("Stopped 6 resources in 3 regions (6 EC2 instances); 3 regions swept."));
    assert!(m.body.contains("HOW TO START EVERYTHING AGAIN"));
}

#[tokio::test]
async fn stop_mode_from_a_trusted_address_or_a_failed_attempt_stops_nothing() {
    let env = Env::start().await;
    let seeded = seed(&env).await;
    let root = env.root_guard(&[
        ("REGIONS", REGIONS),
        ("ROOT_LOGIN_ACTION", "stop"),
        ("ROOT_TRUSTED_CIDRS", "203.0.113.0/24"),
    ]);
    let s = root
        .handle(&Invocation::new(
            &sample_event("root-signin-trusted.json").unwrap(),
        ))
        .await
        .unwrap();
    assert!(s.alerted && s.trusted && !s.swept);
    let m = env.one_message().await;
    assert_eq!(
        m.subject,
        "Root sign-in to 123456789012 from 203.0.113.10 with MFA (trusted network)"
    );
    assert!(m
        .body
        .contains("trusted network (203.0.113.0/24, from ROOT_TRUSTED_CIDRS)"));

    let s = root
        .handle(&Invocation::new(
            &sample_event("root-signin-failure.json").unwrap(),
        ))
        .await
        .unwrap();
    assert!(s.alerted && s.urgent && !s.swept);
    assert_eq!(
        env.one_message().await.subject,
        "URGENT: Failed root sign-in to 123456789012 from 192.0.2.77"
    );

    let s = root
        .handle(&Invocation::new(
            &sample_event("root-api-create-access-key.json").unwrap(),
        ))
        .await
        .unwrap();
    assert!(s.alerted && !s.swept, "API calls alert but never sweep");
    assert!(env
        .one_message()
        .await
        .subject
        .starts_with("URGENT: Root user called iam:CreateAccessKey"));

    for (region, id) in &seeded {
        assert_eq!(env.row(region, id).await.state, "running");
    }
}

#[tokio::test]
async fn iam_user_sign_in_sends_nothing_and_malformed_events_fail_clearly() {
    let env = Env::start().await;
    let root = env.root_guard(&[("REGIONS", "us-east-1"), ("ROOT_LOGIN_ACTION", "stop")]);
    let s = root
        .handle(&Invocation::new(
            &sample_event("iam-user-signin.json").unwrap(),
        ))
        .await
        .unwrap();
    assert!(!s.alerted);
    assert!(s
        .ignored
        .unwrap()
        .contains("IAMUser arn:aws:iam::123456789012:user/alice is not root activity"));
    assert!(
        env.received().await.is_empty(),
        "nothing sent for an IAM user"
    );

    let err = root
        .handle(&Invocation::new(
            &serde_json::json!({"source": "aws.signin", "detail": "oops"}),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err, HandlerError::Malformed(ref why) if why.contains("no `detail` object")),
        "{err}"
    );
    assert!(env.received().await.is_empty());
}

#[tokio::test]
async fn missing_fields_still_alert() {
    let env = Env::start().await;
    let root = env.root_guard(&[("REGIONS", "us-east-1")]);
    root.handle(&Invocation::new(
        &sample_event("root-signin-missing-fields.json").unwrap(),
    ))
    .await
    .unwrap();
    let m = env.one_message().await;
    assert_eq!(
        m.subject,
        "Root sign-in to 123456789012 from 198.51.100.23 (MFA unknown)"
    );
    assert!(m.body.contains("MFA used:     unknown"));
    assert!(m.body.contains("User agent:   unknown"));
}

/// A sweep that cannot start (the regions cannot be listed) is told in the
/// alert, with AWS's reason, and fails the invocation.
#[tokio::test]
async fn a_sweep_that_cannot_start_is_told_with_its_reason() {
    let env = Env::start().await;
    let seeded = seed(&env).await;
    let (_proxy, sdk) = env.regions_refused_after(0).await;
    let root = guard::handlers::root_login_alert::RootLoginAlert::new(
        env.config(&[("ROOT_LOGIN_ACTION", "stop")]),
        &sdk,
    );
    let err = root
        .handle(&Invocation::new(
            &sample_event("root-signin-mfa.json").unwrap(),
        ))
        .await
        .unwrap_err();
    env.assert_told_the_sweep_did_not_start(
        &err,
        "ROOT_LOGIN_ACTION=stop, but the sweep could not start",
    )
    .await;
    let (region, id) = &seeded[0];
    assert_eq!(env.row(region, id).await.state, "running");
}
