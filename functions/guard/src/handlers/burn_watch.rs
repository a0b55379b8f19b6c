//! The burn-watch function: on its schedule (every 15 minutes by default),
//! prices everything running now in every account and region; above
//! `BURN_LIMIT_USD_PER_HOUR` it runs the stop sweep, as a budget alert
//! would, hours before billing data shows the spend. Above
//! `BURN_WARN_USD_PER_HOUR`, or with the month projected over
//! `MONTHLY_LIMIT_USD`, it alerts, once per crossing.

use serde::Serialize;

use super::{conclude, sweep_failure, Function, HandlerError, Invocation};
use crate::aws::burn::{last_check, remember_check};
use crate::aws::costexplorer;
use crate::aws::fleet::{Fleet, Scope};
use crate::aws::pricing::{self, PriceBook};
use crate::aws::sns::Notifier;
use crate::domain::burn::usd::Usd;
use crate::domain::burn::watch::{decide, needs_spend, spend_now, Seen};
use crate::domain::config::BurnWatchConfig;
use crate::domain::outcome::Stamp;
use crate::domain::render::burn_watch::{render, BurnOutcome};
use crate::domain::spend::MonthToDateState;
use crate::domain::trigger::schedule::{parse_run, Run};

/// What one check found, as Lambda logs and returns it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BurnSummary {
    /// What runs now costs an hour (a lower bound when `price_unknown` or
    /// `unread` is not zero).
    pub per_hour_usd: Usd,
    pub resources: usize,
    pub price_unknown: usize,
    pub unread: usize,
    pub projected_usd: Option<Usd>,
    /// Whether Cost Explorer was asked this time.
    pub spend_asked: bool,
    /// `rate`, `projection`, or none.
    pub stopped_for: Option<String>,
    pub stopped: usize,
    pub notified: bool,
    pub subject: Option<String>,
}

/// The function's state, built once per cold start. The price book lives
/// as long as the instance: what the price list said is not asked again.
pub struct BurnWatch {
    config: BurnWatchConfig,
    fleet: Fleet,
    notifier: Notifier,
    ce: aws_sdk_costexplorer::Client,
    ddb: aws_sdk_dynamodb::Client,
    book: PriceBook,
}

impl BurnWatch {
    /// From clients built elsewhere (the tests hand in the price list's
    /// stand-in).
    pub fn with_parts(
        fleet: Fleet,
        sdk: &aws_types::SdkConfig,
        pricing: aws_sdk_pricing::Client,
        config: BurnWatchConfig,
    ) -> Self {
        BurnWatch {
            notifier: Notifier::new(
                aws_sdk_sns::Client::new(sdk),
                &config.common.notify_topic_arn,
            ),
            ce: costexplorer::client(sdk),
            ddb: aws_sdk_dynamodb::Client::new(sdk),
            book: PriceBook::new(pricing),
            fleet,
            config,
        }
    }

    /// `GetProducts` requests this instance has sent.
    pub fn price_requests(&self) -> usize {
        self.book.requests()
    }
}

impl Function for BurnWatch {
    type Config = BurnWatchConfig;
    type Output = BurnSummary;

    fn new(config: BurnWatchConfig, sdk: &aws_types::SdkConfig) -> Self {
        let fleet = Fleet::new(&config.sweep.accounts, &config.sweep.regions, sdk)
            .with_kinds(&config.sweep.kinds)
            .with_seal(sdk, config.sweep.saved_state_key.as_deref());
        Self::with_parts(fleet, sdk, pricing::client(sdk), config)
    }

    async fn handle(&self, invocation: &Invocation<'_>) -> Result<BurnSummary, HandlerError> {
        match parse_run(invocation.payload()) {
            Ok(Run::Check) => {}
            Ok(Run::DailySummary) => {
                return Err(HandlerError::Malformed(
                    "burn-watch has no daily summary; its schedule sends a Scheduled Event".into(),
                ))
            }
            Err(e) => return Err(HandlerError::Malformed(e)),
        }
        if let Some(arn) = invocation.invoked_arn() {
            self.fleet.learn_own_account(arn);
        }
        let now = invocation.started();
        let limits = &self.config.burn.limits;
        // Half the time for the survey, the rest for a sweep.
        let (burn, notes) = self
            .fleet
            .burn(&self.book, invocation.budget() / 2)
            .await
            .map_err(HandlerError::SweepNotStarted)?;
        let rate = burn.per_hour();
        // Not remembered (unreadable or unwritten): told as the first check.
        let before = match last_check(&self.ddb, &self.config.burn.state_table).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the last check: deciding as the first");
                None
            }
        };
        let spend_asked = needs_spend(limits, before.as_ref(), rate, now);
        // One Cost Explorer request ($0.01), only when the rate changed.
        let fresh = if spend_asked {
            match costexplorer::month_to_date_spend(
                &self.ce,
                self.config.cost_metric,
                invocation.today(),
            )
            .await
            {
                // Cost Explorer's figure, rounded to the cent (Amount reads
                // its decimal text into a float; cents are exact in it).
                MonthToDateState::Known(m) => {
                    Some(Usd::from_cents((m.total.value() * 100.0).round() as u64))
                }
                other => {
                    tracing::warn!(
                        ?other,
                        "month-to-date spend unavailable: no projection this check"
                    );
                    None
                }
            }
        } else {
            None
        };
        let spend = spend_now(fresh, before.as_ref(), rate, now);
        let seen = Seen {
            per_hour: rate,
            unpriced: (burn.unknown() + burn.unread.len()) as u64,
        };
        let decision = decide(limits, before.as_ref(), seen, spend, fresh.is_some(), now);
        tracing::info!(
            per_hour = %rate.plain(),
            unknown = burn.unknown(),
            unread = burn.unread.len(),
            projected = ?decision.projected.map(|p| p.plain()),
            stop = ?decision.stop,
            crossed = ?decision.crossed,
            spend_asked,
            "burn checked"
        );

        let swept = match &decision.stop {
            Some(why) => {
                let stamp = Stamp::now(&why.trigger());
                // Everything the survey covered: the burn is the whole fleet's.
                let scope = Scope::new(None, &format!("burn rate {} an hour", rate.fine()));
                let report = self
                    .fleet
                    .sweep(
                        &self.config.sweep.select,
                        stamp.clone(),
                        self.config.sweep.dry_run,
                        invocation.budget(),
                        &scope,
                    )
                    .await;
                Some((report, stamp))
            }
            None => None,
        };
        let sweep_error = match &swept {
            Some((Err(e), _)) => Some(format!("{e} ({})", e.advice())),
            _ => None,
        };
        let message = render(&BurnOutcome {
            burn: &burn,
            notes: &notes,
            decision: &decision,
            limits,
            spend: spend.map(|s| (s, fresh.is_some())),
            dry_run: self.config.sweep.dry_run,
            sweep: swept
                .as_ref()
                .and_then(|(r, s)| r.as_ref().ok().map(|r| (r, s))),
            sweep_error: sweep_error.as_deref(),
            resume_function: self.config.common.resume_function.as_deref(),
            now,
        });
        let summary = |notified| BurnSummary {
            per_hour_usd: rate,
            resources: burn.lines.len(),
            price_unknown: burn.unknown(),
            unread: burn.unread.len(),
            projected_usd: decision.projected,
            spend_asked,
            stopped_for: decision.stop.as_ref().map(|s| {
                match s {
                    crate::domain::burn::watch::StopFor::Rate { .. } => "rate",
                    crate::domain::burn::watch::StopFor::Projection { .. } => "projection",
                }
                .to_string()
            }),
            stopped: match &swept {
                Some((Ok(r), _)) => r.stopped_count(),
                _ => 0,
            },
            notified,
            subject: message.as_ref().map(|m| m.subject.clone()),
        };
        let summary = conclude(
            invocation,
            &self.notifier,
            message.as_ref(),
            summary,
            &burn,
            sweep_failure(swept.as_ref().map(|(r, _)| r)),
        )
        .await?;
        // Remembered once subscribers were told: a failed publish is
        // retried by Lambda and tells the same crossing again.
        remember_check(&self.ddb, &self.config.burn.state_table, &decision.next)
            .await
            .map_err(HandlerError::Remember)?;
        Ok(summary)
    }
}
