//! What `cost-guard doctor` prints: one line per check with its fix under it,
//! and a count; or the same as JSON for scripts. Pure.

use std::fmt::Write as _;

use serde::Serialize;

use crate::domain::doctor::{Check, Status};

/// Where the checks were made, for the heading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scope {
    pub stack: String,
    pub region: String,
    /// Empty when it could not be learnt.
    pub account: String,
}

pub(crate) fn label(status: Status) -> &'static str {
    match status {
        Status::Pass => "ok",
        Status::Fail => "FAIL",
        Status::Unknown => "unknown",
        Status::Advice => "advice",
    }
}

fn count(checks: &[Check], status: Status) -> usize {
    checks.iter().filter(|c| c.status == status).count()
}

/// `3 failed, 1 could not be checked, 2 advice, 10 passed`.
pub fn tally(checks: &[Check]) -> String {
    format!(
        "{} failed, {} could not be checked, {} advice, {} passed",
        count(checks, Status::Fail),
        count(checks, Status::Unknown),
        count(checks, Status::Advice),
        count(checks, Status::Pass),
    )
}

/// The checklist for a person: the failures first, then what could not be
/// checked, the advice, and what passed, each in the order it was checked.
pub fn text(scope: &Scope, checks: &[Check]) -> String {
    let mut out = String::new();
    let account = if scope.account.is_empty() {
        String::new()
    } else {
        format!(", account {}", scope.account)
    };
    let _ = writeln!(
        out,
        "cost-guard doctor: stack {} in {}{account}\n",
        scope.stack, scope.region
    );
    let mut ordered: Vec<&Check> = checks.iter().collect();
    ordered.sort_by_key(|c| c.status);
    let width = checks.iter().map(|c| c.check.len()).max().unwrap_or(0);
    for c in ordered {
        let _ = writeln!(
            out,
            "{:<8}{:<width$}  {}",
            label(c.status),
            c.check,
            one_line(&c.found)
        );
        if let Some(fix) = &c.fix {
            let what = if c.status == Status::Unknown {
                "needs"
            } else {
                "fix"
            };
            let _ = writeln!(out, "{:<8}{:<width$}  {what}: {}", "", "", one_line(fix));
        }
    }
    let _ = writeln!(out, "\n{}.", tally(checks));
    out
}

/// One line: what a check found quotes names others chose (a budget's name
/// may hold a line break), and a line break there could fake a line of the
/// checklist, so every control character is shown as a space.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[derive(Serialize)]
struct Json<'a> {
    #[serde(flatten)]
    scope: &'a Scope,
    failed: usize,
    unknown: usize,
    advice: usize,
    passed: usize,
    checks: &'a [Check],
}

/// The checklist for a script: the scope, the counts and every check in
/// the order it was made.
pub fn json(scope: &Scope, checks: &[Check]) -> String {
    let doc = Json {
        scope,
        failed: count(checks, Status::Fail),
        unknown: count(checks, Status::Unknown),
        advice: count(checks, Status::Advice),
        passed: count(checks, Status::Pass),
        checks,
    };
    // Plain strings, numbers and enums: serialising cannot fail.
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &'static str, status: Status, fix: Option<&str>) -> Check {
        Check {
            check: name,
            status,
            found: format!("{name} found"),
            fix: fix.map(str::to_string),
        }
    }

    fn scope() -> Scope {
        Scope {
            stack: "cost-guard".into(),
            region: "us-east-1".into(),
            account: "111122223333".into(),
        }
    }

    #[test]
    fn a_name_with_a_line_break_cannot_fake_a_line_of_the_checklist() {
        let checks = [Check {
            check: "trigger",
            status: Status::Pass,
            found: "budget x\nok      trail  fine\r\n0 failed".into(),
            fix: Some("a\tb".into()),
        }];
        let out = text(&scope(), &checks);
        assert!(
            out.contains("ok      trigger  budget x ok      trail  fine  0 failed\n"),
            "{out}"
        );
        assert!(out.contains("fix: a b\n"), "{out}");
        assert_eq!(out.lines().count(), 6, "{out}");
    }

    #[test]
    fn failures_come_first_each_with_its_fix_under_it_then_the_count() {
        let checks = [
            check("stack", Status::Pass, None),
            check("guardduty", Status::Advice, Some("enable it")),
            check("trail", Status::Fail, Some("start it")),
            check("user-mfa", Status::Unknown, Some("iam:ListUsers")),
            check("subscription", Status::Fail, Some("confirm it")),
        ];
        assert_eq!(
            text(&scope(), &checks),
            "cost-guard doctor: stack cost-guard in us-east-1, account 111122223333\n\
             \n\
             FAIL    trail         trail found\n\
             \x20                     fix: start it\n\
             FAIL    subscription  subscription found\n\
             \x20                     fix: confirm it\n\
             unknown user-mfa      user-mfa found\n\
             \x20                     needs: iam:ListUsers\n\
             advice  guardduty     guardduty found\n\
             \x20                     fix: enable it\n\
             ok      stack         stack found\n\
             \n\
             2 failed, 1 could not be checked, 1 advice, 1 passed.\n"
        );
        let unknown_account = Scope {
            account: String::new(),
            ..scope()
        };
        assert!(text(&unknown_account, &checks)
            .starts_with("cost-guard doctor: stack cost-guard in us-east-1\n"));
    }

    #[test]
    fn json_has_the_scope_the_counts_and_every_check_in_order() {
        let checks = [
            check("stack", Status::Pass, None),
            check("trail", Status::Fail, Some("start it")),
        ];
        let doc: serde_json::Value = serde_json::from_str(&json(&scope(), &checks)).unwrap();
        assert_eq!(
            doc,
            serde_json::json!({
                "stack": "cost-guard",
                "region": "us-east-1",
                "account": "111122223333",
                "failed": 1,
                "unknown": 0,
                "advice": 0,
                "passed": 1,
                "checks": [
                    {"check": "stack", "status": "pass", "found": "stack found"},
                    {"check": "trail", "status": "fail", "found": "trail found", "fix": "start it"},
                ]
            })
        );
    }
}
