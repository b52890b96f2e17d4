"""The addresses the servers print: an IPv6 host in its brackets, which are no terminal markup."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from taxi_stream.app.wiring import STORE_FILE
from taxi_stream.cli import dashboard as dashboard_cli
from taxi_stream.cli.options import serving_metrics
from taxi_stream.stores.sqlite import SQLiteStore
from taxi_stream.views import dashboard, metrics
from taxi_stream.views.metrics import Sources


class Served:
    """What ``start_http_server`` gives back (server and thread), for a server bound nowhere."""

    server_port = 9464

    def shutdown(self) -> None:
        """Nothing runs."""

    def server_close(self) -> None:
        """Nothing is bound."""

    def join(self) -> None:
        """No thread to wait for."""


class Page:
    """A dashboard server that serves nothing, at the address an IPv6 host gives it."""

    url = "http://[fd00::1]:8000/"

    def running(self) -> bool:
        """Never up."""
        return False

    def stop(self) -> None:
        """Nothing to stop."""


def test_the_metrics_address_of_an_ipv6_host_is_printed_as_it_is(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--metrics-host fd00::1`` prints ``http://[fd00::1]:PORT/metrics`` (the host in its
    brackets was read as a markup tag and vanished)."""
    served = Served()
    monkeypatch.setattr(metrics, "start_http_server", lambda *a, **k: (served, served))
    with serving_metrics(lambda: Sources(shards=list), 0, "fd00::1"):
        pass
    assert capsys.readouterr().err == "metrics: http://[fd00::1]:9464/metrics\n"


def test_the_dashboard_address_of_an_ipv6_host_is_printed_as_it_is(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``dashboard --host fd00::1`` prints the page's address with the host in its brackets."""
    SQLiteStore(tmp_path / STORE_FILE).close()
    monkeypatch.setattr(dashboard, "start_dashboard", lambda *a, **k: Page())
    monkeypatch.setattr(dashboard_cli, "wait_for_stop", lambda running: None)
    done = CliRunner().invoke(dashboard_cli.dashboard, ["--data-dir", str(tmp_path)])
    assert done.exit_code == 0, done.output
    assert done.output == "dashboard: http://[fd00::1]:8000/ (Ctrl-C stops it)\n"
