"""data.police.uk loader on the real Essex files: counts checked against a plain csv pass over the raw files."""

from __future__ import annotations

import csv
import re
import shutil
import zipfile
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from etl.load import load_sources
from etl.warehouse import resolve_db_path
from tests.conftest import run_cli


def raw_rows(essex_dir: Path) -> list[dict]:
    rows = []
    for path in sorted(essex_dir.glob("*/*-street.csv")):
        with open(path, encoding="utf-8", newline="") as handle:
            rows.extend(csv.DictReader(handle))
    return rows


@pytest.fixture(scope="module")
def raw(essex_dir):
    return raw_rows(essex_dir)


def test_row_counts_match_raw_files(essex_db, raw):
    con = duckdb.connect(str(essex_db), read_only=True)
    total, asb, months = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE crime_type = 'Anti-social behaviour'), count(DISTINCT month) FROM crimes"
    ).fetchall()[0]
    assert total == len(raw) == 84_233
    assert asb == sum(1 for r in raw if r["Crime type"] == "Anti-social behaviour") == 16_460
    assert months == 5


def test_district_counts_match_plain_count(essex_db, raw):
    expected = Counter(re.sub(r" \d{3}[A-Z]$", "", r["LSOA name"]) if r["LSOA name"] else None for r in raw)
    con = duckdb.connect(str(essex_db), read_only=True)
    loaded = dict(con.execute("SELECT district, count(*) FROM crimes GROUP BY district").fetchall())
    assert loaded == dict(expected)
    # the five largest districts named in the product brief
    top5 = [d for d, _ in Counter({k: v for k, v in expected.items() if k}).most_common(5)]
    assert set(top5) == {"Southend-on-Sea", "Basildon", "Colchester", "Thurrock", "Chelmsford"}


def test_columns_are_cast_once(essex_db, raw):
    con = duckdb.connect(str(essex_db), read_only=True)
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'crimes'").fetchall())
    assert types["month"] == "DATE" and types["longitude"] == "DOUBLE" and types["latitude"] == "DOUBLE"
    first = raw[0]
    row = con.execute(
        "SELECT month, longitude, latitude, lsoa_code, district, last_outcome_category, context FROM crimes WHERE crime_id = ?",
        [first["Crime ID"]],
    ).fetchall()[0]
    assert row[0] == date(int(first["Month"][:4]), int(first["Month"][5:]), 1)
    assert row[1] == pytest.approx(float(first["Longitude"])) and row[2] == pytest.approx(float(first["Latitude"]))
    assert row[3] == first["LSOA code"]
    assert row[5] == first["Last outcome category"]
    assert row[6] is None  # empty Context is NULL, not ''


def test_load_log_and_lsoa(essex_db, reference_data):
    con = duckdb.connect(str(essex_db), read_only=True)
    log = con.execute(
        "SELECT kind, force_id, month, rows_read, rows_loaded, rows_rejected, length(sha256) FROM load_log WHERE kind = 'street' ORDER BY month"
    ).fetchall()
    assert [r[2] for r in log] == [date(2018, 10, 1), date(2018, 11, 1), date(2018, 12, 1), date(2019, 1, 1), date(2019, 2, 1)]
    assert all(r[1] == "essex" and r[3] == r[4] + r[5] and r[6] == 64 for r in log)
    # lsoa: Essex has 1,077 LSOAs in 14 local authorities; residents parsed from "1,563"-style numbers
    with open(reference_data / "ons" / "lsoa11-to-local-authority-and-force.csv", encoding="utf-8") as handle:
        essex_codes = {r["LSOA Code"] for r in csv.DictReader(handle) if r["Police_force"] == "Essex"}
    residents = {}
    with open(reference_data / "ons" / "census2011-lsoa-usual-residents.csv", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        for record in reader:
            residents[record[6]] = int(record[9].replace(",", ""))
    n, districts, people = con.execute(
        "SELECT count(*), count(DISTINCT district), sum(usual_residents) FROM lsoa WHERE force_id = 'essex'"
    ).fetchall()[0]
    assert n == len(essex_codes) == 1077
    assert districts == 14
    assert people == sum(residents[c] for c in essex_codes)


def test_reload_is_idempotent_and_revisions_replace(tmp_path, essex_dir):
    db = tmp_path / "w.duckdb"
    month_dir = tmp_path / "src" / "2019-01"
    shutil.copytree(essex_dir / "2019-01", month_dir)
    month_dir.chmod(0o755)
    load_sources([month_dir], db, progress=False)
    load_sources([month_dir], db, progress=False)
    con = duckdb.connect(str(db), read_only=True)
    first = con.execute("SELECT count(*), count(DISTINCT crime_id) FILTER (WHERE crime_id IS NOT NULL) FROM crimes").fetchall()[0]
    snapshot = con.execute("SELECT * FROM crimes ORDER BY ALL").fetchall()
    assert con.execute("SELECT count(*) FROM load_log").fetchall()[0][0] == 1
    con.close()
    with open(month_dir / "2019-01-essex-street.csv", encoding="utf-8", newline="") as handle:
        lines = handle.readlines()
    target = lines[5].split(",")
    crime_id = target[0]
    target[9] = "Robbery"  # data.police.uk revises a month: one row's crime type changes
    (month_dir / "2019-01-essex-street.csv").chmod(0o644)
    lines[5] = ",".join(target)
    with open(month_dir / "2019-01-essex-street.csv", "w", encoding="utf-8", newline="") as handle:
        handle.writelines(lines)
    load_sources([month_dir], db, progress=False)
    con = duckdb.connect(str(db), read_only=True)
    again = con.execute("SELECT count(*), count(DISTINCT crime_id) FILTER (WHERE crime_id IS NOT NULL) FROM crimes").fetchall()[0]
    assert again == first  # no duplicates
    assert con.execute("SELECT crime_type FROM crimes WHERE crime_id = ?", [crime_id]).fetchall() == [("Robbery",)]
    assert len(snapshot) == first[0]


def test_same_files_twice_give_identical_tables(tmp_path, essex_dir):
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    load_sources([essex_dir / "2018-12"], a, progress=False)
    load_sources([essex_dir / "2018-12"], b, progress=False)
    load_sources([essex_dir / "2018-12"], b, progress=False)
    rows = []
    for db in (a, b):
        con = duckdb.connect(str(db), read_only=True)
        rows.append(con.execute("SELECT * FROM crimes ORDER BY ALL").fetchall())
        con.close()
    assert rows[0] == rows[1]


def test_zip_as_downloaded(tmp_path, essex_dir, raw):
    archive = tmp_path / "essex.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(essex_dir.glob("*/*.csv")):
            bundle.write(path, f"{path.parent.name}/{path.name}")
    db = tmp_path / "zip.duckdb"
    summary = load_sources([archive], db, progress=False)
    assert summary.rows_loaded == len(raw)
    con = duckdb.connect(str(db), read_only=True)
    paths = [r[0] for r in con.execute("SELECT path FROM load_log ORDER BY path").fetchall()]
    assert all("essex.zip!" in p for p in paths)


STOP_HEADER = (
    "Type,Date,Part of a policing operation,Policing operation,Latitude,Longitude,Gender,Age range,"
    "Self-defined ethnicity,Officer-defined ethnicity,Legislation,Object of search,Outcome,"
    "Outcome linked to object of search,Removal of more than just outer clothing"
)
OUTCOMES_HEADER = "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Outcome type"


def test_kind_is_recognised_from_header_not_name(tmp_path):
    """Stop-and-search and outcomes files load by their header, whatever the file is called, and keep every column."""
    folder = tmp_path / "2020-04"
    folder.mkdir()
    (folder / "2020-04-kent-stop-and-search.csv").write_text(
        STOP_HEADER + "\n"
        "Person search,2020-04-01T00:30:00+01:00,False,,51.27,1.08,Male,18-24,White - English,White,"
        "Misuse of Drugs Act 1971 (section 23),Controlled drugs,Arrest,True,False\n"
        "Person and Vehicle search,2020-04-30T23:10:00+01:00,,,51.30,1.10,Female,over 34,,,"
        "Police and Criminal Evidence Act 1984 (section 1),Stolen goods,A no further action disposal,,\n",
        encoding="utf-8",
    )
    # an outcomes file with a misleading name: the header decides
    (folder / "2020-04-kent-street.csv").write_text(
        OUTCOMES_HEADER + "\n"
        "abc123,2020-04,Kent Police,Kent Police,1.08,51.27,On or near High Street,E01024000,Canterbury 001A,"
        "Offender given a caution\n",
        encoding="utf-8",
    )
    db = tmp_path / "k.duckdb"
    summary = load_sources([folder], db, progress=False)
    kinds = sorted(f.kind for f in summary.files)
    assert kinds == ["outcomes", "stop-and-search"]
    con = duckdb.connect(str(db), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    rows = con.execute(
        "SELECT occurred_at, month, part_of_a_policing_operation, object_of_search, outcome_linked_to_object_of_search, force_id "
        "FROM stop_search ORDER BY occurred_at"
    ).fetchall()
    # 00:30 BST on 1 April is 23:30 UTC on 31 March, yet the search belongs to April as published
    assert rows[0][0].replace(tzinfo=None) == datetime(2020, 3, 31, 23, 30)
    assert rows[0][1] == date(2020, 4, 1) and rows[0][2] is False and rows[0][4] is True and rows[0][5] == "kent"
    assert rows[1][2] is None and rows[1][3] == "Stolen goods"
    assert con.execute("SELECT outcome_type, district, force_id FROM outcomes").fetchall() == [
        ("Offender given a caution", "Canterbury", "kent")
    ]


def test_several_forces_in_one_database(tmp_path, essex_dir):
    kent = tmp_path / "2019-01"
    kent.mkdir()
    (kent / "2019-01-kent-street.csv").write_text(
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context\n"
        "k1,2019-01,Kent Police,Kent Police,1.08,51.27,On or near High Street,E01024000,Canterbury 001A,Burglary,Under investigation,\n"
        ",2019-01,Kent Police,Kent Police,1.09,51.28,On or near Station Road,E01024001,Canterbury 001B,Anti-social behaviour,,\n",
        encoding="utf-8",
    )
    db = tmp_path / "two.duckdb"
    load_sources([essex_dir / "2019-01", kent], db, progress=False)
    con = duckdb.connect(str(db), read_only=True)
    by_force = dict(con.execute("SELECT force_id, count(*) FROM crimes WHERE month = DATE '2019-01-01' GROUP BY 1").fetchall())
    with open(essex_dir / "2019-01" / "2019-01-essex-street.csv", encoding="utf-8") as handle:
        essex_rows = sum(1 for _ in handle) - 1
    assert by_force == {"essex": essex_rows, "kent": 2}


def test_status_reports_gaps(tmp_path, essex_dir):
    parent = tmp_path / "archive"
    parent.mkdir()
    for month in ("2018-10", "2018-12", "2019-01"):
        shutil.copytree(essex_dir / month, parent / month)
    db = tmp_path / "gaps.duckdb"
    run_cli("etl", "load", "--db", str(db), str(parent))
    status = run_cli("etl", "status", "--db", str(db)).stdout
    assert "2018-10..2019-01" in status
    assert "missing months: 2018-11" in status


def test_database_location_rules(tmp_path, monkeypatch):
    monkeypatch.delenv("CRIME_MONITOR_DB", raising=False)
    assert resolve_db_path(None).parts[-2:] == ("data", "warehouse.duckdb")
    monkeypatch.setenv("CRIME_MONITOR_DB", str(tmp_path / "env.duckdb"))
    assert resolve_db_path(None) == tmp_path / "env.duckdb"
    assert resolve_db_path(tmp_path / "flag.duckdb") == tmp_path / "flag.duckdb"


def test_cli_uses_environment_database(tmp_path, essex_dir):
    db = tmp_path / "envdb.duckdb"
    run_cli("etl", "load", str(essex_dir / "2019-02"), env={"CRIME_MONITOR_DB": str(db)})
    assert db.exists()
    out = run_cli("etl", "status", env={"CRIME_MONITOR_DB": str(db)}).stdout
    assert "2019-02..2019-02" in out


def test_streaming_and_exact_passes_load_the_same_rows(tmp_path, essex_dir):
    """Files named as data.police.uk names them load in one streaming pass; the same files renamed
    `street.csv` (force and month then come from their rows and folder) go through the exact pass that keeps
    the raw rows. Both give the same crimes, row for row in file order."""
    renamed = tmp_path / "renamed"
    for path in sorted(essex_dir.glob("*/*-street.csv")):
        target = renamed / path.parent.name / "street.csv"
        target.parent.mkdir(parents=True)
        shutil.copyfile(path, target)
    tables = []
    for source in (essex_dir, renamed):
        db = tmp_path / f"{source.name}.duckdb"
        summary = load_sources([source], db, progress=False)
        assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (84_233, 84_233, 0)
        con = duckdb.connect(str(db), read_only=True)
        try:
            tables.append(con.execute("SELECT * FROM crimes ORDER BY month, rowid").fetchall())
            assert con.execute("SELECT DISTINCT force_id FROM load_log").fetchall() == [("essex",)]
        finally:
            con.close()
    assert tables[0] == tables[1]
    assert len(tables[0]) == 84_233


def test_padded_values_are_trimmed_and_empty_ones_are_null(tmp_path):
    """Leading and trailing spaces are removed from every text column and an empty value is NULL, in both
    passes (the exact pass runs for the file with a rejected row)."""
    header = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,"
              "Last outcome category,Context")
    padded = f"  {'c' * 64}  ,2019-01, Essex Police ,Essex Police,0.47,51.74,  On or near Mill Lane ,E01021001 ," \
             " Chelmsford 001A , Burglary ,  ,"
    clean = (f"{'c' * 64}", "Essex Police", "On or near Mill Lane", "E01021001", "Chelmsford 001A", "Chelmsford",
             "Burglary", None, None)
    for name, extra in (("streaming", []), ("exact", ["x,2019-13,Essex Police,Essex Police,,,,,,Burglary,,"])):
        folder = tmp_path / name / "2019-01"
        folder.mkdir(parents=True)
        (folder / "2019-01-essex-street.csv").write_text("\n".join([header, padded, *extra]) + "\n")
        db = tmp_path / f"{name}.duckdb"
        load_sources([folder], db, progress=False, accept_rejects=True)
        con = duckdb.connect(str(db), read_only=True)
        try:
            assert con.execute(
                "SELECT crime_id, reported_by, location, lsoa_code, lsoa_name, district, crime_type,"
                " last_outcome_category, context FROM crimes").fetchall() == [clean]
        finally:
            con.close()


def test_files_sent_back_from_a_streaming_batch_load_in_exact_batches(tmp_path, monkeypatch):
    """A streaming batch may hold more files than an exact-pass batch: the files it sends to the exact pass
    (here three with a rejected row, among five clean ones) are loaded in exact batches of their own, and
    every file still balances and keeps its rejects' physical lines (counted here by hand)."""
    from etl.sources import police_uk

    monkeypatch.setattr(police_uk, "BATCH_FILES", 2)  # exact batches of two files at most
    monkeypatch.setattr(police_uk, "STREAM_BATCH_FILES", 100)  # all eight files in one streaming batch
    header = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,"
              "Last outcome category,Context")
    bad_months = {"2019-02", "2019-05", "2019-07"}
    for number in range(1, 9):
        month = f"2019-{number:02d}"
        rows = [f"{number:02d}{row:062x},{month},Essex Police,Essex Police,0.47,51.74,On or near Mill Lane,"
                f"E01021001,Chelmsford 001A,Burglary,,"
                for row in range(3)]
        if month in bad_months:  # line 3 of the file (header = line 1): a row of another month
            rows[1] = rows[1].replace(f",{month},", ",2018-12,")
        folder = tmp_path / "archive" / month
        folder.mkdir(parents=True)
        (folder / f"{month}-essex-street.csv").write_text("\n".join([header, *rows]) + "\n")
    db = tmp_path / "w.duckdb"
    summary = load_sources([tmp_path / "archive"], db, progress=False, accept_rejects=True)
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (24, 21, 3)
    con = duckdb.connect(str(db), read_only=True)
    try:
        by_month = dict(con.execute("SELECT strftime(month, '%Y-%m'), count(*) FROM crimes GROUP BY 1").fetchall())
        rejects = con.execute("SELECT path, line_number FROM rejects ORDER BY path").fetchall()
    finally:
        con.close()
    assert by_month == {f"2019-{n:02d}": (2 if f"2019-{n:02d}" in bad_months else 3) for n in range(1, 9)}
    assert rejects == [(str(tmp_path / "archive" / m / f"{m}-essex-street.csv"), 3) for m in sorted(bad_months)]
