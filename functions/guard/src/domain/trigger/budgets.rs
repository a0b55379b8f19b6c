//! AWS Budgets notifications. Budgets publishes plain text to SNS: a prose paragraph
//! that starts `AWS Budget Notification <date>`, then `Key: Value` lines such as
//! `Budget Name: student-monthly`, `Alert Type: ACTUAL`, `ACTUAL Amount: $1,287.34`.

use crate::domain::money::Amount;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetAlertType {
    Actual,
    Forecasted,
}

impl std::fmt::Display for BudgetAlertType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BudgetAlertType::Actual => "ACTUAL",
            BudgetAlertType::Forecasted => "FORECASTED",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BudgetAlert {
    pub name: String,
    /// `Cost`, `Usage`, ... as Budgets wrote it.
    pub budget_type: Option<String>,
    pub budgeted: Option<Amount>,
    pub alert_type: BudgetAlertType,
    pub threshold: Option<Amount>,
    /// The actual or forecasted amount that crossed the threshold.
    pub amount: Option<Amount>,
    /// A daily budget (`per day`, `for the current day`).
    pub daily: bool,
    pub account: Option<String>,
}

/// A positive match on the wording of a Budgets notification.
pub(crate) fn looks_like_budget_text(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let has_line = |key: &str| {
        lower
            .lines()
            .any(|l| l.trim_start().starts_with(key) && l.contains(':'))
    };
    has_line("budget name")
        && has_line("alert type")
        && (lower.contains("aws budget notification") || has_line("budgeted amount"))
}

/// Parses the text of a Budgets notification.
pub(crate) fn parse_budget_text(text: &str) -> Result<BudgetAlert, String> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let account = header_account(text);
    for line in text.lines() {
        let line = line.trim();
        if let Some((key, value)) = line.split_once(':') {
            let key = key.trim().to_ascii_lowercase();
            if key.len() <= 40 {
                fields.push((key, value.trim().to_string()));
            }
        }
    }
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let lower = text.to_ascii_lowercase();
    let prose_daily = lower.contains("for the current day");
    build(
        get("budget name"),
        get("budget type"),
        get("budgeted amount"),
        get("alert type"),
        get("alert threshold"),
        get("actual amount"),
        get("forecasted amount"),
        prose_daily,
        account,
    )
}

/// The account of a Budgets notification, from its own header only: the
/// `AWS Account 123456789012` line among the lines before the first blank
/// one, which AWS writes. The budget's name, which whoever may create budgets
/// chooses and which may hold line breaks, comes after it in the body: a line
/// of the same shape there never names the account, so it cannot point an
/// alerting-account sweep at another account.
fn header_account(text: &str) -> Option<String> {
    let header = text
        .trim_start_matches('\u{feff}')
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty());
    for line in header {
        if let Some(rest) = line.strip_prefix("AWS Account") {
            let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
            let shape = rest
                .chars()
                .all(|c| c.is_ascii_digit() || " :-".contains(c));
            return (shape && digits.len() == 12).then_some(digits);
        }
    }
    None
}

/// A JSON body carrying the same fields (any of `Budget Name`, `budgetName`, `BudgetName`).
pub(crate) fn looks_like_budget_json(value: &serde_json::Value) -> bool {
    field(value, "budget name").is_some() && field(value, "alert type").is_some()
}

pub(crate) fn parse_budget_json(value: &serde_json::Value) -> Result<BudgetAlert, String> {
    build(
        field(value, "budget name").as_deref(),
        field(value, "budget type").as_deref(),
        field(value, "budgeted amount").as_deref(),
        field(value, "alert type").as_deref(),
        field(value, "alert threshold").as_deref(),
        field(value, "actual amount").as_deref(),
        field(value, "forecasted amount").as_deref(),
        false,
        field(value, "account id").or_else(|| field(value, "aws account")),
    )
}

/// Finds a field whatever its spelling: `Budget Name`, `budgetName`, `budget_name`.
fn field(value: &serde_json::Value, words: &str) -> Option<String> {
    let want: String = words.chars().filter(|c| c.is_alphanumeric()).collect();
    let obj = value.as_object()?;
    obj.iter()
        .find(|(k, _)| {
            k.chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
                .eq_ignore_ascii_case(&want)
        })
        .and_then(|(_, v)| super::json_text(Some(v)))
}

#[allow(clippy::too_many_arguments)]
fn build(
    name: Option<&str>,
    budget_type: Option<&str>,
    budgeted: Option<&str>,
    alert_type: Option<&str>,
    threshold: Option<&str>,
    actual: Option<&str>,
    forecasted: Option<&str>,
    prose_daily: bool,
    account: Option<String>,
) -> Result<BudgetAlert, String> {
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or("budget notification has no `Budget Name`")?;
    if name.chars().count() > 100 {
        return Err("budget notification has a `Budget Name` longer than 100 characters".into());
    }
    let alert_type = match alert_type.map(|t| t.trim().to_ascii_uppercase()).as_deref() {
        Some("ACTUAL") => BudgetAlertType::Actual,
        Some("FORECASTED") | Some("FORECAST") => BudgetAlertType::Forecasted,
        Some(other) => {
            return Err(format!(
                "budget notification has `Alert Type: {}`; expected ACTUAL or FORECASTED",
                super::excerpt(other)
            ))
        }
        None => return Err("budget notification has no `Alert Type`".into()),
    };
    let amount_field =
        |label: &str, text: Option<&str>| -> Result<Option<(Amount, bool)>, String> {
            match text.map(str::trim).filter(|t| !t.is_empty()) {
                None => Ok(None),
                Some(t) => Amount::parse(t).map(Some).ok_or_else(|| {
                    format!(
                    "budget notification has `{label}: {}`, which is not an amount of zero or more",
                    super::excerpt(t)
                )
                }),
            }
        };
    let budgeted = amount_field("Budgeted Amount", budgeted)?;
    let threshold = amount_field("Alert Threshold", threshold)?;
    let amount = match alert_type {
        BudgetAlertType::Actual => amount_field("ACTUAL Amount", actual)?,
        BudgetAlertType::Forecasted => amount_field("FORECASTED Amount", forecasted)?,
    };
    let daily = prose_daily
        || [budgeted, threshold, amount]
            .iter()
            .any(|a| a.is_some_and(|(_, per_day)| per_day));
    Ok(BudgetAlert {
        name: name.to_string(),
        budget_type: budget_type
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty()),
        budgeted: budgeted.map(|a| a.0),
        alert_type,
        threshold: threshold.map(|a| a.0),
        amount: amount.map(|a| a.0),
        daily,
        account,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_reads_as_a_budget_notification() {
        // The name and the alert type, and either the heading or the budget.
        let both = "Budget Name: b\nAlert Type: ACTUAL\n";
        assert!(!looks_like_budget_text(both));
        assert!(looks_like_budget_text(&format!(
            "AWS Budget Notification\n{both}"
        )));
        assert!(looks_like_budget_text(&format!(
            "{both}Budgeted Amount: $5.00\n"
        )));
        assert!(!looks_like_budget_text(
            "AWS Budget Notification\nBudget Name: b\nBudgeted Amount: $5.00\n"
        ));
        assert!(!looks_like_budget_text(
            "AWS Budget Notification\nAlert Type: ACTUAL\nBudgeted Amount: $5.00\n"
        ));
        let json = |v: serde_json::Value| looks_like_budget_json(&v);
        assert!(json(
            serde_json::json!({"budgetName": "b", "alertType": "ACTUAL"})
        ));
        assert!(!json(serde_json::json!({"budgetName": "b"})));
        assert!(!json(serde_json::json!({"alertType": "ACTUAL"})));
        assert_eq!(BudgetAlertType::Actual.to_string(), "ACTUAL");
        assert_eq!(BudgetAlertType::Forecasted.to_string(), "FORECASTED");
    }

    #[test]
    fn the_account_is_read_from_the_header_only_when_it_is_one() {
        let with = |line: &str| {
            header_account(&format!(
                "AWS Budget Notification\n{line}\n\nBudget Name: b\n"
            ))
        };
        assert_eq!(
            with("AWS Account 123456789012"),
            Some("123456789012".into())
        );
        assert_eq!(
            with("AWS Account 1234-5678-9012"),
            Some("123456789012".into())
        );
        assert_eq!(with("AWS Account 12345"), None);
        assert_eq!(with("AWS Account 123456789012 (prod)"), None);
    }

    #[test]
    fn a_name_of_up_to_100_characters_and_a_daily_budget_in_prose() {
        let alert = |name: &str, extra: &str| {
            parse_budget_text(&format!(
                "AWS Budget Notification\n\nYou asked to be alerted{extra}.\n\nBudget Name: {name}\nAlert Type: ACTUAL\nACTUAL Amount: $3.00\n"
            ))
        };
        assert!(alert(&"n".repeat(100), "").is_ok());
        let err = alert(&"n".repeat(101), "").unwrap_err();
        assert!(err.contains("longer than 100 characters"), "{err}");
        assert!(!alert("b", "").unwrap().daily);
        assert!(alert("b", " for the current day").unwrap().daily);
    }

    const ACTUAL: &str = "AWS Budget Notification November 22, 2026\nAWS Account 123456789012\n\nDear AWS Customer,\n\nYou requested that we alert you when the ACTUAL Cost associated with your student-monthly budget is greater than $40.00 for the current month. The ACTUAL Cost associated with this budget is $1,287.34. You can find additional details below and by accessing the AWS Budgets dashboard [1].\n\nBudget Name: student-monthly\nBudget Type: Cost\nBudgeted Amount: $50.00\nAlert Type: ACTUAL\nAlert Threshold: > $40.00\nACTUAL Amount: $1,287.34\n\n[1] https://console.aws.amazon.com/billing/home#/budgets\n";

    #[test]
    fn parses_actual_alert() {
        assert!(looks_like_budget_text(ACTUAL));
        let b = parse_budget_text(ACTUAL).unwrap();
        assert_eq!(b.name, "student-monthly");
        assert_eq!(b.budget_type.as_deref(), Some("Cost"));
        assert_eq!(b.alert_type, BudgetAlertType::Actual);
        assert_eq!(b.budgeted, Amount::new(50.0));
        assert_eq!(b.threshold, Amount::new(40.0));
        assert_eq!(b.amount, Amount::new(1287.34));
        assert_eq!(b.account.as_deref(), Some("123456789012"));
        assert!(!b.daily);
    }

    #[test]
    fn the_account_comes_from_the_header_alone() {
        // A budget name is chosen by whoever may create budgets, and may hold
        // line breaks: a line of the header's shape in it names nothing.
        let forged = ACTUAL.replace(
            "Budget Name: student-monthly",
            "Budget Name: student-monthly\nAWS Account 999999999999",
        );
        let forged = forged.replace(
            "with your student-monthly budget",
            "with your x\n\nAWS Account 888888888888\n budget",
        );
        assert_eq!(
            parse_budget_text(&forged).unwrap().account.as_deref(),
            Some("123456789012")
        );
        // No header line: no account, whatever the body says.
        let headless = ACTUAL.replace("AWS Account 123456789012\n", "");
        let headless = headless.replace(
            "Budget Name: student-monthly",
            "Budget Name: x\nAWS Account 999999999999",
        );
        assert_eq!(parse_budget_text(&headless).unwrap().account, None);
        // The header's own line, written with separators, still counts.
        let spaced = ACTUAL.replace("AWS Account 123456789012", "AWS Account: 1234-5678-9012");
        assert_eq!(
            parse_budget_text(&spaced).unwrap().account.as_deref(),
            Some("123456789012")
        );
    }

    #[test]
    fn tolerates_crlf_extra_lines_and_spacing() {
        let text = ACTUAL
            .replace('\n', "\r\n")
            .replace(
                "Budget Type: Cost",
                "Budget Type: Cost\r\nSomething New:  whatever\r\n   Extra prose",
            )
            .replace("ACTUAL Amount: $1,287.34", "ACTUAL Amount:    $1,287.34   ");
        let b = parse_budget_text(&text).unwrap();
        assert_eq!(b.amount, Amount::new(1287.34));
        assert_eq!(b.name, "student-monthly");
    }

    #[test]
    fn daily_budget_per_day() {
        let text = ACTUAL
            .replace("for the current month", "for the current day")
            .replace("Budgeted Amount: $50.00", "Budgeted Amount: $5.00 per day");
        let b = parse_budget_text(&text).unwrap();
        assert!(b.daily);
        assert_eq!(b.budgeted, Amount::new(5.0));
    }

    #[test]
    fn forecasted_reads_forecasted_amount() {
        let text = ACTUAL
            .replace("Alert Type: ACTUAL", "Alert Type: FORECASTED")
            .replace("ACTUAL Amount: $1,287.34", "FORECASTED Amount: $61.20");
        let b = parse_budget_text(&text).unwrap();
        assert_eq!(b.alert_type, BudgetAlertType::Forecasted);
        assert_eq!(b.amount, Amount::new(61.2));
    }

    #[test]
    fn rejects_bad_fields_with_a_reason() {
        let bad_type = ACTUAL.replace("Alert Type: ACTUAL", "Alert Type: MAYBE");
        assert!(parse_budget_text(&bad_type).unwrap_err().contains("MAYBE"));
        let negative = ACTUAL.replace("ACTUAL Amount: $1,287.34", "ACTUAL Amount: -$5");
        assert!(parse_budget_text(&negative)
            .unwrap_err()
            .contains("ACTUAL Amount"));
        let nan = ACTUAL.replace("ACTUAL Amount: $1,287.34", "ACTUAL Amount: NaN");
        assert!(parse_budget_text(&nan).is_err());
        let no_name = ACTUAL.replace("Budget Name: student-monthly", "Budget Name:");
        assert!(parse_budget_text(&no_name)
            .unwrap_err()
            .contains("Budget Name"));
    }

    #[test]
    fn recognition_needs_the_wording() {
        assert!(!looks_like_budget_text("Hello\nBudget Name: x"));
        assert!(!looks_like_budget_text("Alert Type: ACTUAL"));
        assert!(!looks_like_budget_text("random text about budgets"));
    }

    #[test]
    fn json_body_with_the_same_fields() {
        let v = serde_json::json!({
            "budgetName": "team", "alertType": "ACTUAL",
            "Alert Threshold": "> $10.00", "actual_amount": "$12.50", "budgetType": "Cost"
        });
        assert!(looks_like_budget_json(&v));
        let b = parse_budget_json(&v).unwrap();
        assert_eq!(b.name, "team");
        assert_eq!(b.amount, Amount::new(12.5));
        assert_eq!(b.threshold, Amount::new(10.0));
    }
}
