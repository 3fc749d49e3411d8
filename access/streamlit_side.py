"""The Streamlit side of access control: small helpers app.py (and the UI shell) call. Everything they decide is
in the pure modules (access.roles, access.serve, access.audit); these only read `st.secrets` / `st.user`, render
the few pages that replace the app (signed out, not authorised, misconfigured) and keep per-session state.

Order of calls in app.py (and `ui.guard`), before any data is read or any navigation is built:

    serve_guard()                      # refuses a non-local address without sign-in (st.stop)
    access = require_access()          # signed-out page / not-authorised page (st.stop), else the user's Access
    if not access.signed_in: render_unauthenticated_notice(access.role)   # on every page
    pages = [p for p in pages if access.capabilities.may_view(view_id)]   # navigation per role
    refuse_view(access, view_id)       # a direct URL to a view the role may not see
    record_view(access, view_id, filters)   # audit: each view and filters change once per session
    st.download_button(..., data=audited(data, access, {...what the file holds...}))

Without sign-in the session's role is `$CRIME_MONITOR_LOCAL_ROLE` (analyst by default; officer or panel preview
what those roles see, on this computer only).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from access import audit, roles, serve

PRODUCT_NAME = "Crime Plan Monitor"
LOCAL_ROLE_ENV = "CRIME_MONITOR_LOCAL_ROLE"
LOCAL_USER = "local"
_SIGNED_IN_KEY = "_access_signed_in_audited"
_VIEWS_KEY = "_access_views_audited"


@dataclass(frozen=True)
class Access:
    """Who is using this session. user: e-mail, else preferred_username, else subject ('local' without sign-in);
    role/capabilities: None only on the not-authorised path (which stops the script)."""

    user: str
    role: str | None
    capabilities: roles.Capabilities | None
    signed_in: bool
    subject: str | None = None


def user_label(claims: Mapping[str, Any]) -> str:
    """Who a set of ID-token claims names, for people and the audit log: email, preferred_username, name, sub."""
    for key in ("email", "preferred_username", "name", "sub"):
        if claims.get(key):
            return str(claims[key])
    return "unknown"


def auth_section() -> dict[str, Any]:
    """The [auth] section of the secrets Streamlit loaded ({} when there is no secrets file or no section)."""
    try:
        section = st.secrets.get("auth", {})
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return {}
    return section.to_dict() if hasattr(section, "to_dict") else dict(section or {})


def current_auth_state() -> serve.AuthState:
    return serve.auth_state(auth_section())


def serve_guard() -> None:
    """The serve-address rule inside the app too (for `streamlit run app.py` started without scripts/run.sh):
    without sign-in, an address other than this computer's stops every page unless explicitly allowed."""
    address = st.get_option("server.address") or None
    decision = serve.serve_decision(address, current_auth_state(), serve.allow_unauthenticated())
    if not decision.ok:
        st.title(PRODUCT_NAME)
        st.error(decision.message, icon=":material/block:")
        _stop_without_navigation()


def local_role(environ: Mapping[str, str] | None = None) -> str:
    """The role of a session without sign-in: `$CRIME_MONITOR_LOCAL_ROLE` (analyst, officer or panel; any case),
    analyst when unset. ValueError naming the variable for anything else."""
    raw = (environ if environ is not None else os.environ).get(LOCAL_ROLE_ENV, "").strip().lower()
    if not raw:
        return "analyst"
    if raw not in roles.ROLES:
        raise ValueError(f"{LOCAL_ROLE_ENV} must be one of {', '.join(roles.ROLES)}, not {raw!r}")
    return raw


def render_unauthenticated_notice(role: str | None = "analyst", container: Any = None) -> None:
    """The notice every page shows when no sign-in is configured (static text: nothing from the URL), in
    `container` (the app: its sidebar, beside the session box) or the page."""
    preview = "" if role in (None, "analyst") else (
        f" This session previews the **{role}** role ({LOCAL_ROLE_ENV}).")
    (container or st).caption(":material/lock_open: No sign-in is configured: this dashboard is served on this computer only and "
               "shows everything to whoever opens it. docs/SECURITY.md explains how to add the force's sign-in."
               + preview)


def render_session(access: Access, container: Any = None) -> None:
    """Who is signed in and their role, with a sign-out button (audited); without sign-in, the local role."""
    where = container or st.sidebar
    if not access.signed_in:
        where.caption(f"Local session · role: {access.role}")
        return
    where.text(f"Signed in as {access.user} · role: {access.role}")   # st.text: the name is never markdown or a link
    where.button("Sign out", key="access_sign_out", on_click=_sign_out, args=(access,))


def _literal(text: str) -> str:
    """A name from the ID token inside markdown, read literally: a code span (never a link, an image or markup)."""
    return "`" + text.replace("`", "'").replace("\n", " ") + "`"


def _sign_out(access: Access) -> None:
    _audit("sign_out", access.user, access.role, {"subject": access.subject}, None)
    st.session_state.pop(_SIGNED_IN_KEY, None)
    st.logout()


def _nothing() -> None:
    """The only page registered while the app is replaced by a sign-in, refusal or error page."""


def _stop_without_navigation() -> None:
    """Stop the run with no navigation at all. Without a call to st.navigation in a run, Streamlit would fall back
    to listing the scripts of the `pages/` folder in the sidebar (each runnable on its own, past this gate), so
    register one empty page, hidden, first."""
    st.navigation([st.Page(_nothing, title=PRODUCT_NAME, url_path="signed_out")], position="hidden")
    st.stop()


def render_signed_out_page(provider: str = "") -> None:
    """The product's name and a sign-in button, nothing else."""
    st.title(PRODUCT_NAME)
    st.button("Sign in", type="primary", key="access_sign_in",
              on_click=st.login, args=(provider,) if provider else ())


def render_not_authorised_page(user: str) -> None:
    """Signed in, but none of the user's groups maps to a role: say so, offer sign-out, show nothing else."""
    st.title(PRODUCT_NAME)
    st.warning(f"You are signed in as {_literal(user)}, but your account is not authorised to use this dashboard. "
               "Ask the force's IT team to add you to the right group.", icon=":material/block:")
    st.button("Sign out", key="access_sign_out", on_click=st.logout)


def _audit(event: str, user: str, role: str | None, detail: Mapping[str, Any], audit_path: Path | None) -> None:
    audit.append_entry(event, user, role, detail, path=audit_path)


def require_access(*, mapping: roles.RoleMapping | None = None, audit_path: Path | None = None) -> Access:
    """Who is here and what they may see; stops the script with the right page when they may see nothing.

    No [auth]: a local session with the role `local_role()` (analyst unless $CRIME_MONITOR_LOCAL_ROLE says).
    [auth] incomplete: an error page. Not signed in: the signed-out page. Signed in without a mapped group: the not-authorised page. The first time each session
    gets past sign-in (or is refused), the audit log records it."""
    state = current_auth_state()
    if state is serve.AuthState.ABSENT:
        try:
            role = local_role()
        except ValueError as error:
            st.title(PRODUCT_NAME)
            st.error(str(error), icon=":material/error:")
            _stop_without_navigation()
        return Access(LOCAL_USER, role, roles.capabilities_for(role), signed_in=False)
    if state is serve.AuthState.INVALID:
        st.title(PRODUCT_NAME)
        st.error("Sign-in is configured but incomplete; the IT team can see why with `python -m access check-serve`.",
                 icon=":material/error:")
        _stop_without_navigation()
    mapping = mapping or roles.load_role_mapping()
    if not st.user.get("is_logged_in", False):  # absent = not signed in
        render_signed_out_page(mapping.provider)
        _stop_without_navigation()
    claims = st.user.to_dict()
    user, subject = user_label(claims), str(claims.get("sub") or "") or None
    role = roles.role_for(claims, mapping)
    if not st.session_state.get(_SIGNED_IN_KEY):
        detail = {"subject": subject, mapping.claim: roles.claim_values(claims, mapping.claim)}
        _audit("sign_in" if role else "sign_in_refused", user, role, detail, audit_path)
        st.session_state[_SIGNED_IN_KEY] = True
    if role is None:
        render_not_authorised_page(user)
        _stop_without_navigation()
    return Access(user, role, roles.capabilities_for(role), signed_in=True, subject=subject)


def refuse_view(access: Access, view_id: str, *, audit_path: Path | None = None) -> None:
    """Stop a view the role may not see (reached by a direct URL), and audit the attempt."""
    if access.capabilities is not None and access.capabilities.may_view(view_id):
        return
    _audit("view_refused", access.user, access.role, {"view": view_id}, audit_path)
    st.error("This view is not available to your role.", icon=":material/block:")
    st.stop()


def view_key(view_id: str, filters: Mapping[str, Any]) -> str:
    """A stable key for one view with one set of filters (JSON, sorted keys)."""
    return json.dumps({"view": view_id, "filters": filters}, sort_keys=True, default=str)


def record_view(access: Access, view_id: str, filters: Mapping[str, Any], *, audit_path: Path | None = None) -> bool:
    """Audit a view with its filters, once per session for each distinct (view, filters); True when written."""
    seen: set[str] = st.session_state.setdefault(_VIEWS_KEY, set())
    key = view_key(view_id, filters)
    if key in seen:
        return False
    _audit("view", access.user, access.role, {"view": view_id, "filters": dict(filters)}, audit_path)
    seen.add(key)
    return True


def audited(data: Callable[[], bytes] | bytes, access: Access,
            what: Mapping[str, Any] | Callable[[], Mapping[str, Any]], *,
            audit_path: Path | None = None) -> Callable[[], bytes]:
    """A download's data callable that appends an 'export' entry (what the file holds: view, file name, format,
    rows, columns, filters, disclosure note) when the user clicks, then returns the bytes. `what` may be a
    callable, worked out only on the click (e.g. the disclosure note of the rows exported)."""
    def build() -> bytes:
        content = data() if callable(data) else data
        detail = what() if callable(what) else what
        _audit("export", access.user, access.role, {**detail, "bytes": len(content)}, audit_path)
        return content

    return build
