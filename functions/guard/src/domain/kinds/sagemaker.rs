//! SageMaker: notebook instances, which stop and start again with their
//! storage volume as it was; and real-time endpoints, which AWS cannot stop
//! (only delete, which is never cost-guard's to do), so the sweep reports
//! what each one burns and the command to delete it. Pure.

use crate::domain::config::SelectionConfig;
use crate::domain::inventory::{Record, Resource, ResourceKind, Tags};
use crate::domain::prices::hourly_usd;
use crate::domain::select::{choose, exempt_reason_of, match_tags, Choice, Match, Skipped};
use crate::domain::shell::word;
use crate::domain::tags::{STOPPED_AT_TAG, STOPPED_BY_TAG};

use super::{one_each, RestartLines};

#[derive(Debug, Clone, PartialEq)]
pub struct Notebook {
    pub name: String,
    pub arn: String,
    pub instance_type: String,
    /// SageMaker's status: `InService`, `Pending`, `Stopping`, `Stopped`, ...
    pub status: String,
    pub tags: Tags,
}

impl Record for Notebook {
    fn resource(&self) -> Resource {
        Resource {
            kind: ResourceKind::SageMakerNotebook,
            id: self.name.clone(),
            name: None,
            size: self.instance_type.clone(),
        }
    }
    fn tags(&self) -> &Tags {
        &self.tags
    }
    /// SageMaker's status in the words the sweep and resume share.
    fn state(&self) -> &str {
        match self.status.as_str() {
            "InService" => "running",
            "Pending" => "pending",
            "Stopping" => "stopping",
            "Stopped" => "stopped",
            "Deleting" => "deleting",
            "Failed" => "failed",
            "Updating" => "updating",
            _ => "unknown",
        }
    }
    fn handle(&self) -> String {
        self.arn.clone()
    }
}

/// Chooses the notebooks to stop: those in service; one still starting is
/// listed (SageMaker stops only a notebook in service).
pub fn plan_notebooks(notebooks: &[Notebook], select: &SelectionConfig) -> Choice<Notebook> {
    choose(
        notebooks,
        select,
        |n| matches!(n.state(), "running" | "pending"),
        |n| {
            (n.state() == "pending").then(|| {
                "still starting: SageMaker stops a notebook only once it is in service; the next alert or a run of the sweep stops it".to_string()
            })
        },
    )
}

pub(crate) fn notebook_restart_lines(
    region: &str,
    stamped: &[&Resource],
    unstamped: &[&Resource],
) -> RestartLines {
    one_each(stamped, unstamped, |r| {
        let name = word(&r.id);
        format!(
                    "aws sagemaker delete-tags --region {region} --resource-arn $(aws sagemaker describe-notebook-instance --region {region} --notebook-instance-name {name} --query NotebookInstanceArn --output text) --tag-keys {STOPPED_AT_TAG} {STOPPED_BY_TAG} && aws sagemaker start-notebook-instance --region {region} --notebook-instance-name {name}"
                )
    })
}

/// One production variant of an endpoint: what runs behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// Empty for a serverless variant.
    pub instance_type: String,
    pub count: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub name: String,
    pub arn: String,
    /// `InService`, `Creating`, `Updating`, `Failed`, ...
    pub status: String,
    pub variants: Vec<Variant>,
    pub tags: Tags,
}

impl Endpoint {
    /// `2 x ml.g5.xlarge, about $2.82 an hour in us-east-1`.
    pub fn burns(&self) -> String {
        let parts: Vec<String> = self
            .variants
            .iter()
            .map(|v| match v.instance_type.as_str() {
                "" => "serverless".to_string(),
                t => format!("{} x {t}", v.count),
            })
            .collect();
        let mut text = if parts.is_empty() {
            "no instances known".to_string()
        } else {
            parts.join(", ")
        };
        let prices: Option<Vec<f64>> = self
            .variants
            .iter()
            .filter(|v| !v.instance_type.is_empty())
            .map(|v| hourly_usd(&v.instance_type).map(|p| p * f64::from(v.count)))
            .collect();
        match prices {
            Some(p) if !p.is_empty() => {
                text += &format!(
                    ", about ${:.2} an hour at us-east-1 prices",
                    p.iter().sum::<f64>()
                )
            }
            _ if !self.variants.iter().all(|v| v.instance_type.is_empty()) => {
                text += ", price unknown"
            }
            _ => {}
        }
        text
    }
}

impl Record for Endpoint {
    fn resource(&self) -> Resource {
        Resource {
            kind: ResourceKind::SageMakerEndpoint,
            id: self.name.clone(),
            name: None,
            size: self
                .variants
                .iter()
                .map(|v| format!("{} x {}", v.count, v.instance_type))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
    fn tags(&self) -> &Tags {
        &self.tags
    }
    fn state(&self) -> &str {
        match self.status.as_str() {
            "InService" | "Updating" | "SystemUpdating" | "RollingBack" => "running",
            _ => "other",
        }
    }
    fn handle(&self) -> String {
        self.arn.clone()
    }
}

/// The command that deletes an endpoint (its configuration and model stay,
/// so `create-endpoint` with the same configuration brings it back).
pub fn delete_command(region: &str, name: &str) -> String {
    format!(
        "aws sagemaker delete-endpoint --region {region} --endpoint-name {}",
        word(name)
    )
}

/// Every selected endpoint in service is reported, never stopped: why, what
/// it burns, and how to delete it.
pub fn plan_endpoints(
    endpoints: &[Endpoint],
    select: &SelectionConfig,
    region: &str,
) -> Vec<Skipped> {
    let mut skipped = Vec::new();
    for e in endpoints.iter().filter(|e| e.state() == "running") {
        let reason = match match_tags(&e.tags, select) {
            Match::NotSelected => continue,
            Match::Exempt => exempt_reason_of(select),
            Match::Selected => format!(
                "STILL BILLING: a SageMaker endpoint cannot be stopped, only deleted, and cost-guard never deletes; it runs {}. Delete it yourself if nobody needs it: {} (its endpoint configuration and model stay, so aws sagemaker create-endpoint brings it back)",
                e.burns(),
                delete_command(region, &e.name)
            ),
        };
        skipped.push(Skipped {
            resource: e.resource(),
            reason,
        });
    }
    skipped
}

impl Notebook {
    /// An hour of its instance while it is in service (or about to be).
    pub fn charged(&self, region: &str) -> Option<crate::domain::burn::usage::Running> {
        use crate::domain::burn::usage::{Charge, Component, Product, Running};
        if !matches!(self.status.as_str(), "InService" | "Pending" | "Updating") {
            return None;
        }
        Some(Running {
            account: None,
            region: region.to_string(),
            resource: self.resource(),
            count: 1,
            charges: vec![Charge::units(
                Product::SageMaker {
                    instance_type: self.instance_type.clone(),
                    component: Component::Notebook,
                },
                1,
            )],
        })
    }
}

impl Endpoint {
    /// Whether SageMaker bills its instances in this status: an update
    /// runs the old fleet and the new one at once.
    pub fn billed(&self) -> bool {
        matches!(
            self.status.as_str(),
            "InService" | "Updating" | "SystemUpdating" | "RollingBack" | "UpdateRollbackFailed"
        )
    }

    /// An hour of every instance behind it while it is billed. A serverless
    /// variant is billed per request, not by the hour: it adds nothing. With
    /// no variant known (they could not be read), a line with no charge:
    /// its price is unknown, never $0.
    pub fn charged(&self, region: &str) -> Option<crate::domain::burn::usage::Running> {
        use crate::domain::burn::usage::{Charge, Component, Product, Running};
        if !self.billed() {
            return None;
        }
        if self.variants.is_empty() {
            return Some(Running {
                account: None,
                region: region.to_string(),
                resource: self.resource(),
                count: 0,
                charges: Vec::new(),
            });
        }
        let charges: Vec<Charge> = self
            .variants
            .iter()
            .filter(|v| !v.instance_type.is_empty() && v.count > 0)
            .map(|v| {
                Charge::units(
                    Product::SageMaker {
                        instance_type: v.instance_type.clone(),
                        component: Component::Hosting,
                    },
                    u64::try_from(v.count).unwrap_or(0),
                )
            })
            .collect();
        if charges.is_empty() {
            return None;
        }
        Some(Running {
            account: None,
            region: region.to_string(),
            resource: self.resource(),
            count: charges
                .iter()
                .map(|c| c.quantity / crate::domain::burn::usage::WHOLE)
                .sum(),
            charges,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::kinds::fixtures::{all, tagged, tags};

    fn notebook(name: &str, status: &str, t: &[(&str, &str)]) -> Notebook {
        Notebook {
            name: name.into(),
            arn: format!("arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/{name}"),
            instance_type: "ml.g5.xlarge".into(),
            status: status.into(),
            tags: tags(t),
        }
    }

    #[test]
    fn sagemakers_statuses_in_the_sweeps_words() {
        for (status, state) in [
            ("InService", "running"),
            ("Pending", "pending"),
            ("Stopping", "stopping"),
            ("Stopped", "stopped"),
            ("Deleting", "deleting"),
            ("Failed", "failed"),
            ("Updating", "updating"),
            ("Retired", "unknown"),
        ] {
            assert_eq!(notebook("nb", status, &[]).state(), state, "{status}");
        }
        let nb = notebook("nb", "Stopped", &[]);
        assert_eq!(nb.handle(), nb.arn);
    }

    #[test]
    fn notebooks_in_service_are_stopped_and_starting_ones_listed() {
        let plan = plan_notebooks(
            &[
                notebook("thesis", "InService", &[]),
                notebook("warming", "Pending", &[]),
                notebook("kept", "InService", &[("cost-guard-exempt", "")]),
                notebook("off", "Stopped", &[]),
            ],
            &all(),
        );
        let names: Vec<&str> = plan.to_stop.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["thesis"]);
        let skipped: Vec<(&str, bool)> = plan
            .skipped
            .iter()
            .map(|s| (s.resource.id.as_str(), s.reason.contains("still starting")))
            .collect();
        assert_eq!(skipped, [("warming", true), ("kept", false)]);
        assert!(
            plan_notebooks(&[notebook("thesis", "InService", &[])], &tagged())
                .to_stop
                .is_empty()
        );
    }

    #[test]
    fn a_stopped_notebook_is_startable_and_a_stopping_one_waits() {
        assert_eq!(notebook("a", "Stopped", &[]).startable(), Ok(()));
        assert!(notebook("a", "Stopping", &[])
            .startable()
            .unwrap_err()
            .contains("still stopping"));
    }

    #[test]
    fn a_selected_endpoint_is_reported_with_its_cost_and_the_delete_command() {
        let e = Endpoint {
            name: "llm; rm -rf".into(),
            arn: "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/llm".into(),
            status: "InService".into(),
            variants: vec![Variant {
                instance_type: "ml.g5.xlarge".into(),
                count: 2,
            }],
            tags: tags(&[]),
        };
        let skipped = plan_endpoints(std::slice::from_ref(&e), &all(), "eu-west-1");
        assert_eq!(skipped.len(), 1);
        let reason = &skipped[0].reason;
        assert!(reason.starts_with("STILL BILLING"), "{reason}");
        assert!(
            reason.contains("2 x ml.g5.xlarge, about $2.82 an hour"),
            "{reason}"
        );
        assert!(
            reason.contains(
                "aws sagemaker delete-endpoint --region eu-west-1 --endpoint-name 'llm; rm -rf'"
            ),
            "{reason}"
        );
        let unknown = Endpoint {
            variants: vec![Variant {
                instance_type: "ml.x9.huge".into(),
                count: 1,
            }],
            ..e.clone()
        };
        assert_eq!(unknown.burns(), "1 x ml.x9.huge, price unknown");
        // A serverless endpoint has no instance type: no price, no guess.
        let serverless = Endpoint {
            variants: vec![Variant {
                instance_type: String::new(),
                count: 0,
            }],
            ..e.clone()
        };
        let burns = serverless.burns();
        assert!(
            !burns.contains('$') && !burns.contains("price unknown"),
            "{burns}"
        );
        assert_eq!(e.handle(), e.arn);
        assert!(std::ptr::eq(e.tags(), &e.tags));
        let creating = Endpoint {
            status: "Creating".into(),
            ..e
        };
        assert!(plan_endpoints(&[creating], &all(), "eu-west-1").is_empty());
        let r = notebook("thesis", "Stopped", &[]).resource();
        let lines = notebook_restart_lines("eu-west-1", &[&r], &[]);
        assert!(
            lines.each.concat().contains(
                "aws sagemaker start-notebook-instance --region eu-west-1 --notebook-instance-name thesis"
            ),
            "{lines:?}"
        );
    }
}
