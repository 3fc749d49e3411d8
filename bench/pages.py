"""`python -m bench pages`: the page budget, measured in headless Chromium against the real app.

    python -m bench pages [--db DB] [--runs N] [--repeats N] [--views covid data ...] [--mode app|tab] [--no-run-sh]

For every view (discovered from the running app's sidebar links) and every run, a FRESH server
(`streamlit run app.py`, new process, empty Streamlit caches) serves one browser tab, used as an analyst uses
the dashboard (--mode app, the default): the tab opens on the landing view (the Overview; for the Overview, the
next view) — kind "open", printed but not a target — and then, each timed from the click that asks for it:
  first          the view's sidebar link: the first time this server shows the view
  repeat         back to the landing view (not timed) and the view's link again, --repeats times
  slice first    a district picked in the filter bar's Districts list (typed, then its option clicked): a slice
                 nobody opened on this server; the district rotates over the force's districts
  slice repeat   back to the landing view and the view again, the district kept, --repeats times
  tab first      the view's second tab clicked (a view's later sections sit in tabs and only the open tab runs
                 and draws, ui.render), the district kept: held to the first-visit target like the others
--mode tab opens every visit in a new tab instead (a new Streamlit session, the frontend starting again each time;
the slice by URL, ?district=NAME), timed from the navigation's start.
Then `scripts/run.sh` (venv already set up; an existing warehouse) is timed from its start to the first
Overview rendered. Prints p50/p95 per view and kind against the targets (first visit of any view or slice
<= 1.5 s, repeat <= 0.5 s, run.sh <= 10 s) and writes every visit to WORKDIR/results.json.

Time-to-rendered is measured in the page, from the click (or the navigation's start, performance.timeOrigin) to
the first moment, after a script run the click started, of the final stable state in which ALL of these hold:
  - the Streamlit script run has finished: stApp's data-test-script-state is "notRunning" and its
    connection state "CONNECTED" (the state the status widget shows; the widget itself fades out over 200 ms);
  - the main area shows at least one element;
  - every Plotly chart is drawn: each [data-testid=stPlotlyChart] holds a .main-svg;
  - no skeleton (a lazily loaded element still loading), spinner or stale element is left;
and that state then held for --settle seconds (not counted), so a rerun that follows at once is waited for.
A page showing an exception ([data-testid=stException]) or the app's error notice with an error id, a page that never renders (--timeout), the app
showing another page than the one asked for, or a slice the app did not apply are ERRORS, never fast pages;
the exit status is 1 when any visit failed.

The browser's HTTP cache is kept across visits (one browser context, one port for every server), as for a
returning user: Streamlit's static files are immutable and cached; the app's data are not (new process).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from bench.browser import (PROJECT_ROOT, STREAMLIT_FLAGS, VIEWPORT, free_port, launch_browser, stop_process_group,
                           streamlit_process, wait_healthy)
from bench.report import load_average, machine_line, percentile, verdict
from etl.sources.common import force_name_for

TARGET_FIRST_S = 1.5
TARGET_REPEAT_S = 0.5
TARGET_RUN_SH_S = 10.0
KINDS = ("first", "repeat", "slice first", "slice repeat", "tab first")
FIRST_KINDS = ("first", "slice first", "tab first")
DISTRICT_PARAM = "district"
NAVIGATION_TIMEOUT_S = 60.0   # until the page's HTML has arrived (the render has its own --timeout)
DISCOVERY_TIMEOUT_S = 300.0   # the discovery visit may be a fresh server's first (slow) page

# Installed in every document before the app's own scripts; keeps window.__benchRender up to date. Cheap by
# design (it must not slow the page it measures): a DOM mutation only records its time; the state is checked
# every 50 ms after a change and whenever the bench asks, and the moment the page became rendered is the time
# of the last mutation before that check (the DOM it checked is the result of that mutation).
RENDER_PROBE_JS = r"""
(() => {
  const state = {since: null, ranUntil: null, exception: null, last: null, dirty: true};
  window.__benchRender = state;
  let changedAt = performance.now();
  const check = () => {
    if (!state.dirty) return;
    state.dirty = false;
    const at = changedAt;
    const app = document.querySelector('[data-testid="stApp"]');
    const main = document.querySelector('[data-testid="stMain"]');
    const charts = Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'));
    // Streamlit's exception element, or the app's own error notice (access.errors.user_message: an error id)
    const notice = Array.from(document.querySelectorAll('[data-testid="stAlertContentError"] [data-testid="stMarkdownContainer"]'))
      .find(e => e.innerText.includes('The error has been recorded as'));
    const exception = document.querySelector('[data-testid="stException"]') || notice;
    if (exception && state.exception === null) state.exception = exception.innerText.trim().slice(0, 300) || 'exception';
    const last = {
      script: app ? app.getAttribute('data-test-script-state') : null,
      connection: app ? app.getAttribute('data-test-connection-state') : null,
      elements: main ? main.querySelectorAll('[data-testid="stElementContainer"]').length : 0,
      charts: charts.length,
      drawn: charts.filter(c => c.querySelector('.main-svg')).length,
      busy: document.querySelectorAll(
        '[data-testid="stSkeleton"], [data-testid="stSpinner"], [data-stale="true"]').length,
    };
    state.last = last;
    const rendered = last.script === 'notRunning' && last.connection === 'CONNECTED' && last.elements > 0
      && last.drawn === last.charts && last.busy === 0;
    if (!rendered) state.since = null;
    else if (state.since === null) state.since = at;
    if (last.script !== 'notRunning') state.ranUntil = null;
    else if (state.ranUntil === null) state.ranUntil = at;
  };
  state.check = check;
  state.runSeenAt = null;  // the last mutation that showed a script run (started, or ended since the last check)
  new MutationObserver((records) => {
    changedAt = performance.now(); state.dirty = true;
    for (const r of records) {
      if (r.attributeName === 'data-test-script-state'
          && (r.oldValue === 'running' || r.target.getAttribute('data-test-script-state') === 'running')) {
        // a run, however short: not rendered, and an exception shown before it is gone
        state.runSeenAt = changedAt; state.since = null; state.ranUntil = null; state.exception = null;
      }
    }
  }).observe(document, {
    subtree: true, childList: true, attributes: true, attributeOldValue: true,
    attributeFilter: ['data-test-script-state', 'data-test-connection-state', 'data-stale', 'data-testid']});
  setInterval(check, 50);
})();
"""
STATE_JS = """() => {
  const s = window.__benchRender;
  if (s) s.check();  // so the answer reflects the DOM as it is now
  return s ? {since: s.since, ranUntil: s.ranUntil, runSeenAt: s.runSeenAt, exception: s.exception, last: s.last,
              now: performance.now(),
              origin: performance.timeOrigin, path: location.pathname, search: location.search} : null;
}"""
# the link's text is the material icon's ligature name, then the title: keep the last line
NAV_LINKS_JS = """() => Array.from(document.querySelectorAll(
    '[data-testid="stSidebarNav"] a[data-testid="stSidebarNavLink"], a[data-testid="stTopNavLink"]')).map(a => ({
      href: a.href, title: a.innerText.split('\\n').map(t => t.trim()).filter(Boolean).pop() || a.href}))"""


class PageError(Exception):
    """A visit that failed: an exception on the page, no render in time, or the wrong page."""


@dataclass
class Visit:
    """One timed visit (seconds from the navigation's start to rendered) or its error."""

    view: str        # the view's URL path ('' = the default page)
    title: str
    kind: str        # one of KINDS
    run: int
    url: str
    seconds: float | None = None
    script_done_s: float | None = None   # when the script run had finished (the rest is drawing in the browser)
    error: str | None = None


@dataclass(frozen=True)
class View:
    path: str        # URL path below the base URL; '' for the default page
    title: str


def wait_rendered(page, timeout: float, settle: float = 0.5, after: float | None = None) -> dict:
    """Wait until the page is rendered (see the module docstring) and has stayed so for `settle` seconds; with
    `after` (ms after performance.timeOrigin, e.g. the moment of a click), only a rendered state that follows a script
    run seen after that moment counts. Returns the probe's state: `since` (ms after performance.timeOrigin), `origin`
    (epoch ms), `path`, `search`. Raises PageError on an exception element or when the page does not render within
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    state = None
    while True:
        try:
            state = page.evaluate(STATE_JS)
        except Exception as exc:  # the document is being replaced (navigation in progress): ask again
            if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                raise
        if state and state["exception"]:
            raise PageError(f"exception on the page: {state['exception'].splitlines()[0][:200]}")
        ran = after is None or (state and state["runSeenAt"] is not None and state["runSeenAt"] >= after)
        if ran and state and state["since"] is not None and state["now"] - state["since"] >= settle * 1000:
            return state
        if time.monotonic() > deadline:
            raise PageError(f"not rendered within {timeout:g} s (last state: {state and state['last']})")
        time.sleep(0.1)


def check_shown(state: dict, wanted_path: str, district: str | None) -> None:
    """PageError when the rendered page is not the view asked for, or dropped the district slice."""
    if state["path"].strip("/") != wanted_path.strip("/"):
        raise PageError(f"the app showed {state['path']!r} instead of /{wanted_path.strip('/')}")
    if district is not None:
        shown = parse_qs(state["search"].lstrip("?")).get(DISTRICT_PARAM, [])
        if district not in shown:
            raise PageError(f"the app did not apply the district slice {district!r} (URL query now "
                            f"{state['search']!r})")


def timed_visit(context, url: str, timeout: float, settle: float, district: str | None = None) -> tuple[float, float]:
    """Open url in a new tab (a new Streamlit session), wait until rendered and return the seconds from the
    navigation's start to rendered and to the end of the script run. Raises PageError when the app showed
    another page or dropped the district slice."""
    page = context.new_page()
    try:
        page.goto(url, wait_until="commit", timeout=NAVIGATION_TIMEOUT_S * 1000)
        state = wait_rendered(page, timeout, settle)
        check_shown(state, urlsplit(url).path, district)
        return state["since"] / 1000, state["ranUntil"] / 1000
    finally:
        page.close()


NOW_JS = "() => performance.now()"
TABS_SELECTOR = '[data-testid="stMain"] [role="tab"]'  # a view's tabs (ui.render: only the open one is drawn)


def nav_link(page, view: View):
    """The view's link in the app's sidebar navigation."""
    for link in page.evaluate(NAV_LINKS_JS):
        if urlsplit(link["href"]).path.strip("/") == view.path:
            return page.locator(f'[data-testid="stSidebarNav"] a[href="{link["href"]}"]')
    raise PageError(f"no link to /{view.path} in the sidebar navigation")


def timed_action(page, action, args) -> tuple[float, float, dict]:
    """Do `action()` (a click) in the open app and wait for the script run it starts to be rendered: seconds from
    the moment before the click to rendered and to the end of the run, and the probe's state."""
    mark = page.evaluate(NOW_JS)
    action()
    state = wait_rendered(page, args.timeout, args.settle, after=mark)
    return (state["since"] - mark) / 1000, (state["ranUntil"] - mark) / 1000, state


def choose_district(page, district: str, args) -> tuple[float, float, dict]:
    """Pick `district` in the sidebar's Districts filter as a user does (type, click the option), timed from the
    click on the option."""
    box = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').filter(has_text="Districts")
    box.locator("input").click()
    page.keyboard.type(district)
    option = page.get_by_role("option", name=district, exact=True)
    option.wait_for(timeout=NAVIGATION_TIMEOUT_S * 1000)
    timed = timed_action(page, option.click, args)
    page.keyboard.press("Escape")  # close the list
    return timed


def discover_views(context, base_url: str, timeout: float = DISCOVERY_TIMEOUT_S, settle: float = 0.5) -> list[View]:
    """The views, from the running app's sidebar navigation links (the default page has path ''), read once
    the first script run has finished (a fresh server's very first run lists the pages/ files instead).
    An exception on the page does not stop the discovery: the visits will report it."""
    page = context.new_page()
    try:
        page.goto(base_url, wait_until="commit", timeout=NAVIGATION_TIMEOUT_S * 1000)
        deadline, idle_since, links = time.monotonic() + timeout, None, []
        while idle_since is None or time.monotonic() - idle_since < settle:
            with contextlib.suppress(Exception):  # the document may be replaced while we ask
                state = page.evaluate(STATE_JS)
                links = page.evaluate(NAV_LINKS_JS)
                idle = bool(links) and state["last"]["script"] == "notRunning"
                idle_since = (idle_since or time.monotonic()) if idle else None
            if time.monotonic() > deadline:
                raise PageError(f"no navigation links in the sidebar of {base_url} within {timeout:g} s")
            time.sleep(0.1)
    finally:
        page.close()
    return [View(urlsplit(link["href"]).path.strip("/"), link["title"]) for link in links]


def choose_views(views: list[View], wanted: list[str] | None) -> list[View]:
    """The views named by --views (URL path or title, any case; 'overview' or '' for the default page)."""
    if not wanted:
        return views
    chosen = []
    for name in wanted:
        key = name.strip().strip("/").lower()
        match = [v for v in views if key in (v.path.lower(), v.title.lower())
                 or (key in ("", "overview") and v.path == "")]
        if not match:
            raise SystemExit(f"bench pages: no view {name!r}; the app has: "
                             + ", ".join(v.path or "(default page)" for v in views))
        chosen.extend(m for m in match if m not in chosen)
    return chosen


def slice_districts(db: Path) -> tuple[str | None, list[str]]:
    """(force_id, districts) for the slices: the app's usual default force (essex when loaded, else the
    first force with street crimes) and its districts, alphabetical; (None, []) when the warehouse cannot be
    read (its pages will then show the error)."""
    import duckdb

    from metrics import series
    from metrics.db import connect

    con = connect(db)
    try:
        forces = series.forces(con)
        with_crimes = [str(f) for f in forces.loc[forces["crimes"], "force_id"]] if len(forces) else []
        force_id = "essex" if "essex" in with_crimes else (with_crimes[0] if with_crimes else None)
        return force_id, (series.districts(con, "crimes", force_id) if force_id else [])
    except duckdb.Error:
        return None, []
    finally:
        con.close()


def view_url(base_url: str, view: View, query: dict | None = None) -> str:
    return f"{base_url}/{view.path}" + (f"?{urlencode(query)}" if query else "")


def error_text(exc: Exception) -> str:
    """A visit's error in one line: the exception's type and the first line of its message."""
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}" if str(exc) else type(exc).__name__


def record(visits: list[Visit], visit: Visit) -> None:
    """Keep the visit and print its progress line (stderr)."""
    visits.append(visit)
    shown = (f"{visit.seconds:.2f} s (script run done at {visit.script_done_s:.2f} s)" if visit.error is None
             else f"ERROR {visit.error}")
    print(f"  run {visit.run} {visit.title} [{visit.kind}] {shown}", file=sys.stderr, flush=True)


def _visit(context, visits: list[Visit], view: View, kind: str, run: int, url: str, args,
           district: str | None = None) -> None:
    visit = Visit(view.path, view.title, kind, run, url)
    try:
        seconds, script_done = timed_visit(context, url, args.timeout, args.settle, district)
        visit.seconds, visit.script_done_s = round(seconds, 3), round(script_done, 3)
    except Exception as exc:  # every failure of a visit is an error of that visit, never a fast page
        visit.error = error_text(exc)
    record(visits, visit)


def measure_view(context, db: Path, port: int, view: View, run: int, district: str | None, force_id: str | None,
                 args) -> list[Visit]:
    """One fresh server (new process, empty caches) for this view and run: first, repeats, slice, repeats."""
    visits: list[Visit] = []
    with streamlit_process(db, port=port,
                           log_dir=args.workdir / "logs" / f"run{run}-{view.path or 'default'}") as (base_url, _):
        url = view_url(base_url, view)
        _visit(context, visits, view, "first", run, url, args)
        for _ in range(args.repeats):
            _visit(context, visits, view, "repeat", run, url, args)
        if district is not None:
            # the URL holds what the filter bar shows: the force's name ("Essex Police"), see ui/url_state.py
            query = {DISTRICT_PARAM: district}
            if force_id:
                query = {"force": force_name_for(force_id), **query}
            url = view_url(base_url, view, query)
            _visit(context, visits, view, "slice first", run, url, args, district)
            for _ in range(args.repeats):
                _visit(context, visits, view, "slice repeat", run, url, args, district)
    return visits


def measure_view_in_app(context, db: Path, port: int, view: View, landing: View, run: int, district: str | None,
                        args) -> list[Visit]:
    """One fresh server for this view and run, used as an analyst uses the dashboard: a tab opened on `landing`
    (kind "open": the frontend's start and a fresh server's first page), then, timed from the click: the view's
    sidebar link (first), back to `landing` and to the view again (repeat), the district picked in the filter bar
    (slice first), back and to the view again with the district kept (slice repeat)."""
    visits: list[Visit] = []
    with streamlit_process(db, port=port,
                           log_dir=args.workdir / "logs" / f"run{run}-{view.path or 'default'}") as (base_url, _):
        page = context.new_page()

        def step(kind: str, timed, wanted: View = view, slice_: str | None = None) -> None:
            visit = Visit(view.path, view.title, kind, run, view_url(base_url, wanted))
            try:
                seconds, script_done, state = timed()
                check_shown(state, wanted.path, slice_)
                visit.seconds, visit.script_done_s = round(seconds, 3), round(script_done, 3)
                visit.url = base_url + state["path"] + state["search"]
            except Exception as exc:  # every failure is an error of that visit, never a fast page
                visit.error = error_text(exc)
            record(visits, visit)

        def open_landing() -> tuple[float, float, dict]:
            page.goto(view_url(base_url, landing), wait_until="commit", timeout=NAVIGATION_TIMEOUT_S * 1000)
            state = wait_rendered(page, args.timeout, args.settle)
            return state["since"] / 1000, state["ranUntil"] / 1000, state

        def back_and_again() -> tuple[float, float, dict]:
            timed_action(page, nav_link(page, landing).click, args)  # not timed: away to the landing view
            return timed_action(page, nav_link(page, view).click, args)

        try:
            step("open", open_landing, landing)
            step("first", lambda: timed_action(page, nav_link(page, view).click, args))
            for _ in range(args.repeats):
                step("repeat", back_and_again)
            if district is not None:
                step("slice first", lambda: choose_district(page, district, args), slice_=district)
                for _ in range(args.repeats):
                    step("slice repeat", back_and_again, slice_=district)
            tabs = page.locator(TABS_SELECTOR)
            if tabs.count() > 1:
                step("tab first", lambda: timed_action(page, tabs.nth(1).click, args), slice_=district)
        finally:
            page.close()
    return visits


def landing_for(view: View, views: list[View]) -> View:
    """Where the analyst comes from: the default page (the Overview), or for the Overview the next view."""
    others = [v for v in views if v != view]
    if not others:
        raise PageError("the app has one view only: nothing to navigate from")
    return next((v for v in others if v.path == ""), others[0])


def setup_is_current() -> bool:
    """True when scripts/setup.sh would install nothing (the venv's marker matches the requirements), so
    timing scripts/run.sh never installs packages into a shared venv."""
    marker = PROJECT_ROOT / ".venv" / ".requirements-installed"
    wanted = b"".join((PROJECT_ROOT / name).read_bytes() for name in ("requirements.txt", "requirements-nodeps.txt"))
    return marker.is_file() and marker.read_bytes() == wanted


def measure_run_sh(context, db: Path, port: int, args) -> Visit:
    """`bash scripts/run.sh` (PORT=port, the given warehouse, a new server process) from its start until the
    first Overview is rendered in the browser (the browser is already running; health is polled every 0.1 s)."""
    visit = Visit("", "scripts/run.sh to the first Overview", "run.sh", 1, f"http://127.0.0.1:{port}/")
    if not setup_is_current():
        visit.error = ("the venv is not set up for requirements.txt (scripts/setup.sh would install packages): "
                       "run `bash scripts/setup.sh` first")
        return visit
    log_dir = args.workdir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "run-sh.log", "w") as log:
        env = {**os.environ, "PORT": str(port), "CRIME_MONITOR_DB": str(db)}
        started = time.time()
        process = subprocess.Popen(["bash", "scripts/run.sh", *STREAMLIT_FLAGS], cwd=PROJECT_ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        page = None
        try:
            wait_healthy(visit.url.rstrip("/"), process, args.timeout, f"; see {log_dir / 'run-sh.log'}")
            page = context.new_page()
            page.goto(visit.url, wait_until="commit", timeout=NAVIGATION_TIMEOUT_S * 1000)
            state = wait_rendered(page, args.timeout, args.settle)
            visit.seconds = round((state["origin"] + state["since"]) / 1000 - started, 3)
        except Exception as exc:
            visit.error = error_text(exc)
        finally:
            if page is not None:
                page.close()
            stop_process_group(process)
    return visit


def _target(kind: str) -> float:
    return TARGET_FIRST_S if kind in FIRST_KINDS else TARGET_REPEAT_S


def _figures(seconds: list[float], errors: int) -> dict:
    return {"n": len(seconds), "errors": errors, "p50_s": percentile(seconds, 50), "p95_s": percentile(seconds, 95),
            "max_s": max(seconds) if seconds else None}


def summarise(visits: list[Visit], run_sh: Visit | None) -> dict:
    """Per view and kind: n, errors, p50/p95/max seconds; over all views: first visits (default and slice)
    and repeat visits against their targets; run.sh; every error."""
    views: dict[str, dict] = {}
    for visit in visits:
        views.setdefault(visit.title, {"path": visit.view, "kinds": {}})
    for title, entry in views.items():
        for kind in KINDS:
            mine = [v for v in visits if v.title == title and v.kind == kind]
            if mine:
                ok = [v.seconds for v in mine if v.error is None]
                entry["kinds"][kind] = {**_figures(ok, len(mine) - len(ok)), "target_s": _target(kind)}
    overall = {}
    for name, kinds, target in (("first", FIRST_KINDS, TARGET_FIRST_S),
                                ("repeat", ("repeat", "slice repeat"), TARGET_REPEAT_S)):
        mine = [v for v in visits if v.kind in kinds]
        ok = [v.seconds for v in mine if v.error is None]
        figures = _figures(ok, len(mine) - len(ok))
        overall[name] = {**figures, "target_s": target, "over_target": sum(1 for s in ok if s > target),
                         "verdict": verdict(figures["p95_s"], target) if ok else "not measured"}
    opened = [v for v in visits if v.kind == "open"]
    overall["open"] = _figures([v.seconds for v in opened if v.error is None],
                               sum(1 for v in opened if v.error is not None))
    drawing = [v.seconds - v.script_done_s for v in visits
               if v.kind != "open" and v.error is None and v.script_done_s is not None]
    overall["drawing"] = _figures(drawing, 0)
    errors = [f"{v.title} [{v.kind}, run {v.run}] {v.url}: {v.error}" for v in visits if v.error]
    if run_sh is not None and run_sh.error:
        errors.append(f"scripts/run.sh: {run_sh.error}")
    return {"views": views, "overall": overall, "errors": errors,
            "run_sh": None if run_sh is None else {"seconds": run_sh.seconds, "error": run_sh.error,
                                                   "target_s": TARGET_RUN_SH_S,
                                                   "verdict": verdict(run_sh.seconds, TARGET_RUN_SH_S)}}


def _cell(figures: dict | None, key: str) -> str:
    if figures is None:
        return "—"
    value = figures[key]
    if value is None:
        return "ERROR"
    mark = "!" if key == "p95_s" and value > figures["target_s"] else " "
    return f"{value:.2f}{mark}"


def format_report(summary: dict) -> list[str]:
    """The table of p50/p95 per view and kind, then every figure against its target, then the errors."""
    head = f"{'view':<44}" + "".join(f"{kind + ' p50':>18}{'p95':>8}" for kind in KINDS)
    lines = [f"time to rendered, seconds (p50 / p95 over runs; ! = p95 over its target: first and slice first "
             f"<= {TARGET_FIRST_S:g} s, repeat and slice repeat <= {TARGET_REPEAT_S:g} s)", head]
    for title, entry in summary["views"].items():
        cells = "".join(f"{_cell(entry['kinds'].get(k), 'p50_s'):>18}{_cell(entry['kinds'].get(k), 'p95_s'):>8}"
                        for k in KINDS)
        lines.append(f"{(title + ' (/' + entry['path'] + ')')[:43]:<44}{cells}")
    for name, label in (("first", "first visit of any view or slice"), ("repeat", "repeat visit")):
        o = summary["overall"][name]
        figures = ("no successful visit" if o["p50_s"] is None else
                   f"p50 {o['p50_s']:.2f} s, p95 {o['p95_s']:.2f} s, max {o['max_s']:.2f} s over {o['n']} visits, "
                   f"{o['over_target']} over the target")
        lines.append(f"{label}: {figures} [target <= {o['target_s']:g} s]: {o['verdict']}")
    opened = summary["overall"].get("open", {"n": 0})
    if opened["n"]:
        lines.append(f"opening the dashboard in a new tab on the landing view (a fresh server's first page; not a "
                     f"target, scripts/run.sh below is the cold start): p50 {opened['p50_s']:.2f} s, "
                     f"p95 {opened['p95_s']:.2f} s over {opened['n']} tabs")
    drawing = summary["overall"]["drawing"]
    if drawing["n"]:
        lines.append(f"of which after the script run finished (drawing in the browser): p50 {drawing['p50_s']:.2f} s, "
                     f"p95 {drawing['p95_s']:.2f} s")
    run_sh = summary["run_sh"]
    if run_sh is not None:
        shown = f"{run_sh['seconds']:.2f} s" if run_sh["seconds"] is not None else "failed"
        lines.append(f"scripts/run.sh to the first Overview rendered: {shown} [target <= {TARGET_RUN_SH_S:g} s]: "
                     f"{run_sh['verdict']}")
    lines.append(f"errors: {len(summary['errors'])} [target 0]: {'met' if not summary['errors'] else 'MISSED'}")
    lines.extend(f"  error: {error}" for error in summary["errors"][:20])
    return lines


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench pages", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="warehouse to serve ($CRIME_MONITOR_DB, else data/warehouse.duckdb)")
    parser.add_argument("--runs", type=int, default=3, help="fresh servers per view (default 3)")
    parser.add_argument("--repeats", type=int, default=2, help="repeat visits per URL and run (default 2)")
    parser.add_argument("--views", nargs="+", metavar="VIEW", help="only these views (URL path or title)")
    parser.add_argument("--mode", choices=("app", "tab"), default="app",
                        help="app (default): one tab per server, views and districts chosen by clicking in the app, "
                             "timed from the click; tab: every visit a new tab (a new session, the frontend starting "
                             "again), timed from the navigation's start")
    parser.add_argument("--no-slices", action="store_true", help="skip the district slice visits")
    parser.add_argument("--no-run-sh", action="store_true", help="skip timing scripts/run.sh")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds before a visit is an error (default 180)")
    parser.add_argument("--settle", type=float, default=0.5, help="seconds a rendered state must hold, not counted (default 0.5)")
    parser.add_argument("--workdir", type=Path, default=PROJECT_ROOT / "bench" / "out" / "pages",
                        help="results.json and the servers' logs (default bench/out/pages)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.repeats < 0:
        parser.error("--runs must be >= 1 and --repeats >= 0")
    return args


def run_pages(args: argparse.Namespace, db: Path) -> tuple[list[Visit], Visit | None]:
    """Discover the views, time run.sh, then every view on fresh servers, run after run."""
    from playwright.sync_api import sync_playwright

    force_id, districts = (None, []) if args.no_slices else slice_districts(db)
    port = free_port()  # one port for every server, so the browser keeps Streamlit's static files cached
    visits: list[Visit] = []
    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            context.add_init_script(RENDER_PROBE_JS)
            with streamlit_process(db, log_dir=args.workdir / "logs", port=port) as (base_url, _process):
                all_views = discover_views(context, base_url)
            views = choose_views(all_views, args.views)
            print(f"views: {len(views)} ({', '.join(v.title for v in views)}); slices: "
                  f"{len(districts)} districts of {force_id}, rotated", flush=True)
            run_sh = None if args.no_run_sh else measure_run_sh(context, db, port, args)
            for run in range(1, args.runs + 1):
                for number, view in enumerate(views):
                    district = districts[((run - 1) * len(views) + number) % len(districts)] if districts else None
                    try:
                        if args.mode == "app":
                            visits.extend(measure_view_in_app(context, db, port, view, landing_for(view, all_views),
                                                              run, district, args))
                        else:
                            visits.extend(measure_view(context, db, port, view, run, district, force_id, args))
                    except RuntimeError as exc:  # the server did not start (its port taken meanwhile?)
                        visits.append(Visit(view.path, view.title, "first", run, f"http://127.0.0.1:{port}/",
                                            error=f"server: {exc}"))
                        port = free_port()
        finally:
            browser.close()
    return visits, run_sh


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    db = Path(args.db or os.environ.get("CRIME_MONITOR_DB") or PROJECT_ROOT / "data" / "warehouse.duckdb").resolve()
    if not db.is_file():
        print(f"bench pages: no warehouse at {db}: pass --db or build one with "
              "`python -m etl demo --db data/warehouse.duckdb`", file=sys.stderr)
        return 2
    args.workdir = args.workdir.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"Crime Plan Monitor page budget: headless Chromium against `streamlit run app.py`, warehouse {db}")
    print(machine_line(), flush=True)
    print("mode: " + ("app — one tab per server; a visit is a click on the view's sidebar link or on a district in "
                      "the filter bar, timed from the click" if args.mode == "app" else
                      "tab — every visit opens a new tab (a new session), timed from the navigation's start"))
    print(f"runs: {args.runs} (a fresh server with empty caches per view and run); repeats: {args.repeats}; "
          f"settle {args.settle:g} s (not counted)", flush=True)
    started = time.time()
    try:
        visits, run_sh = run_pages(args, db)
    except PageError as exc:
        print(f"bench pages: {exc}", file=sys.stderr)
        return 1
    summary = summarise(visits, run_sh)
    for line in format_report(summary):
        print(line)
    print(f"load average at end {load_average()}; took {time.time() - started:.0f} s")
    results = args.workdir / "results.json"
    results.write_text(json.dumps({"db": str(db), "runs": args.runs, "repeats": args.repeats, "summary": summary,
                                   "visits": [asdict(v) for v in visits],
                                   "run_sh": asdict(run_sh) if run_sh else None}, indent=2))
    print(f"figures written to {results}")
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
