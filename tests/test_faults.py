"""Faults during a load: SIGKILL at every instrumented step, a full disk, two loads at once; and the swap
keeping the warehouse's mode and owner.

Each fault leaves the live database byte-identical to the one before (sha256 of the file and a hash of every
table) or, once the new file is swapped in, the complete new warehouse; readable, and free of stale temporary
files once the next load has run.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import stat
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
# the steps of a load of one police.uk folder, in order (etl.warehouse.fault_point and its callers)
LOAD_STEPS = ["locked", "copied", "police_uk batch street", "loaded etl.sources.police_uk", "loaded", "committed",
              "checkpointed", "synced", "swapped", "done"]


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


def test_sigkill_at_every_step_leaves_old_or_complete_new_database(sizeable, tmp_path):
    """SIGKILL the load at each of its instrumented steps in turn (`CRIME_MONITOR_KILL_AT=k`: the process
    kills itself on reaching step k, so no timing is involved). Every kill lands; until the swap the live
    file is byte-identical to the one before, from the swap on it is the complete new warehouse; the next
    load removes the temporary copies the killed ones left, and an uninterrupted load is complete."""
    db = _fresh_copy(sizeable, tmp_path / "db")
    before = db_state(db)
    assert before == sizeable["base_state"]
    sources = [sizeable["shifted"]]
    scratch = _fresh_copy(sizeable, tmp_path / "scratch")
    trace = tmp_path / "steps.txt"
    subprocess.run(_load_cmd(scratch, *sources), cwd=PROJECT_ROOT, check=True, capture_output=True, timeout=120,
                   env={**os.environ, "CRIME_MONITOR_FAULT_TRACE": str(trace)})
    steps = [line.split(" ", 1) for line in trace.read_text().splitlines()]
    assert [name for _, name in steps] == LOAD_STEPS

    landed = 0
    for number, name in steps:
        result = subprocess.run(_load_cmd(db, *sources), cwd=PROJECT_ROOT, capture_output=True, timeout=120,
                                env={**os.environ, "CRIME_MONITOR_KILL_AT": number})
        assert result.returncode == -signal.SIGKILL, f"the kill at step {number} ({name}) did not land"
        landed += 1
        if LOAD_STEPS.index(name) < LOAD_STEPS.index("swapped"):
            assert db_state(db) == before, f"the live database changed by a load killed at {name}"
            assert bool(_stale(db)) == (name != "locked"), name  # the copy exists from step 'copied' on
        else:
            assert _stale(db) == [] and _same_except_log(db, scratch), f"partial database after a kill at {name}"
            db.write_bytes(sizeable["base"].read_bytes())
    assert landed == len(LOAD_STEPS)

    result = subprocess.run(_load_cmd(db, *sources), cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert _stale(db) == []
    _, tables = db_state(db)
    assert tables["crimes"][0] == sizeable["essex_rows"] + sizeable["shifted_rows"]
    assert _same_except_log(db, scratch)


def test_swap_keeps_the_warehouse_mode_and_owner(sizeable, tmp_path):
    """A warehouse kept at mode 600 (and, when the test runs as root, owned by another user) keeps its
    mode and owner across a load, although the load replaced the file (a new inode)."""
    db = _fresh_copy(sizeable, tmp_path / "db")
    os.chmod(db, 0o600)
    owner = (4321, 4322) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    os.chown(db, *owner)
    inode = db.stat().st_ino
    result = subprocess.run(_load_cmd(db, sizeable["essex_dir"] / "2019-01"), cwd=PROJECT_ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    info = db.stat()
    assert info.st_ino != inode
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert (info.st_uid, info.st_gid) == owner


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
