//! Every file in `events/` through the envelope, the parsers and the policy.

use super::*;
use crate::domain::config::AnomalyAction;
use crate::domain::policy::{decide, Policy, Verdict};

macro_rules! event {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/", $name)),
        )
    };
}

const SNS_EVENTS: &[(&str, &str)] = &[
    event!("budget-actual.json"),
    event!("budget-forecasted.json"),
    event!("budget-daily.json"),
    event!("alarm-billing-alarm.json"),
    event!("alarm-billing-ok.json"),
    event!("alarm-null-description.json"),
    event!("anomaly.json"),
    event!("unrecognised.json"),
];

const DEFAULT: Policy = Policy {
    act_on_forecasted: false,
    anomaly: AnomalyAction::Report,
};

fn trigger_of(name: &str) -> Trigger {
    let (_, text) = SNS_EVENTS.iter().find(|(n, _)| *n == name).unwrap();
    let event: serde_json::Value = serde_json::from_str(text).unwrap();
    let records = parse_sns_event(&event).unwrap();
    assert_eq!(records.len(), 1, "{name}");
    parse_message(&records[0].message)
}

#[test]
fn the_accounts_an_alert_concerns() {
    // A budget: the account in its header.
    assert_eq!(
        trigger_of("budget-actual.json").accounts(),
        Some(vec!["123456789012".to_string()])
    );
    // An anomaly: the linked accounts of its root causes, each once, sorted.
    let Trigger::Anomaly(mut an) = trigger_of("anomaly.json") else {
        panic!()
    };
    an.root_causes[0].linked_account = Some("222222222222".into());
    an.root_causes[1].linked_account = Some("111111111111".into());
    an.root_causes.push(an.root_causes[0].clone());
    assert_eq!(
        Trigger::Anomaly(an.clone()).accounts(),
        Some(vec!["111111111111".to_string(), "222222222222".to_string()])
    );
    // None linked: the monitor's own account; none at all: not known.
    for c in &mut an.root_causes {
        c.linked_account = None;
    }
    assert_eq!(
        Trigger::Anomaly(an.clone()).accounts(),
        Some(vec!["123456789012".to_string()])
    );
    an.account = None;
    assert_eq!(Trigger::Anomaly(an).accounts(), None);
    // A billing alarm watches the whole bill.
    assert_eq!(trigger_of("alarm-billing-alarm.json").accounts(), None);
}

#[test]
fn sample_events_are_complete_sns_events() {
    for (name, text) in SNS_EVENTS {
        let typed: Result<aws_lambda_events::event::sns::SnsEvent, _> = serde_json::from_str(text);
        assert!(typed.is_ok(), "{name}: {:?}", typed.err());
    }
}

#[test]
fn every_sample_event_parses_and_decides_as_documented() {
    use Verdict::*;
    let expected = [
        (
            "budget-actual.json",
            "budget student-monthly: $1,287.34 > $40.00",
            Act,
        ),
        (
            "budget-forecasted.json",
            "budget student-monthly: $61.20 > $40.00 forecast",
            Report,
        ),
        ("budget-daily.json", "budget gpu-daily: $18.75 > $8.00", Act),
        (
            "alarm-billing-alarm.json",
            "billing alarm cost-guard-billing ALARM (> $100.00)",
            Act,
        ),
        (
            "alarm-billing-ok.json",
            "billing alarm cost-guard-billing OK (> $100.00)",
            Report,
        ),
        (
            "alarm-null-description.json",
            "billing alarm cost-guard-billing ALARM (> $200.00)",
            Act,
        ),
        (
            "anomaly.json",
            "cost anomaly $825.10 in Amazon Elastic Compute Cloud - Compute",
            Report,
        ),
        ("unrecognised.json", "unrecognised message", Report),
    ];
    assert_eq!(expected.len(), SNS_EVENTS.len());
    for (name, headline, verdict) in expected {
        let t = trigger_of(name);
        assert_eq!(t.headline(), headline, "{name}");
        assert_eq!(decide(&t, &DEFAULT).verdict, verdict, "{name}");
    }
}

#[test]
fn sample_details() {
    let Trigger::Budget(daily) = trigger_of("budget-daily.json") else {
        panic!()
    };
    assert!(daily.daily);
    assert_eq!(
        trigger_of("budget-actual.json").stamp_label(),
        "budget:student-monthly"
    );
    let Trigger::Alarm(a) = trigger_of("alarm-null-description.json") else {
        panic!()
    };
    assert_eq!(a.description, None);
    assert!(a.is_billing());
    let Trigger::Anomaly(an) = trigger_of("anomaly.json") else {
        panic!()
    };
    assert_eq!(an.root_causes.len(), 2);
    let stop = Policy {
        anomaly: AnomalyAction::Stop {
            min_impact_usd: 100.0,
        },
        ..DEFAULT
    };
    assert_eq!(decide(&Trigger::Anomaly(an), &stop).verdict, Verdict::Act);
    let Trigger::Unrecognised { excerpt, .. } = trigger_of("unrecognised.json") else {
        panic!()
    };
    assert!(excerpt.starts_with("Hello! Your free trial"));
}

mod hostile {
    //! Garbage, truncated, mutated and oversized input: every parser answers
    //! with a value or an error, never a panic, and nothing unrecognised acts.
    use super::*;
    use proptest::prelude::*;

    const ROOT_EVENTS: &[(&str, &str)] = &[
        event!("root-signin-no-mfa.json"),
        event!("root-signin-failure.json"),
        event!("root-api-create-access-key.json"),
        event!("iam-user-signin.json"),
    ];

    fn all_samples() -> Vec<&'static str> {
        SNS_EVENTS
            .iter()
            .chain(ROOT_EVENTS)
            .map(|(_, text)| *text)
            .collect()
    }

    /// Every parser on one input, as a message body and as a Lambda event:
    /// every trigger found, with its verdict under the default policy.
    fn parse_everything(text: &str) -> Vec<(Trigger, Verdict)> {
        let decided = |t: Trigger| {
            let v = decide(&t, &DEFAULT).verdict;
            (t, v)
        };
        let mut found = vec![decided(parse_message(text))];
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
            if let Ok(records) = parse_sns_event(&value) {
                found.extend(records.iter().map(|r| decided(parse_message(&r.message))));
            }
            check_root(&value);
        }
        found
    }

    /// root-login-alert's reading: root activity only where the raw event
    /// itself says the identity is root, and a refusal is one clean line.
    fn check_root(value: &serde_json::Value) {
        use crate::domain::trigger::root::{parse_root_event, RootEvent};
        match parse_root_event(value) {
            Ok(RootEvent::Root(activity)) => {
                let said = value
                    .pointer("/detail/userIdentity/type")
                    .and_then(serde_json::Value::as_str)
                    .map(str::trim);
                assert_eq!(said, Some("Root"), "{activity:?} from {value}");
                assert!(!activity.event_name.is_empty());
            }
            Ok(RootEvent::NotRoot { event_name, .. }) => assert!(!event_name.is_empty()),
            Err(why) => assert!(
                !why.is_empty() && why.len() <= 1000 && !why.chars().any(char::is_control),
                "{why:?}"
            ),
        }
    }

    fn acts(found: &[(Trigger, Verdict)]) -> bool {
        found.iter().any(|(_, v)| *v == Verdict::Act)
    }

    /// Which family a trigger belongs to.
    fn family(t: &Trigger) -> &'static str {
        match t {
            Trigger::Budget(_) => "budget",
            Trigger::Alarm(_) => "alarm",
            Trigger::Anomaly(_) => "anomaly",
            Trigger::Unrecognised { .. } => "unrecognised",
        }
    }

    #[test]
    fn deeply_nested_huge_and_non_numeric_input_is_refused() {
        let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(
            parse_message(&nested),
            Trigger::Unrecognised { .. }
        ));
        assert!(!acts(&parse_everything(&nested)));
        let oversized = format!("{{\"Records\": \"{}\"}}", "x".repeat(300 * 1024));
        assert!(!acts(&parse_everything(&oversized)));
        let alarm = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/alarm-billing-alarm.json"
        ));
        let sample_threshold = "\\\"Threshold\\\": 100.0";
        assert!(alarm.contains(sample_threshold), "the sample changed");
        for amount in ["1e400", "-1", "NaN", "Infinity", "99999999999999999999999"] {
            let hostile = alarm.replace(sample_threshold, &format!("\\\"Threshold\\\": {amount}"));
            let value: serde_json::Value = serde_json::from_str(&hostile).unwrap();
            let records = parse_sns_event(&value).unwrap();
            assert_eq!(records.len(), 1);
            // An ALARM with a threshold that is no amount is refused, not acted on.
            let t = parse_message(&records[0].message);
            assert!(matches!(t, Trigger::Unrecognised { .. }), "{amount}: {t:?}");
            assert!(!acts(&parse_everything(&hostile)), "{amount}");
        }
        let budget = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/budget-actual.json"
        ))
        .replace("$1,287.34", "$1e400");
        let value: serde_json::Value = serde_json::from_str(&budget).unwrap();
        for r in parse_sns_event(&value).unwrap() {
            // Refused with a clear reason, not misread as $1; nothing acts.
            match parse_message(&r.message) {
                Trigger::Unrecognised { why, .. } => {
                    assert!(why.contains("`ACTUAL Amount: $1e400`"), "{why}")
                }
                other => panic!("{other:?}"),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics_and_never_acts(text in ".{0,400}") {
            prop_assert!(!acts(&parse_everything(&text)));
        }

        #[test]
        fn a_mutated_sample_acts_only_as_what_it_was(
            which in 0usize..12,
            cut in 0usize..4000,
            at in 0usize..4000,
            insert in prop::sample::select(&["\"", "{", "]", "\\u0000", "null", "-1", "1e999", "\u{feff}", ","][..]),
        ) {
            let samples = all_samples();
            let text = samples[which % samples.len()];
            let cut = cut.min(text.len());
            let at = at.min(cut);
            if text.is_char_boundary(cut) && text.is_char_boundary(at) {
                let mutated = format!("{}{insert}{}", &text[..at], &text[at..cut]);
                let found = parse_everything(&mutated);
                prop_assert_eq!(&found, &parse_everything(&mutated), "deterministic");
                // Whatever the damage, it never turns into another kind of
                // alert that acts, and what no longer reads as JSON stops nothing.
                let was: Vec<&str> = parse_everything(text).iter().map(|(t, _)| family(t)).collect();
                for (t, v) in &found {
                    if *v == Verdict::Act {
                        prop_assert!(was.contains(&family(t)), "{} sample acted as {t:?}", was.join("/"));
                    }
                }
                if serde_json::from_str::<serde_json::Value>(&mutated).is_err() {
                    prop_assert!(!acts(&found), "broken JSON acted: {found:?}");
                }
            }
        }
    }
}
