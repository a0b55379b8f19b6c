//! `cost-guard status`: what is running now in every enabled region (and
//! every account with ACCOUNTS), what each resource costs an hour, and the
//! totals per hour, per day and for the rest of the month. Read-only.

use guard::aws::fleet::Fleet;
use guard::aws::pricing::{self, PriceBook};
use guard::domain::config::accounts::AccountsConfig;
use guard::domain::config::regions::regions_from;
use guard::domain::render::status::{status_json, status_text};

use crate::Result;

/// Surveys and prints. Exits with an error when some region could not be
/// read (the totals are then a lower bound, and say so).
pub async fn run(json: bool) -> Result<()> {
    let lookup = |name: &str| std::env::var(name).ok();
    let regions = regions_from(lookup("REGIONS"))?;
    let accounts = AccountsConfig::from_lookup(&lookup)?;
    let sdk = guard::aws::sdk::load().await?;
    let book = PriceBook::new(pricing::client(&sdk));
    let (burn, notes) = Fleet::direct(&accounts, &regions, &sdk)
        .burn(&book, crate::PLAN_BUDGET)
        .await
        .map_err(|e| format!("{e} ({})", e.advice()))?;
    let now = time::OffsetDateTime::now_utc();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&status_json(&burn, &notes, now))?
        );
    } else {
        print!("{}", status_text(&burn, &notes, now));
    }
    if !burn.unread.is_empty() {
        return Err(
            "some regions could not be read completely (see above): the totals leave them out"
                .into(),
        );
    }
    Ok(())
}
