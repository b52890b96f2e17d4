"""The docs say no more than the command line does: flags, environment variables, links."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from taxi_stream.cli import main

ROOT = Path(__file__).parents[2]
DOCS = sorted([ROOT / "README.md", ROOT / "bench" / "README.md", *(ROOT / "docs").glob("*.md")])
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
DOC_NAME = re.compile(r"(?<![\w/.-])((?:docs|bench|deploy)/[\w./-]+\.(?:md|yaml|toml|sh|txt))")
COMMAND = re.compile(r"taxi-stream((?: +[a-z][a-z-]*)+)((?:[ \t]+(?:\\\n[ \t]*)?[^\s`|;&#)]+)*)")
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
ENV_NAME = re.compile(r"\bTAXI_STREAM_[A-Z_]+\b")


def commands(
    group: click.Group = main, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every leaf command with its path of names (``("aws", "create-resources")``)."""
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


COMMANDS = dict(commands())


def options(command: click.Command) -> list[click.Option]:
    """The command's options."""
    return [p for p in command.params if isinstance(p, click.Option)]


def flags_of(command: click.Command) -> set[str]:
    """Every spelling of every option of a command (``--help`` included)."""
    names = {"--help", "-h"}
    for option in options(command):
        names.update(option.opts)
        names.update(option.secondary_opts)
    return names


def documented_invocations() -> Iterator[tuple[Path, tuple[str, ...], list[str]]]:
    """Each ``taxi-stream COMMAND --flag ...`` written in a doc: (doc, command path, flags)."""
    for doc in DOCS:
        for match in COMMAND.finditer(doc.read_text()):
            words = tuple(match.group(1).split())
            path = next((words[:n] for n in (2, 1) if words[:n] in COMMANDS), None)
            if path is None:
                continue  # prose such as "taxi-stream runs ..." names no command
            yield doc, path, FLAG.findall(match.group(2))


def test_the_scanner_finds_documented_invocations() -> None:
    """The check below has something to check: the README shows commands with flags."""
    found = [(path, flags) for doc, path, flags in documented_invocations() if flags]
    assert any(path == ("process",) and "--until-idle" in flags for path, flags in found)
    assert len({path for path, _ in found}) >= 5


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: str(d.relative_to(ROOT)))
def test_every_documented_flag_exists_on_its_command(doc: Path) -> None:
    """A flag the docs give a command is one that command takes."""
    wrong = [
        f"taxi-stream {' '.join(path)} {flag}"
        for found_doc, path, flags in documented_invocations()
        if found_doc == doc
        for flag in flags
        if flag not in flags_of(COMMANDS[path])
    ]
    assert not wrong, f"{doc.name} shows flags the commands do not take: {wrong}"


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_environment_variable_is_shown_in_help(path: tuple[str, ...]) -> None:
    """An option that reads an environment variable says so in --help."""
    hidden = [
        option.opts[0]
        for option in options(COMMANDS[path])
        if option.envvar and not option.show_envvar
    ]
    assert not hidden, f"{' '.join(path)}: --help hides the variables of {hidden}"


def test_documented_taxi_stream_variables_exist() -> None:
    """Every TAXI_STREAM_* variable the docs name is read by some option."""
    read = {str(o.envvar) for command in COMMANDS.values() for o in options(command) if o.envvar}
    named = {name for doc in DOCS for name in ENV_NAME.findall(doc.read_text())}
    assert named, "the docs name no TAXI_STREAM_ variable: the check would check nothing"
    assert named <= read, f"documented but read by no option: {sorted(named - read)}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: str(d.relative_to(ROOT)))
def test_links_and_named_documents_exist(doc: Path) -> None:
    """Every relative link and every repo document named in the text is in the repo."""
    text = doc.read_text()
    targets = [t for t in LINK.findall(text) if "://" not in t and not t.startswith("mailto:")]
    missing = [t for t in targets if not (doc.parent / t).exists()]
    missing += [name for name in DOC_NAME.findall(text) if not (ROOT / name).exists()]
    assert not missing, f"{doc.name} refers to what the repo does not have: {missing}"


def test_every_runner_setting_in_the_table_reads_a_variable() -> None:
    """docs/local-runner.md says every flag of its settings table reads a variable: true."""
    text = (ROOT / "docs" / "local-runner.md").read_text()
    table = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    flags = re.findall(r"^\|[^|]*\| `(--[a-z-]+)`", table, flags=re.MULTILINE)
    assert len(flags) >= 10, "the settings table was not found"
    process = {option.opts[0]: option for option in options(COMMANDS[("process",)])}
    without = [flag for flag in flags if not process[flag].envvar]
    assert not without, f"settings that read no environment variable: {without}"
