//! The burn-rate survey: every running, billable resource of every kind in
//! one account's regions (all regions at once, every kind at once in each),
//! then priced with a [`PriceBook`]. `cost-guard status` and burn-watch use
//! it through [`Fleet::burn`](crate::aws::fleet::Fleet::burn).

use std::collections::BTreeSet;

use crate::aws::accounts::RegionClients;
use crate::aws::kinds::{InRegion, KINDS};
use crate::aws::pricing::{PriceBook, Quotes};
use crate::domain::burn::status::{Burn, Unread};
use crate::domain::burn::usage::Running;
use crate::domain::config::KindSet;

/// What runs in some accounts and regions, and what could not be read.
#[derive(Debug, Default)]
pub struct Survey {
    pub running: Vec<Running>,
    pub unread: Vec<Unread>,
}

impl Survey {
    pub(crate) fn extend(&mut self, other: Survey) {
        self.running.extend(other.running);
        self.unread.extend(other.unread);
    }
}

/// Lists what runs in `regions` of one account, each region until `until`.
/// A kind that fails in a region is reported unread; the rest go on.
pub(crate) async fn survey_regions(
    clients: &dyn RegionClients,
    regions: &[String],
    account: Option<&str>,
    until: tokio::time::Instant,
) -> Survey {
    let every = KindSet::every();
    let runs = regions.iter().map(|region| {
        let every = &every;
        async move {
            let at = InRegion::new(clients, region, every);
            let at = &at;
            let kinds = KINDS.iter().map(|kind| async move {
                let listed = tokio::time::timeout_at(until, kind.running(at)).await;
                (kind.kind(), listed)
            });
            let mut survey = Survey::default();
            for (kind, listed) in futures::future::join_all(kinds).await {
                let unread = |error: String| Unread {
                    account: account.map(str::to_string),
                    region: region.clone(),
                    what: format!("{kind}s"),
                    error,
                };
                match listed {
                    Ok(Ok(running)) => survey.running.extend(running.into_iter().map(|mut r| {
                        r.account = account.map(str::to_string);
                        r
                    })),
                    Ok(Err(e)) => {
                        tracing::warn!(account, region = %region, %kind, error = %e, "not surveyed");
                        survey.unread.push(unread(format!("{e} ({})", e.advice())));
                    }
                    Err(_) => survey
                        .unread
                        .push(unread("not listed before the time ran out".into())),
                }
            }
            survey
        }
    });
    let mut all = Survey::default();
    for s in futures::future::join_all(runs).await {
        all.extend(s);
    }
    all
}

/// Prices a survey: each product once per region, through `book`; spot
/// prices through `clients`' EC2 in each region (the same in every
/// account).
pub async fn price(
    survey: Survey,
    book: &PriceBook,
    clients: &dyn RegionClients,
) -> (Burn, Vec<String>) {
    let wanted: BTreeSet<_> = survey
        .running
        .iter()
        .flat_map(|r| {
            r.charges
                .iter()
                .map(|c| (r.region.clone(), c.product.clone()))
        })
        .collect();
    let ec2 = |region: &str| clients.ec2(region);
    let Quotes { quotes, notes } = book.quote(&wanted, &ec2).await;
    let quote = |region: &str, product: &_| {
        quotes
            .get(&(region.to_string(), Clone::clone(product)))
            .copied()
    };
    (Burn::price(&survey.running, survey.unread, &quote), notes)
}

/// The key of burn-watch's one item in its table.
const LAST_CHECK: &str = "last-check";

/// What burn-watch remembers of its last check: `Ok(None)` on the first
/// check, and also for an item this function did not write (it is then not
/// believed, and the check tells as if it were the first).
pub async fn last_check(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<Option<crate::domain::burn::watch::Memory>, crate::domain::error::AwsError> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let out = ddb
        .get_item()
        .table_name(table)
        .key("id", AttributeValue::S(LAST_CHECK.into()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| crate::domain::error::AwsError::from_sdk("dynamodb:GetItem", e))?;
    let text = out
        .item
        .as_ref()
        .and_then(|i| i.get("memory"))
        .and_then(|v| v.as_s().ok());
    let memory = text.and_then(|t| crate::domain::burn::watch::read_memory(t));
    if text.is_some() && memory.is_none() {
        tracing::warn!(
            table,
            "the last check's memory is not as this function writes it: not believed"
        );
    }
    Ok(memory)
}

/// Writes what this check saw, for the next.
pub async fn remember_check(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    memory: &crate::domain::burn::watch::Memory,
) -> Result<(), crate::domain::error::AwsError> {
    use aws_sdk_dynamodb::types::AttributeValue;
    ddb.put_item()
        .table_name(table)
        .item("id", AttributeValue::S(LAST_CHECK.into()))
        .item(
            "memory",
            AttributeValue::S(crate::domain::burn::watch::write_memory(memory)),
        )
        .send()
        .await
        .map_err(|e| crate::domain::error::AwsError::from_sdk("dynamodb:PutItem", e))?;
    Ok(())
}
