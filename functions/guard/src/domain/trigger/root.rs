//! Root user activity from EventBridge: console sign-ins (`source` `aws.signin`,
//! `detail.eventName` `ConsoleLogin`) and API calls recorded by CloudTrail
//! (`detail-type` `AWS API Call via CloudTrail`) whose `detail.userIdentity.type`
//! is `Root`. Real events omit or null many fields; absence is never an error.

use serde_json::Value;

use super::json_text;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RootEventKind {
    ConsoleSignIn,
    ApiCall,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// With the error message, when the event has one.
    Failure(Option<String>),
    Unknown,
}

/// One use of the root user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RootActivity {
    pub kind: RootEventKind,
    /// `ConsoleLogin`, `CreateAccessKey`, ...
    pub event_name: String,
    /// `signin.amazonaws.com`, `iam.amazonaws.com`, ...
    pub event_source: Option<String>,
    pub account: Option<String>,
    /// RFC 3339 as CloudTrail wrote it.
    pub time: Option<String>,
    pub outcome: Outcome,
    pub mfa_used: Option<bool>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub region: Option<String>,
    pub event_id: Option<String>,
}

impl RootActivity {
    /// `iam:CreateAccessKey` for API calls, `ConsoleLogin` for sign-ins.
    pub fn action(&self) -> String {
        match (&self.kind, &self.event_source) {
            (RootEventKind::ApiCall, Some(src)) => {
                format!(
                    "{}:{}",
                    src.trim_end_matches(".amazonaws.com"),
                    self.event_name
                )
            }
            _ => self.event_name.clone(),
        }
    }

    /// Link to the event in the CloudTrail console.
    pub(crate) fn cloudtrail_link(&self) -> Option<String> {
        let id = self.event_id.as_deref()?;
        let region = self.region.as_deref().unwrap_or("us-east-1");
        Some(format!(
            "https://{region}.console.aws.amazon.com/cloudtrail/home?region={region}#/events/{id}"
        ))
    }
}

/// What the function was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RootEvent {
    Root(RootActivity),
    /// A sign-in or call by someone other than root: no alert.
    NotRoot {
        identity: String,
        event_name: String,
    },
}

/// Parses an EventBridge event. An error means the event is malformed (not an
/// EventBridge event, or no `detail`); a non-root event is not an error.
pub(crate) fn parse_root_event(event: &Value) -> Result<RootEvent, String> {
    let obj = event
        .as_object()
        .ok_or_else(|| "event is not a JSON object, so not an EventBridge event".to_string())?;
    let source =
        json_text(obj.get("source")).ok_or("event has no `source`: not an EventBridge event")?;
    let detail_type = json_text(obj.get("detail-type")).unwrap_or_default();
    let detail = obj
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or("event has no `detail` object")?;
    let event_name = json_text(detail.get("eventName")).ok_or("event has no `detail.eventName`")?;
    let kind = if source == "aws.signin" && event_name == "ConsoleLogin" {
        RootEventKind::ConsoleSignIn
    } else if detail_type == "AWS API Call via CloudTrail" || detail.get("eventSource").is_some() {
        RootEventKind::ApiCall
    } else {
        return Err(format!(
            "event from {} ({}) is neither a console sign-in nor a CloudTrail API call",
            super::excerpt(&source),
            super::excerpt(&detail_type)
        ));
    };
    let identity = detail.get("userIdentity");
    let identity_type = identity
        .and_then(|i| json_text(i.get("type")))
        .unwrap_or_else(|| "unknown".into());
    if identity_type != "Root" {
        let who = identity
            .and_then(|i| json_text(i.get("arn")).or_else(|| json_text(i.get("userName"))))
            .map(|who| format!("{identity_type} {who}"))
            .unwrap_or(identity_type);
        return Ok(RootEvent::NotRoot {
            identity: who,
            event_name,
        });
    }
    let error_message = json_text(detail.get("errorMessage"));
    let outcome = match kind {
        RootEventKind::ConsoleSignIn => {
            match detail
                .get("responseElements")
                .and_then(|r| json_text(r.get("ConsoleLogin")))
                .as_deref()
            {
                Some("Success") => Outcome::Success,
                Some("Failure") => Outcome::Failure(error_message),
                _ if error_message.is_some() => Outcome::Failure(error_message),
                _ => Outcome::Unknown,
            }
        }
        RootEventKind::ApiCall => match json_text(detail.get("errorCode")) {
            Some(code) => Outcome::Failure(Some(match error_message {
                Some(m) => format!("{code}: {m}"),
                None => code,
            })),
            None => Outcome::Success,
        },
    };
    let extra = detail.get("additionalEventData");
    let mfa_used = match extra.and_then(|e| json_text(e.get("MFAUsed"))).as_deref() {
        Some("Yes") => Some(true),
        Some("No") => Some(false),
        _ => identity
            .and_then(|i| i.get("sessionContext"))
            .and_then(|s| s.get("attributes"))
            .and_then(|a| json_text(a.get("mfaAuthenticated")))
            .and_then(|v| match v.as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            }),
    };
    Ok(RootEvent::Root(RootActivity {
        kind,
        event_name,
        event_source: json_text(detail.get("eventSource")),
        account: json_text(obj.get("account"))
            .or_else(|| json_text(detail.get("recipientAccountId")))
            .or_else(|| identity.and_then(|i| json_text(i.get("accountId")))),
        time: json_text(detail.get("eventTime")).or_else(|| json_text(obj.get("time"))),
        outcome,
        mfa_used,
        source_ip: json_text(detail.get("sourceIPAddress")),
        user_agent: json_text(detail.get("userAgent")),
        region: json_text(detail.get("awsRegion")).or_else(|| json_text(obj.get("region"))),
        event_id: json_text(detail.get("eventID")),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outcome_and_mfa_when_the_event_says_them_another_way() {
        let activity = |v: &Value| match parse_root_event(v) {
            Ok(RootEvent::Root(a)) => a,
            other => panic!("{other:?}"),
        };
        // No ConsoleLogin answer, but an error message: a failure.
        let mut v = signin();
        v["detail"]
            .as_object_mut()
            .unwrap()
            .remove("responseElements");
        v["detail"]["errorMessage"] = json!("Failed authentication");
        assert_eq!(
            activity(&v).outcome,
            Outcome::Failure(Some("Failed authentication".into()))
        );
        v["detail"].as_object_mut().unwrap().remove("errorMessage");
        assert_eq!(activity(&v).outcome, Outcome::Unknown);
        // MFA from the session's attributes when additionalEventData is silent.
        let mut v = signin();
        v["detail"]
            .as_object_mut()
            .unwrap()
            .remove("additionalEventData");
        for (said, mfa) in [
            ("true", Some(true)),
            ("false", Some(false)),
            ("maybe", None),
        ] {
            v["detail"]["userIdentity"]["sessionContext"] =
                json!({"attributes": {"mfaAuthenticated": said}});
            assert_eq!(activity(&v).mfa_used, mfa, "{said}");
        }
    }

    #[test]
    fn a_sign_in_is_consolelogin_from_signin_and_everything_else_a_call() {
        let kind = |v: &Value| match parse_root_event(v) {
            Ok(RootEvent::Root(a)) => a.kind,
            other => panic!("{other:?}"),
        };
        assert_eq!(kind(&signin()), RootEventKind::ConsoleSignIn);
        // Another sign-in event (an MFA check) is a call, not a sign-in.
        let mut mfa = signin();
        mfa["detail"]["eventName"] = json!("CheckMfa");
        assert_eq!(kind(&mfa), RootEventKind::ApiCall);
        // ConsoleLogin from elsewhere than aws.signin is not a console sign-in.
        let mut elsewhere = signin();
        elsewhere["source"] = json!("aws.iam");
        assert_eq!(kind(&elsewhere), RootEventKind::ApiCall);
        // A CloudTrail call record without eventSource is still a call.
        let mut call = signin();
        call["source"] = json!("aws.iam");
        call["detail-type"] = json!("AWS API Call via CloudTrail");
        call["detail"]["eventName"] = json!("CreateAccessKey");
        call["detail"]
            .as_object_mut()
            .unwrap()
            .remove("eventSource");
        assert_eq!(kind(&call), RootEventKind::ApiCall);
    }

    fn signin() -> Value {
        json!({
            "version": "0", "id": "e1", "detail-type": "AWS Console Sign In via CloudTrail",
            "source": "aws.signin", "account": "123456789012", "time": "2026-11-22T07:58:12Z",
            "region": "us-east-1", "resources": [],
            "detail": {
                "eventVersion": "1.08",
                "userIdentity": {"type": "Root", "principalId": "123456789012", "arn": "arn:aws:iam::123456789012:root", "accountId": "123456789012"},
                "eventTime": "2026-11-22T07:58:12Z", "eventSource": "signin.amazonaws.com",
                "eventName": "ConsoleLogin", "awsRegion": "us-east-1",
                "sourceIPAddress": "198.51.100.23", "userAgent": "Mozilla/5.0",
                "requestParameters": null,
                "responseElements": {"ConsoleLogin": "Success"},
                "additionalEventData": {"LoginTo": "https://console.aws.amazon.com/", "MobileVersion": "No", "MFAUsed": "No"},
                "eventID": "0b7c5e1a", "eventType": "AwsConsoleSignIn"
            }
        })
    }

    fn root(v: &Value) -> RootActivity {
        match parse_root_event(v).unwrap() {
            RootEvent::Root(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn console_sign_in() {
        let a = root(&signin());
        assert_eq!(a.kind, RootEventKind::ConsoleSignIn);
        assert_eq!(a.outcome, Outcome::Success);
        assert_eq!(a.mfa_used, Some(false));
        assert_eq!(a.source_ip.as_deref(), Some("198.51.100.23"));
        assert_eq!(a.account.as_deref(), Some("123456789012"));
        assert_eq!(
            a.cloudtrail_link().unwrap(),
            "https://us-east-1.console.aws.amazon.com/cloudtrail/home?region=us-east-1#/events/0b7c5e1a"
        );
    }

    #[test]
    fn every_optional_field_can_be_missing_or_null() {
        for field in [
            "additionalEventData",
            "errorMessage",
            "userAgent",
            "sourceIPAddress",
            "eventID",
            "awsRegion",
            "eventTime",
            "responseElements",
            "eventSource",
        ] {
            let mut missing = signin();
            missing["detail"].as_object_mut().unwrap().remove(field);
            root(&missing);
            let mut null = signin();
            null["detail"][field] = Value::Null;
            root(&null);
        }
        let mut no_mfa_field = signin();
        no_mfa_field["detail"]["additionalEventData"] = json!({"LoginTo": "x"});
        assert_eq!(root(&no_mfa_field).mfa_used, None);
        let mut no_response = signin();
        no_response["detail"]["responseElements"] = Value::Null;
        assert_eq!(root(&no_response).outcome, Outcome::Unknown);
    }

    #[test]
    fn failure_with_and_without_message() {
        let mut v = signin();
        v["detail"]["responseElements"]["ConsoleLogin"] = json!("Failure");
        v["detail"]["errorMessage"] = json!("Failed authentication");
        assert_eq!(
            root(&v).outcome,
            Outcome::Failure(Some("Failed authentication".into()))
        );
        v["detail"]["errorMessage"] = Value::Null;
        assert_eq!(root(&v).outcome, Outcome::Failure(None));
    }

    #[test]
    fn api_call_by_root() {
        let v = json!({
            "detail-type": "AWS API Call via CloudTrail", "source": "aws.iam", "account": "123456789012",
            "detail": {"userIdentity": {"type": "Root", "sessionContext": {"attributes": {"mfaAuthenticated": "true"}}},
                       "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey", "awsRegion": "us-east-1",
                       "errorCode": null}
        });
        let a = root(&v);
        assert_eq!(a.kind, RootEventKind::ApiCall);
        assert_eq!(a.action(), "iam:CreateAccessKey");
        assert_eq!(a.mfa_used, Some(true));
        assert_eq!(a.outcome, Outcome::Success);
        let mut denied = v.clone();
        denied["detail"]["errorCode"] = json!("AccessDenied");
        assert_eq!(
            root(&denied).outcome,
            Outcome::Failure(Some("AccessDenied".into()))
        );
    }

    #[test]
    fn not_root_is_not_an_error() {
        let mut v = signin();
        v["detail"]["userIdentity"] = json!({"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/alice", "userName": "alice"});
        assert_eq!(
            parse_root_event(&v).unwrap(),
            RootEvent::NotRoot {
                identity: "IAMUser arn:aws:iam::123456789012:user/alice".into(),
                event_name: "ConsoleLogin".into()
            }
        );
        let mut no_identity = signin();
        no_identity["detail"]
            .as_object_mut()
            .unwrap()
            .remove("userIdentity");
        assert!(matches!(
            parse_root_event(&no_identity).unwrap(),
            RootEvent::NotRoot { .. }
        ));
    }

    #[test]
    fn malformed_events_are_errors_that_say_why() {
        let cases = [
            (json!("hello"), "not a JSON object"),
            (json!({"detail": {}}), "no `source`"),
            (json!({"source": "aws.signin"}), "no `detail` object"),
            (
                json!({"source": "aws.signin", "detail": []}),
                "no `detail` object",
            ),
            (
                json!({"source": "aws.signin", "detail": {"x": 1}}),
                "no `detail.eventName`",
            ),
            (
                json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {"eventName": "x"}}),
                "neither a console sign-in",
            ),
        ];
        for (v, want) in cases {
            let err = parse_root_event(&v).unwrap_err();
            assert!(err.contains(want), "{err} / {want}");
        }
    }
}
