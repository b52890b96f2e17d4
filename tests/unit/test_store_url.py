"""A sqlite: store URL is read as SQLAlchemy reads it: three slashes relative, four absolute."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest

from taxi_stream.app.wiring import Settings, existing_store, open_store
from taxi_stream.core.errors import ConfigError
from taxi_stream.stores.sqlite import SQLiteStore


def _written(path: Path) -> None:
    """An empty store file at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(SQLiteStore(path, clock=lambda: 0)):
        pass


def test_three_slashes_name_a_path_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sqlite:///stores/a.db` opens stores/a.db under the working directory, not /stores/a.db."""
    monkeypatch.chdir(tmp_path)
    _written(tmp_path / "stores" / "a.db")
    settings = Settings(tmp_path / "data", store_url="sqlite:///stores/a.db")
    with closing(existing_store(settings)) as store:
        assert isinstance(store, SQLiteStore)
        assert store.counts() == (0, 0)
    with closing(open_store(Settings(tmp_path / "data", store_url="sqlite:///made.db"))):
        pass
    assert (tmp_path / "made.db").is_file()


def test_four_slashes_name_an_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sqlite:////ABS/b.db` opens /ABS/b.db whatever the working directory."""
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    absolute = tmp_path / "abs" / "b.db"
    _written(absolute)
    url = "sqlite:///" + str(absolute)  # str(absolute) starts with its own slash: four in all
    assert url.startswith("sqlite:////")
    with closing(existing_store(Settings(tmp_path / "data", store_url=url))) as store:
        assert store.counts() == (0, 0)
    with closing(open_store(Settings(tmp_path / "data", store_url=url + ".new"))):
        pass
    assert absolute.with_name("b.db.new").is_file()
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite://host/a.db"])
def test_a_sqlite_url_without_a_path_is_one_clear_error(tmp_path: Path, url: str) -> None:
    """A sqlite: URL with no path, or with a host, is refused in one line that shows both forms."""
    with pytest.raises(ConfigError, match=r"sqlite:///RELATIVE/PATH or sqlite:////ABSOLUTE/PATH"):
        open_store(Settings(tmp_path, store_url=url))
