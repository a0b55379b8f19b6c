//! Property tests for selection: whatever the tags, states and settings, the
//! plan never picks what it must not, and the stamp never overwrites a user's tag.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;

use guard::domain::config::selection::selection_from_lookup;
use guard::domain::config::{Selection, SelectionConfig};
use guard::domain::inventory::Tags;
use guard::domain::kinds::db_cluster::DbCluster;
use guard::domain::kinds::db_instance::DbInstance;
use guard::domain::kinds::ec2_instance::plan_ec2;
use guard::domain::kinds::ec2_instance::Ec2Instance;
use guard::domain::kinds::rds::plan_rds;
use guard::domain::tags::ASG_TAG;
use guard::{STOPPED_AT_TAG, STOPPED_BY_TAG};

const KEYS: &[&str] = &[
    "cost-guard",
    "cost-guard-exempt",
    "team",
    "Name",
    "keep",
    STOPPED_AT_TAG,
    ASG_TAG,
];
const VALUES: &[&str] = &["stop", "keep", "", "Stop", "true"];

fn tags() -> impl Strategy<Value = Tags> {
    prop::collection::vec(
        (prop::sample::select(KEYS), prop::sample::select(VALUES)),
        0..5,
    )
    .prop_map(|pairs| {
        let mut seen = HashSet::new();
        pairs
            .into_iter()
            .filter(|(k, _)| seen.insert(*k))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    })
}

fn instance() -> impl Strategy<Value = Ec2Instance> {
    (
        "i-[0-9a-f]{6}",
        tags(),
        prop::sample::select(&["running", "pending", "stopping", "stopped"][..]),
        prop::option::of(prop::sample::select(&["ebs", "instance-store"][..])),
        prop::option::of(prop::sample::select(&[ONE_TIME_SPOT, "sir-persistent"][..])),
    )
        .prop_map(|(id, tags, state, root, spot)| Ec2Instance {
            id,
            instance_type: "t3.micro".into(),
            state: state.into(),
            root_device_type: root.map(str::to_string),
            spot_request_id: spot.map(str::to_string),
            tags,
        })
}

fn database() -> impl Strategy<Value = DbInstance> {
    (
        "db-[a-z]{5}",
        tags(),
        prop::sample::select(&["available", "stopped", "backing-up"][..]),
        prop::option::of(prop::sample::select(&["cluster-a", "cluster-b"][..])),
    )
        .prop_map(|(id, tags, status, cluster)| DbInstance {
            arn: format!("arn:aws:rds:eu-west-1:123456789012:db:{id}"),
            id,
            class: "db.t3.micro".into(),
            engine: "postgres".into(),
            status: status.into(),
            cluster_id: cluster.map(str::to_string),
            replica_source: None,
            replicas: vec![],
            tags,
        })
}

fn cluster() -> impl Strategy<Value = DbCluster> {
    (
        prop::sample::select(&["cluster-a", "cluster-b"][..]),
        tags(),
        prop::sample::select(&["available", "stopped", "modifying"][..]),
    )
        .prop_map(|(id, tags, status)| DbCluster {
            arn: format!("arn:aws:rds:eu-west-1:123456789012:cluster:{id}"),
            id: id.into(),
            engine: "aurora-postgresql".into(),
            engine_mode: None,
            status: status.into(),
            replication_source: None,
            tags,
        })
}

fn selection() -> impl Strategy<Value = SelectionConfig> {
    (
        prop::bool::ANY,
        prop::option::of(prop::sample::select(&["stop", "keep"][..])),
        prop::sample::select(&["cost-guard-exempt", "keep"][..]),
    )
        .prop_map(|(tagged, value, exempt)| SelectionConfig {
            selection: if tagged {
                Selection::Tagged {
                    key: "cost-guard".into(),
                    value: value.map(str::to_string),
                }
            } else {
                Selection::AllExceptExempt
            },
            exempt_tag_key: exempt.into(),
        })
}

/// The spot request the generator makes one-time (its instances cannot stop).
const ONE_TIME_SPOT: &str = "sir-once";

/// Whether `tags` carry the selection's stop tag, read from the pairs
/// themselves rather than through the library's lookup.
fn carries_stop_tag(tags: &Tags, select: &SelectionConfig) -> bool {
    match &select.selection {
        Selection::Tagged { key, value } => tags
            .iter()
            .any(|(k, v)| k == key && value.as_ref().is_none_or(|want| v == want)),
        Selection::AllExceptExempt => true,
    }
}

fn exempt(tags: &Tags, select: &SelectionConfig) -> bool {
    tags.iter().any(|(k, _)| *k == select.exempt_tag_key)
}

proptest! {
    #[test]
    fn only_selected_unexempt_running_instances_are_stopped(
        instances in prop::collection::vec(instance(), 0..30),
        select in selection(),
    ) {
        let one_time: HashSet<String> = [ONE_TIME_SPOT.to_string()].into();
        let member = |g: &str| Some(format!("member of {g}"));
        let plan = plan_ec2(&instances, &select, &one_time, &member);
        for i in &plan.to_stop {
            prop_assert!(carries_stop_tag(&i.tags, &select), "{i:?} lacks the stop tag");
            prop_assert!(!exempt(&i.tags, &select), "{i:?} is exempt");
            prop_assert!(matches!(i.state.as_str(), "running" | "pending"));
            prop_assert!(i.root_device_type.as_deref() != Some("instance-store"));
            prop_assert!(i.spot_request_id.as_deref() != Some(ONE_TIME_SPOT), "{i:?} is a one-time spot instance");
            prop_assert!(!i.tags.iter().any(|(k, _)| k == ASG_TAG), "{i:?} belongs to an Auto Scaling group");
        }
        for s in &plan.skipped {
            prop_assert!(!plan.to_stop.iter().any(|i| i.id == s.resource.id));
        }
        // Nothing selected and running is passed over in silence.
        for i in instances.iter().filter(|i| matches!(i.state.as_str(), "running" | "pending")) {
            if carries_stop_tag(&i.tags, &select) {
                let listed = plan.to_stop.iter().any(|p| p.id == i.id)
                    || plan.skipped.iter().any(|s| s.resource.id == i.id);
                prop_assert!(listed, "{i:?} is neither stopped nor skipped");
            }
        }
    }

    #[test]
    fn only_selected_unexempt_databases_are_stopped(
        dbs in prop::collection::vec(database(), 0..20),
        clusters in prop::collection::vec(cluster(), 0..3),
        select in selection(),
    ) {
        let plan = plan_rds(&dbs, &clusters, &select);
        for d in &plan.instances {
            prop_assert!(carries_stop_tag(&d.tags, &select));
            prop_assert!(!exempt(&d.tags, &select));
            prop_assert!(d.cluster_id.is_none(), "cluster members are never stopped alone");
            prop_assert_eq!(d.status.as_str(), "available");
        }
        for c in &plan.clusters {
            prop_assert!(carries_stop_tag(&c.tags, &select));
            prop_assert!(!exempt(&c.tags, &select));
            prop_assert_eq!(c.status.as_str(), "available");
            // Stopping a cluster stops every member: none may be exempt.
            let exempt_member = dbs.iter().find(|d| {
                d.cluster_id.as_deref() == Some(c.id.as_str())
                    && exempt(&d.tags, &select)
            });
            prop_assert!(exempt_member.is_none(), "{c:?} would stop exempt member {exempt_member:?}");
        }
    }

    #[test]
    fn configured_tag_keys_never_collide_with_the_stamp(
        stop_key in "[a-zA-Z:_-]{0,24}|cost-guard:stopped-at|cost-guard:stopped-by",
        exempt_key in "[a-zA-Z:_-]{0,24}|cost-guard:stopped-at|cost-guard:stopped-by",
    ) {
        let vars: HashMap<&str, String> =
            [("STOP_TAG_KEY", stop_key), ("EXEMPT_TAG_KEY", exempt_key)].into();
        if let Ok(select) = selection_from_lookup(&|name: &str| vars.get(name).cloned()) {
            let mut keys = vec![select.exempt_tag_key.clone()];
            if let Selection::Tagged { key, .. } = &select.selection {
                keys.push(key.clone());
            }
            for k in keys {
                prop_assert!(k != STOPPED_AT_TAG && k != STOPPED_BY_TAG, "{k} would be overwritten by the stamp");
            }
        }
    }
}
