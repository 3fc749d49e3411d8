"""Disclosure control end to end: a warehouse with planted LSOA counts of 1–4 in "Violence and sexual offences"
(Jan–Mar 2019), loaded through the real street-CSV loader with the real ONS lookup and census residents.

What changed with issue 15 (and why these tests changed): exports of a single month (or any period that is not a
whole calendar quarter) used to show "<5" beside exact counts, and the February, January and January–February
exports together gave the February counts back. Now sensitive LSOA counts leave only through the published LSOA
table, for whole calendar quarters, banded, with one LSOA per district withheld; every other table that holds
them (a single month, a rolling year, the long LSOA × month table; the views and the pack take theirs from
the published table) withholds them as "[c]". Expected values below come from SQL over the loaded rows and
the rule's band written out here."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from briefing.disclosure import SECONDARY_MARKER, published_lsoa_counts, release_period
from etl.warehouse import connect_read_only
from metrics.filters import Filters

VSO = "Violence and sexual offences"
HEADER = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location", "LSOA code",
          "LSOA name", "Crime type", "Last outcome category", "Context"]
MONTHS = ("2019-01", "2019-02", "2019-03")
# (lsoa code, lsoa name) -> {month: {crime type: count}}
PLANTED: dict[tuple[str, str], dict[str, dict[str, int]]] = {
    ("E01021237", "Basildon 001A"): {"2019-01": {VSO: 2}, "2019-02": {VSO: 3}, "2019-03": {VSO: 1}},
    ("E01021238", "Basildon 001B"): {"2019-01": {VSO: 6}, "2019-02": {VSO: 1}},
    ("E01021242", "Basildon 001C"): {"2019-01": {VSO: 8, "Burglary": 5}, "2019-02": {VSO: 2, "Burglary": 7},
                                     "2019-03": {VSO: 4}},
    ("E01021854", "Harlow 001A"): {"2019-01": {VSO: 1}, "2019-02": {VSO: 4, "Robbery": 6}},
    ("E01021855", "Harlow 001B"): {"2019-01": {VSO: 15}, "2019-02": {VSO: 12, "Burglary": 9}, "2019-03": {VSO: 3}},
    ("E01021856", "Harlow 001C"): {"2019-01": {VSO: 7}, "2019-02": {VSO: 9}, "2019-03": {VSO: 2}},
    ("E01021655", "Colchester 001A"): {"2019-01": {VSO: 28, "Anti-social behaviour": 11},
                                       "2019-02": {VSO: 30, "Drugs": 8, "Anti-social behaviour": 14},
                                       "2019-03": {VSO: 2}},
    ("E01021656", "Colchester 001B"): {"2019-01": {"Burglary": 12, "Public order": 6},
                                       "2019-02": {"Burglary": 10, "Public order": 7, VSO: 2},
                                       "2019-03": {"Burglary": 1}},
}
MARKERS = ("<5", SECONDARY_MARKER)


def _write_street_files(root: Path) -> Path:
    serial = itertools.count(1)
    for month in MONTHS:
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


@pytest.fixture()
def con(planted_db):
    connection = connect_read_only(planted_db)
    yield connection
    connection.close()


def _sql_counts(con, categories: tuple[str, ...], first: str, last: str) -> dict[str, int]:
    """lsoa_code -> count in first..last (YYYY-MM), straight from the crimes table."""
    rows = con.execute(
        "select lsoa_code, count(*) from crimes where list_contains(?, crime_type) and month between ? and ? "
        "group by 1", [list(categories), date.fromisoformat(first + "-01"), date.fromisoformat(last + "-01")],
    ).fetchall()
    return dict(rows)


def _band(count: int) -> object:
    """The published rule's band, written out: 0-4 as "<5", else the nearest multiple of 5 (halves up)."""
    return "<5" if count < 5 else 5 * int(count / 5 + 0.5)


def test_planted_counts_are_as_written(con):
    q1 = _sql_counts(con, (VSO,), "2019-01", "2019-03")
    assert q1["E01021237"] == 6 and q1["E01021238"] == 7 and q1["E01021854"] == 5 and q1["E01021655"] == 60
    assert _sql_counts(con, (VSO,), "2019-02", "2019-02")["E01021238"] == 1 and q1["E01021656"] == 2


def test_the_issues_attack_finds_nothing_to_subtract(con):
    """Feb, Jan and Jan–Feb exports of a district's top LSOAs: the published table has no sensitive LSOA counts
    for any of them (no whole quarter), and the table the views export today withholds them all."""
    from briefing.tables import table_downloads
    from metrics.hotspots import top_lsoas

    filters = Filters(force_id="essex", districts=("Basildon",), categories=(VSO,))
    for first, last in ((date(2019, 2, 1), date(2019, 2, 1)), (date(2019, 1, 1), date(2019, 1, 1)),
                        (date(2019, 1, 1), date(2019, 2, 1))):
        published = published_lsoa_counts(con, first, last, filters)
        assert published.empty and release_period(published) is None
        frame = top_lsoas(con, first, last, filters, limit=20)
        assert len(frame) == 3
        download = table_downloads(frame, "Top LSOAs", "crimes", "test", last, Filters(force_id="essex"))[0]
        rows = list(csv.DictReader(io.StringIO(download.data.decode("utf-8-sig"))))
        # the metric recorded that it counts VSO, so even the page's all-category filters cannot unlock it
        assert {r["count"] for r in rows} == {SECONDARY_MARKER}
        assert {r["rate_per_1000"] for r in rows} == {SECONDARY_MARKER}
        assert {r["residents"] for r in rows} != {SECONDARY_MARKER}


def test_published_quarter_of_every_essex_lsoa(con):
    from briefing.tables import table_downloads

    filters = Filters(force_id="essex", categories=(VSO,))
    frame = published_lsoa_counts(con, date(2018, 10, 1), date(2019, 3, 1), filters)
    assert release_period(frame) == (date(2019, 1, 1), date(2019, 3, 1))       # the latest whole quarter
    districts = dict(con.execute("select lsoa_code, district from lsoa where force_id = 'essex'").fetchall())
    assert len(frame) == len(districts) == 1077
    truth = _sql_counts(con, (VSO,), "2019-01", "2019-03")
    withheld = frame[frame["count"] == SECONDARY_MARKER]
    assert sorted(withheld["district"]) == sorted(set(districts.values()))     # one per district, 14
    for code, shown in zip(frame["lsoa_code"], frame["count"]):
        if shown != SECONDARY_MARKER:
            assert shown == _band(truth.get(code, 0)), code
    small = {code for code, n in truth.items() if 1 <= n <= 4}
    assert small and all(frame.set_index("lsoa_code").at[code, "count"] in MARKERS for code in small)
    # "<5" rows are ordered by name (not by their hidden counts) after the numbers
    lows = frame[frame["count"] == "<5"]["lsoa_name"].tolist()
    assert lows == sorted(lows)
    # its downloads carry exactly these cells, and say what was done
    csv_download, xlsx_download = table_downloads(frame, "VSO by LSOA", "crimes", "test", date(2019, 3, 1), filters,
                                                  con=con)
    rows = list(csv.DictReader(io.StringIO(csv_download.data.decode("utf-8-sig"))))
    assert {r["lsoa_code"]: r["count"] for r in rows} == {c: str(v) for c, v in zip(frame["lsoa_code"], frame["count"])}
    sheet = load_workbook(io.BytesIO(xlsx_download.data))["Data"]
    text = "\n".join(str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None)
    assert "Jan 2019–Mar 2019 (calendar quarter)" in text and "rounded to the nearest 5" in text


def test_all_crime_quarter_adds_exact_other_crimes_to_the_banded_violence(con):
    frame = published_lsoa_counts(con, date(2019, 1, 1), date(2019, 3, 1), Filters(force_id="essex"), limit=8)
    vso = _sql_counts(con, (VSO,), "2019-01", "2019-03")
    others = _sql_counts(con, ("Burglary", "Robbery", "Drugs", "Anti-social behaviour", "Public order"),
                         "2019-01", "2019-03")
    for code, shown in zip(frame["lsoa_code"], frame["count"]):
        band = _band(vso.get(code, 0))
        expected = (others.get(code, 0) + band if band != "<5"
                    else f"{others.get(code, 0)}–{others.get(code, 0) + 4}")
        assert shown == expected, code
    assert SECONDARY_MARKER not in frame["count"].tolist()                      # top lists leave withheld out


def test_long_table_by_lsoa_month_and_type_withholds_sensitive_cells(con):
    from briefing.tables import table_downloads
    from metrics.series import monthly_series

    frame = monthly_series(con, "crimes", ["lsoa_name", "crime_type"], Filters())
    xlsx = table_downloads(frame, "By LSOA", "crimes", "test", date(2019, 3, 1), None)[1]
    sheet = load_workbook(io.BytesIO(xlsx.data))["Data"]
    header_row = next(r for r in range(1, 15) if sheet.cell(row=r, column=1).value == "month")
    names = [c.value for c in sheet[header_row]]
    shown = {}
    for values in sheet.iter_rows(min_row=header_row + 1, values_only=True):
        record = dict(zip(names, values))
        shown[(record["lsoa_name"], f"{record['month']:%Y-%m}", record["crime_type"])] = str(record["count"])
    assert {text for (_, _, crime_type), text in shown.items() if crime_type == VSO} == {SECONDARY_MARKER}
    assert shown[("Colchester 001B", "2019-02", "Public order")] == "7"          # other categories untouched
    assert shown[("Harlow 001A", "2019-02", "Robbery")] == "6"


def _published(vso: int, others: int, mixed: bool) -> str:
    """A published LSOA cell under the rule, written out: the band of the violence count, plus the exact count of
    the other categories selected ("a–b" when the band is "<5")."""
    band = _band(vso)
    if not mixed:
        return str(band)
    return f"{others:,}–{others + 4:,}" if band == "<5" else f"{others + band:,}"


def test_pack_lsoa_tables_show_no_sensitive_counts(planted_db, tmp_path, con):
    """The pack's top-LSOA tables come from the published LSOA table: for a current period of Jan–Mar 2019 (a whole
    quarter) the sensitive slides (all crime; serious violence) show the banded violence count plus the exact other
    crimes, the plain ones (ASB; drugs and weapons) exact counts; no published cell is a small count."""
    from pptx import Presentation

    from briefing.pack import build_pack

    quarter = ((date(2019, 1, 1), date(2019, 1, 1)), (date(2019, 1, 1), date(2019, 3, 1)))
    out = build_pack(con, quarter, Filters(force_id="essex"), tmp_path / "pack.pptx")
    others = {"1.": ("Burglary", "Robbery", "Drugs", "Public order"), "4.": ("Robbery",)}   # all crime: no ASB
    plain = {"2.": ("Anti-social behaviour",), "5.": ("Drugs", "Possession of weapons")}
    vso = _sql_counts(con, (VSO,), "2019-01", "2019-03")
    names = dict(con.execute("select lsoa_name, lsoa_code from lsoa where force_id = 'essex'").fetchall())
    checked = set()
    for slide in Presentation(out).slides:
        title = next(s.text_frame.text for s in slide.shapes if s.name == "Title")
        key = title.split(" ", 1)[0]
        for table in (s.table for s in slide.shapes if s.has_table):
            if table.cell(0, 0).text != "LSOA":
                continue
            assert "Jan 2019–Mar 2019" in title, title
            cells = {table.cell(r, 0).text: table.cell(r, 1).text for r in range(1, len(table.rows))}
            assert cells, title
            if key in others:
                truth = _sql_counts(con, others[key], "2019-01", "2019-03")
                assert cells == {n: _published(vso.get(names[n], 0), truth.get(names[n], 0), True) for n in cells}, title
                assert SECONDARY_MARKER not in cells.values()          # top lists leave the withheld LSOAs out
            else:
                truth = _sql_counts(con, plain[key], "2019-01", "2019-03")
                assert cells == {n: f"{truth[names[n]]:,}" for n in cells}, title
            checked.add(key)
    assert checked == {"1.", "2.", "4.", "5."}
