"""The side-by-side load bench (bench/load.py) on one copy of the real Essex months: both sides load every
row, and the figure is printed against its target. No timing is asserted."""

from __future__ import annotations

import re

import duckdb

from bench.load import ESSEX_MONTHS, essex_copies, report_line, side_by_side


def test_side_by_side_loads_the_same_rows_and_prints_the_ratio(tmp_path, essex_dir):
    archive = essex_copies(essex_dir, tmp_path / "archive", copies=2)
    # rows counted on the raw files: lines minus the header (no quoted line breaks in these files)
    raw_rows = sum((essex_dir / m / f"{m}-essex-street.csv").read_bytes().count(b"\n") - 1 for m in ESSEX_MONTHS)
    assert archive["rows"] == 2 * raw_rows and archive["files"] == 10
    printed: list[str] = []
    figures = side_by_side(archive["archive"], tmp_path, 1, say=printed.append)
    assert [line.split(":")[1].split()[0] for line in printed] == ["read_csv", "etl"]
    line = report_line(figures)
    assert re.fullmatch(r"load vs DuckDB read_csv \(same files, same run, median of 1\): \d+\.\d\d s against \d+\.\d\d s"
                        r" = \d+\.\d\dx \[target <= 1\.5x: (met|MISSED)\]; CPU \d+\.\d s against \d+\.\d s = \d+\.\d\dx",
                        line), line
    assert figures["ratio"] == figures["wall_s"]["etl load"] / figures["wall_s"]["read_csv"]
    # the two databases were removed; a load of the relabelled copies holds every row, months moved back
    assert not list(tmp_path.glob("side-by-side-*"))
    db = tmp_path / "check.duckdb"
    from etl.load import load_sources

    load_sources([archive["archive"]], db, progress=False)
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*), count(DISTINCT month), min(month)::VARCHAR FROM crimes").fetchall() == [
            (2 * raw_rows, 10, "2018-05-01")]
    finally:
        con.close()
