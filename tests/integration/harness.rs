//! One emulator per test: its own moto server, subscribers' topic and inbox.

use std::collections::HashMap;

use aws_types::SdkConfig;
use cost_guard::emulator::{self, FleetRow, Inbox, Moto, Received};
use guard::config::Config;
use guard::overspend::{Guard, GuardError, Summary};

pub struct Env {
    pub moto: Moto,
    pub endpoint: String,
    pub sdk: SdkConfig,
    pub topic: String,
    pub inbox: Inbox,
}

impl Env {
    pub async fn start() -> Env {
        let moto = Moto::start().unwrap_or_else(|e| panic!("the integration tests need moto: {e}"));
        let sdk = moto.sdk_config().await;
        let (topic, inbox) = emulator::notify_topic(&sdk, "cost-guard-notify")
            .await
            .unwrap();
        Env {
            endpoint: moto.endpoint.clone(),
            moto,
            sdk,
            topic,
            inbox,
        }
    }

    /// The function as Lambda would build it, with these environment variables
    /// (NOTIFY_TOPIC_ARN is filled in).
    pub fn guard(&self, vars: &[(&str, &str)]) -> Guard {
        let mut map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.insert("NOTIFY_TOPIC_ARN".into(), self.topic.clone());
        Guard::new(
            Config::from_map(&map).expect("valid test config"),
            &self.sdk,
        )
    }

    /// The root-login-alert function with these environment variables.
    pub fn root_guard(&self, vars: &[(&str, &str)]) -> guard::rootalert::RootGuard {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        guard::rootalert::RootGuard {
            guard: self.guard(vars),
            root: guard::rootalert::RootConfig::from_lookup(|n| map.get(n).cloned())
                .expect("valid root config"),
        }
    }

    pub async fn invoke(&self, guard: &Guard, event_file: &str) -> Result<Summary, GuardError> {
        let event = emulator::sample_event(event_file).unwrap();
        let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(120);
        guard.handle(&event, Some(deadline)).await
    }

    /// What subscribers received since the last call.
    pub async fn received(&self) -> Vec<Received> {
        self.inbox.take().await.unwrap()
    }

    /// Exactly one message, which is returned.
    pub async fn one_message(&self) -> Received {
        let mut got = self.received().await;
        assert_eq!(got.len(), 1, "expected one notification, got {got:#?}");
        got.remove(0)
    }

    pub async fn launch(
        &self,
        region: &str,
        count: usize,
        name: &str,
        tags: &[(&str, &str)],
    ) -> Vec<String> {
        emulator::launch(&self.sdk, region, count, "t3.micro", name, tags)
            .await
            .unwrap()
    }

    pub async fn fleet(&self, regions: &[&str]) -> Vec<FleetRow> {
        emulator::fleet(&self.sdk, regions).await.unwrap()
    }

    /// State of one resource by id.
    pub async fn row(&self, region: &str, id: &str) -> FleetRow {
        self.fleet(&[region])
            .await
            .into_iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("{id} not found in {region}"))
    }
}

pub const STOP: &[(&str, &str)] = &[("cost-guard", "stop")];
