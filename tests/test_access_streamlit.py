"""The Streamlit-side helpers on tiny scripts with AppTest: a page that fails shows only an error id (the
traceback is in the server log under that id); the pages that replace the app before sign-in; the notice without
sign-in; the serve guard; audit of views (once per view and filters) and of exports."""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_access_serve import GOOD_AUTH


def _failing_page_script() -> None:
    import streamlit as st

    from access.errors import run_safely

    def page() -> None:
        st.write("before the failure")
        raise ValueError("secret detail: /srv/data/warehouse.duckdb select * from incidents")

    ok = run_safely(page, context="view roads")
    st.write(f"page finished: {ok}")


def _stopping_page_script() -> None:
    import streamlit as st

    from access.errors import run_safely

    def page() -> None:
        st.write("first")
        st.stop()

    run_safely(page)
    st.write("never shown")


def test_a_failing_page_shows_an_error_id_and_logs_the_traceback(caplog):
    caplog.set_level("ERROR", logger="crime_monitor.errors")
    at = AppTest.from_function(_failing_page_script).run(timeout=30)
    assert not at.exception                                   # nothing escaped to Streamlit's own error box
    message = at.error[0].value
    error_id = re.search(r"E-[0-9A-F]{8}", message).group(0)
    page_text = " ".join(str(e.value) for e in [*at.markdown, *at.error])
    for leak in ("secret detail", "warehouse.duckdb", "ValueError", "Traceback", "select"):
        assert leak not in page_text
    assert "page finished: False" in page_text and "before the failure" in page_text
    record = next(r for r in caplog.records if error_id in r.getMessage())
    assert record.getMessage() == f"error {error_id} in view roads"
    assert record.exc_info[0] is ValueError and "warehouse.duckdb" in str(record.exc_info[1])


def test_streamlit_control_flow_passes_through():
    at = AppTest.from_function(_stopping_page_script).run(timeout=30)
    assert not at.error and not at.exception
    assert [m.value for m in at.markdown] == ["first"]


def _gate_script() -> None:
    import streamlit as st

    from access.streamlit_side import render_unauthenticated_notice, require_access

    access = require_access()
    if not access.signed_in:
        render_unauthenticated_notice()
    st.write(f"data for {access.user} as {access.role}")


def test_without_auth_the_session_is_local_and_every_page_says_so():
    at = AppTest.from_function(_gate_script).run(timeout=30)
    assert "No sign-in is configured" in at.caption[0].value
    assert at.markdown[-1].value == "data for local as analyst"


def test_with_auth_and_nobody_signed_in_only_the_name_and_a_button_show():
    at = AppTest.from_function(_gate_script)
    at.secrets["auth"] = GOOD_AUTH
    at.run(timeout=30)
    assert not at.exception
    assert [t.value for t in at.title] == ["Crime Plan Monitor"]
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.markdown and not at.caption and not at.error and not at.dataframe


def test_half_configured_auth_shows_no_data():
    at = AppTest.from_function(_gate_script)
    at.secrets["auth"] = {"redirect_uri": "https://x/oauth2callback"}
    at.run(timeout=30)
    assert "incomplete" in at.error[0].value and not at.markdown and not at.button


def _guard_script() -> None:
    import streamlit as st

    from access.streamlit_side import serve_guard

    serve_guard()
    st.write("served")


def test_serve_guard_stops_a_public_address_without_sign_in(monkeypatch):
    from streamlit import config

    monkeypatch.delenv("CRIME_MONITOR_ALLOW_UNAUTHENTICATED", raising=False)
    previous = config.get_option("server.address")
    try:
        config.set_option("server.address", "0.0.0.0")
        at = AppTest.from_function(_guard_script).run(timeout=30)
        assert "refusing to serve on 0.0.0.0" in at.error[0].value and not at.markdown
        config.set_option("server.address", "127.0.0.1")
        assert [m.value for m in AppTest.from_function(_guard_script).run(timeout=30).markdown] == ["served"]
    finally:
        config.set_option("server.address", previous)


def _audit_script() -> None:
    import os
    from pathlib import Path

    import streamlit as st

    from access.streamlit_side import audited, record_view, require_access

    log = Path(os.environ["TEST_AUDIT_LOG"])
    access = require_access(audit_path=log)
    district = st.selectbox("District", ["Harlow", "Maldon"], key="district")
    record_view(access, "local_policing", {"districts": [district]}, audit_path=log)
    build = audited(lambda: b"a,b\n1,2\n", access, {"view": "local_policing", "file": "top-lsoas.csv", "rows": 1},
                    audit_path=log)
    if st.button("export"):
        st.write(f"bytes {len(build())}")


@pytest.fixture()
def audit_log(tmp_path, monkeypatch):
    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("TEST_AUDIT_LOG", str(log))
    return log


def test_views_are_audited_once_per_view_and_filters_and_exports_when_clicked(audit_log):
    from access.audit import verify_log

    at = AppTest.from_function(_audit_script).run(timeout=30)
    at.run(timeout=30)                                              # a rerun with the same filters: no new entry
    at.selectbox(key="district").select("Maldon").run(timeout=30)
    at.button[0].click().run(timeout=30)
    assert at.markdown[-1].value == "bytes 8"
    entries = [json.loads(line) for line in audit_log.read_text().splitlines()]
    assert [(e["event"], e["user"], e["role"]) for e in entries] == [
        ("view", "local", "analyst"), ("view", "local", "analyst"), ("export", "local", "analyst")]
    assert [e["detail"].get("filters") for e in entries] == [{"districts": ["Harlow"]}, {"districts": ["Maldon"]}, None]
    assert entries[2]["detail"] == {"view": "local_policing", "file": "top-lsoas.csv", "rows": 1, "bytes": 8}
    assert verify_log(audit_log).ok
