"""The Lambda handler imports only the standard library, boto3 and what deploy/ packages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
# boto3 and what it needs come with the Lambda Python runtime.
RUNTIME = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"}
# Imported inside try/except by the libraries, with a fallback when absent.
OPTIONAL = {
    "typing_extensions",  # msgspec falls back to typing
    "certifi",  # botocore falls back to its own CA bundle
}
# Interpreter internals that sys.stdlib_module_names does not list.
INTERNAL_PREFIXES = ("_sysconfigdata", "__mp_main__")


def shipped_packages() -> set[str]:
    """Import names of the wheels deploy/function-requirements.txt puts in the package."""
    lines = (ROOT / "deploy" / "function-requirements.txt").read_text().splitlines()
    names = {line.split("==")[0].strip() for line in lines if line.strip() and line[0] != "#"}
    return {name.replace("-", "_") for name in names} | {"taxi_stream"}


def imported_top_levels(module: str) -> set[str]:
    """Top-level packages present after importing ``module`` in a fresh interpreter."""
    code = (
        "import sys, json; before = set(sys.modules); import " + module + "; "
        "print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return set(json.loads(out.stdout))


def test_handler_import_closure_is_stdlib_boto3_and_shipped_wheels() -> None:
    """Importing the entry point pulls in nothing the Lambda package would lack."""
    allowed = set(sys.stdlib_module_names) | RUNTIME | OPTIONAL | shipped_packages()
    imported = imported_top_levels("taxi_stream.lambda_handler")
    extra = {m for m in imported if m not in allowed and not m.startswith(INTERNAL_PREFIXES)}
    assert not extra, f"the Lambda handler would import modules it does not ship: {extra}"
    assert {"taxi_stream", "msgspec", "boto3"} <= imported


def test_the_boundary_check_catches_a_foreign_import() -> None:
    """The check itself is able to fail: the CLI pulls in click and rich."""
    allowed = set(sys.stdlib_module_names) | RUNTIME | shipped_packages()
    assert {"click", "rich"} <= imported_top_levels("taxi_stream.cli") - allowed
