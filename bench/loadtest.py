"""Load test: N concurrent sessions against one Streamlit server, timed at the server's end of the wire.

    python -m bench.loadtest --sessions 20 --seconds 30 [--db PATH] [--url URL] [--load SOURCE ...] [--json FILE]
    (also `python -m bench loadtest ...`)

Starts `streamlit run app.py` on a free port with CRIME_MONITOR_DB=PATH, a new process (or uses --url).
Each session is a lightweight client speaking Streamlit's own websocket protocol (bench/streamlit_client.py),
not a browser: 20 Chromium renderers on a 2-core machine would measure the renderers, not the server. A
session asks for the views in turn, each with filters in its query string, back to back, until the time is up;
with --think T a session reads each page for a random time (exponential, mean T s) before the next, and the
sessions start spread over the first T s, as people using the dashboard at the same time do. A request is one page: a new Streamlit session (as when a user opens a link),
timed from opening its connection until the server's "script finished" message, i.e. the server's time to run
the page and send it. Drawing it in a browser is measured by `python -m bench pages`. Requests for a view and
filters already asked for on this server are also reported apart ("repeats"): the rest are first hits. An error is a request
that raised an exception on the page, timed out (--timeout), showed nothing, or lost its connection.

The views come from the app's navigation message. One visit per view warms the caches first unless
--no-warmup (not counted: the figures are steady state, not the first-hit stampede; `bench pages` measures
first visits). `--load SOURCE...` runs `python -m etl load SOURCE... --db PATH` a third of the way in, so the
figures include requests served while a load runs and after its swap.

Prints sessions, requests, errors, p50/p95/max latency, per view, the server's and this client's CPU time, and
each figure against its target (20 concurrent sessions, p95 server time per page <= 3 s, 0 errors); exit
status 1 on any error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from bench.browser import PROJECT_ROOT, streamlit_process
from bench.report import load_average, machine_line, percentile, verdict
from bench.streamlit_client import PageRunError, discover_pages, run_page

TARGET_SESSIONS = 20
TARGET_P95_MS = 3000.0
WARMUP_TIMEOUT_S = 300.0  # a warm-up visit is a first visit (model fits on today's code): not held to --timeout


@dataclass
class Results:
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    spans: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of each good request, s
    by_view: dict[str, list[float]] = field(default_factory=dict)  # view title -> latencies, ms
    repeat_ms: list[float] = field(default_factory=list)  # good requests for a page already asked for
    asked: set[tuple[str, str]] = field(default_factory=set)  # (view, query) asked for on this server so far
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
        """Counts and nearest-rank percentiles (ms, one decimal) of the good requests."""
        ordered = sorted(self.latencies_ms)

        def pct(p: float) -> float | None:
            return _round(percentile(ordered, p))

        return {
            "sessions": sessions, "seconds": seconds, "requests": len(ordered) + len(self.errors),
            "errors": len(self.errors), "p50_ms": pct(50), "p95_ms": pct(95),
            "max_ms": round(ordered[-1], 1) if ordered else None,
            "mean_ms": round(statistics.fmean(ordered), 1) if ordered else None,
            "requests_during_load": self.during_load, "error_samples": self.errors[:5],
            "repeat_requests": len(self.repeat_ms), "repeat_p50_ms": _round(percentile(self.repeat_ms, 50)),
            "repeat_p95_ms": _round(percentile(self.repeat_ms, 95)),
            "by_view": {view: {"n": len(values), "p50_ms": round(percentile(values, 50), 1),
                               "p95_ms": round(percentile(values, 95), 1), "max_ms": round(max(values), 1)}
                        for view, values in self.by_view.items() if values},
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def filter_choices(db: Path | None) -> list[dict]:
    """The filters sessions cycle through: none, one district, one crime type, two districts, another
    comparison preset (districts and crime types read from the warehouse; without it, none and the preset).
    Values are what the filter bar shows, as the app's links hold them (ui/url_state.py): the force's name,
    district and crime-type names, the comparison's label."""
    from etl.sources.common import force_name_for
    from metrics.plan import PRESETS

    presets = [label for key, label in PRESETS.items() if key not in ("latest12", "custom")]
    choices: list[dict] = [{}] + [{"compare": presets[0]}] * bool(presets)
    if db is None or not db.is_file():
        return choices
    from bench.pages import slice_districts
    from metrics import series
    from metrics.db import connect
    from metrics.filters import Filters

    force_id, districts = slice_districts(db)
    if force_id is None:
        return choices
    con = connect(db)
    try:
        crime_types = series.categories(con, "crimes", Filters(force_id=force_id))
    finally:
        con.close()
    force = {"force": force_name_for(force_id)}
    if districts:
        choices.append({**force, "district": districts[0]})
        choices.append({**force, "district": districts[1:3] or districts[:1]})
    if crime_types:
        choices.append({**force, "crime_type": "Burglary" if "Burglary" in crime_types else crime_types[0]})
    return choices


async def _request(base_url: str, path: str, title: str, query: str, results: Results, timeout: float,
                   record: bool = True) -> None:
    """One page as a new session; record its latency (ms) or its error."""
    repeat = (path, query) in results.asked
    results.asked.add((path, query))
    started = time.monotonic()
    try:
        await run_page(base_url, path, query, timeout)
    except PageRunError as exc:
        results.errors.append(f"/{path}?{query}: {exc}")
        return
    finished = time.monotonic()
    if record:
        results.latencies_ms.append((finished - started) * 1000)
        results.by_view.setdefault(title, []).append((finished - started) * 1000)
        if repeat:
            results.repeat_ms.append((finished - started) * 1000)
        results.spans.append((started, finished))
    else:
        results.warmup_ms.append(round((finished - started) * 1000, 1))


async def _session(base_url: str, number: int, views: list[tuple[str, str]], filters: list[dict], clock: dict,
                   results: Results, timeout: float, think: float) -> None:
    """One user: views in turn (starting at a different one per session) until the deadline (at least one)."""
    rng = random.Random(number)
    order = views[number % len(views):] + views[: number % len(views)]
    step = 0
    if think:  # people do not all click at the same moment: the sessions start spread over the first think time
        await asyncio.sleep(rng.uniform(0, think))
    while step == 0 or time.monotonic() < clock["deadline"]:
        path, title = order[step % len(order)]
        step += 1
        await _request(base_url, path, title, urlencode(rng.choice(filters), doseq=True), results, timeout)
        if think:  # reading the page: exponentially distributed, mean `think` seconds
            await asyncio.sleep(rng.expovariate(1 / think))


async def _run_load(load_cmd: list[str], delay: float, results: Results) -> None:
    await asyncio.sleep(delay)
    process = subprocess.Popen(load_cmd, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    began = time.monotonic()
    while process.poll() is None:
        await asyncio.sleep(0.1)
    if process.returncode != 0:
        results.errors.append(f"load failed: {process.stderr.read()[:300]}")
    results.load_window = (began, time.monotonic())


async def _warm_up(base_url: str, views: list[tuple[str, str]], results: Results, timeout: float) -> None:
    """One visit per view, one after the other (not counted), so the timed figures are steady state."""
    for path, title in views:
        await _request(base_url, path, title, "", results, timeout, record=False)
    results.errors[:] = [f"warm-up: {e}" for e in results.errors]


async def _drive(base_url: str, views: list[tuple[str, str]], filters: list[dict], args: argparse.Namespace,
                 results: Results, load_cmd: list[str] | None) -> None:
    start = time.monotonic()
    results.clock_start = start
    clock = {"deadline": start + args.seconds}
    tasks = [_session(base_url, n, views, filters, clock, results, args.timeout, args.think)
             for n in range(args.sessions)]
    if load_cmd:
        tasks.append(_run_load(load_cmd, args.seconds / 3, results))
    await asyncio.gather(*tasks)


def choose_pages(pages: list[tuple[str, str]], wanted: list[str] | None) -> list[tuple[str, str]]:
    """The (path, title) pages named by --views (URL path or title, any case; 'overview' = the default page)."""
    if not wanted:
        return pages
    keys = {name.strip().strip("/").lower() for name in wanted}
    chosen = [(path, title) for path, title in pages
              if path.lower() in keys or title.lower() in keys or (path == "" and "overview" in keys)]
    if len(chosen) < len(keys):
        raise SystemExit(f"loadtest: not every view of {sorted(keys)} is in the app: "
                         + ", ".join(path or "(default page)" for path, _ in pages))
    return chosen


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux /proc), None when unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def run_loadtest(db: Path | None, args: argparse.Namespace) -> dict:
    """Run the load test and return its summary (see the module docstring)."""
    results = Results()
    load_cmd = None
    if args.load:
        if db is None:
            raise ValueError("--load needs --db (the warehouse the server reads)")
        load_cmd = [sys.executable, "-m", "etl", "load", *args.load, "--db", str(db), "--no-baselines"]
    filters = [{}] if args.no_filters else filter_choices(db)
    with contextlib.ExitStack() as stack:
        server_pid = None
        if args.url:
            base_url = args.url.rstrip("/")
        else:
            base_url, process = stack.enter_context(streamlit_process(db))
            server_pid = process.pid
        views = choose_pages(discover_pages(base_url, max(args.timeout, WARMUP_TIMEOUT_S)), args.views)
        if not args.no_warmup:
            asyncio.run(_warm_up(base_url, views, results, max(args.timeout, WARMUP_TIMEOUT_S)))
        cpu_before = (_cpu_seconds(server_pid) if server_pid else None, resource.getrusage(resource.RUSAGE_SELF))
        wall_before = time.monotonic()
        asyncio.run(_drive(base_url, views, filters, args, results, load_cmd))
        wall = time.monotonic() - wall_before
        server_cpu = _cpu_seconds(server_pid) if server_pid else None
    client = resource.getrusage(resource.RUSAGE_SELF)
    summary = results.summary(args.sessions, args.seconds)
    summary.update(views=[title for _, title in views], filters=filters, warmup_ms=results.warmup_ms,
                   url=base_url, wall_s=round(wall, 1),
                   client_cpu_s=round(client.ru_utime + client.ru_stime - cpu_before[1].ru_utime
                                      - cpu_before[1].ru_stime, 1),
                   server_cpu_s=None if server_cpu is None or cpu_before[0] is None
                   else round(server_cpu - cpu_before[0], 1))
    if results.load_window:
        summary["load_window_s"] = [round(t - results.clock_start, 1) for t in results.load_window]
    return summary


def report_lines(summary: dict) -> list[str]:
    """Every figure, then each against its target (the lines tests and people read)."""
    lines = [f"views: {len(summary['views'])} (from the app's navigation); filters cycled: {summary['filters']}"]
    if summary["warmup_ms"]:
        lines.append(f"warm-up (one visit per view, not counted): {summary['warmup_ms']} ms")
    lines += [f"sessions: {summary['sessions']}", f"seconds: {summary['seconds']:g}",
              f"requests: {summary['requests']}", f"errors: {summary['errors']}",
              f"p50 latency: {summary['p50_ms']} ms", f"p95 latency: {summary['p95_ms']} ms",
              f"max latency: {summary['max_ms']} ms",
              f"p50/p95 latency of repeats (a view and filters already asked for on this server): "
              f"{summary['repeat_p50_ms']}/{summary['repeat_p95_ms']} ms over {summary['repeat_requests']} requests",
              f"{'per view':<40}{'requests':>9}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}"]
    for view, figures in summary["by_view"].items():
        lines.append(f"  {view[:38]:<38}{figures['n']:>9}{figures['p50_ms']:>10.1f}{figures['p95_ms']:>10.1f}"
                     f"{figures['max_ms']:>10.1f}")
    server = summary["server_cpu_s"]
    busy = f" = {server / summary['wall_s']:.2f} cores busy" if server is not None and summary["wall_s"] else ""
    lines.append(f"CPU in the timed {summary['wall_s']} s: server {server if server is not None else 'not measured (--url)'} s"
                 f"{busy}; this client (all sessions) {summary['client_cpu_s']} s")
    if "load_window_s" in summary:
        lines.append(f"load ran: {summary['load_window_s'][0]}-{summary['load_window_s'][1]} s; "
                     f"requests served while it ran or across its swap: {summary['requests_during_load']}")
    lines.extend(f"  error: {sample}" for sample in summary["error_samples"])
    p95 = summary["p95_ms"]
    lines += ["against the targets:",
              f"  concurrent sessions {summary['sessions']} [target {TARGET_SESSIONS}]: "
              f"{'met' if summary['sessions'] >= TARGET_SESSIONS else 'MISSED'}",
              f"  p95 server time per page {p95} ms [target <= {TARGET_P95_MS:g} ms]: {verdict(p95, TARGET_P95_MS)}",
              f"  errors {summary['errors']} [target 0]: {'met' if summary['errors'] == 0 else 'MISSED'}"]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadtest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20, help="concurrent sessions (default 20)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to drive them (default 30)")
    parser.add_argument("--db", help="warehouse for the server this script starts ($CRIME_MONITOR_DB otherwise)")
    parser.add_argument("--url", help="use a running server at this URL instead of starting one")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a request counts as an error (default 60)")
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean seconds a session reads a page before asking for the next (exponentially "
                             "distributed; sessions start spread over the first think time); default 0: back to back")
    parser.add_argument("--views", nargs="+", metavar="VIEW", help="only these views (URL path or title)")
    parser.add_argument("--no-filters", action="store_true", help="every request with default filters")
    parser.add_argument("--load", nargs="+", metavar="SOURCE", help="run `python -m etl load SOURCE...` during the test")
    parser.add_argument("--no-warmup", action="store_true",
                        help="start the clock on a cold server (by default each view is visited once first)")
    parser.add_argument("--json", help="also write the summary as JSON to this file")
    args = parser.parse_args(argv)
    db = Path(args.db or os.environ.get("CRIME_MONITOR_DB", PROJECT_ROOT / "data" / "warehouse.duckdb")).resolve()
    if not args.url and not db.is_file():
        parser.error(f"no warehouse at {db}: pass --db or build one with `python -m etl demo`")
    print(f"Crime Plan Monitor load test: {args.sessions} concurrent sessions for {args.seconds:g} s against "
          f"{args.url or 'a server this command starts'} (warehouse {db if not args.url else 'as served'})")
    print("client: Streamlit's websocket protocol, no browser; a request = a new session asking for one view "
          "with filters, timed until the server's script-finished message")
    print(f"think time: {'mean %g s between pages (exponential), sessions starting spread over it' % args.think if args.think else 'none: every session asks for its next page as soon as one is served'}")
    print(machine_line(), flush=True)
    try:
        summary = run_loadtest(db if db.is_file() else None, args)
    except PageRunError as exc:
        print(f"loadtest: the app could not be asked for its pages: {exc}", file=sys.stderr)
        return 1
    for line in report_lines(summary):
        print(line)
    print(f"load average at end {load_average()}")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2, default=str))
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
