"""Browser tests: every view opens in Chromium against `streamlit run app.py` (real Essex data and the
synthetic demo), without exceptions or empty charts, and a full-page screenshot of each is saved under
test-artifacts/; a filter change lands in the URL and a reload from that URL restores it; invalid link
parameters produce a visible notice; a table downloads as CSV."""

from __future__ import annotations

import csv
import io

import pytest

import ui
from tests.browser.support import full_page_screenshot, page_problems, wait_for_app

pytestmark = pytest.mark.browser

VIEWS = ui.available_views()


def _url(base: str, view: ui.View, query: str = "") -> str:
    path = "" if view.url_path == "overview" else view.url_path
    return f"{base}/{path}{('?' + query) if query else ''}"


def _chart_points(page) -> list[int]:
    """Number of plotted values in each Plotly chart on the page (0 = an empty chart)."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(plot =>
            (plot._fullData || plot.data || []).reduce((n, t) => n + Math.max(
                (t.x && t.x.length) || 0, (t.y && t.y.length) || 0, (t.z && t.z.length) || 0,
                (t.lon && t.lon.length) || 0, (t.locations && t.locations.length) || 0), 0))"""
    )


def _check_view(page, url: str, name: str) -> None:
    page.goto(url)
    wait_for_app(page)
    full_page_screenshot(page, name)
    assert page_problems(page) == [], f"{name}: {page_problems(page)}"
    points = _chart_points(page)
    assert all(n > 0 for n in points), f"{name}: an empty chart ({points})"
    assert page.get_by_test_id("stHeading").count() >= 1


@pytest.mark.parametrize("view", VIEWS, ids=[v.url_path for v in VIEWS])
def test_every_view_on_essex_data(essex_app, page, view):
    _check_view(page, _url(essex_app, view), f"essex-{view.url_path}")
    assert page.get_by_text("Demo data — synthetic").count() == 0


@pytest.mark.parametrize("view", VIEWS, ids=[v.url_path for v in VIEWS])
def test_every_view_on_demo_data(demo_app, page, view):
    _check_view(page, _url(demo_app, view), f"demo-{view.url_path}")
    assert page.get_by_text("Demo data — synthetic").first.is_visible()


def _districts_box(page):
    return page.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect").filter(has_text="Districts")


def test_filter_goes_to_url_and_reload_restores_it(essex_app, page):
    page.goto(f"{essex_app}/local_policing")
    wait_for_app(page)
    box = _districts_box(page)
    box.locator("input").click()
    box.locator("input").fill("Harlow")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    wait_for_app(page)
    assert "district=Harlow" in page.url
    page.get_by_test_id("stMain").get_by_text("All crime (excluding ASB) per month — Essex Police: Harlow").first.wait_for()
    url = page.url

    page.goto(url)  # a new session from the link alone
    wait_for_app(page)
    assert "Harlow" in _districts_box(page).inner_text()
    assert page.get_by_test_id("stMain").get_by_text("Essex Police: Harlow").count() >= 1
    full_page_screenshot(page, "essex-local_policing-harlow-from-url")


def test_invalid_link_parameters_fall_back_with_notice(essex_app, page):
    page.goto(f"{essex_app}/?force=atlantis&district=Nowhere&compare=bogus")
    wait_for_app(page)
    main = page.get_by_test_id("stMain")
    assert main.get_by_text("which is not loaded").count() == 1
    assert main.get_by_text("“Nowhere”").count() == 1
    assert main.get_by_text("Unknown comparison “bogus”").count() == 1
    assert main.get_by_test_id("stCaptionContainer").first.inner_text().startswith("Essex Police")


def test_table_downloads_as_csv(essex_app, page, essex_db):
    import duckdb

    page.goto(f"{essex_app}/data")
    wait_for_app(page)
    with page.expect_download() as download_info:
        page.get_by_test_id("stDownloadButton").first.locator("button").click()
    download = download_info.value
    assert download.suggested_filename == "sources.csv"
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    street = [r for r in rows if r["kind"] == "street"]
    con = duckdb.connect(str(essex_db), read_only=True)
    try:
        loaded = con.execute("select count(*) from crimes").fetchall()[0][0]
    finally:
        con.close()
    assert len(street) == 1 and int(float(street[0]["rows_loaded"])) == loaded
