//! `cost-guard doctor`: whether every piece the guard needs is in place, as
//! pure decisions over what was read from the account (the [`Facts`]), each a
//! [`Check`] that says what it found and, when it failed, the exact fix.
//!
//! Reading is in `aws::doctor`; what a person reads is in `render::doctor`.
//! Nothing here calls AWS, so every decision is tested with plain data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::error::AwsError;

/// What a check concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Something that lets a bill through or leaves nobody told: fix it.
    Fail,
    /// It could not be read (a permission, the network): nothing is known.
    Unknown,
    /// Worth doing, but the guard works without it.
    Advice,
    Pass,
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// A stable name, for scripts and for comparing two runs.
    pub check: &'static str,
    pub status: Status,
    /// What was found, in a sentence.
    pub found: String,
    /// For a failure or advice: the command or console step that fixes it.
    /// For a check that could not be made: the permission it needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn pass(check: &'static str, found: impl Into<String>) -> Check {
        Check {
            check,
            status: Status::Pass,
            found: found.into(),
            fix: None,
        }
    }

    fn fail(check: &'static str, found: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            check,
            status: Status::Fail,
            found: found.into(),
            fix: Some(fix.into()),
        }
    }

    fn advice(check: &'static str, found: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            check,
            status: Status::Advice,
            found: found.into(),
            fix: Some(fix.into()),
        }
    }

    fn unknown(check: &'static str, what: &str, unread: &Unread) -> Check {
        Check {
            check,
            status: Status::Unknown,
            found: format!("could not read {what}: {}", unread.why),
            fix: Some(format!(
                "allow {} to the credentials doctor runs with",
                unread.operation
            )),
        }
    }
}

/// A read that failed: the permission it needed and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unread {
    /// `sns:ListSubscriptionsByTopic`, ...
    pub operation: String,
    pub why: String,
}

impl From<AwsError> for Unread {
    fn from(e: AwsError) -> Unread {
        let why = if e.message.is_empty() {
            e.code.clone()
        } else {
            format!("{}: {}", e.code, e.message)
        };
        Unread {
            operation: e.operation.to_string(),
            why,
        }
    }
}

/// What was read, or why it could not be.
pub type Read<T> = Result<T, Unread>;

/// The deployed stack, as CloudFormation describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stack {
    pub name: String,
    pub region: String,
    pub account: String,
    /// `CREATE_COMPLETE`, `UPDATE_ROLLBACK_FAILED`, ...
    pub status: String,
    /// The parameters it was deployed with (the functions' settings come
    /// from them).
    pub parameters: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
}

impl Stack {
    /// A parameter's value, or the template's default when the stack does
    /// not list it.
    pub fn parameter(&self, name: &str) -> &str {
        self.parameters
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| default_parameter(name))
    }

    fn number(&self, name: &str) -> f64 {
        self.parameter(name).trim().parse().unwrap_or(0.0)
    }

    /// With `Accounts` other than `self`: the other accounts are covered too.
    pub fn covers_other_accounts(&self) -> bool {
        self.parameter("Accounts").trim() != "self"
    }

    pub fn has_budget(&self) -> bool {
        self.number("MonthlyBudgetUsd") > 0.0
    }

    pub fn has_billing_alarm(&self) -> bool {
        self.number("BillingAlarmUsd") > 0.0 && self.region == "us-east-1"
    }

    pub fn has_spend_watch(&self) -> bool {
        self.number("SpendLimitUsd") > 0.0
    }

    pub fn has_burn_watch(&self) -> bool {
        self.number("BurnLimitUsdPerHour") > 0.0
    }

    pub fn acts_on_anomalies(&self) -> bool {
        self.parameter("AnomalyAction") == "stop"
    }
}

/// The template's defaults of the parameters doctor reads (a stack lists
/// every parameter, so these matter only for a stack made by hand).
fn default_parameter(name: &str) -> &'static str {
    match name {
        "Accounts" => "self",
        "DryRun" => "false",
        "Selection" => "tagged",
        "StopTagKey" => "cost-guard",
        "StopTagValue" => "stop",
        "ExemptTagKey" => "cost-guard-exempt",
        "TripwireAction" | "TripwireGuardDutyAction" => "stop",
        "AnomalyAction" => "report",
        "RootLoginAction" => "alert",
        _ => "",
    }
}

/// A subscription to the notify topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// `email`, `sms`, `https`, `sqs`, ...
    pub protocol: String,
    pub endpoint: String,
    /// SNS lists a subscription awaiting confirmation with the ARN
    /// `PendingConfirmation`: it receives nothing.
    pub confirmed: bool,
}

/// What publishes to the trigger topic from outside the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publishers {
    /// Budgets with a notification to the trigger topic (the stack's own
    /// among them, while it has one).
    pub budgets: Read<Vec<String>>,
    /// CloudWatch alarms (in the stack's region and us-east-1) with the
    /// trigger topic among their alarm actions (the stack's own among them).
    pub alarms: Read<Vec<String>>,
    /// The names of the stack's own budget and billing alarm, when it made
    /// them: each must still be among those that publish.
    pub own_budget: Option<String>,
    pub own_alarm: Option<String>,
    /// Cost Anomaly Detection subscriptions that alert the trigger topic,
    /// read only with `AnomalyAction=stop` (in report mode an anomaly starts
    /// no sweep, and each Cost Explorer request costs $0.01).
    pub anomalies: Option<Read<Vec<String>>>,
    /// Whether `AWS/Billing` `EstimatedCharges` exists in us-east-1: it does
    /// only once billing alerts are enabled in the account's billing
    /// preferences, and a billing alarm without it never fires.
    pub billing_metric: Read<bool>,
}

/// A CloudTrail trail as the guard needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trail {
    pub name: String,
    pub multi_region: bool,
    pub organization: bool,
    pub logging: Read<bool>,
    /// Whether its selectors log management write events.
    pub management_writes: Read<bool>,
}

/// An enabled region and the forwarder rules found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionForwarder {
    pub region: String,
    /// An opt-in region (`opted-in`), enabled by someone at some point:
    /// the first a forwarder deployed before is missing from.
    pub opted_in: bool,
    /// The rules that target the guard's event bus, with whether each is
    /// enabled.
    pub rules: Read<Vec<(String, bool)>>,
}

/// GuardDuty in one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detector {
    pub region: String,
    /// Whether a detector exists and is enabled.
    pub enabled: Read<bool>,
}

/// A covered account and whether the guard's member role could be assumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAccess {
    pub account: String,
    /// Why the role could not be assumed, if it could not.
    pub failed: Option<String>,
}

/// A StackSet the guard relies on, and where it is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSet {
    pub name: String,
    /// Its parameters (compared with the stack's).
    pub parameters: BTreeMap<String, String>,
    /// `(account, region)` of each instance and its status (`CURRENT`,
    /// `OUTDATED`, `INOPERABLE`).
    pub instances: Vec<(String, String, String)>,
}

/// The account's basic hygiene, from IAM and Account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hygiene {
    /// `AccountMFAEnabled` and `AccountAccessKeysPresent` of IAM's
    /// account summary.
    pub root: Read<(bool, bool)>,
    /// IAM users with a console password and no MFA device.
    pub users_without_mfa: Read<Vec<String>>,
    /// Whether the alternate billing contact is set.
    pub billing_contact: Read<bool>,
}

/// How the stack's own pieces have run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Each function's errors in the last 7 days (`AWS/Lambda` `Errors`),
    /// by its logical id.
    pub errors: Read<Vec<(String, u64)>>,
    /// The stack's own alarms in the `ALARM` state.
    pub alarming: Read<Vec<String>>,
    /// Messages waiting in the failure queue and the sweep's dead-letter
    /// queue, by logical id.
    pub queued: Read<Vec<(String, u64)>>,
}

/// Everything doctor read; `None` where a check does not apply (no stack to
/// read it from, or a setting that makes it moot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The stack, `Ok(None)` when there is none of that name.
    pub stack: Read<Option<Stack>>,
    pub health: Option<Health>,
    pub subscriptions: Option<Read<Vec<Subscription>>>,
    pub publishers: Option<Publishers>,
    pub trails: Option<Read<Vec<Trail>>>,
    pub forwarders: Option<Read<Vec<RegionForwarder>>>,
    pub detectors: Option<Vec<Detector>>,
    pub members: Option<Read<Vec<MemberAccess>>>,
    /// The member roles' and the member forwarder's StackSets, by name;
    /// `Ok(None)` for one that does not exist.
    pub stack_sets: Vec<(String, Read<Option<StackSet>>)>,
    /// The environment each of the stack's functions runs with.
    pub settings: Option<Read<Vec<FunctionSettings>>>,
    /// With `Accounts` other than `self`: the accounts covered other than
    /// the stack's own, where the StackSets must have their instances.
    pub covered: Option<Read<Vec<String>>>,
    pub hygiene: Hygiene,
}

/// One of the stack's functions and the environment it runs with, as
/// Lambda reports it (the template sets it from the stack's parameters; a
/// hand edit in the console does not change the stack).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSettings {
    /// Its logical id in the stack, `StopOnOverspendFunction`.
    pub function: String,
    pub variables: BTreeMap<String, String>,
}

/// The checklist, in the order a person should fix things.
pub fn checklist(facts: &Facts, stack_name: &str) -> Vec<Check> {
    let mut checks = vec![];
    let stack = match &facts.stack {
        Ok(Some(s)) => Some(s),
        _ => None,
    };
    checks.push(stack_check(&facts.stack, stack_name));
    if let Some(s) = stack {
        checks.push(dry_run_check(s));
    }
    if let Some(h) = &facts.health {
        checks.push(errors_check(h));
        checks.push(queues_check(h, stack));
    }
    if let (Some(subs), Some(s)) = (&facts.subscriptions, stack) {
        checks.push(subscription_check(subs, s));
    }
    if let (Some(p), Some(s)) = (&facts.publishers, stack) {
        checks.push(trigger_check(p, s));
        if let Some(c) = billing_alerts_check(p, s) {
            checks.push(c);
        }
    }
    if let (Some(t), Some(s)) = (&facts.trails, stack) {
        checks.push(trail_check(t, s));
    }
    if let (Some(f), Some(s)) = (&facts.forwarders, stack) {
        checks.push(forwarder_check(f, s));
    }
    if let (Some(d), Some(s)) = (&facts.detectors, stack) {
        checks.push(guardduty_check(d, s));
    }
    if let (Some(m), Some(s)) = (&facts.members, stack) {
        checks.push(members_check(m, s));
    }
    if let Some(s) = stack {
        let regions: Vec<String> = match &facts.forwarders {
            Some(Ok(r)) => r.iter().map(|r| r.region.clone()).collect(),
            _ => vec![],
        };
        checks.extend(stack_set_checks(
            &facts.stack_sets,
            s,
            facts.covered.as_ref(),
            &regions,
        ));
    }
    if let (Some(f), Some(s)) = (&facts.settings, stack) {
        checks.push(settings_check(f, s));
    }
    checks.extend(hygiene_checks(&facts.hygiene));
    checks
}

/// The exit status: 1 when a check failed (with `strict`, also when one
/// could not be made), 0 otherwise.
pub fn exit_status(checks: &[Check], strict: bool) -> u8 {
    let bad = |c: &Check| c.status == Status::Fail || (strict && c.status == Status::Unknown);
    u8::from(checks.iter().any(bad))
}

const DEPLOY: &str = "sam build && sam deploy --guided";

fn deploy_with(stack: &Stack, overrides: &str) -> String {
    format!(
        "sam deploy --stack-name {} --region {} --parameter-overrides {overrides} \
         (with your other overrides; or answer it in sam deploy --guided)",
        stack.name, stack.region
    )
}

fn stack_check(stack: &Read<Option<Stack>>, name: &str) -> Check {
    const C: &str = "stack";
    match stack {
        Err(e) => Check::unknown(C, &format!("the stack {name}"), e),
        Ok(None) => Check::fail(
            C,
            format!("no stack named {name} in this account and region: nothing guards it"),
            format!(
                "{DEPLOY} (or name your stack: cost-guard doctor --stack-name NAME --region REGION)"
            ),
        ),
        Ok(Some(s)) => {
            let status = s.status.as_str();
            let found = format!("{} is {status} in {}", s.name, s.region);
            if matches!(status, "CREATE_COMPLETE" | "UPDATE_COMPLETE") {
                Check::pass(C, found)
            } else if status == "UPDATE_ROLLBACK_COMPLETE" {
                Check::advice(
                    C,
                    format!("{found}: the last update failed and was rolled back, the one before runs"),
                    format!("see why: aws cloudformation describe-stack-events --stack-name {} --region {}, then deploy again", s.name, s.region),
                )
            } else if status.ends_with("_IN_PROGRESS") {
                Check::advice(
                    C,
                    format!("{found}: it is changing now"),
                    "run cost-guard doctor again when it is done",
                )
            } else {
                Check::fail(
                    C,
                    format!("{found}: it is not running as deployed"),
                    format!(
                        "see why: aws cloudformation describe-stack-events --stack-name {} --region {}, fix it, then {DEPLOY}",
                        s.name, s.region
                    ),
                )
            }
        }
    }
}

fn dry_run_check(stack: &Stack) -> Check {
    const C: &str = "dry-run";
    if stack.parameter("DryRun") == "true" {
        Check::advice(
            C,
            "DryRun is true: every function reports what it would stop, and stops nothing",
            deploy_with(stack, "DryRun=false"),
        )
    } else {
        Check::pass(C, "DryRun is false: the functions stop what they select")
    }
}

fn errors_check(health: &Health) -> Check {
    const C: &str = "function-errors";
    let errors = match &health.errors {
        Err(e) => return Check::unknown(C, "the functions' errors", e),
        Ok(errors) => errors,
    };
    let failing: Vec<String> = errors
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(f, n)| format!("{f} ({n})"))
        .collect();
    let alarming = match &health.alarming {
        Ok(a) => a.clone(),
        Err(_) => vec![],
    };
    if failing.is_empty() && alarming.is_empty() {
        let mut found = match errors.len() {
            1 => "the function did not fail in the last 7 days".to_string(),
            n => format!("none of the {n} functions failed in the last 7 days"),
        };
        if let Err(e) = &health.alarming {
            found.push_str(&format!(" (the alarms could not be read: {})", e.why));
        }
        return Check::pass(C, found);
    }
    let mut found = vec![];
    if !failing.is_empty() {
        found.push(format!("errors in the last 7 days: {}", failing.join(", ")));
    }
    if !alarming.is_empty() {
        found.push(format!("alarms in ALARM: {}", alarming.join(", ")));
    }
    Check::fail(
        C,
        found.join("; "),
        "read the errors in each function's log group (CloudWatch Logs, /aws/lambda/<function>): \
         an error means a message was not acted on; the failure queue holds its event",
    )
}

fn queues_check(health: &Health, stack: Option<&Stack>) -> Check {
    const C: &str = "failure-queue";
    let queued = match &health.queued {
        Err(e) => return Check::unknown(C, "the failure queues", e),
        Ok(q) => q,
    };
    let waiting: Vec<String> = queued
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(q, n)| format!("{q} holds {n}"))
        .collect();
    if waiting.is_empty() {
        return Check::pass(
            C,
            format!(
                "{} empty: no event failed for good",
                if queued.len() == 1 {
                    "the failure queue is".to_string()
                } else {
                    format!("the {} failure queues are", queued.len())
                }
            ),
        );
    }
    let url = stack
        .and_then(|s| s.outputs.get("FailureQueueUrl"))
        .map(String::as_str)
        .unwrap_or("FAILURE_QUEUE_URL");
    Check::fail(
        C,
        format!(
            "{}: each is an event that failed every retry and was not acted on",
            waiting.join(", ")
        ),
        format!(
            "read them (aws sqs receive-message --queue-url {url} --max-number-of-messages 10), act on \
             what they name, then purge the queue"
        ),
    )
}

/// `a***@example.com`: enough to recognise one's own address in a report
/// that others may read.
pub fn masked(endpoint: &str) -> String {
    // A web hook's address may hold a token (in its path, its query, or as
    // user:password@): its scheme and host only.
    for scheme in ["https://", "http://"] {
        if let Some(rest) = endpoint.strip_prefix(scheme) {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            let host = authority.rsplit('@').next().unwrap_or_default();
            return format!("{scheme}{host}/***");
        }
    }
    match endpoint.split_once('@') {
        Some((user, domain)) => {
            let first: String = user.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None if endpoint.starts_with("arn:") => endpoint.to_string(),
        None => {
            let shown: String = endpoint.chars().take(4).collect();
            format!("{shown}***")
        }
    }
}

fn subscription_check(subs: &Read<Vec<Subscription>>, stack: &Stack) -> Check {
    const C: &str = "subscription";
    let subs = match subs {
        Err(e) => return Check::unknown(C, "the notify topic's subscriptions", e),
        Ok(s) => s,
    };
    let topic = stack
        .outputs
        .get("NotifyTopicArn")
        .map(String::as_str)
        .unwrap_or("NOTIFY_TOPIC_ARN");
    let confirmed: Vec<&Subscription> = subs.iter().filter(|s| s.confirmed).collect();
    let pending: Vec<String> = subs
        .iter()
        .filter(|s| !s.confirmed)
        .map(|s| format!("{} {}", s.protocol, masked(&s.endpoint)))
        .collect();
    let subscribe = format!(
        "aws sns subscribe --region {} --topic-arn {topic} --protocol email --notification-endpoint YOU@EXAMPLE.COM, then confirm the email",
        stack.region
    );
    if confirmed.is_empty() {
        if pending.is_empty() {
            return Check::fail(
                C,
                "the notify topic has no subscription: nobody is told what cost-guard did",
                subscribe,
            );
        }
        return Check::fail(
            C,
            format!(
                "the notify topic has no confirmed subscription; pending confirmation: {}. Until confirmed, nobody is told",
                pending.join(", ")
            ),
            format!(
                "open the email \"AWS Notification - Subscription Confirmation\" (look in spam) and click \"Confirm subscription\"; \
                 if it is lost, subscribe again: {subscribe}"
            ),
        );
    }
    let names: Vec<String> = confirmed
        .iter()
        .map(|s| format!("{} {}", s.protocol, masked(&s.endpoint)))
        .collect();
    let mut found = format!("confirmed: {}", names.join(", "));
    if !pending.is_empty() {
        found.push_str(&format!("; still pending: {}", pending.join(", ")));
    }
    Check::pass(C, found)
}

fn trigger_check(p: &Publishers, stack: &Stack) -> Check {
    const C: &str = "trigger";
    let mut found = vec![];
    // What the stack made or the owner set that no longer publishes.
    let mut broken = vec![];
    let mut unread = vec![];
    // Whether `name` is among what was read (`None`: it could not be read).
    fn listed(read: &Read<Vec<String>>, name: &str) -> Option<bool> {
        read.as_ref().ok().map(|l| l.iter().any(|n| n == name))
    }
    if stack.has_budget() {
        match p.own_budget.as_deref().map(|n| (n, listed(&p.budgets, n))) {
            Some((name, Some(false))) => broken.push(format!(
                "the stack's budget {name} no longer notifies the trigger topic (deleted, or its notification removed)"
            )),
            _ => found.push(format!(
                "the stack's budget of {} USD",
                stack.parameter("MonthlyBudgetUsd")
            )),
        }
    }
    if stack.has_billing_alarm() {
        match p.own_alarm.as_deref().map(|n| (n, listed(&p.alarms, n))) {
            Some((name, Some(false))) => broken.push(format!(
                "the stack's billing alarm {name} no longer acts on the trigger topic (deleted, or its action removed)"
            )),
            _ => found.push(format!(
                "the stack's billing alarm at {} USD",
                stack.parameter("BillingAlarmUsd")
            )),
        }
    }
    if stack.has_spend_watch() {
        found.push(format!(
            "spend-watch at {} USD",
            stack.parameter("SpendLimitUsd")
        ));
    }
    if stack.has_burn_watch() {
        found.push(format!(
            "burn-watch at {} USD an hour",
            stack.parameter("BurnLimitUsdPerHour")
        ));
    }
    match &p.budgets {
        Ok(b) => found.extend(
            b.iter()
                .filter(|n| Some(n.as_str()) != p.own_budget.as_deref())
                .map(|n| format!("budget {n}")),
        ),
        Err(e) => unread.push(e),
    }
    match &p.alarms {
        Ok(a) => found.extend(
            a.iter()
                .filter(|n| Some(n.as_str()) != p.own_alarm.as_deref())
                .map(|n| format!("alarm {n}")),
        ),
        Err(e) => unread.push(e),
    }
    if stack.acts_on_anomalies() {
        match &p.anomalies {
            Some(Ok(a)) if a.is_empty() => broken.push(
                "AnomalyAction is stop, but no Cost Anomaly Detection subscription alerts the trigger topic".into(),
            ),
            Some(Ok(a)) => found.extend(a.iter().map(|n| format!("anomaly subscription {n}"))),
            Some(Err(e)) => unread.push(e),
            None => {}
        }
    }
    if !broken.is_empty() {
        let still = if found.is_empty() {
            String::new()
        } else {
            format!("; still triggered by: {}", found.join(", "))
        };
        return Check::fail(
            C,
            format!("{}{still}", broken.join("; ")),
            format!(
                "deploy the stack again to restore what it made (sam deploy --stack-name {} --region {}, with the parameters it was deployed with); an anomaly subscription: Cost Anomaly Detection > Alert subscriptions > Alert frequency: Individual alerts, to the TriggerTopicArn output",
                stack.name, stack.region
            ),
        );
    }
    if !found.is_empty() {
        return Check::pass(
            C,
            format!("the sweep is triggered by: {}", found.join(", ")),
        );
    }
    if let Some(e) = unread.first() {
        return Check::unknown(C, "what publishes to the trigger topic", e);
    }
    Check::fail(
        C,
        "nothing publishes to the trigger topic: no budget, billing alarm, spend-watch or burn-watch, so no bill ever starts the sweep",
        format!(
            "{} or point your own budget's alert at the TriggerTopicArn output",
            deploy_with(stack, "MonthlyBudgetUsd=20")
        ),
    )
}

/// A billing alarm (the stack's, or one of the owner's on the trigger
/// topic) needs billing alerts enabled, or `EstimatedCharges` never exists.
fn billing_alerts_check(p: &Publishers, stack: &Stack) -> Option<Check> {
    const C: &str = "billing-alerts";
    let uses_alarm = stack.has_billing_alarm() || p.alarms.as_ref().is_ok_and(|a| !a.is_empty());
    if !uses_alarm {
        return None;
    }
    Some(match &p.billing_metric {
        Err(e) => Check::unknown(C, "whether billing metrics exist", e),
        Ok(true) => Check::pass(C, "billing alerts are enabled: AWS/Billing EstimatedCharges exists in us-east-1"),
        Ok(false) => Check::fail(
            C,
            "a billing alarm is set, but AWS/Billing EstimatedCharges does not exist in us-east-1: billing alerts are off and the alarm never fires",
            "Billing and Cost Management console > Billing preferences > Alert preferences > Receive CloudWatch billing alerts (with the root user or an administrator), then wait up to a day for the metric",
        ),
    })
}

fn trail_check(trails: &Read<Vec<Trail>>, stack: &Stack) -> Check {
    const C: &str = "trail";
    let trails = match trails {
        Err(e) => return Check::unknown(C, "the CloudTrail trails", e),
        Ok(t) => t,
    };
    let good: Vec<&Trail> = trails
        .iter()
        .filter(|t| {
            (t.multi_region || t.organization)
                && t.logging == Ok(true)
                && t.management_writes == Ok(true)
        })
        .collect();
    if let Some(t) = good.first() {
        return Check::pass(
            C,
            format!(
                "trail {} logs management events in every region{}",
                t.name,
                if t.organization {
                    " of the organization"
                } else {
                    ""
                }
            ),
        );
    }
    let unread = trails
        .iter()
        .find_map(|t| match (&t.logging, &t.management_writes) {
            (Err(e), _) | (_, Err(e)) if t.multi_region || t.organization => Some(e),
            _ => None,
        });
    if let Some(e) = unread {
        return Check::unknown(C, "a trail's status", e);
    }
    let why = if trails.is_empty() {
        "no CloudTrail trail".to_string()
    } else {
        let described: Vec<String> = trails
            .iter()
            .map(|t| {
                let mut what = vec![];
                if !(t.multi_region || t.organization) {
                    what.push("one region only");
                }
                if t.logging == Ok(false) {
                    what.push("not logging");
                }
                if t.management_writes == Ok(false) {
                    what.push("no management write events");
                }
                format!("{} ({})", t.name, what.join(", "))
            })
            .collect();
        format!("no trail logs every region: {}", described.join("; "))
    };
    let fix = match trails.iter().find(|t| t.multi_region || t.organization) {
        Some(t) if t.logging == Ok(false) => format!(
            "aws cloudtrail start-logging --name {} --region {}",
            t.name, stack.region
        ),
        _ => deploy_with(stack, "CreateTrail=true"),
    };
    Check::fail(
        C,
        format!("{why}: the launch tripwire and the root API alerts see no events"),
        fix,
    )
}

fn forwarder_check(regions: &Read<Vec<RegionForwarder>>, stack: &Stack) -> Check {
    const C: &str = "forwarder";
    let regions = match regions {
        Err(e) => return Check::unknown(C, "the enabled regions", e),
        Ok(r) => r,
    };
    let others: Vec<&RegionForwarder> = regions
        .iter()
        .filter(|r| r.region != stack.region)
        .collect();
    let mut missing: Vec<&RegionForwarder> = vec![];
    let mut disabled: Vec<String> = vec![];
    let mut unread: Option<&Unread> = None;
    for r in &others {
        match &r.rules {
            Err(e) => {
                unread.get_or_insert(e);
            }
            Ok(rules) if rules.is_empty() => missing.push(r),
            Ok(rules) => disabled.extend(
                rules
                    .iter()
                    .filter(|(_, enabled)| !enabled)
                    .map(|(name, _)| format!("{name} in {}", r.region)),
            ),
        }
    }
    // An opt-in region someone enabled is the likeliest to have been
    // enabled after the forwarder was deployed: name those first.
    missing.sort_by_key(|r| (!r.opted_in, r.region.clone()));
    if missing.is_empty() && disabled.is_empty() {
        if let Some(e) = unread {
            return Check::unknown(C, "the forwarder's rules", e);
        }
        return Check::pass(
            C,
            format!(
                "the forwarder's rules are enabled in all {} other enabled regions",
                others.len()
            ),
        );
    }
    let mut found = vec![];
    if !missing.is_empty() {
        let names: Vec<String> = missing
            .iter()
            .map(|r| {
                if r.opted_in {
                    format!("{} (opt-in region)", r.region)
                } else {
                    r.region.clone()
                }
            })
            .collect();
        found.push(format!(
            "no forwarder in {} of {} other enabled regions: {}",
            missing.len(),
            others.len(),
            names.join(", ")
        ));
    }
    if !disabled.is_empty() {
        found.push(format!("rules disabled: {}", disabled.join(", ")));
    }
    let list: Vec<&str> = missing.iter().map(|r| r.region.as_str()).collect();
    let fix = if missing.is_empty() {
        "enable them: aws events enable-rule --name RULE --region REGION".to_string()
    } else {
        format!(
            "aws cloudformation create-stack-instances --stack-set-name {}-forwarder --accounts {} --regions {} --region {} \
             (the StackSet of the deploy steps; deploy forwarder.yaml as a stack in each region without one)",
            stack.name,
            if stack.account.is_empty() { "ACCOUNT" } else { &stack.account },
            list.join(" "),
            stack.region
        )
    };
    Check::fail(
        C,
        format!(
            "{}: root sign-ins and launches there reach no function",
            found.join("; ")
        ),
        fix,
    )
}

fn guardduty_check(detectors: &[Detector], stack: &Stack) -> Check {
    const C: &str = "guardduty";
    if stack.parameter("TripwireGuardDutyAction") != "stop" {
        return Check::pass(
            C,
            "TripwireGuardDutyAction is alert: findings are not acted on, GuardDuty is not needed",
        );
    }
    let off: Vec<&str> = detectors
        .iter()
        .filter(|d| d.enabled == Ok(false))
        .map(|d| d.region.as_str())
        .collect();
    if off.is_empty() {
        if let Some(e) = detectors.iter().find_map(|d| d.enabled.as_ref().err()) {
            return Check::unknown(C, "GuardDuty's detectors", e);
        }
        return Check::pass(
            C,
            format!(
                "GuardDuty is enabled in all {} regions the tripwire watches",
                detectors.len()
            ),
        );
    }
    Check::advice(
        C,
        format!(
            "TripwireGuardDutyAction is stop, but GuardDuty is off in {} of {} regions: {} (no finding there stops anything)",
            off.len(),
            detectors.len(),
            off.join(", ")
        ),
        format!(
            "aws guardduty create-detector --enable --region REGION, for each of: {} (GuardDuty costs money after its 30-day trial)",
            off.join(" ")
        ),
    )
}

fn members_check(members: &Read<Vec<MemberAccess>>, stack: &Stack) -> Check {
    const C: &str = "member-roles";
    let members = match members {
        Err(e) => return Check::unknown(C, "the covered accounts", e),
        Ok(m) => m,
    };
    let failed: Vec<String> = members
        .iter()
        .filter_map(|m| {
            m.failed
                .as_ref()
                .map(|why| format!("{} ({why})", m.account))
        })
        .collect();
    if failed.is_empty() {
        return Check::pass(
            C,
            format!(
                "the member role can be assumed in all {} other covered accounts",
                members.len()
            ),
        );
    }
    Check::fail(
        C,
        format!(
            "the member role cannot be assumed in {} of {} accounts, which are never swept: {}",
            failed.len(),
            members.len(),
            failed.join("; ")
        ),
        format!(
            "deploy member.yaml there: aws cloudformation create-stack-instances --stack-set-name {}-member --deployment-targets OrganizationalUnitIds=ROOT_OR_OU --regions {} (see docs/organizations.md)",
            stack.name, stack.region
        ),
    )
}

/// The parameters member.yaml and forwarder.yaml share with the stack: a
/// different value means a role or a rule that does not match what the
/// functions do.
const SHARED: &[&str] = &["Selection", "StopTagKey", "StopTagValue", "ExemptTagKey"];

/// The StackSets: each exists, its instances are current, the member roles'
/// set has an instance in every covered account and the member forwarder's
/// in every covered account and enabled region (`regions`, as the stack's
/// account sees them), and their settings agree with the stack's.
fn stack_set_checks(
    sets: &[(String, Read<Option<StackSet>>)],
    stack: &Stack,
    covered: Option<&Read<Vec<String>>>,
    regions: &[String],
) -> Vec<Check> {
    const C: &str = "stack-sets";
    const AGREE: &str = "settings-agree";
    if !stack.covers_other_accounts() {
        return vec![];
    }
    let mut missing = vec![];
    let mut broken = vec![];
    let mut disagree = vec![];
    let mut unread = None;
    for (name, set) in sets {
        match set {
            Err(e) => {
                unread.get_or_insert(e);
            }
            Ok(None) => missing.push(name.clone()),
            Ok(Some(s)) => {
                broken.extend(
                    s.instances
                        .iter()
                        .filter(|(_, _, status)| status != "CURRENT")
                        .map(|(a, r, status)| format!("{} {a} {r} is {status}", s.name)),
                );
                match covered {
                    Some(Ok(accounts)) => {
                        broken.extend(uncovered(s, accounts, regions));
                    }
                    Some(Err(e)) => {
                        unread.get_or_insert(e);
                    }
                    None => {}
                }
                for key in SHARED {
                    if let Some(v) = s.parameters.get(*key) {
                        let ours = stack.parameter(key);
                        if v != ours {
                            disagree.push(format!(
                                "{key} is {v:?} in {} but {ours:?} in the stack",
                                s.name
                            ));
                        }
                    }
                }
            }
        }
    }
    let mut checks = vec![];
    if missing.is_empty() && broken.is_empty() {
        checks.push(match unread {
            Some(e) => Check::unknown(C, "the StackSets", e),
            None => Check::pass(
                C,
                format!(
                    "{} are deployed and current",
                    sets.iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
            ),
        });
    } else {
        let mut found = vec![];
        if !missing.is_empty() {
            found.push(format!("no StackSet {}", missing.join(" nor ")));
        }
        found.extend(broken);
        checks.push(Check::fail(
            C,
            format!("{}: accounts without them are not guarded", found.join("; ")),
            "create or update them as docs/organizations.md shows, then: aws cloudformation list-stack-instances --stack-set-name NAME",
        ));
    }
    checks.push(if disagree.is_empty() {
        Check::pass(
            AGREE,
            format!(
                "{} agree between the stack and its StackSets",
                SHARED.join(", ")
            ),
        )
    } else {
        Check::fail(
            AGREE,
            format!(
                "{}: the member roles' permissions are conditioned on them, so stops fail or tags are not watched",
                disagree.join("; ")
            ),
            "update the StackSet with the stack's values: aws cloudformation update-stack-set --stack-set-name NAME --use-previous-template --parameters ParameterKey=KEY,ParameterValue=VALUE ...",
        )
    });
    checks
}

/// Where a StackSet has no instance: for the member forwarder's, each
/// covered account and enabled region; for the others (IAM roles, global),
/// each covered account.
fn uncovered(set: &StackSet, accounts: &[String], regions: &[String]) -> Vec<String> {
    let has = |a: &str, r: Option<&str>| {
        set.instances
            .iter()
            .any(|(ia, ir, _)| ia == a && r.is_none_or(|r| ir == r))
    };
    let per_region = set.name.ends_with("-forwarder");
    accounts
        .iter()
        .filter_map(|a| {
            if per_region {
                let missing: Vec<&str> = regions
                    .iter()
                    .map(String::as_str)
                    .filter(|r| !has(a, Some(r)))
                    .collect();
                (!missing.is_empty()).then(|| {
                    format!(
                        "{} has no instance in account {a}, regions {}",
                        set.name,
                        missing.join(", ")
                    )
                })
            } else {
                (!has(a, None)).then(|| format!("{} has no instance in account {a}", set.name))
            }
        })
        .collect()
}

/// The settings every function that reads them must run with alike, and the
/// stack parameter each comes from.
const RUN_WITH: &[(&str, &str)] = &[
    ("DRY_RUN", "DryRun"),
    ("SELECTION", "Selection"),
    ("STOP_TAG_KEY", "StopTagKey"),
    ("STOP_TAG_VALUE", "StopTagValue"),
    ("EXEMPT_TAG_KEY", "ExemptTagKey"),
    ("REGIONS", "Regions"),
    ("KINDS", "Kinds"),
    ("ACCOUNTS", "Accounts"),
    ("MEMBER_ROLE_NAME", "MemberRoleName"),
    ("MEMBER_EXTERNAL_ID", "MemberExternalId"),
    ("BURN_LIMIT_USD_PER_HOUR", "BurnLimitUsdPerHour"),
    ("MONTHLY_LIMIT_USD", "MonthlyLimitUsd"),
    ("BURN_ACTION", "BurnAction"),
];

/// What the functions actually run with: each shared setting must be the
/// same in every function that reads it, and the stack's parameter. A
/// function edited by hand in the console (an exempt key changed, a dry run
/// turned on in one function) acts differently from what the stack says.
fn settings_check(settings: &Read<Vec<FunctionSettings>>, stack: &Stack) -> Check {
    const C: &str = "function-settings";
    let functions = match settings {
        Err(e) => return Check::unknown(C, "the functions' settings", e),
        Ok(f) => f,
    };
    let mut differ = vec![];
    let mut agreed = vec![];
    for (var, parameter) in RUN_WITH {
        let want = stack.parameter(parameter);
        let off: Vec<String> = functions
            .iter()
            .filter_map(|f| {
                f.variables
                    .get(*var)
                    .filter(|v| v.as_str() != want)
                    .map(|v| format!("{} has {v:?}", f.function))
            })
            .collect();
        if off.is_empty() {
            if functions.iter().any(|f| f.variables.contains_key(*var)) {
                agreed.push(format!("{var}={want}"));
            }
        } else {
            differ.push(format!(
                "{var}: {} where the stack's {parameter} is {want:?}",
                off.join(", ")
            ));
        }
    }
    if differ.is_empty() {
        return Check::pass(
            C,
            format!(
                "{} with the stack's settings: {}",
                match functions.len() {
                    1 => "the function runs".to_string(),
                    n => format!("the {n} functions run"),
                },
                if agreed.is_empty() {
                    "none shared".to_string()
                } else {
                    agreed.join(", ")
                }
            ),
        );
    }
    Check::fail(
        C,
        format!(
            "a function runs with other settings than the stack's (edited by hand?): {}",
            differ.join("; ")
        ),
        format!(
            "deploy the stack again, which sets every function from its parameters: sam deploy --stack-name {} --region {}",
            stack.name, stack.region
        ),
    )
}

fn hygiene_checks(h: &Hygiene) -> Vec<Check> {
    let mut checks = vec![];
    match &h.root {
        Err(e) => {
            checks.push(Check::unknown("root-mfa", "IAM's account summary", e));
        }
        Ok((mfa, keys)) => {
            checks.push(if *mfa {
                Check::pass("root-mfa", "the root user has MFA")
            } else {
                Check::fail(
                    "root-mfa",
                    "the root user has no MFA: a leaked root password is the whole account",
                    "sign in as root > account menu > Security credentials > Multi-factor authentication > Assign MFA device",
                )
            });
            checks.push(if *keys {
                Check::fail(
                    "root-keys",
                    "the root user has access keys: a key that leaks can do anything, and cost-guard cannot quarantine root",
                    "sign in as root > Security credentials > Access keys: deactivate and delete them (use an IAM user or Identity Center instead)",
                )
            } else {
                Check::pass("root-keys", "the root user has no access keys")
            });
        }
    }
    checks.push(match &h.users_without_mfa {
        Err(e) => Check::unknown("user-mfa", "the IAM users' MFA devices", e),
        Ok(users) if users.is_empty() => {
            Check::pass("user-mfa", "every IAM user with a console password has MFA")
        }
        Ok(users) => Check::fail(
            "user-mfa",
            format!(
                "IAM users with a console password and no MFA: {}",
                users.join(", ")
            ),
            "IAM console > Users > USER > Security credentials > Assign MFA device (or remove the console password: aws iam delete-login-profile --user-name USER)",
        ),
    });
    checks.push(match &h.billing_contact {
        Err(e) => Check::unknown("billing-contact", "the alternate billing contact", e),
        Ok(true) => Check::pass("billing-contact", "an alternate billing contact is set"),
        Ok(false) => Check::advice(
            "billing-contact",
            "no alternate billing contact: AWS's billing mail reaches only the root address",
            "aws account put-alternate-contact --alternate-contact-type BILLING --name NAME --title TITLE --email-address EMAIL --phone-number PHONE",
        ),
    });
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(parameters: &[(&str, &str)]) -> Stack {
        Stack {
            name: "cost-guard".into(),
            region: "us-east-1".into(),
            account: "111122223333".into(),
            status: "CREATE_COMPLETE".into(),
            parameters: parameters
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            outputs: [
                (
                    "NotifyTopicArn",
                    "arn:aws:sns:us-east-1:111122223333:notify",
                ),
                (
                    "TriggerTopicArn",
                    "arn:aws:sns:us-east-1:111122223333:trigger",
                ),
                (
                    "FailureQueueUrl",
                    "https://sqs.us-east-1.amazonaws.com/111122223333/failures",
                ),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        }
    }

    fn denied(operation: &str) -> Unread {
        Unread {
            operation: operation.into(),
            why: "AccessDenied: not allowed".into(),
        }
    }

    fn sub(endpoint: &str, confirmed: bool) -> Subscription {
        Subscription {
            protocol: "email".into(),
            endpoint: endpoint.into(),
            confirmed,
        }
    }

    fn none_published() -> Publishers {
        Publishers {
            budgets: Ok(vec![]),
            alarms: Ok(vec![]),
            billing_metric: Ok(false),
            own_budget: None,
            own_alarm: None,
            anomalies: None,
        }
    }

    fn trail(name: &str, multi: bool, logging: bool, writes: bool) -> Trail {
        Trail {
            name: name.into(),
            multi_region: multi,
            organization: false,
            logging: Ok(logging),
            management_writes: Ok(writes),
        }
    }

    fn region(name: &str, opted_in: bool, rules: &[(&str, bool)]) -> RegionForwarder {
        RegionForwarder {
            region: name.into(),
            opted_in,
            rules: Ok(rules.iter().map(|(n, e)| (n.to_string(), *e)).collect()),
        }
    }

    fn hygiene() -> Hygiene {
        Hygiene {
            root: Ok((true, false)),
            users_without_mfa: Ok(vec![]),
            billing_contact: Ok(true),
        }
    }

    #[test]
    fn a_stack_runs_as_deployed_only_when_complete() {
        let at = |status: &str| {
            let mut s = stack(&[]);
            s.status = status.into();
            stack_check(&Ok(Some(s)), "cost-guard")
        };
        assert_eq!(at("CREATE_COMPLETE").status, Status::Pass);
        assert_eq!(at("UPDATE_COMPLETE").status, Status::Pass);
        let rolled = at("UPDATE_ROLLBACK_COMPLETE");
        assert_eq!(rolled.status, Status::Advice);
        assert!(rolled.found.contains("rolled back"), "{rolled:?}");
        assert_eq!(at("UPDATE_IN_PROGRESS").status, Status::Advice);
        for broken in [
            "ROLLBACK_COMPLETE",
            "CREATE_FAILED",
            "UPDATE_ROLLBACK_FAILED",
            "DELETE_COMPLETE",
        ] {
            let c = at(broken);
            assert_eq!(c.status, Status::Fail, "{broken}");
            assert!(c
                .fix
                .as_deref()
                .unwrap()
                .contains("describe-stack-events --stack-name cost-guard --region us-east-1"));
        }
        let missing = stack_check(&Ok(None), "guard-2");
        assert_eq!(missing.status, Status::Fail);
        assert!(missing.found.contains("no stack named guard-2"));
        assert!(missing
            .fix
            .unwrap()
            .starts_with("sam build && sam deploy --guided"));
        let unread = stack_check(&Err(denied("cloudformation:DescribeStacks")), "cost-guard");
        assert_eq!(unread.status, Status::Unknown);
        assert_eq!(
            unread.fix.as_deref(),
            Some("allow cloudformation:DescribeStacks to the credentials doctor runs with")
        );
    }

    #[test]
    fn without_a_stack_only_the_stack_and_the_hygiene_are_checked() {
        let facts = Facts {
            stack: Ok(None),
            health: None,
            subscriptions: None,
            publishers: None,
            trails: None,
            forwarders: None,
            detectors: None,
            members: None,
            stack_sets: vec![],
            settings: None,
            covered: None,
            hygiene: hygiene(),
        };
        let names: Vec<&str> = checklist(&facts, "cost-guard")
            .iter()
            .map(|c| c.check)
            .collect();
        assert_eq!(
            names,
            [
                "stack",
                "root-mfa",
                "root-keys",
                "user-mfa",
                "billing-contact"
            ]
        );
    }

    #[test]
    fn dry_run_is_advice_with_the_deploy_that_ends_it() {
        let c = dry_run_check(&stack(&[("DryRun", "true")]));
        assert_eq!(c.status, Status::Advice);
        assert!(c
            .fix
            .unwrap()
            .contains("--parameter-overrides DryRun=false"));
        assert_eq!(
            dry_run_check(&stack(&[("DryRun", "false")])).status,
            Status::Pass
        );
        assert_eq!(
            dry_run_check(&stack(&[])).status,
            Status::Pass,
            "the default"
        );
    }

    #[test]
    fn a_function_error_or_an_alarm_fails_and_is_named() {
        let health = |errors: &[(&str, u64)], alarming: &[&str]| Health {
            errors: Ok(errors.iter().map(|(f, n)| (f.to_string(), *n)).collect()),
            alarming: Ok(alarming.iter().map(|a| a.to_string()).collect()),
            queued: Ok(vec![]),
        };
        let clean = errors_check(&health(&[("A", 0), ("B", 0)], &[]));
        assert_eq!(clean.status, Status::Pass);
        assert!(clean.found.contains("none of the 2 functions"));
        let c = errors_check(&health(&[("A", 0), ("B", 4)], &[]));
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.found, "errors in the last 7 days: B (4)");
        let c = errors_check(&health(
            &[("A", 0)],
            &["cost-guard-SweepDeadLetterQueueAlarm"],
        ));
        assert_eq!(c.status, Status::Fail);
        assert_eq!(
            c.found,
            "alarms in ALARM: cost-guard-SweepDeadLetterQueueAlarm"
        );
        let unread = errors_check(&Health {
            errors: Err(denied("cloudwatch:GetMetricStatistics")),
            alarming: Ok(vec![]),
            queued: Ok(vec![]),
        });
        assert_eq!(unread.status, Status::Unknown);
        // Errors read, alarms not: a pass that says what it could not see.
        let partial = errors_check(&Health {
            errors: Ok(vec![("A".into(), 0)]),
            alarming: Err(denied("cloudwatch:DescribeAlarms")),
            queued: Ok(vec![]),
        });
        assert_eq!(partial.status, Status::Pass);
        assert!(partial.found.contains("could not be read"), "{partial:?}");
    }

    #[test]
    fn a_message_in_a_failure_queue_fails_with_the_queue_to_read() {
        let health = |queued: &[(&str, u64)]| Health {
            errors: Ok(vec![]),
            alarming: Ok(vec![]),
            queued: Ok(queued.iter().map(|(q, n)| (q.to_string(), *n)).collect()),
        };
        let s = stack(&[]);
        let empty = queues_check(
            &health(&[("FailureQueue", 0), ("SweepDeadLetterQueue", 0)]),
            Some(&s),
        );
        assert_eq!(empty.status, Status::Pass);
        assert!(
            empty.found.starts_with("the 2 failure queues are empty"),
            "{empty:?}"
        );
        let one = queues_check(&health(&[("FailureQueue", 0)]), Some(&s));
        assert!(
            one.found.starts_with("the failure queue is empty"),
            "{one:?}"
        );
        let c = queues_check(
            &health(&[("FailureQueue", 2), ("SweepDeadLetterQueue", 0)]),
            Some(&s),
        );
        assert_eq!(c.status, Status::Fail);
        assert!(c.found.starts_with("FailureQueue holds 2:"), "{c:?}");
        assert!(c
            .fix
            .unwrap()
            .contains("--queue-url https://sqs.us-east-1.amazonaws.com/111122223333/failures"));
    }

    #[test]
    fn only_a_confirmed_subscription_tells_anyone() {
        let s = stack(&[]);
        let none = subscription_check(&Ok(vec![]), &s);
        assert_eq!(none.status, Status::Fail);
        assert!(none
            .fix
            .unwrap()
            .contains("--topic-arn arn:aws:sns:us-east-1:111122223333:notify"));
        let pending = subscription_check(&Ok(vec![sub("ana@example.com", false)]), &s);
        assert_eq!(pending.status, Status::Fail);
        assert!(
            pending
                .found
                .contains("pending confirmation: email a***@example.com"),
            "{pending:?}"
        );
        assert!(pending.fix.unwrap().contains("Confirm subscription"));
        let both = subscription_check(
            &Ok(vec![
                sub("ana@example.com", false),
                sub("bo@example.org", true),
            ]),
            &s,
        );
        assert_eq!(both.status, Status::Pass);
        assert_eq!(
            both.found,
            "confirmed: email b***@example.org; still pending: email a***@example.com"
        );
        let unread = subscription_check(&Err(denied("sns:ListSubscriptionsByTopic")), &s);
        assert_eq!(unread.status, Status::Unknown);
    }

    #[test]
    fn endpoints_are_masked_but_recognisable() {
        assert_eq!(masked("ana@example.com"), "a***@example.com");
        assert_eq!(masked("+15550100"), "+155***");
        assert_eq!(
            masked("arn:aws:sqs:us-east-1:1:q"),
            "arn:aws:sqs:us-east-1:1:q"
        );
        assert_eq!(masked("@example.com"), "***@example.com");
        // A web hook's token is never shown, wherever it is in the address.
        assert_eq!(
            masked("https://u:secret@hooks.example.com/T0/B1?token=abc"),
            "https://hooks.example.com/***"
        );
        assert_eq!(
            masked("http://hooks.example.com?key=abc"),
            "http://hooks.example.com/***"
        );
    }

    #[test]
    fn the_sweep_needs_something_that_publishes_to_its_trigger_topic() {
        let bare = trigger_check(&none_published(), &stack(&[]));
        assert_eq!(bare.status, Status::Fail);
        assert!(bare.fix.unwrap().contains("MonthlyBudgetUsd=20"));
        for (params, what) in [
            (
                vec![("MonthlyBudgetUsd", "25")],
                "the stack's budget of 25 USD",
            ),
            (
                vec![("BillingAlarmUsd", "40")],
                "the stack's billing alarm at 40 USD",
            ),
            (vec![("SpendLimitUsd", "30")], "spend-watch at 30 USD"),
            (
                vec![("BurnLimitUsdPerHour", "2.5")],
                "burn-watch at 2.5 USD an hour",
            ),
        ] {
            let c = trigger_check(&none_published(), &stack(&params));
            assert_eq!(c.status, Status::Pass, "{params:?}");
            assert!(c.found.contains(what), "{c:?}");
        }
        // A billing alarm exists only in us-east-1.
        let mut west = stack(&[("BillingAlarmUsd", "40")]);
        west.region = "eu-west-1".into();
        assert_eq!(trigger_check(&none_published(), &west).status, Status::Fail);
        let theirs = Publishers {
            budgets: Ok(vec!["team".into()]),
            alarms: Ok(vec!["bill-50".into()]),
            billing_metric: Ok(true),
            ..none_published()
        };
        let c = trigger_check(&theirs, &stack(&[]));
        assert_eq!(c.status, Status::Pass);
        assert_eq!(
            c.found,
            "the sweep is triggered by: budget team, alarm bill-50"
        );
        // Nothing found, and budgets could not be read: unknown, not failed.
        let unread = Publishers {
            budgets: Err(denied("budgets:ViewBudget")),
            ..none_published()
        };
        assert_eq!(trigger_check(&unread, &stack(&[])).status, Status::Unknown);
        // Something found: what could not be read does not matter.
        assert_eq!(
            trigger_check(&unread, &stack(&[("MonthlyBudgetUsd", "5")])).status,
            Status::Pass
        );
    }

    /// A stack made by hand lists no parameters: doctor reads the template's
    /// defaults, and they are the template's own.
    #[test]
    fn the_defaults_doctor_assumes_are_the_templates() {
        let template = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml"));
        let bare = Stack::default();
        for name in [
            "Accounts",
            "DryRun",
            "Selection",
            "StopTagKey",
            "StopTagValue",
            "ExemptTagKey",
            "TripwireAction",
            "TripwireGuardDutyAction",
            "AnomalyAction",
            "RootLoginAction",
        ] {
            let block = template
                .split_once(&format!("\n  {name}:\n"))
                .unwrap_or_else(|| panic!("{name} is not a parameter of template.yaml"))
                .1;
            let default = block
                .lines()
                .take_while(|l| l.starts_with("    "))
                .find_map(|l| l.trim().strip_prefix("Default: "))
                .unwrap_or_else(|| panic!("{name} has no default"))
                .trim_matches('"');
            assert_eq!(bare.parameter(name), default, "{name}");
        }
        // A parameter doctor has no default for reads as empty.
        assert_eq!(bare.parameter("MonthlyBudgetUsd"), "");
    }

    #[test]
    fn a_stack_gets_every_check_it_has_facts_for() {
        let s = stack(&[]);
        let facts = Facts {
            stack: Ok(Some(s)),
            health: None,
            subscriptions: Some(Ok(vec![])),
            publishers: Some(none_published()),
            trails: Some(Ok(vec![])),
            forwarders: None,
            detectors: None,
            members: None,
            stack_sets: vec![],
            settings: Some(Ok(vec![])),
            covered: None,
            hygiene: hygiene(),
        };
        let names: Vec<&str> = checklist(&facts, "cost-guard")
            .iter()
            .map(|c| c.check)
            .collect();
        assert_eq!(
            names,
            [
                "stack",
                "dry-run",
                "subscription",
                "trigger",
                "trail",
                "function-settings",
                "root-mfa",
                "root-keys",
                "user-mfa",
                "billing-contact"
            ]
        );
    }

    #[test]
    fn the_member_forwarder_must_be_in_every_region_the_stack_found_enabled() {
        let s = stack(&[("Accounts", "organization")]);
        let forwarder = StackSet {
            name: "cost-guard-member-forwarder".into(),
            parameters: BTreeMap::new(),
            instances: vec![("222233334444".into(), "eu-west-1".into(), "CURRENT".into())],
        };
        let facts = Facts {
            stack: Ok(Some(s)),
            health: None,
            subscriptions: None,
            publishers: None,
            trails: None,
            forwarders: Some(Ok(vec![
                region("eu-west-1", false, &[("r", true)]),
                region("ap-south-1", true, &[("r", true)]),
            ])),
            detectors: None,
            members: None,
            stack_sets: vec![(forwarder.name.clone(), Ok(Some(forwarder)))],
            settings: None,
            covered: Some(Ok(vec!["222233334444".into()])),
            hygiene: hygiene(),
        };
        let checks = checklist(&facts, "cost-guard");
        let sets = checks.iter().find(|c| c.check == "stack-sets").unwrap();
        assert_eq!(sets.status, Status::Fail, "{sets:?}");
        assert!(
            sets.found
                .contains("cost-guard-member-forwarder has no instance in account 222233334444, regions ap-south-1"),
            "{sets:?}"
        );
    }

    #[test]
    fn every_function_must_run_with_the_stacks_settings() {
        let f = |name: &str, vars: &[(&str, &str)]| FunctionSettings {
            function: name.into(),
            variables: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let s = stack(&[("ExemptTagKey", "keep-me"), ("DryRun", "false")]);
        let agree = Ok(vec![
            f(
                "StopOnOverspendFunction",
                &[
                    ("EXEMPT_TAG_KEY", "keep-me"),
                    ("DRY_RUN", "false"),
                    ("NOTIFY_TOPIC_ARN", "x"),
                ],
            ),
            f("KeepStoppedFunction", &[("EXEMPT_TAG_KEY", "keep-me")]),
        ]);
        let c = settings_check(&agree, &s);
        assert_eq!(c.status, Status::Pass, "{c:?}");
        assert_eq!(
            c.found,
            "the 2 functions run with the stack's settings: DRY_RUN=false, EXEMPT_TAG_KEY=keep-me"
        );
        // One function's exempt key changed in the console: it would stop
        // what the others, and IAM, leave alone.
        let edited = Ok(vec![
            f("StopOnOverspendFunction", &[("EXEMPT_TAG_KEY", "keep-me")]),
            f(
                "LaunchTripwireFunction",
                &[("EXEMPT_TAG_KEY", "other"), ("DRY_RUN", "true")],
            ),
        ]);
        let c = settings_check(&edited, &s);
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert_eq!(
            c.found,
            "a function runs with other settings than the stack's (edited by hand?): \
             DRY_RUN: LaunchTripwireFunction has \"true\" where the stack's DryRun is \"false\"; \
             EXEMPT_TAG_KEY: LaunchTripwireFunction has \"other\" where the stack's ExemptTagKey is \"keep-me\""
        );
        assert!(c
            .fix
            .unwrap()
            .contains("sam deploy --stack-name cost-guard --region us-east-1"));
        let c = settings_check(&Err(denied("lambda:GetFunctionConfiguration")), &s);
        assert_eq!(c.status, Status::Unknown);
        assert!(c.fix.unwrap().contains("lambda:GetFunctionConfiguration"));
    }

    #[test]
    fn the_stacks_own_budget_and_alarm_must_still_publish_and_anomalies_need_a_subscription() {
        let own = |budgets: &[&str], alarms: &[&str]| Publishers {
            budgets: Ok(budgets.iter().map(|n| n.to_string()).collect()),
            alarms: Ok(alarms.iter().map(|n| n.to_string()).collect()),
            own_budget: Some("cost-guard-budget".into()),
            own_alarm: Some("cost-guard-billing".into()),
            ..none_published()
        };
        let both = stack(&[("MonthlyBudgetUsd", "25"), ("BillingAlarmUsd", "40")]);
        let c = trigger_check(
            &own(&["cost-guard-budget", "team"], &["cost-guard-billing"]),
            &both,
        );
        assert_eq!(c.status, Status::Pass, "{c:?}");
        // The stack's own are named by their amounts, not twice.
        assert_eq!(
            c.found,
            "the sweep is triggered by: the stack's budget of 25 USD, the stack's billing alarm at 40 USD, budget team"
        );
        // Its notification removed from the budget: a failure, whatever else publishes.
        let c = trigger_check(&own(&["team"], &["cost-guard-billing"]), &both);
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(
            c.found.starts_with(
                "the stack's budget cost-guard-budget no longer notifies the trigger topic"
            ),
            "{c:?}"
        );
        assert!(
            c.found.ends_with(
                "; still triggered by: the stack's billing alarm at 40 USD, budget team"
            ),
            "{c:?}"
        );
        assert!(
            c.fix
                .as_deref()
                .unwrap()
                .contains("sam deploy --stack-name cost-guard"),
            "{c:?}"
        );
        let c = trigger_check(&own(&["cost-guard-budget"], &[]), &both);
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(
            c.found
                .starts_with("the stack's billing alarm cost-guard-billing no longer acts"),
            "{c:?}"
        );
        // Could not be read: counted from the parameters, as before.
        let unread = Publishers {
            budgets: Err(denied("budgets:ViewBudget")),
            ..own(&[], &["cost-guard-billing"])
        };
        assert_eq!(trigger_check(&unread, &both).status, Status::Pass);
        // AnomalyAction=stop: a subscription to the trigger topic, or a failure.
        let anomalies = stack(&[("AnomalyAction", "stop")]);
        let with = |a: Read<Vec<String>>| Publishers {
            anomalies: Some(a),
            ..none_published()
        };
        let c = trigger_check(&with(Ok(vec!["spikes".into()])), &anomalies);
        assert_eq!(c.status, Status::Pass, "{c:?}");
        assert_eq!(
            c.found,
            "the sweep is triggered by: anomaly subscription spikes"
        );
        let c = trigger_check(&with(Ok(vec![])), &anomalies);
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(
            c.found
                .starts_with("AnomalyAction is stop, but no Cost Anomaly Detection subscription"),
            "{c:?}"
        );
        let c = trigger_check(&with(Err(denied("ce:GetAnomalySubscriptions"))), &anomalies);
        assert_eq!(c.status, Status::Unknown, "{c:?}");
        // In report mode, subscriptions are not asked for and do not count.
        let c = trigger_check(&with(Ok(vec!["spikes".into()])), &stack(&[]));
        assert_eq!(c.status, Status::Fail, "{c:?}");
    }

    #[test]
    fn a_billing_alarm_needs_billing_alerts_enabled() {
        assert_eq!(billing_alerts_check(&none_published(), &stack(&[])), None);
        let own =
            billing_alerts_check(&none_published(), &stack(&[("BillingAlarmUsd", "40")])).unwrap();
        assert_eq!(own.status, Status::Fail);
        assert!(own
            .fix
            .unwrap()
            .contains("Receive CloudWatch billing alerts"));
        let theirs = Publishers {
            alarms: Ok(vec!["bill-50".into()]),
            billing_metric: Ok(true),
            ..none_published()
        };
        assert_eq!(
            billing_alerts_check(&theirs, &stack(&[])).unwrap().status,
            Status::Pass
        );
    }

    #[test]
    fn a_trail_must_log_management_writes_in_every_region() {
        let s = stack(&[]);
        let good = trail_check(
            &Ok(vec![
                trail("one", false, true, true),
                trail("all", true, true, true),
            ]),
            &s,
        );
        assert_eq!(good.status, Status::Pass);
        assert_eq!(
            good.found,
            "trail all logs management events in every region"
        );
        let mut org = trail("org", false, true, true);
        org.organization = true;
        let c = trail_check(&Ok(vec![org]), &s);
        assert_eq!(c.status, Status::Pass);
        assert!(c.found.ends_with("of the organization"));
        let none = trail_check(&Ok(vec![]), &s);
        assert_eq!(none.status, Status::Fail);
        assert!(none.found.starts_with("no CloudTrail trail"));
        assert!(none.fix.unwrap().contains("CreateTrail=true"));
        let stopped = trail_check(&Ok(vec![trail("all", true, false, true)]), &s);
        assert_eq!(stopped.status, Status::Fail);
        assert!(stopped.found.contains("all (not logging)"), "{stopped:?}");
        assert_eq!(
            stopped.fix.as_deref(),
            Some("aws cloudtrail start-logging --name all --region us-east-1")
        );
        let reads = trail_check(&Ok(vec![trail("all", true, true, false)]), &s);
        assert_eq!(reads.status, Status::Fail);
        assert!(
            reads.found.contains("no management write events"),
            "{reads:?}"
        );
        // It logs: starting it again is not the fix, a trail of writes is.
        assert!(
            reads.fix.as_deref().unwrap().contains("CreateTrail=true"),
            "{reads:?}"
        );
        // A one-region trail whose status cannot be read still covers one
        // region only: a failure, not an unknown.
        let mut here = trail("here", false, true, true);
        here.logging = Err(denied("cloudtrail:GetTrailStatus"));
        let c = trail_check(&Ok(vec![here]), &s);
        assert_eq!(c.status, Status::Fail, "{c:?}");
        let single = trail_check(&Ok(vec![trail("here", false, true, true)]), &s);
        assert!(
            single.found.contains("here (one region only)"),
            "{single:?}"
        );
        let mut unknown = trail("all", true, true, true);
        unknown.logging = Err(denied("cloudtrail:GetTrailStatus"));
        assert_eq!(trail_check(&Ok(vec![unknown]), &s).status, Status::Unknown);
    }

    #[test]
    fn every_other_enabled_region_needs_the_forwarder_opt_in_regions_named_first() {
        let s = stack(&[]);
        let regions = vec![
            region("us-east-1", false, &[]),
            region("eu-west-1", false, &[("fw-root", true)]),
            region("ap-south-1", false, &[]),
            region("me-central-1", true, &[]),
            region(
                "eu-north-1",
                false,
                &[("fw-root", true), ("fw-launch", false)],
            ),
        ];
        let c = forwarder_check(&Ok(regions), &s);
        assert_eq!(c.status, Status::Fail);
        assert_eq!(
            c.found,
            "no forwarder in 2 of 4 other enabled regions: me-central-1 (opt-in region), ap-south-1; \
             rules disabled: fw-launch in eu-north-1: root sign-ins and launches there reach no function"
        );
        let fix = c.fix.unwrap();
        assert!(
            fix.starts_with("aws cloudformation create-stack-instances --stack-set-name cost-guard-forwarder --accounts 111122223333 --regions me-central-1 ap-south-1 --region us-east-1"),
            "{fix}"
        );
        // The stack's own region needs none.
        let ok = forwarder_check(
            &Ok(vec![
                region("us-east-1", false, &[]),
                region("eu-west-1", false, &[("r", true)]),
            ]),
            &s,
        );
        assert_eq!(ok.status, Status::Pass);
        assert_eq!(
            ok.found,
            "the forwarder's rules are enabled in all 1 other enabled regions"
        );
        let only_disabled =
            forwarder_check(&Ok(vec![region("eu-west-1", false, &[("r", false)])]), &s);
        assert_eq!(only_disabled.status, Status::Fail);
        assert!(only_disabled.fix.unwrap().starts_with("enable them"));
        let mut unread = region("eu-west-1", false, &[]);
        unread.rules = Err(denied("events:ListRuleNamesByTarget"));
        assert_eq!(
            forwarder_check(&Ok(vec![unread.clone()]), &s).status,
            Status::Unknown
        );
        // A region known to lack it fails even when another could not be read.
        assert_eq!(
            forwarder_check(&Ok(vec![unread, region("ap-south-1", false, &[])]), &s).status,
            Status::Fail
        );
    }

    #[test]
    fn guardduty_matters_only_when_findings_stop() {
        let d = |region: &str, on: bool| Detector {
            region: region.into(),
            enabled: Ok(on),
        };
        let alert = guardduty_check(
            &[d("us-east-1", false)],
            &stack(&[("TripwireGuardDutyAction", "alert")]),
        );
        assert_eq!(alert.status, Status::Pass);
        let s = stack(&[]);
        assert_eq!(
            guardduty_check(&[d("us-east-1", true), d("eu-west-1", true)], &s).status,
            Status::Pass
        );
        let off = guardduty_check(&[d("us-east-1", true), d("eu-west-1", false)], &s);
        assert_eq!(off.status, Status::Advice);
        assert!(
            off.found.contains("off in 1 of 2 regions: eu-west-1"),
            "{off:?}"
        );
        let unread = guardduty_check(
            &[Detector {
                region: "us-east-1".into(),
                enabled: Err(denied("guardduty:ListDetectors")),
            }],
            &s,
        );
        assert_eq!(unread.status, Status::Unknown);
    }

    #[test]
    fn each_account_whose_role_cannot_be_assumed_is_named() {
        let s = stack(&[("Accounts", "organization")]);
        let m = |account: &str, failed: Option<&str>| MemberAccess {
            account: account.into(),
            failed: failed.map(str::to_string),
        };
        assert_eq!(
            members_check(&Ok(vec![m("1", None), m("2", None)]), &s).status,
            Status::Pass
        );
        let c = members_check(&Ok(vec![m("1", None), m("2", Some("AccessDenied"))]), &s);
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.found.contains("in 1 of 2 accounts") && c.found.ends_with("2 (AccessDenied)"),
            "{c:?}"
        );
        assert!(c
            .fix
            .unwrap()
            .contains("--stack-set-name cost-guard-member "));
    }

    #[test]
    fn the_stack_sets_must_exist_be_current_and_agree_with_the_stack() {
        let one = stack(&[]);
        assert!(
            stack_set_checks(&[], &one, None, &[]).is_empty(),
            "one account: no StackSets"
        );
        let s = stack(&[("Accounts", "organization"), ("ExemptTagKey", "keep")]);
        let set = |name: &str, exempt: &str, status: &str| StackSet {
            name: name.into(),
            parameters: [("ExemptTagKey".to_string(), exempt.to_string())].into(),
            instances: vec![("222233334444".into(), "us-east-1".into(), status.into())],
        };
        let good = stack_set_checks(
            &[
                (
                    "cost-guard-member".into(),
                    Ok(Some(set("cost-guard-member", "keep", "CURRENT"))),
                ),
                (
                    "cost-guard-member-forwarder".into(),
                    Ok(Some(set("cost-guard-member-forwarder", "keep", "CURRENT"))),
                ),
            ],
            &s,
            Some(&Ok(vec!["222233334444".into()])),
            &["us-east-1".into()],
        );
        assert_eq!(
            good.iter().map(|c| c.status).collect::<Vec<_>>(),
            [Status::Pass, Status::Pass]
        );
        let bad = stack_set_checks(
            &[
                (
                    "cost-guard-member".into(),
                    Ok(Some(set(
                        "cost-guard-member",
                        "cost-guard-exempt",
                        "OUTDATED",
                    ))),
                ),
                ("cost-guard-member-forwarder".into(), Ok(None)),
            ],
            &s,
            None,
            &[],
        );
        assert_eq!(bad[0].status, Status::Fail);
        assert_eq!(
            bad[0].found,
            "no StackSet cost-guard-member-forwarder; cost-guard-member 222233334444 us-east-1 is OUTDATED: accounts without them are not guarded"
        );
        assert_eq!(bad[1].check, "settings-agree");
        // Every StackSet there, one instance not current: a failure too.
        let outdated = stack_set_checks(
            &[(
                "cost-guard-member".into(),
                Ok(Some(set("cost-guard-member", "keep", "OUTDATED"))),
            )],
            &s,
            None,
            &[],
        );
        assert_eq!(outdated[0].status, Status::Fail, "{outdated:?}");
        assert_eq!(bad[1].status, Status::Fail);
        assert!(
            bad[1].found.starts_with("ExemptTagKey is \"cost-guard-exempt\" in cost-guard-member but \"keep\" in the stack"),
            "{:?}",
            bad[1]
        );
        let unread = stack_set_checks(
            &[(
                "cost-guard-member".into(),
                Err(denied("cloudformation:DescribeStackSet")),
            )],
            &s,
            None,
            &[],
        );
        assert_eq!(unread[0].status, Status::Unknown);
        // An account the organization added since, and a region enabled
        // since: each named where its instance is missing.
        let sets = [
            (
                "cost-guard-member".to_string(),
                Ok(Some(set("cost-guard-member", "keep", "CURRENT"))),
            ),
            (
                "cost-guard-member-forwarder".to_string(),
                Ok(Some(set("cost-guard-member-forwarder", "keep", "CURRENT"))),
            ),
        ];
        let grown = stack_set_checks(
            &sets,
            &s,
            Some(&Ok(vec!["222233334444".into(), "555566667777".into()])),
            &["us-east-1".into(), "ap-south-1".into()],
        );
        assert_eq!(grown[0].status, Status::Fail, "{grown:?}");
        assert_eq!(
            grown[0].found,
            "cost-guard-member has no instance in account 555566667777; \
             cost-guard-member-forwarder has no instance in account 222233334444, regions ap-south-1; \
             cost-guard-member-forwarder has no instance in account 555566667777, regions us-east-1, ap-south-1: \
             accounts without them are not guarded"
        );
        // The accounts could not be listed: unknown, not passed.
        let blind = stack_set_checks(
            &sets,
            &s,
            Some(&Err(denied("organizations:ListAccounts"))),
            &["us-east-1".into()],
        );
        assert_eq!(blind[0].status, Status::Unknown, "{blind:?}");
    }

    #[test]
    fn root_without_mfa_or_with_keys_and_console_users_without_mfa_fail() {
        let all = |h: Hygiene| -> Vec<(&'static str, Status)> {
            hygiene_checks(&h)
                .iter()
                .map(|c| (c.check, c.status))
                .collect()
        };
        assert_eq!(
            all(hygiene()),
            [
                ("root-mfa", Status::Pass),
                ("root-keys", Status::Pass),
                ("user-mfa", Status::Pass),
                ("billing-contact", Status::Pass)
            ]
        );
        assert_eq!(
            all(Hygiene {
                root: Ok((false, true)),
                users_without_mfa: Ok(vec!["dev".into()]),
                billing_contact: Ok(false),
            }),
            [
                ("root-mfa", Status::Fail),
                ("root-keys", Status::Fail),
                ("user-mfa", Status::Fail),
                ("billing-contact", Status::Advice)
            ]
        );
        assert_eq!(
            all(Hygiene {
                root: Err(denied("iam:GetAccountSummary")),
                users_without_mfa: Err(denied("iam:ListUsers")),
                billing_contact: Err(denied("account:GetAlternateContact")),
            }),
            [
                ("root-mfa", Status::Unknown),
                ("user-mfa", Status::Unknown),
                ("billing-contact", Status::Unknown)
            ]
        );
    }

    #[test]
    fn the_exit_status_is_1_only_for_a_failure_or_with_strict_an_unknown() {
        let c = |status| Check {
            check: "x",
            status,
            found: String::new(),
            fix: None,
        };
        assert_eq!(exit_status(&[c(Status::Pass), c(Status::Advice)], false), 0);
        assert_eq!(exit_status(&[c(Status::Pass), c(Status::Fail)], false), 1);
        assert_eq!(exit_status(&[c(Status::Unknown)], false), 0);
        assert_eq!(exit_status(&[c(Status::Unknown)], true), 1);
        assert_eq!(exit_status(&[c(Status::Advice)], true), 0);
    }

    #[test]
    fn an_aws_error_names_the_permission_and_says_why() {
        let u = Unread::from(AwsError::new(
            "sns:ListSubscriptionsByTopic",
            "AuthorizationError",
            "denied",
        ));
        assert_eq!(u.operation, "sns:ListSubscriptionsByTopic");
        assert_eq!(u.why, "AuthorizationError: denied");
        let bare = Unread::from(AwsError::new("iam:ListUsers", "Timeout", ""));
        assert_eq!(bare.why, "Timeout");
    }
}
