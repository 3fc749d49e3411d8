"""Load test: N concurrent browser sessions against one Streamlit server on 127.0.0.1, for a bounded time.

    python -m bench.loadtest --sessions 20 --seconds 30 --db PATH [--load SOURCE ...] [--json FILE]

Starts `streamlit run app.py` on a free port with CRIME_MONITOR_DB=PATH (or uses --url), opens one
Chromium (Debian's /usr/bin/chromium through Playwright) with one browser context per session, and has
every session load the views in turn (each with filters in the URL) until the time is up (one visit per
view warms the caches first unless --no-warmup; those visits are not counted). A request is
one page load: from navigation until Streamlit's script run has finished and the page shows elements.
An error is a request that timed out, failed to load, or rendered an exception. `--load SOURCE...` runs
`python -m etl load SOURCE... --db PATH` a third of the way in, so the figures include requests served
while a load runs and after its swap.

Prints: sessions, requests, errors (0 expected), p50/p95/max latency in ms; exit status 1 on any error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CRIME_MONITOR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-dev-shm-usage"]
# filter values a session cycles through (the views come from ui.available_views())
FILTERS = [{}, {"district": "Basildon"}, {"crime_type": "Burglary"}, {"district": ["Colchester", "Harlow"]},
           {"compare": "yoy"}]
DONE_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
    if (document.querySelector('[data-testid="stException"]')) return true;
    return document.querySelectorAll('[data-testid="stElementContainer"]').length > 0
        && !document.querySelector('[data-stale="true"]');
}"""


@dataclass
class Results:
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    spans: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of each good request, s
    load_window: tuple[float, float] | None = None  # (start, end) of the load, s on the same clock
    clock_start: float = 0.0
    warmup_ms: list[float] = field(default_factory=list)

    @property
    def during_load(self) -> int:
        """Good requests whose time overlapped the load (served while it ran or across its swap)."""
        if self.load_window is None:
            return 0
        began, ended = self.load_window
        return sum(1 for start, end in self.spans if start <= ended and end >= began)

    def summary(self, sessions: int, seconds: float) -> dict:
        ordered = sorted(self.latencies_ms)

        def pct(p: float) -> float | None:
            if not ordered:
                return None
            return round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))], 1)

        return {
            "sessions": sessions, "seconds": seconds, "requests": len(ordered) + len(self.errors),
            "errors": len(self.errors), "p50_ms": pct(50), "p95_ms": pct(95),
            "max_ms": round(ordered[-1], 1) if ordered else None,
            "mean_ms": round(statistics.fmean(ordered), 1) if ordered else None,
            "requests_during_load": self.during_load, "error_samples": self.errors[:5],
        }


def view_paths() -> list[str]:
    """URL paths of the dashboard's views that exist ('' is the default Overview)."""
    sys.path.insert(0, str(PROJECT_ROOT))
    import ui

    return ["" if v.url_path == "overview" else v.url_path for v in ui.available_views()]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(db: Path, timeout: float = 90.0):
    """`streamlit run app.py` on 127.0.0.1 and a free port; yields the base URL once healthy."""
    port = _free_port()
    env = {**os.environ, "CRIME_MONITOR_DB": str(db)}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"streamlit exited with status {process.returncode}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not answer /_stcore/health within {timeout:.0f} s")
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


async def _session(page, base_url: str, number: int, clock: dict, results: Results,
                   request_timeout: float) -> None:
    """One browser session loading views in turn until the deadline (at least one request)."""
    rng = random.Random(number)
    paths = view_paths()
    views = paths[number % len(paths):] + paths[: number % len(paths)]
    step = 0
    while step == 0 or time.monotonic() < clock["deadline"]:
        view = views[step % len(views)]
        query = urlencode(rng.choice(FILTERS), doseq=True)
        url = f"{base_url}/{view}" + (f"?{query}" if query else "")
        step += 1
        await _visit(page, url, results, request_timeout)


async def _visit(page, url: str, results: Results, request_timeout: float) -> None:
    """One request: load url and wait for the script run to finish; record its latency or its error."""
    started = time.monotonic()
    try:
        await page.goto(url, wait_until="domcontentloaded", timeout=request_timeout * 1000)
        await page.wait_for_function(DONE_JS, timeout=request_timeout * 1000, polling=100)
        exception = await page.query_selector('[data-testid="stException"]')
        if exception is not None:
            text = (await exception.inner_text())[:200]
            results.errors.append(f"{url}: exception: {text}")
            return
    except Exception as exc:  # a timeout or a failed navigation is an error of this request
        results.errors.append(f"{url}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        return
    finished = time.monotonic()
    results.latencies_ms.append((finished - started) * 1000)
    results.spans.append((started, finished))


async def _drive(base_url: str, sessions: int, seconds: float, request_timeout: float, results: Results,
                 load_cmd: list[str] | None, warmup: bool = True) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        load_process: list[subprocess.Popen] = []
        start = time.monotonic()

        async def run_load() -> None:
            await asyncio.sleep(seconds / 3)
            load_process.append(subprocess.Popen(load_cmd, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.PIPE, text=True))
            began = time.monotonic()
            while load_process[0].poll() is None:
                await asyncio.sleep(0.1)
            if load_process[0].returncode != 0:
                results.errors.append(f"load failed: {load_process[0].stderr.read()[:300]}")
            results.load_window = (began, time.monotonic())
            results.clock_start = start

        try:
            # open every session's browser context first; the clock starts when all are ready
            contexts = [await browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(sessions)]
            pages = [await context.new_page() for context in contexts]
            if warmup:  # one visit per view first, so the figures are steady-state, not the first-hit stampede
                warm = Results()
                for view in view_paths():
                    await _visit(pages[0], f"{base_url}/{view}", warm, request_timeout)
                results.errors.extend(f"warm-up: {e}" for e in warm.errors)
                results.warmup_ms = [round(v, 1) for v in warm.latencies_ms]
            start = time.monotonic()
            clock = {"deadline": start + seconds}
            tasks = [_session(pages[n], base_url, n, clock, results, request_timeout)
                     for n in range(sessions)]
            if load_cmd:
                tasks.append(run_load())
            await asyncio.gather(*tasks)
        finally:
            if load_process and load_process[0].poll() is None:
                load_process[0].wait(timeout=300)
            await browser.close()


def run_loadtest(db: Path | None, sessions: int = 20, seconds: float = 30.0, url: str | None = None,
                 request_timeout: float = 60.0, load_sources: list[str] | None = None, warmup: bool = True) -> dict:
    """Run the load test and return its summary (see the module docstring)."""
    results = Results()
    load_cmd = None
    if load_sources:
        if db is None:
            raise ValueError("--load needs --db (the warehouse the server reads)")
        load_cmd = [sys.executable, "-m", "etl", "load", *load_sources, "--db", str(db), "--no-baselines"]
    with contextlib.ExitStack() as stack:
        base_url = url or stack.enter_context(streamlit_server(db))
        asyncio.run(_drive(base_url, sessions, seconds, request_timeout, results, load_cmd, warmup))
    summary = results.summary(sessions, seconds)
    summary["warmup_ms"] = results.warmup_ms
    if results.load_window:
        summary["load_window_s"] = [round(t - results.clock_start, 1) for t in results.load_window]
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadtest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20, help="concurrent browser sessions (default 20)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to drive them (default 30)")
    parser.add_argument("--db", help="warehouse for the server this script starts ($CRIME_MONITOR_DB otherwise)")
    parser.add_argument("--url", help="use a running server at this URL instead of starting one")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a request counts as an error")
    parser.add_argument("--load", nargs="+", metavar="SOURCE", help="run `python -m etl load SOURCE...` during the test")
    parser.add_argument("--no-warmup", action="store_true",
                        help="start the clock on a cold server (by default each view is visited once first)")
    parser.add_argument("--json", help="also write the summary as JSON to this file")
    args = parser.parse_args(argv)
    db = Path(args.db or os.environ.get("CRIME_MONITOR_DB", PROJECT_ROOT / "data" / "warehouse.duckdb")).resolve()
    if not args.url and not db.exists():
        parser.error(f"no warehouse at {db}: pass --db or build one with `python -m etl demo`")
    summary = run_loadtest(db, args.sessions, args.seconds, args.url, args.timeout, args.load, not args.no_warmup)
    print(f"sessions: {summary['sessions']}")
    print(f"seconds: {summary['seconds']:g}")
    print(f"requests: {summary['requests']}")
    print(f"errors: {summary['errors']}")
    print(f"p50 latency: {summary['p50_ms']} ms")
    print(f"p95 latency: {summary['p95_ms']} ms")
    print(f"max latency: {summary['max_ms']} ms")
    if summary["warmup_ms"]:
        print(f"warm-up (one visit per view, not counted): {summary['warmup_ms']} ms")
    if "load_window_s" in summary:
        print(f"load ran: {summary['load_window_s'][0]}-{summary['load_window_s'][1]} s; "
              f"requests served while it ran or across its swap: {summary['requests_during_load']}")
    for sample in summary["error_samples"]:
        print(f"  error: {sample}")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
