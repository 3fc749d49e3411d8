"""Table exports for people, read back independently: the csv module and pandas for the CSV, openpyxl for
the XLSX. Values are checked against plain counts over the raw data.police.uk and census files and against
rounding worked out by hand; notes, demo marks, disclosure control and lazy building are checked in the files."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from openpyxl import load_workbook

from briefing import tables
from briefing.export_spec import DEMO_MARK, Column, ExportNotes
from briefing.tables import table_downloads, table_files
from etl.warehouse import connect_read_only, ensure_schema, load_fingerprint
from metrics.filters import Filters
from metrics.rates import district_rates
from metrics.series import monthly_series

# the documented layout (docs/EXPORTS.md): 11 note lines and an empty line above the CSV header;
# the XLSX header in row 5 of the Data sheet
CSV_SKIPROWS = 12
XLSX_HEADER_ROW = 5
NOTE_LABELS = ["Data status", "Title", "Source", "Units", "Period", "Filters", "Data as at", "Caveats",
               "Disclosure control", "Columns", "Produced by"]
VSO = "Violence and sexual offences"


@pytest.fixture(scope="module")
def essex_con(essex_db):
    con = connect_read_only(essex_db)
    yield con
    con.close()


def _csv_parts(data: bytes) -> tuple[dict[str, str], list[str], list[list[str]]]:
    """(notes by label, header, rows) of a CSV for people, split at its first empty line (csv module only)."""
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark: Excel shows the dash and pound sign
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    blank = rows.index([])
    notes = {r[0]: r[1] for r in rows[:blank]}
    assert [r[0] for r in rows[:blank]] == NOTE_LABELS and all(len(r) == 2 for r in rows[:blank])
    return notes, rows[blank + 1], rows[blank + 2:]


def _sheet_rows(book, name: str) -> list[tuple]:
    return [tuple(c for c in row) for row in book[name].iter_rows(values_only=True)]


def _all_text(book) -> str:
    return "\n".join(str(v) for sheet in book for row in sheet.iter_rows(values_only=True) for v in row if v is not None)


def _raw_rows(essex_dir: Path, month: str) -> list[dict[str, str]]:
    with open(essex_dir / month / f"{month}-essex-street.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _residents(reference_data: Path, district: str) -> int:
    """Usual residents (2011) of a district's LSOAs, summed over the raw census CSV (first 'Persons' column)."""
    path = reference_data / "ons" / "census2011-lsoa-usual-residents.csv"
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][7] == "LSOA Name" and rows[0][9] == "Persons"
    return sum(int(r[9].replace(",", "")) for r in rows[1:] if len(r) > 9 and r[7].startswith(district + " "))


RATE_COLUMNS = [
    Column("district", "District", None),
    Column("count", "Burglaries", 0),
    Column("residents", "Usual residents (2011 Census)", 0),
    Column("rate_per_1000", "Burglaries per 1,000 residents in the month", 2),
    Column("rate_per_1000_per_year", "Burglaries per 1,000 residents a year", 1),
]


def test_district_rates_in_words_rounded_as_on_screen(essex_con, essex_dir, reference_data):
    filters = Filters(force_id="essex", categories=("Burglary",))
    frame = district_rates(essex_con, "crimes", date(2019, 1, 1), date(2019, 1, 1), filters)
    notes = ExportNotes(title="Burglary rates by district", source="data.police.uk street-level crime; 2011 Census",
                        units="crimes; rates per 1,000 residents", period="January 2019", as_at=date(2019, 2, 1),
                        caveats="Locations are anonymised snap points.")
    items = table_files(frame, notes, RATE_COLUMNS, basename="burglary-rates", filters=filters)
    assert [d.file_name for d in items] == ["burglary-rates.csv", "burglary-rates.xlsx"]

    # independent: Harlow burglaries in the raw January file, residents from the raw census file
    burglaries = sum(1 for r in _raw_rows(essex_dir, "2019-01")
                     if r["Crime type"] == "Burglary" and r["LSOA name"].startswith("Harlow "))
    residents = _residents(reference_data, "Harlow")
    assert burglaries > 10 and residents > 50_000
    month_rate = f"{burglaries / residents * 1000:.2f}"
    year_rate = f"{burglaries / residents * 1000 * 12:.1f}"  # a year: the one-month rate times 12

    notes_read, header, rows = _csv_parts(items[0].content())
    assert header == ["District", "Burglaries", "Usual residents (2011 Census)",
                      "Burglaries per 1,000 residents in the month", "Burglaries per 1,000 residents a year"]
    harlow = next(r for r in rows if r[0] == "Harlow")
    assert harlow[1:] == [str(burglaries), str(residents), month_rate, year_rate]
    assert notes_read["Filters"] == "Essex Police; all districts; crime types: Burglary"  # words, not JSON
    assert notes_read["Units"] == "crimes; rates per 1,000 residents" and notes_read["Period"] == "January 2019"
    assert notes_read["Data as at"] == "February 2019" and notes_read["Caveats"].startswith("Locations")
    assert "Demo" not in notes_read["Data status"] and DEMO_MARK.encode() not in items[0].content()
    # pandas with the documented skiprows
    read = pd.read_csv(io.BytesIO(items[0].content()), skiprows=CSV_SKIPROWS)
    assert list(read.columns) == header and len(read) == len(frame)
    assert read.loc[read["District"] == "Harlow", "Burglaries"].item() == burglaries
    excel = pd.read_excel(io.BytesIO(items[1].content()), sheet_name="Data", skiprows=XLSX_HEADER_ROW - 1)
    assert list(excel.columns) == header and len(excel) == len(frame)
    assert excel.loc[excel["District"] == "Harlow", "Burglaries per 1,000 residents in the month"].item() \
        == float(month_rate)

    book = load_workbook(io.BytesIO(items[1].content()))
    assert book.sheetnames == ["Data", "Notes", "Provenance"]
    sheet = book["Data"]
    assert sheet["A1"].value == "Burglary rates by district"
    assert [c.value for c in sheet[XLSX_HEADER_ROW]] == header and sheet.cell(XLSX_HEADER_ROW, 1).font.bold
    row = next(r for r in sheet.iter_rows(min_row=XLSX_HEADER_ROW + 1) if r[0].value == "Harlow")
    assert [c.value for c in row[1:4]] == [burglaries, residents, float(month_rate)]
    assert [c.number_format for c in row[1:5]] == ["#,##0", "#,##0", "#,##0.00", "#,##0.0"]
    notes_sheet = {r[0]: r[1] for r in _sheet_rows(book, "Notes")[1:]}
    assert list(notes_sheet) == NOTE_LABELS and notes_sheet["Filters"] == notes_read["Filters"]
    assert "as in the column names" not in _all_text(book) and "{" not in json.dumps(list(notes_sheet.values()))
    about = {r[0]: r[1] for r in _sheet_rows(book, "Provenance")[1:]}
    assert about["Filters"] == notes_read["Filters"]
    assert json.loads(about["Filters (as recorded)"])["categories"] == ["Burglary"]  # raw record kept
    assert DEMO_MARK not in _all_text(book)


def test_monthly_counts_match_the_raw_files_and_sql(essex_con, essex_dir):
    filters = Filters(force_id="essex", categories=("Burglary",))
    frame = monthly_series(essex_con, "crimes", ["district"], filters, date(2018, 10, 1), date(2019, 2, 1))
    columns = [Column("month", "Month", None), Column("district", "District", None),
               Column("count", "Burglaries a month", 0)]
    provenance = {"load_fingerprint": load_fingerprint(essex_con), "version": "test", "filters": {"force_id": "essex"}}
    notes = ExportNotes(title="Burglary by district", source="data.police.uk", provenance=provenance)
    csv_item, xlsx_item = table_files(frame, notes, columns, filters=filters)
    expected = sum(1 for r in _raw_rows(essex_dir, "2019-01")
                   if r["Crime type"] == "Burglary" and r["LSOA name"].startswith("Basildon "))
    _, header, rows = _csv_parts(csv_item.content())
    assert header == ["Month", "District", "Burglaries a month"]
    assert [r[2] for r in rows if r[:2] == ["2019-01-01", "Basildon"]] == [str(expected)]
    sql_total = essex_con.execute(
        "select count(*) from crimes where crime_type = 'Burglary' and force_id = 'essex'").fetchall()[0][0]
    assert sum(int(r[2]) for r in rows) == sql_total
    book = load_workbook(io.BytesIO(xlsx_item.content()))
    about = {r[0]: r[1] for r in _sheet_rows(book, "Provenance")[1:]}
    assert about["Data fingerprint (files loaded)"] == load_fingerprint(essex_con)
    assert book.properties.keywords == f"load_fingerprint={load_fingerprint(essex_con)}"
    data = _sheet_rows(book, "Data")[XLSX_HEADER_ROW:]
    assert sum(r[2] for r in data) == sql_total and data[0][0].date() == date(2018, 10, 1)


STATS = pd.DataFrame({
    "category": ["Burglary", "Drugs", "Robbery", "Shoplifting"],
    "rate_ratio": [0.83412, 1.2, 0.99951, 1.0],
    "p_value": [3.2e-108, 0.04234, 0.0009999, 1.0],
    "q_value": [1.1e-107, 0.0635, 0.001, 1.0],
    "rate_per_1000": [111.22827326544297, 0.05, 2.25, None],
    "change_pct": [-16.588, 20.0, -0.049, 0.0],
    "trend": [[1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 1, 1]],
    "load_command": ["python -m etl load x"] * 4,
})


def test_p_values_rounding_and_lists_in_the_csv():
    columns = [Column("category", "Crime type", None), Column("rate_ratio", "Rate ratio", 2),
               Column("p_value", "p-value", p_value=True), Column("q_value", "q-value (BH)", p_value=True),
               Column("rate_per_1000", "Crimes per 1,000 residents", 1),
               Column("change_pct", "Change", 1, percent=True),
               Column("trend", "Crimes a month (last 3 months)", 0, description="oldest first, separated by semicolons")]
    notes, header, rows = _csv_parts(table_files(STATS, ExportNotes("Tests", "test"), columns)[0].content())
    assert header == ["Crime type", "Rate ratio", "p-value", "q-value (BH)", "Crimes per 1,000 residents",
                      "Change (%)", "Crimes a month (last 3 months)"]
    assert rows == [
        ["Burglary", "0.83", "<0.001", "<0.001", "111.2", "-16.6", "1; 2; 3"],
        ["Drugs", "1.20", "0.042", "0.064", "0.1", "20.0", "4; 5; 6"],     # 0.05 -> 0.1: halves round up
        ["Robbery", "1.00", "<0.001", "0.001", "2.3", "0.0", "7; 8; 9"],   # 2.25 -> 2.3; -0.049 -> 0.0, not -0.0
        ["Shoplifting", "1.00", "1.000", "1.000", "", "0.0", "1; 1; 1"],
    ]
    assert "oldest first" in notes["Columns"] and "<0.001" in notes["Columns"]
    assert "e-" not in "\n".join(",".join(r) for r in rows)


def test_rounding_by_hand():
    """Values as shown, worked out by hand: halves away from zero, as the browser's toFixed and Intl formats
    round the numbers on screen (Python's own format would give 2.2 for 2.25 and 2 for 2.5)."""
    column = Column("x", "X", 1)
    assert tables.cell_value(111.22827326544297, column) == 111.2
    assert tables.cell_value(2.96, column) == 3.0 and tables.cell_text(3.0, column) == "3.0"
    assert tables.cell_value(2.25, column) == 2.3 and tables.cell_value(-2.25, column) == -2.3
    assert tables.cell_value(2.5, Column("x", "X", 0)) == 3 and tables.cell_value(12.0, Column("x", "X", 0)) == 12
    assert isinstance(tables.cell_value(12.0, Column("x", "X", 0)), int)
    assert tables.cell_text(tables.cell_value(-0.04, column), column) == "0.0"
    assert tables.cell_value(3.2e-108, Column("p", "p", p_value=True)) == "<0.001"
    assert tables.cell_value(0.0012, Column("p", "p", p_value=True)) == 0.001
    assert tables.cell_value(0.0005, Column("p", "p", p_value=True)) == "<0.001"
    assert tables.cell_value(float("nan"), column) is None and tables.cell_text(None, column) == ""


def test_default_columns_are_in_words_and_drop_lists_and_load_commands():
    columns = tables.default_columns(STATS)
    assert [c.name for c in columns] == ["category", "rate_ratio", "p_value", "q_value", "rate_per_1000",
                                         "change_pct"]
    assert [c.header for c in columns] == ["Category", "Rate ratio", "p-value", "q-value", "Rate per 1,000",
                                           "Change (%)"]
    assert [c.decimals for c in columns][1:2] == [2] and columns[2].p_value and columns[3].p_value
    _, header, rows = _csv_parts(table_files(STATS, ExportNotes("t", "s"))[0].content())
    assert header == [c.header for c in columns] and not any("python -m" in cell for row in rows for cell in row)
    with pytest.raises(ValueError, match="list columns need a description to be exported: trend"):
        table_files(STATS, ExportNotes("t", "s"), [Column("trend", "Trend")])
    with pytest.raises(ValueError, match="export columns not in the table: nope"):
        table_files(STATS, ExportNotes("t", "s"), [Column("nope", "Nope")])


def test_demo_mark_in_every_file_and_on_every_row():
    notes = ExportNotes("Rates", "synthetic demo", units="crimes", is_demo=True)
    csv_item, xlsx_item = table_files(STATS, notes, [Column("category", "Crime type", None),
                                                     Column("rate_ratio", "Rate ratio", 2)])
    data = csv_item.content()
    first_line = data.decode("utf-8-sig").splitlines()[0]
    assert first_line.startswith("Data status,") and DEMO_MARK in first_line
    _, header, rows = _csv_parts(data)
    assert header[-1] == "Data status" and all(r[-1] == DEMO_MARK for r in rows) and len(rows) == 4
    read = pd.read_csv(io.BytesIO(data), skiprows=CSV_SKIPROWS)
    assert (read["Data status"] == DEMO_MARK).all() and read["Rate ratio"].tolist() == [0.83, 1.2, 1.0, 1.0]

    book = load_workbook(io.BytesIO(xlsx_item.content()))
    sheet = book["Data"]
    assert DEMO_MARK in sheet["A2"].value and sheet["A2"].fill.fgColor.rgb.endswith("B03A00")
    assert sheet.cell(XLSX_HEADER_ROW, 3).value == "Data status"
    assert [sheet.cell(r, 3).value for r in range(XLSX_HEADER_ROW + 1, XLSX_HEADER_ROW + 5)] == [DEMO_MARK] * 4
    assert DEMO_MARK in book["Notes"]["B2"].value
    about = {r[0]: r[1] for r in _sheet_rows(book, "Provenance")[1:]}
    assert about["Data status"] == DEMO_MARK
    assert book.properties.subject.startswith(DEMO_MARK)


def test_demo_warehouse_marks_the_raw_export_too(tmp_path):
    con = duckdb.connect(str(tmp_path / "demo.duckdb"))
    ensure_schema(con)
    con.execute("insert into meta values ('dataset', 'demo')")
    frame = pd.DataFrame({"district": ["Harlow"], "count": [12]})
    csv_item, xlsx_item = table_downloads(frame, "Counts", "crimes", "test", date(2021, 3, 1), None, con=con)
    rows = list(csv.DictReader(io.StringIO(csv_item.data.decode("utf-8"))))  # raw: header on line 1
    assert rows == [{"district": "Harlow", "count": "12", "Data status": DEMO_MARK}]
    book = load_workbook(io.BytesIO(xlsx_item.data))
    assert [c.value for c in book["Data"][XLSX_HEADER_ROW]] == ["district", "count", "Data status"]
    assert DEMO_MARK in book["Data"]["A2"].value and DEMO_MARK in book["Notes"]["B2"].value
    con.close()


def test_withheld_counts_in_files_with_headers_in_words():
    """Disclosure control runs on the code names before the headers become words: a table headed
    'LSOA code' / 'Crimes' is still protected."""
    frame = pd.DataFrame({"lsoa_code": ["E01000001", "E01000002", "E01000003", "E01000004"],
                          "lsoa_name": ["Harlow 001A", "Harlow 001B", "Harlow 001C", "Harlow 001D"],
                          "count": [3, 10, 12, 7], "rate_per_1000": [2.04, 6.5, 7.9, 4.4]})
    columns = [Column("lsoa_code", "LSOA code", None), Column("lsoa_name", "LSOA", None),
               Column("count", "Crimes", 0), Column("rate_per_1000", "Crimes per 1,000 residents", 1)]
    notes = ExportNotes("VSO by LSOA", "test")
    csv_item, xlsx_item = table_files(frame, notes, columns, filters=Filters(categories=(VSO,)))
    notes_read, _, rows = _csv_parts(csv_item.content())
    # by hand (briefing.disclosure, rule 2): a sensitive LSOA-level frame that is not a quarterly release
    # (`published_lsoa_counts`) has every count withheld, and the rates computed from them too
    assert [r[2:] for r in rows] == [["[c]", "[c]"]] * 4
    assert "<5" in notes_read["Disclosure control"]
    sheet = load_workbook(io.BytesIO(xlsx_item.content()))["Data"]
    shown = [sheet.cell(r, 3).value for r in range(XLSX_HEADER_ROW + 1, XLSX_HEADER_ROW + 5)]
    assert shown == ["[c]"] * 4 and "Disclosure control" in sheet["A3"].value
    plain = table_files(frame, notes, columns, filters=Filters(categories=("Burglary",)))[0]
    assert [r[2] for r in _csv_parts(plain.content())[2]] == ["3", "10", "12", "7"]


def test_rows_of_a_sensitive_category_are_protected_when_the_category_is_not_exported():
    frame = pd.DataFrame({"lsoa_code": ["E01000001", "E01000002", "E01000003", "E01000001", "E01000002"],
                          "lsoa_name": ["Harlow 001A", "Harlow 001B", "Harlow 001C", "Harlow 001A", "Harlow 001B"],
                          "crime_type": [VSO, VSO, VSO, "Burglary", "Burglary"], "count": [2, 9, 30, 1, 8]})
    columns = [Column("lsoa_name", "LSOA", None), Column("count", "Crimes", 0)]  # no crime type, no LSOA code
    _, header, rows = _csv_parts(table_files(frame, ExportNotes("By LSOA", "test"), columns)[0].content())
    # by hand: every VSO LSOA count is withheld (not a quarterly release); burglary counts stay exact
    assert header == ["LSOA", "Crimes"]
    assert rows == [["Harlow 001A", "[c]"], ["Harlow 001B", "[c]"], ["Harlow 001C", "[c]"],
                    ["Harlow 001A", "1"], ["Harlow 001B", "8"]]


def test_formula_like_text_is_never_a_formula():
    frame = pd.DataFrame({"note": ['=HYPERLINK("http://example.invalid","x")', "+5.1% to +20.0%", "-3", "@cmd"]})
    csv_item, xlsx_item = table_files(frame, ExportNotes("Notes", "test"), [Column("note", "Note", None)])
    assert [r[0] for r in _csv_parts(csv_item.content())[2]] == [
        '\'=HYPERLINK("http://example.invalid","x")', "'+5.1% to +20.0%", "-3", "'@cmd"]
    sheet = load_workbook(io.BytesIO(xlsx_item.content()))["Data"]
    cells = [sheet.cell(r, 1) for r in range(XLSX_HEADER_ROW + 1, XLSX_HEADER_ROW + 5)]
    assert [c.data_type for c in cells] == ["s"] * 4 and cells[0].value.startswith("=HYPERLINK")


def test_nothing_is_built_until_clicked(monkeypatch):
    calls = []
    real = tables.protect_frame
    monkeypatch.setattr(tables, "protect_frame", lambda *a, **k: calls.append(1) or real(*a, **k))
    frame = pd.DataFrame({"district": ["Harlow"], "count": [12]})
    items = table_files(frame, ExportNotes("Counts", "test"), None)
    assert all(callable(item.data) for item in items) and calls == []
    frame.loc[0, "count"] = 99  # the download holds the table as it was when the page drew it
    assert _csv_parts(items[0].content())[2] == [["Harlow", "12"]] and len(calls) == 1
    items[1].content()
    assert len(calls) == 2
