"""boto3 clients honour AWS_REGION (botocore alone reads only AWS_DEFAULT_REGION)."""

from __future__ import annotations

from pathlib import Path

import pytest

from taxi_stream.core.errors import ConfigError
from taxi_stream.infra.awsclient import make_client


@pytest.fixture
def no_region(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """An environment with no region anywhere (no variables, no config file)."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    return monkeypatch


def test_aws_region_alone_is_enough(no_region: pytest.MonkeyPatch) -> None:
    """AWS_REGION, as Lambda and the docs set it, picks the client's region."""
    no_region.setenv("AWS_REGION", "eu-west-1")
    assert make_client("dynamodb").meta.region_name == "eu-west-1"


def test_explicit_region_wins(no_region: pytest.MonkeyPatch) -> None:
    """A --region flag beats the environment."""
    no_region.setenv("AWS_REGION", "eu-west-1")
    assert make_client("kinesis", region="ap-south-1").meta.region_name == "ap-south-1"


def test_no_region_is_a_clear_error(no_region: pytest.MonkeyPatch) -> None:
    """Without any region the error names the fix, not a botocore traceback."""
    with pytest.raises(ConfigError, match="AWS_REGION"):
        make_client("sqs")
