"""The app while a load runs: it keeps serving the previous warehouse (no error, same version and months),
and picks up the new one after the swap without a restart. Also the server settings that protect it:
XSRF protection on, and no file uploads accepted (so nothing is ever written from a request)."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import time
import tomllib
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, app_reads
from tests.test_faults import _write_shifted_copies

pytestmark = pytest.mark.slow


@pytest.fixture()
def app_db(essex_db: Path, tmp_path: Path):
    """A private copy of the Essex warehouse that the app reads ($CRIME_MONITOR_DB)."""
    db = tmp_path / "live" / "warehouse.duckdb"
    db.parent.mkdir()
    shutil.copyfile(essex_db, db)
    with app_reads(db):
        yield db


def _context(at):
    from ui import CONTEXT_KEY

    assert not at.exception, [e.message for e in at.exception]
    return at.session_state[CONTEXT_KEY]


def _new_session():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
    at.run()
    return at


def test_app_serves_old_database_during_load_and_new_one_after_swap(app_db, essex_dir, tmp_path):
    from etl.warehouse import database_version

    session = _new_session()
    before = _context(session)
    assert (before.first_month, before.last_month) == (date(2018, 10, 1), date(2019, 2, 1))
    old_version = before.version
    assert old_version == database_version(app_db)

    # a new month, 2019-03 (the real 2019-02 rows moved on a month), plus 15 more months to make the load long
    sources = tmp_path / "new"
    _write_shifted_copies(essex_dir, sources)
    feb = (essex_dir / "2019-02" / "2019-02-essex-street.csv").read_bytes()
    (sources / "2019-03").mkdir()
    (sources / "2019-03" / "2019-03-essex-street.csv").write_bytes(feb.replace(b",2019-02,", b",2019-03,"))

    load = subprocess.Popen([sys.executable, "-m", "etl", "load", str(sources), "--db", str(app_db)],
                            cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    served_during_load = 0
    try:
        deadline = time.monotonic() + 60
        while load.poll() is None and time.monotonic() < deadline:
            writing = any(app_db.parent.glob(f"{app_db.name}.*.tmp"))
            during = _context(_new_session())
            if load.poll() is None and writing:
                served_during_load += 1
                assert during.version == old_version
                assert during.last_month == date(2019, 2, 1)
    finally:
        _, err = load.communicate(timeout=120)
    assert load.returncode == 0, err
    assert served_during_load >= 1, "the load finished before the app could be asked anything during it"

    # the same server process (same caches and connections), without a restart, now reads the new file.
    # (AppTest reruns of one session run the page alone, not app.py, so each check is a new session;
    # test_loadtest_short_run_20_sessions_with_a_load drives browser sessions across a swap.)
    after = _context(_new_session())
    assert after.version == database_version(app_db) != old_version
    assert (after.first_month, after.last_month) == (date(2015, 1, 1), date(2019, 3, 1))  # 2015-01 from 2019-01


def test_streamlit_config_keeps_xsrf_protection_on():
    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    server = config.get("server", {})
    assert server.get("enableXsrfProtection", True) is True
    # XSRF protection is only effective with CORS protection on (Streamlit turns it off otherwise)
    assert server.get("enableCORS", True) is True


def test_running_server_has_xsrf_protection_on(tmp_path, essex_db):
    """What the server really uses: `streamlit config show` from the project folder."""
    result = subprocess.run([sys.executable, "-m", "streamlit", "config", "show"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "CRIME_MONITOR_DB": str(essex_db)})
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert "enableXsrfProtection = true" in lines
    assert "enableCORS = true" in lines


def test_app_accepts_no_uploads():
    """No page takes a file upload (loads run from the command line), so no request can write a file.
    If one is ever added, it must set server.maxUploadSize and keep the file in a temporary folder."""
    sources = [PROJECT_ROOT / "app.py", *sorted((PROJECT_ROOT / "ui").glob("*.py")),
               *sorted((PROJECT_ROOT / "views").glob("*.py")), *sorted((PROJECT_ROOT / "pages").glob("*.py"))]
    uploaders = []
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in {"file_uploader", "camera_input", "audio_input"}:
                uploaders.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {node.attr}")
    assert uploaders == []


def test_read_only_connection_sees_a_swapped_file_while_an_old_one_is_open(essex_db, tmp_path):
    """DuckDB hands back its cached instance for a path while any connection to it lives; the app's
    connect_read_only must open the new file after a swap anyway (and the old connection keeps working)."""
    import duckdb

    from etl.warehouse import connect_read_only

    db = tmp_path / "warehouse.duckdb"
    shutil.copyfile(essex_db, db)
    old = connect_read_only(db)
    assert old.execute("SELECT count(*) FROM crimes").fetchall() == [(84_233,)]
    replacement = tmp_path / "next.duckdb"
    writer = duckdb.connect(str(replacement))
    writer.execute("CREATE TABLE crimes AS SELECT 1 AS crime_id")
    writer.close()
    os.replace(replacement, db)
    new = connect_read_only(db)
    assert new.execute("SELECT count(*) FROM crimes").fetchall() == [(1,)]
    assert new.cursor().execute("SELECT count(*) FROM crimes").fetchall() == [(1,)]
    assert old.cursor().execute("SELECT count(*) FROM crimes").fetchall() == [(84_233,)]
    old.close()
    new.close()


def test_loadtest_percentiles():
    from bench.loadtest import Results

    results = Results(latencies_ms=[float(v) for v in range(1, 101)], errors=["x"])
    summary = results.summary(sessions=20, seconds=5)
    # nearest rank on 100 values 1..100: p50 -> index round(49.5) = 50 -> 51; p95 -> index round(94.05) = 94 -> 95
    assert (summary["requests"], summary["errors"], summary["p50_ms"], summary["p95_ms"], summary["max_ms"]) == (
        101, 1, 51.0, 95.0, 100.0)


@pytest.mark.browser
def test_loadtest_short_run_20_sessions_with_a_load(essex_db, essex_dir, tmp_path):
    """The CI version of bench/loadtest.py: 20 browser sessions against one server for a few seconds,
    with a load swapping the warehouse under them; no request may fail."""
    db = tmp_path / "warehouse.duckdb"
    shutil.copyfile(essex_db, db)
    result = subprocess.run(
        [sys.executable, "-m", "bench.loadtest", "--sessions", "20", "--seconds", "5", "--timeout", "300",
         "--db", str(db), "--load", str(essex_dir / "2019-02")],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900,
    )
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line and not line.startswith(" "))
    assert result.returncode == 0, result.stdout + result.stderr
    assert lines["sessions"] == "20"
    assert int(lines["requests"]) >= 20
    assert lines["errors"] == "0"
    assert float(lines["p50 latency"].removesuffix(" ms")) <= float(lines["p95 latency"].removesuffix(" ms"))
    assert "load ran" in lines
