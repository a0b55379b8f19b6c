//! A local AWS for the demo, the tests and the benchmarks: starts moto's server
//! on a free loopback port, seeds fleets, reads them back, and receives what the
//! subscribers' topic sends on a loopback HTTP endpoint subscribed to it. The
//! sample events are compiled in, so the demo runs from anywhere. Nothing here
//! ever talks to a real AWS endpoint.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::BehaviorVersion;
use std::sync::{Arc, Mutex};

use aws_sdk_ec2::types::{ResourceType, Tag as Ec2Tag, TagSpecification};
use aws_sdk_rds::types::Tag as RdsTag;
use aws_types::region::Region;
use aws_types::SdkConfig;
use guard::aws::accounts::{RegionClients, SdkClients};

/// Account id moto uses.
pub const ACCOUNT: &str = "123456789012";
/// Region the subscribers' topic lives in.
pub const HOME_REGION: &str = "us-east-1";

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("moto_server not found (looked at $MOTO_SERVER, {venv} and $PATH): run scripts/setup, which installs the pinned moto[server] into .venv")]
    NotFound { venv: String },
    #[error("moto_server could not start: {0}")]
    Start(String),
    #[error("AWS call to the emulator failed: {0}")]
    Aws(String),
}

fn aws<E: std::fmt::Display>(e: E) -> EmulatorError {
    EmulatorError::Aws(e.to_string())
}

/// The workspace root (where `.venv` lives).
mod price_list;
pub use price_list::{sample_catalogue, PriceList};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Finds moto's server: `$MOTO_SERVER`, then `.venv/bin/moto_server`, then `$PATH`.
pub fn find_moto_server() -> Result<PathBuf, EmulatorError> {
    if let Some(p) = std::env::var_os("MOTO_SERVER") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
    }
    let venv = workspace_root().join(".venv/bin/moto_server");
    if venv.is_file() {
        return Ok(venv);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("moto_server");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(EmulatorError::NotFound {
        venv: venv.display().to_string(),
    })
}

/// A running moto server, stopped when dropped.
pub struct Moto {
    child: Child,
    pub port: u16,
    pub endpoint: String,
}

impl Moto {
    /// Starts moto on a free loopback port and waits until it answers.
    pub fn start() -> Result<Moto, EmulatorError> {
        let bin = find_moto_server()?;
        let mut last_err = String::new();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| EmulatorError::Start(e.to_string()))?
                .port();
            let mut child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_ALLOW_NONEXISTENT_REGION", "false")
                // AWS managed policies (the tripwire's quarantine attaches one).
                .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| EmulatorError::Start(format!("{}: {e}", bin.display())))?;
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = child.try_wait() {
                    last_err = format!("exited with {status} on port {port}");
                    break;
                }
                if http(port, "GET", "/moto-api/data.json", None).is_ok() {
                    return Ok(Moto {
                        child,
                        port,
                        endpoint: format!("http://127.0.0.1:{port}"),
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            if last_err.is_empty() {
                last_err = format!("no answer on port {port} within 30 s");
            }
        }
        Err(EmulatorError::Start(last_err))
    }

    /// SDK configuration pointing at this emulator, with fake credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        sdk_config_for(&self.endpoint).await
    }

    /// Calls moto's own API (`/moto-api/...`), e.g. to reset its state.
    pub fn api(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<String, EmulatorError> {
        http(self.port, method, path, body).map_err(|e| EmulatorError::Start(e.to_string()))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loader aimed at an emulator at `endpoint`, with fake credentials.
fn emulator_loader(endpoint: &str) -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(HOME_REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "cost-guard-emulator",
        ))
}

/// SDK configuration for an emulator at `endpoint`.
pub async fn sdk_config_for(endpoint: &str) -> SdkConfig {
    emulator_loader(endpoint)
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .load()
        .await
}

/// SDK configuration for an emulator (or a proxy in front of it) at
/// `endpoint`, with the retries, backoff and timeouts the functions use.
pub async fn lambda_sdk_config_for(endpoint: &str) -> SdkConfig {
    guard::aws::sdk::tuned(emulator_loader(endpoint))
        .load()
        .await
}

/// A minimal HTTP/1.0 client for moto's own API on loopback.
fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status_ok = response
        .split_whitespace()
        .nth(1)
        .is_some_and(|code| code.starts_with('2'));
    if !status_ok {
        return Err(std::io::Error::other(format!(
            "{method} {path}: {}",
            response.lines().next().unwrap_or("no answer")
        )));
    }
    Ok(response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default())
}

fn ec2(sdk: &SdkConfig, region: &str) -> aws_sdk_ec2::Client {
    SdkClients::new(sdk.clone()).ec2(region)
}

fn rds(sdk: &SdkConfig, region: &str) -> aws_sdk_rds::Client {
    SdkClients::new(sdk.clone()).rds(region)
}

/// Launches `count` running instances with `tags` (a `Name` tag is added,
/// numbered from `name`). Returns their ids.
pub async fn launch(
    sdk: &SdkConfig,
    region: &str,
    count: usize,
    instance_type: &str,
    name: &str,
    tags: &[(&str, &str)],
) -> Result<Vec<String>, EmulatorError> {
    let client = ec2(sdk, region);
    let mut ids = Vec::with_capacity(count);
    let mut left = count;
    while left > 0 {
        // Small fleets get one call per instance so each has its own Name;
        // large ones are launched 500 at a time and share a Name per call.
        let n = if count <= 20 { 1 } else { left.min(500) };
        let mut spec = TagSpecification::builder().resource_type(ResourceType::Instance);
        for (k, v) in tags {
            spec = spec.tags(Ec2Tag::builder().key(*k).value(*v).build());
        }
        let named = if count == 1 {
            name.to_string()
        } else {
            format!("{name}-{}", ids.len() + 1)
        };
        spec = spec.tags(Ec2Tag::builder().key("Name").value(named).build());
        let out = client
            .run_instances()
            .image_id("ami-12c6146b")
            .instance_type(instance_type.into())
            .min_count(n as i32)
            .max_count(n as i32)
            .tag_specifications(spec.build())
            .send()
            .await
            .map_err(|e| aws(aws_sdk_ec2::error::DisplayErrorContext(e)))?;
        ids.extend(
            out.instances()
                .iter()
                .filter_map(|i| i.instance_id().map(str::to_string)),
        );
        left -= n;
    }
    Ok(ids)
}

/// The name of the launch tripwire's table of untrusted principals' requests
/// in the emulator ([`marks_table`] makes it).
pub const MARKS_TABLE: &str = "cost-guard-untrusted-requests";

/// Makes the key that seals saved states as template.yaml's
/// `SavedStateKey` is made (HMAC, SHA-256), in `sdk`'s account and region;
/// returns its ARN, for `SAVED_STATE_KEY_ARN`.
pub async fn saved_state_key(sdk: &SdkConfig) -> Result<String, EmulatorError> {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    let made = aws_sdk_kms::Client::new(sdk)
        .create_key()
        .key_spec(KeySpec::Hmac256)
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .description("cost-guard: seals what a stop saves for resume")
        .send()
        .await
        .map_err(|e| aws(aws_sdk_kms::error::DisplayErrorContext(e)))?;
    made.key_metadata()
        .and_then(|k| k.arn())
        .map(str::to_string)
        .ok_or_else(|| aws("CreateKey answered without the key's ARN"))
}

/// Creates an on-demand table keyed by the string attribute `key`, as
/// template.yaml makes its tables; an existing one is kept.
async fn keyed_table(sdk: &SdkConfig, name: &str, key: &str) -> Result<(), EmulatorError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let created = aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(key)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(aws)?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(key)
                .key_type(KeyType::Hash)
                .build()
                .map_err(aws)?,
        )
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws(aws_sdk_dynamodb::error::DisplayErrorContext(e))),
    }
}

/// Creates a table keyed by a string `id`, as the template makes for
/// burn-watch's and the weekly check's memory. Returns its name.
pub async fn state_table(sdk: &SdkConfig, name: &str) -> Result<String, EmulatorError> {
    keyed_table(sdk, name, "id").await?;
    Ok(name.to_string())
}

/// Makes the launch tripwire's table as template.yaml does (key `request`),
/// in `sdk`'s account and region; an existing one is kept. Returns its name.
pub async fn marks_table(sdk: &SdkConfig) -> Result<&'static str, EmulatorError> {
    keyed_table(sdk, MARKS_TABLE, "request").await?;
    Ok(MARKS_TABLE)
}

/// Writes `tags` on EC2 resources `ids` in `region`.
pub async fn tag(
    sdk: &SdkConfig,
    region: &str,
    ids: &[String],
    tags: &[(&str, &str)],
) -> Result<(), EmulatorError> {
    let mut call = ec2(sdk, region)
        .create_tags()
        .set_resources(Some(ids.to_vec()));
    for (k, v) in tags {
        call = call.tags(Ec2Tag::builder().key(*k).value(*v).build());
    }
    call.send()
        .await
        .map(|_| ())
        .map_err(|e| aws(aws_sdk_ec2::error::DisplayErrorContext(e)))
}

/// An ECS client in `region` and the ARN of `service` of `cluster` there.
async fn service_arn(
    sdk: &SdkConfig,
    region: &str,
    cluster: &str,
    service: &str,
) -> Result<(aws_sdk_ecs::Client, String), EmulatorError> {
    let ecs = aws_sdk_ecs::Client::new(&client_in(sdk, region));
    let found = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|e| aws(aws_sdk_ecs::error::DisplayErrorContext(e)))?;
    let arn = found
        .services()
        .first()
        .and_then(|s| s.service_arn())
        .ok_or_else(|| aws(format!("no service {cluster}/{service} in {region}")))?
        .to_string();
    Ok((ecs, arn))
}

/// Writes `tags` on the ECS service `service` of `cluster` in `region`, as
/// anyone allowed to tag it could.
pub async fn tag_service(
    sdk: &SdkConfig,
    region: &str,
    cluster: &str,
    service: &str,
    tags: &[(&str, &str)],
) -> Result<(), EmulatorError> {
    let (ecs, arn) = service_arn(sdk, region, cluster, service).await?;
    ecs.tag_resource()
        .resource_arn(arn)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| aws_sdk_ecs::types::Tag::builder().key(*k).value(*v).build())
                .collect(),
        ))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws(aws_sdk_ecs::error::DisplayErrorContext(e)))
}

/// Writes `tags` on the EKS node group `name` of `cluster` in `region`, as
/// anyone allowed to tag it could (moto keeps no node group tags: `sdk`
/// goes through the test proxy, which does).
pub async fn tag_node_group(
    sdk: &SdkConfig,
    region: &str,
    cluster: &str,
    name: &str,
    tags: &[(&str, &str)],
) -> Result<(), EmulatorError> {
    let eks = aws_sdk_eks::Client::new(&client_in(sdk, region));
    let arn = eks
        .describe_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(name)
        .send()
        .await
        .map_err(|e| aws(aws_sdk_eks::error::DisplayErrorContext(e)))?
        .nodegroup()
        .and_then(|n| n.nodegroup_arn())
        .ok_or_else(|| aws(format!("no node group {cluster}/{name} in {region}")))?
        .to_string();
    eks.tag_resource()
        .resource_arn(arn)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws(aws_sdk_eks::error::DisplayErrorContext(e)))
}

/// Removes the tags `keys` from the ECS service `service` of `cluster` in
/// `region`.
pub async fn untag_service(
    sdk: &SdkConfig,
    region: &str,
    cluster: &str,
    service: &str,
    keys: &[&str],
) -> Result<(), EmulatorError> {
    let (ecs, arn) = service_arn(sdk, region, cluster, service).await?;
    ecs.untag_resource()
        .resource_arn(arn)
        .set_tag_keys(Some(keys.iter().map(|k| k.to_string()).collect()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws(aws_sdk_ecs::error::DisplayErrorContext(e)))
}

fn rds_tags(tags: &[(&str, &str)]) -> Vec<RdsTag> {
    tags.iter()
        .map(|(k, v)| RdsTag::builder().key(*k).value(*v).build())
        .collect()
}

/// Creates an available PostgreSQL DB instance.
pub async fn create_db(
    sdk: &SdkConfig,
    region: &str,
    id: &str,
    tags: &[(&str, &str)],
) -> Result<(), EmulatorError> {
    rds(sdk, region)
        .create_db_instance()
        .db_instance_identifier(id)
        .engine("postgres")
        .db_instance_class("db.t3.medium")
        .allocated_storage(20)
        .master_username("guard")
        .master_user_password("not-a-secret-1")
        .set_tags(Some(rds_tags(tags)))
        .send()
        .await
        .map_err(|e| aws(aws_sdk_rds::error::DisplayErrorContext(e)))?;
    Ok(())
}

/// Creates an Aurora PostgreSQL cluster with one member instance.
pub async fn create_aurora(
    sdk: &SdkConfig,
    region: &str,
    cluster: &str,
    member: &str,
    tags: &[(&str, &str)],
) -> Result<(), EmulatorError> {
    let client = rds(sdk, region);
    client
        .create_db_cluster()
        .db_cluster_identifier(cluster)
        .engine("aurora-postgresql")
        .master_username("guard")
        .master_user_password("not-a-secret-1")
        .set_tags(Some(rds_tags(tags)))
        .send()
        .await
        .map_err(|e| aws(aws_sdk_rds::error::DisplayErrorContext(e)))?;
    client
        .create_db_instance()
        .db_instance_identifier(member)
        .db_cluster_identifier(cluster)
        .engine("aurora-postgresql")
        .db_instance_class("db.r6g.large")
        .send()
        .await
        .map_err(|e| aws(aws_sdk_rds::error::DisplayErrorContext(e)))?;
    Ok(())
}

fn client_in(sdk: &SdkConfig, region: &str) -> SdkConfig {
    SdkClients::new(sdk.clone()).config(region)
}

/// Creates an Auto Scaling group of `size` running instances of
/// `instance_type` (from a launch template of the same name) with `tags` on
/// the group (propagated to its instances, as owners usually do). Returns
/// the instances' ids.
pub async fn create_group(
    sdk: &SdkConfig,
    region: &str,
    name: &str,
    size: i32,
    instance_type: &str,
    tags: &[(&str, &str)],
) -> Result<Vec<String>, EmulatorError> {
    use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, Tag};
    use aws_sdk_ec2::types::RequestLaunchTemplateData;
    ec2(sdk, region)
        .create_launch_template()
        .launch_template_name(name)
        .launch_template_data(
            RequestLaunchTemplateData::builder()
                .image_id("ami-12c6146b")
                .instance_type(instance_type.into())
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws(aws_sdk_ec2::error::DisplayErrorContext(e)))?;
    let client = aws_sdk_autoscaling::Client::new(&client_in(sdk, region));
    client
        .create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_name(name)
                .build(),
        )
        .min_size(size.min(1))
        .max_size(size.max(1) * 2)
        .desired_capacity(size)
        .availability_zones(format!("{region}a"))
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| {
                    Tag::builder()
                        .resource_id(name)
                        .resource_type("auto-scaling-group")
                        .key(*k)
                        .value(*v)
                        .propagate_at_launch(true)
                        .build()
                })
                .collect(),
        ))
        .send()
        .await
        .map_err(|e| aws(aws_sdk_autoscaling::error::DisplayErrorContext(e)))?;
    let described = client
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .map_err(|e| aws(aws_sdk_autoscaling::error::DisplayErrorContext(e)))?;
    Ok(described
        .auto_scaling_groups()
        .iter()
        .flat_map(|g| g.instances())
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect())
}

/// Registers the Fargate task definition `family`: `cpu` units and
/// `memory` MiB, one container holding them all, in `network` mode.
async fn register_fargate(
    ecs: &aws_sdk_ecs::Client,
    family: &str,
    cpu: i32,
    memory: i32,
    network: Option<aws_sdk_ecs::types::NetworkMode>,
) -> Result<(), EmulatorError> {
    use aws_sdk_ecs::types::{Compatibility, ContainerDefinition};
    ecs.register_task_definition()
        .family(family)
        .requires_compatibilities(Compatibility::Fargate)
        .set_network_mode(network)
        .cpu(cpu.to_string())
        .memory(memory.to_string())
        .container_definitions(
            ContainerDefinition::builder()
                .name("main")
                .image("public.ecr.aws/docker/library/busybox:latest")
                .cpu(cpu)
                .memory(memory)
                .build(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws(aws_sdk_ecs::error::DisplayErrorContext(e)))
}

/// Creates an ECS cluster (if new) and a Fargate service in it running
/// `desired` tasks of 8 vCPU, with `tags`; with `scaling` (min, max), an Application
/// Auto Scaling target too. Returns the service's ARN.
pub async fn create_service(
    sdk: &SdkConfig,
    region: &str,
    cluster: &str,
    service: &str,
    desired: i32,
    tags: &[(&str, &str)],
    scaling: Option<(i32, i32)>,
) -> Result<String, EmulatorError> {
    use aws_sdk_ecs::types::{LaunchType, Tag};
    let config = client_in(sdk, region);
    let ecs = aws_sdk_ecs::Client::new(&config);
    let err = |e| aws(aws_sdk_ecs::error::DisplayErrorContext(e));
    ecs.create_cluster()
        .cluster_name(cluster)
        .send()
        .await
        .map_err(|e| aws(aws_sdk_ecs::error::DisplayErrorContext(e)))?;
    register_fargate(&ecs, service, 8192, 16384, None).await?;
    let created = ecs
        .create_service()
        .cluster(cluster)
        .service_name(service)
        .task_definition(service)
        .desired_count(desired)
        .launch_type(LaunchType::Fargate)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                .collect(),
        ))
        .send()
        .await
        .map_err(err)?;
    if let Some((min, max)) = scaling {
        use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
        aws_sdk_applicationautoscaling::Client::new(&config)
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(format!("service/{cluster}/{service}"))
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .min_capacity(min)
            .max_capacity(max)
            .send()
            .await
            .map_err(|e| {
                aws(aws_sdk_applicationautoscaling::error::DisplayErrorContext(
                    e,
                ))
            })?;
    }
    Ok(created
        .service()
        .and_then(|s| s.service_arn())
        .unwrap_or_default()
        .to_string())
}

/// An ECS service's Application Auto Scaling target: min, max and whether
/// dynamic scale-in, scale-out and scheduled scaling are suspended.
pub async fn scaling_target(
    sdk: &SdkConfig,
    region: &str,
    cluster: &str,
    service: &str,
) -> Result<Option<(i32, i32, [bool; 3])>, EmulatorError> {
    use aws_sdk_applicationautoscaling::types::ServiceNamespace;
    let out = aws_sdk_applicationautoscaling::Client::new(&client_in(sdk, region))
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids(format!("service/{cluster}/{service}"))
        .send()
        .await
        .map_err(|e| {
            aws(aws_sdk_applicationautoscaling::error::DisplayErrorContext(
                e,
            ))
        })?;
    Ok(out.scalable_targets().first().map(|t| {
        let s = t.suspended_state();
        (
            t.min_capacity(),
            t.max_capacity(),
            [
                s.and_then(|s| s.dynamic_scaling_in_suspended())
                    .unwrap_or(false),
                s.and_then(|s| s.dynamic_scaling_out_suspended())
                    .unwrap_or(false),
                s.and_then(|s| s.scheduled_scaling_suspended())
                    .unwrap_or(false),
            ],
        )
    }))
}

fn sagemaker_tags(tags: &[(&str, &str)]) -> Vec<aws_sdk_sagemaker::types::Tag> {
    tags.iter()
        .map(|(k, v)| {
            aws_sdk_sagemaker::types::Tag::builder()
                .key(*k)
                .value(*v)
                .build()
        })
        .collect()
}

/// Runs `count` Fargate tasks of 16 vCPU, of a new task definition family
/// `family`, in `cluster`, outside any service, as RunTask does for anyone
/// allowed to call it: their ARNs.
pub async fn run_tasks(
    sdk: &SdkConfig,
    region: &str,
    cluster: &str,
    family: &str,
    count: i32,
) -> Result<Vec<String>, EmulatorError> {
    use aws_sdk_ecs::types::NetworkMode;
    let ecs = aws_sdk_ecs::Client::new(&client_in(sdk, region));
    let err = |e| aws(aws_sdk_ecs::error::DisplayErrorContext(e));
    // Fargate tasks run in a subnet, with a security group: the default
    // VPC's.
    let ec2 = ec2(sdk, region);
    let ec2_err = |e| aws(aws_sdk_ec2::error::DisplayErrorContext(e));
    let subnet = ec2.describe_subnets().send().await.map_err(ec2_err)?;
    let subnet = subnet
        .subnets()
        .first()
        .and_then(|s| s.subnet_id())
        .ok_or_else(|| aws(format!("no subnet in {region}")))?
        .to_string();
    let group = ec2
        .describe_security_groups()
        .send()
        .await
        .map_err(|e| aws(aws_sdk_ec2::error::DisplayErrorContext(e)))?;
    let group = group
        .security_groups()
        .first()
        .and_then(|g| g.group_id())
        .ok_or_else(|| aws(format!("no security group in {region}")))?
        .to_string();
    ecs.create_cluster()
        .cluster_name(cluster)
        .send()
        .await
        .map_err(err)?;
    register_fargate(&ecs, family, 16384, 32768, Some(NetworkMode::Awsvpc)).await?;
    let out = ecs
        .run_task()
        .cluster(cluster)
        .task_definition(family)
        .count(count)
        .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
        .network_configuration(
            aws_sdk_ecs::types::NetworkConfiguration::builder()
                .awsvpc_configuration(
                    aws_sdk_ecs::types::AwsVpcConfiguration::builder()
                        .subnets(subnet)
                        .security_groups(group)
                        .build()
                        .map_err(|e| aws(e.to_string()))?,
                )
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws(aws_sdk_ecs::error::DisplayErrorContext(e)))?;
    Ok(out
        .tasks()
        .iter()
        .filter_map(|t| t.task_arn().map(str::to_string))
        .collect())
}

/// The last status of each of these tasks of `cluster`, in their order.
pub async fn task_statuses(
    sdk: &SdkConfig,
    region: &str,
    cluster: &str,
    arns: &[String],
) -> Result<Vec<String>, EmulatorError> {
    let ecs = aws_sdk_ecs::Client::new(&client_in(sdk, region));
    let out = ecs
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns.to_vec()))
        .send()
        .await
        .map_err(|e| aws(aws_sdk_ecs::error::DisplayErrorContext(e)))?;
    Ok(arns
        .iter()
        .map(|arn| {
            out.tasks()
                .iter()
                .find(|t| t.task_arn() == Some(arn.as_str()))
                .and_then(|t| t.last_status())
                .unwrap_or("unknown")
                .to_string()
        })
        .collect())
}

/// A SageMaker processing job `name` on `instance_type`, as anyone allowed
/// to call CreateProcessingJob could start it.
pub async fn create_processing_job(
    sdk: &SdkConfig,
    region: &str,
    name: &str,
    instance_type: &str,
) -> Result<(), EmulatorError> {
    use aws_sdk_sagemaker::types::{
        AppSpecification, ProcessingClusterConfig, ProcessingInstanceType, ProcessingResources,
    };
    let err = |e| aws(aws_sdk_sagemaker::error::DisplayErrorContext(e));
    aws_sdk_sagemaker::Client::new(&client_in(sdk, region))
        .create_processing_job()
        .processing_job_name(name)
        .role_arn("arn:aws:iam::123456789012:role/sagemaker")
        .app_specification(
            AppSpecification::builder()
                .image_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/etl:latest")
                .build(),
        )
        .processing_resources(
            ProcessingResources::builder()
                .cluster_config(
                    ProcessingClusterConfig::builder()
                        .instance_count(1)
                        .instance_type(ProcessingInstanceType::from(instance_type))
                        .volume_size_in_gb(30)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .map_err(err)?;
    Ok(())
}

/// The status of the SageMaker processing job `name`.
pub async fn processing_job_status(
    sdk: &SdkConfig,
    region: &str,
    name: &str,
) -> Result<String, EmulatorError> {
    let out = aws_sdk_sagemaker::Client::new(&client_in(sdk, region))
        .describe_processing_job()
        .processing_job_name(name)
        .send()
        .await
        .map_err(|e| aws(aws_sdk_sagemaker::error::DisplayErrorContext(e)))?;
    Ok(out
        .processing_job_status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default())
}

/// Creates a SageMaker notebook instance of `instance_type` (in service).
pub async fn create_notebook(
    sdk: &SdkConfig,
    region: &str,
    name: &str,
    instance_type: &str,
    tags: &[(&str, &str)],
) -> Result<(), EmulatorError> {
    aws_sdk_sagemaker::Client::new(&client_in(sdk, region))
        .create_notebook_instance()
        .notebook_instance_name(name)
        .instance_type(instance_type.into())
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/notebook"))
        .set_tags(Some(sagemaker_tags(tags)))
        .send()
        .await
        .map_err(|e| aws(aws_sdk_sagemaker::error::DisplayErrorContext(e)))?;
    Ok(())
}

/// Creates a SageMaker real-time endpoint of `count` x `instance_type`
/// (with its model and configuration, named after it).
pub async fn create_endpoint(
    sdk: &SdkConfig,
    region: &str,
    name: &str,
    instance_type: &str,
    count: i32,
    tags: &[(&str, &str)],
) -> Result<(), EmulatorError> {
    use aws_sdk_sagemaker::types::{ContainerDefinition, ProductionVariant};
    let sm = aws_sdk_sagemaker::Client::new(&client_in(sdk, region));
    sm.create_model()
        .model_name(name)
        .execution_role_arn(format!("arn:aws:iam::{ACCOUNT}:role/model"))
        .primary_container(
            ContainerDefinition::builder()
                .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/model:latest")
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws(aws_sdk_sagemaker::error::DisplayErrorContext(e)))?;
    sm.create_endpoint_config()
        .endpoint_config_name(name)
        .production_variants(
            ProductionVariant::builder()
                .variant_name("main")
                .model_name(name)
                .instance_type(instance_type.into())
                .initial_instance_count(count)
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws(aws_sdk_sagemaker::error::DisplayErrorContext(e)))?;
    sm.create_endpoint()
        .endpoint_name(name)
        .endpoint_config_name(name)
        .set_tags(Some(sagemaker_tags(tags)))
        .send()
        .await
        .map_err(|e| aws(aws_sdk_sagemaker::error::DisplayErrorContext(e)))?;
    Ok(())
}

/// Creates an available Redshift provisioned cluster of two nodes.
pub async fn create_redshift(
    sdk: &SdkConfig,
    region: &str,
    id: &str,
    tags: &[(&str, &str)],
) -> Result<(), EmulatorError> {
    use aws_sdk_redshift::types::Tag;
    aws_sdk_redshift::Client::new(&client_in(sdk, region))
        .create_cluster()
        .cluster_identifier(id)
        .node_type("ra3.xlplus")
        .number_of_nodes(2)
        .cluster_type("multi-node")
        .master_username("guard")
        .master_user_password("NotASecret1")
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                .collect(),
        ))
        .send()
        .await
        .map_err(|e| aws(aws_sdk_redshift::error::DisplayErrorContext(e)))?;
    Ok(())
}

/// An EKS managed node group `name` in `cluster` (made first if needed),
/// of `instance_type`, with sizes `(min, desired, max)`; returns the name
/// of the Auto Scaling group EKS says runs its nodes (moto makes none). moto
/// keeps its sizes and the tags it is created with; tags written later need
/// the test proxy (`testkit`), which keeps them.
pub async fn create_node_group(
    sdk: &SdkConfig,
    region: &str,
    cluster: &str,
    name: &str,
    (min, desired, max): (i32, i32, i32),
    instance_type: &str,
    tags: &[(&str, &str)],
) -> Result<String, EmulatorError> {
    use aws_sdk_eks::types::{NodegroupScalingConfig, VpcConfigRequest};
    let eks = aws_sdk_eks::Client::new(&client_in(sdk, region));
    let role = "arn:aws:iam::123456789012:role/eks";
    let exists = eks
        .list_clusters()
        .send()
        .await
        .map_err(|e| aws(aws_sdk_eks::error::DisplayErrorContext(e)))?
        .clusters()
        .iter()
        .any(|c| c == cluster);
    if !exists {
        eks.create_cluster()
            .name(cluster)
            .role_arn(role)
            .resources_vpc_config(
                VpcConfigRequest::builder()
                    .subnet_ids("subnet-0a1b2c3d")
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws(aws_sdk_eks::error::DisplayErrorContext(e)))?;
    }
    let made = eks
        .create_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(name)
        .node_role(role)
        .subnets("subnet-0a1b2c3d")
        .instance_types(instance_type)
        .scaling_config(
            NodegroupScalingConfig::builder()
                .min_size(min)
                .desired_size(desired)
                .max_size(max)
                .build(),
        )
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ))
        .send()
        .await
        .map_err(|e| aws(aws_sdk_eks::error::DisplayErrorContext(e)))?;
    Ok(made
        .nodegroup()
        .and_then(|g| g.resources())
        .and_then(|r| r.auto_scaling_groups().first())
        .and_then(|a| a.name())
        .unwrap_or_default()
        .to_string())
}

fn pairs<'a>(
    tags: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> Vec<(String, String)> {
    tags.map(|(k, v)| {
        (
            k.unwrap_or_default().to_string(),
            v.unwrap_or_default().to_string(),
        )
    })
    .collect()
}

/// The Auto Scaling groups, ECS services, SageMaker notebooks and endpoints
/// and Redshift clusters of `region`, as fleet rows. A group's state is
/// `suspended` while its launches are, else `active`, and its name its
/// sizes; a service's state is its desired count.
async fn more_kinds(
    sdk: &SdkConfig,
    region: &str,
    rows: &mut Vec<FleetRow>,
) -> Result<(), EmulatorError> {
    let config = client_in(sdk, region);
    let groups = aws_sdk_autoscaling::Client::new(&config)
        .describe_auto_scaling_groups()
        .send()
        .await
        .map_err(|e| aws(aws_sdk_autoscaling::error::DisplayErrorContext(e)))?;
    for g in groups.auto_scaling_groups() {
        let launch_suspended = g
            .suspended_processes()
            .iter()
            .any(|p| p.process_name() == Some("Launch"));
        rows.push(FleetRow {
            region: region.to_string(),
            kind: "asg",
            id: g.auto_scaling_group_name().unwrap_or_default().into(),
            name: format!(
                "min {} desired {} max {}",
                g.min_size().unwrap_or_default(),
                g.desired_capacity().unwrap_or_default(),
                g.max_size().unwrap_or_default()
            ),
            state: if launch_suspended {
                "suspended"
            } else {
                "active"
            }
            .into(),
            tags: pairs(g.tags().iter().map(|t| (t.key(), t.value()))),
        });
    }
    let ecs = aws_sdk_ecs::Client::new(&config);
    let clusters = ecs
        .list_clusters()
        .send()
        .await
        .map_err(|e| aws(aws_sdk_ecs::error::DisplayErrorContext(e)))?;
    for cluster in clusters.cluster_arns() {
        let arns = ecs
            .list_services()
            .cluster(cluster)
            .send()
            .await
            .map_err(|e| aws(aws_sdk_ecs::error::DisplayErrorContext(e)))?;
        if arns.service_arns().is_empty() {
            continue;
        }
        let services = ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(arns.service_arns().to_vec()))
            .include(aws_sdk_ecs::types::ServiceField::Tags)
            .send()
            .await
            .map_err(|e| aws(aws_sdk_ecs::error::DisplayErrorContext(e)))?;
        for s in services.services() {
            rows.push(FleetRow {
                region: region.to_string(),
                kind: "ecs-service",
                id: s.service_name().unwrap_or_default().into(),
                name: cluster.rsplit('/').next().unwrap_or_default().into(),
                state: format!("desired {}", s.desired_count()),
                tags: pairs(s.tags().iter().map(|t| (t.key(), t.value()))),
            });
        }
    }
    let sm = aws_sdk_sagemaker::Client::new(&config);
    let sm_tags = |arn: String| {
        let sm = sm.clone();
        async move {
            sm.list_tags()
                .resource_arn(arn)
                .send()
                .await
                .map(|t| pairs(t.tags().iter().map(|t| (t.key(), t.value()))))
                .map_err(|e| aws(aws_sdk_sagemaker::error::DisplayErrorContext(e)))
        }
    };
    let notebooks = sm
        .list_notebook_instances()
        .send()
        .await
        .map_err(|e| aws(aws_sdk_sagemaker::error::DisplayErrorContext(e)))?;
    for n in notebooks.notebook_instances() {
        rows.push(FleetRow {
            region: region.to_string(),
            kind: "notebook",
            id: n.notebook_instance_name().unwrap_or_default().into(),
            name: n
                .instance_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            state: n
                .notebook_instance_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            tags: sm_tags(n.notebook_instance_arn().unwrap_or_default().to_string()).await?,
        });
    }
    let endpoints = sm
        .list_endpoints()
        .send()
        .await
        .map_err(|e| aws(aws_sdk_sagemaker::error::DisplayErrorContext(e)))?;
    for e in endpoints.endpoints() {
        rows.push(FleetRow {
            region: region.to_string(),
            kind: "endpoint",
            id: e.endpoint_name().unwrap_or_default().into(),
            name: String::new(),
            state: e
                .endpoint_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            tags: sm_tags(e.endpoint_arn().unwrap_or_default().to_string()).await?,
        });
    }
    let redshift = aws_sdk_redshift::Client::new(&config)
        .describe_clusters()
        .send()
        .await
        .map_err(|e| aws(aws_sdk_redshift::error::DisplayErrorContext(e)))?;
    for c in redshift.clusters() {
        rows.push(FleetRow {
            region: region.to_string(),
            kind: "redshift",
            id: c.cluster_identifier().unwrap_or_default().into(),
            name: c.node_type().unwrap_or_default().into(),
            state: c.cluster_status().unwrap_or_default().into(),
            tags: pairs(c.tags().iter().map(|t| (t.key(), t.value()))),
        });
    }
    node_groups(&config, region, rows).await
}

/// EKS node groups as fleet rows: `cluster/name`, the sizes as the name,
/// `desired N` as the state.
async fn node_groups(
    config: &SdkConfig,
    region: &str,
    rows: &mut Vec<FleetRow>,
) -> Result<(), EmulatorError> {
    let eks = aws_sdk_eks::Client::new(config);
    let failed = |e| aws(aws_sdk_eks::error::DisplayErrorContext(e));
    let clusters = eks.list_clusters().send().await.map_err(failed)?;
    for cluster in clusters.clusters() {
        let names = eks
            .list_nodegroups()
            .cluster_name(cluster)
            .send()
            .await
            .map_err(|e| aws(aws_sdk_eks::error::DisplayErrorContext(e)))?;
        for name in names.nodegroups() {
            let out = eks
                .describe_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(name)
                .send()
                .await
                .map_err(|e| aws(aws_sdk_eks::error::DisplayErrorContext(e)))?;
            let Some(g) = out.nodegroup() else { continue };
            let s = g.scaling_config();
            let size = |f: fn(&aws_sdk_eks::types::NodegroupScalingConfig) -> Option<i32>| {
                s.and_then(f).unwrap_or_default()
            };
            let mut tags: Vec<(String, String)> = g
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            tags.sort();
            rows.push(FleetRow {
                region: region.to_string(),
                kind: "eks-node-group",
                id: format!("{cluster}/{name}"),
                name: format!(
                    "min {} desired {} max {}",
                    size(|s| s.min_size()),
                    size(|s| s.desired_size()),
                    size(|s| s.max_size())
                ),
                state: format!("desired {}", size(|s| s.desired_size())),
                tags,
            });
        }
    }
    Ok(())
}

/// One resource as the fleet tables and the tests see it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FleetRow {
    pub region: String,
    pub kind: &'static str,
    pub id: String,
    pub name: String,
    pub state: String,
    pub tags: Vec<(String, String)>,
}

impl FleetRow {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Every EC2 instance, DB instance and DB cluster, Auto Scaling group, ECS
/// service, SageMaker notebook and endpoint and Redshift cluster in
/// `regions`, sorted.
pub async fn fleet(sdk: &SdkConfig, regions: &[&str]) -> Result<Vec<FleetRow>, EmulatorError> {
    let mut rows = Vec::new();
    for region in regions {
        let mut pages = ec2(sdk, region)
            .describe_instances()
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws(aws_sdk_ec2::error::DisplayErrorContext(e)))?;
            for i in page.reservations().iter().flat_map(|r| r.instances()) {
                let tags: Vec<(String, String)> = guard::aws::ec2::tag_pairs(i.tags());
                rows.push(FleetRow {
                    region: region.to_string(),
                    kind: "ec2",
                    id: i.instance_id().unwrap_or_default().into(),
                    name: tags
                        .iter()
                        .find(|(k, _)| k == "Name")
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default(),
                    state: i
                        .state()
                        .and_then(|s| s.name())
                        .map(|n| n.as_str().to_string())
                        .unwrap_or_default(),
                    tags,
                });
            }
        }
        let client = rds(sdk, region);
        let dbs = client
            .describe_db_instances()
            .send()
            .await
            .map_err(|e| aws(aws_sdk_rds::error::DisplayErrorContext(e)))?;
        for d in dbs.db_instances() {
            let tags: Vec<(String, String)> = guard::aws::rds::tag_pairs(d.tag_list());
            rows.push(FleetRow {
                region: region.to_string(),
                kind: if d.db_cluster_identifier().is_some() {
                    "rds-member"
                } else {
                    "rds"
                },
                id: d.db_instance_identifier().unwrap_or_default().into(),
                name: d
                    .db_cluster_identifier()
                    .map(|c| format!("member of {c}"))
                    .unwrap_or_default(),
                state: d.db_instance_status().unwrap_or_default().into(),
                tags,
            });
        }
        let clusters = client
            .describe_db_clusters()
            .send()
            .await
            .map_err(|e| aws(aws_sdk_rds::error::DisplayErrorContext(e)))?;
        for c in clusters.db_clusters() {
            rows.push(FleetRow {
                region: region.to_string(),
                kind: "aurora",
                id: c.db_cluster_identifier().unwrap_or_default().into(),
                name: c.engine().unwrap_or_default().into(),
                state: c.status().unwrap_or_default().into(),
                tags: guard::aws::rds::tag_pairs(c.tag_list()),
            });
        }
        more_kinds(sdk, region, &mut rows).await?;
    }
    rows.sort();
    Ok(rows)
}

/// A notification as a subscriber received it.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub subject: String,
    pub body: String,
}

/// A loopback HTTP endpoint subscribed to the topic: what an email subscriber
/// would get. moto delivers to it during `Publish`, so a message is in the
/// inbox by the time the publish returns.
pub struct Inbox {
    received: Arc<Mutex<Vec<Received>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Creates a topic with no subscriber (what a benchmark publishes to). Returns its ARN.
pub async fn create_topic(sdk: &SdkConfig, name: &str) -> Result<String, EmulatorError> {
    Ok(aws_sdk_sns::Client::new(sdk)
        .create_topic()
        .name(name)
        .send()
        .await
        .map_err(|e| aws(aws_sdk_sns::error::DisplayErrorContext(e)))?
        .topic_arn()
        .unwrap_or_default()
        .to_string())
}

/// Creates the subscribers' topic and an inbox subscribed to it. Returns the
/// topic ARN. Keep the inbox while anything publishes: moto delivers during
/// `Publish`, and a publish to a dropped inbox fails.
pub async fn notify_topic(sdk: &SdkConfig, name: &str) -> Result<(String, Inbox), EmulatorError> {
    let sns = aws_sdk_sns::Client::new(sdk);
    let topic = create_topic(sdk, name).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| EmulatorError::Start(format!("inbox: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| EmulatorError::Start(format!("inbox: {e}")))?
        .port();
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let sink = received.clone();
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let sink = sink.clone();
            tokio::spawn(async move {
                if let Some(m) = receive(stream).await {
                    sink.lock().unwrap_or_else(|p| p.into_inner()).push(m);
                }
            });
        }
    });
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("http")
        .endpoint(format!("http://127.0.0.1:{port}/inbox"))
        .send()
        .await
        .map_err(|e| aws(aws_sdk_sns::error::DisplayErrorContext(e)))?;
    Ok((topic, Inbox { received, server }))
}

/// Reads one SNS HTTP delivery (a JSON notification) and answers 200.
async fn receive(mut stream: tokio::net::TcpStream) -> Option<Received> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let body = loop {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if data.len() >= end + 4 + length {
            break data[end + 4..end + 4 + length].to_vec();
        }
    };
    let _ = stream
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .await;
    let envelope: serde_json::Value = serde_json::from_slice(&body).ok()?;
    (envelope["Type"] == "Notification").then(|| Received {
        subject: envelope["Subject"].as_str().unwrap_or_default().to_string(),
        body: envelope["Message"].as_str().unwrap_or_default().to_string(),
    })
}

impl Inbox {
    /// Takes every message received so far, oldest first.
    pub async fn take(&self) -> Result<Vec<Received>, EmulatorError> {
        // Deliveries run on their own tasks: let any that are in flight land.
        tokio::task::yield_now().await;
        Ok(std::mem::take(
            &mut *self.received.lock().unwrap_or_else(|p| p.into_inner()),
        ))
    }
}

/// Month-to-date costs by service that the demo and the tests put in Cost Explorer.
pub const SAMPLE_COSTS: &[(&str, f64)] = &[
    ("Amazon Elastic Compute Cloud - Compute", 1112.40),
    ("Amazon Relational Database Service", 96.10),
    ("Amazon Virtual Private Cloud", 31.00),
    ("Amazon Simple Storage Service", 12.25),
    ("AmazonCloudWatch", 4.80),
    ("AWS Lambda", 0.62),
];

/// Queues month-to-date results for moto's `GetCostAndUsage` (one result per
/// distinct request): per-service amounts in USD for `metric`.
pub fn set_cost_by_service(
    moto: &Moto,
    start: &str,
    end: &str,
    metric: &str,
    services: &[(&str, f64)],
) -> Result<(), EmulatorError> {
    let groups: Vec<serde_json::Value> = services
        .iter()
        .map(|(name, amount)| {
            serde_json::json!({
                "Keys": [name],
                "Metrics": {metric: {"Amount": format!("{amount:.2}"), "Unit": "USD"}}
            })
        })
        .collect();
    let body = serde_json::json!({"results": [{
        "ResultsByTime": [{
            "TimePeriod": {"Start": start, "End": end},
            "Total": {},
            "Groups": groups,
            "Estimated": true
        }],
        "DimensionValueAttributes": []
    }]});
    moto.api(
        "POST",
        "/moto-api/static/ce/cost-and-usage-results",
        Some(&body.to_string()),
    )
    .map(|_| ())
}

macro_rules! samples {
    ($($name:literal),* $(,)?) => {
        /// Every file in `events/`, compiled in: name and text.
        pub const SAMPLE_EVENTS: &[(&str, &str)] = &[$(
            ($name, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/", $name))),
        )*];
    };
}

samples!(
    "alarm-billing-alarm.json",
    "alarm-billing-ok.json",
    "alarm-null-description.json",
    "anomaly.json",
    "budget-actual.json",
    "budget-daily.json",
    "budget-forecasted.json",
    "guardduty-crypto-finding.json",
    "guardduty-impact-finding.json",
    "iam-user-signin.json",
    "rds-cluster-forced-start.json",
    "rds-cluster-started.json",
    "rds-instance-backup.json",
    "rds-instance-forced-start.json",
    "rds-instance-started.json",
    "resume-dry-run.json",
    "root-api-create-access-key.json",
    "root-signin-failure.json",
    "root-signin-mfa.json",
    "root-signin-missing-fields.json",
    "root-signin-no-mfa.json",
    "root-signin-trusted.json",
    "scheduled.json",
    "tripwire-autoscaling-launch.json",
    "tripwire-create-auto-scaling-group.json",
    "tripwire-create-endpoint.json",
    "tripwire-create-fleet-maintain.json",
    "tripwire-create-fleet.json",
    "tripwire-create-notebook.json",
    "tripwire-create-processing-job.json",
    "tripwire-create-redshift-cluster.json",
    "tripwire-create-service.json",
    "tripwire-create-training-job.json",
    "tripwire-dry-run-probe.json",
    "tripwire-ec2-stamp-removed.json",
    "tripwire-enable-region.json",
    "tripwire-exempt-tag-added.json",
    "tripwire-group-exempt-tag-added.json",
    "tripwire-group-stamp-removed.json",
    "tripwire-node-group-saved-tag-written.json",
    "tripwire-notebook-stamp-written.json",
    "tripwire-quota-increase.json",
    "tripwire-rds-exempt-tag-added.json",
    "tripwire-redshift-exempt-tag-added.json",
    "tripwire-resume-redshift-cluster.json",
    "tripwire-root-launch.json",
    "tripwire-run-instances-failed.json",
    "tripwire-run-instances-minimal.json",
    "tripwire-run-instances.json",
    "tripwire-run-task.json",
    "tripwire-service-saved-tag-written.json",
    "tripwire-service-stamp-removed.json",
    "tripwire-spot-fleet-launched.json",
    "tripwire-spot-fleet-request.json",
    "tripwire-spot-fulfilled.json",
    "tripwire-spot-request.json",
    "tripwire-stamp-removed.json",
    "tripwire-start-instances.json",
    "tripwire-update-auto-scaling-group.json",
    "tripwire-update-service.json",
    "unrecognised.json",
);

/// A sample event by its file name in `events/`.
pub fn sample_event(name: &str) -> Result<serde_json::Value, EmulatorError> {
    let (_, text) = SAMPLE_EVENTS
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| EmulatorError::Start(format!("no sample event events/{name}")))?;
    serde_json::from_str(text).map_err(|e| EmulatorError::Start(format!("events/{name}: {e}")))
}

/// A sample CloudTrail launch event (`events/NAME`) moved to `region` and
/// naming `ids`, of `instance_type`, as what the call launched: what
/// EventBridge would deliver after a launch made in the emulator.
pub fn launch_event(
    name: &str,
    region: &str,
    ids: &[String],
    instance_type: &str,
) -> Result<serde_json::Value, EmulatorError> {
    use serde_json::json;
    let mut event = sample_event(name)?;
    event["region"] = json!(region);
    event["detail"]["awsRegion"] = json!(region);
    let items: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| {
            json!({"instanceId": id, "instanceType": instance_type,
                   "instanceState": {"code": 0, "name": "pending"}})
        })
        .collect();
    event["detail"]["responseElements"]["instancesSet"] = json!({ "items": items });
    event["detail"]["requestParameters"]["instanceType"] = json!(instance_type);
    Ok(event)
}

/// A sample CloudTrail call (`events/NAME`) moved to `region`, with `set`
/// written into its request parameters: what EventBridge would deliver
/// after that call made in the emulator.
pub fn call_event(
    name: &str,
    region: &str,
    set: &[(&str, serde_json::Value)],
) -> Result<serde_json::Value, EmulatorError> {
    let mut event = sample_event(name)?;
    event["region"] = serde_json::json!(region);
    event["detail"]["awsRegion"] = serde_json::json!(region);
    for (k, v) in set {
        event["detail"]["requestParameters"][*k] = v.clone();
    }
    Ok(event)
}

/// A CloudTrail event moved to member `account`, as its forwarder brings it
/// to the guard's bus: the envelope's and the record's account, and the
/// caller one of that account's IAM users (same name as in the sample).
pub fn in_account(mut event: serde_json::Value, account: &str) -> serde_json::Value {
    use serde_json::json;
    event["account"] = json!(account);
    event["detail"]["recipientAccountId"] = json!(account);
    let identity = &mut event["detail"]["userIdentity"];
    if let Some(user) = identity["arn"]
        .as_str()
        .and_then(|arn| arn.rsplit_once(':'))
        .map(|(_, user)| user.to_string())
    {
        identity["arn"] = json!(format!("arn:aws:iam::{account}:{user}"));
    }
    identity["accountId"] = json!(account);
    event
}

/// Makes the emulator's default account an organization's management account
/// with one member account per name. Returns the members' ids, in order.
pub async fn organization(sdk: &SdkConfig, members: &[&str]) -> Result<Vec<String>, EmulatorError> {
    let org = aws_sdk_organizations::Client::new(sdk);
    org.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .map_err(|e| aws(aws_sdk_organizations::error::DisplayErrorContext(e)))?;
    let mut ids = Vec::new();
    for name in members {
        let status = org
            .create_account()
            .account_name(*name)
            .email(format!("{name}@example.com"))
            .send()
            .await
            .map_err(|e| aws(aws_sdk_organizations::error::DisplayErrorContext(e)))?;
        let id = status
            .create_account_status()
            .and_then(|s| s.account_id())
            .ok_or_else(|| EmulatorError::Aws(format!("no account id for {name}")))?;
        ids.push(id.to_string());
    }
    Ok(ids)
}

/// Closes a member account: Organizations then lists it as SUSPENDED (the
/// emulator skips the PENDING_CLOSURE that AWS shows for a while first).
pub async fn close_account(sdk: &SdkConfig, account: &str) -> Result<(), EmulatorError> {
    aws_sdk_organizations::Client::new(sdk)
        .close_account()
        .account_id(account)
        .send()
        .await
        .map_err(|e| aws(aws_sdk_organizations::error::DisplayErrorContext(e)))?;
    Ok(())
}

/// SDK configuration acting in `account` through its member role, as the
/// guard reaches it (the emulator needs no role to exist).
pub async fn member_sdk(sdk: &SdkConfig, account: &str) -> Result<SdkConfig, EmulatorError> {
    let arn = format!("arn:aws:iam::{account}:role/cost-guard-member");
    guard::aws::accounts::member_config(sdk, &arn, "cost-guard")
        .await
        .map_err(aws)
}

/// Creates an SQS queue with these attributes. Returns its URL.
pub async fn queue(
    sdk: &SdkConfig,
    name: &str,
    attributes: &[(&str, &str)],
) -> Result<String, EmulatorError> {
    let mut create = aws_sdk_sqs::Client::new(sdk)
        .create_queue()
        .queue_name(name);
    for (k, v) in attributes {
        create = create.attributes(aws_sdk_sqs::types::QueueAttributeName::from(*k), *v);
    }
    Ok(create
        .send()
        .await
        .map_err(|e| aws(aws_sdk_sqs::error::DisplayErrorContext(e)))?
        .queue_url()
        .unwrap_or_default()
        .to_string())
}

/// The parameters `cost-guard doctor` reads, with template.yaml's defaults:
/// the stand-in stack declares these, so that it lists them as the real one
/// does.
const STACK_PARAMETERS: &[(&str, &str)] = &[
    ("MonthlyBudgetUsd", "0"),
    ("BillingAlarmUsd", "0"),
    ("SpendLimitUsd", "0"),
    ("AnomalyAction", "report"),
    ("Selection", "tagged"),
    ("StopTagKey", "cost-guard"),
    ("StopTagValue", "stop"),
    ("ExemptTagKey", "cost-guard-exempt"),
    ("DryRun", "false"),
    ("TripwireAction", "stop"),
    ("TripwireGuardDutyAction", "stop"),
    ("Accounts", "self"),
    ("OrgScope", "all"),
    ("MemberRoleName", "cost-guard-member"),
    ("MemberExternalId", ""),
    ("DoctorSchedule", "rate(7 days)"),
];

/// What the stand-in for a deployed cost-guard stack made.
#[derive(Debug, Clone)]
pub struct DeployedStack {
    pub name: String,
    pub trigger_topic: String,
    pub notify_topic: String,
    pub failure_queue: String,
    /// The physical name of the stand-in stop-on-overspend function.
    pub function: String,
    /// The weekly check's table of what its last run saw.
    pub check_table: String,
}

/// Creates, with CloudFormation, a stand-in for a deployed cost-guard stack
/// named `name` in `sdk`'s region: the parameters doctor reads (template.yaml's
/// defaults, `overrides` on top), the trigger and notify topics, the failure
/// queue and the sweep's dead-letter queue, one function, and the outputs the
/// real stack has. (The emulator cannot run the SAM template itself: it has
/// no SAM transform.)
pub async fn deployed_stack(
    sdk: &SdkConfig,
    name: &str,
    overrides: &[(&str, &str)],
) -> Result<DeployedStack, EmulatorError> {
    let parameters: serde_json::Map<String, serde_json::Value> = STACK_PARAMETERS
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                serde_json::json!({"Type": "String", "Default": v}),
            )
        })
        .collect();
    let template = serde_json::json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": parameters,
        "Resources": {
            "TriggerTopic": {"Type": "AWS::SNS::Topic"},
            "NotifyTopic": {"Type": "AWS::SNS::Topic"},
            "FailureQueue": {"Type": "AWS::SQS::Queue"},
            "SweepDeadLetterQueue": {"Type": "AWS::SQS::Queue"},
            "WeeklyCheckState": {"Type": "AWS::DynamoDB::Table", "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}},
            "StopOnOverspendRole": {"Type": "AWS::IAM::Role", "Properties": {
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole"}]}}},
            "StopOnOverspendFunction": {"Type": "AWS::Lambda::Function", "Properties": {
                "Runtime": "provided.al2023", "Handler": "bootstrap",
                "Role": {"Fn::GetAtt": ["StopOnOverspendRole", "Arn"]},
                "Code": {"ZipFile": "stand-in"},
                // As template.yaml sets them, from the parameters.
                "Environment": {"Variables": {
                    "SELECTION": {"Ref": "Selection"},
                    "STOP_TAG_KEY": {"Ref": "StopTagKey"},
                    "STOP_TAG_VALUE": {"Ref": "StopTagValue"},
                    "EXEMPT_TAG_KEY": {"Ref": "ExemptTagKey"},
                    "DRY_RUN": {"Ref": "DryRun"},
                    "ACCOUNTS": {"Ref": "Accounts"},
                    "MEMBER_ROLE_NAME": {"Ref": "MemberRoleName"},
                }}}},
        },
        "Outputs": {
            "TriggerTopicArn": {"Value": {"Ref": "TriggerTopic"}},
            "NotifyTopicArn": {"Value": {"Ref": "NotifyTopic"}},
            "FailureQueueUrl": {"Value": {"Ref": "FailureQueue"}},
            "SweepDeadLetterQueueUrl": {"Value": {"Ref": "SweepDeadLetterQueue"}},
        },
    });
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    let mut create = cfn
        .create_stack()
        .stack_name(name)
        .template_body(template.to_string());
    for (k, v) in overrides {
        create = create.parameters(
            aws_sdk_cloudformation::types::Parameter::builder()
                .parameter_key(*k)
                .parameter_value(*v)
                .build(),
        );
    }
    create
        .send()
        .await
        .map_err(|e| aws(aws_sdk_cloudformation::error::DisplayErrorContext(e)))?;
    let resources = cfn
        .list_stack_resources()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| aws(aws_sdk_cloudformation::error::DisplayErrorContext(e)))?;
    let physical = |logical: &str| {
        resources
            .stack_resource_summaries()
            .iter()
            .find(|r| r.logical_resource_id() == Some(logical))
            .and_then(|r| r.physical_resource_id())
            .unwrap_or_default()
            .to_string()
    };
    Ok(DeployedStack {
        name: name.to_string(),
        trigger_topic: physical("TriggerTopic"),
        notify_topic: physical("NotifyTopic"),
        failure_queue: physical("FailureQueue"),
        function: physical("StopOnOverspendFunction"),
        check_table: physical("WeeklyCheckState"),
    })
}

/// Deploys the forwarder's rules in `region` as forwarder.yaml does: rules
/// that send root sign-ins and launches to the default bus of `home` in
/// `account`. Returns the rules' names.
pub async fn forwarder(
    sdk: &SdkConfig,
    region: &str,
    home: &str,
    account: &str,
) -> Result<Vec<String>, EmulatorError> {
    let events = aws_sdk_eventbridge::Client::new(&in_region(sdk, region));
    let bus = format!("arn:aws:events:{home}:{account}:event-bus/default");
    let rules = [
        ("RootSignInForward", r#"{"source":["aws.signin"]}"#),
        ("LaunchForward", r#"{"source":["aws.ec2"]}"#),
    ];
    let mut names = vec![];
    for (rule, pattern) in rules {
        let name = format!("cost-guard-forwarder-{rule}");
        events
            .put_rule()
            .name(&name)
            .event_pattern(pattern)
            .state(aws_sdk_eventbridge::types::RuleState::Enabled)
            .send()
            .await
            .map_err(|e| aws(aws_sdk_eventbridge::error::DisplayErrorContext(e)))?;
        events
            .put_targets()
            .rule(&name)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("cost-guard-region")
                    .arn(&bus)
                    .build()
                    .map_err(aws)?,
            )
            .send()
            .await
            .map_err(|e| aws(aws_sdk_eventbridge::error::DisplayErrorContext(e)))?;
        names.push(name);
    }
    Ok(names)
}

/// Creates a trail named `name` in `sdk`'s region (multi-region or not) and
/// starts its logging when `logging`.
pub async fn trail(
    sdk: &SdkConfig,
    name: &str,
    multi_region: bool,
    logging: bool,
) -> Result<(), EmulatorError> {
    let s3 = format!("{name}-logs");
    let ct = aws_sdk_cloudtrail::Client::new(sdk);
    // moto checks that the bucket exists; any bucket will do.
    emulator_bucket(sdk, &s3).await?;
    ct.create_trail()
        .name(name)
        .s3_bucket_name(&s3)
        .is_multi_region_trail(multi_region)
        .send()
        .await
        .map_err(|e| aws(aws_sdk_cloudtrail::error::DisplayErrorContext(e)))?;
    if logging {
        ct.start_logging()
            .name(name)
            .send()
            .await
            .map_err(|e| aws(aws_sdk_cloudtrail::error::DisplayErrorContext(e)))?;
    }
    Ok(())
}

/// Creates an S3 bucket through moto's REST API (no S3 client here).
async fn emulator_bucket(sdk: &SdkConfig, name: &str) -> Result<(), EmulatorError> {
    let endpoint = sdk
        .endpoint_url()
        .ok_or_else(|| EmulatorError::Aws("no emulator endpoint".into()))?;
    let addr = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(addr).map_err(aws)?;
    write!(
        stream,
        "PUT /{name} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .map_err(aws)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).map_err(aws)?;
    if !answer.starts_with("HTTP/1.1 200") {
        return Err(EmulatorError::Aws(format!(
            "creating bucket {name}: {}",
            answer.lines().next().unwrap_or_default()
        )));
    }
    Ok(())
}

/// Enables a GuardDuty detector in `region`.
pub async fn guardduty(sdk: &SdkConfig, region: &str) -> Result<(), EmulatorError> {
    aws_sdk_guardduty::Client::new(&in_region(sdk, region))
        .create_detector()
        .enable(true)
        .send()
        .await
        .map_err(|e| aws(aws_sdk_guardduty::error::DisplayErrorContext(e)))?;
    Ok(())
}

fn in_region(sdk: &SdkConfig, region: &str) -> SdkConfig {
    sdk.to_builder()
        .region(Region::new(region.to_string()))
        .build()
}

/// Subscribes `endpoint` to `topic` (the emulator confirms every
/// subscription at once).
pub async fn subscribe(
    sdk: &SdkConfig,
    topic: &str,
    protocol: &str,
    endpoint: &str,
) -> Result<(), EmulatorError> {
    aws_sdk_sns::Client::new(sdk)
        .subscribe()
        .topic_arn(topic)
        .protocol(protocol)
        .endpoint(endpoint)
        .send()
        .await
        .map_err(|e| aws(aws_sdk_sns::error::DisplayErrorContext(e)))?;
    Ok(())
}

/// The regions the emulator reports enabled, as the guard reads them.
pub async fn enabled_regions(sdk: &SdkConfig) -> Result<Vec<String>, EmulatorError> {
    guard::aws::regions::enabled_regions(&aws_sdk_ec2::Client::new(sdk))
        .await
        .map_err(aws)
}

/// Sets one variable of `function`'s environment, as a hand edit in the
/// Lambda console would.
pub async fn set_function_variable(
    sdk: &SdkConfig,
    function: &str,
    name: &str,
    value: &str,
) -> Result<(), EmulatorError> {
    let lambda = aws_sdk_lambda::Client::new(sdk);
    let config = lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .map_err(|e| aws(aws_sdk_lambda::error::DisplayErrorContext(e)))?;
    let mut variables = config
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    variables.insert(name.to_string(), value.to_string());
    lambda
        .update_function_configuration()
        .function_name(function)
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .set_variables(Some(variables))
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws(aws_sdk_lambda::error::DisplayErrorContext(e)))?;
    Ok(())
}

/// A StackSet named `name` with these parameters (on a template that makes
/// nothing), and an instance in each of `accounts` and `regions`.
pub async fn stack_set(
    sdk: &SdkConfig,
    name: &str,
    parameters: &[(&str, &str)],
    accounts: &[&str],
    regions: &[&str],
) -> Result<(), EmulatorError> {
    use aws_sdk_cloudformation::types::Parameter;
    let declared: serde_json::Map<String, serde_json::Value> = parameters
        .iter()
        .map(|(k, _)| (k.to_string(), serde_json::json!({"Type": "String"})))
        .collect();
    let template = serde_json::json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": declared,
        "Resources": {"Nothing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
    });
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    cfn.create_stack_set()
        .stack_set_name(name)
        .template_body(template.to_string())
        .set_parameters(Some(
            parameters
                .iter()
                .map(|(k, v)| {
                    Parameter::builder()
                        .parameter_key(*k)
                        .parameter_value(*v)
                        .build()
                })
                .collect(),
        ))
        .send()
        .await
        .map_err(|e| aws(aws_sdk_cloudformation::error::DisplayErrorContext(e)))?;
    cfn.create_stack_instances()
        .stack_set_name(name)
        .set_accounts(Some(accounts.iter().map(|a| a.to_string()).collect()))
        .set_regions(Some(regions.iter().map(|r| r.to_string()).collect()))
        .send()
        .await
        .map_err(|e| aws(aws_sdk_cloudformation::error::DisplayErrorContext(e)))?;
    Ok(())
}

/// More instances of the StackSet `name`: one in each of `accounts` and
/// `regions`.
pub async fn add_stack_instances(
    sdk: &SdkConfig,
    name: &str,
    accounts: &[&str],
    regions: &[&str],
) -> Result<(), EmulatorError> {
    aws_sdk_cloudformation::Client::new(sdk)
        .create_stack_instances()
        .stack_set_name(name)
        .set_accounts(Some(accounts.iter().map(|a| a.to_string()).collect()))
        .set_regions(Some(regions.iter().map(|r| r.to_string()).collect()))
        .send()
        .await
        .map_err(|e| aws(aws_sdk_cloudformation::error::DisplayErrorContext(e)))?;
    Ok(())
}
