"""The serve-address rule, the [auth] checks, the generated secrets.toml, and `python -m access check-serve` as
scripts/run.sh calls it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from access.serve import (
    AuthState,
    auth_problems,
    auth_state,
    is_local_address,
    read_auth_section,
    requested_address,
    secrets_toml,
    serve_decision,
    write_secrets,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
GOOD_AUTH = {"redirect_uri": "https://crime.essex.example/oauth2callback", "cookie_secret": "k" * 40,
             "client_id": "crime-monitor", "client_secret": "s3cret",
             "server_metadata_url": "https://login.essex.example/.well-known/openid-configuration"}


@pytest.mark.parametrize(("address", "local"), [
    ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("unix:///run/crime.sock", True), ("0.0.0.0", False), ("::", False), ("10.1.2.3", False),
    ("crime.essex.example", False), ("", False), (None, False),
])
def test_local_addresses(address, local):
    assert is_local_address(address) is local


def test_rule_without_sign_in():
    default = serve_decision(None, AuthState.ABSENT, allow_unauthenticated=False)
    assert default.ok and default.address == "127.0.0.1"
    assert serve_decision("::1", AuthState.ABSENT, False).ok
    refused = serve_decision("0.0.0.0", AuthState.ABSENT, False)
    assert not refused.ok and "CRIME_MONITOR_ALLOW_UNAUTHENTICATED=1" in refused.message
    allowed = serve_decision("0.0.0.0", AuthState.ABSENT, True)
    assert allowed.ok and allowed.address == "" and allowed.message.startswith("WARNING")


def test_rule_with_sign_in_valid_or_broken():
    assert serve_decision("0.0.0.0", AuthState.VALID, False).ok
    assert serve_decision(None, AuthState.VALID, False).address == ""     # Streamlit's own default
    assert not serve_decision("127.0.0.1", AuthState.INVALID, True).ok    # half-configured never starts


def test_auth_checks():
    assert auth_problems(GOOD_AUTH) == [] and auth_state(GOOD_AUTH) is AuthState.VALID
    assert auth_state({}) is AuthState.ABSENT and auth_state(None) is AuthState.ABSENT
    broken = {**GOOD_AUTH, "redirect_uri": "http://crime.essex.example/callback", "cookie_secret": "short"}
    del broken["client_secret"]
    problems = auth_problems(broken)
    assert auth_state(broken) is AuthState.INVALID
    assert any("must end with /oauth2callback" in p for p in problems)
    assert any("cookie_secret must be a random string of at least 32" in p for p in problems)
    assert any(p == "[auth] is missing client_secret" for p in problems)
    plain = {**GOOD_AUTH, "redirect_uri": "http://crime.essex.example/oauth2callback",
             "server_metadata_url": "http://login.essex.example/.well-known/openid-configuration"}
    assert len([p for p in auth_problems(plain) if "https" in p]) == 2
    local = {**GOOD_AUTH, "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
             "server_metadata_url": "http://127.0.0.1:9400/.well-known/openid-configuration"}
    assert auth_problems(local) == []                                      # http is fine on this computer
    named = {"redirect_uri": GOOD_AUTH["redirect_uri"], "cookie_secret": "k" * 40,
             "entra": {k: GOOD_AUTH[k] for k in ("client_id", "client_secret", "server_metadata_url")}}
    assert auth_problems(named) == []
    assert auth_problems({"redirect_uri": GOOD_AUTH["redirect_uri"], "cookie_secret": "k" * 40}) == [
        "[auth] has no provider: set client_id, client_secret and server_metadata_url"]


def test_generated_secrets_file(tmp_path):
    text = secrets_toml(redirect_uri=GOOD_AUTH["redirect_uri"], server_metadata_url=GOOD_AUTH["server_metadata_url"],
                        client_id="crime-monitor", client_secret='with "quotes" and \\')
    parsed = tomllib.loads(text)
    assert parsed["auth"]["client_secret"] == 'with "quotes" and \\'
    assert parsed["auth"]["client_kwargs"] == {"scope": "openid profile email"}
    assert len(parsed["auth"]["cookie_secret"]) >= 60
    assert auth_problems(parsed["auth"]) == []
    other = tomllib.loads(secrets_toml(redirect_uri="x", server_metadata_url="y", client_id="c", client_secret="s"))
    assert other["auth"]["cookie_secret"] != parsed["auth"]["cookie_secret"]   # random each time
    path = write_secrets(tmp_path / ".streamlit" / "secrets.toml", text)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        write_secrets(path, text)
    assert read_auth_section([tmp_path / "absent.toml", path]) == parsed["auth"]


def test_requested_address_precedence(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[server]\naddress = "10.0.0.5"\n')
    assert requested_address([], {}, [config]) == "10.0.0.5"
    assert requested_address([], {"STREAMLIT_SERVER_ADDRESS": "10.0.0.6"}, [config]) == "10.0.0.6"
    flagged = ["--server.address", "10.0.0.7"]
    assert requested_address(flagged, {"STREAMLIT_SERVER_ADDRESS": "x"}, [config]) == "10.0.0.7"
    assert requested_address(["--server.address=::1"], {}, []) == "::1"
    assert requested_address(["--server.port", "8502"], {}, [tmp_path / "none.toml"]) is None


def _check_serve(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the check from an empty working directory with an empty HOME (no secrets, no config of the machine)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STREAMLIT_", "CRIME_MONITOR_ALLOW"))}
    return subprocess.run([sys.executable, "-m", "access", "check-serve", "--", *args], cwd=tmp_path,
                          env={**clean, "HOME": str(tmp_path), "PYTHONPATH": str(PROJECT_ROOT), **(env or {})},
                          capture_output=True, text=True, timeout=60)


def test_check_serve_command(tmp_path):
    local = _check_serve(tmp_path, "--server.port", "8501")
    assert local.returncode == 0 and local.stdout.strip() == "127.0.0.1"
    refused = _check_serve(tmp_path, "--server.address", "0.0.0.0")
    assert refused.returncode == 2 and refused.stdout == "" and "refusing to serve on 0.0.0.0" in refused.stderr
    allowed = _check_serve(tmp_path, "--server.address", "0.0.0.0", env={"CRIME_MONITOR_ALLOW_UNAUTHENTICATED": "1"})
    assert allowed.returncode == 0 and allowed.stdout.strip() == "" and "WARNING" in allowed.stderr
    secrets = tmp_path / "s.toml"
    secrets.write_text(secrets_toml(redirect_uri=GOOD_AUTH["redirect_uri"], client_id="c", client_secret="s",
                                    server_metadata_url=GOOD_AUTH["server_metadata_url"]))
    signed = _check_serve(tmp_path, "--server.address", "0.0.0.0", "--secrets.files", str(secrets))
    assert signed.returncode == 0 and "sign-in configured" in signed.stderr
    secrets.write_text('[auth]\nredirect_uri = "https://x/oauth2callback"\n')
    broken = _check_serve(tmp_path, "--secrets.files", str(secrets))
    assert broken.returncode == 2 and "cookie_secret" in broken.stderr and "incomplete" in broken.stderr
    secrets.write_text("[auth\n")
    unreadable = _check_serve(tmp_path, "--secrets.files", str(secrets))
    assert unreadable.returncode == 2 and f"{secrets}: not valid TOML" in unreadable.stderr
    assert "Traceback" not in unreadable.stderr


def test_run_script_asks_check_serve_before_starting():
    script = (PROJECT_ROOT / "scripts" / "run.sh").read_text()
    check = script.index('ADDRESS="$(.venv/bin/python -m access check-serve -- "$@")" || exit 2')
    assert check < script.index("etl demo") < script.index('exec .venv/bin/streamlit run app.py')
    assert '"${SERVE_ARGS[@]}" "$@"' in script.splitlines()[-1]
