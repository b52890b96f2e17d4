"""The runner is Lambda semantics only: it imports no screen code, no command line, no app."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
RUNNER = ROOT / "src" / "taxi_stream" / "runner"
FORBIDDEN = ("rich", "click", "taxi_stream.app", "taxi_stream.views", "taxi_stream.cli")


def runner_modules() -> list[str]:
    """Every module of the runner package, by its import name."""
    names = sorted(path.stem for path in RUNNER.glob("*.py") if path.stem != "__init__")
    return ["taxi_stream.runner", *(f"taxi_stream.runner.{name}" for name in names)]


def forbidden_after_importing(modules: list[str]) -> list[str]:
    """The forbidden modules (or modules inside them) loaded by importing ``modules`` afresh."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"bad = {FORBIDDEN!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules"
        " if any(m == b or m.startswith(b + '.') for b in bad))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return list(json.loads(out.stdout))


def test_no_runner_module_imports_screen_code_the_cli_or_the_app() -> None:
    """Importing every module of runner/ pulls in neither rich, click, nor app/, views/, cli/."""
    modules = runner_modules()
    assert "taxi_stream.runner.mapping" in modules
    assert forbidden_after_importing(modules) == []


def test_the_runner_import_check_catches_a_view() -> None:
    """The check itself is able to fail: the process view pulls in rich."""
    found = forbidden_after_importing(["taxi_stream.views.process"])
    assert "rich" in found
    assert "taxi_stream.views.process" in found
