//! What launch-tripwire's subscribers read: who launched what, where, what
//! cost-guard did and why, what it was costing, how to start it again and
//! what to do if it was not the owner; and for the events it only reports
//! (writes of its own tags, a newly enabled region), what changed and what to
//! do about it. Pure.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::domain::money::usd;
use crate::domain::outcome::Stamp;
use crate::domain::prices::hourly_usd;
use crate::domain::render::{plural, subject_line, Message};
use crate::domain::shell::{json_object, word};
use crate::domain::tags::{STOPPED_AT_TAG, STOPPED_BY_TAG};
use crate::domain::trigger::compute::{ComputeCall, Created};
use crate::domain::trigger::excerpt;
use crate::domain::trigger::launch::{ApiCall, CallKind, Finding, FleetLaunch, TagWrite};
use crate::domain::tripwire::{Halted, Observed, Quarantine, StopOutcome, Verdict};

/// What the tripwire was given.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Event<'a> {
    Call(&'a ApiCall),
    Finding(&'a Finding),
    FleetLaunch(&'a FleetLaunch),
}

impl Event<'_> {
    fn region(&self) -> &str {
        match self {
            Event::Call(c) => &c.region,
            Event::Finding(f) => &f.region,
            Event::FleetLaunch(l) => &l.region,
        }
    }
}

/// Where the alert comes from and what its commands need.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Alerting<'a> {
    /// The member account the event happened in; `None` for the guard's own.
    pub member: Option<&'a str>,
    /// The guard's own account, when known.
    pub guard_account: Option<&'a str>,
    /// The region the guard runs in, where forwarders send events.
    pub home_region: &'a str,
    /// The resume function, for the one-step restart.
    pub resume_function: Option<&'a str>,
    /// `EXEMPT_TAG_KEY`.
    pub exempt_key: &'a str,
}

/// `3 x p3.2xlarge`, `2 x g5.12xlarge, 1 x p3.2xlarge`: what the call
/// launched, or what it asked for when nothing is known to run.
pub(crate) fn launched(call: &ApiCall, observed: &[Observed]) -> String {
    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    for i in observed {
        *by_type
            .entry(i.instance_type.as_deref().unwrap_or("unknown type"))
            .or_default() += 1;
    }
    if by_type.is_empty() {
        let Some(l) = call.launch() else {
            return "nothing".into();
        };
        return match l.requested_types.as_slice() {
            [] => plural(l.requested_count as usize, "instance", "instances"),
            [t] => format!("{} x {t}", l.requested_count),
            types => format!("{} instances of {}", l.requested_count, types.join(" or ")),
        };
    }
    by_type
        .iter()
        .map(|(t, n)| format!("{n} x {t}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The subject line, before URGENT and the cut to SNS's length.
fn subject(
    event: Event<'_>,
    observed: &[Observed],
    verdict: &Verdict,
    outcome: Option<&StopOutcome>,
    region: &str,
) -> String {
    let stopped = outcome.map(|o| o.stopped.as_slice()).unwrap_or_default();
    let dry = outcome.is_some_and(|o| o.dry_run);
    let stopping = matches!(verdict, Verdict::Stop { .. });
    match (event, stopping) {
        (Event::Call(c), true) => {
            let what = launched(c, &observed_of(observed, stopped));
            let verb = if c.event_name == "StartInstances" {
                "started"
            } else {
                "launched"
            };
            let who = c.principal.short();
            if dry {
                format!("[dry run] cost-guard would stop {what} {verb} in {region} by {who}")
            } else if stopped.is_empty() {
                format!(
                    "cost-guard could NOT stop {} {verb} in {region} by {who}",
                    launched(c, observed)
                )
            } else {
                format!("cost-guard stopped {what} {verb} in {region} by {who}")
            }
        }
        (Event::Finding(f), true) => {
            let id = f.instance_id.as_deref().unwrap_or("an instance");
            let verb = if dry {
                "[dry run] cost-guard would stop"
            } else if stopped.is_empty() {
                "cost-guard could NOT stop"
            } else {
                "cost-guard stopped"
            };
            format!("{verb} {id} in {region}: {}", f.finding_type)
        }
        (Event::FleetLaunch(l), true) => {
            let verb = if dry {
                "[dry run] cost-guard would stop"
            } else if stopped.is_empty() {
                "cost-guard could NOT stop"
            } else {
                "cost-guard stopped"
            };
            format!(
                "{verb} {} launched in {region} for {} {}",
                l.instance_id,
                l.kind.label(),
                l.request
            )
        }
        (Event::Call(c), false) => {
            let who = c.principal.short();
            match (&c.kind, &c.error) {
                (CallKind::FirstMove(_), _) => format!("{} by {who} in {region}", c.action()),
                (CallKind::Compute(cc), _) => {
                    format!("{} {} made in {region} by {who}", cc.what.noun(), cc.name)
                }
                (CallKind::Tagging(w), _) => {
                    let keys: Vec<&str> = w.tags.iter().map(|(k, _)| k.as_str()).collect();
                    let keys = if keys.is_empty() {
                        "every tag".to_string()
                    } else {
                        keys.join(", ")
                    };
                    format!(
                        "cost-guard: {who} {} {keys} in {region}",
                        if w.removes { "removed" } else { "wrote" }
                    )
                }
                (CallKind::EnableRegion(r), _) => format!(
                    "cost-guard: {who} enabled region {}",
                    r.region.as_deref().unwrap_or("(unnamed)")
                ),
                (_, Some(e)) if e.is_dry_run() => {
                    format!("dry-run probe of {} in {region} by {who}", launched(c, &[]))
                }
                (_, Some(_)) => format!(
                    "cost-guard: a launch of {} in {region} was refused ({who})",
                    launched(c, &[])
                ),
                _ if matches!(verdict, Verdict::Wait { .. }) => format!(
                    "cost-guard: {} asked for in {region} by {who}, nothing running yet",
                    launched(c, &[])
                ),
                _ => format!(
                    "cost-guard: {} launched in {region} by {}, not stopped",
                    launched(c, observed),
                    c.principal.service().unwrap_or(who)
                ),
            }
        }
        (Event::Finding(f), false) => format!(
            "GuardDuty {} on {} in {region}",
            f.finding_type,
            f.instance_id.as_deref().unwrap_or("an instance")
        ),
        (Event::FleetLaunch(l), false) => format!(
            "cost-guard: {} launched {} in {region}, not stopped",
            l.request, l.instance_id
        ),
    }
}

/// The alert, or `None` for a verdict that sends nothing.
pub(crate) fn render(
    event: Event<'_>,
    observed: &[Observed],
    verdict: &Verdict,
    outcome: Option<&StopOutcome>,
    stamp: &Stamp,
    at: &Alerting<'_>,
) -> Option<Message> {
    let (urgent, why) = match verdict {
        Verdict::Quiet(_) | Verdict::Retry(_) => return None,
        Verdict::Alert { urgent, why } => (*urgent, Some(why.as_str())),
        Verdict::Wait { why, .. } => (true, Some(why.as_str())),
        Verdict::Stop { .. } => (true, None),
        // A compute call's stop is rendered by `render_compute`; here, as
        // an alert.
        Verdict::Halt { why } => (true, Some(why.as_str())),
    };
    let region = event.region();
    let account = at.member;
    // Where it happened, as the report says it and, shorter (SNS allows
    // 100 characters), the subject.
    let (place, short) = match account {
        Some(a) => (
            format!("{region} of account {a}"),
            format!("{region} ({a})"),
        ),
        None => (region.to_string(), region.to_string()),
    };
    let stopped = outcome.map(|o| o.stopped.as_slice()).unwrap_or_default();
    let dry = outcome.is_some_and(|o| o.dry_run);
    let subject = subject(event, observed, verdict, outcome, &short);
    let subject = if urgent {
        format!("URGENT: {subject}")
    } else {
        subject
    };

    let mut b = String::new();
    match event {
        Event::Call(c) => call_section(&mut b, c, account, observed),
        Event::Finding(f) => finding_section(&mut b, f),
        Event::FleetLaunch(l) => fleet_section(&mut b, l, account),
    }
    b.push_str("\nWHAT COST-GUARD DID\n");
    match (verdict, outcome) {
        (Verdict::Stop { targets, .. }, Some(o)) => {
            let verb = if dry { "Would stop" } else { "Stopped" };
            if !o.stopped.is_empty() {
                let _ = writeln!(
                    b,
                    "{verb} {} in {place}:",
                    plural(o.stopped.len(), "instance", "instances")
                );
                for t in targets.iter().filter(|t| o.stopped.contains(&t.id)) {
                    let _ = writeln!(
                        b,
                        "  {}  {}  because {}",
                        t.id,
                        t.instance_type.as_deref().unwrap_or("unknown type"),
                        t.why
                    );
                }
            }
            if !o.protection_removed.is_empty() {
                let _ = writeln!(
                    b,
                    "Stop protection (disableApiStop) was on and was turned off, on these alone: {}",
                    o.protection_removed.join(", ")
                );
            }
            for id in &o.protected {
                let why = targets
                    .iter()
                    .find(|t| &t.id == id)
                    .map(|t| t.why.as_str())
                    .unwrap_or("it was judged suspicious");
                let _ = writeln!(
                    b,
                    "NOT stopped: {id} has stop protection (disableApiStop) on, and cost-guard turns it off only on what the event itself launched or what carries its stamp ({why}). If it must stop, do it yourself:\n  aws ec2 modify-instance-attribute --region {region} --instance-id {id} --no-disable-api-stop && aws ec2 stop-instances --region {region} --instance-ids {id}"
                );
            }
            for (id, request) in &o.one_time_spot {
                let _ = writeln!(
                    b,
                    "NOT stopped: {id} is a one-time spot instance (request {request}). EC2 cannot stop it, only terminate it, and cost-guard terminates nothing. To end it, cancel the request and terminate the instance yourself:\n  aws ec2 cancel-spot-instance-requests --region {region} --spot-instance-request-ids {request} && aws ec2 terminate-instances --region {region} --instance-ids {id}"
                );
            }
            for (id, why) in &o.skipped {
                let _ = writeln!(b, "Not stopped: {id}: {why}");
            }
            for (id, err) in &o.failed {
                let _ = writeln!(
                    b,
                    "FAILED to stop {id}: {err}. The invocation fails so that Lambda retries."
                );
            }
            if !dry && !o.stopped.is_empty() {
                match &o.unstamped {
                    None => {
                        let _ = writeln!(
                            b,
                            "They are tagged {STOPPED_AT_TAG}={} and {STOPPED_BY_TAG}={}. The exempt tag does not protect a launch by an untrusted principal: whoever launches can set any tag.",
                            stamp.at, stamp.by
                        );
                    }
                    Some(e) => {
                        let _ = writeln!(b, "Stopped but NOT stamped ({e}): only this message records that cost-guard stopped them.");
                    }
                }
            }
            marks_section(&mut b, o);
            match &o.quarantine {
                Some(Quarantine::Attached(who)) => {
                    let (kind, name) = who.split_once('/').unwrap_or(("user", who));
                    let principal = match event {
                        Event::Call(c) => c.principal.arn.as_deref(),
                        _ => None,
                    };
                    let _ = writeln!(
                        b,
                        "Quarantined: AWS's managed policy {} is attached to IAM {kind} {name}; it denies launching, creating users and keys, and more.\n  When the credentials are safe again, detach it:\n  aws iam detach-{kind}-policy --{kind}-name {name} --policy-arn {}",
                        crate::domain::tripwire::QUARANTINE_POLICY,
                        crate::domain::tripwire::quarantine_policy_arn(principal)
                    );
                }
                Some(Quarantine::NotPossible(why)) => {
                    let _ = writeln!(b, "Not quarantined: {why}.");
                }
                Some(Quarantine::Failed { target, error }) => {
                    let _ = writeln!(b, "Quarantine of {target} FAILED: {error}.");
                }
                None => {}
            }
        }
        (Verdict::Wait { .. }, o) => {
            let _ = writeln!(
                b,
                "Nothing was stopped yet: {}.",
                why.unwrap_or("see above")
            );
            b.push_str("The invocation fails on purpose, so that Lambda delivers the event again (twice, within about three minutes) and cost-guard looks again; if it still finds nothing, the event ends in the failure queue, whose alarm tells you.\n");
            if let Some(o) = o {
                marks_section(&mut b, o);
            }
        }
        _ => {
            let _ = writeln!(b, "Nothing was stopped: {}.", why.unwrap_or("see above"));
            // The invocation fails for it: the alert says why.
            if let Some(e) = outcome.and_then(|o| o.unmarked.as_ref()) {
                not_remembered(&mut b, e);
            }
        }
    }

    match event {
        Event::Call(c) => match &c.kind {
            CallKind::Tagging(w) => tag_advice(&mut b, c, w, account, at.exempt_key),
            CallKind::EnableRegion(r) => {
                let enabled = r.region.as_deref().unwrap_or("REGION");
                forwarder_advice(&mut b, enabled, r.account.as_deref().or(account), at);
            }
            _ => {}
        },
        Event::Finding(_) | Event::FleetLaunch(_) => {}
    }
    cost_section(&mut b, observed, outcome);
    if !dry && !stopped.is_empty() {
        restart_section(&mut b, region, account, stopped, stamp, at.resume_function);
    }
    not_you_section(&mut b, event);
    Some(Message {
        subject: subject_line(&subject),
        body: b,
    })
}

/// The alert about a compute call (a group, a service, tasks, a notebook, a
/// job, an endpoint, a Redshift cluster), or `None` for a verdict that
/// sends nothing. `halted` is what the stop did, for a stop.
pub(crate) fn render_compute(
    c: &ApiCall,
    cc: &ComputeCall,
    verdict: &Verdict,
    halted: Option<&Halted>,
    stamp: &Stamp,
    at: &Alerting<'_>,
) -> Option<Message> {
    let region = c.region.as_str();
    let who = c.principal.short();
    let place = match at.member {
        Some(a) => format!("{region} ({a})"),
        None => region.to_string(),
    };
    let thing = format!("{} {}", cc.what.noun(), cc.name);
    let subject = match (verdict, halted) {
        (Verdict::Quiet(_) | Verdict::Retry(_), _) => return None,
        (Verdict::Halt { .. }, Some(h)) if h.dry_run => {
            format!("[dry run] cost-guard would stop {thing} made in {place} by {who}")
        }
        (Verdict::Halt { .. }, Some(h)) if h.failed.is_none() => {
            format!("cost-guard stopped {thing} made in {place} by {who}")
        }
        (Verdict::Halt { .. }, _) => {
            format!("cost-guard could NOT stop {thing} made in {place} by {who}")
        }
        (Verdict::Wait { .. }, _) => {
            format!("cost-guard will stop {thing} made in {place} by {who}")
        }
        _ => format!("{thing} made in {place} by {who}"),
    };
    let urgent = !matches!(verdict, Verdict::Alert { urgent: false, .. });
    let mut b = String::new();
    call_section(&mut b, c, at.member, &[]);
    b.push_str("\nWHAT COST-GUARD DID\n");
    match (verdict, halted) {
        (Verdict::Halt { why }, Some(h)) => {
            let verb = if h.dry_run { "Would stop" } else { "Stopped" };
            if !h.done.is_empty() {
                let _ = writeln!(
                    b,
                    "{verb} {} in {place}: {}.",
                    cc.describe(),
                    h.done.join("; ")
                );
            }
            if let Some(failed) = &h.failed {
                let _ = writeln!(b, "Could NOT stop all of it: {failed}.");
            }
            let _ = writeln!(b, "Because {why}. The exempt tag does not protect what a principal you do not trust made: it chose the tags.");
            if !cc.what.resumable() {
                let _ = writeln!(b, "A {} cannot be paused, only ended: it is gone, and must be started anew if it was yours.", cc.what.noun());
            }
        }
        (Verdict::Halt { why }, None)
        | (Verdict::Wait { why }, _)
        | (Verdict::Alert { why, .. }, _) => {
            let _ = writeln!(b, "{why}.");
        }
        _ => {}
    }
    if cc.what == Created::Endpoint {
        let _ = writeln!(
            b,
            "Delete it if nobody needs it (its configuration and model stay, so create-endpoint brings it back):\n  aws sagemaker delete-endpoint --region {region} --endpoint-name {}",
            word(&cc.name)
        );
    }
    let stopped = halted.is_some_and(|h| !h.dry_run && h.stamped);
    if stopped && cc.what.resumable() {
        b.push_str("\nHOW TO START IT AGAIN\n");
        if let Some(a) = at.member {
            let _ = writeln!(b, "In account {a}.");
        }
        match at.resume_function {
            Some(function) => {
                let _ = writeln!(
                    b,
                    "If it was yours, in one step (resume restores what was saved; the tripwire trusts it):\n  aws lambda invoke --function-name {function} --cli-binary-format raw-in-base64-out --payload '{{\"stopped_by\": \"{}\", \"since\": \"{}\"}}' /dev/stdout",
                    stamp.by, stamp.at
                );
            }
            None => {
                let _ = writeln!(
                    b,
                    "If it was yours: cost-guard resume --stopped-by {} --since {} --yes",
                    stamp.by, stamp.at
                );
            }
        }
    }
    not_you_section(&mut b, Event::Call(c));
    let subject = if urgent {
        format!("URGENT: {subject}")
    } else {
        subject
    };
    Some(Message {
        subject: subject_line(&subject),
        body: b,
    })
}

/// What became of the marks on an untrusted principal's spot requests and fleets.
fn marks_section(b: &mut String, o: &StopOutcome) {
    if !o.marked.is_empty() {
        let _ = writeln!(
            b,
            "Remembered {} in cost-guard's own table: whatever {} later, of a costly type or out of region, is stopped too. Cancel {} yourself; cost-guard cancels nothing:\n  aws ec2 cancel-spot-instance-requests / cancel-spot-fleet-requests / delete-fleets",
            o.marked.join(", "),
            if o.marked.len() == 1 { "it launches" } else { "they launch" },
            if o.marked.len() == 1 { "it" } else { "them" },
        );
    }
    if let Some(e) = &o.unmarked {
        not_remembered(b, e);
    }
}

fn not_remembered(b: &mut String, e: &str) {
    let _ = writeln!(
        b,
        "Could NOT remember the requests ({e}): what they launch later would be reported, not stopped, so the invocation fails and Lambda tries again."
    );
}

/// How to put cost-guard's tags right after a write by someone not trusted,
/// and how to make IAM refuse such writes.
fn tag_advice(b: &mut String, c: &ApiCall, w: &TagWrite, account: Option<&str>, exempt: &str) {
    b.push_str("\nWHAT TO DO\n");
    let region = &c.region;
    if let Some(a) = account {
        let _ = writeln!(b, "  # in account {a}, with that account's credentials");
    }
    if !w.removes && !w.tags.is_empty() {
        let keys: Vec<&str> = w
            .tags
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| {
                crate::domain::inventory::is_exempt_key(k, exempt)
                    || k.starts_with(crate::domain::tags::GUARD_TAG_PREFIX)
            })
            .collect();
        b.push_str("If it was not you, take the tags off again:\n");
        for r in &w.resources {
            if w.inexact.contains(r) {
                let _ = writeln!(
                    b,
                    "  # {}: its name is shown cut or cleaned, so no command names it; take the tags off in the console (the event in CloudTrail has the name)",
                    word(r)
                );
            } else {
                let _ = writeln!(b, "  {}", untag_command(&c.event_source, region, r, &keys));
            }
        }
    } else {
        b.push_str("If it was not you, look at what the resources are and whether they run: a stamp removed lets a hijacker restart what cost-guard stopped without it being stopped again for the stamp.\n");
    }
    b.push_str("To make IAM refuse these writes to everyone but cost-guard, deny them with an aws:TagKeys condition in a permissions boundary or a service control policy (see \"Protecting cost-guard's tags\" in docs/tripwire.md).\n");
}

/// The command that removes `keys` from `resource`, in the words of the
/// service that tagged it.
fn untag_command(event_source: &str, region: &str, resource: &str, keys: &[&str]) -> String {
    let r = word(resource);
    let plain = || keys.iter().map(|k| word(k)).collect::<Vec<_>>().join(" ");
    match event_source {
        "rds.amazonaws.com" => format!(
            "aws rds remove-tags-from-resource --region {region} --resource-name {r} --tag-keys {}",
            plain()
        ),
        "autoscaling.amazonaws.com" => {
            // JSON, not the shorthand: a comma in a group's name would add
            // fields of its own, and name another group.
            let tags: Vec<String> = keys
                .iter()
                .map(|k| {
                    json_object(&[
                        ("ResourceId", resource.into()),
                        ("ResourceType", "auto-scaling-group".into()),
                        ("Key", (*k).into()),
                    ])
                })
                .collect();
            format!(
                "aws autoscaling delete-tags --region {region} --tags {}",
                crate::domain::shell::word(&format!("[{}]", tags.join(",")))
            )
        }
        "ecs.amazonaws.com" => format!(
            "aws ecs untag-resource --region {region} --resource-arn {r} --tag-keys {}",
            plain()
        ),
        "sagemaker.amazonaws.com" => format!(
            "aws sagemaker delete-tags --region {region} --resource-arn {r} --tag-keys {}",
            plain()
        ),
        "redshift.amazonaws.com" => format!(
            "aws redshift delete-tags --region {region} --resource-name {r} --tag-keys {}",
            plain()
        ),
        "eks.amazonaws.com" => format!(
            "aws eks untag-resource --region {region} --resource-arn {r} --tag-keys {}",
            plain()
        ),
        _ => {
            let tags: Vec<String> = keys.iter().map(|k| word(&format!("Key={k}"))).collect();
            format!(
                "aws ec2 delete-tags --region {region} --resources {r} --tags {}",
                tags.join(" ")
            )
        }
    }
}

/// How to deploy the forwarder in a region just enabled.
fn forwarder_advice(b: &mut String, region: &str, account: Option<&str>, at: &Alerting<'_>) {
    b.push_str("\nWHAT TO DO\n");
    let _ = writeln!(
        b,
        "Deploy the forwarder in {region}, so that launches there reach cost-guard in {}:",
        at.home_region
    );
    let target = match (account, at.guard_account) {
        (Some(a), Some(guard)) if a != guard => {
            let _ = writeln!(b, "  # in account {a}, with that account's credentials");
            format!(" ParameterKey=TargetAccount,ParameterValue={guard}")
        }
        _ => String::new(),
    };
    let _ = writeln!(
        b,
        "  aws cloudformation create-stack --region {region} --stack-name cost-guard-forwarder --template-body file://forwarder.yaml --capabilities CAPABILITY_IAM --parameters ParameterKey=TargetRegion,ParameterValue={}{target}",
        at.home_region
    );
    let _ = writeln!(
        b,
        "Or, with the forwarder StackSet: aws cloudformation create-stack-instances --stack-set-name cost-guard-forwarder --accounts {} --regions {region}",
        account.or(at.guard_account).unwrap_or("ACCOUNT")
    );
    b.push_str("If you did not enable it, disable it again (aws account disable-region) and treat the key as stolen.\n");
}

/// The observed instances among `ids`.
fn observed_of(observed: &[Observed], ids: &[String]) -> Vec<Observed> {
    observed
        .iter()
        .filter(|i| ids.contains(&i.id))
        .cloned()
        .collect()
}

fn row(b: &mut String, k: &str, v: &str) {
    let _ = writeln!(b, "{:<14}{}", format!("{k}:"), excerpt(v));
}

fn call_section(b: &mut String, c: &ApiCall, account: Option<&str>, observed: &[Observed]) {
    let p = &c.principal;
    b.push_str("WHO\n");
    row(b, "Principal", p.arn.as_deref().unwrap_or("unknown"));
    row(b, "Type", &p.kind);
    row(
        b,
        "Access key",
        p.access_key_id.as_deref().unwrap_or("unknown"),
    );
    row(b, "Source IP", c.source_ip.as_deref().unwrap_or("unknown"));
    row(
        b,
        "User agent",
        c.user_agent.as_deref().unwrap_or("unknown"),
    );
    if let Some(s) = &p.invoked_by {
        row(b, "Invoked by", s);
    }
    b.push_str("\nWHAT\n");
    row(b, "Call", &format!("{} in {}", c.action(), c.region));
    if let Some(a) = account.or(c.account.as_deref()) {
        row(b, "Account", a);
    }
    row(b, "Time", c.time.as_deref().unwrap_or("unknown"));
    let outcome = match &c.error {
        Some(e) if e.is_dry_run() => {
            "a dry run that would have succeeded (nothing launched)".to_string()
        }
        Some(e) => format!("refused: {e}"),
        None => "success".into(),
    };
    row(b, "Outcome", &outcome);
    match &c.kind {
        CallKind::FirstMove(what) => row(b, "Asked for", what),
        CallKind::Compute(cc) => row(b, "Made", &cc.describe()),
        CallKind::Tagging(w) => {
            row(b, "Resources", &w.resources.join(", "));
            let tags: Vec<String> = w
                .tags
                .iter()
                .map(|(k, v)| match v {
                    Some(v) => format!("{k}={v}"),
                    None => k.clone(),
                })
                .collect();
            let label = if w.removes { "Removed" } else { "Wrote" };
            if tags.is_empty() {
                row(b, label, "every tag");
            } else {
                row(b, label, &tags.join(", "));
            }
        }
        CallKind::EnableRegion(r) => {
            row(b, "Enabled", r.region.as_deref().unwrap_or("(unnamed)"));
            if let Some(a) = &r.account {
                row(b, "For account", a);
            }
        }
        CallKind::Launch(l) => {
            row(b, "Launched", &launched(c, observed));
            if !observed.is_empty() {
                let ids: Vec<&str> = observed.iter().map(|i| i.id.as_str()).collect();
                row(b, "Instances", &ids.join(", "));
            }
            let requests: Vec<&str> = l
                .spot_requests
                .iter()
                .chain(&l.spot_fleets)
                .chain(&l.fleets)
                .map(String::as_str)
                .collect();
            if !requests.is_empty() {
                row(b, "Requests", &requests.join(", "));
            }
        }
    }
    row(b, "Event id", c.event_id.as_deref().unwrap_or("unknown"));
    if let Some(link) = c.cloudtrail_link() {
        row(b, "CloudTrail", &link);
    }
}

fn fleet_section(b: &mut String, l: &FleetLaunch, account: Option<&str>) {
    b.push_str("WHAT EC2 LAUNCHED\n");
    row(
        b,
        "Instance",
        &format!(
            "{} ({}) in {}",
            l.instance_id,
            l.instance_type.as_deref().unwrap_or("unknown type"),
            l.region
        ),
    );
    row(b, "For", &format!("{} {}", l.kind.label(), l.request));
    if let Some(a) = account.or(l.account.as_deref()) {
        row(b, "Account", a);
    }
    row(b, "Time", l.time.as_deref().unwrap_or("unknown"));
}

fn finding_section(b: &mut String, f: &Finding) {
    b.push_str("WHAT GUARDDUTY FOUND\n");
    row(b, "Finding", &f.finding_type);
    if let Some(t) = &f.title {
        row(b, "Title", t);
    }
    row(
        b,
        "Severity",
        &f.severity
            .map(|s| format!("{s}"))
            .unwrap_or_else(|| "unknown".into()),
    );
    row(
        b,
        "Instance",
        &format!(
            "{} ({}) in {}",
            f.instance_id.as_deref().unwrap_or("unknown"),
            f.instance_type.as_deref().unwrap_or("unknown type"),
            f.region
        ),
    );
    row(b, "Account", f.account.as_deref().unwrap_or("unknown"));
    row(b, "Time", f.time.as_deref().unwrap_or("unknown"));
    row(b, "Finding id", &f.id);
}

/// What the instances cost an hour at on-demand prices, where the built-in
/// table knows their type.
fn cost_section(b: &mut String, observed: &[Observed], outcome: Option<&StopOutcome>) {
    let counted: Vec<&Observed> = match outcome {
        Some(o) if !o.stopped.is_empty() => observed
            .iter()
            .filter(|i| o.stopped.contains(&i.id))
            .collect(),
        _ => observed.iter().collect(),
    };
    if counted.is_empty() {
        return;
    }
    b.push_str("\nWHAT IT WAS COSTING\n");
    let mut total = 0.0;
    let mut unknown = Vec::new();
    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    for i in &counted {
        *by_type
            .entry(i.instance_type.as_deref().unwrap_or("unknown type"))
            .or_default() += 1;
    }
    for (t, n) in &by_type {
        match hourly_usd(t) {
            Some(p) => {
                total += p * *n as f64;
                let _ = writeln!(
                    b,
                    "  {n} x {t} at {} an hour = {} an hour",
                    usd(p),
                    usd(p * *n as f64)
                );
            }
            None => unknown.push(format!("{n} x {t}")),
        }
    }
    if total > 0.0 {
        let _ = writeln!(
            b,
            "  In all {} an hour, {} a day (on-demand Linux prices in us-east-1; other regions differ).",
            usd(total),
            usd(total * 24.0)
        );
    }
    if !unknown.is_empty() {
        let _ = writeln!(b, "  Hourly cost unknown for {}.", unknown.join(", "));
    }
}

fn restart_section(
    b: &mut String,
    region: &str,
    account: Option<&str>,
    stopped: &[String],
    stamp: &Stamp,
    resume_function: Option<&str>,
) {
    b.push_str("\nHOW TO START THEM AGAIN\n");
    if let Some(function) = resume_function {
        let _ = writeln!(
            b,
            "If the launch was yours, in one step (the tripwire trusts the resume function):\n  aws lambda invoke --function-name {function} --cli-binary-format raw-in-base64-out --payload '{{\"stopped_by\": \"{}\", \"since\": \"{}\"}}' /dev/stdout",
            stamp.by, stamp.at
        );
        b.push_str("Or with the AWS CLI, taking the stamp off first:\n");
    } else {
        b.push_str("If the launch was yours, with the AWS CLI, taking the stamp off first:\n");
    }
    if let Some(a) = account {
        let _ = writeln!(b, "  # in account {a}, with that account's credentials");
    }
    let ids = stopped.join(" ");
    let _ = writeln!(
        b,
        "  aws ec2 delete-tags --region {region} --resources {ids} --tags Key={STOPPED_AT_TAG} Key={STOPPED_BY_TAG} && aws ec2 start-instances --region {region} --instance-ids {ids}"
    );
    b.push_str("A start with the stamp still on, or of a costly type by a principal not in TRIPWIRE_TRUSTED_PRINCIPALS, is stopped again.\n");
}

fn not_you_section(b: &mut String, event: Event<'_>) {
    b.push_str("\nIF IT WAS NOT YOU\n");
    let mut n = 0;
    let mut step = |b: &mut String, text: String| {
        n += 1;
        let _ = writeln!(b, "{n}. {text}");
    };
    if let Event::Call(c) = event {
        let p = &c.principal;
        match (p.kind.as_str(), &p.name, &p.access_key_id) {
            ("Root", _, _) => {
                step(b, "Sign in as root now, change the root password and enable MFA; delete every root access key.".into());
            }
            ("IAMUser", Some(user), Some(key)) => step(
                b,
                format!("Deactivate the access key now: aws iam update-access-key --user-name {user} --access-key-id {key} --status Inactive"),
            ),
            ("AssumedRole", Some(role), _) => step(
                b,
                format!("Revoke the role's sessions: in the IAM console, role {role}, Revoke active sessions; then find who could assume it."),
            ),
            _ => step(b, "Revoke the credentials that made the call, where they were issued.".into()),
        }
    }
    step(b, "Look for IAM users, access keys and roles you did not create: aws iam list-users; aws iam list-access-keys --user-name NAME; aws iam list-roles".into());
    step(b, "Look in EVERY region for instances, spot requests, fleets and Auto Scaling groups you did not start: cost-guard plan with SELECTION=all-except-exempt.".into());
    let region = event.region();
    step(
        b,
        format!("Read what else the principal did in CloudTrail event history: https://{region}.console.aws.amazon.com/cloudtrail/home?region={region}#/events"),
    );
    step(b, "If you cannot regain control, contact AWS Support: https://support.aws.amazon.com/#/contacts/aws-account-support".into());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::TripwireConfig;
    use crate::domain::render::{check_golden, golden_case};
    use crate::domain::trigger::launch::{parse_tripwire_event, TripwireEvent};
    use crate::domain::tripwire::{decide_call, decide_finding, Context, GuardRoles, Target};

    #[test]
    fn an_untag_command_names_exactly_the_resource_that_was_tagged() {
        // A comma in a group's name must not become a field of its own.
        let line = untag_command(
            "autoscaling.amazonaws.com",
            "eu-west-1",
            "prod-web,Value=x",
            &["cost-guard-exempt"],
        );
        assert_eq!(
            line,
            r#"aws autoscaling delete-tags --region eu-west-1 --tags '[{"ResourceId":"prod-web,Value=x","ResourceType":"auto-scaling-group","Key":"cost-guard-exempt"}]'"#
        );
        let line = untag_command(
            "eks.amazonaws.com",
            "eu-west-1",
            "arn:aws:eks:x;rm",
            &["cost-guard:saved"],
        );
        assert!(
            line.ends_with("--resource-arn 'arn:aws:eks:x;rm' --tag-keys cost-guard:saved"),
            "{line}"
        );
    }

    #[test]
    fn a_name_shown_cleaned_gets_no_command() {
        // A group named "prod  web" (two spaces) is shown as "prod web",
        // which may be another group of the owner's.
        let path = format!(
            "{}/../../events/tripwire-group-exempt-tag-added.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        v["detail"]["requestParameters"]["tags"][0]["resourceId"] = "prod  web".into();
        let TripwireEvent::Call(c) = parse_tripwire_event(&v).unwrap() else {
            panic!()
        };
        let CallKind::Tagging(w) = &c.kind else {
            panic!()
        };
        assert_eq!(
            (w.resources.as_slice(), w.inexact.as_slice()),
            (
                ["prod web".to_string()].as_slice(),
                ["prod web".to_string()].as_slice()
            )
        );
        let mut b = String::new();
        tag_advice(&mut b, &c, w, None, "cost-guard-exempt");
        assert!(!b.contains("delete-tags"), "{b}");
        assert!(
            b.contains("'prod web': its name is shown cut or cleaned"),
            "{b}"
        );
    }

    #[test]
    fn the_exempt_key_is_taken_off_as_it_was_written() {
        // IAM takes Cost-Guard-Exempt for the exempt key, so the command
        // that undoes the write must take off that spelling, with the rest.
        let mut c = sample("tripwire-exempt-tag-added.json");
        let CallKind::Tagging(w) = &mut c.kind else {
            panic!()
        };
        w.tags = vec![
            ("Cost-Guard-Exempt".into(), Some("true".into())),
            ("Name".into(), Some("web".into())),
        ];
        let w = w.clone();
        let mut b = String::new();
        tag_advice(&mut b, &c, &w, None, "cost-guard-exempt");
        assert!(b.contains(" --tags Key=Cost-Guard-Exempt\n"), "{b}");
        assert!(!b.contains("Key=Name"), "{b}");
    }

    /// Decides with the default settings, in the guard's own account.
    fn decided(c: &ApiCall, seen: &[Observed]) -> Verdict {
        let cfg = TripwireConfig::from_lookup(&|_| None).unwrap();
        let roles = GuardRoles::default();
        let marked = BTreeMap::new();
        decide_call(
            c,
            seen,
            &Context {
                cfg: &cfg,
                roles: &roles,
                account: Some("123456789012"),
                marked: &marked,
                exempt_key: "cost-guard-exempt",
            },
        )
    }

    fn at<'a>(member: Option<&'a str>, resume: Option<&'a str>) -> Alerting<'a> {
        Alerting {
            member,
            guard_account: Some("123456789012"),
            home_region: "us-east-1",
            resume_function: resume,
            exempt_key: "cost-guard-exempt",
        }
    }

    fn sample(name: &str) -> ApiCall {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let v = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        match parse_tripwire_event(&v).unwrap() {
            TripwireEvent::Call(c) => *c,
            other => panic!("{other:?}"),
        }
    }

    fn observed(c: &ApiCall) -> Vec<Observed> {
        c.launch().map(Observed::from_event).unwrap_or_default()
    }

    fn stamp() -> Stamp {
        Stamp {
            at: "2026-12-01T03:13:02Z".into(),
            by: "tripwire:RunInstances".into(),
        }
    }

    #[test]
    fn a_cost_nobody_knows_is_not_added_up_to_zero() {
        let mut b = String::new();
        cost_section(&mut b, &[Observed::named("i-1", Some("x9.huge"))], None);
        assert_eq!(
            b,
            "\nWHAT IT WAS COSTING\n  Hourly cost unknown for 1 x x9.huge.\n"
        );
    }

    #[test]
    fn words_from_the_event_are_quoted_when_not_plain() {
        assert_eq!(word("i-0d1e2f3a4b5c60009"), "i-0d1e2f3a4b5c60009");
        assert_eq!(word("Key=cost-guard-exempt"), "Key=cost-guard-exempt");
        assert_eq!(
            word("Key=cost-guard:x --dry-run"),
            "'Key=cost-guard:x --dry-run'"
        );
        assert_eq!(word("it's"), "'it'\\''s'");
        assert_eq!(word(""), "''");
    }

    #[test]
    fn a_stopped_launch() {
        let c = sample("tripwire-run-instances.json");
        let seen = observed(&c);
        let v = decided(&c, &seen);
        let o = StopOutcome {
            stopped: seen.iter().map(|i| i.id.clone()).collect(),
            protection_removed: vec!["i-0a1b2c3d4e5f60001".into()],
            quarantine: Some(Quarantine::Attached("user/ci-deployer".into())),
            ..Default::default()
        };
        let m = render(
            Event::Call(&c),
            &seen,
            &v,
            Some(&o),
            &stamp(),
            &at(None, Some("cg-resume")),
        )
        .unwrap();
        assert_eq!(
            m.subject,
            "URGENT: cost-guard stopped 3 x p3.2xlarge launched in sa-east-1 by user/ci-deployer"
        );
        for want in [
            "Principal:    arn:aws:iam::123456789012:user/ci-deployer",
            "Access key:   AKIAIOSFODNN7EXAMPLE",
            "Source IP:    203.0.113.77",
            "Call:         ec2:RunInstances in sa-east-1",
            "Launched:     3 x p3.2xlarge",
            "Stopped 3 instances in sa-east-1:",
            "i-0a1b2c3d4e5f60001  p3.2xlarge  because p3.2xlarge is a costly type",
            "Stop protection (disableApiStop) was on and was turned off, on these alone: i-0a1b2c3d4e5f60001",
            "tagged cost-guard:stopped-at=2026-12-01T03:13:02Z and cost-guard:stopped-by=tripwire:RunInstances",
            "aws iam detach-user-policy --user-name ci-deployer --policy-arn arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3",
            "3 x p3.2xlarge at $3.06 an hour = $9.18 an hour",
            "In all $9.18 an hour, $220.32 a day",
            "--function-name cg-resume",
            "\"stopped_by\": \"tripwire:RunInstances\", \"since\": \"2026-12-01T03:13:02Z\"",
            "aws ec2 delete-tags --region sa-east-1 --resources i-0a1b2c3d4e5f60001 i-0a1b2c3d4e5f60002 i-0a1b2c3d4e5f60003 --tags Key=cost-guard:stopped-at Key=cost-guard:stopped-by && aws ec2 start-instances",
            "aws iam update-access-key --user-name ci-deployer --access-key-id AKIAIOSFODNN7EXAMPLE --status Inactive",
        ] {
            assert!(m.body.contains(want), "missing {want:?} in\n{}", m.body);
        }
        // The stamp comes off before anything starts.
        let untag = m.body.find("aws ec2 delete-tags").unwrap();
        assert!(untag < m.body.find("aws ec2 start-instances").unwrap());

        // In a member account, the subject, the report and the commands
        // say which account.
        let m = render(
            Event::Call(&c),
            &seen,
            &v,
            Some(&o),
            &stamp(),
            &at(Some("222222222222"), None),
        )
        .unwrap();
        assert!(
            m.subject
                .contains("launched in sa-east-1 (222222222222) by user/ci-deployer"),
            "{}",
            m.subject
        );
        for want in [
            "Account:      222222222222",
            "Stopped 3 instances in sa-east-1 of account 222222222222:",
            "  # in account 222222222222, with that account's credentials\n  aws ec2 delete-tags --region sa-east-1",
        ] {
            assert!(m.body.contains(want), "missing {want:?} in\n{}", m.body);
        }

        // In another partition, the detach command names that partition's policy.
        let mut cn = c.clone();
        cn.principal.arn = Some("arn:aws-cn:iam::123456789012:user/ci-deployer".into());
        let m = render(
            Event::Call(&cn),
            &seen,
            &v,
            Some(&o),
            &stamp(),
            &at(None, None),
        )
        .unwrap();
        assert!(
            m.body
                .contains("--policy-arn arn:aws-cn:iam::aws:policy/AWSCompromisedKeyQuarantineV3"),
            "{}",
            m.body
        );
    }

    #[test]
    fn subjects_for_every_verdict_fit_and_say_it() {
        let st = stamp();
        let cases = [
            ("tripwire-run-instances-failed.json", "cost-guard: a launch of 8 x p4d.24xlarge in ap-south-1 was refused (user/ci-deployer)"),
            ("tripwire-dry-run-probe.json", "URGENT: dry-run probe of 8 x p4d.24xlarge in ap-south-1 by user/ci-deployer"),
            ("tripwire-autoscaling-launch.json", "cost-guard: 1 x g5.xlarge launched in us-east-1 by EC2 Auto Scaling, not stopped"),
            ("tripwire-quota-increase.json", "URGENT: servicequotas:RequestServiceQuotaIncrease by user/ci-deployer in us-east-1"),
        ];
        for (file, want) in cases {
            let c = sample(file);
            let seen = observed(&c);
            let v = decided(&c, &seen);
            let m = render(Event::Call(&c), &seen, &v, None, &st, &at(None, None)).unwrap();
            assert_eq!(m.subject, want);
            assert!(m.subject.len() <= 100);
            assert!(m.body.contains("Nothing was stopped: "), "{}", m.body);
            assert!(
                !m.body.contains("HOW TO START"),
                "nothing to start: {}",
                m.body
            );
        }
        let root = sample("tripwire-root-launch.json");
        let seen = observed(&root);
        let v = decided(&root, &seen);
        let o = StopOutcome {
            stopped: seen.iter().map(|i| i.id.clone()).collect(),
            quarantine: Some(Quarantine::NotPossible(
                "the root user cannot be given a policy".into(),
            )),
            ..Default::default()
        };
        let m = render(
            Event::Call(&root),
            &seen,
            &v,
            Some(&o),
            &st,
            &at(None, None),
        )
        .unwrap();
        assert_eq!(
            m.subject,
            "URGENT: cost-guard stopped 2 x g5.48xlarge launched in ap-south-1 by the ROOT user"
        );
        assert!(m
            .body
            .contains("Not quarantined: the root user cannot be given a policy."));
        assert!(m.body.contains("Sign in as root now"));
        // Quiet verdicts send nothing.
        assert!(render(
            Event::Call(&root),
            &seen,
            &Verdict::Quiet("cheap".into()),
            None,
            &st,
            &at(None, None)
        )
        .is_none());
    }

    #[test]
    fn a_stop_that_failed_and_a_dry_run_say_so() {
        let c = sample("tripwire-run-instances.json");
        let seen = observed(&c);
        let v = Verdict::Stop {
            targets: seen
                .iter()
                .map(|i| Target {
                    id: i.id.clone(),
                    instance_type: i.instance_type.clone(),
                    why: "x".into(),
                    may_unprotect: true,
                    one_time_spot: None,
                })
                .collect(),
            quarantine: None,
        };
        let failed = StopOutcome {
            failed: seen
                .iter()
                .map(|i| (i.id.clone(), "AccessDenied".into()))
                .collect(),
            ..Default::default()
        };
        let m = render(
            Event::Call(&c),
            &seen,
            &v,
            Some(&failed),
            &stamp(),
            &at(None, None),
        )
        .unwrap();
        assert!(
            m.subject
                .starts_with("URGENT: cost-guard could NOT stop 3 x p3.2xlarge"),
            "{}",
            m.subject
        );
        assert!(m
            .body
            .contains("FAILED to stop i-0a1b2c3d4e5f60001: AccessDenied"));
        let dry = StopOutcome {
            dry_run: true,
            stopped: vec!["i-0a1b2c3d4e5f60001".into()],
            ..Default::default()
        };
        let m = render(
            Event::Call(&c),
            &seen,
            &v,
            Some(&dry),
            &stamp(),
            &at(None, None),
        )
        .unwrap();
        assert!(
            m.subject
                .starts_with("URGENT: [dry run] cost-guard would stop 1 x p3.2xlarge"),
            "{}",
            m.subject
        );
        assert!(!m.body.contains("HOW TO START"));
    }

    #[test]
    fn a_guardduty_stop() {
        let path = format!(
            "{}/../../events/guardduty-crypto-finding.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let v = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let TripwireEvent::Finding(f) = parse_tripwire_event(&v).unwrap() else {
            panic!()
        };
        let cfg = TripwireConfig::from_lookup(&|_| None).unwrap();
        let seen = vec![Observed::named("i-0b1c2d3e4f5a60007", Some("g4dn.xlarge"))];
        let roles = GuardRoles::default();
        let marked = BTreeMap::new();
        let verdict = decide_finding(
            &f,
            seen.first(),
            &Context {
                cfg: &cfg,
                roles: &roles,
                account: Some("123456789012"),
                marked: &marked,
                exempt_key: "cost-guard-exempt",
            },
        );
        let o = StopOutcome {
            stopped: vec!["i-0b1c2d3e4f5a60007".into()],
            ..Default::default()
        };
        let st = Stamp {
            at: "2026-12-01T04:20:20Z".into(),
            by: "tripwire:guardduty".into(),
        };
        let m = render(
            Event::Finding(&f),
            &seen,
            &verdict,
            Some(&o),
            &st,
            &at(None, None),
        )
        .unwrap();
        assert_eq!(m.subject, "URGENT: cost-guard stopped i-0b1c2d3e4f5a60007 in eu-west-1: CryptoCurrency:EC2/BitcoinTool.B!DNS");
        assert!(m
            .body
            .contains("because GuardDuty found CryptoCurrency:EC2/BitcoinTool.B!DNS"));
        assert!(
            m.body.contains("1 x g4dn.xlarge at $0.53 an hour"),
            "{}",
            m.body
        );
    }

    /// Every tripwire sample in events/, decided with the default settings
    /// and rendered with each outcome its verdict can have: a clean stop, a
    /// dry run, a failed stop, a stop with everything that can go aside
    /// (stop protection, a one-time spot instance, a skip, a missing stamp,
    /// marks), in the guard's own account with a resume function and in a
    /// member account without one.
    #[test]
    fn golden_every_sample_and_outcome() {
        use crate::domain::tripwire::{decide_compute, decide_fleet_launch, ComputeFacts};
        let cfg = TripwireConfig::from_lookup(&|_| None).unwrap();
        let roles = GuardRoles::default();
        fn context<'a>(
            cfg: &'a TripwireConfig,
            roles: &'a GuardRoles,
            marked: &'a BTreeMap<String, String>,
        ) -> Context<'a> {
            Context {
                cfg,
                roles,
                account: Some("123456789012"),
                marked,
                exempt_key: "cost-guard-exempt",
            }
        }
        let st = stamp();
        let own = at(None, Some("cg-resume"));
        let member = at(Some("222222222222"), None);
        let mut out = String::new();
        let dir = format!("{}/../../events", env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("tripwire-") || n.starts_with("guardduty-"))
            .collect();
        files.sort();
        for file in &files {
            let v =
                serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{file}")).unwrap())
                    .unwrap();
            match parse_tripwire_event(&v).unwrap() {
                TripwireEvent::Call(c) => {
                    let mut marked = BTreeMap::new();
                    marked.insert("sfr-0".to_string(), "x".to_string());
                    let ctx = context(&cfg, &roles, &marked);
                    if let CallKind::Compute(cc) = &c.kind {
                        let facts = ComputeFacts {
                            types: vec!["p3.2xlarge".into()],
                            cpu_units: Some(8192),
                            pending: None,
                        };
                        let v = decide_compute(&c, cc, &facts, &ctx);
                        let done = Halted {
                            done: vec![
                                "its processes suspended".into(),
                                "2 instances stopped".into(),
                            ],
                            stamped: true,
                            ..Default::default()
                        };
                        let halts = [
                            ("stopped", Some(done.clone()), &own),
                            ("stopped, member", Some(done.clone()), &member),
                            (
                                "dry run",
                                Some(Halted {
                                    dry_run: true,
                                    ..done.clone()
                                }),
                                &own,
                            ),
                            (
                                "failed",
                                Some(Halted {
                                    done: vec![],
                                    failed: Some("AccessDenied".into()),
                                    ..Default::default()
                                }),
                                &own,
                            ),
                            (
                                "not stamped",
                                Some(Halted {
                                    stamped: false,
                                    ..done
                                }),
                                &own,
                            ),
                            ("no outcome", None, &own),
                        ];
                        for (title, h, at) in &halts {
                            let m = render_compute(&c, cc, &v, h.as_ref(), &st, at);
                            golden_case(&mut out, &format!("{file}: {title}"), m.as_ref());
                            if !matches!(v, Verdict::Halt { .. }) {
                                break;
                            }
                        }
                        // The alert when the account cannot be acted in,
                        // as for every other event.
                        let cannot = Verdict::Alert {
                            urgent: true,
                            why: "the member role cannot be assumed".into(),
                        };
                        let m = render(Event::Call(&c), &[], &cannot, None, &st, &member);
                        golden_case(&mut out, &format!("{file}: cannot act"), m.as_ref());
                        // The same call waiting for what it made, alerted
                        // on, and left quiet.
                        for v in [
                            Verdict::Quiet("trusted".into()),
                            Verdict::Retry("not yet described".into()),
                            Verdict::Wait {
                                why: "it is still being made".into(),
                            },
                            Verdict::Alert {
                                urgent: false,
                                why: "its size is unknown".into(),
                            },
                        ] {
                            let m = render_compute(&c, cc, &v, None, &st, &member);
                            golden_case(&mut out, &format!("{file}: {v:?}"), m.as_ref());
                        }
                        continue;
                    }
                    if let CallKind::EnableRegion(r) = &c.kind {
                        // A region enabled in the guard's own account, and in
                        // another by the organization's management account.
                        for account in ["123456789012", "333333333333"] {
                            let mut other = c.clone();
                            other.kind = CallKind::EnableRegion(
                                crate::domain::trigger::launch::RegionEnabled {
                                    account: Some(account.into()),
                                    ..r.clone()
                                },
                            );
                            let v = decide_call(&other, &[], &ctx);
                            let m = render(Event::Call(&other), &[], &v, None, &st, &own);
                            golden_case(&mut out, &format!("{file}: in {account}"), m.as_ref());
                        }
                    }
                    let seen = observed(&c);
                    let v = decide_call(&c, &seen, &ctx);
                    let ids: Vec<String> = seen.iter().map(|i| i.id.clone()).collect();
                    let Verdict::Stop { .. } = &v else {
                        golden_case(
                            &mut out,
                            &format!("{file}: {v:?}"),
                            render(Event::Call(&c), &seen, &v, None, &st, &own).as_ref(),
                        );
                        golden_case(
                            &mut out,
                            &format!("{file}: member"),
                            render(Event::Call(&c), &seen, &v, None, &st, &member).as_ref(),
                        );
                        if let Verdict::Wait { .. } = &v {
                            let o = StopOutcome {
                                marked: vec!["sfr-0".into()],
                                unmarked: Some("ConditionalCheckFailed".into()),
                                ..Default::default()
                            };
                            let m = render(Event::Call(&c), &seen, &v, Some(&o), &st, &own);
                            golden_case(&mut out, &format!("{file}: marks"), m.as_ref());
                        }
                        continue;
                    };
                    let clean = StopOutcome {
                        stopped: ids.clone(),
                        protection_removed: ids.iter().take(1).cloned().collect(),
                        quarantine: Some(Quarantine::Attached("user/ci-deployer".into())),
                        ..Default::default()
                    };
                    let (first, rest) = ids.split_first().expect("a stop names instances");
                    let aside = StopOutcome {
                        stopped: rest.to_vec(),
                        protected: vec![first.clone()],
                        one_time_spot: vec![("i-0fffffffffffffff1".into(), "sir-abcd1234".into())],
                        skipped: vec![("i-0fffffffffffffff2".into(), "already stopped".into())],
                        unstamped: Some("CreateTags was throttled".into()),
                        marked: vec!["sfr-0".into()],
                        quarantine: Some(Quarantine::Failed {
                            target: "role/ci".into(),
                            error: "AccessDenied".into(),
                        }),
                        ..Default::default()
                    };
                    let outcomes = [
                        ("stopped", clean.clone(), &own),
                        ("stopped, member", clean.clone(), &member),
                        (
                            "dry run",
                            StopOutcome {
                                dry_run: true,
                                ..clean
                            },
                            &own,
                        ),
                        (
                            "failed",
                            StopOutcome {
                                failed: ids
                                    .iter()
                                    .map(|i| (i.clone(), "AccessDenied".into()))
                                    .collect(),
                                quarantine: Some(Quarantine::NotPossible(
                                    "the root user cannot be given a policy".into(),
                                )),
                                ..Default::default()
                            },
                            &own,
                        ),
                        ("aside", aside, &own),
                    ];
                    for (title, o, at) in &outcomes {
                        let m = render(Event::Call(&c), &seen, &v, Some(o), &st, at);
                        golden_case(&mut out, &format!("{file}: {title}"), m.as_ref());
                    }
                }
                TripwireEvent::Finding(f) => {
                    let marked = BTreeMap::new();
                    let ctx = context(&cfg, &roles, &marked);
                    let seen: Vec<Observed> = f
                        .instance_id
                        .iter()
                        .map(|id| Observed::named(id, Some("g4dn.xlarge")))
                        .collect();
                    let v = decide_finding(&f, seen.first(), &ctx);
                    let o = StopOutcome {
                        stopped: seen.iter().map(|i| i.id.clone()).collect(),
                        ..Default::default()
                    };
                    for (title, o) in [
                        ("stopped", Some(o.clone())),
                        ("dry run", Some(StopOutcome { dry_run: true, ..o })),
                        ("failed", Some(StopOutcome::default())),
                        ("no outcome", None),
                    ] {
                        let m = render(Event::Finding(&f), &seen, &v, o.as_ref(), &st, &own);
                        golden_case(&mut out, &format!("{file}: {title}"), m.as_ref());
                    }
                }
                TripwireEvent::FleetLaunch(l) => {
                    let seen = vec![Observed::named(&l.instance_id, Some("p3.2xlarge"))];
                    for marked_it in [true, false] {
                        let mut marked = BTreeMap::new();
                        if marked_it {
                            marked.insert(l.request.clone(), "1a2b user/ci-deployer".to_string());
                        }
                        let ctx = context(&cfg, &roles, &marked);
                        let v = decide_fleet_launch(&l, seen.first(), &ctx);
                        let o = StopOutcome {
                            stopped: vec![l.instance_id.clone()],
                            ..Default::default()
                        };
                        for (title, o) in [
                            ("stopped", Some(o.clone())),
                            ("dry run", Some(StopOutcome { dry_run: true, ..o })),
                            ("failed", Some(StopOutcome::default())),
                        ] {
                            let m =
                                render(Event::FleetLaunch(&l), &seen, &v, o.as_ref(), &st, &member);
                            golden_case(
                                &mut out,
                                &format!("{file}: marked {marked_it}, {title}"),
                                m.as_ref(),
                            );
                            if !matches!(v, Verdict::Stop { .. }) {
                                break;
                            }
                        }
                    }
                }
                TripwireEvent::Ignored(why) => {
                    let _ = writeln!(out, "=== {file}: ignored: {why}\n");
                }
            }
        }
        check_golden("launch_tripwire", &out);
    }
}
