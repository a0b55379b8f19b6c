//! Amounts of money as they appear in notifications: `$1,287.34`, `USD 40`,
//! `$5.00 per day`, `1287.34`. Parsed tolerantly, rejected when not a finite,
//! non-negative number.

use std::fmt;

/// A non-negative amount, in the currency of the notification (US dollars for
/// every AWS billing message cost-guard knows).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Amount(f64);

/// Largest amount cost-guard accepts: far above any real bill, small enough that
/// arithmetic and formatting stay exact to the cent.
pub(crate) const MAX_AMOUNT: f64 = 1.0e12;

impl Amount {
    /// Builds an amount; `None` for NaN, infinities, negatives and absurd values.
    pub fn new(value: f64) -> Option<Self> {
        (value.is_finite() && (0.0..=MAX_AMOUNT).contains(&value)).then_some(Amount(value))
    }

    pub fn value(self) -> f64 {
        self.0
    }

    /// Parses `$1,287.34`, `> $40.00`, `USD 1287.34`, `$5.00 per day` and the like.
    /// Returns the amount and whether the text said it was per day.
    pub fn parse(text: &str) -> Option<(Amount, bool)> {
        let lower = text.trim().to_ascii_lowercase();
        let per_day = lower.contains("per day") || lower.ends_with("/day");
        let mut s = lower.as_str();
        for prefix in [">=", ">", "usd", "us$", "$"] {
            s = s.trim_start();
            if let Some(rest) = s.strip_prefix(prefix) {
                s = rest;
            }
        }
        let s = s.trim_start();
        let is_number_char = |c: &char| c.is_ascii_digit() || *c == ',' || *c == '.';
        // `1e400` or `12abc` is not an amount, not the 1 or 12 it starts with.
        if s.chars()
            .find(|c| !is_number_char(c))
            .is_some_and(|c| c.is_ascii_alphanumeric())
        {
            return None;
        }
        let number: String = s
            .chars()
            .take_while(is_number_char)
            .filter(|c| *c != ',')
            .collect();
        if number.is_empty()
            || number.len() > 20
            || !number.starts_with(|c: char| c.is_ascii_digit())
        {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        Amount::new(value).map(|a| (a, per_day))
    }
}

/// `$1,287.34` for a number of US dollars; a value no [`Amount`] can hold
/// (negative, NaN, absurd) is shown as it is, so a report never hides it.
pub fn usd(value: f64) -> String {
    Amount::new(value)
        .map(|a| a.to_string())
        .unwrap_or_else(|| format!("${value}"))
}

impl fmt::Display for Amount {
    /// `$1,287.34`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cents = (self.0 * 100.0).round() as u64;
        let (whole, frac) = (cents / 100, cents % 100);
        let digits = whole.to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        write!(f, "${grouped}.{frac:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_amount_has_at_most_20_digits_and_starts_with_one() {
        let twenty = "1234567.123456789012";
        assert_eq!(twenty.len(), 20);
        assert!(Amount::parse(&format!("${twenty}")).is_some());
        assert!(Amount::parse(&format!("${twenty}3")).is_none());
        assert!(Amount::parse("$1,234,567.123456789012").is_some());
        assert!(Amount::parse("$.5").is_none());
        assert!(Amount::parse("$").is_none());
    }

    #[test]
    fn parses_notification_amounts() {
        let cases = [
            ("$1,287.34", 1287.34, false),
            ("> $40.00", 40.0, false),
            ("$5.00 per day", 5.0, true),
            ("USD 12", 12.0, false),
            ("  $0.01\r", 0.01, false),
            ("$1,000,000.00", 1_000_000.0, false),
            ("3.5", 3.5, false),
        ];
        for (text, value, per_day) in cases {
            let (a, d) = Amount::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert!((a.value() - value).abs() < 1e-9, "{text}");
            assert_eq!(d, per_day, "{text}");
        }
    }

    #[test]
    fn rejects_garbage_negative_and_huge() {
        for text in [
            "",
            "$",
            "-$5",
            "$-5",
            "abc",
            "$NaN",
            "$inf",
            "$99999999999999999999999",
            "$.5",
            "$1e400",
            "$12abc",
        ] {
            assert_eq!(Amount::parse(text), None, "{text}");
        }
        assert_eq!(Amount::new(f64::NAN), None);
        assert_eq!(Amount::new(-0.5), None);
        assert_eq!(Amount::new(f64::INFINITY), None);
    }

    #[test]
    fn displays_with_thousands_separators() {
        assert_eq!(Amount::new(1287.345).unwrap().to_string(), "$1,287.35");
        assert_eq!(Amount::new(0.0).unwrap().to_string(), "$0.00");
        assert_eq!(Amount::new(999.999).unwrap().to_string(), "$1,000.00");
        assert_eq!(Amount::new(1234567.0).unwrap().to_string(), "$1,234,567.00");
    }
}
