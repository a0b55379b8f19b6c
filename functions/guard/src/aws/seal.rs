//! The seal on what cost-guard saves before a stop (see
//! [`saved`](crate::domain::kinds::saved)): an HMAC made and checked by KMS
//! with the stack's `SavedStateKey`, which only the guard's own roles may
//! use. KMS is called in the guard's own account and region, whichever
//! account the resource is in.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::MacAlgorithmSpec;

use crate::domain::error::AwsError;
use crate::domain::inventory::{tag, Tags};
use crate::domain::kinds::saved::{seal_message, sealed, unseal};
use crate::domain::tags::SAVED_TAG;

/// The guard's HMAC key (`SAVED_STATE_KEY_ARN`).
#[derive(Clone, Debug)]
pub struct Seal {
    kms: aws_sdk_kms::Client,
    key: String,
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

    /// `value` sealed for the resource `arn`.
    async fn seal(&self, arn: &str, value: &str) -> Result<String, AwsError> {
        let out = self
            .kms
            .generate_mac()
            .key_id(&self.key)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(seal_message(arn, value)))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("kms:GenerateMac", e))?;
        let mac = out.mac().map(|m| m.as_ref().to_vec()).unwrap_or_default();
        Ok(sealed(value, &mac))
    }

    async fn verify(&self, arn: &str, value: &str, mac: Vec<u8>) -> Result<(), String> {
        let out = self
            .kms
            .verify_mac()
            .key_id(&self.key)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(seal_message(arn, value)))
            .mac(Blob::new(mac))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("kms:VerifyMac", e));
        match out {
            Ok(out) if out.mac_valid() => Ok(()),
            Err(e) if e.code != "KMSInvalidMacException" => Err(format!(
                "the seal of its {SAVED_TAG} tag could not be checked ({e}); run resume again"
            )),
            _ => Err(format!(
                "the seal of its {SAVED_TAG} tag does not match: the tag was changed after cost-guard wrote it, or copied from another resource; start it by hand"
            )),
        }
    }
}

/// The saved-state tag value to write for `arn`: sealed when the key is
/// known.
pub(crate) async fn to_write(
    seal: Option<&Seal>,
    arn: &str,
    value: &str,
) -> Result<String, AwsError> {
    match seal {
        Some(seal) => seal.seal(arn, value).await,
        None => Ok(value.to_string()),
    }
}

/// Whether resume may read the saved state in `tags` of the resource
/// `arn`: only when the guard's key opens its seal. Without a saved tag
/// there is nothing to open, and the kind's own reading refuses it.
pub(crate) async fn open(seal: Option<&Seal>, arn: &str, tags: &Tags) -> Result<(), String> {
    let Some(value) = tag(tags, SAVED_TAG) else {
        return Ok(());
    };
    let Some(seal) = seal else {
        return Err(format!(
            "SAVED_STATE_KEY_ARN is not set, so the seal of its {SAVED_TAG} tag cannot be checked; set it to the stack's SavedStateKeyArn output, or start it by hand"
        ));
    };
    let Some((pairs, mac)) = unseal(value) else {
        return Err(format!(
            "its {SAVED_TAG} tag carries no seal of cost-guard's, so anyone allowed to tag it could have written it; start it by hand"
        ));
    };
    seal.verify(arn, pairs, mac).await
}

/// `tags` as a stop may trust them: an earlier stop's saved state (a retry)
/// is kept only when its seal opens; any other is dropped, so the stop saves
/// what the resource is now.
pub(crate) async fn trusted(seal: Option<&Seal>, arn: &str, tags: &Tags) -> Tags {
    let opens = tag(tags, SAVED_TAG).is_some() && open(seal, arn, tags).await.is_ok();
    tags.iter()
        .filter(|(k, _)| opens || k != SAVED_TAG)
        .cloned()
        .collect()
}
