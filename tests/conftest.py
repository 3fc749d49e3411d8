"""Shared fixtures. Real reference data is read from $CRIME_REFERENCE_DATA (default ../shared/data);
when it is missing the tests FAIL (they never skip), as CI requires."""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# loads started by tests do not spawn the background baselines computation (etl.baselines_hook)
os.environ.setdefault("CRIME_MONITOR_BASELINES", "off")
# model fits run in this process (tests/test_fit_pool.py tests the worker pool and that it gives the same floats)
os.environ.setdefault("CRIME_MONITOR_FIT_WORKERS", "0")
REFERENCE_DATA = Path(os.environ.get("CRIME_REFERENCE_DATA", PROJECT_ROOT.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session", autouse=True)
def audit_log_outside_the_project(tmp_path_factory):
    """Every test's app runs append their audit entries to a temporary log, never to the project's data/audit/
    (a test that checks the log sets its own `CRIME_MONITOR_AUDIT_LOG`)."""
    log = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    previous = os.environ.get("CRIME_MONITOR_AUDIT_LOG")
    os.environ["CRIME_MONITOR_AUDIT_LOG"] = str(log)
    yield log
    if previous is None:
        os.environ.pop("CRIME_MONITOR_AUDIT_LOG", None)
    else:
        os.environ["CRIME_MONITOR_AUDIT_LOG"] = previous


@pytest.fixture(scope="session")
def reference_data() -> Path:
    """The folder of real public data (see its README). Missing data is a failure, not a skip."""
    if not (REFERENCE_DATA / "police-uk" / "essex").is_dir():
        pytest.fail(
            f"reference data not found at {REFERENCE_DATA}: set CRIME_REFERENCE_DATA or put ../shared/data beside the project"
        )
    return REFERENCE_DATA


@pytest.fixture(scope="session")
def essex_dir(reference_data: Path) -> Path:
    return reference_data / "police-uk" / "essex"


ESSEX_MONTHS = ["2018-10", "2018-11", "2018-12", "2019-01", "2019-02"]


@pytest.fixture(scope="session")
def essex_rows(essex_dir: Path) -> list[dict]:
    """Every row of the five real Essex street files (csv.DictReader), read without the code under test."""
    rows = []
    for month in ESSEX_MONTHS:
        with open(essex_dir / month / f"{month}-essex-street.csv", newline="", encoding="utf-8") as handle:
            rows.extend(csv.DictReader(handle))
    return rows


@pytest.fixture(scope="session")
def essex_db(tmp_path_factory, reference_data: Path) -> Path:
    """A warehouse with the real Essex street files, the ONS lookup and census residents (read-only use)."""
    from etl.load import load_sources

    db = tmp_path_factory.mktemp("essex") / "essex.duckdb"
    load_sources(
        [
            reference_data / "police-uk" / "essex",
            reference_data / "ons" / "lsoa11-to-local-authority-and-force.csv",
            reference_data / "ons" / "census2011-lsoa-usual-residents.csv",
        ],
        db,
        progress=False,
    )
    return db


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    """The synthetic demo warehouse (seed 1), built once per test session through the real loaders."""
    from etl.demo import build_demo

    root = tmp_path_factory.mktemp("demo")
    db = root / "demo.duckdb"
    build_demo(db, seed=1, archive_dir=root / "archive")
    return db


@contextlib.contextmanager
def app_reads(db: Path):
    """The dashboard (AppTest, in this process) reads `db`: $CRIME_MONITOR_DB set and Streamlit's caches and the
    app's read cache cleared, both restored afterwards."""
    import streamlit

    from ui import store

    old = os.environ.get("CRIME_MONITOR_DB")
    os.environ["CRIME_MONITOR_DB"] = str(db)
    streamlit.cache_resource.clear()
    streamlit.cache_data.clear()
    store.clear()
    try:
        yield db
    finally:
        streamlit.cache_resource.clear()
        streamlit.cache_data.clear()
        store.clear()
        if old is None:
            os.environ.pop("CRIME_MONITOR_DB", None)
        else:
            os.environ["CRIME_MONITOR_DB"] = old


def run_cli(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run `python -m ...` in the project root and capture its output."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, env=full_env, timeout=600
    )
    if check and result.returncode != 0:
        raise AssertionError(f"command failed ({result.returncode}): {args}\n{result.stdout}\n{result.stderr}")
    return result


def copy_tree(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest)
    for path in dest.rglob("*"):
        path.chmod(0o644 if path.is_file() else 0o755)
    return dest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A test that cannot run must fail, not skip (CI rule): turn every skip into a failure."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"test was skipped, which this project treats as a failure: {reason}"


SNAPSHOT = ("title", "header", "subheader", "metric", "markdown", "caption", "code", "info", "warning", "error",
            "success", "table", "dataframe", "exception", "tabs", "selectbox")


@dataclass(frozen=True)
class StaticTable:
    """A static table as the page shows it (ui.render draws each as one escaped HTML element): its `key` and its
    cells as text in `value` (a DataFrame with the column labels shown)."""

    key: str
    value: pd.DataFrame


class _StaticTableParser(HTMLParser):
    """The header and body cells of the wide table in ui.render.table_html's markup (entities decoded)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.key, self.head, self.rows, self._cell, self._in_wide = "", [], [], None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("data-testid") == "cpmTable":
            self.key = attrs.get("data-key", "")
        elif tag == "table" and "cpm-wide" in (attrs.get("class") or ""):
            self._in_wide = True
        elif self._in_wide and tag == "tr":
            self.rows.append([])
        elif self._in_wide and tag in ("th", "td"):
            self._cell = ""

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_wide = False
        elif self._in_wide and tag in ("th", "td") and self._cell is not None:
            (self.head if tag == "th" else self.rows[-1]).append(self._cell)
            self._cell = None


def static_tables(node) -> list[StaticTable]:
    """The static tables of an AppTest, one of its tabs or an EveryTab, in page order."""
    if isinstance(node, EveryTab):
        return node.table
    tables = []
    for element in node.html:
        if 'data-testid="cpmTable"' not in element.value:
            continue
        parser = _StaticTableParser()
        parser.feed(element.value)
        body = [row for row in parser.rows if row]
        tables.append(StaticTable(parser.key, pd.DataFrame(body, columns=parser.head)))
    return tables


class EveryTab:
    """What a page shows in every one of its tabs: the first run's elements (the lead sections, the open tab,
    any sections after the tabs), then each other tab's own elements with that tab open, in tab order — as a
    reader who opens every tab sees the view."""

    def __init__(self, snapshots: list[dict[str, list]]):
        self.snapshots = snapshots

    def __getattr__(self, name: str) -> list:
        if name not in SNAPSHOT:
            raise AttributeError(name)
        return [element for snapshot in self.snapshots for element in snapshot[name]]


def every_tab(at):
    """Run an AppTest that has already run once again with each of its other tabs open (lazy tabs run only
    the open one). A page without tabs: the AppTest itself. Read tables with static_tables(...) either way."""
    from ui.render import TAB_KEY  # the URL parameter and widget key of a view's tabs

    def snapshot(node) -> dict[str, list]:
        return {name: static_tables(node) if name == "table" else list(getattr(node, name)) for name in SNAPSHOT}

    if not at.tabs:
        return at

    runs = [snapshot(at)]
    labels = [tab.label for tab in at.tabs]
    for index, label in enumerate(labels[1:], start=1):
        at.session_state[TAB_KEY] = label
        at.run()
        assert not at.exception, (label, [e.message for e in at.exception])
        assert [tab.label for tab in at.tabs] == labels, label
        runs.append(snapshot(at.tabs[index]))
    return EveryTab(runs)
