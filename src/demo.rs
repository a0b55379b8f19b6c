//! `cost-guard demo`: the real stop-on-overspend function against a local
//! emulator, seeded with a fleet in several regions and fed the sample events;
//! then launch-tripwire stopping a hijacker's GPU launch.

use std::collections::HashMap;

use cost_guard::table;
use emulator::Moto;
use guard::domain::config::{
    LaunchTripwireConfig, Selection, SelectionConfig, Settings, StopOnOverspendConfig,
};
use guard::handlers::launch_tripwire::LaunchTripwire;
use guard::handlers::stop_on_overspend::StopOnOverspend;
use guard::handlers::{Function, Invocation};

use crate::Result;

/// The fleet the demo seeds: per region, what it launches.
const DEMO_REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];

/// Runs the demo: seeds the fleet, feeds stop-on-overspend the sample events
/// one by one, and prints what subscribers received and the fleet before and after.
pub async fn run(dry_run: bool) -> Result<()> {
    println!("Starting a local AWS emulator (moto server)...");
    let moto = Moto::start()?;
    println!("Emulator at {}\n", moto.endpoint);
    let sdk = moto.sdk_config().await;

    let stop = [("cost-guard", "stop")];
    for (i, region) in DEMO_REGIONS.iter().enumerate() {
        emulator::launch(
            &sdk,
            region,
            2 + i,
            "g4dn.xlarge",
            &format!("gpu-miner-{region}"),
            &stop,
        )
        .await?;
        emulator::launch(
            &sdk,
            region,
            1,
            "t3.small",
            &format!("website-{region}"),
            &[],
        )
        .await?;
        emulator::launch(
            &sdk,
            region,
            1,
            "t3.micro",
            &format!("ci-runner-{region}"),
            &[("cost-guard", "keep")],
        )
        .await?;
        emulator::launch(
            &sdk,
            region,
            1,
            "m5.large",
            &format!("prod-api-{region}"),
            &[("cost-guard", "stop"), ("cost-guard-exempt", "true")],
        )
        .await?;
    }
    emulator::create_db(&sdk, "us-east-1", "analytics-db", &stop).await?;
    emulator::create_db(&sdk, "us-east-1", "prod-db", &[]).await?;
    emulator::create_aurora(
        &sdk,
        "eu-west-1",
        "reporting-aurora",
        "reporting-aurora-1",
        &stop,
    )
    .await?;
    // A student's GPU notebook, forgotten after the deadline.
    emulator::create_notebook(&sdk, "eu-west-1", "thesis-gpu", "ml.p3.2xlarge", &stop).await?;
    let (topic, inbox) = emulator::notify_topic(&sdk, "cost-guard-notify").await?;
    // Month-to-date spend for the "Where the money went" section.
    if let Some(period) =
        guard::domain::spend::month_to_date_period(time::OffsetDateTime::now_utc().date())
    {
        emulator::set_cost_by_service(
            &moto,
            &period.start_text(),
            &period.end_text(),
            "UnblendedCost",
            emulator::SAMPLE_COSTS,
        )?;
    }

    let select = SelectionConfig {
        selection: Selection::Tagged {
            key: "cost-guard".into(),
            value: Some("stop".into()),
        },
        exempt_tag_key: "cost-guard-exempt".into(),
    };
    println!("FLEET BEFORE (seeded in {})", DEMO_REGIONS.join(", "));
    print_fleet(&sdk, &select).await?;

    // AWS's Price List API is not in the emulator: a stand-in answers it.
    let prices = emulator::PriceList::start().await?;
    println!(
        "\n{}\n$ cost-guard status   (what runs now and what it costs; prices from the Price List stand-in)\n",
        "=".repeat(78)
    );
    status(&sdk, &prices).await?;

    let key = emulator::saved_state_key(&sdk).await?;
    let vars: HashMap<String, String> = [
        ("NOTIFY_TOPIC_ARN", topic.as_str()),
        ("SAVED_STATE_KEY_ARN", key.as_str()),
        ("REGIONS", "all"),
        ("DRY_RUN", if dry_run { "true" } else { "false" }),
        // What the template sets for a stack named cost-guard.
        ("RESUME_FUNCTION_NAME", "cost-guard-resume"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = StopOnOverspendConfig::from_map(&vars)?;
    println!(
        "\nConfiguration: SELECTION=tagged STOP_TAG_KEY=cost-guard STOP_TAG_VALUE=stop REGIONS=all DRY_RUN={dry_run}"
    );
    let function = StopOnOverspend::new(config, &sdk);

    let steps = [
        ("alarm-billing-ok.json", "a billing alarm returns to OK"),
        (
            "budget-forecasted.json",
            "AWS Budgets forecasts the budget will be passed",
        ),
        ("anomaly.json", "Cost Anomaly Detection reports an anomaly"),
        (
            "unrecognised.json",
            "something else is published to the trigger topic",
        ),
        (
            "budget-actual.json",
            "AWS Budgets: actual spend passed the threshold",
        ),
        (
            "budget-actual.json",
            "the same notification delivered a second time",
        ),
    ];
    for (file, what) in steps {
        println!("\n{}\nEVENT events/{file}: {what}", "=".repeat(78));
        let event = emulator::sample_event(file)?;
        let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        let invocation = Invocation::new(&event).deadline(Some(deadline));
        match function.handle_alert(&invocation).await {
            Ok(summary) => println!(
                "Function returned: acted={} stopped={} skipped={} failed={} regions swept={}",
                summary.acted,
                summary.stopped,
                summary.skipped,
                summary.failed,
                summary.regions_swept
            ),
            Err(e) => println!("Function returned an error (Lambda would retry): {e}"),
        }
        print_received(&inbox).await?;
    }

    // The launch tripwire: no billing data, the launch itself.
    let region = "ap-southeast-2";
    println!(
        "\n{}\nLAUNCH TRIPWIRE: a leaked access key of IAM user ci-deployer launches 4 x p3.2xlarge in {region},\ntagged cost-guard-exempt=true; CloudTrail reports the RunInstances call to EventBridge\n(events/tripwire-run-instances.json with the emulator's instance ids)",
        "=".repeat(78)
    );
    let hijack = emulator::launch(
        &sdk,
        region,
        4,
        "p3.2xlarge",
        "render-farm",
        &[("cost-guard-exempt", "true")],
    )
    .await?;
    println!("Configuration: TRIPWIRE_* defaults (costly types p*, g*, ..., nobody trusted, action stop)");
    let marks = emulator::marks_table(&sdk).await?;
    let mut tripwire_vars = vars.clone();
    tripwire_vars.insert("TRIPWIRE_MARKS_TABLE".into(), marks.to_string());
    let tripwire = LaunchTripwire::new(LaunchTripwireConfig::from_map(&tripwire_vars)?, &sdk);
    let event =
        emulator::launch_event("tripwire-run-instances.json", region, &hijack, "p3.2xlarge")?;
    trip(&tripwire, &event).await;
    print_received(&inbox).await?;

    // The same key hides a cheaper miner from the next budget sweep.
    println!(
        "\n{}\nLAUNCH TRIPWIRE: the same key tags a t3.xlarge it launched cost-guard-exempt=true, so that a\nbudget sweep would skip it; CloudTrail reports the CreateTags call\n(events/tripwire-exempt-tag-added.json with the emulator's instance id)",
        "=".repeat(78)
    );
    let hidden = emulator::launch(&sdk, region, 1, "t3.xlarge", "scraper", &[]).await?;
    emulator::tag(&sdk, region, &hidden, &[("cost-guard-exempt", "true")]).await?;
    let mut event = emulator::sample_event("tripwire-exempt-tag-added.json")?;
    event["region"] = serde_json::json!(region);
    event["detail"]["awsRegion"] = serde_json::json!(region);
    event["detail"]["requestParameters"]["resourcesSet"] =
        serde_json::json!({"items": [{"resourceId": hidden[0]}]});
    trip(&tripwire, &event).await;
    print_received(&inbox).await?;

    // The same key tries the ways around an instance tripwire: an Auto
    // Scaling group and an ECS service.
    println!(
        "\n{}\nLAUNCH TRIPWIRE: the same key makes an Auto Scaling group of 3 x p3.2xlarge and an ECS service of\n10 Fargate tasks of 8 vCPU in {region}, both tagged cost-guard-exempt=true; CloudTrail reports\nCreateAutoScalingGroup and CreateService (events/tripwire-create-auto-scaling-group.json and\nevents/tripwire-create-service.json, moved to {region})",
        "=".repeat(78)
    );
    let exempt = [("cost-guard-exempt", "true")];
    emulator::create_group(&sdk, region, "render-farm", 3, "p3.2xlarge", &exempt).await?;
    emulator::create_service(&sdk, region, "default", "xmr", 10, &exempt, None).await?;
    for name in [
        "tripwire-create-auto-scaling-group.json",
        "tripwire-create-service.json",
    ] {
        trip(&tripwire, &emulator::call_event(name, region, &[])?).await;
        print_received(&inbox).await?;
    }

    burn_watch(&sdk, &vars, &inbox, &prices).await?;
    organization(&sdk, &vars, &inbox).await?;

    println!("\n{}\nFLEET AFTER (the demo's own account)", "=".repeat(78));
    print_fleet(&sdk, &select).await?;
    doctor(&sdk).await?;
    println!("\nThe emulator stops with this command; nothing outside this machine was touched.");
    Ok(())
}

/// What `cost-guard status` prints, in every region of the demo.
async fn status(sdk: &aws_types::SdkConfig, prices: &emulator::PriceList) -> Result<()> {
    use guard::domain::config::{AccountsConfig, RegionScope};
    let regions = RegionScope::List(DEMO_REGIONS.iter().map(|r| r.to_string()).collect());
    let book = guard::aws::pricing::PriceBook::new(prices.client(sdk));
    let (burn, notes) = guard::aws::fleet::Fleet::direct(&AccountsConfig::default(), &regions, sdk)
        .burn(&book, std::time::Duration::from_secs(60))
        .await
        .map_err(|e| e.to_string())?;
    print!(
        "{}",
        indent(&guard::domain::render::status::status_text(
            &burn,
            &notes,
            time::OffsetDateTime::now_utc()
        ))
    );
    Ok(())
}

/// burn-watch: a forgotten GPU job tagged for the guard, caught by the
/// burn rate on the next check, with no billing data at all.
async fn burn_watch(
    sdk: &aws_types::SdkConfig,
    vars: &HashMap<String, String>,
    inbox: &emulator::Inbox,
    prices: &emulator::PriceList,
) -> Result<()> {
    use guard::domain::config::BurnWatchConfig;
    use guard::handlers::burn_watch::BurnWatch;
    println!(
        "\n{}\nBURN RATE: a student starts 3 x p3.2xlarge in us-east-1 for a training run, tagged cost-guard=stop,\nand forgets them. No budget has seen a cent of it yet. burn-watch checks every 15 minutes\n(BURN_LIMIT_USD_PER_HOUR=5, BURN_WARN_USD_PER_HOUR=1).",
        "=".repeat(78)
    );
    emulator::launch(
        sdk,
        "us-east-1",
        3,
        "p3.2xlarge",
        "training",
        &[("cost-guard", "stop")],
    )
    .await?;
    status(sdk, prices).await?;
    let table = emulator::state_table(sdk, "cost-guard-BurnWatchState").await?;
    let mut burn_vars = vars.clone();
    burn_vars.insert("REGIONS".into(), DEMO_REGIONS.join(","));
    for (k, v) in [
        ("BURN_LIMIT_USD_PER_HOUR", "5"),
        ("BURN_WARN_USD_PER_HOUR", "1"),
        ("BURN_STATE_TABLE", table.as_str()),
    ] {
        burn_vars.insert(k.into(), v.into());
    }
    let fleet = guard::aws::fleet::Fleet::direct(
        &Default::default(),
        &guard::domain::config::RegionScope::List(
            DEMO_REGIONS.iter().map(|r| r.to_string()).collect(),
        ),
        sdk,
    );
    let config = BurnWatchConfig::from_map(&burn_vars)?;
    let watch = BurnWatch::with_parts(
        fleet.with_kinds(&config.sweep.kinds),
        sdk,
        prices.client(sdk),
        config,
    );
    let event = emulator::sample_event("scheduled.json")?;
    for round in ["the next check", "the check after that"] {
        println!("\nburn-watch, {round}:");
        let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        match watch
            .handle(&Invocation::new(&event).deadline(Some(deadline)))
            .await
        {
            Ok(s) => println!(
                "Function returned: burning {} an hour, stopped {}, told subscribers: {}",
                s.per_hour_usd.fine(),
                s.stopped,
                s.notified
            ),
            Err(e) => println!("Function returned an error (Lambda would retry): {e}"),
        }
        print_received(inbox).await?;
    }
    Ok(())
}

/// `cost-guard doctor` against a stand-in for the deployed stack: a
/// budget, a trail and the forwarder everywhere but in one region, and an
/// email nobody confirmed; then the fix of one failure, and the check again.
async fn doctor(sdk: &aws_types::SdkConfig) -> Result<()> {
    use guard::domain::doctor::checklist;
    use guard::domain::render::doctor::{text, Scope};
    const STACK: &str = "cost-guard";
    let deployed = emulator::deployed_stack(sdk, STACK, &[("MonthlyBudgetUsd", "20")]).await?;
    emulator::trail(sdk, "management-events", true, true).await?;
    let home = emulator::HOME_REGION;
    let regions = emulator::enabled_regions(sdk).await?;
    let forgotten = "ap-south-1";
    for r in regions.iter().filter(|r| *r != home && *r != forgotten) {
        emulator::forwarder(sdk, r, home, emulator::ACCOUNT).await?;
        emulator::guardduty(sdk, r).await?;
    }
    emulator::guardduty(sdk, home).await?;
    println!(
        "\n{}\nCOST-GUARD DOCTOR: is every piece in place? A stand-in for the deployed stack (CloudFormation, with\nMonthlyBudgetUsd=20), a multi-region trail, the forwarder and GuardDuty in every region but {forgotten}, and\nno subscription yet (the emulator's root user never has MFA)",
        "=".repeat(78)
    );
    let scope = Scope {
        stack: STACK.into(),
        region: home.into(),
        account: emulator::ACCOUNT.into(),
    };
    let before = checklist(&guard::aws::doctor::read(sdk, STACK).await, STACK);
    print!("{}", indent(&text(&scope, &before)));
    println!("\nThe fix the subscription check names: subscribe (an emulated email is confirmed at once)");
    emulator::subscribe(sdk, &deployed.notify_topic, "email", "owner@example.com").await?;
    let after = checklist(&guard::aws::doctor::read(sdk, STACK).await, STACK);
    let changed: Vec<_> = after
        .iter()
        .filter(|c| !before.contains(c))
        .cloned()
        .collect();
    println!("cost-guard doctor again, the checks that changed:");
    print!("{}", indent(&text(&scope, &changed)));
    Ok(())
}

/// Every account of an organization: the emulator's account becomes the
/// management account of two member accounts, each with a GPU miner in two
/// regions, and the same budget alert sweeps all three accounts; then a
/// launch in a member account is stopped there by the tripwire.
async fn organization(
    sdk: &aws_types::SdkConfig,
    vars: &HashMap<String, String>,
    inbox: &emulator::Inbox,
) -> Result<()> {
    println!(
        "\n{}\nORGANIZATION: this account becomes the management account of team-a and team-b,\neach running a tagged GPU miner in us-east-1 and eu-west-1; the member role is assumed\nin each (the emulator needs no member.yaml); the same budget alert arrives",
        "=".repeat(78)
    );
    let members = emulator::organization(sdk, &["team-a", "team-b"]).await?;
    for id in &members {
        let member = emulator::member_sdk(sdk, id).await?;
        for region in ["us-east-1", "eu-west-1"] {
            emulator::launch(
                &member,
                region,
                1,
                "g5.xlarge",
                "gpu-miner",
                &[("cost-guard", "stop")],
            )
            .await?;
            emulator::launch(&member, region, 1, "t3.small", "website", &[]).await?;
        }
    }
    let mut vars = vars.clone();
    vars.insert("ACCOUNTS".into(), "organization".into());
    vars.insert("ORG_SCOPE".into(), "all".into());
    vars.insert("REGIONS".into(), "us-east-1,eu-west-1".into());
    println!("Configuration: ACCOUNTS=organization ORG_SCOPE=all REGIONS=us-east-1,eu-west-1");
    let function = StopOnOverspend::new(StopOnOverspendConfig::from_map(&vars)?, sdk);
    let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(120);
    let event = emulator::sample_event("budget-actual.json")?;
    let invocation = Invocation::new(&event).deadline(Some(deadline));
    match function.handle_alert(&invocation).await {
        Ok(summary) => println!(
            "Function returned: acted={} stopped={} regions swept={}",
            summary.acted, summary.stopped, summary.regions_swept
        ),
        Err(e) => println!("Function returned an error (Lambda would retry): {e}"),
    }
    print_received(inbox).await?;

    // A launch in a member account: its forwarder brings the event to the
    // guard's bus, and the tripwire acts in that account through its role.
    let team_b = &members[1];
    println!(
        "\n{}\nORGANIZATION, LAUNCH TRIPWIRE: in team-b ({team_b}), a leaked key launches 2 x p3.2xlarge in\neu-west-1; team-b's forwarder brings CloudTrail's event to the guard's bus, and the tripwire\nassumes cost-guard-member-tripwire there",
        "=".repeat(78)
    );
    let member = emulator::member_sdk(sdk, team_b).await?;
    let hijack = emulator::launch(&member, "eu-west-1", 2, "p3.2xlarge", "miner", &[]).await?;
    // The leaked key is one of that account's users.
    let event = emulator::in_account(
        emulator::launch_event(
            "tripwire-run-instances.json",
            "eu-west-1",
            &hijack,
            "p3.2xlarge",
        )?,
        team_b,
    );
    vars.insert("TRIPWIRE_MARKS_TABLE".into(), emulator::MARKS_TABLE.into());
    let tripwire = LaunchTripwire::new(LaunchTripwireConfig::from_map(&vars)?, sdk);
    trip(&tripwire, &event).await;
    print_received(inbox).await?;
    Ok(())
}

/// Hands `event` to the tripwire and prints what it returned.
async fn trip(tripwire: &LaunchTripwire, event: &serde_json::Value) {
    match tripwire.handle(&Invocation::new(event)).await {
        Ok(s) if s.notified => println!(
            "Function returned: action={} stopped={} urgent={}",
            s.action,
            s.stopped.len(),
            s.urgent
        ),
        Ok(s) => println!(
            "Function returned: action={}, nothing sent: {}",
            s.action,
            s.why.as_deref().unwrap_or("no reason given")
        ),
        Err(e) => println!("Function returned an error (Lambda would retry): {e}"),
    }
}

async fn print_fleet(sdk: &aws_types::SdkConfig, select: &SelectionConfig) -> Result<()> {
    let rows = emulator::fleet(sdk, &DEMO_REGIONS).await?;
    print!(
        "{}",
        table::fleet(&rows, "cost-guard", &select.exempt_tag_key)
    );
    Ok(())
}

/// Prints what subscribers received since the last call.
async fn print_received(inbox: &emulator::Inbox) -> Result<()> {
    for m in inbox.take().await? {
        println!(
            "\nSubscribers received:\nSubject: {}\n\n{}",
            m.subject,
            indent(&m.body)
        );
    }
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}
