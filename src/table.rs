//! Plain-text tables for the terminal.

use guard::domain::accounts::AccountState;
use guard::domain::outcome::SweepReport;

use emulator::FleetRow;

/// Renders rows as aligned columns under a header: no borders, two spaces
/// between columns, no spaces at the ends of lines (the output is read in
/// terminals, pasted into tickets and compared in tests).
pub fn columns(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(header.to_vec());
    for row in rows {
        table.add_row(row.clone());
    }
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    let mut out = String::new();
    for line in table.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
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
