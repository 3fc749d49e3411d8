"""Browser-test support for sign-in: a local OpenID Connect provider (`oidc-provider-mock`) on a free port on
127.0.0.1 with predefined users (its login page has one button per user), and the secrets.toml that points
Streamlit at it. The secrets file is written to a temporary folder and given to Streamlit with
`--secrets.files`, never into the project's own .streamlit/."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from access.serve import secrets_toml, write_secrets
from tests.browser.support import ARTIFACTS, VIEWPORT, free_port, served_process

CLIENT_ID = "crime-monitor-test"
# the provider's users: an analyst, an officer (with another group too), a Panel member and a user with no role
USERS: dict[str, dict[str, object]] = {
    "ann": {"sub": "ann", "email": "ann@essex.example", "groups": ["crime-monitor-analysts"]},
    "olu": {"sub": "olu", "email": "olu@essex.example", "groups": ["staff", "crime-monitor-officers"]},
    "pam": {"sub": "pam", "email": "pam@pfcc.example", "groups": ["crime-monitor-panel"]},
    "ned": {"sub": "ned", "email": "ned@essex.example", "groups": ["finance"]},
}


@contextlib.contextmanager
def oidc_provider(users: Sequence[Mapping[str, object]], timeout: float = 60.0) -> Iterator[str]:
    """Start oidc-provider-mock on 127.0.0.1 with these users' claims (each has "sub"); yield its base URL once
    its discovery document answers; stop it afterwards."""
    port = free_port()
    command = [sys.executable, "-c", "from oidc_provider_mock.__main__ import run; run()", "--host", "127.0.0.1",
               "--port", str(port)]
    for user in users:
        command += ["--user-claims", json.dumps(dict(user))]
    base = f"http://127.0.0.1:{port}"
    with served_process(command, f"{base}/.well-known/openid-configuration", "oidc-provider-mock",
                        ARTIFACTS / f"oidc-provider-{port}.log", timeout):
        yield base


def write_test_secrets(folder: Path, provider_url: str) -> Path:
    """A secrets.toml (0600) for Streamlit's sign-in against the local provider; the app's port is filled in by
    Streamlit ({port} in redirect_uri)."""
    text = secrets_toml(redirect_uri="http://127.0.0.1:{port}/oauth2callback", client_id=CLIENT_ID,
                        client_secret="not-a-secret-only-a-test",
                        server_metadata_url=f"{provider_url}/.well-known/openid-configuration")
    return write_secrets(folder / "secrets.toml", text)


@contextlib.contextmanager
def signed_in(browser, url: str, user: str) -> Iterator:
    """A fresh browser context (downloads allowed): the app's signed-out page, its Sign in button, the provider's
    button for `user`, back to the app until its Sign out button is drawn (the signed-in and the not-authorised
    pages both have one); yields the page and closes the context afterwards."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    try:
        page = context.new_page()
        page.goto(url)
        page.get_by_role("button", name="Sign in").click(timeout=60_000)
        page.wait_for_url(lambda address: "/oauth2/authorize" in address, timeout=60_000)
        page.get_by_role("button", name=user, exact=True).click()
        page.wait_for_url(lambda address: address.rstrip("/") == url.rstrip("/"), timeout=60_000)
        page.get_by_role("button", name="Sign out").wait_for(timeout=120_000)
        yield page
    finally:
        context.close()
