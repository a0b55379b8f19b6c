//! `cost-guard resume`: start again what cost-guard stopped, with the
//! configured credentials. Without `--yes` it only shows what it would start.

use guard::aws::fleet::Fleet;
use guard::domain::config::accounts::AccountsConfig;
use guard::domain::config::common::saved_state_key_from;
use guard::domain::config::regions::regions_from;
use guard::domain::render::resume::render;
use guard::domain::resume::ResumeRequest;

use crate::Result;

pub async fn run(request: ResumeRequest, yes: bool) -> Result<()> {
    let request = ResumeRequest {
        dry_run: request.dry_run || !yes,
        ..request
    };
    let lookup = |name: &str| std::env::var(name).ok();
    let regions = regions_from(lookup("REGIONS"))?;
    let accounts = AccountsConfig::from_lookup(&lookup)?;
    let key = saved_state_key_from(lookup("SAVED_STATE_KEY_ARN"))?;
    let sdk = guard::aws::sdk::load().await?;
    let report = Fleet::direct(&accounts, &regions, &sdk)
        .with_seal(&sdk, key.as_deref())
        .resume(&request, crate::RESUME_BUDGET)
        .await
        .map_err(|e| format!("{e} ({})", e.advice()))?;
    let message = render(&report, &request);
    println!("{}\n\n{}", message.subject, message.body);
    if !yes && report.started_count() > 0 {
        println!("Nothing was started. To start these, run the same command with --yes.");
    }
    if !report.troubled_regions().is_empty() {
        return Err("some regions could not be resumed completely (see the errors above)".into());
    }
    Ok(())
}
