//! Property tests for the kinds with a saved state: whatever a group's, a
//! service's or a node group's settings, a stop saves what resume needs, resume reads back
//! exactly that, and a stop then a resume leaves it as it began.

use std::collections::BTreeSet;

use proptest::prelude::*;

use guard::domain::inventory::{Record, Tags};
use guard::domain::kinds::auto_scaling_group::{AutoScalingGroup, Member, STOP_PROCESSES};
use guard::domain::kinds::ecs_service::{EcsService, ScalingTarget, Suspended};
use guard::domain::kinds::eks_node_group::{NodeGroup, Sizes};
use guard::STOPPED_AT_TAG;

const SAVED: &str = "cost-guard:saved";
/// Every Auto Scaling process, the ones cost-guard never touches included.
const ALL_PROCESSES: &[&str] = &[
    "Launch",
    "Terminate",
    "HealthCheck",
    "ReplaceUnhealthy",
    "AZRebalance",
    "AlarmNotification",
    "ScheduledActions",
    "InstanceRefresh",
    "AddToLoadBalancer",
];

fn stamp() -> (String, String) {
    (
        STOPPED_AT_TAG.to_string(),
        "2026-12-04T10:00:00Z".to_string(),
    )
}

fn group(suspended: Vec<String>, min: i32, desired: i32, max: i32, tags: Tags) -> AutoScalingGroup {
    AutoScalingGroup {
        name: "web".into(),
        arn: "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:0a1b:autoScalingGroupName/web".into(),
        min,
        desired,
        max,
        suspended,
        members: vec![Member {
            id: "i-0123456789abcdef0".into(),
            state: "running".into(),
            instance_type: "c5.large".into(),
            tags: Vec::new(),
        }],
        tags,
        node_group: None,
    }
}

fn sizes() -> impl Strategy<Value = (i32, i32, i32)> {
    (0..50i32, 0..50i32, 0..50i32).prop_map(|(a, b, c)| {
        let mut v = [a, b, c];
        v.sort();
        (v[0], v[1], v[2])
    })
}

proptest! {
    /// The owner's suspended processes before, the stop's suspensions, then
    /// resume's: the group ends with exactly the owner's, and resume reads
    /// back what the stop saved.
    #[test]
    fn a_group_stopped_then_resumed_has_the_owners_processes_again(
        owners in prop::sample::subsequence(ALL_PROCESSES.to_vec(), 0..=ALL_PROCESSES.len()),
        (min, desired, max) in sizes(),
    ) {
        let before: BTreeSet<String> = owners.iter().map(|p| p.to_string()).collect();
        let running = group(before.iter().cloned().collect(), min, desired, max, Vec::new());
        let saved = running.to_save();
        // The stop suspends what it saved: after it, every stop process is.
        let during: BTreeSet<String> = before.iter().cloned().chain(saved.ours.iter().cloned()).collect();
        for p in STOP_PROCESSES {
            prop_assert!(during.contains(p), "{p} left running");
        }
        let stopped = group(
            during.iter().cloned().collect(),
            min,
            desired,
            max,
            vec![(SAVED.into(), saved.encode()), stamp()],
        );
        prop_assert_eq!(stopped.state(), "stopped");
        prop_assert_eq!(stopped.saved(), Ok(saved.clone()));
        prop_assert_eq!(stopped.startable(), Ok(()));
        prop_assert_eq!(stopped.size_change(&saved), None);
        // Resume resumes exactly what the stop suspended.
        let after: BTreeSet<String> = during.difference(&saved.ours.iter().cloned().collect()).cloned().collect();
        prop_assert_eq!(after, before);
    }

    /// A service's count and scaling target: saved, read back, and
    /// restored as they were.
    #[test]
    fn a_service_stopped_then_resumed_has_its_count_and_target_again(
        (min, desired, max) in sizes(),
        with_target in any::<bool>(),
        (scale_in, scale_out, scheduled) in (any::<bool>(), any::<bool>(), any::<bool>()),
    ) {
        let target = with_target.then_some(ScalingTarget {
            min,
            max,
            suspended: Suspended { scale_in, scale_out, scheduled },
        });
        let running = EcsService {
            task_definition: None,
            arn: "arn:aws:ecs:us-east-1:123456789012:service/prod/web".into(),
            name: "web".into(),
            cluster: "prod".into(),
            desired: desired.max(1),
            running: desired,
            launch_type: "FARGATE".into(),
            target,
            tags: Vec::new(),
        };
        let saved = running.to_save();
        // The stop: count 0, the target's minimum 0 and its scaling suspended, its maximum kept.
        let stopped = EcsService {
            task_definition: None,
            desired: 0,
            target: target.map(|t| ScalingTarget { min: 0, suspended: Suspended::ALL, ..t }),
            tags: vec![(SAVED.into(), saved.encode()), stamp()],
            ..running.clone()
        };
        prop_assert_eq!(stopped.state(), "stopped");
        let restored = stopped.saved();
        if with_target && running.desired > max {
            // A count above the target's own maximum is refused, never restored.
            prop_assert!(restored.is_err());
        } else {
            prop_assert_eq!(restored, Ok(saved));
            prop_assert_eq!(saved.desired, running.desired);
            prop_assert_eq!(saved.target, running.target);
        }
    }

    /// A node group's sizes: saved, scaled to zero with the maximum kept,
    /// and read back exactly; any other saved size is refused.
    #[test]
    fn a_node_group_stopped_then_resumed_has_its_sizes_again(
        (min, desired, max) in sizes(),
        other in (0..60i32, 0..60i32, 0..60i32),
    ) {
        let max = max.max(1);
        let running = NodeGroup {
            arn: "arn:aws:eks:us-east-1:123456789012:nodegroup/lab/gpu/0a1b".into(),
            cluster: "lab".into(),
            name: "gpu".into(),
            status: "ACTIVE".into(),
            sizes: Sizes { min, desired: desired.max(1), max },
            instance_types: vec!["g5.xlarge".into()],
            capacity_type: "ON_DEMAND".into(),
            auto_scaling_groups: Vec::new(),
            tags: Vec::new(),
        };
        let saved = running.to_save();
        let stopped = NodeGroup {
            sizes: Sizes { min: 0, desired: 0, max },
            tags: vec![(SAVED.into(), saved.encode()), stamp()],
            ..running.clone()
        };
        prop_assert_eq!(stopped.state(), "stopped");
        prop_assert_eq!(stopped.saved(), Ok(running.sizes));
        // A saved state that is not a valid one for this maximum is refused.
        let forged = Sizes { min: other.0, desired: other.1, max: other.2 };
        let tampered = NodeGroup {
            tags: vec![(SAVED.into(), forged.encode()), stamp()],
            ..stopped.clone()
        };
        let valid = forged.max == max && forged.min <= forged.desired && forged.desired <= max;
        prop_assert_eq!(tampered.saved().is_ok(), valid, "{:?}", forged);
    }
}
