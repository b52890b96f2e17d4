"""Where the local AWS servers' npm packages are looked for."""

from __future__ import annotations

from pathlib import Path

from taxi_stream.infra.localaws import find_node_modules


def _install(root: Path, *packages: str) -> Path:
    for package in packages:
        (root / "node_modules" / package).mkdir(parents=True)
        (root / "node_modules" / package / "package.json").write_text("{}")
    return root / "node_modules"


def test_node_modules_is_found_in_a_parent_of_the_start(tmp_path: Path) -> None:
    """From a subfolder, the nearest parent's node_modules holding both packages is found."""
    wanted = _install(tmp_path, "kinesalite", "dynalite")
    start = tmp_path / "a" / "b"
    start.mkdir(parents=True)
    assert find_node_modules(start) == wanted


def test_a_node_modules_missing_a_package_is_passed_over(tmp_path: Path) -> None:
    """A nearer node_modules with only one of the two packages is skipped for a complete one."""
    wanted = _install(tmp_path, "kinesalite", "dynalite")
    _install(tmp_path / "a", "kinesalite")
    assert find_node_modules(tmp_path / "a") == wanted
