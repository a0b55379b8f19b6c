//! The SNS → Lambda envelope: `{"Records": [{"EventSource": "aws:sns", "Sns": {...}}]}`.
//! Read leniently (only `Sns.Message` is required) so that a missing signature or
//! a null subject never loses an alert.

use serde::Deserialize;

/// At most this many records are read from one event (SNS sends one at a time).
pub(crate) const MAX_RECORDS: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct SnsRecord {
    pub message: String,
    /// SNS's id of the delivery, logged with the trigger so that a duplicate
    /// delivery (SNS delivers at least once) can be told apart from a new alert.
    pub message_id: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EnvelopeError {
    #[error("event is not an SNS notification ({0})")]
    NotSns(String),
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "Records")]
    records: Vec<Record>,
}

#[derive(Deserialize)]
struct Record {
    #[serde(rename = "EventSource", alias = "eventSource", default)]
    event_source: Option<String>,
    #[serde(rename = "Sns")]
    sns: Option<Sns>,
}

#[derive(Deserialize)]
struct Sns {
    #[serde(rename = "Message")]
    message: Option<String>,
    #[serde(rename = "MessageId", default)]
    message_id: Option<String>,
}

/// Reads the SNS records of a Lambda event.
pub(crate) fn parse_sns_event(event: &serde_json::Value) -> Result<Vec<SnsRecord>, EnvelopeError> {
    let Some(records) = event.get("Records") else {
        let what = match event {
            serde_json::Value::Object(o) => match o.get("source").and_then(|s| s.as_str()) {
                Some(source) => format!("an EventBridge event from {}", super::excerpt(source)),
                None => "an object without `Records`".to_string(),
            },
            other => format!("a JSON {}", json_kind(other)),
        };
        return Err(EnvelopeError::NotSns(what));
    };
    let parsed: Event =
        serde_json::from_value(serde_json::json!({ "Records": records })).map_err(|e| {
            // serde quotes the offending value, which may be long.
            EnvelopeError::NotSns(format!(
                "`Records` is malformed: {}",
                super::excerpt(&e.to_string())
            ))
        })?;
    if parsed.records.is_empty() {
        return Err(EnvelopeError::NotSns("`Records` is empty".into()));
    }
    parsed
        .records
        .into_iter()
        .take(MAX_RECORDS)
        .enumerate()
        .map(|(i, r)| {
            if let Some(src) = r.event_source.as_deref() {
                if src != "aws:sns" {
                    return Err(EnvelopeError::NotSns(format!(
                        "record {i} comes from {}",
                        super::excerpt(src)
                    )));
                }
            }
            let sns = r
                .sns
                .ok_or_else(|| EnvelopeError::NotSns(format!("record {i} has no `Sns` object")))?;
            let message = sns
                .message
                .ok_or_else(|| EnvelopeError::NotSns(format!("record {i} has no `Sns.Message`")))?;
            Ok(SnsRecord {
                message,
                message_id: sns.message_id,
            })
        })
        .collect()
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_malformed_record_is_named_in_one_short_line() {
        let long = format!("line one\n{}", "x".repeat(100_000));
        let event = json!({ "Records": [{ "EventSource": "aws:sns", "Sns": long }] });
        let err = parse_sns_event(&event).unwrap_err().to_string();
        assert!(err.contains("`Records` is malformed"), "{err}");
        assert!(
            err.chars().count() < 400,
            "{} characters",
            err.chars().count()
        );
        assert!(!err.contains('\n'));
    }

    #[test]
    fn reads_records() {
        let e = json!({"Records": [
            {"EventSource": "aws:sns", "Sns": {"Message": "one", "Subject": null, "TopicArn": "arn:aws:sns:us-east-1:1:t", "MessageId": "m-1"}},
            {"EventSource": "aws:sns", "Sns": {"Message": "two", "Subject": "s", "Signature": null}}
        ]});
        let r = parse_sns_event(&e).unwrap();
        let got: Vec<(&str, Option<&str>)> = r
            .iter()
            .map(|r| (r.message.as_str(), r.message_id.as_deref()))
            .collect();
        assert_eq!(got, [("one", Some("m-1")), ("two", None)]);
    }

    #[test]
    fn rejects_what_is_not_sns() {
        let cases = [
            (
                json!({"source": "aws.events", "detail-type": "Scheduled Event"}),
                "EventBridge event from aws.events",
            ),
            (json!([1, 2]), "a JSON array"),
            (json!(null), "a JSON null"),
            (json!({"Records": []}), "empty"),
            (json!({"Records": "x"}), "malformed"),
            (
                json!({"Records": [{"eventSource": "aws:sqs", "body": "x"}]}),
                "comes from aws:sqs",
            ),
            (
                json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Subject": "x"}}]}),
                "no `Sns.Message`",
            ),
            (
                json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": 5}}]}),
                "malformed",
            ),
        ];
        for (event, want) in cases {
            let err = parse_sns_event(&event).unwrap_err().to_string();
            assert!(err.contains(want), "{err} / {want}");
        }
    }
}
