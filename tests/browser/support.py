"""Reusable browser-test support: start `streamlit run app.py` on a free port against a given warehouse,
launch Debian's Chromium through Playwright, wait for a Streamlit page to finish rendering, and save
full-page screenshots under test-artifacts/.

Used by tests/browser/conftest.py (fixtures) and by every browser test module.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

# the server command, the browser and its flags are shared with the bench tools (bench/browser.py)
from bench.browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, free_port, launch_browser  # noqa: F401 (re-exported)
from bench.browser import stop_process_group
from bench.browser import streamlit_server as _streamlit_server

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("CRIME_MONITOR_TEST_ARTIFACTS", PROJECT_ROOT / "test-artifacts"))


@contextlib.contextmanager
def served_process(command: list[str], health_url: str, name: str, log_path: Path, timeout: float = 90.0, *,
                   env: dict | None = None, cwd: Path = PROJECT_ROOT) -> Iterator[None]:
    """Run a server command (its own process group, output to log_path); return once `health_url` answers 200;
    stop the whole group afterwards (bench.browser.stop_process_group)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}; see {log_path}")
                with contextlib.suppress(OSError):
                    with urllib.request.urlopen(health_url, timeout=2) as response:
                        if response.status == 200:
                            break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not become healthy within {timeout:.0f}s; see {log_path}")
                time.sleep(0.3)
            yield
        finally:
            stop_process_group(process)


@contextlib.contextmanager
def streamlit_server(db: Path, timeout: float = 90.0, extra_env: dict | None = None, *, script: str = "app.py",
                     extra_args: tuple[str, ...] = ()) -> Iterator[str]:
    """Run `streamlit run <script>` (default app.py; `extra_args` after the usual flags) on a free port with
    CRIME_MONITOR_DB=db (its log in test-artifacts/streamlit-<port>.log); yield its base URL once
    /_stcore/health answers; stop it afterwards."""
    with _streamlit_server(db, timeout, extra_env, log_dir=ARTIFACTS, script=script, extra_args=extra_args) as url:
        yield url


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
            const bad = new Set(['None', 'nan', 'NaN', '<NA>', 'NaT', 'null', 'undefined']);
            document.querySelectorAll('[data-testid="cpmTable"] td').forEach(td => {
                if (bad.has(td.innerText.trim())) problems.push('table cell: ' + td.innerText.trim());
            });
            return problems;
        }"""
    )
