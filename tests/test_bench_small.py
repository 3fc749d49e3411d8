"""The benchmark at small scale, end to end (what CI runs so it cannot rot), and the national generator's
format. No timing is asserted: only that every figure is printed and that the answers are right.

Answers are checked three ways: the bench's own DuckDB-vs-pandas agreement, and independently here with
Python's csv module over the raw generated files.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from etl.sources.common import FORCES
from tests.conftest import run_cli

FORCES_N, MONTHS_N, ROWS_PER_MONTH = 6, 24, 12_500  # 300,000 rows (144 files) + a 12,500-row increment
CRIME_TYPES = {"Anti-social behaviour", "Bicycle theft", "Burglary", "Criminal damage and arson", "Drugs",
               "Other crime", "Other theft", "Possession of weapons", "Public order", "Robbery", "Shoplifting",
               "Theft from the person", "Vehicle crime", "Violence and sexual offences"}
STREET_HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
                 "Crime type,Last outcome category,Context")


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory) -> dict:
    workdir = tmp_path_factory.mktemp("bench")
    result = run_cli("bench", "--forces", str(FORCES_N), "--months", str(MONTHS_N), "--rows-per-month",
                     str(ROWS_PER_MONTH), "--workdir", str(workdir), "--warm-runs", "2", "--cold-runs", "1")
    return {"stdout": result.stdout, "workdir": workdir,
            "figures": json.loads((workdir / "results.json").read_text())}


def _street_rows(folder: Path):
    for path in sorted(folder.rglob("*-street.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            for row in reader:
                yield path, row


def test_every_figure_is_printed(bench_run):
    out = bench_run["stdout"]
    for needle in ("full load:", "rows/s", "peak RSS", "incremental load of one month", "database size on disk",
                   "cold med", "warm p95", "worst warm p95", "worst cold p95", "parquet export",
                   "pandas baseline: read CSVs", "pandas / DuckDB-warm query time", "load average at start"):
        assert needle in out, f"missing {needle!r} in:\n{out}"
    for name in ("monthly_series by crime_type (essex)", "monthly_series by district (essex)",
                 "period_change by crime_type (essex)", "expected_vs_observed (essex, incl. model fit)"):
        line = next(line for line in out.splitlines() if name in line)
        assert re.search(r"\d+\.\d+ms .* [\d.]+x  agree$", line), line


def test_pandas_and_duckdb_answers_agree(bench_run):
    figures = bench_run["figures"]
    compared = figures["pandas"]["queries"]
    assert len(compared) >= 6
    for name, entry in compared.items():
        assert entry["agrees"], name
        assert entry["answer"] == figures["queries"][name]["answer"], name
        assert entry["answer"], f"{name}: empty answer"


def test_rows_loaded_match_the_files(bench_run):
    figures, workdir = bench_run["figures"], bench_run["workdir"]
    lines = sum(sum(1 for _ in open(p, encoding="utf-8")) - 1 for p in workdir.rglob("*-street.csv"))
    assert figures["crimes_rows"] == lines
    assert figures["pandas"]["rows"] == lines
    assert lines == pytest.approx(ROWS_PER_MONTH * (MONTHS_N + 1), abs=FORCES_N * (MONTHS_N + 1))


def test_essex_series_matches_the_raw_csv(bench_run):
    """Monthly Essex counts by crime type, counted with csv over the raw files, equal the bench's answer."""
    workdir = bench_run["workdir"]
    counted: Counter = Counter()
    for path, row in _street_rows(workdir / "archive"):
        if "-essex-" in path.name:
            counted[(row["Month"] + "-01", row["Crime type"])] += 1
    for path, row in _street_rows(workdir / "increment"):
        if "-essex-" in path.name:
            counted[(row["Month"] + "-01", row["Crime type"])] += 1
    expected = sorted([month, crime_type, n] for (month, crime_type), n in counted.items())
    answer = bench_run["figures"]["queries"]["monthly_series by crime_type (essex)"]["answer"]
    assert sorted(answer) == expected


def test_generator_format(tmp_path):
    run_cli("etl", "national", "--dest", str(tmp_path), "--forces", "43", "--months", "2", "--rows-per-month", "43000")
    files = sorted(tmp_path.rglob("*.csv"))
    assert len(files) == 86
    national = set(FORCES) - {"btp", "northern-ireland"}
    assert {re.match(r"2021-01-(.+)-street\.csv$", p.name).group(1) for p in files if p.parent.name == "2021-01"} == national
    for path in files[:5] + [tmp_path / "2021-02" / "2021-02-essex-street.csv"]:
        assert path.read_text(encoding="utf-8").splitlines()[0] == STREET_HEADER
        force_id = re.match(r"\d{4}-\d{2}-(.+)-street\.csv$", path.name).group(1)
        types = Counter()
        for _, row in [(path, r) for r in csv.DictReader(open(path, newline="", encoding="utf-8"))]:
            types[row["Crime type"]] += 1
            assert row["Month"] == path.parent.name
            assert row["Reported by"] == row["Falls within"] == FORCES[force_id]
            if row["Crime type"] == "Anti-social behaviour":
                assert row["Crime ID"] == "" and row["Last outcome category"] == ""
            else:
                assert re.fullmatch(r"[0-9a-f]{64}", row["Crime ID"])
            assert re.fullmatch(r".+ \d{3}[A-D]", row["LSOA name"])
            assert re.fullmatch(r"[EW]01\d{6}", row["LSOA code"])
            assert -8.75 <= float(row["Longitude"]) <= 1.85 and 49.8 <= float(row["Latitude"]) <= 60.95
        total = sum(types.values())
        assert set(types) <= CRIME_TYPES
        if force_id == "essex":  # the largest file here: every type occurs
            assert set(types) == CRIME_TYPES
        assert 0.2 < types["Violence and sexual offences"] / total < 0.45
    essex_districts = {re.sub(r"\s+\d{3}[A-Z]$", "", row["LSOA name"])
                       for _, row in _street_rows(tmp_path) if row["Reported by"] == "Essex Police"}
    assert essex_districts == {"Basildon", "Braintree", "Brentwood", "Castle Point", "Chelmsford", "Colchester",
                               "Epping Forest", "Harlow", "Maldon", "Rochford", "Tendring", "Uttlesford",
                               "Southend-on-Sea", "Thurrock"}
