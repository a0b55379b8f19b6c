#!/usr/bin/env python3
"""Least-privilege test for the SAM templates: fails when any IAM, topic or key
policy statement grants more than the functions call. It also checks the
failure path: every function sends failed events to the failure queue, which
the role may write to, and alarms on errors, throttles and that queue notify
the subscribers' topic.

Run by scripts/test with the .venv python (it parses the templates with
cfn-lint's loader). Prints each finding and exits 1 if there is any.
"""
import json
import re
import sys

from cfnlint.decode import decode

# What the functions call, and nothing else.
ALLOWED = {
    "ec2:DescribeRegions", "ec2:DescribeInstances", "ec2:DescribeSpotInstanceRequests",
    "ec2:DescribeSpotFleetInstances", "ec2:DescribeFleetInstances",
    "rds:DescribeDBInstances", "rds:DescribeDBClusters",
    # launch-tripwire remembers untrusted principals' requests in its own table (OWN_TABLE).
    "dynamodb:BatchGetItem", "dynamodb:PutItem",
    # launch-tripwire in a member account reads the ids member.yaml tagged on
    # its own role there, and nothing else (OWN_ROLE_READ).
    "iam:GetRole",
    "ec2:StopInstances", "rds:StopDBInstance", "rds:StopDBCluster",
    "ec2:CreateTags", "rds:AddTagsToResource",
    # resume: starts only what carries the resuming marker, untags only cost-guard's keys.
    "ec2:StartInstances", "rds:StartDBInstance", "rds:StartDBCluster",
    "ec2:DeleteTags", "rds:RemoveTagsFromResource",
    "ce:GetCostAndUsage", "ce:GetCostForecast",
    # burn-watch: the price list, the spot price history, and its own table (OWN_TABLES).
    "pricing:GetProducts", "ec2:DescribeSpotPriceHistory", "dynamodb:GetItem",
    "sns:Publish", "sqs:SendMessage", "logs:CreateLogStream", "logs:PutLogEvents",
    "kms:GenerateDataKey", "kms:Decrypt",
    # The seal on saved states (SavedStateKey, an HMAC key).
    "kms:GenerateMac", "kms:VerifyMac",
    # forwarder.yaml: EventBridge forwards root events to the home region's bus.
    "events:PutEvents",
    # launch-tripwire: stop protection off, and the optional quarantine (GUARDED).
    "ec2:ModifyInstanceAttribute", "iam:AttachUserPolicy", "iam:AttachRolePolicy",
    # Every account of an organization: the list, the member role (OWN_QUEUES,
    # MEMBER_ROLE), and the sweep and results queues.
    "organizations:ListAccounts", "sts:AssumeRole",
    "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility",
    # The other kinds: Auto Scaling groups, ECS services (and their scaling
    # targets), SageMaker notebooks (endpoints are only read), Redshift.
    "autoscaling:SuspendProcesses", "autoscaling:ResumeProcesses",
    "autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags",
    "ecs:UpdateService", "ecs:TagResource", "ecs:UntagResource",
    "application-autoscaling:RegisterScalableTarget",
    "sagemaker:StopNotebookInstance", "sagemaker:StartNotebookInstance",
    "sagemaker:AddTags", "sagemaker:DeleteTags",
    "redshift:PauseCluster", "redshift:ResumeCluster", "redshift:CreateTags", "redshift:DeleteTags",
    # EKS node groups (opt-in): scaled to 0 and back with one call.
    "eks:UpdateNodegroupConfig", "eks:TagResource", "eks:UntagResource",
    # The tripwire alone ends what an untrusted principal started (TRIPWIRE_MADE).
    "ecs:StopTask", "sagemaker:StopTrainingJob", "sagemaker:StopProcessingJob",
}
# Reads of the other kinds: some have resource-level permissions, but
# narrowing a read would only hide from the sweep what it must see.
READS = {
    "autoscaling:DescribeAutoScalingGroups", "ecs:ListClusters", "ecs:ListServices", "ecs:DescribeServices",
    "application-autoscaling:DescribeScalableTargets", "sagemaker:ListNotebookInstances",
    "sagemaker:ListEndpoints", "sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig",
    "sagemaker:ListTags", "redshift:DescribeClusters",
    "eks:ListClusters", "eks:ListNodegroups", "eks:DescribeNodegroup",
    # The tripwire's reads of what a compute call made.
    "autoscaling:DescribeLaunchConfigurations", "ec2:DescribeLaunchTemplateVersions",
    "ecs:DescribeTaskDefinition", "sagemaker:DescribeNotebookInstance",
}
ALLOWED |= READS
# The weekly check's reads of the set-up (cost-guard doctor's checks), its
# role's alone: the stack, its StackSets, topic and queues, what publishes to
# the trigger, trails, the forwarder's rules, GuardDuty, IAM's hygiene.
DOCTOR_READS = {
    "cloudformation:DescribeStacks", "cloudformation:ListStackResources",
    "cloudformation:DescribeStackSet", "cloudformation:ListStackInstances",
    "sns:ListSubscriptionsByTopic", "budgets:ViewBudget",
    "cloudwatch:DescribeAlarms", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics",
    "cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors",
    "events:ListRuleNamesByTarget", "events:DescribeRule",
    "guardduty:ListDetectors", "guardduty:GetDetector",
    "iam:GetAccountSummary", "iam:ListUsers", "iam:GetLoginProfile", "iam:ListMFADevices",
    "account:GetAlternateContact", "ce:GetAnomalySubscriptions", "lambda:GetFunctionConfiguration",
    "dynamodb:GetItem",
}
ALLOWED |= DOCTOR_READS
# Everything the weekly check's role may do: read, tell subscribers, log,
# hand a failed event to the failure queue, and remember its last run.
WEEKLY_ROLE = "WeeklyCheckRole"
WEEKLY_ALLOWED = (DOCTOR_READS | {"ec2:DescribeRegions", "sqs:GetQueueAttributes", "sns:Publish",
                                  "organizations:ListAccounts",
                                  "kms:GenerateDataKey", "kms:Decrypt", "sqs:SendMessage",
                                  "logs:CreateLogStream", "logs:PutLogEvents", "dynamodb:PutItem"})
FORBIDDEN = re.compile(r"Terminate|Delete(?!Tags)|Modify|Create(?!Tags|LogStream|OrUpdateTags)|Put(?!Events|LogEvents|Item)|Attach|Pass|Register|\*")
# Actions with no resource-level permissions, so "*" is the only resource.
RESOURCE_STAR_OK = {
    "ec2:DescribeRegions", "ec2:DescribeInstances", "ec2:DescribeSpotInstanceRequests",
    "ec2:DescribeSpotFleetInstances", "ec2:DescribeFleetInstances",
    "rds:DescribeDBInstances", "rds:DescribeDBClusters", "ce:GetCostAndUsage", "ce:GetCostForecast",
    "organizations:ListAccounts", "pricing:GetProducts", "ec2:DescribeSpotPriceHistory",
    "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics", "cloudtrail:DescribeTrails",
    "guardduty:ListDetectors", "iam:GetAccountSummary", "iam:ListUsers", "events:ListRuleNamesByTarget",
    "ce:GetAnomalySubscriptions",
} | READS
# SQS calls reach only the guard's own queues; deleting a message is how a
# consumer acknowledges it, so it is not a deletion of anything the owner has.
OWN_QUEUES = [{"Fn::GetAtt": [q, "Arn"]} for q in ("FailureQueue", "SweepQueue", "ResultsQueue",
                                                   "SweepDeadLetterQueue")]
# Each of the guard's roles assumes exactly its own member role, in any
# account: the sweep and resume the member role, the tripwire and keep-stopped
# theirs. No other role assumes anything.
def member_role(suffix=""):
    return {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}" + suffix}


MEMBER_ROLES = {"SweepRole": member_role(), "ResumeRole": member_role(),
                "LaunchTripwireRole": member_role("-tripwire"),
                "KeepStoppedRole": member_role("-keep-stopped")}
# member.yaml's roles trust one guard role each, with both conditions.
MEMBER_TRUST = {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"},
                                 "aws:PrincipalOrgID": {"Ref": "OrganizationId"}}}
MEMBER_TRUSTED = {"MemberRole": {"AWS": {"Ref": "GuardRoleArns"}},
                  "MemberTripwireRole": {"AWS": {"Ref": "TripwireRoleArn"}},
                  "MemberKeepStoppedRole": {"AWS": {"Ref": "KeepStoppedRoleArn"}}}
STOP = {"ec2:StopInstances", "rds:StopDBInstance", "rds:StopDBCluster", "autoscaling:SuspendProcesses",
        "sagemaker:StopNotebookInstance", "redshift:PauseCluster"}
TAGGING = {"ec2:CreateTags", "rds:AddTagsToResource", "autoscaling:CreateOrUpdateTags", "ecs:TagResource",
           "sagemaker:AddTags", "redshift:CreateTags", "eks:TagResource"}
UNTAGGING = {"ec2:DeleteTags", "rds:RemoveTagsFromResource", "autoscaling:DeleteTags", "ecs:UntagResource",
             "sagemaker:DeleteTags", "redshift:DeleteTags", "eks:UntagResource"}
START = {"ec2:StartInstances", "rds:StartDBInstance", "rds:StartDBCluster", "autoscaling:ResumeProcesses",
         "sagemaker:StartNotebookInstance", "redshift:ResumeCluster"}
# Set a service's task count and a node group's sizes, and could change
# anything else of them: IAM has no key for which field an update changes.
# They are granted only as a stop (never on exempt resources) or as a start
# (only on resources being resumed).
UPDATES = {"ecs:UpdateService", "eks:UpdateNodegroupConfig"}
SAVED = "cost-guard:saved"
# Only groups, services and node groups have a saved state.
SAVED_ON = [{"Fn::Sub": "arn:${AWS::Partition}:autoscaling:*:${AWS::AccountId}:autoScalingGroup:*:autoScalingGroupName/*"},
            {"Fn::Sub": "arn:${AWS::Partition}:ecs:*:${AWS::AccountId}:service/*"},
            {"Fn::Sub": "arn:${AWS::Partition}:eks:*:${AWS::AccountId}:nodegroup/*"}]
# Application Auto Scaling cannot condition a target on its service's tags:
# the one grant without a tag condition, on this account's targets only,
# for the roles that stop and start services.
SCALING_SID = "ScalingTargetsHaveNoServiceTags"
SCALING_TARGETS = {"Fn::Sub": "arn:${AWS::Partition}:application-autoscaling:*:${AWS::AccountId}:scalable-target/*"}
SCALING_ROLES = ("SweepRole", "ResumeRole", "MemberRole", "LaunchTripwireRole", "MemberTripwireRole")
# What an untrusted principal made is stopped whatever its tags (it chose
# them): the tripwire's one grant of the other kinds' stops without a tag
# condition, exactly these actions on this account's resources.
TRIPWIRE_MADE_SID = "TripwireStopsWhatWasMade"
TRIPWIRE_MADE_ACTIONS = {"autoscaling:SuspendProcesses", "ecs:UpdateService", "ecs:StopTask",
                         "sagemaker:StopNotebookInstance", "sagemaker:StopTrainingJob",
                         "sagemaker:StopProcessingJob", "redshift:PauseCluster"}
TRIPWIRE_MADE_RESOURCES = [{"Fn::Sub": "arn:${AWS::Partition}:" + r} for r in (
    "autoscaling:*:${AWS::AccountId}:autoScalingGroup:*:autoScalingGroupName/*",
    "ecs:*:${AWS::AccountId}:service/*",
    "ecs:*:${AWS::AccountId}:task/*",
    "sagemaker:*:${AWS::AccountId}:notebook-instance/*",
    "sagemaker:*:${AWS::AccountId}:training-job/*",
    "sagemaker:*:${AWS::AccountId}:processing-job/*",
    "redshift:*:${AWS::AccountId}:cluster:*")]
# Ending a task or a job loses its work: only in that grant.
ENDS = {"ecs:StopTask", "sagemaker:StopTrainingJob", "sagemaker:StopProcessingJob"}
STAMP_KEYS = {"cost-guard:stopped-at", "cost-guard:stopped-by"}
RESUMING = "cost-guard:resuming"
KEEP_KEYS = {"cost-guard:restart-pending", "cost-guard:restops"}

# The tripwire must stop instances whoever launched them chose the tags of:
# its one stop grant without a tag condition, on this account's instances only.
TRIPWIRE_ROLES = ("LaunchTripwireRole", "MemberTripwireRole")
TRIPWIRE_STOP_SID = "TripwireStopsWhatWasLaunched"
ACCOUNT_INSTANCES = {"Fn::Sub": "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:instance/*"}
QUARANTINE_POLICY = {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSCompromisedKeyQuarantineV3"}
# The tripwire's table of untrusted principals' requests: its role alone
# reads and writes it, and nothing else of DynamoDB.
OWN_TABLE = {"Fn::GetAtt": ["UntrustedRequestsTable", "Arn"]}
# Each role that uses DynamoDB, and the one table it may use.
OWN_TABLES = {"LaunchTripwireRole": OWN_TABLE, WEEKLY_ROLE: {"Fn::GetAtt": ["WeeklyCheckState", "Arn"]},
              "SweepRole": {"Fn::GetAtt": ["BurnWatchState", "Arn"]}}
# The member tripwire role reads itself: the ids member.yaml tagged on it.
OWN_ROLE_READ = {"MemberTripwireRole": {
    "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${MemberRoleName}-tripwire"}}
# Verbs FORBIDDEN matches, allowed only with exactly this condition.
GUARDED = {
    # Turning stop protection off, and no other attribute change.
    "ec2:ModifyInstanceAttribute": {"StringEquals": {"ec2:Attribute/DisableApiStop": "false"}},
    # Attaching AWS's compromised-key policy and no other: no privilege escalation.
    "iam:AttachUserPolicy": {"ArnEquals": {"iam:PolicyARN": QUARANTINE_POLICY}},
    "iam:AttachRolePolicy": {"ArnEquals": {"iam:PolicyARN": QUARANTINE_POLICY}},
}

findings = []


def listed(value):
    return value if isinstance(value, list) else [value]


def documents(doc):
    """Every concrete policy document in `doc`, through Fn::If branches and
    the JSON strings of Fn::Sub."""
    if isinstance(doc, dict) and "Fn::If" in doc:
        for branch in doc["Fn::If"][1:]:
            yield from documents(branch)
    elif isinstance(doc, dict) and "Fn::Sub" in doc:
        text = doc["Fn::Sub"] if isinstance(doc["Fn::Sub"], str) else doc["Fn::Sub"][0]
        yield json.loads(text)
    else:
        yield doc


def policy_documents(policy):
    """The policy documents of one entry of a role's Policies, through an
    Fn::If around the whole entry."""
    if isinstance(policy, dict) and "Fn::If" in policy:
        for branch in policy["Fn::If"][1:]:
            if isinstance(branch, dict) and "PolicyDocument" in branch:
                yield from policy_documents(branch)
        return
    for doc in documents(policy["PolicyDocument"]):
        yield policy["PolicyName"], doc


def check_role_statement(where, st):
    if st.get("Effect") != "Allow":
        return
    actions = set(listed(st.get("Action", [])))
    if "NotAction" in st or "NotResource" in st:
        findings.append(f"{where}: NotAction/NotResource grants too much")
    for a in actions:
        if a not in ALLOWED:
            findings.append(f"{where}: action {a} is not one the functions call")
        if a in GUARDED:
            if st.get("Condition") != GUARDED[a]:
                findings.append(f"{where}: {a} without exactly the condition {json.dumps(GUARDED[a])}")
            continue
        if a.startswith("sqs:"):
            if not all(r in OWN_QUEUES for r in listed(st.get("Resource"))):
                findings.append(f"{where}: {a} on {st.get('Resource')}, not only the guard's own queues")
            if a == "sqs:DeleteMessage":
                continue
        role = where.split()[-1].split("/")[0]
        if a in ("kms:GenerateMac", "kms:VerifyMac"):
            # Only the stack's seal key; only the roles that stop make a
            # seal, and resume only checks one (it could not forge one).
            makes = ("SweepRole", "LaunchTripwireRole")
            if listed(st.get("Resource")) != [{"Fn::GetAtt": ["SavedStateKey", "Arn"]}]:
                findings.append(f"{where}: {a} on {st.get('Resource')}, not only SavedStateKey")
            if role not in makes + ("ResumeRole",) or (a == "kms:GenerateMac" and role not in makes):
                findings.append(f"{where}: {a} for a role that does not {'seal' if a == 'kms:GenerateMac' else 'stop or resume'}")
        if a == "sts:AssumeRole" and (role not in MEMBER_ROLES
                                      or listed(st.get("Resource")) != [MEMBER_ROLES[role]]):
            findings.append(f"{where}: sts:AssumeRole on {st.get('Resource')}, not only {role}'s own member role")
        if a.startswith("dynamodb:") and (role not in OWN_TABLES
                                          or listed(st.get("Resource")) != [OWN_TABLES[role]]):
            findings.append(f"{where}: {a} on {st.get('Resource')}, not only {role}'s own table")
        if role == WEEKLY_ROLE and a not in WEEKLY_ALLOWED:
            findings.append(f"{where}: {a} is not a read, and the weekly check only reads")
        if a in DOCTOR_READS - READS and role != WEEKLY_ROLE and a != "dynamodb:GetItem":
            findings.append(f"{where}: {a} is the weekly check's read, not {role}'s")
        if a == "iam:GetRole" and (role not in OWN_ROLE_READ
                                   or listed(st.get("Resource")) != [OWN_ROLE_READ[role]]):
            findings.append(f"{where}: iam:GetRole on {st.get('Resource')}, not only the role reading itself")
        if a == "application-autoscaling:RegisterScalableTarget":
            if not (st.get("Sid") == SCALING_SID and role in SCALING_ROLES and actions == {a}
                    and listed(st.get("Resource")) == [SCALING_TARGETS] and not st.get("Condition")):
                findings.append(f"{where}: {a} only as {SCALING_SID}: alone, on this account's scalable targets, for {SCALING_ROLES}")
            continue
        if FORBIDDEN.search(a.split(":", 1)[-1]):
            findings.append(f"{where}: action {a} is forbidden (terminate, delete, modify, wildcard)")
    if "*" in listed(st.get("Resource", [])) and not actions <= RESOURCE_STAR_OK:
        findings.append(f"{where}: Resource * for {sorted(actions - RESOURCE_STAR_OK)}")
    cond = json.dumps(st.get("Condition", {}))
    made = st.get("Sid") == TRIPWIRE_MADE_SID
    if made and not (where.split()[-1].split("/")[0] in TRIPWIRE_ROLES
                     and actions == TRIPWIRE_MADE_ACTIONS
                     and listed(st.get("Resource")) == TRIPWIRE_MADE_RESOURCES
                     and not st.get("Condition")):
        findings.append(f"{where}: {TRIPWIRE_MADE_SID} is the tripwire's stops of the other kinds on this account's resources, nothing more")
    if actions & ENDS and not made:
        findings.append(f"{where}: {sorted(actions & ENDS)} only in {TRIPWIRE_MADE_SID}")
    tripwire_stop = st.get("Sid") == TRIPWIRE_STOP_SID or made
    if tripwire_stop and not made and not (where.split()[-1].split("/")[0] in TRIPWIRE_ROLES
                              and actions == {"ec2:StopInstances"}
                              and listed(st.get("Resource")) == [ACCOUNT_INSTANCES]
                              and not st.get("Condition")):
        findings.append(f"{where}: {TRIPWIRE_STOP_SID} is the tripwire's ec2:StopInstances on this account's instances, nothing more")
    if actions & STOP and not tripwire_stop:
        if '"aws:ResourceTag/${ExemptTagKey}": "true"' not in cond:
            findings.append(f"{where}: stop calls not denied on exempt resources")
        if st.get("Sid") == "StopOnlyTagged" and "aws:ResourceTag/${StopTagKey}" not in cond:
            findings.append(f"{where}: tagged mode's stop calls not limited by the stop tag")
        if st.get("Sid") == "StopOnlyStamped" and '"aws:ResourceTag/cost-guard:stopped-at": "false"' not in cond:
            findings.append(f"{where}: keep-stopped's stop calls not limited to stamped databases")
    condition = st.get("Condition", {})
    keys = set(listed(condition.get("ForAllValues:StringEquals", {}).get("aws:TagKeys") or []))
    present = {k.split("/", 1)[1] for k, v in condition.get("Null", {}).items()
               if k.startswith("aws:ResourceTag/") and v == "false"}
    if actions & UPDATES and not made:
        stop_like = '"aws:ResourceTag/${ExemptTagKey}": "true"' in cond
        if not (stop_like or RESUMING in present):
            findings.append(f"{where}: {sorted(actions & UPDATES)} neither denied on exempt resources nor limited to resources carrying {RESUMING}")
    if actions & TAGGING:
        # The sweep writes the stamp and, on groups and services, what resume
        # restores; resume writes its marker and keep-stopped its restart mark
        # and count, only where the stamp is.
        stamped = "cost-guard:stopped-at" in present
        saved = keys == {SAVED} and all(r in SAVED_ON for r in listed(st.get("Resource")))
        if keys != STAMP_KEYS and not saved and not (keys in ({RESUMING}, KEEP_KEYS) and stamped):
            findings.append(f"{where}: tag writes not limited to the stamp keys {sorted(STAMP_KEYS)}, "
                            f"or to {RESUMING} on stamped resources")
    if actions & UNTAGGING:
        by_resume = keys and keys <= STAMP_KEYS | {RESUMING, SAVED} and RESUMING in present
        by_keep = keys == {"cost-guard:restart-pending"} and "cost-guard:stopped-at" in present
        if not (by_resume or by_keep):
            findings.append(f"{where}: tag removal not limited to cost-guard's keys on resources being resumed")
    if actions & START and RESUMING not in present:
        findings.append(f"{where}: start calls not limited to resources carrying {RESUMING}")


def check_service_statement(where, st, services):
    principal = st.get("Principal", {})
    if principal == "*" or "AWS" in principal and where.endswith("TopicPolicy"):
        findings.append(f"{where}: principal {principal} is not an AWS service")
    for svc in listed(principal.get("Service", [])):
        if svc not in services:
            findings.append(f"{where}: service {svc} does not publish here")
    condition = st.get("Condition", {})
    by_org = (listed(principal.get("Service")) == ["budgets.amazonaws.com"]
              and condition == {"StringEquals": {"aws:SourceOrgID": {"Ref": "OrganizationId"}}})
    if "Service" in principal and "aws:SourceAccount" not in json.dumps(condition) and not by_org:
        findings.append(f"{where}: service access not limited by aws:SourceAccount "
                        "(or, for member accounts' budgets, aws:SourceOrgID)")


def statement_list(doc):
    """The statements of a policy document, through Fn::If around one."""
    for st in listed(doc):
        if isinstance(st, dict) and "Fn::If" in st:
            for branch in st["Fn::If"][1:]:
                if branch != {"Ref": "AWS::NoValue"}:
                    yield from statement_list(branch)
        else:
            yield st


def check_trust(where, doc):
    role = where.split()[-1]
    for st in statement_list(doc["Statement"]):
        principal = st.get("Principal", {})
        if principal.get("Service") in ("lambda.amazonaws.com", "events.amazonaws.com"):
            continue
        if principal != MEMBER_TRUSTED.get(role) or st.get("Condition") != MEMBER_TRUST:
            findings.append(f"{where}: trusts {principal} with {st.get('Condition')}, "
                            "not only its one guard role with the external id and the organization")


def check_bus_policy(where, props):
    """The guard's bus takes events from the organization's accounts only."""
    st = props.get("Statement", {})
    org = {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}}
    if (listed(st.get("Action")) != ["events:PutEvents"] or st.get("Effect") != "Allow"
            or st.get("Condition") != org or props.get("EventBusName") != "default"):
        findings.append(f"{where}: the bus policy grants {st.get('Action')} with {st.get('Condition')}, "
                        "not only events:PutEvents on the default bus from the organization")


def check(path):
    template, errors = decode(path)
    if errors:
        findings.extend(f"{path}: {e}" for e in errors)
        return 0
    statements = 0
    for name, res in template.get("Resources", {}).items():
        kind, props = res.get("Type"), res.get("Properties", {})
        if kind == "AWS::IAM::Role":
            check_trust(f"{path} {name}", props["AssumeRolePolicyDocument"])
            for policy in props.get("Policies", []):
                for policy_name, doc in policy_documents(policy):
                    for st in listed(doc["Statement"]):
                        statements += 1
                        check_role_statement(f"{path} {name}/{policy_name}", st)
            if props.get("ManagedPolicyArns"):
                findings.append(f"{path} {name}: managed policies grant more than listed")
        elif kind == "AWS::SNS::TopicPolicy":
            for st in statement_list(props["PolicyDocument"]["Statement"]):
                statements += 1
                if listed(st.get("Action")) != ["sns:Publish"]:
                    findings.append(f"{path} {name}: topic grants {st.get('Action')}")
                check_service_statement(
                    f"{path} {name}", st,
                    {"budgets.amazonaws.com", "cloudwatch.amazonaws.com", "costalerts.amazonaws.com"})
        elif kind == "AWS::KMS::Key":
            for st in statement_list(props["KeyPolicy"]["Statement"]):
                statements += 1
                if "Service" in st.get("Principal", {}):
                    if set(listed(st["Action"])) - {"kms:GenerateDataKey*", "kms:Decrypt"}:
                        findings.append(f"{path} {name}: services get {st['Action']}")
                    check_service_statement(
                        f"{path} {name}", st,
                        {"budgets.amazonaws.com", "cloudwatch.amazonaws.com", "costalerts.amazonaws.com"})
        elif kind == "AWS::Events::EventBusPolicy":
            statements += 1
            check_bus_policy(f"{path} {name}", props)
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User"):
            findings.append(f"{path} {name}: unexpected {kind}")
        elif kind == "AWS::Serverless::Function" and "Policies" in props:
            findings.append(f"{path} {name}: SAM policy templates bypass this check; use SweepRole")
    check_failure_path(path, template.get("Resources", {}))
    return statements


def check_failure_path(path, resources):
    functions = [n for n, r in resources.items() if r.get("Type") == "AWS::Serverless::Function"]
    if not functions:
        return
    queue = {"Fn::GetAtt": ["FailureQueue", "Arn"]}
    notify = {"Ref": "NotifyTopic"}
    alarms = [r.get("Properties", {}) for r in resources.values()
              if r.get("Type") == "AWS::CloudWatch::Alarm"]

    def alarmed(metric, dimension):
        return any(a.get("MetricName") == metric and notify in listed(a.get("AlarmActions"))
                   and any(d.get("Value") == dimension for d in listed(a.get("Dimensions")))
                   for a in alarms)

    for name in functions:
        config = resources[name]["Properties"].get("EventInvokeConfig", {})
        on_failure = config.get("DestinationConfig", {}).get("OnFailure", {})
        if on_failure.get("Type") != "SQS" or on_failure.get("Destination") != queue:
            findings.append(f"{path} {name}: failed events do not go to FailureQueue")
        if not config.get("MaximumRetryAttempts"):
            findings.append(f"{path} {name}: Lambda does not retry a failed invocation")
        for metric in ("Errors", "Throttles"):
            if not alarmed(metric, {"Ref": name}):
                findings.append(f"{path} {name}: no {metric} alarm notifying NotifyTopic")
    if not alarmed("ApproximateNumberOfMessagesVisible", {"Fn::GetAtt": ["FailureQueue", "QueueName"]}):
        findings.append(f"{path} FailureQueue: no alarm notifying NotifyTopic")
    writes = [st for r in resources.values() if r.get("Type") == "AWS::IAM::Role"
              for policy in r["Properties"].get("Policies", [])
              for _, doc in policy_documents(policy)
              for st in listed(doc["Statement"])
              if "sqs:SendMessage" in listed(st.get("Action")) and queue in listed(st.get("Resource"))]
    if not writes:
        findings.append(f"{path} FailureQueue: no role may send failed events to it")


if __name__ == "__main__":
    paths = sys.argv[1:] or ["template.yaml", "forwarder.yaml"]
    counted = {p: check(p) for p in paths}
    for f in findings:
        print(f"check-iam: {f}")
    if findings:
        sys.exit(1)
    print("check-iam: " + ", ".join(f"{p}: {n} statements" for p, n in counted.items())
          + "; each grants only what the functions call, and every failure reaches the subscribers")
