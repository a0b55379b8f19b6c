//! The burn rate against the emulator: every running resource of every
//! kind in every region, priced through the Price List stand-in (moto has
//! no Pricing API), the fallback to the built-in table when the price list
//! refuses, and `cost-guard status` as a process.

use std::process::Command;

use emulator::PriceList;
use guard::aws::accounts::{RegionClients, SdkClients};
use guard::aws::fleet::Fleet;
use guard::aws::pricing::PriceBook;
use guard::domain::burn::usage::Basis;
use guard::domain::burn::usd::Usd;
use guard::domain::config::{AccountsConfig, RegionScope};
use guard::domain::inventory::ResourceKind;

use crate::harness::{Env, STOP};

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

fn usd(t: &str) -> Usd {
    Usd::parse(t).unwrap()
}

/// Two t3.small (one tagged), a GPU instance, a stopped instance, a
/// PostgreSQL database, a notebook and a group of two, over two regions.
async fn seed(env: &Env) {
    emulator::launch(&env.sdk, "us-east-1", 1, "t3.small", "web", &[])
        .await
        .unwrap();
    emulator::launch(&env.sdk, "us-east-1", 1, "t3.small", "batch", STOP)
        .await
        .unwrap();
    emulator::launch(&env.sdk, "eu-west-1", 1, "g4dn.xlarge", "miner", &[])
        .await
        .unwrap();
    let stopped = emulator::launch(&env.sdk, "eu-west-1", 1, "g4dn.xlarge", "parked", &[])
        .await
        .unwrap();
    SdkClients::new(env.sdk.clone())
        .ec2("eu-west-1")
        .stop_instances()
        .set_instance_ids(Some(stopped))
        .send()
        .await
        .unwrap();
    emulator::create_db(&env.sdk, "us-east-1", "app-db", &[])
        .await
        .unwrap();
    emulator::create_notebook(&env.sdk, "eu-west-1", "thesis", "ml.p3.2xlarge", &[])
        .await
        .unwrap();
    emulator::create_group(&env.sdk, "us-east-1", "workers", 2, "t3.micro", &[])
        .await
        .unwrap();
}

fn fleet(env: &Env) -> Fleet {
    let regions = RegionScope::List(REGIONS.iter().map(|r| r.to_string()).collect());
    Fleet::direct(&AccountsConfig::default(), &regions, &env.sdk)
}

#[tokio::test]
async fn every_running_resource_is_priced_once_and_the_price_list_is_asked_once() {
    let env = Env::start().await;
    seed(&env).await;
    let prices = PriceList::start().await.unwrap();
    let book = PriceBook::new(prices.client(&env.sdk));
    let fleet = fleet(&env);
    let (burn, notes) = fleet
        .burn(&book, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    assert!(burn.unread.is_empty(), "{:?}", burn.unread);
    let mut kinds: Vec<(ResourceKind, &str, &str)> = burn
        .lines
        .iter()
        .map(|l| {
            (
                l.running.resource.kind,
                l.running.region.as_str(),
                l.running.resource.size.as_str(),
            )
        })
        .collect();
    kinds.sort();
    // The group's two instances are counted as EC2 instances, the group
    // adds nothing; the stopped instance is not billed.
    assert_eq!(
        kinds,
        [
            (ResourceKind::Ec2Instance, "eu-west-1", "g4dn.xlarge"),
            (ResourceKind::Ec2Instance, "us-east-1", "t3.micro"),
            (ResourceKind::Ec2Instance, "us-east-1", "t3.micro"),
            (ResourceKind::Ec2Instance, "us-east-1", "t3.small"),
            (ResourceKind::Ec2Instance, "us-east-1", "t3.small"),
            (ResourceKind::DbInstance, "us-east-1", "db.t3.medium"),
            (
                ResourceKind::SageMakerNotebook,
                "eu-west-1",
                "ml.p3.2xlarge"
            ),
        ],
        "{burn:#?}"
    );
    assert!(
        burn.lines.iter().all(|l| l.basis == Some(Basis::PriceList)),
        "{burn:#?}"
    );
    // eu-west-1 costs 12% more in the stand-in's catalogue:
    // 0.526 × 1.12 + 3.825 × 1.12 + 2 × 0.0104 (the group's) + 2 × 0.0208
    // + 0.072
    assert_eq!(burn.per_hour(), usd("5.00752"));
    assert_eq!(burn.unknown(), 0);
    // One request per product and region: g4dn, the notebook, t3.micro,
    // t3.small, the database.
    assert_eq!(prices.requests(), 5);
    assert_eq!(book.requests(), 5);

    // Warm: nothing is asked again.
    let (again, _) = fleet
        .burn(&book, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(again.per_hour(), burn.per_hour());
    assert_eq!(prices.requests(), 5);

    // A new instance (a type the catalogue lacks) is asked for, once, and
    // with no figure anywhere it is unknown, never $0.
    emulator::launch(&env.sdk, "us-east-1", 1, "x2gd.medium", "odd", &[])
        .await
        .unwrap();
    let (more, _) = fleet
        .burn(&book, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(prices.requests(), 6);
    assert_eq!(more.unknown(), 1);
    assert_eq!(more.per_hour(), burn.per_hour());
    assert!(more.is_lower_bound());
}

#[tokio::test]
async fn a_refusing_price_list_falls_back_to_the_table_and_says_so() {
    let env = Env::start().await;
    seed(&env).await;
    let prices = PriceList::start().await.unwrap();
    prices.refuse(true);
    let book = PriceBook::new(prices.client(&env.sdk));
    let (burn, notes) = fleet(&env)
        .burn(&book, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert!(
        burn.lines.iter().all(|l| l.basis == Some(Basis::Table)),
        "{burn:#?}"
    );
    // us-east-1's table figures everywhere: 0.526 + 3.825 + 2 × 0.0104 +
    // 2 × 0.0208 + db.t3.medium PostgreSQL 0.068 (the stand-in says 0.072).
    assert_eq!(burn.per_hour(), usd("4.4814"));
    assert_eq!(notes.len(), 1, "{notes:?}");
    // Four asked at once; once one is refused, the table answers the fifth
    // product without asking.
    assert_eq!(prices.requests(), 4);
    assert!(
        notes[0].contains("pricing:GetProducts") && notes[0].contains("AccessDenied"),
        "{notes:?}"
    );
    // A failure is not remembered: the price list is asked again next time.
    prices.refuse(false);
    let (burn, notes) = fleet(&env)
        .burn(&book, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    assert!(
        burn.lines.iter().all(|l| l.basis == Some(Basis::PriceList)),
        "{burn:#?}"
    );
}

#[tokio::test]
async fn what_could_not_be_listed_in_time_is_named_and_makes_the_total_a_lower_bound() {
    let env = Env::start().await;
    seed(&env).await;
    let prices = PriceList::start().await.unwrap();
    let book = PriceBook::new(prices.client(&env.sdk));
    // No time at all: every kind in every region runs out of it.
    let (burn, _) = fleet(&env)
        .burn(&book, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert!(burn.is_lower_bound());
    assert!(
        burn.unread.iter().any(|u| u.region == "us-east-1"
            && u.what == "EC2 instances"
            && u.error == "not listed before the time ran out"),
        "{:?}",
        burn.unread
    );
    // Every kind that lists something, in both regions (groups, clusters
    // and node groups list nothing to price, so have nothing to miss).
    assert_eq!(burn.unread.len(), 2 * 6, "{:?}", burn.unread);
}

#[tokio::test]
async fn status_prints_the_burn_and_json_for_scripts() {
    let env = Env::start().await;
    seed(&env).await;
    let prices = PriceList::start().await.unwrap();
    // On the blocking pool: the stand-in answers on this test's runtime.
    let run = |json: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cost-guard"));
        c.arg("status")
            .env("AWS_ENDPOINT_URL", &env.endpoint)
            .env("AWS_ENDPOINT_URL_PRICING", &prices.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("REGIONS", REGIONS.join(","));
        if json {
            c.arg("--json");
        }
        tokio::task::spawn_blocking(move || c.output().unwrap())
    };
    let out = run(false).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("eu-west-1\n  1 EC2 instance: $0.5891 an hour\n"),
        "{text}"
    );
    assert!(
        text.contains("  1 RDS DB instance: $0.0720 an hour\n"),
        "{text}"
    );
    assert!(
        text.contains("thesis  -  ml.p3.2xlarge  $4.28 an hour\n"),
        "{text}"
    );
    assert!(
        text.contains("Burning $5.01 an hour: $120.18 a day"),
        "{text}"
    );
    assert!(prices.requests() > 0, "the command must ask the price list");

    let out = run(true).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["per_hour_usd"], "5.00752");
    assert_eq!(v["per_day_usd"], "120.18048");
    assert_eq!(v["lower_bound"], false);
    assert_eq!(v["resources"].as_array().map(Vec::len), Some(7));
}

mod watch {
    //! burn-watch, the function, against the emulator and the stand-in.

    use emulator::{sample_event, set_cost_by_service, PriceList, SAMPLE_COSTS};
    use guard::domain::config::BurnWatchConfig;
    use guard::handlers::burn_watch::BurnWatch;
    use guard::handlers::{Function, Invocation};
    use guard::STOPPED_BY_TAG;

    use std::time::Duration;

    use testkit::{Fault, FaultRule};

    use crate::harness::{Env, STOP};

    const TODAY: time::Date = time::macros::date!(2026 - 11 - 22);

    async fn watch(env: &Env, prices: &PriceList, vars: &[(&str, &str)]) -> BurnWatch {
        watch_through(env, &env.sdk, prices, vars).await
    }

    /// burn-watch whose fleet reaches the emulator through `fleet_sdk` (a
    /// fault proxy's).
    async fn watch_through(
        env: &Env,
        fleet_sdk: &aws_types::SdkConfig,
        prices: &PriceList,
        vars: &[(&str, &str)],
    ) -> BurnWatch {
        let table = "burn-watch-state";
        let _ = emulator::state_table(&env.sdk, table).await;
        let mut all = vec![
            ("REGIONS", "us-east-1,eu-west-1"),
            ("BURN_STATE_TABLE", table),
        ];
        all.extend_from_slice(vars);
        let config: BurnWatchConfig = env.config(&all);
        let fleet =
            guard::aws::fleet::Fleet::new(&config.sweep.accounts, &config.sweep.regions, fleet_sdk)
                .with_kinds(&config.sweep.kinds)
                .with_seal(fleet_sdk, config.sweep.saved_state_key.as_deref());
        BurnWatch::with_parts(fleet, &env.sdk, prices.client(&env.sdk), config)
    }

    async fn check(w: &BurnWatch) -> guard::handlers::burn_watch::BurnSummary {
        check_after(w, 0).await
    }

    /// A check `hours` after midnight of TODAY.
    async fn check_after(w: &BurnWatch, hours: i64) -> guard::handlers::burn_watch::BurnSummary {
        check_within(w, hours, Duration::from_secs(120)).await
    }

    /// A check `hours` after midnight of TODAY, whose Lambda deadline is
    /// `left` from now.
    async fn check_within(
        w: &BurnWatch,
        hours: i64,
        left: Duration,
    ) -> guard::handlers::burn_watch::BurnSummary {
        let event = sample_event("scheduled.json").unwrap();
        let deadline = std::time::SystemTime::now() + left;
        let at = TODAY.midnight().assume_utc() + time::Duration::hours(hours);
        w.handle(&Invocation::new(&event).at(at).deadline(Some(deadline)))
            .await
            .expect("a clean check")
    }

    /// Two tagged GPU instances and an untagged small one in us-east-1, a
    /// tagged GPU instance in eu-west-1: $1.65152 an hour in the stand-in.
    async fn seed(env: &Env) -> Vec<(String, String)> {
        let mut tagged = Vec::new();
        for id in emulator::launch(&env.sdk, "us-east-1", 2, "g4dn.xlarge", "miner", STOP)
            .await
            .unwrap()
        {
            tagged.push(("us-east-1".to_string(), id));
        }
        emulator::launch(&env.sdk, "us-east-1", 1, "t3.micro", "web", &[])
            .await
            .unwrap();
        for id in emulator::launch(&env.sdk, "eu-west-1", 1, "g4dn.xlarge", "miner", STOP)
            .await
            .unwrap()
        {
            tagged.push(("eu-west-1".to_string(), id));
        }
        tagged
    }

    #[tokio::test]
    async fn over_the_limit_stops_the_selection_and_tells_once_per_crossing() {
        let env = Env::start().await;
        let tagged = seed(&env).await;
        let prices = PriceList::start().await.unwrap();
        let w = watch(&env, &prices, &[("BURN_LIMIT_USD_PER_HOUR", "1")]).await;

        // Anything but its schedule's event is refused, naming the problem,
        // and changes nothing.
        let odd = serde_json::json!({"Records": [{"EventSource": "aws:sns"}]});
        let refused = w
            .handle(&Invocation::new(&odd).on(TODAY))
            .await
            .unwrap_err();
        assert!(
            refused.to_string().starts_with("malformed event"),
            "{refused}"
        );
        assert!(env.received().await.is_empty());
        assert_eq!(env.row(&tagged[0].0, &tagged[0].1).await.state, "running");

        let s = check(&w).await;
        assert_eq!(s.per_hour_usd.plain(), "1.65152");
        assert_eq!(s.stopped_for.as_deref(), Some("rate"));
        assert_eq!(s.stopped, 3);
        for (region, id) in &tagged {
            let row = env.row(region, id).await;
            assert_eq!(row.state, "stopped", "{id}");
            assert_eq!(row.tag(STOPPED_BY_TAG), Some("burn:over-1-usd-per-hour"));
        }
        let m = env.one_message().await;
        assert_eq!(
            m.subject,
            "cost-guard stopped 3 resources in 2 regions (burning $1.65 an hour > $1.00 limit)"
        );
        assert!(
            m.body
                .contains("What it stopped was burning $1.64 an hour."),
            "{}",
            m.body
        );
        assert!(m.body.contains("WHAT IS BURNING NOW"), "{}", m.body);
        // One request per type and region.
        assert_eq!(w.price_requests(), 3);

        // Under the limit now: nothing to do, nothing to say, nothing asked.
        let s = check(&w).await;
        assert_eq!(s.per_hour_usd.plain(), "0.0104");
        assert_eq!((s.stopped_for, s.notified), (None, false));
        assert!(env.received().await.is_empty());
        assert_eq!(w.price_requests(), 3);

        // New launches cross again ($1.0624 an hour): stopped and told again.
        let again = emulator::launch(&env.sdk, "us-east-1", 2, "g4dn.xlarge", "miner-2", STOP)
            .await
            .unwrap();
        let s = check(&w).await;
        assert_eq!((s.stopped, s.notified), (2, true));
        assert_eq!(env.row("us-east-1", &again[0]).await.state, "stopped");
        assert_eq!(env.received().await.len(), 1);
        assert_eq!(w.price_requests(), 3);
    }

    #[tokio::test]
    async fn the_warning_and_the_projection_tell_once_and_cost_explorer_is_asked_only_on_a_change()
    {
        let env = Env::start().await;
        let tagged = seed(&env).await;
        set_cost_by_service(
            &env.moto,
            "2026-11-01",
            "2026-11-22",
            "UnblendedCost",
            SAMPLE_COSTS,
        )
        .unwrap();
        let prices = PriceList::start().await.unwrap();
        let vars = [
            ("BURN_LIMIT_USD_PER_HOUR", "100"),
            ("BURN_WARN_USD_PER_HOUR", "1"),
            ("MONTHLY_LIMIT_USD", "1500"),
        ];
        let w = watch(&env, &prices, &vars).await;
        let s = check(&w).await;
        assert!(s.spend_asked);
        // $1,257.17 spent, and $1.65152 an hour for the 216 hours left.
        assert_eq!(s.projected_usd.map(|p| p.cents()), Some("$1,613.90".into()));
        assert_eq!((s.stopped_for.as_deref(), s.stopped), (None, 0));
        let m = env.one_message().await;
        assert_eq!(
            m.subject,
            "cost-guard: burning $1.65 an hour > $1.00 warning; month projected > $1,500.00, nothing stopped"
        );
        assert!(
            m.body
                .contains("$1,257.17 spent this month (Cost Explorer, just now)"),
            "{}",
            m.body
        );

        // The same rate two hours later: Cost Explorer is not asked,
        // nothing is told again.
        let s = check_after(&w, 2).await;
        assert!(!s.spend_asked);
        assert!(!s.notified);
        assert!(env.received().await.is_empty());

        // With BURN_ACTION=stop the projection stops the selection (told,
        // as it stopped something), still without asking Cost Explorer.
        let mut stop = vars.to_vec();
        stop.push(("BURN_ACTION", "stop"));
        let w = watch(&env, &prices, &stop).await;
        let s = check_after(&w, 3).await;
        assert!(!s.spend_asked);
        assert_eq!(
            (s.stopped_for.as_deref(), s.stopped),
            (Some("projection"), 3)
        );
        for (region, id) in &tagged {
            assert_eq!(
                env.row(region, id).await.tag(STOPPED_BY_TAG),
                Some("burn:month-projected-over-1500-usd")
            );
        }
        let m = env.one_message().await;
        // Not asked: the figure read 3 hours ago and this rate since.
        assert!(
            m.body.contains(
                "$1,262.12 spent this month (Cost Explorer's last figure plus this rate since)"
            ),
            "{}",
            m.body
        );
        // A day after the read, it is asked again however steady the rate.
        let s = check_after(&w, 25).await;
        assert!(s.spend_asked);
    }

    /// What cannot be listed is told, and never stopped for: under every
    /// limit, a region whose databases cannot be listed makes the first
    /// check tell, and a check that can list them again says nothing.
    #[tokio::test]
    async fn what_cannot_be_listed_is_told_though_under_every_limit() {
        let env = Env::start().await;
        let tagged = seed(&env).await;
        let prices = PriceList::start().await.unwrap();
        let (proxy, sdk) = env.proxied().await;
        proxy.inject(
            FaultRule::always("eu-west-1", Fault::Status(500)).on_action("DescribeDBInstances"),
        );
        let vars = [("BURN_LIMIT_USD_PER_HOUR", "100")];
        let w = watch_through(&env, &sdk, &prices, &vars).await;

        let s = check(&w).await;
        assert_eq!((s.unread, s.price_unknown), (1, 0), "{s:?}");
        assert_eq!((s.stopped_for, s.stopped), (None, 0));
        assert!(s.notified);
        let m = env.one_message().await;
        assert_eq!(
            m.subject,
            "cost-guard: 1 resource or region without a known price, nothing stopped"
        );
        assert!(m.body.contains("RDS DB instances"), "{}", m.body);
        assert_eq!(env.row(&tagged[0].0, &tagged[0].1).await.state, "running");

        proxy.clear_faults();
        let s = check_after(&w, 1).await;
        assert_eq!((s.unread, s.notified), (0, false), "{s:?}");
    }

    /// A sweep that cannot start (the regions, listed for the survey, cannot
    /// be listed again) is told with AWS's reason, and fails the check.
    #[tokio::test]
    async fn a_sweep_that_cannot_start_is_told_with_its_reason() {
        let env = Env::start().await;
        let tagged = seed(&env).await;
        let prices = PriceList::start().await.unwrap();
        // The survey lists the regions once.
        let (_proxy, sdk) = env.regions_refused_after(1).await;
        let vars = [("BURN_LIMIT_USD_PER_HOUR", "1"), ("REGIONS", "all")];
        let w = watch_through(&env, &sdk, &prices, &vars).await;
        let event = sample_event("scheduled.json").unwrap();
        let at = TODAY.midnight().assume_utc();
        let err = w.handle(&Invocation::new(&event).at(at)).await.unwrap_err();
        env.assert_told_the_sweep_did_not_start(&err, "The sweep could not start")
            .await;
        assert_eq!(env.row(&tagged[0].0, &tagged[0].1).await.state, "running");
    }

    /// The survey takes half the invocation's time, leaving the rest to a
    /// sweep: with 25 s left (20 s less the reserve), a region whose
    /// instances take 12 s to list is not waited for.
    #[tokio::test]
    async fn the_survey_leaves_half_the_time_to_the_sweep() {
        let env = Env::start().await;
        seed(&env).await;
        let prices = PriceList::start().await.unwrap();
        let (proxy, sdk) = env.proxied().await;
        proxy.inject(
            FaultRule::always("eu-west-1", Fault::Slow(Duration::from_secs(12)))
                .on_action("DescribeInstances"),
        );
        let w = watch_through(&env, &sdk, &prices, &[("BURN_LIMIT_USD_PER_HOUR", "100")]).await;

        let s = check_within(&w, 0, Duration::from_secs(25)).await;
        assert!(s.unread > 0, "{s:?}");
        // What was not waited for is named, with why.
        let m = env.one_message().await;
        assert!(
            m.body.contains("eu-west-1")
                && m.body.contains("EC2 instances")
                && m.body.contains("not listed before the time ran out"),
            "{}",
            m.body
        );
        assert!(proxy.attempts("eu-west-1", "DescribeInstances") > 0);
    }
}

#[tokio::test]
async fn a_fargate_service_is_priced_by_its_task_definition_and_running_tasks() {
    let env = Env::start().await;
    // 8 vCPU and 16 GB per task, on Fargate; moto starts no task, so the
    // proxy reports two running, as ECS would once they started.
    emulator::create_service(&env.sdk, "eu-west-1", "default", "xmr", 2, &[], None)
        .await
        .unwrap();
    let proxy = testkit::Proxy::start(&env.endpoint).unwrap();
    proxy.inject(
        testkit::FaultRule::always(
            "eu-west-1",
            testkit::Fault::Edit {
                from: "\"runningCount\": 0".into(),
                to: "\"runningCount\": 2".into(),
            },
        )
        .on_action("DescribeServices"),
    );
    let sdk = emulator::lambda_sdk_config_for(&proxy.endpoint).await;
    let prices = PriceList::start().await.unwrap();
    let book = PriceBook::new(prices.client(&sdk));
    let regions = RegionScope::List(vec!["eu-west-1".into()]);
    let (burn, notes) = Fleet::direct(&AccountsConfig::default(), &regions, &sdk)
        .burn(&book, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert!(
        notes.is_empty() && burn.unread.is_empty(),
        "{notes:?} {:?}",
        burn.unread
    );
    let service = burn
        .lines
        .iter()
        .find(|l| l.running.resource.kind == ResourceKind::EcsService)
        .unwrap_or_else(|| panic!("no service priced: {burn:#?}"));
    assert_eq!(service.running.count, 2);
    assert_eq!(service.running.resource.size, "2 x Fargate 8 vCPU, 16 GB");
    // eu-west-1's figures in the stand-in (12% over us-east-1's):
    // 16 vCPU × $0.0453376 + 32 GB × $0.0049784.
    assert_eq!(service.per_hour, Some(usd("0.8847104")));
    assert_eq!(service.basis, Some(Basis::PriceList));
    // The task definition is read once, whatever the number of tasks.
    assert_eq!(proxy.attempts("eu-west-1", "DescribeTaskDefinition"), 1);
}
