//! The `cost-guard` command line, run as a process.

use std::process::Command;

use crate::harness::{Env, STOP};

fn cost_guard() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cost-guard"))
}

#[tokio::test]
async fn plan_prints_a_table_per_region_and_changes_nothing() {
    let env = Env::start().await;
    let stop = env.launch("us-east-1", 2, "batch", STOP).await;
    let exempt = env
        .launch(
            "eu-west-1",
            1,
            "prod",
            &[("cost-guard", "stop"), ("cost-guard-exempt", "1")],
        )
        .await;
    let untagged = env.launch("eu-west-1", 1, "web", &[]).await;
    emulator::create_notebook(&env.sdk, "eu-west-1", "thesis", "ml.p3.2xlarge", STOP)
        .await
        .unwrap();
    let before = env.fleet(&["us-east-1", "eu-west-1"]).await;

    let out = cost_guard()
        .arg("plan")
        .env("AWS_ENDPOINT_URL", &env.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("REGIONS", "us-east-1,eu-west-1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("us-east-1\nACTION  KIND"), "{text}");
    // A row, whatever the columns' widths.
    let row = |words: &str| {
        text.lines().any(|l| {
            l.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .starts_with(words)
        })
    };
    for id in &stop {
        assert!(row(&format!("stop EC2 instance {id}")), "{text}");
    }
    assert!(row(&format!("skip EC2 instance {}", exempt[0])), "{text}");
    assert!(!text.contains(&untagged[0]), "{text}");
    assert!(
        row("stop SageMaker notebook instance thesis - ml.p3.2xlarge"),
        "{text}"
    );
    assert!(
        text.contains("Would stop 3 resources, skip 1, in 2 regions swept."),
        "{text}"
    );
    assert_eq!(env.fleet(&["us-east-1", "eu-west-1"]).await, before);

    // KINDS leaves the other kinds out.
    let out = cost_guard()
        .arg("plan")
        .env("AWS_ENDPOINT_URL", &env.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("REGIONS", "us-east-1,eu-west-1")
        .env("KINDS", "ec2-instances")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("thesis"), "{text}");
    assert!(
        text.contains("Would stop 2 resources, skip 1, in 2 regions swept."),
        "{text}"
    );

    // A bad setting is refused with its name and what it accepts.
    let refused = |name: &str, value: &str| {
        let out = cost_guard().arg("plan").env(name, value).output().unwrap();
        assert!(!out.status.success(), "{name}={value} was accepted");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = refused("SELECTION", "everything");
    assert!(err.contains("SELECTION=\"everything\" is not valid: expected `tagged` (default) or `all-except-exempt`"), "{err}");
    let err = refused("KINDS", "ec2,eks");
    assert!(
        err.contains("KINDS=\"ec2,eks\" is not valid: expected `all` (every kind but the opt-in eks-node-groups) or a comma list of: all, ec2-instances, auto-scaling-groups"),
        "{err}"
    );
    let err = refused("ATTEMPT_TIMEOUT_SECONDS", "15s");
    assert!(
        err.contains("ATTEMPT_TIMEOUT_SECONDS=\"15s\" is not valid: expected a whole number of seconds from 1 to 300"),
        "{err}"
    );
}

#[test]
fn demo_runs_end_to_end() {
    let out = cost_guard().arg("demo").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("FLEET BEFORE"));
    assert!(text.contains("Subject: cost-guard stopped 12 resources in 3 regions (budget student-monthly: $1,287.34 > $40.00)"), "{text}");
    assert!(
        text.contains("Subject: cost-guard found nothing left to stop, 12 resources stopped by an earlier run"),
        "{text}"
    );
    assert!(text.contains("Subject: cost-guard received an unrecognised message, nothing stopped"));
    // The hijacker's launch, stopped by the tripwire, exempt tag and all.
    assert!(
        text.contains("Subject: URGENT: cost-guard stopped 4 x p3.2xlarge launched in ap-southeast-2 by user/ci-deployer"),
        "{text}"
    );
    // The same key's Auto Scaling group and ECS service, stopped by the tripwire.
    for made in ["Auto Scaling group render-farm", "ECS service xmr"] {
        assert!(
            text.contains(&format!("Subject: URGENT: cost-guard stopped {made} made in ap-southeast-2 by user/ci-deployer")),
            "{text}"
        );
    }
    // The same key hides a miner with the exempt tag: reported at once.
    assert!(
        text.contains("Subject: URGENT: cost-guard: user/ci-deployer wrote cost-guard-exempt in ap-southeast-2"),
        "{text}"
    );
    // The organization: both member accounts swept through their member role.
    assert!(
        text.contains("Subject: cost-guard stopped 4 resources in 2 accounts, 2 regions (budget student-monthly"),
        "{text}"
    );
    assert!(text.contains("; 6 regions swept in 3 accounts."), "{text}");
    // A member account's launch, stopped there by the tripwire.
    let member_launch = text
        .lines()
        .find(|l| {
            l.starts_with(
                "Subject: URGENT: cost-guard stopped 2 x p3.2xlarge launched in eu-west-1 (",
            )
        })
        .unwrap_or_else(|| panic!("no member-account tripwire alert:\n{text}"));
    assert!(
        member_launch.ends_with(") by user/ci-deployer"),
        "{member_launch}"
    );
    // cost-guard status, and burn-watch stopping the forgotten training run.
    assert!(text.contains("$ cost-guard status"), "{text}");
    assert!(
        text.contains("        thesis-gpu  -  ml.p3.2xlarge  $4.28 an hour\n"),
        "{text}"
    );
    let burn = text
        .lines()
        .find(|l| {
            l.starts_with("Subject: cost-guard stopped 3 resources in 1 region (burning at least $")
        })
        .unwrap_or_else(|| panic!("no burn-watch stop:\n{text}"));
    assert!(burn.ends_with(" an hour > $5.00 limit)"), "{burn}");
    assert!(
        text.contains("    What it stopped was burning $9.18 an hour.\n"),
        "{text}"
    );
    let after = text.split("FLEET AFTER").nth(1).unwrap();
    assert_eq!(
        after.matches("stopped-by=burn:over-5-usd-per-hour").count(),
        3,
        "{after}"
    );
    // What the budget stopped (instances and databases), the hijacker's 4
    // instances and the 3 of its group, the 3 burn-watch stopped.
    assert_eq!(after.matches(" stopped ").count(), 21, "{after}");
    assert_eq!(
        after
            .matches("stopped-by=tripwire:CreateAutoScalingGroup")
            .count(),
        4,
        "the group and its 3 instances:\n{after}"
    );
    assert!(
        after.lines().any(|l| l.contains("ecs-service")
            && l.contains("xmr")
            && l.contains("desired 0")
            && l.contains("stopped-by=tripwire:CreateService")),
        "{after}"
    );
    assert_eq!(
        after.matches("stopped-by=budget:student-monthly").count(),
        12,
        "{after}"
    );
    // The forgotten GPU notebook, stopped by the budget alert.
    assert!(
        after.lines().any(|l| l.contains("notebook")
            && l.contains("thesis-gpu")
            && l.contains("Stopped")
            && l.contains("stopped-by=budget:student-monthly")),
        "{after}"
    );
    let hijack: Vec<&str> = after
        .lines()
        .filter(|l| l.contains("render-farm-"))
        .collect();
    assert_eq!(hijack.len(), 4, "{after}");
    assert!(
        hijack
            .iter()
            .all(|l| l.contains(" stopped ") && l.contains("stopped-by=tripwire:RunInstances")),
        "{after}"
    );
    // The exempt production API, one per region, still runs.
    let prod: Vec<&str> = after.lines().filter(|l| l.contains("prod-api-")).collect();
    assert_eq!(prod.len(), 3, "{after}");
    assert!(prod.iter().all(|l| l.contains("running")), "{after}");
}

#[test]
fn unknown_command_prints_usage() {
    let out = cost_guard().arg("destroy").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unrecognized subcommand 'destroy'"), "{err}");
    assert!(err.contains("Usage: cost-guard <COMMAND>"), "{err}");
}

/// `cost-guard resume` without `--stopped-by` leaves what the launch tripwire
/// stopped (an untrusted principal's launch) and names it; with the trigger
/// named, it starts it.
#[tokio::test]
async fn resume_leaves_what_the_tripwire_stopped_until_it_is_named() {
    let env = Env::start().await;
    let budget = env
        .launch(
            "us-east-1",
            1,
            "batch",
            &[
                ("cost-guard:stopped-at", "2026-12-01T03:00:00Z"),
                ("cost-guard:stopped-by", "budget:monthly"),
            ],
        )
        .await;
    let miner = env
        .launch(
            "us-east-1",
            1,
            "render",
            &[
                ("cost-guard:stopped-at", "2026-12-01T03:13:02Z"),
                ("cost-guard:stopped-by", "tripwire:RunInstances"),
            ],
        )
        .await;
    let ec2 = env.ec2("us-east-1");
    ec2.stop_instances()
        .instance_ids(&budget[0])
        .instance_ids(&miner[0])
        .send()
        .await
        .unwrap();
    let resume = |args: &[&str]| {
        let out = cost_guard()
            .arg("resume")
            .args(args)
            .env("AWS_ENDPOINT_URL", &env.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("REGIONS", "us-east-1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let text = resume(&["--yes"]);
    assert!(text.contains(&budget[0]), "{text}");
    assert!(
        text.contains("stopped by the launch tripwire (tripwire:RunInstances)"),
        "{text}"
    );
    assert_eq!(env.row("us-east-1", &budget[0]).await.state, "running");
    assert_eq!(env.row("us-east-1", &miner[0]).await.state, "stopped");
    let text = resume(&["--stopped-by", "tripwire:RunInstances", "--yes"]);
    assert!(text.contains(&miner[0]), "{text}");
    assert_eq!(env.row("us-east-1", &miner[0]).await.state, "running");
}
