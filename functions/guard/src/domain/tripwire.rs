//! What the launch tripwire decides, as a table over plain data: which of a
//! call's instances to stop and why, whom to quarantine, what only to report,
//! and what to pass over with a log line. Pure.
//!
//! | the event | trusted principal | AWS service on the account's behalf | anyone else |
//! |---|---|---|---|
//! | launch of a costly type, or outside the allowed regions | reported | reported, with the service | **stopped** (URGENT) |
//! | start (from stopped) of a costly type, outside the allowed regions, or of an instance carrying cost-guard's stamp | reported | reported | **stopped** (URGENT) |
//! | start of an instance that was already running | log line | log line | log line |
//! | spot request or fleet (any) | — | — | remembered in the guard's own table |
//! | spot request or fleet of a costly type with nothing running yet | reported | reported | URGENT alert, the invocation fails so Lambda looks again |
//! | costly or out-of-region instance launched later for a remembered request | — | **stopped** (URGENT) | **stopped** (URGENT) |
//! | cheap launch in an allowed region that writes the exempt key or a `cost-guard:` key | log line | log line | alert (URGENT) |
//! | cheap, in an allowed region | log line | log line | log line |
//! | refused launch of a costly type or region | log line | log line | alert |
//! | dry-run probe of a costly type or region | log line | log line | alert (URGENT) |
//! | quota increase, Auto Scaling group, ECS, SageMaker | log line | log line | alert (URGENT) |
//! | write or removal of the exempt key or a `cost-guard:` key | log line | log line | alert (URGENT) |
//! | `EnableRegion` | alert | alert | alert (URGENT) |
//!
//! Trusted means a `TRIPWIRE_TRUSTED_PRINCIPALS` pattern, or a session of a
//! role cost-guard itself made, known by the role's unique id (never by its
//! name, which anyone allowed to create roles can take): resume's role for
//! launches and starts, every guard role for tag writes. The root user is
//! never trusted. A session of one of member.yaml's roles whose ids cannot be
//! read is neither trusted nor acted on: it is reported. cost-guard's own
//! roles are never quarantined.
//!
//! Whoever launches sets the tags, so the exempt tag protects nothing from a
//! launch the tripwire judges suspicious. A GuardDuty `CryptoCurrency:*` or
//! `Impact:EC2/*` finding stops its instance, unless it carries the exempt
//! tag: an outsider can often make an instance look up a listed domain, so a
//! finding alone never stops what the owner exempted, and never turns stop
//! protection off. Stop protection is turned off only on what the untrusted
//! principal launched in the event itself, or on what carries the stamp.

use std::collections::BTreeMap;

use crate::domain::arn::Arn;
use crate::domain::config::{TripwireAction, TripwireConfig};
use crate::domain::glob::first_match;
use crate::domain::inventory::{exempt_key_in, is_exempt_key, tag, Tags};
use crate::domain::tags::ASG_TAG;
use crate::domain::tags::GUARD_TAG_PREFIX;
use crate::domain::trigger::compute::{ComputeCall, Created};
use crate::domain::trigger::launch::{
    ApiCall, CallKind, Finding, FleetKind, FleetLaunch, Launch, Principal, RegionEnabled, TagWrite,
    TripwireEvent,
};

/// AWS's managed policy for compromised credentials, attached by the quarantine.
pub(crate) const QUARANTINE_POLICY: &str = "AWSCompromisedKeyQuarantineV3";

/// The reserved tags that name the fleet an instance belongs to (only AWS can
/// write `aws:` tags).
const FLEET_TAGS: [&str; 2] = ["aws:ec2spot:fleet-request-id", "aws:ec2:fleet-id"];

/// One instance of a call, as the tripwire sees it: from the event, or, for
/// starts, spot requests, fleets and findings, as EC2 describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Observed {
    pub id: String,
    pub instance_type: Option<String>,
    /// Carries `cost-guard:stopped-at`: cost-guard stopped it.
    pub stamped_by: Option<String>,
    /// Its tags, as EC2 describes them (none for an instance only the event
    /// names). Those only AWS can write (`aws:autoscaling:groupName`, ...)
    /// tell which service launched it.
    pub tags: Tags,
    /// The spot request and fleet that launched it (`sir-...`, `sfr-...`,
    /// `fleet-...`), from EC2's answer and the tags only AWS can write.
    pub requests: Vec<String>,
    /// For a one-time spot instance, its request: EC2 cannot stop such an
    /// instance, only terminate it.
    pub one_time_spot: Option<String>,
}

impl Observed {
    /// An instance as an event names it: no stamp and no tags known.
    pub fn named(id: &str, instance_type: Option<&str>) -> Observed {
        Observed {
            id: id.to_string(),
            instance_type: instance_type.map(str::to_string),
            ..Default::default()
        }
    }

    /// The instances a launch's event names, without asking EC2.
    pub(crate) fn from_event(launch: &Launch) -> Vec<Observed> {
        launch
            .instances
            .iter()
            .map(|i| Observed {
                requests: i.spot_request.iter().cloned().collect(),
                ..Observed::named(&i.id, i.instance_type.as_deref())
            })
            .collect()
    }

    /// The instance a GuardDuty finding names, as the finding says it.
    pub(crate) fn from_finding(f: &Finding) -> Vec<Observed> {
        f.instance_id
            .iter()
            .map(|id| Observed::named(id, f.instance_type.as_deref()))
            .collect()
    }

    /// The spot request and fleet ids its tags name (tags only AWS writes).
    pub(crate) fn fleet_tags(tags: &Tags) -> Vec<String> {
        FLEET_TAGS
            .iter()
            .filter_map(|k| tag(tags, k))
            .map(str::to_string)
            .collect()
    }
}

/// An instance to stop, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub id: String,
    pub instance_type: Option<String>,
    pub why: String,
    /// Whether stop protection may be turned off to stop it: only on what the
    /// untrusted principal launched in the event itself (or its marked
    /// request launched), or what carries cost-guard's stamp. Anyone allowed
    /// to start instances can name any instance, and GuardDuty can be made to
    /// name one from outside: protection the owner set stays on then.
    pub may_unprotect: bool,
    /// A one-time spot instance, with its request: EC2 cannot stop it, only
    /// terminate it, and cost-guard terminates nothing. It is reported.
    pub one_time_spot: Option<String>,
}

/// Whom the quarantine policy goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum QuarantineTarget {
    User(String),
    Role(String),
    /// Cannot be quarantined: why, and what to do instead.
    Impossible(String),
}

/// What the tripwire does with one event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// Stop these instances (URGENT), then quarantine when asked to.
    Stop {
        targets: Vec<Target>,
        quarantine: Option<QuarantineTarget>,
    },
    /// An untrusted spot request or fleet of a costly type with nothing
    /// running yet: tell subscribers (once), and fail the invocation so that
    /// Lambda's retries look again.
    Wait { why: String },
    /// Nothing can be decided yet (EC2 does not know an instance it reported):
    /// fail the invocation, without a message, so that Lambda tries again.
    Retry(String),
    /// Tell subscribers, stop nothing: why.
    Alert { urgent: bool, why: String },
    /// Stop what an untrusted compute call created or grew (a group, a
    /// service, tasks, a notebook, a job, a Redshift cluster): why.
    Halt { why: String },
    /// Nothing for subscribers; a log line says why.
    Quiet(String),
}

/// The unique role ids of cost-guard's own roles in the account an event is
/// acted in: the template's (the guard's account), or member.yaml's (a member
/// account), learned there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct GuardRoles {
    /// The role resume starts things through: its launches and starts are
    /// the owner's, and are never stopped.
    pub resume: Vec<String>,
    /// The guard's other roles (sweep, keep-stopped, the tripwire): they
    /// write cost-guard's tags and never launch.
    pub others: Vec<String>,
    /// Why a member account's roles could not be read, when they could not:
    /// then none of its sessions is trusted, nor acted on.
    pub unknown: Option<String>,
    /// In a member account, the names of member.yaml's roles: never
    /// quarantined, and not acted on when their ids are unknown.
    pub names: Vec<String>,
}

impl GuardRoles {
    /// Whether `p` is a session of one of cost-guard's own roles, by id or,
    /// in a member account, by one of member.yaml's names.
    fn holds(&self, p: &Principal) -> bool {
        p.kind == "AssumedRole"
            && (p
                .role_id
                .as_deref()
                .is_some_and(|id| self.resume.iter().chain(&self.others).any(|g| g == id))
                || p.name
                    .as_deref()
                    .is_some_and(|n| self.names.iter().any(|g| g == n)))
    }

    /// Why `p` can be neither trusted nor acted on: it is a session of a role
    /// named like one of member.yaml's, whose ids could not be read.
    fn unconfirmed(&self, p: &Principal) -> Option<&str> {
        let named = p.kind == "AssumedRole"
            && p.name
                .as_deref()
                .is_some_and(|n| self.names.iter().any(|g| g == n));
        self.unknown.as_deref().filter(|_| named)
    }
}

/// What trust is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Launches and starts: patterns, and resume's role.
    Launch,
    /// Writes of cost-guard's tags: patterns, and every guard role.
    Tagging,
    /// Anything else (first moves, `EnableRegion`): patterns only.
    Other,
}

/// What the handler learned beyond the event, for the decision.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub cfg: &'a TripwireConfig,
    pub roles: &'a GuardRoles,
    /// The account the event is acted in.
    pub account: Option<&'a str>,
    /// The spot requests and fleets the tripwire remembers as an untrusted
    /// principal's: id and the mark's value ([`mark_value`]).
    pub marked: &'a BTreeMap<String, String>,
    /// `EXEMPT_TAG_KEY`.
    pub exempt_key: &'a str,
}

/// Why an instance of an untrusted call must stop, or `None` when it may run.
fn suspicion(call_region: &str, start: bool, i: &Observed, cfg: &TripwireConfig) -> Option<String> {
    let mut why = Vec::new();
    if let Some(t) = &i.instance_type {
        if let Some(p) = first_match(&cfg.costly_types, t) {
            why.push(format!(
                "{t} is a costly type (matches {p} in TRIPWIRE_INSTANCE_TYPES)"
            ));
        }
    }
    if !cfg.allowed_regions.is_empty() && !cfg.allowed_regions.iter().any(|r| r == call_region) {
        why.push(format!("{call_region} is not in TRIPWIRE_ALLOWED_REGIONS"));
    }
    if start {
        if let Some(by) = &i.stamped_by {
            why.push(format!("cost-guard had stopped it ({by}) and it was started with the stamp still on; resume removes the stamp first"));
        }
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// The account a principal belongs to: `userIdentity.accountId`, else its ARN's.
fn principal_account(p: &Principal) -> Option<&str> {
    p.account
        .as_deref()
        .or_else(|| p.arn.as_deref().and_then(Arn::parse).map(|a| a.account))
        .filter(|a| !a.is_empty())
}

/// Why a principal is trusted, or `None`. A pattern of
/// `TRIPWIRE_TRUSTED_PRINCIPALS` matches its ARN or its role's. A guard role
/// is known by its unique id alone (`sessionIssuer.principalId`), and only
/// in the account acted in: a role made anew under the same name has
/// another id. The root user is never trusted.
pub(crate) fn trusted_by(p: &Principal, ctx: &Context<'_>, purpose: Purpose) -> Option<String> {
    if p.is_root() {
        return None;
    }
    let pattern = [p.arn.as_deref(), p.issuer_arn.as_deref()]
        .into_iter()
        .flatten()
        .find_map(|arn| first_match(&ctx.cfg.trusted, arn));
    if let Some(g) = pattern {
        return Some(format!("matches {g} in TRIPWIRE_TRUSTED_PRINCIPALS"));
    }
    let role_id = p.role_id.as_deref().filter(|_| p.kind == "AssumedRole")?;
    // Role ids are unique across AWS; the account is checked anyway, so a
    // role of another account is never taken for one of the guard's, and a
    // principal whose account the event does not say is not trusted by id
    // (CloudTrail always says it).
    let account = principal_account(p)?;
    if Some(account) != ctx.account {
        return None;
    }
    let is = |ids: &[String]| ids.iter().any(|id| id == role_id);
    match purpose {
        Purpose::Launch | Purpose::Tagging if is(&ctx.roles.resume) => {
            Some("a session of cost-guard's resume role (by its unique role id)".into())
        }
        Purpose::Tagging if is(&ctx.roles.others) => {
            Some("a session of one of cost-guard's own roles (by its unique role id)".into())
        }
        _ => None,
    }
}

/// The AWS service that launched on the account's behalf: by its identity,
/// or by a tag only AWS can write.
fn launching_service(p: &Principal, instances: &[Observed], requested: &Tags) -> Option<String> {
    if let Some(s) = p.service() {
        return Some(s);
    }
    let reserved = |tags: &Tags| -> Option<String> {
        if let Some(g) = tag(tags, ASG_TAG) {
            return Some(format!("EC2 Auto Scaling (group {g})"));
        }
        if let Some(f) = tag(tags, FLEET_TAGS[0]) {
            return Some(format!("EC2 Spot Fleet ({f})"));
        }
        tag(tags, FLEET_TAGS[1]).map(|f| format!("EC2 Fleet ({f})"))
    };
    reserved(requested).or_else(|| instances.iter().find_map(|i| reserved(&i.tags)))
}

/// Where the quarantine policy would go for the principal of `call`, acted
/// on in `account`. Never to a session whose call a service made for it (the
/// role is the service's, shared by all who use it), and never to a
/// principal of another account.
pub(crate) fn quarantine_target(call: &ApiCall, ctx: &Context<'_>) -> QuarantineTarget {
    let p = &call.principal;
    let account = ctx.account;
    if ctx.roles.holds(p) {
        return QuarantineTarget::Impossible(format!(
            "{} is one of cost-guard's own roles, which the quarantine never touches; if its credentials leaked, redeploy the stack that made it",
            p.short()
        ));
    }
    if p.is_root() {
        return QuarantineTarget::Impossible(
            "the root user cannot be given a policy: sign in as root, change its password, enable MFA and delete its access keys; then ask AWS Support to review the account".into(),
        );
    }
    if let Some(service) = &p.invoked_by {
        return QuarantineTarget::Impossible(format!(
            "{service} made the call for {} (a role the service uses for everyone who calls it), so it is not quarantined; find who called {service}: aws cloudtrail lookup-events --region {} --lookup-attributes AttributeKey=EventSource,AttributeValue={service} --end-time {} --max-results 20",
            p.short(),
            call.region,
            call.time.as_deref().unwrap_or("now")
        ));
    }
    match (principal_account(p), account) {
        (Some(theirs), Some(here)) if theirs == here => {}
        (theirs, _) => {
            return QuarantineTarget::Impossible(format!(
                "{} belongs to account {}, not the account acted in ({}), so nothing is attached to it from here; revoke its credentials in its own account",
                p.short(),
                theirs.unwrap_or("unknown"),
                account.unwrap_or("unknown")
            ))
        }
    }
    match (p.kind.as_str(), &p.name) {
        ("IAMUser", Some(name)) => QuarantineTarget::User(name.clone()),
        ("AssumedRole", Some(role)) if p.service().is_none() => QuarantineTarget::Role(role.clone()),
        (kind, _) => QuarantineTarget::Impossible(format!(
            "a {kind} principal has no IAM user or role to attach a policy to: revoke its credentials where they were issued (IAM Identity Center, your identity provider, or the role's sessions)"
        )),
    }
}

/// The spot requests and fleets a launch call made.
pub(crate) fn requests_of(launch: &Launch) -> Vec<String> {
    launch
        .spot_requests
        .iter()
        .chain(&launch.spot_fleets)
        .chain(&launch.fleets)
        .cloned()
        .collect()
}

/// The spot requests and fleets of `call` to remember as an untrusted
/// principal's, whatever they ask for: a fleet's types may come from a launch
/// template the event does not show, or change later, and what it launches
/// later is judged when it runs.
pub(crate) fn requests_to_mark(call: &ApiCall, ctx: &Context<'_>) -> Vec<String> {
    let Some(launch) = call.launch() else {
        return Vec::new();
    };
    let p = &call.principal;
    if call.error.is_some()
        || p.service().is_some()
        || ctx.roles.unconfirmed(p).is_some()
        || trusted_by(p, ctx, Purpose::Launch).is_some()
    {
        return Vec::new();
    }
    requests_of(launch)
}

/// The decision for one CloudTrail call. `observed` are the call's instances
/// (for a start, those EC2 described).
pub(crate) fn decide_call(call: &ApiCall, observed: &[Observed], ctx: &Context<'_>) -> Verdict {
    match &call.kind {
        CallKind::FirstMove(what) => {
            let who = call.principal.short();
            match trusted_by(&call.principal, ctx, Purpose::Other) {
                Some(t) => Verdict::Quiet(format!("{} by {who}, trusted ({t}): {what}", call.action())),
                None => Verdict::Alert {
                    urgent: true,
                    why: format!("{who} created {what}: a stolen key's usual next step towards costly compute; nothing was stopped"),
                },
            }
        }
        CallKind::Compute(c) => decide_compute(call, c, &ComputeFacts::default(), ctx),
        CallKind::Tagging(w) => decide_tagging(call, w, ctx),
        CallKind::EnableRegion(r) => decide_enable_region(call, r, ctx),
        CallKind::Launch(l) => decide_launch(call, l, observed, ctx),
    }
}

/// What a compute call's stop did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub(crate) struct Halted {
    pub dry_run: bool,
    /// What was done, in words ("its processes suspended", "2 instances
    /// stopped", "set to 0 tasks, from 50").
    pub done: Vec<String>,
    /// What could not be done, and why.
    pub failed: Option<String>,
    /// The stamp is written, so resume finds it.
    pub stamped: bool,
}

/// What the account says beyond a compute call's event: the instance or
/// node types it runs (from a group's launch template, an endpoint's
/// configuration), an ECS task's size, and whether it is still being made.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ComputeFacts {
    pub types: Vec<String>,
    /// The largest task's size in CPU units (1,024 per vCPU).
    pub cpu_units: Option<i64>,
    /// Still being created (a Redshift cluster, a notebook starting): cannot
    /// be stopped yet.
    pub pending: Option<String>,
}

/// The decision for a call that created or grew compute other than EC2
/// instances. The same trust rules as for launches; the exempt tag does not
/// protect what an untrusted principal created (it chose the tags). A call
/// whose size or type cannot be told is alerted on, not acted on.
pub(crate) fn decide_compute(
    call: &ApiCall,
    c: &ComputeCall,
    facts: &ComputeFacts,
    ctx: &Context<'_>,
) -> Verdict {
    let cfg = ctx.cfg;
    let who = call.principal.short();
    let what = c.describe();
    let trusted = trusted_by(&call.principal, ctx, Purpose::Launch);
    if let Some(error) = &call.error {
        return match trusted {
            Some(t) => Verdict::Quiet(format!("a failed {} by {who}, trusted ({t})", call.event_name)),
            None => Verdict::Alert {
                urgent: false,
                why: format!("{who} tried to make {what}; AWS refused it ({error}): refused calls are how a stolen key probes its limits"),
            },
        };
    }
    if let Some(t) = trusted {
        return Verdict::Quiet(format!("{} by {who}, trusted ({t}): {what}", call.action()));
    }
    // An AWS service acting for the account (Application Auto Scaling
    // scaling a service out, a scheduled resume): the owner set that up,
    // and anyone who can send traffic can cause it.
    if let Some(service) = call.principal.service() {
        return Verdict::Quiet(format!(
            "{} by {service} on the account's behalf: {what}",
            call.action()
        ));
    }
    if let Some(why) = ctx.roles.unconfirmed(&call.principal) {
        return Verdict::Alert {
            urgent: true,
            why: format!("{who} made {what}, and cost-guard cannot tell whether that session is one of its own roles ({why}), so nothing was stopped"),
        };
    }
    let grows = match c.what {
        // An update that sets no count, and for a group names no types and
        // no launch template, grows nothing.
        Created::Service | Created::Group if call.event_name.starts_with("Update") => {
            c.count.is_some_and(|n| n > 0) || !c.types.is_empty() || c.template_changed
        }
        _ => true,
    };
    if !grows {
        return Verdict::Quiet(format!("{} by {who} sets no count: {what}", call.action()));
    }
    let mut why = Vec::new();
    if !cfg.allowed_regions.is_empty() && !cfg.allowed_regions.iter().any(|r| r == &call.region) {
        why.push(format!(
            "{} is not in TRIPWIRE_ALLOWED_REGIONS",
            call.region
        ));
    }
    let mut types: Vec<&str> = c
        .types
        .iter()
        .chain(&facts.types)
        .map(String::as_str)
        .collect();
    types.sort_unstable();
    types.dedup();
    for t in &types {
        // SageMaker's types are EC2's with an `ml.` prefix; the same patterns judge them.
        let bare = t.strip_prefix("ml.").unwrap_or(t);
        if let Some(p) = first_match(&cfg.costly_types, bare) {
            why.push(format!(
                "{t} is a costly type (matches {p} in TRIPWIRE_INSTANCE_TYPES)"
            ));
        }
    }
    let cpu = c.cpu_units.max(facts.cpu_units);
    if let Some(units) = cpu.filter(|u| *u > i64::from(cfg.ecs_max_vcpu) * 1024) {
        why.push(format!(
            "its tasks have {} vCPU each, above TRIPWIRE_ECS_MAX_VCPU={}",
            units as f64 / 1024.0,
            cfg.ecs_max_vcpu
        ));
    }
    if c.what == Created::Redshift {
        why.push("a Redshift cluster made by a principal you do not trust".into());
    }
    if why.is_empty() {
        let unknown = match c.what {
            Created::Service | Created::Tasks if cpu.is_none() => " (its task size is unknown)",
            _ if types.is_empty() && matches!(c.what, Created::Group | Created::Endpoint) => {
                " (its instance types are unknown)"
            }
            _ => "",
        };
        return Verdict::Alert {
            urgent: true,
            why: format!("{who} made {what}: a stolen key's usual next step towards costly compute; not a costly type or size in an allowed region{unknown}, so nothing was stopped"),
        };
    }
    let why = why.join("; ");
    if c.what == Created::Endpoint {
        return Verdict::Alert {
            urgent: true,
            why: format!("{who} made {what}, still billing: a SageMaker endpoint cannot be stopped, only deleted, and cost-guard never deletes ({why})"),
        };
    }
    if cfg.action == TripwireAction::Alert {
        return Verdict::Alert {
            urgent: true,
            why: format!("TRIPWIRE_ACTION=alert: reported, not stopped ({why})"),
        };
    }
    if let Some(pending) = &facts.pending {
        return Verdict::Wait {
            why: format!("{who} made {what} ({why}); it is {pending}, and is stopped as soon as it can be: Lambda tries again"),
        };
    }
    Verdict::Halt { why }
}

fn decide_launch(
    call: &ApiCall,
    launch: &Launch,
    observed: &[Observed],
    ctx: &Context<'_>,
) -> Verdict {
    let cfg = ctx.cfg;
    let who = call.principal.short();
    let trusted = trusted_by(&call.principal, ctx, Purpose::Launch);
    // What the request asked for judges a call that launched nothing.
    let asked: Vec<Observed> = if launch.requested_types.is_empty() {
        vec![Observed::named("", None)]
    } else {
        launch
            .requested_types
            .iter()
            .map(|t| Observed::named("", Some(t)))
            .collect()
    };
    let asked_reason = asked
        .iter()
        .find_map(|i| suspicion(&call.region, false, i, cfg));

    if let Some(error) = &call.error {
        return match (asked_reason, trusted) {
            (Some(reason), None) if error.is_dry_run() => Verdict::Alert {
                urgent: true,
                why: format!("a dry run that would have succeeded: {who} is probing what the key may launch ({reason})"),
            },
            (Some(reason), None) => Verdict::Alert {
                urgent: call.principal.is_root(),
                why: format!("EC2 refused it ({error}); refused launches are how a stolen key probes its limits ({reason})"),
            },
            (Some(_), Some(t)) => Verdict::Quiet(format!("a failed {} by {who}, trusted ({t})", call.event_name)),
            (None, _) => Verdict::Quiet(format!("a failed {} of a cheap type in an allowed region", call.event_name)),
        };
    }

    let start = call.event_name == "StartInstances";
    // A start started only what was stopped before it: EC2 answers success
    // for a running instance, and naming one changes nothing. Anyone allowed
    // to start instances can name any instance, so the others are not judged.
    let observed: Vec<&Observed> = observed
        .iter()
        .filter(|i| {
            !start
                || launch
                    .instances
                    .iter()
                    .any(|n| n.id == i.id && n.was_stopped())
        })
        .collect();
    if start && observed.is_empty() {
        return Verdict::Quiet(format!(
            "StartInstances by {who} started nothing: every instance it names was running already (EC2 answers success and changes nothing)"
        ));
    }
    let target = |i: &Observed, why: String| Target {
        id: i.id.clone(),
        instance_type: i.instance_type.clone(),
        why,
        may_unprotect: !start || i.stamped_by.is_some(),
        one_time_spot: i.one_time_spot.clone(),
    };
    let owned: Vec<Observed> = observed.iter().map(|i| (*i).clone()).collect();
    if let Some(service) = launching_service(&call.principal, &owned, &launch.tags) {
        // What a request cost-guard remembers launches later is the untrusted
        // principal's, whichever service runs the request: judged like the
        // request's own.
        let marked: Vec<Target> = observed
            .iter()
            .filter(|i| suspicion(&call.region, start, i, cfg).is_some())
            .filter_map(|i| {
                let (request, mark) = i
                    .requests
                    .iter()
                    .find_map(|r| ctx.marked.get(r).map(|m| (r, m)))?;
                Some(target(
                    i,
                    format!(
                        "launched for {request}, which {} (not trusted) asked for",
                        mark_author(mark)
                    ),
                ))
            })
            .collect();
        if !marked.is_empty() {
            return stop_or_alert(marked, None, cfg);
        }
        let targets = observed
            .iter()
            .any(|i| suspicion(&call.region, start, i, cfg).is_some());
        return if targets {
            Verdict::Alert {
                urgent: false,
                why: format!("launched by {service} on the account's behalf: reported, not stopped (the service would launch a replacement); change or delete what launched it"),
            }
        } else {
            Verdict::Quiet(format!(
                "{} by {service}: nothing costly, nothing out of region",
                call.event_name
            ))
        };
    }
    let targets: Vec<Target> = observed
        .iter()
        .filter_map(|i| suspicion(&call.region, start, i, cfg).map(|why| target(i, why)))
        .collect();
    let requests = requests_of(launch);
    if let (None, Some(unknown)) = (&trusted, ctx.roles.unconfirmed(&call.principal)) {
        return Verdict::Alert {
            urgent: true,
            why: format!("{who} is named like one of member.yaml's roles, whose ids could not be read ({unknown}), so it is neither trusted nor stopped; look at what it launched"),
        };
    }
    if targets.is_empty() {
        let written = guard_keys_of(&launch.tags, ctx.exempt_key);
        return match (observed.is_empty(), asked_reason, &trusted) {
            // A spot request or fleet with nothing running yet: what it
            // launches later carries its id, and is stopped when it runs;
            // Lambda's retry looks again for what runs by then.
            (true, Some(reason), None) if !requests.is_empty() => Verdict::Wait {
                why: format!("nothing is running yet, so there is nothing to stop; what {} launches later is stopped when it runs. Cancel the request ({reason})", requests.join(", ")),
            },
            (true, Some(reason), None) => Verdict::Alert {
                urgent: true,
                why: format!("nothing is running yet, so there is nothing to stop; cancel the request ({reason})"),
            },
            // A cheap launch that hides itself from the budget sweep.
            (_, _, None) if !written.is_empty() => Verdict::Alert {
                urgent: true,
                why: format!(
                    "{who}, not trusted, launched it with {}: nothing costly to stop, but check that it was you",
                    written.join(", ")
                ),
            },
            _ => Verdict::Quiet(format!(
                "{} by {who}: nothing costly, nothing out of region, nothing cost-guard stopped",
                call.event_name
            )),
        };
    }
    if let Some(t) = trusted {
        return Verdict::Alert {
            urgent: false,
            why: format!("{who} is trusted ({t}): reported, never stopped"),
        };
    }
    let quarantine = cfg.quarantine.then(|| quarantine_target(call, ctx));
    stop_or_alert(targets, quarantine, cfg)
}

/// Stops the targets, or, under `TRIPWIRE_ACTION=alert`, reports them.
fn stop_or_alert(
    targets: Vec<Target>,
    quarantine: Option<QuarantineTarget>,
    cfg: &TripwireConfig,
) -> Verdict {
    if cfg.action == TripwireAction::Alert {
        return Verdict::Alert {
            urgent: true,
            why: format!(
                "TRIPWIRE_ACTION=alert: reported, not stopped ({})",
                targets[0].why
            ),
        };
    }
    Verdict::Stop {
        targets,
        quarantine,
    }
}

/// `key=value` for each tag that is cost-guard's (the exempt key, or a
/// `cost-guard:` key), with what it lets its author do.
fn guard_keys_of(tags: &Tags, exempt_key: &str) -> Vec<String> {
    tags.iter()
        .filter(|(k, _)| is_exempt_key(k, exempt_key) || k.starts_with(GUARD_TAG_PREFIX))
        .map(|(k, v)| format!("{k}={v} ({})", tag_consequence(k, false, exempt_key)))
        .collect()
}

/// The keys of a tag write that are cost-guard's: the exempt key and every
/// `cost-guard:` key.
pub(crate) fn guard_keys<'a>(
    w: &'a TagWrite,
    exempt_key: &str,
) -> Vec<&'a (String, Option<String>)> {
    w.tags
        .iter()
        .filter(|(k, _)| is_exempt_key(k, exempt_key) || k.starts_with(GUARD_TAG_PREFIX))
        .collect()
}

/// What a write of cost-guard's keys lets its author do.
fn tag_consequence(key: &str, removes: bool, exempt_key: &str) -> &'static str {
    use crate::domain::tags::{SAVED_TAG, STOPPED_AT_TAG, STOPPED_BY_TAG};
    match (key, removes) {
        (k, false) if is_exempt_key(k, exempt_key) => "the budget sweep now skips it",
        (k, true) if is_exempt_key(k, exempt_key) => "the budget sweep may now stop it",
        (STOPPED_AT_TAG | STOPPED_BY_TAG, false) => {
            "resume would start it, and a start of it is stopped again, its stop protection turned off"
        }
        (STOPPED_AT_TAG | STOPPED_BY_TAG, true) => {
            "resume no longer sees that cost-guard stopped it, and a start of it is no longer stopped for the stamp"
        }
        (SAVED_TAG, false) => {
            "resume reads it to restore what the resource was; cost-guard seals what it writes there, so resume refuses this one, and the resource must then be started by hand"
        }
        (SAVED_TAG, true) => {
            "resume no longer knows what the resource was before cost-guard stopped it, and leaves it to be started by hand"
        }
        _ => "cost-guard reads it to decide what to stop or start",
    }
}

fn decide_tagging(call: &ApiCall, w: &TagWrite, ctx: &Context<'_>) -> Verdict {
    let who = call.principal.short();
    let keys = guard_keys(w, ctx.exempt_key);
    let every_tag = w.removes && w.tags.is_empty();
    if keys.is_empty() && !every_tag {
        return Verdict::Quiet(format!(
            "{} by {who} touches none of cost-guard's keys",
            call.action()
        ));
    }
    if let Some(e) = &call.error {
        return Verdict::Quiet(format!(
            "{} by {who} was refused ({e}): nothing was written",
            call.action()
        ));
    }
    if let Some(t) = trusted_by(&call.principal, ctx, Purpose::Tagging) {
        return Verdict::Quiet(format!(
            "{} of cost-guard's keys by {who}, trusted ({t})",
            call.action()
        ));
    }
    // member.yaml's roles write these tags all the time; when their ids
    // cannot be read, the launch alerts say so, and the tags are left to them.
    if let Some(unknown) = ctx.roles.unconfirmed(&call.principal) {
        return Verdict::Quiet(format!(
            "{} of cost-guard's keys by {who}, named like one of member.yaml's roles whose ids could not be read ({unknown})",
            call.action()
        ));
    }
    let on = w.resources.join(", ");
    if every_tag {
        return Verdict::Alert {
            urgent: false,
            why: format!("{who} removed every tag of {on}: any cost-guard stamp or exempt tag on them is gone"),
        };
    }
    let what: Vec<String> = keys
        .iter()
        .map(|(k, v)| {
            let written = match v {
                Some(v) => format!("{k}={v}"),
                None => k.clone(),
            };
            format!(
                "{written} ({})",
                tag_consequence(k, w.removes, ctx.exempt_key)
            )
        })
        .collect();
    Verdict::Alert {
        urgent: true,
        why: format!(
            "{who}, not trusted, {} {} on {on}; nothing was changed back: check that it was you",
            if w.removes { "removed" } else { "wrote" },
            what.join(", ")
        ),
    }
}

fn decide_enable_region(call: &ApiCall, r: &RegionEnabled, ctx: &Context<'_>) -> Verdict {
    let who = call.principal.short();
    let region = r.region.as_deref().unwrap_or("an unnamed region");
    if let Some(e) = &call.error {
        return Verdict::Quiet(format!(
            "EnableRegion of {region} by {who} was refused ({e})"
        ));
    }
    match trusted_by(&call.principal, ctx, Purpose::Other) {
        Some(t) => Verdict::Alert {
            urgent: false,
            why: format!("{who} ({t}) enabled {region}, where no forwarder sends cost-guard its events yet"),
        },
        None => Verdict::Alert {
            urgent: true,
            why: format!("{who}, not trusted, enabled {region}: a stolen key opens a region nobody watches to launch there, and no forwarder sends cost-guard its events yet"),
        },
    }
}

/// The decision for a GuardDuty finding. `described` is its instance as EC2
/// describes it now, `None` when EC2 does not know it.
pub(crate) fn decide_finding(
    f: &Finding,
    described: Option<&Observed>,
    ctx: &Context<'_>,
) -> Verdict {
    let Some(id) = &f.instance_id else {
        return Verdict::Alert {
            urgent: f.means_abuse(),
            why: "the finding names no instance id, so there is nothing to stop".into(),
        };
    };
    if !f.means_abuse() {
        return Verdict::Alert {
            urgent: f.severity.is_some_and(|s| s >= 7.0),
            why: format!(
                "{} is reported: only CryptoCurrency and Impact:EC2 findings stop an instance",
                f.finding_type
            ),
        };
    }
    let Some(i) = described else {
        return Verdict::Alert {
            urgent: true,
            why: format!(
                "EC2 does not know {id} in {}, so nothing was stopped",
                f.region
            ),
        };
    };
    // An outsider can often cause a finding (a DNS lookup of a listed domain
    // from a web server): a finding alone never stops what the owner exempted.
    if let Some(key) = exempt_key_in(&i.tags, ctx.exempt_key) {
        return Verdict::Alert {
            urgent: true,
            why: format!(
                "{id} carries the exempt tag {key}, so a finding alone does not stop it (an outsider can often make an instance look up a listed domain); look at it now, and stop it yourself if it is not yours: aws ec2 stop-instances --region {} --instance-ids {id}",
                f.region
            ),
        };
    }
    if ctx.cfg.guardduty_action == TripwireAction::Alert {
        return Verdict::Alert {
            urgent: true,
            why: "TRIPWIRE_GUARDDUTY_ACTION=alert: reported, not stopped".into(),
        };
    }
    Verdict::Stop {
        targets: vec![Target {
            id: id.clone(),
            instance_type: i.instance_type.clone().or_else(|| f.instance_type.clone()),
            why: format!("GuardDuty found {}", f.finding_type),
            may_unprotect: false,
            one_time_spot: i.one_time_spot.clone(),
        }],
        quarantine: None,
    }
}

/// The decision for an instance a spot request or fleet launched.
/// `described` is the instance as EC2 describes it, `None` when EC2 does not
/// know it (any more).
pub(crate) fn decide_fleet_launch(
    l: &FleetLaunch,
    described: Option<&Observed>,
    ctx: &Context<'_>,
) -> Verdict {
    let Some(mark) = ctx.marked.get(&l.request) else {
        return Verdict::Quiet(format!(
            "{} {} launched {}: cost-guard did not mark that request as an untrusted principal's",
            l.kind.label(),
            l.request,
            l.instance_id
        ));
    };
    // EC2 reports a launch before every describe knows the instance.
    let Some(i) = described else {
        return Verdict::Retry(format!(
            "{} {}, which {} (not trusted) asked for, launched {}, which EC2 does not describe yet",
            l.kind.label(),
            l.request,
            mark_author(mark),
            l.instance_id
        ));
    };
    let Some(reason) = suspicion(&l.region, false, i, ctx.cfg) else {
        return Verdict::Quiet(format!(
            "{} {} launched {}: nothing costly, nothing out of region",
            l.kind.label(),
            l.request,
            l.instance_id
        ));
    };
    let target = Target {
        id: i.id.clone(),
        instance_type: i.instance_type.clone().or_else(|| l.instance_type.clone()),
        why: format!(
            "launched for {}, which {} (not trusted) asked for ({reason})",
            l.request,
            mark_author(mark)
        ),
        may_unprotect: true,
        one_time_spot: i.one_time_spot.clone(),
    };
    stop_or_alert(vec![target], None, ctx.cfg)
}

/// What the tripwire did to the instances it stopped.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub(crate) struct StopOutcome {
    pub dry_run: bool,
    /// Stopped now (in a dry run: would be stopped).
    pub stopped: Vec<String>,
    /// Stop protection was on; it was turned off so they could be stopped.
    pub protection_removed: Vec<String>,
    /// Stop protection is on and was left on (the instance was not launched
    /// by the event, and carries no stamp): stop them by hand.
    pub protected: Vec<String>,
    /// One-time spot instances, which EC2 cannot stop, with their requests.
    pub one_time_spot: Vec<(String, String)>,
    /// Not stopped, and why (already stopped, gone, cannot be stopped).
    pub skipped: Vec<(String, String)>,
    /// The stop failed: the error.
    pub failed: Vec<(String, String)>,
    /// Stopped, but the stamp could not be written: why.
    pub unstamped: Option<String>,
    /// Spot requests and fleets remembered as an untrusted principal's.
    pub marked: Vec<String>,
    /// They could not be remembered: why.
    pub unmarked: Option<String>,
    /// The quarantine, when one was asked for.
    pub quarantine: Option<Quarantine>,
}

/// What came of the quarantine.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) enum Quarantine {
    /// The policy is attached to this IAM user or role (`user/NAME`, `role/NAME`).
    Attached(String),
    /// Not possible for this principal: what to do instead.
    NotPossible(String),
    /// The attach call failed.
    Failed { target: String, error: String },
}

/// The policy's ARN in the principal's partition (`aws`, `aws-cn`, `aws-us-gov`).
pub(crate) fn quarantine_policy_arn(principal_arn: Option<&str>) -> String {
    let partition = principal_arn
        .and_then(Arn::parse)
        .map(|a| a.partition)
        .filter(|p| p.starts_with("aws"))
        .unwrap_or("aws");
    format!("arn:{partition}:iam::aws:policy/{QUARANTINE_POLICY}")
}

/// The stamp label: `tripwire:RunInstances`, `tripwire:guardduty`. What a
/// spot request or fleet launched later carries the label of the call that
/// made the request, so one resume finds both.
pub(crate) fn stamp_label(event: &TripwireEvent) -> String {
    match event {
        TripwireEvent::Call(c) => format!("tripwire:{}", c.event_name),
        TripwireEvent::FleetLaunch(l) => format!(
            "tripwire:{}",
            match l.kind {
                FleetKind::SpotRequest => "RequestSpotInstances",
                FleetKind::SpotFleet => "RequestSpotFleet",
                FleetKind::Fleet => "CreateFleet",
            }
        ),
        TripwireEvent::Finding(_) | TripwireEvent::Ignored(_) => "tripwire:guardduty".into(),
    }
}

/// What the tripwire remembers of an untrusted principal's request: the
/// event's id, so a retry of the same event knows it already told
/// subscribers, and who asked.
pub(crate) fn mark_value(call: &ApiCall) -> String {
    let text = format!(
        "{} {}",
        call.event_id.as_deref().unwrap_or("unknown-event"),
        call.principal.short()
    );
    text.chars().take(256).collect()
}

/// Whether `mark` was written for this very call (a retry of its event).
pub(crate) fn marked_by(mark: &str, call: &ApiCall) -> bool {
    call.event_id
        .as_deref()
        .is_some_and(|id| mark.split(' ').next() == Some(id))
}

/// Who a mark says asked: the mark without its event id.
pub(crate) fn mark_author(mark: &str) -> &str {
    mark.split_once(' ').map(|(_, who)| who).unwrap_or(mark)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::trigger::launch::{parse_tripwire_event, CallError};
    use serde_json::json;

    const OWN: &str = "123456789012";
    const EXEMPT: &str = "cost-guard-exempt";

    #[test]
    fn the_policy_is_in_the_principals_partition() {
        assert_eq!(
            quarantine_policy_arn(Some("arn:aws:iam::123456789012:user/x")),
            "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"
        );
        assert_eq!(
            quarantine_policy_arn(Some("arn:aws-cn:iam::123456789012:user/x")),
            "arn:aws-cn:iam::aws:policy/AWSCompromisedKeyQuarantineV3"
        );
        assert_eq!(
            quarantine_policy_arn(None),
            "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"
        );
    }

    fn sample(name: &str) -> serde_json::Value {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    fn event(v: &serde_json::Value) -> TripwireEvent {
        parse_tripwire_event(v).unwrap()
    }

    fn call_of(v: &serde_json::Value) -> ApiCall {
        match event(v) {
            TripwireEvent::Call(c) => *c,
            other => panic!("{other:?}"),
        }
    }

    fn call(name: &str) -> ApiCall {
        call_of(&sample(name))
    }

    /// What the handler hands the decision: settings, the guard's roles and
    /// the marked requests, in the guard's own account.
    struct Known {
        cfg: TripwireConfig,
        roles: GuardRoles,
        marked: BTreeMap<String, String>,
        account: Option<String>,
    }

    impl Known {
        fn ctx(&self) -> Context<'_> {
            Context {
                cfg: &self.cfg,
                roles: &self.roles,
                account: self.account.as_deref(),
                marked: &self.marked,
                exempt_key: EXEMPT,
            }
        }
    }

    fn known(vars: &[(&str, &str)]) -> Known {
        Known {
            cfg: TripwireConfig::from_lookup(&|n| {
                vars.iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| v.to_string())
            })
            .unwrap(),
            roles: GuardRoles {
                resume: vec!["AROARESUMEROLE000001".into()],
                others: vec!["AROASWEEPROLE0000001".into()],
                ..Default::default()
            },
            marked: BTreeMap::new(),
            account: Some(OWN.into()),
        }
    }

    /// The call's instances as the event names them.
    fn from_event(c: &ApiCall) -> Vec<Observed> {
        c.launch().map(Observed::from_event).unwrap_or_default()
    }

    fn decide(name: &str, vars: &[(&str, &str)]) -> Verdict {
        let c = call(name);
        decide_call(&c, &from_event(&c), &known(vars).ctx())
    }

    fn stopped(v: &Verdict) -> Vec<&str> {
        match v {
            Verdict::Stop { targets, .. } => targets.iter().map(|t| t.id.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    fn targets(v: Verdict) -> Vec<Target> {
        match v {
            Verdict::Stop { targets, .. } => targets,
            other => panic!("not a stop: {other:?}"),
        }
    }

    /// A session of role `role` (unique id `role_id`) in `account`.
    fn session(c: &mut ApiCall, account: &str, role: &str, role_id: &str) {
        c.principal = Principal {
            kind: "AssumedRole".into(),
            arn: Some(format!(
                "arn:aws:sts::{account}:assumed-role/{role}/cost-guard"
            )),
            issuer_arn: Some(format!("arn:aws:iam::{account}:role/{role}")),
            name: Some(role.into()),
            account: Some(account.into()),
            role_id: Some(role_id.into()),
            ..Default::default()
        };
    }

    #[test]
    fn an_untrusted_costly_launch_is_stopped_exempt_tag_or_not() {
        let v = decide("tripwire-run-instances.json", &[]);
        // The request tagged them cost-guard-exempt: that protects nothing here.
        assert_eq!(
            stopped(&v),
            [
                "i-0a1b2c3d4e5f60001",
                "i-0a1b2c3d4e5f60002",
                "i-0a1b2c3d4e5f60003"
            ]
        );
        let Verdict::Stop {
            targets,
            quarantine,
        } = v
        else {
            panic!()
        };
        assert!(
            targets[0]
                .why
                .contains("p3.2xlarge is a costly type (matches p*"),
            "{}",
            targets[0].why
        );
        // Launched in the event itself: its stop protection may go.
        assert!(targets.iter().all(|t| t.may_unprotect));
        assert_eq!(quarantine, None, "quarantine is off by default");
    }

    #[test]
    fn a_trusted_principal_is_reported_never_stopped_and_root_never_trusted() {
        let v = decide(
            "tripwire-run-instances.json",
            &[(
                "TRIPWIRE_TRUSTED_PRINCIPALS",
                "arn:aws:iam::123456789012:user/ci-*",
            )],
        );
        assert!(
            matches!(&v, Verdict::Alert { urgent: false, why } if why.contains("trusted (matches arn:aws:iam::123456789012:user/ci-*")),
            "{v:?}"
        );
        // A role is trusted by its IAM ARN as well as by the session's.
        let v = decide(
            "tripwire-start-instances.json",
            &[
                (
                    "TRIPWIRE_TRUSTED_PRINCIPALS",
                    "arn:aws:iam::123456789012:role/contractor",
                ),
                ("TRIPWIRE_ALLOWED_REGIONS", "eu-west-1"),
            ],
        );
        assert!(matches!(v, Verdict::Alert { urgent: false, .. }), "{v:?}");
        let v = decide(
            "tripwire-root-launch.json",
            &[("TRIPWIRE_TRUSTED_PRINCIPALS", "arn:*:*:*:*:*")],
        );
        assert_eq!(stopped(&v), ["i-0e007000000000001", "i-0e007000000000002"]);
    }

    #[test]
    fn the_guards_roles_are_trusted_by_unique_id_never_by_name() {
        let k = known(&[]);
        let ctx = k.ctx();
        let mut c = call("tripwire-run-instances.json");
        // resume's role, by its unique id: trusted for launches and tags.
        session(
            &mut c,
            OWN,
            "cost-guard-ResumeRole-X",
            "AROARESUMEROLE000001",
        );
        assert!(trusted_by(&c.principal, &ctx, Purpose::Launch).is_some());
        assert!(trusted_by(&c.principal, &ctx, Purpose::Tagging).is_some());
        assert_eq!(trusted_by(&c.principal, &ctx, Purpose::Other), None);
        assert!(matches!(
            decide_call(&c, &from_event(&c), &ctx),
            Verdict::Alert { urgent: false, .. }
        ));
        // A role of the member role's name that someone created: another id.
        session(&mut c, OWN, "cost-guard-member", "AROASOMEONEELSES0001");
        assert_eq!(trusted_by(&c.principal, &ctx, Purpose::Launch), None);
        assert_eq!(stopped(&decide_call(&c, &from_event(&c), &ctx)).len(), 3);
        // The sweep's role writes stamps but never launches.
        session(
            &mut c,
            OWN,
            "cost-guard-SweepRole-X",
            "AROASWEEPROLE0000001",
        );
        assert!(trusted_by(&c.principal, &ctx, Purpose::Tagging).is_some());
        assert_eq!(trusted_by(&c.principal, &ctx, Purpose::Launch), None);
        // resume's id, but a principal of another account: never.
        session(
            &mut c,
            "999999999999",
            "cost-guard-ResumeRole-X",
            "AROARESUMEROLE000001",
        );
        assert_eq!(trusted_by(&c.principal, &ctx, Purpose::Launch), None);
        // resume's id, with no account in the event (no accountId, no ARN):
        // not trusted by id alone.
        session(
            &mut c,
            OWN,
            "cost-guard-ResumeRole-X",
            "AROARESUMEROLE000001",
        );
        c.principal.account = None;
        c.principal.arn = None;
        assert_eq!(trusted_by(&c.principal, &ctx, Purpose::Launch), None);
        assert_eq!(trusted_by(&c.principal, &ctx, Purpose::Tagging), None);
        // An unknown member role set trusts nothing.
        let mut blind = known(&[]);
        blind.roles = GuardRoles {
            unknown: Some("AccessDenied".into()),
            ..Default::default()
        };
        session(&mut c, OWN, "cost-guard-member", "AROARESUMEROLE000001");
        assert_eq!(
            trusted_by(&c.principal, &blind.ctx(), Purpose::Launch),
            None
        );
        // A user with the same name is no role.
        c.principal.kind = "IAMUser".into();
        assert_eq!(trusted_by(&c.principal, &ctx, Purpose::Launch), None);
    }

    #[test]
    fn a_cheap_launch_in_an_allowed_region_is_a_log_line_and_a_disallowed_region_stops_anything() {
        let mut c = call("tripwire-run-instances.json");
        if let CallKind::Launch(l) = &mut c.kind {
            l.tags.clear();
        }
        let mut cheap = from_event(&c);
        for i in &mut cheap {
            i.instance_type = Some("t3.micro".into());
        }
        let k = known(&[]);
        assert!(matches!(
            decide_call(&c, &cheap, &k.ctx()),
            Verdict::Quiet(_)
        ));
        let only_us = known(&[("TRIPWIRE_ALLOWED_REGIONS", "us-east-1,eu-west-1")]);
        let v = decide_call(&c, &cheap, &only_us.ctx());
        assert_eq!(stopped(&v).len(), 3);
        assert_eq!(
            targets(v)[0].why,
            "sa-east-1 is not in TRIPWIRE_ALLOWED_REGIONS"
        );
        c.region = "eu-west-1".into();
        assert!(matches!(
            decide_call(&c, &cheap, &only_us.ctx()),
            Verdict::Quiet(_)
        ));
    }

    #[test]
    fn a_start_of_a_stamped_instance_is_stopped_whatever_its_type() {
        let c = call("tripwire-start-instances.json");
        let k = known(&[]);
        let mut seen = vec![Observed::named("i-0f00000000000beef", Some("t3.micro"))];
        assert!(
            matches!(decide_call(&c, &seen, &k.ctx()), Verdict::Quiet(_)),
            "unstamped and cheap"
        );
        seen[0].stamped_by = Some("budget:student-monthly".into());
        let t = targets(decide_call(&c, &seen, &k.ctx()));
        assert_eq!(t[0].id, "i-0f00000000000beef");
        assert!(t[0].why.contains("started with the stamp still on"));
        assert!(t[0].may_unprotect, "it carries the stamp");
        // A launch that is not a start ignores the stamp (a new instance has none).
        let mut run = call("tripwire-run-instances.json");
        run.event_name = "RunInstances".into();
        let mut launched = from_event(&run);
        launched[0].instance_type = Some("t3.micro".into());
        launched[0].stamped_by = Some("x".into());
        assert!(
            !stopped(&decide_call(&run, &launched, &k.ctx())).contains(&launched[0].id.as_str())
        );
    }

    #[test]
    fn a_start_counts_only_for_what_was_stopped_and_keeps_the_owners_stop_protection() {
        let k = known(&[]);
        let gpu = vec![Observed::named("i-0f00000000000beef", Some("p3.2xlarge"))];
        // Stopped before: started now, stopped again; the owner's stop
        // protection stays (not launched here, no stamp).
        let c = call("tripwire-start-instances.json");
        let t = targets(decide_call(&c, &gpu, &k.ctx()));
        assert_eq!(t[0].id, "i-0f00000000000beef");
        assert!(!t[0].may_unprotect);
        // Running before: AWS answered success and changed nothing.
        for previous in [json!({"code": 16, "name": "running"}), json!(null)] {
            let mut v = sample("tripwire-start-instances.json");
            v["detail"]["responseElements"]["instancesSet"]["items"][0]["previousState"] =
                previous.clone();
            let c = call_of(&v);
            let verdict = decide_call(&c, &gpu, &k.ctx());
            assert!(
                matches!(&verdict, Verdict::Quiet(why) if why.contains("started nothing")),
                "{previous}: {verdict:?}"
            );
        }
        // Stopping counts: the start reverses it.
        let mut v = sample("tripwire-start-instances.json");
        v["detail"]["responseElements"]["instancesSet"]["items"][0]["previousState"]["name"] =
            json!("stopping");
        assert_eq!(
            stopped(&decide_call(&call_of(&v), &gpu, &k.ctx())),
            ["i-0f00000000000beef"]
        );
    }

    #[test]
    fn a_services_launch_is_reported_with_the_service() {
        let v = decide("tripwire-autoscaling-launch.json", &[]);
        assert!(
            matches!(&v, Verdict::Alert { urgent: false, why } if why.starts_with("launched by EC2 Auto Scaling on the account's behalf")),
            "{v:?}"
        );
        // A tag only AWS can write tells the same when the identity does not.
        let mut c = call("tripwire-run-instances.json");
        let mut seen = from_event(&c);
        seen[0]
            .tags
            .push(("aws:ec2spot:fleet-request-id".into(), "sfr-1".into()));
        let k = known(&[]);
        assert!(
            matches!(decide_call(&c, &seen, &k.ctx()), Verdict::Alert { why, .. } if why.contains("EC2 Spot Fleet (sfr-1)"))
        );
        // A service that merely carried the user's own call does not.
        c.principal.invoked_by = Some("cloudformation.amazonaws.com".into());
        assert_eq!(
            stopped(&decide_call(&c, &from_event(&c), &k.ctx())).len(),
            3
        );
    }

    #[test]
    fn what_a_marked_request_launches_later_is_stopped_whoever_runs_it() {
        let c = call("tripwire-autoscaling-launch.json");
        let mut seen = from_event(&c);
        seen[0].requests = vec!["sfr-0123456789abcdef0".into()];
        let mut k = known(&[]);
        assert!(matches!(
            decide_call(&c, &seen, &k.ctx()),
            Verdict::Alert { urgent: false, .. }
        ));
        k.marked.insert(
            "sfr-0123456789abcdef0".into(),
            "ev-1 user/ci-deployer".into(),
        );
        let t = targets(decide_call(&c, &seen, &k.ctx()));
        assert_eq!(t[0].id, seen[0].id);
        assert!(
            t[0].why
                .starts_with("launched for sfr-0123456789abcdef0, which user/ci-deployer (not trusted) asked for"),
            "{}",
            t[0].why
        );
        assert!(t[0].may_unprotect);
        // A cheap one in an allowed region runs on, as the request's own would.
        let mut cheap = seen.clone();
        cheap[0].instance_type = Some("t3.micro".into());
        assert!(matches!(
            decide_call(&c, &cheap, &k.ctx()),
            Verdict::Quiet(_)
        ));
        // The same through EC2's own event.
        let launch = FleetLaunch {
            kind: FleetKind::SpotFleet,
            request: "sfr-0123456789abcdef0".into(),
            instance_id: seen[0].id.clone(),
            instance_type: Some("g5.xlarge".into()),
            region: "us-east-1".into(),
            account: Some(OWN.into()),
            time: None,
        };
        assert_eq!(
            stopped(&decide_fleet_launch(&launch, Some(&seen[0]), &k.ctx())),
            [seen[0].id.as_str()]
        );
        // Not described yet: Lambda tries again.
        assert!(matches!(
            decide_fleet_launch(&launch, None, &k.ctx()),
            Verdict::Retry(_)
        ));
        assert!(matches!(
            decide_fleet_launch(&launch, Some(&cheap[0]), &k.ctx()),
            Verdict::Quiet(_)
        ));
        let owners = FleetLaunch {
            request: "sfr-00000000000000000".into(),
            ..launch
        };
        assert!(matches!(
            decide_fleet_launch(&owners, Some(&seen[0]), &k.ctx()),
            Verdict::Quiet(_)
        ));
    }

    #[test]
    fn refused_launches_and_dry_run_probes_alert_and_stop_nothing() {
        let v = decide("tripwire-run-instances-failed.json", &[]);
        assert!(
            matches!(&v, Verdict::Alert { urgent: false, why } if why.starts_with("EC2 refused it (Client.VcpuLimitExceeded")),
            "{v:?}"
        );
        let v = decide("tripwire-dry-run-probe.json", &[]);
        assert!(
            matches!(&v, Verdict::Alert { urgent: true, why } if why.contains("probing")),
            "{v:?}"
        );
        let k = known(&[]);
        let mut cheap = call("tripwire-run-instances-failed.json");
        cheap.kind = CallKind::Launch(Launch {
            requested_types: vec!["t3.micro".into()],
            ..Default::default()
        });
        assert!(matches!(
            decide_call(&cheap, &[], &k.ctx()),
            Verdict::Quiet(_)
        ));
        cheap.error = Some(CallError {
            code: "Client.DryRunOperation".into(),
            message: None,
        });
        assert!(matches!(
            decide_call(&cheap, &[], &k.ctx()),
            Verdict::Quiet(_)
        ));
        // A refused launch stops nothing even when it names instances.
        let mut refused = call("tripwire-run-instances.json");
        refused.error = Some(CallError {
            code: "Client.VcpuLimitExceeded".into(),
            message: None,
        });
        assert!(stopped(&decide_call(&refused, &from_event(&refused), &k.ctx())).is_empty());
        // By root, a refused launch is URGENT.
        let mut root = call("tripwire-root-launch.json");
        root.error = refused.error.clone();
        assert!(matches!(
            decide_call(&root, &[], &k.ctx()),
            Verdict::Alert { urgent: true, .. }
        ));
    }

    #[test]
    fn alert_mode_and_quarantine() {
        let v = decide(
            "tripwire-run-instances.json",
            &[("TRIPWIRE_ACTION", "alert")],
        );
        assert!(matches!(v, Verdict::Alert { urgent: true, .. }), "{v:?}");
        let v = decide(
            "tripwire-run-instances.json",
            &[("TRIPWIRE_QUARANTINE", "on")],
        );
        assert!(
            matches!(v, Verdict::Stop { quarantine: Some(QuarantineTarget::User(ref u)), .. } if u == "ci-deployer"),
            "{v:?}"
        );
        let c = call("tripwire-start-instances.json");
        assert_eq!(
            quarantine_target(&c, &known(&[]).ctx()),
            QuarantineTarget::Role("contractor".into())
        );
        let root = call("tripwire-root-launch.json");
        assert!(
            matches!(quarantine_target(&root, &known(&[]).ctx()), QuarantineTarget::Impossible(w) if w.starts_with("the root user cannot"))
        );
        let asg = call("tripwire-autoscaling-launch.json");
        assert!(
            matches!(
                quarantine_target(&asg, &known(&[]).ctx()),
                QuarantineTarget::Impossible(_)
            ),
            "never a service-linked role"
        );
    }

    #[test]
    fn the_quarantine_never_lands_on_a_services_role_or_another_accounts_principal() {
        // CloudFormation with a service role launched: the instances stop,
        // the role everyone deploys with is left alone, and the alert says
        // how to find who called CloudFormation.
        let mut c = call("tripwire-start-instances.json");
        c.principal.invoked_by = Some("cloudformation.amazonaws.com".into());
        let QuarantineTarget::Impossible(why) = quarantine_target(&c, &known(&[]).ctx()) else {
            panic!("quarantined a service's session")
        };
        assert!(
            why.starts_with(
                "cloudformation.amazonaws.com made the call for assumed-role/contractor/dev-laptop"
            ),
            "{why}"
        );
        assert!(why.contains("aws cloudtrail lookup-events --region us-east-1 --lookup-attributes AttributeKey=EventSource,AttributeValue=cloudformation.amazonaws.com --end-time 2026-12-01T09:41:17Z"), "{why}");
        // A user of another account than the one acted in.
        let run = call("tripwire-run-instances.json");
        assert!(matches!(
            quarantine_target(&run, &known(&[]).ctx()),
            QuarantineTarget::User(_)
        ));
        for here in [Some("222222222222"), None] {
            let mut k = known(&[]);
            k.account = here.map(str::to_string);
            let QuarantineTarget::Impossible(why) = quarantine_target(&run, &k.ctx()) else {
                panic!("quarantined across accounts ({here:?})")
            };
            assert!(why.contains("belongs to account 123456789012"), "{why}");
        }
        // With quarantine on, the launch still stops.
        let k = known(&[("TRIPWIRE_QUARANTINE", "on")]);
        let mut served = call("tripwire-run-instances.json");
        served.principal.invoked_by = Some("elasticmapreduce.amazonaws.com".into());
        assert!(matches!(
            decide_call(&served, &from_event(&served), &k.ctx()),
            Verdict::Stop {
                quarantine: Some(QuarantineTarget::Impossible(_)),
                ..
            }
        ));
    }

    #[test]
    fn a_spot_request_with_nothing_running_yet_waits_and_marks_the_request() {
        let c = call("tripwire-spot-request.json");
        let k = known(&[]);
        let v = decide_call(&c, &[], &k.ctx());
        assert!(
            matches!(&v, Verdict::Wait { why } if why.contains("Cancel the request")),
            "{v:?}"
        );
        assert_eq!(requests_to_mark(&c, &k.ctx()), ["sir-4f2a8b1c"]);
        let running = vec![Observed {
            id: "i-0aa".into(),
            instance_type: Some("g4dn.12xlarge".into()),
            ..Default::default()
        }];
        assert_eq!(stopped(&decide_call(&c, &running, &k.ctx())), ["i-0aa"]);
        // A one-time spot instance is a target EC2 cannot stop.
        let one_time = vec![Observed {
            one_time_spot: Some("sir-4f2a8b1c".into()),
            ..running[0].clone()
        }];
        assert_eq!(
            targets(decide_call(&c, &one_time, &k.ctx()))[0]
                .one_time_spot
                .as_deref(),
            Some("sir-4f2a8b1c")
        );
        // Trusted: reported, nothing marked.
        let trusted = known(&[(
            "TRIPWIRE_TRUSTED_PRINCIPALS",
            "arn:aws:iam::123456789012:user/ci-deployer",
        )]);
        assert!(matches!(
            decide_call(&c, &[], &trusted.ctx()),
            Verdict::Quiet(_)
        ));
        assert!(requests_to_mark(&c, &trusted.ctx()).is_empty());
        // A cheap request is remembered too: what it launches later is judged then.
        let mut cheap = c.clone();
        if let CallKind::Launch(l) = &mut cheap.kind {
            l.requested_types = vec!["t3.micro".into()];
        }
        assert!(matches!(
            decide_call(&cheap, &[], &k.ctx()),
            Verdict::Quiet(_)
        ));
        assert_eq!(requests_to_mark(&cheap, &k.ctx()), ["sir-4f2a8b1c"]);
    }

    #[test]
    fn marks_carry_the_event_id_and_the_author() {
        let c = call("tripwire-spot-request.json");
        let mark = mark_value(&c);
        assert!(marked_by(&mark, &c));
        assert_eq!(mark_author(&mark), "user/ci-deployer");
        let mut other = c.clone();
        other.event_id = Some("another-event".into());
        assert!(!marked_by(&mark, &other));
        assert_eq!(
            stamp_label(&TripwireEvent::Call(Box::new(c))),
            "tripwire:RequestSpotInstances"
        );
    }

    #[test]
    fn first_moves_alert_unless_trusted() {
        let v = decide("tripwire-quota-increase.json", &[]);
        assert!(
            matches!(&v, Verdict::Alert { urgent: true, why } if why.contains("an increase of ec2 quota L-417A185B to 512")),
            "{v:?}"
        );
        let v = decide(
            "tripwire-quota-increase.json",
            &[(
                "TRIPWIRE_TRUSTED_PRINCIPALS",
                "arn:aws:iam::123456789012:user/ci-deployer",
            )],
        );
        assert!(matches!(v, Verdict::Quiet(_)));
    }

    /// A compute sample's decision with these facts and settings.
    fn decide_made(name: &str, facts: &ComputeFacts, vars: &[(&str, &str)]) -> Verdict {
        let c = call(name);
        let CallKind::Compute(cc) = &c.kind else {
            panic!("{name} is not a compute call")
        };
        decide_compute(&c, cc, facts, &known(vars).ctx())
    }

    #[test]
    fn what_counts_as_growing_and_what_an_alert_says_is_unknown() {
        let quiet = |v: &Verdict| matches!(v, Verdict::Quiet(w) if w.contains("sets no count"));
        let cpu = |units: i64| ComputeFacts {
            cpu_units: Some(units),
            ..Default::default()
        };
        let decide_with = |name: &str, edit: &dyn Fn(&mut ComputeCall), facts: &ComputeFacts| {
            let mut c = call(name);
            let CallKind::Compute(cc) = &mut c.kind else {
                panic!("{name}")
            };
            edit(cc);
            let cc = cc.clone();
            decide_compute(&c, &cc, facts, &known(&[]).ctx())
        };
        // An update grows only what it counts above zero, or retypes.
        let v = decide_with(
            "tripwire-update-service.json",
            &|c| c.count = Some(0),
            &cpu(8192),
        );
        assert!(quiet(&v), "{v:?}");
        let v = decide_with(
            "tripwire-update-service.json",
            &|c| c.count = Some(1),
            &cpu(8192),
        );
        assert!(matches!(v, Verdict::Halt { .. }), "{v:?}");
        let v = decide_with(
            "tripwire-update-auto-scaling-group.json",
            &|c| {
                c.count = Some(0);
                c.types = vec!["p3.2xlarge".into()];
                c.template_changed = false;
            },
            &ComputeFacts::default(),
        );
        assert!(matches!(v, Verdict::Halt { .. }), "{v:?}");
        // What is made is judged whatever its count: a costly service made
        // with no tasks is stopped before anything scales it.
        let v = decide_with(
            "tripwire-create-service.json",
            &|c| c.count = Some(0),
            &cpu(8192),
        );
        assert!(matches!(v, Verdict::Halt { .. }), "{v:?}");
        // A cheap call is reported with what could not be told.
        let unknown = |v: &Verdict| match v {
            Verdict::Alert { why, .. } => why.clone(),
            other => panic!("{other:?}"),
        };
        let v = decide_with(
            "tripwire-create-service.json",
            &|c| c.cpu_units = None,
            &ComputeFacts::default(),
        );
        assert!(
            unknown(&v).ends_with("(its task size is unknown), so nothing was stopped"),
            "{v:?}"
        );
        let v = decide_with(
            "tripwire-create-service.json",
            &|c| c.cpu_units = None,
            &cpu(1024),
        );
        assert!(
            unknown(&v).ends_with("in an allowed region, so nothing was stopped"),
            "{v:?}"
        );
        let v = decide_with(
            "tripwire-create-auto-scaling-group.json",
            &|c| c.types.clear(),
            &ComputeFacts {
                types: vec!["t3.micro".into()],
                ..Default::default()
            },
        );
        assert!(
            unknown(&v).ends_with("in an allowed region, so nothing was stopped"),
            "{v:?}"
        );
    }

    #[test]
    fn requests_are_remembered_only_for_an_untrusted_principals_own_successful_call() {
        let k = known(&[]);
        let c = call("tripwire-spot-request.json");
        assert_eq!(requests_to_mark(&c, &k.ctx()), ["sir-4f2a8b1c"]);
        let mut failed = c.clone();
        failed.error = Some(CallError {
            code: "Client.UnauthorizedOperation".into(),
            message: None,
        });
        assert!(requests_to_mark(&failed, &k.ctx()).is_empty());
        let mut by_service = c.clone();
        by_service.principal.kind = "AWSService".into();
        by_service.principal.invoked_by = Some("ec2fleet.amazonaws.com".into());
        assert!(requests_to_mark(&by_service, &k.ctx()).is_empty());
        let trusted = known(&[("TRIPWIRE_TRUSTED_PRINCIPALS", "arn:aws:iam::*:user/ci-*")]);
        assert!(requests_to_mark(&c, &trusted.ctx()).is_empty());
        // A session of a service-linked role is never quarantined, even
        // when the event does not say which service invoked it.
        let mut launch = call("tripwire-autoscaling-launch.json");
        launch.principal.invoked_by = None;
        let on = known(&[("TRIPWIRE_QUARANTINE", "on")]);
        assert!(matches!(
            quarantine_target(&launch, &on.ctx()),
            QuarantineTarget::Impossible(w) if w.contains("has no IAM user or role")
        ));
    }

    #[test]
    fn a_costly_request_with_nothing_running_yet_is_urgent() {
        // RunInstances of a costly type whose answer names no instance yet,
        // and no request to follow: nothing to stop, so say so, URGENT.
        let mut c = call("tripwire-run-instances.json");
        if let CallKind::Launch(l) = &mut c.kind {
            l.tags.retain(|(k, _)| k != EXEMPT);
        }
        let v = decide_call(&c, &[], &known(&[]).ctx());
        assert!(
            matches!(&v, Verdict::Alert { urgent: true, why } if why.starts_with("nothing is running yet, so there is nothing to stop; cancel the request (")),
            "{v:?}"
        );
    }

    #[test]
    fn each_of_the_guards_keys_says_what_its_write_lets_the_writer_do() {
        let cases = [
            ("cost-guard-exempt", false, "the budget sweep now skips it"),
            (
                "Cost-Guard-Exempt",
                true,
                "the budget sweep may now stop it",
            ),
            ("cost-guard:stopped-at", false, "resume would start it"),
            (
                "cost-guard:stopped-by",
                true,
                "resume no longer sees that cost-guard stopped it",
            ),
            ("cost-guard:saved", false, "resume refuses this one"),
            (
                "cost-guard:saved",
                true,
                "resume no longer knows what the resource was",
            ),
            ("cost-guard:restops", false, "cost-guard reads it to decide"),
        ];
        for (key, removes, says) in cases {
            let got = tag_consequence(key, removes, EXEMPT);
            assert!(got.contains(says), "{key} {removes}: {got}");
        }
    }

    #[test]
    fn an_untrusted_principals_costly_compute_is_stopped_and_cheap_compute_alerted() {
        let none = ComputeFacts::default();
        let types = |t: &str| ComputeFacts {
            types: vec![t.into()],
            ..Default::default()
        };
        let cpu = |units: i64| ComputeFacts {
            cpu_units: Some(units),
            ..Default::default()
        };
        let halts =
            |v: &Verdict, why: &str| matches!(v, Verdict::Halt { why: w } if w.contains(why));
        // A group: by what its launch template launches.
        let v = decide_made(
            "tripwire-create-auto-scaling-group.json",
            &types("p3.2xlarge"),
            &[],
        );
        assert!(halts(&v, "p3.2xlarge is a costly type"), "{v:?}");
        let v = decide_made(
            "tripwire-create-auto-scaling-group.json",
            &types("t3.micro"),
            &[],
        );
        assert!(
            matches!(&v, Verdict::Alert { urgent: true, why } if why.contains("nothing was stopped")),
            "{v:?}"
        );
        let v = decide_made("tripwire-create-auto-scaling-group.json", &none, &[]);
        assert!(
            matches!(&v, Verdict::Alert { why, .. } if why.contains("its instance types are unknown")),
            "{v:?}"
        );
        // Any size outside the allowed regions.
        let v = decide_made(
            "tripwire-create-auto-scaling-group.json",
            &types("t3.micro"),
            &[("TRIPWIRE_ALLOWED_REGIONS", "eu-west-1")],
        );
        assert!(
            halts(&v, "us-east-1 is not in TRIPWIRE_ALLOWED_REGIONS"),
            "{v:?}"
        );
        // ECS: by task size, 4 vCPU allowed by default.
        let v = decide_made("tripwire-create-service.json", &cpu(4096), &[]);
        assert!(matches!(v, Verdict::Alert { .. }), "{v:?}");
        let v = decide_made("tripwire-create-service.json", &cpu(4097), &[]);
        assert!(halts(&v, "above TRIPWIRE_ECS_MAX_VCPU=4"), "{v:?}");
        let v = decide_made("tripwire-run-task.json", &none, &[]);
        assert!(halts(&v, "16 vCPU each"), "{v:?}");
        // SageMaker types judged without their ml. prefix; a job is ended.
        let v = decide_made("tripwire-create-notebook.json", &none, &[]);
        assert!(
            halts(&v, "ml.p3.2xlarge is a costly type (matches p*"),
            "{v:?}"
        );
        let v = decide_made("tripwire-create-training-job.json", &none, &[]);
        assert!(halts(&v, "ml.p4d.24xlarge"), "{v:?}");
        // An endpoint cannot be stopped: urgent, with why.
        let v = decide_made(
            "tripwire-create-endpoint.json",
            &types("ml.g5.12xlarge"),
            &[],
        );
        assert!(
            matches!(&v, Verdict::Alert { urgent: true, why } if why.contains("cannot be stopped, only deleted")),
            "{v:?}"
        );
        // Redshift: any cluster an untrusted principal makes; paused once it can be.
        let v = decide_made("tripwire-create-redshift-cluster.json", &none, &[]);
        assert!(
            halts(&v, "Redshift cluster made by a principal you do not trust"),
            "{v:?}"
        );
        let creating = ComputeFacts {
            pending: Some("creating".into()),
            ..Default::default()
        };
        let v = decide_made("tripwire-create-redshift-cluster.json", &creating, &[]);
        assert!(
            matches!(&v, Verdict::Wait { why } if why.contains("it is creating")),
            "{v:?}"
        );
        // Alert mode stops nothing.
        let v = decide_made(
            "tripwire-create-notebook.json",
            &none,
            &[("TRIPWIRE_ACTION", "alert")],
        );
        assert!(
            matches!(&v, Verdict::Alert { why, .. } if why.starts_with("TRIPWIRE_ACTION=alert")),
            "{v:?}"
        );
    }

    #[test]
    fn trusted_failed_and_shrinking_compute_calls_stop_nothing() {
        let costly = ComputeFacts {
            types: vec!["p3.2xlarge".into()],
            ..Default::default()
        };
        let trusted = [(
            "TRIPWIRE_TRUSTED_PRINCIPALS",
            "arn:aws:iam::123456789012:user/ci-deployer",
        )];
        let v = decide_made("tripwire-create-auto-scaling-group.json", &costly, &trusted);
        assert!(matches!(v, Verdict::Quiet(_)), "{v:?}");
        // The root user is never trusted.
        let mut c = call("tripwire-create-notebook.json");
        c.principal = call("tripwire-root-launch.json").principal;
        let CallKind::Compute(cc) = &c.kind else {
            panic!()
        };
        let k = known(&[(
            "TRIPWIRE_TRUSTED_PRINCIPALS",
            "arn:aws:iam::123456789012:root",
        )]);
        assert!(matches!(
            decide_compute(&c, cc, &ComputeFacts::default(), &k.ctx()),
            Verdict::Halt { .. }
        ));
        // A refused call made nothing.
        let mut c = call("tripwire-create-notebook.json");
        c.error = Some(CallError {
            code: "AccessDenied".into(),
            message: None,
        });
        let CallKind::Compute(cc) = &c.kind else {
            panic!()
        };
        let v = decide_compute(&c, cc, &costly, &known(&[]).ctx());
        assert!(
            matches!(&v, Verdict::Alert { urgent: false, why } if why.contains("AWS refused it")),
            "{v:?}"
        );
        // An update that sets no count grows nothing.
        let mut c = call("tripwire-update-service.json");
        let CallKind::Compute(cc) = &mut c.kind else {
            panic!()
        };
        cc.count = None;
        let cc = cc.clone();
        let v = decide_compute(
            &c,
            &cc,
            &ComputeFacts {
                cpu_units: Some(65536),
                ..Default::default()
            },
            &known(&[]).ctx(),
        );
        assert!(matches!(v, Verdict::Quiet(_)), "{v:?}");
    }

    #[test]
    fn a_service_acting_for_the_account_and_a_new_launch_template() {
        let costly = ComputeFacts {
            types: vec!["p3.2xlarge".into()],
            cpu_units: Some(65536),
            ..Default::default()
        };
        // Application Auto Scaling scaling a service out: the owner's own set-up.
        let mut c = call("tripwire-update-service.json");
        c.principal = Principal {
            kind: "AWSService".into(),
            invoked_by: Some("ecs.application-autoscaling.amazonaws.com".into()),
            ..Default::default()
        };
        let CallKind::Compute(cc) = &c.kind else {
            panic!()
        };
        let v = decide_compute(&c, cc, &costly, &known(&[]).ctx());
        assert!(
            matches!(&v, Verdict::Quiet(why) if why.contains("on the account's behalf")),
            "{v:?}"
        );
        // A session of a member.yaml role whose ids could not be read: alert, never act.
        let mut c = call("tripwire-create-notebook.json");
        session(&mut c, OWN, "cost-guard-member", "AROAUNKNOWN000000001");
        let CallKind::Compute(cc) = &c.kind else {
            panic!()
        };
        let mut k = known(&[]);
        k.roles.names = vec!["cost-guard-member".into()];
        k.roles.unknown = Some("AccessDenied".into());
        let v = decide_compute(&c, cc, &costly, &k.ctx());
        assert!(
            matches!(&v, Verdict::Alert { urgent: true, why } if why.contains("cannot tell")),
            "{v:?}"
        );
        // An update that only swaps the group's launch template can launch anything.
        let mut c = call("tripwire-update-auto-scaling-group.json");
        let CallKind::Compute(cc) = &mut c.kind else {
            panic!()
        };
        cc.count = None;
        cc.template_changed = true;
        let cc = cc.clone();
        let v = decide_compute(&c, &cc, &costly, &known(&[]).ctx());
        assert!(matches!(v, Verdict::Halt { .. }), "{v:?}");
    }

    #[test]
    fn writes_of_the_guards_tags_by_an_untrusted_principal_are_urgent() {
        let k = known(&[]);
        let v = decide("tripwire-exempt-tag-added.json", &[]);
        assert!(
            matches!(&v, Verdict::Alert { urgent: true, why } if why.contains("cost-guard-exempt=true (the budget sweep now skips it)") && why.contains("i-0d1e2f3a4b5c60009")),
            "{v:?}"
        );
        let v = decide("tripwire-stamp-removed.json", &[]);
        assert!(
            matches!(&v, Verdict::Alert { urgent: true, why } if why.contains("removed cost-guard:stopped-at") && why.contains("analytics-db")),
            "{v:?}"
        );
        // The guard's own roles write and remove them all the time.
        let mut c = call("tripwire-exempt-tag-added.json");
        session(
            &mut c,
            OWN,
            "cost-guard-SweepRole-X",
            "AROASWEEPROLE0000001",
        );
        assert!(matches!(decide_call(&c, &[], &k.ctx()), Verdict::Quiet(_)));
        // IAM takes the exempt key in any case, so a write of it in another
        // case hides a resource from the sweep just as well.
        for spelt in ["COST-GUARD-EXEMPT", "Cost-Guard-Exempt"] {
            let mut c = call("tripwire-exempt-tag-added.json");
            if let CallKind::Tagging(w) = &mut c.kind {
                w.tags = vec![(spelt.into(), Some("true".into()))];
            }
            let v = decide_call(&c, &[], &k.ctx());
            assert!(
                matches!(&v, Verdict::Alert { urgent: true, why } if why.contains(&format!("{spelt}=true (the budget sweep now skips it)"))),
                "{spelt}: {v:?}"
            );
        }
        // Other keys are none of the guard's business; a refused write wrote nothing.
        let mut other = call("tripwire-exempt-tag-added.json");
        if let CallKind::Tagging(w) = &mut other.kind {
            w.tags = vec![("Name".into(), Some("web".into()))];
        }
        assert!(matches!(
            decide_call(&other, &[], &k.ctx()),
            Verdict::Quiet(_)
        ));
        let mut refused = call("tripwire-exempt-tag-added.json");
        refused.error = Some(CallError {
            code: "Client.UnauthorizedOperation".into(),
            message: None,
        });
        assert!(matches!(
            decide_call(&refused, &[], &k.ctx()),
            Verdict::Quiet(_)
        ));
        // Removing every tag: reported, not urgent.
        let mut all = call("tripwire-exempt-tag-added.json");
        if let CallKind::Tagging(w) = &mut all.kind {
            w.removes = true;
            w.tags.clear();
        }
        assert!(matches!(
            decide_call(&all, &[], &k.ctx()),
            Verdict::Alert { urgent: false, .. }
        ));
    }

    #[test]
    fn enabling_a_region_alerts_urgently_unless_trusted() {
        let v = decide("tripwire-enable-region.json", &[]);
        assert!(
            matches!(&v, Verdict::Alert { urgent: true, why } if why.contains("enabled ap-east-1")),
            "{v:?}"
        );
        let v = decide(
            "tripwire-enable-region.json",
            &[(
                "TRIPWIRE_TRUSTED_PRINCIPALS",
                "arn:aws:iam::123456789012:user/ci-deployer",
            )],
        );
        assert!(matches!(v, Verdict::Alert { urgent: false, .. }), "{v:?}");
    }

    #[test]
    fn guardduty_findings() {
        let TripwireEvent::Finding(f) = event(&sample("guardduty-crypto-finding.json")) else {
            panic!()
        };
        let k = known(&[]);
        let described = Observed::named("i-0b1c2d3e4f5a60007", Some("g4dn.xlarge"));
        let t = targets(decide_finding(&f, Some(&described), &k.ctx()));
        assert_eq!(t[0].id, "i-0b1c2d3e4f5a60007");
        assert!(!t[0].may_unprotect, "a finding never turns protection off");
        assert!(matches!(
            decide_finding(
                &f,
                Some(&described),
                &known(&[("TRIPWIRE_GUARDDUTY_ACTION", "alert")]).ctx()
            ),
            Verdict::Alert { urgent: true, .. }
        ));
        let mut probe = f.clone();
        probe.finding_type = "Recon:EC2/PortProbeUnprotectedPort".into();
        probe.severity = Some(2.0);
        assert!(matches!(
            decide_finding(&probe, Some(&described), &k.ctx()),
            Verdict::Alert { urgent: false, .. }
        ));
        let mut impact = f.clone();
        impact.finding_type = "Impact:EC2/BitcoinDomainRequest.Reputation".into();
        assert_eq!(
            stopped(&decide_finding(&impact, Some(&described), &k.ctx())).len(),
            1
        );
        // EC2 does not know it: nothing to stop.
        assert!(matches!(
            decide_finding(&f, None, &k.ctx()),
            Verdict::Alert { urgent: true, .. }
        ));
    }

    #[test]
    fn a_finding_never_stops_an_exempt_instance_whatever_the_tags_value() {
        let TripwireEvent::Finding(f) = event(&sample("guardduty-crypto-finding.json")) else {
            panic!()
        };
        let k = known(&[]);
        for value in ["true", "yes", ""] {
            let mut exempt = Observed::named("i-0b1c2d3e4f5a60007", Some("g4dn.xlarge"));
            exempt.tags = vec![(EXEMPT.into(), value.into())];
            let v = decide_finding(&f, Some(&exempt), &k.ctx());
            assert!(
                matches!(&v, Verdict::Alert { urgent: true, why } if why.contains("carries the exempt tag cost-guard-exempt") && why.contains("aws ec2 stop-instances --region eu-west-1 --instance-ids i-0b1c2d3e4f5a60007")),
                "{value:?}: {v:?}"
            );
        }
        // The key in another case is the exempt key to IAM, so to the
        // tripwire too: the alert names the key as the instance spells it.
        let mut other = Observed::named("i-0b1c2d3e4f5a60007", Some("g4dn.xlarge"));
        other.tags = vec![("Cost-Guard-Exempt".into(), "true".into())];
        let v = decide_finding(&f, Some(&other), &k.ctx());
        assert!(
            matches!(&v, Verdict::Alert { urgent: true, why } if why.contains("carries the exempt tag Cost-Guard-Exempt,")),
            "{v:?}"
        );
        // A key that only starts like it is another key.
        other.tags = vec![("cost-guard-exempt-not".into(), "true".into())];
        assert_eq!(
            stopped(&decide_finding(&f, Some(&other), &k.ctx())).len(),
            1
        );
    }

    #[test]
    fn member_yamls_roles_are_never_quarantined_and_not_acted_on_unconfirmed() {
        let mut c = call("tripwire-run-instances.json");
        session(&mut c, OWN, "cost-guard-member", "AROAMEMBERROLE000001");
        let mut k = known(&[("TRIPWIRE_QUARANTINE", "on")]);
        k.roles = GuardRoles {
            names: vec![
                "cost-guard-member".into(),
                "cost-guard-member-tripwire".into(),
            ],
            unknown: Some("iam:GetRole failed: AccessDenied".into()),
            ..Default::default()
        };
        // Its ids could not be read: reported, neither trusted nor stopped.
        let v = decide_call(&c, &from_event(&c), &k.ctx());
        assert!(
            matches!(&v, Verdict::Alert { urgent: true, why } if why.contains("could not be read (iam:GetRole failed: AccessDenied)")),
            "{v:?}"
        );
        assert!(requests_to_mark(&c, &k.ctx()).is_empty());
        // Known, but not the id member.yaml wrote: stopped, never quarantined.
        k.roles.unknown = None;
        k.roles.resume = vec!["AROAGENUINEMEMBER001".into()];
        let Verdict::Stop { quarantine, .. } = decide_call(&c, &from_event(&c), &k.ctx()) else {
            panic!("not stopped")
        };
        assert!(
            matches!(&quarantine, Some(QuarantineTarget::Impossible(w)) if w.contains("one of cost-guard's own roles")),
            "{quarantine:?}"
        );
        // The stack's own roles, by id, in the guard's account: never either.
        session(
            &mut c,
            OWN,
            "cost-guard-SweepRole-X",
            "AROASWEEPROLE0000001",
        );
        assert!(matches!(
            quarantine_target(&c, &known(&[]).ctx()),
            QuarantineTarget::Impossible(_)
        ));
        // Another role of the account is none of those, ids read or not:
        // its costly launch is stopped and it may be quarantined.
        let mut other = call("tripwire-run-instances.json");
        session(&mut other, OWN, "admin", "AROAADMINROLE0000001");
        k.roles.unknown = Some("iam:GetRole failed: AccessDenied".into());
        assert!(matches!(
            decide_call(&other, &from_event(&other), &k.ctx()),
            Verdict::Stop { .. }
        ));
        assert!(!matches!(
            quarantine_target(&other, &k.ctx()),
            QuarantineTarget::Impossible(_)
        ));
    }

    #[test]
    fn what_the_tripwire_reads_of_an_instance_without_asking_ec2() {
        // A spot instance in a launch's answer carries its request.
        let mut v = sample("tripwire-run-instances.json");
        v["detail"]["responseElements"]["instancesSet"]["items"][0]["spotInstanceRequestId"] =
            "sir-0a1b2c3d".into();
        let seen = from_event(&call_of(&v));
        assert_eq!(seen[0].requests, ["sir-0a1b2c3d"]);
        assert!(seen[1..].iter().all(|i| i.requests.is_empty()), "{seen:?}");
        // A finding names one instance, with its type.
        let TripwireEvent::Finding(f) = event(&sample("guardduty-crypto-finding.json")) else {
            panic!()
        };
        let found = Observed::from_finding(&f);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, "i-0b1c2d3e4f5a60007");
        assert_eq!(found[0].instance_type.as_deref(), Some("g4dn.xlarge"));
        // The requests and fleets AWS's own tags name, and nothing else.
        let tags: Tags = [
            ("Name", "web"),
            (
                "aws:ec2spot:fleet-request-id",
                "sfr-8f3c2b1a-4d5e-4f6a-9b7c-0d1e2f3a4b5c",
            ),
            (
                "aws:ec2:fleet-id",
                "fleet-598fb973-87b7-422d-be4d-6b0809bfff0a",
            ),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut named = Observed::fleet_tags(&tags);
        named.sort();
        assert_eq!(
            named,
            [
                "fleet-598fb973-87b7-422d-be4d-6b0809bfff0a",
                "sfr-8f3c2b1a-4d5e-4f6a-9b7c-0d1e2f3a4b5c"
            ]
        );
    }

    #[test]
    fn a_cheap_launch_that_hides_from_the_sweep_is_urgent() {
        let k = known(&[]);
        let c = call("tripwire-run-instances.json");
        let mut cheap = from_event(&c);
        for i in &mut cheap {
            i.instance_type = Some("m5.large".into());
        }
        // The sample's request tags them cost-guard-exempt.
        let v = decide_call(&c, &cheap, &k.ctx());
        assert!(
            matches!(&v, Verdict::Alert { urgent: true, why } if why.contains("cost-guard-exempt=true (the budget sweep now skips it)")),
            "{v:?}"
        );
        let mut plain = c.clone();
        if let CallKind::Launch(l) = &mut plain.kind {
            l.tags.retain(|(k, _)| k != EXEMPT);
        }
        assert!(matches!(
            decide_call(&plain, &cheap, &k.ctx()),
            Verdict::Quiet(_)
        ));
    }
}
