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
