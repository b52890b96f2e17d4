"""--handler names a callable as ``module:function`` or as Lambda's Handler setting does."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from taxi_stream.app.wiring import import_handler
from taxi_stream.core.errors import ConfigError, HandlerContractError
from taxi_stream.runner.response import state_of


@pytest.fixture
def handler_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding ``app.py`` and ``pkg/app.py``, each with a handler."""
    (tmp_path / "spec_app.py").write_text("def handler(event, context):\n    return 'top'\n")
    (tmp_path / "spec_pkg").mkdir()
    (tmp_path / "spec_pkg" / "__init__.py").write_text("")
    (tmp_path / "spec_pkg" / "app.py").write_text(
        "def handler(event, context):\n    return 'pkg'\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("spec_app", "spec_pkg", "spec_pkg.app"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return tmp_path


@pytest.mark.parametrize(
    ("spec", "answer"),
    [
        ("spec_app:handler", "top"),
        ("spec_app.handler", "top"),
        ("spec_pkg.app:handler", "pkg"),
        ("spec_pkg.app.handler", "pkg"),
        ("spec_pkg/app.handler", "pkg"),
    ],
)
def test_both_forms_name_the_same_callable(handler_dir: Path, spec: str, answer: str) -> None:
    """The colon form, and Lambda's dotted form split at its last dot, import one handler."""
    assert import_handler(spec)({}, None) == answer


@pytest.mark.parametrize("spec", ["handler", "spec_app:", ":handler", "spec_app.", ".handler"])
def test_a_spec_without_module_and_function_says_both_forms(handler_dir: Path, spec: str) -> None:
    """A name with no module or no function is a ConfigError that shows both accepted forms."""
    with pytest.raises(ConfigError, match=r"module:function \(or Lambda's module\.function\)"):
        import_handler(spec)


@pytest.mark.parametrize("response", [None, {}, {"batchItemFailures": []}, "ok"])
def test_a_windowed_response_without_state_points_to_windows_off(response: object) -> None:
    """A handler that returns no state under tumbling windows is told how to turn them off."""
    with pytest.raises(HandlerContractError, match="--window-seconds 0"):
        state_of(response, windowed=True)


def test_a_dotted_spec_from_the_working_directory_may_start_with_dot_slash(
    handler_dir: Path,
) -> None:
    """`./spec_pkg/app.handler`, as a shell path is often written, names pkg's handler."""
    assert import_handler("./spec_pkg/app.handler")({}, None) == "pkg"
