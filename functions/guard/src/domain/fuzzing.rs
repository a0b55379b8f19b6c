//! What the fuzz targets in `fuzz/` run: each takes raw bytes, feeds them to one
//! parser the way the functions do, and checks the promises the rest of
//! cost-guard relies on. A broken promise panics, which is what the fuzzer
//! reports. The unit tests below replay every file in `events/` and every saved
//! crash in `fuzz/regressions/` through the same functions.
//!
//! The promises: nothing panics; parsing is deterministic; only a recognised
//! message can ever mean "stop"; amounts are finite and within range; a stamp
//! label is a valid tag value; an excerpt is short and free of control
//! characters.

use std::collections::HashMap;

use crate::domain::config::{
    common::attempt_timeout_from, regions::is_region_name, AnomalyAction, ConfigError, RegionScope,
    RootConfig, Selection, Settings, SpendConfig, StopOnOverspendConfig,
};
use crate::domain::money::{Amount, MAX_AMOUNT};
use crate::domain::policy::{decide, Policy, Verdict};
use crate::domain::trigger::{self, Trigger};

/// One fuzz target: raw bytes in, a panic when a promise is broken.
pub type Target = fn(&[u8]);

/// The fuzz targets, by the name of their file in `fuzz/fuzz_targets/`.
pub(crate) const TARGETS: &[(&str, Target)] = &[
    ("sns_event", sns_event),
    ("message", message),
    ("budget_text", budget_text),
    ("alarm_json", alarm_json),
    ("anomaly_json", anomaly_json),
    ("root_event", root_event),
    ("settings", settings),
    ("rds_event", rds_event),
    ("resume_payload", resume_payload),
    ("launch_event", launch_event),
    ("sweep_job", sweep_job),
    ("weekly_memory", weekly_memory),
    ("burn", burn),
];

/// The policies a message is decided under: the defaults and the most eager.
const POLICIES: [Policy; 2] = [
    Policy {
        act_on_forecasted: false,
        anomaly: AnomalyAction::Report,
    },
    Policy {
        act_on_forecasted: true,
        anomaly: AnomalyAction::Stop {
            min_impact_usd: 0.0,
        },
    },
];

/// A Lambda event as stop-on-overspend receives it: the SNS envelope, then
/// every record's message.
pub fn sns_event(data: &[u8]) {
    let Some(event) = json(data) else {
        return;
    };
    match trigger::parse_sns_event(&event) {
        Ok(records) => {
            assert!(records.len() <= trigger::envelope::MAX_RECORDS);
            for record in records {
                check_message(&record.message);
            }
        }
        Err(e) => check_reason(&e.to_string()),
    }
}

/// One SNS message body, of any family.
pub fn message(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        check_message(text);
    }
}

/// The Budgets text parser on its own, without the dispatcher's shape check.
pub fn budget_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(alert) = trigger::budgets::parse_budget_text(text) {
        let name = alert.name.trim();
        assert!(!name.is_empty() && name.chars().count() <= 100);
        check_amounts([alert.budgeted, alert.threshold, alert.amount]);
        check_trigger(&Trigger::Budget(alert));
    }
}

/// The CloudWatch alarm parser on any JSON value.
pub fn alarm_json(data: &[u8]) {
    let Some(value) = json(data) else {
        return;
    };
    if let Ok(alarm) = trigger::alarm::parse_alarm(&value) {
        assert!(!alarm.name.is_empty());
        if let Some(t) = alarm.threshold {
            assert!(t.is_finite() && (0.0..=MAX_AMOUNT).contains(&t), "{t}");
        }
        check_trigger(&Trigger::Alarm(alarm));
    }
}

/// The Cost Anomaly Detection parser on any JSON value.
pub fn anomaly_json(data: &[u8]) {
    let Some(value) = json(data) else {
        return;
    };
    if let Ok(anomaly) = trigger::anomaly::parse_anomaly(&value) {
        assert!(!anomaly.id.is_empty());
        check_amounts([
            Some(anomaly.total_impact),
            anomaly.total_actual_spend,
            anomaly.total_expected_spend,
        ]);
        check_trigger(&Trigger::Anomaly(anomaly));
    }
}

/// An EventBridge event as root-login-alert receives it.
pub fn root_event(data: &[u8]) {
    let Some(value) = json(data) else {
        return;
    };
    match trigger::root::parse_root_event(&value) {
        Ok(trigger::root::RootEvent::Root(activity)) => {
            assert!(!activity.event_name.is_empty());
            assert!(!activity.action().is_empty());
            if let Some(link) = activity.cloudtrail_link() {
                assert!(link.starts_with("https://"));
            }
            assert_eq!(
                trigger::root::parse_root_event(&value),
                Ok(trigger::root::RootEvent::Root(activity))
            );
        }
        Ok(trigger::root::RootEvent::NotRoot { event_name, .. }) => {
            assert!(!event_name.is_empty())
        }
        Err(why) => check_reason(&why),
    }
}

/// Function settings: `NAME=value` lines, read as the environment would be, by
/// every function's configuration (shared, root-login-alert's, spend-watch's,
/// launch-tripwire's)
/// and the attempt timeout. A refusal must name a variable that is set (or,
/// for a missing one, unset) and quote the value it refuses; an accepted
/// configuration never lets a stamp key be chosen, nor an amount that is not
/// a finite number of dollars.
pub fn settings(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let vars: HashMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = |name: &str| vars.get(name).cloned();
    let refusal = |e: ConfigError| check_refusal(&e, &vars);
    match StopOnOverspendConfig::from_lookup(&lookup) {
        Ok(config) => {
            assert_eq!(
                StopOnOverspendConfig::from_lookup(&lookup),
                Ok(config.clone()),
                "deterministic"
            );
            assert!(config.common.notify_topic_arn.starts_with("arn:"));
            let stamps = [
                crate::domain::tags::STOPPED_AT_TAG,
                crate::domain::tags::STOPPED_BY_TAG,
            ];
            assert!(!stamps.contains(&config.sweep.select.exempt_tag_key.as_str()));
            if let Selection::Tagged { key, .. } = &config.sweep.select.selection {
                assert!(!stamps.contains(&key.as_str()));
                assert_ne!(key, &config.sweep.select.exempt_tag_key);
            }
            if let RegionScope::List(regions) = &config.sweep.regions {
                assert!(!regions.is_empty());
                assert!(regions.iter().all(|r| is_region_name(r)), "{regions:?}");
            }
            if let AnomalyAction::Stop { min_impact_usd } = config.anomaly {
                assert!((0.0..=MAX_AMOUNT).contains(&min_impact_usd));
            }
            let accounts = &config.sweep.accounts;
            if let crate::domain::accounts::AccountScope::List(ids) = &accounts.scope {
                // An empty list would sweep nothing while looking configured.
                assert!(!ids.is_empty(), "ACCOUNTS gave no account");
                assert!(
                    ids.iter()
                        .all(|i| crate::domain::accounts::is_account_id(i)),
                    "{ids:?}"
                );
            }
            assert!(accounts.fanout_above >= 1);
            assert!(!accounts.member_role.is_empty() && accounts.external_id.len() >= 2);
            // Every role member.yaml derives from the name is a valid IAM name.
            assert!(
                accounts.member_role.len() + "-keep-stopped".len() <= 64,
                "{}",
                accounts.member_role
            );
            if let Some(q) = &accounts.queue {
                assert!(q.sweep_url.starts_with("http") && q.results_url.starts_with("http"));
                assert!(q.summary_delay_s <= 900);
            }
        }
        Err(e) => refusal(e),
    }
    match RootConfig::from_lookup(&lookup) {
        Ok(root) => {
            for range in &root.trusted {
                // What a range prints must parse back to the same range.
                assert_eq!(range.to_string().parse(), Ok(*range));
            }
        }
        Err(e) => refusal(e),
    }
    match SpendConfig::from_lookup(&lookup) {
        Ok(spend) => {
            let limits = [Some(spend.limits.spend_usd), spend.limits.forecast_usd];
            for limit in limits.into_iter().flatten() {
                assert!(limit > 0.0 && limit <= MAX_AMOUNT, "{limit}");
            }
        }
        Err(e) => refusal(e),
    }
    match crate::domain::config::TripwireConfig::from_lookup(&lookup) {
        Ok(tripwire) => {
            assert!(!tripwire.costly_types.is_empty(), "empty means the default");
            assert!(tripwire.allowed_regions.iter().all(|r| is_region_name(r)));
            assert!(tripwire
                .trusted
                .iter()
                .all(|g| g.as_str().starts_with("arn:")));
            // The guard's roles are known by unique id, never by a name
            // someone else could take.
            assert!(tripwire.resume_role_ids.len() <= 1);
            assert!(tripwire
                .resume_role_ids
                .iter()
                .chain(&tripwire.guard_role_ids)
                .all(|id| crate::domain::config::tripwire::is_role_id(id)
                    && lookup("TRIPWIRE_RESUME_ROLE_ID")
                        .into_iter()
                        .chain(lookup("TRIPWIRE_GUARD_ROLE_IDS"))
                        .any(|v| v.contains(id.as_str()))));
        }
        Err(e) => refusal(e),
    }
    match crate::domain::config::BurnWatchConfig::from_lookup(&lookup) {
        Ok(burn) => {
            let l = &burn.burn.limits;
            // A limit of 0 would stop everything always; a warning at or
            // above the limit would never be sent.
            assert!(l.per_hour > crate::domain::burn::usd::Usd::ZERO);
            assert!(l
                .warn_per_hour
                .is_none_or(|w| w < l.per_hour && w > crate::domain::burn::usd::Usd::ZERO));
            assert!(l
                .monthly
                .is_none_or(|m| m > crate::domain::burn::usd::Usd::ZERO));
            assert!(!burn.burn.state_table.is_empty());
            // The stamp names the limit in plain digits: one tag value.
            let trigger = crate::domain::burn::watch::StopFor::Rate {
                per_hour: l.per_hour,
                limit: l.per_hour,
            }
            .trigger();
            assert!(trigger
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-:.".contains(c)));
        }
        Err(e) => refusal(e),
    }
    match crate::domain::config::WeeklyCheckConfig::from_lookup(&lookup) {
        Ok(weekly) => {
            // Names the template sets: nothing that could carry a second
            // command into the message's `cost-guard doctor --stack-name`.
            assert!(weekly
                .stack_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-'));
            assert!(!weekly.state_table.is_empty());
        }
        Err(e) => refusal(e),
    }
    if let Err(e) = attempt_timeout_from(lookup("ATTEMPT_TIMEOUT_SECONDS")) {
        refusal(e);
    }
    // The first line as a pattern, the second as a text: the glob matcher
    // agrees with the slow reference, in both cases.
    let mut lines = text.lines();
    if let (Some(pattern), Some(candidate)) = (lines.next(), lines.next()) {
        glob_agrees(pattern, candidate);
    }
}

/// What the weekly check reads back from its table, which anyone allowed to
/// write the table could have written: parsed, it is believed only as this
/// function writes it, and the message made from it keeps a subject of at
/// most 100 printable ASCII characters and quotes no line of the memory
/// that is not a check's name.
/// The burn rate's money and memory on any bytes: the first line as an
/// amount of dollars, the rest as burn-watch's memory from its table. An
/// amount reads back from what it prints; a memory is believed only as
/// written, and the next one reads back whole.
pub fn burn(data: &[u8]) {
    use crate::domain::burn::usd::Usd;
    use crate::domain::burn::watch::{decide, read_memory, write_memory, Limits};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (amount, memory) = text.split_once('\n').unwrap_or((text, ""));
    if let Some(u) = Usd::parse(amount) {
        assert_eq!(Usd::parse(&u.plain()), Some(u), "{amount:?}");
        let (cents, fine) = (u.cents(), u.fine());
        assert!(cents.starts_with('$') && fine.starts_with('$'));
        assert!(!amount
            .trim()
            .contains(|c: char| !c.is_ascii_digit() && c != '.'));
        // Never floating point: a day is exactly 24 hours of it.
        assert_eq!(u.times(24, 1).nanos(), u.nanos().saturating_mul(24));
    }
    if let Some(m) = read_memory(memory) {
        assert_eq!(read_memory(&write_memory(&m)), Some(m.clone()));
        let limits = Limits {
            per_hour: Usd::dollars(10),
            warn_per_hour: Some(Usd::dollars(5)),
            monthly: Some(Usd::dollars(100)),
            stop_on_projection: true,
        };
        let now = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        let rate = Usd::from_nanos(m.per_hour_nanos);
        let d = decide(
            &limits,
            Some(&m),
            crate::domain::burn::watch::Seen::rate(rate),
            None,
            false,
            now,
        );
        assert_eq!(read_memory(&write_memory(&d.next)), Some(d.next.clone()));
        // An unchanged rate over the limit was told before: not again.
        if m.over_limit && rate > limits.per_hour {
            assert!(!d
                .crossed
                .contains(&crate::domain::burn::watch::Crossing::Limit));
        }
    }
}

pub fn weekly_memory(data: &[u8]) {
    use crate::domain::doctor::{Check, Status};
    use crate::domain::render::doctor::Scope;
    use crate::domain::render::weekly_check::{render, WeeklyOutcome};
    use crate::domain::weekly_check::{decide, remembered, trusted, Before, Seen};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let before = match serde_json::from_str::<Vec<Seen>>(text)
        .ok()
        .and_then(trusted)
    {
        Some(seen) => Before::Seen(seen),
        None => Before::Unreadable("not a list of checks".into()),
    };
    let checks = [
        Check {
            check: "trail",
            status: Status::Unknown,
            found: "x".into(),
            fix: None,
        },
        Check {
            check: "stack",
            status: Status::Pass,
            found: "y".into(),
            fix: None,
        },
    ];
    let verdict = decide(&before, &checks);
    let scope = Scope {
        stack: "cost-guard".into(),
        region: "us-east-1".into(),
        account: String::new(),
    };
    if let Some(m) = render(&WeeklyOutcome {
        scope: &scope,
        checks: &checks,
        before: &before,
        verdict: &verdict,
        schedule: "rate(7 days)",
    }) {
        assert!(m.subject.len() <= 100, "{:?}", m.subject);
        assert!(
            m.subject.chars().all(|c| (' '..='~').contains(&c)),
            "{:?}",
            m.subject
        );
        if let Before::Seen(seen) = &before {
            for s in seen {
                assert!(
                    s.check
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || "-#0123456789".contains(c)),
                    "{:?}",
                    s.check
                );
            }
        }
    }
    // What is remembered next is what a run writes: it reads back whole.
    let next = remembered(&before, &checks);
    let json = serde_json::to_string(&next).unwrap_or_default();
    let back = serde_json::from_str::<Vec<Seen>>(&json)
        .ok()
        .and_then(trusted);
    assert_eq!(back.as_ref(), Some(&next), "{json}");
}

/// `Glob::matches` gives what a plain recursive matcher gives (both kept
/// short: the recursion is exponential, the matcher linear).
pub fn glob_agrees(pattern: &str, text: &str) {
    use crate::domain::glob::Glob;
    fn reference(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => reference(&p[1..], t) || (!t.is_empty() && reference(p, &t[1..])),
            (Some('?'), Some(_)) => reference(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => reference(&p[1..], &t[1..]),
            _ => false,
        }
    }
    let short = |s: &str| s.chars().take(12).collect::<String>();
    let (pattern, text) = (short(pattern), short(text));
    for ignore_case in [false, true] {
        let fold = |s: &str| {
            if ignore_case {
                s.to_ascii_lowercase()
            } else {
                s.to_string()
            }
        };
        let p: Vec<char> = fold(&pattern).chars().collect();
        let t: Vec<char> = fold(&text).chars().collect();
        assert_eq!(
            Glob::new(&pattern, ignore_case).matches(&text),
            reference(&p, &t),
            "{pattern:?} against {text:?}, ignore_case {ignore_case}"
        );
    }
}

/// A message on the sweep queue or the results queue: a job is read or
/// refused with a one-line reason, and what is read goes back on the queue
/// unchanged; a summary merging results keeps one per account, of its own
/// incident only, and never un-finishes an account.
pub fn sweep_job(data: &[u8]) {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    use crate::domain::fanout::{AccountResult, Job};
    match Job::parse(body) {
        Ok(job) => {
            assert_eq!(Job::parse(&job.to_body()), Ok(job.clone()), "round trip");
            if let Job::Summary(mut summary) = job {
                let finished_before: Vec<String> = summary
                    .results
                    .iter()
                    .filter(|r| r.finished && r.incident == summary.incident.id)
                    .map(|r| r.account.id.clone())
                    .collect();
                let gathered = summary.results.clone();
                summary.results.clear();
                summary.merge(gathered);
                let mut ids: Vec<&str> = summary
                    .results
                    .iter()
                    .map(|r| r.account.id.as_str())
                    .collect();
                let n = ids.len();
                ids.sort();
                ids.dedup();
                assert_eq!(ids.len(), n, "one result per account");
                assert!(summary
                    .results
                    .iter()
                    .all(|r| r.incident == summary.incident.id));
                for id in finished_before {
                    assert!(summary
                        .results
                        .iter()
                        .any(|r| r.account.id == id && r.finished));
                }
            }
        }
        Err(why) => check_reason(&why),
    }
    if let Ok(result) = AccountResult::parse(body) {
        let again = serde_json::to_string(&result).unwrap_or_default();
        assert_eq!(AccountResult::parse(&again), Ok(result));
    }
}

/// A refusal names the variable it is about: a missing one is unset or blank,
/// an invalid one is set and the message quotes (part of) what it holds.
fn check_refusal(e: &ConfigError, vars: &HashMap<String, String>) {
    let text = e.to_string();
    assert!(!text.contains('\n'), "one line: {text:?}");
    match e {
        ConfigError::Missing { name, .. } => {
            assert!(text.starts_with(name));
            assert!(
                vars.get(*name).is_none_or(|v| v.trim().is_empty()),
                "{text}"
            );
        }
        ConfigError::Invalid { name, value, .. } => {
            assert!(text.starts_with(&format!("{name}=")), "{text}");
            let set = vars.get(*name);
            assert!(
                set.is_some_and(|raw| raw.contains(value.as_str())),
                "{text}"
            );
        }
    }
}

/// An RDS event as keep-stopped receives it: parsed or refused with a short
/// one-line reason, and what it names is an RDS ARN's own database.
pub fn rds_event(data: &[u8]) {
    let Some(value) = json(data) else {
        return;
    };
    match trigger::rds_event::parse_rds_event(&value) {
        Ok(e) => {
            assert!(
                !e.id.is_empty() && e.arn.ends_with(&format!(":{}", e.id)),
                "{e:?}"
            );
            assert!(!e.message.contains('\n'));
            assert_eq!(trigger::rds_event::parse_rds_event(&value), Ok(e));
        }
        Err(why) => check_reason(&why),
    }
}

/// The resume function's payload: read, or refused with a reason that shows
/// the accepted form; what is read asks for nothing the payload did not say.
pub fn resume_payload(data: &[u8]) {
    let Some(value) = json(data) else {
        return;
    };
    match crate::domain::resume::ResumeRequest::from_payload(&value) {
        Ok(request) => {
            // Only `null` and objects read; every field is one the payload holds.
            assert!(value.is_null() || value.is_object(), "{value}");
            assert_eq!(
                request.dry_run,
                value.get("dry_run") == Some(&serde_json::Value::Bool(true))
            );
            assert_eq!(
                request.stopped_by.is_some(),
                value.get("stopped_by").is_some_and(|v| v.is_string())
            );
        }
        Err(why) => {
            check_reason(&why);
            assert!(why.contains("\"dry_run\": true"), "{why}");
        }
    }
}

/// An EventBridge event as launch-tripwire receives it, decided under the
/// default settings and under the most eager ones (every type costly, one
/// allowed region, quarantine on), with every request the event names marked
/// and not. The promises: only instances the input itself names can be
/// stopped (checked against the raw text, not the parser), and only by a call
/// that succeeded, a finding of abuse about an instance that is not exempt,
/// or a launch for a marked request; a start stops only what it started; a
/// tag write or a region enabled never stops anything; stop protection is
/// never turned off on what a finding or a start of an unstamped instance
/// names; root is never trusted; the stamp is a valid tag value; the alert's
/// subject is one line of at most 100 characters.
/// Whether one of the strings in `value` contains `s`.
fn names(value: &serde_json::Value, s: &str) -> bool {
    match value {
        serde_json::Value::String(v) => v.contains(s),
        serde_json::Value::Array(a) => a.iter().any(|v| names(v, s)),
        serde_json::Value::Object(o) => o.values().any(|v| names(v, s)),
        _ => false,
    }
}

pub fn launch_event(data: &[u8]) {
    use crate::domain::config::TripwireConfig;
    use crate::domain::render::launch_tripwire::{render, Alerting, Event};
    use crate::domain::trigger::launch::{parse_tripwire_event, CallKind, TripwireEvent};
    use crate::domain::tripwire::{
        decide_call, decide_finding, decide_fleet_launch, stamp_label, trusted_by, Context,
        GuardRoles, Observed, Purpose, Verdict,
    };
    use std::collections::BTreeMap;

    let Some(value) = json(data) else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    let parsed = parse_tripwire_event(&value);
    assert_eq!(parsed, parse_tripwire_event(&value), "deterministic");
    let configs = [
        TripwireConfig::from_lookup(&|_| None).expect("the defaults are valid"),
        TripwireConfig::from_lookup(&|name| match name {
            "TRIPWIRE_INSTANCE_TYPES" => Some("*".into()),
            "TRIPWIRE_ALLOWED_REGIONS" => Some("us-east-1".into()),
            "TRIPWIRE_TRUSTED_PRINCIPALS" => Some("arn:*:iam::*:user/trusted-*".into()),
            "TRIPWIRE_QUARANTINE" => Some("on".into()),
            _ => None,
        })
        .expect("the eager settings are valid"),
    ];
    let roles = GuardRoles {
        resume: vec!["AROAFUZZRESUMEROLE01".into()],
        others: vec!["AROAFUZZSWEEPROLE001".into()],
        ..Default::default()
    };
    // As EC2 writes them, checked here on their own rather than by the parser:
    // an instance is i- and 8 or 17 hexadecimal digits; a spot fleet request
    // or an EC2 Fleet a UUID; a spot instance request letters and digits.
    let valid_id = |id: &str| {
        id.strip_prefix("i-").is_some_and(|hex| {
            (hex.len() == 8 || hex.len() == 17) && hex.chars().all(|c| c.is_ascii_hexdigit())
        })
    };
    let valid_request = |id: &str| {
        let uuid = |s: &str| {
            let groups: Vec<&str> = s.split('-').collect();
            groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
                && groups
                    .iter()
                    .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
        };
        match id.split_once('-') {
            Some(("sfr" | "fleet", rest)) => uuid(rest),
            Some(("sir", rest)) => {
                !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric())
            }
            _ => false,
        }
    };
    let event = match &parsed {
        Err(why) | Ok(TripwireEvent::Ignored(why)) => return check_reason(why),
        Ok(TripwireEvent::Call(c)) => Event::Call(c),
        Ok(TripwireEvent::Finding(f)) => Event::Finding(f),
        Ok(TripwireEvent::FleetLaunch(l)) => Event::FleetLaunch(l),
    };
    let Ok(parsed_event) = &parsed else {
        unreachable!("returned above")
    };
    // The requests the event names: marked, in the second round.
    let mut requests: Vec<String> = Vec::new();
    let observed: Vec<Observed> = match event {
        Event::Call(c) => {
            assert!(
                !c.event_name.is_empty() && is_region_name(&c.region),
                "{c:?}"
            );
            match &c.kind {
                CallKind::Launch(l) => {
                    requests.extend(l.spot_requests.iter().cloned());
                    requests.extend(l.spot_fleets.iter().cloned());
                    requests.extend(l.fleets.iter().cloned());
                    Observed::from_event(l)
                }
                CallKind::FirstMove(what) => {
                    check_reason(what);
                    Vec::new()
                }
                CallKind::Tagging(w) => {
                    for r in &w.resources {
                        check_reason(r);
                    }
                    Vec::new()
                }
                CallKind::EnableRegion(r) => {
                    assert!(r.region.as_deref().is_none_or(is_region_name), "{r:?}");
                    Vec::new()
                }
                CallKind::Compute(cc) => {
                    check_reason(&cc.describe());
                    // What it would act on is what the event names.
                    for t in &cc.tasks {
                        // Compared with the event's strings as JSON decodes
                        // them: the raw text escapes a backslash.
                        assert!(names(&value, t), "{t} not named");
                    }
                    Vec::new()
                }
            }
        }
        Event::Finding(f) => {
            assert!(is_region_name(&f.region), "{f:?}");
            Observed::from_finding(f)
        }
        Event::FleetLaunch(l) => {
            assert!(is_region_name(&l.region), "{l:?}");
            assert!(valid_request(&l.request), "{l:?}");
            requests.push(l.request.clone());
            let mut i = Observed::named(&l.instance_id, l.instance_type.as_deref());
            i.requests = vec![l.request.clone()];
            vec![i]
        }
    };
    let label = stamp_label(parsed_event);
    assert!(observed.iter().all(|i| valid_id(&i.id)), "{observed:?}");
    assert!(
        label.len() <= 256
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.:/=+-@".contains(c)),
        "{label:?}"
    );
    let unmarked = BTreeMap::new();
    let marked: BTreeMap<String, String> = requests
        .iter()
        .map(|r| (r.clone(), "ev user/someone".to_string()))
        .collect();
    for cfg in &configs {
        for marks in [&unmarked, &marked] {
            let ctx = Context {
                cfg,
                roles: &roles,
                account: Some("123456789012"),
                marked: marks,
                exempt_key: "cost-guard-exempt",
            };
            let verdict = match event {
                Event::Call(c) => {
                    for purpose in [Purpose::Launch, Purpose::Tagging, Purpose::Other] {
                        if let Some(p) = trusted_by(&c.principal, &ctx, purpose) {
                            assert!(!c.principal.is_root(), "root trusted: {p}");
                        }
                    }
                    decide_call(c, &observed, &ctx)
                }
                Event::Finding(f) => decide_finding(f, observed.first(), &ctx),
                Event::FleetLaunch(l) => decide_fleet_launch(l, observed.first(), &ctx),
            };
            match &verdict {
                Verdict::Stop { targets, .. } => {
                    assert!(!targets.is_empty());
                    for t in targets {
                        assert!(
                            valid_id(&t.id) && text.contains(&t.id),
                            "{} not named",
                            t.id
                        );
                        check_reason(&t.why);
                    }
                    match event {
                        Event::Call(c) => {
                            assert!(c.error.is_none(), "a failed call stopped");
                            let CallKind::Launch(l) = &c.kind else {
                                panic!("{:?} stopped instances", c.kind)
                            };
                            if c.event_name == "StartInstances" {
                                for t in targets {
                                    assert!(
                                        l.instances.iter().any(|i| i.id == t.id && i.was_stopped()),
                                        "{} was not started by the call",
                                        t.id
                                    );
                                    assert!(!t.may_unprotect, "an unstamped start unprotected");
                                }
                            }
                        }
                        Event::Finding(f) => {
                            assert!(f.means_abuse(), "{}", f.finding_type);
                            assert!(targets.iter().all(|t| !t.may_unprotect));
                        }
                        Event::FleetLaunch(l) => {
                            assert!(
                                marks.contains_key(&l.request),
                                "an unmarked request's launch stopped"
                            )
                        }
                    }
                }
                Verdict::Wait { why } => {
                    check_reason(why);
                    assert!(
                        matches!(event, Event::Call(c) if c.launch().is_some_and(|l| !crate::domain::tripwire::requests_of(l).is_empty()))
                    );
                }
                Verdict::Retry(why) => {
                    check_reason(why);
                    assert!(matches!(event, Event::FleetLaunch(_)));
                }
                Verdict::Halt { why } => {
                    check_reason(why);
                    let Event::Call(c) = event else {
                        panic!("only a compute call halts")
                    };
                    let CallKind::Compute(cc) = &c.kind else {
                        panic!("{:?} halted", c.kind)
                    };
                    assert!(c.error.is_none(), "a failed call halted");
                    assert!(
                        cc.what != crate::domain::trigger::compute::Created::Endpoint,
                        "an endpoint halted"
                    );
                    assert!(
                        trusted_by(&c.principal, &ctx, Purpose::Launch).is_none(),
                        "a trusted call halted"
                    );
                    // Still being made: never stopped now, whatever else.
                    let pending = crate::domain::tripwire::ComputeFacts {
                        pending: Some("creating".into()),
                        ..Default::default()
                    };
                    assert!(!matches!(
                        crate::domain::tripwire::decide_compute(c, cc, &pending, &ctx),
                        Verdict::Halt { .. }
                    ));
                }
                Verdict::Alert { why, .. } | Verdict::Quiet(why) => check_reason(why),
            }
            // What is remembered is what the input names, and only a call's.
            if let Event::Call(c) = event {
                for r in crate::domain::tripwire::requests_to_mark(c, &ctx) {
                    assert!(text.contains(r.as_str()), "{r} not named");
                    assert!(valid_request(&r), "{r} is no request id EC2 writes");
                    assert!(c.error.is_none(), "a failed call's request remembered");
                }
            }
            let stamp = crate::domain::outcome::Stamp {
                at: "2026-01-01T00:00:00Z".into(),
                by: label.clone(),
            };
            // The handler passes a member account only when it is an account id.
            let member = match event {
                Event::Call(c) => c.account.as_deref(),
                Event::Finding(f) => f.account.as_deref(),
                Event::FleetLaunch(l) => l.account.as_deref(),
            }
            .filter(|a| crate::domain::accounts::is_account_id(a));
            let at = Alerting {
                member,
                guard_account: Some("123456789012"),
                home_region: "us-east-1",
                resume_function: Some("cost-guard-resume"),
                exempt_key: "cost-guard-exempt",
            };
            // Rendered as the handler renders it: before a stop is tried
            // (no outcome), and after it, each way it can go. A stop's
            // subject says which, whatever the input made of the rest.
            let mut outcomes = vec![None];
            if let Verdict::Stop { targets, .. } = &verdict {
                let ids: Vec<String> = targets.iter().map(|t| t.id.clone()).collect();
                let done = crate::domain::tripwire::StopOutcome {
                    stopped: ids.clone(),
                    ..Default::default()
                };
                let dry = crate::domain::tripwire::StopOutcome {
                    dry_run: true,
                    ..done.clone()
                };
                let failed = crate::domain::tripwire::StopOutcome {
                    failed: ids
                        .iter()
                        .map(|i| (i.clone(), "AccessDenied".into()))
                        .collect(),
                    ..Default::default()
                };
                outcomes.extend([Some(done), Some(dry), Some(failed)]);
            }
            for outcome in &outcomes {
                let Some(m) = render(event, &observed, &verdict, outcome.as_ref(), &stamp, &at)
                else {
                    assert!(
                        matches!(verdict, Verdict::Quiet(_) | Verdict::Retry(_)),
                        "{verdict:?} sent nothing"
                    );
                    continue;
                };
                assert!(
                    m.subject.chars().count() <= 100
                        && m.subject.chars().all(|c| c.is_ascii_graphic() || c == ' '),
                    "{:?}",
                    m.subject
                );
                assert!(!m.body.is_empty());
                if matches!(verdict, Verdict::Stop { .. }) {
                    let says = match outcome {
                        Some(o) if o.dry_run => "URGENT: [dry run] cost-guard would stop ",
                        Some(o) if !o.stopped.is_empty() => "URGENT: cost-guard stopped ",
                        _ => "URGENT: cost-guard could NOT stop ",
                    };
                    assert!(
                        m.subject.starts_with(says),
                        "{:?}: {:?}",
                        outcome,
                        m.subject
                    );
                }
            }
        }
    }
}

/// Input that is JSON, as the functions' runtime would have decoded it.
fn json(data: &[u8]) -> Option<serde_json::Value> {
    serde_json::from_slice(data).ok()
}

fn check_amounts(amounts: impl IntoIterator<Item = Option<Amount>>) {
    amounts.into_iter().flatten().for_each(check_amount);
}

fn check_message(text: &str) {
    let trigger = trigger::parse_message(text);
    assert_eq!(trigger, trigger::parse_message(text), "not deterministic");
    if text.len() > trigger::MAX_MESSAGE_BYTES {
        assert!(matches!(trigger, Trigger::Unrecognised { .. }));
    }
    check_trigger(&trigger);
    for policy in &POLICIES {
        if decide(&trigger, policy).verdict == Verdict::Act {
            check_evidence(text, &trigger, policy);
        }
    }
}

/// A message that acts says so itself: read again here, apart from the
/// parsers and the policy, the message must hold the state, alert type or
/// impact that the verdict rests on.
fn check_evidence(text: &str, trigger: &Trigger, policy: &Policy) {
    // As delivered: a byte-order mark and surrounding blanks are not content.
    let body = text.trim_start_matches('\u{feff}').trim();
    let value: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let field = |key: &str| value.as_ref().and_then(|v| v.get(key));
    match trigger {
        Trigger::Alarm(_) => {
            let state = field("NewStateValue")
                .and_then(|s| s.as_str())
                .map(str::trim);
            assert_eq!(
                state,
                Some("ALARM"),
                "an alarm acted without being in ALARM"
            );
        }
        Trigger::Anomaly(_) => {
            let impact = field("impact")
                .and_then(|i| i.get("totalImpact"))
                .and_then(|t| t.as_f64().or_else(|| t.as_str()?.trim().parse().ok()));
            let min = match policy.anomaly {
                AnomalyAction::Stop { min_impact_usd } => min_impact_usd,
                AnomalyAction::Report => f64::INFINITY,
            };
            assert!(
                impact.is_some_and(|i| i >= min),
                "anomaly acted on impact {impact:?}"
            );
        }
        Trigger::Budget(_) => {
            // The alert type, as a `Key: value` line of the text or a JSON value.
            let said = |word: &str| match &value {
                Some(v) => json_strings(v)
                    .iter()
                    .any(|s| s.trim().eq_ignore_ascii_case(word)),
                None => text.lines().any(|l| {
                    let l = l.to_ascii_lowercase();
                    l.contains("alert type") && l.contains(&word.to_ascii_lowercase())
                }),
            };
            assert!(
                said("ACTUAL")
                    || (policy.act_on_forecasted && (said("FORECASTED") || said("FORECAST"))),
                "a budget acted without an ACTUAL alert type"
            );
        }
        Trigger::Unrecognised { .. } => panic!("acted on an unrecognised message"),
    }
}

/// Every string in a JSON value, keys' values at any depth.
fn json_strings(v: &serde_json::Value) -> Vec<&str> {
    match v {
        serde_json::Value::String(s) => vec![s.as_str()],
        serde_json::Value::Array(a) => a.iter().flat_map(json_strings).collect(),
        serde_json::Value::Object(o) => o.values().flat_map(json_strings).collect(),
        _ => Vec::new(),
    }
}

fn check_trigger(trigger: &Trigger) {
    let label = trigger.stamp_label();
    assert!(label.chars().count() <= 256);
    assert!(
        label
            .chars()
            .all(|c| c.is_alphanumeric() || " _.:/=+-@".contains(c)),
        "{label:?}"
    );
    assert!(!trigger.headline().is_empty());
    if let Trigger::Unrecognised { why, excerpt } = trigger {
        check_reason(why);
        check_excerpt(excerpt);
    }
    for policy in &POLICIES {
        let decision = decide(trigger, policy);
        assert!(!decision.why.is_empty());
        if matches!(trigger, Trigger::Unrecognised { .. }) {
            assert_eq!(decision.verdict, Verdict::Report, "acted on {trigger:?}");
        }
    }
}

fn check_amount(amount: Amount) {
    let v = amount.value();
    assert!(v.is_finite() && (0.0..=MAX_AMOUNT).contains(&v), "{v}");
    assert!(!amount.to_string().is_empty());
}

/// An excerpt: at most 300 characters and an ellipsis, on one line.
fn check_excerpt(text: &str) {
    assert!(
        text.chars().count() <= 301,
        "{} characters",
        text.chars().count()
    );
    assert!(!text.chars().any(char::is_control), "{text:?}");
}

/// A reason shown to the user: not empty, one line, bounded whatever the input.
fn check_reason(text: &str) {
    assert!(!text.is_empty());
    assert!(
        text.chars().count() <= 1000,
        "{} characters",
        text.chars().count()
    );
    assert!(!text.chars().any(char::is_control), "{text:?}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn files(dir: &Path) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        files
    }

    #[test]
    fn every_sample_event_keeps_every_promise() {
        let events = files(&repo().join("events"));
        assert!(events.len() >= 10, "events/ has {} files", events.len());
        for path in events {
            let data = std::fs::read(&path).unwrap();
            for (name, target) in TARGETS {
                let result = std::panic::catch_unwind(|| target(&data));
                assert!(
                    result.is_ok(),
                    "{name} broke a promise on {}",
                    path.display()
                );
            }
        }
    }

    #[test]
    fn every_saved_crash_keeps_every_promise() {
        let dir = repo().join("fuzz/regressions");
        let known: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
        for sub in std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()) {
            let name = sub.file_name().to_string_lossy().into_owned();
            if !sub.path().is_dir() {
                continue;
            }
            assert!(
                known.contains(&name.as_str()),
                "fuzz/regressions/{name}: no such target"
            );
            let target = TARGETS.iter().find(|(n, _)| *n == name).unwrap().1;
            for path in files(&sub.path()) {
                let data = std::fs::read(&path).unwrap();
                target(&data);
            }
        }
    }

    #[test]
    fn the_burn_regressions_reach_the_checks_they_are_for() {
        // An amount and a memory that read back, so fuzz::burn checks both...
        let seed =
            std::fs::read_to_string(repo().join("fuzz/regressions/burn/memory-over-the-limit"))
                .unwrap();
        let (amount, memory) = seed.split_once('\n').unwrap();
        assert!(crate::domain::burn::usd::Usd::parse(amount).is_some());
        assert!(crate::domain::burn::watch::read_memory(memory).is_some());
        // ... and burn-watch's settings that are accepted, so fuzz::settings
        // checks what it promises of them.
        let text = std::fs::read_to_string(
            repo().join("fuzz/regressions/settings/burn-watch-configured.txt"),
        )
        .unwrap();
        let vars: HashMap<String, String> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert!(crate::domain::config::BurnWatchConfig::from_map(&vars).is_ok());
    }

    #[test]
    fn a_broken_promise_is_caught() {
        // Each check must be able to fail. A message that acted without its
        // evidence: an alarm "acting" from a message in OK state ...
        let ok = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/alarm-billing-ok.json"
        ));
        let event: serde_json::Value = serde_json::from_str(ok).unwrap();
        let message = trigger::parse_sns_event(&event).unwrap()[0].message.clone();
        let Trigger::Alarm(mut alarm) = trigger::parse_message(&message) else {
            panic!("the sample is an alarm")
        };
        alarm.state = trigger::AlarmState::Alarm;
        let forged = Trigger::Alarm(alarm);
        let caught = std::panic::catch_unwind(|| check_evidence(&message, &forged, &POLICIES[0]));
        assert!(caught.is_err(), "an alarm in OK state passed as acting");
        // ... a line break in an excerpt, and a refusal that blames an unset variable.
        assert!(std::panic::catch_unwind(|| check_excerpt("line\nbreak")).is_err());
        let unset = ConfigError::Invalid {
            name: "REGIONS",
            value: "Mars".into(),
            expected: "region names",
        };
        let caught = std::panic::catch_unwind(|| check_refusal(&unset, &HashMap::new()));
        assert!(
            caught.is_err(),
            "a refusal of a variable that is not set passed"
        );
    }
}
