//! The calls that create or grow compute other than EC2 instances, from
//! CloudTrail: Auto Scaling groups, ECS services and tasks, SageMaker
//! notebooks, jobs and endpoints, Redshift clusters. Every field comes from
//! the caller's own request (or AWS's answer to it), so a name is only ever
//! used to find the resource and, quoted, in a command. Pure.

use serde_json::Value;

use super::{excerpt, json_number, json_text};

/// The calls watched: event source and event names.
pub(crate) const COMPUTE_CALLS: &[(&str, &[&str])] = &[
    (
        "autoscaling.amazonaws.com",
        &["CreateAutoScalingGroup", "UpdateAutoScalingGroup"],
    ),
    (
        "ecs.amazonaws.com",
        &["CreateService", "UpdateService", "RunTask"],
    ),
    (
        "sagemaker.amazonaws.com",
        &[
            "CreateNotebookInstance",
            "CreateTrainingJob",
            "CreateProcessingJob",
            "CreateEndpoint",
        ],
    ),
    (
        "redshift.amazonaws.com",
        &["CreateCluster", "ResumeCluster"],
    ),
];

/// What a compute call made or grew.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Created {
    Group,
    Service,
    /// ECS tasks started outside any service.
    Tasks,
    Notebook,
    TrainingJob,
    ProcessingJob,
    Endpoint,
    Redshift,
}

impl Created {
    /// How the alert names it.
    pub fn noun(self) -> &'static str {
        match self {
            Created::Group => "Auto Scaling group",
            Created::Service => "ECS service",
            Created::Tasks => "ECS task",
            Created::Notebook => "SageMaker notebook instance",
            Created::TrainingJob => "SageMaker training job",
            Created::ProcessingJob => "SageMaker processing job",
            Created::Endpoint => "SageMaker endpoint",
            Created::Redshift => "Redshift cluster",
        }
    }

    /// Whether stopping it keeps it whole, so that resume can start it
    /// again (a task or a job can only end).
    pub fn resumable(self) -> bool {
        matches!(
            self,
            Created::Group | Created::Service | Created::Notebook | Created::Redshift
        )
    }
}

/// One compute call, as the request and the answer describe it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ComputeCall {
    pub what: Created,
    /// The group, service, notebook, job, endpoint or cluster; for tasks, the
    /// task definition.
    pub name: String,
    /// The ECS cluster (`default` when the call names none).
    pub cluster: Option<String>,
    /// Instance or node types the request names (a group's overrides, a
    /// notebook's or job's `ml.` type, a cluster's node type).
    pub types: Vec<String>,
    /// The count asked for: desired capacity, desired count, tasks, nodes.
    pub count: Option<i64>,
    /// A group's request names a launch template or configuration: what it
    /// launches may change, whatever the count.
    pub template_changed: bool,
    /// ECS: the tasks started outside any service (RunTask's answer).
    pub tasks: Vec<String>,
    /// ECS: the largest task size in CPU units (1,024 per vCPU), when the
    /// answer says it.
    pub cpu_units: Option<i64>,
    /// SageMaker: the endpoint configuration an endpoint runs.
    pub endpoint_config: Option<String>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    json_text(v.get(key)).map(|t| excerpt(&t))
}

/// A name as the caller wrote it, for finding the resource: never cleaned
/// up, so that `prod ` cannot stand for the owner's `prod`. (Reports show it
/// through [`ComputeCall::describe`], cleaned up.)
fn raw(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

fn number(v: &Value, key: &str) -> Option<i64> {
    json_number(v.get(key))
        .filter(|n| n.is_finite() && n.fract() == 0.0 && n.abs() < 1e12)
        .map(|n| n as i64)
        .or_else(|| text(v, key).and_then(|t| t.parse().ok()))
}

/// The last part of an ARN or a `family:revision` name: what APIs accept.
fn short(name: &str) -> String {
    name.rsplit('/').next().unwrap_or(name).to_string()
}

/// A compute call the tripwire watches, from its request and answer.
pub(crate) fn compute_call(
    event_source: &str,
    event_name: &str,
    request: &Value,
    response: &Value,
) -> Option<ComputeCall> {
    let (_, names) = COMPUTE_CALLS.iter().find(|(s, _)| *s == event_source)?;
    if !names.contains(&event_name) {
        return None;
    }
    let base = |what, name: Option<String>| ComputeCall {
        what,
        name: name.unwrap_or_else(|| "(unnamed)".into()),
        cluster: None,
        types: Vec::new(),
        count: None,
        template_changed: false,
        tasks: Vec::new(),
        cpu_units: None,
        endpoint_config: None,
    };
    let mut c = match event_name {
        "CreateAutoScalingGroup" | "UpdateAutoScalingGroup" => {
            let mut c = base(Created::Group, raw(request, "autoScalingGroupName"));
            c.count = number(request, "desiredCapacity").or_else(|| number(request, "maxSize"));
            c.template_changed = [
                "launchTemplate",
                "mixedInstancesPolicy",
                "launchConfigurationName",
            ]
            .iter()
            .any(|k| request.get(*k).is_some_and(|v| !v.is_null()));
            c.types = request
                .pointer("/mixedInstancesPolicy/launchTemplate/overrides")
                .and_then(Value::as_array)
                .map(|o| o.iter().filter_map(|o| text(o, "instanceType")).collect())
                .unwrap_or_default();
            c
        }
        "CreateService" | "UpdateService" => {
            let name = raw(request, "serviceName").or_else(|| raw(request, "service"));
            let mut c = base(Created::Service, name.map(|n| short(&n)));
            c.cluster = Some(
                raw(request, "cluster")
                    .map(|n| short(&n))
                    .unwrap_or_else(|| "default".into()),
            );
            c.count = number(request, "desiredCount");
            c
        }
        "RunTask" => {
            let mut c = base(Created::Tasks, raw(request, "taskDefinition"));
            c.cluster = Some(
                raw(request, "cluster")
                    .map(|n| short(&n))
                    .unwrap_or_else(|| "default".into()),
            );
            c.count = number(request, "count").or(Some(1));
            // Every task RunTask started is outside any service (a service's
            // tasks are its scheduler's); the caller may name the `group`
            // anything, so it decides nothing.
            let tasks = response.get("tasks").and_then(Value::as_array);
            for t in tasks.into_iter().flatten() {
                if let Some(arn) = raw(t, "taskArn") {
                    c.tasks.push(arn);
                }
                c.cpu_units = c.cpu_units.max(number(t, "cpu"));
            }
            c
        }
        "CreateNotebookInstance" => {
            let mut c = base(Created::Notebook, raw(request, "notebookInstanceName"));
            c.types.extend(text(request, "instanceType"));
            c.count = Some(1);
            c
        }
        "CreateTrainingJob" => {
            let mut c = base(Created::TrainingJob, raw(request, "trainingJobName"));
            let config = request.get("resourceConfig").unwrap_or(&Value::Null);
            c.types.extend(text(config, "instanceType"));
            c.count = number(config, "instanceCount");
            c
        }
        "CreateProcessingJob" => {
            let mut c = base(Created::ProcessingJob, raw(request, "processingJobName"));
            let config = request
                .pointer("/processingResources/clusterConfig")
                .unwrap_or(&Value::Null);
            c.types.extend(text(config, "instanceType"));
            c.count = number(config, "instanceCount");
            c
        }
        "CreateEndpoint" => {
            let mut c = base(Created::Endpoint, raw(request, "endpointName"));
            c.endpoint_config = raw(request, "endpointConfigName");
            c
        }
        _ => {
            let mut c = base(Created::Redshift, raw(request, "clusterIdentifier"));
            c.types.extend(text(request, "nodeType"));
            c.count = number(request, "numberOfNodes");
            c
        }
    };
    c.types.sort();
    c.types.dedup();
    Some(c)
}

impl ComputeCall {
    /// `Auto Scaling group miners (desired 20, c5.24xlarge)`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(n) = self.count {
            parts.push(match self.what {
                Created::Group => format!("desired {n}"),
                Created::Service => format!("desired count {n}"),
                Created::Tasks => format!("{n} of it"),
                Created::Redshift => format!("{n} nodes"),
                _ => format!("{n} instance{}", if n == 1 { "" } else { "s" }),
            });
        }
        if !self.types.is_empty() {
            parts.push(self.types.join(", "));
        }
        if let Some(cpu) = self.cpu_units {
            parts.push(format!("{} vCPU per task", cpu as f64 / 1024.0));
        }
        let place = match &self.cluster {
            Some(cluster) => format!(" in cluster {}", excerpt(cluster)),
            None => String::new(),
        };
        let name = self.shown_name();
        if parts.is_empty() {
            format!("{} {name}{place}", self.what.noun())
        } else {
            format!("{} {name}{place} ({})", self.what.noun(), parts.join(", "))
        }
    }

    /// The name as reports show it: control characters and runs of spaces
    /// cleaned up, and cut short.
    pub fn shown_name(&self) -> String {
        excerpt(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_are_whole_numbers_of_a_sane_size() {
        let n = |v: Value| number(&json!({ "n": v }), "n");
        assert_eq!(n(json!(3)), Some(3));
        assert_eq!(n(json!(5.0)), Some(5));
        assert_eq!(n(json!(-4)), Some(-4));
        assert_eq!(n(json!("7")), Some(7));
        assert_eq!(n(json!(2.5)), None);
        assert_eq!(n(json!(1e12)), None);
        assert_eq!(n(json!(1e300)), None);
        assert_eq!(n(json!("many")), None);
    }

    #[test]
    fn what_can_be_started_again_and_how_counts_read() {
        use Created::*;
        for (what, resumable) in [
            (Group, true),
            (Service, true),
            (Notebook, true),
            (Redshift, true),
            (Tasks, false),
            (TrainingJob, false),
            (ProcessingJob, false),
            (Endpoint, false),
        ] {
            assert_eq!(what.resumable(), resumable, "{what:?}");
        }
        let call = |what: Created| ComputeCall {
            what,
            name: "x".into(),
            cluster: None,
            types: Vec::new(),
            count: Some(3),
            template_changed: false,
            tasks: Vec::new(),
            cpu_units: None,
            endpoint_config: None,
        };
        assert!(
            call(Tasks).describe().contains("3 of it"),
            "{}",
            call(Tasks).describe()
        );
        assert!(
            call(Redshift).describe().contains("3 nodes"),
            "{}",
            call(Redshift).describe()
        );
        assert!(
            call(Notebook).describe().contains("3 instances"),
            "{}",
            call(Notebook).describe()
        );
    }

    #[test]
    fn each_call_is_read_from_its_request_and_answer() {
        let group = compute_call(
            "autoscaling.amazonaws.com",
            "CreateAutoScalingGroup",
            &json!({"autoScalingGroupName": "miners", "maxSize": 40, "desiredCapacity": 20,
                    "mixedInstancesPolicy": {"launchTemplate": {"overrides": [{"instanceType": "p3.2xlarge"}, {"instanceType": "g5.xlarge"}]}}}),
            &Value::Null,
        )
        .unwrap();
        assert_eq!(
            group.describe(),
            "Auto Scaling group miners (desired 20, g5.xlarge, p3.2xlarge)"
        );
        let service = compute_call(
            "ecs.amazonaws.com",
            "CreateService",
            &json!({"cluster": "arn:aws:ecs:eu-west-1:123456789012:cluster/prod", "serviceName": "xmr", "desiredCount": 50}),
            &Value::Null,
        )
        .unwrap();
        assert_eq!(
            service.describe(),
            "ECS service xmr in cluster prod (desired count 50)"
        );
        let tasks = compute_call(
            "ecs.amazonaws.com",
            "RunTask",
            &json!({"taskDefinition": "xmr:3", "count": 2}),
            &json!({"tasks": [
                {"taskArn": "arn:aws:ecs:eu-west-1:123456789012:task/default/a1", "cpu": "8192", "group": "family:xmr"},
                {"taskArn": "arn:aws:ecs:eu-west-1:123456789012:task/default/a2", "cpu": "4096", "group": "family:xmr"},
                {"taskArn": "arn:aws:ecs:eu-west-1:123456789012:task/default/s1", "cpu": "256", "group": "service:web"}
            ]}),
        )
        .unwrap();
        assert_eq!(tasks.tasks.len(), 3, "the caller's `group` decides nothing");
        assert_eq!(tasks.cpu_units, Some(8192));
        assert_eq!(tasks.cluster.as_deref(), Some("default"));
        let job = compute_call(
            "sagemaker.amazonaws.com",
            "CreateProcessingJob",
            &json!({"processingJobName": "etl", "processingResources": {"clusterConfig": {"instanceType": "ml.p4d.24xlarge", "instanceCount": 2}}}),
            &Value::Null,
        )
        .unwrap();
        assert_eq!(
            job.describe(),
            "SageMaker processing job etl (2 instances, ml.p4d.24xlarge)"
        );
        assert!(compute_call(
            "ecs.amazonaws.com",
            "DeleteService",
            &json!({}),
            &Value::Null
        )
        .is_none());
        // A name is kept as written: `prod ` is not the owner's `prod`.
        let spaced = compute_call(
            "autoscaling.amazonaws.com",
            "UpdateAutoScalingGroup",
            &json!({"autoScalingGroupName": "prod\t ", "launchTemplate": {"launchTemplateName": "gpu"}}),
            &Value::Null,
        )
        .unwrap();
        assert_eq!(spaced.name, "prod\t ");
        assert_eq!(spaced.shown_name(), "prod");
        assert!(spaced.template_changed);
        assert!(compute_call(
            "s3.amazonaws.com",
            "CreateService",
            &json!({}),
            &Value::Null
        )
        .is_none());
    }
}
