"""Disclosure control end to end: a warehouse with planted LSOA counts of 1–4 in "Violence and sexual
offences", loaded through the real street-CSV loader; no export (CSV, XLSX, PPTX tables and text) shows
them, and none can be worked out by subtracting the visible cells from a total (force or district)."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from briefing.disclosure import SECONDARY_MARKER
from etl.warehouse import connect_read_only
from metrics.filters import Filters

VSO = "Violence and sexual offences"
HEADER = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location", "LSOA code",
          "LSOA name", "Crime type", "Last outcome category", "Context"]
# (lsoa code, lsoa name) -> {month: {crime type: count}}
PLANTED: dict[tuple[str, str], dict[str, dict[str, int]]] = {
    ("E01021237", "Basildon 001A"): {"2019-01": {VSO: 2}, "2019-02": {VSO: 3}},
    ("E01021238", "Basildon 001B"): {"2019-01": {VSO: 6}, "2019-02": {VSO: 1}},
    ("E01021242", "Basildon 001C"): {"2019-01": {VSO: 8, "Burglary": 5}, "2019-02": {VSO: 2, "Burglary": 7}},
    ("E01021854", "Harlow 001A"): {"2019-01": {VSO: 1}, "2019-02": {VSO: 4, "Robbery": 6}},
    ("E01021855", "Harlow 001B"): {"2019-01": {VSO: 15}, "2019-02": {VSO: 12, "Burglary": 9}},
    ("E01021856", "Harlow 001C"): {"2019-01": {VSO: 7}, "2019-02": {VSO: 9}},
    ("E01021655", "Colchester 001A"): {"2019-01": {VSO: 28, "Anti-social behaviour": 11},
                                       "2019-02": {VSO: 30, "Drugs": 8, "Anti-social behaviour": 14}},
    ("E01021656", "Colchester 001B"): {"2019-01": {"Burglary": 12, "Public order": 6},
                                       "2019-02": {"Burglary": 10, "Public order": 7}},
}
THRESHOLD = 4
SMALL = {(name, month) for (code, name), months in PLANTED.items() for month, types in months.items()
         if 1 <= types.get(VSO, 0) <= THRESHOLD}
MARKERS = ("<5", SECONDARY_MARKER)


def _write_street_files(root: Path) -> Path:
    serial = itertools.count(1)
    for month in ("2019-01", "2019-02"):
        folder = root / month
        folder.mkdir(parents=True)
        with open(folder / f"{month}-essex-street.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            for (code, name), months in PLANTED.items():
                for crime_type, count in months.get(month, {}).items():
                    for _ in range(count):
                        crime_id = "" if crime_type == "Anti-social behaviour" else f"{next(serial):064x}"
                        writer.writerow([crime_id, month, "Essex Police", "Essex Police", "0.45", "51.57",
                                         "On or near High Street", code, name, crime_type, "", ""])
    return root


@pytest.fixture(scope="module")
def planted_db(tmp_path_factory, reference_data) -> Path:
    """The planted street files (real Essex LSOA codes) with the real ONS lookup and census residents."""
    from etl.load import load_sources

    root = tmp_path_factory.mktemp("planted")
    db = root / "planted.duckdb"
    load_sources([_write_street_files(root / "police-uk"),
                  reference_data / "ons" / "lsoa11-to-local-authority-and-force.csv",
                  reference_data / "ons" / "census2011-lsoa-usual-residents.csv"], db, progress=False)
    return db


def _sql_counts(con, categories: tuple[str, ...], month: str) -> dict[str, int]:
    """lsoa_name -> count, straight from the crimes table (independent of the exports)."""
    rows = con.execute(
        "select lsoa_name, count(*) from crimes where list_contains(?, crime_type) and month = ? group by 1",
        [list(categories), date.fromisoformat(month + "-01")],
    ).fetchall()
    return dict(rows)


def _check_table(cells: dict[str, str], truth: dict[str, int], district_of=lambda n: n.rsplit(" ", 1)[0]) -> None:
    """cells: LSOA name -> shown text. No small sensitive value is shown; visible values are true; the hidden
    cells of the table and of every district in it number 0 or at least 2 with a true total above the
    threshold, so a force or district total minus the visible cells never isolates a small count."""
    hidden = {name for name, text in cells.items() if text in MARKERS}
    for name, text in cells.items():
        value = truth.get(name, 0)
        if 1 <= value <= THRESHOLD:
            assert name in hidden, f"{name}: small count {value} shown as {text!r}"
        if name not in hidden:
            assert int(text.replace(",", "")) == value, f"{name}: shows {text}, SQL says {value}"
    districts = {district_of(n) for n in cells}
    groups = [(hidden, set(cells))] + [
        ({n for n in hidden if district_of(n) == d}, {n for n in cells if district_of(n) == d}) for d in districts
    ]
    for group_hidden, members in groups:
        if group_hidden and group_hidden != members:  # something visible: a total minus it is the hidden sum
            assert len(group_hidden) >= 2, f"only {group_hidden} withheld among {sorted(members)}"
            assert sum(truth.get(n, 0) for n in group_hidden) > THRESHOLD, group_hidden


def test_planted_counts_are_as_written(planted_db):
    con = connect_read_only(planted_db)
    try:
        feb = _sql_counts(con, (VSO,), "2019-02")
        assert feb["Basildon 001B"] == 1 and feb["Harlow 001A"] == 4 and feb["Colchester 001A"] == 30
        assert ("Basildon 001B", "2019-02") in SMALL and len(SMALL) == 6
    finally:
        con.close()


def test_csv_and_xlsx_of_every_lsoa_hide_small_counts(planted_db):
    from briefing.tables import table_downloads
    from metrics.hotspots import lsoa_counts

    con = connect_read_only(planted_db)
    try:
        filters = Filters(force_id="essex", categories=(VSO,))
        frame = lsoa_counts(con, date(2019, 2, 1), date(2019, 2, 1), filters)
        assert len(frame) == 1077  # every Essex LSOA, zeros included
        csv_download, xlsx_download = table_downloads(frame, "VSO by LSOA", "crimes", "test", date(2019, 2, 1),
                                                      filters, con=con)
        truth = _sql_counts(con, (VSO,), "2019-02")
        rows = list(csv.DictReader(io.StringIO(csv_download.data.decode("utf-8-sig"))))
        csv_cells = {r["lsoa_name"]: r["count"] for r in rows}
        _check_table(csv_cells, truth)
        # the rate column of a withheld row is withheld too (rate x residents would give the count back)
        assert all(r["rate_per_1000"] in ("", SECONDARY_MARKER) for r in rows if r["count"] in MARKERS)

        book = load_workbook(io.BytesIO(xlsx_download.data))
        sheet = book["Data"]
        header_row = next(r for r in range(1, 15) if sheet.cell(row=r, column=1).value == "lsoa_code")
        names = [c.value for c in sheet[header_row]]
        xlsx_cells = {}
        for values in sheet.iter_rows(min_row=header_row + 1, values_only=True):
            record = dict(zip(names, values))
            xlsx_cells[record["lsoa_name"]] = str(record["count"])
        assert xlsx_cells == csv_cells
        text = "\n".join(str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None)
        assert "<5" in text and "Disclosure" in text
    finally:
        con.close()


def test_long_table_by_lsoa_month_and_type_hides_small_counts(planted_db):
    """LSOA x month x crime type (totals could be per month, per LSOA or per district)."""
    from briefing.tables import table_downloads
    from metrics.series import monthly_series

    con = connect_read_only(planted_db)
    try:
        frame = monthly_series(con, "crimes", ["lsoa_name", "crime_type"], Filters())
        xlsx = table_downloads(frame, "By LSOA", "crimes", "test", date(2019, 2, 1), None)[1]
        sheet = load_workbook(io.BytesIO(xlsx.data))["Data"]
        header_row = next(r for r in range(1, 15) if sheet.cell(row=r, column=1).value == "month")
        names = [c.value for c in sheet[header_row]]
        shown: dict[tuple[str, str, str], str] = {}
        for values in sheet.iter_rows(min_row=header_row + 1, values_only=True):
            record = dict(zip(names, values))
            shown[(record["lsoa_name"], f"{record['month']:%Y-%m}", record["crime_type"])] = str(record["count"])
        for name, month in SMALL:
            assert shown[(name, month, VSO)] in MARKERS, (name, month)
        for month in ("2019-01", "2019-02"):  # the force total of each month, minus what is visible
            truth = _sql_counts(con, (VSO,), month)
            cells = {name: text for (name, m, t), text in shown.items() if m == month and t == VSO}
            _check_table(cells, truth)
        # each LSOA's VSO total over the two months minus the visible month gives nothing away
        for (code, name), months in PLANTED.items():
            if not any(VSO in types for types in months.values()):
                continue
            texts = [shown[(name, m, VSO)] for m in ("2019-01", "2019-02")]
            hidden = [t for t in texts if t in MARKERS]
            if hidden:
                assert len(hidden) == 2 and sum(months[m].get(VSO, 0) for m in months) > THRESHOLD, name
        # non-sensitive categories are not touched
        assert shown[("Colchester 001B", "2019-02", "Public order")] == "7"
    finally:
        con.close()


def test_pack_tables_and_text_hide_small_counts(planted_db, tmp_path):
    from pptx import Presentation

    from briefing.pack import build_pack

    con = connect_read_only(planted_db)
    try:
        out = build_pack(con, "latest12", Filters(force_id="essex"), tmp_path / "pack.pptx")
        # which categories each priority's LSOA table counts (from the plan text, written out here)
        categories_by_slide = {
            "1.": ("Bicycle theft", "Burglary", "Criminal damage and arson", "Drugs", "Other crime", "Other theft",
                   "Possession of weapons", "Public order", "Robbery", "Shoplifting", "Theft from the person",
                   "Vehicle crime", VSO),
            "2.": ("Anti-social behaviour",),
            "3.": (VSO,),
            "4.": (VSO, "Robbery", "Possession of weapons"),
            "5.": ("Drugs",),
            "6.": ("Public order",),
        }
        deck = Presentation(out)
        checked = 0
        for slide in deck.slides:
            title = next(s.text_frame.text for s in slide.shapes if s.name == "Title")
            tables = [s.table for s in slide.shapes if s.has_table]
            for table in tables:
                header = [table.cell(0, c).text for c in range(len(table.columns))]
                if header[0] != "LSOA":
                    continue
                key = title.split(" ", 1)[0]
                assert key in categories_by_slide, title
                truth = _sql_counts(con, categories_by_slide[key], "2019-02")
                cells = {table.cell(r, 0).text: table.cell(r, 1).text for r in range(1, len(table.rows))}
                _check_table(cells, truth)
                # rates of withheld rows are withheld
                for r in range(1, len(table.rows)):
                    if table.cell(r, 1).text in MARKERS:
                        assert table.cell(r, 2).text in (SECONDARY_MARKER, "—")
                checked += 1
            # no text on the slide or in its notes pairs a small LSOA with its count
            texts = [s.text_frame.text for s in slide.shapes if s.has_text_frame]
            texts.append(slide.notes_slide.notes_text_frame.text)
            for name, month in SMALL:
                for text in texts:
                    assert name not in text, (title, name)
        assert checked >= 3
    finally:
        con.close()
