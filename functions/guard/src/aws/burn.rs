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
