//! IAM: the tripwire's optional quarantine, which attaches AWS's managed policy
//! for compromised credentials to the IAM user or role behind a launch it
//! stopped (the role may attach that one policy and nothing else); and the
//! unique ids of member.yaml's roles in a member account.

use crate::domain::config::tripwire::is_role_id;
use crate::domain::error::AwsError;
use crate::domain::tags::{GUARD_ROLE_IDS_TAG, RESUME_ROLE_ID_TAG};
use crate::domain::tripwire::{GuardRoles, Quarantine, QuarantineTarget};

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

/// The guard's roles in a member account, from role `name` there (the
/// calling function's own member role, which may read itself): its own
/// unique id and the ids its tags name.
pub(crate) async fn guard_roles(
    client: &aws_sdk_iam::Client,
    name: &str,
) -> Result<GuardRoles, AwsError> {
    let out = client
        .get_role()
        .role_name(name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("iam:GetRole", e))?;
    let role = out.role().ok_or_else(|| {
        AwsError::new("iam:GetRole", "InvalidResponse", "the answer names no role")
    })?;
    let ids = |key: &str| -> Vec<String> {
        role.tags()
            .iter()
            .filter(|t| t.key() == key)
            .flat_map(|t| t.value().split_whitespace())
            .filter(|id| is_role_id(id))
            .map(str::to_string)
            .collect()
    };
    let mut others = ids(GUARD_ROLE_IDS_TAG);
    if is_role_id(role.role_id()) {
        others.push(role.role_id().to_string());
    }
    Ok(GuardRoles {
        resume: ids(RESUME_ROLE_ID_TAG),
        others,
        ..Default::default()
    })
}
