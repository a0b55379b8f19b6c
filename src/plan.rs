//! `cost-guard plan`: what a sweep would stop now, with the configured
//! credentials and endpoint, changing nothing.

use cost_guard::table;
use guard::aws::fleet::Fleet;
use guard::domain::config::accounts::AccountsConfig;
use guard::domain::config::kinds::kinds_from;
use guard::domain::config::regions::regions_from;
use guard::domain::config::selection::selection_from_lookup;

use crate::Result;

pub async fn run() -> Result<()> {
    let lookup = |name: &str| std::env::var(name).ok();
    let select = selection_from_lookup(&lookup)?;
    let regions = regions_from(lookup("REGIONS"))?;
    let kinds = kinds_from(lookup("KINDS"))?;
    let accounts = AccountsConfig::from_lookup(&lookup)?;
    let sdk = guard::aws::sdk::load().await?;
    let report = Fleet::direct(&accounts, &regions, &sdk)
        .with_kinds(&kinds)
        .plan(&select, crate::PLAN_BUDGET)
        .await
        .map_err(|e| format!("{e} ({})", e.advice()))?;
    print!("{}", table::plan(&report));
    if !report.is_clean() {
        return Err("some regions could not be read completely (see the errors above)".into());
    }
    Ok(())
}
