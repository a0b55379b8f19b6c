//! EC2 instances: stopped in batches, never when exempt, in an Auto
//! Scaling group, on an instance-store root device or of a one-time spot
//! request (none of those can be stopped and started again as it was).

use std::collections::HashSet;

use crate::domain::config::SelectionConfig;
use crate::domain::inventory::{tag, Record, Resource, ResourceKind, Tags};
use crate::domain::select::{exempt_reason_of, match_tags, Match, Skipped};
use crate::domain::tags::{ASG_TAG, STOPPED_AT_TAG, STOPPED_BY_TAG};

use super::RestartLines;

#[derive(Debug, Clone, PartialEq)]
pub struct Ec2Instance {
    pub id: String,
    pub instance_type: String,
    /// `running`, `pending`, ...
    pub state: String,
    /// `ebs` or `instance-store`.
    pub root_device_type: Option<String>,
    /// Set for spot instances.
    pub spot_request_id: Option<String>,
    pub tags: Tags,
}

impl Ec2Instance {
    pub fn name(&self) -> Option<&str> {
        tag(&self.tags, "Name")
    }
}

impl From<&Ec2Instance> for Resource {
    fn from(i: &Ec2Instance) -> Self {
        Resource {
            kind: ResourceKind::Ec2Instance,
            id: i.id.clone(),
            name: i.name().map(str::to_string),
            size: i.instance_type.clone(),
        }
    }
}

impl Record for Ec2Instance {
    fn resource(&self) -> Resource {
        Resource::from(self)
    }
    fn tags(&self) -> &Tags {
        &self.tags
    }
    fn state(&self) -> &str {
        &self.state
    }
    fn handle(&self) -> String {
        self.id.clone()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ec2Plan {
    pub to_stop: Vec<Ec2Instance>,
    pub skipped: Vec<Skipped>,
}

/// Chooses the EC2 instances to stop. `one_time_spot` holds the spot request ids
/// that are one-time requests (their instances cannot be stopped).
/// `member` says, for the name of an instance's Auto Scaling group, why the
/// instance is skipped, or `None` when it is stopped with its group (and so
/// not here).
pub fn plan_ec2(
    instances: &[Ec2Instance],
    select: &SelectionConfig,
    one_time_spot: &HashSet<String>,
    member: &dyn Fn(&str) -> Option<String>,
) -> Ec2Plan {
    let mut plan = Ec2Plan::default();
    for i in instances {
        if !matches!(i.state.as_str(), "running" | "pending") {
            continue;
        }
        let skip = |reason: String| Skipped {
            resource: Resource::from(i),
            reason,
        };
        match match_tags(&i.tags, select) {
            Match::NotSelected => continue,
            Match::Exempt => plan.skipped.push(skip(exempt_reason_of(select))),
            Match::Selected => {
                if let Some(group) = tag(&i.tags, ASG_TAG) {
                    if let Some(reason) = member(group) {
                        plan.skipped.push(skip(reason));
                    }
                } else if i.root_device_type.as_deref() == Some("instance-store") {
                    plan.skipped.push(skip(
                        "instance-store root device: such instances cannot be stopped, only terminated".into(),
                    ));
                } else if i
                    .spot_request_id
                    .as_ref()
                    .is_some_and(|r| one_time_spot.contains(r))
                {
                    plan.skipped.push(skip(
                        "spot instance of a one-time request: it cannot be stopped, only terminated".into(),
                    ));
                } else {
                    plan.to_stop.push(i.clone());
                }
            }
        }
    }
    plan
}

/// One command for every stamped instance of the region (found by its
/// stamp), and one for the instances stopped without it (by id). Each takes
/// the stamp off before it starts anything, as resume does.
pub(crate) fn restart_lines(
    region: &str,
    stamped: &[&Resource],
    unstamped: &[&Resource],
    at: &str,
) -> RestartLines {
    let mut lines = RestartLines::default();
    if !stamped.is_empty() {
        lines.region_wide.push(format!(
            "ids=$(aws ec2 describe-instances --region {region} --filters \"Name=tag:{STOPPED_AT_TAG},Values={at}\" \"Name=instance-state-name,Values=stopped\" --query \"Reservations[].Instances[].InstanceId\" --output text)\n  aws ec2 delete-tags --region {region} --resources $ids --tags Key={STOPPED_AT_TAG} Key={STOPPED_BY_TAG} && aws ec2 start-instances --region {region} --instance-ids $ids"
        ));
    }
    // Without the stamp the filter above cannot find them: by id.
    if !unstamped.is_empty() {
        let ids: Vec<&str> = unstamped.iter().map(|r| r.id.as_str()).collect();
        lines.region_wide.push(format!(
            "aws ec2 start-instances --region {region} --instance-ids {}",
            ids.join(" ")
        ));
    }
    lines
}

/// What a running (or starting) instance is billed for: one instance hour
/// of its type, operating system and tenancy; at the spot price when it is
/// a spot instance.
pub fn charged(
    i: &Ec2Instance,
    os: crate::domain::burn::usage::Os,
    tenancy: crate::domain::burn::usage::Tenancy,
    region: &str,
) -> Option<crate::domain::burn::usage::Running> {
    use crate::domain::burn::usage::{Charge, Product, Running};
    if !matches!(i.state.as_str(), "running" | "pending") || i.instance_type.is_empty() {
        return None;
    }
    Some(Running {
        account: None,
        region: region.to_string(),
        resource: Resource::from(i),
        count: 1,
        charges: vec![Charge::units(
            Product::Ec2 {
                instance_type: i.instance_type.clone(),
                os,
                tenancy,
                spot: i.spot_request_id.is_some(),
            },
            1,
        )],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::kinds::fixtures::*;

    fn no_groups(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_member_stopped_with_its_group_is_left_to_the_group() {
        let fleet = vec![
            ec2("i-web", &[(ASG_TAG, "web")]),
            ec2("i-kept", &[(ASG_TAG, "kept")]),
        ];
        let member = |g: &str| (g == "kept").then(|| "group kept is exempt".to_string());
        let plan = plan_ec2(&fleet, &all(), &HashSet::new(), &member);
        assert!(plan.to_stop.is_empty());
        assert_eq!(plan.skipped.len(), 1);
        assert_eq!(plan.skipped[0].resource.id, "i-kept");
        assert_eq!(plan.skipped[0].reason, "group kept is exempt");
    }

    #[test]
    fn ec2_tagged_mode() {
        let fleet = vec![
            ec2("i-tagged", &[("cost-guard", "stop")]),
            ec2("i-untagged", &[]),
            ec2("i-other", &[("cost-guard", "keep")]),
            ec2(
                "i-exempt",
                &[("cost-guard", "stop"), ("cost-guard-exempt", "true")],
            ),
            Ec2Instance {
                state: "stopped".into(),
                ..ec2("i-stopped", &[("cost-guard", "stop")])
            },
        ];
        let plan = plan_ec2(&fleet, &tagged(), &HashSet::new(), &no_groups);
        assert_eq!(ids(&plan.to_stop), ["i-tagged"]);
        assert_eq!(plan.skipped.len(), 1);
        assert_eq!(plan.skipped[0].resource.id, "i-exempt");
        assert!(plan.skipped[0].reason.contains("exempt"));
    }

    #[test]
    fn ec2_all_except_exempt() {
        let fleet = vec![
            ec2("i-a", &[]),
            ec2("i-b", &[("x", "y")]),
            ec2("i-c", &[("cost-guard-exempt", "")]),
        ];
        let plan = plan_ec2(&fleet, &all(), &HashSet::new(), &no_groups);
        assert_eq!(ids(&plan.to_stop), ["i-a", "i-b"]);
        assert_eq!(plan.skipped[0].resource.id, "i-c");
    }

    #[test]
    fn ec2_unstoppable_kinds_are_skipped_with_reasons() {
        let t = [("cost-guard", "stop")];
        let fleet = vec![
            ec2("i-asg", &[("cost-guard", "stop"), (ASG_TAG, "web")]),
            Ec2Instance {
                root_device_type: Some("instance-store".into()),
                ..ec2("i-store", &t)
            },
            Ec2Instance {
                spot_request_id: Some("sir-once".into()),
                ..ec2("i-spot-once", &t)
            },
            Ec2Instance {
                spot_request_id: Some("sir-persistent".into()),
                ..ec2("i-spot-persistent", &t)
            },
            Ec2Instance {
                state: "pending".into(),
                ..ec2("i-pending", &t)
            },
        ];
        let once: HashSet<String> = ["sir-once".to_string()].into();
        let group_reason = |g: &str| Some(format!("member of Auto Scaling group {g}"));
        let plan = plan_ec2(&fleet, &tagged(), &once, &group_reason);
        assert_eq!(ids(&plan.to_stop), ["i-spot-persistent", "i-pending"]);
        let reasons: Vec<(&str, &str)> = plan
            .skipped
            .iter()
            .map(|s| (s.resource.id.as_str(), s.reason.as_str()))
            .collect();
        assert!(reasons[0].0 == "i-asg" && reasons[0].1.contains("Auto Scaling group web"));
        assert!(reasons[1].0 == "i-store" && reasons[1].1.contains("instance-store"));
        assert!(reasons[2].0 == "i-spot-once" && reasons[2].1.contains("one-time"));
    }
}
