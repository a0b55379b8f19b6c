#!/usr/bin/env python3
"""The wiring, tested rather than linted: the SAM template as CloudFormation
would receive it, for several parameter sets, with its intrinsic functions
resolved; then

1. every function's environment, role, rules, schedules and invoke
   permissions, and nothing generated that was not expected;
2. every IAM policy decided for concrete requests (resource tags, tag keys,
   accounts, attributes) by a small evaluator of exactly the condition
   operators the templates use, itself checked against AWS's documented
   examples;
3. every EventBridge rule's pattern, in template.yaml and forwarder.yaml,
   matched against every sample in events/: each must match the samples meant
   for it and no other;
4. what the manual (README.md, docs/) promises of them: the defaults in its parameter tables,
   every variable each function's code reads (scripts/function-vars.json,
   kept equal to the code by a unit test) set under its exact name and no
   other, trust, key, bus and topic policies, which topic each alert goes to,
   the rules' targets, schedules, reserved concurrency and the trail;
5. the mutation check: known one-line mistakes (scripts/wiring-mutations.json)
   applied to copies of the templates must each be rejected (`--mistakes
   FILE` counts, for any list, how many are).

Run by scripts/test with the .venv python (SAM's own translator and cfn-lint's
YAML loader). Prints each finding and exits 1 if there is any.

Not checked here, because only a deployment shows them: alarms firing, SNS
delivering to subscriptions, topic and bucket policies being enforced, event
invoke configs retrying, budgets and trails existing. moto's CloudFormation
would report CREATE_COMPLETE for all of these without modelling them, so it is
not used as proof.
"""
import copy
import fnmatch
import json
import os
import re
import sys
import tempfile

import logging  # noqa: E402

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
# The translator warns about its own usage metrics, which nothing publishes here.
logging.getLogger("samtranslator").setLevel(logging.ERROR)

from cfnlint.decode import decode  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
REGION = "us-east-1"
STACK = "cost-guard"
PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::StackName": STACK,
    "AWS::URLSuffix": "amazonaws.com",
}
NO_VALUE = object()

# The parameter sets every check runs under: the defaults and each switch
# that changes what is generated or what a policy allows.
PARAMETER_SETS = {
    "defaults": {},
    "any tag value": {"StopTagValue": ""},
    "all-except-exempt": {"Selection": "all-except-exempt"},
    "spend-watch on": {"SpendLimitUsd": "100", "ForecastLimitUsd": "150", "SpendSummary": "daily"},
    "spend-watch without its summary": {"SpendLimitUsd": "100"},
    "root stop mode": {"RootLoginAction": "stop", "RootTrustedCidrs": "198.51.100.0/24"},
    "trail on, no root API alerts": {"CreateTrail": "true", "AlertOnRootApiCalls": "false"},
    "budget, alarm, email": {"MonthlyBudgetUsd": "50", "BillingAlarmUsd": "40", "NotifyEmail": "me@example.com"},
    "tripwire quarantine and trust": {
        "TripwireQuarantine": "on",
        "TripwireTrustedPrincipals": "arn:aws:iam::123456789012:role/ci-deploy",
        "TripwireAllowedRegions": "us-east-1,eu-west-1",
    },
    "organization, queue, member budgets": {
        "Accounts": "organization", "OrgScope": "all", "OrganizationId": "o-a1b2c3d4e5",
        "FanoutAbove": "20", "MemberRoleName": "guard-member",
    },
    "a list of accounts": {"Accounts": "111111111111,222222222222"},
    "weekly check off": {"DoctorSchedule": "off"},
    "weekly check daily": {"DoctorSchedule": "rate(1 day)"},
    "burn-watch on": {"BurnLimitUsdPerHour": "5", "BurnWarnUsdPerHour": "2", "MonthlyLimitUsd": "300",
                      "BurnAction": "stop", "BurnWatchSchedule": "rate(5 minutes)"},
}
# member.yaml, for the same selections as the guard (its two required values set).
MEMBER_TRIPWIRE = "arn:aws:iam::123456789012:role/cost-guard-LaunchTripwireRole-ABC123"
MEMBER_KEEP = "arn:aws:iam::123456789012:role/cost-guard-KeepStoppedRole-ABC123"
MEMBER_SETS = {
    "defaults": {},
    "any tag value": {"StopTagValue": ""},
    "all-except-exempt": {"Selection": "all-except-exempt"},
    "tripwire and keep-stopped roles": {"TripwireRoleArn": MEMBER_TRIPWIRE, "KeepStoppedRoleArn": MEMBER_KEEP,
                                        "MemberRoleName": "guard-member"},
    "tripwire role with quarantine": {"TripwireRoleArn": MEMBER_TRIPWIRE, "TripwireQuarantine": "on"},
}
MEMBER_REQUIRED = {"GuardRoleArns": f"arn:aws:iam::123456789012:role/{'cost-guard-SweepRole-ABC123'}",
                   "OrganizationId": "o-a1b2c3d4e5"}

# Which samples in events/ each rule is meant for, by rule name (a SAM event's
# rule is FUNCTION + EVENT). A rule missing here is a finding: say what it is for.
RULE_SAMPLES = {
    "RootLoginAlertFunctionRootConsoleSignIn": ["root-signin-*.json"],
    "RootApiCallRule": ["root-api-*.json", "tripwire-root-launch.json"],
    "KeepStoppedFunctionRdsStarts": [
        "rds-instance-forced-start.json", "rds-instance-started.json",
        "rds-cluster-forced-start.json", "rds-cluster-started.json",
    ],
    "LaunchTripwireFunctionLaunches": [
        "tripwire-run-instances*.json", "tripwire-start-instances.json", "tripwire-create-fleet*.json",
        "tripwire-spot-request.json", "tripwire-spot-fleet-request.json", "tripwire-autoscaling-launch.json", "tripwire-dry-run-probe.json",
        "tripwire-root-launch.json",
    ],
    "LaunchTripwireFunctionFirstMoves": ["tripwire-quota-increase.json"],
    "LaunchTripwireFunctionComputeCalls": ["tripwire-create-auto-scaling-group.json", "tripwire-update-auto-scaling-group.json", "tripwire-create-service.json", "tripwire-update-service.json", "tripwire-run-task.json", "tripwire-create-notebook.json", "tripwire-create-training-job.json", "tripwire-create-processing-job.json", "tripwire-create-endpoint.json", "tripwire-create-redshift-cluster.json", "tripwire-resume-redshift-cluster.json"],
    "LaunchTripwireFunctionGuardDutyFindings": ["guardduty-*.json"],
    "LaunchTripwireFunctionSpotFulfilled": ["tripwire-spot-fulfilled.json"],
    "LaunchTripwireFunctionFleetLaunched": ["tripwire-spot-fleet-launched.json"],
    "LaunchTripwireFunctionTagWrites": ["tripwire-exempt-tag-added.json"],
    "LaunchTripwireFunctionTagRemovals": ["tripwire-ec2-stamp-removed.json"],
    "LaunchTripwireFunctionRdsTagWrites": ["tripwire-rds-exempt-tag-added.json"],
    "LaunchTripwireFunctionRdsTagRemovals": ["tripwire-stamp-removed.json"],
    "LaunchTripwireFunctionRegionEnabled": ["tripwire-enable-region.json"],
    "LaunchTripwireFunctionKindsTagWrites": [
        "tripwire-group-exempt-tag-added.json", "tripwire-service-saved-tag-written.json",
        "tripwire-notebook-stamp-written.json", "tripwire-redshift-exempt-tag-added.json",
    ],
    "LaunchTripwireFunctionGroupTagRemovals": ["tripwire-group-stamp-removed.json"],
    "LaunchTripwireFunctionKindsTagRemovals": ["tripwire-service-stamp-removed.json"],
    "LaunchTripwireFunctionNodeGroupTagWrites": ["tripwire-node-group-saved-tag-written.json"],
    # forwarder.yaml: the same events, from other regions.
    "RootSignInForward": ["root-signin-*.json"],
    "RootApiCallForward": ["root-api-*.json", "tripwire-root-launch.json"],
    "RdsStartForward": [
        "rds-instance-forced-start.json", "rds-instance-started.json",
        "rds-cluster-forced-start.json", "rds-cluster-started.json",
    ],
    "LaunchForward": [
        "tripwire-run-instances*.json", "tripwire-start-instances.json", "tripwire-create-fleet*.json",
        "tripwire-spot-request.json", "tripwire-spot-fleet-request.json", "tripwire-autoscaling-launch.json", "tripwire-dry-run-probe.json",
        "tripwire-root-launch.json",
    ],
    "FirstMoveForward": ["tripwire-quota-increase.json"],
    "ComputeForward": ["tripwire-create-auto-scaling-group.json", "tripwire-update-auto-scaling-group.json", "tripwire-create-service.json", "tripwire-update-service.json", "tripwire-run-task.json", "tripwire-create-notebook.json", "tripwire-create-training-job.json", "tripwire-create-processing-job.json", "tripwire-create-endpoint.json", "tripwire-create-redshift-cluster.json", "tripwire-resume-redshift-cluster.json"],
    "GuardDutyForward": ["guardduty-*.json"],
    "FleetLaunchForward": ["tripwire-spot-fulfilled.json", "tripwire-spot-fleet-launched.json"],
    "TagWriteForward": ["tripwire-exempt-tag-added.json"],
    "TagRemovalForward": ["tripwire-ec2-stamp-removed.json"],
    "RdsTagWriteForward": ["tripwire-rds-exempt-tag-added.json"],
    "KindsTagWriteForward": [
        "tripwire-group-exempt-tag-added.json", "tripwire-service-saved-tag-written.json",
        "tripwire-notebook-stamp-written.json", "tripwire-redshift-exempt-tag-added.json",
    ],
    "GroupTagRemovalForward": ["tripwire-group-stamp-removed.json"],
    "KindsTagRemovalForward": ["tripwire-service-stamp-removed.json"],
    "NodeGroupTagWriteForward": ["tripwire-node-group-saved-tag-written.json"],
    "RdsTagRemovalForward": ["tripwire-stamp-removed.json"],
    "RegionEnabledForward": ["tripwire-enable-region.json"],
}
# Resource types SAM may generate from a function's properties.
GENERATED_OK = {
    "AWS::Lambda::Permission", "AWS::Events::Rule", "AWS::SNS::Subscription",
    "AWS::Lambda::EventInvokeConfig",
}


class Findings(list):
    def add(self, where, text):
        self.append(f"{where}: {text}")


# How much was checked, for the summary line (and so a check that silently
# stops running shows).
COUNTS = {"decisions": 0, "matches": 0, "functions": 0}


# ---------------------------------------------------------------------------
# The template as CloudFormation sees it


def load(path):
    template, errors = decode(path)
    if errors:
        raise SystemExit(f"check-wiring: {path}: {errors}")
    return json.loads(json.dumps(template))


def expand(template):
    """SAM's transform, as `sam deploy` hands the template to CloudFormation
    (CodeUri replaced by the S3 location `sam package` uploads to)."""
    t = copy.deepcopy(template)
    if "Transform" not in t:
        return t
    for r in t.get("Resources", {}).values():
        if r.get("Type") == "AWS::Serverless::Function":
            r["Properties"]["CodeUri"] = "s3://cost-guard-artifacts/function.zip"

    class NoManagedPolicies:
        def load(self):
            return {}

    return transform(t, dict(PSEUDO), NoManagedPolicies())


def physical(name, res):
    """What Ref and Fn::GetAtt give for a resource, with names as AWS would form them."""
    kind = res.get("Type", "")
    props = res.get("Properties", {})
    generated = f"{STACK}-{name}-ABC123"
    arn = lambda service, rest: f"arn:aws:{service}:{REGION}:{ACCOUNT}:{rest}"  # noqa: E731
    if kind == "AWS::SNS::Topic":
        return {"Ref": arn("sns", generated), "TopicName": generated}
    if kind == "AWS::IAM::Role":
        # A role's unique id: AROA and capital letters and digits, one per role.
        unique = "AROA" + (re.sub(r"[^A-Z0-9]", "", name.upper()) + "0" * 17)[:17]
        return {"Ref": generated, "Arn": f"arn:aws:iam::{ACCOUNT}:role/{generated}", "RoleId": unique}
    if kind == "AWS::Lambda::Function":
        fname = props.get("FunctionName") if isinstance(props.get("FunctionName"), str) else generated
        return {"Ref": fname, "Arn": arn("lambda", f"function:{fname}")}
    if kind == "AWS::SQS::Queue":
        return {"Ref": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{generated}",
                "Arn": arn("sqs", generated), "QueueName": generated}
    if kind == "AWS::Events::Rule":
        return {"Ref": generated, "Arn": arn("events", f"rule/{generated}")}
    if kind == "AWS::KMS::Key":
        return {"Ref": f"key-{name}", "Arn": arn("kms", f"key/key-{name}")}
    if kind == "AWS::Logs::LogGroup":
        group = props.get("LogGroupName") if isinstance(props.get("LogGroupName"), str) else generated
        return {"Ref": group, "Arn": arn("logs", f"log-group:{group}:*")}
    if kind == "AWS::DynamoDB::Table":
        return {"Ref": generated, "Arn": arn("dynamodb", f"table/{generated}")}
    if kind == "AWS::S3::Bucket":
        bucket = generated.lower()
        return {"Ref": bucket, "Arn": f"arn:aws:s3:::{bucket}"}
    return {"Ref": generated, "Arn": arn("unknown", generated)}


class Resolver:
    def __init__(self, template, values):
        self.t = template
        params = {}
        for name, p in template.get("Parameters", {}).items():
            params[name] = str(values.get(name, p.get("Default", "")))
        unknown = set(values) - set(params)
        if unknown:
            raise SystemExit(f"check-wiring: no such parameters: {sorted(unknown)}")
        self.params = params
        self.conditions = {}
        for name in template.get("Conditions", {}):
            self.condition(name)
        self.resources = {}
        live = {n: r for n, r in template.get("Resources", {}).items()
                if "Condition" not in r or self.condition(r["Condition"])}
        # Names first (FunctionName, LogGroupName may use Sub), then everything.
        self.phys = {}
        for name, r in live.items():
            props = r.get("Properties", {})
            own_name = {"AWS::Lambda::Function": "FunctionName", "AWS::Logs::LogGroup": "LogGroupName"}.get(r["Type"])
            shallow = dict(r, Properties={k: self.value(v) if k == own_name else v for k, v in props.items()})
            self.phys[name] = physical(name, shallow)
        for name, r in live.items():
            self.resources[name] = self.value(r)

    def condition(self, name):
        if name not in self.conditions:
            self.conditions[name] = bool(self.value(self.t["Conditions"][name]))
        return self.conditions[name]

    def ref(self, name):
        if name in PSEUDO:
            return PSEUDO[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.params:
            return self.params[name]
        if name in self.phys:
            return self.phys[name]["Ref"]
        raise KeyError(f"Ref to {name}, which does not exist (or its condition is false)")

    def getatt(self, name, attr):
        if name not in self.phys:
            raise KeyError(f"GetAtt of {name}, which does not exist (or its condition is false)")
        got = self.phys[name].get(attr)
        if got is None:
            raise KeyError(f"GetAtt {name}.{attr}: attribute not modelled")
        return got

    def sub(self, text, extra):
        def one(m):
            key = m.group(1)
            if key.startswith("!"):
                return "${" + key[1:] + "}"
            if key in extra:
                return str(extra[key])
            if "." in key and not key.startswith("AWS::"):
                n, a = key.split(".", 1)
                return str(self.getatt(n, a))
            return str(self.ref(key))
        return re.sub(r"\$\{([^}]+)\}", one, text)

    def value(self, v):
        if isinstance(v, list):
            return [x for x in (self.value(i) for i in v) if x is not NO_VALUE]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            (k, arg), = v.items()
            if k == "Ref":
                return self.ref(arg)
            if k == "Fn::GetAtt":
                n, a = arg.split(".", 1) if isinstance(arg, str) else arg
                return self.getatt(n, a)
            if k == "Fn::Sub":
                if isinstance(arg, str):
                    return self.sub(arg, {})
                return self.sub(arg[0], {kk: self.value(vv) for kk, vv in arg[1].items()})
            if k == "Fn::Join":
                return arg[0].join(str(x) for x in self.value(arg[1]))
            if k == "Fn::If":
                return self.value(arg[1] if self.condition(arg[0]) else arg[2])
            if k == "Fn::Equals":
                a, b = (self.value(x) for x in arg)
                return str(a) == str(b)
            if k == "Fn::Not":
                return not self.value(arg[0])
            if k == "Fn::And":
                return all(self.value(x) for x in arg)
            if k == "Fn::Or":
                return any(self.value(x) for x in arg)
            if k == "Condition":
                return self.condition(arg)
            if k == "Fn::Select":
                return self.value(arg[1])[int(self.value(arg[0]))]
            if k == "Fn::Split":
                return str(self.value(arg[1])).split(arg[0])
        out = {}
        for k, x in v.items():
            r = self.value(x)
            if r is not NO_VALUE:
                out[k] = r
        return out


def policy_documents(role):
    for p in role.get("Properties", {}).get("Policies", []):
        doc = p["PolicyDocument"]
        yield p["PolicyName"], json.loads(doc) if isinstance(doc, str) else doc


# ---------------------------------------------------------------------------
# IAM: the operators the templates use, as AWS documents them


def listed(x):
    return x if isinstance(x, list) else [x]


def glob(pattern, text, case=True):
    """IAM's wildcards: * any run of characters (including none), ? one."""
    if not case:
        pattern, text = pattern.lower(), text.lower()
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, text, re.S) is not None


def arn_like(pattern, arn):
    """ArnLike/ArnEquals: each of the six colon-separated parts matches on its own."""
    p, a = pattern.split(":", 5), arn.split(":", 5)
    return len(p) == 6 and len(a) == 6 and all(glob(x, y) for x, y in zip(p, a))


def condition_holds(condition, context):
    """All operators and keys must hold (AND); a key's values are alternatives (OR)."""
    # Condition key names are not case-sensitive: a policy's
    # aws:ResourceTag/TagKey1 matches a resource tag named tagkey1 (AWS's
    # IAM User Guide). The values compared are, unless the operator says not.
    by_name = {k.lower(): v for k, v in context.items()}
    for op, keys in condition.items():
        for key, wanted in keys.items():
            wanted = [str(w) for w in listed(wanted)]
            present = key.lower() in by_name
            got = by_name.get(key.lower())
            if op == "Null":
                if wanted[0] not in ("true", "false"):
                    raise ValueError(f"Null takes true or false, not {wanted}")
                if (wanted[0] == "true") == present:
                    return False
            elif op.startswith("ForAllValues:"):
                inner = op.split(":", 1)[1]
                values = listed(got) if present else []
                if not all(single(inner, v, wanted) for v in values):
                    return False
            elif op.startswith("ForAnyValue:"):
                inner = op.split(":", 1)[1]
                values = listed(got) if present else []
                if not any(single(inner, v, wanted) for v in values):
                    return False
            else:
                ifexists = op.endswith("IfExists")
                base = op[:-len("IfExists")] if ifexists else op
                if not present:
                    if ifexists:
                        continue
                    # A negated operator on a missing key matches; every other fails.
                    if base in ("StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"):
                        continue
                    return False
                if isinstance(got, list):
                    raise ValueError(f"{op} on the multivalued key {key}: use ForAllValues/ForAnyValue")
                if not single(base, got, wanted):
                    return False
    return True


def single(op, value, wanted):
    value = str(value)
    if op == "StringEquals":
        return value in wanted
    if op == "StringNotEquals":
        return value not in wanted
    if op == "StringEqualsIgnoreCase":
        return value.lower() in (w.lower() for w in wanted)
    if op == "StringLike":
        return any(glob(w, value) for w in wanted)
    if op == "StringNotLike":
        return not any(glob(w, value) for w in wanted)
    if op in ("ArnEquals", "ArnLike"):
        return any(arn_like(w, value) for w in wanted)
    if op in ("ArnNotEquals", "ArnNotLike"):
        return not any(arn_like(w, value) for w in wanted)
    if op == "Bool":
        return value.lower() in (w.lower() for w in wanted)
    raise ValueError(f"operator {op} is not modelled: add it, with AWS's documented examples")


def statement_applies(st, action, resource, context):
    if "NotAction" in st or "NotResource" in st:
        raise ValueError("NotAction/NotResource are not modelled")
    if not any(glob(a, action, case=False) for a in listed(st.get("Action", []))):
        return False
    if not any(r == "*" or arn_like(r, resource) for r in listed(st.get("Resource", []))):
        return False
    return condition_holds(st.get("Condition", {}), context)


def decide(documents, action, resource, context):
    """Allow when an Allow statement applies and no Deny does (identity policies only)."""
    allowed = False
    for doc in documents:
        for st in listed(doc.get("Statement", [])):
            if statement_applies(st, action, resource, context):
                if st.get("Effect") == "Deny":
                    return False
                allowed = True
    return allowed


def other_cases(key):
    """The key spelt in other cases: the same key to IAM's condition key
    names, another key to every service's tags and to aws:TagKeys."""
    return [k for k in dict.fromkeys((key.upper(), key.title(), key.swapcase())) if k != key]


def tags_context(tags=None, request_keys=None, extra=None):
    ctx = {f"aws:ResourceTag/{k}": v for k, v in (tags or {}).items()}
    if request_keys is not None:
        ctx["aws:TagKeys"] = list(request_keys)
    ctx.update(extra or {})
    return ctx


def self_test_evaluator(f):
    """The evaluator against the examples in AWS's IAM User Guide (condition
    operators; single- and multivalued context keys)."""
    cases = [
        # StringEquals: case-sensitive exact match; several values are OR.
        ({"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
         {"aws:PrincipalTag/job-category": "iamuser-admin"}, True),
        ({"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
         {"aws:PrincipalTag/job-category": "IAMUser-Admin"}, False),
        ({"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}, {}, False),
        # A key name in another case is the same key; its value is not.
        ({"StringEquals": {"aws:ResourceTag/TagKey1": "Value1"}}, {"aws:ResourceTag/tagkey1": "Value1"}, True),
        ({"StringEquals": {"aws:ResourceTag/TagKey1": "Value1"}}, {"aws:ResourceTag/tagkey1": "value1"}, False),
        ({"Null": {"aws:ResourceTag/cost-guard-exempt": "false"}}, {"aws:ResourceTag/Cost-Guard-Exempt": ""}, True),
        # aws:TagKeys holds tag keys as values: compared with the operator's case.
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["cost-guard-exempt"]}}, {"aws:TagKeys": ["COST-GUARD-EXEMPT"]}, False),
        ({"StringEquals": {"aws:RequestedRegion": ["us-east-1", "us-west-1"]}},
         {"aws:RequestedRegion": "us-west-1"}, True),
        # Null: "true" means the key is absent, "false" that it is present.
        ({"Null": {"aws:TokenIssueTime": "true"}}, {}, True),
        ({"Null": {"aws:TokenIssueTime": "true"}}, {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"}, False),
        ({"Null": {"aws:TokenIssueTime": "false"}}, {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"}, True),
        # ForAllValues: every request value in the set; true when the key is absent or empty.
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}},
         {"aws:TagKeys": ["environment"]}, True),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}},
         {"aws:TagKeys": ["environment", "owner"]}, False),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}}, {}, True),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}},
         {"aws:TagKeys": []}, True),
        # ForAnyValue: at least one; false when the key is absent.
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment"]}}, {"aws:TagKeys": ["x", "environment"]}, True),
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment"]}}, {}, False),
        # StringLike wildcards; StringNotEquals on a missing key matches.
        ({"StringLike": {"s3:prefix": ["home/*"]}}, {"s3:prefix": "home/alice/x"}, True),
        ({"StringLike": {"s3:prefix": ["home/*"]}}, {"s3:prefix": "work/alice"}, False),
        ({"StringNotEquals": {"aws:PrincipalTag/team": "ops"}}, {}, True),
        # ArnEquals/ArnLike: per-part wildcards.
        ({"ArnLike": {"aws:SourceArn": "arn:aws:cloudtrail:*:111122223333:trail/*"}},
         {"aws:SourceArn": "arn:aws:cloudtrail:us-east-1:111122223333:trail/main"}, True),
        ({"ArnEquals": {"iam:PolicyARN": "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"}},
         {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}, False),
        # Bool; and AND across keys and operators.
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "false"}, True),
        ({"Null": {"a": "false"}, "StringEquals": {"b": "x"}}, {"a": "1", "b": "y"}, False),
    ]
    for i, (cond, ctx, want) in enumerate(cases):
        if condition_holds(cond, ctx) != want:
            f.add("evaluator", f"case {i} {json.dumps(cond)} with {ctx}: expected {want}")
    if not arn_like("arn:aws:ec2:*:123456789012:instance/*", "arn:aws:ec2:eu-west-1:123456789012:instance/i-1"):
        f.add("evaluator", "a resource wildcard did not match")
    if arn_like("arn:aws:ec2:*:123456789012:instance/*", "arn:aws:ec2:eu-west-1:210987654321:instance/i-1"):
        f.add("evaluator", "another account matched")


# ---------------------------------------------------------------------------
# EventBridge patterns, with EventBridge's matching semantics

MISSING = object()


def named_fields(pattern, path=()):
    """The paths of the fields the pattern names, whatever it asks of them."""
    for key, want in pattern.items():
        if isinstance(want, dict):
            yield from named_fields(want, path + (key,))
        elif isinstance(want, list):
            yield path + (key,)


def at(event, path):
    node = event
    for key in path:
        node = node.get(key, MISSING) if isinstance(node, dict) else MISSING
    return node


def near_misses(pattern, event):
    """The event once per field the pattern names and the event holds as one
    string, that string made a little longer at either end: what the rule
    must then not match. An exact value, a prefix, a wildcard or an
    anything-but all show here; only lists of tag keys, which a prefix
    rightly matches, are read through arrays and left out."""
    for path in named_fields(pattern):
        value = at(event, path)
        if not isinstance(value, str):
            continue
        for changed in ("Preview" + value, value + "Preview"):
            miss = copy.deepcopy(event)
            at(miss, path[:-1])[path[-1]] = changed
            yield path, miss


# What every rule must name, so that losing one shows: its source, and for
# a record of an API call, the call. The root API alert is the one rule that
# takes every call, from every service, by whom made them (the README's
# "any API call made with root credentials").
NAMED_BY_EVERY_RULE = [("source",)]
NAMED_FOR_CALLS = ("detail", "eventName")
TAKES_EVERY_CALL = {"RootApiCallRule": ("detail", "userIdentity", "type"),
                    "RootApiCallForward": ("detail", "userIdentity", "type")}


def case_variants(event, key):
    """The event with every string equal to `key` spelt in each other case."""
    def swap(node, spelt):
        if isinstance(node, dict):
            return {k: swap(v, spelt) for k, v in node.items()}
        if isinstance(node, list):
            return [swap(v, spelt) for v in node]
        return spelt if node == key else node
    if json.dumps(event).count(json.dumps(key)):
        for spelt in other_cases(key):
            yield spelt, swap(event, spelt)


def pattern_matches(pattern, event):
    for key, want in pattern.items():
        got = event.get(key, MISSING) if isinstance(event, dict) else MISSING
        if isinstance(want, dict):
            # EventBridge reads through arrays: `tagSet.items.key` matches when
            # any item's key does.
            inner = [g for g in (got if isinstance(got, list) else [got]) if isinstance(g, dict)]
            if not any(pattern_matches(want, g) for g in inner):
                return False
        elif isinstance(want, list):
            if not field_matches(want, got):
                return False
        else:
            raise ValueError(f"pattern value for {key} must be an object or an array")
    return True


def field_matches(options, got):
    values = got if isinstance(got, list) else [got]
    for opt in options:
        if isinstance(opt, dict) and "exists" in opt:
            if opt["exists"] == (got is not MISSING and not isinstance(got, dict)):
                return True
            continue
        if got is MISSING:
            continue
        if any(value_matches(opt, v) for v in values):
            return True
    return False


def value_matches(opt, v):
    if not isinstance(opt, dict):
        return type(opt) is type(v) and opt == v if not isinstance(opt, (int, float)) else (
            isinstance(v, (int, float)) and not isinstance(v, bool) and opt == v)
    (op, arg), = opt.items()
    if op == "prefix":
        return isinstance(v, str) and (v.startswith(arg) if isinstance(arg, str)
                                       else v.lower().startswith(arg["equals-ignore-case"].lower()))
    if op == "suffix":
        return isinstance(v, str) and v.endswith(arg)
    if op == "equals-ignore-case":
        return isinstance(v, str) and v.lower() == arg.lower()
    if op == "wildcard":
        return isinstance(v, str) and glob(arg, v)
    if op == "anything-but":
        if isinstance(arg, dict):
            return not value_matches(arg, v)
        return not any(value_matches(a, v) for a in listed(arg))
    if op == "numeric":
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            return False
        ops = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, "=": lambda a, b: a == b,
               ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
        return all(ops[arg[i]](v, arg[i + 1]) for i in range(0, len(arg), 2))
    raise ValueError(f"pattern operator {op} is not modelled")


def self_test_matcher(f):
    """EventBridge's documented matching rules."""
    ev = {"source": "aws.ec2", "detail": {"state": "running", "ids": ["a", "b"], "n": 5,
                                          "tags": {"items": [{"key": "Name"}, {"key": "cost-guard:x"}]}}}
    cases = [
        ({"source": ["aws.ec2"]}, True),
        ({"source": ["aws.ec"]}, False),
        ({"source": [{"prefix": "aws."}]}, True),
        ({"detail": {"state": [{"anything-but": ["stopped", "terminated"]}]}}, True),
        ({"detail": {"state": [{"anything-but": "running"}]}}, False),
        ({"detail": {"ids": ["b"]}}, True),  # an array matches when any element does
        ({"detail": {"missing": [{"exists": False}]}}, True),
        ({"detail": {"state": [{"exists": False}]}}, False),
        ({"detail": {"missing": ["x"]}}, False),
        ({"detail": {"n": [{"numeric": [">", 1, "<=", 5]}]}}, True),
        ({"detail": {"n": ["5"]}}, False),  # types must match
        ({"source": ["aws.ec2"], "detail": {"state": ["stopped"]}}, False),  # fields AND
        # Through an array of objects: any object's field.
        ({"detail": {"tags": {"items": {"key": [{"prefix": "cost-guard:"}]}}}}, True),
        ({"detail": {"tags": {"items": {"key": ["cost-guard-exempt"]}}}}, False),
    ]
    for i, (p, want) in enumerate(cases):
        if pattern_matches(p, ev) != want:
            f.add("matcher", f"case {i} {json.dumps(p)}: expected {want}")


# ---------------------------------------------------------------------------
# The checks


def samples():
    d = os.path.join(ROOT, "events")
    out = {}
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name)) as fh:
            out[name] = json.load(fh)
    return out


def meant(rule, names):
    globs = RULE_SAMPLES.get(rule)
    return None if globs is None else {n for n in names if any(fnmatch.fnmatch(n, g) for g in globs)}


def check_rules(f, where, resources, events, home_bus=None, role_docs=None, exempt="cost-guard-exempt"):
    for name, r in resources.items():
        if r["Type"] != "AWS::Events::Rule":
            continue
        p = r["Properties"]
        if "ScheduleExpression" in p:
            continue
        pattern = p.get("EventPattern")
        if isinstance(pattern, str):
            pattern = json.loads(pattern)
        expected = meant(name, events)
        if expected is None:
            f.add(where, f"rule {name} is not in RULE_SAMPLES: name the samples in events/ it is for")
            continue
        if not expected:
            f.add(where, f"rule {name}: no sample in events/ is meant for it")
        try:
            matched = {n for n, e in events.items() if isinstance(e, dict) and pattern_matches(pattern, e)}
            COUNTS["matches"] += len(events)
        except ValueError as e:
            f.add(where, f"rule {name}: {e}")
            continue
        for n in sorted(expected - matched):
            f.add(where, f"rule {name} does not match events/{n}, which is meant for it")
        named = set(named_fields(pattern))
        if name in TAKES_EVERY_CALL:
            if set(named) != {("detail-type",), TAKES_EVERY_CALL[name]}:
                f.add(where, f"rule {name} names {sorted(named)}, not only the record's type and {'.'.join(TAKES_EVERY_CALL[name])}")
        elif any(path not in named for path in NAMED_BY_EVERY_RULE):
            f.add(where, f"rule {name} does not name {', '.join('.'.join(p) for p in NAMED_BY_EVERY_RULE if p not in named)}")
        elif any(isinstance(at(events[n], NAMED_FOR_CALLS), str) for n in expected) and NAMED_FOR_CALLS not in named:
            f.add(where, f"rule {name} is for API calls but does not name {'.'.join(NAMED_FOR_CALLS)}: it would take every call")
        # Near misses: each sample it matches, with one field the pattern
        # names made a little different, must not match.
        for n in sorted(matched & expected):
            for path, miss in near_misses(pattern, events[n]):
                COUNTS["matches"] += 1
                if pattern_matches(pattern, miss):
                    f.add(where, f"rule {name} also matches events/{n} with {'.'.join(path)} changed to {at(miss, path)!r}: the pattern no longer needs that value")
            # IAM reads a tag key in any case as the exempt key, so its writes
            # must come whatever the case they are spelt in.
            for spelt, variant in case_variants(events[n], exempt):
                COUNTS["matches"] += 1
                if not pattern_matches(pattern, variant):
                    f.add(where, f"rule {name} does not match events/{n} with the exempt key spelt {spelt}, which IAM takes for it")
        for n in sorted(matched - expected):
            f.add(where, f"rule {name} also matches events/{n}, which is not meant for it")
        if p.get("State", "ENABLED") != "ENABLED":
            f.add(where, f"rule {name} is not enabled")
        if home_bus is not None:
            for t in p.get("Targets", []):
                if t.get("Arn") != home_bus:
                    f.add(where, f"rule {name} targets {t.get('Arn')}, not the home region's default bus {home_bus}")
                if not role_docs or not decide(role_docs, "events:PutEvents", home_bus, {}):
                    f.add(where, f"rule {name}: its role may not put events on {home_bus}")


def check_template(label, template, values, events, f):
    where = f"template.yaml [{label}]"
    try:
        expanded = expand(template)
    except Exception as e:  # the translator's own refusal is a finding
        f.add(where, f"SAM transform failed: {e}")
        return
    res = Resolver(expanded, values)
    resources = res.resources
    original = set(template.get("Resources", {}))
    # Nothing generated that was not expected (a missing Role makes SAM generate one).
    for name, r in resources.items():
        if name not in original and r["Type"] not in GENERATED_OK:
            f.add(where, f"SAM generated {r['Type']} {name}, which the template does not declare")

    functions = {n: r for n, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    roles = {n: r for n, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    role_by_arn = {res.phys[n]["Arn"]: n for n in roles}
    topics = {res.phys[n]["Ref"]: n for n, r in resources.items() if r["Type"] == "AWS::SNS::Topic"}
    alarm_topics = {a for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"
                    for a in r["Properties"].get("AlarmActions", [])}
    subscribed = {r["Properties"]["TopicArn"]: r["Properties"].get("Endpoint")
                  for r in resources.values() if r["Type"] == "AWS::SNS::Subscription"
                  and r["Properties"].get("Protocol") == "lambda"}
    names = {res.phys[n]["Ref"]: n for n in functions}
    binaries = {n: template["Resources"][n].get("Metadata", {}).get("BuildProperties", {}).get("Binary")
                for n in functions if n in template["Resources"]}
    resume_names = [res.phys[n]["Ref"] for n, b in binaries.items() if b == "resume"]

    COUNTS["functions"] += len(functions)
    for name, fn in functions.items():
        p = fn["Properties"]
        if p.get("Role") not in role_by_arn:
            f.add(where, f"{name}: its role {p.get('Role')} is not one the template declares")
        env = p.get("Environment", {}).get("Variables", {})
        notify = env.get("NOTIFY_TOPIC_ARN")
        if notify not in topics:
            f.add(where, f"{name}: NOTIFY_TOPIC_ARN={notify} is no topic of the stack")
        elif notify in subscribed:
            f.add(where, f"{name}: NOTIFY_TOPIC_ARN is {topics[notify]}, a topic that triggers functions")
        elif notify not in alarm_topics:
            f.add(where, f"{name}: NOTIFY_TOPIC_ARN is {topics[notify]}, not the topic the alarms notify")
        if "RESUME_FUNCTION_NAME" in env and env["RESUME_FUNCTION_NAME"] not in resume_names:
            f.add(where, f"{name}: RESUME_FUNCTION_NAME={env['RESUME_FUNCTION_NAME']} is not the resume function {resume_names}")
        check_environment(where, name, binaries.get(name), env, res.params, f)
        by_lower = {k.lower(): k for k in res.params}
        for var, value in env.items():
            param = by_lower.get(var.replace("_", "").lower())
            if param:
                want = res.params[param]
                ok = value == want or (want == "0" and value == "")
                if not ok:
                    f.add(where, f"{name}: {var}={value!r}, but parameter {param} is {want!r}")
        # The function may publish to that topic and write its own log group.
        docs = [d for _, d in policy_documents(roles.get(role_by_arn.get(p.get("Role")), {}))]
        if notify in topics and not decide(docs, "sns:Publish", notify, {}):
            f.add(where, f"{name}: its role may not publish to NOTIFY_TOPIC_ARN")
        log_group = p.get("LoggingConfig", {}).get("LogGroup")
        if not log_group:
            f.add(where, f"{name}: no log group of its own")
        elif not decide(docs, "logs:PutLogEvents",
                        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{log_group}:log-stream:x", {}):
            f.add(where, f"{name}: its role may not write to its log group {log_group}")

    # Every trigger has its invoke permission, for exactly that source.
    perms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"]

    def permitted(fn_name, principal, source):
        return any(q.get("Action") == "lambda:InvokeFunction" and q.get("FunctionName") in (
            res.phys[fn_name]["Ref"], res.phys[fn_name]["Arn"]) and q.get("Principal") == principal
            and q.get("SourceArn") == source for q in perms)

    fn_by_arn = {res.phys[n]["Arn"]: n for n in functions}
    for name, r in resources.items():
        if r["Type"] == "AWS::Events::Rule":
            for t in r["Properties"].get("Targets", []):
                if t.get("Arn") in fn_by_arn and not permitted(fn_by_arn[t["Arn"]], "events.amazonaws.com",
                                                               res.phys[name]["Arn"]):
                    f.add(where, f"rule {name} invokes {fn_by_arn[t['Arn']]} without a permission for events.amazonaws.com from that rule")
            if "ScheduleExpression" in r["Properties"]:
                sched = r["Properties"]["ScheduleExpression"]
                targets = {fn_by_arn.get(t.get("Arn")) for t in r["Properties"].get("Targets", [])}
                if targets == {"WeeklyCheckFunction"}:
                    if sched != res.params.get("DoctorSchedule"):
                        f.add(where, f"rule {name}: schedule {sched} is not DoctorSchedule")
                elif targets == {"BurnWatchFunction"}:
                    if sched != res.params.get("BurnWatchSchedule"):
                        f.add(where, f"rule {name}: schedule {sched} is not BurnWatchSchedule")
                elif sched != res.params.get("SpendWatchSchedule") and not sched.startswith("cron(0 8 "):
                    f.add(where, f"rule {name}: schedule {sched} is neither SpendWatchSchedule nor the daily summary")
    for topic, endpoint in subscribed.items():
        if endpoint in fn_by_arn and not permitted(fn_by_arn[endpoint], "sns.amazonaws.com", topic):
            f.add(where, f"{fn_by_arn[endpoint]} is subscribed to {topics.get(topic)} without a permission for sns.amazonaws.com from it")
    for q in perms:
        if q.get("Principal") not in ("events.amazonaws.com", "sns.amazonaws.com"):
            f.add(where, f"a Lambda permission for {q.get('Principal')}, which invokes nothing here")

    check_rules(f, where, resources, events, exempt=res.params["ExemptTagKey"])
    check_policies(where, res, roles, f)
    check_accounts(where, res, resources, functions, roles, f)
    check_seal(where, res, resources, functions, roles, f)
    check_resource_policies(where, res, resources, functions, roles, f)
    check_publishers(where, res, resources, f)
    check_running(where, res, resources, functions, f)


# The services that publish the alerts to the trigger topic.
ALERTING_SERVICES = {"budgets.amazonaws.com", "cloudwatch.amazonaws.com", "costalerts.amazonaws.com"}
# Rules the template declares itself (not a function's SAM event), and the
# function each must invoke.
RULE_TARGETS = {"RootApiCallRule": "RootLoginAlertFunction"}


def service_principals(st):
    principal = st.get("Principal", {})
    return set(listed(principal.get("Service", []))) if isinstance(principal, dict) else set()


def check_resource_policies(where, res, resources, functions, roles, f):
    """Trust, key, bus and topic policies, decided for who must and must not
    be let in."""
    # A role is assumed by exactly what uses it: Lambda for a function's role,
    # EventBridge for a rule's.
    by_rules = {t.get("RoleArn") for r in resources.values() if r["Type"] == "AWS::Events::Rule"
                for t in r["Properties"].get("Targets", [])}
    for name, role in roles.items():
        arn = res.phys[name]["Arn"]
        users = {"lambda.amazonaws.com"} if any(fn["Properties"].get("Role") == arn for fn in functions.values()) else set()
        if arn in by_rules:
            users.add("events.amazonaws.com")
        trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        trusted = set().union(*(service_principals(st) for st in trust)) if trust else set()
        if users and trusted != users:
            f.add(where, f"{name} is assumed by {sorted(users)} but trusts {sorted(trusted)}")
    # Every function publishes to the encrypted notify topic: its role may use
    # the topics' key, named by its ARN.
    key = res.phys["TopicKey"]["Arn"]
    for name, fn in functions.items():
        docs = fn_role(res, resources, name, roles)
        COUNTS["decisions"] += 1
        if not decide(docs, "kms:GenerateDataKey", key, {}):
            f.add(where, f"{name}: its role may not kms:GenerateDataKey on the topics' key, so it cannot publish to the encrypted notify topic")
    # Key policies: this account administers each key; only the alerting
    # services may use the topics' key, and no one else is named.
    for name, r in resources.items():
        if r["Type"] != "AWS::KMS::Key":
            continue
        for st in r["Properties"]["KeyPolicy"]["Statement"]:
            principal = st.get("Principal")
            if isinstance(principal, dict) and "Service" in principal:
                if service_principals(st) - ALERTING_SERVICES or name != "TopicKey":
                    f.add(where, f"{name}'s policy lets {sorted(service_principals(st))} use it")
            elif principal != {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}:
                f.add(where, f"{name}'s policy names {principal}: only this account may administer it")
    # The bus takes events from the organization's accounts: any principal of
    # the organization (their forwarders' roles), and nothing else.
    for name, r in resources.items():
        if r["Type"] != "AWS::Events::EventBusPolicy":
            continue
        st = r["Properties"].get("Statement", {})
        if st.get("Principal") != "*" or "aws:PrincipalOrgID" not in json.dumps(st.get("Condition", {})):
            f.add(where, f"{name} lets {st.get('Principal')} put events, not every account of the organization (aws:PrincipalOrgID)")
    # Each topic policy is on the topic its statements name.
    for name, r in resources.items():
        if r["Type"] != "AWS::SNS::TopicPolicy":
            continue
        topics = listed(r["Properties"].get("Topics", []))
        for st in listed(r["Properties"]["PolicyDocument"]["Statement"]):
            if isinstance(st, dict) and "Resource" in st and listed(st["Resource"]) != topics:
                f.add(where, f"{name} is attached to {topics}, but its statements are about {st['Resource']}")


def check_publishers(where, res, resources, f):
    """Alerts go to the trigger topic, and only the alerting services may
    publish there; the notify topic takes only the guard's own alarms."""
    trigger, notify = res.phys["TriggerTopic"]["Ref"], res.phys["NotifyTopic"]["Ref"]
    for name, r in resources.items():
        p = r["Properties"]
        if r["Type"] == "AWS::Budgets::Budget":
            for n in p.get("NotificationsWithSubscribers", []):
                for sub in n.get("Subscribers", []):
                    if sub.get("Address") != trigger:
                        f.add(where, f"{name}'s {n['Notification']['NotificationType']} alert goes to {sub.get('Address')}, not the trigger topic")
        if r["Type"] == "AWS::CloudWatch::Alarm":
            want = trigger if p.get("Namespace") == "AWS/Billing" else notify
            for actions in ("AlarmActions", "OKActions"):
                for a in p.get(actions, []):
                    if a != want:
                        f.add(where, f"{name}'s {actions} go to {a}, not the {'trigger' if want == trigger else 'notify'} topic")
        if r["Type"] == "AWS::CE::AnomalySubscription":
            for sub in p.get("Subscribers", []):
                if sub.get("Address") != trigger:
                    f.add(where, f"{name} goes to {sub.get('Address')}, not the trigger topic")
    policies = {}
    for r in resources.values():
        if r["Type"] == "AWS::SNS::TopicPolicy":
            for t in listed(r["Properties"].get("Topics", [])):
                policies.setdefault(t, []).extend(listed(r["Properties"]["PolicyDocument"]["Statement"]))
    for topic, allowed in ((trigger, ALERTING_SERVICES), (notify, {"cloudwatch.amazonaws.com"})):
        for service in sorted(ALERTING_SERVICES):
            docs = [{"Statement": [st for st in policies.get(topic, [])
                                   if isinstance(st, dict) and service in service_principals(st)]}]
            granted = decide(docs, "sns:Publish", topic, {"aws:SourceAccount": ACCOUNT})
            COUNTS["decisions"] += 1
            if granted != (service in allowed):
                f.add(where, f"{service} {'may' if granted else 'may not'} publish to the {'trigger' if topic == trigger else 'notify'} topic")


def check_running(where, res, resources, functions, f):
    """Every function can run, every schedule is a valid expression in the
    state the parameters ask for, every declared rule invokes its function,
    and a created trail logs every region."""
    for name, fn in functions.items():
        reserved = fn["Properties"].get("ReservedConcurrentExecutions")
        if reserved is not None and int(reserved) < 1:
            f.add(where, f"{name} has ReservedConcurrentExecutions {reserved}: it can never run")
    daily = res.params.get("SpendSummary") == "daily"
    for name, r in resources.items():
        if r["Type"] != "AWS::Events::Rule":
            continue
        p = r["Properties"]
        sched = p.get("ScheduleExpression")
        if sched is not None:
            ok = re.fullmatch(r"rate\(\d+ (minute|minutes|hour|hours|day|days)\)", sched) or (
                sched.startswith("cron(") and sched.endswith(")") and len(sched[5:-1].split()) == 6)
            if not ok:
                f.add(where, f"rule {name}: {sched!r} is neither rate(...) nor a six-field cron(...)")
            want = "ENABLED" if (not sched.startswith("cron(0 8 ") or daily) else "DISABLED"
            if p.get("State", "ENABLED") != want:
                f.add(where, f"rule {name} is {p.get('State')} with SpendSummary={res.params.get('SpendSummary')}; want {want}")
        if name in RULE_TARGETS:
            want_fn = res.phys[RULE_TARGETS[name]]["Arn"]
            for t in p.get("Targets", []):
                if t.get("Arn") != want_fn:
                    f.add(where, f"rule {name} invokes {t.get('Arn')}, not {RULE_TARGETS[name]}")
    for name, r in resources.items():
        if r["Type"] == "AWS::CloudTrail::Trail":
            p = r["Properties"]
            for prop in ("IsMultiRegionTrail", "IsLogging", "IncludeGlobalServiceEvents"):
                if p.get(prop) not in (True, "true"):
                    f.add(where, f"{name}: {prop} is {p.get(prop)!r}: the trail must log every region's management events")

# Which functions seal a saved state (their stops save one) and which only
# check a seal (resume): a role that can check but not make a seal cannot
# forge one.
SEALS = {"StopOnOverspendFunction": True, "RootLoginAlertFunction": True, "SpendWatchFunction": True,
         "BurnWatchFunction": True,
         "LaunchTripwireFunction": True, "ResumeFunction": False}


def check_seal(where, res, resources, functions, roles, f):
    """Every function that saves or restores a saved state is told the
    stack's SavedStateKey, and its role may use that key for exactly what it
    does: make and check a seal (the stops), or only check one (resume); no
    other function, and no other key."""
    key = res.phys["SavedStateKey"]["Arn"]
    other_key = res.phys["TopicKey"]["Arn"]
    for name in functions:
        env = functions[name]["Properties"].get("Environment", {}).get("Variables", {})
        told = env.get("SAVED_STATE_KEY_ARN")
        if name in SEALS and told != key:
            f.add(where, f"{name}: SAVED_STATE_KEY_ARN={told!r}, not the stack's SavedStateKey")
        if name not in SEALS and told is not None:
            f.add(where, f"{name}: told SAVED_STATE_KEY_ARN, which it never uses")
        docs = fn_role(res, resources, name, roles)
        makes = SEALS.get(name, False)
        for action, arn, want in (("kms:GenerateMac", key, makes), ("kms:VerifyMac", key, name in SEALS),
                                  ("kms:GenerateMac", other_key, False), ("kms:VerifyMac", other_key, False)):
            COUNTS["decisions"] += 1
            if decide(docs, action, arn, {}) != want:
                f.add(where, f"{name}: {action} on {'SavedStateKey' if arn == key else 'TopicKey'} must be {'allowed' if want else 'denied'}")
    policy = resources["SavedStateKey"]["Properties"]
    if (policy.get("KeySpec"), policy.get("KeyUsage")) != ("HMAC_256", "GENERATE_VERIFY_MAC"):
        f.add(where, "SavedStateKey is not an HMAC_256 key for GENERATE_VERIFY_MAC")
    for st in policy["KeyPolicy"]["Statement"]:
        principal = st.get("Principal")
        if principal != {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}:
            f.add(where, f"SavedStateKey's policy names {principal}: only this account may use it")


def check_accounts(where, res, resources, functions, roles, f):
    """Several accounts: the queues wired to the functions that use them, the
    worker on the sweep queue with its dead-letter queue and alarm, and the
    roles that may (and may not) assume the member role."""
    multi = res.params["Accounts"] != "self"
    queues = {n: res.phys[n] for n in ("SweepQueue", "ResultsQueue", "SweepDeadLetterQueue") if n in resources}
    if multi != (len(queues) == 3):
        f.add(where, f"Accounts={res.params['Accounts']} but queues {sorted(queues)}")
        return
    for name, fn in functions.items():
        env = fn["Properties"].get("Environment", {}).get("Variables", {})
        if "ACCOUNTS" in env and "SWEEP_QUEUE_URL" in env:
            for var, queue in (("SWEEP_QUEUE_URL", "SweepQueue"), ("RESULTS_QUEUE_URL", "ResultsQueue")):
                want = queues[queue]["Ref"] if multi else ""
                if env.get(var) != want:
                    f.add(where, f"{name}: {var}={env.get(var)!r}, must be {want!r} ({queue})")
    workers = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    if not multi:
        if workers:
            f.add(where, "an event source mapping with Accounts=self")
    else:
        want_fn = res.phys["StopOnOverspendFunction"]["Ref"]
        if [(w.get("EventSourceArn"), w.get("FunctionName")) for w in workers] != [(queues["SweepQueue"]["Arn"], want_fn)]:
            f.add(where, f"the sweep queue is not consumed by stop-on-overspend alone: {workers}")
        elif "ReportBatchItemFailures" not in workers[0].get("FunctionResponseTypes", []):
            f.add(where, "the worker does not report failed accounts one by one (ReportBatchItemFailures)")
        redrive = resources["SweepQueue"]["Properties"].get("RedrivePolicy", {})
        if redrive.get("deadLetterTargetArn") != queues["SweepDeadLetterQueue"]["Arn"]:
            f.add(where, "the sweep queue does not park failed accounts in SweepDeadLetterQueue")
        # What the README promises of the queue: a look again after 6 minutes,
        # three attempts, one account per invocation, at most 20 at once; and
        # the summary waits (rounds x delay, from the code) longer than the
        # three attempts can take.
        visibility = int(resources["SweepQueue"]["Properties"].get("VisibilityTimeout", 30))
        attempts = int(redrive.get("maxReceiveCount", 0))
        mapping = workers[0] if workers else {}
        got = (visibility, attempts, mapping.get("BatchSize"),
               mapping.get("ScalingConfig", {}).get("MaximumConcurrency"))
        if got != (360, 3, 1, 20):
            f.add(where, f"the sweep queue's visibility, attempts, batch and concurrency are {got}, not the README's (360, 3, 1, 20)")
        if SUMMARY_WAIT_S <= attempts * visibility:
            f.add(where, f"the summary waits {SUMMARY_WAIT_S} s in all, not longer than {attempts} attempts of {visibility} s")
        alarmed = any(r["Type"] == "AWS::CloudWatch::Alarm"
                      and any(d.get("Value") == queues["SweepDeadLetterQueue"]["QueueName"]
                              for d in r["Properties"].get("Dimensions", []))
                      for r in resources.values())
        if not alarmed:
            f.add(where, "no alarm on the sweep dead-letter queue")
        worker_role = fn_role(res, resources, "StopOnOverspendFunction", roles)
        for action, queue in (("sqs:ReceiveMessage", "SweepQueue"), ("sqs:DeleteMessage", "SweepQueue"),
                              ("sqs:SendMessage", "SweepQueue"), ("sqs:SendMessage", "ResultsQueue"),
                              ("sqs:ReceiveMessage", "ResultsQueue")):
            COUNTS["decisions"] += 1
            if not decide(worker_role, action, queues[queue]["Arn"], {}):
                f.add(where, f"stop-on-overspend's role may not {action} on {queue}")
    # Each role assumes its own member role and no other: the sweep and resume
    # the member role, the tripwire and keep-stopped theirs.
    base = f"arn:aws:iam::{OTHER_ACCOUNT}:role/{res.params['MemberRoleName']}"
    own_member = {"SweepRole": "", "ResumeRole": "", "LaunchTripwireRole": "-tripwire",
                  "KeepStoppedRole": "-keep-stopped"}
    targets = [base, base + "-tripwire", base + "-keep-stopped",
               f"arn:aws:iam::{OTHER_ACCOUNT}:role/OrganizationAccountAccessRole"]
    for role in roles:
        docs = [d for _, d in policy_documents(roles[role])]
        for arn in targets:
            want = multi and role in own_member and arn == base + own_member[role]
            COUNTS["decisions"] += 1
            if decide(docs, "sts:AssumeRole", arn, {}) != want:
                f.add(where, f"{role}: sts:AssumeRole on {arn} must be {'allowed' if want else 'denied'}")
        may = multi and role in ("SweepRole", "ResumeRole", "WeeklyCheckRole")
        COUNTS["decisions"] += 1
        if decide(docs, "organizations:ListAccounts", "*", {}) != may:
            f.add(where, f"{role}: organizations:ListAccounts must be {'allowed' if may else 'denied'}")
    # launch-tripwire and keep-stopped know the accounts, to act in the one an
    # event comes from.
    for name in ("LaunchTripwireFunction", "KeepStoppedFunction"):
        env = functions[name]["Properties"].get("Environment", {}).get("Variables", {})
        for var, param in (("ACCOUNTS", "Accounts"), ("MEMBER_ROLE_NAME", "MemberRoleName"),
                           ("MEMBER_EXTERNAL_ID", "MemberExternalId")):
            if env.get(var) != res.params[param]:
                f.add(where, f"{name}: {var}={env.get(var)!r}, must be {res.params[param]!r} ({param})")
    # The weekly check checks this stack, remembers in this stack's table.
    if "WeeklyCheckFunction" in functions:
        env = functions["WeeklyCheckFunction"]["Properties"].get("Environment", {}).get("Variables", {})
        for var, want in (("STACK_NAME", STACK), ("CHECK_STATE_TABLE", res.phys["WeeklyCheckState"]["Ref"]),
                          ("DOCTOR_SCHEDULE", res.params["DoctorSchedule"])):
            if env.get(var) != want:
                f.add(where, f"WeeklyCheckFunction: {var}={env.get(var)!r}, must be {want!r}")
    # burn-watch remembers in this stack's table, which its role alone may use.
    if "BurnWatchFunction" in functions:
        env = functions["BurnWatchFunction"]["Properties"].get("Environment", {}).get("Variables", {})
        if env.get("BURN_STATE_TABLE") != res.phys["BurnWatchState"]["Ref"]:
            f.add(where, f"BurnWatchFunction: BURN_STATE_TABLE={env.get('BURN_STATE_TABLE')!r}, must be its BurnWatchState")
    for finding in check_tripwire_trust(where, res, functions):
        f.add(where, finding)
    # The default bus takes the organization's forwarded events, and only
    # those, when the guard covers an organization whose id it knows.
    buses = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Events::EventBusPolicy"]
    org = res.params.get("OrganizationId", "")
    if len(buses) != (1 if multi and org else 0):
        f.add(where, f"{len(buses)} event bus policies with Accounts={res.params['Accounts']} and OrganizationId={org!r}")
    home_bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    for bus in buses:
        doc = [{"Statement": [bus.get("Statement", {})]}]
        for org_id, want in ((org, True), ("o-zzzzzzzzzz", False)):
            COUNTS["decisions"] += 1
            if decide(doc, "events:PutEvents", home_bus, {"aws:PrincipalOrgID": org_id}) != want:
                f.add(where, f"the bus policy {'refuses' if want else 'accepts'} events from organization {org_id}")
        if bus.get("EventBusName") != "default":
            f.add(where, f"the bus policy is on {bus.get('EventBusName')}, not the default bus the rules are on")


def check_tripwire_trust(where, res, functions):
    """Whom the tripwire trusts is no wider than intended, for every parameter
    set: exactly the principals the owner names, resume's role by its unique
    id (its launches and starts), and the stack's other roles by theirs (their
    tag writes); no pattern at all of the stack's own making, since anyone
    allowed to create roles can take a name."""
    env = functions["LaunchTripwireFunction"]["Properties"]["Environment"]["Variables"]
    trusted = env.get("TRIPWIRE_TRUSTED_PRINCIPALS", "")
    if trusted != res.params["TripwireTrustedPrincipals"]:
        f_add = f"TRIPWIRE_TRUSTED_PRINCIPALS={trusted!r}, not exactly TripwireTrustedPrincipals={res.params['TripwireTrustedPrincipals']!r}"
        yield f_add
    ids = lambda names: [res.phys[n]["RoleId"] for n in names]  # noqa: E731
    if env.get("TRIPWIRE_MARKS_TABLE") != res.phys["UntrustedRequestsTable"]["Ref"]:
        yield f"TRIPWIRE_MARKS_TABLE={env.get('TRIPWIRE_MARKS_TABLE')!r}, not the stack's UntrustedRequestsTable"
    if env.get("TRIPWIRE_RESUME_ROLE_ID") != ids(["ResumeRole"])[0]:
        yield f"TRIPWIRE_RESUME_ROLE_ID={env.get('TRIPWIRE_RESUME_ROLE_ID')!r}, not ResumeRole's unique id"
    want = ids(["SweepRole", "KeepStoppedRole", "LaunchTripwireRole"])
    got = env.get("TRIPWIRE_GUARD_ROLE_IDS", "").split(",")
    if sorted(got) != sorted(want):
        yield f"TRIPWIRE_GUARD_ROLE_IDS={got}, not the unique ids of SweepRole, KeepStoppedRole and LaunchTripwireRole"
    # Sessions nobody named must match no trusted pattern: of any role in this
    # account or another, whatever its name, the member role's included.
    owner = [g for g in res.params["TripwireTrustedPrincipals"].split(",") if g]
    for account in (ACCOUNT, OTHER_ACCOUNT):
        for role in (res.params["MemberRoleName"], res.params["MemberRoleName"] + "-tripwire",
                     "cost-guard-ResumeRole-XYZ", "attacker"):
            for arn in (f"arn:aws:sts::{account}:assumed-role/{role}/cost-guard",
                        f"arn:aws:iam::{account}:role/{role}"):
                COUNTS["matches"] += 1
                named = any(fnmatch.fnmatchcase(arn, g) for g in owner)
                if not named and any(fnmatch.fnmatchcase(arn, g) for g in trusted.split(",") if g):
                    yield f"TRIPWIRE_TRUSTED_PRINCIPALS trusts {arn}, which nobody named"


def fn_role(res, resources, function, roles):
    role_arn = resources[function]["Properties"].get("Role")
    for name in roles:
        if res.phys[name]["Arn"] == role_arn:
            return [d for _, d in policy_documents(roles[name])]
    return []


def check_member(path, f):
    """member.yaml's roles decide as the guard's own roles do: MemberRole as
    the sweep and resume roles, the tripwire's and keep-stopped's as theirs;
    each trusts its one guard role, under the name the guard assumes."""
    t = load(path)
    for label, values in MEMBER_SETS.items():
        where = f"member.yaml [{label}]"
        res = Resolver(t, {**MEMBER_REQUIRED, **values})
        roles = {n: r for n, r in res.resources.items() if r["Type"] == "AWS::IAM::Role"}
        trusted = {"MemberRole": (res.params["GuardRoleArns"], ""),
                   "MemberTripwireRole": (res.params["TripwireRoleArn"], "-tripwire"),
                   "MemberKeepStoppedRole": (res.params["KeepStoppedRoleArn"], "-keep-stopped")}
        want_roles = sorted(n for n, (arn, _) in trusted.items() if arn)
        if sorted(roles) != want_roles:
            f.add(where, f"roles {sorted(roles)}, expected {want_roles}")
            continue
        for name, role in roles.items():
            arn, suffix = trusted[name]
            props = role["Properties"]
            if props.get("RoleName") != res.params["MemberRoleName"] + suffix:
                f.add(where, f"{name} is named {props.get('RoleName')}, not {res.params['MemberRoleName'] + suffix}, which the guard assumes")
            principals = [p for st in props["AssumeRolePolicyDocument"]["Statement"]
                          for p in listed(st.get("Principal", {}).get("AWS", []))]
            if sorted(principals) != sorted(arn.split(",")):
                f.add(where, f"{name} trusts {principals}, not {arn.split(',')}")

        def expect(role, want, action, resource, ctx, what):
            if role not in roles:
                return
            COUNTS["decisions"] += 1
            got = decide([d for _, d in policy_documents(roles[role])], action, resource, ctx)
            if got != want:
                f.add(where, f"{role}: {action} on {what} is {'allowed' if got else 'denied'}, must be {'allowed' if want else 'denied'}")

        # The tripwire's role there names the unique ids of member.yaml's
        # other roles: a session of them is trusted by these alone.
        if "MemberTripwireRole" in roles:
            tags = {t["Key"]: t["Value"] for t in roles["MemberTripwireRole"]["Properties"].get("Tags", [])}
            want_tags = {"cost-guard:resume-role-id": res.phys["MemberRole"]["RoleId"],
                         "cost-guard:guard-role-ids": res.phys["MemberKeepStoppedRole"]["RoleId"]
                         if "MemberKeepStoppedRole" in roles else ""}
            if tags != want_tags:
                f.add(where, f"MemberTripwireRole is tagged {tags}, not {want_tags}")

        sweep_expectations(expect, "MemberRole", res.params)
        resume_expectations(expect, "MemberRole")
        inst = lambda account=ACCOUNT, region="eu-west-1": f"arn:aws:ec2:{region}:{account}:instance/i-0123456789abcdef0"  # noqa: E731
        keep_and_tripwire_expectations(expect, res.params, inst, f"arn:aws:rds:eu-west-1:{ACCOUNT}:db:analytics",
                                       res.params["ExemptTagKey"],
                                       ["cost-guard:stopped-at", "cost-guard:stopped-by"],
                                       keep="MemberKeepStoppedRole", trip="MemberTripwireRole",
                                       own_role=f"arn:aws:iam::{ACCOUNT}:role/{res.params['MemberRoleName']}-tripwire")
        # The sweep's member role never gets the tripwire's untagged stop.
        expect("MemberRole", False, "ec2:StopInstances", inst(region="sa-east-1"),
               tags_context({res.params["ExemptTagKey"]: "true"}), "an exempt instance")
        for action in ("ec2:TerminateInstances", "ec2:ModifyInstanceAttribute", "rds:DeleteDBInstance",
                       "iam:AttachUserPolicy", "sts:AssumeRole"):
            expect("MemberRole", False, action, f"arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/i-0123456789abcdef0",
                   tags_context({res.params["StopTagKey"]: "stop"}), "anything")


def check_policies(where, res, roles, f):
    """Concrete requests, decided by the evaluator."""
    p = res.params
    inst = lambda account=ACCOUNT, region="eu-west-1": f"arn:aws:ec2:{region}:{account}:instance/i-0123456789abcdef0"  # noqa: E731
    db = f"arn:aws:rds:eu-west-1:{ACCOUNT}:db:analytics"
    stamp_keys = ["cost-guard:stopped-at", "cost-guard:stopped-by"]
    stop_key, stop_value, exempt = p["StopTagKey"], p["StopTagValue"], p["ExemptTagKey"]

    def docs(role):
        return [d for _, d in policy_documents(roles[role])] if role in roles else []

    def expect(role, want, action, resource, ctx, what):
        if role not in roles:
            f.add(where, f"{role} is not in the template")
            return
        COUNTS["decisions"] += 1
        got = decide(docs(role), action, resource, ctx)
        if got != want:
            f.add(where, f"{role}: {action} on {what} is {'allowed' if got else 'denied'}, must be {'allowed' if want else 'denied'}")

    sweep_expectations(expect, "SweepRole", p)
    for action in ("ec2:TerminateInstances", "ec2:ModifyInstanceAttribute", "rds:DeleteDBInstance",
                   "rds:ModifyDBInstance", "ec2:DeleteTags", "iam:AttachUserPolicy"):
        for role in roles:
            if role == "LaunchTripwireRole" and action in ("ec2:ModifyInstanceAttribute", "iam:AttachUserPolicy"):
                continue
            expect(role, False, action, inst() if action.startswith("ec2") else db,
                   tags_context({stop_key: stop_value or "anything"}), "anything")
    resume_expectations(expect, "ResumeRole")
    keep_and_tripwire_expectations(expect, p, inst, db, exempt, stamp_keys)
    weekly_expectations(expect, res, roles, where, f, inst)


def weekly_expectations(expect, res, roles, where, f, inst):
    """The weekly check exists unless DoctorSchedule is off, and its role
    reads: its only writes are the message on the notify topic and its own
    memory. Never a stop, never the member role (which can stop), never the
    trigger topic (a message there would start a sweep), never another
    stack's secrets."""
    role = "WeeklyCheckRole"
    want = res.params["DoctorSchedule"] != "off"
    if (role in roles) != want:
        f.add(where, f"{role} {'missing' if want else 'present'} with DoctorSchedule={res.params['DoctorSchedule']}")
        return
    if not want:
        return
    stack = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/0a1b2c3d"
    other = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/payroll/0a1b2c3d"
    table = res.phys["WeeklyCheckState"]["Arn"]
    notify, trigger = res.phys["NotifyTopic"]["Ref"], res.phys["TriggerTopic"]["Ref"]
    member = f"arn:aws:iam::{OTHER_ACCOUNT}:role/{res.params['MemberRoleName']}"
    for want_it, action, resource, what in (
            (True, "cloudformation:DescribeStacks", stack, "its own stack"),
            (False, "cloudformation:DescribeStacks", other, "another stack"),
            (True, "cloudformation:ListStackInstances",
             f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stackset/{STACK}-member:0a1b", "its member StackSet"),
            (True, "dynamodb:PutItem", table, "its own table"),
            (False, "dynamodb:PutItem", res.phys["UntrustedRequestsTable"]["Arn"], "the tripwire's table"),
            (True, "sns:Publish", notify, "the notify topic"),
            (False, "sns:Publish", trigger, "the trigger topic"),
            (True, "sns:ListSubscriptionsByTopic", notify, "the notify topic"),
            (True, "iam:ListMFADevices", f"arn:aws:iam::{ACCOUNT}:user/alice", "a user"),
            # No resource types: a grant on anything narrower is denied.
            (True, "iam:ListUsers", "*", "the account's users"),
            (True, "events:ListRuleNamesByTarget", "*", "the rules of a region"),
            (True, "ce:GetAnomalySubscriptions", "*", "the anomaly subscriptions"),
            (True, "lambda:GetFunctionConfiguration", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-resume",
             "its stack's functions"),
            (False, "lambda:GetFunctionConfiguration", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:payroll",
             "another function (its environment may hold secrets)"),
            (False, "sts:AssumeRole", member, "the sweep's member role"),
            (False, "ec2:StopInstances", inst(), "an instance"),
            (False, "dynamodb:DeleteItem", table, "its own table"),
            (False, "cloudtrail:StopLogging", f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/management-events", "a trail")):
        expect(role, want_it, action, resource, tags_context({res.params["StopTagKey"]: "stop"}), what)


def sweep_expectations(expect, sweep, p):
    """What a role that sweeps must allow and deny."""
    inst = lambda account=ACCOUNT, region="eu-west-1": f"arn:aws:ec2:{region}:{account}:instance/i-0123456789abcdef0"  # noqa: E731
    db = f"arn:aws:rds:eu-west-1:{ACCOUNT}:db:analytics"
    stamp_keys = ["cost-guard:stopped-at", "cost-guard:stopped-by"]
    stop_key, stop_value, exempt = p["StopTagKey"], p["StopTagValue"], p["ExemptTagKey"]
    tagged_mode = p["Selection"] == "tagged"
    selected = {stop_key: stop_value or "anything"}
    for action, arn in (("ec2:StopInstances", inst()), ("rds:StopDBInstance", db)):
        expect(sweep, True, action, arn, tags_context(selected), f"a resource tagged {selected}")
        expect(sweep, not tagged_mode, action, arn, tags_context({}), "an untagged resource")
        # The exempt tag protects by its key, whatever its value.
        for value in ("true", "", "no", "false"):
            expect(sweep, False, action, arn, tags_context({**selected, exempt: value}), f"a resource tagged {exempt}={value!r}")
        # ...and whatever the case of its key, as IAM reads it.
        for key in other_cases(exempt):
            expect(sweep, False, action, arn, tags_context({**selected, key: "true"}), f"a resource tagged {key}=true")
        if tagged_mode and stop_value:
            expect(sweep, False, action, arn, tags_context({stop_key: stop_value + "-not"}), "a resource with another tag value")
    expect(sweep, False, "ec2:StopInstances", inst(OTHER_ACCOUNT), tags_context(selected), "another account's instance")
    expect(sweep, True, "ec2:CreateTags", inst(), tags_context({}, stamp_keys), "the stamp keys")
    expect(sweep, False, "ec2:CreateTags", inst(), tags_context({}, ["Name"]), "another tag key")
    for key in other_cases(stamp_keys[0]) + other_cases(exempt):
        expect(sweep, False, "ec2:CreateTags", inst(), tags_context({}, [key]), f"the key {key}")
    expect(sweep, False, "rds:AddTagsToResource", db, tags_context({}, stamp_keys + [stop_key]), "the stamp and the stop tag")
    # The other kinds stop under the same tag conditions as instances.
    for action, arn in SWEPT_KINDS_STOP:
        expect(sweep, True, action, arn(), tags_context(selected), f"a resource tagged {selected}")
        expect(sweep, not tagged_mode, action, arn(), tags_context({}), "an untagged resource")
        for value in ("true", "", "no"):
            expect(sweep, False, action, arn(), tags_context({**selected, exempt: value}), f"a resource tagged {exempt}={value!r}")
        if tagged_mode and stop_value:
            expect(sweep, False, action, arn(), tags_context({stop_key: stop_value + "-not"}), "another tag value")
        expect(sweep, False, action, arn(OTHER_ACCOUNT), tags_context(selected), "another account's resource")
    for action, arn in SWEPT_KINDS_TAG:
        expect(sweep, True, action, arn(), tags_context({}, stamp_keys), "the stamp keys")
        expect(sweep, False, action, arn(), tags_context({}, stamp_keys + [exempt]), "the exempt tag")
    expect(sweep, True, "eks:TagResource", NODE_GROUP(), tags_context({}, ["cost-guard:saved"]), "the saved state on a node group")
    expect(sweep, False, "eks:TagResource", NODE_GROUP(OTHER_ACCOUNT), tags_context({}, ["cost-guard:saved"]), "another account's node group")
    group, service, notebook = OTHER_KINDS_TAG[0][1](), OTHER_KINDS_TAG[1][1](), OTHER_KINDS_TAG[2][1]()
    expect(sweep, True, "autoscaling:CreateOrUpdateTags", group, tags_context({}, ["cost-guard:saved"]), "the saved state on a group")
    expect(sweep, True, "ecs:TagResource", service, tags_context({}, ["cost-guard:saved"]), "the saved state on a service")
    expect(sweep, False, "sagemaker:AddTags", notebook, tags_context({}, ["cost-guard:saved"]), "a saved state on a notebook")
    expect(sweep, False, "ecs:TagResource", service, tags_context({}, ["cost-guard:saved", exempt]), "the exempt tag with the saved state")
    target = f"arn:aws:application-autoscaling:eu-west-1:{ACCOUNT}:scalable-target/0123456789abcdef"
    expect(sweep, True, "application-autoscaling:RegisterScalableTarget", target, tags_context({}), "a scaling target (no service tags: the README's gap)")
    expect(sweep, False, "application-autoscaling:RegisterScalableTarget", target.replace(ACCOUNT, OTHER_ACCOUNT), tags_context({}), "another account's scaling target")
    for action in ("autoscaling:TerminateInstanceInAutoScalingGroup", "autoscaling:UpdateAutoScalingGroup",
                   "autoscaling:DeleteAutoScalingGroup", "ecs:DeleteService", "sagemaker:DeleteNotebookInstance",
                   "sagemaker:DeleteEndpoint", "redshift:DeleteCluster", "ecs:StopTask"):
        expect(sweep, False, action, group, tags_context(selected), f"{action} on anything")
    for action in ("eks:DeleteNodegroup", "eks:UpdateNodegroupVersion", "eks:DeleteCluster"):
        expect(sweep, False, action, NODE_GROUP(), tags_context(selected), f"{action} on a node group")



def other_kind(template):
    return lambda account=ACCOUNT: template.format(account=account)


# Each other kind's stop call and resource, and its tag call.
OTHER_KINDS_STOP = [
    ("autoscaling:SuspendProcesses", other_kind("arn:aws:autoscaling:eu-west-1:{account}:autoScalingGroup:0b1c-2d3e:autoScalingGroupName/web")),
    ("ecs:UpdateService", other_kind("arn:aws:ecs:eu-west-1:{account}:service/prod/api")),
    ("sagemaker:StopNotebookInstance", other_kind("arn:aws:sagemaker:eu-west-1:{account}:notebook-instance/thesis")),
    ("redshift:PauseCluster", other_kind("arn:aws:redshift:eu-west-1:{account}:cluster:dw")),
]
OTHER_KINDS_TAG = [
    ("autoscaling:CreateOrUpdateTags", OTHER_KINDS_STOP[0][1]),
    ("ecs:TagResource", OTHER_KINDS_STOP[1][1]),
    ("sagemaker:AddTags", OTHER_KINDS_STOP[2][1]),
    ("redshift:CreateTags", OTHER_KINDS_STOP[3][1]),
]
# EKS node groups (opt-in) are swept and resumed, never the tripwire's.
NODE_GROUP = other_kind("arn:aws:eks:eu-west-1:{account}:nodegroup/lab/gpu/0a1b2c3d-4e5f")
SWEPT_KINDS_STOP = OTHER_KINDS_STOP + [("eks:UpdateNodegroupConfig", NODE_GROUP)]
SWEPT_KINDS_TAG = OTHER_KINDS_TAG + [("eks:TagResource", NODE_GROUP)]


def resume_expectations(expect, resume):
    """resume: starts only what is being resumed; unstamps only cost-guard's keys."""
    inst = lambda account=ACCOUNT, region="eu-west-1": f"arn:aws:ec2:{region}:{account}:instance/i-0123456789abcdef0"  # noqa: E731
    expect(resume, True, "ec2:StartInstances", inst(), tags_context({"cost-guard:resuming": "x"}), "an instance being resumed")
    expect(resume, False, "ec2:StartInstances", inst(), tags_context({"cost-guard:stopped-at": "x"}), "a stamped instance not marked")
    expect(resume, True, "ec2:CreateTags", inst(), tags_context({"cost-guard:stopped-at": "x"}, ["cost-guard:resuming"]), "the marker on a stamped instance")
    expect(resume, False, "ec2:CreateTags", inst(), tags_context({}, ["cost-guard:resuming"]), "the marker on an unstamped instance")
    expect(resume, False, "ec2:DeleteTags", inst(), tags_context({"cost-guard:resuming": "x"}, ["Name"]), "another key")
    expect(resume, False, "ec2:StartInstances", inst(OTHER_ACCOUNT), tags_context({"cost-guard:resuming": "x"}), "another account's instance")
    starts = dict(zip(("autoscaling:SuspendProcesses", "ecs:UpdateService", "sagemaker:StopNotebookInstance", "redshift:PauseCluster", "eks:UpdateNodegroupConfig"),
                      ("autoscaling:ResumeProcesses", "ecs:UpdateService", "sagemaker:StartNotebookInstance", "redshift:ResumeCluster", "eks:UpdateNodegroupConfig")))
    for stop, arn in SWEPT_KINDS_STOP:
        action = starts[stop]
        expect(resume, True, action, arn(), tags_context({"cost-guard:resuming": "x"}), "a resource being resumed")
        # ECS stops and starts with one call: the member role, which also
        # sweeps, may update any service its sweep may stop.
        if not (action in ("ecs:UpdateService", "eks:UpdateNodegroupConfig") and resume == "MemberRole"):
            expect(resume, False, action, arn(), tags_context({"cost-guard:stopped-at": "x"}), "a stamped resource not marked")
        expect(resume, False, action, arn(OTHER_ACCOUNT), tags_context({"cost-guard:resuming": "x"}), "another account's resource")
    untag = {"autoscaling:CreateOrUpdateTags": "autoscaling:DeleteTags", "ecs:TagResource": "ecs:UntagResource",
             "sagemaker:AddTags": "sagemaker:DeleteTags", "redshift:CreateTags": "redshift:DeleteTags",
             "eks:TagResource": "eks:UntagResource"}
    for action, arn in SWEPT_KINDS_TAG:
        expect(resume, True, action, arn(), tags_context({"cost-guard:stopped-at": "x"}, ["cost-guard:resuming"]), "the marker on a stamped resource")
        expect(resume, False, action, arn(), tags_context({}, ["cost-guard:resuming"]), "the marker on an unstamped resource")
        expect(resume, True, untag[action], arn(), tags_context({"cost-guard:resuming": "x"}, ["cost-guard:resuming", "cost-guard:saved"]), "the marker and the saved state")
        expect(resume, False, untag[action], arn(), tags_context({"cost-guard:resuming": "x"}, ["Name"]), "another key")


def keep_and_tripwire_expectations(expect, p, inst, db, exempt, stamp_keys,
                                   keep="KeepStoppedRole", trip="LaunchTripwireRole", own_role=None):
    """keep-stopped and launch-tripwire, each with its own narrow role.
    `own_role` is the role's own ARN when it reads its tags (member.yaml's)."""
    # The table of untrusted principals' requests: the guard's tripwire role
    # reads and writes it, and no other table; member roles never.
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{STACK}-UntrustedRequestsTable-ABC123"
    for action in ("dynamodb:BatchGetItem", "dynamodb:PutItem"):
        expect(trip, own_role is None, action, table, {}, "the tripwire's own table")
        expect(trip, False, action, f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders", {}, "another table")
    expect(trip, False, "dynamodb:DeleteItem", table, {}, "deleting from its table")
    expect(trip, False, "ec2:CreateTags", f"arn:aws:ec2:eu-west-1:{ACCOUNT}:spot-fleet-request/sfr-1",
           tags_context({}, ["cost-guard:untrusted-request"]), "a tag on a spot fleet request")
    for role_arn in filter(None, (own_role, f"arn:aws:iam::{ACCOUNT}:role/cost-guard-member",
                                  f"arn:aws:iam::{ACCOUNT}:role/admin")):
        expect(trip, role_arn == own_role, "iam:GetRole", role_arn, {}, role_arn)
    # keep-stopped: stops only stamped databases that are not exempt.
    expect(keep, True, "rds:StopDBInstance", db, tags_context({"cost-guard:stopped-at": "x"}), "a stamped database")
    expect(keep, False, "rds:StopDBInstance", db, tags_context({}), "an unstamped database")
    for value in ("true", "", "no"):
        expect(keep, False, "rds:StopDBInstance", db, tags_context({"cost-guard:stopped-at": "x", exempt: value}),
               f"a stamped database tagged {exempt}={value!r}")
    for key in other_cases(exempt):
        expect(keep, False, "rds:StopDBInstance", db, tags_context({"cost-guard:stopped-at": "x", key: "true"}),
               f"a stamped database tagged {key}=true")
    expect(keep, False, "ec2:StopInstances", inst(), tags_context({"cost-guard:stopped-at": "x"}), "an instance")

    # launch-tripwire: stops what an untrusted principal made, whatever its tags.
    for action, arn in OTHER_KINDS_STOP:
        expect(trip, True, action, arn(), tags_context({exempt: "true"}), "an exempt resource a hijacker made")
        expect(trip, False, action, arn(OTHER_ACCOUNT), tags_context({}), "another account's resource")
    task = f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task/default/0a1b2c3d4e5f40718293a4b5c6d7e8f9"
    expect(trip, True, "ecs:StopTask", task, tags_context({}), "a task a hijacker started")
    expect(trip, True, "sagemaker:StopTrainingJob", f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:training-job/x", tags_context({}), "a training job")
    expect(trip, False, "ecs:StopTask", task.replace(ACCOUNT, OTHER_ACCOUNT), tags_context({}), "another account's task")
    for action, arn in OTHER_KINDS_TAG:
        expect(trip, True, action, arn(), tags_context({}, stamp_keys), "the stamp keys")
        expect(trip, False, action, arn(), tags_context({}, stamp_keys + [exempt]), "the exempt tag")
    for action in ("autoscaling:DeleteAutoScalingGroup", "autoscaling:UpdateAutoScalingGroup", "ecs:DeleteService",
                   "sagemaker:DeleteNotebookInstance", "sagemaker:DeleteEndpoint", "redshift:DeleteCluster"):
        expect(trip, False, action, OTHER_KINDS_STOP[0][1](), tags_context({}), action)
    for action in ("eks:UpdateNodegroupConfig", "eks:TagResource"):
        expect(trip, False, action, NODE_GROUP(), tags_context({}, stamp_keys), f"{action}: node groups are not the tripwire's")
    # launch-tripwire: stops any instance of the account, whatever its tags.
    expect(trip, True, "ec2:StopInstances", inst(region="sa-east-1"), tags_context({exempt: "true"}), "an exempt instance a hijacker launched")
    expect(trip, False, "ec2:StopInstances", inst(OTHER_ACCOUNT), tags_context({}), "another account's instance")
    expect(trip, False, "rds:StopDBInstance", db, tags_context({}), "a database")
    expect(trip, True, "ec2:CreateTags", inst(), tags_context({}, stamp_keys), "the stamp keys")
    expect(trip, False, "ec2:CreateTags", inst(), tags_context({}, stamp_keys + [exempt]), "the exempt tag")
    for key in other_cases(exempt):
        expect(trip, False, "ec2:CreateTags", inst(), tags_context({}, stamp_keys + [key]), f"the exempt tag spelt {key}")
    expect(trip, True, "ec2:ModifyInstanceAttribute", inst(), {"ec2:Attribute/DisableApiStop": "false"}, "stop protection off")
    expect(trip, False, "ec2:ModifyInstanceAttribute", inst(), {"ec2:Attribute/DisableApiStop": "true"}, "stop protection on")
    expect(trip, False, "ec2:ModifyInstanceAttribute", inst(), {"ec2:Attribute/InstanceType": "p4d.24xlarge"}, "another attribute")
    quarantine = p["TripwireQuarantine"] == "on"
    user = f"arn:aws:iam::{ACCOUNT}:user/ci-deployer"
    q = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"
    expect(trip, quarantine, "iam:AttachUserPolicy", user, {"iam:PolicyARN": q}, "the quarantine policy")
    expect(trip, False, "iam:AttachUserPolicy", user, {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}, "AdministratorAccess")
    expect(trip, False, "iam:AttachRolePolicy", f"arn:aws:iam::{OTHER_ACCOUNT}:role/x", {"iam:PolicyARN": q}, "another account's role")
    expect(trip, False, "iam:DetachUserPolicy", user, {"iam:PolicyARN": q}, "detaching")


def check_forwarder(path, events, f, label="forwarder.yaml"):
    t = load(path)
    # This account's guard in another region; and, from a member account,
    # the organization guard's account (OTHER_ACCOUNT here).
    for target, account in (("us-east-1", ""), ("eu-west-1", ""), ("us-east-1", OTHER_ACCOUNT)):
        res = Resolver(t, {"TargetRegion": target, "TargetAccount": account})
        resources = res.resources
        home = f"arn:aws:events:{target}:{account or ACCOUNT}:event-bus/default"
        role_docs = [d for r in resources.values() if r["Type"] == "AWS::IAM::Role"
                     for _, d in policy_documents(r)]
        where = f"{label} [TargetRegion={target}, TargetAccount={account or 'this'}]"
        check_rules(f, where, resources, events, home, role_docs, exempt=res.params["ExemptTagKey"])
        # Its one role is EventBridge's, to put events on the home bus.
        for name, r in resources.items():
            if r["Type"] == "AWS::IAM::Role":
                trust = r["Properties"]["AssumeRolePolicyDocument"]["Statement"]
                trusted = set().union(*(service_principals(st) for st in trust))
                if trusted != {"events.amazonaws.com"}:
                    f.add(where, f"{name} trusts {sorted(trusted)}, not EventBridge alone")


def check_readme_tag_policy(f):
    """docs/tripwire.md's policy that keeps everyone but cost-guard from writing its
    tags, decided for what it must refuse and what it must let through."""
    with open(os.path.join(ROOT, "docs", "tripwire.md")) as fh:
        text = fh.read()
    section = text.split("## Protecting cost-guard's tags", 1)[-1]
    m = re.search(r"```json\n(.*?)\n```", section, re.S)
    if not m:
        f.add("docs/tripwire.md", "no policy under Protecting cost-guard's tags")
        return
    allow_all = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    docs = [allow_all, json.loads(m.group(1))]
    user = f"arn:aws:iam::{ACCOUNT}:user/ci-deployer"
    sweep = f"arn:aws:iam::{ACCOUNT}:role/cost-guard-SweepRole-1A2B3C4D5E6F"
    lookalike = f"arn:aws:iam::{ACCOUNT}:role/cost-guard-SweepRole-ZZZ"
    member = f"arn:aws:iam::{OTHER_ACCOUNT}:role/cost-guard-member"
    inst = f"arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/i-0123456789abcdef0"
    db = f"arn:aws:rds:eu-west-1:{ACCOUNT}:db:analytics"
    cfn = f"arn:aws:iam::{ACCOUNT}:role/stacksets-exec-0a1b2c"
    cases = [
        ("ec2:CreateTags", inst, user, ["cost-guard-exempt"], None, False),
        # IAM spares a resource tagged with the exempt key in any case.
        ("ec2:CreateTags", inst, user, ["Name", "Cost-Guard-Exempt"], None, False),
        ("rds:AddTagsToResource", db, user, ["COST-GUARD-EXEMPT"], None, False),
        ("ec2:CreateTags", inst, user, ["Name", "cost-guard:stopped-at"], None, False),
        ("ec2:DeleteTags", inst, user, ["cost-guard:stopped-by"], None, False),
        ("rds:AddTagsToResource", db, user, ["cost-guard:restops"], None, False),
        ("rds:RemoveTagsFromResource", db, user, ["cost-guard-exempt"], None, False),
        ("ec2:CreateTags", inst, lookalike, ["cost-guard-exempt"], None, False),
        ("ec2:CreateTags", inst, user, ["Name"], None, True),
        ("ec2:CreateTags", inst, sweep, ["cost-guard:stopped-at", "cost-guard:stopped-by"], None, True),
        ("ec2:DeleteTags", inst, member, ["cost-guard:resuming"], None, True),
        ("autoscaling:CreateOrUpdateTags", f"arn:aws:autoscaling:eu-west-1:{ACCOUNT}:autoScalingGroup:0a1b:autoScalingGroupName/web",
         user, ["cost-guard-exempt"], None, False),
        ("ecs:TagResource", f"arn:aws:ecs:eu-west-1:{ACCOUNT}:service/prod/api", user, ["cost-guard:saved"], None, False),
        ("sagemaker:DeleteTags", f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:notebook-instance/thesis", user,
         ["cost-guard:stopped-at"], None, False),
        ("redshift:CreateTags", f"arn:aws:redshift:eu-west-1:{ACCOUNT}:cluster:dw", user, ["cost-guard-exempt"], None, False),
        ("eks:UntagResource", f"arn:aws:eks:eu-west-1:{ACCOUNT}:nodegroup/lab/gpu/0a1b", user, ["cost-guard:saved"], None, False),
        ("ecs:TagResource", f"arn:aws:ecs:eu-west-1:{ACCOUNT}:service/prod/api", sweep, ["cost-guard:saved"], None, True),
        ("eks:TagResource", f"arn:aws:eks:eu-west-1:{ACCOUNT}:nodegroup/lab/gpu/0a1b", user, ["team"], None, True),
    ]
    for role in (sweep, member, f"arn:aws:iam::{ACCOUNT}:role/cost-guard-member-tripwire"):
        for action in ("iam:CreateRole", "iam:DeleteRole", "iam:UpdateAssumeRolePolicy", "iam:TagRole",
                       "iam:UntagRole", "iam:PutRolePolicy"):
            for principal, via in ((user, None), (user, ["cloudformation.amazonaws.com"]), (cfn, None)):
                cases.append((action, role, principal, None, via, False))
    cases.append(("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/web", user, None, None, True))
    for action, resource, principal, keys, via, want in cases:
        ctx = {"aws:PrincipalArn": principal}
        if keys is not None:
            ctx["aws:TagKeys"] = keys
        if via is not None:
            ctx["aws:CalledVia"] = via
        COUNTS["decisions"] += 1
        if decide(docs, action, resource, ctx) != want:
            f.add("docs/tripwire.md", f"the tag policy {'refuses' if want else 'allows'} {action} on {resource} "
                                f"by {principal} with {keys or via}")


def run_checks(template_path, forwarder_path, events, member_path, first_only=False):
    """Every check, for every parameter set. With `first_only` (a known
    mistake, which needs one finding to be rejected), it stops at the first
    check that finds something."""
    f = Findings()
    template = load(template_path)
    steps = [lambda label=label, values=values: check_template(label, template, values, events, f)
             for label, values in PARAMETER_SETS.items()]
    steps += [lambda: check_forwarder(forwarder_path, events, f), lambda: check_member(member_path, f),
              lambda: check_readme_defaults({"template.yaml": template, "forwarder.yaml": load(forwarder_path)}, f)]
    for step in steps:
        step()
        if first_only and f:
            break
    return f


def readme_parameters():
    """The manual's parameter tables (README.md and docs/): (parameter,
    variable or None, default or None when the table gives none) for every
    row that names one."""
    text = ""
    for page in ["README.md"] + sorted(os.path.join("docs", p) for p in os.listdir(os.path.join(ROOT, "docs"))):
        if page.endswith(".md"):
            with open(os.path.join(ROOT, page)) as fh:
                text += fh.read() + "\n"
    rows = []
    for m in re.finditer(r"^\| `([A-Z][A-Za-z]+)`(?: \([a-z.]+\))? \| (?:`([A-Z_]+)`|—) \| ([^|]*) \|", text, re.M):
        default = m.group(3).strip()
        if default.startswith("empty"):
            value = ""
        elif default.startswith("`"):
            value = default.split("`")[1]
        else:
            value = None
        rows.append((m.group(1), m.group(2), value))
    return rows


def check_readme_defaults(templates, f):
    """Every default the manual promises is the template's own: a stack
    deployed with no parameter at all does what the manual says."""
    params = {}
    for name, t in templates.items():
        for p, spec in t.get("Parameters", {}).items():
            params.setdefault(p, []).append((name, str(spec.get("Default", ""))))
    rows = readme_parameters()
    if len(rows) < 30:
        f.add("docs", f"only {len(rows)} parameter rows found in its tables; the check reads none of the rest")
    for param, _var, default in rows:
        if param not in params:
            f.add("docs", f"parameter {param} is in its tables but in no template")
            continue
        for where, have in params[param]:
            COUNTS["decisions"] += 1
            if default is not None and have != default:
                f.add(where, f"parameter {param} defaults to {have!r}; the README promises {default!r}")


# How long the summary job waits for the accounts, in all: its rounds times
# the default delay, read from the code.
def _rust_const(path, name):
    with open(os.path.join(ROOT, "functions", "guard", "src", *path.split("/"))) as fh:
        return int(re.search(rf"const {name}: u32 = (\d+);", fh.read()).group(1))


SUMMARY_WAIT_S = _rust_const("domain/fanout.rs", "MAX_SUMMARY_ROUNDS") * _rust_const(
    "domain/config/accounts.rs", "DEFAULT_SUMMARY_DELAY_S")


# What each function binary reads (derived from the code by a unit test in
# functions/guard/src/domain/config/functions.rs), and what every binary
# reads at start (the SDK's attempt timeout).
with open(os.path.join(ROOT, "scripts", "function-vars.json")) as _fh:
    FUNCTION_VARS = json.load(_fh)
with open(os.path.join(ROOT, "functions", "guard", "src", "aws", "sdk.rs")) as _fh:
    EVERY_FUNCTION_READS = set(re.findall(r'env::var\("([A-Z_]+)"\)', _fh.read()))


# Variables a function's configuration reads (they come with the accounts
# settings every function shares) that do not change what it does, so the
# template leaves them unset: resume, keep-stopped and the tripwire never
# narrow to an alert's account and never queue.
NOT_MEANT = {
    "resume": {"ORG_SCOPE", "FANOUT_ABOVE"},
    "keep-stopped": {"ORG_SCOPE", "FANOUT_ABOVE"},
    "launch-tripwire": {"ORG_SCOPE", "FANOUT_ABOVE"},
}


def check_environment(where, name, binary, env, params, f):
    """The function is told exactly what its code reads: no variable it
    never reads (a misspelt name is one), and every variable it reads that
    a parameter of the template sets (under its exact name)."""
    if binary not in FUNCTION_VARS:
        f.add(where, f"{name}: binary {binary} is not in scripts/function-vars.json")
        return
    reads = set(FUNCTION_VARS[binary]) | EVERY_FUNCTION_READS
    by_squashed = {p.lower(): p for p in params}
    for var in env:
        if var not in reads:
            f.add(where, f"{name}: sets {var}, which {binary} never reads")
    for var in sorted(reads):
        param = by_squashed.get(var.replace("_", "").lower())
        if param and var not in env and var not in NOT_MEANT.get(binary, set()):
            f.add(where, f"{name}: {binary} reads {var} (parameter {param}), which the template does not set")


def try_mistake(m, events):
    """One known mistake applied to copies of the templates: the findings
    the checks make (a template that cannot load is rejected too), or None
    when the fixture's text is no longer there."""
    with tempfile.TemporaryDirectory() as d:
        paths = {}
        for name in ("template.yaml", "forwarder.yaml", "member.yaml"):
            with open(os.path.join(ROOT, name)) as fh:
                text = fh.read()
            if name == m["file"]:
                if text.count(m["old"]) < 1:
                    return None
                text = text.replace(m["old"], m["new"], 1)
            paths[name] = os.path.join(d, name)
            with open(paths[name], "w") as fh:
                fh.write(text)
        try:
            return list(run_checks(paths["template.yaml"], paths["forwarder.yaml"], events, paths["member.yaml"],
                                   first_only=True))
        except (Exception, SystemExit) as e:
            return [f"rejected: {e}"]


def mutation_check(events, f, path=None):
    """Each known mistake, applied to a copy, must be rejected. They run on
    every core at once: each is a whole run of the checks."""
    import concurrent.futures
    with open(path or os.path.join(ROOT, "scripts", "wiring-mutations.json")) as fh:
        mutations = json.load(fh)
    with concurrent.futures.ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(try_mistake, mutations, [events] * len(mutations)))
    rows = []
    for m, found in zip(mutations, results):
        if found is None:
            f.add("mutation", f"{m['name']}: {m['old']!r} is not in {m['file']}; update the fixture")
            continue
        rows.append((m["name"], len(found), found[0] if found else ""))
        if not found:
            f.add("mutation", f"{m['name']}: the checks accepted it")
    return rows


def count_mistakes(path):
    """`--mistakes FILE`: which of the mistakes in FILE the checks reject,
    one line each, and the count; nothing fails (a measurement, for
    bench/results/)."""
    events = samples()
    f = Findings()
    rows = mutation_check(events, f, path)
    rejected = {name for name, n, _ in rows if n}
    with open(path) as fh:
        names = [m["name"] for m in json.load(fh)]
    for name in names:
        print(f"{'rejected' if name in rejected else 'ACCEPTED'}  {name}")
    print(f"{len(rejected)} of {len(names)} mistakes rejected")


def main():
    if sys.argv[1:2] == ["--mistakes"]:
        return count_mistakes(sys.argv[2])
    events = samples()
    f = Findings()
    self_test_evaluator(f)
    self_test_matcher(f)
    f.extend(run_checks(os.path.join(ROOT, "template.yaml"), os.path.join(ROOT, "forwarder.yaml"), events,
                        os.path.join(ROOT, "member.yaml")))
    check_readme_tag_policy(f)
    counts = dict(COUNTS)
    rows = mutation_check(events, f)
    for line in f:
        print(f"check-wiring: {line}")
    if f:
        sys.exit(1)
    print(f"check-wiring: {len(PARAMETER_SETS)} parameter sets expanded by SAM's translator and resolved: "
          f"{counts['functions']} function configurations' environment, role, permissions and rules wired; "
          f"{counts['decisions']} IAM decisions and {counts['matches']} rule-sample matches "
          f"(template.yaml, forwarder.yaml and member.yaml, {len(events)} samples in events/) as expected; "
          f"each known mistake is rejected:")
    for name, n, first in rows:
        print(f"  rejected ({n} findings): {name}\n      first: {first}")


if __name__ == "__main__":
    main()
