"""Bad input: every fault in the generated corpus (tests/badinput) gets its exact error or reject reason,
rows read = rows loaded + rows rejected for every file, and a failed load leaves the database byte-identical.

The corpus is written into tmp_path by the tests; nothing binary is kept in git.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pytest

import etl.load
from etl.load import load_sources
from etl.warehouse import SCHEMA, LoadError, sha256_file
from tests.badinput import (
    BASELINE_FILES,
    CASES,
    Case,
    S,
    as_of_now,
    build_baseline,
    good_street,
    table_snapshot,
    zip_bytes,
)
from tests.conftest import PROJECT_ROOT, run_cli

# rows per month in the baseline warehouse, counted by hand from BASELINE_FILES
BASELINE_ROWS = {"2018-11": 2, "2018-12": 4}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> tuple[Path, str, dict]:
    """A small warehouse every case is loaded on top of, with its sha256 and table contents."""
    folder = tmp_path_factory.mktemp("baseline")
    db = folder / "base.duckdb"
    build_baseline(folder / "sources", db)
    return db, sha256_file(db), table_snapshot(db)


def _prepare(case: Case, tmp_path: Path, baseline) -> tuple[list[Path], Path, Path]:
    base_db, _, _ = baseline
    root = tmp_path / "in"
    root.mkdir()
    sources = case.write(root)
    db = tmp_path / "db" / "warehouse.duckdb"
    db.parent.mkdir()
    shutil.copyfile(base_db, db)
    return sources, root, db


def _fresh_db(tmp_path: Path, baseline) -> tuple[Path, Path]:
    """A copy of the baseline warehouse and an empty input folder."""
    root = tmp_path / "in"
    root.mkdir()
    db = tmp_path / "db" / "warehouse.duckdb"
    db.parent.mkdir()
    shutil.copyfile(baseline[0], db)
    return root, db


def _leftovers(db: Path) -> list[str]:
    """Files beside the database other than the database and its lock file."""
    return sorted(p.name for p in db.parent.iterdir() if p.name not in {db.name, db.name + ".lock"})


def test_corpus_covers_at_least_30_faults():
    assert len({case.name for case in CASES}) == len(CASES) >= 30
    assert all(case.error is not None or case.counts for case in CASES), "every case says what must happen"


@pytest.mark.parametrize("case", [c for c in CASES if c.error is not None], ids=lambda c: c.name)
def test_file_level_fault_fails_clearly_and_leaves_database_unchanged(case: Case, tmp_path, baseline, monkeypatch):
    _, base_sha, base_tables = baseline
    sources, root, db = _prepare(case, tmp_path, baseline)
    if "zip_limit" in case.env:
        monkeypatch.setattr(etl.load, "MAX_ZIP_UNCOMPRESSED_BYTES", case.env["zip_limit"])
    with pytest.raises(LoadError) as caught:
        load_sources(sources, db, progress=False, **case.load_options(root))
    assert str(caught.value) in as_of_now(case.error.format(root=root))
    assert sha256_file(db) == base_sha
    assert table_snapshot(db) == base_tables
    assert _leftovers(db) == []


@pytest.mark.parametrize("case", [c for c in CASES if c.error is None], ids=lambda c: c.name)
def test_row_level_fault_is_rejected_with_reason_and_rows_balance(case: Case, tmp_path, baseline):
    sources, root, db = _prepare(case, tmp_path, baseline)
    load_sources(sources, db, progress=False, **case.load_options(root))
    con = duckdb.connect(str(db), read_only=True)
    try:
        (load_id,) = con.execute(
            "SELECT load_id FROM load_log GROUP BY 1 ORDER BY max(loaded_at) DESC LIMIT 1").fetchall()[0]
        logged = {
            path: (read, loaded, rejected)
            for path, read, loaded, rejected in con.execute(
                "SELECT path, rows_read, rows_loaded, rows_rejected FROM load_log WHERE load_id = ?", [load_id]
            ).fetchall()
        }
        rejects = con.execute(
            "SELECT path, line_number, reason, raw_line FROM rejects WHERE load_id = ? ORDER BY path, line_number",
            [load_id],
        ).fetchall()
        unbalanced = con.execute(
            "SELECT path FROM load_log WHERE rows_read <> rows_loaded + rows_rejected").fetchall()
        crimes_by_month = dict(con.execute(
            "SELECT strftime(month, '%Y-%m'), count(*) FROM crimes GROUP BY 1").fetchall())
        # rows now in every other data table (names from the fixed SCHEMA; the baseline has none there)
        other_rows = sum(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
                         for table in SCHEMA if table not in {"crimes", "meta", "load_log", "rejects"})
    finally:
        con.close()

    assert logged == {f"{root}/{name}": counts for name, counts in case.counts.items()}
    assert unbalanced == []
    assert [(p, line) for p, line, _, _ in rejects] == [(f"{root}/{r.file}", r.line) for r in case.rejects]
    for (_, _, reason, _), expected in zip(rejects, case.rejects):
        assert expected.matches(reason), (reason, expected.reason)
    # the raw text kept with each reject is the physical line the reason names
    for (path, line, _reason, raw), expected in zip(rejects, case.rejects):
        if "!" in expected.file:
            continue
        physical = (root / expected.file).read_bytes().decode("utf-8-sig").splitlines()[line - 1]
        assert raw == physical[: len(raw)] and len(raw) >= min(len(physical), 2000)
    # rows loaded are really in the table: a street file replaces its month; other months untouched
    street_loaded = sum(loaded for name, (_, loaded, _) in case.counts.items() if name.endswith("-street.csv"))
    assert other_rows == sum(loaded for name, (_, loaded, _) in case.counts.items() if not name.endswith("-street.csv"))
    if street_loaded:
        assert crimes_by_month == {**BASELINE_ROWS, "2019-01": street_loaded}
    else:
        assert crimes_by_month == BASELINE_ROWS


def test_reloading_the_same_month_never_double_counts(tmp_path, baseline):
    """Loading 2018-12 again (same file, then a revised one) replaces the month; it never adds to it."""
    root, db = _fresh_db(tmp_path, baseline)
    relative = "2018-12/2018-12-essex-street.csv"
    month = tmp_path / "again" / relative
    month.parent.mkdir(parents=True)
    month.write_bytes(BASELINE_FILES[relative])
    for _ in range(2):
        load_sources([month], db, progress=False)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM crimes WHERE month = DATE '2018-12-01'").fetchall() == [(4,)]
    assert con.execute("SELECT count(*) FROM load_log WHERE month = DATE '2018-12-01'").fetchall() == [(1,)]
    con.close()
    month.write_bytes(good_street("2018-12", count=5, start=40))
    load_sources([month], db, progress=False)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM crimes WHERE month = DATE '2018-12-01'").fetchall() == [(5,)]
    assert con.execute("SELECT count(*) FROM crimes").fetchall() == [(5 + BASELINE_ROWS["2018-11"],)]
    con.close()


def test_one_bad_file_among_good_ones_loads_nothing(tmp_path, baseline):
    """A load is all or nothing: a good month beside a bad one is not loaded either, even when the bad
    one is found only inside the write (after the good month was staged)."""
    _, base_sha, base_tables = baseline
    root, db = _fresh_db(tmp_path, baseline)
    (root / "2019-02").mkdir()
    (root / "2019-02" / "2019-02-essex-street.csv").write_bytes(good_street("2019-02", count=3))
    (root / "2019-03").mkdir()
    (root / "2019-03" / "2019-03-essex-street.csv").write_bytes(good_street("2019-03", count=0))
    with pytest.raises(LoadError, match="2019-03-essex-street.csv: the file has a header but no rows"):
        load_sources([root], db, progress=False)
    assert sha256_file(db) == base_sha
    assert table_snapshot(db) == base_tables
    assert _leftovers(db) == []


def test_cli_reports_error_and_unchanged_database(tmp_path, baseline):
    """`python -m etl load` on a bad file: exit status 2, the error with file and line, no change."""
    _, base_sha, _ = baseline
    case = next(c for c in CASES if c.name == "not_utf8")
    sources, root, db = _prepare(case, tmp_path, baseline)
    result = run_cli("etl", "load", *map(str, sources), "--db", str(db), check=False)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: {case.error.format(root=root)}", "The database was not changed."]
    assert sha256_file(db) == base_sha


def test_corpus_reaches_every_loader(tmp_path):
    """Some case of the corpus is recognised by each source module (so every loader meets bad input)."""
    from etl.sources import source_modules
    from etl.sources.common import scan_file

    reached: set[str] = set()
    for case in CASES:
        folder = tmp_path / case.name
        case.write(folder)
        for path in folder.rglob("*"):
            if not path.is_file() or path.suffix == ".zip":
                continue
            for module in source_modules():
                claim = getattr(module, "claim_file", None)
                try:
                    options = case.load_options(folder)
                    if (claim and claim(path, options)) or module.detect(scan_file(path).header, options):
                        reached.add(module.__name__)
                        break
                except LoadError:
                    break
    assert reached == {m.__name__ for m in source_modules()}


def _case(name: str) -> Case:
    return next(c for c in CASES if c.name == name)


def test_accept_rejects_lets_a_shrinking_file_replace_its_month(tmp_path, baseline):
    """With --accept-rejects the file refused above replaces December with its 9 accepted rows, and its
    rejected row is kept with its line and reason."""
    case = _case("a_tenth_rejected_replacing_a_month")
    sources, root, db = _prepare(case, tmp_path, baseline)
    summary = load_sources(sources, db, progress=False, accept_rejects=True)
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (10, 9, 1)
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert dict(con.execute("SELECT strftime(month, '%Y-%m'), count(*) FROM crimes GROUP BY 1").fetchall()) == {
            "2018-11": BASELINE_ROWS["2018-11"], "2018-12": 9}
        assert con.execute("SELECT path, line_number FROM rejects").fetchall() == [
            (f"{root}/2018-12/2018-12-essex-street.csv", 6)]
    finally:
        con.close()


def _data_lines(path: Path) -> int:
    """Rows of a real data.police.uk file (no quoted line breaks in them): its lines minus the header."""
    return path.read_bytes().count(b"\n") - 1


def test_the_issues_example_on_real_files(tmp_path, essex_dir):
    """November's real file copied into December's folder as December's file: refused (exit 2, database
    unchanged, the message says how many rows and why); accepted explicitly, December is emptied."""
    db = tmp_path / "db" / "warehouse.duckdb"
    load_sources([essex_dir / "2018-11", essex_dir / "2018-12"], db, progress=False)
    december = _data_lines(essex_dir / "2018-12" / "2018-12-essex-street.csv")
    november = _data_lines(essex_dir / "2018-11" / "2018-11-essex-street.csv")
    copy = tmp_path / "copy" / "2018-12" / "2018-12-essex-street.csv"
    copy.parent.mkdir(parents=True)
    shutil.copyfile(essex_dir / "2018-11" / "2018-11-essex-street.csv", copy)
    before = sha256_file(db)
    result = run_cli("etl", "load", str(copy.parent), "--db", str(db), check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"error: {copy}: all {november:,} rows of this file were rejected (first: line 2: Month 2018-11 disagrees"
        f" with the file's month 2018-12 (from its name or folder)); loading it would replace the {december:,} rows"
        " already in the warehouse (crimes of essex 2018-12) with nothing. Fix the file, or pass --accept-rejects to"
        " load it anyway (the rejects are then kept with their reasons)",
        "The database was not changed.",
    ]
    assert sha256_file(db) == before
    result = run_cli("etl", "load", str(copy.parent), "--db", str(db), "--accept-rejects")
    assert f"{november:,} rows read, 0 loaded, {november:,} rejected" in result.stdout
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM crimes WHERE month = DATE '2018-12-01'").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM rejects WHERE path = ?", [str(copy)]).fetchall() == [(november,)]
    finally:
        con.close()


def test_temporary_folder_filling_up_while_unzipping(tmp_path, baseline, monkeypatch):
    """A zip whose member does not fit in the temporary folder (a 1 MB tmpfs; without root, a file size
    limit in a child process): a clear error naming the zip and member, no traceback, database unchanged."""
    from tests.test_faults import _set_file_size_limit, _tmpfs

    _, base_sha, _ = baseline
    root, db = _fresh_db(tmp_path, baseline)
    (root / "download.zip").write_bytes(zip_bytes({S: good_street(count=12_000)}))  # about 2 MB unpacked
    expected_start = f"error: {root}/download.zip: the temporary folder "
    with _tmpfs(tmp_path / "small-tmp", 1) as mounted:
        if mounted:
            monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "small-tmp"))
            with pytest.raises(LoadError) as caught:
                load_sources([root / "download.zip"], db, progress=False)
            message = f"error: {caught.value}"
            assert "(No space left on device)" in message
        else:
            result = subprocess.run([sys.executable, "-m", "etl", "load", str(root / "download.zip"), "--db", str(db)],
                                    cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
                                    preexec_fn=_set_file_size_limit(db.stat().st_size + 1_000_000))
            assert result.returncode == 2 and "Traceback" not in result.stderr
            message = result.stderr.splitlines()[0]
            assert "(File too large)" in message
    assert message.startswith(expected_start)
    assert (" ran out of room while unpacking member '2019-01/2019-01-essex-street.csv' (" in message
            and message.endswith("; free some space there or set TMPDIR to a folder with more room"))
    assert sha256_file(db) == base_sha
    assert _leftovers(db) == []


def test_date_window_from_option_and_environment(tmp_path, baseline):
    """The 1999 collision loads once the window starts earlier (option or environment); a window bound that
    is not a date is a clear error."""
    case = _case("stats19_collision_before_2000")
    sources, root, db = _prepare(case, tmp_path, baseline)
    summary = load_sources(sources, db, progress=False, earliest_date="1990-01-01")
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (2, 2, 0)
    other = tmp_path / "env.duckdb"
    result = run_cli("etl", "load", *map(str, sources), "--db", str(other), env={"CRIME_MONITOR_EARLIEST_DATE": "1999-01-05"})
    assert "2 rows read, 2 loaded, 0 rejected" in result.stdout
    result = run_cli("etl", "load", *map(str, sources), "--db", str(other), "--latest-date", "2019-13-01", check=False)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["error: --latest-date '2019-13-01' is not a date in the form YYYY-MM-DD",
                                          "The database was not changed."]
    # a window that ends before the collision of 2022: both rows are outside it
    result = run_cli("etl", "load", *map(str, sources), "--db", str(other), "--latest-date", "2021-12-31",
                     "--accept-rejects")
    assert "2 rows read, 0 loaded, 2 rejected" in result.stdout


def test_a_file_that_cannot_be_read_is_a_message(tmp_path):
    """An OS error while scanning (here: a folder where a file was expected) names the file, no traceback."""
    from etl.sources.common import scan_file

    folder = tmp_path / "2019-01-essex-street.csv"
    folder.mkdir()
    with pytest.raises(LoadError) as caught:
        scan_file(folder)
    assert str(caught.value) == f"{folder}: cannot read the file (Is a directory)"
