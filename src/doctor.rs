//! `cost-guard doctor`: whether every piece the guard needs is in place in
//! the account, read with the configured credentials, changing nothing.

use guard::domain::doctor::{checklist, exit_status};
use guard::domain::render::doctor::{json, text, Scope};

use crate::Result;

/// Prints the checklist for the stack in `region` (default: the SDK's) (as JSON with `as_json`) and returns the exit
/// status: 1 when a check failed (or, with `strict`, could not be made).
pub async fn run(
    stack_name: &str,
    region: Option<String>,
    as_json: bool,
    strict: bool,
) -> Result<u8> {
    let mut sdk = guard::aws::sdk::load().await?;
    if let Some(region) = region {
        sdk = sdk
            .to_builder()
            .region(aws_types::region::Region::new(region))
            .build();
    }
    let facts = guard::aws::doctor::read(&sdk, stack_name).await;
    let checks = checklist(&facts, stack_name);
    let region = sdk
        .region()
        .map(|r| r.as_ref().to_string())
        .unwrap_or_default();
    let account = match &facts.stack {
        Ok(Some(s)) => s.account.clone(),
        _ => String::new(),
    };
    let scope = Scope {
        stack: stack_name.to_string(),
        region,
        account,
    };
    if as_json {
        print!("{}", json(&scope, &checks));
    } else {
        print!("{}", text(&scope, &checks));
    }
    Ok(exit_status(&checks, strict))
}
