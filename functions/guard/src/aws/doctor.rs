//! What `cost-guard doctor` reads: the stack, its topics, queues and alarms,
//! what publishes to the trigger topic, the trails, the forwarder's rules and
//! GuardDuty in every enabled region, the member accounts and StackSets, and
//! the account's hygiene. Read-only: every call here is a Describe, Get or
//! List. The decisions are in `domain::doctor`.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_types::region::Region;
use futures::future::join_all;

use crate::aws::accounts::{Accounts, Coverage};
use crate::aws::regions::partition;
use crate::domain::config::accounts::{AccountsConfig, MemberRole};
use crate::domain::config::RegionScope;
use crate::domain::doctor::{
    Detector, Facts, FunctionSettings, Health, Hygiene, MemberAccess, Publishers, Read,
    RegionForwarder, Stack, StackSet, Subscription, Trail, Unread,
};
use crate::domain::error::AwsError;
use crate::domain::weekly_check::{trusted, Before, Seen};

/// The stack's resources: logical id to (type, physical id).
type Resources = BTreeMap<String, (String, String)>;

/// The days of function errors doctor looks back over.
const ERROR_DAYS: i64 = 7;

/// Whether doctor assumes the member roles to check them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// `cost-guard doctor` with the user's credentials: assume each
    /// account's member role (and do nothing with it).
    MemberRoles,
    /// The weekly check: its role is read-only, so it may not assume the
    /// sweep's member role, which can stop things. The StackSets' instances
    /// still show where the role is deployed.
    ReadOnly,
}

/// Reads everything doctor checks about the stack `stack_name` in the
/// region of `sdk`, with its credentials, assuming the member roles. Each
/// part that cannot be read is an [`Unread`] naming the permission, never a
/// failure of the whole.
pub async fn read(sdk: &SdkConfig, stack_name: &str) -> Facts {
    read_as(sdk, stack_name, Reach::MemberRoles).await
}

/// [`read`], reaching member accounts only as `reach` allows.
pub async fn read_as(sdk: &SdkConfig, stack_name: &str, reach: Reach) -> Facts {
    let region = sdk
        .region()
        .map(|r| r.as_ref().to_string())
        .unwrap_or_else(|| "us-east-1".into());
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    let stack = describe_stack(&cfn, stack_name, &region).await;
    let hygiene = hygiene(sdk);
    let Ok(Some(stack)) = &stack else {
        return Facts {
            stack,
            health: None,
            subscriptions: None,
            publishers: None,
            trails: None,
            forwarders: None,
            detectors: None,
            members: None,
            stack_sets: vec![],
            settings: None,
            covered: None,
            hygiene: hygiene.await,
        };
    };
    let resources = stack_resources(&cfn, stack_name).await;
    let physical = |logical: &str| -> Option<String> {
        resources
            .as_ref()
            .ok()
            .and_then(|r| r.get(logical))
            .map(|(_, id)| id.clone())
    };
    let trigger = stack.outputs.get("TriggerTopicArn").cloned();
    let notify = stack.outputs.get("NotifyTopicArn").cloned();
    let own_budget = physical("MonthlyBudget");
    let own_alarm = physical("BillingAlarm");

    let (
        health,
        subscriptions,
        publishers,
        trails,
        forwarders,
        members,
        stack_sets,
        hygiene,
        settings,
        covered,
    ) = futures::join!(
        health(sdk, &resources),
        async {
            match &notify {
                Some(arn) => subscriptions(&aws_sdk_sns::Client::new(sdk), arn).await,
                None => Err(missing_output("NotifyTopicArn")),
            }
        },
        publishers(sdk, stack, trigger.as_deref(), own_budget, own_alarm),
        trails(sdk),
        forwarders(sdk, stack),
        async {
            match reach {
                Reach::MemberRoles if stack.covers_other_accounts() => {
                    Some(members(sdk, stack).await)
                }
                _ => None,
            }
        },
        stack_sets(&cfn, stack),
        hygiene,
        settings(sdk, &resources),
        async {
            if stack.covers_other_accounts() {
                Some(covered_accounts(sdk, stack).await)
            } else {
                None
            }
        },
    );
    let detectors = if stack.parameter("TripwireGuardDutyAction") == "stop" {
        let watched: Vec<String> = match &forwarders {
            Ok(regions) => regions
                .iter()
                .filter(|r| {
                    r.region == stack.region || r.rules.as_ref().is_ok_and(|x| !x.is_empty())
                })
                .map(|r| r.region.clone())
                .collect(),
            Err(_) => vec![stack.region.clone()],
        };
        detectors(sdk, &watched).await
    } else {
        vec![]
    };
    Facts {
        stack: Ok(Some(stack.clone())),
        health: Some(health),
        subscriptions: Some(subscriptions),
        publishers: Some(publishers),
        trails: Some(trails),
        forwarders: Some(forwarders),
        detectors: Some(detectors),
        members,
        stack_sets,
        settings: Some(settings),
        covered,
        hygiene,
    }
}

/// The environment each of the stack's functions runs with, as Lambda
/// reports it.
async fn settings(sdk: &SdkConfig, resources: &Read<Resources>) -> Read<Vec<FunctionSettings>> {
    let resources = resources.as_ref().map_err(Clone::clone)?;
    let lambda = aws_sdk_lambda::Client::new(sdk);
    let functions = of_type(resources, "AWS::Lambda::Function");
    join_all(functions.iter().map(|(logical, name)| {
        let lambda = lambda.clone();
        async move {
            let config = lambda
                .get_function_configuration()
                .function_name(*name)
                .send()
                .await
                .map_err(|e| {
                    Unread::from(AwsError::from_sdk("lambda:GetFunctionConfiguration", e))
                })?;
            Ok(FunctionSettings {
                function: logical.to_string(),
                variables: config
                    .environment()
                    .and_then(|e| e.variables())
                    .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
            })
        }
    }))
    .await
    .into_iter()
    .collect()
}

fn missing_output(name: &str) -> Unread {
    Unread {
        operation: "cloudformation:DescribeStacks".into(),
        why: format!("the stack has no {name} output (is it a cost-guard stack?)"),
    }
}

fn in_region(sdk: &SdkConfig, region: &str) -> SdkConfig {
    sdk.to_builder()
        .region(Region::new(region.to_string()))
        .build()
}

async fn describe_stack(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
    region: &str,
) -> Read<Option<Stack>> {
    let out = match cfn.describe_stacks().stack_name(name).send().await {
        Ok(out) => out,
        Err(e) => {
            let e = AwsError::from_sdk("cloudformation:DescribeStacks", e);
            // CloudFormation answers a missing stack with a ValidationError
            // that says so.
            if e.code == "ValidationError" && e.message.contains("does not exist") {
                return Ok(None);
            }
            return Err(e.into());
        }
    };
    let Some(s) = out.stacks().first() else {
        return Ok(None);
    };
    let account = s
        .stack_id()
        .and_then(|id| id.split(':').nth(4))
        .unwrap_or_default()
        .to_string();
    Ok(Some(Stack {
        name: s.stack_name().unwrap_or(name).to_string(),
        region: region.to_string(),
        account,
        status: s
            .stack_status()
            .map(|st| st.as_str().to_string())
            .unwrap_or_default(),
        parameters: s
            .parameters()
            .iter()
            .filter_map(|p| {
                Some((
                    p.parameter_key()?.to_string(),
                    p.resolved_value()
                        .or(p.parameter_value())
                        .unwrap_or_default()
                        .to_string(),
                ))
            })
            .collect(),
        outputs: s
            .outputs()
            .iter()
            .filter_map(|o| {
                Some((
                    o.output_key()?.to_string(),
                    o.output_value().unwrap_or_default().to_string(),
                ))
            })
            .collect(),
    }))
}

async fn stack_resources(cfn: &aws_sdk_cloudformation::Client, name: &str) -> Read<Resources> {
    let mut out = Resources::new();
    let mut pages = cfn
        .list_stack_resources()
        .stack_name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("cloudformation:ListStackResources", e))?;
        for r in page.stack_resource_summaries() {
            if let (Some(l), Some(p)) = (r.logical_resource_id(), r.physical_resource_id()) {
                out.insert(
                    l.to_string(),
                    (
                        r.resource_type().unwrap_or_default().to_string(),
                        p.to_string(),
                    ),
                );
            }
        }
    }
    Ok(out)
}

fn of_type<'a>(resources: &'a Resources, kind: &str) -> Vec<(&'a str, &'a str)> {
    resources
        .iter()
        .filter(|(_, (t, _))| t == kind)
        .map(|(l, (_, p))| (l.as_str(), p.as_str()))
        .collect()
}

async fn health(sdk: &SdkConfig, resources: &Read<Resources>) -> Health {
    let resources = match resources {
        Ok(r) => r,
        Err(e) => {
            return Health {
                errors: Err(e.clone()),
                alarming: Err(e.clone()),
                queued: Err(e.clone()),
            }
        }
    };
    let cw = aws_sdk_cloudwatch::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let functions = of_type(resources, "AWS::Lambda::Function");
    // Whole seconds: CloudWatch (and the emulator) read no finer time. The
    // window ends a minute ahead, so that an error of this very second (cut
    // off by the whole seconds) is counted.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let end = now + 60;
    let since = aws_smithy_types::DateTime::from_secs(end - ERROR_DAYS * 86_400);
    let now = aws_smithy_types::DateTime::from_secs(end);
    let errors = join_all(functions.iter().map(|(logical, name)| {
        let cw = cw.clone();
        async move {
            let out = cw
                .get_metric_statistics()
                .namespace("AWS/Lambda")
                .metric_name("Errors")
                .dimensions(
                    aws_sdk_cloudwatch::types::Dimension::builder()
                        .name("FunctionName")
                        .value(*name)
                        .build(),
                )
                .start_time(since)
                .end_time(now)
                .period((ERROR_DAYS * 86_400) as i32)
                .statistics(aws_sdk_cloudwatch::types::Statistic::Sum)
                .send()
                .await
                .map_err(|e| {
                    Unread::from(AwsError::from_sdk("cloudwatch:GetMetricStatistics", e))
                })?;
            let sum: f64 = out.datapoints().iter().filter_map(|d| d.sum()).sum();
            Ok::<_, Unread>((logical.to_string(), sum.round() as u64))
        }
    }))
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>();

    // The stack's own alarms on its functions and queues; its billing alarm
    // is a trigger, not a fault.
    let alarms: Vec<(&str, &str)> = of_type(resources, "AWS::CloudWatch::Alarm")
        .into_iter()
        .filter(|(l, _)| *l != "BillingAlarm")
        .collect();
    let alarming = if alarms.is_empty() {
        Ok(vec![])
    } else {
        let names: Vec<String> = alarms.iter().map(|(_, p)| p.to_string()).collect();
        cw.describe_alarms()
            .set_alarm_names(Some(names))
            .send()
            .await
            .map(|out| {
                out.metric_alarms()
                    .iter()
                    .filter(|a| {
                        a.state_value() == Some(&aws_sdk_cloudwatch::types::StateValue::Alarm)
                    })
                    .filter_map(|a| a.alarm_name().map(str::to_string))
                    .collect()
            })
            .map_err(|e| AwsError::from_sdk("cloudwatch:DescribeAlarms", e).into())
    };

    let queues: Vec<(&str, &str)> = of_type(resources, "AWS::SQS::Queue")
        .into_iter()
        .filter(|(l, _)| matches!(*l, "FailureQueue" | "SweepDeadLetterQueue"))
        .collect();
    let queued = join_all(queues.iter().map(|(logical, url)| {
        let sqs = sqs.clone();
        async move {
            let out = sqs
                .get_queue_attributes()
                .queue_url(*url)
                .attribute_names(
                    aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
                )
                .send()
                .await
                .map_err(|e| Unread::from(AwsError::from_sdk("sqs:GetQueueAttributes", e)))?;
            let n = out
                .attributes()
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                })
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            Ok::<_, Unread>((logical.to_string(), n))
        }
    }))
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>();
    Health {
        errors,
        alarming,
        queued,
    }
}

async fn subscriptions(sns: &aws_sdk_sns::Client, topic: &str) -> Read<Vec<Subscription>> {
    let mut out = vec![];
    let mut pages = sns
        .list_subscriptions_by_topic()
        .topic_arn(topic)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("sns:ListSubscriptionsByTopic", e))?;
        for s in page.subscriptions() {
            let arn = s.subscription_arn().unwrap_or_default();
            out.push(Subscription {
                protocol: s.protocol().unwrap_or_default().to_string(),
                endpoint: s.endpoint().unwrap_or_default().to_string(),
                // A pending subscription's ARN is the word PendingConfirmation;
                // a confirmed one's is an ARN.
                confirmed: arn.starts_with("arn:"),
            });
        }
    }
    Ok(out)
}

async fn publishers(
    sdk: &SdkConfig,
    stack: &Stack,
    trigger: Option<&str>,
    own_budget: Option<String>,
    own_alarm: Option<String>,
) -> Publishers {
    let Some(trigger) = trigger else {
        let e = missing_output("TriggerTopicArn");
        return Publishers {
            budgets: Err(e.clone()),
            alarms: Err(e.clone()),
            billing_metric: Err(e),
            own_budget,
            own_alarm,
            anomalies: None,
        };
    };
    let east = in_region(sdk, "us-east-1");
    let (budgets, alarms, billing_metric, anomalies) = futures::join!(
        budgets_to(&east, &stack.account, trigger),
        async {
            let mut regions = vec![stack.region.clone()];
            if stack.region != "us-east-1" {
                regions.push("us-east-1".into());
            }
            let mut names = vec![];
            for r in regions {
                names.extend(alarms_to(&in_region(sdk, &r), trigger).await?);
            }
            names.sort();
            names.dedup();
            Ok(names)
        },
        billing_metric(&east),
        async {
            if stack.acts_on_anomalies() {
                Some(anomalies_to(&crate::aws::costexplorer::client(sdk), trigger).await)
            } else {
                None
            }
        },
    );
    Publishers {
        budgets,
        alarms,
        billing_metric,
        own_budget,
        own_alarm,
        anomalies,
    }
}

/// The Cost Anomaly Detection subscriptions that alert `topic`.
async fn anomalies_to(ce: &aws_sdk_costexplorer::Client, topic: &str) -> Read<Vec<String>> {
    let mut names = vec![];
    let mut token: Option<String> = None;
    loop {
        let page = ce
            .get_anomaly_subscriptions()
            .set_next_page_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ce:GetAnomalySubscriptions", e))?;
        for s in page.anomaly_subscriptions() {
            let to_topic = s.subscribers().iter().any(|x| {
                x.r#type() == Some(&aws_sdk_costexplorer::types::SubscriberType::Sns)
                    && x.address() == Some(topic)
            });
            if to_topic {
                names.push(s.subscription_name().to_string());
            }
        }
        match page.next_page_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(names),
        }
    }
}

/// The budgets (the stack's own among them) that notify `topic`.
async fn budgets_to(sdk: &SdkConfig, account: &str, topic: &str) -> Read<Vec<String>> {
    let budgets = aws_sdk_budgets::Client::new(sdk);
    let listed = budgets
        .describe_budgets()
        .account_id(account)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("budgets:ViewBudget", e))?;
    let mut names = vec![];
    for b in listed.budgets() {
        let name = b.budget_name();
        let notes = budgets
            .describe_notifications_for_budget()
            .account_id(account)
            .budget_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("budgets:ViewBudget", e))?;
        for n in notes.notifications() {
            let subs = budgets
                .describe_subscribers_for_notification()
                .account_id(account)
                .budget_name(name)
                .notification(n.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("budgets:ViewBudget", e))?;
            if subs.subscribers().iter().any(|s| s.address() == topic) {
                names.push(name.to_string());
                break;
            }
        }
    }
    Ok(names)
}

/// The alarms whose actions publish to `topic`.
async fn alarms_to(sdk: &SdkConfig, topic: &str) -> Read<Vec<String>> {
    let cw = aws_sdk_cloudwatch::Client::new(sdk);
    let mut names = vec![];
    let mut pages = cw.describe_alarms().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("cloudwatch:DescribeAlarms", e))?;
        for a in page.metric_alarms() {
            if a.alarm_actions().iter().any(|x| x == topic) {
                names.extend(a.alarm_name().map(str::to_string));
            }
        }
    }
    Ok(names)
}

async fn billing_metric(east: &SdkConfig) -> Read<bool> {
    let out = aws_sdk_cloudwatch::Client::new(east)
        .list_metrics()
        .namespace("AWS/Billing")
        .metric_name("EstimatedCharges")
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("cloudwatch:ListMetrics", e))?;
    Ok(!out.metrics().is_empty())
}

async fn trails(sdk: &SdkConfig) -> Read<Vec<Trail>> {
    let ct = aws_sdk_cloudtrail::Client::new(sdk);
    let listed = ct
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("cloudtrail:DescribeTrails", e))?;
    let mut trails = vec![];
    for t in listed.trail_list() {
        let name = t.name().unwrap_or_default().to_string();
        let id = t.trail_arn().unwrap_or(&name).to_string();
        let logging = ct
            .get_trail_status()
            .name(&id)
            .send()
            .await
            .map(|s| s.is_logging().unwrap_or(false))
            .map_err(|e| AwsError::from_sdk("cloudtrail:GetTrailStatus", e).into());
        let management_writes = ct
            .get_event_selectors()
            .trail_name(&id)
            .send()
            .await
            .map(|s| logs_management_writes(&s))
            .map_err(|e| AwsError::from_sdk("cloudtrail:GetEventSelectors", e).into());
        trails.push(Trail {
            name,
            multi_region: t.is_multi_region_trail().unwrap_or(false),
            organization: t.is_organization_trail().unwrap_or(false),
            logging,
            management_writes,
        });
    }
    Ok(trails)
}

/// Whether a trail's selectors log management write events. A trail with
/// no selectors at all logs every management event (CloudTrail's default).
fn logs_management_writes(
    s: &aws_sdk_cloudtrail::operation::get_event_selectors::GetEventSelectorsOutput,
) -> bool {
    use aws_sdk_cloudtrail::types::ReadWriteType;
    let basic = s.event_selectors();
    let advanced = s.advanced_event_selectors();
    if basic.is_empty() && advanced.is_empty() {
        return true;
    }
    let from_basic = basic.iter().any(|e| {
        e.include_management_events().unwrap_or(true)
            && !matches!(e.read_write_type(), Some(ReadWriteType::ReadOnly))
    });
    let from_advanced = advanced.iter().any(|a| {
        let fields = a.field_selectors();
        let management = fields
            .iter()
            .any(|f| f.field() == "eventCategory" && f.equals().iter().any(|v| v == "Management"));
        let reads_only = fields.iter().any(|f| {
            f.field() == "readOnly"
                && f.equals().iter().all(|v| v == "true")
                && !f.equals().is_empty()
        });
        management && !reads_only
    });
    from_basic || from_advanced
}

/// Every enabled region with the rules in it that target the stack's event
/// bus.
async fn forwarders(sdk: &SdkConfig, stack: &Stack) -> Read<Vec<RegionForwarder>> {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let out = ec2
        .describe_regions()
        .all_regions(true)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeRegions", e))?;
    let home = partition(&stack.region);
    let mut enabled: Vec<(String, bool)> = out
        .regions()
        .iter()
        .filter_map(|r| {
            let status = r.opt_in_status().unwrap_or("opt-in-not-required");
            let name = r.region_name()?.to_string();
            (matches!(status, "opt-in-not-required" | "opted-in") && partition(&name) == home)
                .then_some((name, status == "opted-in"))
        })
        .collect();
    enabled.sort();
    enabled.dedup();
    let bus = format!(
        "arn:{home}:events:{}:{}:event-bus/default",
        stack.region, stack.account
    );
    Ok(join_all(enabled.into_iter().map(|(region, opted_in)| {
        let config = in_region(sdk, &region);
        let bus = bus.clone();
        async move {
            let rules = if region == stack.region {
                Ok(vec![])
            } else {
                rules_to(&config, &bus).await
            };
            RegionForwarder {
                region,
                opted_in,
                rules,
            }
        }
    }))
    .await)
}

async fn rules_to(sdk: &SdkConfig, bus: &str) -> Read<Vec<(String, bool)>> {
    let events = aws_sdk_eventbridge::Client::new(sdk);
    let named = events
        .list_rule_names_by_target()
        .target_arn(bus)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("events:ListRuleNamesByTarget", e))?;
    let mut rules = vec![];
    for name in named.rule_names() {
        let rule = events
            .describe_rule()
            .name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("events:DescribeRule", e))?;
        let enabled = rule.state() == Some(&aws_sdk_eventbridge::types::RuleState::Enabled);
        rules.push((name.clone(), enabled));
    }
    Ok(rules)
}

async fn detectors(sdk: &SdkConfig, regions: &[String]) -> Vec<Detector> {
    join_all(regions.iter().map(|region| async move {
        let gd = aws_sdk_guardduty::Client::new(&in_region(sdk, region));
        let enabled = async {
            let ids = gd
                .list_detectors()
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("guardduty:ListDetectors", e))?;
            for id in ids.detector_ids() {
                let d = gd
                    .get_detector()
                    .detector_id(id)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("guardduty:GetDetector", e))?;
                if d.status() == Some(&aws_sdk_guardduty::types::DetectorStatus::Enabled) {
                    return Ok(true);
                }
            }
            Ok::<_, Unread>(false)
        }
        .await;
        Detector {
            region: region.clone(),
            enabled,
        }
    }))
    .await
}

/// The stack's accounts settings, as its functions read them.
fn accounts_config(stack: &Stack) -> Result<AccountsConfig, String> {
    let env = |name: &str| -> Option<String> {
        let parameter = match name {
            "ACCOUNTS" => "Accounts",
            "MEMBER_ROLE_NAME" => "MemberRoleName",
            "MEMBER_EXTERNAL_ID" => "MemberExternalId",
            "ORG_SCOPE" => "OrgScope",
            "FANOUT_ABOVE" => "FanoutAbove",
            _ => return None,
        };
        stack
            .parameters
            .get(parameter)
            .filter(|v| !v.is_empty())
            .cloned()
    };
    AccountsConfig::from_lookup(&env).map_err(|e| e.to_string())
}

/// The accounts the stack covers other than its own (organizations:ListAccounts
/// with `Accounts=organization`), read without assuming any role.
async fn covered_accounts(sdk: &SdkConfig, stack: &Stack) -> Read<Vec<String>> {
    let config = accounts_config(stack).map_err(|why| Unread {
        operation: "cloudformation:DescribeStacks".into(),
        why,
    })?;
    let accounts = Accounts::new(
        config,
        RegionScope::List(vec![stack.region.clone()]),
        MemberRole::Sweep,
        sdk,
    );
    Ok(match accounts.coverage(None).await? {
        Coverage::Accounts { own, targets } => targets
            .sweep
            .iter()
            .filter(|a| a.id != own)
            .map(|a| a.id.clone())
            .collect(),
        Coverage::OwnAccount(_) => vec![],
    })
}

/// Whether the sweep's member role can be assumed in every covered account.
async fn members(sdk: &SdkConfig, stack: &Stack) -> Read<Vec<MemberAccess>> {
    if !stack.covers_other_accounts() {
        return Ok(vec![]);
    }
    let config = accounts_config(stack).map_err(|why| Unread {
        operation: "cloudformation:DescribeStacks".into(),
        why,
    })?;
    let accounts = Accounts::new(
        config,
        RegionScope::List(vec![stack.region.clone()]),
        MemberRole::Sweep,
        sdk,
    );
    let (own, targets) = match accounts.coverage(None).await? {
        Coverage::Accounts { own, targets } => (own, targets),
        Coverage::OwnAccount(_) => return Ok(vec![]),
    };
    let others: Vec<_> = targets.sweep.iter().filter(|a| a.id != own).collect();
    Ok(join_all(others.iter().map(|a| {
        let accounts = &accounts;
        let own = &own;
        async move {
            MemberAccess {
                account: a.id.clone(),
                failed: accounts.account_clients(own, a).await.err(),
            }
        }
    }))
    .await)
}

/// The member roles' and the member forwarder's StackSets, named after the
/// stack as docs/organizations.md names them.
async fn stack_sets(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &Stack,
) -> Vec<(String, Read<Option<StackSet>>)> {
    if !stack.covers_other_accounts() {
        return vec![];
    }
    let names = [
        format!("{}-member", stack.name),
        format!("{}-member-forwarder", stack.name),
    ];
    join_all(names.into_iter().map(|name| async move {
        let set = stack_set(cfn, &name).await;
        (name, set)
    }))
    .await
}

async fn stack_set(cfn: &aws_sdk_cloudformation::Client, name: &str) -> Read<Option<StackSet>> {
    let described = match cfn.describe_stack_set().stack_set_name(name).send().await {
        Ok(d) => d,
        Err(e) => {
            let e = AwsError::from_sdk("cloudformation:DescribeStackSet", e);
            if e.code == "StackSetNotFoundException" {
                return Ok(None);
            }
            return Err(e.into());
        }
    };
    let parameters = described
        .stack_set()
        .map(|s| {
            s.parameters()
                .iter()
                .filter_map(|p| {
                    Some((
                        p.parameter_key()?.to_string(),
                        p.parameter_value().unwrap_or_default().to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut instances = vec![];
    let mut pages = cfn
        .list_stack_instances()
        .stack_set_name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("cloudformation:ListStackInstances", e))?;
        for i in page.summaries() {
            instances.push((
                i.account().unwrap_or_default().to_string(),
                i.region().unwrap_or_default().to_string(),
                i.status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            ));
        }
    }
    Ok(Some(StackSet {
        name: name.to_string(),
        parameters,
        instances,
    }))
}

async fn hygiene(sdk: &SdkConfig) -> Hygiene {
    let iam = aws_sdk_iam::Client::new(sdk);
    let account = aws_sdk_account::Client::new(sdk);
    let (root, users_without_mfa, billing_contact) = futures::join!(
        root_flags(&iam),
        users_without_mfa(&iam),
        billing_contact(&account)
    );
    Hygiene {
        root,
        users_without_mfa,
        billing_contact,
    }
}

/// Whether the root user has MFA, and whether it has access keys.
async fn root_flags(iam: &aws_sdk_iam::Client) -> Read<(bool, bool)> {
    use aws_sdk_iam::types::SummaryKeyType;
    let out = iam
        .get_account_summary()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("iam:GetAccountSummary", e))?;
    let map = out.summary_map();
    let flag = |key: SummaryKeyType| map.and_then(|m| m.get(&key)).copied().unwrap_or(0) > 0;
    Ok((
        flag(SummaryKeyType::AccountMfaEnabled),
        flag(SummaryKeyType::AccountAccessKeysPresent),
    ))
}

async fn billing_contact(account: &aws_sdk_account::Client) -> Read<bool> {
    match account
        .get_alternate_contact()
        .alternate_contact_type(aws_sdk_account::types::AlternateContactType::Billing)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        // Account's way of saying there is none.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(AwsError::from_sdk("account:GetAlternateContact", e).into()),
    }
}

async fn users_without_mfa(iam: &aws_sdk_iam::Client) -> Read<Vec<String>> {
    let mut names = vec![];
    let mut pages = iam.list_users().into_paginator().items().send();
    while let Some(user) = pages.next().await {
        let user = user.map_err(|e| AwsError::from_sdk("iam:ListUsers", e))?;
        let name = user.user_name();
        match iam.get_login_profile().user_name(name).send().await {
            Ok(_) => {}
            Err(e) => {
                let e = AwsError::from_sdk("iam:GetLoginProfile", e);
                if e.code == "NoSuchEntity" {
                    // No console password: MFA guards no sign-in.
                    continue;
                }
                return Err(e.into());
            }
        }
        let devices = iam
            .list_mfa_devices()
            .user_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("iam:ListMFADevices", e))?;
        if devices.mfa_devices().is_empty() {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

/// The weekly check's one item in its table: what the last run saw.
const LAST_RUN: &str = "last-run";

/// What the last weekly check saw, from its table: [`Before::First`] when
/// it left nothing. What it left is the function's own writing, but a value
/// that does not parse is reported as unreadable, not trusted.
pub async fn last_run(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Before {
    let got = ddb
        .get_item()
        .table_name(table)
        .key("id", AttributeValue::S(LAST_RUN.into()))
        .consistent_read(true)
        .send()
        .await;
    let item = match got {
        Ok(out) => out.item,
        Err(e) => {
            let e = AwsError::from_sdk("dynamodb:GetItem", e);
            return Before::Unreadable(format!("{e}"));
        }
    };
    let Some(item) = item else {
        return Before::First;
    };
    // The table's item is text anyone allowed to write the table could
    // have written: only what this function writes is believed, and none of
    // it is quoted back.
    match item.get("checks").map(|v| v.as_s()) {
        Some(Ok(json)) => match serde_json::from_str::<Vec<Seen>>(json).ok().and_then(trusted) {
            Some(seen) => Before::Seen(seen),
            None => Before::Unreadable(format!(
                "its item {LAST_RUN} in {table} is not a list of checks as this function writes them"
            )),
        },
        _ => Before::Unreadable(format!("its item {LAST_RUN} in {table} has no checks")),
    }
}

/// Leaves what this run saw for the next, with the time it ran.
pub async fn remember(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    seen: &[Seen],
    at: time::OffsetDateTime,
) -> Result<(), AwsError> {
    // Names and statuses only: serialising cannot fail.
    let checks = serde_json::to_string(seen).unwrap_or_default();
    let at = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    ddb.put_item()
        .table_name(table)
        .item("id", AttributeValue::S(LAST_RUN.into()))
        .item("checks", AttributeValue::S(checks))
        .item("at", AttributeValue::S(at))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("dynamodb:PutItem", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    //! What the emulator cannot show: a subscription awaiting confirmation
    //! and a root user with MFA and keys (it lists every subscription as
    //! confirmed and root MFA as off).
    use super::*;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    #[tokio::test]
    async fn a_subscription_awaiting_confirmation_is_not_confirmed() {
        use aws_sdk_sns::operation::list_subscriptions_by_topic::ListSubscriptionsByTopicOutput;
        use aws_sdk_sns::types::Subscription as Sub;
        let listed = mock!(aws_sdk_sns::Client::list_subscriptions_by_topic).then_output(|| {
            ListSubscriptionsByTopicOutput::builder()
                .subscriptions(
                    Sub::builder()
                        .subscription_arn("PendingConfirmation")
                        .protocol("email")
                        .endpoint("ana@example.com")
                        .build(),
                )
                .subscriptions(
                    Sub::builder()
                        .subscription_arn("arn:aws:sns:us-east-1:123456789012:notify:0f1e")
                        .protocol("sms")
                        .endpoint("+15550100")
                        .build(),
                )
                .build()
        });
        let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&listed]);
        let subs = subscriptions(&sns, "arn:aws:sns:us-east-1:123456789012:notify")
            .await
            .unwrap();
        assert_eq!(
            subs,
            vec![
                Subscription {
                    protocol: "email".into(),
                    endpoint: "ana@example.com".into(),
                    confirmed: false,
                },
                Subscription {
                    protocol: "sms".into(),
                    endpoint: "+15550100".into(),
                    confirmed: true,
                },
            ]
        );
    }

    fn summary(mfa: i32, keys: i32) -> aws_sdk_iam::Client {
        use aws_sdk_iam::operation::get_account_summary::GetAccountSummaryOutput;
        use aws_sdk_iam::types::SummaryKeyType;
        let rule = mock!(aws_sdk_iam::Client::get_account_summary).then_output(move || {
            GetAccountSummaryOutput::builder()
                .summary_map(SummaryKeyType::AccountMfaEnabled, mfa)
                .summary_map(SummaryKeyType::AccountAccessKeysPresent, keys)
                .summary_map(SummaryKeyType::Users, 3)
                .build()
        });
        mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&rule])
    }

    #[tokio::test]
    async fn only_anomaly_subscriptions_with_the_trigger_topic_as_an_sns_subscriber_count() {
        use aws_sdk_costexplorer::operation::get_anomaly_subscriptions::GetAnomalySubscriptionsOutput;
        use aws_sdk_costexplorer::types::{
            AnomalySubscription, AnomalySubscriptionFrequency, Subscriber, SubscriberType,
        };
        const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:trigger";
        let sub = |name: &str, kind: SubscriberType, address: &str| {
            AnomalySubscription::builder()
                .subscription_name(name)
                .monitor_arn_list("arn:aws:ce::123456789012:anomalymonitor/m")
                .frequency(AnomalySubscriptionFrequency::Immediate)
                .subscribers(Subscriber::builder().r#type(kind).address(address).build())
                .build()
                .unwrap()
        };
        let first = mock!(aws_sdk_costexplorer::Client::get_anomaly_subscriptions)
            .match_requests(|r| r.next_page_token().is_none())
            .then_output(move || {
                GetAnomalySubscriptionsOutput::builder()
                    .anomaly_subscriptions(sub("spikes", SubscriberType::Sns, TOPIC))
                    .anomaly_subscriptions(sub("mail", SubscriberType::Email, TOPIC))
                    .anomaly_subscriptions(sub(
                        "elsewhere",
                        SubscriberType::Sns,
                        "arn:aws:sns:us-east-1:123456789012:other",
                    ))
                    .next_page_token("2")
                    .build()
                    .unwrap()
            });
        let second = mock!(aws_sdk_costexplorer::Client::get_anomaly_subscriptions)
            .match_requests(|r| r.next_page_token() == Some("2"))
            .then_output(move || {
                GetAnomalySubscriptionsOutput::builder()
                    .anomaly_subscriptions(sub("late", SubscriberType::Sns, TOPIC))
                    .build()
                    .unwrap()
            });
        let ce = mock_client!(aws_sdk_costexplorer, RuleMode::MatchAny, [&first, &second]);
        assert_eq!(
            anomalies_to(&ce, TOPIC).await,
            Ok(vec!["spikes".to_string(), "late".to_string()])
        );
    }

    #[tokio::test]
    async fn root_mfa_and_root_keys_are_read_from_the_account_summary() {
        assert_eq!(root_flags(&summary(1, 0)).await, Ok((true, false)));
        assert_eq!(root_flags(&summary(0, 1)).await, Ok((false, true)));
        assert_eq!(root_flags(&summary(1, 1)).await, Ok((true, true)));
    }

    #[tokio::test]
    async fn a_missing_billing_contact_is_no_contact_and_a_refusal_is_unknown() {
        use aws_sdk_account::operation::get_alternate_contact::GetAlternateContactError;
        use aws_sdk_account::types::error::{AccessDeniedException, ResourceNotFoundException};
        let none = mock!(aws_sdk_account::Client::get_alternate_contact).then_error(|| {
            GetAlternateContactError::ResourceNotFoundException(
                ResourceNotFoundException::builder()
                    .message("No contact of the inputted alternate contact type found.")
                    .build()
                    .unwrap(),
            )
        });
        let account = mock_client!(aws_sdk_account, RuleMode::MatchAny, [&none]);
        assert_eq!(billing_contact(&account).await, Ok(false));
        let denied = mock!(aws_sdk_account::Client::get_alternate_contact).then_error(|| {
            GetAlternateContactError::AccessDeniedException(
                AccessDeniedException::builder()
                    .message("not allowed")
                    .build()
                    .unwrap(),
            )
        });
        let account = mock_client!(aws_sdk_account, RuleMode::MatchAny, [&denied]);
        let unread = billing_contact(&account).await.unwrap_err();
        assert_eq!(unread.operation, "account:GetAlternateContact");
        assert!(unread.why.contains("not allowed"), "{unread:?}");
    }
}
