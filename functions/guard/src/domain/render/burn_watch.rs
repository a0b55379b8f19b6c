//! What burn-watch's subscribers read: what is burning now, the limit it
//! passed, the month at this rate, and the sweep with what the stopped
//! resources were burning. Pure.

use std::fmt::Write as _;

use time::OffsetDateTime;

use crate::domain::burn::status::{Burn, Priced};
use crate::domain::burn::usage::Product;
use crate::domain::burn::usd::Usd;
use crate::domain::burn::watch::{Crossing, Decision, Limits, StopFor};
use crate::domain::inventory::{Resource, ResourceKind};
use crate::domain::outcome::{Stamp, SweepReport};
use crate::domain::prices::table_price;
use crate::domain::render::status::{caveats, priced_line, totals_line};
use crate::domain::render::{self, plural, Message};

/// Costliest resources a message lists.
const LISTED: usize = 15;

/// Everything one check found, for the message.
pub(crate) struct BurnOutcome<'a> {
    pub burn: &'a Burn,
    pub notes: &'a [String],
    pub decision: &'a Decision,
    pub limits: &'a Limits,
    /// Month-to-date spend, when known, and whether it was read just now.
    pub spend: Option<(Usd, bool)>,
    pub dry_run: bool,
    /// The sweep and its stamp, when one ran.
    pub sweep: Option<(&'a SweepReport, &'a Stamp)>,
    pub sweep_error: Option<&'a str>,
    pub resume_function: Option<&'a str>,
    pub now: OffsetDateTime,
}

/// What the sweep stopped was burning: the priced lines of the resources
/// it stopped (matched by account, region, kind and id), and how many it
/// stopped that the survey priced no line for (an Auto Scaling group is
/// priced through its instances).
pub fn stopped_burn(burn: &Burn, sweep: &SweepReport) -> (Usd, usize) {
    let mut total = Usd::ZERO;
    let mut unpriced = 0;
    for r in &sweep.regions {
        for s in &r.stopped {
            let line = burn.lines.iter().find(|l: &&Priced| {
                let run = &l.running;
                run.account == r.account
                    && run.region == r.region
                    && run.resource.kind == s.kind
                    && run.resource.id == s.id
            });
            match line.and_then(|l| l.per_hour) {
                Some(p) => total = total.saturating_add(p),
                None => unpriced += 1,
            }
        }
    }
    (total, unpriced)
}

/// The line every stop report gains: `This was burning $4.87 an hour.`
pub fn was_burning(burn: &Burn, sweep: &SweepReport) -> Option<String> {
    if sweep.stopped_count() == 0 {
        return None;
    }
    let (total, unpriced) = stopped_burn(burn, sweep);
    let what = if sweep.dry_run {
        "What it would stop is"
    } else {
        "What it stopped was"
    };
    Some(match unpriced {
        0 => format!("{what} burning {} an hour.", total.fine()),
        n if n == sweep.stopped_count() => {
            format!("{what} burning an unknown amount an hour: no price is known for it.")
        }
        n => format!(
            "{what} burning at least {} an hour ({} without a known price).",
            total.fine(),
            plural(n, "resource", "resources")
        ),
    })
}

/// The table's product for what a report shows of a stopped resource:
/// EC2 at the Linux price, a notebook as a notebook, a Redshift cluster's
/// nodes (`4 x dc2.large`), an RDS instance at the MySQL and PostgreSQL
/// Single-AZ price; nothing for the kinds a report's line cannot price
/// (groups, clusters, services, node groups).
fn table_product(r: &Resource) -> Option<(Product, u64)> {
    use crate::domain::burn::usage::{Component, Os, Tenancy};
    Some(match r.kind {
        ResourceKind::Ec2Instance => (
            Product::Ec2 {
                instance_type: r.size.clone(),
                os: Os::Linux,
                tenancy: Tenancy::Shared,
                spot: false,
            },
            1,
        ),
        ResourceKind::SageMakerNotebook => (
            Product::SageMaker {
                instance_type: r.size.clone(),
                component: Component::Notebook,
            },
            1,
        ),
        ResourceKind::DbInstance => (
            Product::Rds {
                class: r.size.clone(),
                engine: "postgres".into(),
                multi_az: false,
            },
            1,
        ),
        ResourceKind::RedshiftCluster => {
            let (n, node_type) = r.size.split_once(" x ")?;
            (
                Product::Redshift {
                    node_type: node_type.to_string(),
                },
                n.trim().parse().ok()?,
            )
        }
        _ => return None,
    })
}

/// The line stop-on-overspend's and spend-watch's reports gain: what the
/// stop ended was burning, from the built-in table (these functions do not
/// price what runs before they stop it, so as not to hold the stop up):
/// `What it stopped was burning about $4.87 an hour ...`.
pub fn was_burning_at_table(sweep: &SweepReport) -> Option<String> {
    let n = sweep.stopped_count();
    if n == 0 {
        return None;
    }
    let mut total = Usd::ZERO;
    let mut priced = 0;
    for r in sweep.regions.iter().flat_map(|r| &r.stopped) {
        if let Some(p) =
            table_product(r).and_then(|(p, count)| table_price(&p).map(|u| u.times(count, 1)))
        {
            total = total.saturating_add(p);
            priced += 1;
        }
    }
    if priced == 0 {
        return None;
    }
    let what = if sweep.dry_run {
        "What it would stop is"
    } else {
        "What it stopped was"
    };
    let rest = match n - priced {
        0 => String::new(),
        k => format!(
            ", and {} the table has no price for",
            plural(k, "resource", "resources")
        ),
    };
    Some(format!(
        "{what} burning about {} an hour (us-east-1's on-demand prices, Linux and MySQL/PostgreSQL, from the built-in table{rest}).",
        total.fine()
    ))
}

/// The message, when subscribers are to hear of this check: a limit newly
/// passed, or a sweep that stopped something or failed. `None`: quiet.
pub(crate) fn render(o: &BurnOutcome) -> Option<Message> {
    let stopped = o.sweep.map(|(s, _)| s.stopped_count()).unwrap_or(0);
    if o.decision.crossed.is_empty() && stopped == 0 && o.sweep_error.is_none() {
        return None;
    }
    let rate = o.burn.per_hour();
    let at_least = if o.burn.is_lower_bound() {
        "at least "
    } else {
        ""
    };
    let mut b = String::new();
    if o.dry_run && o.decision.stop.is_some() {
        b.push_str(
            "DRY RUN: nothing was stopped or tagged. This is what cost-guard would stop.\n\n",
        );
    }
    let what = match &o.decision.stop {
        Some(StopFor::Rate { limit, .. }) => {
            let what = format!(
                "burning {at_least}{} an hour > {} limit",
                rate.fine(),
                limit.fine()
            );
            let _ = writeln!(
                b,
                "WHAT FIRED\n- burn-watch: {what}\n  cost-guard acted: what runs now costs more an hour than BURN_LIMIT_USD_PER_HOUR. Budgets and billing alarms see this only when billing data arrives, hours later.\n"
            );
            what
        }
        Some(StopFor::Projection { projected, limit }) => {
            let _ = writeln!(
                b,
                "WHAT FIRED\n- burn-watch: month projected at {} > {} limit\n  cost-guard acted (BURN_ACTION=stop): month-to-date spend plus this burn rate until the month ends passes MONTHLY_LIMIT_USD.\n",
                projected.cents(),
                limit.cents()
            );
            format!("month projected > {} limit", limit.cents())
        }
        None => {
            // The subject says less than the body: it has 100 characters.
            let (mut fired, mut short) = (Vec::new(), Vec::new());
            if o.decision.crossed.contains(&Crossing::Warn) {
                if let Some(w) = o.limits.warn_per_hour {
                    let text = format!(
                        "burning {at_least}{} an hour > {} warning",
                        rate.fine(),
                        w.fine()
                    );
                    fired.push(text.clone());
                    short.push(text);
                }
            }
            if o.decision.crossed.contains(&Crossing::Unpriced) {
                let n = o.burn.unknown() + o.burn.unread.len();
                let what = plural(n, "resource or region", "resources or regions");
                fired.push(format!(
                    "{what} without a known price: the rate compared with the limits leaves them out (cost-guard status lists them)"
                ));
                short.push(format!("{what} without a known price"));
            }
            if o.decision.crossed.contains(&Crossing::Projection) {
                if let (Some(p), Some(l)) = (o.decision.projected, o.limits.monthly) {
                    fired.push(format!(
                        "month projected at {} > {} limit",
                        p.cents(),
                        l.cents()
                    ));
                    short.push(format!("month projected > {}", l.cents()));
                }
            }
            let _ = writeln!(
                b,
                "WHAT FIRED\n- burn-watch: {}\n  cost-guard did not act: this only alerts, once until it is back under. It stops the selection above {} an hour (BURN_LIMIT_USD_PER_HOUR){}.\n",
                fired.join("\n- burn-watch: "),
                o.limits.per_hour.fine(),
                if o.limits.monthly.is_some() && !o.limits.stop_on_projection {
                    ", and on the projection only with BURN_ACTION=stop"
                } else {
                    ""
                }
            );
            short.join("; ")
        }
    };

    let _ = writeln!(b, "WHAT IS BURNING NOW (costliest first)");
    let mut lines: Vec<&Priced> = o.burn.lines.iter().collect();
    lines.sort_by_key(|l| std::cmp::Reverse(l.per_hour));
    // Unknown prices last: they are listed, not ranked.
    lines.sort_by_key(|l| l.per_hour.is_none());
    for l in lines.iter().take(LISTED) {
        let _ = writeln!(b, "  {}  {}", l.running.region, priced_line(l));
    }
    if lines.len() > LISTED {
        let _ = writeln!(
            b,
            "  ... and {} more (cost-guard status lists them all)",
            lines.len() - LISTED
        );
    }
    let _ = writeln!(b, "{}", totals_line(o.burn, o.now));
    for c in caveats(o.burn, o.notes) {
        let _ = writeln!(b, "{c}");
    }
    b.push('\n');

    if let (Some(limit), Some(projected)) = (o.limits.monthly, o.decision.projected) {
        let spent = o.spend.map(|(s, fresh)| {
            format!(
                "{} spent this month ({})",
                s.cents(),
                if fresh {
                    "Cost Explorer, just now"
                } else {
                    "Cost Explorer's last figure plus this rate since"
                }
            )
        });
        let _ = writeln!(
            b,
            "THE MONTH\n{}; {} by the end of the month at this rate; MONTHLY_LIMIT_USD is {}.\n",
            spent.unwrap_or_else(|| "Spend this month unknown".into()),
            projected.cents(),
            limit.cents()
        );
    }

    if let Some(e) = o.sweep_error {
        let _ = writeln!(b, "WHAT HAPPENED\nThe sweep could not start: {e}\n");
    }
    let subject = match o.sweep {
        Some((s, stamp)) => {
            if let Some(line) = was_burning(o.burn, s) {
                let _ = writeln!(b, "{line}\n");
            }
            render::sweep_section(&mut b, s, Some(stamp), o.resume_function);
            render::outcome_subject(&render::sweep_outcome(s), &what)
        }
        None if o.decision.stop.is_some() => {
            render::outcome_subject("cost-guard could not start the sweep", &what)
        }
        None => {
            b.push_str("WHAT TO DO\nRun `cost-guard status` to see everything running with its price, and stop what you do not need.\n");
            format!("cost-guard: {what}, nothing stopped")
        }
    };
    Some(Message {
        subject: render::subject_line(&subject),
        body: b,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::burn::usage::{Basis, Charge, Os, Product, Quote, Running, Tenancy};
    use crate::domain::burn::watch::{decide, Seen};
    use crate::domain::inventory::{Resource, ResourceKind};
    use crate::domain::outcome::RegionReport;
    use crate::domain::render::golden_case;

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
    }

    fn usd(t: &str) -> Usd {
        Usd::parse(t).unwrap()
    }

    fn gpu(id: &str) -> Running {
        Running {
            account: None,
            region: "us-east-1".into(),
            resource: Resource {
                kind: ResourceKind::Ec2Instance,
                id: id.into(),
                name: Some("miner".into()),
                size: "g4dn.xlarge".into(),
            },
            count: 1,
            charges: vec![Charge::units(
                Product::Ec2 {
                    instance_type: "g4dn.xlarge".into(),
                    os: Os::Linux,
                    tenancy: Tenancy::Shared,
                    spot: false,
                },
                1,
            )],
        }
    }

    fn burn(n: usize) -> Burn {
        let running: Vec<Running> = (0..n).map(|i| gpu(&format!("i-{i}"))).collect();
        Burn::price(&running, Vec::new(), &|_, _| {
            Some(Quote {
                per_hour: usd("0.526"),
                basis: Basis::PriceList,
            })
        })
    }

    fn limits() -> Limits {
        Limits {
            per_hour: usd("1"),
            warn_per_hour: Some(usd("0.5")),
            monthly: Some(usd("300")),
            stop_on_projection: false,
        }
    }

    fn sweep(stopped: &[&str]) -> SweepReport {
        SweepReport {
            dry_run: false,
            regions: vec![RegionReport {
                region: "us-east-1".into(),
                stopped: stopped.iter().map(|id| gpu(id).resource).collect(),
                finished: true,
                ..Default::default()
            }],
            accounts: Vec::new(),
        }
    }

    #[test]
    fn golden_burn_watch() {
        let now = at("2026-11-22T00:00:00Z");
        let stamp = Stamp {
            by: "burn:over-1-usd-per-hour".into(),
            at: "2026-11-22T00:00:00Z".into(),
        };
        let mut out = String::new();
        // Over the limit: three GPUs, two stopped (the third exempt, say).
        let b = burn(3);
        let d = decide(&limits(), None, Seen::rate(b.per_hour()), None, false, now);
        let s = sweep(&["i-0", "i-1"]);
        let m = render(&BurnOutcome {
            burn: &b,
            notes: &[],
            decision: &d,
            limits: &limits(),
            spend: None,
            dry_run: false,
            sweep: Some((&s, &stamp)),
            sweep_error: None,
            resume_function: Some("cost-guard-resume"),
            now,
        });
        assert!(m
            .as_ref()
            .unwrap()
            .body
            .contains("What it stopped was burning $1.05 an hour."));
        golden_case(&mut out, "over the limit, two stopped", m.as_ref());
        // Over the warning, the month projected over its limit: alert only.
        let b = burn(1);
        let d = decide(
            &limits(),
            None,
            Seen::rate(b.per_hour()),
            Some(usd("200")),
            true,
            now,
        );
        let m = render(&BurnOutcome {
            burn: &b,
            notes: &[],
            decision: &d,
            limits: &limits(),
            spend: Some((usd("200"), true)),
            dry_run: false,
            sweep: None,
            sweep_error: None,
            resume_function: None,
            now,
        });
        golden_case(&mut out, "warning and projection", m.as_ref());
        // The same again: quiet.
        let d2 = decide(
            &limits(),
            Some(&d.next),
            Seen::rate(b.per_hour()),
            Some(usd("200")),
            false,
            now,
        );
        let quiet = render(&BurnOutcome {
            burn: &b,
            notes: &[],
            decision: &d2,
            limits: &limits(),
            spend: Some((usd("200"), false)),
            dry_run: false,
            sweep: None,
            sweep_error: None,
            resume_function: None,
            now,
        });
        assert_eq!(quiet, None);
        golden_case(&mut out, "the same again", quiet.as_ref());
        // A resource whose price nobody knows, under every limit: told once.
        let mut running: Vec<Running> = vec![gpu("i-0"), gpu("i-9")];
        running[1].resource.size = "p9.mega".into();
        if let Product::Ec2 { instance_type, .. } = &mut running[1].charges[0].product {
            *instance_type = "p9.mega".into();
        }
        let b = Burn::price(&running, Vec::new(), &|_, p| match p {
            Product::Ec2 { instance_type, .. } if instance_type == "g4dn.xlarge" => Some(Quote {
                per_hour: usd("0.526"),
                basis: Basis::PriceList,
            }),
            _ => None,
        });
        let seen = crate::domain::burn::watch::Seen {
            per_hour: b.per_hour(),
            unpriced: b.unknown() as u64,
        };
        let calm = Limits {
            warn_per_hour: None,
            monthly: None,
            ..limits()
        };
        let d = decide(&calm, None, seen, None, false, now);
        let m = render(&BurnOutcome {
            burn: &b,
            notes: &[],
            decision: &d,
            limits: &calm,
            spend: None,
            dry_run: false,
            sweep: None,
            sweep_error: None,
            resume_function: None,
            now,
        });
        assert!(m
            .as_ref()
            .unwrap()
            .subject
            .contains("1 resource or region without a known price"));
        golden_case(&mut out, "a resource without a known price", m.as_ref());
        crate::domain::render::check_golden("burn_watch", &out);
    }

    #[test]
    fn what_the_stop_was_burning_counts_only_what_it_stopped() {
        let b = burn(3);
        assert_eq!(stopped_burn(&b, &sweep(&["i-0", "i-2"])), (usd("1.052"), 0));
        // A resource with no priced line (a group) is counted apart.
        assert_eq!(
            stopped_burn(&b, &sweep(&["i-0", "asg-1"])),
            (usd("0.526"), 1)
        );
        assert_eq!(
            was_burning(&b, &sweep(&["i-0", "asg-1"])).unwrap(),
            "What it stopped was burning at least $0.5260 an hour (1 resource without a known price)."
        );
        assert_eq!(
            was_burning(&b, &sweep(&["asg-1"])).unwrap(),
            "What it stopped was burning an unknown amount an hour: no price is known for it."
        );
        assert_eq!(was_burning(&b, &sweep(&[])), None);
        // Another region's instance of the same id is not this one.
        let mut elsewhere = sweep(&["i-0"]);
        elsewhere.regions[0].region = "eu-west-1".into();
        assert_eq!(stopped_burn(&b, &elsewhere), (Usd::ZERO, 1));
    }

    fn outcome<'a>(
        burn: &'a Burn,
        decision: &'a Decision,
        limits: &'a Limits,
        sweep_error: Option<&'a str>,
    ) -> BurnOutcome<'a> {
        BurnOutcome {
            burn,
            notes: &[],
            decision,
            limits,
            spend: None,
            dry_run: false,
            sweep: None,
            sweep_error,
            resume_function: None,
            now: at("2026-11-22T00:00:00Z"),
        }
    }

    #[test]
    fn the_costliest_fifteen_are_listed_and_the_rest_counted() {
        let l = limits();
        for (n, more) in [
            (15, None),
            (
                16,
                Some("  ... and 1 more (cost-guard status lists them all)"),
            ),
        ] {
            let b = burn(n);
            let d = decide(
                &l,
                None,
                Seen::rate(b.per_hour()),
                None,
                false,
                at("2026-11-22T00:00:00Z"),
            );
            let m = render(&outcome(&b, &d, &l, Some("regions unreadable"))).unwrap();
            let listed = m
                .body
                .lines()
                .filter(|x| x.starts_with("  us-east-1  i-"))
                .count();
            assert_eq!(listed, 15, "{n}");
            assert_eq!(
                m.body.lines().find(|x| x.starts_with("  ... and")),
                more,
                "{n}"
            );
        }
    }

    #[test]
    fn a_stop_whose_sweep_could_not_start_says_so() {
        let l = limits();
        let b = burn(3);
        let d = decide(
            &l,
            None,
            Seen::rate(b.per_hour()),
            None,
            false,
            at("2026-11-22T00:00:00Z"),
        );
        assert!(d.stop.is_some());
        let m = render(&outcome(&b, &d, &l, Some("ec2:DescribeRegions failed"))).unwrap();
        assert!(
            m.subject
                .starts_with("cost-guard could not start the sweep"),
            "{}",
            m.subject
        );
        assert!(
            m.body
                .contains("The sweep could not start: ec2:DescribeRegions failed"),
            "{}",
            m.body
        );
    }

    #[test]
    fn unknown_prices_and_unread_regions_are_counted_together() {
        let mut b = burn(1);
        b.lines[0].per_hour = None;
        b.unread.push(crate::domain::burn::status::Unread {
            account: None,
            region: "eu-west-1".into(),
            what: "EC2 instances".into(),
            error: "throttled".into(),
        });
        let calm = Limits {
            warn_per_hour: None,
            monthly: None,
            ..limits()
        };
        let seen = Seen {
            per_hour: b.per_hour(),
            unpriced: 2,
        };
        let d = decide(&calm, None, seen, None, false, at("2026-11-22T00:00:00Z"));
        let m = render(&outcome(&b, &d, &calm, None)).unwrap();
        assert!(
            m.subject
                .contains("2 resources or regions without a known price"),
            "{}",
            m.subject
        );
    }

    #[test]
    fn a_budget_stop_says_what_it_ended_at_the_tables_prices() {
        let res = |kind, id: &str, size: &str| Resource {
            kind,
            id: id.into(),
            name: None,
            size: size.into(),
        };
        let mut s = sweep(&[]);
        s.regions[0].stopped = vec![
            res(ResourceKind::Ec2Instance, "i-1", "p3.2xlarge"),
            res(ResourceKind::RedshiftCluster, "dw", "4 x dc2.large"),
            res(ResourceKind::DbInstance, "db", "db.t3.micro"),
            res(ResourceKind::SageMakerNotebook, "nb", "ml.t3.medium"),
            res(ResourceKind::AutoScalingGroup, "web", "2 instances"),
        ];
        // 3.06 + 4 × 0.25 + 0.017 + 0.05
        assert_eq!(
            was_burning_at_table(&s).unwrap(),
            "What it stopped was burning about $4.13 an hour (us-east-1's on-demand prices, Linux and MySQL/PostgreSQL, from the built-in table, and 1 resource the table has no price for)."
        );
        s.dry_run = true;
        assert!(was_burning_at_table(&s)
            .unwrap()
            .starts_with("What it would stop is burning about $4.13"));
        s.regions[0].stopped.truncate(1);
        s.regions[0].stopped[0].size = "p9.mega".into();
        assert_eq!(was_burning_at_table(&s), None, "nothing the table knows");
        assert_eq!(was_burning_at_table(&sweep(&[])), None);
    }
}
