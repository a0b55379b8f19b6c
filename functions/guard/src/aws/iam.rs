//! IAM: the tripwire's optional quarantine, which attaches AWS's managed policy
//! for compromised credentials to the IAM user or role behind a launch it
//! stopped. The role may attach that one policy and nothing else.

use crate::domain::error::AwsError;
use crate::domain::tripwire::{Quarantine, QuarantineTarget};

/// Attaches the quarantine policy to `target`.
pub(crate) async fn quarantine(
    client: &aws_sdk_iam::Client,
    target: &QuarantineTarget,
    policy_arn: &str,
) -> Quarantine {
    let (name, result) = match target {
        QuarantineTarget::Impossible(why) => return Quarantine::NotPossible(why.clone()),
        QuarantineTarget::User(user) => (
            format!("user/{user}"),
            client
                .attach_user_policy()
                .user_name(user)
                .policy_arn(policy_arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("iam:AttachUserPolicy", e)),
        ),
        QuarantineTarget::Role(role) => (
            format!("role/{role}"),
            client
                .attach_role_policy()
                .role_name(role)
                .policy_arn(policy_arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("iam:AttachRolePolicy", e)),
        ),
    };
    match result {
        Ok(()) => {
            tracing::warn!(principal = %name, policy = %policy_arn, "quarantined");
            Quarantine::Attached(name)
        }
        Err(e) => {
            tracing::error!(principal = %name, error = %e, "quarantine failed");
            Quarantine::Failed {
                target: name,
                error: format!("{e} ({})", e.advice()),
            }
        }
    }
}
