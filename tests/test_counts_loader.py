"""The aggregate-counts loader on the real London Datastore and Home Office tables, and on small tidy files
with bad rows. Expected values come from the csv module over the raw files."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date
from pathlib import Path

import duckdb
import pytest

from etl.load import load_sources
from etl.warehouse import LoadError
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def london_file(reference_data: Path) -> Path:
    return reference_data / "london-datastore" / "mps-borough-level-crime-historical.csv"


@pytest.fixture(scope="module")
def home_office_file(reference_data: Path) -> Path:
    return reference_data / "home-office" / "prc-pfa-2017-18-by-offence.csv"


def test_london_wide_file_through_the_cli(tmp_path, london_file):
    db = tmp_path / "london.duckdb"
    result = run_cli("etl", "load", str(london_file), "--db", str(db))
    assert "949 rows read, 949 loaded, 0 rejected" in result.stdout
    with open(london_file, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    by_borough_month = defaultdict(int)
    for row in body:
        for name, value in zip(header[3:], row[3:]):
            by_borough_month[(row[2], name)] += int(value)
    con = duckdb.connect(str(db), read_only=True)
    loaded = {
        (area, f"{start:%Y%m}"): total
        for area, start, total in con.execute(
            "select area, period_start, sum(count) from counts where dataset = 'london-datastore' group by all"
        ).fetchall()
    }
    assert loaded == by_borough_month
    assert con.execute("select count(*) from counts").fetchall()[0][0] == len(body) * (len(header) - 3)
    periods = con.execute(
        "select distinct period_type, force_id from counts"
    ).fetchall()
    assert periods == [("month", "metropolitan")]
    # one sample row: Barking and Dagenham, arson, April 2010 = the file's first count cell
    first = body[0]
    sample = con.execute(
        """select count, period_end from counts where area = ? and category = ? and subcategory = ? and period_start = ?""",
        [first[2], first[0], first[1], date(2010, 4, 1)],
    ).fetchall()
    assert sample == [(int(first[3]), date(2010, 4, 30))]
    log = con.execute("select kind, rows_read, rows_loaded, rows_rejected from load_log").fetchall()
    assert log == [("counts-wide-monthly", 949, 949, 0)]


def test_home_office_table(tmp_path, home_office_file):
    db = tmp_path / "ho.duckdb"
    summary = load_sources([home_office_file], db, progress=False)
    with open(home_office_file, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert summary.rows_read == len(rows) == summary.rows_loaded
    expected = defaultdict(int)
    for row in rows:
        expected[(row["Force_Name"], row["Financial_Quarter"])] += int(row["Number_of_Offences"])
    con = duckdb.connect(str(db), read_only=True)
    quarter_of = {date(2017, 4, 1): "1", date(2017, 7, 1): "2", date(2017, 10, 1): "3", date(2018, 1, 1): "4"}
    loaded = {
        (area, quarter_of[start]): total
        for area, start, total in con.execute("select area, period_start, sum(count) from counts group by all").fetchall()
    }
    assert loaded == dict(expected)
    essex = con.execute(
        """select distinct force_id, period_type from counts where area = 'Essex'"""
    ).fetchall()
    assert essex == [("essex", "quarter")]
    assert con.execute("select max(period_end) from counts").fetchall()[0][0] == date(2018, 3, 31)
    # categories use police.uk spelling; the four homicide lines per force-quarter are summed into one row
    categories = {r[0] for r in con.execute("select distinct category from counts").fetchall()}
    assert "Violence and sexual offences" in categories and "Violence and Sexual Offences" not in categories
    homicide = [int(r["Number_of_Offences"]) for r in rows
                if r["Force_Name"] == "Avon and Somerset" and r["Financial_Quarter"] == "1" and r["Offence_Description"] == "Homicide"]
    assert len(homicide) == 4
    assert con.execute(
        """select count(*), sum(count) from counts where area = 'Avon and Somerset' and subcategory = 'Homicide'
           and period_start = '2017-04-01'"""
    ).fetchall() == [(1, sum(homicide))]
    assert con.execute("select force_id from counts where area = 'London, City of' limit 1").fetchall() == [("city-of-london",)]
    assert con.execute("select count(*) from counts where area = 'Action Fraud' and force_id is not null").fetchall() == [(0,)]


def test_tidy_file_rejects_and_replacement(tmp_path):
    source = tmp_path / "my-counts.csv"
    source.write_text(
        "period,area,category,count,force\n"
        "2020-01,Basildon,Burglary,10,Essex Police\n"
        "2020-02,Basildon,Burglary,x,Essex Police\n"
        "2020-13,Basildon,Burglary,4,Essex Police\n"
        "2020-03-01,Basildon,Burglary,7,Essex Police\n"
        "2020-01,Basildon,Burglary,11,Essex Police\n"
        "2020-04,,Burglary,2,Essex Police\n"
        "2020-04,Basildon,Burglary,-3,Essex Police\n"
        '"2020-05","Basildon","Vehicle crime","1,204","Essex"\n'
    )
    db = tmp_path / "tidy.duckdb"
    summary = load_sources([source], db, progress=False)
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (8, 3, 5)
    con = duckdb.connect(str(db), read_only=True)
    rejects = con.execute("select line_number, reason from rejects order by line_number").fetchall()
    assert [line for line, _ in rejects] == [3, 4, 6, 7, 8]
    assert "count 'x' is not a whole number" in rejects[0][1]
    assert "not a month" in rejects[1][1]
    assert "duplicate row" in rejects[2][1] and "line 2" in rejects[2][1]
    assert "area is empty" in rejects[3][1]
    rows = con.execute("select dataset, period_start, period_end, force_id, category, count from counts order by period_start").fetchall()
    assert rows == [
        ("my-counts", date(2020, 1, 1), date(2020, 1, 31), "essex", "Burglary", 10),
        ("my-counts", date(2020, 3, 1), date(2020, 3, 31), "essex", "Burglary", 7),
        ("my-counts", date(2020, 5, 1), date(2020, 5, 31), "essex", "Vehicle crime", 1204),
    ]
    con.close()
    # a revised file replaces the same keys and keeps the others
    source.write_text("period,area,category,count\n2020-01,Basildon,Burglary,12\n")
    load_sources([source], db, progress=False)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select period_start, count from counts order by 1").fetchall() == [
        (date(2020, 1, 1), 12), (date(2020, 3, 1), 7), (date(2020, 5, 1), 1204)]
    assert con.execute("select count(*) from load_log").fetchall() == [(1,)]


def test_wide_file_bad_cell_is_rejected_with_its_line(tmp_path):
    source = tmp_path / "wide.csv"
    source.write_text(
        "MajorText,MinorText,BoroughName,202001,202002\n"
        "BURGLARY,DOMESTIC,Camden,5,6\n"
        "BURGLARY,DOMESTIC,Hackney,5,n/a\n"
        "BURGLARY,DOMESTIC,Camden,1,1\n"
    )
    db = tmp_path / "wide.duckdb"
    summary = load_sources([source], db, progress=False)
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (3, 1, 2)
    con = duckdb.connect(str(db), read_only=True)
    rejects = con.execute("select line_number, reason from rejects order by 1").fetchall()
    assert rejects[0][0] == 3 and "column 202002" in rejects[0][1] and "'n/a'" in rejects[0][1]
    assert rejects[1][0] == 4 and "duplicate" in rejects[1][1]
    assert con.execute("select sum(count) from counts").fetchall() == [(11,)]


def test_unrecognised_near_miss_header(tmp_path):
    source = tmp_path / "odd.csv"
    source.write_text("period,area,category,total\n2020-01,A,B,1\n")
    with pytest.raises(LoadError, match="header not recognised"):
        load_sources([source], tmp_path / "x.duckdb", progress=False)
