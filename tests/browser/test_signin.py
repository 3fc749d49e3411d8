"""Sign-in for real in headless Chromium: Streamlit's own OpenID Connect (st.login / st.user) against a local
provider started by the fixture, on a throwaway script that uses the access helpers (tests/browser/signin_app.py),
with the shipped role mapping (config/roles.toml). Each user signs in by the provider's button; their groups reach
st.user, map to the role written here by hand, and the audit log records each sign-in in an intact chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.oidc import USERS, oidc_provider, signed_in, write_test_secrets
from tests.browser.support import ARTIFACTS, VIEWPORT, streamlit_server

pytestmark = pytest.mark.browser

PANEL_VIEWS = ("asb, children, covid, domestic_abuse, fraud, gangs, local_policing, overview, roads, "
               "serious_violence")


@pytest.fixture(scope="module")
def signin_app(tmp_path_factory, essex_db) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("signin")
    audit_log = folder / "audit.jsonl"
    with oidc_provider(list(USERS.values())) as provider:
        secrets = write_test_secrets(folder, provider)
        with streamlit_server(essex_db, script="tests/browser/signin_app.py",
                              extra_args=("--secrets.files", str(secrets)),
                              extra_env={"CRIME_MONITOR_AUDIT_LOG": str(audit_log)}) as url:
            yield url, audit_log


def _text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def test_signed_out_page_shows_only_the_name_and_a_button(signin_app, browser):
    url, _ = signin_app
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        page.goto(url)
        page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
        assert _text(page).split() == ["Crime", "Plan", "Monitor", "Sign", "in"]
        assert page.locator('[data-testid="stElementContainer"]').count() == 2
    finally:
        context.close()


@pytest.mark.parametrize(("user", "role"), [("ann", "analyst"), ("olu", "officer"), ("pam", "panel")])
def test_each_role_signs_in_with_its_groups(signin_app, browser, user, role):
    url, _ = signin_app
    with signed_in(browser, url, user) as page:
        text = _text(page)
        assert f"user: {USERS[user]['email']}" in text and f"role: {role}" in text
        assert f"groups: {json.dumps(USERS[user]['groups'])}" in text          # the claim reached st.user
        views = next(line for line in text.splitlines() if line.startswith("views: "))
        if role == "panel":
            assert views == f"views: {PANEL_VIEWS}"
        elif role == "officer":
            assert "weekly" in views and "data" in views and "audit" not in views
        else:
            assert "audit" in views
        assert "No sign-in is configured" not in text


def test_a_user_without_a_known_group_is_signed_in_but_not_authorised(signin_app, browser):
    url, _ = signin_app
    with signed_in(browser, url, "ned") as page:
        text = _text(page)
        assert "signed in as ned@essex.example, but your account is not authorised" in text
        assert "role:" not in text and "views:" not in text
        assert page.get_by_role("button", name="Sign out").count() == 1


def test_sign_ins_are_in_the_audit_log(signin_app, browser):
    from access.audit import read_entries, verify_log

    url, audit_log = signin_app
    for user in ("ann", "ned"):
        with signed_in(browser, url, user):
            pass
    entries = read_entries(audit_log)
    events = {(e["event"], e["user"], e["role"]) for e in entries}
    assert ("sign_in", "ann@essex.example", "analyst") in events
    assert ("sign_in_refused", "ned@essex.example", None) in events
    refused = next(e for e in entries if e["event"] == "sign_in_refused")
    assert refused["detail"] == {"subject": "ned", "groups": ["finance"]}
    # the server log holds every head, so removing the newest entries would be found too
    server_log = (ARTIFACTS / f"streamlit-{url.rsplit(':', 1)[1]}.log").read_text()
    head = (entries[-1]["seq"], entries[-1]["hash"])
    assert f"audit head {head[0]}:{head[1]}" in server_log
    assert verify_log(audit_log, expected_head=head).ok
