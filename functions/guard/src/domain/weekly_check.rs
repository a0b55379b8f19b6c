//! The weekly check: `cost-guard doctor`'s checklist, run by the stack on its
//! `DoctorSchedule`. Each run leaves what it saw (each check's status) for
//! the next, and subscribers are told only when a check fails or a status
//! changed since then: a region enabled without the forwarder, a removed
//! subscription or a stopped trail is noticed within a week, and a week in
//! which all is well sends nothing.
//!
//! Pure: what a run saw comes in as [`Check`]s, what the run before saw as
//! [`Before`]; reading and remembering are in `aws::doctor`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::doctor::{Check, Status};

/// What one run leaves for the next: each check's name and status. Should
/// a check appear more than once, it is numbered from its second
/// appearance (`stack-sets#2`), so that each is compared with itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub check: String,
    pub status: Status,
}

/// What the run before left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Before {
    /// No run before this one (or it left nothing).
    First,
    Seen(Vec<Seen>),
    /// It could not be read: why. Every check is reported as if new.
    Unreadable(String),
}

/// A check whose status is not what it was; `None` where the check was not
/// made (its piece was not deployed, or the stack could not be read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub check: String,
    pub was: Option<Status>,
    pub now: Option<Status>,
}

/// Whether subscribers hear of this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing failed and nothing changed: no message.
    Quiet,
    /// One message: the checks that changed (every check on a first run).
    Tell { changes: Vec<Change> },
}

/// What this run leaves for the next.
pub fn seen(checks: &[Check]) -> Vec<Seen> {
    let mut times: BTreeMap<&str, usize> = BTreeMap::new();
    checks
        .iter()
        .map(|c| {
            let n = times.entry(c.check).or_default();
            *n += 1;
            Seen {
                check: if *n == 1 {
                    c.check.to_string()
                } else {
                    format!("{}#{n}", c.check)
                },
                status: c.status,
            }
        })
        .collect()
}

/// Most checks a run leaves, and the longest name: more, or another name,
/// is not what this function wrote.
const MAX_SEEN: usize = 100;
const MAX_NAME: usize = 40;

/// What was read back from the table, if it is what a run writes: at most
/// [`MAX_SEEN`] checks, each named with lowercase letters and `-` (and a
/// `#N`). Anyone allowed to write the table could put text there that the
/// message would print; such a memory is not trusted, and every check is
/// listed as if new instead.
pub fn trusted(seen: Vec<Seen>) -> Option<Vec<Seen>> {
    let named = |name: &str| {
        let (base, n) = name.split_once('#').unwrap_or((name, "1"));
        !base.is_empty()
            && name.len() <= MAX_NAME
            && base.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            && !n.is_empty()
            && n.len() <= 2
            && n.chars().all(|c| c.is_ascii_digit())
    };
    (seen.len() <= MAX_SEEN && seen.iter().all(|s| named(&s.check))).then_some(seen)
}

/// What this run leaves for the next: what it saw, except that a check that
/// failed before and could not be made now (unknown, or not made at all) is
/// remembered as failed. A failure is forgotten only when its check passes:
/// a trail whose status can no longer be read, or a stack that cannot be
/// described, does not turn a failure into silence the week after.
pub fn remembered(before: &Before, now: &[Check]) -> Vec<Seen> {
    let failed: BTreeMap<&str, ()> = match before {
        Before::Seen(seen) => seen
            .iter()
            .filter(|s| s.status == Status::Fail)
            .map(|s| (s.check.as_str(), ()))
            .collect(),
        _ => BTreeMap::new(),
    };
    let mut out = seen(now);
    for s in &mut out {
        if s.status == Status::Unknown && failed.contains_key(s.check.as_str()) {
            s.status = Status::Fail;
        }
    }
    let made: Vec<String> = out.iter().map(|s| s.check.clone()).collect();
    out.extend(
        failed
            .keys()
            .filter(|name| !made.iter().any(|m| m == *name))
            .map(|name| Seen {
                check: name.to_string(),
                status: Status::Fail,
            }),
    );
    // This run's checks come first: only failures carried from a memory of
    // more than a run writes are dropped, so that what is left is trusted.
    out.truncate(MAX_SEEN);
    out
}

/// A failure whose check could not be made this time.
pub fn unresolved(change: &Change) -> bool {
    change.was == Some(Status::Fail) && matches!(change.now, None | Some(Status::Unknown))
}

/// The checks whose status changed between `before` and `now`, in the order
/// of this run's checklist, then the checks no longer made.
pub fn changes(before: &[Seen], now: &[Check]) -> Vec<Change> {
    let was: BTreeMap<&str, Status> = before
        .iter()
        .map(|s| (s.check.as_str(), s.status))
        .collect();
    let now = seen(now);
    let made: BTreeMap<&str, Status> = now.iter().map(|s| (s.check.as_str(), s.status)).collect();
    let mut out: Vec<Change> = now
        .iter()
        .filter(|s| was.get(s.check.as_str()) != Some(&s.status))
        .map(|s| Change {
            check: s.check.clone(),
            was: was.get(s.check.as_str()).copied(),
            now: Some(s.status),
        })
        .collect();
    out.extend(
        before
            .iter()
            .filter(|s| !made.contains_key(s.check.as_str()))
            .map(|s| Change {
                check: s.check.clone(),
                was: Some(s.status),
                now: None,
            }),
    );
    out
}

/// Tell when a check fails, or when anything changed since the run before;
/// the first run always tells (subscribers learn the check is watching).
pub fn decide(before: &Before, now: &[Check]) -> Verdict {
    let changes = match before {
        Before::Seen(seen) => changes(seen, now),
        Before::First | Before::Unreadable(_) => changes(&[], now),
    };
    // A failure that could not be checked again is a change every week
    // (see `remembered`), so it is told every week too.
    let failing = now.iter().any(|c| c.status == Status::Fail);
    if failing || !changes.is_empty() {
        Verdict::Tell { changes }
    } else {
        Verdict::Quiet
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &'static str, status: Status) -> Check {
        Check {
            check: name,
            status,
            found: format!("{name} found"),
            fix: None,
        }
    }

    fn seen_of(pairs: &[(&str, Status)]) -> Before {
        Before::Seen(
            pairs
                .iter()
                .map(|(c, s)| Seen {
                    check: c.to_string(),
                    status: *s,
                })
                .collect(),
        )
    }

    #[test]
    fn a_week_with_nothing_failing_and_nothing_changed_is_quiet() {
        let now = [
            check("subscription", Status::Pass),
            check("billing-contact", Status::Advice),
            check("root-mfa", Status::Unknown),
        ];
        let before = seen_of(&[
            ("subscription", Status::Pass),
            ("billing-contact", Status::Advice),
            ("root-mfa", Status::Unknown),
        ]);
        assert_eq!(decide(&before, &now), Verdict::Quiet);
    }

    #[test]
    fn a_failure_is_told_every_week_even_unchanged() {
        let now = [check("trail", Status::Fail), check("stack", Status::Pass)];
        let before = seen_of(&[("trail", Status::Fail), ("stack", Status::Pass)]);
        assert_eq!(decide(&before, &now), Verdict::Tell { changes: vec![] });
    }

    #[test]
    fn a_fix_is_told_once() {
        let now = [check("subscription", Status::Pass)];
        let before = seen_of(&[("subscription", Status::Fail)]);
        assert_eq!(
            decide(&before, &now),
            Verdict::Tell {
                changes: vec![Change {
                    check: "subscription".into(),
                    was: Some(Status::Fail),
                    now: Some(Status::Pass),
                }]
            }
        );
        // The week after, all passes and nothing changed.
        let after = Before::Seen(seen(&now));
        assert_eq!(decide(&after, &now), Verdict::Quiet);
    }

    #[test]
    fn a_check_no_longer_made_and_a_new_one_are_changes() {
        let now = [
            check("stack", Status::Pass),
            check("guardduty", Status::Pass),
        ];
        let before = seen_of(&[("stack", Status::Pass), ("member-roles", Status::Pass)]);
        assert_eq!(
            decide(&before, &now),
            Verdict::Tell {
                changes: vec![
                    Change {
                        check: "guardduty".into(),
                        was: None,
                        now: Some(Status::Pass)
                    },
                    Change {
                        check: "member-roles".into(),
                        was: Some(Status::Pass),
                        now: None
                    },
                ]
            }
        );
    }

    #[test]
    fn the_first_run_tells_every_check_and_so_does_an_unreadable_memory() {
        let now = [check("stack", Status::Pass), check("trail", Status::Advice)];
        for before in [Before::First, Before::Unreadable("AccessDenied".into())] {
            match decide(&before, &now) {
                Verdict::Tell { changes } => {
                    assert_eq!(changes.len(), 2, "{before:?}");
                    assert!(changes.iter().all(|c| c.was.is_none()), "{before:?}");
                }
                Verdict::Quiet => panic!("{before:?} was quiet"),
            }
        }
    }

    #[test]
    fn a_failure_that_can_no_longer_be_checked_is_told_every_week_until_it_passes() {
        let failed = [check("trail", Status::Fail), check("stack", Status::Pass)];
        let week1 = Before::Seen(seen(&failed));
        // The trail's status cannot be read, and the forwarder check is not made.
        let unknown = [
            check("trail", Status::Unknown),
            check("stack", Status::Pass),
        ];
        let told = decide(&week1, &unknown);
        assert_eq!(
            told,
            Verdict::Tell {
                changes: vec![Change {
                    check: "trail".into(),
                    was: Some(Status::Fail),
                    now: Some(Status::Unknown),
                }]
            }
        );
        let Verdict::Tell { changes } = &told else {
            unreachable!()
        };
        assert!(unresolved(&changes[0]));
        // Remembered as failed: the week after, it is told again.
        let week2 = Before::Seen(remembered(&week1, &unknown));
        assert_eq!(decide(&week2, &unknown), told);
        // A check no longer made at all is remembered as failed too.
        let gone = [check("stack", Status::Pass)];
        let week3 = Before::Seen(remembered(&week2, &gone));
        assert!(matches!(decide(&week3, &gone), Verdict::Tell { .. }));
        // It passes: told once, then quiet.
        let week4 = Before::Seen(remembered(&week3, &failed[1..]));
        let fixed = [check("trail", Status::Pass), check("stack", Status::Pass)];
        assert!(matches!(decide(&week4, &fixed), Verdict::Tell { .. }));
        let week5 = Before::Seen(remembered(&week4, &fixed));
        assert_eq!(decide(&week5, &fixed), Verdict::Quiet);
        // An unknown that never failed is remembered as it is.
        let first = remembered(&Before::First, &unknown);
        assert_eq!(first[0].status, Status::Unknown);
    }

    #[test]
    fn a_memory_is_trusted_only_as_this_function_writes_it() {
        let ok = |names: &[&str]| {
            trusted(
                names
                    .iter()
                    .map(|n| Seen {
                        check: n.to_string(),
                        status: Status::Pass,
                    })
                    .collect(),
            )
            .is_some()
        };
        assert!(ok(&["stack", "stack-sets", "stack-sets#2", "root-mfa"]));
        assert!(ok(&[]));
        for bad in [
            "",
            "#2",
            "stack#",
            "stack#123",
            "Stack",
            "stack\n0 failed",
            "stack sets",
            "stack#x",
            &"a".repeat(41),
        ] {
            assert!(!ok(&[bad]), "{bad:?}");
        }
        assert!(ok(&vec!["stack"; 100]));
        assert!(!ok(&vec!["stack"; 101]));
        // A full memory of failures no longer made, and this run's checks:
        // what is remembered next is still trusted, this run's first.
        let full = Before::Seen(
            (1..=99)
                .map(|i| format!("gone#{i}"))
                .chain(["lost".to_string()])
                .map(|check| Seen {
                    check,
                    status: Status::Fail,
                })
                .collect(),
        );
        let next = remembered(&full, &[check("stack", Status::Pass)]);
        assert_eq!(next.len(), 100);
        assert_eq!(next[0].check, "stack");
        assert!(trusted(next).is_some());
    }

    #[test]
    fn repeated_checks_are_told_apart_by_their_place() {
        let now = [
            check("stack-sets", Status::Pass),
            check("stack-sets", Status::Fail),
        ];
        let names: Vec<String> = seen(&now).into_iter().map(|s| s.check).collect();
        assert_eq!(names, ["stack-sets", "stack-sets#2"]);
        // The second StackSet failing where the first did before is a change
        // of both, not no change at all.
        let before = seen_of(&[("stack-sets", Status::Fail), ("stack-sets#2", Status::Pass)]);
        let Verdict::Tell { changes } = decide(&before, &now) else {
            panic!("quiet")
        };
        assert_eq!(
            changes,
            [
                Change {
                    check: "stack-sets".into(),
                    was: Some(Status::Fail),
                    now: Some(Status::Pass)
                },
                Change {
                    check: "stack-sets#2".into(),
                    was: Some(Status::Pass),
                    now: Some(Status::Fail)
                },
            ]
        );
    }

    #[test]
    fn what_a_run_leaves_reads_back_the_same() {
        let left = seen(&[check("stack", Status::Pass), check("trail", Status::Fail)]);
        let json = serde_json::to_string(&left).unwrap();
        assert_eq!(
            json,
            r#"[{"check":"stack","status":"pass"},{"check":"trail","status":"fail"}]"#
        );
        let back: Vec<Seen> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, left);
    }
}
