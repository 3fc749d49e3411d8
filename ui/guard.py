"""The access side of a page run (docs/SECURITY.md), after `access.streamlit_side.require_access` has said who is
here: the view a page shows, refusal of a view the role may not see (reached by its URL; audited), the session
box in the sidebar, the audit of each view with its filters, and the page run itself, which shows an error id in
place of any failure (the traceback goes to the server log; the audit log records the id)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from access.audit import append_entry
from access.errors import run_safely
from access.streamlit_side import Access, record_view, refuse_view, render_session
from ui.shell import shell
from views.model import View


def view_for(page: Any, views: Sequence[View]) -> View:
    """The view a navigation page draws: the first view at "/" (empty url path), else the view with its id."""
    url_path = getattr(page, "url_path", "") or ""
    return next((v for v in views if v.url_path == url_path), views[0])


def _page_run(page: Any, view: View, access: Access) -> None:
    state = shell(access, view.id)
    if state is None:
        return
    record_view(access, view.id, state.filters_record())
    page.run()


def run(page: Any, views: Sequence[View], access: Access) -> bool:
    """Refuse the page's view when the role may not see it (st.stop, audited as `view_refused`); otherwise draw
    the session box, the shell and the page, audit the view with its filters, and on any failure show an error
    id (audited as `error`). True when the page finished."""
    view = view_for(page, views)
    render_session(access)          # who is signed in, and sign-out, on a refused page too
    refuse_view(access, view.id)

    def audit_error(error_id: str, error: BaseException) -> None:
        append_entry("error", access.user, access.role,
                     {"view": view.id, "error_id": error_id, "error_type": type(error).__name__})

    return run_safely(lambda: _page_run(page, view, access), context=f"view {view.id}", on_error=audit_error)


__all__ = ["run", "view_for"]
