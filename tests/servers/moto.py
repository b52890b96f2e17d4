"""moto's server on 127.0.0.1 on a free port, and fake credentials for the test process only."""

from __future__ import annotations

import logging
import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from moto.server import ThreadedMotoServer

# Never real credentials: these only satisfy botocore's signer when talking to local servers.
FAKE_AWS_ENV: dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@contextmanager
def fake_aws_credentials() -> Iterator[dict[str, str]]:
    """Set fake AWS credentials and region in os.environ; restore the previous values on exit."""
    saved = {key: os.environ.get(key) for key in FAKE_AWS_ENV}
    os.environ.update(FAKE_AWS_ENV)
    try:
        yield dict(FAKE_AWS_ENV)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def moto_server() -> Iterator[str]:
    """Run moto's server on 127.0.0.1 on a free port; yield ``http://127.0.0.1:PORT``."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def reset_moto(endpoint_url: str) -> None:
    """Forget every resource of a running moto server (its backends are process-global)."""
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
