//! The launch tripwire's side of the other kinds: what the account says
//! about what a compute call made (types from a group's launch template, a
//! task's size, whether a notebook or cluster is still being made), and the
//! stop of it, through each kind's own stop so that resume can start it
//! again. Nothing here reads tags to decide: an untrusted principal chose
//! them.

use crate::aws::accounts::RegionClients;
use crate::aws::ec2;
use crate::aws::kinds::{auto_scaling_group, ecs_service, redshift_cluster, sagemaker, InRegion};
use crate::aws::seal::Seal;
use crate::domain::config::KindSet;
use crate::domain::error::AwsError;
use crate::domain::outcome::{Outcome, Stamp};
use crate::domain::tags::{STOPPED_AT_TAG, STOPPED_BY_TAG};
use crate::domain::trigger::compute::{ComputeCall, Created};
use crate::domain::tripwire::{ComputeFacts, Halted};

/// Reads what the event does not say.
pub(crate) async fn facts(
    clients: &dyn RegionClients,
    region: &str,
    cc: &ComputeCall,
) -> Result<ComputeFacts, AwsError> {
    let kinds = KindSet::standard();
    let at = InRegion::new(clients, region, &kinds);
    let mut facts = ComputeFacts::default();
    match cc.what {
        Created::Group => facts.types = group_types(&at, &cc.name).await?,
        Created::Service => {
            let cluster = cc.cluster.as_deref().unwrap_or("default");
            let out = at
                .ecs()
                .describe_services()
                .cluster(cluster)
                .services(&cc.name)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ecs:DescribeServices", e))?;
            if let Some(def) = out.services().first().and_then(|s| s.task_definition()) {
                facts.cpu_units = task_cpu(&at, def).await?;
            }
        }
        Created::Tasks if cc.cpu_units.is_none() => {
            facts.cpu_units = task_cpu(&at, &cc.name).await?;
        }
        Created::Notebook => {
            let out = at
                .sagemaker()
                .describe_notebook_instance()
                .notebook_instance_name(&cc.name)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("sagemaker:DescribeNotebookInstance", e))?;
            let status = out
                .notebook_instance_status()
                .map(|s| s.as_str().to_string());
            if status.as_deref() == Some("Pending") {
                facts.pending = Some(
                    "still starting (SageMaker stops a notebook only once it is in service)".into(),
                );
            }
        }
        Created::Endpoint => {
            if let Some(config) = &cc.endpoint_config {
                let out = at
                    .sagemaker()
                    .describe_endpoint_config()
                    .endpoint_config_name(config)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("sagemaker:DescribeEndpointConfig", e))?;
                facts.types = out
                    .production_variants()
                    .iter()
                    .filter_map(|v| v.instance_type().map(|t| t.as_str().to_string()))
                    .collect();
            }
        }
        Created::Redshift => {
            // The one cluster the event names, not the region's every cluster.
            let clusters = redshift_cluster::describe_clusters(&at, Some(&cc.name)).await?;
            match clusters
                .iter()
                .find(|c| c.id == cc.name)
                .map(|c| c.status.as_str())
            {
                Some("available" | "paused" | "pausing") | None => {}
                Some(status) => {
                    facts.pending = Some(format!(
                        "{status} (Redshift pauses only an available cluster)"
                    ))
                }
            }
        }
        Created::Tasks | Created::TrainingJob | Created::ProcessingJob => {}
    }
    Ok(facts)
}

/// The instance types a group launches: its overrides, else its launch
/// template's version, else its launch configuration's.
async fn group_types(at: &InRegion<'_>, name: &str) -> Result<Vec<String>, AwsError> {
    let out = at
        .autoscaling()
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("autoscaling:DescribeAutoScalingGroups", e))?;
    let Some(g) = out.auto_scaling_groups().first() else {
        return Ok(Vec::new());
    };
    let mixed = g.mixed_instances_policy().and_then(|m| m.launch_template());
    let mut types: Vec<String> = mixed
        .map(|t| t.overrides())
        .unwrap_or_default()
        .iter()
        .filter_map(|o| o.instance_type().map(str::to_string))
        .collect();
    if !types.is_empty() {
        return Ok(types);
    }
    let template = g.launch_template().cloned().or_else(|| {
        mixed
            .and_then(|t| t.launch_template_specification())
            .cloned()
    });
    if let Some(t) = template {
        let mut request = at
            .ec2()
            .describe_launch_template_versions()
            .versions(t.version().unwrap_or("$Default"));
        request = match (t.launch_template_id(), t.launch_template_name()) {
            (Some(id), _) => request.launch_template_id(id),
            (None, Some(n)) => request.launch_template_name(n),
            (None, None) => return Ok(types),
        };
        let out = request
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeLaunchTemplateVersions", e))?;
        types.extend(
            out.launch_template_versions()
                .iter()
                .filter_map(|v| v.launch_template_data()?.instance_type())
                .map(|t| t.as_str().to_string()),
        );
    } else if let Some(config) = g.launch_configuration_name() {
        let out = at
            .autoscaling()
            .describe_launch_configurations()
            .launch_configuration_names(config)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("autoscaling:DescribeLaunchConfigurations", e))?;
        types.extend(
            out.launch_configurations()
                .iter()
                .filter_map(|c| c.instance_type().map(str::to_string)),
        );
    }
    Ok(types)
}

/// A task definition's size in CPU units: the task's, else its containers'.
async fn task_cpu(at: &InRegion<'_>, definition: &str) -> Result<Option<i64>, AwsError> {
    let Some(def) = crate::aws::kinds::ecs_service::task_definition(at, definition).await? else {
        return Ok(None);
    };
    if let Some(cpu) = def.cpu().and_then(|c| c.trim().parse::<i64>().ok()) {
        return Ok(Some(cpu));
    }
    let containers: i64 = def
        .container_definitions()
        .iter()
        .map(|c| i64::from(c.cpu()))
        .sum();
    Ok((containers > 0).then_some(containers))
}

/// Stops what `cc` made, each kind its own way, and stamps what can be
/// started again. A dry run only says what it would do.
pub(crate) async fn halt(
    clients: &dyn RegionClients,
    region: &str,
    cc: &ComputeCall,
    stamp: &Stamp,
    seal: Option<&Seal>,
    dry_run: bool,
) -> Halted {
    let mut h = Halted {
        dry_run,
        ..Halted::default()
    };
    if dry_run {
        h.done.push(match cc.what {
            Created::Group => "its processes suspended and its instances stopped".into(),
            Created::Service => "set to 0 tasks, its scaling suspended".into(),
            Created::Tasks => format!("{} task(s) stopped", cc.tasks.len()),
            _ => "stopped".into(),
        });
        return h;
    }
    let kinds = KindSet::standard();
    let at = InRegion::new(clients, region, &kinds).sealing(seal, Some(stamp));
    let stamp_pairs = [
        (STOPPED_AT_TAG, stamp.at.as_str()),
        (STOPPED_BY_TAG, stamp.by.as_str()),
    ];
    let failed = |e: String| Some(e);
    match cc.what {
        Created::Group => {
            // The one group the event names, not the region's every group.
            let g = match auto_scaling_group::group(&at, &cc.name).await {
                Ok(Some(g)) => g,
                Ok(None) => {
                    h.failed = failed(format!(
                        "Auto Scaling does not list the group {}",
                        cc.shown_name()
                    ));
                    return h;
                }
                Err(e) => {
                    h.failed = failed(e.to_string());
                    return h;
                }
            };
            // A saved state the group already carries is kept only when it
            // is this very stop's, sealed by an earlier try of this event
            // (stop_group checks the seal): one its maker wrote is not, and a
            // retry keeps what the first try saved, not the suspended group
            // it finds.
            let running = g.to_stop();
            // The instances are stamped before they stop: a retry finds them
            // stopped, and resume finds them by the stamp.
            if let Err(e) = ec2::stamp(at.ec2(), &running, stamp).await {
                h.failed = failed(format!(
                    "its instances could not be stamped, so none was stopped: {e}"
                ));
                return h;
            }
            let (outcome, suspended) = auto_scaling_group::stop_group(&at, &g).await;
            if suspended {
                h.done
                    .push("its launches, replacements and terminations suspended".into());
                match auto_scaling_group::write_tags(&at, &g.name, &stamp_pairs).await {
                    Ok(()) => h.stamped = true,
                    Err(e) => h.failed = failed(format!("it could not be stamped: {e}")),
                }
            }
            match outcome {
                Outcome::Done if !running.is_empty() => h.done.push(format!(
                    "{} instance(s) stopped: {}",
                    running.len(),
                    running.join(", ")
                )),
                Outcome::Done => h.done.push("no instance was running yet".into()),
                Outcome::Failed(e) => h.failed = failed(e.to_string()),
                Outcome::Skipped(why) => h.failed = failed(why),
                Outcome::AlreadyDone => {}
            }
        }
        Created::Service => {
            let cluster = cc.cluster.as_deref().unwrap_or("default");
            let s = match ecs_service::service(&at, cluster, &cc.name).await {
                Ok(Some(s)) => s,
                Ok(None) => {
                    h.failed = failed(format!(
                        "ECS does not list the service {} in that cluster",
                        cc.shown_name()
                    ));
                    return h;
                }
                Err(e) => {
                    h.failed = failed(e.to_string());
                    return h;
                }
            };
            let s = &s;
            match ecs_service::stop_service(&at, s).await {
                Ok(()) => {
                    h.done.push(format!(
                        "set to 0 tasks, from {}{}",
                        s.desired,
                        if s.target.is_some() {
                            "; its scaling target's minimum 0 and its scaling suspended"
                        } else {
                            ""
                        }
                    ));
                    match ecs_service::tag(&at, &s.arn, &stamp_pairs).await {
                        Ok(()) => h.stamped = true,
                        Err(e) => h.failed = failed(format!("it could not be stamped: {e}")),
                    }
                }
                Err(e) => h.failed = failed(e.to_string()),
            }
        }
        Created::Tasks => {
            if cc.tasks.is_empty() {
                h.failed = failed("the event names no task that started".into());
                return h;
            }
            let cluster = cc.cluster.as_deref().unwrap_or("default");
            let mut stopped = Vec::new();
            for task in &cc.tasks {
                let r = at
                    .ecs()
                    .stop_task()
                    .cluster(cluster)
                    .task(task)
                    .reason("cost-guard: started by a principal you do not trust")
                    .send()
                    .await;
                match r {
                    Ok(_) => stopped.push(task.rsplit('/').next().unwrap_or(task).to_string()),
                    Err(e) => {
                        h.failed =
                            failed(format!("{task}: {}", AwsError::from_sdk("ecs:StopTask", e)))
                    }
                }
            }
            if !stopped.is_empty() {
                h.done.push(format!(
                    "{} task(s) stopped: {}",
                    stopped.len(),
                    stopped.join(", ")
                ));
            }
        }
        Created::Notebook => {
            // Stamped first, so that no stopped notebook is left that resume
            // cannot find.
            let arn = at
                .sagemaker()
                .describe_notebook_instance()
                .notebook_instance_name(&cc.name)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("sagemaker:DescribeNotebookInstance", e))
                .map(|o| o.notebook_instance_arn().map(str::to_string));
            let arn = match arn {
                Ok(Some(arn)) => arn,
                Ok(None) => {
                    h.failed = failed(
                        "SageMaker gave no ARN for it, so it was neither stamped nor stopped"
                            .into(),
                    );
                    return h;
                }
                Err(e) => {
                    h.failed = failed(e.to_string());
                    return h;
                }
            };
            if let Err(e) = sagemaker::add_tags(&at, &arn, &stamp_pairs).await {
                h.failed = failed(format!(
                    "it could not be stamped, so it was not stopped: {e}"
                ));
                return h;
            }
            h.stamped = true;
            match sagemaker::stop_notebook(&at, &cc.name).await {
                Outcome::Done => h.done.push("stopped (its storage volume stays)".into()),
                Outcome::AlreadyDone => h.done.push("already stopped".into()),
                Outcome::Skipped(why) => h.failed = failed(why),
                Outcome::Failed(e) => h.failed = failed(e.to_string()),
            }
        }
        Created::TrainingJob | Created::ProcessingJob => {
            let r = if cc.what == Created::TrainingJob {
                at.sagemaker()
                    .stop_training_job()
                    .training_job_name(&cc.name)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| AwsError::from_sdk("sagemaker:StopTrainingJob", e))
            } else {
                at.sagemaker()
                    .stop_processing_job()
                    .processing_job_name(&cc.name)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| AwsError::from_sdk("sagemaker:StopProcessingJob", e))
            };
            match r {
                Ok(()) => h.done.push("stopped".into()),
                Err(e) => h.failed = failed(e.to_string()),
            }
        }
        Created::Redshift => {
            // Stamped first, as a notebook.
            if let Err(e) = redshift_cluster::tag(&at, &cc.name, &stamp_pairs).await {
                h.failed = failed(format!(
                    "it could not be stamped, so it was not paused: {e}"
                ));
                return h;
            }
            h.stamped = true;
            match redshift_cluster::pause(&at, &cc.name).await {
                Outcome::Done => h.done.push("paused (its storage and data stay)".into()),
                Outcome::AlreadyDone => h.done.push("already paused".into()),
                Outcome::Skipped(why) => h.failed = failed(why),
                Outcome::Failed(e) => h.failed = failed(e.to_string()),
            }
        }
        Created::Endpoint => h.failed = failed("a SageMaker endpoint cannot be stopped".into()),
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::accounts::SdkClients;

    fn call(what: Created, tasks: &[&str]) -> ComputeCall {
        ComputeCall {
            what,
            name: "made-by-them".into(),
            cluster: None,
            types: vec![],
            count: None,
            template_changed: false,
            tasks: tasks.iter().map(|t| t.to_string()).collect(),
            cpu_units: None,
            endpoint_config: None,
        }
    }

    /// A dry run says, for each kind, what the stop would do, and calls
    /// nothing (these clients reach no endpoint).
    #[tokio::test]
    async fn a_dry_run_says_what_each_kind_would_undergo_and_does_nothing() {
        let clients = SdkClients::new(aws_types::SdkConfig::builder().build());
        let stamp = Stamp {
            at: "2026-12-05T12:00:00Z".into(),
            by: "tripwire:untrusted-launch".into(),
        };
        for (what, tasks, says) in [
            (
                Created::Group,
                vec![],
                "its processes suspended and its instances stopped",
            ),
            (
                Created::Service,
                vec![],
                "set to 0 tasks, its scaling suspended",
            ),
            (Created::Tasks, vec!["t1", "t2"], "2 task(s) stopped"),
            (Created::Notebook, vec![], "stopped"),
            (Created::Redshift, vec![], "stopped"),
        ] {
            let h = halt(
                &clients,
                "eu-west-1",
                &call(what, &tasks),
                &stamp,
                None,
                true,
            )
            .await;
            assert_eq!(
                h,
                Halted {
                    dry_run: true,
                    done: vec![says.to_string()],
                    failed: None,
                    stamped: false,
                },
                "{what:?}"
            );
        }
    }
}
