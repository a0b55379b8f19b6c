//! The kinds beyond EC2 and RDS, end to end against the emulator: a budget
//! alert stops Auto Scaling groups, ECS services (with and without a
//! scaling target), SageMaker notebooks and Redshift clusters in several
//! regions, reports SageMaker endpoints it cannot stop, leaves exempt ones
//! alone; resume brings each back exactly as it was.

use serde_json::json;

use crate::harness::{Env, STOP};
use guard::handlers::launch_tripwire::LaunchTripwire;
use guard::handlers::{Function, Invocation};
use guard::{STOPPED_AT_TAG, STOPPED_BY_TAG};

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const EXEMPT: &[(&str, &str)] = &[("cost-guard", "stop"), ("cost-guard-exempt", "")];
const SAVED: &str = "cost-guard:saved";
const RESUMING: &str = "cost-guard:resuming";

/// The saved state on `row`, without the stop's time and the seal, once
/// both are checked to be there: `at=` and unix seconds, `mac=` and the 32
/// bytes of an HMAC-SHA-256, in hexadecimal.
fn sealed(row: &emulator::FleetRow) -> Option<&str> {
    let value = row.tag(SAVED)?;
    let (pairs, mac) = value
        .rsplit_once(" mac=")
        .unwrap_or_else(|| panic!("{} has an unsealed saved state: {value}", row.id));
    assert!(
        mac.len() == 64 && mac.bytes().all(|b| b.is_ascii_hexdigit()),
        "{}: {value}",
        row.id
    );
    let (pairs, at) = pairs
        .rsplit_once(" at=")
        .unwrap_or_else(|| panic!("{} has no stop time: {value}", row.id));
    assert!(
        at.parse::<i64>().is_ok_and(|t| t > 1_700_000_000),
        "{value}"
    );
    Some(pairs)
}

/// Seeds every kind in every test region; returns the groups' instances.
async fn seed(env: &Env) -> Vec<(&'static str, &'static str, Vec<String>)> {
    let sdk = &env.sdk;
    let mut groups = Vec::new();
    for region in REGIONS {
        let web = emulator::create_group(sdk, region, "web", 2, "c5.large", STOP)
            .await
            .unwrap();
        let kept = emulator::create_group(sdk, region, "kept", 1, "c5.large", EXEMPT)
            .await
            .unwrap();
        assert_eq!(
            (web.len(), kept.len()),
            (2, 1),
            "the emulator launched the groups"
        );
        groups.push((region, "web", web));
        groups.push((region, "kept", kept));
        emulator::create_service(sdk, region, "prod", "api", 3, STOP, Some((1, 6)))
            .await
            .unwrap();
        emulator::create_service(sdk, region, "prod", "worker", 2, STOP, None)
            .await
            .unwrap();
        emulator::create_service(sdk, region, "prod", "pinned", 1, EXEMPT, None)
            .await
            .unwrap();
        emulator::create_notebook(sdk, region, "thesis", "ml.p3.2xlarge", STOP)
            .await
            .unwrap();
        emulator::create_notebook(sdk, region, "kept-nb", "ml.t3.medium", EXEMPT)
            .await
            .unwrap();
        emulator::create_endpoint(sdk, region, "llm", "ml.g4dn.xlarge", 2, STOP)
            .await
            .unwrap();
        emulator::create_redshift(sdk, region, "dw", STOP)
            .await
            .unwrap();
    }
    groups
}

#[tokio::test]
async fn without_groups_in_kinds_a_groups_instances_are_never_stopped_alone() {
    // KINDS leaves groups out: their instances stay, with the reason, since
    // stopping them alone would only make the group launch replacements.
    let env = Env::start().await;
    let web = emulator::create_group(&env.sdk, "us-east-1", "web", 2, "c5.large", STOP)
        .await
        .unwrap();
    let alone = env.launch("us-east-1", 1, "alone", STOP).await;
    let guard = env.guard(&[("REGIONS", "us-east-1"), ("KINDS", "ec2-instances")]);
    let summary = env
        .invoke(&guard, "budget-actual.json")
        .await
        .expect("clean sweep");
    assert_eq!(summary.stopped, 1, "{summary:?}");
    assert_eq!(env.row("us-east-1", &alone[0]).await.state, "stopped");
    for id in &web {
        assert_eq!(env.row("us-east-1", id).await.state, "running", "{id}");
    }
    assert_eq!(env.row("us-east-1", "web").await.state, "active");
    let m = env.one_message().await;
    assert!(
        m.body.contains("member of Auto Scaling group web: stopping it alone would only make the group launch a replacement; add auto-scaling-groups to KINDS"),
        "{}",
        m.body
    );
}

#[tokio::test]
async fn a_budget_alert_stops_every_kind_in_every_region_and_resume_restores_each_exactly() {
    let env = Env::start().await;
    let groups = seed(&env).await;
    let before = env.fleet(&REGIONS).await;
    let guard = env.guard(&[("REGIONS", &REGIONS.join(","))]);
    let summary = env
        .invoke(&guard, "budget-actual.json")
        .await
        .expect("clean sweep");
    // Per region: the group web, services api and worker, notebook thesis,
    // cluster dw.
    assert_eq!(summary.stopped, 10, "{summary:?}");

    for region in REGIONS {
        let env = &env;
        let row = |id: &'static str| env.row(region, id);
        let web = row("web").await;
        assert_eq!(web.state, "suspended", "{web:?}");
        assert_eq!(web.name, "min 1 desired 2 max 4", "sizes untouched");
        assert_eq!(web.tag(STOPPED_BY_TAG), Some("budget:student-monthly"));
        assert_eq!(
            sealed(&web),
            Some("ours=Launch+Terminate+HealthCheck+ReplaceUnhealthy+AZRebalance+AlarmNotification+ScheduledActions+InstanceRefresh min=1 desired=2 max=4")
        );
        assert_eq!(row("kept").await.state, "active");

        let api = row("api").await;
        assert_eq!(api.state, "desired 0");
        assert_eq!(sealed(&api), Some("desired=3 min=1 max=6 suspended=none"));
        assert!(api.tag(STOPPED_AT_TAG).is_some());
        assert_eq!(
            emulator::scaling_target(&env.sdk, region, "prod", "api")
                .await
                .unwrap(),
            Some((0, 6, [true, true, true])),
            "min 0, max kept, scaling suspended"
        );
        assert_eq!(sealed(&row("worker").await), Some("desired=2"));
        assert_eq!(row("worker").await.state, "desired 0");
        assert_eq!(row("pinned").await.state, "desired 1");

        let thesis = row("thesis").await;
        assert_eq!(thesis.state, "Stopped");
        assert_eq!(thesis.tag(STOPPED_BY_TAG), Some("budget:student-monthly"));
        assert_eq!(row("kept-nb").await.state, "InService");
        assert_eq!(
            row("llm").await.state,
            "InService",
            "an endpoint is never deleted"
        );
        let dw = row("dw").await;
        assert_eq!(dw.state, "paused");
        assert_eq!(dw.tag(STOPPED_BY_TAG), Some("budget:student-monthly"));
    }
    for (region, group, ids) in &groups {
        let want = if *group == "kept" {
            "running"
        } else {
            "stopped"
        };
        for id in ids {
            let row = env.row(region, id).await;
            assert_eq!(row.state, want, "{id} of {group} in {region}");
            assert_eq!(row.tag("aws:autoscaling:groupName"), Some(*group));
            let stamp = (*group == "web").then_some("budget:student-monthly");
            assert_eq!(
                row.tag(STOPPED_BY_TAG),
                stamp,
                "{id} stamped with its group"
            );
        }
    }

    let m = env.one_message().await;
    for line in [
        "web  -  2 x c5.large  (Auto Scaling group)",
        "prod/api  -  3 tasks, FARGATE  (ECS service)",
        "prod/pinned  -  1 task, FARGATE  (ECS service): exempt: tagged cost-guard-exempt",
        "thesis  -  ml.p3.2xlarge  (SageMaker notebook instance)",
        "dw  -  2 x ra3.xlplus  (Redshift cluster)",
        "kept  -  1 x c5.large  (Auto Scaling group): exempt: tagged cost-guard-exempt",
        "STILL BILLING: a SageMaker endpoint cannot be stopped",
        "2 x ml.g4dn.xlarge, about $1.47 an hour",
        "aws sagemaker delete-endpoint --region eu-west-1 --endpoint-name llm",
        "aws redshift resume-cluster --region us-east-1 --cluster-identifier dw",
        "aws sagemaker start-notebook-instance --region eu-west-1 --notebook-instance-name thesis",
    ] {
        assert!(m.body.contains(line), "{line:?} missing from:\n{}", m.body);
    }
    assert!(
        !m.body.contains("member of Auto Scaling group"),
        "members go with their group:\n{}",
        m.body
    );

    let resume = env.resume(&[("REGIONS", &REGIONS.join(","))]);
    let done = resume
        .handle(&Invocation::new(
            &json!({"stopped_by": "budget:student-monthly"}),
        ))
        .await
        .unwrap();
    assert_eq!((done.started, done.failed), (10, 0), "{done:?}");
    let after = env.fleet(&REGIONS).await;
    let stripped = |rows: Vec<emulator::FleetRow>| -> Vec<emulator::FleetRow> {
        rows.into_iter()
            .map(|mut r| {
                for key in [STOPPED_AT_TAG, STOPPED_BY_TAG, SAVED, RESUMING] {
                    assert!(r.tag(key).is_none(), "{} still has {key}: {r:?}", r.id);
                }
                r.tags.sort();
                r
            })
            .collect()
    };
    assert_eq!(stripped(after), stripped(before), "everything is as it was");
    for region in REGIONS {
        assert_eq!(
            emulator::scaling_target(&env.sdk, region, "prod", "api")
                .await
                .unwrap(),
            Some((1, 6, [false, false, false]))
        );
    }
}

#[tokio::test]
async fn the_tripwire_stops_what_an_untrusted_key_made_through_groups_services_notebooks_and_redshift(
) {
    let env = Env::start().await;
    let sdk = &env.sdk;
    let region = "us-west-2";
    // A hijacker's fleet, tagged exempt to no avail.
    let hijacker: &[(&str, &str)] = &[("cost-guard-exempt", "true")];
    // Its group carries a saved state of its maker's, for resume to trust.
    let forged: &[(&str, &str)] = &[
        ("cost-guard-exempt", "true"),
        (SAVED, "ours=Launch min=40 desired=40 max=40"),
    ];
    let miners = emulator::create_group(sdk, region, "render-farm", 3, "p3.2xlarge", forged)
        .await
        .unwrap();
    emulator::create_service(sdk, region, "default", "xmr", 20, hijacker, Some((5, 40)))
        .await
        .unwrap();
    emulator::create_notebook(sdk, region, "gpu-notebook", "ml.p3.2xlarge", hijacker)
        .await
        .unwrap();
    emulator::create_redshift(sdk, region, "warehouse", hijacker)
        .await
        .unwrap();
    // The owner's cheap group, made by the same untrusted key: alerted, kept.
    let web = emulator::create_group(sdk, region, "web", 1, "t3.micro", &[])
        .await
        .unwrap();

    let tripwire = env.tripwire(&[("TRIPWIRE_ECS_MAX_VCPU", "2")]);
    let fire = |name: &'static str, set: Vec<(&'static str, serde_json::Value)>| {
        let event = emulator::call_event(name, region, &set).unwrap();
        let tripwire = &tripwire;
        async move { tripwire.handle(&Invocation::new(&event)).await }
    };

    let s = fire("tripwire-create-auto-scaling-group.json", vec![])
        .await
        .unwrap();
    assert_eq!(
        (s.action.as_str(), s.stopped.as_slice()),
        ("stopped", ["render-farm".to_string()].as_slice()),
        "{s:?}"
    );
    let group = env.row(region, "render-farm").await;
    assert_eq!(group.state, "suspended");
    assert_eq!(
        sealed(&group),
        Some("ours=Launch+Terminate+HealthCheck+ReplaceUnhealthy+AZRebalance+AlarmNotification+ScheduledActions+InstanceRefresh min=1 desired=3 max=6"),
        "what the group was, not its maker's saved state"
    );
    assert_eq!(
        group.tag(STOPPED_BY_TAG),
        Some("tripwire:CreateAutoScalingGroup")
    );
    for id in &miners {
        let row = env.row(region, id).await;
        assert_eq!(row.state, "stopped", "{id}");
        assert_eq!(
            row.tag(STOPPED_BY_TAG),
            Some("tripwire:CreateAutoScalingGroup")
        );
    }
    let m = env.one_message().await;
    assert_eq!(
        m.subject,
        "URGENT: cost-guard stopped Auto Scaling group render-farm made in us-west-2 by user/ci-deployer"
    );
    assert!(m.body.contains("p3.2xlarge is a costly type"), "{}", m.body);
    assert!(
        m.body
            .contains(&format!("3 instance(s) stopped: {}", miners.join(", "))),
        "{}",
        m.body
    );
    assert!(
        m.body.contains("The exempt tag does not protect"),
        "{}",
        m.body
    );
    assert!(
        m.body
            .contains("cost-guard resume --stopped-by tripwire:CreateAutoScalingGroup"),
        "{}",
        m.body
    );

    let s = fire("tripwire-create-service.json", vec![]).await.unwrap();
    assert_eq!(s.action, "stopped", "{s:?}");
    let xmr = env.row(region, "xmr").await;
    assert_eq!(xmr.state, "desired 0");
    assert_eq!(sealed(&xmr), Some("desired=20 min=5 max=40 suspended=none"));
    assert_eq!(xmr.tag(STOPPED_BY_TAG), Some("tripwire:CreateService"));
    assert_eq!(
        emulator::scaling_target(sdk, region, "default", "xmr")
            .await
            .unwrap(),
        Some((0, 40, [true, true, true]))
    );
    assert!(env
        .one_message()
        .await
        .body
        .contains("8 vCPU each, above TRIPWIRE_ECS_MAX_VCPU=2"));

    let s = fire("tripwire-create-notebook.json", vec![]).await.unwrap();
    assert_eq!(s.action, "stopped", "{s:?}");
    let notebook = env.row(region, "gpu-notebook").await;
    assert_eq!(notebook.state, "Stopped");
    assert_eq!(
        notebook.tag(STOPPED_BY_TAG),
        Some("tripwire:CreateNotebookInstance")
    );
    env.one_message().await;

    let s = fire("tripwire-create-redshift-cluster.json", vec![])
        .await
        .unwrap();
    assert_eq!(s.action, "stopped", "{s:?}");
    let warehouse = env.row(region, "warehouse").await;
    assert_eq!(warehouse.state, "paused");
    assert_eq!(
        warehouse.tag(STOPPED_BY_TAG),
        Some("tripwire:CreateCluster")
    );
    env.one_message().await;

    // A cheap group by the same key: an urgent alert, nothing stopped.
    let s = fire(
        "tripwire-create-auto-scaling-group.json",
        vec![("autoScalingGroupName", json!("web"))],
    )
    .await
    .unwrap();
    assert_eq!(s.action, "alerted", "{s:?}");
    assert_eq!(env.row(region, "web").await.state, "active");
    assert_eq!(env.row(region, &web[0]).await.state, "running");
    let m = env.one_message().await;
    assert!(
        m.subject
            .starts_with("URGENT: Auto Scaling group web made in us-west-2"),
        "{}",
        m.subject
    );
    assert!(m.body.contains("nothing was stopped"), "{}", m.body);

    // The same calls by a trusted principal change nothing and say nothing.
    let trusted = env.tripwire(&[(
        "TRIPWIRE_TRUSTED_PRINCIPALS",
        "arn:aws:iam::123456789012:user/ci-*",
    )]);
    emulator::create_group(sdk, region, "batch", 2, "p3.2xlarge", &[])
        .await
        .unwrap();
    let event = emulator::call_event(
        "tripwire-create-auto-scaling-group.json",
        region,
        &[("autoScalingGroupName", json!("batch"))],
    )
    .unwrap();
    let s = trusted.handle(&Invocation::new(&event)).await.unwrap();
    assert_eq!(s.action, "quiet", "{s:?}");
    assert_eq!(env.row(region, "batch").await.state, "active");
    assert!(env.received().await.is_empty());

    // Only a resume that names the tripwire's trigger starts what it stopped.
    let resume = env.resume(&[("REGIONS", region)]);
    let all = resume.handle(&Invocation::new(&json!({}))).await.unwrap();
    assert_eq!(all.started, 0, "{all:?}");
    env.received().await;
    let done = resume
        .handle(&Invocation::new(
            &json!({"stopped_by": "tripwire:CreateAutoScalingGroup"}),
        ))
        .await
        .unwrap();
    assert_eq!((done.started, done.failed), (1, 0), "{done:?}");
    assert_eq!(env.row(region, "render-farm").await.state, "active");
    for id in &miners {
        assert_eq!(env.row(region, id).await.state, "running", "{id}");
    }
    assert_eq!(
        env.row(region, "xmr").await.state,
        "desired 0",
        "another trigger's stop stays"
    );
}

/// EKS node groups are opt-in: a sweep leaves them alone unless `KINDS`
/// names them; then the selected ones go to 0 nodes with their sizes saved
/// (the maximum kept), their Auto Scaling group goes with them, and resume
/// scales each back exactly. moto cannot tag a node group, so the test
/// proxy keeps those tags (see `testkit`).
#[tokio::test]
async fn eks_node_groups_are_scaled_to_zero_only_when_opted_in_and_resume_restores_their_sizes() {
    let env = Env::start().await;
    let (_proxy, sdk) = env.proxied().await;
    let mut nodes = Vec::new();
    for region in REGIONS {
        let asg =
            emulator::create_node_group(&sdk, region, "lab", "gpu", (1, 3, 5), "g5.xlarge", STOP)
                .await
                .unwrap();
        emulator::create_node_group(&sdk, region, "lab", "kept", (1, 2, 4), "t3.large", EXEMPT)
            .await
            .unwrap();
        // The group EKS runs gpu's nodes in, and one that only claims (by
        // its tag) to belong to a node group.
        nodes.push((
            region,
            emulator::create_group(&sdk, region, &asg, 2, "g5.xlarge", STOP)
                .await
                .unwrap(),
        ));
        let claims: &[(&str, &str)] = &[("cost-guard", "stop"), ("eks:nodegroup-name", "gpu")];
        emulator::create_group(&sdk, region, "claims-eks", 1, "c5.large", claims)
            .await
            .unwrap();
    }
    let node_groups = || async {
        let mut rows = emulator::fleet(&sdk, &REGIONS).await.unwrap();
        rows.retain(|r| r.kind == "eks-node-group");
        rows
    };
    let before = node_groups().await;
    assert_eq!(before.len(), 4, "{before:?}");
    let regions = REGIONS.join(",");

    let standard = guard::handlers::stop_on_overspend::StopOnOverspend::new(
        env.config(&[("REGIONS", &regions)]),
        &sdk,
    );
    let s = env.invoke(&standard, "budget-actual.json").await.unwrap();
    assert_eq!(node_groups().await, before, "not covered unless named");
    // The group that only claims a node group is a group like any other.
    assert_eq!(
        s.stopped, 4,
        "claims-eks and gpu's group, per region: {s:?}"
    );
    let m = env.one_message().await;
    assert!(!m.body.contains("EKS node group"), "{}", m.body);
    let resume = guard::handlers::resume::Resume::new(env.config(&[("REGIONS", &regions)]), &sdk);
    let undo = resume.handle(&Invocation::new(&json!({}))).await.unwrap();
    assert_eq!((undo.started, undo.failed), (4, 0), "{undo:?}");
    env.received().await;

    let opted = guard::handlers::stop_on_overspend::StopOnOverspend::new(
        env.config(&[("REGIONS", &regions), ("KINDS", "all,eks-node-groups")]),
        &sdk,
    );
    let s = env.invoke(&opted, "budget-actual.json").await.unwrap();
    assert_eq!(s.stopped, 4, "gpu and claims-eks, per region: {s:?}");
    for (region, ids) in &nodes {
        let rows = emulator::fleet(&sdk, &[region]).await.unwrap();
        let row = |id: &str| rows.iter().find(|r| r.id == id).unwrap().clone();
        let gpu = row("lab/gpu");
        assert_eq!(gpu.name, "min 0 desired 0 max 5", "the maximum is kept");
        assert_eq!(sealed(&gpu), Some("min=1 desired=3 max=5"));
        assert_eq!(gpu.tag(STOPPED_BY_TAG), Some("budget:student-monthly"));
        assert_eq!(row("lab/kept").name, "min 1 desired 2 max 4");
        assert_eq!(row("claims-eks").state, "suspended");
        for id in ids {
            assert_eq!(row(id).state, "running", "{id}: its node group stops it");
        }
    }
    let m = env.one_message().await;
    for line in [
        "lab/gpu  -  3 nodes of g5.xlarge  (EKS node group)",
        "lab/kept  -  2 nodes of t3.large  (EKS node group): exempt: tagged cost-guard-exempt",
        "it runs the nodes of EKS node group lab/gpu, which is stopped as a node group",
        "aws eks update-nodegroup-config --region eu-west-1 --cluster-name lab --nodegroup-name gpu",
    ] {
        assert!(m.body.contains(line), "{line:?} missing from:\n{}", m.body);
    }

    let done = resume
        .handle(&Invocation::new(
            &json!({"stopped_by": "budget:student-monthly"}),
        ))
        .await
        .unwrap();
    assert_eq!((done.started, done.failed), (4, 0), "{done:?}");
    let after: Vec<_> = node_groups()
        .await
        .into_iter()
        .map(|mut r| {
            for key in [STOPPED_AT_TAG, STOPPED_BY_TAG, SAVED, RESUMING] {
                assert!(r.tag(key).is_none(), "{} still has {key}: {r:?}", r.id);
            }
            r.tags.sort();
            r
        })
        .collect();
    assert_eq!(after, before, "every node group is as it was");
}

/// Anyone allowed to tag a service can write its `cost-guard:saved`. A
/// forged count written before the stop is not kept (the stop saves what
/// the service is); one written after, or a sealed value copied from
/// another service, is refused by resume; and without the key resume
/// refuses every saved state, never guesses.
#[tokio::test]
async fn a_forged_or_copied_saved_state_is_never_restored() {
    let env = Env::start().await;
    let sdk = &env.sdk;
    let region = "us-east-1";
    for (name, count) in [("api", 2), ("worker", 3), ("cron", 1), ("batch", 4)] {
        emulator::create_service(sdk, region, "prod", name, count, STOP, None)
            .await
            .unwrap();
    }
    // Written while api runs: a stop that believed it would save 500 tasks.
    emulator::tag_service(sdk, region, "prod", "api", &[(SAVED, "desired=500")])
        .await
        .unwrap();
    let guard = env.guard(&[("REGIONS", region)]);
    let s = env.invoke(&guard, "budget-actual.json").await.unwrap();
    assert_eq!(s.stopped, 4, "{s:?}");
    env.received().await;
    let api = env.row(region, "api").await;
    assert_eq!(
        sealed(&api),
        Some("desired=2"),
        "what api was, not the forged count"
    );

    // After the stop: worker's sealed value copied onto api, a bare count
    // onto cron.
    let copied = env
        .row(region, "worker")
        .await
        .tag(SAVED)
        .unwrap()
        .to_string();
    assert!(copied.starts_with("desired=3 at="), "{copied}");
    emulator::tag_service(sdk, region, "prod", "api", &[(SAVED, &copied)])
        .await
        .unwrap();
    emulator::tag_service(sdk, region, "prod", "cron", &[(SAVED, "desired=400")])
        .await
        .unwrap();
    // batch keeps its genuine seal, but its stamp now names another stop
    // (what a hijacker would do to have the owner's resume start what the
    // tripwire stopped).
    emulator::tag_service(
        sdk,
        region,
        "prod",
        "batch",
        &[(guard::STOPPED_BY_TAG, "budget:another")],
    )
    .await
    .unwrap();

    // Without the key, nothing with a saved state is started.
    let blind = env.resume(&[("REGIONS", region), ("SAVED_STATE_KEY_ARN", "")]);
    let r = blind.handle(&Invocation::new(&json!({}))).await.unwrap();
    assert_eq!(r.started, 0, "{r:?}");
    let m = env.one_message().await;
    assert!(
        m.body.contains("SAVED_STATE_KEY_ARN is not set"),
        "{}",
        m.body
    );

    let resume = env.resume(&[("REGIONS", region)]);
    let r = resume.handle(&Invocation::new(&json!({}))).await.unwrap();
    assert_eq!(r.started, 1, "only worker: {r:?}");
    let m = env.one_message().await;
    for line in [
        "prod/api  -  0 tasks, FARGATE  (ECS service): the seal of its cost-guard:saved tag does not match",
        "prod/batch  -  0 tasks, FARGATE  (ECS service): the seal of its cost-guard:saved tag does not match",
        "its cost-guard:saved tag carries no seal of cost-guard's",
    ] {
        assert!(m.body.contains(line), "{line:?} missing from:\n{}", m.body);
    }
    assert_eq!(env.row(region, "worker").await.state, "desired 3");
    for refused in ["api", "cron", "batch"] {
        let row = env.row(region, refused).await;
        assert_eq!(row.state, "desired 0", "{refused}");
        assert!(
            row.tag(guard::STOPPED_AT_TAG).is_some(),
            "{refused}: refused before its stamp was touched"
        );
    }
}

/// A stop cut short after it saved a service and set it to 0, before its
/// stamp (a Lambda timeout), is finished by the retry of the same alert:
/// the retry keeps the first save (the service is already at 0), seals it
/// again for its own stamp, and resume brings the service back.
#[tokio::test]
async fn a_retried_stop_keeps_the_first_saved_state() {
    let env = Env::start().await;
    let sdk = &env.sdk;
    let region = "us-east-1";
    emulator::create_service(sdk, region, "prod", "api", 3, STOP, None)
        .await
        .unwrap();
    let guard = env.guard(&[("REGIONS", region)]);
    env.invoke(&guard, "budget-actual.json").await.unwrap();
    env.received().await;
    // As if the first invocation had died before its stamp.
    emulator::untag_service(
        sdk,
        region,
        "prod",
        "api",
        &[guard::STOPPED_AT_TAG, guard::STOPPED_BY_TAG],
    )
    .await
    .unwrap();
    let cut_short = env.row(region, "api").await;
    assert_eq!(
        (cut_short.state.as_str(), sealed(&cut_short)),
        ("desired 0", Some("desired=3"))
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let s = env.invoke(&guard, "budget-actual.json").await.unwrap();
    assert_eq!(s.stopped, 1, "the retry finishes the stop: {s:?}");
    env.received().await;
    let retried = env.row(region, "api").await;
    assert_eq!(sealed(&retried), Some("desired=3"), "the first save, kept");
    assert!(retried.tag(guard::STOPPED_AT_TAG).is_some());
    let r = env
        .resume(&[("REGIONS", region)])
        .handle(&Invocation::new(&json!({})))
        .await
        .unwrap();
    assert_eq!((r.started, r.failed), (1, 0), "{r:?}");
    assert_eq!(env.row(region, "api").await.state, "desired 3");
}

/// What the tripwire cannot stop yet, or could not stop, fails the
/// invocation so that Lambda tries again: a notebook still starting (told
/// at once, stopped by the retry once it is in service), and a group whose
/// processes AWS would not suspend, or whose instances would not stop
/// (the retries keep what the first saved).
#[tokio::test]
async fn the_tripwire_retries_a_notebook_still_starting_and_a_group_it_could_not_stop() {
    use guard::handlers::HandlerError;
    use testkit::{Fault, FaultRule};
    let env = Env::start().await;
    let region = "us-west-2";
    emulator::create_notebook(&env.sdk, region, "gpu-notebook", "ml.p3.2xlarge", &[])
        .await
        .unwrap();
    emulator::create_group(&env.sdk, region, "render-farm", 3, "p3.2xlarge", &[])
        .await
        .unwrap();
    emulator::create_group(&env.sdk, region, "idle-farm", 0, "p3.2xlarge", &[])
        .await
        .unwrap();
    let (proxy, sdk) = env.proxied().await;
    let tripwire = LaunchTripwire::new(env.config(&[]), &sdk);
    let fire = |name: &str| {
        let event = emulator::call_event(name, region, &[]).unwrap();
        let tripwire = &tripwire;
        async move { tripwire.handle(&Invocation::new(&event)).await }
    };

    proxy.inject(
        FaultRule::always(
            region,
            Fault::Edit {
                from: "InService".into(),
                to: "Pending".into(),
            },
        )
        .on_action("DescribeNotebookInstance"),
    );
    let err = fire("tripwire-create-notebook.json").await.unwrap_err();
    assert!(
        matches!(&err, HandlerError::Incomplete { detail, .. } if detail.contains("still starting")),
        "{err}"
    );
    let m = env.one_message().await;
    assert!(m.subject.starts_with("URGENT"), "{}", m.subject);
    assert_eq!(env.row(region, "gpu-notebook").await.state, "InService");
    proxy.clear_faults();
    let s = fire("tripwire-create-notebook.json").await.unwrap();
    assert_eq!(s.action, "stopped", "{s:?}");
    assert_eq!(env.row(region, "gpu-notebook").await.state, "Stopped");
    env.received().await;

    // A dry run says what it would do, changes nothing and stops nothing.
    let dry = env.tripwire(&[("DRY_RUN", "true")]);
    let event =
        emulator::call_event("tripwire-create-auto-scaling-group.json", region, &[]).unwrap();
    let s = dry.handle(&Invocation::new(&event)).await.unwrap();
    assert!(s.stopped.is_empty(), "{s:?}");
    assert!(
        s.subject
            .as_deref()
            .unwrap_or_default()
            .contains("[dry run]"),
        "{s:?}"
    );
    assert_eq!(env.row(region, "render-farm").await.state, "active");
    env.one_message().await;

    proxy.inject(FaultRule::always(region, Fault::Status(500)).on_action("SuspendProcesses"));
    let err = fire("tripwire-create-auto-scaling-group.json")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, HandlerError::Incomplete { detail, .. } if detail.contains("render-farm")),
        "{err}"
    );
    assert!(env.one_message().await.subject.starts_with("URGENT"));
    assert_eq!(env.row(region, "render-farm").await.state, "active");

    // The retry suspends its processes, but its instances do not stop; the
    // next retry stops them. What is saved for resume is what the
    // group was before the first stop, not the suspended group a retry
    // finds (whose processes resume would then leave suspended).
    proxy.clear_faults();
    proxy.inject(FaultRule::always(region, Fault::Status(500)).on_action("StopInstances"));
    let err = fire("tripwire-create-auto-scaling-group.json")
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::Incomplete { .. }), "{err}");
    assert_eq!(env.row(region, "render-farm").await.state, "suspended");
    proxy.clear_faults();
    let s = fire("tripwire-create-auto-scaling-group.json")
        .await
        .unwrap();
    assert_eq!(s.stopped, ["render-farm"], "{s:?}");
    assert_eq!(
        sealed(&env.row(region, "render-farm").await),
        Some("ours=Launch+Terminate+HealthCheck+ReplaceUnhealthy+AZRebalance+AlarmNotification+ScheduledActions+InstanceRefresh min=1 desired=3 max=6")
    );
    env.received().await;

    // A costly group with nothing running yet: suspended all the same, and
    // the report says no instance was running.
    let idle = emulator::call_event(
        "tripwire-create-auto-scaling-group.json",
        region,
        &[("autoScalingGroupName", json!("idle-farm"))],
    )
    .unwrap();
    let s = tripwire.handle(&Invocation::new(&idle)).await.unwrap();
    assert_eq!(s.stopped, ["idle-farm"], "{s:?}");
    assert_eq!(env.row(region, "idle-farm").await.state, "suspended");
    let m = env.one_message().await;
    assert!(m.body.contains("no instance was running yet"), "{}", m.body);
}

/// A saved state written on an Auto Scaling group or an EKS node group
/// before the stop (by anyone allowed to tag it) is not what the stop saves
/// or acts on: the stop suspends every process cost-guard suspends and
/// seals each one's own sizes, not the forged "only Launch, sizes of 50".
#[tokio::test]
async fn a_groups_forged_saved_state_is_neither_kept_nor_acted_on() {
    let env = Env::start().await;
    // moto cannot tag a node group: the test proxy keeps those tags.
    let (_proxy, sdk) = env.proxied().await;
    let region = "eu-west-1";
    let forged: &[(&str, &str)] = &[
        ("cost-guard", "stop"),
        (SAVED, "ours=Launch min=50 desired=50 max=50"),
    ];
    emulator::create_group(&env.sdk, region, "farm", 2, "p3.2xlarge", forged)
        .await
        .unwrap();
    let forged: &[(&str, &str)] = &[("cost-guard", "stop"), (SAVED, "min=50 desired=50 max=50")];
    emulator::create_node_group(
        &env.sdk,
        region,
        "lab",
        "gpu",
        (1, 3, 5),
        "g5.xlarge",
        forged,
    )
    .await
    .unwrap();
    let guard = guard::handlers::stop_on_overspend::StopOnOverspend::new(
        env.config(&[("REGIONS", region), ("KINDS", "all,eks-node-groups")]),
        &sdk,
    );
    let s = env.invoke(&guard, "budget-actual.json").await.unwrap();
    assert_eq!(s.stopped, 2, "{s:?}");
    env.received().await;
    let farm = env.row(region, "farm").await;
    assert_eq!(
        sealed(&farm),
        Some("ours=Launch+Terminate+HealthCheck+ReplaceUnhealthy+AZRebalance+AlarmNotification+ScheduledActions+InstanceRefresh min=1 desired=2 max=4")
    );
    let rows = emulator::fleet(&sdk, &[region]).await.unwrap();
    let gpu = rows.iter().find(|r| r.id == "lab/gpu").unwrap();
    assert_eq!(gpu.name, "min 0 desired 0 max 5");
    assert_eq!(sealed(gpu), Some("min=1 desired=3 max=5"));

    // After the stop, the node group's saved state replaced by a bare one
    // within its limits: resume refuses it (it carries no seal), and leaves
    // the node group as the stop left it.
    emulator::tag_node_group(
        &sdk,
        region,
        "lab",
        "gpu",
        &[(SAVED, "min=5 desired=5 max=5")],
    )
    .await
    .unwrap();
    let resume = guard::handlers::resume::Resume::new(
        env.config(&[("REGIONS", region), ("KINDS", "all,eks-node-groups")]),
        &sdk,
    );
    resume.handle(&Invocation::new(&json!({}))).await.unwrap();
    let m = env.one_message().await;
    assert!(
        m.body
            .contains("its cost-guard:saved tag carries no seal of cost-guard's"),
        "{}",
        m.body
    );
    let rows = emulator::fleet(&sdk, &[region]).await.unwrap();
    let gpu = rows.iter().find(|r| r.id == "lab/gpu").unwrap();
    assert_eq!(gpu.name, "min 0 desired 0 max 5");
}

/// Tasks an untrusted key ran outside any service are stopped, each, and the
/// report names them; a processing job it started is stopped with
/// SageMaker's call for processing jobs.
#[tokio::test]
async fn the_tripwire_stops_the_tasks_and_the_processing_job_an_untrusted_key_started() {
    let env = Env::start().await;
    let region = "us-east-1";
    let tasks = emulator::run_tasks(&env.sdk, region, "default", "xmr", 2)
        .await
        .unwrap();
    assert_eq!(tasks.len(), 2);
    emulator::create_processing_job(&env.sdk, region, "etl", "ml.g5.12xlarge")
        .await
        .unwrap();
    let tripwire = env.tripwire(&[("TRIPWIRE_ECS_MAX_VCPU", "2")]);

    let mut ran = emulator::call_event("tripwire-run-task.json", region, &[]).unwrap();
    for (i, arn) in tasks.iter().enumerate() {
        ran["detail"]["responseElements"]["tasks"][i]["taskArn"] = json!(arn);
    }
    let s = tripwire.handle(&Invocation::new(&ran)).await.unwrap();
    assert_eq!(s.action, "stopped", "{s:?}");
    assert_eq!(
        emulator::task_statuses(&env.sdk, region, "default", &tasks)
            .await
            .unwrap(),
        ["STOPPED", "STOPPED"]
    );
    let ids: Vec<&str> = tasks.iter().filter_map(|t| t.rsplit('/').next()).collect();
    let m = env.one_message().await;
    assert!(
        m.body
            .contains(&format!("2 task(s) stopped: {}", ids.join(", "))),
        "{}",
        m.body
    );

    let started = emulator::call_event("tripwire-create-processing-job.json", region, &[]).unwrap();
    let s = tripwire.handle(&Invocation::new(&started)).await.unwrap();
    assert_eq!(s.action, "stopped", "{s:?}");
    assert_eq!(
        emulator::processing_job_status(&env.sdk, region, "etl")
            .await
            .unwrap(),
        "Stopped"
    );
    env.one_message().await;
}

/// A halt that gets no answer before the Lambda deadline fails the
/// invocation, so that Lambda tries the event again, and still tells
/// subscribers what was made.
#[tokio::test]
async fn a_halt_that_never_answers_fails_the_invocation_for_a_retry() {
    use std::time::{Duration, SystemTime};
    use testkit::{Fault, FaultRule};
    let env = Env::start().await;
    let region = "us-west-2";
    emulator::create_group(&env.sdk, region, "render-farm", 2, "p3.2xlarge", &[])
        .await
        .unwrap();
    let (proxy, sdk) = env.proxied().await;
    let tripwire = LaunchTripwire::new(env.config(&[]), &sdk);
    proxy.inject(
        FaultRule::always(region, Fault::Slow(Duration::from_secs(120)))
            .on_action("SuspendProcesses"),
    );
    let event =
        emulator::call_event("tripwire-create-auto-scaling-group.json", region, &[]).unwrap();
    let deadline = SystemTime::now() + Duration::from_secs(12);
    let err = tripwire
        .handle(&Invocation::new(&event).deadline(Some(deadline)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, guard::handlers::HandlerError::Incomplete { detail, .. }
            if detail.contains("no answer before the Lambda deadline")),
        "{err}"
    );
    assert!(SystemTime::now() < deadline, "the deadline passed first");
    let m = env.one_message().await;
    assert!(m.subject.starts_with("URGENT"), "{}", m.subject);
    assert!(m.body.contains("render-farm"), "{}", m.body);
    assert!(
        m.body
            .contains("Could NOT stop all of it: no answer before the Lambda deadline"),
        "{}",
        m.body
    );
}

/// A refused call (a stolen key probing its limits) is told, not urgent,
/// and nothing is read for it: what it tried to make does not exist, and
/// looking for it would only fail the invocation.
#[tokio::test]
async fn a_refused_create_is_told_without_looking_for_what_it_tried_to_make() {
    let env = Env::start().await;
    let region = "us-west-2";
    let tripwire = env.tripwire(&[]);
    let mut event = emulator::call_event("tripwire-create-notebook.json", region, &[]).unwrap();
    event["detail"]["errorCode"] = json!("AccessDeniedException");
    event["detail"]["errorMessage"] =
        json!("not authorized to perform sagemaker:CreateNotebookInstance");
    event["detail"]["responseElements"] = serde_json::Value::Null;
    let s = tripwire
        .handle(&Invocation::new(&event))
        .await
        .expect("told, not retried");
    assert_eq!((s.action.as_str(), s.urgent), ("alerted", false), "{s:?}");
    let m = env.one_message().await;
    assert!(
        m.body
            .contains("refused calls are how a stolen key probes its limits"),
        "{}",
        m.body
    );
}
