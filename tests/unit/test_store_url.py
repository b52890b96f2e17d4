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


@pytest.mark.parametrize(
    "url", ["sqlite:///a.db?mode=ro", "sqlite:///a.db#x", "sqlite:////", "sqlite:///."]
)
def test_a_sqlite_url_with_a_query_or_naming_a_directory_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """A sqlite: URL with a ?query or #fragment, or naming a directory, is refused in one line."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"a file, no \?query"):
        open_store(Settings(tmp_path / "data", store_url=url))
    assert not list(tmp_path.glob("a.db*"))


def test_the_scheme_is_read_in_any_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`SQLITE:///x.db` is the same store as `sqlite:///x.db`, as URL schemes are."""
    monkeypatch.chdir(tmp_path)
    with closing(open_store(Settings(tmp_path / "data", store_url="SQLITE:///x.db"))):
        pass
    assert (tmp_path / "x.db").is_file()


def test_three_slashes_before_an_absolute_file_that_exists_say_to_write_four(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sqlite:///ABS/b.db`, when only /ABS/b.db exists, is refused with the four-slash URL,
    not opened as a new empty store under the working directory."""
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    absolute = tmp_path / "abs" / "b.db"
    _written(absolute)
    url = "sqlite://" + str(absolute)  # three slashes in all: relative, as SQLAlchemy reads it
    with pytest.raises(ConfigError, match=f"write sqlite:///{absolute}"):
        open_store(Settings(tmp_path / "data", store_url=url))
    assert list(elsewhere.iterdir()) == []
