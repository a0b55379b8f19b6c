//! The root-login-alert function: one readable alert per use of the root user,
//! and in `ROOT_LOGIN_ACTION=stop` mode the stop sweep after an untrusted
//! successful sign-in.

use serde::Serialize;

use super::{conclude, sweep_failure, Function, HandlerError, Invocation};
use crate::aws::fleet::{Fleet, Scope};
use crate::aws::sns::Notifier;
use crate::domain::config::{RootAction, RootLoginAlertConfig};
use crate::domain::outcome::Stamp;
use crate::domain::policy::assess_root;
use crate::domain::render::root_login_alert::{or_unknown, render_alert};
use crate::domain::trigger::root::{parse_root_event, Outcome, RootEvent, RootEventKind};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RootSummary {
    pub alerted: bool,
    pub urgent: bool,
    pub trusted: bool,
    pub swept: bool,
    pub stopped: usize,
    pub subject: Option<String>,
    /// Why nothing was sent (an event that is not root activity).
    pub ignored: Option<String>,
}

/// The function's state, built once per cold start. Root alerts never ask
/// Cost Explorer.
pub struct RootLoginAlert {
    config: RootLoginAlertConfig,
    fleet: Fleet,
    notifier: Notifier,
}

impl Function for RootLoginAlert {
    type Config = RootLoginAlertConfig;
    type Output = RootSummary;

    fn new(config: RootLoginAlertConfig, sdk: &aws_types::SdkConfig) -> Self {
        RootLoginAlert {
            fleet: Fleet::new(&config.sweep.accounts, &config.sweep.regions, sdk)
                .with_kinds(&config.sweep.kinds)
                .with_seal(sdk, config.sweep.saved_state_key.as_deref()),
            notifier: Notifier::new(
                aws_sdk_sns::Client::new(sdk),
                &config.common.notify_topic_arn,
            ),
            config,
        }
    }

    async fn handle(&self, invocation: &Invocation<'_>) -> Result<RootSummary, HandlerError> {
        if let Some(arn) = invocation.invoked_arn() {
            self.fleet.learn_own_account(arn);
        }
        let event = invocation.payload();
        let activity = match parse_root_event(event) {
            Ok(RootEvent::Root(a)) => a,
            Ok(RootEvent::NotRoot {
                identity,
                event_name,
            }) => {
                let why = format!("{event_name} by {identity} is not root activity: no alert (check the EventBridge rule's pattern)");
                tracing::warn!(%why, "ignored");
                return Ok(RootSummary {
                    alerted: false,
                    urgent: false,
                    trusted: false,
                    swept: false,
                    stopped: 0,
                    subject: None,
                    ignored: Some(why),
                });
            }
            Err(why) => {
                tracing::error!(%why, event = %crate::domain::trigger::excerpt(&event.to_string()), "malformed event");
                return Err(HandlerError::Malformed(why));
            }
        };
        let assessment = assess_root(&activity, &self.config.root.trusted);
        tracing::warn!(
            action = %activity.action(),
            account = or_unknown(&activity.account),
            source_ip = or_unknown(&activity.source_ip),
            mfa = ?activity.mfa_used,
            outcome = ?activity.outcome,
            urgent = assessment.urgent,
            trusted = assessment.trusted.is_some(),
            "root activity"
        );
        let sweep_now = self.config.root.action == RootAction::Stop
            && activity.kind == RootEventKind::ConsoleSignIn
            && activity.outcome == Outcome::Success
            && assessment.trusted.is_none();
        let swept = if sweep_now {
            let stamp = Stamp::now(&format!("root-sign-in:{}", or_unknown(&activity.source_ip)));
            let scope = Scope::new(
                activity.account.clone().map(|a| vec![a]),
                &format!("root sign-in from {}", or_unknown(&activity.source_ip)),
            );
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
        } else {
            None
        };
        let sweep_error = match &swept {
            Some((Err(e), _)) => Some(format!("{e} ({})", e.advice())),
            _ => None,
        };
        let message = render_alert(
            &activity,
            &assessment,
            swept
                .as_ref()
                .and_then(|(r, s)| r.as_ref().ok().map(|r| (r, s))),
            sweep_error.as_deref(),
            self.config.common.resume_function.as_deref(),
        );
        let summary = |alerted| RootSummary {
            alerted,
            urgent: assessment.urgent,
            trusted: assessment.trusted.is_some(),
            swept: matches!(swept, Some((Ok(_), _))),
            stopped: match &swept {
                Some((Ok(r), _)) => r.stopped_count(),
                _ => 0,
            },
            subject: Some(message.subject.clone()),
            ignored: None,
        };
        conclude(
            invocation,
            &self.notifier,
            Some(&message),
            summary,
            &swept.as_ref().and_then(|(r, _)| r.as_ref().ok()),
            sweep_failure(swept.as_ref().map(|(r, _)| r)),
        )
        .await
    }
}
