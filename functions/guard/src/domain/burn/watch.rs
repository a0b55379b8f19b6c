//! What burn-watch does with one check: stop when the burn rate is over the
//! limit (or the month is projected over its limit and `BURN_ACTION=stop`),
//! tell subscribers once per crossing, and when to ask Cost Explorer for
//! month-to-date spend. What it remembers between checks is [`Memory`].
//! Pure.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::status::project;
use super::usd::Usd;

/// Month-to-date spend is asked again at least this often even when the
/// burn rate has not changed: what is not in the burn rate (storage,
/// traffic, requests) adds up too. Cost Explorer's figures move a few times
/// a day; one request a day costs about $0.30 a month.
pub const SPEND_READ_AT_LEAST_EVERY_S: i64 = 86_400;

/// burn-watch's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `BURN_LIMIT_USD_PER_HOUR`: above it, the sweep stops the selection.
    pub per_hour: Usd,
    /// `BURN_WARN_USD_PER_HOUR`: above it (and not above the limit), an
    /// alert once per crossing.
    pub warn_per_hour: Option<Usd>,
    /// `MONTHLY_LIMIT_USD`: the month projected at this rate above it alerts.
    pub monthly: Option<Usd>,
    /// `BURN_ACTION=stop`: a projection over the monthly limit stops too.
    pub stop_on_projection: bool,
}

/// What burn-watch remembers from its last check, in its table. Only
/// principals the owner gave DynamoDB writes can change it, and the worst
/// they can do with it is quiet an alert or delay a projection until the
/// month-to-date figure is read again (within a day); a rate over the limit
/// is stopped whatever it says. What is not in the shape this function
/// writes, or claims a read in the future, is not believed (the check then
/// counts as the first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    /// The burn rate then, in billionths of a dollar an hour.
    pub per_hour_nanos: u64,
    pub over_limit: bool,
    pub over_warn: bool,
    pub projected_over: bool,
    /// Month-to-date spend as Cost Explorer last said it (billionths), the
    /// month it was for (`2026-12`) and when it was read (Unix seconds).
    pub month_to_date_nanos: Option<u64>,
    pub month: String,
    pub spend_read_at: i64,
    /// Running resources with no known price and places not read, then.
    #[serde(default)]
    pub unpriced: u64,
}

/// `2026-12`: the month (UTC) a spend figure belongs to.
pub fn month_of(now: OffsetDateTime) -> String {
    let now = now.to_offset(time::UtcOffset::UTC);
    format!("{:04}-{:02}", now.year(), u8::from(now.month()))
}

/// Whether this check must ask Cost Explorer: only with a monthly limit,
/// and only when the burn rate changed since the last check, the month
/// turned, nothing was read yet, or the last read is a day old.
pub fn needs_spend(
    limits: &Limits,
    before: Option<&Memory>,
    per_hour: Usd,
    now: OffsetDateTime,
) -> bool {
    if limits.monthly.is_none() {
        return false;
    }
    match before {
        None => true,
        Some(m) => {
            let age = now.unix_timestamp().saturating_sub(m.spend_read_at);
            m.month_to_date_nanos.is_none()
                || m.per_hour_nanos != per_hour.nanos()
                || m.month != month_of(now)
                || !(0..SPEND_READ_AT_LEAST_EVERY_S).contains(&age)
        }
    }
}

/// Month-to-date spend for the projection: what was just read, else what
/// was read earlier this month plus this rate since then (the rate has not
/// changed since, or it would have been read).
pub fn spend_now(
    fresh: Option<Usd>,
    before: Option<&Memory>,
    per_hour: Usd,
    now: OffsetDateTime,
) -> Option<Usd> {
    if fresh.is_some() {
        return fresh;
    }
    let m = before?;
    if m.month != month_of(now) {
        return None;
    }
    // A read in the future is not believed.
    let since = u64::try_from(now.unix_timestamp().saturating_sub(m.spend_read_at)).ok()?;
    Some(Usd::from_nanos(m.month_to_date_nanos?).saturating_add(per_hour.times(since, 3600)))
}

/// Why the sweep runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopFor {
    /// The burn rate is over `BURN_LIMIT_USD_PER_HOUR`.
    Rate { per_hour: Usd, limit: Usd },
    /// The month is projected over `MONTHLY_LIMIT_USD`, with `BURN_ACTION=stop`.
    Projection { projected: Usd, limit: Usd },
}

impl StopFor {
    /// What the stamp's `stopped-by` says: `burn:over-10-usd-per-hour`.
    pub fn trigger(&self) -> String {
        match self {
            StopFor::Rate { limit, .. } => format!("burn:over-{}-usd-per-hour", limit.plain()),
            StopFor::Projection { limit, .. } => {
                format!("burn:month-projected-over-{}-usd", limit.plain())
            }
        }
    }
}

/// A limit the check has newly passed (told once, until it is back under).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crossing {
    Limit,
    Warn,
    Projection,
    /// More running resources without a known price (or places not read)
    /// than at the last check: the rate compared with the limits leaves
    /// them out. Told, never acted on.
    Unpriced,
}

/// What one check decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Run the sweep: on every check while over, so what starts again is
    /// stopped again (a sweep stops only what runs; what it stopped stays).
    pub stop: Option<StopFor>,
    /// The limits newly passed: subscribers hear of each once.
    pub crossed: Vec<Crossing>,
    /// The month at this rate, when month-to-date spend is known.
    pub projected: Option<Usd>,
    /// What to remember for the next check.
    pub next: Memory,
}

/// What one check saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// What is burning now (what has a known price).
    pub per_hour: Usd,
    /// Running resources without a known price, and places not read.
    pub unpriced: u64,
}

impl Seen {
    pub fn rate(per_hour: Usd) -> Seen {
        Seen {
            per_hour,
            unpriced: 0,
        }
    }
}

/// Decides one check: `seen` is what is burning now, `spend` the
/// month-to-date spend (`None` without a monthly limit or when Cost
/// Explorer failed), `fresh` whether `spend` was read just now.
pub fn decide(
    limits: &Limits,
    before: Option<&Memory>,
    seen: Seen,
    spend: Option<Usd>,
    fresh: bool,
    now: OffsetDateTime,
) -> Decision {
    let per_hour = seen.per_hour;
    let over_limit = per_hour > limits.per_hour;
    let over_warn = limits.warn_per_hour.is_some_and(|w| per_hour > w);
    let projected = limits.monthly.and(spend).map(|s| project(s, per_hour, now));
    let projected_over = match (projected, limits.monthly) {
        (Some(p), Some(limit)) => p > limit,
        // Not known this time: as it was, so an unknown month neither tells
        // of a crossing nor forgets one.
        _ => before.is_some_and(|m| m.projected_over) && limits.monthly.is_some(),
    };
    let was = |f: fn(&Memory) -> bool| before.is_some_and(f);

    let mut crossed = Vec::new();
    if over_limit && !was(|m| m.over_limit) {
        crossed.push(Crossing::Limit);
    }
    // Over the limit says more than over the warning: one message.
    if over_warn && !over_limit && !was(|m| m.over_warn) {
        crossed.push(Crossing::Warn);
    }
    if projected_over && projected.is_some() && !was(|m| m.projected_over) {
        crossed.push(Crossing::Projection);
    }
    // When in doubt, tell and do not act: what cannot be priced is told
    // each time there is more of it, never stopped for.
    if seen.unpriced > before.map_or(0, |m| m.unpriced) {
        crossed.push(Crossing::Unpriced);
    }

    let stop = if over_limit {
        Some(StopFor::Rate {
            per_hour,
            limit: limits.per_hour,
        })
    } else {
        match (projected, limits.monthly) {
            (Some(p), Some(limit)) if limits.stop_on_projection && p > limit => {
                Some(StopFor::Projection {
                    projected: p,
                    limit,
                })
            }
            _ => None,
        }
    };

    let (month_to_date_nanos, spend_read_at) = match (fresh, spend, before) {
        (true, Some(s), _) => (Some(s.nanos()), now.unix_timestamp()),
        (_, _, Some(m)) if m.month == month_of(now) => (m.month_to_date_nanos, m.spend_read_at),
        _ => (None, 0),
    };
    Decision {
        stop,
        crossed,
        projected,
        next: Memory {
            per_hour_nanos: per_hour.nanos(),
            over_limit,
            over_warn,
            projected_over,
            month_to_date_nanos,
            month: month_of(now),
            spend_read_at,
            unpriced: seen.unpriced,
        },
    }
}

/// The memory as the table keeps it.
pub fn write_memory(m: &Memory) -> String {
    // Numbers, booleans and a short string: serialising cannot fail.
    serde_json::to_string(m).unwrap_or_default()
}

/// The memory read back; `None` for anything this function did not write.
pub fn read_memory(text: &str) -> Option<Memory> {
    if text.len() > 1024 {
        return None;
    }
    let m: Memory = serde_json::from_str(text).ok()?;
    let month_ok = m.month.len() == 7
        && m.month.as_bytes()[4] == b'-'
        && m.month
            .bytes()
            .enumerate()
            .all(|(i, b)| i == 4 || b.is_ascii_digit());
    month_ok.then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(t: &str) -> Usd {
        Usd::parse(t).unwrap()
    }

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
    }

    fn limits() -> Limits {
        Limits {
            per_hour: usd("10"),
            warn_per_hour: Some(usd("5")),
            monthly: None,
            stop_on_projection: false,
        }
    }

    /// Checks in a row at these rates: what each decided.
    fn run(limits: &Limits, rates: &[&str]) -> Vec<Decision> {
        let now = at("2026-12-05T10:00:00Z");
        let mut memory: Option<Memory> = None;
        rates
            .iter()
            .map(|r| {
                let d = decide(
                    limits,
                    memory.as_ref(),
                    Seen::rate(usd(r)),
                    None,
                    false,
                    now,
                );
                memory = Some(d.next.clone());
                d
            })
            .collect()
    }

    #[test]
    fn over_the_limit_stops_every_check_and_tells_once_per_crossing() {
        let ds = run(&limits(), &["12", "12", "11", "3", "12"]);
        let stops: Vec<bool> = ds.iter().map(|d| d.stop.is_some()).collect();
        assert_eq!(stops, [true, true, true, false, true]);
        let told: Vec<&[Crossing]> = ds.iter().map(|d| d.crossed.as_slice()).collect();
        assert_eq!(
            told,
            [&[Crossing::Limit][..], &[], &[], &[], &[Crossing::Limit]]
        );
        assert_eq!(
            ds[0].stop,
            Some(StopFor::Rate {
                per_hour: usd("12"),
                limit: usd("10")
            })
        );
        // Exactly at the limit is not over it.
        assert_eq!(run(&limits(), &["10"])[0].stop, None);
    }

    #[test]
    fn the_warning_is_told_once_until_the_rate_is_back_under_it() {
        let ds = run(&limits(), &["6", "7", "4", "6", "12", "7"]);
        let told: Vec<&[Crossing]> = ds.iter().map(|d| d.crossed.as_slice()).collect();
        assert_eq!(
            told,
            [
                &[Crossing::Warn][..],
                &[],
                &[],
                &[Crossing::Warn],
                // Over the limit: one message, the limit's.
                &[Crossing::Limit],
                // Back from over the limit to over the warning: already told.
                &[],
            ]
        );
        assert!(ds.iter().take(4).all(|d| d.stop.is_none()));
        let no_warn = Limits {
            warn_per_hour: None,
            ..limits()
        };
        assert!(run(&no_warn, &["7"])[0].crossed.is_empty());
    }

    #[test]
    fn the_projection_alerts_once_and_stops_only_when_asked() {
        let now = at("2026-11-21T00:00:00Z");
        let mut l = Limits {
            monthly: Some(usd("500")),
            ..limits()
        };
        // $120 spent and $2 an hour for 10 days: $600 > $500.
        let d = decide(&l, None, Seen::rate(usd("2")), Some(usd("120")), true, now);
        assert_eq!(d.projected, Some(usd("600")));
        assert_eq!(d.crossed, [Crossing::Projection]);
        assert_eq!(d.stop, None);
        assert!(d.next.projected_over);
        let again = decide(
            &l,
            Some(&d.next),
            Seen::rate(usd("2")),
            Some(usd("120")),
            false,
            now,
        );
        assert!(again.crossed.is_empty());
        // Unknown this time (Cost Explorer failed): neither told nor forgotten.
        let unknown = decide(&l, Some(&d.next), Seen::rate(usd("2")), None, false, now);
        assert!(unknown.crossed.is_empty() && unknown.next.projected_over);
        assert_eq!(unknown.projected, None);
        l.stop_on_projection = true;
        let d = decide(&l, None, Seen::rate(usd("2")), Some(usd("120")), true, now);
        assert_eq!(
            d.stop,
            Some(StopFor::Projection {
                projected: usd("600"),
                limit: usd("500")
            })
        );
        assert_eq!(
            d.stop.unwrap().trigger(),
            "burn:month-projected-over-500-usd"
        );
        // Under the monthly limit: nothing.
        let d = decide(&l, None, Seen::rate(usd("1")), Some(usd("120")), true, now);
        assert_eq!(d.projected, Some(usd("360")));
        assert!(d.stop.is_none() && d.crossed.is_empty());
    }

    #[test]
    fn the_stamp_names_the_limit() {
        let stop = StopFor::Rate {
            per_hour: usd("12"),
            limit: usd("2.5"),
        };
        assert_eq!(stop.trigger(), "burn:over-2.5-usd-per-hour");
    }

    #[test]
    fn spend_is_asked_only_when_the_rate_changed_or_the_figure_is_old() {
        let now = at("2026-12-05T10:00:00Z");
        let l = Limits {
            monthly: Some(usd("500")),
            ..limits()
        };
        assert!(!needs_spend(&limits(), None, usd("1"), now));
        assert!(needs_spend(&l, None, usd("1"), now));
        let d = decide(&l, None, Seen::rate(usd("1")), Some(usd("40")), true, now);
        let m = d.next;
        assert_eq!(m.month_to_date_nanos, Some(usd("40").nanos()));
        assert_eq!(m.spend_read_at, now.unix_timestamp());
        let later = now + time::Duration::minutes(15);
        assert!(!needs_spend(&l, Some(&m), usd("1"), later));
        assert!(needs_spend(&l, Some(&m), usd("1.5"), later));
        assert!(needs_spend(
            &l,
            Some(&m),
            usd("1"),
            now + time::Duration::days(1)
        ));
        assert!(needs_spend(
            &l,
            Some(&m),
            usd("1"),
            at("2027-01-01T00:00:00Z")
        ));
        // Not asked: what was read plus the rate since.
        assert_eq!(
            spend_now(None, Some(&m), usd("1"), now + time::Duration::hours(2)),
            Some(usd("42"))
        );
        assert_eq!(
            spend_now(None, Some(&m), usd("1"), at("2027-01-01T00:00:00Z")),
            None
        );
        assert_eq!(
            spend_now(Some(usd("7")), Some(&m), usd("1"), later),
            Some(usd("7"))
        );
        // The figure read earlier is kept, with its time, until read again.
        let d2 = decide(
            &l,
            Some(&m),
            Seen::rate(usd("1")),
            Some(usd("40.25")),
            false,
            later,
        );
        assert_eq!(d2.next.spend_read_at, m.spend_read_at);
        assert_eq!(d2.next.month_to_date_nanos, m.month_to_date_nanos);
        // A new month forgets last month's figure.
        let jan = decide(
            &l,
            Some(&m),
            Seen::rate(usd("1")),
            None,
            false,
            at("2027-01-01T00:15:00Z"),
        );
        assert_eq!(jan.next.month_to_date_nanos, None);
        assert_eq!(jan.next.month, "2027-01");
    }

    #[test]
    fn the_memory_reads_back_only_as_written() {
        let d = decide(
            &limits(),
            None,
            Seen::rate(usd("12")),
            None,
            false,
            at("2026-12-05T10:00:00Z"),
        );
        let text = write_memory(&d.next);
        assert_eq!(read_memory(&text), Some(d.next.clone()));
        for bad in [
            "",
            "{}",
            "null",
            &text.replace("2026-12", "2026/12"),
            &text.replace("2026-12", "12"),
            &text.replace("}", ",\"extra\":1}"),
            &format!("{text}{}", " ".repeat(1100)),
        ] {
            assert_eq!(read_memory(bad), None, "{bad}");
        }
    }

    #[test]
    fn resources_without_a_price_are_told_when_there_are_more_and_never_stopped_for() {
        let now = at("2026-12-05T10:00:00Z");
        let seen = |unpriced| Seen {
            per_hour: usd("1"),
            unpriced,
        };
        let first = decide(&limits(), None, seen(2), None, false, now);
        assert_eq!(first.crossed, [Crossing::Unpriced]);
        assert_eq!(first.stop, None);
        assert_eq!(first.next.unpriced, 2);
        let same = decide(&limits(), Some(&first.next), seen(2), None, false, now);
        assert!(same.crossed.is_empty());
        let fewer = decide(&limits(), Some(&same.next), seen(1), None, false, now);
        assert!(fewer.crossed.is_empty());
        let more = decide(&limits(), Some(&fewer.next), seen(2), None, false, now);
        assert_eq!(more.crossed, [Crossing::Unpriced]);
        assert!(decide(&limits(), None, seen(0), None, false, now)
            .crossed
            .is_empty());
    }

    #[test]
    fn limits_are_passed_only_above_them() {
        let now = at("2026-11-21T00:00:00Z");
        let l = Limits {
            monthly: Some(usd("600")),
            stop_on_projection: true,
            ..limits()
        };
        // Exactly at the warning, and a month projected exactly at its limit.
        let d = decide(&l, None, Seen::rate(usd("5")), None, false, now);
        assert!(d.crossed.is_empty());
        let d = decide(&l, None, Seen::rate(usd("2")), Some(usd("120")), true, now);
        assert_eq!(d.projected, Some(usd("600")));
        assert!(d.crossed.is_empty() && d.stop.is_none());
    }

    #[test]
    fn a_read_time_out_of_reason_asks_again_and_is_not_believed() {
        let now = at("2026-12-31T23:00:00Z");
        let l = Limits {
            monthly: Some(usd("500")),
            ..limits()
        };
        let m = decide(&l, None, Seen::rate(usd("1")), Some(usd("40")), true, now).next;
        // The month turns an hour later: asked again, last month's figure not used.
        let jan = at("2027-01-01T00:15:00Z");
        assert!(needs_spend(&l, Some(&m), usd("1"), jan));
        assert_eq!(spend_now(None, Some(&m), usd("1"), jan), None);
        // A read "in the future" or at the dawn of time: asked again, and
        // no estimate from it, with no overflow.
        for read_at in [now.unix_timestamp() + 3600, i64::MIN, i64::MAX] {
            let odd = Memory {
                spend_read_at: read_at,
                ..m.clone()
            };
            assert!(needs_spend(&l, Some(&odd), usd("1"), now), "{read_at}");
            if read_at > now.unix_timestamp() {
                assert_eq!(spend_now(None, Some(&odd), usd("1"), now), None);
            }
        }
    }

    #[test]
    fn a_month_not_known_is_not_over_its_limit() {
        let now = at("2026-12-05T10:00:00Z");
        let l = Limits {
            monthly: Some(usd("500")),
            ..limits()
        };
        // Spend unknown from the first check: not over, nothing told.
        let d = decide(&l, None, Seen::rate(usd("1")), None, false, now);
        assert!(!d.next.projected_over && d.crossed.is_empty());
        // Over once, then the monthly limit removed: no longer over.
        let over = decide(&l, None, Seen::rate(usd("1")), Some(usd("499")), true, now);
        assert!(over.next.projected_over);
        let removed = decide(
            &limits(),
            Some(&over.next),
            Seen::rate(usd("1")),
            None,
            false,
            now,
        );
        assert!(!removed.next.projected_over);
    }

    #[test]
    fn a_memory_of_1024_bytes_is_read_and_one_more_is_not() {
        let m = decide(
            &limits(),
            None,
            Seen::rate(usd("1")),
            None,
            false,
            at("2026-12-05T10:00:00Z"),
        )
        .next;
        let text = write_memory(&m);
        let padded = format!("{text}{}", " ".repeat(1024 - text.len()));
        assert_eq!(padded.len(), 1024);
        assert_eq!(read_memory(&padded), Some(m));
        assert_eq!(read_memory(&format!("{padded} ")), None);
    }
}
