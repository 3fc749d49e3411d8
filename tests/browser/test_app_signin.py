"""The real dashboard (app.py) with sign-in configured, against a local OpenID provider (oidc-provider-mock on
127.0.0.1, started here; one provider and one app server for the module), in headless Chromium, on a small
warehouse of the real Essex street files for Oct–Dec 2018 plus one rejected row (tests/test_app_access.py).

Before sign-in nothing but the name and the button; each role's navigation written out here by hand; a refused
direct URL (audited); the Panel's LSOA values on screen and in the charts' JSON are the quarter's bands counted from
the raw CSV files, with no table export of Streamlit's own; the analyst's Data view shows the rejected row, and the
audit log (file and audit view) holds the sign-in, a view with its filters and an export."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.browser.oidc import USERS, oidc_provider, signed_in, write_test_secrets
from tests.browser.support import VIEWPORT, streamlit_server, wait_for_app
from tests.test_app_access import VSO, band, build_small_db, raw_vso_counts

pytestmark = pytest.mark.browser

AGGREGATE = ["Overview", "1 · Local policing", "2 · Anti-social behaviour", "3 · Domestic abuse",
             "4 · Serious violence", "5 · Gangs and organised crime", "6 · Children and vulnerable people",
             "7 · Roads", "Fraud", "COVID-19 impact"]
NAVIGATION = {"ann": [*AGGREGATE, "Weekly figures", "Data", "Audit log"],
              "olu": [*AGGREGATE, "Weekly figures", "Data"],
              "pam": AGGREGATE}
QUARTER = urlencode([("crime_type", VSO), ("compare", "Custom periods"), ("pre", "Oct 2018"), ("pre", "Oct 2018"),
                     ("post", "Oct 2018"), ("post", "Dec 2018")])
HOTSPOTS = QUARTER + "&tab=Hotspots"  # the local policing view's tab with the LSOA map and table


@pytest.fixture(scope="module")
def app(tmp_path_factory, reference_data) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("app-signin")
    db = build_small_db(folder, reference_data)
    audit_log = folder / "audit.jsonl"
    with oidc_provider(list(USERS.values())) as provider:
        secrets = write_test_secrets(folder, provider)
        with streamlit_server(db, extra_args=("--secrets.files", str(secrets)),
                              extra_env={"CRIME_MONITOR_AUDIT_LOG": str(audit_log)}) as url:
            yield url, audit_log


def _main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


@contextlib.contextmanager
def _signed_in(browser, url: str, user: str) -> Iterator:
    with signed_in(browser, url, user) as page:
        wait_for_app(page)
        yield page


def _navigation(page) -> list[str]:
    """The titles of the sidebar menu (each link reads "<icon name>\n\n<title>")."""
    return [t.strip().splitlines()[-1].strip() for t in page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()]


def _open(page, url: str) -> None:
    page.goto(url)
    wait_for_app(page)


def _entries(audit_log: Path) -> list[dict]:
    from access.audit import read_entries

    return read_entries(audit_log)


def test_before_sign_in_only_the_name_and_the_button(app, browser):
    url, _ = app
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        for address in (url, f"{url}/data", f"{url}/local_policing?{QUARTER}"):
            page.goto(address)
            page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
            assert _main_text(page).split() == ["Crime", "Plan", "Monitor", "Sign", "in"], address
            assert page.locator('[data-testid="stSidebarNav"]').count() == 0
            assert page.locator('[data-testid="stElementContainer"]').count() == 2
            assert page.locator(".js-plotly-plot").count() == 0
    finally:
        context.close()


@pytest.mark.parametrize("user", ["ann", "olu", "pam"])
def test_each_roles_navigation(app, browser, user):
    url, _ = app
    with _signed_in(browser, url, user) as page:
        assert _navigation(page) == NAVIGATION[user]
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert f"Signed in as {USERS[user]['email']}" in sidebar and "No sign-in is configured" not in sidebar
        assert "Something went wrong" not in _main_text(page)


def test_a_user_without_a_role_sees_nothing(app, browser):
    url, _ = app
    with _signed_in(browser, url, "ned") as page:
        assert "your account is not authorised" in _main_text(page)
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0 and page.locator(".js-plotly-plot").count() == 0


def test_the_panel_is_refused_the_data_view_by_its_url(app, browser):
    url, audit_log = app
    with _signed_in(browser, url, "pam") as page:
        _open(page, f"{url}/data")
        text = _main_text(page)
        assert "This view is not available to your role." in text and "Rejected rows" not in text
        assert "On or near Nowhere" not in page.content()
    assert {"user": "pam@pfcc.example", "role": "panel", "view": "data"} in [
        {"user": e["user"], "role": e["role"], "view": e["detail"].get("view")}
        for e in _entries(audit_log) if e["event"] == "view_refused"]


def test_the_panel_sees_only_published_lsoa_values(app, browser, reference_data):
    url, _ = app
    truth = raw_vso_counts(reference_data)
    with _signed_in(browser, url, "pam") as page:
        _open(page, f"{url}/local_policing?{HOTSPOTS}")
        table = page.locator('[data-testid="cpmTable"]').filter(has_text="LSOA code")
        rows = [[c.strip() for c in r] for r in table.locator("tbody tr").evaluate_all(
            "rows => rows.map(r => Array.from(r.querySelectorAll('th, td')).map(c => c.innerText))")]
        header = table.locator("thead th").all_inner_texts()
        code, count = header.index("LSOA code"), header.index("Crimes")
        assert len(rows) == 20
        assert {r[code]: r[count] for r in rows} == {r[code]: band(truth[r[code]]) for r in rows}
        traces = page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot'))
            .flatMap(p => p.data.map(t => ({type: t.type, x: Array.from(t.x || []), y: Array.from(t.y || []),
                                             hovertext: t.hovertext || null, text: t.text || null,
                                             customdata: t.customdata || null})))""")
        lsoa = [t for t in traces if t["type"] == "bar" and any(re.match(r"^.+ \d{3}[A-Z]$", str(v)) for v in t["y"])]
        assert lsoa, "no LSOA chart"
        for trace in lsoa:
            assert all(v is None or v % 5 == 0 for v in trace["x"])                  # bands: no 1–4
            assert not any(re.search(r": [1-4]$", str(h)) for h in trace["hovertext"] or [])
            assert trace["customdata"] is None


def test_the_analyst_sees_rejected_rows_and_the_audit_trail(app, browser):
    url, audit_log = app
    with _signed_in(browser, url, "ann") as page:
        _open(page, f"{url}/data")
        assert "On or near Nowhere" in page.content()                             # the rejected row's raw text
        # Streamlit's own table export is off for everyone (client.disableDataExport): the grid's toolbar has no
        # download, for the analyst too
        page.locator('[data-testid="stDataFrame"]').first.hover()
        toolbar = page.locator('[data-testid="stElementToolbar"]').first
        toolbar.wait_for(timeout=30_000)
        names = [b.get_attribute("aria-label") or b.get_attribute("title") or b.inner_text()
                 for b in toolbar.locator("button").all()]
        assert names and not [n for n in names if "download" in (n or "").lower()], names
        _open(page, f"{url}/local_policing?{HOTSPOTS}")
        with page.expect_download(timeout=120_000) as download:
            page.locator(".st-key-download_lp_top_lsoas-table_csv button").click()
        assert download.value.suggested_filename == "lp_top_lsoas-table.csv"
        page.wait_for_timeout(500)
        _open(page, f"{url}/audit")
        text = _main_text(page)
        assert "Chain intact" in text and "Something went wrong" not in text
        for event, shown in (("sign_in", "crime-monitor-analysts"), ("view", "local_policing"),
                             ("export", "lp_top_lsoas-table.csv")):
            _open(page, f"{url}/audit?{urlencode({'who': 'ann@essex.example', 'event': event})}")
            assert "No entries match" not in _main_text(page), event
            assert shown in (page.locator('[data-testid="stDataFrame"]').text_content() or ""), event   # grid cells
    entries = [e for e in _entries(audit_log) if e["user"] == "ann@essex.example"]
    events = [e["event"] for e in entries]
    assert "sign_in" in events and "export" in events
    view = next(e for e in entries if e["event"] == "view" and e["detail"]["view"] == "local_policing"
                and e["detail"]["filters"].get("crime_types") == [VSO])
    assert view["detail"]["filters"]["period"] == ["2018-10-01", "2018-12-01"]
    export = next(e for e in entries if e["event"] == "export")
    assert export["detail"]["view"] == "local_policing" and export["detail"]["format"] == "csv"
    assert export["detail"]["rows"] == 20 and "LSOA code" in export["detail"]["columns"]
    assert export["detail"]["filters"]["crime_types"] == [VSO] and export["detail"]["bytes"] > 0
    assert "disclosure" in export["detail"]
