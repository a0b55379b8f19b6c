//! The Lambda functions, one module per function and named like its binary,
//! all on one runner:
//!
//! - a function implements [`Function`]: the configuration it reads, how it
//!   is built once per cold start, and how it handles one [`Invocation`];
//! - [`serve`] is a function's whole `main`: it reads that configuration at
//!   cold start (a bad value fails with a message that names the variable),
//!   hands each invocation its payload, deadline and clock, and turns the
//!   result into the one `invocation finished` log line, the answer and the
//!   error Lambda sees;
//! - [`conclude`] ends an invocation that tells subscribers something: it
//!   publishes, and records the whole outcome for that log line.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use time::{Date, OffsetDateTime};

use crate::aws::sns::Notifier;
use crate::domain::config::Settings;
use crate::domain::error::AwsError;
use crate::domain::outcome::{first_problem, SweepReport};
use crate::domain::render::Message;

pub mod burn_watch;
pub mod keep_stopped;
pub mod launch_tripwire;
pub mod resume;
pub mod root_login_alert;
pub mod spend_watch;
pub mod stop_on_overspend;
pub mod weekly_check;

/// Time kept back from the Lambda deadline for the report and the publish.
pub(crate) const DEADLINE_RESERVE: Duration = Duration::from_secs(5);
/// Time an invocation may take when there is no Lambda deadline (tests, and
/// local runtimes that send none).
pub(crate) const DEFAULT_BUDGET: Duration = Duration::from_secs(120);
/// Lambda's longest timeout: a deadline further ahead is not a real one.
pub(crate) const LAMBDA_MAX_TIMEOUT: Duration = Duration::from_secs(900);

/// What can go wrong in an invocation, after subscribers were told whatever
/// could be told. Each variant is one `errorType` in Lambda's metrics and logs.
#[derive(thiserror::Error)]
pub enum HandlerError {
    #[error("malformed event: {0}")]
    Malformed(String),
    #[error("could not notify subscribers: {0}")]
    Notify(AwsError),
    /// The accounts or the region list could not be read: nothing was swept.
    #[error("could not start the sweep: {0} ({advice})", advice = .0.advice())]
    SweepNotStarted(AwsError),
    /// What the event is about could not be read, so nothing was decided.
    #[error("could not read what the event names: {0} ({advice})", advice = .0.advice())]
    Unreadable(AwsError),
    /// Not everything was done; Lambda's retry runs it again. `at` says
    /// where: regions, accounts or a resource.
    #[error(
        "incomplete in {at}: {detail}; subscribers were told, and the retry finishes what is left"
    )]
    Incomplete { at: String, detail: String },
    #[error("month-to-date spend unavailable, so the limit could not be checked: {0}")]
    SpendUnavailable(String),
    /// The weekly check told subscribers but could not remember what it
    /// saw: the next run compares with an older one.
    #[error("could not remember this run's checks: {0} ({advice})", advice = .0.advice())]
    Remember(AwsError),
    /// The function's answer could not be turned into JSON.
    #[error("the answer could not be written as JSON: {0}")]
    Answer(String),
}

impl HandlerError {
    /// The `errorType` Lambda reports for this error.
    pub(crate) fn error_type(&self) -> &'static str {
        match self {
            HandlerError::Malformed(_) => "CostGuard.MalformedEvent",
            HandlerError::Notify(_) => "CostGuard.NotifyFailed",
            HandlerError::SweepNotStarted(_) => "CostGuard.RegionsUnavailable",
            HandlerError::Unreadable(_) => "CostGuard.DescribeFailed",
            HandlerError::Incomplete { .. } => "CostGuard.SweepIncomplete",
            HandlerError::SpendUnavailable(_) => "CostGuard.SpendUnavailable",
            HandlerError::Answer(_) => "CostGuard.AnswerUnwritable",
            HandlerError::Remember(_) => "CostGuard.StateUnwritable",
        }
    }
}

/// Lambda logs a handler's error with `Debug`: make that the readable message.
impl std::fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_type().to_string(),
            error_message: e.to_string(),
        }
    }
}

/// One invocation: its payload, its deadline, the time it started, and the
/// function's ARN when Lambda handed it in. [`conclude`] records the
/// outcome here for the runner's log line.
pub struct Invocation<'a> {
    payload: &'a serde_json::Value,
    deadline: Option<SystemTime>,
    now: OffsetDateTime,
    function_arn: Option<&'a str>,
    ending: Mutex<Option<Ending>>,
}

/// What [`conclude`] recorded: the outcome and the full report, as JSON.
struct Ending {
    outcome: String,
    report: String,
}

impl<'a> Invocation<'a> {
    /// An invocation with `payload`, starting now, with no deadline.
    pub fn new(payload: &'a serde_json::Value) -> Self {
        Invocation {
            payload,
            deadline: None,
            now: OffsetDateTime::now_utc(),
            function_arn: None,
            ending: Mutex::new(None),
        }
    }

    /// With Lambda's deadline (`None`: the default time budget).
    pub fn deadline(self, deadline: Option<SystemTime>) -> Self {
        Invocation { deadline, ..self }
    }

    /// As if it started on `date` (tests of the calendar).
    pub fn on(self, date: Date) -> Self {
        self.at(date.midnight().assume_utc())
    }

    /// As if it started at `now` (tests of what a function remembers
    /// between invocations).
    pub fn at(self, now: OffsetDateTime) -> Self {
        Invocation { now, ..self }
    }

    /// With the function's ARN, from Lambda's context.
    pub fn function_arn(self, arn: &'a str) -> Self {
        Invocation {
            function_arn: Some(arn),
            ..self
        }
    }

    pub fn payload(&self) -> &'a serde_json::Value {
        self.payload
    }

    /// The function's ARN, when Lambda handed it in.
    pub(crate) fn invoked_arn(&self) -> Option<&'a str> {
        self.function_arn
    }

    /// The day the invocation started, in UTC.
    pub fn today(&self) -> Date {
        self.now.date()
    }

    /// The time the invocation started.
    pub fn started(&self) -> OffsetDateTime {
        self.now
    }

    /// The time the work may take from now: see [`time_budget`].
    pub fn budget(&self) -> Duration {
        time_budget(self.deadline, SystemTime::now())
    }

    fn record(&self, outcome: String, report: String) {
        *self.ending.lock().unwrap_or_else(|p| p.into_inner()) = Some(Ending { outcome, report });
    }

    fn take_ending(&self) -> Option<Ending> {
        self.ending.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// A Lambda function of cost-guard.
pub trait Function: Sized + Send + Sync {
    /// The function's own configuration, and nothing more.
    type Config: Settings;
    /// What an invocation returns to Lambda (and logs).
    type Output: Serialize + Send;

    /// Builds the function once per cold start: clients, caches.
    fn new(config: Self::Config, sdk: &aws_types::SdkConfig) -> Self;

    /// Handles one invocation.
    fn handle(
        &self,
        invocation: &Invocation<'_>,
    ) -> impl Future<Output = Result<Self::Output, HandlerError>> + Send;

    /// Handles one invocation and logs the one `invocation finished` line:
    /// the outcome, the full report when there is one, and the error.
    fn run(
        &self,
        invocation: &Invocation<'_>,
    ) -> impl Future<Output = Result<Self::Output, HandlerError>> + Send {
        async move {
            let result = self.handle(invocation).await;
            let ending = invocation.take_ending();
            let outcome = match (&ending, &result) {
                (Some(e), _) => e.outcome.clone(),
                (None, Ok(output)) => json(output).unwrap_or_else(|e| e.to_string()),
                (None, Err(_)) => "null".into(),
            };
            let report = ending.map(|e| e.report).unwrap_or_else(|| "null".into());
            match &result {
                Ok(_) => tracing::info!(%outcome, %report, "invocation finished"),
                Err(e) => tracing::error!(
                    %outcome,
                    %report,
                    error_type = e.error_type(),
                    error = %e,
                    "invocation finished"
                ),
            }
            result
        }
    }
}

/// The JSON of `value`, or why it has none.
fn json(value: &impl Serialize) -> Result<String, HandlerError> {
    serde_json::to_string(value).map_err(|e| HandlerError::Answer(e.to_string()))
}

/// A function's whole `main`: reads its configuration and builds it once,
/// then serves invocations until Lambda stops the process.
pub async fn serve<F: Function>() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    // A bad setting fails the cold start with a message that names the variable.
    let config =
        F::Config::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let sdk = crate::aws::sdk::load()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let function = &F::new(config, &sdk);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
            let invocation = Invocation::new(&event.payload)
                .deadline(Some(event.context.deadline()))
                .function_arn(&event.context.invoked_function_arn);
            // Boxed: a function's future is deep (a sweep of many accounts),
            // past the compiler's layout limit in the runtime's own future.
            let output = Box::pin(function.run(&invocation)).await?;
            serde_json::to_value(output).map_err(|e| HandlerError::Answer(e.to_string()))
        },
    ))
    .await
}

/// The time a sweep may take: until the deadline less the reserve, at least
/// 1 s. A deadline that has already passed, or lies more than Lambda's 15
/// minutes ahead, is not one Lambda sent (local runtimes such as `cargo lambda
/// watch` send a constant): it is treated as unknown, with a warning, and the
/// sweep gets the default budget rather than 1 s for every region.
pub(crate) fn time_budget(deadline: Option<SystemTime>, now: SystemTime) -> Duration {
    let Some(d) = deadline else {
        return DEFAULT_BUDGET;
    };
    match d.duration_since(now) {
        Ok(left) if left <= LAMBDA_MAX_TIMEOUT => left
            .saturating_sub(DEADLINE_RESERVE)
            .max(Duration::from_secs(1)),
        ahead => {
            let deadline_ms = d
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|t| t.as_millis())
                .unwrap_or_default();
            let why = if ahead.is_ok() {
                "more than Lambda's 15-minute maximum ahead"
            } else {
                "already past"
            };
            tracing::warn!(
                deadline_ms,
                budget_secs = DEFAULT_BUDGET.as_secs(),
                "the invocation's deadline is {why}, so not one Lambda sent (a local runtime?); using the default time budget"
            );
            DEFAULT_BUDGET
        }
    }
}

/// Ends an invocation that tells subscribers: publishes `message` (when
/// there is one), records the whole outcome (`summary` and the full
/// `report`) for the runner's log line whatever happens next, then reports
/// the first thing that went wrong: the publish, else `failure` (a sweep
/// that could not start, regions that did not finish, so that Lambda
/// retries).
pub(crate) async fn conclude<S: Serialize>(
    invocation: &Invocation<'_>,
    notifier: &Notifier,
    message: Option<&Message>,
    summary: impl FnOnce(bool) -> S,
    report: &impl Serialize,
    failure: Option<HandlerError>,
) -> Result<S, HandlerError> {
    let published = match message {
        Some(m) => Some(notifier.publish(m).await),
        None => None,
    };
    let summary = summary(matches!(published, Some(Ok(_))));
    // Recorded whatever comes next; a part that cannot be written says why
    // in its place rather than hide the error that follows.
    let text = |r: Result<String, HandlerError>| r.unwrap_or_else(|e| e.to_string());
    invocation.record(text(json(&summary)), text(json(report)));
    if let (Some(Err(e)), Some(m)) = (published, message) {
        tracing::error!(error = %e, body = %m.body, "publishing the report failed");
        return Err(HandlerError::Notify(e));
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

/// What a sweep's outcome makes of the invocation: the sweep that could not
/// start, or the regions that did not finish cleanly.
pub(crate) fn sweep_failure(sweep: Option<&Result<SweepReport, AwsError>>) -> Option<HandlerError> {
    match sweep {
        Some(Err(e)) => Some(HandlerError::SweepNotStarted(e.clone())),
        Some(Ok(report)) => incomplete(
            report
                .troubled_regions()
                .iter()
                .map(|r| (r.label(), first_problem(&r.errors, &r.failed)))
                .chain(
                    report
                        .unreachable_accounts()
                        .into_iter()
                        .map(|(account, why)| (format!("account {}", account.id), why.to_string())),
                ),
        ),
        None => None,
    }
}

/// The places that did not finish cleanly, each with its first problem.
pub(crate) fn incomplete(troubled: impl Iterator<Item = (String, String)>) -> Option<HandlerError> {
    let troubled: Vec<(String, String)> = troubled.collect();
    if troubled.is_empty() {
        return None;
    }
    Some(HandlerError::Incomplete {
        at: troubled
            .iter()
            .map(|(r, _)| r.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        detail: troubled
            .iter()
            .map(|(r, first)| format!("{r}: {first}"))
            .collect::<Vec<_>>()
            .join("; "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_sees_a_named_type_and_a_readable_message() {
        let e = HandlerError::SweepNotStarted(AwsError::new(
            "ec2:DescribeRegions",
            "Timeout",
            "no answer before the timeout",
        ));
        let text = "could not start the sweep: ec2:DescribeRegions failed: Timeout: no answer before the timeout (the service did not answer in time; the next invocation tries again)";
        assert_eq!(format!("{e:?}"), text);
        let d: lambda_runtime::Diagnostic = e.into();
        assert_eq!(d.error_type, "CostGuard.RegionsUnavailable");
        assert_eq!(d.error_message, text);
    }

    #[test]
    fn budget_from_deadline() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(time_budget(None, now), DEFAULT_BUDGET);
        assert_eq!(
            time_budget(Some(now + Duration::from_secs(60)), now),
            Duration::from_secs(55)
        );
        assert_eq!(
            time_budget(Some(now + Duration::from_secs(2)), now),
            Duration::from_secs(1)
        );
        // Not deadlines Lambda sends: already past (cargo lambda watch sends
        // a constant in the past), or beyond the 15-minute maximum.
        assert_eq!(
            time_budget(Some(now - Duration::from_secs(2)), now),
            DEFAULT_BUDGET
        );
        assert_eq!(
            time_budget(Some(now + Duration::from_secs(901)), now),
            DEFAULT_BUDGET
        );
        assert_eq!(
            time_budget(Some(now + LAMBDA_MAX_TIMEOUT), now),
            LAMBDA_MAX_TIMEOUT - DEADLINE_RESERVE
        );
    }

    #[test]
    fn an_invocation_starts_on_its_day_and_its_budget_follows_its_deadline() {
        let payload = serde_json::json!({});
        let i = Invocation::new(&payload).on(time::macros::date!(2026 - 12 - 04));
        assert_eq!(i.today(), time::macros::date!(2026 - 12 - 04));
        assert_eq!(i.budget(), DEFAULT_BUDGET);
        let soon = SystemTime::now() + Duration::from_secs(30);
        let i = Invocation::new(&payload).deadline(Some(soon));
        assert!(i.budget() <= Duration::from_secs(25), "{:?}", i.budget());
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:f";
        assert_eq!(
            Invocation::new(&payload).function_arn(arn).invoked_arn(),
            Some(arn)
        );
    }

    /// A sweep that could not start is an error Lambda retries; one whose
    /// regions or accounts did not all finish names each with its first
    /// problem; a clean sweep, or none, is no error.
    #[test]
    fn a_sweep_that_did_not_start_or_finish_is_an_error_and_a_clean_one_is_not() {
        use crate::domain::accounts::{Account, AccountState, AccountStatus};
        use crate::domain::outcome::RegionReport;
        let denied = AwsError::new("ec2:DescribeRegions", "AccessDenied", "no");
        let e = sweep_failure(Some(&Err(denied))).expect("a sweep that did not start");
        assert_eq!(e.error_type(), "CostGuard.RegionsUnavailable");
        assert!(e.to_string().contains("ec2:DescribeRegions"), "{e}");
        assert!(sweep_failure(None).is_none());

        let clean = RegionReport {
            region: "eu-west-1".into(),
            finished: true,
            ..Default::default()
        };
        let mut report = SweepReport {
            dry_run: false,
            regions: vec![clean.clone()],
            accounts: vec![AccountStatus {
                account: Account::new("111111111111"),
                state: AccountState::Swept,
            }],
        };
        assert!(sweep_failure(Some(&Ok(report.clone()))).is_none());

        report.regions.push(RegionReport {
            region: "ap-south-1".into(),
            account: Some("111111111111".into()),
            errors: vec!["rds:DescribeDBInstances failed: Throttling".into()],
            finished: true,
            ..Default::default()
        });
        report.regions.push(RegionReport {
            region: "us-west-2".into(),
            ..Default::default()
        });
        report.accounts.push(AccountStatus {
            account: Account::new("222222222222"),
            state: AccountState::Unreachable("sts:AssumeRole failed: AccessDenied".into()),
        });
        let Some(HandlerError::Incomplete { at, detail }) = sweep_failure(Some(&Ok(report))) else {
            panic!("an unfinished sweep must be an error Lambda retries");
        };
        assert_eq!(
            at,
            "111111111111/ap-south-1, us-west-2, account 222222222222"
        );
        assert_eq!(
            detail,
            "111111111111/ap-south-1: rds:DescribeDBInstances failed: Throttling; \
             us-west-2: unfinished; \
             account 222222222222: sts:AssumeRole failed: AccessDenied"
        );
    }

    /// A value serde cannot write: a map whose keys are not strings.
    struct Unwritable;
    impl Serialize for Unwritable {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut m = s.serialize_map(Some(1))?;
            m.serialize_entry(&[1, 2], &0)?;
            m.end()
        }
    }

    #[test]
    fn an_answer_that_cannot_be_written_is_an_error_not_null() {
        let e = json(&Unwritable).unwrap_err();
        assert_eq!(e.error_type(), "CostGuard.AnswerUnwritable");
        assert!(e.to_string().contains("key must be a string"), "{e}");
    }
}
