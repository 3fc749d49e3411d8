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
from tests.browser.support import ARTIFACTS, free_port, served_process

CLIENT_ID = "crime-monitor-test"


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
