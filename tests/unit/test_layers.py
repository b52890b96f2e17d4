"""Each room of the package imports only the rooms docs/architecture.md says it may."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "src" / "taxi_stream"
EVERYTHING = {
    "core",
    "ports",
    "function",
    "lambda_handler",
    "sources",
    "streams",
    "stores",
    "runner",
    "app",
    "views",
    "cli",
    "infra",
}
# The table of docs/architecture.md: a room may import itself and these rooms (a dotted name
# allows one module of a room only).
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "ports": {"core", "runner.checkpoint"},
    "function": {"core", "ports", "streams.kpl"},
    "lambda_handler": {"core", "function", "stores"},
    "sources": {"core"},
    "streams": {"core", "infra"},
    "stores": {"core", "infra", "runner.checkpoint"},
    "runner": {"core", "ports", "infra", "function"},
    "app": EVERYTHING - {"views", "cli"},
    "views": {"core", "function", "runner", "app"},
    "cli": EVERYTHING,
    "infra": {"core"},
}


def room_of(module: str) -> str:
    """``taxi_stream.runner.mapping`` -> ``runner``; the package root's modules are rooms."""
    return module.split(".")[1]


def imports(path: Path) -> Iterator[str]:
    """Every taxi_stream module a source file imports, wherever the import statement is."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        yield from (name for name in names if name.startswith("taxi_stream."))


def allowed(source_room: str, target: str) -> bool:
    """Whether a module of ``source_room`` may import the module ``target``."""
    room = room_of(target)
    rules = ALLOWED[source_room]
    dotted = ".".join(target.split(".")[1:3])
    return room == source_room or room in rules or dotted in rules


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE or p.stem != "__init__")


def test_every_room_has_a_rule() -> None:
    """The table covers every room the package has, and nothing it lacks."""
    rooms = {p.stem if p.parent == PACKAGE else p.relative_to(PACKAGE).parts[0] for p in SOURCES}
    assert rooms == set(ALLOWED)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_only_what_its_room_may(path: Path) -> None:
    """No import crosses the layering of docs/architecture.md."""
    relative = path.relative_to(PACKAGE)
    source_room = relative.stem if len(relative.parts) == 1 else relative.parts[0]
    wrong = [target for target in imports(path) if not allowed(source_room, target)]
    assert not wrong, f"{relative} ({source_room}) imports {wrong}"


def test_the_rule_catches_a_crossing() -> None:
    """The check can fail: the runner may not import the views, the core nothing of ours."""
    assert not allowed("runner", "taxi_stream.views.cells")
    assert not allowed("core", "taxi_stream.infra.clock")
    assert not allowed("stores", "taxi_stream.runner.mapping")
    assert allowed("stores", "taxi_stream.runner.checkpoint")


def readme_layout() -> dict[str, set[str]]:
    """The README's Layout drawing: each room and the rooms its line says it may import."""
    text = (PACKAGE.parents[1] / "README.md").read_text()
    drawing = text.split("## Layout", 1)[1].split("```")[1]
    rooms: dict[str, set[str]] = {}
    for line in drawing.splitlines():
        if line.startswith("  "):
            name, _, listed = line.strip().partition(" ")
            rooms[name.removesuffix("/").removesuffix(".py")] = may_import(
                listed.rpartition("imports ")[2]
            )
    return rooms


def may_import(listed: str) -> set[str]:
    """``nothing``, ``all``, ``all but a, b`` or ``a, b`` as a set of rooms."""
    if listed == "nothing":
        return set()
    if listed == "all":
        return set(EVERYTHING)
    if listed.startswith("all but "):
        return EVERYTHING - set(listed.removeprefix("all but ").split(", "))
    return set(listed.split(", "))


def test_the_readme_layout_draws_every_room_with_the_imports_it_may_make() -> None:
    """README.md's Layout names each room once, with exactly the imports this table allows."""
    assert readme_layout() == ALLOWED
