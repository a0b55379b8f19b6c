//! What the weekly check sends: a subject that says how many checks fail
//! and how many of those are new, what changed since the run before, then
//! the whole checklist as `cost-guard doctor` prints it. Pure.

use std::fmt::Write as _;

use super::doctor::{label, text, Scope};
use super::{plural, subject_line, Message};
use crate::domain::doctor::{Check, Status};
use crate::domain::weekly_check::{unresolved, Before, Change, Verdict};

/// One run of the weekly check, as the message needs it.
pub struct WeeklyOutcome<'a> {
    pub scope: &'a Scope,
    pub checks: &'a [Check],
    pub before: &'a Before,
    pub verdict: &'a Verdict,
    /// The stack's `DoctorSchedule`, for the closing line.
    pub schedule: &'a str,
}

fn status(s: Option<Status>) -> &'static str {
    s.map(label).unwrap_or("not made")
}

/// The message, or `None` when the verdict is to stay quiet.
pub fn render(o: &WeeklyOutcome<'_>) -> Option<Message> {
    let Verdict::Tell { changes } = o.verdict else {
        return None;
    };
    let failed = o.checks.iter().filter(|c| c.status == Status::Fail).count();
    let first = !matches!(o.before, Before::Seen(_));
    let newly_failed = changes
        .iter()
        .filter(|c| c.now == Some(Status::Fail))
        .count();
    let stack = &o.scope.stack;
    let unknown = changes.iter().filter(|c| unresolved(c)).count();
    let subject = if failed > 0 {
        let new = if first || newly_failed == 0 {
            String::new()
        } else {
            format!(" ({newly_failed} new)")
        };
        format!(
            "cost-guard weekly check: {} failed{new} in {stack}",
            plural(failed, "check", "checks")
        )
    } else if unknown > 0 {
        format!(
            "cost-guard weekly check: {} that failed could not be checked in {stack}",
            plural(unknown, "check", "checks")
        )
    } else if first {
        format!("cost-guard weekly check: nothing failed in {stack}")
    } else {
        format!(
            "cost-guard weekly check: nothing failed, {} changed in {stack}",
            plural(changes.len(), "check", "checks")
        )
    };

    let mut body = String::new();
    match o.before {
        Before::First => {
            let _ = writeln!(
                body,
                "This is the first weekly check of this stack. From now on it writes only when a check fails or changes.\n"
            );
        }
        Before::Unreadable(why) => {
            let _ = writeln!(
                body,
                "What the last check saw could not be read ({why}): every check is listed below as if for the first time.\n"
            );
        }
        Before::Seen(_) if changes.is_empty() => {
            let _ = writeln!(
                body,
                "Nothing changed since the last check, but what fails still lets a bill through or leaves nobody told.\n"
            );
        }
        Before::Seen(_) => {
            let _ = writeln!(body, "CHANGED SINCE THE LAST CHECK");
            changes_lines(&mut body, changes);
            body.push('\n');
        }
    }
    body.push_str(&text(o.scope, o.checks));
    let _ = writeln!(
        body,
        "\nThis check runs on the stack's DoctorSchedule ({}); DoctorSchedule=off turns it off.\n\
         The same list, now: cost-guard doctor --stack-name {stack} --region {}",
        o.schedule, o.scope.region
    );
    Some(Message {
        subject: subject_line(&subject),
        body,
    })
}

fn changes_lines(body: &mut String, changes: &[Change]) {
    let width = changes.iter().map(|c| c.check.len()).max().unwrap_or(0);
    for c in changes {
        let note = if unresolved(c) {
            "  (it failed, and nothing shows it fixed: told every week until it passes)"
        } else {
            ""
        };
        let _ = writeln!(
            body,
            "  {:<width$}  {} -> {}{note}",
            c.check,
            status(c.was),
            status(c.now)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::weekly_check::{decide, seen};

    fn check(name: &'static str, status: Status) -> Check {
        Check {
            check: name,
            status,
            found: format!("{name} found"),
            fix: (status == Status::Fail).then(|| format!("fix {name}")),
        }
    }

    fn scope() -> Scope {
        Scope {
            stack: "cost-guard".into(),
            region: "eu-west-1".into(),
            account: "111122223333".into(),
        }
    }

    fn message(before: &Before, checks: &[Check]) -> Option<Message> {
        let verdict = decide(before, checks);
        render(&WeeklyOutcome {
            scope: &scope(),
            checks,
            before,
            verdict: &verdict,
            schedule: "rate(7 days)",
        })
    }

    #[test]
    fn a_quiet_week_sends_nothing() {
        let checks = [check("stack", Status::Pass)];
        assert_eq!(message(&Before::Seen(seen(&checks)), &checks), None);
    }

    #[test]
    fn a_new_failure_is_counted_in_the_subject_and_shown_as_a_change() {
        let checks = [
            check("stack", Status::Pass),
            check("forwarder", Status::Fail),
            check("trail", Status::Fail),
        ];
        let before = Before::Seen(seen(&[
            check("stack", Status::Pass),
            check("forwarder", Status::Pass),
            check("trail", Status::Fail),
        ]));
        let m = message(&before, &checks).unwrap();
        assert_eq!(
            m.subject,
            "cost-guard weekly check: 2 checks failed (1 new) in cost-guard"
        );
        assert!(
            m.body
                .starts_with("CHANGED SINCE THE LAST CHECK\n  forwarder  ok -> FAIL\n\n"),
            "{}",
            m.body
        );
        // The whole checklist follows, with each failure's fix.
        assert!(
            m.body.contains("FAIL    forwarder  forwarder found\n"),
            "{}",
            m.body
        );
        assert!(m.body.contains("fix: fix forwarder"), "{}", m.body);
        assert!(m.body.ends_with(
            "This check runs on the stack's DoctorSchedule (rate(7 days)); DoctorSchedule=off turns it off.\n\
             The same list, now: cost-guard doctor --stack-name cost-guard --region eu-west-1\n"
        ), "{}", m.body);
    }

    #[test]
    fn an_unchanged_failure_says_so() {
        let checks = [check("trail", Status::Fail)];
        let m = message(&Before::Seen(seen(&checks)), &checks).unwrap();
        assert_eq!(
            m.subject,
            "cost-guard weekly check: 1 check failed in cost-guard"
        );
        assert!(m.body.starts_with("Nothing changed since the last check"));
    }

    #[test]
    fn a_fix_is_told_with_nothing_failing() {
        let checks = [
            check("subscription", Status::Pass),
            check("gone", Status::Pass),
        ];
        let before = Before::Seen(seen(&[
            check("subscription", Status::Fail),
            check("gone", Status::Pass),
            check("member-roles", Status::Pass),
        ]));
        let m = message(&before, &checks).unwrap();
        assert_eq!(
            m.subject,
            "cost-guard weekly check: nothing failed, 2 checks changed in cost-guard"
        );
        assert!(
            m.body.contains("  subscription  FAIL -> ok\n"),
            "{}",
            m.body
        );
        assert!(
            m.body.contains("  member-roles  ok -> not made\n"),
            "{}",
            m.body
        );
    }

    #[test]
    fn a_failure_that_could_not_be_checked_is_not_called_nothing_failed() {
        let checks = [
            check("trail", Status::Unknown),
            check("stack", Status::Pass),
        ];
        let before = Before::Seen(seen(&[
            check("trail", Status::Fail),
            check("stack", Status::Pass),
        ]));
        let m = message(&before, &checks).unwrap();
        assert_eq!(
            m.subject,
            "cost-guard weekly check: 1 check that failed could not be checked in cost-guard"
        );
        assert!(
            m.body.starts_with(
                "CHANGED SINCE THE LAST CHECK\n  trail  FAIL -> unknown  (it failed, and nothing shows it fixed: told every week until it passes)\n"
            ),
            "{}",
            m.body
        );
    }

    #[test]
    fn the_first_check_introduces_itself() {
        let checks = [check("stack", Status::Pass)];
        let m = message(&Before::First, &checks).unwrap();
        assert_eq!(
            m.subject,
            "cost-guard weekly check: nothing failed in cost-guard"
        );
        assert!(m.body.starts_with("This is the first weekly check"));
        let failing = [check("trail", Status::Fail)];
        let m = message(&Before::Unreadable("AccessDenied".into()), &failing).unwrap();
        // A memory that could not be read is no reason to call all of it new.
        assert_eq!(
            m.subject,
            "cost-guard weekly check: 1 check failed in cost-guard"
        );
        assert!(m
            .body
            .starts_with("What the last check saw could not be read (AccessDenied)"));
    }

    #[test]
    fn the_subject_stays_a_subject_whatever_the_stack_is_called() {
        let long = Scope {
            stack: format!("s{}", "x".repeat(127)),
            ..scope()
        };
        let checks = [check("trail", Status::Fail)];
        let before = Before::First;
        let verdict = decide(&before, &checks);
        let m = render(&WeeklyOutcome {
            scope: &long,
            checks: &checks,
            before: &before,
            verdict: &verdict,
            schedule: "rate(7 days)",
        })
        .unwrap();
        assert!(m.subject.len() <= crate::domain::render::MAX_SUBJECT);
        assert!(m.subject.ends_with("..."));
        // The count comes before the name that was cut.
        assert!(m
            .subject
            .starts_with("cost-guard weekly check: 1 check failed in sxxx"));
    }
}
