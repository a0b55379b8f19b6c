//! One emulator per test: its own moto server, subscribers' topic and inbox.

use std::collections::HashMap;

use aws_types::SdkConfig;
use emulator::{self, FleetRow, Inbox, Moto, Received};
use guard::aws::fleet::Fleet;
use guard::domain::config::{Settings, SpendWatchConfig};
use guard::handlers::keep_stopped::KeepStopped;
use guard::handlers::launch_tripwire::LaunchTripwire;
use guard::handlers::resume::Resume;
use guard::handlers::root_login_alert::RootLoginAlert;
use guard::handlers::spend_watch::SpendWatch;
use guard::handlers::stop_on_overspend::{Answer, StopOnOverspend, Summary};
use guard::handlers::{Function, HandlerError, Invocation};

fn vars_map(vars: &[(&str, &str)]) -> HashMap<String, String> {
    vars.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub struct Env {
    pub moto: Moto,
    pub endpoint: String,
    pub sdk: SdkConfig,
    pub topic: String,
    pub inbox: Inbox,
    /// The key that seals saved states (`SAVED_STATE_KEY_ARN`).
    pub key: String,
}

impl Env {
    pub async fn start() -> Env {
        let moto = Moto::start().unwrap_or_else(|e| panic!("the integration tests need moto: {e}"));
        let sdk = moto.sdk_config().await;
        let (topic, inbox) = emulator::notify_topic(&sdk, "cost-guard-notify")
            .await
            .unwrap();
        emulator::marks_table(&sdk).await.unwrap();
        let key = emulator::saved_state_key(&sdk).await.unwrap();
        Env {
            key,
            endpoint: moto.endpoint.clone(),
            moto,
            sdk,
            topic,
            inbox,
        }
    }

    /// The configuration a function would read from these environment
    /// variables, with NOTIFY_TOPIC_ARN and, unless set, the emulator's
    /// table of untrusted requests and the saved-state key filled in (as
    /// the template sets them).
    pub fn config<C: Settings>(&self, vars: &[(&str, &str)]) -> C {
        let mut map = vars_map(vars);
        map.insert("NOTIFY_TOPIC_ARN".into(), self.topic.clone());
        map.entry("TRIPWIRE_MARKS_TABLE".into())
            .or_insert(emulator::MARKS_TABLE.into());
        map.entry("SAVED_STATE_KEY_ARN".into())
            .or_insert(self.key.clone());
        C::from_map(&map).expect("valid test config")
    }

    /// stop-on-overspend as Lambda would build it, with these variables.
    pub fn guard(&self, vars: &[(&str, &str)]) -> StopOnOverspend {
        StopOnOverspend::new(self.config(vars), &self.sdk)
    }

    /// root-login-alert as Lambda would build it, with these variables.
    pub fn root_guard(&self, vars: &[(&str, &str)]) -> RootLoginAlert {
        RootLoginAlert::new(self.config(vars), &self.sdk)
    }

    /// keep-stopped as Lambda would build it, with these variables.
    pub fn keep_stopped(&self, vars: &[(&str, &str)]) -> KeepStopped {
        KeepStopped::new(self.config(vars), &self.sdk)
    }

    /// A fault-injecting proxy in front of the emulator, and an SDK
    /// configuration (as Lambda's) whose requests go through it.
    pub async fn proxied(&self) -> (testkit::Proxy, SdkConfig) {
        let proxy = testkit::Proxy::start(&self.endpoint).expect("proxy starts");
        let sdk = emulator::lambda_sdk_config_for(&proxy.endpoint).await;
        (proxy, sdk)
    }

    /// An SDK configuration through a proxy whose `ec2:DescribeRegions`
    /// answers the first `after` requests, then is refused (as without the
    /// permission): with `REGIONS` unset or `all`, a sweep cannot start.
    pub async fn regions_refused_after(&self, after: u32) -> (testkit::Proxy, SdkConfig) {
        let (proxy, sdk) = self.proxied().await;
        proxy.inject(
            testkit::FaultRule::always(emulator::HOME_REGION, testkit::Fault::Denied)
                .on_action("DescribeRegions")
                .after(after),
        );
        (proxy, sdk)
    }

    /// `err` says the sweep did not start, and the one message says why,
    /// after `told`: the refused region list.
    pub async fn assert_told_the_sweep_did_not_start(&self, err: &HandlerError, told: &str) {
        assert!(matches!(err, HandlerError::SweepNotStarted(_)), "{err}");
        let m = self.one_message().await;
        let why = format!("{told}: ec2:DescribeRegions failed: UnauthorizedOperation");
        assert!(m.body.contains(&why), "{why} missing:\n{}", m.body);
    }

    /// launch-tripwire as Lambda would build it, with these variables (and
    /// the emulator's table of untrusted requests, as the template sets it).
    pub fn tripwire(&self, vars: &[(&str, &str)]) -> LaunchTripwire {
        LaunchTripwire::new(self.config(vars), &self.sdk)
    }

    /// An EC2 client in `region`.
    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::from(&self.sdk)
                .region(aws_types::region::Region::new(region.to_string()))
                .build(),
        )
    }

    /// resume as Lambda would build it, with these variables.
    pub fn resume(&self, vars: &[(&str, &str)]) -> Resume {
        Resume::new(self.config(vars), &self.sdk)
    }

    /// spend-watch as Lambda would build it, with these variables and Cost
    /// Explorer at `ce` (the emulator's, or one that cannot be reached).
    pub fn spend_watch(&self, vars: &[(&str, &str)], ce: &SdkConfig) -> SpendWatch {
        let config: SpendWatchConfig = self.config(vars);
        SpendWatch::with_parts(
            Fleet::new(&config.sweep.accounts, &config.sweep.regions, &self.sdk)
                .with_kinds(&config.sweep.kinds)
                .with_seal(&self.sdk, config.sweep.saved_state_key.as_deref()),
            aws_sdk_sns::Client::new(&self.sdk),
            guard::aws::costexplorer::client(ce),
            config,
        )
    }

    pub async fn invoke(
        &self,
        guard: &StopOnOverspend,
        event_file: &str,
    ) -> Result<Summary, HandlerError> {
        let event = emulator::sample_event(event_file).unwrap();
        let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(120);
        guard
            .run(&Invocation::new(&event).deadline(Some(deadline)))
            .await
            .map(|answer| match answer {
                Answer::Alert(summary) => summary,
                Answer::Queue(q) => panic!("an alert answered as a queue batch: {q:?}"),
            })
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

/// Log lines written on this test's thread since [`Captured::start`], as the
/// JSON Lambda's log format setting gives.
///
/// One global subscriber writes every event to the buffer of the thread that
/// emitted it (each `#[tokio::test]` runs its tasks on its own thread). A
/// scoped subscriber per test would race: tracing caches, per call site and
/// for all threads, whether anyone wants an event, and a test running beside
/// one without a subscriber can make that answer "no".
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

thread_local! {
    static CAPTURE: std::cell::RefCell<Option<Captured>> = const { std::cell::RefCell::new(None) };
}

/// Where the global subscriber writes: this thread's capture, if any.
struct ThreadCapture;

impl std::io::Write for ThreadCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|c| {
            if let Some(c) = c.borrow().as_ref() {
                c.0.lock().unwrap().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for ThreadCapture {
    type Writer = ThreadCapture;
    fn make_writer(&'a self) -> Self::Writer {
        ThreadCapture
    }
}

impl Captured {
    pub fn start() -> Captured {
        static GLOBAL: std::sync::Once = std::sync::Once::new();
        GLOBAL.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .json()
                .with_max_level(tracing::Level::INFO)
                .with_writer(ThreadCapture)
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("the only global subscriber");
        });
        let c = Captured::default();
        CAPTURE.with(|t| *t.borrow_mut() = Some(c.clone()));
        c
    }
}

impl Captured {
    pub fn lines(&self) -> Vec<serde_json::Value> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The `invocation finished` lines' outcome and report, each parsed.
    pub fn finished(&self) -> Vec<(serde_json::Value, serde_json::Value)> {
        let parse = |v: &serde_json::Value| {
            serde_json::from_str(v.as_str().unwrap_or("null")).unwrap_or_default()
        };
        self.lines()
            .iter()
            .filter(|l| l["fields"]["message"] == "invocation finished")
            .map(|l| {
                (
                    parse(&l["fields"]["outcome"]),
                    parse(&l["fields"]["report"]),
                )
            })
            .collect()
    }
}
