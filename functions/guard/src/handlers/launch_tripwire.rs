//! The launch-tripwire function: EventBridge sends it CloudTrail's record of
//! EC2 launches and starts (and of a stolen key's other first moves) and
//! GuardDuty's findings, from every region through the forwarder. A costly or
//! out-of-region launch by an untrusted principal is stopped within seconds of
//! its event, exactly the instances that call launched, before the alert.

use serde::Serialize;

use super::event_account::{EventAccounts, Place, Refused};
use super::{conclude, HandlerError, Notifier};
use crate::aws::sweep::{RegionClients, SdkClients};
use crate::aws::{iam, tripwire};
use crate::domain::accounts::MemberRole;
use crate::domain::config::{Config, TripwireConfig};
use crate::domain::outcome::Stamp;
use crate::domain::render::launch_tripwire::{render, Event};
use crate::domain::trigger::excerpt;
use crate::domain::trigger::launch::{parse_tripwire_event, TripwireEvent};
use crate::domain::tripwire::{
    decide_call, decide_finding, quarantine_policy_arn, stamp_label, trusted_by, Observed,
    StopOutcome, Verdict,
};

/// What an invocation returns (and logs).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TripwireSummary {
    /// `stopped`, `alerted`, `quiet` or `ignored`.
    pub action: String,
    pub region: Option<String>,
    pub why: Option<String>,
    pub stopped: Vec<String>,
    pub urgent: bool,
    pub subject: Option<String>,
    pub notified: bool,
}

/// The function's state, built once per cold start.
pub struct LaunchTripwire {
    tripwire: TripwireConfig,
    dry_run: bool,
    resume_function: Option<String>,
    clients: SdkClients,
    iam: aws_sdk_iam::Client,
    /// The member accounts, reached through member.yaml's tripwire role.
    accounts: EventAccounts,
    notifier: Notifier,
}

impl LaunchTripwire {
    /// The tripwire could not act on the event: EC2 could not say what a call
    /// started, or the account it happened in cannot be reached. A principal
    /// that is not trusted is reported at once, and the invocation fails so
    /// that Lambda tries the event again (and, failing that, parks it in the
    /// failure queue, whose alarm tells subscribers too).
    async fn cannot_act(
        &self,
        parsed: &TripwireEvent,
        region: &str,
        account: Option<&str>,
        detail: String,
        why: String,
    ) -> Result<TripwireSummary, HandlerError> {
        tracing::error!(%detail, %region, account, "the tripwire could not act");
        let failure = HandlerError::Incomplete {
            regions: region.to_string(),
            detail: detail.clone(),
        };
        let (event, observed, call) = match parsed {
            TripwireEvent::Call(call) => {
                if trusted_by(&call.principal, &self.tripwire).is_some() {
                    return Err(failure);
                }
                let observed = call.launch().map(Observed::from_event).unwrap_or_default();
                (Event::Call(call), observed, Some(&**call))
            }
            TripwireEvent::Finding(f) => {
                if let Verdict::Quiet(_) = decide_finding(f, &self.tripwire) {
                    return Err(failure);
                }
                (Event::Finding(f), Observed::from_finding(f), None)
            }
            TripwireEvent::Ignored(_) => return Err(failure),
        };
        let verdict = Verdict::Alert { urgent: true, why };
        let stamp = Stamp::now(&stamp_label(call));
        let message = render(
            event,
            account,
            &observed,
            &verdict,
            None,
            &stamp,
            self.resume_function.as_deref(),
        );
        let summary = |notified| TripwireSummary {
            action: "alerted".into(),
            region: Some(region.to_string()),
            why: Some(detail.clone()),
            stopped: Vec::new(),
            urgent: true,
            subject: message.as_ref().map(|m| m.subject.clone()),
            notified,
        };
        conclude(
            &self.notifier,
            message.as_ref(),
            summary,
            &(),
            Some(failure),
        )
        .await
    }

    pub fn new(config: &Config, tripwire: TripwireConfig, sdk: &aws_types::SdkConfig) -> Self {
        LaunchTripwire {
            tripwire,
            dry_run: config.dry_run,
            resume_function: config.resume_function.clone(),
            clients: SdkClients::new(sdk.clone()),
            iam: aws_sdk_iam::Client::new(sdk),
            accounts: EventAccounts::new(config.accounts.clone(), MemberRole::Tripwire, sdk),
            notifier: Notifier::new(aws_sdk_sns::Client::new(sdk), &config.notify_topic_arn),
        }
    }

    pub async fn handle(&self, event: &serde_json::Value) -> Result<TripwireSummary, HandlerError> {
        let parsed = parse_tripwire_event(event).map_err(|why| {
            tracing::error!(%why, event = %excerpt(&event.to_string()), "malformed event: nothing changed");
            HandlerError::Malformed(why)
        })?;
        let quiet = |action: &str, region: Option<&str>, why: String| TripwireSummary {
            action: action.into(),
            region: region.map(str::to_string),
            why: Some(why),
            stopped: Vec::new(),
            urgent: false,
            subject: None,
            notified: false,
        };
        let (event, region) = match &parsed {
            TripwireEvent::Ignored(why) => {
                tracing::warn!(%why, "ignored");
                return Ok(quiet("ignored", None, why.clone()));
            }
            TripwireEvent::Call(c) => (Event::Call(c), c.region.clone()),
            TripwireEvent::Finding(f) => (Event::Finding(f), f.region.clone()),
        };
        let named = match &parsed {
            TripwireEvent::Call(c) => c.account.as_deref(),
            TripwireEvent::Finding(f) => f.account.as_deref(),
            TripwireEvent::Ignored(_) => None,
        };
        // The account the event happened in: the guard's own, or a member
        // account reached through its tripwire role.
        let (clients, iam, account) = match self.accounts.place(named).await {
            Ok(Place::Own) => (self.clients.clone(), self.iam.clone(), None),
            Ok(Place::Member { account, sdk }) => {
                let iam = aws_sdk_iam::Client::new(&sdk);
                (SdkClients::new(*sdk), iam, Some(account))
            }
            Err(Refused::NotCovered(why)) => {
                tracing::warn!(%why, %region, "ignored");
                return Ok(quiet("ignored", Some(&region), why));
            }
            Err(Refused::Unreachable { account, why }) => {
                let detail = format!("account {account}: {why}");
                let alert = format!(
                    "cost-guard cannot act in account {account} ({why}), so nothing was stopped; Lambda tries the event again, and if it keeps failing the event goes to the failure queue, whose alarm tells you"
                );
                return self
                    .cannot_act(&parsed, &region, Some(&account), detail, alert)
                    .await;
            }
        };
        let account = account.as_deref();
        let ec2 = clients.ec2(&region);
        let (observed, verdict) = match &parsed {
            TripwireEvent::Call(c) => {
                // Only starts, spot requests and fleets ask EC2; RunInstances
                // names its instances and types itself.
                let observed = match tripwire::observe(&ec2, c).await {
                    Ok(observed) => observed,
                    Err(e) => {
                        let detail = format!(
                            "what {} launched could not be read: {e} ({})",
                            c.action(),
                            e.advice()
                        );
                        let alert = format!(
                            "EC2 could not say what the call started ({e}), so nothing was stopped yet; Lambda tries the event again, and if it keeps failing the event goes to the failure queue, whose alarm tells you"
                        );
                        return self
                            .cannot_act(&parsed, &region, account, detail, alert)
                            .await;
                    }
                };
                let verdict = decide_call(c, &observed, &self.tripwire);
                (observed, verdict)
            }
            TripwireEvent::Finding(f) => {
                (Observed::from_finding(f), decide_finding(f, &self.tripwire))
            }
            TripwireEvent::Ignored(_) => unreachable!("returned above"),
        };
        let call = match &parsed {
            TripwireEvent::Call(c) => Some(&**c),
            _ => None,
        };
        let stamp = Stamp::now(&stamp_label(call));
        let outcome: Option<StopOutcome> = match &verdict {
            Verdict::Quiet(why) => {
                tracing::info!(%why, %region, "nothing to do");
                return Ok(quiet("quiet", Some(&region), why.clone()));
            }
            Verdict::Alert { .. } => None,
            Verdict::Stop {
                targets,
                quarantine,
            } => {
                let mut o = tripwire::stop(&ec2, targets, &stamp, self.dry_run).await;
                if let (Some(target), false) = (quarantine, self.dry_run) {
                    let arn = call.and_then(|c| c.principal.arn.as_deref());
                    o.quarantine =
                        Some(iam::quarantine(&iam, target, &quarantine_policy_arn(arn)).await);
                }
                Some(o)
            }
        };
        let stopped = outcome
            .as_ref()
            .map(|o| o.stopped.clone())
            .unwrap_or_default();
        tracing::warn!(%region, account, ?verdict, stopped = stopped.len(), "tripwire");
        let message = render(
            event,
            account,
            &observed,
            &verdict,
            outcome.as_ref(),
            &stamp,
            self.resume_function.as_deref(),
        );
        let (urgent, why, action) = match &verdict {
            Verdict::Alert { urgent, why } => (*urgent, Some(why.clone()), "alerted"),
            _ => (true, None, "stopped"),
        };
        let failure =
            outcome
                .as_ref()
                .filter(|o| !o.failed.is_empty())
                .map(|o| HandlerError::Incomplete {
                    regions: region.clone(),
                    detail: o
                        .failed
                        .iter()
                        .map(|(id, e)| format!("{id}: {e}"))
                        .collect::<Vec<_>>()
                        .join("; "),
                });
        let summary = |notified| TripwireSummary {
            action: action.into(),
            region: Some(region.clone()),
            why: why.clone(),
            stopped: stopped.clone(),
            urgent,
            subject: message.as_ref().map(|m| m.subject.clone()),
            notified,
        };
        conclude(&self.notifier, message.as_ref(), summary, &outcome, failure).await
    }
}
