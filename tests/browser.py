"""Headless Chromium for the web UI tests: the system's own browser (never a downloaded one)."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page, async_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: Skip a test module when the system's Chromium is missing.
needs_chromium = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="chromium is not installed")


@contextlib.asynccontextmanager
async def chromium_page(base_url: str, timeout_ms: float, locale: str = "en-US") -> AsyncIterator[Page]:
    """A page in headless Chromium, 390 px wide like a phone, with ``timeout_ms`` as its default timeout and
    ``locale`` as the browser's language (``navigator.languages``, number formats)."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(base_url=base_url, viewport={"width": 390, "height": 1400}, locale=locale)
            page.set_default_timeout(timeout_ms)
            yield page
        finally:
            await browser.close()
