"""kinesalite and dynalite for tests: the package's launcher, on the repository's node_modules."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from taxi_stream.infra import localaws

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO_ROOT / "node_modules"
START_TIMEOUT_S = localaws.START_TIMEOUT_S


def kinesalite_server(timeout_s: float = START_TIMEOUT_S) -> AbstractContextManager[str]:
    """kinesalite (Kinesis) on 127.0.0.1 on a free port, streams created and deleted at once."""
    return localaws.kinesalite_server(node_modules=NODE_MODULES, timeout_s=timeout_s)


def dynalite_server(timeout_s: float = START_TIMEOUT_S) -> AbstractContextManager[str]:
    """dynalite (DynamoDB) on 127.0.0.1 on a free port, tables created and deleted at once."""
    return localaws.dynalite_server(node_modules=NODE_MODULES, timeout_s=timeout_s)
