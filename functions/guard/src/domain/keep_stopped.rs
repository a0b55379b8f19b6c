//! What the keep-stopped watch does with an RDS start: RDS starts a database
//! that has been stopped for 7 days, and one cost-guard stopped must not come
//! back quietly. A start RDS forced is undone; any other start of a stamped
//! database (the owner's, from the console) is left alone. Pure.

use crate::domain::inventory::{has_exempt_tag, tag, Tags};
use crate::domain::tags::{RESTART_PENDING_TAG, RESTOPS_TAG, STOPPED_AT_TAG};
use crate::domain::trigger::rds_event::RdsHappening;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeepAction {
    /// Stop it again now; it will carry this restop count.
    StopAgain { restops: u32 },
    /// RDS is still starting it: mark it, and stop it on the "started" event.
    WaitForStart,
    /// Leave it as it is, and why.
    Leave(String),
}

/// Decides from the event, the database's tags and its status now.
pub(crate) fn decide(
    happening: RdsHappening,
    tags: &Tags,
    status: &str,
    exempt_key: &str,
) -> KeepAction {
    if happening == RdsHappening::Other {
        return KeepAction::Leave("not a start: nothing to do".into());
    }
    if tag(tags, STOPPED_AT_TAG).is_none() {
        return KeepAction::Leave(format!(
            "it carries no {STOPPED_AT_TAG} stamp (cost-guard did not stop it, or it was resumed): left alone"
        ));
    }
    if has_exempt_tag(tags, exempt_key) {
        return KeepAction::Leave(format!("exempt: tagged {exempt_key}"));
    }
    let pending = tag(tags, RESTART_PENDING_TAG).is_some();
    let restops = tag(tags, RESTOPS_TAG)
        .and_then(|n| n.trim().parse::<u32>().ok())
        .unwrap_or(0)
        .saturating_add(1);
    match (happening, status) {
        (_, "stopped" | "stopping") => KeepAction::Leave("already stopped or stopping".into()),
        (RdsHappening::Started, _) if !pending => KeepAction::Leave(
            "started by someone, not by RDS's 7-day restart (no restart mark): left alone".into(),
        ),
        (_, "available") => KeepAction::StopAgain { restops },
        _ => KeepAction::WaitForStart,
    }
}

/// `1st`, `2nd`, `3rd`, `4th`, `11th`, `21st`.
pub(crate) fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use RdsHappening::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const EXEMPT: &str = "cost-guard-exempt";

    #[test]
    fn the_decision_table() {
        let stamped = tags(&[(STOPPED_AT_TAG, "2026-11-22T10:00:00Z")]);
        let pending = tags(&[(STOPPED_AT_TAG, "x"), (RESTART_PENDING_TAG, "t")]);
        let counted = tags(&[(STOPPED_AT_TAG, "x"), (RESTOPS_TAG, "2")]);
        let exempt = tags(&[(STOPPED_AT_TAG, "x"), (EXEMPT, "")]);
        let plain = tags(&[("cost-guard", "stop")]);
        let cases = [
            (
                ForcedStart,
                &stamped,
                "available",
                KeepAction::StopAgain { restops: 1 },
            ),
            (ForcedStart, &stamped, "starting", KeepAction::WaitForStart),
            (
                ForcedStart,
                &counted,
                "available",
                KeepAction::StopAgain { restops: 3 },
            ),
            (
                Started,
                &pending,
                "available",
                KeepAction::StopAgain { restops: 1 },
            ),
            (Started, &pending, "starting", KeepAction::WaitForStart),
        ];
        for (happening, t, status, want) in cases {
            assert_eq!(
                decide(happening, t, status, EXEMPT),
                want,
                "{happening:?} {t:?} {status}"
            );
        }
        let left = |happening, t: &Tags, status| match decide(happening, t, status, EXEMPT) {
            KeepAction::Leave(why) => why,
            other => panic!("{other:?}"),
        };
        assert!(left(Started, &stamped, "available").contains("started by someone"));
        assert!(left(ForcedStart, &plain, "available").contains("no cost-guard:stopped-at stamp"));
        assert!(left(Started, &plain, "available").contains("no cost-guard:stopped-at stamp"));
        assert!(left(ForcedStart, &exempt, "available").contains("exempt"));
        let exempt_upper = tags(&[(STOPPED_AT_TAG, "x"), ("COST-GUARD-EXEMPT", "true")]);
        assert!(left(ForcedStart, &exempt_upper, "available").contains("exempt"));
        assert!(left(ForcedStart, &stamped, "stopped").contains("already stopped"));
        assert!(left(Other, &stamped, "available").contains("not a start"));
    }

    #[test]
    fn ordinals() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111]
            .map(ordinal)
            .into();
        assert_eq!(
            got,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st",
                "111th"
            ]
        );
    }
}
