"""Headless Chromium (Debian's chromium and chromium-driver) driven by Selenium, for the page's tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromedriver")


@contextmanager
def chromium(width: int = 1300, height: int = 1000) -> Iterator[object]:
    """A headless Chromium session that keeps the page's console messages; skips where Debian's
    chromium is absent (`make install` installs it)."""
    if not all(shutil.which(p) for p in CHROMIUM):
        missing = "needs Debian's chromium and chromium-driver (make install)"
        if os.environ.get("CI"):
            pytest.fail(missing)  # CI installs them: their absence is a broken install, not a skip
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM[0]
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMIUM[1]), options=opts)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver) -> list[str]:
    """The page's console errors since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
