//! What the launch tripwire is given, as EventBridge delivers it: CloudTrail
//! management events (`detail-type` `AWS API Call via CloudTrail`) for EC2
//! launches and starts, for the other first moves of a stolen key, for writes
//! of cost-guard's own tags and for a newly enabled region; EC2's own events
//! about an instance a spot request or a fleet launched later; and GuardDuty
//! findings about an instance.
//!
//! Everything here is written partly by outsiders: whoever calls chooses the
//! request's parameters and tags, and anyone who can reach an instance can
//! make GuardDuty write a finding about it. The parser only reads; what may be
//! acted on is decided in `domain::tripwire`. Real events omit or null many fields,
//! and CloudTrail writes EC2's lists as `{"items": [...]}` (CreateFleet's as
//! `{"item": ...}`, one object when there is one): absence is never an error,
//! and every list is read in any of those shapes.

use serde_json::Value;

use super::{excerpt, json_number, json_text};
use crate::domain::inventory::Tags;

/// The EC2 calls that launch or start instances.
pub(crate) const LAUNCH_CALLS: &[&str] = &[
    "RunInstances",
    "StartInstances",
    "RequestSpotInstances",
    "RequestSpotFleet",
    "CreateFleet",
];

/// Other first moves of a stolen key, alerted on (never acted on): event
/// source and event names.
pub(crate) const FIRST_MOVES: &[(&str, &[&str])] = &[(
    "servicequotas.amazonaws.com",
    &["RequestServiceQuotaIncrease"],
)];

/// The calls that write or remove tags, watched for cost-guard's own keys and
/// the exempt key: event source and event names.
pub(crate) const TAG_CALLS: &[(&str, &[&str])] = &[
    ("ec2.amazonaws.com", &["CreateTags", "DeleteTags"]),
    (
        "rds.amazonaws.com",
        &["AddTagsToResource", "RemoveTagsFromResource"],
    ),
    (
        "autoscaling.amazonaws.com",
        &["CreateOrUpdateTags", "DeleteTags"],
    ),
    ("ecs.amazonaws.com", &["TagResource", "UntagResource"]),
    ("sagemaker.amazonaws.com", &["AddTags", "DeleteTags"]),
    ("redshift.amazonaws.com", &["CreateTags", "DeleteTags"]),
    ("eks.amazonaws.com", &["TagResource", "UntagResource"]),
];

/// Opting in to a region: the Account Management API's call.
pub(crate) const ENABLE_REGION: (&str, &str) = ("account.amazonaws.com", "EnableRegion");

/// EC2's own events about an instance a spot request or a fleet launched
/// after the call that made it: `(source, detail-type)`.
pub(crate) const FLEET_LAUNCH_EVENTS: &[(&str, &str)] = &[
    ("aws.ec2", "EC2 Spot Instance Request Fulfillment"),
    ("aws.ec2spotfleet", "EC2 Spot Fleet Instance Change"),
    ("aws.ec2fleet", "EC2 Fleet Instance Change"),
];

/// The quota increases that count as a first move: EC2's and SageMaker's.
const WATCHED_QUOTA_SERVICES: &[&str] = &["ec2", "sagemaker"];

/// How deep the parser looks into an event's request and response.
const MAX_DEPTH: usize = 24;
/// Instances read from one event at the most (RunInstances launches at most
/// a few thousand; anything beyond is not a real event).
const MAX_INSTANCES: usize = 5_000;
/// Resources and tags read from one tag call at the most (EC2 takes 1,000
/// resources and 50 tags a call).
const MAX_TAGGED: usize = 1_000;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TripwireEvent {
    /// Boxed: a call carries far more than a finding.
    Call(Box<ApiCall>),
    Finding(Finding),
    /// An instance a spot request or a fleet launched, as EC2 reports it.
    FleetLaunch(FleetLaunch),
    /// Well formed, but nothing the tripwire watches: why.
    Ignored(String),
}

/// Who made a call, from CloudTrail's `userIdentity`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Principal {
    /// `Root`, `IAMUser`, `AssumedRole`, `FederatedUser`, `AWSService`, ...
    pub kind: String,
    pub arn: Option<String>,
    /// For an assumed role: the role's own ARN (`sessionIssuer.arn`).
    pub issuer_arn: Option<String>,
    /// The IAM user's name, or the role's name behind a session.
    pub name: Option<String>,
    pub access_key_id: Option<String>,
    /// The service that made the call for the principal (`invokedBy`).
    pub invoked_by: Option<String>,
    /// The account the principal belongs to (`userIdentity.accountId`).
    pub account: Option<String>,
    /// For an assumed role: the role's unique id (`sessionIssuer.principalId`,
    /// `AROA...`). Unlike its name, it is not given again to a role deleted
    /// and created anew under the same name.
    pub role_id: Option<String>,
}

impl Principal {
    pub(crate) fn is_root(&self) -> bool {
        self.kind == "Root"
    }

    /// Short form for subjects: `user/ci-deployer`, `assumed-role/ops/alice`,
    /// `the ROOT user`. Made of the event's own text, which people read:
    /// on one line, without control characters, at most 300 characters.
    pub(crate) fn short(&self) -> String {
        if self.is_root() {
            return "the ROOT user".into();
        }
        let text = match &self.arn {
            Some(arn) => arn
                .splitn(6, ':')
                .nth(5)
                .filter(|r| !r.is_empty())
                .unwrap_or(arn)
                .to_string(),
            None => match &self.name {
                Some(n) => format!("{} {n}", self.kind),
                None if self.kind == "unknown" => "an unknown principal".into(),
                None => format!("an unknown {} principal", self.kind),
            },
        };
        crate::domain::trigger::excerpt(&text)
    }

    /// The AWS service that launched on the account's behalf, when it was
    /// one: an `AWSService` identity, or a session of a service-linked role
    /// (only AWS can create those, under `/aws-service-role/`). A service that
    /// only forwarded a person's own credentials (CloudFormation, say) does
    /// not count: the person launched.
    pub fn service(&self) -> Option<String> {
        if self.kind == "AWSService" {
            return Some(
                self.invoked_by
                    .clone()
                    .unwrap_or_else(|| "an AWS service".into()),
            );
        }
        let issuer = self.issuer_arn.as_deref()?;
        if !issuer.contains(":role/aws-service-role/") {
            return None;
        }
        let role = issuer.rsplit('/').next().unwrap_or(issuer);
        let known = [
            ("AWSServiceRoleForAutoScaling", "EC2 Auto Scaling"),
            ("AWSServiceRoleForAmazonEKS", "Amazon EKS"),
            ("AWSServiceRoleForEC2Spot", "EC2 Spot"),
            ("AWSServiceRoleForEC2Fleet", "EC2 Fleet"),
            ("AWSServiceRoleForECS", "Amazon ECS"),
            ("AWSServiceRoleForBatch", "AWS Batch"),
            ("AWSServiceRoleForEMR", "Amazon EMR"),
            ("AWSServiceRoleForElasticBeanstalk", "Elastic Beanstalk"),
        ];
        Some(
            known
                .iter()
                .find(|(prefix, _)| role.starts_with(prefix))
                .map(|(_, name)| name.to_string())
                .unwrap_or_else(|| format!("the service behind {role}")),
        )
    }
}

/// One instance a call launched or started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Launched {
    pub id: String,
    pub instance_type: Option<String>,
    /// Its state before the call, as EC2 answered (`previousState.name`).
    pub previous_state: Option<String>,
    /// A spot instance's request (RunInstances with spot market options).
    pub spot_request: Option<String>,
}

impl Launched {
    /// Whether a StartInstances started it: EC2 answers success for an
    /// instance that was already running, and changes nothing.
    pub(crate) fn was_stopped(&self) -> bool {
        matches!(
            self.previous_state.as_deref(),
            Some("stopped") | Some("stopping")
        )
    }
}

/// What a launch call asked for and what it launched.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Launch {
    /// The instances the answer names (StartInstances: those asked for).
    pub instances: Vec<Launched>,
    /// Instance types the request names (a fleet may name several).
    pub requested_types: Vec<String>,
    /// How many instances the request asked for (1 when it does not say).
    pub requested_count: u32,
    /// Spot instance requests, spot fleet requests and EC2 fleets the call
    /// made: their instances are found by asking EC2.
    pub spot_requests: Vec<String>,
    pub spot_fleets: Vec<String>,
    pub fleets: Vec<String>,
    /// Tags the request put on the instances.
    pub tags: Tags,
}

/// A call's error, when it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallError {
    pub code: String,
    pub message: Option<String>,
}

impl CallError {
    /// A dry run that would have succeeded: a probe of what the key may do.
    pub(crate) fn is_dry_run(&self) -> bool {
        self.code == "Client.DryRunOperation" || self.code == "DryRunOperation"
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.message {
            Some(m) => write!(f, "{}: {}", self.code, m),
            None => f.write_str(&self.code),
        }
    }
}

/// A call that wrote or removed tags.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct TagWrite {
    /// `DeleteTags`, `RemoveTagsFromResource` and `UntagResource` remove;
    /// the others add or overwrite.
    pub removes: bool,
    /// EC2 resource ids (`i-...`, `sfr-...`), Auto Scaling group names, or
    /// the ARNs the other services tag by.
    pub resources: Vec<String>,
    /// The keys, with the value written (`None` for a removal). Empty for a
    /// `DeleteTags` that names no tag: every tag of the resources is removed.
    pub tags: Vec<(String, Option<String>)>,
    /// The resources whose names are shown cut or cleaned (control
    /// characters, runs of spaces, over 300 characters): a command naming
    /// them as shown would name another resource.
    pub inexact: Vec<String>,
}

/// `EnableRegion`: the region opted in to, and the account, when the
/// organization's management account enabled it for a member.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct RegionEnabled {
    /// `None` when the request does not name a valid region.
    pub region: Option<String>,
    pub account: Option<String>,
}

/// What kind of call it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CallKind {
    /// An EC2 call that launches or starts instances.
    Launch(Launch),
    /// Another first move of a stolen key: what it asked for.
    FirstMove(String),
    /// A call that created or grew compute other than EC2 instances.
    Compute(super::compute::ComputeCall),
    /// A write or removal of tags.
    Tagging(TagWrite),
    /// A region opted in to.
    EnableRegion(RegionEnabled),
}

/// One API call, from a CloudTrail event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiCall {
    pub event_name: String,
    pub event_source: String,
    /// The region the call was made in.
    pub region: String,
    pub account: Option<String>,
    pub time: Option<String>,
    pub event_id: Option<String>,
    pub principal: Principal,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub error: Option<CallError>,
    pub kind: CallKind,
}

impl ApiCall {
    /// `ec2:RunInstances`.
    pub fn action(&self) -> String {
        format!(
            "{}:{}",
            self.event_source.trim_end_matches(".amazonaws.com"),
            self.event_name
        )
    }

    pub fn launch(&self) -> Option<&Launch> {
        match &self.kind {
            CallKind::Launch(l) => Some(l),
            _ => None,
        }
    }

    /// Link to the event in the CloudTrail console.
    pub(crate) fn cloudtrail_link(&self) -> Option<String> {
        let id = self.event_id.as_deref()?;
        Some(format!(
            "https://{0}.console.aws.amazon.com/cloudtrail/home?region={0}#/events/{id}",
            self.region
        ))
    }
}

/// A GuardDuty finding about an EC2 instance.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Finding {
    pub id: String,
    /// `CryptoCurrency:EC2/BitcoinTool.B!DNS`, ...
    pub finding_type: String,
    pub title: Option<String>,
    pub severity: Option<f64>,
    pub region: String,
    pub account: Option<String>,
    pub time: Option<String>,
    pub instance_id: Option<String>,
    pub instance_type: Option<String>,
}

/// What launched an instance after the call that asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FleetKind {
    SpotRequest,
    SpotFleet,
    Fleet,
}

impl FleetKind {
    /// `spot request`, `Spot Fleet`, `EC2 Fleet`.
    pub fn label(self) -> &'static str {
        match self {
            FleetKind::SpotRequest => "spot request",
            FleetKind::SpotFleet => "Spot Fleet",
            FleetKind::Fleet => "EC2 Fleet",
        }
    }
}

/// EC2's event about an instance a spot request or a fleet launched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FleetLaunch {
    pub kind: FleetKind,
    /// `sir-...`, `sfr-...` or `fleet-...`.
    pub request: String,
    pub instance_id: String,
    pub instance_type: Option<String>,
    pub region: String,
    pub account: Option<String>,
    pub time: Option<String>,
}

impl Finding {
    /// A finding that means the instance is being used against the account:
    /// mining, or an EC2 impact finding.
    pub(crate) fn means_abuse(&self) -> bool {
        self.finding_type.starts_with("CryptoCurrency:")
            || self.finding_type.starts_with("Impact:EC2/")
    }
}

/// Parses an EventBridge event. An error means the event is malformed (not an
/// EventBridge event, no `detail`, a call without a region); a well-formed
/// event the tripwire does not watch is [`TripwireEvent::Ignored`].
pub(crate) fn parse_tripwire_event(event: &Value) -> Result<TripwireEvent, String> {
    let obj = event
        .as_object()
        .ok_or_else(|| "event is not a JSON object, so not an EventBridge event".to_string())?;
    let source =
        json_text(obj.get("source")).ok_or("event has no `source`: not an EventBridge event")?;
    let detail_type = json_text(obj.get("detail-type")).unwrap_or_default();
    let detail = obj
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or("event has no `detail` object")?;
    if FLEET_LAUNCH_EVENTS.contains(&(source.as_str(), detail_type.as_str())) {
        return parse_fleet_launch(obj, detail, &detail_type);
    }
    if source == "aws.guardduty" {
        return parse_finding(obj, detail).map(|f| match f {
            Some(f) => TripwireEvent::Finding(f),
            None => {
                TripwireEvent::Ignored("the GuardDuty finding is not about an EC2 instance".into())
            }
        });
    }
    if detail_type != "AWS API Call via CloudTrail" && detail.get("eventSource").is_none() {
        return Err(format!(
            "event from {} ({}) is neither a CloudTrail API call nor a GuardDuty finding",
            excerpt(&source),
            excerpt(&detail_type)
        ));
    }
    let event_name = json_text(detail.get("eventName")).ok_or("event has no `detail.eventName`")?;
    let event_source =
        json_text(detail.get("eventSource")).ok_or("event has no `detail.eventSource`")?;
    let region = json_text(detail.get("awsRegion"))
        .or_else(|| json_text(obj.get("region")))
        .ok_or("event has no `detail.awsRegion`: the region of the call is unknown")?;
    if !crate::domain::config::regions::is_region_name(&region) {
        return Err(format!(
            "`detail.awsRegion` {:?} is not a region name",
            excerpt(&region)
        ));
    }
    let request = detail.get("requestParameters").unwrap_or(&Value::Null);
    let response = detail.get("responseElements").unwrap_or(&Value::Null);
    let tag_call = TAG_CALLS
        .iter()
        .any(|(s, names)| *s == event_source && names.contains(&event_name.as_str()));
    let kind = if event_source == "ec2.amazonaws.com" && LAUNCH_CALLS.contains(&event_name.as_str())
    {
        CallKind::Launch(parse_launch(&event_name, request, response))
    } else if tag_call {
        CallKind::Tagging(parse_tag_write(&event_source, &event_name, request))
    } else if (event_source.as_str(), event_name.as_str()) == ENABLE_REGION {
        CallKind::EnableRegion(parse_enable_region(request))
    } else if let Some(c) =
        super::compute::compute_call(&event_source, &event_name, request, response)
    {
        CallKind::Compute(c)
    } else if let Some(what) = first_move(&event_source, &event_name, request) {
        CallKind::FirstMove(what)
    } else {
        return Ok(TripwireEvent::Ignored(format!(
            "{}:{} is not a call the tripwire watches (check the EventBridge rule's pattern)",
            excerpt(event_source.trim_end_matches(".amazonaws.com")),
            excerpt(&event_name)
        )));
    };
    let error = json_text(detail.get("errorCode")).map(|code| CallError {
        code: excerpt(&code),
        message: json_text(detail.get("errorMessage")).map(|m| excerpt(&m)),
    });
    Ok(TripwireEvent::Call(Box::new(ApiCall {
        event_name,
        event_source,
        region,
        account: json_text(obj.get("account"))
            .or_else(|| json_text(detail.get("recipientAccountId"))),
        time: json_text(detail.get("eventTime")).or_else(|| json_text(obj.get("time"))),
        event_id: json_text(detail.get("eventID")),
        principal: parse_principal(detail.get("userIdentity")),
        source_ip: json_text(detail.get("sourceIPAddress")),
        user_agent: json_text(detail.get("userAgent")),
        error,
        kind,
    })))
}

fn parse_principal(identity: Option<&Value>) -> Principal {
    let Some(i) = identity.filter(|i| i.is_object()) else {
        return Principal {
            kind: "unknown".into(),
            ..Default::default()
        };
    };
    let issuer = i.get("sessionContext").and_then(|s| s.get("sessionIssuer"));
    let kind = json_text(i.get("type")).unwrap_or_else(|| "unknown".into());
    let name = match kind.as_str() {
        "AssumedRole" => issuer.and_then(|s| json_text(s.get("userName"))),
        _ => json_text(i.get("userName")),
    };
    Principal {
        kind,
        arn: json_text(i.get("arn")),
        issuer_arn: issuer.and_then(|s| json_text(s.get("arn"))),
        name,
        access_key_id: json_text(i.get("accessKeyId")),
        invoked_by: json_text(i.get("invokedBy")),
        account: json_text(i.get("accountId")).filter(|a| is_account_id(a)),
        role_id: issuer
            .and_then(|s| json_text(s.get("principalId")))
            .filter(|id| crate::domain::config::tripwire::is_role_id(id)),
    }
}

/// Twelve digits.
pub(crate) fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.chars().all(|c| c.is_ascii_digit())
}

/// The values of a CloudTrail list in any of its shapes: an array, an
/// object holding `items` or `item`, or a single value.
fn items(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) => match o.get("items").or_else(|| o.get("item")) {
            Some(inner) => items(inner),
            None => vec![value],
        },
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// Every object below `value` (itself included), to a bounded depth.
fn objects<'a>(value: &'a Value, depth: usize, out: &mut Vec<&'a serde_json::Map<String, Value>>) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(o) => {
            out.push(o);
            for v in o.values() {
                objects(v, depth + 1, out);
            }
        }
        Value::Array(a) => {
            for v in a {
                objects(v, depth + 1, out);
            }
        }
        _ => {}
    }
}

/// A field of an object by name, whatever its case (CreateFleet capitalises).
fn field<'a>(o: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    o.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// An id as EC2 writes it: the prefix, then what EC2 puts after it.
fn ec2_id(value: Option<&Value>, prefix: &str) -> Option<String> {
    let id = json_text(value)?;
    let rest = id.strip_prefix(prefix)?;
    let ok = match prefix {
        // i- and 8 or 17 hexadecimal digits.
        "i-" => {
            (rest.len() == 8 || rest.len() == 17) && rest.chars().all(|c| c.is_ascii_hexdigit())
        }
        // Spot fleet requests and EC2 Fleets: a UUID.
        "sfr-" | "fleet-" => is_uuid(rest),
        // Spot instance requests: a short run of letters and digits.
        _ => {
            !rest.is_empty() && rest.len() <= 32 && rest.chars().all(|c| c.is_ascii_alphanumeric())
        }
    };
    ok.then_some(id)
}

/// Hexadecimal digits in groups of 8, 4, 4, 4 and 12, joined by dashes.
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// An instance type as EC2 writes them.
fn instance_type(value: Option<&Value>) -> Option<String> {
    let t = json_text(value)?;
    (t.len() <= 64
        && t.contains('.')
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.".contains(c)))
    .then_some(t)
}

fn parse_launch(event_name: &str, request: &Value, response: &Value) -> Launch {
    // requested_count is set at the end, from the request or the answer.
    let mut launch = Launch::default();
    let mut answer = Vec::new();
    objects(response, 0, &mut answer);
    let mut asked = Vec::new();
    objects(request, 0, &mut asked);

    let push = |launch: &mut Launch,
                id: String,
                t: Option<String>,
                previous: Option<String>,
                spot: Option<String>| {
        if launch.instances.len() < MAX_INSTANCES && !launch.instances.iter().any(|i| i.id == id) {
            launch.instances.push(Launched {
                id,
                instance_type: t,
                previous_state: previous,
                spot_request: spot,
            });
        }
    };
    // StartInstances' request names the instances; the answer does too, with
    // each one's state before the call (read first, so it is kept).
    let sources: Vec<&serde_json::Map<String, Value>> = if event_name == "StartInstances" {
        answer.iter().chain(asked.iter()).copied().collect()
    } else {
        answer.clone()
    };
    for o in &sources {
        let t = instance_type(field(o, "instanceType"));
        let previous = field(o, "previousState")
            .and_then(|p| p.as_object())
            .and_then(|p| json_text(field(p, "name")))
            .map(|n| excerpt(&n));
        // A spot request names its instance once fulfilled, so EC2 is asked
        // about the request; RunInstances names its spot instances with
        // their type, as it does the others.
        let spot = ec2_id(field(o, "spotInstanceRequestId"), "sir-");
        if spot.is_none() || event_name != "RequestSpotInstances" {
            if let Some(id) = ec2_id(field(o, "instanceId"), "i-") {
                push(&mut launch, id, t.clone(), previous, spot);
            }
        }
        if let Some(ids) = field(o, "instanceIds") {
            for id in items(ids) {
                if let Some(id) = ec2_id(Some(id), "i-") {
                    push(&mut launch, id, t.clone(), None, None);
                }
            }
        }
    }
    for o in &answer {
        if let Some(id) = ec2_id(field(o, "spotInstanceRequestId"), "sir-") {
            if !launch.spot_requests.contains(&id) {
                launch.spot_requests.push(id);
            }
        }
        if let Some(id) = ec2_id(field(o, "spotFleetRequestId"), "sfr-") {
            if !launch.spot_fleets.contains(&id) {
                launch.spot_fleets.push(id);
            }
        }
        if let Some(id) = ec2_id(field(o, "fleetId"), "fleet-") {
            if !launch.fleets.contains(&id) {
                launch.fleets.push(id);
            }
        }
    }
    let mut count = None;
    for o in &asked {
        if let Some(t) = instance_type(field(o, "instanceType")) {
            if !launch.requested_types.contains(&t) {
                launch.requested_types.push(t);
            }
        }
        for key in [
            "maxCount",
            "instanceCount",
            "targetCapacity",
            "totalTargetCapacity",
        ] {
            if count.is_none() {
                count = json_number(field(o, key))
                    .filter(|n| *n >= 1.0 && *n <= 1e6)
                    .map(|n| n as u32);
            }
        }
        if let Some(specs) = field(o, "tagSpecificationSet") {
            for spec in items(specs) {
                if json_text(spec.get("resourceType")).as_deref() != Some("instance") {
                    continue;
                }
                for tag in spec.get("tags").map(items).unwrap_or_default() {
                    if let Some(k) = json_text(tag.get("key")) {
                        let v = json_text(tag.get("value")).unwrap_or_default();
                        launch.tags.push((k, v));
                    }
                }
            }
        }
    }
    launch.requested_count = count.unwrap_or(match launch.instances.len() {
        0 => 1,
        n => n as u32,
    });
    launch
}

/// The resources and tags of a tag call. EC2's `CreateTags`/`DeleteTags`
/// name `resourcesSet` and `tagSet`; RDS's and Redshift's name
/// `resourceName` and `tags` (`tagKeys` to remove); ECS, SageMaker and EKS
/// `resourceArn` and `tags` (EKS's a map of key to value) or `tagKeys`;
/// Auto Scaling's `tags` each name their group in `resourceId`.
fn parse_tag_write(event_source: &str, event_name: &str, request: &Value) -> TagWrite {
    let mut write = TagWrite {
        removes: matches!(
            event_name,
            "DeleteTags" | "RemoveTagsFromResource" | "UntagResource"
        ),
        ..Default::default()
    };
    let Some(o) = request.as_object() else {
        return write;
    };
    let mut resources: Vec<&Value> = field(o, "resourcesSet").map(items).unwrap_or_default();
    resources.extend(field(o, "resourceName"));
    resources.extend(field(o, "resourceArn"));
    if let Some(Value::Array(tags)) = field(o, "tags") {
        resources.extend(
            tags.iter()
                .filter_map(|t| t.as_object().and_then(|t| field(t, "resourceId"))),
        );
    }
    for r in resources {
        let id = match r {
            Value::Object(r) => json_text(field(r, "resourceId")),
            other => json_text(Some(other)),
        };
        if let Some(raw) = id {
            let id = excerpt(&raw);
            if write.resources.len() < MAX_TAGGED && !write.resources.contains(&id) {
                if id != raw {
                    write.inexact.push(id.clone());
                }
                write.resources.push(id);
            }
        }
    }
    // EKS writes tags as a map of key to value, whatever the keys are
    // called (a tag named `items` is a tag).
    let eks = event_source == "eks.amazonaws.com";
    let map: Vec<Value> = match field(o, "tags") {
        Some(Value::Object(m)) if eks => m
            .iter()
            .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
            .collect(),
        _ => Vec::new(),
    };
    let mut tags: Vec<&Value> = field(o, "tagSet").map(items).unwrap_or_default();
    if !eks {
        tags.extend(field(o, "tags").map(items).unwrap_or_default());
    }
    tags.extend(map.iter());
    tags.extend(field(o, "tagKeys").map(items).unwrap_or_default());
    for t in tags {
        let (key, value) = match t {
            Value::Object(t) => (
                json_text(field(t, "key")),
                json_text(field(t, "value")).or_else(|| {
                    // An empty value is a value: `Key=cost-guard-exempt,Value=`.
                    field(t, "value")
                        .filter(|v| v.as_str() == Some(""))
                        .map(|_| String::new())
                }),
            ),
            other => (json_text(Some(other)), None),
        };
        if let Some(key) = key {
            if write.tags.len() < MAX_TAGGED {
                let value = if write.removes { None } else { value };
                write.tags.push((excerpt(&key), value.map(|v| excerpt(&v))));
            }
        }
    }
    write
}

/// `EnableRegion`'s region and, when the management account enabled it for a
/// member, that account.
fn parse_enable_region(request: &Value) -> RegionEnabled {
    let o = request.as_object();
    let text = |key: &str| o.and_then(|o| json_text(field(o, key)));
    RegionEnabled {
        region: text("regionName").filter(|r| crate::domain::config::regions::is_region_name(r)),
        account: text("accountId").filter(|a| is_account_id(a)),
    }
}

/// EC2's event about an instance a spot request or a fleet launched: the
/// request's id from the detail (spot requests) or from the event's
/// `resources` (fleets), the instance's from the detail. Only a `launched`
/// instance change is one; the other sub-types are ignored.
fn parse_fleet_launch(
    obj: &serde_json::Map<String, Value>,
    detail: &Value,
    detail_type: &str,
) -> Result<TripwireEvent, String> {
    let region = json_text(obj.get("region"))
        .filter(|r| crate::domain::config::regions::is_region_name(r))
        .ok_or_else(|| format!("{detail_type} event has no region name in `region`"))?;
    let kind = match detail_type {
        "EC2 Spot Instance Request Fulfillment" => FleetKind::SpotRequest,
        "EC2 Spot Fleet Instance Change" => FleetKind::SpotFleet,
        _ => FleetKind::Fleet,
    };
    if kind != FleetKind::SpotRequest {
        let sub_type = json_text(detail.get("sub-type")).unwrap_or_default();
        if sub_type != "launched" {
            return Ok(TripwireEvent::Ignored(format!(
                "{detail_type} `{}`: only a launched instance is acted on",
                excerpt(&sub_type)
            )));
        }
    }
    let prefix = match kind {
        FleetKind::SpotRequest => "sir-",
        FleetKind::SpotFleet => "sfr-",
        FleetKind::Fleet => "fleet-",
    };
    let from_resources = || {
        obj.get("resources")
            .map(items)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| json_text(Some(r)))
            .find_map(|arn| {
                let id = arn
                    .rsplit('/')
                    .next()
                    .map(|id| Value::String(id.to_string()));
                ec2_id(id.as_ref(), prefix)
            })
    };
    let request = match kind {
        FleetKind::SpotRequest => ec2_id(detail.get("spot-instance-request-id"), prefix),
        _ => None,
    }
    .or_else(from_resources)
    .ok_or_else(|| format!("{detail_type} event names no {prefix}... request"))?;
    let instance_id = ec2_id(detail.get("instance-id"), "i-")
        .ok_or_else(|| format!("{detail_type} event has no instance id in `detail.instance-id`"))?;
    // Fleets describe the instance in a JSON string: {"instanceType": ...}.
    let instance_type = json_text(detail.get("description"))
        .and_then(|d| serde_json::from_str::<Value>(&d).ok())
        .and_then(|d| instance_type(d.get("instanceType")));
    Ok(TripwireEvent::FleetLaunch(FleetLaunch {
        kind,
        request,
        instance_id,
        instance_type,
        region,
        account: json_text(obj.get("account")),
        time: json_text(obj.get("time")),
    }))
}

/// What another first move created or asked for, when it is one the tripwire watches.
fn first_move(event_source: &str, event_name: &str, request: &Value) -> Option<String> {
    let (_, names) = FIRST_MOVES.iter().find(|(s, _)| *s == event_source)?;
    if !names.contains(&event_name) {
        return None;
    }
    // Numbers as people write them: 512, not 512.0.
    let text = |key: &str| -> Option<String> {
        let v = request.as_object().and_then(|o| field(o, key))?;
        match json_number(Some(v)) {
            Some(n) if v.is_number() && n.fract() == 0.0 && n.abs() < 1e15 => {
                Some(format!("{}", n as i64))
            }
            _ => json_text(Some(v)).map(|t| excerpt(&t)),
        }
    };
    Some(match event_name {
        "RequestServiceQuotaIncrease" => {
            let service = text("serviceCode").unwrap_or_default();
            if !WATCHED_QUOTA_SERVICES.contains(&service.as_str()) {
                return None;
            }
            format!(
                "an increase of {service} quota {} to {}",
                text("quotaCode").unwrap_or_else(|| "(unknown)".into()),
                text("desiredValue").unwrap_or_else(|| "(unknown)".into())
            )
        }
        _ => return None,
    })
}

fn parse_finding(
    obj: &serde_json::Map<String, Value>,
    detail: &Value,
) -> Result<Option<Finding>, String> {
    let finding_type =
        json_text(detail.get("type")).ok_or("GuardDuty finding has no `detail.type`")?;
    let resource = detail.get("resource");
    let resource_type = resource.and_then(|r| json_text(r.get("resourceType")));
    let instance = resource.and_then(|r| r.get("instanceDetails"));
    let instance_id = instance.and_then(|i| ec2_id(i.get("instanceId"), "i-"));
    if resource_type.as_deref() != Some("Instance") && instance_id.is_none() {
        return Ok(None);
    }
    let region = json_text(detail.get("region"))
        .or_else(|| json_text(obj.get("region")))
        .filter(|r| crate::domain::config::regions::is_region_name(r))
        .ok_or("GuardDuty finding has no region name in `detail.region`")?;
    Ok(Some(Finding {
        id: json_text(detail.get("id"))
            .map(|i| excerpt(&i))
            .unwrap_or_else(|| "unknown".into()),
        finding_type: excerpt(&finding_type),
        title: json_text(detail.get("title")).map(|t| excerpt(&t)),
        severity: json_number(detail.get("severity")),
        region,
        account: json_text(detail.get("accountId")).or_else(|| json_text(obj.get("account"))),
        time: json_text(detail.get("updatedAt")).or_else(|| json_text(obj.get("time"))),
        instance_id,
        instance_type: instance.and_then(|i| instance_type(i.get("instanceType"))),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(name: &str) -> Value {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    fn call(name: &str) -> ApiCall {
        match parse_tripwire_event(&sample(name)).unwrap() {
            TripwireEvent::Call(c) => *c,
            other => panic!("{name}: {other:?}"),
        }
    }

    fn ids(l: &Launch) -> Vec<&str> {
        l.instances.iter().map(|i| i.id.as_str()).collect()
    }

    #[test]
    fn the_small_readings_reports_rely_on() {
        // The console link to the event itself.
        let c = call("tripwire-run-instances.json");
        let id = c.event_id.clone().expect("the sample has an event id");
        assert_eq!(
            c.cloudtrail_link().as_deref(),
            Some(format!("https://sa-east-1.console.aws.amazon.com/cloudtrail/home?region=sa-east-1#/events/{id}").as_str())
        );
        let mut v = sample("tripwire-run-instances.json");
        v["detail"].as_object_mut().unwrap().remove("eventID");
        assert_eq!(call_of(&v).cloudtrail_link(), None);
        // A CloudTrail record under another detail-type is still a call.
        let mut v = sample("tripwire-run-instances.json");
        v["detail-type"] = json!("AWS Service Event via CloudTrail");
        assert_eq!(
            ids(call_of(&v).launch().unwrap()).len(),
            ids(c.launch().unwrap()).len()
        );
        // A principal with neither ARN nor name.
        let nobody = |kind: &str| Principal {
            kind: kind.into(),
            arn: None,
            issuer_arn: None,
            name: None,
            access_key_id: None,
            invoked_by: None,
            account: None,
            role_id: None,
        };
        assert_eq!(nobody("unknown").short(), "an unknown principal");
        assert_eq!(
            nobody("WebIdentityUser").short(),
            "an unknown WebIdentityUser principal"
        );
        assert_eq!(
            [
                FleetKind::SpotRequest,
                FleetKind::SpotFleet,
                FleetKind::Fleet
            ]
            .map(FleetKind::label),
            ["spot request", "Spot Fleet", "EC2 Fleet"]
        );
        for (text, ok) in [
            ("123456789012", true),
            ("12345678901", false),
            ("1234567890123", false),
            ("12345678901a", false),
            ("", false),
        ] {
            assert_eq!(is_account_id(text), ok, "{text}");
        }
    }

    #[test]
    fn an_answer_is_read_to_its_depth_limit_and_no_further() {
        // Objects and arrays each count as a level.
        let nested = |depth: usize| {
            let mut v = json!({"instanceId": "i-0a1b2c3d4e5f60001", "instanceType": "p3.2xlarge"});
            for level in 0..depth {
                v = if level % 2 == 0 {
                    json!([v])
                } else {
                    json!({ "x": v })
                };
            }
            v
        };
        let mut v = sample("tripwire-run-instances.json");
        v["detail"]["responseElements"] = nested(MAX_DEPTH);
        assert_eq!(ids(call_of(&v).launch().unwrap()), ["i-0a1b2c3d4e5f60001"]);
        v["detail"]["responseElements"] = nested(MAX_DEPTH + 1);
        assert!(ids(call_of(&v).launch().unwrap()).is_empty());
    }

    #[test]
    fn types_counts_and_lists_are_read_within_bounds() {
        let t = |v: Value| instance_type(Some(&v));
        assert_eq!(t(json!("p3.2xlarge")), Some("p3.2xlarge".into()));
        assert_eq!(t(json!("u-6tb1.metal")), Some("u-6tb1.metal".into()));
        assert_eq!(t(json!("p32xlarge")), None);
        assert_eq!(t(json!("p3.2x large")), None);
        assert_eq!(t(json!(format!("p3.{}", "x".repeat(62)))), None);
        // The count asked for: 1 to a million, else what the answer lists.
        let asked = |n: Value| {
            let mut v = sample("tripwire-run-instances.json");
            v["detail"]["requestParameters"]["instancesSet"]["items"][0]["maxCount"] = n;
            call_of(&v).launch().unwrap().requested_count
        };
        let listed = ids(call("tripwire-run-instances.json").launch().unwrap()).len() as u32;
        assert_eq!(asked(json!(7)), 7);
        assert_eq!(asked(json!(0)), listed);
        assert_eq!(asked(json!(2_000_000)), listed);
        // At most MAX_INSTANCES instances and MAX_TAGGED resources.
        let many: Vec<Value> = (0..=MAX_INSTANCES)
            .map(|n| json!({"instanceId": format!("i-{n:017x}"), "instanceType": "t3.micro"}))
            .collect();
        let mut v = sample("tripwire-run-instances.json");
        v["detail"]["responseElements"]["instancesSet"]["items"] = json!(many);
        assert_eq!(call_of(&v).launch().unwrap().instances.len(), MAX_INSTANCES);
        let resources: Vec<Value> = (0..=MAX_TAGGED)
            .map(|n| json!({"resourceId": format!("i-{n:017x}")}))
            .collect();
        let mut v = sample("tripwire-exempt-tag-added.json");
        v["detail"]["requestParameters"]["resourcesSet"]["items"] = json!(resources);
        let CallKind::Tagging(w) = call_of(&v).kind else {
            panic!()
        };
        assert_eq!(w.resources.len(), MAX_TAGGED);
        let tags: Vec<Value> = (0..=MAX_TAGGED)
            .map(|n| json!({"key": format!("k{n}"), "value": "v"}))
            .collect();
        let mut v = sample("tripwire-exempt-tag-added.json");
        v["detail"]["requestParameters"]["tagSet"]["items"] = json!(tags);
        let CallKind::Tagging(w) = call_of(&v).kind else {
            panic!()
        };
        assert_eq!(w.tags.len(), MAX_TAGGED);
    }

    #[test]
    fn a_finding_is_about_an_instance_when_either_its_type_or_its_details_say_so() {
        let finding = |edit: &dyn Fn(&mut Value)| {
            let mut v = sample("guardduty-crypto-finding.json");
            edit(&mut v);
            parse_tripwire_event(&v).unwrap()
        };
        let about = |e: TripwireEvent| match e {
            TripwireEvent::Finding(f) => f.instance_id,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            about(finding(
                &|v| v["detail"]["resource"]["resourceType"] = json!("AccessKey")
            ))
            .as_deref(),
            Some("i-0b1c2d3e4f5a60007")
        );
        assert_eq!(
            about(finding(&|v| {
                v["detail"]["resource"]["instanceDetails"]
                    .as_object_mut()
                    .unwrap()
                    .remove("instanceId");
            })),
            None
        );
        assert!(matches!(
            finding(&|v| {
                v["detail"]["resource"]["resourceType"] = json!("AccessKey");
                v["detail"]["resource"]
                    .as_object_mut()
                    .unwrap()
                    .remove("instanceDetails");
            }),
            TripwireEvent::Ignored(_)
        ));
    }

    #[test]
    fn a_quota_asked_for_is_written_as_people_write_numbers() {
        let asked = |value: Value| {
            let mut v = sample("tripwire-quota-increase.json");
            v["detail"]["requestParameters"]["desiredValue"] = value;
            match call_of(&v).kind {
                CallKind::FirstMove(what) => what,
                other => panic!("{other:?}"),
            }
        };
        assert!(asked(json!(512.0)).ends_with(" to 512"));
        assert!(asked(json!(2.5)).ends_with(" to 2.5"));
        assert!(asked(json!("2.0")).ends_with(" to 2.0"));
        assert!(
            asked(json!(1e15)).ends_with(" to 1000000000000000.0"),
            "{}",
            asked(json!(1e15))
        );
    }

    #[test]
    fn only_eks_writes_its_tags_as_a_map() {
        // EC2's tags are a list; a map there is not read as tags.
        let mut v = sample("tripwire-exempt-tag-added.json");
        let params = &mut v["detail"]["requestParameters"];
        params.as_object_mut().unwrap().remove("tagSet");
        params["tags"] = json!({"cost-guard-exempt": "true"});
        let CallKind::Tagging(w) = call_of(&v).kind else {
            panic!()
        };
        assert!(w.tags.is_empty(), "{w:?}");
    }

    #[test]
    fn run_instances_with_several_instances() {
        let c = call("tripwire-run-instances.json");
        assert_eq!(c.action(), "ec2:RunInstances");
        assert_eq!(c.region, "sa-east-1");
        assert_eq!(c.error, None);
        assert_eq!(c.principal.kind, "IAMUser");
        assert_eq!(c.principal.short(), "user/ci-deployer");
        assert_eq!(c.principal.name.as_deref(), Some("ci-deployer"));
        assert_eq!(
            c.principal.access_key_id.as_deref(),
            Some("AKIAIOSFODNN7EXAMPLE")
        );
        assert_eq!(c.principal.service(), None);
        let l = c.launch().unwrap();
        assert_eq!(
            ids(l),
            [
                "i-0a1b2c3d4e5f60001",
                "i-0a1b2c3d4e5f60002",
                "i-0a1b2c3d4e5f60003"
            ]
        );
        assert!(l
            .instances
            .iter()
            .all(|i| i.instance_type.as_deref() == Some("p3.2xlarge")));
        assert_eq!(l.requested_types, ["p3.2xlarge"]);
        assert_eq!(l.requested_count, 3);
        assert!(l.tags.contains(&("Name".into(), "render-farm".into())));
    }

    #[test]
    fn a_failed_launch_launched_nothing() {
        let c = call("tripwire-run-instances-failed.json");
        let e = c.error.as_ref().unwrap();
        assert_eq!(e.code, "Client.VcpuLimitExceeded");
        assert!(!e.is_dry_run());
        let l = c.launch().unwrap();
        assert!(l.instances.is_empty());
        assert_eq!(l.requested_types, ["p4d.24xlarge"]);
        assert_eq!(l.requested_count, 8);
        let probe = call("tripwire-dry-run-probe.json");
        assert!(probe.error.unwrap().is_dry_run());
    }

    #[test]
    fn start_instances_names_the_instances_without_types() {
        let c = call("tripwire-start-instances.json");
        let l = c.launch().unwrap();
        assert_eq!(ids(l), ["i-0f00000000000beef"]);
        assert_eq!(l.instances[0].instance_type, None);
        assert_eq!(c.principal.kind, "AssumedRole");
        assert_eq!(c.principal.name.as_deref(), Some("contractor"));
        assert_eq!(
            c.principal.issuer_arn.as_deref(),
            Some("arn:aws:iam::123456789012:role/contractor")
        );
    }

    #[test]
    fn create_fleet_in_cloudtrails_item_shape() {
        let c = call("tripwire-create-fleet.json");
        let l = c.launch().unwrap();
        assert_eq!(ids(l), ["i-0c0ffee0000000001", "i-0c0ffee0000000002"]);
        assert!(l
            .instances
            .iter()
            .all(|i| i.instance_type.as_deref() == Some("g5.12xlarge")));
        assert_eq!(l.fleets, ["fleet-8a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d"]);
        assert_eq!(l.requested_types, ["g5.12xlarge"]);
        assert_eq!(l.requested_count, 2);
    }

    #[test]
    fn a_spot_request_names_requests_not_instances() {
        let c = call("tripwire-spot-request.json");
        let l = c.launch().unwrap();
        assert!(l.instances.is_empty());
        assert_eq!(l.spot_requests, ["sir-4f2a8b1c"]);
        assert_eq!(l.requested_types, ["g4dn.12xlarge"]);
        assert_eq!(l.requested_count, 4);
    }

    #[test]
    fn an_auto_scaling_launch_is_the_services() {
        let c = call("tripwire-autoscaling-launch.json");
        assert_eq!(c.principal.service().as_deref(), Some("EC2 Auto Scaling"));
        let l = c.launch().unwrap();
        assert_eq!(ids(l), ["i-0a5c0000000000001"]);
        assert!(l
            .tags
            .iter()
            .any(|(k, v)| k == "aws:autoscaling:groupName" && v == "inference"));
    }

    #[test]
    fn a_root_launch() {
        let c = call("tripwire-root-launch.json");
        assert!(c.principal.is_root());
        assert_eq!(c.principal.short(), "the ROOT user");
        assert_eq!(c.region, "ap-south-1");
    }

    #[test]
    fn first_moves() {
        let c = call("tripwire-quota-increase.json");
        assert_eq!(
            c.kind,
            CallKind::FirstMove("an increase of ec2 quota L-417A185B to 512".into())
        );
        // Another service's quota is not watched.
        let mut other = sample("tripwire-quota-increase.json");
        other["detail"]["requestParameters"]["serviceCode"] = json!("s3");
        assert!(matches!(
            parse_tripwire_event(&other).unwrap(),
            TripwireEvent::Ignored(_)
        ));
    }

    #[test]
    fn a_guardduty_crypto_finding() {
        let TripwireEvent::Finding(f) =
            parse_tripwire_event(&sample("guardduty-crypto-finding.json")).unwrap()
        else {
            panic!()
        };
        assert!(f.means_abuse());
        assert_eq!(f.instance_id.as_deref(), Some("i-0b1c2d3e4f5a60007"));
        assert_eq!(f.instance_type.as_deref(), Some("g4dn.xlarge"));
        assert_eq!(f.region, "eu-west-1");
        assert_eq!(f.severity, Some(8.0));
        let mut other = sample("guardduty-crypto-finding.json");
        other["detail"]["type"] = json!("Recon:EC2/PortProbeUnprotectedPort");
        let TripwireEvent::Finding(f) = parse_tripwire_event(&other).unwrap() else {
            panic!()
        };
        assert!(!f.means_abuse());
        let mut bucket = sample("guardduty-crypto-finding.json");
        bucket["detail"]["resource"] = json!({"resourceType": "S3Bucket"});
        assert!(matches!(
            parse_tripwire_event(&bucket).unwrap(),
            TripwireEvent::Ignored(_)
        ));
    }

    #[test]
    fn every_optional_field_can_be_missing_or_null() {
        let c = call("tripwire-run-instances-minimal.json");
        assert_eq!(c.principal.kind, "unknown");
        assert_eq!(c.principal.short(), "an unknown principal");
        let l = c.launch().unwrap();
        assert_eq!(ids(l), ["i-0d00000000000000a"]);
        assert_eq!(l.requested_count, 1);
        let full = sample("tripwire-run-instances.json");
        for field in [
            "userIdentity",
            "sourceIPAddress",
            "userAgent",
            "eventID",
            "eventTime",
            "requestParameters",
            "responseElements",
            "errorCode",
        ] {
            let mut missing = full.clone();
            missing["detail"].as_object_mut().unwrap().remove(field);
            assert!(matches!(
                parse_tripwire_event(&missing),
                Ok(TripwireEvent::Call(_))
            ));
            let mut null = full.clone();
            null["detail"][field] = Value::Null;
            assert!(matches!(
                parse_tripwire_event(&null),
                Ok(TripwireEvent::Call(_))
            ));
        }
    }

    #[test]
    fn ids_that_are_not_ec2_ids_are_not_read() {
        // Found by fuzzing: an alphanumeric "id" of the wrong length and
        // letters was taken for an instance id and would have been stopped.
        for bad in [
            "i-0abc; rm -rf /",
            "i-0d0ownerId0000000000000a",
            "i-0abc",
            "i-",
        ] {
            let mut v = sample("tripwire-run-instances.json");
            v["detail"]["responseElements"]["instancesSet"]["items"][0]["instanceId"] = json!(bad);
            let c = match parse_tripwire_event(&v).unwrap() {
                TripwireEvent::Call(c) => *c,
                other => panic!("{other:?}"),
            };
            let ids: Vec<&str> = c
                .launch()
                .unwrap()
                .instances
                .iter()
                .map(|i| i.id.as_str())
                .collect();
            assert_eq!(ids.len(), 2, "{bad} was read: {ids:?}");
            assert!(!ids.contains(&bad));
        }
        for good in ["i-1234abcd", "i-0a1b2c3d4e5f60001"] {
            let mut v = sample("tripwire-run-instances.json");
            v["detail"]["responseElements"]["instancesSet"]["items"][0]["instanceId"] = json!(good);
            let TripwireEvent::Call(c) = parse_tripwire_event(&v).unwrap() else {
                panic!("a call")
            };
            assert_eq!(c.launch().unwrap().instances[0].id, good);
        }
    }

    #[test]
    fn a_sessions_role_is_known_by_its_unique_id_and_account() {
        let c = call("tripwire-start-instances.json");
        assert_eq!(
            c.principal.role_id.as_deref(),
            Some("AROAEXAMPLEROLEID12345")
        );
        assert_eq!(c.principal.account.as_deref(), Some("123456789012"));
        let user = call("tripwire-run-instances.json");
        assert_eq!(user.principal.role_id, None, "a user has no role id");
        for bad in ["AIDAJQABLZS4A3QDU576Q", "AROA", "AROAabc123", "AROAX; rm"] {
            let mut v = sample("tripwire-start-instances.json");
            v["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["principalId"] =
                json!(bad);
            assert_eq!(call_of(&v).principal.role_id, None, "{bad}");
        }
    }

    fn call_of(v: &Value) -> ApiCall {
        match parse_tripwire_event(v).unwrap() {
            TripwireEvent::Call(c) => *c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn spot_instances_of_run_instances_are_named_with_their_requests() {
        let mut v = sample("tripwire-run-instances.json");
        v["detail"]["responseElements"]["instancesSet"]["items"][0]["spotInstanceRequestId"] =
            json!("sir-0a1b2c3d");
        let c = call_of(&v);
        let l = c.launch().unwrap();
        assert_eq!(l.instances.len(), 3, "the spot instance is named too");
        assert_eq!(l.instances[0].spot_request.as_deref(), Some("sir-0a1b2c3d"));
        assert_eq!(l.spot_requests, ["sir-0a1b2c3d"]);
        // A spot request's own answer: EC2 is asked about the request.
        let spot = call("tripwire-spot-request.json");
        assert!(spot.launch().unwrap().instances.is_empty());
    }

    #[test]
    fn a_start_says_what_each_instance_was_before() {
        let c = call("tripwire-start-instances.json");
        let i = &c.launch().unwrap().instances[0];
        assert_eq!(i.previous_state.as_deref(), Some("stopped"));
        assert!(i.was_stopped());
        let mut v = sample("tripwire-start-instances.json");
        v["detail"]["responseElements"]["instancesSet"]["items"][0]["previousState"]["name"] =
            json!("running");
        let c = call_of(&v);
        assert!(!c.launch().unwrap().instances[0].was_stopped());
        // Named only in the request (no answer): nothing says it was stopped.
        v["detail"]["responseElements"] = Value::Null;
        let c = call_of(&v);
        assert_eq!(c.launch().unwrap().instances[0].previous_state, None);
        assert!(!c.launch().unwrap().instances[0].was_stopped());
    }

    #[test]
    fn tag_writes_in_ec2s_and_rdss_shapes() {
        let c = call("tripwire-exempt-tag-added.json");
        let CallKind::Tagging(w) = &c.kind else {
            panic!("{:?}", c.kind)
        };
        assert!(!w.removes);
        assert_eq!(w.resources, ["i-0d1e2f3a4b5c60009"]);
        assert_eq!(
            w.tags,
            [("cost-guard-exempt".to_string(), Some("true".to_string()))]
        );
        let c = call("tripwire-stamp-removed.json");
        let CallKind::Tagging(w) = &c.kind else {
            panic!("{:?}", c.kind)
        };
        assert!(w.removes);
        assert_eq!(
            w.resources,
            ["arn:aws:rds:eu-west-1:123456789012:db:analytics-db"]
        );
        assert_eq!(
            w.tags,
            [
                ("cost-guard:stopped-at".to_string(), None),
                ("cost-guard:stopped-by".to_string(), None)
            ]
        );
        // RDS's AddTagsToResource, an empty value, and a DeleteTags of every tag.
        let mut v = sample("tripwire-stamp-removed.json");
        v["detail"]["eventName"] = json!("AddTagsToResource");
        v["detail"]["requestParameters"] = json!({
            "resourceName": "arn:aws:rds:eu-west-1:123456789012:db:analytics-db",
            "tags": [{"key": "cost-guard-exempt", "value": ""}]
        });
        let CallKind::Tagging(w) = call_of(&v).kind else {
            panic!()
        };
        assert_eq!(
            w.tags,
            [("cost-guard-exempt".to_string(), Some(String::new()))]
        );
        let mut v = sample("tripwire-exempt-tag-added.json");
        v["detail"]["eventName"] = json!("DeleteTags");
        v["detail"]["requestParameters"]
            .as_object_mut()
            .unwrap()
            .remove("tagSet");
        let CallKind::Tagging(w) = call_of(&v).kind else {
            panic!()
        };
        assert!(w.removes && w.tags.is_empty());
    }

    #[test]
    fn a_spot_fleet_request_names_its_fleet_and_the_type_asked_for() {
        let c = call("tripwire-spot-fleet-request.json");
        let l = c.launch().unwrap();
        assert_eq!(l.spot_fleets, ["sfr-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"]);
        assert_eq!(l.requested_types, ["p3.8xlarge"]);
        assert!(l.instances.is_empty(), "a fleet's instances come later");
    }

    #[test]
    fn an_impact_finding_about_an_instance_means_abuse() {
        let TripwireEvent::Finding(f) =
            parse_tripwire_event(&sample("guardduty-impact-finding.json")).unwrap()
        else {
            panic!()
        };
        assert!(
            f.finding_type.starts_with("Impact:EC2/"),
            "{}",
            f.finding_type
        );
        assert!(f.means_abuse());
    }

    #[test]
    fn tag_writes_in_the_other_kinds_shapes() {
        let written = |file: &str| {
            let c = call(file);
            let CallKind::Tagging(w) = c.kind else {
                panic!("{file}: {:?}", c.kind)
            };
            w
        };
        let pairs = |w: &TagWrite| -> Vec<(String, Option<String>)> { w.tags.clone() };
        let w = written("tripwire-group-exempt-tag-added.json");
        assert_eq!(
            (w.removes, w.resources.as_slice()),
            (false, ["render-farm".to_string()].as_slice())
        );
        assert_eq!(
            pairs(&w),
            [("cost-guard-exempt".into(), Some("true".into()))]
        );
        let w = written("tripwire-group-stamp-removed.json");
        assert_eq!(
            (w.removes, w.resources.as_slice()),
            (true, ["web".to_string()].as_slice())
        );
        assert_eq!(
            pairs(&w),
            [
                ("cost-guard:stopped-at".into(), None),
                ("cost-guard:stopped-by".into(), None)
            ]
        );
        let w = written("tripwire-service-saved-tag-written.json");
        assert_eq!(
            w.resources,
            ["arn:aws:ecs:eu-west-1:123456789012:service/prod/api"]
        );
        assert_eq!(
            pairs(&w),
            [("cost-guard:saved".into(), Some("desired=500".into()))]
        );
        let w = written("tripwire-service-stamp-removed.json");
        assert!(w.removes);
        assert_eq!(w.tags.len(), 2);
        let w = written("tripwire-notebook-stamp-written.json");
        assert_eq!(
            w.resources,
            ["arn:aws:sagemaker:eu-west-1:123456789012:notebook-instance/thesis"]
        );
        assert_eq!(
            w.tags[1],
            (
                "cost-guard:stopped-by".into(),
                Some("budget:student-monthly".into())
            )
        );
        let w = written("tripwire-redshift-exempt-tag-added.json");
        assert_eq!(
            w.resources,
            ["arn:aws:redshift:eu-west-1:123456789012:cluster:dw"]
        );
        let w = written("tripwire-node-group-saved-tag-written.json");
        assert_eq!(
            pairs(&w),
            [(
                "cost-guard:saved".into(),
                Some("min=1 desired=40 max=40".into())
            )]
        );
        // An EKS tag named like EC2's wrapper is a tag, not a wrapper.
        let mut v = sample("tripwire-node-group-saved-tag-written.json");
        v["detail"]["requestParameters"]["tags"] = json!({"items": "cost-guard:saved"});
        let CallKind::Tagging(w) = call_of(&v).kind else {
            panic!()
        };
        assert_eq!(
            pairs(&w),
            [("items".into(), Some("cost-guard:saved".into()))]
        );
    }

    #[test]
    fn enable_region_names_the_region_and_the_member_account() {
        let c = call("tripwire-enable-region.json");
        assert_eq!(
            c.kind,
            CallKind::EnableRegion(RegionEnabled {
                region: Some("ap-east-1".into()),
                account: None
            })
        );
        let mut v = sample("tripwire-enable-region.json");
        v["detail"]["requestParameters"] =
            json!({"regionName": "me-central-1", "accountId": "222222222222"});
        assert_eq!(
            call_of(&v).kind,
            CallKind::EnableRegion(RegionEnabled {
                region: Some("me-central-1".into()),
                account: Some("222222222222".into())
            })
        );
        v["detail"]["requestParameters"] = json!({"RegionName": "not a region\n"});
        assert_eq!(
            call_of(&v).kind,
            CallKind::EnableRegion(RegionEnabled::default())
        );
    }

    #[test]
    fn ec2s_events_about_what_a_request_or_fleet_launched() {
        let TripwireEvent::FleetLaunch(l) =
            parse_tripwire_event(&sample("tripwire-spot-fleet-launched.json")).unwrap()
        else {
            panic!()
        };
        assert_eq!(l.kind, FleetKind::SpotFleet);
        assert_eq!(l.request, "sfr-8f3c2b1a-4d5e-4f6a-9b7c-0d1e2f3a4b5c");
        assert_eq!(l.instance_id, "i-0c7d8e9f0a1b2c3d4");
        assert_eq!(l.instance_type.as_deref(), Some("g4dn.12xlarge"));
        assert_eq!(l.region, "us-west-2");
        let TripwireEvent::FleetLaunch(l) =
            parse_tripwire_event(&sample("tripwire-spot-fulfilled.json")).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (l.kind, l.request.as_str(), l.instance_id.as_str()),
            (
                FleetKind::SpotRequest,
                "sir-4f2a8b1c",
                "i-0e1f2a3b4c5d6e7f8"
            )
        );
        // An EC2 Fleet's, from its resources.
        let mut v = sample("tripwire-spot-fleet-launched.json");
        v["source"] = json!("aws.ec2fleet");
        v["detail-type"] = json!("EC2 Fleet Instance Change");
        v["resources"] = json!([
            "arn:aws:ec2:us-west-2:123456789012:fleet/fleet-598fb973-87b7-422d-be4d-6b0809bfff0a"
        ]);
        let TripwireEvent::FleetLaunch(l) = parse_tripwire_event(&v).unwrap() else {
            panic!()
        };
        assert_eq!(
            (l.kind, l.request.as_str()),
            (
                FleetKind::Fleet,
                "fleet-598fb973-87b7-422d-be4d-6b0809bfff0a"
            )
        );
        // Other changes are not launches; a bad id is an error that says so.
        let mut v = sample("tripwire-spot-fleet-launched.json");
        v["detail"]["sub-type"] = json!("terminated");
        assert!(matches!(
            parse_tripwire_event(&v).unwrap(),
            TripwireEvent::Ignored(why) if why.contains("only a launched instance")
        ));
        let mut v = sample("tripwire-spot-fulfilled.json");
        v["detail"]["instance-id"] = json!("i-not-hex");
        let err = parse_tripwire_event(&v).unwrap_err();
        assert!(err.contains("no instance id"), "{err}");
        // EC2 writes 8 or 17 hexadecimal digits, nothing between.
        for (digits, ok) in [
            (7, false),
            (8, true),
            (9, false),
            (12, false),
            (16, false),
            (17, true),
            (18, false),
        ] {
            let id = format!("i-{}", "0a1b2c3d4e5f6a7b8c9".get(..digits).unwrap());
            v["detail"]["instance-id"] = json!(id);
            assert_eq!(parse_tripwire_event(&v).is_ok(), ok, "{id}");
        }
        let mut v = sample("tripwire-spot-fleet-launched.json");
        v["resources"] = json!(["arn:aws:ec2:us-west-2:123456789012:instance/i-0c7d8e9f0a1b2c3d4"]);
        let err = parse_tripwire_event(&v).unwrap_err();
        assert!(err.contains("names no sfr-"), "{err}");
        // Spot fleet requests and EC2 Fleets are named by a UUID and nothing
        // else; spot instance requests by letters and digits.
        let arn = |id: &str| json!([format!("arn:aws:ec2:us-west-2:123456789012:x/{id}")]);
        for (id, ok) in [
            ("sfr-8f3c2b1a-4d5e-4f6a-9b7c-0d1e2f3a4b5c", true),
            ("sfr-8F3C2B1A-4D5E-4F6A-9B7C-0D1E2F3A4B5C", true),
            ("sfr-0123456789abcdef0", false),
            ("sfr-8f3c2b1a4d5e4f6a9b7c0d1e2f3a4b5c", false),
            ("sfr-8f3c2b1a-4d5e-4f6a-9b7c-0d1e2f3a4b5", false),
            ("sfr-8f3c2b1a-4d5e-4f6a-9b7c-0d1e2f3a4b5c-", false),
            ("sfr-8f3c2b1a-4d5e-4f6a-9b7c-0d1e2f3a4b5g", false),
            ("sfr-8f3c2b1a-4d5e-4f6a9-b7c-0d1e2f3a4b5c", false),
        ] {
            let mut v = sample("tripwire-spot-fleet-launched.json");
            v["resources"] = arn(id);
            assert_eq!(parse_tripwire_event(&v).is_ok(), ok, "{id}");
        }
        let mut v = sample("tripwire-spot-fleet-launched.json");
        v["source"] = json!("aws.ec2fleet");
        v["detail-type"] = json!("EC2 Fleet Instance Change");
        for (id, ok) in [
            ("fleet-598fb973-87b7-422d-be4d-6b0809bfff0a", true),
            ("fleet-598fb97387b7422dbe4d6b0809bfff0a", false),
            ("fleet-1", false),
        ] {
            v["resources"] = arn(id);
            assert_eq!(parse_tripwire_event(&v).is_ok(), ok, "{id}");
        }
        let mut v = sample("tripwire-spot-fulfilled.json");
        for (id, ok) in [
            ("sir-08b93456", true),
            ("sir-0a1b2c3d4e5f6a7b8", true),
            ("sir-08b9-3456", false),
            ("sir-", false),
        ] {
            v["detail"]["spot-instance-request-id"] = json!(id);
            v["resources"] = json!([]);
            assert_eq!(parse_tripwire_event(&v).is_ok(), ok, "{id}");
        }
    }

    #[test]
    fn malformed_events_are_errors_that_say_why() {
        let cases = [
            (json!([1]), "not a JSON object"),
            (json!({"detail": {}}), "no `source`"),
            (json!({"source": "aws.ec2"}), "no `detail` object"),
            (
                json!({"source": "aws.ec2", "detail-type": "AWS API Call via CloudTrail", "detail": {"eventSource": "ec2.amazonaws.com"}}),
                "no `detail.eventName`",
            ),
            (
                json!({"source": "aws.ec2", "detail-type": "AWS API Call via CloudTrail", "detail": {"eventSource": "ec2.amazonaws.com", "eventName": "RunInstances"}}),
                "no `detail.awsRegion`",
            ),
            (
                json!({"source": "aws.ec2", "detail-type": "AWS API Call via CloudTrail", "detail": {"eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "awsRegion": "mars\n-1"}}),
                "not a region name",
            ),
            (
                json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}),
                "neither a CloudTrail API call",
            ),
            (
                json!({"source": "aws.guardduty", "detail-type": "GuardDuty Finding", "detail": {"id": "x"}}),
                "no `detail.type`",
            ),
        ];
        for (v, want) in cases {
            let err = parse_tripwire_event(&v).unwrap_err();
            assert!(err.contains(want), "{err} / {want}");
            assert!(!err.contains('\n'));
        }
        // A call the rule should not have sent is ignored, not an error.
        let v = json!({"source": "aws.ec2", "detail-type": "AWS API Call via CloudTrail",
            "detail": {"eventSource": "ec2.amazonaws.com", "eventName": "StopInstances", "awsRegion": "us-east-1"}});
        assert!(matches!(
            parse_tripwire_event(&v).unwrap(),
            TripwireEvent::Ignored(why) if why.contains("ec2:StopInstances")
        ));
    }
}
