"""Faults during a load: SIGKILL at random points, a full disk, two loads at once.

Each leaves the live database byte-identical to the one before (sha256 of the file and a hash of every
table), readable, and free of stale temporary files once the next load has run.
"""

from __future__ import annotations

import contextlib
import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from etl.warehouse import SCHEMA, sha256_file
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow

# real Essex months, and the extra years they are copied into (Month column and folder rewritten)
ESSEX_MONTHS = ["2018-10", "2018-11", "2018-12", "2019-01", "2019-02"]
SHIFTED_YEARS = [2015, 2016, 2017]
KILL_POINTS = 8
KILL_SEED = 20260901
KILL_LOOP_SECONDS = 60


def _raw_row_count(path: Path) -> int:
    """Data rows of a real data.police.uk file (no quoted newlines in these files): lines minus header."""
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip()) - 1


def _write_shifted_copies(essex_dir: Path, dest: Path) -> int:
    """The real Essex files copied into earlier years (Month values and names moved); returns data rows."""
    rows = 0
    for month in ESSEX_MONTHS:
        data = (essex_dir / month / f"{month}-essex-street.csv").read_bytes()
        for year in SHIFTED_YEARS:
            new_month = f"{year}{month[4:]}"
            target = dest / new_month / f"{new_month}-essex-street.csv"
            target.parent.mkdir(parents=True, exist_ok=True)
            shifted = data.replace(f",{month},".encode(), f",{new_month},".encode())
            target.write_bytes(shifted)
            rows += shifted.count(b"\n") - 1
    return rows


def db_state(db: Path) -> tuple[str, dict[str, tuple[int, int]]]:
    """sha256 of the file and (row count, order-free hash of all rows) of every table."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        # table names from the fixed SCHEMA whitelist
        tables = {t: tuple(con.execute(f"SELECT count(*), coalesce(sum(hash(t)), 0) FROM {t} AS t").fetchall()[0])
                  for t in SCHEMA}
    finally:
        con.close()
    return sha256_file(db), tables


def _stale(db: Path) -> list[str]:
    return sorted(p.name for p in db.parent.glob(f"{db.name}.*.tmp*"))


def _load_cmd(db: Path, *sources: Path, no_wait: bool = False) -> list[str]:
    cmd = [sys.executable, "-m", "etl", "load", *map(str, sources), "--db", str(db)]
    return cmd + (["--no-wait"] if no_wait else [])


@pytest.fixture(scope="module")
def sizeable(tmp_path_factory, essex_dir) -> dict:
    """A baseline warehouse (the real Essex months) and a sizeable second load (15 shifted months + the
    5 real ones again), with the expected row count of that load."""
    root = tmp_path_factory.mktemp("faults")
    shifted = root / "shifted"
    shifted_rows = _write_shifted_copies(essex_dir, shifted)
    essex_rows = sum(_raw_row_count(essex_dir / m / f"{m}-essex-street.csv") for m in ESSEX_MONTHS)
    base = root / "base.duckdb"
    subprocess.run(_load_cmd(base, essex_dir), cwd=PROJECT_ROOT, check=True, capture_output=True, timeout=120)
    return {"root": root, "shifted": shifted, "essex_dir": essex_dir, "base": base,
            "essex_rows": essex_rows, "shifted_rows": shifted_rows, "base_state": db_state(base)}


def _fresh_copy(sizeable: dict, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "warehouse.duckdb"
    db.write_bytes(sizeable["base"].read_bytes())
    return db


def test_baseline_holds_the_real_rows(sizeable):
    _, tables = sizeable["base_state"]
    assert tables["crimes"][0] == sizeable["essex_rows"] == 84_233  # the README's count of the 5 files


def test_sigkill_at_random_points_leaves_previous_database(sizeable, tmp_path):
    """Kill `python -m etl load` with SIGKILL after seeded random delays spread over a full load's
    duration; after every kill the live file is byte-identical to the one before and readable. The next
    load removes the temporary copies the killed ones left, and a final uninterrupted load is complete."""
    db = _fresh_copy(sizeable, tmp_path / "db")
    before = db_state(db)
    assert before == sizeable["base_state"]
    cmd = _load_cmd(db, sizeable["shifted"], sizeable["essex_dir"])

    # how long an uninterrupted load takes here, on a scratch copy
    scratch = _fresh_copy(sizeable, tmp_path / "scratch")
    started = time.monotonic()
    subprocess.run(_load_cmd(scratch, sizeable["shifted"], sizeable["essex_dir"]), cwd=PROJECT_ROOT,
                   check=True, capture_output=True, timeout=120)
    full_seconds = time.monotonic() - started

    rng = random.Random(KILL_SEED)
    delays = sorted(rng.uniform(0.25, 0.95) * full_seconds for _ in range(KILL_POINTS))
    killed_mid_write = kills = committed_before_kill = 0
    deadline = time.monotonic() + KILL_LOOP_SECONDS
    for delay in delays:
        if time.monotonic() + delay + 2 > deadline:  # a slow, shared machine: stop within the time bound
            break
        kills += 1
        process = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        finished_first = process.poll() is not None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        if finished_first:  # rare: this run was faster than the delay; the new database is complete
            assert process.returncode == 0
            db.write_bytes(sizeable["base"].read_bytes())
            continue
        assert process.returncode == -signal.SIGKILL
        killed_mid_write += bool(_stale(db))
        if db_state(db) != before:
            # the kill landed after os.replace (the load had committed; the process had not yet exited):
            # then the live file must be the COMPLETE new warehouse, never anything in between
            assert _stale(db) == [], "a swapped-in database with a temporary copy still beside it"
            assert _same_except_log(db, scratch), f"partial database after a load killed at {delay:.2f} s"
            committed_before_kill += 1
            db.write_bytes(sizeable["base"].read_bytes())
    assert committed_before_kill < kills, "every kill landed after the swap: the test exercised nothing"
    assert kills >= 4, f"only {kills} kills fitted in {KILL_LOOP_SECONDS} s (a full load took {full_seconds:.1f} s)"
    # at least some kills landed inside the write (a temporary copy was left behind)
    assert killed_mid_write >= 2, f"only {killed_mid_write} of {kills} kills hit the write phase"

    result = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert _stale(db) == []
    _, tables = db_state(db)
    assert tables["crimes"][0] == sizeable["essex_rows"] + sizeable["shifted_rows"]
    assert _same_except_log(db, scratch)


def _same_except_log(a: Path, b: Path) -> bool:
    """Two warehouses with equal data tables (load_log and rejects carry load ids and times)."""
    state_a, state_b = db_state(a)[1], db_state(b)[1]
    return all(state_a[t] == state_b[t] for t in SCHEMA if t not in {"load_log", "rejects"})


def _set_file_size_limit(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@contextlib.contextmanager
def _tmpfs(folder: Path, size_mb: int):
    """A small tmpfs mounted on folder (needs root, as in this project's CI container); yields False
    when mounting is not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(folder)],
                             capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _assert_clear_failure(result: subprocess.CompletedProcess, db: Path, before) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == "The database was not changed."
    assert lines[0].startswith(f"error: {db}: could not write the new database (")
    assert "Traceback" not in result.stderr
    assert db_state(db) == before


def test_disk_full_on_tmpfs_leaves_previous_database(sizeable, tmp_path):
    """The database folder on a 12 MB tmpfs: the live file (5 MB) and its copy fit, the load does not."""
    with _tmpfs(tmp_path / "small", 12) as mounted:
        db = _fresh_copy(sizeable, tmp_path / "small")
        before = db_state(db)
        # without root (no tmpfs), the same room is imposed with RLIMIT_FSIZE: EFBIG instead of ENOSPC
        limit = None if mounted else 12 * 1024**2 - db.stat().st_size
        result = subprocess.run(_load_cmd(db, sizeable["shifted"]), cwd=PROJECT_ROOT, capture_output=True,
                                text=True, timeout=120, preexec_fn=_set_file_size_limit(limit) if limit else None)
        _assert_clear_failure(result, db, before)
        assert ("No space left on device" if mounted else "File too large") in result.stderr
        assert _stale(db) == []


@pytest.mark.parametrize("source", ["shifted", "essex_dir"])
def test_file_size_limit_leaves_previous_database(sizeable, tmp_path, source):
    """RLIMIT_FSIZE just above the live file's size: copying it works, growing the copy fails (EFBIG) —
    while inserting new months (shifted) or at the final checkpoint (the same months again)."""
    db = _fresh_copy(sizeable, tmp_path / "db")
    before = db_state(db)
    limit = db.stat().st_size + 512 * 1024
    result = subprocess.run(_load_cmd(db, sizeable[source]), cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=120, preexec_fn=_set_file_size_limit(limit))
    _assert_clear_failure(result, db, before)
    assert "File too large" in result.stderr
    assert _stale(db) == []


def test_two_loads_at_once_wait_for_each_other(sizeable, tmp_path):
    """Two loads started together: the second waits for the first; both succeed, nothing is double-counted."""
    db = _fresh_copy(sizeable, tmp_path / "db")
    first = subprocess.Popen(_load_cmd(db, sizeable["shifted"]), cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(_load_cmd(db, sizeable["shifted"], sizeable["essex_dir"]), cwd=PROJECT_ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for process in (first, second):
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM crimes").fetchall()[0][0] == (
            sizeable["essex_rows"] + sizeable["shifted_rows"])
        # one log row per force-month file, whichever load wrote it last
        assert con.execute("SELECT count(*), count(DISTINCT month) FROM load_log").fetchall() == [(20, 20)]
        assert con.execute(
            "SELECT count(*) FROM load_log WHERE rows_read <> rows_loaded + rows_rejected").fetchall() == [(0,)]
    finally:
        con.close()
    assert _stale(db) == []


def test_second_load_with_no_wait_fails_clearly(sizeable, tmp_path):
    """`--no-wait` while another load holds the lock: exit 2, a clear message, the first load completes."""
    db = _fresh_copy(sizeable, tmp_path / "db")
    first = subprocess.Popen(_load_cmd(db, sizeable["shifted"]), cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not _stale(db):  # the first load's temporary copy exists once it holds the lock
        assert first.poll() is None and time.monotonic() < deadline, "first load never started writing"
        time.sleep(0.01)
    second = subprocess.run(_load_cmd(db, sizeable["essex_dir"], no_wait=True), cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=60)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert second.returncode == 2
    assert second.stderr.splitlines() == [
        f"error: {db}: another load is writing to this database; try again when it ends",
        "The database was not changed.",
    ]
    _, tables = db_state(db)
    assert tables["crimes"][0] == sizeable["essex_rows"] + sizeable["shifted_rows"]
