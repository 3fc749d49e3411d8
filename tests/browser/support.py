"""Reusable browser-test support: start `streamlit run app.py` on a free port against a given warehouse,
launch Debian's Chromium through Playwright, wait for a Streamlit page to finish rendering, and save
full-page screenshots under test-artifacts/.

Used by tests/browser/conftest.py (fixtures) and by every browser test module.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("CRIME_MONITOR_TEST_ARTIFACTS", PROJECT_ROOT / "test-artifacts"))
CHROMIUM = os.environ.get("CRIME_MONITOR_CHROMIUM") or os.environ.get("BROWSER_PATH") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-dev-shm-usage",
]
VIEWPORT = {"width": 1440, "height": 1000}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(db: Path, timeout: float = 90.0, extra_env: dict | None = None) -> Iterator[str]:
    """Run `streamlit run app.py` on a free port with CRIME_MONITOR_DB=db; yield its base URL once
    /_stcore/health answers; stop the server (its whole process group) afterwards."""
    port = free_port()
    env = {**os.environ, "CRIME_MONITOR_DB": str(db), **(extra_env or {})}
    log_path = ARTIFACTS / f"streamlit-{port}.log"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {process.returncode}; see {log_path}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not become healthy within {timeout:.0f}s; see {log_path}")
            time.sleep(0.3)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def launch_browser(playwright):
    """Debian's Chromium through Playwright (`playwright install` is not available here)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def wait_for_app(page, timeout: float = 420.0, settle: float = 0.8) -> None:
    """Wait until Streamlit has finished the current script run: stApp's data-test-script-state is no
    longer 'initial' or 'running', nothing is stale or a skeleton, and the number of rendered elements and
    Plotly charts has been stable for `settle` seconds."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    stable_since, last_count = None, -1
    while time.monotonic() < deadline:
        state = page.evaluate(
            """() => {
                const app = document.querySelector('[data-testid="stApp"]');
                return {
                    script: app ? app.getAttribute('data-test-script-state') : null,
                    skeletons: document.querySelectorAll('[data-testid="stSkeleton"]').length,
                    elements: document.querySelectorAll('[data-testid="stElementContainer"]').length,
                    plots: document.querySelectorAll('.js-plotly-plot').length,
                    stale: document.querySelectorAll('[data-stale="true"]').length,
                };
            }"""
        )
        busy = (state["script"] in (None, "initial", "running", "rerunRequested") or state["skeletons"]
                or state["stale"] or state["elements"] == 0)
        count = state["elements"] * 1000 + state["plots"]
        if not busy and count == last_count:
            if stable_since is None:
                stable_since = time.monotonic()
            elif time.monotonic() - stable_since >= settle:
                return
        else:
            stable_since = None
        last_count = count
        time.sleep(0.25)
    raise TimeoutError(f"the Streamlit page did not settle within {timeout:.0f}s")


def full_page_screenshot(page, name: str) -> Path:
    """Save a screenshot of the whole page (Streamlit scrolls inside its main container, so the viewport
    is grown to the content's height first) as test-artifacts/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate(
        """() => {
            const main = document.querySelector('[data-testid="stMain"]') || document.body;
            const side = document.querySelector('[data-testid="stSidebarContent"]');
            return Math.max(main.scrollHeight, side ? side.scrollHeight : 0, window.innerHeight);
        }"""
    )
    size = page.viewport_size or VIEWPORT  # keep the page's width (a phone stays a phone)
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 40, 16000)})
    time.sleep(0.6)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path


def page_problems(page) -> list[str]:
    """Visible signs of a broken page: exceptions/tracebacks, 'None'/'nan' table cells, error boxes."""
    return page.evaluate(
        """() => {
            const problems = [];
            document.querySelectorAll('[data-testid="stException"]').forEach(e => problems.push('exception: ' + e.innerText.slice(0, 300)));
            const text = document.querySelector('[data-testid="stMain"]')?.innerText || '';
            if (text.includes('Traceback (most recent call last)')) problems.push('traceback in page text');
            return problems;
        }"""
    )
