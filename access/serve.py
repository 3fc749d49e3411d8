"""Sign-in configuration and the serve-address rule (pure: no Streamlit import).

Sign-in is Streamlit's own OpenID Connect support, configured by an `[auth]` section in a `secrets.toml` that
Streamlit reads (`~/.streamlit/secrets.toml`, then `.streamlit/secrets.toml` in the working directory and beside
the app; the `secrets.files` option replaces that list). The section is in one of three states:

- **absent**: no sign-in. The app serves on 127.0.0.1 only and says so on every page; another address is
  refused unless `CRIME_MONITOR_ALLOW_UNAUTHENTICATED=1` says it is wanted (a closed training room, say);
- **valid**: every view asks for sign-in first; any address may be served (behind the force's TLS proxy);
- **invalid** (present but incomplete): refused everywhere. A typo in the secrets file must not open the data.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets as token_source
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ALLOW_ENV = "CRIME_MONITOR_ALLOW_UNAUTHENTICATED"
LOCAL_ADDRESS = "127.0.0.1"
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
MIN_COOKIE_SECRET = 32


class AuthState(Enum):
    ABSENT = "absent"
    VALID = "valid"
    INVALID = "invalid"


def _is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _provider_sections(auth: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Provider settings by name: '' for the default provider (keys directly under [auth])."""
    named = {name: value for name, value in auth.items() if isinstance(value, Mapping) and name != "client_kwargs"}
    if any(key in auth for key in PROVIDER_KEYS):
        named[""] = auth
    return named


def auth_problems(auth: Mapping[str, Any] | None) -> list[str]:
    """What is wrong with an [auth] section ([] when it is complete). An empty/absent section is not checked."""
    if not auth:
        return []
    problems = []
    redirect = str(auth.get("redirect_uri", ""))
    if not redirect:
        problems.append("[auth] redirect_uri is missing (the app's address + /oauth2callback)")
    elif not redirect.endswith("/oauth2callback"):
        problems.append(f"[auth] redirect_uri must end with /oauth2callback, not {redirect!r}")
    elif urlparse(redirect).scheme != "https" and not _is_loopback_host(urlparse(redirect).hostname):
        problems.append(f"[auth] redirect_uri must use https outside this computer, not {redirect!r}")
    cookie_secret = str(auth.get("cookie_secret", ""))
    if len(cookie_secret) < MIN_COOKIE_SECRET:
        problems.append(f"[auth] cookie_secret must be a random string of at least {MIN_COOKIE_SECRET} characters "
                        "(python -m access secrets makes one)")
    providers = _provider_sections(auth)
    if not providers:
        problems.append("[auth] has no provider: set client_id, client_secret and server_metadata_url")
    for name, section in providers.items():
        label = f"[auth.{name}]" if name else "[auth]"
        missing = [key for key in PROVIDER_KEYS if not section.get(key)]
        if missing:
            problems.append(f"{label} is missing {', '.join(missing)}")
        metadata = str(section.get("server_metadata_url", ""))
        if metadata and urlparse(metadata).scheme != "https" and not _is_loopback_host(urlparse(metadata).hostname):
            problems.append(f"{label} server_metadata_url must use https, not {metadata!r}")
    return problems


def auth_state(auth: Mapping[str, Any] | None) -> AuthState:
    """absent (no or empty [auth]), valid, or invalid (present with problems)."""
    if not auth:
        return AuthState.ABSENT
    return AuthState.INVALID if auth_problems(auth) else AuthState.VALID


def secrets_paths(working_dir: Path, script_dir: Path | None = None, home: Path | None = None) -> list[Path]:
    """Where Streamlit looks for secrets.toml (later files override earlier ones)."""
    paths = [(home or Path.home()) / ".streamlit" / "secrets.toml", working_dir / ".streamlit" / "secrets.toml"]
    if script_dir is not None and script_dir / ".streamlit" / "secrets.toml" not in paths:
        paths.append(script_dir / ".streamlit" / "secrets.toml")
    return paths


def read_auth_section(paths: Sequence[Path]) -> dict[str, Any]:
    """The [auth] section Streamlit would see from these secrets files (top-level keys of later files win)."""
    merged: dict[str, Any] = {}
    for path in paths:
        if path.is_file():
            try:
                merged.update(tomllib.loads(path.read_text(encoding="utf-8")))
            except tomllib.TOMLDecodeError as error:
                raise ValueError(f"{path}: not valid TOML: {error}") from None
    auth = merged.get("auth", {})
    return dict(auth) if isinstance(auth, Mapping) else {}


def read_auth_section_from_text(text: str) -> dict[str, Any]:
    """The [auth] section of a secrets.toml given as text."""
    auth = tomllib.loads(text).get("auth", {})
    return dict(auth) if isinstance(auth, Mapping) else {}


def is_local_address(address: str | None) -> bool:
    """True for addresses only this computer can reach: loopback IPs, 'localhost', unix sockets. None/'' is
    Streamlit's default (every interface), so False."""
    if not address:
        return False
    return address.startswith("unix://") or _is_loopback_host(address)


@dataclass(frozen=True)
class ServeDecision:
    """ok: may start; address: the --server.address to add ('' = keep what was given); message: for the operator."""

    ok: bool
    address: str
    message: str


def serve_decision(address: str | None, state: AuthState, allow_unauthenticated: bool) -> ServeDecision:
    """The serve-address rule. `address` is what the operator asked for (None: nothing given)."""
    if state is AuthState.INVALID:
        return ServeDecision(False, "", "sign-in is configured but incomplete ([auth] in secrets.toml): fix it or "
                                        "remove the section; the app does not start half-configured")
    if state is AuthState.VALID:
        return ServeDecision(True, "", f"sign-in configured: serving on {address or 'Streamlit default address'}")
    if address is None:
        return ServeDecision(True, LOCAL_ADDRESS, "no sign-in configured: serving on 127.0.0.1 (this computer) only")
    if is_local_address(address):
        return ServeDecision(True, "", f"no sign-in configured: serving on {address} (this computer) only")
    if allow_unauthenticated:
        return ServeDecision(True, "", f"WARNING: no sign-in configured and serving on {address}: anyone who can "
                                       f"reach it sees everything ({ALLOW_ENV}=1)")
    return ServeDecision(False, "", f"refusing to serve on {address} without sign-in: configure [auth] in "
                                    ".streamlit/secrets.toml (docs/SECURITY.md), serve on 127.0.0.1, or set "
                                    f"{ALLOW_ENV}=1 to accept that anyone who can reach it sees everything")


def allow_unauthenticated(environ: Mapping[str, str] | None = None) -> bool:
    """True when CRIME_MONITOR_ALLOW_UNAUTHENTICATED is 1/true/yes."""
    return (environ if environ is not None else os.environ).get(ALLOW_ENV, "").strip().lower() in ("1", "true", "yes")


def _flag_value(args: Sequence[str], flag: str) -> list[str]:
    values = []
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            values.append(args[i + 1])
        elif arg.startswith(flag + "="):
            values.append(arg.split("=", 1)[1])
    return values


def requested_address(args: Sequence[str], environ: Mapping[str, str], config_paths: Sequence[Path]) -> str | None:
    """The server address Streamlit will use: `--server.address` in the streamlit arguments, else
    $STREAMLIT_SERVER_ADDRESS, else [server] address in the config files (later wins); None if none."""
    flagged = _flag_value(args, "--server.address")
    if flagged:
        return flagged[-1]
    if environ.get("STREAMLIT_SERVER_ADDRESS"):
        return environ["STREAMLIT_SERVER_ADDRESS"]
    address = None
    for path in config_paths:
        if path.is_file():
            server = tomllib.loads(path.read_text(encoding="utf-8")).get("server", {})
            address = server.get("address", address) or address
    return address


def requested_secrets_files(args: Sequence[str], environ: Mapping[str, str]) -> list[Path] | None:
    """`--secrets.files` (or $STREAMLIT_SECRETS_FILES, comma separated) when given: they replace the usual list."""
    given = _flag_value(args, "--secrets.files")
    if not given and environ.get("STREAMLIT_SECRETS_FILES"):
        given = [environ["STREAMLIT_SECRETS_FILES"]]
    return [Path(p) for value in given for p in value.split(",") if p] or None


def secrets_toml(*, redirect_uri: str, server_metadata_url: str, client_id: str, client_secret: str,
                 cookie_secret: str | None = None, scope: str = "openid profile email") -> str:
    """The text of a secrets.toml with an [auth] section for one (default) OpenID Connect provider. The cookie
    secret is random (48 URL-safe bytes) unless given. Keep the file readable by the app's user only."""
    values = {
        "redirect_uri": redirect_uri,
        "cookie_secret": cookie_secret or token_source.token_urlsafe(48),
        "client_id": client_id,
        "client_secret": client_secret,
        "server_metadata_url": server_metadata_url,
    }
    lines = ["# Crime Plan Monitor sign-in (docs/SECURITY.md). Keep this file readable by the app's user only.",
             "[auth]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    lines += ["", "[auth.client_kwargs]", f"scope = {json.dumps(scope)}", ""]
    return "\n".join(lines)


def write_secrets(path: Path, text: str) -> Path:
    """Write a secrets file created 0600 (refuses to overwrite an existing file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path
