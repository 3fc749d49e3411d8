"""Browser tests: every view opens in Chromium against `streamlit run app.py` (real Essex data and the synthetic
demo), without exceptions or empty charts, and a full-page screenshot of each is saved under test-artifacts/; a
filter change lands in the URL and a reload from that URL restores it; `/overview` opens directly; link values
render as text (no link, no image, nothing fetched from outside) on every view; key columns are not cut off at
1400 px; Weekly figures is one screen on a 1366 x 768 laptop; on a phone the Overview's chart keeps its size and
the scorecard reads as cards; a table downloads as CSV."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import quote, urlparse

import pytest

import ui
from tests.browser.support import ARTIFACTS, full_page_screenshot, page_problems, wait_for_app

pytestmark = pytest.mark.browser

VIEWS = ui.available_views()
EVIL = "evil.example"
LINK_ATTACK = (f"force={quote('[Session expired - sign in again](https://' + EVIL + '/login)')}"
               f"&district={quote('![x](https://' + EVIL + '/pixel.png)')}")


def _url(base: str, view, query: str = "") -> str:
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


def test_overview_opens_at_its_own_path(essex_app, page):
    page.goto(f"{essex_app}/overview")
    wait_for_app(page)
    assert page.get_by_text("Page not found").count() == 0
    assert page.get_by_test_id("stHeading").first.inner_text().startswith("Police and Crime Plan scorecard")


@pytest.mark.parametrize("view", VIEWS, ids=[v.url_path for v in VIEWS])
def test_link_values_render_as_text_and_fetch_nothing(essex_app, page, view):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(_url(essex_app, view, LINK_ATTACK))
    wait_for_app(page)
    main = page.get_by_test_id("stMain")
    assert main.get_by_text(f"“[Session expired - sign in again](https://{EVIL}/login)”").count() == 1
    assert main.get_by_text(f"“![x](https://{EVIL}/pixel.png)”").count() == 1
    outside = page.evaluate(f"""() => Array.from(document.querySelectorAll('a[href], img[src]'))
        .map(e => e.getAttribute('href') || e.getAttribute('src')).filter(u => u.includes('{EVIL}'))""")
    assert outside == [] and not [u for u in requested if urlparse(u).hostname == EVIL]


def _overflowing_cells(page, header: str) -> list[str]:
    """Cells of the static table with this column header whose text does not fit (cut off)."""
    return page.evaluate(
        """(header) => {
            const cut = [];
            document.querySelectorAll('[data-testid="cpmTable"] table').forEach(table => {
                const heads = Array.from(table.querySelectorAll('thead th')).map(th => th.innerText.trim());
                const index = heads.indexOf(header);
                if (index < 0 || table.offsetParent === null) return;
                table.querySelectorAll('tbody tr').forEach(row => {
                    const cell = row.children[index];
                    if (cell && cell.scrollWidth > cell.clientWidth + 1) cut.push(cell.innerText);
                });
            });
            return cut;
        }""", header)


@pytest.mark.parametrize("path, header", [("", "Expected"), ("roads", "Significance"), ("data", "Caveats")])
def test_key_columns_are_not_cut_off_at_1400px(demo_app, page, path, header):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{demo_app}/{path}")
    wait_for_app(page)
    tables = page.evaluate("(h) => Array.from(document.querySelectorAll('[data-testid=\"cpmTable\"] thead th'))"
                           ".filter(th => th.offsetParent !== null).map(th => th.innerText.trim()).filter(t => t === h)",
                           header)
    assert tables == [header]
    assert _overflowing_cells(page, header) == []


def test_weekly_figures_fit_one_laptop_screen(demo_app, page):
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{demo_app}/weekly")
    wait_for_app(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo-weekly-1366x768.png"))
    # the figures (the table of every measure with its flags) fit; what a flag means and each measure's note
    # follow below it, read by scrolling
    bottom = page.evaluate("""() => {
        const main = document.querySelector('[data-testid="stMain"]');
        const tables = Array.from(main.querySelectorAll('[data-testid="cpmTable"] table, [data-testid="stDataFrame"]'))
            .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height > 0);
        return tables.length ? Math.max(...tables.map(e => e.getBoundingClientRect().bottom)) + main.scrollTop : -1;
    }""")
    assert 0 < bottom <= 768, f"the weekly figures end at {bottom:.0f} px, below a 768 px screen"
    assert page.get_by_text("What a flag means.").is_visible()


def test_phone_overview_chart_keeps_its_size_and_scorecard_reads_as_cards(demo_app, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        phone = context.new_page()
        phone.goto(f"{demo_app}/?tab=Change+by+measure")  # the forest plot's tab, opened by the link
        wait_for_app(phone)
        plot = phone.evaluate("""() => {
            const area = document.querySelector('.js-plotly-plot .nsewdrag');
            const box = area.getBoundingClientRect();
            return [box.width, box.height];
        }""")
        assert plot[0] >= 120 and plot[1] >= 300, plot  # the forest plot's drawing area, not a 60 px sliver
        wide = phone.locator("[data-testid='cpmTable'][data-key='scorecard'] table")
        cards = phone.locator("[data-testid='cpmTable'][data-key='scorecard'] .cpm-cards")
        assert not wide.is_visible() and cards.is_visible()
        assert "Change in monthly rate:" in cards.inner_text() and "All recorded crime (excluding ASB)" in cards.inner_text()
        full_page_screenshot(phone, "demo-overview-390x844")
    finally:
        context.close()


def test_table_downloads_as_csv(essex_app, page, essex_db):
    import duckdb

    page.goto(f"{essex_app}/data")
    wait_for_app(page)
    with page.expect_download() as download_info:
        page.get_by_test_id("stDownloadButton").first.locator("button").click()
    download = download_info.value
    assert download.suggested_filename == "sources.csv"
    text = open(download.path(), encoding="utf-8-sig").read()
    # a file for people: notes first (Title, Source, Units, ...), a blank line, then the table
    notes, table = re.split(r"\r?\n\r?\n", text, maxsplit=1)
    assert "Title,Freshness per source" in notes.splitlines()
    rows = list(csv.DictReader(io.StringIO(table)))
    street = [r for r in rows if r["Source"] == "data.police.uk street-level crime and ASB"]
    con = duckdb.connect(str(essex_db), read_only=True)
    try:
        loaded = con.execute("select count(*) from crimes").fetchall()[0][0]
    finally:
        con.close()
    assert len(street) == 1 and int(float(street[0]["Rows loaded"].replace(",", ""))) == loaded


def test_a_tab_opens_on_click_and_its_label_goes_to_the_url(demo_app, page):
    """Only the open tab is drawn; clicking another runs and draws it, and the link then opens it."""
    page.goto(f"{demo_app}/local_policing")
    wait_for_app(page)
    main = page.get_by_test_id("stMain")
    assert main.get_by_text("Rates by district, Jan 2021–Dec 2021").count() == 1
    assert main.get_by_text("Outcomes of crimes recorded in Jan 2021–Dec 2021").count() == 0
    main.get_by_role("tab", name="Outcomes").click()
    main.get_by_text("Outcomes of crimes recorded in Jan 2021–Dec 2021").wait_for()
    wait_for_app(page)
    assert "tab=Outcomes" in page.url
    assert main.get_by_text("Rates by district, Jan 2021–Dec 2021").count() == 0
    page.reload()
    wait_for_app(page)
    main.get_by_text("Outcomes of crimes recorded in Jan 2021–Dec 2021").wait_for()


def test_a_chart_downloads_as_svg_from_its_menu(demo_app, page):
    """A chart's "Download chart" menu makes its buttons when it opens (a rerun), and a button gives the picture,
    rendered on the click: the SVG holds the chart's title."""
    page.goto(f"{demo_app}/gangs")
    wait_for_app(page)
    main = page.get_by_test_id("stMain")
    assert main.get_by_role("button", name="SVG (vector)").count() == 0  # a closed menu has no buttons
    main.get_by_role("button", name="Download chart").first.click()
    svg_button = page.get_by_role("button", name="SVG (vector)")
    svg_button.wait_for()
    assert page.get_by_role("button", name="PNG (slide, high resolution)").count() == 1
    with page.expect_download(timeout=120_000) as download_info:
        svg_button.click()
    download = download_info.value
    assert download.suggested_filename == "gangs_drugs.svg"
    svg = open(download.path(), encoding="utf-8").read()
    assert svg.startswith("<svg") and "Drug offences per month" in svg and "Demo data" in svg
