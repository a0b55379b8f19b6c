//! Every file in `events/` through the envelope, the parsers and the policy.

use super::*;
use crate::config::AnomalyAction;
use crate::policy::{decide, Policy, Verdict};

macro_rules! event {
    ($name:literal) => {
        ($name, include_str!(concat!("../../../../events/", $name)))
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
