//! The seal on what cost-guard saves before a stop (see
//! [`saved`](crate::domain::kinds::saved)): an HMAC made and checked by KMS
//! with the stack's `SavedStateKey`. KMS is called in the guard's own
//! account and region, whichever account the resource is in.
//!
//! The seal binds the saved pairs to the resource's ARN and to the stop that
//! wrote them (its trigger, and its time, which the value carries as
//! `at=<unix seconds>`): a sealed value copied onto another resource, kept
//! from an earlier stop, or paired with a rewritten stamp does not open.
//!
//! Nothing here ever keeps a stop from happening: when KMS cannot seal, the
//! value is written without a seal (resume then refuses it, and says so);
//! when KMS cannot check an earlier value, the stop leaves it as it is.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::MacAlgorithmSpec;

use super::kinds::InRegion;
use crate::domain::error::AwsError;
use crate::domain::inventory::{tag, Tags, Target};
use crate::domain::kinds::saved::{self, seal_message, sealed, unseal};
use crate::domain::resume::stamp_of;
use crate::domain::resume::StartPlan;
use crate::domain::select::Skipped;
use crate::domain::select::EARLIER_WINDOW;
use crate::domain::tags::SAVED_TAG;

/// The guard's HMAC key (`SAVED_STATE_KEY_ARN`).
#[derive(Clone, Debug)]
pub struct Seal {
    kms: aws_sdk_kms::Client,
    key: String,
}

/// Why a seal did not open.
enum Closed {
    /// Not cost-guard's, or not for this resource and stop.
    Refused(String),
    /// KMS could not be asked.
    Unchecked(String),
}

impl Seal {
    /// The key `key`, through the function's own credentials and region;
    /// `None` without one.
    pub fn for_key(sdk: &aws_types::SdkConfig, key: Option<&str>) -> Option<Seal> {
        key.map(|key| Seal {
            kms: aws_sdk_kms::Client::new(sdk),
            key: key.to_string(),
        })
    }

    async fn mac(&self, message: Vec<u8>) -> Result<Vec<u8>, AwsError> {
        let out = self
            .kms
            .generate_mac()
            .key_id(&self.key)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(message))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("kms:GenerateMac", e))?;
        Ok(out.mac().map(|m| m.as_ref().to_vec()).unwrap_or_default())
    }

    async fn verify(&self, message: Vec<u8>, mac: Vec<u8>) -> Result<(), Closed> {
        let out = self
            .kms
            .verify_mac()
            .key_id(&self.key)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(message))
            .mac(Blob::new(mac))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("kms:VerifyMac", e));
        match out {
            Ok(out) if out.mac_valid() => Ok(()),
            Err(e) if e.code != "KMSInvalidMacException" => Err(Closed::Unchecked(format!(
                "the seal of its {SAVED_TAG} tag could not be checked ({e}); run resume again"
            ))),
            _ => Err(Closed::Refused(format!(
                "the seal of its {SAVED_TAG} tag does not match: the tag or the stamp was changed after cost-guard wrote them, or the tag was copied from another resource; start it by hand"
            ))),
        }
    }
}

/// A stamp's time as unix seconds, as the sealed value carries it.
fn seconds(rfc3339: &str) -> Option<i64> {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// Opens the seal of `value` on `arn` for the stop `by`; returns the time
/// the sealed value says it was written.
async fn open_value(seal: Option<&Seal>, arn: &str, by: &str, value: &str) -> Result<i64, Closed> {
    let Some(seal) = seal else {
        return Err(Closed::Refused(format!(
            "SAVED_STATE_KEY_ARN is not set, so the seal of its {SAVED_TAG} tag cannot be checked; set it to the stack's SavedStateKeyArn output, or start it by hand"
        )));
    };
    if arn.is_empty() {
        return Err(Closed::Refused(format!(
            "its ARN is unknown, so the seal of its {SAVED_TAG} tag cannot be checked; start it by hand"
        )));
    }
    let Some((pairs, mac)) = unseal(value) else {
        return Err(Closed::Refused(format!(
            "its {SAVED_TAG} tag carries no seal of cost-guard's, so anyone allowed to tag it could have written it; start it by hand"
        )));
    };
    let written = saved::parse(Some(pairs))
        .ok()
        .and_then(|s| s.word("at").ok().and_then(|w| w.parse::<i64>().ok()));
    let Some(written) = written else {
        return Err(Closed::Refused(format!(
            "its {SAVED_TAG} tag does not say when it was written; start it by hand"
        )));
    };
    seal.verify(seal_message(arn, by, pairs), mac).await?;
    Ok(written)
}

/// What a stop does with a saved state it finds on a resource it is about
/// to stop.
#[derive(Debug, PartialEq)]
pub(crate) enum Prior {
    /// Nothing there: save what the resource is now.
    Nothing,
    /// This very stop's, from an invocation cut short (sealed for the same
    /// trigger within [`EARLIER_WINDOW`]): act on it, and seal it again with
    /// this invocation's time, which the stamp will carry.
    Keep,
    /// Anything else (forged, copied, of an older stop): act on what the
    /// resource is now, and save that in its place.
    Replace(String),
    /// KMS could not check it: act on what the resource is now, and leave
    /// the tag for resume to check.
    Leave(String),
}

impl Prior {
    /// Whether the stop acts on the saved state (else on the live values).
    pub(crate) fn keeps(&self) -> bool {
        *self == Prior::Keep
    }

    /// Whether the stop writes the saved state it acts on.
    pub(crate) fn writes(&self) -> bool {
        !matches!(self, Prior::Leave(_))
    }
}

/// What the stop at `at` does with the saved state in `tags` of `arn`.
pub(crate) async fn prior(at: &InRegion<'_>, arn: &str, tags: &Tags) -> Prior {
    let Some(value) = tag(tags, SAVED_TAG) else {
        return Prior::Nothing;
    };
    let Some(stamp) = at.stamp else {
        return Prior::Replace("no stop to compare it with".into());
    };
    let prior = match open_value(at.seal, arn, &stamp.by, value).await {
        Ok(written) => match seconds(&stamp.at) {
            Some(now) if written <= now && now - written <= EARLIER_WINDOW.whole_seconds() => {
                Prior::Keep
            }
            _ => Prior::Replace("sealed by an earlier stop, not this alert's".into()),
        },
        Err(Closed::Refused(why)) => Prior::Replace(why),
        Err(Closed::Unchecked(why)) => Prior::Leave(why),
    };
    if let Prior::Replace(why) | Prior::Leave(why) = &prior {
        tracing::warn!(%arn, why, "a saved state found before the stop is not used");
    }
    prior
}

/// `tags` without the saved state: what a stop acts on when it does not
/// keep one.
pub(crate) fn without_saved(tags: &Tags) -> Tags {
    tags.iter()
        .filter(|(k, _)| k != SAVED_TAG)
        .cloned()
        .collect()
}

/// The tag value the stop at `at` writes for `pairs` on `arn`: with the
/// stop's time and the seal. When KMS cannot seal it, it is written
/// unsealed, and the stop goes on: resume will refuse it, with the reason.
pub(crate) async fn seal_value(at: &InRegion<'_>, arn: &str, pairs: &str) -> String {
    let Some(stamp) = at.stamp else {
        return pairs.to_string();
    };
    let Some(when) = seconds(&stamp.at) else {
        return pairs.to_string();
    };
    let value = format!("{pairs} at={when}");
    let Some(seal) = at.seal.filter(|_| !arn.is_empty()) else {
        return value;
    };
    match seal.mac(seal_message(arn, &stamp.by, &value)).await {
        Ok(mac) => sealed(&value, &mac),
        Err(e) => {
            tracing::error!(%arn, error = %e, "the saved state is written without its seal: resume will refuse it");
            value
        }
    }
}

/// Whether resume may read the saved state in `tags` of `arn`: only when
/// the guard's key opens its seal for the stop its stamp (or resuming
/// marker) names, written at that stop's time. Without a saved tag there is
/// nothing to open, and the kind's own reading refuses it.
pub(crate) async fn open(at: &InRegion<'_>, arn: &str, tags: &Tags) -> Result<(), String> {
    let Some(value) = tag(tags, SAVED_TAG) else {
        return Ok(());
    };
    let Some(stamp) = stamp_of(tags) else {
        return Err(format!(
            "it carries no stamp to check its {SAVED_TAG} tag against; start it by hand"
        ));
    };
    let written = open_value(at.seal, arn, &stamp.by, value)
        .await
        .map_err(|c| match c {
            Closed::Refused(why) | Closed::Unchecked(why) => why,
        })?;
    if seconds(&stamp.at) != Some(written) {
        return Err(format!(
            "its {SAVED_TAG} tag was sealed by another stop than the one its stamp names ({}); start it by hand",
            stamp.at
        ));
    }
    Ok(())
}

/// `plan` with every target whose saved state does not open moved to the
/// skipped, with why: checked before resume changes any tag, so a dry run
/// says what a resume would refuse. `sealed` gives a target's ARN and tags
/// when its kind seals what it saves.
pub(crate) async fn checked<'r>(
    at: &InRegion<'_>,
    plan: StartPlan,
    sealed: impl Fn(&Target) -> Option<(&'r str, &'r Tags)>,
) -> StartPlan {
    let mut out = StartPlan {
        skipped: plan.skipped,
        targets: Vec::new(),
    };
    for (target, stamp) in plan.targets {
        let refused = match sealed(&target) {
            Some((arn, tags)) => open(at, arn, tags).await.err(),
            None => None,
        };
        match refused {
            Some(reason) => out.skipped.push(Skipped {
                resource: target.resource.clone(),
                reason,
            }),
            None => out.targets.push((target, stamp)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::accounts::SdkClients;
    use crate::domain::config::KindSet;
    use crate::domain::outcome::Stamp;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    /// A key whose every MAC checks out: only the time the sealed value
    /// carries decides.
    fn valid_seal() -> Seal {
        use aws_sdk_kms::operation::verify_mac::VerifyMacOutput;
        let valid = mock!(aws_sdk_kms::Client::verify_mac)
            .then_output(|| VerifyMacOutput::builder().mac_valid(true).build());
        Seal {
            kms: mock_client!(aws_sdk_kms, RuleMode::MatchAny, [&valid]),
            key: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
        }
    }

    async fn prior_at(written: i64, stop_at: &str) -> Prior {
        let seal = valid_seal();
        let stamp = Stamp {
            at: stop_at.into(),
            by: "budget:monthly".into(),
        };
        let sdk = aws_types::SdkConfig::builder().build();
        let clients = SdkClients::new(sdk);
        let kinds = KindSet::default();
        let at = InRegion::new(&clients, "us-east-1", &kinds).sealing(Some(&seal), Some(&stamp));
        let value = sealed(&format!("min=1 max=3 at={written}"), &[0xab, 0xcd]);
        let tags = vec![(SAVED_TAG.to_string(), value)];
        prior(
            &at,
            "arn:aws:autoscaling:us-east-1:111122223333:group/g",
            &tags,
        )
        .await
    }

    #[tokio::test]
    async fn only_this_triggers_state_from_the_day_before_the_stop_is_kept() {
        // 2026-12-05T12:00:00Z
        let stop = 1_796_472_000;
        let at = "2026-12-05T12:00:00Z";
        assert_eq!(seconds(at), Some(stop));
        assert_eq!(prior_at(stop, at).await, Prior::Keep, "the same second");
        assert_eq!(
            prior_at(stop - 3_600, at).await,
            Prior::Keep,
            "an hour before"
        );
        assert_eq!(
            prior_at(stop - 86_400, at).await,
            Prior::Keep,
            "a day before"
        );
        let earlier = Prior::Replace("sealed by an earlier stop, not this alert's".into());
        assert_eq!(
            prior_at(stop - 86_401, at).await,
            earlier,
            "more than a day before"
        );
        assert_eq!(
            prior_at(stop - 30 * 86_400, at).await,
            earlier,
            "a month before"
        );
        assert_eq!(prior_at(stop + 60, at).await, earlier, "after the stop");
    }

    #[test]
    fn without_saved_drops_only_the_saved_state() {
        let tags: Tags = vec![
            ("Name".into(), "web".into()),
            (SAVED_TAG.into(), "min=1".into()),
            ("cost-guard".into(), "stop".into()),
        ];
        assert_eq!(
            without_saved(&tags),
            vec![
                ("Name".to_string(), "web".to_string()),
                ("cost-guard".to_string(), "stop".to_string())
            ]
        );
    }
}
