"""`python -m etl export-parquet`: Hive-partitioned Parquet (force_id, year) read back with DuckDB's
read_parquet(hive_partitioning) gives the same rows per force and year as the raw CSV files (counted
independently with the csv module) and as the warehouse."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from etl.load import load_sources
from etl.national import generate_national
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("parquet")
    archive = root / "archive"
    # 4 forces x 14 months from 2021-06: two calendar years
    from datetime import date

    generate_national(archive, forces=4, months=14, rows_per_month=2_000, start=date(2021, 6, 1))
    db = root / "warehouse.duckdb"
    load_sources([archive], db, progress=False)
    out = root / "export"
    result = run_cli("etl", "export-parquet", "--db", str(db), "--out", str(out))
    return {"archive": archive, "db": db, "out": out, "stdout": result.stdout}


def _csv_counts(archive: Path) -> Counter:
    counts: Counter = Counter()
    for path in archive.rglob("*-street.csv"):
        force_id = re.match(r"\d{4}-\d{2}-(.+)-street\.csv$", path.name).group(1)
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                counts[(force_id, int(row["Month"][:4]))] += 1
    return counts


def test_counts_per_force_and_year_match_the_sources(exported):
    expected = _csv_counts(exported["archive"])
    assert len(expected) == 8  # 4 forces x 2 years
    glob = str(exported["out"] / "crimes" / "**" / "*.parquet")
    con = duckdb.connect()
    rows = con.execute(
        "select force_id, year, count(*) from read_parquet(?, hive_partitioning = true) group by all", [glob]
    ).fetchall()
    assert {(f, int(y)): n for f, y, n in rows} == dict(expected)
    warehouse = duckdb.connect(str(exported["db"]), read_only=True)
    try:
        in_db = warehouse.execute("select force_id, year(month), count(*) from crimes group by all").fetchall()
    finally:
        warehouse.close()
    assert {(f, y): n for f, y, n in in_db} == dict(expected)


def test_layout_and_columns(exported):
    out = exported["out"]
    assert (out / "crimes" / "force_id=essex" / "year=2021").is_dir()
    assert (out / "crimes" / "force_id=essex" / "year=2022").is_dir()
    assert (out / "load_log" / "data_0.parquet").is_file()
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["tables"]["crimes"]["partitioned_by"] == ["force_id", "year"]
    con = duckdb.connect()
    one_file = next((out / "crimes" / "force_id=essex" / "year=2022").glob("*.parquet"))
    inside = [row[0] for row in con.execute("describe select * from read_parquet(?, hive_partitioning = false)", [str(one_file)]).fetchall()]
    assert "force_id" not in inside and "year" not in inside  # Hive: partition values live in the paths
    # the months inside a year=2022 file are all in 2022, and typed DATE
    months = con.execute("select distinct year(month), typeof(month) from read_parquet(?, hive_partitioning = false)", [str(one_file)]).fetchall()
    assert months == [(2022, "DATE")]
    assert not (out.parent / "export.partial").exists()


def test_refuses_to_overwrite_without_flag(exported):
    result = run_cli("etl", "export-parquet", "--db", str(exported["db"]), "--out", str(exported["out"]), check=False)
    assert result.returncode == 2
    assert "--overwrite" in result.stderr
