"""No tracebacks for users: run a page; on an exception, log its traceback with an error id on the server and
show the user only a message with that id (which they can quote to the force's IT team, who find it in the log).

`.streamlit/config.toml` also sets `client.showErrorDetails = "none"`, so an exception that escapes anyway shows a
generic message. Streamlit's own control flow (st.stop, st.rerun, st.switch_page) derives from BaseException and
passes through untouched.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

from access.logs import server_logger

LOGGER = server_logger("crime_monitor.errors")


def new_error_id() -> str:
    """A short random id such as 'E-7F3A09C2' (32 random bits: unique enough to find one log entry)."""
    return f"E-{secrets.token_hex(4).upper()}"


def user_message(error_id: str) -> str:
    """What the user reads: no exception type, message or traceback (they may hold paths, SQL or data)."""
    return (f"Something went wrong while drawing this page. The error has been recorded as {error_id}: "
            "please quote this id to the team that runs Crime Plan Monitor.")


def log_exception(error: BaseException, error_id: str, context: str = "", logger: logging.Logger | None = None) -> None:
    """The traceback in the server log, tagged with the error id (and the page/view it happened on)."""
    (logger or LOGGER).error("error %s%s", error_id, f" in {context}" if context else "",
                             exc_info=(type(error), error, error.__traceback__))


def run_safely(page: Callable[[], Any], *, context: str = "", logger: logging.Logger | None = None,
               on_error: Callable[[str, BaseException], None] | None = None) -> bool:
    """Run `page()` (e.g. `st.navigation(...).run`); True when it finished. On an exception: log it with a new
    error id, show `user_message` with st.error, call `on_error(error_id, exception)` (e.g. to audit it), and
    return False."""
    try:
        page()
        return True
    except Exception as error:  # noqa: BLE001 - every failure of a page is shown the same safe way
        error_id = new_error_id()
        log_exception(error, error_id, context, logger)
        import streamlit as st

        st.error(user_message(error_id), icon=":material/error:")
        if on_error is not None:
            try:
                on_error(error_id, error)
            except Exception as hook_error:  # noqa: BLE001 - the page's error is what the user must see
                log_exception(hook_error, error_id, "error hook", logger)
        return False
