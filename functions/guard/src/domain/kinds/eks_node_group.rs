//! EKS managed node groups, an opt-in kind (`KINDS` must name
//! `eks-node-groups`): a node group has no stopped state, and scaling it to
//! zero **terminates its nodes**; resume scales it back and EKS launches
//! new nodes from the group's launch template, so whatever lived only on a
//! node's disk is gone. The group's minimum, desired and maximum sizes are
//! saved in its `cost-guard:saved` tag before the stop; the stop sets the
//! minimum and desired size to 0 and never touches the maximum (EKS wants
//! it at least 1).
//!
//! Anyone who may tag the node group may write the saved tag, so resume
//! checks it against what it can see: the saved maximum must be the live
//! one (cost-guard never changes it), and the sizes must be in order; a
//! forged tag can at most ask for the owner's own maximum. Pure.

use crate::domain::config::SelectionConfig;
use crate::domain::inventory::{tag, Record, Resource, ResourceKind, Tags};
use crate::domain::select::{choose, Choice};
use crate::domain::shell::word;
use crate::domain::tags::{SAVED_TAG, STOPPED_AT_TAG, STOPPED_BY_TAG};

use super::saved::{self, encode};
use super::{one_each, RestartLines};

/// A node group's sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    pub min: i32,
    pub desired: i32,
    pub max: i32,
}

impl Sizes {
    pub fn encode(&self) -> String {
        encode(&[
            ("min", self.min.to_string()),
            ("desired", self.desired.to_string()),
            ("max", self.max.to_string()),
        ])
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeGroup {
    pub arn: String,
    pub cluster: String,
    pub name: String,
    /// EKS's status: `ACTIVE`, `CREATING`, `UPDATING`, `DEGRADED`, ...
    pub status: String,
    pub sizes: Sizes,
    pub instance_types: Vec<String>,
    /// `ON_DEMAND` or `SPOT`.
    pub capacity_type: String,
    /// The Auto Scaling groups EKS runs the nodes in.
    pub auto_scaling_groups: Vec<String>,
    pub tags: Tags,
}

impl NodeGroup {
    /// What the stop saves: the sizes now, unless an earlier, unfinished
    /// stop already saved what they were before.
    pub fn to_save(&self) -> Sizes {
        self.saved_as_written().unwrap_or(self.sizes)
    }

    fn saved_as_written(&self) -> Result<Sizes, String> {
        let s = saved::parse(tag(&self.tags, SAVED_TAG))?;
        Ok(Sizes {
            min: s.count("min")?,
            desired: s.count("desired")?,
            max: s.count("max")?,
        })
    }

    /// What resume restores, or why it refuses: the saved sizes, checked
    /// against the live maximum.
    pub fn saved(&self) -> Result<Sizes, String> {
        let saved = self.saved_as_written()?;
        let refuse = |why: String| Err(format!("its {SAVED_TAG} tag {why}; start it by hand"));
        if saved.max != self.sizes.max {
            return refuse(format!(
                "says the maximum size was {}, but it is {} (cost-guard never changes it)",
                saved.max, self.sizes.max
            ));
        }
        if saved.min > saved.desired || saved.desired > saved.max {
            return refuse(format!(
                "asks for {} nodes with a minimum of {} and a maximum of {}, which EKS does not allow",
                saved.desired, saved.min, saved.max
            ));
        }
        Ok(saved)
    }

    /// Whether EKS takes a size change now: not while the group is being
    /// created, updated or deleted.
    fn changeable(&self) -> bool {
        matches!(self.status.as_str(), "ACTIVE" | "DEGRADED")
    }
}

impl Record for NodeGroup {
    fn resource(&self) -> Resource {
        let spot = if self.capacity_type == "SPOT" {
            " (Spot)"
        } else {
            ""
        };
        Resource {
            kind: ResourceKind::EksNodeGroup,
            id: format!("{}/{}", self.cluster, self.name),
            name: None,
            size: format!(
                "{} node{} of {}{spot}",
                self.sizes.desired,
                if self.sizes.desired == 1 { "" } else { "s" },
                if self.instance_types.is_empty() {
                    "the launch template's type".to_string()
                } else {
                    self.instance_types.join("/")
                }
            ),
        }
    }
    fn tags(&self) -> &Tags {
        &self.tags
    }
    /// `stopped` once cost-guard stamped it at 0 nodes, or while a resume
    /// that did not finish is marked on it; `running` while it wants nodes;
    /// `stopping` when a stop saved it but was cut short before the stamp;
    /// else `empty`.
    fn state(&self) -> &str {
        saved::state_of(&self.tags, self.sizes.desired > 0)
    }
    fn handle(&self) -> String {
        self.arn.clone()
    }
    fn startable(&self) -> Result<(), String> {
        match self.state() {
            "stopped" if !self.changeable() => Err(format!(
                "it is {}: EKS changes its size only once that is done; resume it again then",
                self.status
            )),
            "stopped" => self.saved().map(|_| ()),
            "running" => Err("already running: it wants nodes again, so it was scaled outside resume, which leaves its stamp alone".into()),
            _ => Err("it wants no nodes: there is nothing to start".into()),
        }
    }
}

/// Chooses the node groups to scale to zero, by their own tags: those that
/// want nodes, and a stop cut short before its stamp. One EKS will not
/// change now (being created or updated) is listed with the reason.
pub fn plan_node_groups(groups: &[NodeGroup], select: &SelectionConfig) -> Choice<NodeGroup> {
    choose(
        groups,
        select,
        |g| matches!(g.state(), "running" | "stopping"),
        |g| {
            (!g.changeable()).then(|| {
                format!(
                    "{}: EKS changes a node group's size only when it is ACTIVE or DEGRADED; the next alert stops it",
                    g.status
                )
            })
        },
    )
}

/// The EKS node group that runs in the Auto Scaling group `name`, if one
/// of `groups` does: its nodes are stopped with it, never one by one.
pub fn owner_of<'a>(groups: &'a [NodeGroup], name: &str) -> Option<&'a NodeGroup> {
    groups
        .iter()
        .find(|g| g.auto_scaling_groups.iter().any(|a| a == name))
}

/// One command per node group: the saved sizes back, then the stamp and
/// the saved tag off.
pub(crate) fn restart_lines(
    region: &str,
    stamped: &[&Resource],
    unstamped: &[&Resource],
) -> RestartLines {
    one_each(stamped, unstamped, |r| {
        let (cluster, group) = r.id.split_once('/').unwrap_or(("", &r.id));
        let (cluster, group) = (word(cluster), word(group));
        let at = format!("--region {region} --cluster-name {cluster} --nodegroup-name {group}");
        format!(
                    "ng=$(aws eks describe-nodegroup {at} --query \"nodegroup.[nodegroupArn,scalingConfig.maxSize,tags.\\\"{SAVED_TAG}\\\"]\" --output text); max=$(echo \"$ng\" | cut -f2); size() {{ echo \" $(echo \"$ng\" | cut -f3)\" | sed -n \"s/.* $1=\\([0-9]*\\).*/\\1/p\"; }}; d=$(size desired); [ \"$d\" -le \"$max\" ] || d=$max   # the live maximum, never the tag's; the tag is read unchecked here (cost-guard resume checks its seal)\n  aws eks update-nodegroup-config {at} --scaling-config minSize=$(size min),desiredSize=$d,maxSize=$max && aws eks untag-resource --region {region} --resource-arn $(echo \"$ng\" | cut -f1) --tag-keys {STOPPED_AT_TAG} {STOPPED_BY_TAG} {SAVED_TAG}"
                )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::kinds::fixtures::{all, tagged, tags};
    use crate::domain::tags::RESUMING_TAG;

    const STAMP: (&str, &str) = (STOPPED_AT_TAG, "2026-12-04T10:00:00Z");

    fn group(name: &str, status: &str, sizes: (i32, i32, i32), t: &[(&str, &str)]) -> NodeGroup {
        NodeGroup {
            arn: format!("arn:aws:eks:us-east-1:123456789012:nodegroup/lab/{name}/0a1b"),
            cluster: "lab".into(),
            name: name.into(),
            status: status.into(),
            sizes: Sizes {
                min: sizes.0,
                desired: sizes.1,
                max: sizes.2,
            },
            instance_types: vec!["g5.xlarge".into()],
            capacity_type: "ON_DEMAND".into(),
            auto_scaling_groups: vec![format!("eks-{name}-0a1b")],
            tags: tags(t),
        }
    }

    #[test]
    fn saved_sizes_round_trip_and_a_stopped_group_is_startable() {
        let running = group("gpu", "ACTIVE", (1, 3, 5), &[]);
        let value = running.to_save().encode();
        assert_eq!(value, "min=1 desired=3 max=5");
        let stopped = group("gpu", "ACTIVE", (0, 0, 5), &[(SAVED_TAG, &value), STAMP]);
        assert_eq!(stopped.state(), "stopped");
        assert_eq!(stopped.saved(), Ok(running.sizes));
        assert_eq!(stopped.startable(), Ok(()));
        // At EKS's limits: minimum, desired and maximum all equal.
        let full = group(
            "gpu",
            "ACTIVE",
            (0, 0, 5),
            &[(SAVED_TAG, "min=5 desired=5 max=5"), STAMP],
        );
        assert_eq!(full.saved().map(|s| s.desired), Ok(5));
        assert_eq!(full.handle(), full.arn);
        let back = group("gpu", "ACTIVE", (1, 3, 5), &[STAMP]);
        assert!(
            back.startable().unwrap_err().starts_with("already running"),
            "{:?}",
            back.startable()
        );
        let r = full.resource();
        let lines = restart_lines("eu-west-1", &[&r], &[]);
        assert!(
            lines
                .each
                .concat()
                .contains("aws eks update-nodegroup-config"),
            "{lines:?}"
        );
    }

    #[test]
    fn a_forged_or_damaged_saved_state_is_refused() {
        for (value, why) in [
            (
                "min=0 desired=50 max=50",
                "maximum size was 50, but it is 5",
            ),
            ("min=4 desired=2 max=5", "which EKS does not allow"),
            ("min=0 desired=6 max=5", "which EKS does not allow"),
            ("min=0 desired=2", "has no max"),
            ("min=0 desired=two max=5", "not a count"),
            ("min=0 desired=$(x) max=5", "cannot be read"),
        ] {
            let g = group("gpu", "ACTIVE", (0, 0, 5), &[(SAVED_TAG, value), STAMP]);
            let err = g.startable().unwrap_err();
            assert!(err.contains(why), "{value}: {err}");
        }
        let bare = group("gpu", "ACTIVE", (0, 0, 5), &[STAMP]);
        assert!(bare
            .startable()
            .unwrap_err()
            .contains("has no cost-guard:saved tag"));
    }

    #[test]
    fn a_group_being_updated_is_not_resumed_yet() {
        let g = group(
            "gpu",
            "UPDATING",
            (0, 0, 5),
            &[(SAVED_TAG, "min=1 desired=3 max=5"), STAMP],
        );
        assert!(g.startable().unwrap_err().contains("it is UPDATING"));
    }

    #[test]
    fn groups_that_want_nodes_are_chosen_and_the_others_say_why() {
        let sel = [("cost-guard", "stop")];
        let plan = plan_node_groups(
            &[
                group("gpu", "ACTIVE", (1, 2, 4), &sel),
                group("sick", "DEGRADED", (1, 1, 4), &sel),
                group("new", "CREATING", (1, 2, 4), &sel),
                group("idle", "ACTIVE", (0, 0, 4), &sel),
                group(
                    "kept",
                    "ACTIVE",
                    (1, 2, 4),
                    &[("cost-guard", "stop"), ("cost-guard-exempt", "")],
                ),
                group("other", "ACTIVE", (1, 2, 4), &[]),
            ],
            &tagged(),
        );
        let ids: Vec<&str> = plan.to_stop.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(ids, ["gpu", "sick"]);
        let skipped: Vec<(&str, &str)> = plan
            .skipped
            .iter()
            .map(|s| (s.resource.id.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert_eq!(skipped[0].0, "lab/new");
        assert!(skipped[0].1.contains("CREATING: EKS changes"));
        assert_eq!(skipped[1].0, "lab/kept");
    }

    #[test]
    fn an_unfinished_stop_keeps_its_first_save_and_a_cut_short_resume_stays_resumable() {
        let first = "min=1 desired=3 max=5";
        let cut_short = group("gpu", "ACTIVE", (0, 0, 5), &[(SAVED_TAG, first)]);
        assert_eq!(cut_short.state(), "stopping");
        assert_eq!(cut_short.to_save().encode(), first);
        assert_eq!(plan_node_groups(&[cut_short], &all()).to_stop.len(), 1);
        let half = group(
            "gpu",
            "ACTIVE",
            (1, 3, 5),
            &[(SAVED_TAG, first), (RESUMING_TAG, "2026-12-04T10:00:00Z x")],
        );
        assert_eq!(half.state(), "stopped");
        assert_eq!(half.startable(), Ok(()));
    }

    #[test]
    fn the_report_names_nodes_type_and_spot() {
        let mut g = group("gpu", "ACTIVE", (0, 1, 2), &[]);
        assert_eq!(g.resource().size, "1 node of g5.xlarge");
        g.capacity_type = "SPOT".into();
        g.instance_types = vec![];
        g.sizes.desired = 2;
        assert_eq!(
            g.resource().size,
            "2 nodes of the launch template's type (Spot)"
        );
        assert_eq!(g.resource().id, "lab/gpu");
    }

    #[test]
    fn the_auto_scaling_group_of_a_node_group_is_found() {
        let groups = [group("gpu", "ACTIVE", (0, 1, 2), &[])];
        assert_eq!(
            owner_of(&groups, "eks-gpu-0a1b").map(|g| g.name.as_str()),
            Some("gpu")
        );
        assert!(owner_of(&groups, "eks-gpu").is_none());
    }
}
