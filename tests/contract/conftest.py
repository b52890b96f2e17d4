"""Contract-suite fixtures: fake AWS credentials and the local AWS servers, once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.servers.kinesalite import kinesalite_server
from tests.servers.moto import fake_aws_credentials, moto_server


@pytest.fixture(scope="session")
def aws_credentials() -> Iterator[dict[str, str]]:
    """Fake credentials and region for the whole session (never real ones)."""
    with fake_aws_credentials() as env:
        yield env


@pytest.fixture(scope="session")
def kinesalite_url(aws_credentials: dict[str, str]) -> Iterator[str]:
    """kinesalite on 127.0.0.1, once per session."""
    with kinesalite_server() as url:
        yield url


@pytest.fixture(scope="session")
def moto_url(aws_credentials: dict[str, str]) -> Iterator[str]:
    """moto's server on 127.0.0.1, once per session."""
    with moto_server() as url:
        yield url
