//! The kinds beyond EC2 and RDS, end to end against the emulator: a budget
//! alert stops Auto Scaling groups, ECS services (with and without a
//! scaling target), SageMaker notebooks and Redshift clusters in several
//! regions, reports SageMaker endpoints it cannot stop, leaves exempt ones
//! alone; resume brings each back exactly as it was.

use serde_json::json;

use crate::harness::{Env, STOP};
use guard::handlers::{Function, Invocation};
use guard::{STOPPED_AT_TAG, STOPPED_BY_TAG};

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const EXEMPT: &[(&str, &str)] = &[("cost-guard", "stop"), ("cost-guard-exempt", "")];
const SAVED: &str = "cost-guard:saved";
const RESUMING: &str = "cost-guard:resuming";

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
            web.tag(SAVED),
            Some("ours=Launch+Terminate+HealthCheck+ReplaceUnhealthy+AZRebalance+AlarmNotification+ScheduledActions+InstanceRefresh min=1 desired=2 max=4")
        );
        assert_eq!(row("kept").await.state, "active");

        let api = row("api").await;
        assert_eq!(api.state, "desired 0");
        assert_eq!(api.tag(SAVED), Some("desired=3 min=1 max=6 suspended=none"));
        assert!(api.tag(STOPPED_AT_TAG).is_some());
        assert_eq!(
            emulator::scaling_target(&env.sdk, region, "prod", "api")
                .await
                .unwrap(),
            Some((0, 6, [true, true, true])),
            "min 0, max kept, scaling suspended"
        );
        assert_eq!(row("worker").await.tag(SAVED), Some("desired=2"));
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
