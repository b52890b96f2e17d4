"""The SAM template: cfn-lint clean, least-privilege IAM, encryption at rest, alarms, the design."""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint
from cfnlint.decode import decode_str

from taxi_stream.core.errors import Reason
from taxi_stream.function.emf import emf_record
from taxi_stream.function.stats import InvocationStats

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "template.yaml"

Template = dict[str, Any]
REASONS = [value for name, value in vars(Reason).items() if name.isupper()]


def load(text: str) -> Template:
    """Parse a CloudFormation YAML template (short-form tags like !Ref included)."""
    template, matches = decode_str(text)
    assert not matches, matches
    return dict(template)


@pytest.fixture(scope="module")
def template() -> Template:
    """The deployable template, parsed."""
    return load(TEMPLATE.read_text(encoding="utf-8"))


def resources(template: Template, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, properties) of every resource of one type."""
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") == kind:
            yield name, resource.get("Properties", {})


def _statements(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, props in resources(template, "AWS::IAM::Role"):
        for policy in props.get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                yield name, statement
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for name, props in resources(template, kind):
            for statement in props["PolicyDocument"]["Statement"]:
                yield name, statement


def iam_problems(template: Template) -> list[str]:
    """Wildcard or unscoped IAM grants, and roles that SAM or managed policies would widen."""
    found = []
    for name, statement in _statements(template):
        actions = statement.get("Action", [])
        for action in [actions] if isinstance(actions, str) else actions:
            if not isinstance(action, str) or "*" in action:
                found.append(f"{name}: wildcard or computed action {action!r}")
        if "NotAction" in statement or "NotResource" in statement:
            found.append(f"{name}: NotAction/NotResource grants by exclusion")
        scoped = statement.get("Resource", "*")
        if scoped == "*" or (isinstance(scoped, list) and "*" in scoped):
            found.append(f"{name}: statement on every resource")
    for name, props in resources(template, "AWS::IAM::Role"):
        if props.get("ManagedPolicyArns"):
            found.append(f"{name}: managed policies {props['ManagedPolicyArns']}")
    for name, props in resources(template, "AWS::Serverless::Function"):
        if "Role" not in props or "Policies" in props:
            found.append(f"{name}: SAM would generate a role with managed policies")
    return found


def encryption_problems(template: Template) -> list[str]:
    """Streams, tables and queues without server-side encryption."""
    found = []
    for name, props in resources(template, "AWS::Kinesis::Stream"):
        if props.get("StreamEncryption", {}).get("EncryptionType") != "KMS":
            found.append(f"{name}: Kinesis stream without KMS encryption")
    for name, props in resources(template, "AWS::DynamoDB::Table"):
        if props.get("SSESpecification", {}).get("SSEEnabled") is not True:
            found.append(f"{name}: DynamoDB table without SSE")
    for name, props in resources(template, "AWS::SQS::Queue"):
        if props.get("SqsManagedSseEnabled") is not True and "KmsMasterKeyId" not in props:
            found.append(f"{name}: SQS queue without SSE")
    return found


def alarm_problems(template: Template) -> list[str]:
    """Missing alarms: the function's IteratorAge and Errors, the stream's iterator age."""
    watched = {
        (p.get("Namespace"), p.get("MetricName"))
        for _, p in resources(template, "AWS::CloudWatch::Alarm")
    }
    wanted = [
        ("AWS/Lambda", "IteratorAge"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds"),
    ]
    return [
        f"no alarm on {namespace} {metric}"
        for namespace, metric in wanted
        if (namespace, metric) not in watched
    ]


def problems(template: Template) -> list[str]:
    """Everything the template must not do."""
    return iam_problems(template) + encryption_problems(template) + alarm_problems(template)


def test_cfn_lint_reports_no_error_or_warning() -> None:
    """cfn-lint 1.53 (which transforms SAM and checks event-source settings) finds nothing."""
    matches = lint(TEMPLATE.read_text(encoding="utf-8"), config=ManualArgs(regions=["us-east-1"]))
    assert [f"{m.rule.id} {m.message}" for m in matches] == []


@pytest.mark.parametrize(
    ("old", "new", "rule"),
    [
        (
            "TumblingWindowInSeconds: !Ref TumblingWindowInSeconds",
            "TumblingWindowInSeconds: 1000",
            "E3034",
        ),
        ("StartingPosition: !Ref StartingPosition", "StartingPosition: SOMETIMES", "E3031"),
        ("              - ReportBatchItemFailures", "              - ReportAllFailures", "E3030"),
    ],
)
def test_cfn_lint_catches_a_broken_event_source(old: str, new: str, rule: str) -> None:
    """The lint check can fail: a broken Kinesis event-source setting is reported."""
    text = TEMPLATE.read_text(encoding="utf-8")
    assert old in text
    matches = lint(text.replace(old, new), config=ManualArgs(regions=["us-east-1"]))
    assert rule in {m.rule.id for m in matches}


def test_template_has_no_wildcard_iam_unencrypted_resource_or_missing_alarm(
    template: Template,
) -> None:
    """Least privilege, encryption at rest and the alarms, all at once."""
    assert problems(template) == []


def _role_statements(template: Template) -> list[dict[str, Any]]:
    role = template["Resources"]["WindowFunctionRole"]["Properties"]
    return role["Policies"][0]["PolicyDocument"]["Statement"]


def _add_action(action: str) -> Callable[[Template], None]:
    return lambda t: _role_statements(t)[0]["Action"].append(action)


def _drop(resource: str, *path: str) -> Callable[[Template], None]:
    def mutate(t: Template) -> None:
        props = t["Resources"][resource]["Properties"]
        for key in path[:-1]:
            props = props[key]
        del props[path[-1]]

    return mutate


def _set_resource(value: Any) -> Callable[[Template], None]:
    def mutate(t: Template) -> None:
        _role_statements(t)[1]["Resource"] = value

    return mutate


def _remove_alarm(name: str) -> Callable[[Template], None]:
    return lambda t: t["Resources"].pop(name)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_add_action("*"), "wildcard or computed action '*'"),
        (_add_action("dynamodb:*"), "wildcard or computed action 'dynamodb:*'"),
        (_add_action("kinesis:Get*"), "wildcard or computed action 'kinesis:Get*'"),
        (_set_resource("*"), "statement on every resource"),
        (_drop("WindowFunction", "Role"), "SAM would generate a role"),
        (_drop("InputStream", "StreamEncryption"), "Kinesis stream without KMS encryption"),
        (_drop("TotalsTable", "SSESpecification", "SSEEnabled"), "DynamoDB table without SSE"),
        (_drop("FailureQueue", "SqsManagedSseEnabled"), "SQS queue without SSE"),
        (_remove_alarm("FunctionIteratorAgeAlarm"), "no alarm on AWS/Lambda IteratorAge"),
        (_remove_alarm("FunctionErrorsAlarm"), "no alarm on AWS/Lambda Errors"),
        (_remove_alarm("StreamIteratorAgeAlarm"), "GetRecords.IteratorAgeMilliseconds"),
    ],
)
def test_the_checks_catch_a_broken_template(
    template: Template, mutate: Callable[[Template], None], expected: str
) -> None:
    """Each check fails on a template broken in the way it guards against."""
    broken = copy.deepcopy(template)
    mutate(broken)
    assert any(expected in problem for problem in problems(broken)), problems(broken)


def test_a_managed_policy_is_refused() -> None:
    """A role carrying a managed policy (whose grants this template cannot scope) is refused."""
    snippet = load(
        """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {}
      ManagedPolicyArns:
        - arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole
"""
    )
    [problem] = iam_problems(snippet)
    assert problem.startswith("Role: managed policies")


def test_iam_grants_are_scoped_to_this_stack(template: Template) -> None:
    """Each statement names this stream, table, queue or log group, never another resource."""
    scopes = {s["Sid"]: s["Resource"] for s in _role_statements(template)}
    assert scopes == {
        "ReadTheInputStream": {"Fn::GetAtt": ["InputStream", "Arn"]},
        "WriteTotalsAndDeadLetters": {"Fn::GetAtt": ["TotalsTable", "Arn"]},
        "SendFailedBatchRanges": {"Fn::GetAtt": ["FailureQueue", "Arn"]},
        "WriteOwnLogs": {"Fn::GetAtt": ["WindowFunctionLogGroup", "Arn"]},
    }


def test_the_function_follows_the_design(template: Template) -> None:
    """Handler, runtime, environment and the Kinesis tumbling-window event source (DESIGN 7)."""
    props = template["Resources"]["WindowFunction"]["Properties"]
    assert props["Handler"] == "taxi_stream.lambda_handler.lambda_handler"
    assert props["Runtime"] in {"python3.12", "python3.13"}
    assert props["Environment"]["Variables"] == {
        "TABLE_NAME": {"Ref": "TotalsTable"},
        "WINDOW_CLOCK": {"Ref": "WindowClock"},
        "WINDOW_SECONDS": {"Ref": "TumblingWindowInSeconds"},
        "NAIVE_TIMEZONE": {"Ref": "NaiveTimezone"},
        "EVENT_TIME": {"Ref": "EventTime"},
        "MAX_OUT_OF_ORDERNESS_SECONDS": {"Ref": "MaxOutOfOrdernessSeconds"},
        "ALLOWED_LATENESS_SECONDS": {"Ref": "AllowedLatenessSeconds"},
        "LATE_TRIPS": {"Ref": "LateTrips"},
        "METRICS_NAMESPACE": {"Ref": "MetricsNamespace"},
    }
    event = props["Events"]["Trips"]
    assert event["Type"] == "Kinesis"
    source = event["Properties"]
    assert source["Stream"] == {"Fn::GetAtt": ["InputStream", "Arn"]}
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["BisectBatchOnFunctionError"] is True
    assert source["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["FailureQueue", "Arn"]},
    }
    for setting in (
        "TumblingWindowInSeconds",
        "BatchSize",
        "StartingPosition",
        "MaximumRetryAttempts",
        "MaximumRecordAgeInSeconds",
    ):
        assert source[setting] == {"Ref": setting}
    window = template["Parameters"]["TumblingWindowInSeconds"]
    assert (window["Default"], window["MinValue"], window["MaxValue"]) == (60, 1, 900)


def test_the_stream_and_table_follow_the_design(template: Template) -> None:
    """input-stream with a shard-count parameter; my-dynamodb-table, on demand, with PITR."""
    assert template["Parameters"]["StreamName"]["Default"] == "input-stream"
    assert template["Parameters"]["TableName"]["Default"] == "my-dynamodb-table"
    stream = template["Resources"]["InputStream"]["Properties"]
    assert stream["ShardCount"] == {"Ref": "ShardCount"}
    assert stream["StreamEncryption"]["KeyId"] == "alias/aws/kinesis"
    table = template["Resources"]["TotalsTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]] == [
        ("vendorId", "HASH"),
        ("windowStart", "RANGE"),
    ]


def test_the_package_pins_agree_with_the_project() -> None:
    """deploy/function-requirements.txt ships the same msgspec and pybase64 as pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pins = {re.split("==", d)[0]: d for d in project["project"]["dependencies"]}
    lines = (ROOT / "deploy" / "function-requirements.txt").read_text(encoding="utf-8").splitlines()
    shipped = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert shipped == [pins["msgspec"], pins["pybase64"]]


def test_sam_builds_the_function_with_make_not_docker(template: Template) -> None:
    """The function builds through deploy/Makefile, whose target runs deploy/build.sh."""
    function = template["Resources"]["WindowFunction"]
    assert function["Metadata"] == {"BuildMethod": "makefile"}
    makefile = (TEMPLATE.parent / function["Properties"]["CodeUri"] / "Makefile").read_text(
        encoding="utf-8"
    )
    assert re.search(
        r"^build-WindowFunction:\n\t.*build\.sh\" \"\$\(ARTIFACTS_DIR\)\"$", makefile, re.M
    )


def dashboard_metrics(template: Template) -> list[list[Any]]:
    """Every metric the operations dashboard plots, its !Sub variables left as they are."""
    ((_, props),) = resources(template, "AWS::CloudWatch::Dashboard")
    body = props["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(body)["widgets"]
    return [m for w in widgets if w["type"] == "metric" for m in w["properties"]["metrics"]]


def test_the_dashboard_plots_every_count_the_function_writes(template: Template) -> None:
    """Each EMF metric (one per dead-letter reason) in the function's namespace, and IteratorAge."""
    stats = InvocationStats(records=1, trips=1, dead_letters=Counter(REASONS))
    line = emf_record(stats, namespace="N", function_name="F", shard_id="S", now_ms=0)
    written = {m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    plotted = {m[1] for m in dashboard_metrics(template) if m[0] == "${MetricsNamespace}"}
    assert plotted == written
    assert all(
        m[2:4] == ["FunctionName", "${WindowFunction}"]
        for m in dashboard_metrics(template)
        if m[0] == "${MetricsNamespace}"
    )
    stream_age = ["AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName",
                  "${InputStream}"]  # fmt: skip
    assert stream_age in [m[:4] for m in dashboard_metrics(template)]
    function = next(p for _, p in resources(template, "AWS::Serverless::Function"))
    variables = function["Environment"]["Variables"]
    assert variables["METRICS_NAMESPACE"] == {"Ref": "MetricsNamespace"}


def test_the_dashboard_shows_every_alarm(template: Template) -> None:
    """The alarm widget names each alarm the template defines."""
    ((_, props),) = resources(template, "AWS::CloudWatch::Dashboard")
    widgets = json.loads(props["DashboardBody"]["Fn::Sub"])["widgets"]
    shown = {a for w in widgets if w["type"] == "alarm" for a in w["properties"]["alarms"]}
    alarms = {f"${{{name}.Arn}}" for name, _ in resources(template, "AWS::CloudWatch::Alarm")}
    assert shown == alarms
