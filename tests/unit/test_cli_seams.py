"""The command line's seams: typed, named parameters, and AWS code loaded only when used."""

from __future__ import annotations

import inspect
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from taxi_stream.cli import COMMANDS as COMMAND_TABLE
from taxi_stream.cli import main
from tests.unit.test_docs_match_cli import COMMANDS

AWS_MODULES = ("boto3", "botocore", "taxi_stream.streams.kinesis", "taxi_stream.stores.dynamodb")


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_command_names_each_of_its_parameters(path: tuple[str, ...]) -> None:
    """A command's function takes each option and argument by name, typed, and nothing else."""
    command = COMMANDS[path]
    assert command.callback is not None
    signature = inspect.signature(command.callback)
    kinds = {p.kind for p in signature.parameters.values()}
    assert inspect.Parameter.VAR_KEYWORD not in kinds
    assert inspect.Parameter.VAR_POSITIONAL not in kinds
    names = {p.name for p in command.params if p.name and p.expose_value}
    assert set(signature.parameters) == names
    untyped = [p.name for p in signature.parameters.values() if p.annotation is p.empty]
    assert untyped == []


def test_the_command_line_loads_no_aws_code_until_asked() -> None:
    """Importing the CLI in a fresh interpreter loads no boto3, botocore or AWS adapter."""
    probe = (
        "import sys, taxi_stream.cli; "
        f"print(sorted(m for m in sys.modules if m.startswith({AWS_MODULES!r})))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_scan_sees_every_command() -> None:
    """The parametrized check covers each command of the group, nested ones included."""
    assert isinstance(main, click.Group)
    assert {("process",), ("run",), ("produce",), ("query",), ("replay",)} <= set(COMMANDS)
    assert ("aws", "local") in COMMANDS


@pytest.mark.parametrize("command", ["process", "produce", "query"])
def test_a_command_imports_only_its_own_modules(command: str) -> None:
    """`process`, `produce` and `query` start without the simulator's numpy or other commands."""
    probe = (
        "import sys\n"
        "from taxi_stream.cli import main\n"
        f"try:\n    main([{command!r}, '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m == 'numpy' or m.startswith("
        "('taxi_stream.sources.simulator', 'taxi_stream.cli.awslocal', 'taxi_stream.cli.replay'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_aws_local_is_registered_in_the_command_table_not_by_an_import() -> None:
    """`aws local` is in COMMANDS; the aws group alone lists it, and loads boto3 only to run it."""
    assert COMMAND_TABLE["aws local"] == ("taxi_stream.cli.awslocal", "local")
    probe = (
        "import sys, click\n"
        "from taxi_stream.cli.aws import aws\n"
        "names = aws.list_commands(click.Context(aws))\n"
        "lazy = ('boto3', 'taxi_stream.cli.awslocal')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(lazy))\n"
        "print(names, loaded, aws.get_command(click.Context(aws), 'local').name)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['create-resources', 'local'] [] local"


def test_a_ctrl_c_no_command_handles_is_one_line_and_exit_status_130(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Ctrl-C inside `generate` (which has no handler of its own): `interrupted`, exit 130."""
    from taxi_stream.cli import pipeline

    class Interrupted:
        def __init__(self, config: object) -> None:
            pass

        def batches(self, size: int, *, count: int) -> Iterator[object]:
            raise KeyboardInterrupt
            yield  # a generator, as the simulator's

    monkeypatch.setattr(pipeline, "Simulator", Interrupted)
    done = CliRunner().invoke(main, ["generate", "--trips", "5", "--out", str(tmp_path / "t")])
    assert (done.exit_code, done.stderr) == (130, "interrupted\n")
