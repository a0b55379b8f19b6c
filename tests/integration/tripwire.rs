//! launch-tripwire end to end against the emulator: real instances launched in
//! several regions, the matching CloudTrail events (the samples in events/,
//! with the ids the emulator gave), and what was stopped, stamped and left
//! running, and what subscribers received.

use aws_sdk_ec2::types::{InstanceType, ResourceType, Tag, TagSpecification};
use guard::handlers::HandlerError;
use guard::{STOPPED_AT_TAG, STOPPED_BY_TAG};
use serde_json::{json, Value};

use crate::harness::{Captured, Env, STOP};
use guard::handlers::launch_tripwire::LaunchTripwire;
use guard::handlers::{Function, Invocation};

const QUARANTINE: &str = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3";

/// Launches `count` instances of `instance_type` in `region`, as a hijacker
/// would: with stop protection on and the exempt tag set.
async fn hijack(env: &Env, region: &str, count: i32, instance_type: &str) -> Vec<String> {
    run(
        env,
        region,
        count,
        instance_type,
        true,
        &[("cost-guard-exempt", "true")],
    )
    .await
}

/// Launches `count` instances of `instance_type` in `region`, with stop
/// protection on or off and these tags.
async fn run(
    env: &Env,
    region: &str,
    count: i32,
    instance_type: &str,
    protected: bool,
    tags: &[(&str, &str)],
) -> Vec<String> {
    let mut spec = TagSpecification::builder().resource_type(ResourceType::Instance);
    for (k, v) in tags {
        spec = spec.tags(Tag::builder().key(*k).value(*v).build());
    }
    let mut request = env
        .ec2(region)
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(InstanceType::from(instance_type))
        .min_count(count)
        .max_count(count)
        .disable_api_stop(protected);
    if !tags.is_empty() {
        request = request.tag_specifications(spec.build());
    }
    let out = request.send().await.unwrap();
    out.instances()
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect()
}

/// Whether stop protection is on.
async fn protected(env: &Env, region: &str, id: &str) -> bool {
    env.ec2(region)
        .describe_instance_attribute()
        .instance_id(id)
        .attribute("disableApiStop".into())
        .send()
        .await
        .unwrap()
        .disable_api_stop()
        .and_then(|v| v.value())
        .unwrap_or(false)
}

/// Creates an IAM role in the emulator's default account; returns its unique id.
async fn role(env: &Env, name: &str) -> String {
    create_role(&aws_sdk_iam::Client::new(&env.sdk), name, Vec::new()).await
}

/// Creates an IAM role with these tags where `iam` acts; returns its unique id.
pub(crate) async fn create_role(
    iam: &aws_sdk_iam::Client,
    name: &str,
    tags: Vec<aws_sdk_iam::types::Tag>,
) -> String {
    iam.create_role()
        .role_name(name)
        .assume_role_policy_document(TRUST)
        .set_tags(Some(tags))
        .send()
        .await
        .unwrap()
        .role()
        .unwrap()
        .role_id()
        .to_string()
}

/// A spot request of `count` g4dn.12xlarge of `kind` (`one-time`,
/// `persistent`) in us-west-2, and CloudTrail's event of it: the request's
/// id and its first instance's.
async fn spot_request(env: &Env, count: i32, kind: &str) -> (String, String, Value) {
    let out = env
        .ec2("us-west-2")
        .request_spot_instances()
        .instance_count(count)
        .r#type(kind.into())
        .instance_interruption_behavior(
            if kind == "persistent" {
                "stop"
            } else {
                "terminate"
            }
            .into(),
        )
        .launch_specification(
            aws_sdk_ec2::types::RequestSpotLaunchSpecification::builder()
                .image_id("ami-12c6146b")
                .instance_type(InstanceType::from("g4dn.12xlarge"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let first = &out.spot_instance_requests()[0];
    let request = first.spot_instance_request_id().unwrap().to_string();
    let instance = first.instance_id().unwrap_or_default().to_string();
    let mut v = emulator::sample_event("tripwire-spot-request.json").unwrap();
    v["detail"]["responseElements"]["spotInstanceRequestSet"]["items"][0]
        ["spotInstanceRequestId"] = json!(request);
    (request, instance, v)
}

/// A fleet of `maintain` type asking for nothing yet, through a launch
/// template `name` of `instance_type`: its id.
async fn empty_fleet(env: &Env, region: &str, name: &str, instance_type: &str) -> String {
    let ec2 = env.ec2(region);
    let template = ec2
        .create_launch_template()
        .launch_template_name(name)
        .launch_template_data(
            aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                .image_id("ami-12c6146b")
                .instance_type(InstanceType::from(instance_type))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .launch_template()
        .unwrap()
        .launch_template_id()
        .unwrap()
        .to_string();
    ec2.create_fleet()
        .r#type("maintain".into())
        .launch_template_configs(
            aws_sdk_ec2::types::FleetLaunchTemplateConfigRequest::builder()
                .launch_template_specification(
                    aws_sdk_ec2::types::FleetLaunchTemplateSpecificationRequest::builder()
                        .launch_template_id(&template)
                        .version("1")
                        .build(),
                )
                .build(),
        )
        .target_capacity_specification(
            aws_sdk_ec2::types::TargetCapacitySpecificationRequest::builder()
                .total_target_capacity(0)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .fleet_id()
        .unwrap()
        .to_string()
}

/// The tripwire's mark of a spot request or fleet of the emulator's default
/// account, if it remembered one.
async fn mark(env: &Env, region: &str, request: &str) -> Option<String> {
    let item = aws_sdk_dynamodb::Client::new(&env.sdk)
        .get_item()
        .table_name(emulator::MARKS_TABLE)
        .key(
            "request",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("123456789012/{region}/{request}")),
        )
        .send()
        .await
        .unwrap();
    item.item()
        .and_then(|i| i.get("mark"))
        .and_then(|v| v.as_s().ok())
        .cloned()
}

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;

/// `event` made by a session of role `name` (unique id `id`) in `account`.
pub(crate) fn as_role(mut event: Value, account: &str, name: &str, id: &str) -> Value {
    event["detail"]["userIdentity"] = json!({
        "type": "AssumedRole",
        "principalId": format!("{id}:cost-guard"),
        "arn": format!("arn:aws:sts::{account}:assumed-role/{name}/cost-guard"),
        "accountId": account,
        "accessKeyId": "ASIAEXAMPLESESSION02",
        "sessionContext": {"sessionIssuer": {
            "type": "Role", "principalId": id, "userName": name, "accountId": account,
            "arn": format!("arn:aws:iam::{account}:role/{name}")
        }}
    });
    event
}

/// CloudTrail's StartInstances event for `ids` in `region`.
pub(crate) fn start_instances(region: &str, ids: &[String]) -> Value {
    let mut v = emulator::sample_event("tripwire-start-instances.json").unwrap();
    v["region"] = json!(region);
    v["detail"]["awsRegion"] = json!(region);
    let items: Vec<Value> = ids
        .iter()
        .map(|id| {
            json!({"instanceId": id, "currentState": {"code": 0, "name": "pending"},
                   "previousState": {"code": 80, "name": "stopped"}})
        })
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
        .handle(&Invocation::new(&run_instances(
            "sa-east-1",
            &hijacked,
            "p3.2xlarge",
        )))
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
    let s = tripwire.handle(&Invocation::new(&v)).await.unwrap();
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
        .handle(&Invocation::new(&run_instances(
            "sa-east-1",
            &gpu,
            "p3.2xlarge",
        )))
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
        .handle(&Invocation::new(
            &emulator::launch_event(
                "tripwire-autoscaling-launch.json",
                "us-east-1",
                &asg,
                "g5.xlarge",
            )
            .unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(s.action, "alerted");
    assert!(env
        .one_message()
        .await
        .body
        .contains("launched by EC2 Auto Scaling on the account's behalf"));

    let cheap = env.launch("sa-east-1", 1, "web", &[]).await;
    let mut plain = run_instances("sa-east-1", &cheap, "t3.micro");
    plain["detail"]["requestParameters"]
        .as_object_mut()
        .unwrap()
        .remove("tagSpecificationSet");
    let s = tripwire.handle(&Invocation::new(&plain)).await.unwrap();
    assert_eq!(s.action, "quiet");
    assert!(
        env.received().await.is_empty(),
        "a cheap launch sends nothing"
    );
    // The same cheap launch tagged cost-guard-exempt hides from the budget
    // sweep: not stopped, but reported.
    let s = tripwire
        .handle(&Invocation::new(&run_instances(
            "sa-east-1",
            &cheap,
            "t3.micro",
        )))
        .await
        .unwrap();
    assert_eq!((s.action.as_str(), s.urgent), ("alerted", true));
    assert!(env
        .one_message()
        .await
        .body
        .contains("launched it with cost-guard-exempt=true (the budget sweep now skips it)"));

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
        .handle(&Invocation::new(&run_instances(
            "sa-east-1",
            &cheap,
            "t3.micro",
        )))
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
    let s = tripwire.handle(&Invocation::new(&started)).await.unwrap();
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

    // Now the tripwire's stop: a resume of everything leaves it stopped and
    // says why; the owner names it.
    let everything = env
        .resume(&[("REGIONS", "us-east-1")])
        .handle(&Invocation::new(&json!({})))
        .await
        .unwrap();
    assert_eq!(
        (everything.started, everything.skipped),
        (0, 1),
        "{everything:?}"
    );
    assert!(env
        .one_message()
        .await
        .body
        .contains("stopped by the launch tripwire (tripwire:StartInstances)"));
    assert_eq!(state(&env, "us-east-1", &id).await, "stopped");
    // The owner resumes it: the stamp goes first, so its start is left alone.
    let resumed = env
        .resume(&[("REGIONS", "us-east-1")])
        .handle(&Invocation::new(
            &json!({"stopped_by": "tripwire:StartInstances"}),
        ))
        .await
        .unwrap();
    assert_eq!(resumed.started, 1, "{resumed:?}");
    env.received().await;
    assert_eq!(state(&env, "us-east-1", &id).await, "running");
    let s = tripwire.handle(&Invocation::new(&started)).await.unwrap();
    assert_eq!(s.action, "quiet", "{s:?}");
    assert_eq!(state(&env, "us-east-1", &id).await, "running");
    assert!(env.received().await.is_empty());
}

#[tokio::test]
async fn a_spot_request_is_followed_to_its_instances() {
    let env = Env::start().await;
    let (_, _, v) = spot_request(&env, 2, "persistent").await;
    let s = env
        .tripwire(&[])
        .handle(&Invocation::new(&v))
        .await
        .unwrap();
    assert_eq!(s.stopped.len(), 1, "{s:?}");
    assert_eq!(state(&env, "us-west-2", &s.stopped[0]).await, "stopped");
}

/// `RequestSpotFleet` by a principal not trusted: the fleet's instances are
/// found through `DescribeSpotFleetInstances` and stopped (the fleet made
/// in the emulator, CloudTrail's event of it from `events/`). moto names
/// the request `sfr-` and 17 digits, where EC2 writes a UUID, the only form
/// the tripwire takes: the proxy shows moto's id in EC2's form.
#[tokio::test]
async fn a_spot_fleet_request_is_followed_to_its_instances() {
    use aws_sdk_ec2::types::{SpotFleetLaunchSpecification, SpotFleetRequestConfigData};
    use testkit::{Fault, FaultRule};
    let env = Env::start().await;
    let (proxy, sdk) = env.proxied().await;
    let ec2 = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(&sdk)
            .region(aws_types::region::Region::new("us-west-2"))
            .build(),
    );
    // A spot fleet of `capacity` p3.8xlarge: its id.
    let spot_fleet = |capacity: i32| {
        let ec2 = ec2.clone();
        async move {
            ec2.request_spot_fleet()
                .spot_fleet_request_config(
                    SpotFleetRequestConfigData::builder()
                        .iam_fleet_role(
                            "arn:aws:iam::123456789012:role/aws-ec2-spot-fleet-tagging-role",
                        )
                        .target_capacity(capacity)
                        .allocation_strategy(aws_sdk_ec2::types::AllocationStrategy::LowestPrice)
                        .spot_price("3.0")
                        .launch_specifications(
                            SpotFleetLaunchSpecification::builder()
                                .image_id("ami-12c6146b")
                                .instance_type(InstanceType::from("p3.8xlarge"))
                                .build(),
                        )
                        .build(),
                )
                .send()
                .await
                .unwrap()
                .spot_fleet_request_id()
                .unwrap()
                .to_string()
        }
    };
    let fleet = spot_fleet(2).await;
    assert!(fleet.ends_with("-000000000000"), "{fleet}");
    let requested = |fleet: &str| {
        let mut v = emulator::sample_event("tripwire-spot-fleet-request.json").unwrap();
        v["detail"]["responseElements"]["RequestSpotFleetResponse"]["spotFleetRequestId"] =
            json!(fleet);
        v
    };
    let tripwire = LaunchTripwire::new(env.config(&[]), &sdk);
    let s = tripwire
        .handle(&Invocation::new(&requested(&fleet)))
        .await
        .unwrap();
    assert_eq!(s.stopped.len(), 2, "{s:?}");
    for id in &s.stopped {
        let row = env.row("us-west-2", id).await;
        assert_eq!(row.state, "stopped", "{id}");
        assert_eq!(row.tag(STOPPED_BY_TAG), Some("tripwire:RequestSpotFleet"));
    }
    let m = env.one_message().await;
    assert!(
        m.subject.starts_with("URGENT: cost-guard stopped"),
        "{}",
        m.subject
    );

    // A fleet whose instances are one-time spot instances (moto makes them
    // persistent; the proxy shows them one-time): each is known as one by its
    // spot request, reported with the commands, and never asked to stop.
    let once = spot_fleet(1).await;
    proxy.inject(
        FaultRule::always(
            "us-west-2",
            Fault::Edit {
                from: "<type>persistent</type>".into(),
                to: "<type>one-time</type>".into(),
            },
        )
        .on_action("DescribeSpotInstanceRequests"),
    );
    let s = tripwire
        .handle(&Invocation::new(&requested(&once)))
        .await
        .unwrap();
    assert!(s.stopped.is_empty(), "{s:?}");
    assert_eq!(
        proxy.attempts("us-west-2", "StopInstances"),
        1,
        "the first fleet's only"
    );
    let m = env.one_message().await;
    assert!(m.body.contains("one-time"), "{}", m.body);
}

#[tokio::test]
async fn a_guardduty_crypto_finding_stops_its_instance() {
    let env = Env::start().await;
    let miner = run(&env, "eu-west-1", 1, "g4dn.xlarge", false, &[])
        .await
        .remove(0);
    let mut v = emulator::sample_event("guardduty-crypto-finding.json").unwrap();
    v["detail"]["resource"]["instanceDetails"]["instanceId"] = json!(miner);
    let s = env
        .tripwire(&[])
        .handle(&Invocation::new(&v))
        .await
        .unwrap();
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
    let mut refused = emulator::sample_event("tripwire-run-instances-failed.json").unwrap();
    // CloudTrail's record of a refused call names no instances; this one is
    // made to name the running ones, so that only the refusal keeps them
    // running.
    refused["detail"]["responseElements"] = json!({"instancesSet": {"items": gpu
        .iter()
        .map(|id| json!({"instanceId": id, "instanceType": "p4d.24xlarge"}))
        .collect::<Vec<_>>()}});
    let s = tripwire.handle(&Invocation::new(&refused)).await.unwrap();
    assert!(s.stopped.is_empty(), "{s:?}");
    assert_eq!(
        env.one_message().await.subject,
        "cost-guard: a launch of 8 x p4d.24xlarge in ap-south-1 was refused (user/ci-deployer)"
    );

    let alert_only = env.tripwire(&[("TRIPWIRE_ACTION", "alert")]);
    let launched = run_instances("ap-south-1", &gpu, "p4d.24xlarge");
    let s = alert_only
        .handle(&Invocation::new(&launched))
        .await
        .unwrap();
    assert_eq!((s.action.as_str(), s.urgent), ("alerted", true));
    assert!(env
        .one_message()
        .await
        .body
        .contains("TRIPWIRE_ACTION=alert"));

    let dry = env.tripwire(&[("DRY_RUN", "true")]);
    let s = dry.handle(&Invocation::new(&launched)).await.unwrap();
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
        let err = tripwire.handle(&Invocation::new(&bad)).await.unwrap_err();
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
    let launched = run_instances("sa-east-1", &gpu, "p3.2xlarge");

    // A dry run quarantines no one, though it says what it would stop.
    let dry = env.tripwire(&[("TRIPWIRE_QUARANTINE", "on"), ("DRY_RUN", "true")]);
    let s = dry.handle(&Invocation::new(&launched)).await.unwrap();
    assert_eq!(s.stopped, gpu, "what it would stop");
    assert_eq!(state(&env, "sa-east-1", &gpu[0]).await, "running");
    assert!(attached(&iam, "user", "ci-deployer").await.is_empty());
    assert!(env
        .one_message()
        .await
        .subject
        .contains("[dry run] cost-guard would stop"));

    tripwire.handle(&Invocation::new(&launched)).await.unwrap();
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
    tripwire.handle(&Invocation::new(&v)).await.unwrap();
    assert_eq!(attached(&iam, "role", "contractor").await, [QUARANTINE]);
    env.received().await;
}

/// EC2 cannot say what a stranger started: subscribers are told at once, the
/// invocation fails so that Lambda tries again, and the retry, once EC2
/// answers, stops the instance.
#[tokio::test]
async fn a_start_ec2_cannot_describe_is_reported_at_once_and_stopped_on_the_retry() {
    use testkit::{Fault, FaultRule};
    let env = Env::start().await;
    let gpu = run(&env, "us-east-1", 1, "p3.2xlarge", false, &[]).await;
    let (proxy, sdk) = env.proxied().await;
    let tripwire = LaunchTripwire::new(env.config(&[]), &sdk);
    proxy.inject(FaultRule::always("us-east-1", Fault::Status(500)).on_action("DescribeInstances"));
    let started = start_instances("us-east-1", &gpu);

    let err = tripwire
        .handle(&Invocation::new(&started))
        .await
        .unwrap_err();
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
    let s = tripwire.handle(&Invocation::new(&started)).await.unwrap();
    assert_eq!(s.stopped, gpu);
    assert_eq!(state(&env, "us-east-1", &gpu[0]).await, "stopped");
    env.one_message().await;
}

/// The stop gets the time before the Lambda deadline less what is kept
/// back for the alert: a StopInstances that never answers is reported as not
/// known to be stopped, the alert still goes out, and the invocation fails so
/// that Lambda tries again.
#[tokio::test]
async fn a_stop_that_never_answers_still_leaves_time_for_the_alert() {
    use std::time::Duration;
    use testkit::{Fault, FaultRule};
    let env = Env::start().await;
    let gpu = run(&env, "us-east-1", 1, "p3.2xlarge", false, &[]).await;
    let (proxy, sdk) = env.proxied().await;
    let tripwire = LaunchTripwire::new(env.config(&[]), &sdk);
    proxy.inject(
        FaultRule::always("us-east-1", Fault::Slow(Duration::from_secs(120)))
            .on_action("StopInstances"),
    );
    let deadline = std::time::SystemTime::now() + Duration::from_secs(12);
    let err = tripwire
        .handle(
            &Invocation::new(&run_instances("us-east-1", &gpu, "p3.2xlarge"))
                .deadline(Some(deadline)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, HandlerError::Incomplete { detail, .. } if detail.contains("no answer within")),
        "{err}"
    );
    assert!(
        std::time::SystemTime::now() < deadline,
        "the deadline passed first"
    );
    let m = env.one_message().await;
    assert!(m.subject.starts_with("URGENT"), "{}", m.subject);
    assert!(m.body.contains(&gpu[0]), "{}", m.body);
}

/// A GuardDuty finding can be caused from outside (a DNS lookup of a listed
/// domain): an exempt instance is reported, not stopped, and no finding
/// turns stop protection off.
#[tokio::test]
async fn a_finding_never_stops_an_exempt_instance_nor_turns_stop_protection_off() {
    let env = Env::start().await;
    let tripwire = env.tripwire(&[]);
    let finding = |id: &str| {
        let mut v = emulator::sample_event("guardduty-crypto-finding.json").unwrap();
        v["detail"]["resource"]["instanceDetails"]["instanceId"] = json!(id);
        v
    };
    // The owner's exempt web server, whatever the tag's value.
    let web = run(
        &env,
        "eu-west-1",
        1,
        "m5.large",
        false,
        &[("cost-guard-exempt", "yes")],
    )
    .await
    .remove(0);
    let s = tripwire
        .handle(&Invocation::new(&finding(&web)))
        .await
        .unwrap();
    assert_eq!((s.action.as_str(), s.urgent), ("alerted", true), "{s:?}");
    assert!(s.stopped.is_empty());
    assert_eq!(state(&env, "eu-west-1", &web).await, "running");
    let m = env.one_message().await;
    assert!(
        m.subject.starts_with(&format!(
            "URGENT: GuardDuty CryptoCurrency:EC2/BitcoinTool.B!DNS on {web}"
        )),
        "{}",
        m.subject
    );
    assert!(
        m.body.contains("carries the exempt tag cost-guard-exempt"),
        "{}",
        m.body
    );

    // A stop-protected instance that is not exempt: the stop is refused and
    // the protection stays; the alert says how to stop it by hand.
    let db = run(&env, "eu-west-1", 1, "r5.large", true, &[])
        .await
        .remove(0);
    let s = tripwire
        .handle(&Invocation::new(&finding(&db)))
        .await
        .unwrap();
    assert!(s.stopped.is_empty(), "{s:?}");
    assert_eq!(state(&env, "eu-west-1", &db).await, "running");
    assert!(
        protected(&env, "eu-west-1", &db).await,
        "protection turned off"
    );
    let m = env.one_message().await;
    assert!(m.subject.contains("could NOT stop"), "{}", m.subject);
    assert!(
        m.body.contains(&format!(
            "aws ec2 modify-instance-attribute --region eu-west-1 --instance-id {db} --no-disable-api-stop"
        )),
        "{}",
        m.body
    );
    // An id EC2 does not know: nothing to stop, said so.
    let s = tripwire
        .handle(&Invocation::new(&finding("i-0123456789abcdef0")))
        .await
        .unwrap();
    assert_eq!(s.action, "alerted");
    let m = env.one_message().await;
    assert!(m.body.contains("EC2 does not know"), "{}", m.body);
    // What it was costing, from the finding's own instance type.
    assert!(
        m.body
            .contains("  1 x g4dn.xlarge at $0.53 an hour = $0.53 an hour"),
        "{}",
        m.body
    );
}

/// Anyone allowed to start instances can name a running one: EC2 answers
/// success and changes nothing. Only what was stopped counts as started, and
/// the owner's stop protection stays unless cost-guard's stamp is on it.
#[tokio::test]
async fn a_start_stops_only_what_it_started_and_keeps_the_owners_stop_protection() {
    let env = Env::start().await;
    let tripwire = env.tripwire(&[]);
    let gpu = run(&env, "us-east-1", 1, "p3.2xlarge", true, &[])
        .await
        .remove(0);
    // Already running: the event says so; nothing is stopped or changed.
    let mut already = start_instances("us-east-1", std::slice::from_ref(&gpu));
    already["detail"]["responseElements"]["instancesSet"]["items"][0]["previousState"] =
        json!({"code": 16, "name": "running"});
    let s = tripwire.handle(&Invocation::new(&already)).await.unwrap();
    assert_eq!(s.action, "quiet", "{s:?}");
    assert_eq!(state(&env, "us-east-1", &gpu).await, "running");
    assert!(protected(&env, "us-east-1", &gpu).await);
    assert!(env.received().await.is_empty());

    // Stopped before, started by someone not trusted: the stop is tried, the
    // owner's stop protection is left on, and the alert says what to do.
    let s = tripwire
        .handle(&Invocation::new(&start_instances(
            "us-east-1",
            std::slice::from_ref(&gpu),
        )))
        .await
        .unwrap();
    assert!(s.stopped.is_empty(), "{s:?}");
    assert!(
        protected(&env, "us-east-1", &gpu).await,
        "protection removed"
    );
    assert_eq!(state(&env, "us-east-1", &gpu).await, "running");
    let m = env.one_message().await;
    assert!(
        m.body
            .contains("cost-guard turns it off only on what the event itself launched or what carries its stamp"),
        "{}",
        m.body
    );

    // With cost-guard's stamp on it, the protection goes and it stops.
    env.ec2("us-east-1")
        .create_tags()
        .resources(&gpu)
        .tags(
            Tag::builder()
                .key(STOPPED_AT_TAG)
                .value("2026-12-01T00:00:00Z")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let s = tripwire
        .handle(&Invocation::new(&start_instances(
            "us-east-1",
            std::slice::from_ref(&gpu),
        )))
        .await
        .unwrap();
    assert_eq!(s.stopped, std::slice::from_ref(&gpu));
    assert!(!protected(&env, "us-east-1", &gpu).await);
    assert_eq!(state(&env, "us-east-1", &gpu).await, "stopped");
    env.one_message().await;
}

/// The stack's own resume role is trusted by its unique id. A role that
/// merely carries a trusted-sounding name (the member role's, in an account
/// where none exists) is not: a stolen key with iam:CreateRole could make it.
#[tokio::test]
async fn only_the_stacks_own_resume_role_is_trusted_by_its_unique_id() {
    let env = Env::start().await;
    let resume_id = role(&env, "cost-guard-ResumeRole-1A2B3C").await;
    let fake_id = role(&env, "cost-guard-member").await;
    let tripwire = env.tripwire(&[("TRIPWIRE_RESUME_ROLE_ID", &resume_id)]);
    let gpu = run(&env, "us-east-1", 2, "p3.8xlarge", false, &[]).await;

    // resume starts a GPU instance it had stopped: the owner's, left running.
    let started = start_instances("us-east-1", &gpu[..1]);
    let by_resume = as_role(
        started.clone(),
        "123456789012",
        "cost-guard-ResumeRole-1A2B3C",
        &resume_id,
    );
    let s = tripwire.handle(&Invocation::new(&by_resume)).await.unwrap();
    assert!(s.stopped.is_empty(), "{s:?}");
    assert_eq!(state(&env, "us-east-1", &gpu[0]).await, "running");
    let m = env.one_message().await;
    assert!(
        m.body.contains("a session of cost-guard's resume role"),
        "{}",
        m.body
    );

    // The same start by a role named like the member role: stopped.
    let by_fake = as_role(
        start_instances("us-east-1", &gpu[1..]),
        "123456789012",
        "cost-guard-member",
        &fake_id,
    );
    let s = tripwire.handle(&Invocation::new(&by_fake)).await.unwrap();
    assert_eq!(s.stopped, &gpu[1..]);
    assert_eq!(state(&env, "us-east-1", &gpu[1]).await, "stopped");
    env.one_message().await;

    // resume's name with another id (deleted and made anew): stopped too.
    let again = as_role(
        started,
        "123456789012",
        "cost-guard-ResumeRole-1A2B3C",
        &fake_id,
    );
    let s = tripwire.handle(&Invocation::new(&again)).await.unwrap();
    assert_eq!(s.stopped, &gpu[..1]);
    env.one_message().await;
}

/// An untrusted fleet with nothing running yet: an URGENT alert once, the
/// fleet marked, and the invocation failed so Lambda's retries look again.
/// What the fleet launches later is stopped like the request's own, through
/// EC2's event or CloudTrail's record of the fleet's launch; the owner's
/// fleets are left alone.
#[tokio::test]
async fn a_fleet_with_nothing_running_is_watched_and_what_it_launches_later_is_stopped() {
    let env = Env::start().await;
    let mut fleets = Vec::new();
    for name in ["miner", "render"] {
        fleets.push(empty_fleet(&env, "eu-west-1", name, "g5.12xlarge").await);
    }
    let (hijacker, owners) = (&fleets[0], &fleets[1]);
    let tripwire = env.tripwire(&[]);
    let mut created = emulator::sample_event("tripwire-create-fleet-maintain.json").unwrap();
    created["detail"]["responseElements"]["CreateFleetResponse"]["fleetId"] = json!(hijacker);

    let err = tripwire
        .handle(&Invocation::new(&created))
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::Incomplete { .. }), "{err}");
    let m = env.one_message().await;
    assert!(
        m.subject.starts_with(
            "URGENT: cost-guard: 4 x g5.12xlarge asked for in eu-west-1 by user/ci-deployer"
        ),
        "{}",
        m.subject
    );
    assert!(
        m.body.contains("The invocation fails on purpose"),
        "{}",
        m.body
    );
    let mark = mark(&env, "eu-west-1", hijacker).await.unwrap_or_default();
    assert!(mark.ends_with("user/ci-deployer"), "{mark:?}");
    // Lambda's retry of the same event: still nothing, no second alert.
    let err = tripwire
        .handle(&Invocation::new(&created))
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::Incomplete { .. }), "{err}");
    assert!(env.received().await.is_empty());

    // Later, the fleet launches: EC2's own event about it.
    let later = run(
        &env,
        "eu-west-1",
        2,
        "g5.12xlarge",
        true,
        &[("aws:ec2:fleet-id", hijacker)],
    )
    .await;
    let mut changed = emulator::sample_event("tripwire-spot-fleet-launched.json").unwrap();
    changed["source"] = json!("aws.ec2fleet");
    changed["detail-type"] = json!("EC2 Fleet Instance Change");
    changed["region"] = json!("eu-west-1");
    changed["resources"] = json!([format!(
        "arn:aws:ec2:eu-west-1:123456789012:fleet/{hijacker}"
    )]);
    changed["detail"]["instance-id"] = json!(later[0]);
    let s = tripwire.handle(&Invocation::new(&changed)).await.unwrap();
    assert_eq!(s.stopped, &later[..1]);
    let row = env.row("eu-west-1", &later[0]).await;
    assert_eq!(row.state, "stopped");
    assert_eq!(row.tag(STOPPED_BY_TAG), Some("tripwire:CreateFleet"));
    assert!(!protected(&env, "eu-west-1", &later[0]).await);
    let m = env.one_message().await;
    assert!(
        m.body.contains(&format!(
            "because launched for {hijacker}, which user/ci-deployer (not trusted) asked for"
        )),
        "{}",
        m.body
    );

    // And CloudTrail's record of the same kind of launch, by the fleet's
    // service-linked role: stopped too.
    let mut by_fleet = run_instances("eu-west-1", &later[1..], "g5.12xlarge");
    by_fleet = as_role(
        by_fleet,
        "123456789012",
        "AWSServiceRoleForEC2Fleet",
        "AROAEC2FLEETSERVICE01",
    );
    by_fleet["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = json!(
        "arn:aws:iam::123456789012:role/aws-service-role/ec2fleet.amazonaws.com/AWSServiceRoleForEC2Fleet"
    );
    let s = tripwire.handle(&Invocation::new(&by_fleet)).await.unwrap();
    assert_eq!(s.stopped, &later[1..]);
    env.one_message().await;

    // EC2 reports a launch its describe does not know yet: Lambda tries
    // again, nobody is told yet.
    let mut unknown = changed.clone();
    unknown["detail"]["instance-id"] = json!("i-0123456789abcdef0");
    let err = tripwire
        .handle(&Invocation::new(&unknown))
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::Incomplete { .. }), "{err}");
    assert!(env.received().await.is_empty());

    // The owner's fleet, never remembered: its launches run on, even with a
    // tag that reads like a mark (anyone may tag; only the guard's own
    // table counts).
    env.ec2("eu-west-1")
        .create_tags()
        .resources(owners)
        .tags(
            Tag::builder()
                .key("cost-guard:untrusted-request")
                .value("forged user/someone")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mine = run(
        &env,
        "eu-west-1",
        1,
        "g5.12xlarge",
        false,
        &[("aws:ec2:fleet-id", owners)],
    )
    .await;
    changed["resources"] = json!([format!("arn:aws:ec2:eu-west-1:123456789012:fleet/{owners}")]);
    changed["detail"]["instance-id"] = json!(mine[0]);
    let s = tripwire.handle(&Invocation::new(&changed)).await.unwrap();
    assert_eq!(s.action, "quiet", "{s:?}");
    assert_eq!(state(&env, "eu-west-1", &mine[0]).await, "running");
    assert!(env.received().await.is_empty());

    // An untrusted fleet that asks for nothing costly (its launch template
    // holds the types, or it is changed later) is remembered all the same,
    // and what it launches later is judged when it runs.
    let mut cheap = created.clone();
    cheap["detail"]["eventID"] = json!("e5f6a7b8-c9d0-4e1f-8a2b-3c4d5e6f7a8b");
    cheap["detail"]["requestParameters"]["CreateFleetRequest"]["LaunchTemplateConfigs"]
        ["Overrides"]["InstanceType"] = json!("t3.micro");
    cheap["detail"]["responseElements"]["CreateFleetResponse"]["fleetId"] = json!(owners);
    let s = tripwire.handle(&Invocation::new(&cheap)).await.unwrap();
    assert_eq!(s.action, "quiet", "{s:?}");
    let costly = run(
        &env,
        "eu-west-1",
        1,
        "p4d.24xlarge",
        false,
        &[("aws:ec2:fleet-id", owners)],
    )
    .await;
    changed["detail"]["instance-id"] = json!(costly[0]);
    let s = tripwire.handle(&Invocation::new(&changed)).await.unwrap();
    assert_eq!(s.stopped, costly, "{s:?}");
    env.one_message().await;
}

/// A one-time spot instance cannot be stopped, only terminated, and
/// cost-guard terminates nothing: it is reported, URGENT, with the commands.
#[tokio::test]
async fn a_one_time_spot_instance_is_reported_with_the_commands_never_stopped() {
    let env = Env::start().await;
    let (request, instance, v) = spot_request(&env, 1, "one-time").await;
    let s = env
        .tripwire(&[])
        .handle(&Invocation::new(&v))
        .await
        .unwrap();
    assert!(s.stopped.is_empty(), "{s:?}");
    assert_eq!(state(&env, "us-west-2", &instance).await, "running");
    let m = env.one_message().await;
    assert!(
        m.subject.starts_with("URGENT: cost-guard could NOT stop"),
        "{}",
        m.subject
    );
    assert!(
        m.body.contains(&format!(
            "aws ec2 cancel-spot-instance-requests --region us-west-2 --spot-instance-request-ids {request} && aws ec2 terminate-instances --region us-west-2 --instance-ids {instance}"
        )),
        "{}",
        m.body
    );
    // The same spot instance launched by RunInstances with spot market
    // options: its answer names the instance with its spot request.
    let mut run = run_instances(
        "us-west-2",
        std::slice::from_ref(&instance),
        "g4dn.12xlarge",
    );
    run["detail"]["responseElements"]["instancesSet"]["items"][0]["spotInstanceRequestId"] =
        json!(request);
    run["detail"]["responseElements"]["instancesSet"]["items"][0]["instanceLifecycle"] =
        json!("spot");
    let s = env
        .tripwire(&[])
        .handle(&Invocation::new(&run))
        .await
        .unwrap();
    assert!(s.stopped.is_empty(), "{s:?}");
    assert_eq!(state(&env, "us-west-2", &instance).await, "running");
    assert!(env
        .one_message()
        .await
        .body
        .contains("is a one-time spot instance"));
}

/// The quarantine never lands on a role a service used for someone (every
/// deployment through CloudFormation's service role, say), nor on a principal
/// of another account than the one acted in.
#[tokio::test]
async fn the_quarantine_spares_a_services_role_and_another_accounts_principal() {
    let env = Env::start().await;
    let iam = aws_sdk_iam::Client::new(&env.sdk);
    let deploy = role(&env, "cfn-deploy").await;
    iam.create_user()
        .user_name("ci-deployer")
        .send()
        .await
        .unwrap();
    let tripwire = env.tripwire(&[("TRIPWIRE_QUARANTINE", "on")]);

    let gpu = run(&env, "us-east-1", 1, "p3.2xlarge", false, &[]).await;
    let mut v = as_role(
        run_instances("us-east-1", &gpu, "p3.2xlarge"),
        "123456789012",
        "cfn-deploy",
        &deploy,
    );
    v["detail"]["userIdentity"]["invokedBy"] = json!("cloudformation.amazonaws.com");
    let s = tripwire.handle(&Invocation::new(&v)).await.unwrap();
    assert_eq!(s.stopped, gpu, "the launch still stops");
    assert!(attached(&iam, "role", "cfn-deploy").await.is_empty());
    let m = env.one_message().await;
    assert!(
        m.body.contains("Not quarantined: cloudformation.amazonaws.com made the call for assumed-role/cfn-deploy/cost-guard"),
        "{}",
        m.body
    );
    assert!(
        m.body
            .contains("aws cloudtrail lookup-events --region us-east-1 --lookup-attributes AttributeKey=EventSource,AttributeValue=cloudformation.amazonaws.com"),
        "{}",
        m.body
    );

    // A user of another account, named like one here.
    let more = run(&env, "us-east-1", 1, "p3.2xlarge", false, &[]).await;
    let mut v = run_instances("us-east-1", &more, "p3.2xlarge");
    v["detail"]["userIdentity"]["arn"] = json!("arn:aws:iam::222222222222:user/ci-deployer");
    v["detail"]["userIdentity"]["accountId"] = json!("222222222222");
    let s = tripwire.handle(&Invocation::new(&v)).await.unwrap();
    assert_eq!(s.stopped, more);
    assert!(attached(&iam, "user", "ci-deployer").await.is_empty());
    assert!(env
        .one_message()
        .await
        .body
        .contains("belongs to account 222222222222"));
}

/// With ACCOUNTS=self, an event from another account (a shared event bus)
/// changes nothing here, even when an instance of the same id exists.
#[tokio::test]
async fn an_event_from_an_account_the_guard_does_not_cover_changes_nothing() {
    let env = Env::start().await;
    let iam = aws_sdk_iam::Client::new(&env.sdk);
    iam.create_user()
        .user_name("ci-deployer")
        .send()
        .await
        .unwrap();
    let gpu = run(&env, "sa-east-1", 1, "p3.2xlarge", false, &[]).await;
    let tripwire = env.tripwire(&[("TRIPWIRE_QUARANTINE", "on")]);
    let foreign = emulator::in_account(
        run_instances("sa-east-1", &gpu, "p3.2xlarge"),
        "222222222222",
    );
    let s = tripwire.handle(&Invocation::new(&foreign)).await.unwrap();
    assert_eq!(s.action, "ignored", "{s:?}");
    assert!(
        s.why
            .as_deref()
            .is_some_and(|w| w.contains("222222222222") && w.contains("ACCOUNTS=self")),
        "{s:?}"
    );
    assert_eq!(state(&env, "sa-east-1", &gpu[0]).await, "running");
    assert!(attached(&iam, "user", "ci-deployer").await.is_empty());
    // A finding from there, and an event that names no account: the same.
    let mut finding = emulator::sample_event("guardduty-crypto-finding.json").unwrap();
    finding["detail"]["resource"]["instanceDetails"]["instanceId"] = json!(gpu[0]);
    finding["region"] = json!("sa-east-1");
    finding["detail"]["region"] = json!("sa-east-1");
    finding["detail"]["accountId"] = json!("222222222222");
    finding["account"] = json!("222222222222");
    assert_eq!(
        tripwire
            .handle(&Invocation::new(&finding))
            .await
            .unwrap()
            .action,
        "ignored"
    );
    let mut nameless = run_instances("sa-east-1", &gpu, "p3.2xlarge");
    nameless.as_object_mut().unwrap().remove("account");
    nameless["detail"]
        .as_object_mut()
        .unwrap()
        .remove("recipientAccountId");
    assert_eq!(
        tripwire
            .handle(&Invocation::new(&nameless))
            .await
            .unwrap()
            .action,
        "ignored"
    );
    assert_eq!(state(&env, "sa-east-1", &gpu[0]).await, "running");
    assert!(env.received().await.is_empty());
}

/// A stolen key opens a region where no forwarder listens: an URGENT alert
/// that names the region and gives the forwarder's command; a trusted
/// principal gets a plain one.
#[tokio::test]
async fn enabling_a_region_is_reported_with_the_forwarder_command() {
    let env = Env::start().await;
    let enabled = emulator::sample_event("tripwire-enable-region.json").unwrap();
    let s = env
        .tripwire(&[])
        .handle(&Invocation::new(&enabled))
        .await
        .unwrap();
    assert_eq!((s.action.as_str(), s.urgent), ("alerted", true));
    let m = env.one_message().await;
    assert_eq!(
        m.subject,
        "URGENT: cost-guard: user/ci-deployer enabled region ap-east-1"
    );
    assert!(
        m.body.contains("aws cloudformation create-stack --region ap-east-1 --stack-name cost-guard-forwarder --template-body file://forwarder.yaml --capabilities CAPABILITY_IAM --parameters ParameterKey=TargetRegion,ParameterValue=us-east-1"),
        "{}",
        m.body
    );
    let trusted = env.tripwire(&[(
        "TRIPWIRE_TRUSTED_PRINCIPALS",
        "arn:aws:iam::123456789012:user/ci-deployer",
    )]);
    let s = trusted.handle(&Invocation::new(&enabled)).await.unwrap();
    assert_eq!((s.action.as_str(), s.urgent), ("alerted", false));
    assert!(env
        .one_message()
        .await
        .body
        .contains("Deploy the forwarder in ap-east-1"));
}

/// Anyone who may tag can add the exempt tag to a miner or take a stamp off:
/// an URGENT alert names the resource, the keys and the principal; the
/// guard's own roles write these tags all the time, quietly.
#[tokio::test]
async fn writes_of_the_guards_tags_are_reported_unless_the_guard_made_them() {
    let env = Env::start().await;
    let sweep_id = role(&env, "cost-guard-SweepRole-9Z8Y").await;
    let tripwire = env.tripwire(&[("TRIPWIRE_GUARD_ROLE_IDS", &sweep_id)]);
    let s = tripwire
        .handle(&Invocation::new(
            &emulator::sample_event("tripwire-exempt-tag-added.json").unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!((s.action.as_str(), s.urgent), ("alerted", true), "{s:?}");
    let m = env.one_message().await;
    assert_eq!(
        m.subject,
        "URGENT: cost-guard: user/ci-deployer wrote cost-guard-exempt in sa-east-1"
    );
    for want in [
        "Resources:    i-0d1e2f3a4b5c60009",
        "Wrote:        cost-guard-exempt=true",
        "the budget sweep now skips it",
        "aws ec2 delete-tags --region sa-east-1 --resources i-0d1e2f3a4b5c60009 --tags Key=cost-guard-exempt",
        "aws iam update-access-key --user-name ci-deployer",
    ] {
        assert!(m.body.contains(want), "missing {want:?} in\n{}", m.body);
    }
    let s = tripwire
        .handle(&Invocation::new(
            &emulator::sample_event("tripwire-stamp-removed.json").unwrap(),
        ))
        .await
        .unwrap();
    assert!(s.urgent);
    assert!(env
        .one_message()
        .await
        .body
        .contains("Removed:      cost-guard:stopped-at, cost-guard:stopped-by"));
    // The sweep's own stamp: nothing sent.
    let stamped = as_role(
        emulator::sample_event("tripwire-exempt-tag-added.json").unwrap(),
        "123456789012",
        "cost-guard-SweepRole-9Z8Y",
        &sweep_id,
    );
    assert_eq!(
        tripwire
            .handle(&Invocation::new(&stamped))
            .await
            .unwrap()
            .action,
        "quiet"
    );
    assert!(env.received().await.is_empty());
}

/// The same for groups, services, notebooks, Redshift clusters and node
/// groups: each write or removal of cost-guard's keys by a principal not
/// trusted is URGENT, with the command of that service that takes the tags
/// off again; an EKS write of other keys (every EKS write reaches the
/// function) is quiet.
#[tokio::test]
async fn writes_of_the_guards_tags_on_the_other_kinds_are_reported() {
    let env = Env::start().await;
    let tripwire = env.tripwire(&[]);
    for (file, subject, want) in [
        (
            "tripwire-group-exempt-tag-added.json",
            "wrote cost-guard-exempt in eu-west-1",
            r#"aws autoscaling delete-tags --region eu-west-1 --tags '[{"ResourceId":"render-farm","ResourceType":"auto-scaling-group","Key":"cost-guard-exempt"}]'"#,
        ),
        (
            "tripwire-group-stamp-removed.json",
            "removed cost-guard:stopped-at, cost-guard:stopped-by in eu-west-1",
            "Resources:    web",
        ),
        (
            "tripwire-service-saved-tag-written.json",
            "wrote cost-guard:saved in eu-west-1",
            "aws ecs untag-resource --region eu-west-1 --resource-arn arn:aws:ecs:eu-west-1:123456789012:service/prod/api --tag-keys cost-guard:saved",
        ),
        (
            "tripwire-service-stamp-removed.json",
            "removed cost-guard:stopped-at, cost-guard:stopped-by in eu-west-1",
            "a start of it is no longer stopped for the stamp",
        ),
        (
            "tripwire-notebook-stamp-written.json",
            "wrote cost-guard:stopped-at, cost-guard:stopped-by in eu-west-1",
            "aws sagemaker delete-tags --region eu-west-1 --resource-arn arn:aws:sagemaker:eu-west-1:123456789012:notebook-instance/thesis --tag-keys cost-guard:stopped-at cost-guard:stopped-by",
        ),
        (
            "tripwire-redshift-exempt-tag-added.json",
            "wrote cost-guard-exempt in eu-west-1",
            "aws redshift delete-tags --region eu-west-1 --resource-name arn:aws:redshift:eu-west-1:123456789012:cluster:dw --tag-keys cost-guard-exempt",
        ),
        (
            "tripwire-node-group-saved-tag-written.json",
            "wrote cost-guard:saved in eu-west-1",
            "cost-guard seals what it writes there, so resume refuses this one",
        ),
    ] {
        let s = tripwire
            .handle(&Invocation::new(&emulator::sample_event(file).unwrap()))
            .await
            .unwrap();
        assert_eq!((s.action.as_str(), s.urgent), ("alerted", true), "{file}: {s:?}");
        let m = env.one_message().await;
        // Subjects are cut to 100 characters, with "...".
        let full = format!("URGENT: cost-guard: assumed-role/contractor/dev-laptop {subject}");
        let shown = m.subject.trim_end_matches("...");
        assert!(
            full.starts_with(shown) && shown.len() >= 80.min(full.len()),
            "{file}: {} is not {full}",
            m.subject
        );
        assert!(m.body.contains(want), "{file}: missing {want:?} in\n{}", m.body);
    }
    let mut other = emulator::sample_event("tripwire-node-group-saved-tag-written.json").unwrap();
    other["detail"]["requestParameters"]["tags"] = json!({"team": "ml"});
    let s = tripwire.handle(&Invocation::new(&other)).await.unwrap();
    assert_eq!(s.action, "quiet", "{s:?}");
    assert!(env.received().await.is_empty());
}

/// A request that cannot be remembered would let what it launches later run:
/// the stop still happens, the alert says so, and the invocation fails so
/// that Lambda tries again.
#[tokio::test]
async fn a_request_that_cannot_be_remembered_fails_the_invocation() {
    use testkit::{Fault, FaultRule};
    let env = Env::start().await;
    let (_, instance, v) = spot_request(&env, 1, "persistent").await;
    let (proxy, sdk) = env.proxied().await;
    let tripwire = LaunchTripwire::new(env.config(&[]), &sdk);
    proxy.inject(FaultRule::always("us-east-1", Fault::Status(500)).on_action("PutItem"));
    let err = tripwire.handle(&Invocation::new(&v)).await.unwrap_err();
    assert!(
        matches!(&err, HandlerError::Incomplete { detail, .. } if detail.contains("could not be remembered")),
        "{err}"
    );
    assert_eq!(state(&env, "us-west-2", &instance).await, "stopped");
    let m = env.one_message().await;
    assert!(
        m.body.contains("Could NOT remember the requests"),
        "{}",
        m.body
    );
}

/// A dry run remembers no request, though it says what it would stop; the
/// same request without it is remembered.
#[tokio::test]
async fn a_dry_run_remembers_no_request() {
    let env = Env::start().await;
    let dry = env.tripwire(&[("DRY_RUN", "true")]);
    let (request, _, v) = spot_request(&env, 1, "persistent").await;
    dry.handle(&Invocation::new(&v)).await.unwrap();
    assert_eq!(mark(&env, "us-west-2", &request).await, None);
    env.one_message().await;
    // The same request without the dry run: remembered.
    env.tripwire(&[])
        .handle(&Invocation::new(&v))
        .await
        .unwrap();
    assert!(mark(&env, "us-west-2", &request).await.is_some());
    env.one_message().await;
}

/// Requests the tripwire could not remember fail the invocation whatever
/// its verdict, so that Lambda tries again: with TRIPWIRE_ACTION=alert, and
/// for an untrusted fleet that asks for nothing costly yet (quiet, but what
/// it launches later is judged only if it is remembered).
#[tokio::test]
async fn requests_an_alert_or_a_quiet_verdict_could_not_remember_fail_the_invocation() {
    use testkit::{Fault, FaultRule};
    let env = Env::start().await;
    let (request, instance, v) = spot_request(&env, 1, "persistent").await;
    let fleet = empty_fleet(&env, "eu-west-1", "web", "t3.micro").await;
    let mut cheap = emulator::sample_event("tripwire-create-fleet-maintain.json").unwrap();
    cheap["detail"]["requestParameters"]["CreateFleetRequest"]["LaunchTemplateConfigs"]
        ["Overrides"]["InstanceType"] = json!("t3.micro");
    cheap["detail"]["responseElements"]["CreateFleetResponse"]["fleetId"] = json!(fleet);
    let (proxy, sdk) = env.proxied().await;
    let config = |vars: &[(&str, &str)]| env.config(vars);
    let alert_only = LaunchTripwire::new(config(&[("TRIPWIRE_ACTION", "alert")]), &sdk);
    let tripwire = LaunchTripwire::new(config(&[]), &sdk);
    let remembered_nothing = |err: &HandlerError| matches!(err, HandlerError::Incomplete { detail, .. } if detail.contains("could not be remembered"));
    // The marks table is in the function's own region.
    proxy.inject(FaultRule::always("us-east-1", Fault::Status(500)).on_action("PutItem"));

    let err = alert_only.handle(&Invocation::new(&v)).await.unwrap_err();
    assert!(remembered_nothing(&err), "{err}");
    assert_eq!(state(&env, "us-west-2", &instance).await, "running");
    let m = env.one_message().await;
    assert!(m.subject.starts_with("URGENT"), "{}", m.subject);
    // The alert says why the invocation fails.
    assert!(
        m.body.contains("Could NOT remember the requests ("),
        "{}",
        m.body
    );

    let err = tripwire.handle(&Invocation::new(&cheap)).await.unwrap_err();
    assert!(remembered_nothing(&err), "{err}");
    assert!(
        env.received().await.is_empty(),
        "a quiet verdict tells no one"
    );

    proxy.clear_faults();
    let s = tripwire.handle(&Invocation::new(&cheap)).await.unwrap();
    assert_eq!(s.action, "quiet", "{s:?}");
    assert!(mark(&env, "eu-west-1", &fleet).await.is_some());
    alert_only.handle(&Invocation::new(&v)).await.unwrap();
    assert!(mark(&env, "us-west-2", &request).await.is_some());
    env.received().await;
}

/// When EC2 cannot say what an event is about: a GuardDuty crypto-mining
/// finding is told at once, URGENT; a start by the stack's own resume role
/// is not (it is trusted), and both invocations fail so that Lambda retries.
#[tokio::test]
async fn when_ec2_cannot_answer_a_finding_is_told_and_a_trusted_start_is_not() {
    use testkit::{Fault, FaultRule};
    let env = Env::start().await;
    let resume_id = role(&env, "cost-guard-ResumeRole-1A2B3C").await;
    let gpu = run(&env, "us-east-1", 1, "p3.2xlarge", false, &[]).await;
    let (proxy, sdk) = env.proxied().await;
    let tripwire =
        LaunchTripwire::new(env.config(&[("TRIPWIRE_RESUME_ROLE_ID", &resume_id)]), &sdk);
    for region in ["us-east-1", "eu-west-1"] {
        proxy.inject(FaultRule::always(region, Fault::Status(500)).on_action("DescribeInstances"));
    }

    let by_resume = as_role(
        start_instances("us-east-1", &gpu),
        "123456789012",
        "cost-guard-ResumeRole-1A2B3C",
        &resume_id,
    );
    let err = tripwire
        .handle(&Invocation::new(&by_resume))
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::Incomplete { .. }), "{err}");
    assert!(env.received().await.is_empty(), "resume's own start");

    let finding = emulator::sample_event("guardduty-crypto-finding.json").unwrap();
    let err = tripwire
        .handle(&Invocation::new(&finding))
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::Incomplete { .. }), "{err}");
    let m = env.one_message().await;
    assert!(m.subject.starts_with("URGENT"), "{}", m.subject);

    // A finding that does not mean abuse (a port probe from outside) is
    // told without asking EC2, which cannot answer.
    let asked = proxy.attempts("eu-west-1", "DescribeInstances");
    let mut probe = finding.clone();
    probe["detail"]["type"] = json!("Recon:EC2/PortProbeUnprotectedPort");
    let s = tripwire
        .handle(&Invocation::new(&probe))
        .await
        .expect("told, not retried");
    assert_eq!(s.action, "alerted", "{s:?}");
    assert!(s.notified);
    env.one_message().await;
    assert_eq!(proxy.attempts("eu-west-1", "DescribeInstances"), asked);
}

/// A fleet the tripwire never remembered (the owner's) launches a costly
/// instance: it is not even looked at, so an EC2 that cannot answer costs
/// the owner no URGENT alert.
#[tokio::test]
async fn the_owners_fleet_launches_are_not_looked_at() {
    use testkit::{Fault, FaultRule};
    let env = Env::start().await;
    let (proxy, sdk) = env.proxied().await;
    let tripwire = LaunchTripwire::new(env.config(&[]), &sdk);
    proxy.inject(FaultRule::always("us-west-2", Fault::Status(500)).on_action("DescribeInstances"));
    let launched = emulator::sample_event("tripwire-spot-fleet-launched.json").unwrap();
    let s = tripwire.handle(&Invocation::new(&launched)).await.unwrap();
    assert_eq!(s.action, "quiet", "{s:?}");
    assert!(env.received().await.is_empty());
    assert_eq!(proxy.attempts("us-west-2", "DescribeInstances"), 0);
}

/// The one `invocation finished` log line holds what the tripwire decided
/// and did, also when the invocation fails on purpose: a dry run's wait for
/// a fleet, and an alert whose spot request is remembered.
#[tokio::test]
async fn the_log_line_holds_a_waits_and_an_alerts_outcome() {
    let logs = Captured::start();
    let env = Env::start().await;
    let fleet = empty_fleet(&env, "eu-west-1", "miner", "g5.12xlarge").await;
    let mut created = emulator::sample_event("tripwire-create-fleet-maintain.json").unwrap();
    created["detail"]["responseElements"]["CreateFleetResponse"]["fleetId"] = json!(fleet);
    let dry = env.tripwire(&[("DRY_RUN", "true")]);
    dry.run(&Invocation::new(&created)).await.unwrap_err();
    let (outcome, report) = logs.finished().pop().expect("the line");
    assert_eq!(outcome["action"], "alerted", "{outcome}");
    assert!(
        outcome["why"]
            .as_str()
            .is_some_and(|w| w.starts_with("nothing is running yet")),
        "{outcome}"
    );
    assert_eq!(report["dry_run"], true, "{report}");
    env.received().await;

    let (request, _, v) = spot_request(&env, 1, "persistent").await;
    let alert_only = env.tripwire(&[("TRIPWIRE_ACTION", "alert")]);
    alert_only.run(&Invocation::new(&v)).await.unwrap();
    let (outcome, report) = logs.finished().pop().expect("the line");
    assert_eq!(outcome["action"], "alerted", "{outcome}");
    assert_eq!(report["marked"], json!([request]), "{report}");
    env.received().await;
}
