"""The page-budget and load-test tools (bench/pages.py, bench/loadtest.py, bench/streamlit_client.py).

No timing is asserted. What is checked: every figure is printed against its target, percentiles are the
nearest-rank values worked out by hand, the "rendered" definition waits for charts and skeletons and turns an
exception into an error, and the tools report a failing page as an error (exit status 1), never as a fast page.
"""

from __future__ import annotations

import concurrent.futures
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote_plus, urlsplit

import duckdb
import pytest

import views
from bench.loadtest import Results, report_lines
from bench.pages import KINDS, PageError, Visit, format_report, summarise
from tests.conftest import PROJECT_ROOT

ESSEX_DISTRICTS = {"Basildon", "Braintree", "Brentwood", "Castle Point", "Chelmsford", "Colchester", "Epping Forest",
                   "Harlow", "Maldon", "Rochford", "Tendring", "Uttlesford", "Southend-on-Sea", "Thurrock"}


def _visits(view: str, title: str, kind: str, seconds: list[float | None]) -> list[Visit]:
    return [Visit(view, title, kind, run, f"http://x/{view}", seconds=s, error=None if s is not None else "PageError: boom")
            for run, s in enumerate(seconds, start=1)]


def _line(lines: list[str], start: str) -> str:
    return next(line for line in lines if line.startswith(start))


def test_pages_report_prints_every_figure_against_its_target():
    visits = (_visits("covid", "COVID-19 impact", "first", [3.0, 1.0, 2.0])
              + _visits("covid", "COVID-19 impact", "repeat", [0.2, 0.4, 0.3, 0.1])
              + _visits("covid", "COVID-19 impact", "slice first", [1.2, 1.4, 1.3])
              + _visits("covid", "COVID-19 impact", "slice repeat", [0.25, 0.35, 0.3])
              + _visits("", "Overview", "first", [0.9, 1.1, 1.0]))
    run_sh = Visit("", "scripts/run.sh to the first Overview", "run.sh", 1, "http://x/", seconds=7.25)
    lines = format_report(summarise(visits, run_sh))

    # nearest rank: n=3 -> p50 index 1, p95 index round(1.9)=2; n=4 -> p50 index round(1.5)=2, p95 index 3
    covid = _line(lines, "COVID-19 impact (/covid)").split()
    assert covid[-10:] == ["2.00", "3.00!", "0.30", "0.40", "1.30", "1.40", "0.30", "0.35", "—", "—"]
    overview = _line(lines, "Overview (/)").split()
    assert overview[-10:] == ["1.00", "1.10", "—", "—", "—", "—", "—", "—", "—", "—"]
    assert f"{'first p50':>18}" in lines[1] and all(f"{kind} p50" in lines[1] for kind in KINDS)
    # first visits of any view or slice: 9 values 0.9..3.0 -> p50 index 4 (1.2), p95 index round(7.6)=8 (3.0)
    assert _line(lines, "first visit of any view or slice:") == (
        "first visit of any view or slice: p50 1.20 s, p95 3.00 s, max 3.00 s over 9 visits, 2 over the target "
        "[target <= 1.5 s]: MISSED")
    # repeats: 7 values -> p50 index 3 (0.3), p95 index round(5.7)=6 (0.4)
    assert _line(lines, "repeat visit:") == (
        "repeat visit: p50 0.30 s, p95 0.40 s, max 0.40 s over 7 visits, 0 over the target [target <= 0.5 s]: met")
    assert _line(lines, "scripts/run.sh") == (
        "scripts/run.sh to the first Overview rendered: 7.25 s [target <= 10 s]: met")
    assert _line(lines, "errors:") == "errors: 0 [target 0]: met"


def test_a_tab_opened_for_the_first_time_is_held_to_the_first_visit_target():
    visits = (_visits("asb", "ASB", "first", [1.0]) + _visits("asb", "ASB", "tab first", [2.0])
              + _visits("asb", "ASB", "repeat", [0.4]))
    summary = summarise(visits, None)
    assert summary["views"]["ASB"]["kinds"]["tab first"]["target_s"] == 1.5
    assert summary["overall"]["first"]["n"] == 2 and summary["overall"]["first"]["over_target"] == 1
    assert summary["overall"]["repeat"]["n"] == 1
    assert _line(format_report(summary), "ASB (/asb)").split()[-2:] == ["2.00", "2.00!"]  # p95 over its target


def test_pages_report_counts_a_failed_visit_as_an_error_not_a_time():
    visits = (_visits("data", "Data", "first", [None])
              + _visits("data", "Data", "repeat", [0.2, None])
              + _visits("fraud", "Fraud", "first", [0.8]))
    failed_run_sh = Visit("", "scripts/run.sh to the first Overview", "run.sh", 1, "http://x/",
                          error="PageError: not rendered within 180 s")
    summary = summarise(visits, failed_run_sh)
    lines = format_report(summary)
    assert _line(lines, "Data (/data)").split()[-10:-6] == ["ERROR", "ERROR", "0.20", "0.20"]
    assert summary["overall"]["first"]["n"] == 1 and summary["overall"]["first"]["errors"] == 1
    assert _line(lines, "first visit of any view or slice:").startswith(
        "first visit of any view or slice: p50 0.80 s, p95 0.80 s, max 0.80 s over 1 visits")
    assert _line(lines, "scripts/run.sh") == (
        "scripts/run.sh to the first Overview rendered: failed [target <= 10 s]: not measured")
    assert _line(lines, "errors:") == "errors: 3 [target 0]: MISSED"
    assert sum(line.startswith("  error: ") for line in lines) == 3
    assert any("Data [repeat, run 2] http://x/data: PageError: boom" in line for line in lines)


def test_loadtest_report_prints_every_figure_against_its_target():
    results = Results(latencies_ms=[float(v) for v in range(100, 2100, 100)],  # 100..2000 ms, 20 requests
                      by_view={"Overview": [100.0, 300.0, 200.0], "Data": [4000.0]}, repeat_ms=[300.0, 100.0, 200.0])
    summary = results.summary(sessions=20, seconds=30)
    summary.update(views=["Overview", "Data"], filters=[{}], warmup_ms=[], wall_s=30.0, server_cpu_s=45.0,
                   client_cpu_s=1.5)
    lines = report_lines(summary)
    fields = dict(line.split(": ", 1) for line in lines if ": " in line and not line.startswith(" "))
    # nearest rank on 20 values: p50 index round(9.5)=10 -> 1100; p95 index round(18.05)=18 -> 1900
    assert (fields["sessions"], fields["requests"], fields["errors"]) == ("20", "20", "0")
    assert (fields["p50 latency"], fields["p95 latency"], fields["max latency"]) == ("1100.0 ms", "1900.0 ms",
                                                                                     "2000.0 ms")
    assert fields["p50/p95 latency of repeats (a view and filters already asked for on this server)"] == (
        "200.0/300.0 ms over 3 requests")
    assert "  concurrent sessions 20 [target 20]: met" in lines
    assert "  p95 server time per page 1900.0 ms [target <= 3000 ms]: met" in lines
    assert "  errors 0 [target 0]: met" in lines
    assert re.search(r"^  Overview +3 +200\.0 +300\.0 +300\.0$", "\n".join(lines), re.M)
    assert any(line.startswith("CPU in the timed 30.0 s: server 45.0 s = 1.50 cores busy") for line in lines)

    results.errors.append("/data?: exception on the page: boom")
    bad = results.summary(sessions=5, seconds=30)
    bad.update(views=["Overview"], filters=[{}], warmup_ms=[], wall_s=30.0, server_cpu_s=None, client_cpu_s=1.0)
    lines = report_lines(bad)
    assert "  concurrent sessions 5 [target 20]: MISSED" in lines
    assert "  errors 1 [target 0]: MISSED" in lines
    assert "  error: /data?: exception on the page: boom" in lines


def test_streamlit_client_reads_exceptions_charts_and_the_end_of_a_run():
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    from bench.streamlit_client import FINISHED_EARLY_FOR_RERUN, PageRun, PageRunError, _read

    def message(build) -> bytes:
        msg = ForwardMsg()
        build(msg)
        return msg.SerializeToString()

    def exception(m):
        m.delta.new_element.exception.type = "ValueError"
        m.delta.new_element.exception.message = "boom"

    run = PageRun()
    assert _read(run, message(exception)) is None
    assert (run.elements, run.charts, run.exception) == (1, 0, "ValueError: boom")
    redacted = PageRun()  # showErrorDetails = "none": no type, Streamlit's notice as the message
    assert _read(redacted, message(lambda m: setattr(m.delta.new_element.exception, "message", "This app has "
                                                     "encountered an error."))) is None
    assert redacted.exception == "This app has encountered an error."

    def chart(m):
        m.delta.new_element.plotly_chart.spec = "{}"

    def page(m):
        p = m.navigation.app_pages.add()
        p.url_pathname, p.page_name = "covid", "COVID-19 impact"

    assert _read(run, message(chart)) is None and (run.elements, run.charts) == (2, 1)
    assert _read(run, message(page)) is None and run.pages == [("covid", "COVID-19 impact")]
    assert _read(run, message(lambda m: setattr(m, "script_finished", FINISHED_EARLY_FOR_RERUN))) == 2
    with pytest.raises(PageRunError, match="page not found: 'nowhere'"):
        _read(run, message(lambda m: setattr(m.page_not_found, "page_name", "nowhere")))


# ---------------------------------------------------------------------------------------------------------
# in Chromium and against the real app
# ---------------------------------------------------------------------------------------------------------
FAKE_APP = """<div data-testid="stApp" data-test-script-state="running" data-test-connection-state="CONNECTED">
  <div data-testid="stMain"><div data-testid="stElementContainer"><h1>Title</h1></div>
  <div data-testid="stElementContainer"><div data-testid="stPlotlyChart" id="chart"></div></div></div></div>"""


@pytest.mark.browser
def test_rendered_waits_for_the_run_the_charts_and_skeletons_and_fails_on_an_exception():
    # a fresh thread: the browser tests' session-wide sync Playwright (tests/browser/conftest.py) keeps its asyncio
    # loop set as running in the main thread, and a second sync_playwright() there refuses to start
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(_rendered_checks).result()


def _rendered_checks() -> None:
    from playwright.sync_api import sync_playwright

    from bench.browser import launch_browser
    from bench.pages import RENDER_PROBE_JS, wait_rendered

    def set_attr(page, selector: str, name: str, value: str) -> None:
        page.evaluate("([s, n, v]) => document.querySelector(s).setAttribute(n, v)", [selector, name, value])

    def add_html(page, selector: str, html: str) -> None:
        page.evaluate("([s, h]) => document.querySelector(s).insertAdjacentHTML('beforeend', h)", [selector, html])

    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        try:
            page = browser.new_page()
            page.set_content(FAKE_APP)
            page.evaluate(RENDER_PROBE_JS)
            with pytest.raises(PageError, match="not rendered within"):  # the script is still running
                wait_rendered(page, timeout=0.4, settle=0.1)
            set_attr(page, '[data-testid="stApp"]', "data-test-script-state", "notRunning")
            with pytest.raises(PageError, match="'charts': 1, 'drawn': 0"):  # the chart is not drawn yet
                wait_rendered(page, timeout=0.4, settle=0.1)
            add_html(page, "#chart", '<svg class="main-svg"></svg>')
            add_html(page, '[data-testid="stMain"]', '<div data-testid="stSkeleton"></div>')
            with pytest.raises(PageError, match="'busy': 1"):  # a lazily loaded element is still loading
                wait_rendered(page, timeout=0.4, settle=0.1)
            page.evaluate("document.querySelector('[data-testid=\"stSkeleton\"]').remove()")
            state = wait_rendered(page, timeout=2, settle=0.2)
            assert state["last"] == {"script": "notRunning", "connection": "CONNECTED", "elements": 2, "charts": 1,
                                     "drawn": 1, "busy": 0}
            add_html(page, '[data-testid="stMain"]',
                     '<div data-testid="stException">ValueError: no data for Harlow</div>')
            with pytest.raises(PageError, match="exception on the page: ValueError: no data for Harlow"):
                wait_rendered(page, timeout=2, settle=0.2)
        finally:
            browser.close()


def _bench(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.browser
def test_bench_pages_on_one_view_and_run_sh(essex_db, tmp_path):
    db = tmp_path / "essex.duckdb"  # a copy: run.sh starts the stored baselines' computation on its warehouse
    shutil.copyfile(essex_db, db)
    result = _bench("pages", "--db", str(db), "--views", "asb", "--runs", "1", "--repeats", "1",
                    "--workdir", str(tmp_path))
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    lines = out.splitlines()
    cells = _line(lines, "2 · Anti-social behaviour (/asb)").split()[-10:]
    assert all(re.fullmatch(r"\d+\.\d\d!?", cell) for cell in cells), cells
    assert re.search(r"^first visit of any view or slice: p50 [\d.]+ s, p95 [\d.]+ s, max [\d.]+ s over 3 visits, "
                     r"\d over the target \[target <= 1.5 s\]: (met|MISSED)$", out, re.M)
    assert re.search(r"^repeat visit: .* over 2 visits, .*\[target <= 0.5 s\]: (met|MISSED)$", out, re.M)
    assert re.search(r"^scripts/run.sh to the first Overview rendered: [\d.]+ s \[target <= 10 s\]: (met|MISSED)$",
                     out, re.M)
    assert "errors: 0 [target 0]: met" in lines
    assert re.search(r"^machine: \d+ CPUs.*load average [\d.]+ [\d.]+ [\d.]+", out, re.M)

    # the default mode: one tab opened on the Overview, then clicks in the app
    assert re.search(r"^opening the dashboard in a new tab on the landing view .*: p50 [\d.]+ s, p95 [\d.]+ s over "
                     r"1 tabs$", out, re.M)
    figures = json.loads((tmp_path / "results.json").read_text())
    visits = figures["visits"]
    assert sorted(v["kind"] for v in visits) == sorted((*KINDS, "open")) and {v["view"] for v in visits} == {"asb"}
    assert all(v["error"] is None and 0 < v["script_done_s"] <= v["seconds"] for v in visits)
    assert [urlsplit(v["url"]).path for v in visits] == ["/", "/asb", "/asb", "/asb", "/asb", "/asb"]
    # the second of Districts, Hotspots, Force measures (no COVID-19 rise tab: Essex's months end before 2020)
    (tab,) = [v for v in visits if v["kind"] == "tab first"]
    assert "tab=Hotspots" in tab["url"]
    slices = {unquote_plus(re.search(r"district=([^&]+)", v["url"]).group(1)) for v in visits
              if v["kind"].startswith("slice")}
    assert len(slices) == 1 and slices <= ESSEX_DISTRICTS
    assert figures["run_sh"]["error"] is None and figures["run_sh"]["seconds"] > 0


@pytest.mark.browser
def test_bench_pages_reports_a_failing_page_as_an_error(tmp_path):
    """A warehouse file without tables: the page raises (a CatalogException shown as stException)."""
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    result = _bench("pages", "--db", str(empty), "--views", "data", "--runs", "1", "--repeats", "0", "--no-slices",
                    "--no-run-sh", "--timeout", "60", "--workdir", str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert _line(lines, "Data (/data)").split()[-10:-8] == ["ERROR", "ERROR"]
    assert "errors: 2 [target 0]: MISSED" in lines  # the tab opened on the Overview, then the click to Data
    assert re.search(r"^  error: Data \[open, run 1\] http://127\.0\.0\.1:\d+/: PageError: exception on the page: "
                     r"Something went wrong", result.stdout, re.M)
    # what the user sees: the app's error notice with an error id (access.errors), not the DuckDB error
    assert re.search(r"^  error: Data \[first, run 1\] http://127\.0\.0\.1:\d+/data: PageError: exception on the "
                     r"page: Something went wrong while drawing this page\. The error has been recorded as E-[0-9A-F]{8}",
                     result.stdout, re.M)
    assert "Catalog Error" not in result.stdout
    assert "first visit of any view or slice: no successful visit [target <= 1.5 s]: not measured" in lines


def test_loadtest_measures_the_server_over_websockets(essex_db):
    result = _bench("loadtest", "--db", str(essex_db), "--sessions", "3", "--seconds", "3", "--timeout", "120",
                    "--no-warmup", "--think", "0.5")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "think time: mean 0.5 s between pages (exponential), sessions starting spread over it" in lines
    fields = dict(line.split(": ", 1) for line in lines if ": " in line and not line.startswith(" "))
    assert fields["sessions"] == "3" and fields["errors"] == "0" and int(fields["requests"]) >= 3
    # every view of views.VIEWS, and the first one again at "/" (the default page)
    assert fields["views"].startswith(f"{len(views.VIEWS) + 1} (from the app's navigation)")
    # the links hold what the filter bar shows (ui/url_state.py): the force's name and the comparison's label
    assert "'force': 'Essex Police'" in fields["views"] and "'compare': 'Pre-COVID vs COVID year'" in fields["views"]
    # the filters come from the warehouse: Essex districts and its crime types
    assert re.search(r"'district': '(\w[\w -]*)'", fields["views"]).group(1) in ESSEX_DISTRICTS
    assert re.search(r"^  p95 server time per page [\d.]+ ms \[target <= 3000 ms\]: (met|MISSED)$",
                     result.stdout, re.M)
    assert "  concurrent sessions 3 [target 20]: MISSED" in lines
    assert re.search(r"^CPU in the timed [\d.]+ s: server [\d.]+ s = [\d.]+ cores busy; this client", result.stdout,
                     re.M)


def test_loadtest_reports_a_failing_page_as_an_error(tmp_path):
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    result = _bench("loadtest", "--db", str(empty), "--sessions", "2", "--seconds", "1", "--timeout", "60")
    assert result.returncode == 1, result.stdout + result.stderr
    fields = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line
                  and not line.startswith(" "))
    assert int(fields["errors"]) >= 2 + len(views.VIEWS) + 1  # every warm-up visit and every timed request failed
    assert fields["p95 latency"] == "None ms"
    # what the user sees: the app's error notice with an error id (the details are in the server log)
    assert re.search(r"^  error: warm-up: /\w*\?: exception on the page: Something went wrong while drawing this "
                     r"page\. The error has been recorded as E-[0-9A-F]{8}", result.stdout, re.M)
    assert "  errors" in result.stdout and "[target 0]: MISSED" in result.stdout
