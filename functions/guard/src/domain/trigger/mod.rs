//! What arrived: the SNS envelope and one parser per message family. Parsers are
//! pure functions from text to a [`Trigger`]; nothing here talks to AWS.

pub mod alarm;
pub mod anomaly;
pub(crate) mod budgets;
pub(crate) mod compute;
pub mod envelope;
pub mod launch;
pub mod rds_event;
pub mod root;
pub mod schedule;

pub use alarm::{AlarmNotice, AlarmState};
pub use anomaly::AnomalyNotice;
pub use budgets::{BudgetAlert, BudgetAlertType};
pub(crate) use envelope::parse_sns_event;
pub use envelope::{EnvelopeError, SnsRecord};

/// Largest message cost-guard parses; SNS itself allows 256 KB.
pub(crate) const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// One recognised (or unrecognised) notification.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Trigger {
    Budget(BudgetAlert),
    Alarm(AlarmNotice),
    Anomaly(AnomalyNotice),
    /// A message none of the parsers recognised; `why` says what was wrong.
    Unrecognised {
        why: String,
        excerpt: String,
    },
}

impl Trigger {
    /// The accounts this alert concerns, for `ORG_SCOPE=alerting-account`:
    /// a budget's own account, an anomaly's linked accounts (else the
    /// monitor's account). `None` for a billing alarm, which watches the
    /// whole (consolidated) bill, and for what is not understood.
    pub fn accounts(&self) -> Option<Vec<String>> {
        match self {
            Trigger::Budget(b) => b.account.clone().map(|a| vec![a]),
            Trigger::Anomaly(a) => {
                let mut linked: Vec<String> = a
                    .root_causes
                    .iter()
                    .filter_map(|c| c.linked_account.clone())
                    .collect();
                linked.sort();
                linked.dedup();
                if linked.is_empty() {
                    a.account.clone().map(|a| vec![a])
                } else {
                    Some(linked)
                }
            }
            Trigger::Alarm(_) | Trigger::Unrecognised { .. } => None,
        }
    }

    /// Short label used in the `cost-guard:stopped-by` stamp, e.g. `budget:student-monthly`.
    pub(crate) fn stamp_label(&self) -> String {
        let raw = match self {
            Trigger::Budget(b) => format!("budget:{}", b.name),
            Trigger::Alarm(a) => format!("alarm:{}", a.name),
            Trigger::Anomaly(a) => format!("anomaly:{}", a.id),
            Trigger::Unrecognised { .. } => "unrecognised".to_string(),
        };
        sanitize_tag_value(&raw)
    }

    /// One line saying what fired, e.g. `budget student-monthly: $1,287.34 > $40.00`.
    pub(crate) fn headline(&self) -> String {
        match self {
            Trigger::Budget(b) => {
                let mut s = format!("budget {}", b.name);
                if let Some(amount) = b.amount {
                    s.push_str(&format!(": {amount}"));
                    if let Some(t) = b.threshold {
                        s.push_str(&format!(" > {t}"));
                    }
                }
                if b.alert_type == BudgetAlertType::Forecasted {
                    s.push_str(" forecast");
                }
                s
            }
            Trigger::Alarm(a) => match (a.is_billing(), a.threshold) {
                (true, Some(t)) => {
                    format!(
                        "billing alarm {} {} (> {})",
                        a.name,
                        a.state,
                        crate::domain::money::usd(t)
                    )
                }
                _ => format!("alarm {} {}", a.name, a.state),
            },
            Trigger::Anomaly(a) => match &a.dimensional_value {
                Some(d) => format!("cost anomaly {} in {d}", a.total_impact),
                None => format!("cost anomaly {}", a.total_impact),
            },
            Trigger::Unrecognised { .. } => "unrecognised message".to_string(),
        }
    }
}

/// Parses one SNS message body into a trigger. Never fails: what is not
/// recognised becomes [`Trigger::Unrecognised`] with the reason.
pub(crate) fn parse_message(message: &str) -> Trigger {
    if message.len() > MAX_MESSAGE_BYTES {
        return Trigger::Unrecognised {
            why: format!(
                "message is {} bytes, more than the {} bytes SNS allows",
                message.len(),
                MAX_MESSAGE_BYTES
            ),
            excerpt: excerpt(message),
        };
    }
    let trimmed = message.trim_start_matches('\u{feff}').trim();
    if trimmed.starts_with('{') {
        let value: serde_json::Value = match serde_json::from_str(trimmed) {
            Ok(v) => v,
            Err(e) => {
                return Trigger::Unrecognised {
                    why: format!("message looks like JSON but does not parse: {e}"),
                    excerpt: excerpt(message),
                }
            }
        };
        if alarm::looks_like_alarm(&value) {
            return match alarm::parse_alarm(&value) {
                Ok(a) => Trigger::Alarm(a),
                Err(why) => unrecognised(why, message),
            };
        }
        if anomaly::looks_like_anomaly(&value) {
            return match anomaly::parse_anomaly(&value) {
                Ok(a) => Trigger::Anomaly(a),
                Err(why) => unrecognised(why, message),
            };
        }
        if budgets::looks_like_budget_json(&value) {
            return match budgets::parse_budget_json(&value) {
                Ok(b) => Trigger::Budget(b),
                Err(why) => unrecognised(why, message),
            };
        }
        return unrecognised(
            "JSON message is neither a CloudWatch alarm, a Cost Anomaly Detection alert nor an AWS Budgets notification".into(),
            message,
        );
    }
    if budgets::looks_like_budget_text(trimmed) {
        return match budgets::parse_budget_text(trimmed) {
            Ok(b) => Trigger::Budget(b),
            Err(why) => unrecognised(why, message),
        };
    }
    unrecognised(
        "text message is not an AWS Budgets notification (no `AWS Budget Notification` heading with `Budget Name:` and `Alert Type:` lines)".into(),
        message,
    )
}

fn unrecognised(why: String, message: &str) -> Trigger {
    Trigger::Unrecognised {
        why,
        excerpt: excerpt(message),
    }
}

/// Invisible characters that reorder or hide text (bidirectional
/// overrides and isolates, zero-width marks): a name carrying them could
/// show a report line other than the one written.
fn is_hidden_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// The first 300 characters of a message, on one line: control characters
/// and every kind of line or paragraph separator become spaces, invisible
/// reordering marks are dropped.
pub(crate) fn excerpt(message: &str) -> String {
    const MAX: usize = 300;
    let mut out = String::new();
    let mut chars = 0;
    for c in message.chars().filter(|c| !is_hidden_format(*c)) {
        if chars == MAX {
            out.push('…');
            break;
        }
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && out.ends_with(' ') {
            continue;
        }
        out.push(c);
        chars += 1;
    }
    out.trim().to_string()
}

/// Keeps only the characters EC2 and RDS accept in tag values, at most 256 of them.
pub(crate) fn sanitize_tag_value(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_alphanumeric() || " _.:/=+-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect()
}

/// Reads a JSON field as text: strings as they are, numbers printed, anything else `None`.
pub(crate) fn json_text(value: Option<&serde_json::Value>) -> Option<String> {
    match value? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads a JSON field as a finite number, from a number or a numeric string.
pub(crate) fn json_number(value: Option<&serde_json::Value>) -> Option<f64> {
    let v = match value? {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    v.is_finite().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_is_one_visible_line() {
        assert_eq!(excerpt("a\u{2028}b\u{2029}c\u{85}d\r\ne"), "a b c d e");
        assert_eq!(
            excerpt("gpu\u{202E}4200.0$\u{202C}-miner"),
            "gpu4200.0$-miner"
        );
        assert_eq!(excerpt("zero\u{200B}width\u{FEFF}"), "zerowidth");
        assert_eq!(excerpt("  tabs\tand  spaces "), "tabs and spaces");
    }

    #[test]
    fn excerpt_is_short_and_single_line() {
        let long = "line one\r\nline two\t\t".repeat(100);
        let e = excerpt(&long);
        assert!(!e.contains('\n') && !e.contains('\r') && !e.contains('\t'));
        assert!(e.chars().count() <= 301);
        assert!(e.ends_with('…'));
    }

    #[test]
    fn tag_values_are_sanitized() {
        assert_eq!(sanitize_tag_value("budget:my budget!"), "budget:my budget_");
        assert_eq!(sanitize_tag_value(&"x".repeat(300)).len(), 256);
    }

    #[test]
    fn oversized_and_odd_messages_are_unrecognised() {
        let big = "a".repeat(MAX_MESSAGE_BYTES + 1);
        assert!(
            matches!(parse_message(&big), Trigger::Unrecognised { why, .. } if why.contains("bytes"))
        );
        assert!(
            matches!(parse_message("{not json"), Trigger::Unrecognised { why, .. } if why.contains("does not parse"))
        );
        assert!(matches!(
            parse_message("{\"hello\":1}"),
            Trigger::Unrecognised { .. }
        ));
        assert!(matches!(
            parse_message("hello"),
            Trigger::Unrecognised { .. }
        ));
        assert!(matches!(parse_message(""), Trigger::Unrecognised { .. }));
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            parse_message(&format!("{{\"a\":{deep}}}")),
            Trigger::Unrecognised { .. }
        ));
    }

    #[test]
    fn a_message_as_long_as_sns_allows_is_read() {
        let alert = "AWS Budget Notification\nAWS Account 123456789012\n\nBudget Name: b\nAlert Type: ACTUAL\nACTUAL Amount: $12.00\n";
        assert!(matches!(parse_message(alert), Trigger::Budget(_)));
        // SNS takes 256 KiB: padded to 200 000 bytes and to the very limit,
        // the alert is still an alert.
        for len in [200_000, MAX_MESSAGE_BYTES] {
            let padded = format!("{alert}{}", " ".repeat(len - alert.len()));
            assert_eq!(padded.len(), len);
            assert!(
                matches!(parse_message(&padded), Trigger::Budget(_)),
                "{len}"
            );
        }
    }

    #[test]
    fn json_text_reads_strings_trimmed_and_numbers_printed() {
        use serde_json::json;
        assert_eq!(json_text(Some(&json!(" web "))), Some("web".into()));
        assert_eq!(
            json_text(Some(&json!(123456789012_u64))),
            Some("123456789012".into())
        );
        assert_eq!(json_text(Some(&json!(2.5))), Some("2.5".into()));
        for nothing in [
            json!(""),
            json!("  \t"),
            json!(null),
            json!(true),
            json!([]),
            json!({}),
        ] {
            assert_eq!(json_text(Some(&nothing)), None, "{nothing}");
        }
        assert_eq!(json_text(None), None);
    }
}

#[cfg(test)]
mod samples;
