//! The spend-watch schedule's events: an EventBridge `Scheduled Event` asks
//! for a check, the daily-summary input for a summary. Pure.

/// The constant input of the daily-summary schedule.
pub(crate) const SUMMARY_INPUT: &str = "daily-summary";

/// What the schedule asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    Check,
    DailySummary,
}

/// Reads the event: an EventBridge `Scheduled Event`, or the daily-summary input.
pub(crate) fn parse_run(event: &serde_json::Value) -> Result<Run, String> {
    if event.get("cost-guard").and_then(|v| v.as_str()) == Some(SUMMARY_INPUT) {
        return Ok(Run::DailySummary);
    }
    match (
        event.get("source").and_then(|v| v.as_str()),
        event.get("detail-type").and_then(|v| v.as_str()),
    ) {
        (Some("aws.events"), Some("Scheduled Event")) => Ok(Run::Check),
        _ => Err(format!(
            "expected an EventBridge Scheduled Event or {{\"cost-guard\": \"{SUMMARY_INPUT}\"}}, got: {}",
            super::excerpt(&event.to_string())
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEDULED: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/scheduled.json"
    ));

    #[test]
    fn runs() {
        assert_eq!(
            parse_run(&serde_json::from_str(SCHEDULED).unwrap()),
            Ok(Run::Check)
        );
        assert_eq!(
            parse_run(&serde_json::json!({"cost-guard": "daily-summary"})),
            Ok(Run::DailySummary)
        );
        assert!(parse_run(&serde_json::json!({"Records": []}))
            .unwrap_err()
            .contains("Scheduled Event"));
        let typed: Result<aws_lambda_events::event::cloudwatch_events::CloudWatchEvent, _> =
            serde_json::from_str(SCHEDULED);
        assert!(typed.is_ok());
    }
}
