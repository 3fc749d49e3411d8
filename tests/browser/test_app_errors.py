"""A page that fails in the real dashboard (headless Chromium, no sign-in, a warehouse whose `vehicles` table is
missing — as an older or damaged file would be — so the Data view's row counts fail): the user reads an error id
and nothing of the failure; the server log holds the traceback under that id; the audit log records it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.browser.support import ARTIFACTS, streamlit_server, wait_for_app
from tests.test_app_access import build_small_db

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def broken_app(tmp_path_factory, reference_data) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("app-errors")
    db = build_small_db(folder, reference_data)
    con = duckdb.connect(str(db))
    try:
        con.execute("drop table vehicles")
    finally:
        con.close()
    audit_log = folder / "audit.jsonl"
    with streamlit_server(db, extra_env={"CRIME_MONITOR_AUDIT_LOG": str(audit_log)}) as url:
        yield url, audit_log


def test_an_error_shows_an_error_id_and_no_traceback(broken_app, page):
    from access.audit import read_entries

    url, audit_log = broken_app
    page.goto(f"{url}/data")
    wait_for_app(page)
    text = page.locator('[data-testid="stMain"]').inner_text()
    error_id = re.search(r"recorded as (E-[0-9A-F]{8})", text).group(1)
    html = page.content()
    for leak in ("Traceback", "CatalogException", "Catalog Error", "Table with name", "vehicles", "File \""):
        assert leak not in html, leak
    server_log = (ARTIFACTS / f"streamlit-{url.rsplit(':', 1)[1]}.log").read_text()
    assert f"error {error_id} in view data" in server_log and "CatalogException" in server_log
    errors = [e for e in read_entries(audit_log) if e["event"] == "error"]
    assert [(e["user"], e["detail"]["view"], e["detail"]["error_id"]) for e in errors] == [("local", "data", error_id)]
    # the other views still work
    page.goto(f"{url}/overview")
    wait_for_app(page)
    assert "Something went wrong" not in page.locator('[data-testid="stMain"]').inner_text()
