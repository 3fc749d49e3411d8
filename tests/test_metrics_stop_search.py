"""Stop and search summary, by object and by outcome, on a small file in the real data.police.uk layout
loaded through the real loader (no stop-and-search file is among the reference data)."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import pytest

from etl.load import load_sources
from metrics.filters import Filters
from metrics.stop_search import by_object, by_outcome, stop_search_summary

HEADER = [
    "Type", "Date", "Part of a policing operation", "Policing operation", "Latitude", "Longitude",
    "Gender", "Age range", "Self-defined ethnicity", "Officer-defined ethnicity", "Legislation",
    "Object of search", "Outcome", "Outcome linked to object of search",
    "Removal of more than just outer clothing",
]

# (date, object of search, outcome, outcome linked)
SEARCHES = {
    "2019-03": [
        ("2019-03-04T10:00:00+00:00", "Controlled drugs", "Arrest", "true"),
        ("2019-03-05T11:00:00+00:00", "Controlled drugs", "A no further action disposal", "false"),
        ("2019-03-10T23:30:00+00:00", "Offensive weapons", "Arrest", "false"),  # Sunday: week of 4 March
        ("2019-03-11T00:30:00+00:00", "Controlled drugs", "Community resolution", ""),  # Monday 11 March
    ],
    "2019-04": [
        # 23:30 UTC on Sunday 7 April is 00:30 BST on Monday 8 April: counted in the week of 8 April
        ("2019-04-08T00:30:00+01:00", "Stolen goods", "A no further action disposal", "false"),
        ("2019-04-09T09:00:00+01:00", "Controlled drugs", "Arrest", "true"),
    ],
}


def write_stop_search(root: Path) -> Path:
    for month, rows in SEARCHES.items():
        folder = root / month
        folder.mkdir(parents=True)
        with open(folder / f"{month}-essex-stop-and-search.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            for when, object_of_search, outcome, linked in rows:
                writer.writerow(["Person search", when, "false", "", "51.73", "0.47", "Male", "18-24",
                                 "", "White", "Misuse of Drugs Act 1971 (section 23)", object_of_search, outcome,
                                 linked, "false"])
    return root


@pytest.fixture(scope="module")
def stop_search_db(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stops")
    write_stop_search(root / "files")
    db = root / "stops.duckdb"
    load_sources([root / "files"], db, progress=False)
    return db


def test_summary_totals(stop_search_db):
    con = duckdb.connect(str(stop_search_db), read_only=True)
    summary = stop_search_summary(con, date(2019, 3, 1), date(2019, 4, 1), Filters(force_id="essex"))
    assert summary["searches"] == 6
    assert summary["arrests"] == 3 and summary["arrest_rate"] == pytest.approx(3 / 6)
    # linked known for 5 searches (one blank), 2 of them true
    assert summary["finds_known"] == 5 and summary["find_rate"] == pytest.approx(2 / 5)
    march = stop_search_summary(con, date(2019, 3, 1), date(2019, 3, 1))
    assert march["searches"] == 4 and march["arrests"] == 2
    empty = stop_search_summary(con, date(2020, 1, 1), date(2020, 1, 1))
    assert empty["searches"] == 0 and empty["arrest_rate"] is None


def test_by_object_and_outcome(stop_search_db):
    con = duckdb.connect(str(stop_search_db), read_only=True)
    objects = by_object(con, date(2019, 3, 1), date(2019, 4, 1)).set_index("object_of_search")
    assert list(objects.index) == ["Controlled drugs", "Offensive weapons", "Stolen goods"]
    drugs = objects.loc["Controlled drugs"]
    assert (drugs["searches"], drugs["arrests"], drugs["finds"], drugs["finds_known"]) == (4, 2, 2, 3)
    outcomes = by_outcome(con, date(2019, 3, 1), date(2019, 4, 1)).set_index("outcome")
    assert outcomes.loc["Arrest", "searches"] == 3 and outcomes.loc["Arrest", "share"] == pytest.approx(0.5)
    assert outcomes["share"].sum() == pytest.approx(1)
    only_weapons = by_object(con, date(2019, 3, 1), date(2019, 4, 1), Filters(categories=("Offensive weapons",)))
    assert list(only_weapons["object_of_search"]) == ["Offensive weapons"]
