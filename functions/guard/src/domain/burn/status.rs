//! What the account is burning now: every running resource with its hourly
//! price, the totals per hour, per day and for the rest of the month at
//! this rate, and the month projected from month-to-date spend. A resource
//! whose price is unknown is counted and listed as such, never as $0, and
//! a total that leaves some out says it is a lower bound. Pure.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

use super::usage::{Basis, Product, Quote, Running, WHOLE};
use super::usd::Usd;
use crate::domain::inventory::ResourceKind;

/// One running resource and what it costs an hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Priced {
    #[serde(flatten)]
    pub running: Running,
    /// `None`: the price of at least one of its charges is unknown.
    pub per_hour: Option<Usd>,
    /// The least certain source among its charges' prices.
    pub basis: Option<Basis>,
}

/// A region (or a kind in it) that could not be listed: what runs there is
/// not in the totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unread {
    pub account: Option<String>,
    pub region: String,
    pub what: String,
    pub error: String,
}

/// What a group of a report's lines adds up to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Subtotal {
    pub resources: usize,
    pub per_hour: Usd,
    pub unknown: usize,
}

/// The burn rate of everything surveyed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Burn {
    pub lines: Vec<Priced>,
    pub unread: Vec<Unread>,
}

/// What one running resource costs an hour: the sum of its charges, or
/// `None` when any of them has no quote (a partial figure would read as
/// the whole).
pub fn price_of(running: &Running, quote: &dyn Fn(&str, &Product) -> Option<Quote>) -> Priced {
    let mut total = Usd::ZERO;
    let mut basis: Option<Basis> = None;
    let mut known = !running.charges.is_empty();
    for charge in &running.charges {
        match quote(&running.region, &charge.product) {
            Some(q) => {
                total = total.saturating_add(q.per_hour.times(charge.quantity, WHOLE));
                basis = basis.max(Some(q.basis));
            }
            None => known = false,
        }
    }
    Priced {
        running: running.clone(),
        per_hour: known.then_some(total),
        basis: if known { basis } else { None },
    }
}

impl Burn {
    /// Prices every resource with `quote` (region, product), in report
    /// order: account, region, kind, then the resource.
    pub fn price(
        running: &[Running],
        unread: Vec<Unread>,
        quote: &dyn Fn(&str, &Product) -> Option<Quote>,
    ) -> Burn {
        let mut lines: Vec<Priced> = running.iter().map(|r| price_of(r, quote)).collect();
        lines.sort_by(|a, b| {
            let key = |p: &Priced| {
                (
                    p.running.account.clone(),
                    p.running.region.clone(),
                    p.running.resource.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        Burn { lines, unread }
    }

    /// Everything priced, per hour.
    pub fn per_hour(&self) -> Usd {
        self.lines
            .iter()
            .filter_map(|l| l.per_hour)
            .fold(Usd::ZERO, Usd::saturating_add)
    }

    /// How many running resources have no known price.
    pub fn unknown(&self) -> usize {
        self.lines.iter().filter(|l| l.per_hour.is_none()).count()
    }

    /// Whether the totals leave something out: a price unknown, or a region
    /// not read.
    pub fn is_lower_bound(&self) -> bool {
        self.unknown() > 0 || !self.unread.is_empty()
    }

    /// Whether some figure came from the built-in table.
    pub fn used_table(&self) -> bool {
        self.lines.iter().any(|l| l.basis == Some(Basis::Table))
    }

    pub fn per_day(&self) -> Usd {
        self.per_hour().times(24, 1)
    }

    /// What this rate adds up to from `now` to the end of the month (UTC,
    /// as AWS bills).
    pub fn rest_of_month(&self, now: OffsetDateTime) -> Usd {
        self.per_hour().times(seconds_left_in_month(now), 3600)
    }

    /// Subtotals by account, region and kind, in report order.
    pub fn groups(&self) -> BTreeMap<(Option<String>, String, ResourceKind), Subtotal> {
        let mut groups: BTreeMap<_, Subtotal> = BTreeMap::new();
        for line in &self.lines {
            let r = &line.running;
            let g = groups
                .entry((r.account.clone(), r.region.clone(), r.resource.kind))
                .or_default();
            g.resources += 1;
            match line.per_hour {
                Some(p) => g.per_hour = g.per_hour.saturating_add(p),
                None => g.unknown += 1,
            }
        }
        groups
    }
}

/// Seconds from `now` to the first second of next month, UTC.
pub fn seconds_left_in_month(now: OffsetDateTime) -> u64 {
    let now = now.to_offset(time::UtcOffset::UTC);
    let (year, month) = match now.month() {
        time::Month::December => (now.year() + 1, time::Month::January),
        m => (now.year(), m.next()),
    };
    let Ok(first) = time::Date::from_calendar_date(year, month, 1) else {
        return 0;
    };
    let end = first.midnight().assume_utc();
    u64::try_from((end - now).whole_seconds()).unwrap_or(0)
}

/// The month's spend if this rate goes on: month-to-date spend plus the
/// burn rate over the seconds left.
pub fn project(month_to_date: Usd, per_hour: Usd, now: OffsetDateTime) -> Usd {
    month_to_date.saturating_add(per_hour.times(seconds_left_in_month(now), 3600))
}

#[cfg(test)]
mod tests {
    use super::super::usage::{Charge, Os, Tenancy};
    use super::*;
    use crate::domain::inventory::Resource;

    fn usd(t: &str) -> Usd {
        Usd::parse(t).unwrap()
    }

    pub(crate) fn instance(region: &str, id: &str, t: &str) -> Running {
        Running {
            account: None,
            region: region.into(),
            resource: Resource {
                kind: ResourceKind::Ec2Instance,
                id: id.into(),
                name: None,
                size: t.into(),
            },
            count: 1,
            charges: vec![Charge::units(
                Product::Ec2 {
                    instance_type: t.into(),
                    os: Os::Linux,
                    tenancy: Tenancy::Shared,
                    spot: false,
                },
                1,
            )],
        }
    }

    fn t2_large(_: &str, p: &Product) -> Option<Quote> {
        match p {
            Product::Ec2 { instance_type, .. } if instance_type == "t2.large" => Some(Quote {
                per_hour: usd("0.0928"),
                basis: Basis::PriceList,
            }),
            Product::FargateVcpu { .. } => Some(Quote {
                per_hour: usd("0.04048"),
                basis: Basis::Table,
            }),
            Product::FargateGb { .. } => Some(Quote {
                per_hour: usd("0.004445"),
                basis: Basis::PriceList,
            }),
            _ => None,
        }
    }

    #[test]
    fn four_forgotten_t2_large_burn_about_9_dollars_a_day() {
        let running: Vec<Running> = (0..4)
            .map(|i| instance("us-east-1", &format!("i-{i}"), "t2.large"))
            .collect();
        let burn = Burn::price(&running, Vec::new(), &t2_large);
        assert_eq!(burn.per_hour(), usd("0.3712"));
        assert_eq!(burn.per_day(), usd("8.9088"));
        assert_eq!(burn.per_day().cents(), "$8.91");
        assert_eq!(burn.unknown(), 0);
        assert!(!burn.is_lower_bound());
        assert!(!burn.used_table());
    }

    #[test]
    fn an_unknown_price_is_counted_never_zero() {
        let running = vec![
            instance("us-east-1", "i-1", "t2.large"),
            instance("us-east-1", "i-2", "p9.mega"),
        ];
        let burn = Burn::price(&running, Vec::new(), &t2_large);
        assert_eq!(burn.per_hour(), usd("0.0928"));
        assert_eq!(burn.unknown(), 1);
        assert!(burn.is_lower_bound());
        let unknown = &burn.lines[1];
        assert_eq!(unknown.per_hour, None);
        assert_eq!(unknown.basis, None);
        // A resource with no charge at all is unknown too, not free.
        let mut free = instance("us-east-1", "i-3", "t2.large");
        free.charges.clear();
        assert_eq!(price_of(&free, &t2_large).per_hour, None);
        // A region not read makes the total a lower bound as well.
        let unread = Burn::price(
            &[],
            vec![Unread {
                account: None,
                region: "eu-west-1".into(),
                what: "EC2 instances".into(),
                error: "throttled".into(),
            }],
            &t2_large,
        );
        assert!(unread.is_lower_bound());
    }

    #[test]
    fn a_fargate_task_adds_its_vcpu_and_memory_and_keeps_the_least_certain_source() {
        let mut task = instance("eu-west-1", "svc", "0.5 vCPU, 1 GB");
        task.resource.kind = ResourceKind::EcsService;
        // Two tasks of half a vCPU and 1 GiB each.
        task.count = 2;
        task.charges = vec![
            Charge {
                product: Product::FargateVcpu { arm: false },
                quantity: 2 * 512,
            },
            Charge {
                product: Product::FargateGb { arm: false },
                quantity: 2 * 1024,
            },
        ];
        let priced = price_of(&task, &t2_large);
        // 1 vCPU × 0.04048 + 2 GB × 0.004445
        assert_eq!(priced.per_hour, Some(usd("0.04937")));
        assert_eq!(priced.basis, Some(Basis::Table));
    }

    #[test]
    fn groups_by_account_region_and_kind_in_order() {
        let mut other = instance("ap-south-1", "i-9", "t2.large");
        other.account = Some("222222222222".into());
        let running = vec![
            instance("us-east-1", "i-2", "p9.mega"),
            other,
            instance("us-east-1", "i-1", "t2.large"),
            instance("eu-west-1", "i-3", "t2.large"),
        ];
        let burn = Burn::price(&running, Vec::new(), &t2_large);
        let ids: Vec<&str> = burn
            .lines
            .iter()
            .map(|l| l.running.resource.id.as_str())
            .collect();
        assert_eq!(ids, ["i-3", "i-1", "i-2", "i-9"]);
        let groups: Vec<_> = burn.groups().into_iter().collect();
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[1].0 .1, "us-east-1");
        assert_eq!(
            groups[1].1,
            Subtotal {
                resources: 2,
                per_hour: usd("0.0928"),
                unknown: 1
            }
        );
        assert_eq!(groups[2].0 .0.as_deref(), Some("222222222222"));
    }

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
    }

    #[test]
    fn the_rest_of_the_month_and_the_projection() {
        assert_eq!(seconds_left_in_month(at("2026-12-31T23:00:00Z")), 3600);
        assert_eq!(
            seconds_left_in_month(at("2026-02-01T00:00:00Z")),
            28 * 86_400
        );
        assert_eq!(
            seconds_left_in_month(at("2028-02-28T12:00:00Z")),
            86_400 + 43_200
        );
        // A local time is read as the UTC instant it is.
        assert_eq!(seconds_left_in_month(at("2027-01-01T00:30:00+01:00")), 1800);
        let burn = Burn::price(
            &[instance("us-east-1", "i-1", "t2.large")],
            Vec::new(),
            &t2_large,
        );
        assert_eq!(
            burn.rest_of_month(at("2026-12-31T22:00:00Z")),
            usd("0.1856")
        );
        // $120 spent, $2 an hour for the last 10 days of a 30-day month.
        assert_eq!(
            project(usd("120"), usd("2"), at("2026-11-21T00:00:00Z")),
            usd("600")
        );
        assert_eq!(
            project(usd("120"), Usd::ZERO, at("2026-11-21T00:00:00Z")),
            usd("120")
        );
    }
}
