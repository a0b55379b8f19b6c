//! Which of a region's resources to stop, and which to leave with a reason. Pure.

use crate::domain::config::{Selection, SelectionConfig};
use crate::domain::inventory::{has_exempt_tag, tag, Record, Resource, Tags};

/// A resource the selection matched but that will not be stopped, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Skipped {
    pub resource: Resource,
    pub reason: String,
}

/// How a resource's tags relate to the selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Match {
    Selected,
    /// Carries the exempt tag; never stopped.
    Exempt,
    NotSelected,
}

/// Decides from tags alone whether a resource is selected.
pub(crate) fn match_tags(tags: &Tags, select: &SelectionConfig) -> Match {
    let exempt = has_exempt_tag(tags, &select.exempt_tag_key);
    let selected = match &select.selection {
        Selection::AllExceptExempt => true,
        Selection::Tagged { key, value } => match (tag(tags, key), value) {
            (Some(_), None) => true,
            (Some(have), Some(want)) => have == want,
            (None, _) => false,
        },
    };
    match (selected, exempt) {
        (true, true) => Match::Exempt,
        (true, false) => Match::Selected,
        (false, _) => Match::NotSelected,
    }
}

/// How long after a stop a later invocation for the same alert still reports
/// it as this alert's work (Lambda retries an event for up to 6 hours).
pub(crate) const EARLIER_WINDOW: time::Duration = time::Duration::hours(24);

/// Whether a selected, stopped resource was stopped for the same alert by an
/// earlier invocation: it carries this alert's `stopped-by` stamp and a
/// `stopped-at` no more than [`EARLIER_WINDOW`] before `now_at` (both RFC 3339).
pub(crate) fn stopped_earlier(tags: &Tags, status: &str, by: &str, now_at: &str) -> bool {
    use time::format_description::well_known::Rfc3339;
    if !matches!(status, "stopped" | "stopping")
        || tag(tags, crate::domain::tags::STOPPED_BY_TAG) != Some(by)
    {
        return false;
    }
    let parse = |t: &str| time::OffsetDateTime::parse(t, &Rfc3339).ok();
    match (
        tag(tags, crate::domain::tags::STOPPED_AT_TAG).and_then(parse),
        parse(now_at),
    ) {
        (Some(at), Some(now)) => at <= now && now - at <= EARLIER_WINDOW,
        _ => false,
    }
}

fn exempt_reason(select: &SelectionConfig) -> String {
    format!("exempt: tagged {}", select.exempt_tag_key)
}

/// What the sweep finds already stopped for this very alert (an earlier
/// invocation's work), among `records`.
pub(crate) fn earlier<R: Record>(
    records: &[R],
    select: &SelectionConfig,
    by: &str,
    at: &str,
) -> Vec<Resource> {
    records
        .iter()
        .filter(|r| match_tags(r.tags(), select) == Match::Selected)
        .filter(|r| stopped_earlier(r.tags(), r.state(), by, at))
        .map(Record::resource)
        .collect()
}

pub(crate) fn exempt_reason_of(select: &SelectionConfig) -> String {
    exempt_reason(select)
}

/// What one kind's sweep stops and lists as skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice<R> {
    pub to_stop: Vec<R>,
    pub skipped: Vec<Skipped>,
}

impl<R> Default for Choice<R> {
    fn default() -> Self {
        Choice {
            to_stop: Vec::new(),
            skipped: Vec::new(),
        }
    }
}

/// Chooses among the records `candidate` admits: the selected ones that
/// `check` passes are stopped; the exempt ones, and the selected ones
/// `check` refuses, are skipped with why; the others are not listed.
pub(crate) fn choose<R: Record + Clone>(
    records: &[R],
    select: &SelectionConfig,
    candidate: impl Fn(&R) -> bool,
    check: impl Fn(&R) -> Option<String>,
) -> Choice<R> {
    let mut choice = Choice::default();
    for r in records.iter().filter(|r| candidate(r)) {
        let reason = match match_tags(r.tags(), select) {
            Match::NotSelected => continue,
            Match::Exempt => exempt_reason(select),
            Match::Selected => match check(r) {
                Some(reason) => reason,
                None => {
                    choice.to_stop.push(r.clone());
                    continue;
                }
            },
        };
        choice.skipped.push(Skipped {
            resource: r.resource(),
            reason,
        });
    }
    choice
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::kinds::fixtures::*;

    #[test]
    fn tag_matching() {
        let sel = tagged();
        assert_eq!(
            match_tags(&tags(&[("cost-guard", "stop")]), &sel),
            Match::Selected
        );
        assert_eq!(
            match_tags(&tags(&[("cost-guard", "keep")]), &sel),
            Match::NotSelected
        );
        assert_eq!(match_tags(&tags(&[]), &sel), Match::NotSelected);
        assert_eq!(
            match_tags(
                &tags(&[("cost-guard", "stop"), ("cost-guard-exempt", "")]),
                &sel
            ),
            Match::Exempt
        );
        let any = SelectionConfig {
            selection: Selection::Tagged {
                key: "cost-guard".into(),
                value: None,
            },
            ..tagged()
        };
        assert_eq!(
            match_tags(&tags(&[("cost-guard", "whatever")]), &any),
            Match::Selected
        );
        assert_eq!(match_tags(&tags(&[]), &all()), Match::Selected);
        assert_eq!(
            match_tags(&tags(&[("cost-guard-exempt", "yes")]), &all()),
            Match::Exempt
        );
        // The exempt key in any case: IAM's deny spares it too.
        for spelt in ["Cost-Guard-Exempt", "COST-GUARD-EXEMPT"] {
            assert_eq!(
                match_tags(&tags(&[("cost-guard", "stop"), (spelt, "true")]), &sel),
                Match::Exempt,
                "{spelt}"
            );
        }
        assert_eq!(
            match_tags(&tags(&[("cost-guard-exempted", "true")]), &all()),
            Match::Selected
        );
        // ASCII case only: a Kelvin sign folds to `k` under Unicode rules,
        // which IAM is not documented to share.
        use crate::domain::inventory::is_exempt_key;
        assert!(is_exempt_key("KEEP", "keep"));
        assert!(!is_exempt_key("\u{212A}eep", "keep"));
    }

    #[test]
    fn earlier_stops_are_this_alerts_recent_ones() {
        let stamped = |by: &str, at: &str| {
            tags(&[
                ("cost-guard", "stop"),
                (crate::domain::tags::STOPPED_BY_TAG, by),
                (crate::domain::tags::STOPPED_AT_TAG, at),
            ])
        };
        let now = "2026-11-22T19:00:00Z";
        let t = stamped("budget:monthly", "2026-11-22T18:59:30Z");
        assert!(stopped_earlier(&t, "stopped", "budget:monthly", now));
        assert!(stopped_earlier(&t, "stopping", "budget:monthly", now));
        assert!(
            !stopped_earlier(&t, "running", "budget:monthly", now),
            "restarted since"
        );
        assert!(
            !stopped_earlier(&t, "stopped", "anomaly:abc", now),
            "another alert"
        );
        let old = stamped("budget:monthly", "2026-10-22T19:00:00Z");
        assert!(
            !stopped_earlier(&old, "stopped", "budget:monthly", now),
            "last month's"
        );
        let bad = stamped("budget:monthly", "yesterday");
        assert!(!stopped_earlier(&bad, "stopped", "budget:monthly", now));
        let unstamped = tags(&[("cost-guard", "stop")]);
        assert!(!stopped_earlier(
            &unstamped,
            "stopped",
            "budget:monthly",
            now
        ));

        // Among records: only the selected ones this alert stopped.
        let instance = |id: &str, state: &str, mut t: Tags, key: Option<&str>| {
            if let Some(k) = key {
                t.push((k.into(), "true".into()));
            }
            crate::domain::kinds::ec2_instance::Ec2Instance {
                id: id.into(),
                instance_type: "t3.micro".into(),
                state: state.into(),
                root_device_type: None,
                spot_request_id: None,
                tags: t,
            }
        };
        let recent = stamped("budget:monthly", "2026-11-22T18:59:30Z");
        let records = [
            instance("i-ours", "stopped", recent.clone(), None),
            instance(
                "i-exempt",
                "stopped",
                recent.clone(),
                Some("cost-guard-exempt"),
            ),
            instance("i-back", "running", recent.clone(), None),
            instance("i-old", "stopped", old, None),
        ];
        let got: Vec<String> = earlier(&records, &tagged(), "budget:monthly", now)
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(got, ["i-ours"]);
    }
}
