//! Auto Scaling groups. A group has no stopped state: cost-guard suspends
//! the processes that would launch, replace or terminate its instances,
//! then stops the instances themselves, so nothing is terminated and the
//! group cannot launch anything new. Before that it saves, in the group's
//! `cost-guard:saved` tag, which of those processes it suspends (the others
//! were suspended already, by the owner, and stay so) and the group's sizes.
//! The group and each instance it stopped carry the stamp. Resume marks
//! and starts those instances, waits until they run, then resumes exactly
//! the processes it suspended.
//!
//! Sizes are saved, never restored: cost-guard never changes them, and the
//! tag is writable by anyone who may tag the group, so restoring sizes from
//! it would let such a principal grow the group through resume. Resume
//! reports sizes that changed meanwhile instead.

use crate::domain::config::SelectionConfig;
use crate::domain::inventory::{has_exempt_tag, tag, Record, Resource, ResourceKind, Tags};
use crate::domain::resume::stamp_of;
use crate::domain::select::{choose, match_tags, Choice, Match};
use crate::domain::shell::{json_object, word};
use crate::domain::tags::{SAVED_TAG, STOPPED_AT_TAG, STOPPED_BY_TAG};

use super::saved::{self, encode, list_value};
use super::{one_each, RestartLines};

/// The processes suspended to stop a group: every one that launches,
/// replaces or terminates an instance, or changes the group's size.
pub const STOP_PROCESSES: [&str; 8] = [
    "Launch",
    "Terminate",
    "HealthCheck",
    "ReplaceUnhealthy",
    "AZRebalance",
    "AlarmNotification",
    "ScheduledActions",
    "InstanceRefresh",
];

/// One instance of a group, as EC2 describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub id: String,
    /// EC2's state (`running`, `stopped`, ...), `unknown` when EC2 did not
    /// describe it.
    pub state: String,
    pub instance_type: String,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AutoScalingGroup {
    pub name: String,
    /// What the saved state's seal is bound to.
    pub arn: String,
    pub min: i32,
    pub desired: i32,
    pub max: i32,
    /// The processes suspended now.
    pub suspended: Vec<String>,
    pub members: Vec<Member>,
    pub tags: Tags,
    /// The EKS node group (`cluster/name`) whose nodes it runs, when the
    /// sweep covers node groups: then it is stopped as that node group.
    pub node_group: Option<String>,
}

/// What resume needs from a stopped group's `cost-guard:saved` tag.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedGroup {
    /// The processes cost-guard suspended, and resume resumes.
    pub ours: Vec<String>,
    pub min: i32,
    pub desired: i32,
    pub max: i32,
}

impl AutoScalingGroup {
    pub(crate) fn running(&self) -> impl Iterator<Item = &Member> {
        self.members
            .iter()
            .filter(|m| matches!(m.state.as_str(), "running" | "pending"))
    }

    /// What the stop saves: the processes it will suspend (those not
    /// suspended yet), and the sizes. When an earlier, unfinished stop
    /// already saved what the group was before cost-guard touched it (its
    /// own suspensions would otherwise read as the owner's), its sizes and
    /// its processes are kept, and every process running again since is
    /// added: whoever resumed it in between, the stop suspends every process
    /// it suspends, and resume resumes each.
    pub fn to_save(&self) -> SavedGroup {
        let running_now = |p: &str| !self.suspended.iter().any(|s| s == p);
        match self.saved() {
            Ok(earlier) => SavedGroup {
                ours: STOP_PROCESSES
                    .iter()
                    .filter(|p| earlier.ours.iter().any(|o| o == *p) || running_now(p))
                    .map(|p| p.to_string())
                    .collect(),
                ..earlier
            },
            Err(_) => SavedGroup {
                ours: STOP_PROCESSES
                    .iter()
                    .filter(|p| running_now(p))
                    .map(|p| p.to_string())
                    .collect(),
                min: self.min,
                desired: self.desired,
                max: self.max,
            },
        }
    }

    /// The saved state, or why resume cannot trust it.
    pub fn saved(&self) -> Result<SavedGroup, String> {
        let s = saved::parse(tag(&self.tags, SAVED_TAG))?;
        let ours: Vec<String> = s.list("ours")?.into_iter().map(str::to_string).collect();
        if let Some(p) = ours.iter().find(|p| !STOP_PROCESSES.contains(&p.as_str())) {
            return Err(format!(
                "its {SAVED_TAG} tag names {p}, a process cost-guard never suspends; start it by hand"
            ));
        }
        Ok(SavedGroup {
            ours,
            min: s.count("min")?,
            desired: s.count("desired")?,
            max: s.count("max")?,
        })
    }

    /// The instances the stop stops: those running now.
    pub fn to_stop(&self) -> Vec<String> {
        self.running().map(|m| m.id.clone()).collect()
    }

    /// The instances resume starts: those stopped now that carry
    /// cost-guard's stamp or a resume's marker (the stop stamps each
    /// instance it stops; resume may start only what carries the marker).
    pub fn to_start(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|m| m.state == "stopped" && stamp_of(&m.tags).is_some())
            .map(|m| m.id.clone())
            .collect()
    }

    /// Its stopped instances that still carry the stamp, not yet the
    /// marker: what resume marks before it starts them.
    pub fn to_mark(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|m| m.state == "stopped" && stamp_of(&m.tags).is_some_and(|s| !s.resuming))
            .map(|m| m.id.clone())
            .collect()
    }

    /// Sizes changed since the stop, in words, for resume's report.
    pub fn size_change(&self, saved: &SavedGroup) -> Option<String> {
        let now = (self.min, self.desired, self.max);
        let then = (saved.min, saved.desired, saved.max);
        (now != then).then(|| {
            format!(
                "Auto Scaling group {}: its sizes changed while it was stopped (min/desired/max {}/{}/{} then, {}/{}/{} now); resume left them as they are",
                self.name, then.0, then.1, then.2, now.0, now.1, now.2
            )
        })
    }
}

impl SavedGroup {
    pub fn encode(&self) -> String {
        encode(&[
            ("ours", list_value(&self.ours)),
            ("min", self.min.to_string()),
            ("desired", self.desired.to_string()),
            ("max", self.max.to_string()),
        ])
    }
}

impl Record for AutoScalingGroup {
    fn resource(&self) -> Resource {
        let mut types: Vec<&str> = self
            .members
            .iter()
            .map(|m| m.instance_type.as_str())
            .collect();
        types.sort_unstable();
        types.dedup();
        Resource {
            kind: ResourceKind::AutoScalingGroup,
            id: self.name.clone(),
            name: None,
            size: match types.is_empty() {
                true => format!("desired {}", self.desired),
                false => format!("{} x {}", self.members.len(), types.join("/")),
            },
        }
    }
    fn tags(&self) -> &Tags {
        &self.tags
    }
    /// `stopped` once cost-guard stamped it and its launches are suspended;
    /// `running` while it has or wants instances; else `empty`.
    fn state(&self) -> &str {
        if stamp_of(&self.tags).is_some() && self.suspended.iter().any(|p| p == "Launch") {
            "stopped"
        } else if self.desired > 0 || self.running().next().is_some() {
            "running"
        } else {
            "empty"
        }
    }
    fn handle(&self) -> String {
        self.name.clone()
    }
    fn startable(&self) -> Result<(), String> {
        match self.state() {
            "stopped" => self.saved().map(|_| ()),
            "running" => Err("already running: its launches are not suspended, so it was started outside resume, which leaves its stamp alone".into()),
            _ => Err("it has no instances and wants none: there is nothing to start".into()),
        }
    }
}

/// Chooses the groups to stop: by the group's own tags, never when the
/// group or one of its instances is exempt (a group stops as a whole or not
/// at all). A group stopped earlier whose instances run again (started by
/// hand, or a stop that left some running) is stopped again, not passed
/// over.
pub fn plan_groups(
    groups: &[AutoScalingGroup],
    select: &SelectionConfig,
) -> Choice<AutoScalingGroup> {
    choose(
        groups,
        select,
        |g| g.state() == "running" || (g.state() == "stopped" && g.running().next().is_some()),
        |g| {
            if let Some(owner) = &g.node_group {
                return Some(format!(
                    "it runs the nodes of EKS node group {owner}, which is stopped as a node group"
                ));
            }
            if let Some(m) = g
                .members
                .iter()
                .find(|m| has_exempt_tag(&m.tags, &select.exempt_tag_key))
            {
                return Some(format!(
                    "its instance {} is exempt (tagged {}): a group is stopped as a whole or not at all",
                    m.id, select.exempt_tag_key
                ));
            }
            // The sweep's role may stop only instances that are selected on
            // their own tags (IAM cannot read the group's).
            g.running()
                .find(|m| match_tags(&m.tags, select) != Match::Selected)
                .map(|m| format!(
                    "its instance {} does not carry the group's selection tag itself, and cost-guard may stop only instances that do: propagate the tag to the group's instances (PropagateAtLaunch)",
                    m.id
                ))
        },
    )
}

/// How the sweep treats an instance of group `name`, when it is selected on
/// its own tags: stopped with its group, or skipped with why not.
pub fn member_verdict(
    group: Option<&AutoScalingGroup>,
    name: &str,
    select: &SelectionConfig,
    groups_swept: bool,
) -> Option<String> {
    let because = "stopping it alone would only make the group launch a replacement";
    if !groups_swept {
        return Some(format!(
            "member of Auto Scaling group {name}: {because}; add auto-scaling-groups to KINDS to stop such groups as a whole"
        ));
    }
    let Some(group) = group else {
        return Some(format!(
            "member of Auto Scaling group {name}, which Auto Scaling did not list: {because}"
        ));
    };
    match match_tags(&group.tags, select) {
        Match::Selected if plan_groups(std::slice::from_ref(group), select).skipped.is_empty() => None,
        Match::Selected => Some(format!("member of Auto Scaling group {name}, which is not stopped (see the group): {because}")),
        Match::Exempt => Some(format!("member of Auto Scaling group {name}, which is exempt: {because}")),
        Match::NotSelected => Some(format!("member of Auto Scaling group {name}, which the selection does not include: {because}; tag the group to stop it as a whole")),
    }
}

/// One command per group: start its instances, wait until they run, then
/// resume the processes cost-guard suspended (in the group's saved tag).
pub(crate) fn restart_lines(
    region: &str,
    stamped: &[&Resource],
    unstamped: &[&Resource],
) -> RestartLines {
    one_each(stamped, unstamped, |r| {
        let name = word(&r.id);
        let tag = |k: &str| {
            json_object(&[
                ("ResourceId", r.id.as_str().into()),
                ("ResourceType", "auto-scaling-group".into()),
                ("Key", k.into()),
            ])
        };
        let delete = word(&format!(
            "[{}]",
            [STOPPED_AT_TAG, STOPPED_BY_TAG, SAVED_TAG]
                .map(tag)
                .join(",")
        ));
        let filter = |name: &str, value: &str| {
            json_object(&[
                ("Name", name.into()),
                ("Values", serde_json::json!([value])),
            ])
        };
        let filters = word(&format!(
            "[{},{}]",
            filter("auto-scaling-group", &r.id),
            filter("key", SAVED_TAG)
        ));
        format!(
                    "ids=$(aws autoscaling describe-auto-scaling-groups --region {region} --auto-scaling-group-names {name} --query \"AutoScalingGroups[0].Instances[].InstanceId\" --output text)\n  p=$(aws autoscaling describe-tags --region {region} --filters {filters} --query \"Tags[0].Value\" --output text | sed -n 's/.*ours=\\([A-Za-z+]*\\).*/\\1/p' | sed 's/^none$//' | tr + ' ')\n  aws ec2 start-instances --region {region} --instance-ids $ids && aws ec2 wait instance-running --region {region} --instance-ids $ids && {{ [ -z \"$p\" ] || aws autoscaling resume-processes --region {region} --auto-scaling-group-name {name} --scaling-processes $p; }} && aws autoscaling delete-tags --region {region} --tags {delete}"
                )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::kinds::fixtures::{all, tagged, tags};
    use crate::domain::tags::STOPPED_AT_TAG;

    fn member(id: &str, state: &str, t: &[(&str, &str)]) -> Member {
        Member {
            id: id.into(),
            state: state.into(),
            instance_type: "c5.large".into(),
            tags: tags(t),
        }
    }

    fn group(name: &str, t: &[(&str, &str)], members: Vec<Member>) -> AutoScalingGroup {
        AutoScalingGroup {
            name: name.into(),
            arn: format!("arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:0a1b:autoScalingGroupName/{name}"),
            min: 1,
            desired: members.len() as i32,
            max: 5,
            suspended: vec![],
            members,
            tags: tags(t),
            node_group: None,
        }
    }

    #[test]
    fn a_groups_state_is_stopped_only_when_stamped_and_not_launching() {
        let stamp = [(STOPPED_AT_TAG, "2026-12-04T10:00:00Z")];
        // Stamped, but its launches run: someone started it again.
        let mut g = group("web", &stamp, vec![member("i-1", "running", &[])]);
        assert_eq!(g.state(), "running");
        assert!(g.startable().unwrap_err().starts_with("already running"));
        g.suspended = vec!["Launch".into()];
        assert_eq!(g.state(), "stopped");
        // Launches suspended but no stamp: not cost-guard's stop.
        g.tags.clear();
        assert_eq!(g.state(), "running");
        // Wanting instances, or having a running one, is running.
        let mut idle = group("idle", &[], vec![member("i-2", "stopped", &[])]);
        idle.desired = 0;
        assert_eq!(idle.state(), "empty");
        assert!(idle.startable().unwrap_err().contains("nothing to start"));
        idle.desired = 1;
        assert_eq!(idle.state(), "running");
        let busy = group("busy", &[], vec![member("i-3", "running", &[])]);
        let busy = AutoScalingGroup { desired: 0, ..busy };
        assert_eq!(busy.state(), "running");
        assert_eq!(busy.handle(), "busy");
    }

    #[test]
    fn the_stop_saves_only_the_processes_not_suspended_yet_and_reads_them_back() {
        let mut g = group("web", &[], vec![member("i-1", "running", &[])]);
        g.suspended = vec!["AZRebalance".into(), "AddToLoadBalancer".into()];
        let saved = g.to_save();
        assert!(!saved.ours.contains(&"AZRebalance".to_string()));
        assert_eq!(saved.ours.len(), STOP_PROCESSES.len() - 1);
        assert_eq!(saved.encode(), "ours=Launch+Terminate+HealthCheck+ReplaceUnhealthy+AlarmNotification+ScheduledActions+InstanceRefresh min=1 desired=1 max=5");
        // Stopped: every stop process suspended, stamped, instances stopped.
        let stamp = [(STOPPED_AT_TAG, "2026-12-04T10:00:00Z")];
        let mut stopped = group(
            "web",
            &[],
            vec![
                member("i-1", "stopped", &stamp),
                member("i-owner", "stopped", &[]),
            ],
        );
        stopped.desired = 1;
        stopped.suspended = STOP_PROCESSES.iter().map(|p| p.to_string()).collect();
        stopped.tags = tags(&[
            (SAVED_TAG, &saved.encode()),
            (STOPPED_AT_TAG, "2026-12-04T10:00:00Z"),
        ]);
        assert_eq!(stopped.state(), "stopped");
        assert_eq!(stopped.saved(), Ok(saved.clone()));
        assert_eq!(stopped.startable(), Ok(()));
        assert_eq!(stopped.to_start(), ["i-1"], "only what cost-guard stopped");
        assert_eq!(stopped.to_mark(), ["i-1"]);
        assert_eq!(stopped.size_change(&saved), None);
        stopped.max = 50;
        assert!(stopped
            .size_change(&saved)
            .unwrap()
            .contains("1/1/5 then, 1/1/50 now"));
    }

    #[test]
    fn a_retry_keeps_the_first_save_and_a_restarted_member_is_stopped_again() {
        // The first try suspended Launch and Terminate (the owner had
        // suspended the others): every process is suspended now.
        let first = "ours=Launch+Terminate min=1 desired=2 max=4";
        let mut g = group("web", &[], vec![member("i-1", "running", &[])]);
        g.suspended = STOP_PROCESSES.iter().map(|p| p.to_string()).collect();
        g.tags = tags(&[(SAVED_TAG, first)]);
        assert_eq!(
            g.to_save().encode(),
            first,
            "not ours=none from its own suspensions"
        );
        // Processes resumed since (by whoever made the group, between two of
        // the tripwire's stops of it) are suspended again and resumed by
        // resume: a saved state that names none does not make a stop that
        // suspends nothing.
        let mut resumed = g.clone();
        resumed.suspended = vec!["Launch".into(), "AZRebalance".into()];
        assert_eq!(
            resumed.to_save().encode(),
            "ours=Launch+Terminate+HealthCheck+ReplaceUnhealthy+AlarmNotification+ScheduledActions+InstanceRefresh min=1 desired=2 max=4"
        );
        let mut none = g.clone();
        none.tags = tags(&[(SAVED_TAG, "ours=none min=1 desired=2 max=4")]);
        none.suspended = Vec::new();
        assert_eq!(
            none.to_save().ours,
            STOP_PROCESSES
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
        );
        g.tags
            .push((STOPPED_AT_TAG.into(), "2026-12-04T10:00:00Z".into()));
        assert_eq!(g.state(), "stopped");
        assert_eq!(
            plan_groups(std::slice::from_ref(&g), &all()).to_stop.len(),
            1
        );
        g.members[0].state = "stopped".into();
        assert!(plan_groups(&[g], &all()).to_stop.is_empty());
    }

    #[test]
    fn a_saved_state_naming_another_process_is_refused() {
        let mut g = group("web", &[], vec![member("i-1", "stopped", &[])]);
        g.suspended = vec!["Launch".into()];
        g.tags = tags(&[
            (
                SAVED_TAG,
                "ours=Launch+AddToLoadBalancer min=0 desired=1 max=1",
            ),
            (STOPPED_AT_TAG, "2026-12-04T10:00:00Z"),
        ]);
        assert!(g
            .startable()
            .unwrap_err()
            .contains("AddToLoadBalancer, a process cost-guard never suspends"));
        g.tags.retain(|(k, _)| k != SAVED_TAG);
        assert!(g
            .startable()
            .unwrap_err()
            .contains("no cost-guard:saved tag"));
    }

    #[test]
    fn groups_stop_as_a_whole_on_their_own_tags() {
        let sel = [("cost-guard", "stop")];
        let plan = plan_groups(
            &[
                group(
                    "web",
                    &sel,
                    vec![
                        member("i-1", "running", &sel),
                        member("i-2", "pending", &sel),
                    ],
                ),
                group(
                    "db",
                    &sel,
                    vec![member("i-3", "running", &[("Cost-Guard-Exempt", "")])],
                ),
                group(
                    "kept",
                    &[("cost-guard", "stop"), ("cost-guard-exempt", "true")],
                    vec![member("i-4", "running", &[])],
                ),
                group("other", &[], vec![member("i-5", "running", &sel)]),
                group("idle", &sel, vec![]),
                group("bare", &sel, vec![member("i-6", "running", &[])]),
            ],
            &tagged(),
        );
        let names: Vec<&str> = plan.to_stop.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["web"]);
        assert_eq!(plan.to_stop[0].to_stop(), ["i-1", "i-2"]);
        let skipped: Vec<&str> = plan
            .skipped
            .iter()
            .map(|s| s.resource.id.as_str())
            .collect();
        assert_eq!(skipped, ["db", "kept", "bare"]);
        assert!(plan.skipped[0]
            .reason
            .contains("its instance i-3 is exempt"));
        assert!(plan.skipped[2]
            .reason
            .contains("i-6 does not carry the group's selection tag"));
        assert_eq!(plan.to_stop[0].resource().size, "2 x c5.large");
    }

    #[test]
    fn a_member_goes_with_its_group_or_is_skipped_with_the_groups_reason() {
        let web = group("web", &[], vec![member("i-1", "running", &[])]);
        assert_eq!(member_verdict(Some(&web), "web", &all(), true), None);
        let reason = |g: Option<&AutoScalingGroup>, swept| {
            member_verdict(g, "web", &tagged(), swept).unwrap()
        };
        assert!(reason(Some(&web), true).contains("which the selection does not include"));
        assert!(reason(Some(&web), false).contains("add auto-scaling-groups to KINDS"));
        assert!(reason(None, true).contains("did not list"));
        let exempt = group("web", &[("cost-guard-exempt", "")], vec![]);
        assert!(member_verdict(Some(&exempt), "web", &all(), true)
            .unwrap()
            .contains("which is exempt"));
        // Selected, but the group itself is not stopped (an exempt member).
        let held = group(
            "web",
            &[],
            vec![member("i-1", "running", &[("cost-guard-exempt", "true")])],
        );
        assert!(member_verdict(Some(&held), "web", &all(), true)
            .unwrap()
            .contains("which is not stopped (see the group)"));
    }

    #[test]
    fn restart_lines_quote_the_group_name() {
        let r = Resource {
            kind: ResourceKind::AutoScalingGroup,
            id: "web;reboot".into(),
            name: None,
            size: String::new(),
        };
        let lines = restart_lines("eu-west-1", &[&r], &[]);
        let line = &lines.each[0];
        assert!(
            line.contains("--auto-scaling-group-names 'web;reboot'"),
            "{line}"
        );
        assert!(
            line.contains(
                r#"{"ResourceId":"web;reboot","ResourceType":"auto-scaling-group","Key":"cost-guard:saved"}"#
            ),
            "{line}"
        );
        assert!(!line.contains(" web;reboot"), "{line}");
        // A comma cannot add a field of its own: the shorthand is never used.
        let r = Resource {
            id: "web,Values=prod".into(),
            ..r
        };
        let line = &restart_lines("eu-west-1", &[&r], &[]).each[0];
        assert!(!line.contains("Values=web"), "{line}");
        assert!(line.contains(r#""Values":["web,Values=prod"]"#), "{line}");
    }
}
