//! What the launch tripwire decides, as a table over plain data: which of a
//! call's instances to stop and why, whom to quarantine, what only to report,
//! and what to pass over with a log line. Pure.
//!
//! | the call | trusted principal | AWS service on the account's behalf | anyone else |
//! |---|---|---|---|
//! | launch or start of a costly type, or outside the allowed regions | reported | reported, with the service | **stopped** (URGENT) |
//! | start of an instance carrying cost-guard's stamp | reported | reported | **stopped** (URGENT) |
//! | cheap, in an allowed region | log line | log line | log line |
//! | refused launch of a costly type or region | log line | log line | alert |
//! | dry-run probe of a costly type or region | log line | log line | alert (URGENT) |
//! | quota increase, Auto Scaling group, ECS, SageMaker | log line | log line | alert (URGENT) |
//!
//! The root user is never trusted. The exempt tag protects nothing here:
//! whoever launches can set any tag. GuardDuty: a `CryptoCurrency:*` or
//! `Impact:EC2/*` finding stops its instance; any other is reported.

use crate::domain::config::{TripwireAction, TripwireConfig};
use crate::domain::glob::first_match;
use crate::domain::inventory::{tag, Tags, ASG_TAG};
use crate::domain::trigger::launch::{ApiCall, CallKind, Finding, Launch, Principal};

/// AWS's managed policy for compromised credentials, attached by the quarantine.
pub const QUARANTINE_POLICY: &str = "AWSCompromisedKeyQuarantineV3";

/// One instance of a call, as the tripwire sees it: from the event, or, for
/// starts, spot requests and fleets, as EC2 describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub id: String,
    pub instance_type: Option<String>,
    /// Carries `cost-guard:stopped-at`: cost-guard stopped it.
    pub stamped_by: Option<String>,
    /// Tags that only AWS can write (`aws:autoscaling:groupName`, ...).
    pub tags: Tags,
}

impl Observed {
    /// An instance as an event names it: no stamp and no tags known.
    pub fn named(id: &str, instance_type: Option<&str>) -> Observed {
        Observed {
            id: id.to_string(),
            instance_type: instance_type.map(str::to_string),
            stamped_by: None,
            tags: Vec::new(),
        }
    }

    /// The instances a launch's event names, without asking EC2.
    pub fn from_event(launch: &Launch) -> Vec<Observed> {
        launch
            .instances
            .iter()
            .map(|i| Observed::named(&i.id, i.instance_type.as_deref()))
            .collect()
    }

    /// The instance a GuardDuty finding names, if any.
    pub fn from_finding(f: &Finding) -> Vec<Observed> {
        f.instance_id
            .iter()
            .map(|id| Observed::named(id, f.instance_type.as_deref()))
            .collect()
    }
}

/// An instance to stop, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub id: String,
    pub instance_type: Option<String>,
    pub why: String,
}

/// Whom the quarantine policy goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuarantineTarget {
    User(String),
    Role(String),
    /// Cannot be quarantined: why, and what to do instead.
    Impossible(String),
}

/// What the tripwire does with one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Stop these instances (URGENT), then quarantine when asked to.
    Stop {
        targets: Vec<Target>,
        quarantine: Option<QuarantineTarget>,
    },
    /// Tell subscribers, stop nothing: why.
    Alert { urgent: bool, why: String },
    /// Nothing for subscribers; a log line says why.
    Quiet(String),
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

/// The trusted pattern a principal matches. Root is never trusted.
pub fn trusted_by<'a>(p: &Principal, cfg: &'a TripwireConfig) -> Option<&'a str> {
    if p.is_root() {
        return None;
    }
    [p.arn.as_deref(), p.issuer_arn.as_deref()]
        .into_iter()
        .flatten()
        .find_map(|arn| first_match(&cfg.trusted, arn))
        .map(|g| g.as_str())
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
        if let Some(f) = tag(tags, "aws:ec2spot:fleet-request-id") {
            return Some(format!("EC2 Spot Fleet ({f})"));
        }
        tag(tags, "aws:ec2:fleet-id").map(|f| format!("EC2 Fleet ({f})"))
    };
    reserved(requested).or_else(|| instances.iter().find_map(|i| reserved(&i.tags)))
}

/// Where the quarantine policy would go for this principal.
pub fn quarantine_target(p: &Principal) -> QuarantineTarget {
    match (p.kind.as_str(), &p.name) {
        ("IAMUser", Some(name)) => QuarantineTarget::User(name.clone()),
        ("AssumedRole", Some(role)) if p.service().is_none() => QuarantineTarget::Role(role.clone()),
        ("Root", _) => QuarantineTarget::Impossible(
            "the root user cannot be given a policy: sign in as root, change its password, enable MFA and delete its access keys; then ask AWS Support to review the account".into(),
        ),
        (kind, _) => QuarantineTarget::Impossible(format!(
            "a {kind} principal has no IAM user or role to attach a policy to: revoke its credentials where they were issued (IAM Identity Center, your identity provider, or the role's sessions)"
        )),
    }
}

/// The launch part of the table. `observed` are the call's instances.
pub fn decide_call(call: &ApiCall, observed: &[Observed], cfg: &TripwireConfig) -> Verdict {
    let who = call.principal.short();
    let trusted = trusted_by(&call.principal, cfg);
    let launch = match &call.kind {
        CallKind::FirstMove(what) => {
            return match trusted {
                Some(p) => Verdict::Quiet(format!("{} by {who}, trusted by {p}: {what}", call.action())),
                None => Verdict::Alert {
                    urgent: true,
                    why: format!("{who} created {what}: a stolen key's usual next step towards costly compute; nothing was stopped"),
                },
            };
        }
        CallKind::Launch(l) => l,
    };
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
            (Some(_), Some(p)) => Verdict::Quiet(format!("a failed {} by {who}, trusted by {p}", call.event_name)),
            (None, _) => Verdict::Quiet(format!("a failed {} of a cheap type in an allowed region", call.event_name)),
        };
    }

    let start = call.event_name == "StartInstances";
    let targets: Vec<Target> = observed
        .iter()
        .filter_map(|i| {
            suspicion(&call.region, start, i, cfg).map(|why| Target {
                id: i.id.clone(),
                instance_type: i.instance_type.clone(),
                why,
            })
        })
        .collect();
    if targets.is_empty() {
        return match (observed.is_empty(), asked_reason) {
            // A spot request or fleet with nothing running yet.
            (true, Some(reason)) if trusted.is_none() => Verdict::Alert {
                urgent: true,
                why: format!("nothing is running yet, so there is nothing to stop; cancel the request ({reason})"),
            },
            _ => Verdict::Quiet(format!(
                "{} by {who}: nothing costly, nothing out of region, nothing cost-guard stopped",
                call.event_name
            )),
        };
    }
    if let Some(service) = launching_service(&call.principal, observed, &launch.tags) {
        return Verdict::Alert {
            urgent: false,
            why: format!("launched by {service} on the account's behalf: reported, not stopped (the service would launch a replacement); change or delete what launched it"),
        };
    }
    if let Some(p) = trusted {
        return Verdict::Alert {
            urgent: false,
            why: format!("{who} is trusted (matches {p} in TRIPWIRE_TRUSTED_PRINCIPALS): reported, never stopped"),
        };
    }
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
        quarantine: cfg.quarantine.then(|| quarantine_target(&call.principal)),
    }
}

/// The GuardDuty part of the table.
pub fn decide_finding(f: &Finding, cfg: &TripwireConfig) -> Verdict {
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
    if cfg.guardduty_action == TripwireAction::Alert {
        return Verdict::Alert {
            urgent: true,
            why: "TRIPWIRE_GUARDDUTY_ACTION=alert: reported, not stopped".into(),
        };
    }
    Verdict::Stop {
        targets: vec![Target {
            id: id.clone(),
            instance_type: f.instance_type.clone(),
            why: format!("GuardDuty found {}", f.finding_type),
        }],
        quarantine: None,
    }
}

/// What the tripwire did to the instances it stopped.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct StopOutcome {
    pub dry_run: bool,
    /// Stopped now (in a dry run: would be stopped).
    pub stopped: Vec<String>,
    /// Stop protection was on; it was turned off so they could be stopped.
    pub protection_removed: Vec<String>,
    /// Not stopped, and why (already stopped, gone, cannot be stopped).
    pub skipped: Vec<(String, String)>,
    /// The stop failed: the error.
    pub failed: Vec<(String, String)>,
    /// Stopped, but the stamp could not be written: why.
    pub unstamped: Option<String>,
    /// The quarantine, when one was asked for.
    pub quarantine: Option<Quarantine>,
}

/// What came of the quarantine.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Quarantine {
    /// The policy is attached to this IAM user or role (`user/NAME`, `role/NAME`).
    Attached(String),
    /// Not possible for this principal: what to do instead.
    NotPossible(String),
    /// The attach call failed.
    Failed { target: String, error: String },
}

/// The policy's ARN in the principal's partition (`aws`, `aws-cn`, `aws-us-gov`).
pub fn quarantine_policy_arn(principal_arn: Option<&str>) -> String {
    let partition = principal_arn
        .and_then(|a| a.split(':').nth(1))
        .filter(|p| p.starts_with("aws"))
        .unwrap_or("aws");
    format!("arn:{partition}:iam::aws:policy/{QUARANTINE_POLICY}")
}

/// The stamp label: `tripwire:RunInstances`, `tripwire:guardduty`.
pub fn stamp_label(call: Option<&ApiCall>) -> String {
    match call {
        Some(c) => format!("tripwire:{}", c.event_name),
        None => "tripwire:guardduty".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    use crate::domain::trigger::launch::{parse_tripwire_event, CallError, TripwireEvent};

    fn sample(name: &str) -> serde_json::Value {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    fn call(name: &str) -> ApiCall {
        match parse_tripwire_event(&sample(name)).unwrap() {
            TripwireEvent::Call(c) => *c,
            other => panic!("{other:?}"),
        }
    }

    fn cfg(vars: &[(&str, &str)]) -> TripwireConfig {
        TripwireConfig::from_lookup(|n| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        })
        .unwrap()
    }

    /// The call's instances as the event names them.
    fn from_event(c: &ApiCall) -> Vec<Observed> {
        c.launch().map(Observed::from_event).unwrap_or_default()
    }

    fn decide(name: &str, vars: &[(&str, &str)]) -> Verdict {
        let c = call(name);
        decide_call(&c, &from_event(&c), &cfg(vars))
    }

    fn stopped(v: &Verdict) -> Vec<&str> {
        match v {
            Verdict::Stop { targets, .. } => targets.iter().map(|t| t.id.as_str()).collect(),
            _ => Vec::new(),
        }
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
    fn an_organization_guard_trusts_resume_through_the_member_role_in_any_account() {
        // What template.yaml gives the tripwire when it covers several accounts.
        let trust = cfg(&[(
            "TRIPWIRE_TRUSTED_PRINCIPALS",
            "arn:aws:sts::*:assumed-role/cost-guard-member/*",
        )]);
        let session = |account: &str, role: &str| {
            let mut c = call("tripwire-start-instances.json");
            c.principal.arn = Some(format!(
                "arn:aws:sts::{account}:assumed-role/{role}/cost-guard"
            ));
            c.principal.issuer_arn = Some(format!("arn:aws:iam::{account}:role/{role}"));
            c.principal
        };
        for account in ["111111111111", "222222222222"] {
            assert!(trusted_by(&session(account, "cost-guard-member"), &trust).is_some());
        }
        // Not the tripwire's own member role, nor a look-alike name.
        for role in ["cost-guard-member-tripwire", "cost-guard-members"] {
            assert_eq!(
                trusted_by(&session("222222222222", role), &trust),
                None,
                "{role}"
            );
        }
    }

    #[test]
    fn a_cheap_launch_in_an_allowed_region_is_a_log_line_and_a_disallowed_region_stops_anything() {
        let mut c = call("tripwire-run-instances.json");
        let mut cheap = from_event(&c);
        for i in &mut cheap {
            i.instance_type = Some("t3.micro".into());
        }
        assert!(matches!(
            decide_call(&c, &cheap, &cfg(&[])),
            Verdict::Quiet(_)
        ));
        let only_us = cfg(&[("TRIPWIRE_ALLOWED_REGIONS", "us-east-1,eu-west-1")]);
        let v = decide_call(&c, &cheap, &only_us);
        assert_eq!(stopped(&v).len(), 3);
        let Verdict::Stop { targets, .. } = v else {
            panic!()
        };
        assert_eq!(
            targets[0].why,
            "sa-east-1 is not in TRIPWIRE_ALLOWED_REGIONS"
        );
        c.region = "eu-west-1".into();
        assert!(matches!(
            decide_call(&c, &cheap, &only_us),
            Verdict::Quiet(_)
        ));
    }

    #[test]
    fn a_start_of_a_stamped_instance_is_stopped_whatever_its_type() {
        let c = call("tripwire-start-instances.json");
        let mut seen = vec![Observed::named("i-0f00000000000beef", Some("t3.micro"))];
        assert!(
            matches!(decide_call(&c, &seen, &cfg(&[])), Verdict::Quiet(_)),
            "unstamped and cheap"
        );
        seen[0].stamped_by = Some("budget:student-monthly".into());
        let v = decide_call(&c, &seen, &cfg(&[]));
        assert_eq!(stopped(&v), ["i-0f00000000000beef"]);
        let Verdict::Stop { targets, .. } = v else {
            panic!()
        };
        assert!(targets[0].why.contains("started with the stamp still on"));
        // A launch that is not a start ignores the stamp (a new instance has none).
        let mut run = call("tripwire-run-instances.json");
        run.event_name = "RunInstances".into();
        let mut launched = from_event(&run);
        launched[0].instance_type = Some("t3.micro".into());
        launched[0].stamped_by = Some("x".into());
        assert!(
            !stopped(&decide_call(&run, &launched, &cfg(&[]))).contains(&launched[0].id.as_str())
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
        assert!(
            matches!(decide_call(&c, &seen, &cfg(&[])), Verdict::Alert { why, .. } if why.contains("EC2 Spot Fleet (sfr-1)"))
        );
        // A service that merely carried the user's own call does not.
        c.principal.invoked_by = Some("cloudformation.amazonaws.com".into());
        assert_eq!(
            stopped(&decide_call(&c, &from_event(&c), &cfg(&[]))).len(),
            3
        );
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
        let mut cheap = call("tripwire-run-instances-failed.json");
        cheap.kind = CallKind::Launch(crate::domain::trigger::launch::Launch {
            requested_types: vec!["t3.micro".into()],
            ..Default::default()
        });
        assert!(matches!(
            decide_call(&cheap, &[], &cfg(&[])),
            Verdict::Quiet(_)
        ));
        cheap.error = Some(CallError {
            code: "Client.DryRunOperation".into(),
            message: None,
        });
        assert!(matches!(
            decide_call(&cheap, &[], &cfg(&[])),
            Verdict::Quiet(_)
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
            quarantine_target(&c.principal),
            QuarantineTarget::Role("contractor".into())
        );
        let root = call("tripwire-root-launch.json");
        assert!(
            matches!(quarantine_target(&root.principal), QuarantineTarget::Impossible(w) if w.starts_with("the root user cannot"))
        );
        let asg = call("tripwire-autoscaling-launch.json");
        assert!(
            matches!(
                quarantine_target(&asg.principal),
                QuarantineTarget::Impossible(_)
            ),
            "never a service-linked role"
        );
    }

    #[test]
    fn a_spot_request_with_nothing_running_yet_alerts() {
        let c = call("tripwire-spot-request.json");
        let v = decide_call(&c, &[], &cfg(&[]));
        assert!(
            matches!(&v, Verdict::Alert { urgent: true, why } if why.contains("cancel the request")),
            "{v:?}"
        );
        let running = vec![Observed {
            id: "i-0aa".into(),
            instance_type: Some("g4dn.12xlarge".into()),
            stamped_by: None,
            tags: Vec::new(),
        }];
        assert_eq!(stopped(&decide_call(&c, &running, &cfg(&[]))), ["i-0aa"]);
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

    #[test]
    fn guardduty_findings() {
        let TripwireEvent::Finding(f) =
            parse_tripwire_event(&sample("guardduty-crypto-finding.json")).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            stopped(&decide_finding(&f, &cfg(&[]))),
            ["i-0b1c2d3e4f5a60007"]
        );
        assert!(matches!(
            decide_finding(&f, &cfg(&[("TRIPWIRE_GUARDDUTY_ACTION", "alert")])),
            Verdict::Alert { urgent: true, .. }
        ));
        let mut probe = f.clone();
        probe.finding_type = "Recon:EC2/PortProbeUnprotectedPort".into();
        probe.severity = Some(2.0);
        assert!(matches!(
            decide_finding(&probe, &cfg(&[])),
            Verdict::Alert { urgent: false, .. }
        ));
        let mut impact = f;
        impact.finding_type = "Impact:EC2/BitcoinDomainRequest.Reputation".into();
        assert_eq!(stopped(&decide_finding(&impact, &cfg(&[]))).len(), 1);
    }
}
