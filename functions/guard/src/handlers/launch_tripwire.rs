//! The launch-tripwire function: EventBridge sends it CloudTrail's record of
//! EC2 launches and starts, of a stolen key's other first moves, of writes of
//! cost-guard's own tags and of a newly enabled region; EC2's events about
//! what spot requests and fleets launch later; and GuardDuty's findings, from
//! every region through the forwarder. A costly or out-of-region launch by an
//! untrusted principal is stopped within seconds of its event, exactly the
//! instances that call launched, before the alert.
//!
//! Every event is checked first against the accounts the guard covers: an
//! event from any other account changes nothing (a shared event bus can
//! carry them).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{conclude, Function, HandlerError, Invocation};
use crate::aws::accounts::{Access, Accounts, Located, NoAccess, RegionClients, SdkClients};
use crate::aws::marks::Marks;
use crate::aws::seal::Seal;
use crate::aws::sns::Notifier;
use crate::aws::{compute, iam, tripwire};
use crate::domain::accounts::MemberRole;
use crate::domain::config::{LaunchTripwireConfig, RegionScope};
use crate::domain::error::AwsError;
use crate::domain::outcome::Stamp;
use crate::domain::render::launch_tripwire::{render, render_compute, Alerting, Event};
use crate::domain::render::Message;
use crate::domain::trigger::compute::ComputeCall;
use crate::domain::trigger::excerpt;
use crate::domain::trigger::launch::{parse_tripwire_event, ApiCall, CallKind, TripwireEvent};
use crate::domain::tripwire::{
    decide_call, decide_compute, decide_finding, decide_fleet_launch, mark_value, marked_by,
    quarantine_policy_arn, requests_of, requests_to_mark, stamp_label, trusted_by, ComputeFacts,
    Context, GuardRoles, Halted, Observed, Purpose, StopOutcome, Verdict,
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

/// What an acting verdict returns, once it is known whether the alert went
/// out.
fn summary_of(
    verdict: &Verdict,
    region: &str,
    stopped: Vec<String>,
    message: Option<&Message>,
) -> impl FnOnce(bool) -> TripwireSummary {
    let (urgent, why, action) = match verdict {
        Verdict::Alert { urgent, why } => (*urgent, Some(why.clone()), "alerted"),
        Verdict::Wait { why } => (true, Some(why.clone()), "alerted"),
        _ => (true, None, "stopped"),
    };
    let region = region.to_string();
    let subject = message.map(|m| m.subject.clone());
    move |notified| TripwireSummary {
        action: action.into(),
        region: Some(region),
        why,
        stopped,
        urgent,
        subject,
        notified,
    }
}

/// The function's state, built once per cold start.
pub struct LaunchTripwire {
    config: LaunchTripwireConfig,
    /// The region the guard runs in: where forwarders send events.
    home_region: String,
    clients: SdkClients,
    iam: aws_sdk_iam::Client,
    /// The guard's own account, and the member accounts reached through
    /// member.yaml's tripwire role.
    accounts: Accounts,
    /// The guard's own table of untrusted principals' requests.
    marks: Option<Marks>,
    /// Seals what a stop of a group or service saves for resume.
    seal: Option<Seal>,
    notifier: Notifier,
}

/// Where one event is acted on, with what.
struct Site {
    located: Located,
    clients: SdkClients,
    iam: aws_sdk_iam::Client,
    roles: GuardRoles,
}

/// Why the tripwire could not act: `detail` for the log and the error
/// Lambda sees, `alert` for subscribers.
struct CannotAct {
    detail: String,
    alert: String,
}

impl Function for LaunchTripwire {
    type Config = LaunchTripwireConfig;
    type Output = TripwireSummary;

    fn new(config: LaunchTripwireConfig, sdk: &aws_types::SdkConfig) -> Self {
        // The event names its region: no region list is ever resolved.
        let accounts = Accounts::new(
            config.accounts.clone(),
            RegionScope::AllEnabled,
            MemberRole::Tripwire,
            sdk,
        );
        LaunchTripwire {
            home_region: accounts.home_region(),
            accounts,
            clients: SdkClients::new(sdk.clone()),
            iam: aws_sdk_iam::Client::new(sdk),
            marks: config
                .tripwire
                .marks_table
                .as_deref()
                .map(|t| Marks::new(sdk, t)),
            seal: Seal::for_key(sdk, config.saved_state_key.as_deref()),
            notifier: Notifier::new(
                aws_sdk_sns::Client::new(sdk),
                &config.common.notify_topic_arn,
            ),
            config,
        }
    }

    /// Handles one event. The AWS calls that decide and act (what EC2 says,
    /// the stop) get the invocation's time budget; the alert is sent after
    /// them whatever they did, in the time kept back for it.
    async fn handle(&self, invocation: &Invocation<'_>) -> Result<TripwireSummary, HandlerError> {
        if let Some(arn) = invocation.invoked_arn() {
            self.accounts.learn_own_account(arn);
        }
        self.act(invocation).await
    }
}

impl LaunchTripwire {
    fn alerting<'a>(&'a self, member: Option<&'a str>, guard: Option<&'a str>) -> Alerting<'a> {
        Alerting {
            member,
            guard_account: guard,
            home_region: &self.home_region,
            resume_function: self.config.common.resume_function.as_deref(),
            exempt_key: &self.config.exempt_tag_key,
        }
    }

    /// The tripwire could not act on the event: EC2 could not say what a call
    /// started, or the account it happened in cannot be reached. A principal
    /// that is not trusted is reported at once, and the invocation fails so
    /// that Lambda tries the event again (and, failing that, parks it in the
    /// failure queue, whose alarm tells subscribers too).
    async fn cannot_act(
        &self,
        invocation: &Invocation<'_>,
        parsed: &TripwireEvent,
        region: &str,
        account: Option<&str>,
        CannotAct { detail, alert }: CannotAct,
    ) -> Result<TripwireSummary, HandlerError> {
        tracing::error!(%detail, %region, account, "the tripwire could not act");
        let failure = HandlerError::Incomplete {
            at: region.to_string(),
            detail: detail.clone(),
        };
        // In the guard's own account its roles are known by the template.
        let roles = match account {
            Some(a) if !self.is_own(a) => GuardRoles::default(),
            _ => self.own_roles(),
        };
        let none = BTreeMap::new();
        let ctx = Context {
            cfg: &self.config.tripwire,
            roles: &roles,
            account,
            marked: &none,
            exempt_key: &self.config.exempt_tag_key,
        };
        let (event, observed) = match parsed {
            TripwireEvent::Call(call) => {
                let purpose = match call.kind {
                    CallKind::Tagging(_) => Purpose::Tagging,
                    CallKind::Launch(_) => Purpose::Launch,
                    _ => Purpose::Other,
                };
                if trusted_by(&call.principal, &ctx, purpose).is_some() {
                    return Err(failure);
                }
                let observed = call.launch().map(Observed::from_event).unwrap_or_default();
                (Event::Call(call), observed)
            }
            TripwireEvent::Finding(f) => {
                if !f.means_abuse() {
                    return Err(failure);
                }
                (Event::Finding(f), Observed::from_finding(f))
            }
            TripwireEvent::FleetLaunch(l) => (
                Event::FleetLaunch(l),
                vec![Observed::named(&l.instance_id, l.instance_type.as_deref())],
            ),
            TripwireEvent::Ignored(_) => return Err(failure),
        };
        let verdict = Verdict::Alert {
            urgent: true,
            why: alert,
        };
        let stamp = Stamp::now(&stamp_label(parsed));
        let member = account.filter(|a| !self.is_own(a));
        let message = render(
            event,
            &observed,
            &verdict,
            None,
            &stamp,
            &self.alerting(member, None),
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
            invocation,
            &self.notifier,
            message.as_ref(),
            summary,
            &(),
            Some(failure),
        )
        .await
    }

    /// The stack's own roles, as the template names them by id.
    fn own_roles(&self) -> GuardRoles {
        GuardRoles {
            resume: self.config.tripwire.resume_role_ids.clone(),
            others: self.config.tripwire.guard_role_ids.clone(),
            ..Default::default()
        }
    }

    /// Whether `account` is known to be the guard's own.
    fn is_own(&self, account: &str) -> bool {
        self.accounts.known_own_account() == Some(account)
    }

    /// The clients and the guard's roles where `located` says. Member
    /// credentials are assumed only for what needs them.
    async fn site(&self, located: Located, parsed: &TripwireEvent) -> Result<Site, NoAccess> {
        // A tag write needs the member account only to tell member.yaml's
        // roles by their ids, so only when one of them made it.
        let member_role_session = |c: &ApiCall| {
            c.principal.kind == "AssumedRole"
                && c.principal
                    .name
                    .as_deref()
                    .is_some_and(|n| self.accounts.is_member_role_name(n))
        };
        let needs_clients = match parsed {
            TripwireEvent::Call(c) => match c.kind {
                // What it acts on is in the member account.
                CallKind::Launch(_) | CallKind::Compute(_) => true,
                CallKind::Tagging(_) => member_role_session(c),
                _ => false,
            },
            _ => true,
        };
        if let Located::Own(_) = &located {
            return Ok(Site {
                located,
                clients: self.clients.clone(),
                iam: self.iam.clone(),
                roles: self.own_roles(),
            });
        }
        if !needs_clients {
            return Ok(Site {
                located,
                clients: self.clients.clone(),
                iam: self.iam.clone(),
                roles: GuardRoles {
                    names: self.accounts.member_role_names(),
                    ..Default::default()
                },
            });
        }
        let Access::Member { account, sdk } = self.accounts.access(located.clone()).await? else {
            unreachable!("a member account is reached as one")
        };
        // member.yaml's roles are looked up only for a session of one of
        // them: no other session can carry their ids.
        let mut roles = match parsed {
            TripwireEvent::Call(c) if member_role_session(c) => {
                self.accounts.member_roles(&account, &sdk).await
            }
            _ => GuardRoles::default(),
        };
        roles.names = self.accounts.member_role_names();
        Ok(Site {
            located,
            iam: aws_sdk_iam::Client::new(&sdk),
            clients: SdkClients::new(*sdk),
            roles,
        })
    }

    async fn act(&self, invocation: &Invocation<'_>) -> Result<TripwireSummary, HandlerError> {
        let budget = invocation.budget();
        let until = tokio::time::Instant::now() + budget;
        let out_of_time = || {
            AwsError::new(
                "launch-tripwire",
                "Timeout",
                format!(
                    "no answer within {}s, the time left before the Lambda deadline",
                    budget.as_secs()
                ),
            )
        };
        let event = invocation.payload();
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
        let (region, named) = match &parsed {
            TripwireEvent::Ignored(why) => {
                tracing::warn!(%why, "ignored");
                return Ok(quiet("ignored", None, why.clone()));
            }
            TripwireEvent::Call(c) => (c.region.clone(), c.account.as_deref()),
            TripwireEvent::Finding(f) => (f.region.clone(), f.account.as_deref()),
            TripwireEvent::FleetLaunch(l) => (l.region.clone(), l.account.as_deref()),
        };
        // The account the event happened in: the guard's own, a member
        // account reached through its tripwire role, or none of the guard's.
        let located = match self.accounts.locate(named).await {
            Ok(l) => l,
            Err(NoAccess::NotCovered(why)) => {
                tracing::warn!(%why, %region, "ignored: nothing was changed");
                return Ok(quiet("ignored", Some(&region), why));
            }
            Err(NoAccess::Unreachable { account, why }) => {
                let detail = format!("account {account}: {why}");
                let alert = format!(
                    "cost-guard cannot tell whether the event is its own ({why}), so nothing was stopped; Lambda tries the event again, and if it keeps failing the event goes to the failure queue, whose alarm tells you"
                );
                return self
                    .cannot_act(
                        invocation,
                        &parsed,
                        &region,
                        None,
                        CannotAct { detail, alert },
                    )
                    .await;
            }
        };
        let site = match self.site(located.clone(), &parsed).await {
            Ok(site) => site,
            Err(NoAccess::NotCovered(why)) => return Ok(quiet("ignored", Some(&region), why)),
            Err(NoAccess::Unreachable { account, why }) => {
                let detail = format!("account {account}: {why}");
                let alert = format!(
                    "cost-guard cannot act in account {account} ({why}), so nothing was stopped; Lambda tries the event again, and if it keeps failing the event goes to the failure queue, whose alarm tells you"
                );
                return self
                    .cannot_act(
                        invocation,
                        &parsed,
                        &region,
                        Some(&account),
                        CannotAct { detail, alert },
                    )
                    .await;
            }
        };
        let account = site.located.account().to_string();
        let member = match &site.located {
            Located::Member(a) => Some(a.as_str()),
            Located::Own(_) => None,
        };
        let guard_account = self.accounts.known_own_account().map(str::to_string);
        if let TripwireEvent::Call(c) = &parsed {
            if let CallKind::Compute(cc) = &c.kind {
                let alerting = self.alerting(member, guard_account.as_deref());
                return self
                    .act_compute(invocation, c, cc, &site, &account, alerting, until)
                    .await;
            }
        }
        let ec2 = site.clients.ec2(&region);
        // What EC2 says now, beyond the event. A failure to ask is a failure
        // to act: reported, and retried by Lambda.
        let looked = tokio::time::timeout_at(until, self.look(&ec2, &account, &region, &parsed))
            .await
            .unwrap_or_else(|_| Err(("what the event started".into(), out_of_time())));
        let (observed, marked) = match looked {
            Ok(found) => found,
            Err((what, e)) => {
                let detail = format!("{what} could not be read: {e} ({})", e.advice());
                let alert = format!(
                    "EC2 could not say {what} ({e}), so nothing was stopped yet; Lambda tries the event again, and if it keeps failing the event goes to the failure queue, whose alarm tells you"
                );
                return self
                    .cannot_act(
                        invocation,
                        &parsed,
                        &region,
                        Some(&account),
                        CannotAct { detail, alert },
                    )
                    .await;
            }
        };
        let ctx = Context {
            cfg: &self.config.tripwire,
            roles: &site.roles,
            account: Some(&account),
            marked: &marked,
            exempt_key: &self.config.exempt_tag_key,
        };
        let (event, verdict) = match &parsed {
            TripwireEvent::Call(c) => (Event::Call(c), decide_call(c, &observed, &ctx)),
            TripwireEvent::Finding(f) => {
                (Event::Finding(f), decide_finding(f, observed.first(), &ctx))
            }
            TripwireEvent::FleetLaunch(l) => (
                Event::FleetLaunch(l),
                decide_fleet_launch(l, observed.first(), &ctx),
            ),
            TripwireEvent::Ignored(_) => unreachable!("returned above"),
        };
        // For the report: what the event names, when EC2 was not asked.
        let observed = match (&parsed, observed.is_empty()) {
            (TripwireEvent::Finding(f), true) => Observed::from_finding(f),
            (TripwireEvent::FleetLaunch(l), true) => {
                vec![Observed::named(&l.instance_id, l.instance_type.as_deref())]
            }
            _ => observed,
        };
        let call = match &parsed {
            TripwireEvent::Call(c) => Some(&**c),
            _ => None,
        };
        let stamp = Stamp::now(&stamp_label(&parsed));
        let alerting = self.alerting(member, guard_account.as_deref());
        // An untrusted principal's spot requests and fleets, remembered
        // whatever the verdict, so that what they launch later is judged
        // (not on a retry verdict, which decided nothing yet).
        let to_mark = call.map(|c| requests_to_mark(c, &ctx)).unwrap_or_default();
        let (remembered, unremembered) = match (call, &verdict) {
            (Some(c), v) if !matches!(v, Verdict::Retry(_)) => {
                self.remember(&account, &region, c, &to_mark, &marked).await
            }
            _ => (Vec::new(), None),
        };
        let marks = |o: &mut StopOutcome| {
            o.marked = remembered.clone();
            o.unmarked = unremembered.clone();
        };
        let not_remembered = unremembered
            .as_ref()
            .map(|e| format!("{} could not be remembered: {e}", to_mark.join(", ")));
        let (outcome, failure): (Option<StopOutcome>, Option<HandlerError>) = match &verdict {
            Verdict::Quiet(why) => {
                if let Some(detail) = not_remembered {
                    tracing::error!(%region, %account, %detail, "requests not remembered");
                    return Err(HandlerError::Incomplete {
                        at: region.clone(),
                        detail,
                    });
                }
                tracing::info!(%why, %region, %account, "nothing to do");
                return Ok(quiet("quiet", Some(&region), why.clone()));
            }
            Verdict::Retry(why) => {
                tracing::warn!(%why, %region, %account, "nothing decided yet: Lambda tries again");
                return Err(HandlerError::Incomplete {
                    at: region.clone(),
                    detail: why.clone(),
                });
            }
            // A compute call's stop is `act_compute`'s; anything else is an alert.
            Verdict::Alert { .. } | Verdict::Halt { .. } => {
                let mut o = StopOutcome::default();
                marks(&mut o);
                let failure = not_remembered.map(|detail| HandlerError::Incomplete {
                    at: region.clone(),
                    detail,
                });
                ((!to_mark.is_empty()).then_some(o), failure)
            }
            Verdict::Wait { why } => {
                let call = call.expect("only a call waits");
                let requests = call.launch().map(requests_of).unwrap_or_default();
                let failure = HandlerError::Incomplete {
                    at: region.clone(),
                    detail: format!(
                        "{} by {}: nothing running yet for {}; the retry looks again",
                        call.action(),
                        call.principal.short(),
                        requests.join(", ")
                    ),
                };
                // A retry of the same event: subscribers were told the
                // first time, and the requests are remembered.
                if !requests.is_empty()
                    && requests
                        .iter()
                        .all(|r| marked.get(r).is_some_and(|m| marked_by(m, call)))
                {
                    tracing::warn!(%region, %why, "still nothing running; no second alert");
                    return Err(failure);
                }
                let mut o = StopOutcome {
                    dry_run: self.config.dry_run,
                    ..Default::default()
                };
                marks(&mut o);
                (Some(o), Some(failure))
            }
            Verdict::Stop {
                targets,
                quarantine,
            } => {
                let stop = tripwire::stop(&ec2, targets, &stamp, self.config.dry_run);
                // Out of time, what was stopped is not known: each target is
                // reported as not known to be stopped, and the retry stops
                // what still runs.
                let mut o = tokio::time::timeout_at(until, stop)
                    .await
                    .unwrap_or_else(|_| StopOutcome {
                        dry_run: self.config.dry_run,
                        failed: targets
                            .iter()
                            .map(|t| (t.id.clone(), out_of_time().to_string()))
                            .collect(),
                        ..Default::default()
                    });
                marks(&mut o);
                if let (Some(target), false) = (quarantine, self.config.dry_run) {
                    let arn = call.and_then(|c| c.principal.arn.as_deref());
                    o.quarantine =
                        Some(iam::quarantine(&site.iam, target, &quarantine_policy_arn(arn)).await);
                }
                let problems: Vec<String> = o
                    .failed
                    .iter()
                    .map(|(id, e)| format!("{id}: {e}"))
                    .chain(not_remembered)
                    .collect();
                let failure = (!problems.is_empty()).then(|| HandlerError::Incomplete {
                    at: region.clone(),
                    detail: problems.join("; "),
                });
                (Some(o), failure)
            }
        };
        let stopped = outcome
            .as_ref()
            .map(|o| o.stopped.clone())
            .unwrap_or_default();
        tracing::warn!(%region, %account, ?verdict, stopped = stopped.len(), "tripwire");
        let message = render(
            event,
            &observed,
            &verdict,
            outcome.as_ref(),
            &stamp,
            &alerting,
        );
        let summary = summary_of(&verdict, &region, stopped, message.as_ref());
        conclude(
            invocation,
            &self.notifier,
            message.as_ref(),
            summary,
            &outcome,
            failure,
        )
        .await
    }

    /// A call that created or grew compute other than EC2 instances: what
    /// the account says about it, the decision, the stop (through each
    /// kind's own stop, stamped for resume) and the alert.
    #[allow(clippy::too_many_arguments)]
    async fn act_compute(
        &self,
        invocation: &Invocation<'_>,
        call: &ApiCall,
        cc: &ComputeCall,
        site: &Site,
        account: &str,
        alerting: Alerting<'_>,
        until: tokio::time::Instant,
    ) -> Result<TripwireSummary, HandlerError> {
        let region = call.region.clone();
        let ctx = Context {
            cfg: &self.config.tripwire,
            roles: &site.roles,
            account: Some(account),
            marked: &BTreeMap::new(),
            exempt_key: &self.config.exempt_tag_key,
        };
        // What the account says is read only for a principal not trusted:
        // a trusted one's call is quiet whatever it made.
        let facts = if trusted_by(&call.principal, &ctx, Purpose::Launch).is_some()
            || call.error.is_some()
        {
            Ok(ComputeFacts::default())
        } else {
            tokio::time::timeout_at(until, compute::facts(&site.clients, &region, cc))
                .await
                .unwrap_or_else(|_| {
                    Err(AwsError::new(
                        "launch-tripwire",
                        "Timeout",
                        "no answer before the Lambda deadline",
                    ))
                })
        };
        let facts = match facts {
            Ok(f) => f,
            Err(e) => {
                let parsed = TripwireEvent::Call(Box::new(call.clone()));
                let detail = format!(
                    "what {} made could not be read: {e} ({})",
                    call.action(),
                    e.advice()
                );
                let alert = format!(
                    "AWS could not say what {} made ({e}), so nothing was stopped yet; Lambda tries the event again, and if it keeps failing the event goes to the failure queue, whose alarm tells you",
                    cc.describe()
                );
                return self
                    .cannot_act(
                        invocation,
                        &parsed,
                        &region,
                        Some(account),
                        CannotAct { detail, alert },
                    )
                    .await;
            }
        };
        let verdict = decide_compute(call, cc, &facts, &ctx);
        let stamp = Stamp::now(&format!("tripwire:{}", call.event_name));
        let (halted, failure) = match &verdict {
            Verdict::Quiet(why) => {
                tracing::info!(%why, %region, %account, "nothing to do");
                return Ok(TripwireSummary {
                    action: "quiet".into(),
                    region: Some(region),
                    why: Some(why.clone()),
                    stopped: Vec::new(),
                    urgent: false,
                    subject: None,
                    notified: false,
                });
            }
            Verdict::Halt { .. } => {
                let halt = compute::halt(
                    &site.clients,
                    &region,
                    cc,
                    &stamp,
                    self.seal.as_ref(),
                    self.config.dry_run,
                );
                let h = tokio::time::timeout_at(until, halt)
                    .await
                    .unwrap_or_else(|_| Halted {
                        failed: Some(
                            "no answer before the Lambda deadline; the retry stops what still runs"
                                .into(),
                        ),
                        ..Halted::default()
                    });
                let failure = h.failed.as_ref().map(|f| HandlerError::Incomplete {
                    at: region.clone(),
                    detail: format!("{}: {f}", cc.describe()),
                });
                (Some(h), failure)
            }
            Verdict::Wait { why } | Verdict::Retry(why) => (
                None,
                Some(HandlerError::Incomplete {
                    at: region.clone(),
                    detail: why.clone(),
                }),
            ),
            _ => (None, None),
        };
        tracing::warn!(%region, %account, ?verdict, ?halted, "tripwire: compute");
        let message = render_compute(call, cc, &verdict, halted.as_ref(), &stamp, &alerting);
        let stopped = match &halted {
            Some(h) if !h.dry_run && !h.done.is_empty() => vec![cc.name.clone()],
            _ => Vec::new(),
        };
        let summary = summary_of(&verdict, &region, stopped, message.as_ref());
        conclude(
            invocation,
            &self.notifier,
            message.as_ref(),
            summary,
            &halted,
            failure,
        )
        .await
    }

    /// What EC2 says beyond the event: the instances to judge, and which of
    /// the spot requests and fleets involved the tripwire remembers. On
    /// failure: what could not be read, and why.
    async fn look(
        &self,
        ec2: &aws_sdk_ec2::Client,
        account: &str,
        region: &str,
        parsed: &TripwireEvent,
    ) -> Result<(Vec<Observed>, BTreeMap<String, String>), (String, crate::domain::error::AwsError)>
    {
        let remembered = |requests: Vec<String>| async move {
            match (&self.marks, requests.is_empty()) {
                (Some(marks), false) => marks
                    .get(account, region, &requests)
                    .await
                    .map_err(|e| ("which spot requests and fleets it remembers".to_string(), e)),
                _ => Ok(BTreeMap::new()),
            }
        };
        match parsed {
            TripwireEvent::Call(c) => {
                let Some(launch) = c.launch() else {
                    return Ok((Vec::new(), BTreeMap::new()));
                };
                let observed = tripwire::observe(ec2, c)
                    .await
                    .map_err(|e| ("what the call started".to_string(), e))?;
                let mut requests: Vec<String> = requests_of(launch)
                    .into_iter()
                    .chain(observed.iter().flat_map(|i| i.requests.iter().cloned()))
                    .collect();
                requests.sort();
                requests.dedup();
                let marked = remembered(requests).await?;
                Ok((observed, marked))
            }
            TripwireEvent::Finding(f) => match &f.instance_id {
                Some(id) if f.means_abuse() => {
                    let described = tripwire::describe_one(ec2, id)
                        .await
                        .map_err(|e| (format!("what {id} is"), e))?;
                    Ok((described.into_iter().collect(), BTreeMap::new()))
                }
                _ => Ok((Vec::new(), BTreeMap::new())),
            },
            TripwireEvent::FleetLaunch(l) => {
                let marked = remembered(vec![l.request.clone()]).await?;
                if marked.is_empty() {
                    return Ok((Vec::new(), marked));
                }
                let described = tripwire::describe_one(ec2, &l.instance_id)
                    .await
                    .map_err(|e| (format!("what {} is", l.instance_id), e))?;
                Ok((described.into_iter().collect(), marked))
            }
            TripwireEvent::Ignored(_) => Ok((Vec::new(), BTreeMap::new())),
        }
    }

    /// Remembers `requests` as this call's untrusted principal's, unless a
    /// dry run or already remembered for this very call. Returns what is
    /// remembered, and why not, when it could not be.
    async fn remember(
        &self,
        account: &str,
        region: &str,
        call: &ApiCall,
        requests: &[String],
        marked: &BTreeMap<String, String>,
    ) -> (Vec<String>, Option<String>) {
        if self.config.dry_run || requests.is_empty() {
            return (Vec::new(), None);
        }
        let Some(marks) = &self.marks else {
            let why = "TRIPWIRE_MARKS_TABLE is not set, so cost-guard cannot remember them";
            return (Vec::new(), Some(why.into()));
        };
        let new: Vec<String> = requests
            .iter()
            .filter(|r| !marked.get(*r).is_some_and(|m| marked_by(m, call)))
            .cloned()
            .collect();
        if new.is_empty() {
            return (requests.to_vec(), None);
        }
        match marks.put(account, region, &new, &mark_value(call)).await {
            Ok(()) => (requests.to_vec(), None),
            Err(e) => {
                tracing::warn!(error = %e, "requests not remembered");
                (Vec::new(), Some(format!("{e} ({})", e.advice())))
            }
        }
    }
}
