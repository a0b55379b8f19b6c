//! launch-tripwire end to end against the emulator: real instances launched in
//! several regions, the matching CloudTrail events (the samples in events/,
//! with the ids the emulator gave), and what was stopped, stamped and left
//! running, and what subscribers received.

use aws_sdk_ec2::types::{InstanceType, ResourceType, Tag, TagSpecification};
use guard::handlers::HandlerError;
use guard::{STOPPED_AT_TAG, STOPPED_BY_TAG};
use serde_json::{json, Value};

use crate::harness::{Env, STOP};

const QUARANTINE: &str = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3";

/// Launches `count` instances of `instance_type` in `region`, as a hijacker
/// would: with stop protection on and the exempt tag set.
async fn hijack(env: &Env, region: &str, count: i32, instance_type: &str) -> Vec<String> {
    let out = env
        .ec2(region)
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(InstanceType::from(instance_type))
        .min_count(count)
        .max_count(count)
        .disable_api_stop(true)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .tags(
                    Tag::builder()
                        .key("cost-guard-exempt")
                        .value("true")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.instances()
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect()
}

/// CloudTrail's StartInstances event for `ids` in `region`.
fn start_instances(region: &str, ids: &[String]) -> Value {
    let mut v = emulator::sample_event("tripwire-start-instances.json").unwrap();
    v["region"] = json!(region);
    v["detail"]["awsRegion"] = json!(region);
    let items: Vec<Value> = ids
        .iter()
        .map(|id| json!({"instanceId": id, "currentState": {"code": 0, "name": "pending"}}))
        .collect();
    v["detail"]["responseElements"]["instancesSet"] = json!({ "items": items });
    v["detail"]["requestParameters"]["instancesSet"] = json!({ "items": items });
    v
}

/// The managed policies attached to an IAM user or role.
async fn attached(iam: &aws_sdk_iam::Client, kind: &str, name: &str) -> Vec<String> {
    let policies = match kind {
        "user" => {
            iam.list_attached_user_policies()
                .user_name(name)
                .send()
                .await
                .unwrap()
                .attached_policies
        }
        _ => {
            iam.list_attached_role_policies()
                .role_name(name)
                .send()
                .await
                .unwrap()
                .attached_policies
        }
    };
    policies
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect()
}

/// CloudTrail's RunInstances event for `ids` of `instance_type` in `region`.
fn run_instances(region: &str, ids: &[String], instance_type: &str) -> Value {
    emulator::launch_event("tripwire-run-instances.json", region, ids, instance_type).unwrap()
}

async fn state(env: &Env, region: &str, id: &str) -> String {
    env.row(region, id).await.state
}

#[tokio::test]
async fn an_untrusted_costly_launch_is_stopped_in_its_region_exempt_tag_and_stop_protection_or_not()
{
    let env = Env::start().await;
    let hijacked = hijack(&env, "sa-east-1", 3, "p3.2xlarge").await;
    // The owner's own GPU instance elsewhere, which no event names.
    let owners = hijack(&env, "us-east-1", 1, "p3.2xlarge").await;
    let fleet = hijack(&env, "eu-west-1", 2, "g5.12xlarge").await;
    let tripwire = env.tripwire(&[("RESUME_FUNCTION_NAME", "cg-resume")]);

    let s = tripwire
        .handle(&run_instances("sa-east-1", &hijacked, "p3.2xlarge"))
        .await
        .unwrap();
    assert_eq!(s.action, "stopped");
    assert_eq!(s.stopped, hijacked);
    for id in &hijacked {
        let row = env.row("sa-east-1", id).await;
        assert_eq!(row.state, "stopped", "{id}");
        assert_eq!(row.tag(STOPPED_BY_TAG), Some("tripwire:RunInstances"));
        assert!(row.tag(STOPPED_AT_TAG).is_some());
        let protection = env
            .ec2("sa-east-1")
            .describe_instance_attribute()
            .instance_id(id)
            .attribute("disableApiStop".into())
            .send()
            .await
            .unwrap();
        assert_eq!(
            protection.disable_api_stop().and_then(|v| v.value()),
            Some(false),
            "stop protection turned off on {id}"
        );
    }
    assert_eq!(state(&env, "us-east-1", &owners[0]).await, "running");
    let m = env.one_message().await;
    assert_eq!(
        m.subject,
        "URGENT: cost-guard stopped 3 x p3.2xlarge launched in sa-east-1 by user/ci-deployer"
    );
    assert!(m
        .body
        .contains("Stop protection (disableApiStop) was on and was turned off"));
    assert!(m.body.contains("--function-name cg-resume"));

    // A second region, through an EC2 fleet, in the CloudTrail shape CreateFleet has.
    let mut v = emulator::sample_event("tripwire-create-fleet.json").unwrap();
    v["detail"]["responseElements"]["CreateFleetResponse"]["fleetInstanceSet"]["item"]
        ["instanceIds"] = json!({ "item": fleet });
    let s = tripwire.handle(&v).await.unwrap();
    assert_eq!(s.stopped, fleet);
    for id in &fleet {
        assert_eq!(state(&env, "eu-west-1", id).await, "stopped");
    }
    assert!(env
        .one_message()
        .await
        .subject
        .contains("2 x g5.12xlarge launched in eu-west-1"));
}

#[tokio::test]
async fn trusted_cheap_and_service_launches_keep_running() {
    let env = Env::start().await;
    let gpu = hijack(&env, "sa-east-1", 2, "p3.2xlarge").await;
    let trusted = env.tripwire(&[(
        "TRIPWIRE_TRUSTED_PRINCIPALS",
        "arn:aws:iam::123456789012:user/ci-*",
    )]);
    let s = trusted
        .handle(&run_instances("sa-east-1", &gpu, "p3.2xlarge"))
        .await
        .unwrap();
    assert_eq!((s.action.as_str(), s.urgent), ("alerted", false));
    assert!(s.stopped.is_empty());
    let m = env.one_message().await;
    assert_eq!(
        m.subject,
        "cost-guard: 2 x p3.2xlarge launched in sa-east-1 by user/ci-deployer, not stopped"
    );

    let tripwire = env.tripwire(&[]);
    let asg = hijack(&env, "us-east-1", 1, "g5.xlarge").await;
    let s = tripwire
        .handle(
            &emulator::launch_event(
                "tripwire-autoscaling-launch.json",
                "us-east-1",
                &asg,
                "g5.xlarge",
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(s.action, "alerted");
    assert!(env
        .one_message()
        .await
        .body
        .contains("launched by EC2 Auto Scaling on the account's behalf"));

    let cheap = env.launch("sa-east-1", 1, "web", &[]).await;
    let s = tripwire
        .handle(&run_instances("sa-east-1", &cheap, "t3.micro"))
        .await
        .unwrap();
    assert_eq!(s.action, "quiet");
    assert!(
        env.received().await.is_empty(),
        "a cheap launch sends nothing"
    );

    for (region, id) in [
        ("sa-east-1", &gpu[0]),
        ("us-east-1", &asg[0]),
        ("sa-east-1", &cheap[0]),
    ] {
        assert_eq!(state(&env, region, id).await, "running", "{id}");
    }
    // A region outside TRIPWIRE_ALLOWED_REGIONS stops even the cheap one.
    let allowed = env.tripwire(&[("TRIPWIRE_ALLOWED_REGIONS", "us-east-1,eu-west-1")]);
    let s = allowed
        .handle(&run_instances("sa-east-1", &cheap, "t3.micro"))
        .await
        .unwrap();
    assert_eq!(s.stopped, cheap);
    assert_eq!(state(&env, "sa-east-1", &cheap[0]).await, "stopped");
}

#[tokio::test]
async fn a_stamped_instance_started_by_someone_is_stopped_again_but_a_resume_is_not() {
    let env = Env::start().await;
    let id = env.launch("us-east-1", 1, "batch", STOP).await.remove(0);
    let guard = env.guard(&[("REGIONS", "us-east-1")]);
    env.invoke(&guard, "budget-actual.json").await.unwrap();
    env.received().await;
    assert_eq!(state(&env, "us-east-1", &id).await, "stopped");
    let ec2 = env.ec2("us-east-1");
    let tripwire = env.tripwire(&[]);
    let started = start_instances("us-east-1", std::slice::from_ref(&id));

    // Someone starts it with the stamp still on: a cheap type, stopped again.
    ec2.start_instances()
        .instance_ids(&id)
        .send()
        .await
        .unwrap();
    let s = tripwire.handle(&started).await.unwrap();
    assert_eq!(s.stopped, std::slice::from_ref(&id));
    assert_eq!(state(&env, "us-east-1", &id).await, "stopped");
    let m = env.one_message().await;
    assert!(
        m.subject
            .starts_with("URGENT: cost-guard stopped 1 x t3.micro started in us-east-1"),
        "{}",
        m.subject
    );
    assert!(m.body.contains("started with the stamp still on"));

    // The owner resumes it: the stamp goes first, so its start is left alone.
    let resumed = env
        .resume(&[("REGIONS", "us-east-1")])
        .handle(&json!({}))
        .await
        .unwrap();
    assert_eq!(resumed.started, 1, "{resumed:?}");
    env.received().await;
    assert_eq!(state(&env, "us-east-1", &id).await, "running");
    let s = tripwire.handle(&started).await.unwrap();
    assert_eq!(s.action, "quiet", "{s:?}");
    assert_eq!(state(&env, "us-east-1", &id).await, "running");
    assert!(env.received().await.is_empty());
}

#[tokio::test]
async fn a_spot_request_is_followed_to_its_instances() {
    let env = Env::start().await;
    let ec2 = env.ec2("us-west-2");
    let out = ec2
        .request_spot_instances()
        .instance_count(2)
        .r#type("persistent".into())
        .instance_interruption_behavior("stop".into())
        .launch_specification(
            aws_sdk_ec2::types::RequestSpotLaunchSpecification::builder()
                .image_id("ami-12c6146b")
                .instance_type(InstanceType::from("g4dn.12xlarge"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let request = out.spot_instance_requests()[0]
        .spot_instance_request_id()
        .unwrap()
        .to_string();
    let mut v = emulator::sample_event("tripwire-spot-request.json").unwrap();
    v["detail"]["responseElements"]["spotInstanceRequestSet"]["items"][0]
        ["spotInstanceRequestId"] = json!(request);
    let s = env.tripwire(&[]).handle(&v).await.unwrap();
    assert_eq!(s.stopped.len(), 1, "{s:?}");
    assert_eq!(state(&env, "us-west-2", &s.stopped[0]).await, "stopped");
}

#[tokio::test]
async fn a_guardduty_crypto_finding_stops_its_instance() {
    let env = Env::start().await;
    let miner = hijack(&env, "eu-west-1", 1, "g4dn.xlarge").await.remove(0);
    let mut v = emulator::sample_event("guardduty-crypto-finding.json").unwrap();
    v["detail"]["resource"]["instanceDetails"]["instanceId"] = json!(miner);
    let s = env.tripwire(&[]).handle(&v).await.unwrap();
    assert_eq!(s.stopped, std::slice::from_ref(&miner));
    let row = env.row("eu-west-1", &miner).await;
    assert_eq!(row.state, "stopped");
    assert_eq!(row.tag(STOPPED_BY_TAG), Some("tripwire:guardduty"));
    assert!(env
        .one_message()
        .await
        .subject
        .starts_with(&format!("URGENT: cost-guard stopped {miner} in eu-west-1")));
}

#[tokio::test]
async fn refused_launches_alert_mode_and_malformed_events_change_nothing() {
    let env = Env::start().await;
    let gpu = hijack(&env, "ap-south-1", 2, "p4d.24xlarge").await;
    let tripwire = env.tripwire(&[]);
    let refused = emulator::sample_event("tripwire-run-instances-failed.json").unwrap();
    let s = tripwire.handle(&refused).await.unwrap();
    assert!(s.stopped.is_empty());
    assert_eq!(
        env.one_message().await.subject,
        "cost-guard: a launch of 8 x p4d.24xlarge in ap-south-1 was refused (user/ci-deployer)"
    );

    let alert_only = env.tripwire(&[("TRIPWIRE_ACTION", "alert")]);
    let launched = run_instances("ap-south-1", &gpu, "p4d.24xlarge");
    let s = alert_only.handle(&launched).await.unwrap();
    assert_eq!((s.action.as_str(), s.urgent), ("alerted", true));
    assert!(env
        .one_message()
        .await
        .body
        .contains("TRIPWIRE_ACTION=alert"));

    let dry = env.tripwire(&[("DRY_RUN", "true")]);
    let s = dry.handle(&launched).await.unwrap();
    assert_eq!(s.stopped, gpu, "what it would stop");
    assert!(env
        .one_message()
        .await
        .subject
        .contains("[dry run] cost-guard would stop"));

    for bad in [
        json!("RunInstances"),
        json!({"source": "aws.ec2", "detail": {"eventSource": "ec2.amazonaws.com", "eventName": "RunInstances"}}),
    ] {
        let err = tripwire.handle(&bad).await.unwrap_err();
        assert!(matches!(err, HandlerError::Malformed(_)), "{err:?}");
    }
    assert!(env.received().await.is_empty());
    for id in &gpu {
        let row = env.row("ap-south-1", id).await;
        assert_eq!(row.state, "running");
        assert_eq!(row.tag(STOPPED_AT_TAG), None);
    }
}

#[tokio::test]
async fn the_quarantine_attaches_exactly_the_compromised_key_policy() {
    let env = Env::start().await;
    let iam = aws_sdk_iam::Client::new(&env.sdk);
    iam.create_user()
        .user_name("ci-deployer")
        .send()
        .await
        .unwrap();
    iam.create_role()
        .role_name("contractor")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let tripwire = env.tripwire(&[("TRIPWIRE_QUARANTINE", "on")]);

    let gpu = hijack(&env, "sa-east-1", 1, "p3.2xlarge").await;
    tripwire
        .handle(&run_instances("sa-east-1", &gpu, "p3.2xlarge"))
        .await
        .unwrap();
    assert_eq!(attached(&iam, "user", "ci-deployer").await, [QUARANTINE]);
    let m = env.one_message().await;
    assert!(
        m.body
            .contains("aws iam detach-user-policy --user-name ci-deployer"),
        "{}",
        m.body
    );

    // A role's session: the role gets it.
    let more = hijack(&env, "us-east-1", 1, "p3.8xlarge").await;
    let mut v = run_instances("us-east-1", &more, "p3.8xlarge");
    v["detail"]["userIdentity"] = emulator::sample_event("tripwire-start-instances.json").unwrap()
        ["detail"]["userIdentity"]
        .clone();
    tripwire.handle(&v).await.unwrap();
    assert_eq!(attached(&iam, "role", "contractor").await, [QUARANTINE]);
    env.received().await;
}

/// EC2 cannot say what a stranger started: subscribers are told at once, the
/// invocation fails so that Lambda tries again, and the retry, once EC2
/// answers, stops the instance.
#[tokio::test]
async fn a_start_ec2_cannot_describe_is_reported_at_once_and_stopped_on_the_retry() {
    use testkit::{Fault, FaultRule, Proxy};
    let env = Env::start().await;
    let gpu = hijack(&env, "us-east-1", 1, "p3.2xlarge").await;
    let proxy = Proxy::start(&env.endpoint).expect("proxy starts");
    let sdk = emulator::lambda_sdk_config_for(&proxy.endpoint).await;
    let tripwire = guard::handlers::launch_tripwire::LaunchTripwire::new(
        &env.config(&[]),
        guard::domain::config::TripwireConfig::from_lookup(|_| None).unwrap(),
        &sdk,
    );
    proxy.inject(FaultRule::always("us-east-1", Fault::Status(500)).on_action("DescribeInstances"));
    let started = start_instances("us-east-1", &gpu);

    let err = tripwire.handle(&started).await.unwrap_err();
    assert!(matches!(err, HandlerError::Incomplete { .. }), "{err}");
    let m = env.one_message().await;
    assert!(m.subject.starts_with("URGENT"), "{}", m.subject);
    assert!(
        m.body.contains("EC2 could not say what the call started"),
        "{}",
        m.body
    );
    assert_eq!(state(&env, "us-east-1", &gpu[0]).await, "running");

    proxy.clear_faults();
    let s = tripwire.handle(&started).await.unwrap();
    assert_eq!(s.stopped, gpu);
    assert_eq!(state(&env, "us-east-1", &gpu[0]).await, "stopped");
    env.one_message().await;
}
