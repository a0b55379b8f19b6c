//! What subscribers read, one renderer per function, and the parts they share:
//! a subject of at most 100 ASCII characters that says the outcome, the sweep's
//! WHAT HAPPENED section with its restart commands, and the spend section. Pure.

use std::fmt::Write as _;

use crate::domain::accounts::AccountState;
use crate::domain::inventory::{Resource, ResourceKind};
use crate::domain::kinds;
use crate::domain::money::usd;
use crate::domain::outcome::{RegionReport, Stamp, SweepReport};
use crate::domain::spend::{CostMetric, Forecast, MonthToDateState};
use crate::domain::tags::{STOPPED_AT_TAG, STOPPED_BY_TAG};

pub mod burn_watch;
pub mod doctor;
pub(crate) mod fanout;
pub mod keep_stopped;
pub mod launch_tripwire;
pub mod resume;
pub mod root_login_alert;
pub mod spend_watch;
pub mod status;
pub mod stop_on_overspend;
pub mod weekly_check;

/// SNS subjects: ASCII, no line breaks, at most 100 characters.
pub(crate) const MAX_SUBJECT: usize = 100;
/// Bodies stay under SNS's 256 KB limit with room for the envelope.
pub(crate) const MAX_BODY_BYTES: usize = 240 * 1024;
/// Resources listed per region and section before "... and N more".
pub(crate) const MAX_LISTED: usize = 50;

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub subject: String,
    pub body: String,
}

pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What a sweep did, for a subject: `cost-guard stopped 14 resources in 5 regions`,
/// `[dry run] cost-guard would stop ...`, `cost-guard found nothing to stop`, with
/// `, 2 regions failed` when some did not finish.
pub(crate) fn sweep_outcome(s: &SweepReport) -> String {
    let n = s.stopped_count();
    let mut what_where = plural(n, "resource", "resources");
    if s.multi_account() {
        let _ = write!(
            what_where,
            " in {}, {}",
            plural(s.accounts_with_stops(), "account", "accounts"),
            plural(s.regions_with_stops(), "region", "regions")
        );
    } else {
        let _ = write!(
            what_where,
            " in {}",
            plural(s.regions_with_stops(), "region", "regions")
        );
    }
    let earlier = s.earlier_count();
    let queued = s.queued_accounts().len();
    let mut text = if queued > 0 && s.regions.is_empty() {
        format!(
            "{}cost-guard is sweeping {} through its queue",
            if s.dry_run { "[dry run] " } else { "" },
            plural(queued, "account", "accounts")
        )
    } else if s.dry_run {
        format!("[dry run] cost-guard would stop {what_where}")
    } else if n == 0 && earlier > 0 {
        format!(
            "cost-guard found nothing left to stop, {} stopped by an earlier run",
            plural(earlier, "resource", "resources")
        )
    } else if n == 0 {
        "cost-guard found nothing to stop".to_string()
    } else {
        format!("cost-guard stopped {what_where}")
    };
    let unreachable = s.unreachable_accounts().len();
    if unreachable > 0 {
        let _ = write!(
            text,
            ", {} unreachable",
            plural(unreachable, "account", "accounts")
        );
    }
    let troubled = s.troubled_regions().len();
    if troubled > 0 {
        let _ = write!(text, ", {} failed", plural(troubled, "region", "regions"));
    }
    text
}

/// `outcome (cause)` within 100 ASCII characters: the outcome stays whole and
/// the cause in parentheses is shortened when the line is too long.
pub(crate) fn outcome_subject(outcome: &str, cause: &str) -> String {
    let outcome = ascii_line(outcome);
    let cause = ascii_line(cause);
    let full = format!("{outcome} ({cause})");
    if full.len() <= MAX_SUBJECT {
        return full;
    }
    match MAX_SUBJECT.checked_sub(outcome.len() + 6) {
        Some(room) if room > 0 => {
            let short: String = cause.chars().take(room).collect();
            format!("{outcome} ({short}...)")
        }
        _ => subject_line(&outcome),
    }
}

/// A subject SNS accepts: printable ASCII, one line, at most 100 characters.
pub(crate) fn subject_line(text: &str) -> String {
    let line = ascii_line(text);
    if line.len() <= MAX_SUBJECT {
        return line;
    }
    let mut cut: String = line.chars().take(MAX_SUBJECT - 3).collect();
    cut.push_str("...");
    cut
}

/// Printable ASCII only (what SNS accepts in a subject), one line.
fn ascii_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = match c {
            '…' => {
                out.push_str("...");
                continue;
            }
            c if c.is_ascii_graphic() || c == ' ' => c,
            c if c.is_whitespace() || c.is_control() => ' ',
            _ => '?',
        };
        if c == ' ' && out.ends_with(' ') {
            continue;
        }
        out.push(c);
    }
    out.trim().to_string()
}

/// The WHAT HAPPENED section of a sweep, per-region details and restart commands.
pub(crate) fn sweep_section(
    b: &mut String,
    sweep: &SweepReport,
    stamp: Option<&Stamp>,
    resume_function: Option<&str>,
) {
    let n = sweep.stopped_count();
    let verb = if sweep.dry_run {
        "Would stop"
    } else {
        "Stopped"
    };
    let kinds: Vec<String> = sweep
        .stopped_by_kind()
        .iter()
        .map(|(k, c)| plural(*c, &k.to_string(), &format!("{k}s")))
        .collect();
    b.push_str("WHAT HAPPENED\n");
    let accounts = if sweep.multi_account() {
        format!(
            "{}, ",
            plural(sweep.accounts_with_stops(), "account", "accounts")
        )
    } else {
        String::new()
    };
    let _ = write!(
        b,
        "{verb} {} in {accounts}{}",
        plural(n, "resource", "resources"),
        plural(sweep.regions_with_stops(), "region", "regions"),
    );
    if !kinds.is_empty() {
        let _ = write!(b, " ({})", kinds.join(", "));
    }
    if sweep.multi_account() {
        let swept = sweep
            .accounts
            .iter()
            .filter(|a| a.state == AccountState::Swept)
            .count();
        let _ = writeln!(
            b,
            "; {} swept in {}.",
            plural(sweep.regions.len(), "region", "regions"),
            plural(swept, "account", "accounts")
        );
    } else {
        let _ = writeln!(
            b,
            "; {} swept.",
            plural(sweep.regions.len(), "region", "regions")
        );
    }
    if sweep.earlier_count() > 0 {
        let _ = writeln!(
            b,
            "Already stopped for this alert by an earlier run: {} (listed below).",
            plural(sweep.earlier_count(), "resource", "resources")
        );
    }
    if sweep.skipped_count() > 0 {
        let _ = writeln!(
            b,
            "Skipped {} (reasons below).",
            plural(sweep.skipped_count(), "resource", "resources")
        );
    }
    account_lines(b, sweep);
    let troubled = sweep.troubled_regions();
    if !troubled.is_empty() {
        let names: Vec<String> = troubled.iter().map(|r| r.label()).collect();
        let _ = writeln!(
            b,
            "NOT COMPLETE in {}: {}. The invocation fails so that Lambda retries; the retry stops what is left.",
            plural(names.len(), "region", "regions"),
            names.join(", ")
        );
    }
    if let (Some(stamp), false, true) = (stamp, sweep.dry_run, n > 0) {
        let _ = writeln!(
            b,
            "Everything stopped is tagged {STOPPED_AT_TAG}={} and {STOPPED_BY_TAG}={}.",
            stamp.at, stamp.by
        );
    }
    b.push('\n');

    // One block per account (one block in all for the guard's own account).
    let mut accounts: Vec<Option<&str>> =
        sweep.regions.iter().map(|r| r.account.as_deref()).collect();
    accounts.dedup();
    for account in accounts {
        if let Some(id) = account {
            let label = sweep
                .accounts
                .iter()
                .find(|a| a.account.id == id)
                .map(|a| a.account.label())
                .unwrap_or_else(|| id.to_string());
            let _ = writeln!(b, "ACCOUNT {label}");
        }
        let mut quiet = Vec::new();
        for r in sweep
            .regions
            .iter()
            .filter(|r| r.account.as_deref() == account)
        {
            if r.stopped.is_empty()
                && r.earlier.is_empty()
                && r.skipped.is_empty()
                && r.is_clean()
                && r.stamp_warnings.is_empty()
                && r.unstamped.is_empty()
            {
                quiet.push(r.region.as_str());
                continue;
            }
            render_region(b, r, sweep.dry_run);
        }
        if !quiet.is_empty() {
            let _ = writeln!(b, "Nothing to stop in: {}.\n", quiet.join(", "));
        }
    }
    if n > 0 && !sweep.dry_run {
        render_restart(b, sweep, stamp, resume_function);
    }
}

/// The accounts that were not swept here: unreachable (with the fix), queued
/// for a worker, or left out (with the reason).
fn account_lines(b: &mut String, sweep: &SweepReport) {
    let unreachable = sweep.unreachable_accounts();
    if !unreachable.is_empty() {
        let _ = writeln!(
            b,
            "NOT SWEPT, role not available in {}:",
            plural(unreachable.len(), "account", "accounts")
        );
        for (account, why) in unreachable.iter().take(MAX_LISTED) {
            let _ = writeln!(b, "  {}: {why}", account.label());
        }
    }
    let queued = sweep.queued_accounts();
    if !queued.is_empty() {
        let labels: Vec<String> = queued
            .iter()
            .take(MAX_LISTED)
            .map(|a| a.account.label())
            .collect();
        let more = queued.len().saturating_sub(MAX_LISTED);
        let _ = writeln!(
            b,
            "Handed to the sweep queue, one message per account, each swept by its own worker invocation that reports on its own; a summary follows: {}{}.",
            labels.join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() }
        );
    }
    for a in &sweep.accounts {
        if let AccountState::NotSwept(why) = &a.state {
            let _ = writeln!(b, "Not swept: {}: {why}.", a.account.label());
        }
    }
}

/// A titled list under a region, cut at [`MAX_LISTED`] with "... and N more".
pub(crate) fn section(b: &mut String, title: &str, lines: Vec<String>) {
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(b, "  {title}:");
    for line in lines.iter().take(MAX_LISTED) {
        let _ = writeln!(b, "    {line}");
    }
    if lines.len() > MAX_LISTED {
        let _ = writeln!(b, "    ... and {} more", lines.len() - MAX_LISTED);
    }
}

/// `i-0abc  gpu-miner  g4dn.xlarge  (EC2 instance)`
pub(crate) fn res_line(res: &Resource) -> String {
    format!(
        "{}  {}  {}  ({})",
        res.id,
        res.name.as_deref().unwrap_or("-"),
        res.size,
        res.kind
    )
}

fn render_region(b: &mut String, r: &RegionReport, dry: bool) {
    let _ = writeln!(b, "{}", r.region);
    let mut section = |title: &str, lines: Vec<String>| section(b, title, lines);
    section(
        if dry { "Would stop" } else { "Stopped" },
        r.stopped.iter().map(res_line).collect(),
    );
    section(
        "Stopped earlier for this alert",
        r.earlier.iter().map(res_line).collect(),
    );
    section(
        "Skipped",
        r.skipped
            .iter()
            .map(|s| format!("{}: {}", res_line(&s.resource), s.reason))
            .collect(),
    );
    section(
        "Failed",
        r.failed
            .iter()
            .map(|f| format!("{}: {}", res_line(&f.resource), f.error))
            .collect(),
    );
    section("Region errors", r.errors.clone());
    section(
        "Stopped but NOT stamped (no cost-guard:stopped-at tag; only this report says cost-guard stopped them)",
        r.unstamped.iter().map(res_line).collect(),
    );
    section("Warnings", r.stamp_warnings.clone());
    if !r.finished && r.errors.is_empty() {
        b.push_str("  Did not finish; the retry stops what is left.\n");
    }
    b.push('\n');
}

fn render_restart(
    b: &mut String,
    sweep: &SweepReport,
    stamp: Option<&Stamp>,
    resume_function: Option<&str>,
) {
    b.push_str("HOW TO START EVERYTHING AGAIN\n");
    if let (Some(function), Some(stamp)) = (resume_function, stamp) {
        let _ = writeln!(
            b,
            "When you have found the cause, start again what this alert stopped, in one step:\n  aws lambda invoke --function-name {function} --cli-binary-format raw-in-base64-out --payload '{{\"stopped_by\": \"{}\"}}' /dev/stdout\n  (add \"dry_run\": true to the payload to see the list first; cost-guard resume does the same from a shell)",
            stamp.by
        );
        b.push_str("Or with the AWS CLI:\n");
    } else {
        b.push_str("When you have found the cause, start what cost-guard stopped (AWS CLI):\n");
    }
    // Each command takes the stamp off before it starts anything, as resume
    // does: a stamped database that starts is one the keep-stopped watch stops.
    let at = stamp.map(|s| s.at.as_str()).unwrap_or("*");
    let mut account_said: Option<&str> = None;
    for r in sweep.regions.iter().filter(|r| !r.stopped.is_empty()) {
        if let Some(id) = r.account.as_deref().filter(|id| account_said != Some(*id)) {
            let _ = writeln!(
                b,
                "  # in account {id}, with that account's credentials (add --profile NAME to each command):"
            );
            account_said = Some(id);
        }
        let mut each = Vec::new();
        let mut kinds: Vec<ResourceKind> = r.stopped.iter().map(|s| s.kind).collect();
        kinds.sort();
        kinds.dedup();
        for kind in kinds {
            let unstamped = |s: &&Resource| r.unstamped.iter().any(|u| u.id == s.id);
            let of_kind = r.stopped.iter().filter(|s| s.kind == kind);
            let (unstamped, stamped): (Vec<&Resource>, Vec<&Resource>) =
                of_kind.partition(unstamped);
            let lines = kinds::restart_lines(kind, &r.region, &stamped, &unstamped, at);
            for line in lines.region_wide {
                let _ = writeln!(b, "  {line}");
            }
            each.extend(lines.each);
        }
        for line in each.iter().take(MAX_LISTED) {
            let _ = writeln!(b, "  {line}");
        }
        if each.len() > MAX_LISTED {
            let _ = writeln!(
                b,
                "  ... and {} more in {} (listed under Stopped above)",
                each.len() - MAX_LISTED,
                r.region
            );
        }
    }
    let _ = writeln!(
        b,
        "Everything cost-guard ever stopped carries the tag {STOPPED_AT_TAG}; RDS starts a stopped database by itself after 7 days.\n"
    );
}

/// The "WHERE THE MONEY WENT" section.
pub(crate) fn money_section(
    b: &mut String,
    mtd: &MonthToDateState,
    forecast: &Forecast,
    metric: CostMetric,
) {
    match mtd {
        MonthToDateState::Known(m) => {
            let _ = writeln!(
                b,
                "WHERE THE MONEY WENT\nMonth to date ({} to {}, {}): {}",
                m.period.start_text(),
                m.period.end_text(),
                metric.usage_name(),
                m.total
            );
            if m.services.is_empty() {
                b.push_str("  no service has a cost this month yet\n");
            }
            for (name, amount) in m.top(5) {
                let _ = writeln!(b, "  {:>12}  {name}", amount.to_string());
            }
            if m.services.len() > 5 {
                let rest: f64 = m.services[5..].iter().map(|(_, a)| a.value()).sum();
                let others = m.services.len() - 5;
                let _ = writeln!(
                    b,
                    "  {:>12}  {others} other service{}",
                    usd(rest),
                    if others == 1 { "" } else { "s" }
                );
            }
        }
        MonthToDateState::FirstDayOfMonth => {
            b.push_str("WHERE THE MONEY WENT\nMonth to date: not yet available (first day of the month, no complete day yet)\n");
        }
        MonthToDateState::Failed(e) => {
            let _ = writeln!(b, "WHERE THE MONEY WENT\nSpend unavailable: Cost Explorer did not answer ({e}). Stopping did not wait for it.");
        }
    }
    match forecast {
        Forecast::Available(f) => {
            let _ = writeln!(b, "Forecast for the whole month: {f}");
        }
        Forecast::NotYetAvailable => {
            b.push_str("Forecast for the whole month: not yet available (early in the month or a new account)\n")
        }
        Forecast::Failed(e) => {
            let _ = writeln!(b, "Forecast for the whole month: unavailable ({e})");
        }
        Forecast::NotAsked => {}
    }
    b.push('\n');
}

/// Compares what a renderer wrote for a list of cases with the committed
/// `golden/NAME.txt`, the messages as subscribers read them. Any change of
/// wording, figure, order or command fails here and shows its first line;
/// when the change is meant, `GOLDEN_UPDATE=1 cargo test -p guard --lib
/// golden` writes the file anew, and its diff is reviewed like code.
#[cfg(test)]
pub(crate) fn check_golden(name: &str, got: &str) {
    let path = format!(
        "{}/src/domain/render/golden/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    if std::env::var_os("GOLDEN_UPDATE").is_some() {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{path}: {e}; GOLDEN_UPDATE=1 cargo test -p guard --lib golden writes it")
    });
    if want == got {
        return;
    }
    let (n, (w, g)) = want
        .lines()
        .chain(std::iter::repeat("(end of file)"))
        .zip(got.lines().chain(std::iter::repeat("(end of file)")))
        .enumerate()
        .find(|(_, (w, g))| w != g)
        .expect("texts differ in their lines");
    panic!(
        "{path}, line {}, differs:\n  golden:   {w}\n  rendered: {g}\n(when the change is meant: GOLDEN_UPDATE=1 cargo test -p guard --lib golden, and review the diff)",
        n + 1
    );
}

/// One case of a golden file: its title, the subject and the body.
#[cfg(test)]
pub(crate) fn golden_case(out: &mut String, title: &str, m: Option<&Message>) {
    let _ = writeln!(out, "=== {title}");
    match m {
        Some(m) => {
            let _ = writeln!(out, "Subject: {}\n\n{}", m.subject, m.body);
        }
        None => out.push_str("(no message)\n\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::spend::{month_to_date_period, MonthToDate};
    use time::macros::date;

    fn mtd(total_by_service: &[(&str, f64)]) -> MonthToDateState {
        MonthToDateState::Known(MonthToDate::from_services(
            month_to_date_period(date!(2026 - 11 - 22)).unwrap(),
            total_by_service
                .iter()
                .map(|(n, v)| (n.to_string(), *v))
                .collect(),
        ))
    }

    proptest::proptest! {
        /// What SNS accepts as a subject, whatever the outcome and cause
        /// carry (a budget's name, a principal, a finding type): one line
        /// of printable ASCII, at most 100 characters, the outcome whole
        /// when it leaves room for the cause.
        #[test]
        fn every_subject_is_one_line_of_printable_ascii_within_100(
            outcome in "(?s).{0,130}",
            cause in "(?s).{0,200}",
        ) {
            let subject = outcome_subject(&outcome, &cause);
            for s in [&subject, &subject_line(&outcome), &subject_line(&cause)] {
                proptest::prop_assert!(s.chars().count() <= MAX_SUBJECT, "{s:?}");
                proptest::prop_assert!(
                    s.chars().all(|c| c.is_ascii_graphic() || c == ' '),
                    "{s:?}"
                );
            }
            let whole = ascii_line(&outcome);
            if whole.len() + 6 < MAX_SUBJECT {
                proptest::prop_assert!(subject.starts_with(&whole), "{subject:?}");
            }
        }
    }

    #[test]
    fn subjects_are_cleaned_to_printable_ascii() {
        // An ellipsis is three dots; other non-ASCII letters are '?';
        // whitespace and control characters, even a no-break space or a
        // bell, are one space.
        assert_eq!(ascii_line("a\u{2026}b"), "a...b");
        assert_eq!(ascii_line("caf\u{e9}"), "caf?");
        assert_eq!(ascii_line("a\n\tb\u{a0}c\u{7}d"), "a b c d");
    }

    #[test]
    fn a_cause_with_no_room_is_left_out_whole() {
        // Room for "outcome (" and "...)" but not one character of the cause.
        let outcome = "x".repeat(MAX_SUBJECT - 6);
        assert_eq!(outcome_subject(&outcome, "a cause"), outcome);
        // One character of room: the cause is cut to it.
        let outcome = "x".repeat(MAX_SUBJECT - 7);
        assert_eq!(
            outcome_subject(&outcome, "a cause"),
            format!("{outcome} (a...)")
        );
    }

    #[test]
    fn a_sweep_of_no_region_and_no_queue_found_nothing() {
        let s = SweepReport {
            dry_run: false,
            regions: vec![],
            accounts: vec![],
        };
        assert_eq!(sweep_outcome(&s), "cost-guard found nothing to stop");
    }

    #[test]
    fn lists_are_cut_only_past_their_length() {
        let lines = |n: usize| (0..n).map(|i| format!("line {i}")).collect::<Vec<_>>();
        let mut b = String::new();
        section(&mut b, "Stopped", lines(MAX_LISTED));
        assert!(!b.contains("more"), "{b}");
        assert_eq!(b.lines().count(), MAX_LISTED + 1);
        let mut b = String::new();
        section(&mut b, "Stopped", lines(MAX_LISTED + 2));
        assert!(b.ends_with("    line 49\n    ... and 2 more\n"), "{b}");

        // The restart commands, one per database, likewise.
        let dbs = |region: &str, n: usize| RegionReport {
            region: region.into(),
            stopped: (0..n)
                .map(|i| Resource {
                    kind: ResourceKind::DbInstance,
                    id: format!("db-{i}"),
                    name: None,
                    size: "db.m5.large".into(),
                })
                .collect(),
            finished: true,
            ..Default::default()
        };
        let sweep = SweepReport {
            dry_run: false,
            regions: vec![
                dbs("eu-west-1", MAX_LISTED),
                dbs("us-east-1", MAX_LISTED + 2),
            ],
            accounts: vec![],
        };
        let mut b = String::new();
        render_restart(&mut b, &sweep, None, None);
        assert!(!b.contains("more in eu-west-1"), "{b}");
        assert!(
            b.contains("  ... and 2 more in us-east-1 (listed under Stopped above)\n"),
            "{b}"
        );
        assert_eq!(b.matches("start-db-instance").count(), 2 * MAX_LISTED);
    }

    #[test]
    fn top_services_and_section() {
        let state = mtd(&[
            ("Amazon Elastic Compute Cloud - Compute", 812.4),
            ("Amazon Relational Database Service", 120.0),
            ("Amazon Simple Storage Service", 3.2),
            ("AWS Lambda", 0.0),
            ("Tax", 12.0),
            ("Amazon CloudWatch", 1.1),
            ("Amazon Elastic Compute Cloud - Compute", 7.6),
            ("Amazon Virtual Private Cloud", 2.0),
            ("Credits", -5.0),
        ]);
        let MonthToDateState::Known(m) = &state else {
            panic!()
        };
        assert_eq!(m.total.to_string(), "$953.30");
        assert_eq!(m.top(5)[0].0, "Amazon Elastic Compute Cloud - Compute");
        assert_eq!(m.top(5)[0].1.to_string(), "$820.00");
        assert_eq!(m.top(5).len(), 5);
        let mut b = String::new();
        money_section(
            &mut b,
            &state,
            &Forecast::NotYetAvailable,
            CostMetric::UnblendedCost,
        );
        assert!(
            b.contains("Month to date (2026-11-01 to 2026-11-22, UnblendedCost): $953.30"),
            "{b}"
        );
        assert!(
            b.contains("     $820.00  Amazon Elastic Compute Cloud - Compute"),
            "{b}"
        );
        assert!(b.contains("       $1.10  1 other service\n"), "{b}");
        assert!(b.contains("not yet available"), "{b}");
        let mut b = String::new();
        money_section(
            &mut b,
            &MonthToDateState::Failed("Network".into()),
            &Forecast::NotAsked,
            CostMetric::UnblendedCost,
        );
        assert!(b.contains("Spend unavailable"));

        // The line of the rest counts what is not listed, and is there only
        // when something is not listed.
        let services = |n: usize| -> Vec<(&'static str, f64)> {
            ["A", "B", "C", "D", "E", "F", "G"][..n]
                .iter()
                .map(|s| (*s, 1.0))
                .collect()
        };
        let mut b = String::new();
        money_section(
            &mut b,
            &mtd(&services(7)),
            &Forecast::NotAsked,
            CostMetric::UnblendedCost,
        );
        assert!(b.contains("       $2.00  2 other services\n"), "{b}");
        let mut b = String::new();
        money_section(
            &mut b,
            &mtd(&services(5)),
            &Forecast::NotAsked,
            CostMetric::UnblendedCost,
        );
        assert!(!b.contains("other service"), "{b}");
    }
}
