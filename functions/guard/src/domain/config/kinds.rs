//! `KINDS`: which kinds of resource a sweep stops.

use super::ConfigError;
use crate::domain::inventory::ResourceKind;

/// The kinds a sweep covers, in report order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindSet(Vec<ResourceKind>);

const EXPECTED: &str = "`all` (every kind but the opt-in eks-node-groups) or a comma list of: all, ec2-instances, auto-scaling-groups, rds-instances, rds-clusters, ecs-services, sagemaker-notebooks, sagemaker-endpoints, redshift-clusters, eks-node-groups";

impl KindSet {
    /// Every kind cost-guard knows, the opt-in ones too: what resume
    /// covers, as it starts whatever it finds stamped.
    pub fn every() -> KindSet {
        KindSet(ResourceKind::ALL.to_vec())
    }

    /// Every kind a sweep covers unless told otherwise: all but the opt-in
    /// ones (EKS node groups).
    pub fn standard() -> KindSet {
        KindSet(
            ResourceKind::ALL
                .into_iter()
                .filter(|k| !k.opt_in())
                .collect(),
        )
    }

    /// Exactly these kinds (tests and the command line).
    pub fn of(kinds: &[ResourceKind]) -> KindSet {
        let mut v = kinds.to_vec();
        v.sort();
        v.dedup();
        KindSet(v)
    }

    pub fn contains(&self, kind: ResourceKind) -> bool {
        self.0.contains(&kind)
    }

    pub fn iter(&self) -> impl Iterator<Item = ResourceKind> + '_ {
        self.0.iter().copied()
    }
}

impl Default for KindSet {
    /// What an unset `KINDS` means: every kind but the opt-in ones.
    fn default() -> Self {
        KindSet::standard()
    }
}

/// Reads `KINDS`: unset, empty or `all` for every kind but the opt-in ones,
/// else a comma list of kind names, where `all` stands for those (so
/// `all,eks-node-groups` is every kind). An unknown name is an error, never
/// ignored: a misspelt kind would silently leave its resources running.
pub fn kinds_from(value: Option<String>) -> Result<KindSet, ConfigError> {
    let raw = value.unwrap_or_default();
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(KindSet::standard());
    }
    let mut kinds = Vec::new();
    for part in trimmed.split(',').map(str::trim) {
        if part.eq_ignore_ascii_case("all") {
            kinds.extend(KindSet::standard().0);
            continue;
        }
        match ResourceKind::from_name(part) {
            Some(kind) => kinds.push(kind),
            None => {
                return Err(ConfigError::Invalid {
                    name: "KINDS",
                    value: raw.clone(),
                    expected: EXPECTED,
                })
            }
        }
    }
    Ok(KindSet::of(&kinds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_and_all_mean_every_kind_but_eks_node_groups() {
        for v in [None, Some(""), Some(" all "), Some("ALL")] {
            let set = kinds_from(v.map(str::to_string)).unwrap();
            assert_eq!(set, KindSet::standard());
            assert!(!set.contains(ResourceKind::EksNodeGroup), "{v:?}");
            assert!(set.contains(ResourceKind::RedshiftCluster), "{v:?}");
        }
        assert_eq!(
            KindSet::standard().iter().count(),
            ResourceKind::ALL.len() - 1
        );
    }

    #[test]
    fn eks_node_groups_are_covered_only_when_named() {
        let set = kinds_from(Some("all,eks-node-groups".into())).unwrap();
        assert_eq!(set, KindSet::every());
        let set = kinds_from(Some("eks-node-groups".into())).unwrap();
        assert_eq!(set.iter().collect::<Vec<_>>(), [ResourceKind::EksNodeGroup]);
    }

    #[test]
    fn a_list_is_read_in_report_order_without_repeats() {
        let set = kinds_from(Some(
            "sagemaker-notebooks, ec2-instances,ec2-instances".into(),
        ))
        .unwrap();
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [ResourceKind::Ec2Instance, ResourceKind::SageMakerNotebook]
        );
        assert!(!set.contains(ResourceKind::AutoScalingGroup));
    }

    #[test]
    fn every_name_reads_back_and_unknown_ones_are_refused() {
        for kind in ResourceKind::ALL {
            assert_eq!(
                kinds_from(Some(kind.name().into())).unwrap(),
                KindSet::of(&[kind])
            );
        }
        for bad in [
            "ec2",
            "ec2-instances,",
            "ec2-instances;rds-instances",
            "Ec2-Instances",
        ] {
            let err = kinds_from(Some(bad.into())).unwrap_err().to_string();
            assert!(err.starts_with("KINDS="), "{err}");
            assert!(err.contains("auto-scaling-groups"), "{err}");
        }
    }
}
