"""A lightweight Streamlit client: opens a session over the app's own websocket protocol (the protobuf
BackMsg/ForwardMsg messages the browser exchanges on /_stcore/stream), asks for one page, and reads the
server's answer until its "script finished" message. No browser, no rendering: a few milliseconds of client
CPU per page, so many of them measure the server, not the clients.

    run = await run_page("http://127.0.0.1:8501", "covid", "district=Harlow", timeout=60)
    run.seconds, run.elements, run.charts, run.pages      # pages: the app's navigation [(url path, title)]

It uses the `websockets` package and Streamlit's generated protobuf classes, both installed with Streamlit
itself. What the browser sends that this client does not (widget states, the theme) does not change what the
server runs for a new session: the page's script with default widgets and the URL's query string.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

FINISHED_SUCCESSFULLY = 0
FINISHED_WITH_COMPILE_ERROR = 1
FINISHED_EARLY_FOR_RERUN = 2


# the words of the app's error notice (access.errors.user_message), which replaces a failing page's exception
ERROR_NOTICE_MARK = "The error has been recorded as"


class PageRunError(Exception):
    """The page failed: an exception element, a compile error, a page not found, a closed connection or a
    timeout."""


@dataclass
class PageRun:
    """One page asked of a new session: seconds from opening the connection to the script-finished message."""

    seconds: float = 0.0
    elements: int = 0
    charts: int = 0
    reruns: int = 0                       # runs the server ended early to rerun (a fresh server's first page)
    pages: list[tuple[str, str]] = field(default_factory=list)   # from the last navigation message
    exception: str | None = None


def _rerun_message(page_name: str, query_string: str) -> bytes:
    from streamlit.proto.BackMsg_pb2 import BackMsg

    message = BackMsg()
    message.rerun_script.page_name = page_name
    message.rerun_script.query_string = query_string
    message.rerun_script.context_info.timezone = "Europe/London"
    message.rerun_script.context_info.locale = "en-GB"
    return message.SerializeToString()


def _read(run: PageRun, data: bytes) -> int | None:
    """Fold one ForwardMsg into run; return the script-finished status when this message is one."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    message = ForwardMsg()
    message.ParseFromString(data)
    kind = message.WhichOneof("type")
    if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
        element = message.delta.new_element.WhichOneof("type")
        run.elements += 1
        run.charts += element == "plotly_chart"
        if element == "exception" and run.exception is None:
            exception = message.delta.new_element.exception
            # with showErrorDetails = "none" the type is empty and the message is Streamlit's redacted notice
            run.exception = (f"{exception.type}: {exception.message}" if exception.type else exception.message)[:300]
        elif element == "alert" and run.exception is None:
            body = message.delta.new_element.alert.body
            if ERROR_NOTICE_MARK in body:  # the app's own error notice (access.errors.run_safely)
                run.exception = body[:300]
    elif kind == "navigation":
        run.pages = [(page.url_pathname, page.page_name) for page in message.navigation.app_pages]
    elif kind == "page_not_found":
        raise PageRunError(f"page not found: {message.page_not_found.page_name!r}")
    elif kind == "script_finished":
        return message.script_finished
    return None


async def _converse(url: str, page_name: str, query_string: str, run: PageRun) -> None:
    import websockets

    # no keepalive pings: browsers send none, and a server busy running pages may answer one late, which
    # would make the client drop a connection the server is still serving (measured: 1011 ping timeouts)
    async with websockets.connect(url, subprotocols=["streamlit"], max_size=None, open_timeout=None,
                                  ping_interval=None) as socket:
        await socket.send(_rerun_message(page_name, query_string))
        while True:
            try:
                data = await socket.recv()
            except websockets.ConnectionClosed as exc:
                raise PageRunError(f"the server closed the connection ({exc})") from None
            status = _read(run, data)
            if status == FINISHED_EARLY_FOR_RERUN:
                run.reruns += 1
                run.elements = run.charts = 0
                run.exception = None
            elif status == FINISHED_WITH_COMPILE_ERROR:
                raise PageRunError("the script did not compile")
            elif status is not None:
                return


async def run_page(base_url: str, page_name: str, query_string: str = "", timeout: float = 60.0) -> PageRun:
    """Ask a new session for the page at URL path `page_name` ('' = the default page) with `query_string`
    (no leading '?'); return when the server says the script run finished. Raises PageRunError on an
    exception element, a compile error, page not found, a closed connection or no answer within timeout s."""
    url = base_url.replace("http://", "ws://").replace("https://", "wss://").rstrip("/") + "/_stcore/stream"
    run = PageRun()
    started = time.monotonic()
    try:
        await asyncio.wait_for(_converse(url, page_name, query_string, run), timeout)
    except asyncio.TimeoutError:
        raise PageRunError(f"no script-finished message within {timeout:g} s") from None
    except OSError as exc:
        raise PageRunError(f"cannot connect: {exc}") from None
    run.seconds = time.monotonic() - started
    if run.exception is not None:
        raise PageRunError(f"exception on the page: {run.exception}")
    if run.elements == 0:
        raise PageRunError("the page showed nothing")
    return run


def discover_pages(base_url: str, timeout: float = 120.0) -> list[tuple[str, str]]:
    """The app's pages [(url path, title)] from the navigation message of one run of the default page (which
    therefore warms the shared caches). An exception on the page does not stop the discovery."""
    run = PageRun()
    url = base_url.replace("http://", "ws://").rstrip("/") + "/_stcore/stream"
    try:
        asyncio.run(asyncio.wait_for(_converse(url, "", "", run), timeout))
    except asyncio.TimeoutError:
        raise PageRunError(f"no script-finished message within {timeout:g} s") from None
    if not run.pages:
        raise PageRunError("the app sent no navigation (st.navigation) message")
    return run.pages
