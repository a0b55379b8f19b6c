//! Plain-text tables for the terminal.

use guard::domain::accounts::AccountState;
use guard::domain::outcome::SweepReport;

use emulator::FleetRow;

/// Renders rows as aligned columns under a header.
pub fn columns(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// The fleet, one line per resource.
pub fn fleet(rows: &[FleetRow], stop_key: &str, exempt_key: &str) -> String {
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut marks = Vec::new();
            if let Some(v) = r.tag(stop_key) {
                marks.push(format!("{stop_key}={v}"));
            }
            if r.tag(exempt_key).is_some() {
                marks.push(exempt_key.to_string());
            }
            if let Some(by) = r.tag(guard::STOPPED_BY_TAG) {
                marks.push(format!("stopped-by={by}"));
            }
            vec![
                r.region.clone(),
                r.kind.to_string(),
                r.id.clone(),
                r.name.clone(),
                r.state.clone(),
                marks.join(" "),
            ]
        })
        .collect();
    columns(&["REGION", "KIND", "ID", "NAME", "STATE", "TAGS"], &body)
}

/// A dry run's result, one table per region that has something to show.
pub fn plan(report: &SweepReport) -> String {
    let mut out = String::new();
    let mut quiet = Vec::new();
    for r in &report.regions {
        let mut rows: Vec<Vec<String>> = Vec::new();
        for s in &r.stopped {
            rows.push(vec![
                "stop".into(),
                s.kind.to_string(),
                s.id.clone(),
                s.name.clone().unwrap_or_else(|| "-".into()),
                s.size.clone(),
                String::new(),
            ]);
        }
        for s in &r.skipped {
            rows.push(vec![
                "skip".into(),
                s.resource.kind.to_string(),
                s.resource.id.clone(),
                s.resource.name.clone().unwrap_or_else(|| "-".into()),
                s.resource.size.clone(),
                s.reason.clone(),
            ]);
        }
        for e in &r.errors {
            rows.push(vec![
                "error".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                e.clone(),
            ]);
        }
        if rows.is_empty() {
            quiet.push(r.label());
            continue;
        }
        out.push_str(&format!("{}\n", r.label()));
        out.push_str(&columns(
            &["ACTION", "KIND", "ID", "NAME", "TYPE", "REASON"],
            &rows,
        ));
        out.push('\n');
    }
    if !quiet.is_empty() {
        out.push_str(&format!(
            "Nothing to stop in {} regions: {}\n",
            quiet.len(),
            quiet.join(", ")
        ));
    }
    for a in &report.accounts {
        match &a.state {
            AccountState::Unreachable(why) => out.push_str(&format!(
                "Account {} not reachable: {why}\n",
                a.account.label()
            )),
            AccountState::NotSwept(why) => {
                out.push_str(&format!("Account {} not swept: {why}\n", a.account.label()))
            }
            AccountState::Swept | AccountState::Queued => {}
        }
    }
    let accounts = report
        .accounts
        .iter()
        .filter(|a| a.state == AccountState::Swept)
        .count();
    out.push_str(&format!(
        "Would stop {} resources, skip {}, in {} regions swept{}.\n",
        report.stopped_count(),
        report.skipped_count(),
        report.regions.len(),
        if report.multi_account() {
            format!(" across {accounts} accounts")
        } else {
            String::new()
        }
    ));
    out
}
