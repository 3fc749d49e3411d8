"""Table exports: CSV and XLSX (read back with openpyxl) of a real metric frame, checked against plain SQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import duckdb
import pytest
from openpyxl import load_workbook

from briefing.tables import table_downloads
from etl.warehouse import connect_read_only, load_fingerprint
from metrics.filters import Filters
from metrics.series import monthly_series


@pytest.fixture(scope="module")
def essex_con(essex_db):
    con = connect_read_only(essex_db)
    yield con
    con.close()


def test_xlsx_and_csv_of_a_monthly_series(essex_con, essex_dir):
    filters = Filters(force_id="essex", categories=("Burglary",))
    frame = monthly_series(essex_con, "crimes", ["district"], filters, date(2018, 10, 1), date(2019, 2, 1))
    downloads = table_downloads(frame, "Burglary by district", "crimes per month", "data.police.uk street-level crime",
                                date(2019, 2, 1), filters, con=essex_con)
    assert [d.file_name for d in downloads] == ["burglary-by-district.csv", "burglary-by-district.xlsx"]

    # independent count over the raw CSV files: Burglary rows in Basildon, Jan 2019
    expected = 0
    with open(essex_dir / "2019-01" / "2019-01-essex-street.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["Crime type"] == "Burglary" and row["LSOA name"].startswith("Basildon "):
                expected += 1
    assert expected > 20

    # CSV
    text = downloads[0].data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    basildon_jan = [r for r in rows if r["district"] == "Basildon" and r["month"] == "2019-01-01"]
    assert len(basildon_jan) == 1 and int(basildon_jan[0]["count"]) == expected

    # XLSX: title, units, source, as-at above the header row; values; provenance sheet
    book = load_workbook(io.BytesIO(downloads[1].data))
    sheet = book["Data"]
    assert sheet["A1"].value == "Title" and sheet["B1"].value == "Burglary by district"
    assert sheet["A2"].value == "Units" and sheet["B2"].value == "crimes per month"
    assert sheet["A3"].value == "Source" and sheet["B3"].value == "data.police.uk street-level crime"
    assert sheet["A4"].value == "Data as at" and sheet["B4"].value == "February 2019"
    assert json.loads(sheet["B5"].value)["categories"] == ["Burglary"]
    header_row = next(r for r in range(1, 12) if sheet.cell(row=r, column=1).value == "month")
    header = [c.value for c in sheet[header_row]]
    assert header == ["month", "district", "count"]
    assert sheet.cell(row=header_row, column=1).font.bold
    data_rows = list(sheet.iter_rows(min_row=header_row + 1, values_only=True))
    assert len(data_rows) == len(frame)
    match = [r for r in data_rows if r[1] == "Basildon" and r[0].date() == date(2019, 1, 1)]
    assert match and match[0][2] == expected
    # totals agree with plain SQL over the warehouse
    sql_total = essex_con.execute(
        "select count(*) from crimes where crime_type = 'Burglary' and force_id = 'essex'").fetchall()[0][0]
    assert sum(r[2] for r in data_rows) == sql_total

    about = {row[0]: row[1] for row in book["Provenance"].iter_rows(min_row=2, values_only=True)}
    assert about["Data fingerprint (load_log)"] == load_fingerprint(essex_con)
    assert about["Version"]
    assert json.loads(about["Filters"])["force_id"] == "essex"
    assert book.properties.keywords == f"load_fingerprint={load_fingerprint(essex_con)}"


def test_xlsx_without_a_connection_still_records_version_and_filters():
    import pandas as pd

    frame = pd.DataFrame({"district": ["Basildon", "Harlow"], "rate_per_1000": [12.25, 9.5]})
    downloads = table_downloads(frame, "Rates", "crimes per 1,000 residents", "test source", "2021-03", None)
    book = load_workbook(io.BytesIO(downloads[1].data))
    assert [c.value for c in book["Data"][8]] == ["district", "rate_per_1000"]
    assert [c.value for c in book["Data"][10]] == ["Harlow", 9.5]
    about = {row[0]: row[1] for row in book["Provenance"].iter_rows(min_row=2, values_only=True)}
    assert about["Filters"] == "none (all)" and about["Version"]


def test_fingerprint_changes_with_the_data(tmp_path):
    con = duckdb.connect(str(tmp_path / "x.duckdb"))
    from etl.warehouse import ensure_schema

    ensure_schema(con)
    before = load_fingerprint(con)
    con.execute("insert into load_log values ('l1', 'a.csv', 'street', 'essex', date '2019-01-01', 'ff', 3, 3, 0, now())")
    assert load_fingerprint(con) != before
