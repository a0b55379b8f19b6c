//! Whether a trigger means "stop now" or only "tell the user", and how
//! urgent a use of the root user is. Pure.

use crate::domain::cidr::Cidr;
use crate::domain::config::AnomalyAction;
use crate::domain::trigger::root::{Outcome, RootActivity, RootEventKind};
use crate::domain::trigger::{AlarmState, BudgetAlertType, Trigger};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Run the stop sweep.
    Act,
    /// Tell subscribers; stop nothing.
    Report,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decision {
    pub verdict: Verdict,
    /// One sentence for the report: why it acted or why it did not.
    pub why: String,
}

/// The parts of the configuration that policy reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Policy {
    pub act_on_forecasted: bool,
    pub anomaly: AnomalyAction,
}

pub(crate) fn decide(trigger: &Trigger, policy: &Policy) -> Decision {
    let act = |why: String| Decision {
        verdict: Verdict::Act,
        why,
    };
    let report = |why: String| Decision {
        verdict: Verdict::Report,
        why,
    };
    match trigger {
        Trigger::Budget(b) => match b.alert_type {
            BudgetAlertType::Actual => act(format!(
                "AWS Budgets reports that actual spend passed the alert threshold of budget {}",
                b.name
            )),
            BudgetAlertType::Forecasted if policy.act_on_forecasted => act(format!(
                "AWS Budgets forecasts that budget {} will be passed, and ACT_ON includes forecasted",
                b.name
            )),
            BudgetAlertType::Forecasted => report(format!(
                "budget {} is only forecast to be passed; with ACT_ON=actual forecasts are reported, not acted on",
                b.name
            )),
        },
        Trigger::Alarm(a) => match a.state {
            AlarmState::Alarm => act(format!("CloudWatch alarm {} is in ALARM", a.name)),
            AlarmState::Ok => report(format!(
                "CloudWatch alarm {} returned to OK; cost-guard acts only on ALARM",
                a.name
            )),
            AlarmState::InsufficientData => report(format!(
                "CloudWatch alarm {} has insufficient data; cost-guard acts only on ALARM",
                a.name
            )),
        },
        Trigger::Anomaly(a) => match policy.anomaly {
            AnomalyAction::Report => report(format!(
                "cost anomaly with impact {}; with ANOMALY_ACTION=report anomalies are reported, not acted on",
                a.total_impact
            )),
            AnomalyAction::Stop { min_impact_usd } if a.total_impact.value() >= min_impact_usd => act(format!(
                "cost anomaly with impact {} reached ANOMALY_MIN_IMPACT_USD ({min_impact_usd})",
                a.total_impact
            )),
            AnomalyAction::Stop { min_impact_usd } => report(format!(
                "cost anomaly with impact {} is below ANOMALY_MIN_IMPACT_USD ({min_impact_usd})",
                a.total_impact
            )),
        },
        Trigger::Unrecognised { .. } => report("cost-guard acts only on messages it recognises".into()),
    }
}

/// API calls by root that usually mean someone is taking over or hiding.
const HIGH_RISK_CALLS: &[&str] = &[
    "CreateAccessKey",
    "CreateUser",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "AttachUserPolicy",
    "PutUserPolicy",
    "CreateRole",
    "DeactivateMFADevice",
    "DeleteVirtualMFADevice",
    "DeleteTrail",
    "StopLogging",
    "UpdateTrail",
    "PutEventSelectors",
    "DeleteDetector",
    "RunInstances",
    "RequestSpotInstances",
    "CreateKeyPair",
    "ImportKeyPair",
];

/// How an activity is judged, for the subject and the first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Assessment {
    pub urgent: bool,
    /// The trusted range the source address is in.
    pub trusted: Option<Cidr>,
    /// Why it is (or is not) urgent, for the first line.
    pub headline: String,
}

pub(crate) fn assess_root(a: &RootActivity, trusted_ranges: &[Cidr]) -> Assessment {
    let trusted = a
        .source_ip
        .as_deref()
        .and_then(|ip| crate::domain::cidr::find(trusted_ranges, ip));
    let failed = matches!(a.outcome, Outcome::Failure(_));
    let (urgent, headline) = match a.kind {
        RootEventKind::ConsoleSignIn if failed => (
            true,
            "URGENT: someone tried to sign in as the root user and failed.".to_string(),
        ),
        RootEventKind::ConsoleSignIn if a.mfa_used == Some(false) => (
            true,
            "URGENT: the root user signed in WITHOUT MFA. If this was not you, act now.".to_string(),
        ),
        RootEventKind::ConsoleSignIn => (
            false,
            "The root user signed in. If this was not you, act now.".to_string(),
        ),
        RootEventKind::ApiCall if HIGH_RISK_CALLS.contains(&a.event_name.as_str()) => (
            true,
            format!(
                "URGENT: the root user called {}, a call attackers use to take over accounts or hide.",
                a.action()
            ),
        ),
        RootEventKind::ApiCall if a.mfa_used == Some(false) || failed => (
            true,
            format!("URGENT: the root user called {} {}.", a.action(), if failed { "and was refused" } else { "without MFA" }),
        ),
        RootEventKind::ApiCall => (false, format!("The root user called {}.", a.action())),
    };
    Assessment {
        urgent,
        trusted,
        headline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Amount;
    use crate::domain::trigger::{AlarmNotice, AnomalyNotice, BudgetAlert};

    #[test]
    fn root_activity_is_urgent_when_it_failed_lacked_mfa_or_is_a_takeover_call() {
        use crate::domain::trigger::root::{Outcome, RootActivity, RootEventKind};
        let activity = |kind, name: &str, outcome, mfa| RootActivity {
            kind,
            event_name: name.into(),
            event_source: Some("ec2.amazonaws.com".into()),
            account: Some("123456789012".into()),
            time: None,
            outcome,
            mfa_used: mfa,
            source_ip: Some("198.51.100.23".into()),
            user_agent: None,
            region: Some("us-east-1".into()),
            event_id: None,
        };
        use Outcome::{Failure, Success, Unknown};
        use RootEventKind::{ApiCall, ConsoleSignIn};
        let cases = [
            // A failed sign-in is an attempt, whatever the event says of MFA.
            (
                ConsoleSignIn,
                "ConsoleLogin",
                Failure(None),
                Some(false),
                true,
                "URGENT: someone tried to sign in as the root user and failed.",
            ),
            (
                ConsoleSignIn,
                "ConsoleLogin",
                Success,
                Some(false),
                true,
                "URGENT: the root user signed in WITHOUT MFA.",
            ),
            (
                ConsoleSignIn,
                "ConsoleLogin",
                Success,
                Some(true),
                false,
                "The root user signed in.",
            ),
            (
                ConsoleSignIn,
                "ConsoleLogin",
                Success,
                None,
                false,
                "The root user signed in.",
            ),
            // A call attackers use is urgent even with MFA.
            (
                ApiCall,
                "RunInstances",
                Success,
                Some(true),
                true,
                "URGENT: the root user called ec2:RunInstances, a call attackers use",
            ),
            (
                ApiCall,
                "DescribeInstances",
                Success,
                Some(false),
                true,
                "URGENT: the root user called ec2:DescribeInstances without MFA.",
            ),
            (
                ApiCall,
                "DescribeInstances",
                Failure(None),
                None,
                true,
                "URGENT: the root user called ec2:DescribeInstances and was refused.",
            ),
            (
                ApiCall,
                "DescribeInstances",
                Success,
                Some(true),
                false,
                "The root user called ec2:DescribeInstances.",
            ),
            (
                ApiCall,
                "DescribeInstances",
                Unknown,
                None,
                false,
                "The root user called ec2:DescribeInstances.",
            ),
        ];
        for (kind, name, outcome, mfa, urgent, headline) in cases {
            let a = activity(kind, name, outcome, mfa);
            let got = assess_root(&a, &[]);
            assert_eq!(got.urgent, urgent, "{a:?}");
            assert!(
                got.headline.starts_with(headline),
                "{a:?}: {}",
                got.headline
            );
            assert_eq!(got.trusted, None);
        }
        let ranges = crate::domain::cidr::parse_list("198.51.100.0/24").unwrap();
        let a = activity(ConsoleSignIn, "ConsoleLogin", Success, Some(true));
        assert_eq!(assess_root(&a, &ranges).trusted, Some(ranges[0]));
    }

    fn budget(t: BudgetAlertType) -> Trigger {
        Trigger::Budget(BudgetAlert {
            name: "b".into(),
            budget_type: None,
            budgeted: None,
            alert_type: t,
            threshold: None,
            amount: None,
            daily: false,
            account: None,
        })
    }

    fn alarm(state: AlarmState) -> Trigger {
        Trigger::Alarm(AlarmNotice {
            name: "a".into(),
            state,
            old_state: None,
            reason: None,
            description: None,
            metric_name: None,
            namespace: None,
            threshold: None,
            region: None,
            account: None,
            state_change_time: None,
        })
    }

    fn anomaly(impact: f64) -> Trigger {
        Trigger::Anomaly(AnomalyNotice {
            id: "x".into(),
            total_impact: Amount::new(impact).unwrap(),
            total_actual_spend: None,
            total_expected_spend: None,
            dimensional_value: None,
            root_causes: vec![],
            details_link: None,
            start_date: None,
            account: None,
        })
    }

    const DEFAULT: Policy = Policy {
        act_on_forecasted: false,
        anomaly: AnomalyAction::Report,
    };

    #[test]
    fn default_policy() {
        use Verdict::*;
        let cases = [
            (budget(BudgetAlertType::Actual), Act),
            (budget(BudgetAlertType::Forecasted), Report),
            (alarm(AlarmState::Alarm), Act),
            (alarm(AlarmState::Ok), Report),
            (alarm(AlarmState::InsufficientData), Report),
            (anomaly(10_000.0), Report),
            (
                Trigger::Unrecognised {
                    why: "w".into(),
                    excerpt: "e".into(),
                },
                Report,
            ),
        ];
        for (t, want) in cases {
            assert_eq!(decide(&t, &DEFAULT).verdict, want, "{t:?}");
        }
    }

    #[test]
    fn forecasted_acts_when_asked() {
        let p = Policy {
            act_on_forecasted: true,
            ..DEFAULT
        };
        assert_eq!(
            decide(&budget(BudgetAlertType::Forecasted), &p).verdict,
            Verdict::Act
        );
    }

    #[test]
    fn anomaly_threshold() {
        let p = Policy {
            anomaly: AnomalyAction::Stop {
                min_impact_usd: 100.0,
            },
            ..DEFAULT
        };
        assert_eq!(decide(&anomaly(100.0), &p).verdict, Verdict::Act);
        assert_eq!(decide(&anomaly(99.99), &p).verdict, Verdict::Report);
        assert!(decide(&anomaly(99.99), &p).why.contains("below"));
    }
}
