"""Headless Debian Chromium for the tests that open hairpin's pages and pictures (selenium and chromium-driver,
which CI installs: packages chromium and chromium-driver).  The browser is cut off from the network it does not
need (no QUIC, no background fetches) and keeps its profile in the test's own directory."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"

needs_chromium = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None or shutil.which(CHROMEDRIVER) is None,
    reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver)",
)


def chromium(profile: Path, size: tuple[int, int] | None = None, console: bool = False) -> Any:
    """A headless Chromium driven by selenium (the test is skipped without it); ``size``: the window's,
    ``console``: keep the page's console messages (``driver.get_log("browser")``)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}"]  # fmt: skip
    if size is not None:
        flags.append(f"--window-size={size[0]},{size[1]}")
    for flag in flags:
        opts.add_argument(flag)
    if console:
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
