"""Browser-test fixtures: a Streamlit server per warehouse (started with `streamlit run app.py` on a free
port, stopped afterwards) and a Playwright Chromium browser. Helpers are in tests/browser/support.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.support import VIEWPORT, launch_browser, streamlit_server


@pytest.fixture(scope="session")
def essex_app(essex_db: Path) -> Iterator[str]:
    """Base URL of the dashboard on the real Essex street data (2018-10..2019-02)."""
    with streamlit_server(essex_db) as url:
        yield url


@pytest.fixture(scope="session")
def demo_app(demo_db: Path) -> Iterator[str]:
    """Base URL of the dashboard on the synthetic demo warehouse (every source, 2017–2021)."""
    with streamlit_server(demo_db) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_browser(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture()
def page(browser) -> Iterator:
    """A fresh browser context and page (downloads allowed) per test."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()
