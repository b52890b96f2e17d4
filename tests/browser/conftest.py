"""Browser fixtures: Debian's chromium driven by Playwright, headless; the CLI as in e2e/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright
from tests.e2e.conftest import cli, cli_env, taxi_stream_exe

__all__ = ["browser", "cli", "cli_env", "taxi_stream_exe"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """The chromium found on PATH (``make test`` installs Debian's), never a downloaded one."""
    chromium = shutil.which("chromium")
    assert chromium, "no chromium on PATH: make test installs it (apt-get install chromium)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()
