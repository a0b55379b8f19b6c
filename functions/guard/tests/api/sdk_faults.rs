//! SDK-level fault tests: the real adapters and sweep against mocked AWS answers
//! (`aws-smithy-mocks`), with error bodies in the services' own XML formats so
//! the SDK's error parsing and retry classification run as they do in AWS.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_ec2::operation::create_tags::CreateTagsOutput;
use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
use aws_sdk_ec2::operation::stop_instances::StopInstancesOutput;
use aws_sdk_ec2::types::{
    Instance, InstanceState, InstanceStateChange, InstanceStateName, Reservation, Tag,
};
use aws_sdk_rds::operation::describe_db_clusters::DescribeDbClustersOutput;
use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{mock, mock_client, MockResponse, Rule, RuleMode};
use aws_smithy_runtime_api::http::{Response as HttpResponse, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;

use guard::aws::accounts::RegionClients;
use guard::aws::fleet::Fleet;
use guard::aws::sweep::{sweep_regions, SweepSpec};
use guard::domain::config::{
    AnomalyAction, Common, KindSet, RegionScope, Selection, SelectionConfig, StopOnOverspendConfig,
    SweepConfig,
};
use guard::domain::inventory::ResourceKind;
use guard::domain::outcome::{Stamp, SweepReport};
use guard::handlers::stop_on_overspend::StopOnOverspend;
use guard::handlers::{HandlerError, Invocation};

const ATTEMPTS: u32 = 4;

fn retry() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5))
}

fn ec2_error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>3f1e-test</RequestID></Response>"
        )),
    )
}

fn instance(id: &str, spot: bool) -> Instance {
    let mut b = Instance::builder()
        .instance_id(id)
        .instance_type("g4dn.xlarge".into())
        .root_device_type("ebs".into())
        .state(
            InstanceState::builder()
                .name(InstanceStateName::Running)
                .build(),
        )
        .tags(Tag::builder().key("cost-guard").value("stop").build())
        .tags(
            Tag::builder()
                .key("Name")
                .value(format!("box-{id}"))
                .build(),
        );
    if spot {
        b = b
            .spot_instance_request_id("sir-once")
            .instance_lifecycle("spot".into());
    }
    b.build()
}

fn describe(ids: &[&str]) -> Rule {
    let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    mock!(aws_sdk_ec2::Client::describe_instances).then_output(move || {
        let mut r = Reservation::builder();
        for id in &ids {
            r = r.instances(instance(id, id.contains("spot")));
        }
        DescribeInstancesOutput::builder()
            .reservations(r.build())
            .build()
    })
}

fn stopped(ids: &[String]) -> StopInstancesOutput {
    let mut out = StopInstancesOutput::builder();
    for id in ids {
        out = out.stopping_instances(
            InstanceStateChange::builder()
                .instance_id(id)
                .previous_state(
                    InstanceState::builder()
                        .name(InstanceStateName::Running)
                        .build(),
                )
                .current_state(
                    InstanceState::builder()
                        .name(InstanceStateName::Stopping)
                        .build(),
                )
                .build(),
        );
    }
    out.build()
}

fn tags_ok() -> Rule {
    mock!(aws_sdk_ec2::Client::create_tags).then_output(|| CreateTagsOutput::builder().build())
}

fn spot_requests_denied() -> Rule {
    mock!(aws_sdk_ec2::Client::describe_spot_instance_requests).then_http_response(|| {
        ec2_error(
            403,
            "UnauthorizedOperation",
            "You are not authorized to perform this operation.",
        )
    })
}

fn ec2_client(rules: &[&Rule]) -> aws_sdk_ec2::Client {
    mock_client!(aws_sdk_ec2, RuleMode::MatchAny, rules, |c| c
        .retry_config(retry()))
}

fn empty_rds() -> aws_sdk_rds::Client {
    let instances = mock!(aws_sdk_rds::Client::describe_db_instances)
        .then_output(|| DescribeDbInstancesOutput::builder().build());
    let clusters = mock!(aws_sdk_rds::Client::describe_db_clusters)
        .then_output(|| DescribeDbClustersOutput::builder().build());
    mock_client!(
        aws_sdk_rds,
        RuleMode::MatchAny,
        [&instances, &clusters],
        |c| c.retry_config(retry())
    )
}

struct Mocked {
    ec2: HashMap<String, aws_sdk_ec2::Client>,
    rds: HashMap<String, aws_sdk_rds::Client>,
}

impl RegionClients for Mocked {
    fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        self.ec2[region].clone()
    }
    fn rds(&self, region: &str) -> aws_sdk_rds::Client {
        self.rds[region].clone()
    }
    fn config(&self, _: &str) -> aws_types::SdkConfig {
        unreachable!("these tests sweep EC2 and RDS only (see ec2_and_rds)")
    }
}

/// The kinds these tests mock.
fn ec2_and_rds() -> KindSet {
    KindSet::of(&[
        ResourceKind::Ec2Instance,
        ResourceKind::DbInstance,
        ResourceKind::DbCluster,
    ])
}

fn mocked(regions: Vec<(&str, aws_sdk_ec2::Client)>) -> Mocked {
    Mocked {
        rds: regions
            .iter()
            .map(|(r, _)| (r.to_string(), empty_rds()))
            .collect(),
        ec2: regions
            .into_iter()
            .map(|(r, c)| (r.to_string(), c))
            .collect(),
    }
}

fn select() -> SelectionConfig {
    SelectionConfig {
        selection: Selection::Tagged {
            key: "cost-guard".into(),
            value: Some("stop".into()),
        },
        exempt_tag_key: "cost-guard-exempt".into(),
    }
}

fn spec() -> SweepSpec {
    SweepSpec {
        select: select(),
        dry_run: false,
        stamp: Stamp::now("budget:test"),
        kinds: ec2_and_rds(),
        concurrency: 4,
        seal: None,
    }
}

/// The sweep of the guard's own account in `regions`, within `budget`.
async fn sweep(
    clients: &dyn RegionClients,
    regions: &[String],
    spec: &SweepSpec,
    budget: Duration,
) -> SweepReport {
    let until = tokio::time::Instant::now() + budget;
    SweepReport {
        dry_run: spec.dry_run,
        regions: sweep_regions(clients, regions, spec, None, until).await,
        accounts: Vec::new(),
    }
}

fn ids(v: &[guard::domain::inventory::Resource]) -> Vec<&str> {
    v.iter().map(|r| r.id.as_str()).collect()
}

#[tokio::test]
async fn one_spot_instance_fails_the_batch_and_is_isolated() {
    let stop = mock!(aws_sdk_ec2::Client::stop_instances).then_compute_response(|req| {
        let ids = req.instance_ids();
        if ids.iter().any(|i| i.contains("spot")) {
            MockResponse::Http(ec2_error(
                400,
                "UnsupportedOperation",
                "The instance 'i-spot' is a spot instance of a one-time request and cannot be stopped.",
            ))
        } else {
            MockResponse::Output(stopped(ids))
        }
    });
    let stamped: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = stamped.clone();
    let tags = mock!(aws_sdk_ec2::Client::create_tags).then_compute_output(move |req| {
        sink.lock().unwrap().extend(req.resources().iter().cloned());
        CreateTagsOutput::builder().build()
    });
    let client = ec2_client(&[
        &describe(&["i-1", "i-2", "i-3", "i-4", "i-spot"]),
        &stop,
        &tags,
        &spot_requests_denied(),
    ]);
    let clients = mocked(vec![("us-east-1", client)]);
    let report = sweep(
        &clients,
        &["us-east-1".into()],
        &spec(),
        Duration::from_secs(30),
    )
    .await;
    let r = &report.regions[0];
    assert_eq!(ids(&r.stopped), ["i-1", "i-2", "i-3", "i-4"]);
    assert_eq!(r.skipped.len(), 1);
    assert_eq!(r.skipped[0].resource.id, "i-spot");
    assert!(
        r.skipped[0].reason.contains("one-time request"),
        "{}",
        r.skipped[0].reason
    );
    assert!(r.failed.is_empty() && r.errors.is_empty() && r.finished);
    // [5] fails -> [2] ok, [3] fails -> [1] ok, [2] fails -> [1] ok, [1] fails.
    assert_eq!(stop.num_calls(), 7);
    // The batch's stopped instances are stamped together; the skipped one never.
    let mut stamped = stamped.lock().unwrap().clone();
    stamped.sort();
    assert_eq!(stamped, ["i-1", "i-2", "i-3", "i-4"]);
    assert_eq!(tags.num_calls(), 1);
    assert!(r.unstamped.is_empty(), "{:?}", r.unstamped);
}

#[tokio::test]
async fn a_selected_one_time_spot_instance_is_skipped_before_any_stop() {
    use aws_sdk_ec2::operation::describe_spot_instance_requests::DescribeSpotInstanceRequestsOutput;
    use aws_sdk_ec2::types::{SpotInstanceRequest, SpotInstanceType};
    let asked: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = asked.clone();
    let requests = mock!(aws_sdk_ec2::Client::describe_spot_instance_requests).then_compute_output(
        move |req| {
            sink.lock().unwrap().extend(
                req.filters()
                    .iter()
                    .flat_map(|f| f.values().iter().cloned()),
            );
            DescribeSpotInstanceRequestsOutput::builder()
                .spot_instance_requests(
                    SpotInstanceRequest::builder()
                        .spot_instance_request_id("sir-once")
                        .r#type(SpotInstanceType::OneTime)
                        .build(),
                )
                .build()
        },
    );
    let stop = mock!(aws_sdk_ec2::Client::stop_instances)
        .then_compute_output(|req| stopped(req.instance_ids()));
    let client = ec2_client(&[&describe(&["i-1", "i-spot"]), &requests, &stop, &tags_ok()]);
    let clients = mocked(vec![("us-east-1", client)]);
    let report = sweep(
        &clients,
        &["us-east-1".into()],
        &spec(),
        Duration::from_secs(30),
    )
    .await;
    let r = &report.regions[0];
    // The selected spot instance's request is the one looked up, and EC2 is
    // never asked to stop what it cannot stop.
    assert_eq!(*asked.lock().unwrap(), ["sir-once"]);
    assert_eq!(ids(&r.stopped), ["i-1"]);
    assert_eq!(stop.num_calls(), 1);
    assert_eq!(
        ids(&r
            .skipped
            .iter()
            .map(|s| s.resource.clone())
            .collect::<Vec<_>>()),
        ["i-spot"]
    );
    assert!(
        r.skipped[0].reason.contains("one-time"),
        "{}",
        r.skipped[0].reason
    );
}

#[tokio::test]
async fn access_denied_in_one_region_does_not_hold_up_the_others() {
    let stop = mock!(aws_sdk_ec2::Client::stop_instances)
        .then_compute_output(|req| stopped(req.instance_ids()));
    let ok = ec2_client(&[&describe(&["i-ok"]), &stop, &tags_ok()]);
    let denied_describe = mock!(aws_sdk_ec2::Client::describe_instances).then_http_response(|| {
        ec2_error(
            403,
            "UnauthorizedOperation",
            "You are not authorized to perform this operation.",
        )
    });
    let denied = ec2_client(&[&denied_describe]);
    let clients = mocked(vec![("us-east-1", ok), ("eu-west-1", denied)]);
    let report = sweep(
        &clients,
        &["us-east-1".into(), "eu-west-1".into()],
        &spec(),
        Duration::from_secs(30),
    )
    .await;
    let by: HashMap<&str, &guard::domain::outcome::RegionReport> = report
        .regions
        .iter()
        .map(|r| (r.region.as_str(), r))
        .collect();
    assert_eq!(ids(&by["us-east-1"].stopped), ["i-ok"]);
    assert!(by["us-east-1"].is_clean());
    let eu = by["eu-west-1"];
    assert!(eu.stopped.is_empty());
    assert!(
        eu.errors[0].contains("ec2:DescribeInstances failed: UnauthorizedOperation"),
        "{:?}",
        eu.errors
    );
    assert!(eu.errors[0].contains("lacks permission"));
    // Access denied is not retried.
    assert_eq!(denied_describe.num_calls(), 1);
    assert_eq!(report.troubled_regions().len(), 1);
}

#[tokio::test]
async fn throttled_stop_succeeds_after_retries() {
    let stop = mock!(aws_sdk_ec2::Client::stop_instances)
        .sequence()
        .http_response(|| ec2_error(503, "RequestLimitExceeded", "Request limit exceeded."))
        .times(2)
        .output(|| stopped(&["i-1".to_string(), "i-2".to_string()]))
        .build();
    let client = ec2_client(&[&describe(&["i-1", "i-2"]), &stop, &tags_ok()]);
    let clients = mocked(vec![("us-east-1", client)]);
    let report = sweep(
        &clients,
        &["us-east-1".into()],
        &spec(),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(ids(&report.regions[0].stopped), ["i-1", "i-2"]);
    assert!(report.is_clean());
    assert_eq!(stop.num_calls(), 3);
}

#[tokio::test]
async fn throttling_that_never_clears_fails_the_batch_without_splitting() {
    let stop = mock!(aws_sdk_ec2::Client::stop_instances)
        .sequence()
        .http_response(|| ec2_error(503, "RequestLimitExceeded", "Request limit exceeded."))
        .repeatedly()
        .build();
    let client = ec2_client(&[&describe(&["i-1", "i-2", "i-3"]), &stop, &tags_ok()]);
    let clients = mocked(vec![("us-east-1", client)]);
    let report = sweep(
        &clients,
        &["us-east-1".into()],
        &spec(),
        Duration::from_secs(30),
    )
    .await;
    let r = &report.regions[0];
    assert!(r.stopped.is_empty());
    assert_eq!(r.failed.len(), 3);
    assert!(r.failed[0].error.contains("RequestLimitExceeded"));
    assert!(r.failed[0].error.contains("throttled"));
    assert_eq!(
        stop.num_calls(),
        ATTEMPTS as usize,
        "one batch, retried, never split"
    );
    assert!(!report.is_clean());
}

#[tokio::test]
async fn a_region_that_hangs_is_reported_unfinished() {
    let slow = mock!(aws_sdk_ec2::Client::describe_instances).then_compute_output(|_| {
        std::thread::sleep(Duration::from_millis(1500));
        DescribeInstancesOutput::builder().build()
    });
    let clients = mocked(vec![("us-east-1", ec2_client(&[&slow]))]);
    let report = sweep(
        &clients,
        &["us-east-1".into()],
        &spec(),
        Duration::from_millis(300),
    )
    .await;
    let r = &report.regions[0];
    assert!(!r.finished);
    assert!(r.errors[0].contains("did not finish"), "{:?}", r.errors);
}

fn common() -> Common {
    Common {
        notify_topic_arn: "arn:aws:sns:us-east-1:123456789012:notify".into(),
        resume_function: None,
    }
}

fn sweep_config() -> SweepConfig {
    SweepConfig {
        select: select(),
        regions: RegionScope::List(vec!["us-east-1".into(), "eu-west-1".into()]),
        kinds: ec2_and_rds(),
        dry_run: false,
        accounts: Default::default(),
        saved_state_key: None,
    }
}

fn guard_config() -> StopOnOverspendConfig {
    StopOnOverspendConfig {
        common: common(),
        sweep: sweep_config(),
        act_on_forecasted: false,
        anomaly: AnomalyAction::Report,
        spend_context: false,
        cost_metric: guard::domain::spend::CostMetric::UnblendedCost,
    }
}

const BUDGET_EVENT: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/budget-actual.json"
));

#[tokio::test]
async fn handler_reports_failed_region_and_returns_an_error_for_retry() {
    let stop = mock!(aws_sdk_ec2::Client::stop_instances)
        .then_compute_output(|req| stopped(req.instance_ids()));
    let ok = ec2_client(&[&describe(&["i-ok"]), &stop, &tags_ok()]);
    let denied = ec2_client(&[
        &mock!(aws_sdk_ec2::Client::describe_instances).then_http_response(|| {
            ec2_error(
                403,
                "UnauthorizedOperation",
                "You are not authorized to perform this operation.",
            )
        }),
    ]);
    let sent: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let sink = sent.clone();
    let publish = mock!(aws_sdk_sns::Client::publish).then_compute_output(move |req| {
        sink.lock().unwrap().push((
            req.subject().unwrap_or_default().to_string(),
            req.message().unwrap_or_default().to_string(),
        ));
        PublishOutput::builder().message_id("m-1").build()
    });
    let config = guard_config();
    let guard = StopOnOverspend::with_parts(
        Fleet::with_clients(
            &config.sweep.regions,
            Arc::new(mocked(vec![("us-east-1", ok), ("eu-west-1", denied)])),
            ec2_client(&[]),
        )
        .with_kinds(&ec2_and_rds()),
        mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&publish]),
        None,
        config,
    );
    let event: serde_json::Value = serde_json::from_str(BUDGET_EVENT).unwrap();
    let err = guard
        .handle_alert(&Invocation::new(&event))
        .await
        .unwrap_err();
    assert!(
        matches!(err, HandlerError::Incomplete { ref at, .. } if at == "eu-west-1"),
        "{err}"
    );
    let sent = sent.lock().unwrap();
    assert_eq!(sent.len(), 1, "one message per invocation");
    let (subject, body) = &sent[0];
    assert!(
        subject.starts_with("cost-guard stopped 1 resource in 1 region, 1 region failed"),
        "{subject}"
    );
    assert!(body.contains("NOT COMPLETE in 1 region: eu-west-1"));
    assert!(body.contains("i-ok"));
}

#[tokio::test]
async fn failed_publish_fails_the_invocation_after_the_sweep() {
    let stop = mock!(aws_sdk_ec2::Client::stop_instances)
        .then_compute_output(|req| stopped(req.instance_ids()));
    let ok = ec2_client(&[&describe(&["i-1"]), &stop, &tags_ok()]);
    let ok2 = ec2_client(&[&describe(&[]), &tags_ok()]);
    let publish = mock!(aws_sdk_sns::Client::publish).then_http_response(|| {
        HttpResponse::new(
            StatusCode::try_from(403).unwrap(),
            SdkBody::from("<ErrorResponse><Error><Type>Sender</Type><Code>AuthorizationError</Code><Message>not allowed</Message></Error><RequestId>r</RequestId></ErrorResponse>"),
        )
    });
    let config = guard_config();
    let guard = StopOnOverspend::with_parts(
        Fleet::with_clients(
            &config.sweep.regions,
            Arc::new(mocked(vec![("us-east-1", ok), ("eu-west-1", ok2)])),
            ec2_client(&[]),
        )
        .with_kinds(&ec2_and_rds()),
        mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&publish]),
        None,
        config,
    );
    let event: serde_json::Value = serde_json::from_str(BUDGET_EVENT).unwrap();
    let err = guard
        .handle_alert(&Invocation::new(&event))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("AuthorizationError"), "{err}");
    assert_eq!(
        stop.num_calls(),
        1,
        "the sweep ran before the publish failed"
    );
}

mod cost_explorer {
    use super::*;
    use aws_sdk_costexplorer::operation::get_cost_and_usage::GetCostAndUsageOutput;
    use aws_sdk_costexplorer::operation::get_cost_forecast::{
        GetCostForecastError, GetCostForecastOutput,
    };
    use aws_sdk_costexplorer::types::error::DataUnavailableException;
    use aws_sdk_costexplorer::types::{DateInterval, Group, MetricValue, ResultByTime};

    use guard::domain::config::{SpendConfig, SpendWatchConfig};
    use guard::domain::spend::{CostMetric, Forecast, MonthToDateState};
    use guard::handlers::spend_watch::SpendWatch;
    use guard::handlers::Function;

    const TODAY: time::Date = time::macros::date!(2026 - 11 - 22);

    fn usage(services: &'static [(&'static str, &'static str)]) -> Rule {
        mock!(aws_sdk_costexplorer::Client::get_cost_and_usage)
            .match_requests(|r| {
                r.time_period().map(|p| (p.start(), p.end())) == Some(("2026-11-01", "2026-11-22"))
                    && r.group_by().first().and_then(|g| g.key()) == Some("SERVICE")
            })
            .then_output(move || {
                let mut result = ResultByTime::builder()
                    .time_period(
                        DateInterval::builder()
                            .start("2026-11-01")
                            .end("2026-11-22")
                            .build()
                            .unwrap(),
                    )
                    .estimated(true);
                for (name, amount) in services {
                    result = result.groups(
                        Group::builder()
                            .keys(*name)
                            .metrics(
                                "UnblendedCost",
                                MetricValue::builder().amount(*amount).unit("USD").build(),
                            )
                            .build(),
                    );
                }
                GetCostAndUsageOutput::builder()
                    .results_by_time(result.build())
                    .build()
            })
    }

    fn forecast(amount: &'static str) -> Rule {
        mock!(aws_sdk_costexplorer::Client::get_cost_forecast)
            .match_requests(|r| {
                r.time_period().map(|p| (p.start(), p.end())) == Some(("2026-11-22", "2026-12-01"))
            })
            .then_output(move || {
                GetCostForecastOutput::builder()
                    .total(MetricValue::builder().amount(amount).unit("USD").build())
                    .build()
            })
    }

    fn no_forecast() -> Rule {
        mock!(aws_sdk_costexplorer::Client::get_cost_forecast).then_error(|| {
            GetCostForecastError::DataUnavailableException(
                DataUnavailableException::builder()
                    .message("Insufficient amount of historical data to generate forecast.")
                    .build(),
            )
        })
    }

    fn ce(rules: &[&Rule]) -> aws_sdk_costexplorer::Client {
        mock_client!(aws_sdk_costexplorer, RuleMode::MatchAny, rules, |c| c
            .retry_config(retry()))
    }

    fn watch(
        spend: &[(&str, &str)],
        ce_client: aws_sdk_costexplorer::Client,
        sent: Arc<Mutex<Vec<(String, String)>>>,
        regions: Mocked,
    ) -> SpendWatch {
        let publish = mock!(aws_sdk_sns::Client::publish).then_compute_output(move |req| {
            sent.lock().unwrap().push((
                req.subject().unwrap_or_default().to_string(),
                req.message().unwrap_or_default().to_string(),
            ));
            PublishOutput::builder().message_id("m").build()
        });
        let map: HashMap<String, String> = spend
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let config = SpendWatchConfig {
            common: common(),
            sweep: sweep_config(),
            spend: SpendConfig::from_lookup(&|n| map.get(n).cloned()).unwrap(),
        };
        SpendWatch::with_parts(
            Fleet::with_clients(&config.sweep.regions, Arc::new(regions), ec2_client(&[]))
                .with_kinds(&ec2_and_rds()),
            mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&publish]),
            ce_client,
            config,
        )
    }

    fn quiet_regions() -> Mocked {
        mocked(vec![
            ("us-east-1", ec2_client(&[&describe(&[])])),
            ("eu-west-1", ec2_client(&[&describe(&[])])),
        ])
    }

    fn scheduled() -> serde_json::Value {
        serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/scheduled.json"
        )))
        .unwrap()
    }

    #[tokio::test]
    async fn forecast_over_its_limit_alerts_and_stops_nothing() {
        let sent: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let usage = usage(&[
            ("Amazon Elastic Compute Cloud - Compute", "61.50"),
            ("AWS Lambda", "0.40"),
        ]);
        let forecast = forecast("390.10");
        let stop = mock!(aws_sdk_ec2::Client::stop_instances)
            .then_compute_output(|req| stopped(req.instance_ids()));
        let regions = mocked(vec![
            ("us-east-1", ec2_client(&[&describe(&["i-1"]), &stop])),
            ("eu-west-1", ec2_client(&[&describe(&[])])),
        ]);
        let w = watch(
            &[("SPEND_LIMIT_USD", "100"), ("FORECAST_LIMIT_USD", "300")],
            ce(&[&usage, &forecast]),
            sent.clone(),
            regions,
        );
        let s = w
            .handle(&Invocation::new(&scheduled()).on(TODAY))
            .await
            .unwrap();
        assert_eq!(s.verdict, "forecast-alert");
        assert_eq!(s.stopped, 0);
        assert_eq!(stop.num_calls(), 0, "a forecast never stops anything");
        // The forecast covers today to month end; the month adds what was spent.
        assert_eq!(s.forecast_usd.map(|f| (f * 100.0).round()), Some(45200.0));
        let sent = sent.lock().unwrap();
        assert_eq!(
            sent[0].0,
            "cost-guard: forecast $452.00 for the month > $300.00, nothing stopped"
        );
        assert_eq!(forecast.num_calls(), 1);
        assert_eq!(usage.num_calls(), 1);
    }

    #[tokio::test]
    async fn forecast_not_yet_available_is_reported_not_failed() {
        let sent: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let usage = usage(&[("Amazon Simple Storage Service", "2.00")]);
        let w = watch(
            &[("SPEND_LIMIT_USD", "100"), ("FORECAST_LIMIT_USD", "300")],
            ce(&[&usage, &no_forecast()]),
            sent.clone(),
            quiet_regions(),
        );
        let s = w
            .handle(&Invocation::new(&scheduled()).on(TODAY))
            .await
            .unwrap();
        assert_eq!(s.verdict, "quiet");
        assert!(!s.notified, "below both limits: no message");
        assert!(sent.lock().unwrap().is_empty());

        let summary = w
            .handle(&Invocation::new(&serde_json::json!({"cost-guard": "daily-summary"})).on(TODAY))
            .await
            .unwrap();
        assert!(summary.notified);
        let sent = sent.lock().unwrap();
        assert!(
            sent[0]
                .1
                .contains("Forecast for the whole month: not yet available"),
            "{}",
            sent[0].1
        );
    }

    #[tokio::test]
    async fn no_forecast_request_without_a_forecast_limit() {
        let forecast = forecast("1000");
        let w = watch(
            &[("SPEND_LIMIT_USD", "100")],
            ce(&[&usage(&[("AWS Lambda", "1.00")]), &forecast]),
            Arc::default(),
            quiet_regions(),
        );
        w.handle(&Invocation::new(&scheduled()).on(TODAY))
            .await
            .unwrap();
        assert_eq!(forecast.num_calls(), 0, "each request costs $0.01");
    }

    #[tokio::test]
    async fn first_of_the_month_asks_nothing_and_stays_quiet() {
        let usage = usage(&[]);
        let w = watch(
            &[("SPEND_LIMIT_USD", "1")],
            ce(&[&usage, &no_forecast()]),
            Arc::default(),
            quiet_regions(),
        );
        let s = w
            .handle(&Invocation::new(&scheduled()).on(time::macros::date!(2026 - 12 - 01)))
            .await
            .unwrap();
        assert_eq!(s.verdict, "quiet");
        assert_eq!(
            usage.num_calls(),
            0,
            "the month-to-date period is empty on the 1st"
        );
    }

    #[tokio::test]
    async fn forecast_failure_never_blocks_the_sweep() {
        let sent: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let usage = usage(&[("Amazon Elastic Compute Cloud - Compute", "240.00")]);
        let broken =
            mock!(aws_sdk_costexplorer::Client::get_cost_forecast).then_http_response(|| {
                HttpResponse::new(
                    StatusCode::try_from(500).unwrap(),
                    SdkBody::from("{\"__type\":\"InternalError\"}"),
                )
            });
        let stop = mock!(aws_sdk_ec2::Client::stop_instances)
            .then_compute_output(|req| stopped(req.instance_ids()));
        let regions = mocked(vec![
            (
                "us-east-1",
                ec2_client(&[&describe(&["i-1", "i-2"]), &stop, &tags_ok()]),
            ),
            ("eu-west-1", ec2_client(&[&describe(&[])])),
        ]);
        let w = watch(
            &[("SPEND_LIMIT_USD", "100"), ("FORECAST_LIMIT_USD", "300")],
            ce(&[&usage, &broken]),
            sent.clone(),
            regions,
        );
        let s = w
            .handle(&Invocation::new(&scheduled()).on(TODAY))
            .await
            .unwrap();
        assert_eq!((s.verdict.as_str(), s.stopped), ("stop", 2));
        let sent = sent.lock().unwrap();
        assert!(sent[0].0.starts_with("cost-guard stopped 2 resources in 1 region (month-to-date spend $240.00 > $100.00)"), "{}", sent[0].0);
        assert!(
            sent[0]
                .1
                .contains("Forecast for the whole month: unavailable"),
            "{}",
            sent[0].1
        );
        assert!(sent[0]
            .1
            .contains("$240.00  Amazon Elastic Compute Cloud - Compute"));
    }

    #[tokio::test]
    async fn metric_names_reach_the_requests() {
        let usage = mock!(aws_sdk_costexplorer::Client::get_cost_and_usage)
            .match_requests(|r| r.metrics() == ["AmortizedCost"])
            .then_output(|| GetCostAndUsageOutput::builder().build());
        let state = guard::aws::costexplorer::month_to_date_spend(
            &ce(&[&usage]),
            CostMetric::AmortizedCost,
            TODAY,
        )
        .await;
        assert!(
            matches!(state, MonthToDateState::Known(ref m) if m.services.is_empty()),
            "{state:?}"
        );
        let forecast = mock!(aws_sdk_costexplorer::Client::get_cost_forecast)
            .match_requests(|r| r.metric().map(|m| m.as_str()) == Some("AMORTIZED_COST"))
            .then_output(|| GetCostForecastOutput::builder().build());
        let f = guard::aws::costexplorer::month_forecast(
            &ce(&[&forecast]),
            CostMetric::AmortizedCost,
            TODAY,
            None,
        )
        .await;
        assert!(matches!(f, Forecast::Available(_)), "{f:?}");
    }
}

/// Organizations answers a page at a time: every page is read, and each
/// account keeps its state (the retired `Status` read when `State` is absent).
#[tokio::test]
async fn the_organization_is_read_page_by_page_with_every_state() {
    use aws_sdk_organizations::operation::list_accounts::{ListAccountsInput, ListAccountsOutput};
    use aws_sdk_organizations::types::{Account, AccountState};
    let account = |id: &str, state: AccountState| {
        Account::builder()
            .id(id)
            .name(format!("team-{id}"))
            .state(state)
            .build()
    };
    let first = mock!(aws_sdk_organizations::Client::list_accounts)
        .match_requests(|r: &ListAccountsInput| r.next_token().is_none())
        .then_output(move || {
            ListAccountsOutput::builder()
                .accounts(account("111111111111", AccountState::Active))
                .accounts(account("222222222222", AccountState::Suspended))
                .next_token("page-2")
                .build()
        });
    let second = mock!(aws_sdk_organizations::Client::list_accounts)
        .match_requests(|r: &ListAccountsInput| r.next_token() == Some("page-2"))
        .then_output(move || {
            #[allow(deprecated)]
            let old = Account::builder()
                .id("333333333333")
                .status(aws_sdk_organizations::types::AccountStatus::PendingClosure)
                .build();
            ListAccountsOutput::builder().accounts(old).build()
        });
    let client = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, [&first, &second]);
    let listed = guard::aws::accounts::list_organization(&client)
        .await
        .unwrap();
    let got: Vec<(&str, &str)> = listed
        .iter()
        .map(|a| (a.account.id.as_str(), a.status.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("111111111111", "ACTIVE"),
            ("222222222222", "SUSPENDED"),
            ("333333333333", "PENDING_CLOSURE")
        ]
    );
}

/// A guard outside the management account may not list the organization:
/// the error says which call and why, and nothing is swept.
#[tokio::test]
async fn a_refused_account_list_is_an_error_that_names_the_call() {
    let denied = mock!(aws_sdk_organizations::Client::list_accounts).then_http_response(|| {
        HttpResponse::new(
            StatusCode::try_from(400).unwrap(),
            SdkBody::from(
                r#"{"__type":"AccessDeniedException","Message":"You don't have permissions to access this resource."}"#,
            ),
        )
    });
    let client = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, [&denied]);
    let err = guard::aws::accounts::list_organization(&client)
        .await
        .unwrap_err();
    assert_eq!(err.operation, "organizations:ListAccounts");
    assert_eq!(err.code, "AccessDeniedException");
    assert!(err.to_string().contains("permissions"), "{err}");
}
