//! `cost-guard status`: what runs now and what it costs, grouped by account,
//! region and kind, with the totals per hour, per day and for the rest of
//! the month at this rate; and the same as JSON. burn-watch's message lists
//! the costliest lines the same way. Pure.

use std::fmt::Write as _;

use serde::Serialize;
use time::OffsetDateTime;

use crate::domain::burn::status::{Burn, Priced, Unread};
use crate::domain::burn::usage::Basis;
use crate::domain::burn::usd::Usd;
use crate::domain::prices::TABLE_SOURCE;
use crate::domain::render::plural;
use crate::domain::trigger::excerpt;

/// `i-0abc  gpu-miner  g4dn.xlarge  $0.5260 an hour (table)`; names come
/// from tags anyone allowed to tag can write: on one line, cut short.
pub fn priced_line(p: &Priced) -> String {
    let r = &p.running.resource;
    let name = r.name.as_deref().map(excerpt).unwrap_or_else(|| "-".into());
    let cost = match p.per_hour {
        Some(c) => format!(
            "{} an hour{}",
            c.fine(),
            p.basis.map(Basis::mark).unwrap_or_default()
        ),
        None => "price unknown".into(),
    };
    format!(
        "{}  {}  {}  {cost}",
        excerpt(&r.id),
        cut(&name, 60),
        excerpt(&r.size)
    )
}

fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// `December`: the month `now` is in, for "the rest of December".
fn month_name(now: OffsetDateTime) -> String {
    now.to_offset(time::UtcOffset::UTC).month().to_string()
}

/// The totals line: `Burning $3.21 an hour: $77.04 a day, $2,081.00 for the
/// rest of December at this rate.`, with "at least" when something is left
/// out.
pub fn totals_line(burn: &Burn, now: OffsetDateTime) -> String {
    let at_least = if burn.is_lower_bound() {
        "at least "
    } else {
        ""
    };
    format!(
        "Burning {at_least}{} an hour: {at_least}{} a day, {at_least}{} for the rest of {} at this rate.",
        burn.per_hour().fine(),
        burn.per_day().cents(),
        burn.rest_of_month(now).cents(),
        month_name(now)
    )
}

/// What readers must know about the figures: prices unknown, regions not
/// read, prices from the table or at most a spot price, failures.
pub fn caveats(burn: &Burn, notes: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let unknown = burn.unknown();
    if unknown > 0 {
        out.push(format!(
            "{} no known price and {} not in the totals (marked \"price unknown\"): the real rate is higher.",
            plural(unknown, "resource has", "resources have"),
            if unknown == 1 { "is" } else { "are" }
        ));
    }
    for u in &burn.unread {
        out.push(format!(
            "Not read: {}: {}",
            unread_place(u),
            excerpt(&u.error)
        ));
    }
    if burn.used_table() {
        out.push(format!(
            "Prices marked (table) are {TABLE_SOURCE}: other regions cost more or less."
        ));
    }
    if burn
        .lines
        .iter()
        .any(|l| l.basis == Some(Basis::SpotUpperBound))
    {
        out.push("Spot instances marked (spot, at most) are counted at their on-demand price: the spot price history could not be read, and they cost at most that.".into());
    }
    if burn.lines.iter().any(|l| l.basis == Some(Basis::Spot)) {
        out.push(
            "Spot instances marked (spot) are at the spot price history's latest figure.".into(),
        );
    }
    out.extend(notes.iter().map(|n| format!("Note: {}", excerpt(n))));
    out
}

fn unread_place(u: &Unread) -> String {
    match &u.account {
        Some(a) if u.what == "the account" => format!("account {a} (every region)"),
        Some(a) => format!("{} in account {a}, {}", u.what, u.region),
        None => format!("{} in {}", u.what, u.region),
    }
}

/// The whole status, for a terminal.
pub fn status_text(burn: &Burn, notes: &[String], now: OffsetDateTime) -> String {
    let mut b = String::new();
    if burn.lines.is_empty() {
        let _ = writeln!(b, "Nothing billed by the hour is running.\n");
    }
    let groups = burn.groups();
    let mut place: Option<(Option<String>, String)> = None;
    for ((account, region, kind), sub) in &groups {
        let here = (account.clone(), region.clone());
        if place.as_ref() != Some(&here) {
            let _ = match account {
                Some(a) => writeln!(b, "account {a}, {region}"),
                None => writeln!(b, "{region}"),
            };
            place = Some(here);
        }
        let cost = if sub.unknown == sub.resources {
            "price unknown".to_string()
        } else if sub.unknown > 0 {
            format!(
                "{} an hour, {} price unknown",
                sub.per_hour.fine(),
                sub.unknown
            )
        } else {
            format!("{} an hour", sub.per_hour.fine())
        };
        let _ = writeln!(
            b,
            "  {}: {cost}",
            plural(sub.resources, &kind.to_string(), &format!("{kind}s")),
        );
        for line in burn.lines.iter().filter(|l| {
            let r = &l.running;
            &r.account == account && &r.region == region && r.resource.kind == *kind
        }) {
            let _ = writeln!(b, "    {}", priced_line(line));
        }
    }
    if !groups.is_empty() {
        b.push('\n');
    }
    let _ = writeln!(b, "{}", totals_line(burn, now));
    for c in caveats(burn, notes) {
        let _ = writeln!(b, "{c}");
    }
    b
}

#[derive(Serialize)]
struct StatusJson<'a> {
    per_hour_usd: Usd,
    per_day_usd: Usd,
    rest_of_month_usd: Usd,
    /// Something is left out (a price unknown, a region not read).
    lower_bound: bool,
    price_unknown: usize,
    resources: &'a [Priced],
    unread: &'a [Unread],
    notes: &'a [String],
    table_source: &'static str,
}

/// The whole status, for scripts: amounts as exact decimal strings.
pub fn status_json(burn: &Burn, notes: &[String], now: OffsetDateTime) -> serde_json::Value {
    serde_json::to_value(StatusJson {
        per_hour_usd: burn.per_hour(),
        per_day_usd: burn.per_day(),
        rest_of_month_usd: burn.rest_of_month(now),
        lower_bound: burn.is_lower_bound(),
        price_unknown: burn.unknown(),
        resources: &burn.lines,
        unread: &burn.unread,
        notes,
        table_source: TABLE_SOURCE,
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::burn::usage::{Charge, Os, Product, Quote, Running, Tenancy};
    use crate::domain::inventory::{Resource, ResourceKind};

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
    }

    fn ec2(region: &str, id: &str, name: Option<&str>, t: &str, spot: bool) -> Running {
        Running {
            account: None,
            region: region.into(),
            resource: Resource {
                kind: ResourceKind::Ec2Instance,
                id: id.into(),
                name: name.map(str::to_string),
                size: t.into(),
            },
            count: 1,
            charges: vec![Charge::units(
                Product::Ec2 {
                    instance_type: t.into(),
                    os: Os::Linux,
                    tenancy: Tenancy::Shared,
                    spot,
                },
                1,
            )],
        }
    }

    fn quote(region: &str, p: &Product) -> Option<Quote> {
        let Product::Ec2 {
            instance_type,
            spot,
            ..
        } = p
        else {
            return None;
        };
        let (price, basis) = match (instance_type.as_str(), region, spot) {
            ("t2.large", "us-east-1", false) => ("0.0928", Basis::PriceList),
            ("t2.large", _, false) => ("0.0928", Basis::Table),
            ("g4dn.xlarge", _, true) => ("0.526", Basis::SpotUpperBound),
            _ => return None,
        };
        Some(Quote {
            per_hour: Usd::parse(price).unwrap(),
            basis,
        })
    }

    #[test]
    fn golden_status_groups_totals_and_marks_every_doubtful_figure() {
        let mut db = ec2("us-east-1", "app-db", None, "t2.large", false);
        db.resource.kind = ResourceKind::DbInstance;
        let running = vec![
            db,
            ec2(
                "us-east-1",
                "i-1",
                Some("forgotten\nFAKE LINE"),
                "t2.large",
                false,
            ),
            ec2("us-east-1", "i-2", None, "t2.large", false),
            ec2("eu-west-1", "i-3", Some("miner"), "g4dn.xlarge", true),
            ec2("eu-west-1", "i-4", None, "t2.large", false),
            ec2("eu-west-1", "i-5", None, "p9.mega", false),
        ];
        let burn = Burn::price(&running, Vec::new(), &quote);
        let text = status_text(
            &burn,
            &["pricing:GetProducts failed: throttled".into()],
            at("2026-12-31T20:00:00Z"),
        );
        crate::domain::render::check_golden("status", &text);
        assert!(
            text.contains("eu-west-1\n  3 EC2 instances: $0.6188 an hour, 1 price unknown\n"),
            "{text}"
        );
        assert!(text.contains("i-5  -  p9.mega  price unknown"), "{text}");
        assert!(
            text.contains("i-1  forgotten FAKE LINE  t2.large  $0.0928 an hour\n"),
            "{text}"
        );
        assert!(text.contains("Burning at least $0.8972 an hour: at least $21.53 a day, at least $3.59 for the rest of December"), "{text}");
        assert!(text.contains("1 resource has no known price"), "{text}");
        assert!(text.contains("(table) are us-east-1"), "{text}");
        assert!(text.contains("(spot, at most)"), "{text}");
        assert!(!text.lines().any(|l| l.starts_with("FAKE")), "{text}");
        // Each line once, under its own kind, each place named once.
        assert_eq!(text.matches("app-db").count(), 1, "{text}");
        assert_eq!(text.matches("\nus-east-1\n").count(), 1, "{text}");
    }

    #[test]
    fn json_has_exact_amounts_and_every_resource() {
        let running = vec![
            ec2("us-east-1", "i-1", None, "t2.large", false),
            ec2("us-east-1", "i-2", None, "p9.mega", false),
        ];
        let burn = Burn::price(&running, Vec::new(), &quote);
        let v = status_json(&burn, &[], at("2026-12-31T23:00:00Z"));
        assert_eq!(v["per_hour_usd"], "0.0928");
        assert_eq!(v["per_day_usd"], "2.2272");
        assert_eq!(v["rest_of_month_usd"], "0.0928");
        assert_eq!(v["lower_bound"], true);
        assert_eq!(v["price_unknown"], 1);
        assert_eq!(v["resources"][1]["per_hour"], serde_json::Value::Null);
        assert_eq!(v["resources"][0]["per_hour"], "0.0928");
        assert_eq!(v["resources"][0]["basis"], "price-list");
        assert_eq!(v["resources"][0]["resource"]["id"], "i-1");
    }

    #[test]
    fn a_group_with_no_known_price_says_so_not_zero() {
        let burn = Burn::price(
            &[ec2("us-east-1", "i-1", None, "p9.mega", false)],
            Vec::new(),
            &quote,
        );
        let text = status_text(&burn, &[], at("2026-12-05T10:00:00Z"));
        assert!(text.contains("  1 EC2 instance: price unknown\n"), "{text}");
        assert!(!text.contains("$0.0000 an hour, 1 price unknown"), "{text}");
    }

    #[test]
    fn nothing_running_says_so() {
        let text = status_text(&Burn::default(), &[], at("2026-12-05T10:00:00Z"));
        assert!(
            text.starts_with("Nothing billed by the hour is running."),
            "{text}"
        );
        assert!(
            text.contains("Burning $0.0000 an hour: $0.00 a day, $0.00 for the rest of December"),
            "{text}"
        );
    }

    #[test]
    fn what_was_not_read_is_named_by_account_and_region() {
        let unread = |account: Option<&str>, region: &str, what: &str| Unread {
            account: account.map(str::to_string),
            region: region.into(),
            what: what.into(),
            error: "throttled\nFAKE".into(),
        };
        let burn = Burn {
            lines: Vec::new(),
            unread: vec![
                unread(None, "eu-west-1", "EC2 instances"),
                unread(Some("222222222222"), "ap-south-1", "RDS DB instances"),
                unread(Some("333333333333"), "every region", "the account"),
            ],
        };
        let c = caveats(&burn, &[]);
        assert_eq!(
            c,
            [
                "Not read: EC2 instances in eu-west-1: throttled FAKE",
                "Not read: RDS DB instances in account 222222222222, ap-south-1: throttled FAKE",
                "Not read: account 333333333333 (every region): throttled FAKE",
            ]
        );
    }
}
