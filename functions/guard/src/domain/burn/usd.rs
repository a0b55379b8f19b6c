//! Exact US dollars for prices and burn rates: a whole number of
//! billionths of a dollar, never a floating-point number. AWS's price list
//! quotes up to ten decimals (`0.0104000000`); a billionth keeps every real
//! price exactly and rounds the rest half up. Sums and products are exact
//! to the billionth and saturate instead of overflowing (at about 18
//! billion dollars). What people read is rounded half up: to the cent, or
//! to a hundredth of a cent for an hourly figure under a dollar.

use std::fmt;

/// Billionths of a dollar in one dollar.
const NANOS: u64 = 1_000_000_000;

/// An amount of US dollars, exact to a billionth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Usd(u64);

impl Usd {
    pub const ZERO: Usd = Usd(0);

    pub const fn from_nanos(nanos: u64) -> Usd {
        Usd(nanos)
    }

    pub const fn nanos(self) -> u64 {
        self.0
    }

    /// Whole dollars.
    pub const fn dollars(dollars: u64) -> Usd {
        Usd(dollars.saturating_mul(NANOS))
    }

    /// A decimal number of dollars as AWS writes one: digits, at most one
    /// point, at most 10 digits before it (under ten billion dollars); further decimals than nine are
    /// rounded half up. No sign, exponent, separator or currency: `None`.
    pub fn parse(text: &str) -> Option<Usd> {
        let text = text.trim();
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || whole.len() > 10 || !digits(whole) || !digits(frac) {
            return None;
        }
        if text.ends_with('.') {
            return None;
        }
        let mut nanos: u64 = whole.parse::<u64>().ok()?.checked_mul(NANOS)?;
        let mut scale = NANOS / 10;
        for (i, b) in frac.bytes().enumerate() {
            let d = u64::from(b - b'0');
            if i < 9 {
                nanos += d * scale;
                scale /= 10;
            } else {
                // The tenth decimal rounds; the rest cannot change that.
                if d >= 5 {
                    nanos += 1;
                }
                break;
            }
        }
        Some(Usd(nanos))
    }

    /// A whole number of cents, as Cost Explorer's totals are read
    /// ([`Amount`](crate::domain::money::Amount) rounded to the cent).
    pub fn from_cents(cents: u64) -> Usd {
        Usd(cents.saturating_mul(NANOS / 100))
    }

    pub fn saturating_add(self, other: Usd) -> Usd {
        Usd(self.0.saturating_add(other.0))
    }

    /// `self × numerator / denominator`, rounded half up (a denominator of
    /// 0 gives 0): an hourly price over some seconds, a price per vCPU for
    /// 512 CPU units of 1,024.
    pub fn times(self, numerator: u64, denominator: u64) -> Usd {
        if denominator == 0 {
            return Usd::ZERO;
        }
        let product = u128::from(self.0) * u128::from(numerator);
        let d = u128::from(denominator);
        let rounded = (product + d / 2) / d;
        Usd(u64::try_from(rounded).unwrap_or(u64::MAX))
    }

    /// Rounded half up to a whole number of `unit` billionths.
    fn rounded(self, unit: u64) -> u64 {
        self.0 / unit + u64::from(self.0 % unit >= unit.div_ceil(2))
    }

    /// `$1,234.57`: rounded half up to the cent.
    pub fn cents(self) -> String {
        let cents = self.rounded(NANOS / 100);
        format!("${}.{:02}", grouped(cents / 100), cents % 100)
    }

    /// An hourly figure: `$0.0104` under a dollar (to a hundredth of a
    /// cent, rounded half up, so a t3.nano's $0.0052 is not $0.01), else
    /// as [`Usd::cents`].
    pub fn fine(self) -> String {
        if self.0 >= NANOS {
            return self.cents();
        }
        let tenth_mils = self.rounded(NANOS / 10_000);
        if tenth_mils >= 10_000 {
            return "$1.00".into();
        }
        format!("$0.{tenth_mils:04}")
    }

    /// The plain decimal, without trailing zeros (`2.5`, `40`, `0.0104`): how
    /// a limit is written in a stamp and in JSON.
    pub fn plain(self) -> String {
        let whole = self.0 / NANOS;
        let frac = self.0 % NANOS;
        if frac == 0 {
            return whole.to_string();
        }
        let digits = format!("{frac:09}");
        format!("{whole}.{}", digits.trim_end_matches('0'))
    }
}

impl fmt::Display for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.cents())
    }
}

impl serde::Serialize for Usd {
    /// A decimal string (`"0.0104"`), exact: JSON numbers are floating point
    /// to most readers.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.plain())
    }
}

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(text: &str) -> Usd {
        Usd::parse(text).unwrap_or_else(|| panic!("{text}"))
    }

    #[test]
    fn parses_the_price_lists_decimals_exactly() {
        assert_eq!(usd("0.0104000000").nanos(), 10_400_000);
        assert_eq!(usd("3.06").nanos(), 3_060_000_000);
        assert_eq!(usd("40").nanos(), 40 * NANOS);
        assert_eq!(usd("0.004445").nanos(), 4_445_000);
        assert_eq!(usd("0.000000001").nanos(), 1);
        // The tenth decimal rounds half up; the eleventh does not count.
        assert_eq!(usd("0.0000000015").nanos(), 2);
        assert_eq!(usd("0.0000000014").nanos(), 1);
        assert_eq!(usd("0.00000000149").nanos(), 1);
        assert_eq!(usd("9999999999").nanos(), 9_999_999_999 * NANOS);
    }

    #[test]
    fn rejects_what_is_not_a_plain_decimal() {
        for bad in [
            "",
            ".5",
            "5.",
            "-1",
            "+1",
            "1e3",
            "1,000",
            "$1",
            "1.2.3",
            "NaN",
            "0x10",
            "10000000000",
            " . ",
        ] {
            assert_eq!(Usd::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn arithmetic_is_exact_and_rounds_half_up() {
        // Four t2.large at $0.0928 an hour, for a day: $8.9088.
        let rate = usd("0.0928").times(4, 1);
        assert_eq!(rate.times(24, 1), usd("8.9088"));
        // Half a vCPU of Fargate's $0.04048 per vCPU-hour.
        assert_eq!(usd("0.04048").times(512, 1024), usd("0.02024"));
        // A third of a billionth rounds down, two thirds up.
        assert_eq!(Usd::from_nanos(1).times(1, 3), Usd::ZERO);
        assert_eq!(Usd::from_nanos(2).times(1, 3), Usd::from_nanos(1));
        assert_eq!(Usd::from_nanos(1).times(1, 2), Usd::from_nanos(1));
        assert_eq!(usd("1").times(1, 0), Usd::ZERO);
        assert_eq!(Usd::from_nanos(u64::MAX).times(2, 1).nanos(), u64::MAX);
        assert_eq!(
            Usd::from_nanos(u64::MAX).saturating_add(Usd::from_nanos(1)),
            Usd::from_nanos(u64::MAX)
        );
        assert_eq!(Usd::from_cents(1234), usd("12.34"));
        assert_eq!(Usd::dollars(3), usd("3"));
    }

    #[test]
    fn shows_cents_and_fine_hourly_figures() {
        assert_eq!(usd("1287.345").cents(), "$1,287.35");
        assert_eq!(usd("1287.3449").cents(), "$1,287.34");
        assert_eq!(usd("0.005").cents(), "$0.01");
        assert_eq!(Usd::ZERO.cents(), "$0.00");
        assert_eq!(usd("1234567").to_string(), "$1,234,567.00");
        assert_eq!(usd("0.0052").fine(), "$0.0052");
        assert_eq!(usd("0.00005").fine(), "$0.0001");
        assert_eq!(usd("0.00004").fine(), "$0.0000");
        assert_eq!(usd("0.99996").fine(), "$1.00");
        assert_eq!(usd("3.06").fine(), "$3.06");
        assert_eq!(usd("2.50").plain(), "2.5");
        assert_eq!(usd("40").plain(), "40");
        assert_eq!(usd("0.0104").plain(), "0.0104");
        assert_eq!(serde_json::to_string(&usd("0.0104")).unwrap(), "\"0.0104\"");
    }
}
