//! What root-login-alert's subscribers read: who used the root user, from
//! where, with or without MFA, what to do now, and the sweep when one ran. Pure.

use std::fmt::Write as _;

use crate::domain::outcome::{Stamp, SweepReport};
use crate::domain::policy::Assessment;
use crate::domain::render::{self, Message};
use crate::domain::trigger::root::{Outcome, RootActivity, RootEventKind};

pub(crate) fn or_unknown(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("unknown")
}

/// `2026-11-22 07:58:12 UTC`, or the text as it came.
fn utc(time: &Option<String>) -> String {
    let Some(t) = time else {
        return "unknown".into();
    };
    match time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339) {
        Ok(dt) => {
            let dt = dt.to_offset(time::UtcOffset::UTC);
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
                dt.year(),
                u8::from(dt.month()),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second()
            )
        }
        Err(_) => t.clone(),
    }
}

/// The alert subscribers read. `sweep` is the stop sweep's report, when one ran.
pub(crate) fn render_alert(
    a: &RootActivity,
    assessment: &Assessment,
    sweep: Option<(&SweepReport, &Stamp)>,
    sweep_error: Option<&str>,
    resume_function: Option<&str>,
) -> Message {
    let account = or_unknown(&a.account);
    let ip = or_unknown(&a.source_ip);
    let mut subject = match (a.kind, &a.outcome) {
        (RootEventKind::ConsoleSignIn, Outcome::Failure(_)) => {
            format!("Failed root sign-in to {account} from {ip}")
        }
        (RootEventKind::ConsoleSignIn, _) => format!(
            "Root sign-in to {account} from {ip} {}",
            match a.mfa_used {
                Some(true) => "with MFA",
                Some(false) => "without MFA",
                None => "(MFA unknown)",
            }
        ),
        (RootEventKind::ApiCall, Outcome::Failure(_)) => {
            format!("Root user tried {} in {account} from {ip}", a.action())
        }
        (RootEventKind::ApiCall, _) => {
            format!("Root user called {} in {account} from {ip}", a.action())
        }
    };
    if assessment.urgent {
        subject.insert_str(0, "URGENT: ");
    }
    if assessment.trusted.is_some() {
        subject.push_str(" (trusted network)");
    }
    if let Some((s, _)) = sweep {
        let verb = if s.dry_run { "would stop" } else { "stopped" };
        let _ = write!(subject, "; {verb} {}", s.stopped_count());
    }

    let mut b = String::new();
    let _ = writeln!(b, "{}", assessment.headline);
    if let Some(range) = assessment.trusted {
        let _ = writeln!(
            b,
            "The source address is in a trusted network ({range}, from ROOT_TRUSTED_CIDRS)."
        );
    }
    b.push_str("\nWHAT HAPPENED\n");
    let activity = match a.kind {
        RootEventKind::ConsoleSignIn => "console sign-in (ConsoleLogin)".to_string(),
        RootEventKind::ApiCall => format!("API call {}", a.action()),
    };
    let outcome = match &a.outcome {
        Outcome::Success => "success".to_string(),
        Outcome::Failure(Some(m)) => format!("FAILURE: {m}"),
        Outcome::Failure(None) => "FAILURE (no error message in the event)".to_string(),
        Outcome::Unknown => "unknown".to_string(),
    };
    let mfa = match a.mfa_used {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "unknown",
    };
    let network = match assessment.trusted {
        Some(r) => format!(" (trusted network {r})"),
        None if a.source_ip.is_some() => " (not in a trusted network)".to_string(),
        None => String::new(),
    };
    let rows = [
        ("Account", account.to_string()),
        ("Time", utc(&a.time)),
        ("Activity", activity),
        ("Outcome", outcome),
        ("MFA used", mfa.to_string()),
        ("Source IP", format!("{ip}{network}")),
        ("User agent", or_unknown(&a.user_agent).to_string()),
        ("Event region", or_unknown(&a.region).to_string()),
        ("Event id", or_unknown(&a.event_id).to_string()),
        (
            "CloudTrail",
            a.cloudtrail_link()
                .unwrap_or_else(|| "unknown (no event id)".into()),
        ),
    ];
    for (k, v) in rows {
        let _ = writeln!(
            b,
            "{:<14}{}",
            format!("{k}:"),
            crate::domain::trigger::excerpt(&v)
        );
    }

    b.push_str("\nWHAT TO DO NOW\n");
    let history = format!(
        "https://{0}.console.aws.amazon.com/cloudtrail/home?region={0}#/events",
        a.region.as_deref().unwrap_or("us-east-1")
    );
    match (a.kind, &a.outcome) {
        (RootEventKind::ConsoleSignIn, Outcome::Failure(_)) => {
            b.push_str("1. If it was not you: someone knows your root email address and is guessing the password.\n");
            b.push_str("2. Make sure the root password is long and unique, and that MFA is enabled on the root user.\n");
            let _ = writeln!(
                b,
                "3. Look for further attempts in CloudTrail event history: {history}"
            );
        }
        _ => {
            b.push_str("1. If this was you, nothing to do; use an IAM Identity Center or IAM user for daily work.\n");
            b.push_str("2. If it was NOT you: sign in as root now and change the root password.\n");
            b.push_str(
                "3. Enable MFA on the root user (IAM > Security credentials) if it is not on.\n",
            );
            b.push_str("4. Delete any root access keys, and IAM users, keys or roles you did not create.\n");
            let _ = writeln!(
                b,
                "5. Review recent activity in CloudTrail event history, in every region: {history}\n   Look for CreateAccessKey, CreateUser, RunInstances and StopLogging."
            );
            b.push_str("6. Look for instances you did not start in every region: `cost-guard plan` with SELECTION=all-except-exempt.\n");
            b.push_str("7. If you cannot sign in, contact AWS Support: https://support.aws.amazon.com/#/contacts/aws-account-support\n");
        }
    }
    if let Some(err) = sweep_error {
        let _ = writeln!(
            b,
            "\nWHAT COST-GUARD DID\nROOT_LOGIN_ACTION=stop, but the sweep could not start: {err}"
        );
    }
    if let Some((s, stamp)) = sweep {
        b.push_str("\nWHAT COST-GUARD DID (ROOT_LOGIN_ACTION=stop)\n");
        render::sweep_section(&mut b, s, Some(stamp), resume_function);
    }
    Message {
        subject: render::subject_line(&subject),
        body: b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cidr::{self, Cidr};
    use crate::domain::policy::assess_root;
    use crate::domain::trigger::root::{parse_root_event, RootEvent};

    macro_rules! event {
        ($name:literal) => {
            (
                $name,
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/", $name)),
            )
        };
    }

    const ROOT_EVENTS: &[(&str, &str)] = &[
        event!("root-signin-no-mfa.json"),
        event!("root-signin-mfa.json"),
        event!("root-signin-failure.json"),
        event!("root-signin-trusted.json"),
        event!("iam-user-signin.json"),
        event!("root-api-create-access-key.json"),
        event!("root-signin-missing-fields.json"),
    ];

    fn trusted() -> Vec<Cidr> {
        cidr::parse_list("203.0.113.0/24").unwrap()
    }

    fn alert_for(name: &str) -> Option<(Assessment, Message)> {
        let (_, text) = ROOT_EVENTS.iter().find(|(n, _)| *n == name).unwrap();
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        match parse_root_event(&v).unwrap() {
            RootEvent::Root(a) => {
                let assessment = assess_root(&a, &trusted());
                let m = render_alert(&a, &assessment, None, None, None);
                Some((assessment, m))
            }
            RootEvent::NotRoot { .. } => None,
        }
    }

    #[test]
    fn root_events_are_complete_eventbridge_events() {
        for (name, text) in ROOT_EVENTS {
            let typed: Result<aws_lambda_events::event::cloudwatch_events::CloudWatchEvent, _> =
                serde_json::from_str(text);
            assert!(typed.is_ok(), "{name}: {:?}", typed.err());
        }
    }

    #[test]
    fn subjects_for_every_event_file() {
        let cases = [
            ("root-signin-no-mfa.json", Some("URGENT: Root sign-in to 123456789012 from 198.51.100.23 without MFA")),
            ("root-signin-mfa.json", Some("Root sign-in to 123456789012 from 198.51.100.23 with MFA")),
            ("root-signin-failure.json", Some("URGENT: Failed root sign-in to 123456789012 from 192.0.2.77")),
            (
                "root-signin-trusted.json",
                Some("Root sign-in to 123456789012 from 203.0.113.10 with MFA (trusted network)"),
            ),
            ("iam-user-signin.json", None),
            (
                "root-api-create-access-key.json",
                Some("URGENT: Root user called iam:CreateAccessKey in 123456789012 from 198.51.100.23"),
            ),
            ("root-signin-missing-fields.json", Some("Root sign-in to 123456789012 from 198.51.100.23 (MFA unknown)")),
        ];
        assert_eq!(cases.len(), ROOT_EVENTS.len());
        for (name, want) in cases {
            let got = alert_for(name).map(|(_, m)| m.subject);
            assert_eq!(got.as_deref(), want, "{name}");
            if let Some(s) = got {
                assert!(s.len() <= render::MAX_SUBJECT && s.is_ascii());
            }
        }
    }

    #[test]
    fn body_has_every_field() {
        let (a, m) = alert_for("root-signin-no-mfa.json").unwrap();
        assert!(a.urgent);
        let b = m.body;
        assert!(b.starts_with("URGENT: the root user signed in WITHOUT MFA."));
        for line in [
            "Account:      123456789012",
            "Time:         2026-11-22 07:58:12 UTC",
            "Activity:     console sign-in (ConsoleLogin)",
            "Outcome:      success",
            "MFA used:     NO",
            "Source IP:    198.51.100.23 (not in a trusted network)",
            "User agent:   Mozilla/5.0 (X11; Linux x86_64)",
            "Event region: us-east-1",
            "Event id:     3f6c1d2e-8a4b-4c7d-9e0f-1a2b3c4d5e6f",
            "CloudTrail:   https://us-east-1.console.aws.amazon.com/cloudtrail/home?region=us-east-1#/events/3f6c1d2e-8a4b-4c7d-9e0f-1a2b3c4d5e6f",
            "change the root password",
            "Enable MFA on the root user",
            "Review recent activity",
        ] {
            assert!(b.contains(line), "missing {line:?} in\n{b}");
        }
    }

    #[test]
    fn failure_trusted_and_missing_fields() {
        let (a, m) = alert_for("root-signin-failure.json").unwrap();
        assert!(a.urgent);
        assert!(m
            .body
            .contains("Outcome:      FAILURE: Failed authentication"));
        assert!(m.body.contains("guessing the password"));
        let (a, m) = alert_for("root-signin-trusted.json").unwrap();
        assert!(!a.urgent);
        assert_eq!(a.trusted, Some("203.0.113.0/24".parse().unwrap()));
        assert!(m
            .body
            .contains("Source IP:    203.0.113.10 (trusted network 203.0.113.0/24)"));
        let (_, m) = alert_for("root-signin-missing-fields.json").unwrap();
        assert!(m.body.contains("MFA used:     unknown"));
        assert!(m.body.contains("User agent:   unknown"));
        let (a, m) = alert_for("root-api-create-access-key.json").unwrap();
        assert!(a.urgent);
        assert!(m
            .body
            .contains("Activity:     API call iam:CreateAccessKey"));
        assert!(m.body.contains("User agent:   AWS Internal"));
    }

    #[test]
    fn no_source_ip_is_unknown_and_judged_by_no_network() {
        let (_, text) = ROOT_EVENTS
            .iter()
            .find(|(n, _)| *n == "root-signin-no-mfa.json")
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let RootEvent::Root(mut a) = parse_root_event(&v).unwrap() else {
            panic!()
        };
        a.source_ip = None;
        let m = render_alert(&a, &assess_root(&a, &trusted()), None, None, None);
        assert!(m.body.contains("Source IP:    unknown\n"), "{}", m.body);
    }
}
