"""Start the real app and a headless Chromium: shared by the bench tools (`bench.pages`, `bench.loadtest`)
and the browser tests (`tests/browser/support.py`), so the server command and the browser flags live in one
place.

    with streamlit_server(db) as url:          # `streamlit run app.py` on 127.0.0.1, a free port
        ...
    browser = launch_browser(playwright)       # Debian's /usr/bin/chromium through Playwright (sync or async)
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CRIME_MONITOR_CHROMIUM") or os.environ.get("BROWSER_PATH") or "/usr/bin/chromium"
# --disable-dev-shm-usage: containers often have a 64 MB /dev/shm, too small for Chromium's renderers
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-dev-shm-usage",
]
VIEWPORT = {"width": 1440, "height": 1000}
STREAMLIT_FLAGS = ["--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_browser(playwright):
    """Debian's Chromium, headless, through Playwright (`playwright install` is not available here).
    Works with the sync and the async API (await the result with the async one)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def wait_healthy(url: str, process: subprocess.Popen, timeout: float, log_hint: str = "",
                 interval: float = 0.1) -> None:
    """Poll `url`/_stcore/health until it answers 200; fail if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}{log_hint}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not answer /_stcore/health within {timeout:.0f} s{log_hint}")
        time.sleep(interval)


def stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM the process group `process` leads (started with start_new_session=True); SIGKILL after 10 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def streamlit_server(db: Path, timeout: float = 90.0, extra_env: dict | None = None, log_dir: Path | None = None,
                     port: int | None = None, *, script: str = "app.py", extra_args: tuple[str, ...] = ()
                     ) -> Iterator[str]:
    """Run `streamlit run app.py` on 127.0.0.1 (`port`, else a free one) with CRIME_MONITOR_DB=db; yield its base
    URL once /_stcore/health answers; stop the server (its whole process group) afterwards. The server's output
    goes to `log_dir`/streamlit-<port>.log when log_dir is given, else nowhere. (`streamlit_process` also
    yields the server's Popen, for its pid.) `script` and `extra_args` (after the usual flags) change what runs."""
    with streamlit_process(db, timeout, extra_env, log_dir, port, script=script, extra_args=extra_args) as (url, _):
        yield url


@contextlib.contextmanager
def streamlit_process(db: Path, timeout: float = 90.0, extra_env: dict | None = None, log_dir: Path | None = None,
                      port: int | None = None, *, script: str = "app.py", extra_args: tuple[str, ...] = ()
                      ) -> Iterator[tuple[str, subprocess.Popen]]:
    """As streamlit_server, yielding (base URL, the server's Popen)."""
    port = port or free_port()
    env = {**os.environ, "CRIME_MONITOR_DB": str(db), **(extra_env or {})}
    log_path = None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"streamlit-{port}.log"
    with open(log_path, "w") if log_path else open(os.devnull, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port), *STREAMLIT_FLAGS,
             *extra_args],
            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, process, timeout, f"; see {log_path}" if log_path else "")
            yield url, process
        finally:
            stop_process_group(process)
