"""Headless Chromium for checking and measuring the viewer (tests, benchmarks): Debian's
``chromium`` driven through its ``chromedriver`` by Selenium, both optional."""

from __future__ import annotations

import shutil
from typing import Any

from eegzip.errors import UnsupportedError


def headless_chromium(width: int = 1280, height: int = 800) -> Any:
    """A Selenium Chrome driver on the system's chromium, or UnsupportedError saying what is
    missing."""
    try:
        from selenium import webdriver
    except ImportError:
        raise UnsupportedError("selenium is not installed (pip install selenium)") from None
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        raise UnsupportedError(
            "Debian's chromium and chromium-driver are not installed "
            "(apt-get install chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--force-device-scale-factor=1",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(driver))
