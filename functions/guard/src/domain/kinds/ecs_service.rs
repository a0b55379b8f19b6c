//! ECS services (Fargate and EC2). A service has no stopped state: its
//! desired count goes to 0, and where an Application Auto Scaling target
//! scales it, the target's minimum goes to 0 and its scaling is suspended
//! first (else it would raise the count again). The count, the target's
//! minimum, maximum and suspended state are saved before, in the service's
//! `cost-guard:saved` tag, and restored by resume. Tasks stop; their
//! definitions, images and volumes are not touched.
//!
//! Anyone who may tag the service may write the saved tag, so resume checks
//! it against what it can see: it never asks for more tasks than the live
//! scaling target's maximum, never changes that maximum, and never makes a
//! target that does not exist now. A service without a target has no limit
//! to check a forged count against (docs/resume.md says so).
//!
//! A stop that was cut short (a retry after a timeout) finds the saved state
//! it wrote and keeps it: what the service was before cost-guard touched it.

use crate::domain::config::SelectionConfig;
use crate::domain::inventory::{tag, Record, Resource, ResourceKind, Tags};
use crate::domain::select::{choose, Choice};
use crate::domain::shell::word;
use crate::domain::tags::{SAVED_TAG, STOPPED_AT_TAG, STOPPED_BY_TAG};

use super::saved::{self, encode, list_value};
use super::{one_each, RestartLines};

/// What Application Auto Scaling's target for a service has suspended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Suspended {
    pub scale_in: bool,
    pub scale_out: bool,
    pub scheduled: bool,
}

impl Suspended {
    pub const ALL: Suspended = Suspended {
        scale_in: true,
        scale_out: true,
        scheduled: true,
    };

    fn words(self) -> Vec<&'static str> {
        [
            (self.scale_in, "in"),
            (self.scale_out, "out"),
            (self.scheduled, "scheduled"),
        ]
        .into_iter()
        .filter_map(|(on, w)| on.then_some(w))
        .collect()
    }

    fn from_words(words: &[&str]) -> Result<Suspended, String> {
        let mut s = Suspended::default();
        for w in words {
            match *w {
                "in" => s.scale_in = true,
                "out" => s.scale_out = true,
                "scheduled" => s.scheduled = true,
                other => {
                    return Err(format!(
                        "its {SAVED_TAG} tag names a suspended scaling {other:?} that does not exist; start it by hand"
                    ))
                }
            }
        }
        Ok(s)
    }
}

/// A service's Application Auto Scaling target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScalingTarget {
    pub min: i32,
    pub max: i32,
    pub suspended: Suspended,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EcsService {
    pub arn: String,
    pub name: String,
    /// The cluster's name.
    pub cluster: String,
    pub desired: i32,
    pub running: i32,
    /// `FARGATE`, `EC2`, or the capacity provider strategy's first provider.
    pub launch_type: String,
    /// The task definition's ARN (what each task's size is read from).
    pub task_definition: Option<String>,
    pub target: Option<ScalingTarget>,
    pub tags: Tags,
}

/// What a stopped service was, for resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedService {
    pub desired: i32,
    pub target: Option<ScalingTarget>,
}

impl SavedService {
    pub fn encode(&self) -> String {
        let mut pairs = vec![("desired", self.desired.to_string())];
        if let Some(t) = self.target {
            pairs.push(("min", t.min.to_string()));
            pairs.push(("max", t.max.to_string()));
            pairs.push(("suspended", list_value(&t.suspended.words())));
        }
        encode(&pairs)
    }
}

impl EcsService {
    /// Its Application Auto Scaling resource id.
    pub fn scaling_id(&self) -> String {
        format!("service/{}/{}", self.cluster, self.name)
    }

    /// What the stop saves: what the service is now, unless an earlier,
    /// unfinished stop already saved what it was before.
    pub fn to_save(&self) -> SavedService {
        self.saved_as_written().unwrap_or(SavedService {
            desired: self.desired,
            target: self.target,
        })
    }

    /// The saved tag, read as written.
    fn saved_as_written(&self) -> Result<SavedService, String> {
        let s = saved::parse(tag(&self.tags, SAVED_TAG))?;
        let desired = s.count("desired")?;
        let target = match (s.optional_count("min")?, s.optional_count("max")?) {
            (None, None) => None,
            (Some(min), Some(max)) => Some(ScalingTarget {
                min,
                max,
                suspended: Suspended::from_words(&s.list("suspended")?)?,
            }),
            _ => {
                return Err(format!(
                    "its {SAVED_TAG} tag has a scaling minimum or maximum without the other; start it by hand"
                ))
            }
        };
        Ok(SavedService { desired, target })
    }

    /// What resume restores, or why it refuses: the saved state, checked
    /// against the live scaling target.
    pub fn saved(&self) -> Result<SavedService, String> {
        let saved = self.saved_as_written()?;
        let refuse = |why: String| Err(format!("its {SAVED_TAG} tag {why}; start it by hand"));
        match (saved.target, self.target) {
            (Some(_), None) => refuse("names a scaling target the service no longer has".into()),
            (Some(t), Some(live)) if t.max != live.max => refuse(format!(
                "says the scaling maximum was {}, but it is {} (cost-guard never changes it)",
                t.max, live.max
            )),
            (Some(t), Some(_)) if t.min > t.max || saved.desired > t.max => refuse(format!(
                "asks for {} tasks with a minimum of {} and a maximum of {}, which its scaling target does not allow",
                saved.desired, t.min, t.max
            )),
            (None, Some(live)) if saved.desired > live.max => refuse(format!(
                "asks for {} tasks, above its scaling target's maximum of {}",
                saved.desired, live.max
            )),
            _ => Ok(saved),
        }
    }
}

impl Record for EcsService {
    fn resource(&self) -> Resource {
        Resource {
            kind: ResourceKind::EcsService,
            id: format!("{}/{}", self.cluster, self.name),
            name: None,
            size: format!(
                "{} task{}, {}",
                self.desired,
                if self.desired == 1 { "" } else { "s" },
                self.launch_type
            ),
        }
    }
    fn tags(&self) -> &Tags {
        &self.tags
    }
    /// `stopped` once cost-guard stamped it at 0 tasks, or while a resume
    /// that did not finish is marked on it; `running` while it wants tasks;
    /// `stopping` when a stop saved it and set it to 0 but was cut short
    /// before the stamp; else `empty`.
    fn state(&self) -> &str {
        saved::state_of(&self.tags, self.desired > 0)
    }
    fn handle(&self) -> String {
        self.arn.clone()
    }
    fn startable(&self) -> Result<(), String> {
        match self.state() {
            "stopped" => self.saved().map(|_| ()),
            "running" => Err("already running: it wants tasks again, so it was started outside resume, which leaves its stamp alone".into()),
            _ => Err("it wants no tasks: there is nothing to start".into()),
        }
    }
}

/// Chooses the services to stop, by their own tags: those that want tasks,
/// and a stop cut short before its stamp (finished, stamped, now).
pub fn plan_services(services: &[EcsService], select: &SelectionConfig) -> Choice<EcsService> {
    choose(
        services,
        select,
        |s| matches!(s.state(), "running" | "stopping"),
        |_| None,
    )
}

/// One command per service: its saved count back, the stamp off. A scaling
/// target, if it had one, is restored by `cost-guard resume`, or by hand
/// from the tag's min=, max= and suspended=.
pub(crate) fn restart_lines(
    region: &str,
    stamped: &[&Resource],
    unstamped: &[&Resource],
) -> RestartLines {
    one_each(stamped, unstamped, |r| {
        let (cluster, service) = r.id.split_once('/').unwrap_or(("default", &r.id));
        let (cluster, service) = (word(cluster), word(service));
        format!(
                    "arn=$(aws ecs describe-services --region {region} --cluster {cluster} --services {service} --query \"services[0].serviceArn\" --output text); n=$(aws ecs list-tags-for-resource --region {region} --resource-arn $arn --query \"tags[?key=='{SAVED_TAG}'].value\" --output text | sed -n 's/.*desired=\\([0-9]*\\).*/\\1/p')\n  aws ecs update-service --region {region} --cluster {cluster} --service {service} --desired-count $n && aws ecs untag-resource --region {region} --resource-arn $arn --tag-keys {STOPPED_AT_TAG} {STOPPED_BY_TAG} {SAVED_TAG}   # a scaling target: restore the min=, max= and suspended= of that tag with aws application-autoscaling register-scalable-target"
                )
    })
}

/// A Fargate task's size, from its task definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskSize {
    /// CPU units: 1,024 are one vCPU.
    pub cpu_units: u64,
    pub memory_mib: u64,
    pub arm: bool,
}

impl EcsService {
    /// Whether its running tasks are billed by Fargate (tasks on EC2
    /// capacity are billed as those EC2 instances).
    pub fn on_fargate(&self) -> bool {
        self.running > 0 && self.launch_type.to_ascii_uppercase().starts_with("FARGATE")
    }

    /// Its running Fargate tasks' vCPU and memory hours. `None` on EC2
    /// capacity or with nothing running; with the size unknown, a line with
    /// no charge (its price is then unknown, never $0).
    pub fn charged(
        &self,
        size: Option<TaskSize>,
        region: &str,
    ) -> Option<crate::domain::burn::usage::Running> {
        use crate::domain::burn::usage::{Charge, Product, Running};
        if !self.on_fargate() {
            return None;
        }
        let tasks = u64::try_from(self.running).unwrap_or(0);
        let charges = match size {
            Some(s) => vec![
                Charge {
                    product: Product::FargateVcpu { arm: s.arm },
                    quantity: s.cpu_units.saturating_mul(tasks),
                },
                Charge {
                    product: Product::FargateGb { arm: s.arm },
                    quantity: s.memory_mib.saturating_mul(tasks),
                },
            ],
            None => Vec::new(),
        };
        let mut resource = self.resource();
        if let Some(s) = size {
            resource.size = format!(
                "{} x Fargate {} vCPU, {} GB",
                tasks,
                trimmed(s.cpu_units, 1024),
                trimmed(s.memory_mib, 1024)
            );
        }
        Some(Running {
            account: None,
            region: region.to_string(),
            resource,
            count: tasks,
            charges,
        })
    }
}

/// `n / d` with at most two decimals and no trailing zeros: `0.25`, `2`.
fn trimmed(n: u64, d: u64) -> String {
    let hundredths = (n * 100 + d / 2) / d.max(1);
    let text = format!("{}.{:02}", hundredths / 100, hundredths % 100);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::kinds::fixtures::{all, tags};

    fn service(desired: i32, target: Option<ScalingTarget>, t: &[(&str, &str)]) -> EcsService {
        EcsService {
            task_definition: None,
            arn: "arn:aws:ecs:us-east-1:123456789012:service/prod/web".into(),
            name: "web".into(),
            cluster: "prod".into(),
            desired,
            running: desired,
            launch_type: "FARGATE".into(),
            target,
            tags: tags(t),
        }
    }

    #[test]
    fn saved_state_round_trips_with_and_without_a_target() {
        let target = ScalingTarget {
            min: 1,
            max: 6,
            suspended: Suspended {
                scale_in: true,
                ..Suspended::default()
            },
        };
        for t in [None, Some(target)] {
            let running = service(3, t, &[]);
            let value = running.to_save().encode();
            let stopped = service(
                0,
                t.map(|t| ScalingTarget {
                    min: 0,
                    suspended: Suspended::ALL,
                    ..t
                }),
                &[
                    (SAVED_TAG, &value),
                    (STOPPED_AT_TAG, "2026-12-04T10:00:00Z"),
                ],
            );
            assert_eq!(stopped.state(), "stopped");
            assert_eq!(stopped.saved(), Ok(running.to_save()), "{value}");
            assert_eq!(stopped.startable(), Ok(()));
        }
        assert_eq!(
            service(3, Some(target), &[]).to_save().encode(),
            "desired=3 min=1 max=6 suspended=in"
        );
    }

    #[test]
    fn a_saved_state_at_the_targets_limits_is_restored() {
        let stamp = (STOPPED_AT_TAG, "2026-12-04T10:00:00Z");
        let live = ScalingTarget {
            min: 0,
            max: 4,
            suspended: Suspended::ALL,
        };
        // Desired, minimum and maximum all equal: allowed.
        let s = service(
            0,
            Some(live),
            &[(SAVED_TAG, "desired=4 min=4 max=4 suspended=none"), stamp],
        );
        assert_eq!(s.saved().map(|v| v.desired), Ok(4));
        // No target when saved, one now: the count up to its maximum.
        let s = service(0, Some(live), &[(SAVED_TAG, "desired=4"), stamp]);
        assert_eq!(s.saved().map(|v| v.desired), Ok(4));
        let s = service(0, Some(live), &[(SAVED_TAG, "desired=5"), stamp]);
        assert!(s
            .saved()
            .unwrap_err()
            .contains("above its scaling target's maximum of 4"));
        // What the adapter acts on and what the report shows.
        assert_eq!(s.handle(), s.arn);
        assert_eq!(s.scaling_id(), "service/prod/web");
        let r = s.resource();
        let lines = restart_lines("eu-west-1", &[&r], &[]);
        assert!(
            lines
                .each
                .concat()
                .contains("aws ecs update-service --region eu-west-1 --cluster prod --service web"),
            "{lines:?}"
        );
        let running = service(2, None, &[stamp]);
        assert!(running
            .startable()
            .unwrap_err()
            .starts_with("already running"));
    }

    #[test]
    fn a_forged_saved_state_is_refused() {
        let stamp = (STOPPED_AT_TAG, "2026-12-04T10:00:00Z");
        let live = Some(ScalingTarget {
            min: 0,
            max: 4,
            suspended: Suspended::ALL,
        });
        for (value, target, why) in [
            (
                "desired=500 min=0 max=4 suspended=none",
                live,
                "which its scaling target does not allow",
            ),
            (
                "desired=500 min=500 max=500 suspended=none",
                live,
                "the scaling maximum was 500, but it is 4",
            ),
            (
                "desired=1 min=5 max=4 suspended=none",
                live,
                "which its scaling target does not allow",
            ),
            ("desired=9", live, "above its scaling target's maximum of 4"),
            (
                "desired=1 min=1 max=2 suspended=none",
                None,
                "a scaling target the service no longer has",
            ),
            ("desired=1 min=1 suspended=none", None, "without the other"),
            (
                "desired=1 min=1 max=2 suspended=sideways",
                live,
                "does not exist",
            ),
            ("min=1 max=2 suspended=none", live, "has no desired"),
        ] {
            let s = service(0, target, &[(SAVED_TAG, value), stamp]);
            let err = s.startable().unwrap_err();
            assert!(err.contains(why), "{value}: {err}");
        }
        let bare = service(0, None, &[stamp]);
        assert!(bare
            .startable()
            .unwrap_err()
            .contains("has no cost-guard:saved tag"));
    }

    #[test]
    fn an_unfinished_stop_keeps_what_it_saved_and_is_finished() {
        let first = "desired=3 min=1 max=6 suspended=none";
        let cut_short = service(
            0,
            Some(ScalingTarget {
                min: 0,
                max: 6,
                suspended: Suspended::ALL,
            }),
            &[(SAVED_TAG, first)],
        );
        assert_eq!(cut_short.state(), "stopping");
        assert_eq!(
            cut_short.to_save().encode(),
            first,
            "the retry keeps the first save"
        );
        assert_eq!(
            plan_services(&[cut_short], &all()).to_stop.len(),
            1,
            "and stamps it now"
        );
        // A resume cut short after the count: the marker keeps it resumable.
        let half = service(
            3,
            Some(ScalingTarget {
                min: 0,
                max: 6,
                suspended: Suspended::ALL,
            }),
            &[
                (SAVED_TAG, first),
                (
                    crate::domain::tags::RESUMING_TAG,
                    "2026-12-04T10:00:00Z budget:x",
                ),
            ],
        );
        assert_eq!(half.state(), "stopped");
        assert_eq!(half.startable(), Ok(()));
    }

    #[test]
    fn only_services_that_want_tasks_are_stopped_and_exempt_ones_are_listed() {
        let mut exempt = service(2, None, &[("cost-guard-exempt", "no")]);
        exempt.name = "api".into();
        let idle = service(0, None, &[]);
        let plan = plan_services(&[service(2, None, &[]), exempt, idle], &all());
        assert_eq!(plan.to_stop.len(), 1);
        assert_eq!(plan.to_stop[0].resource().id, "prod/web");
        assert_eq!(plan.skipped.len(), 1);
        assert_eq!(plan.skipped[0].resource.id, "prod/api");
    }
}
