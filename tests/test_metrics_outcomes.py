"""Outcome groups and shares on the real Essex data (csv counts) and on a small outcomes file whose later
outcome must win over the street file's last outcome."""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from datetime import date

import duckdb
import pytest

from etl.load import load_sources
from metrics.filters import Filters
from metrics.outcomes import (
    GROUP_ORDER,
    OUTCOME_GROUPS,
    outcome_group,
    outcome_shares,
    positive_outcome_rate,
)

START, END = date(2018, 10, 1), date(2019, 2, 1)
MONTHS = ["2018-10", "2018-11", "2018-12", "2019-01", "2019-02"]
# Every outcome category data.police.uk publishes (its API's outcome-categories list; the street files'
# "Last outcome category" and the outcomes files' "Outcome type" use these names), typed out with its group.
# A court result implies a charge or summons; cautions, warnings, penalty notices and local resolutions are
# out-of-court disposals.
DATA_POLICE_UK_OUTCOMES = {
    "Awaiting court outcome": "charged/summonsed",
    "Court result unavailable": "charged/summonsed",
    "Court case unable to proceed": "charged/summonsed",
    "Local resolution": "out-of-court",
    "Investigation complete; no suspect identified": "no suspect identified",
    "Offender deprived of property": "charged/summonsed",
    "Offender fined": "charged/summonsed",
    "Offender given absolute discharge": "charged/summonsed",
    "Offender given a caution": "out-of-court",
    "Offender given a drugs possession warning": "out-of-court",
    "Offender given a penalty notice": "out-of-court",
    "Offender given penalty notice": "out-of-court",  # the street files' spelling (Essex 2018-19)
    "Offender given community sentence": "charged/summonsed",
    "Offender given conditional discharge": "charged/summonsed",
    "Offender given suspended prison sentence": "charged/summonsed",
    "Offender sent to prison": "charged/summonsed",
    "Offender otherwise dealt with": "charged/summonsed",
    "Offender ordered to pay compensation": "charged/summonsed",
    "Suspect charged as part of another case": "charged/summonsed",
    "Suspect charged": "charged/summonsed",
    "Defendant found not guilty": "charged/summonsed",
    "Defendant sent to Crown Court": "charged/summonsed",
    "Unable to prosecute suspect": "unable to prosecute",
    "Formal action is not in the public interest": "unable to prosecute",
    "Further investigation is not in the public interest": "unable to prosecute",
    "Further action is not in the public interest": "unable to prosecute",
    "Action to be taken by another organisation": "other",
    "Under investigation": "under investigation",
    "Status update unavailable": "other",
}


def test_full_data_police_uk_mapping():
    assert len(DATA_POLICE_UK_OUTCOMES) == 29  # the 28 published categories and one spelling variant
    for outcome, group in DATA_POLICE_UK_OUTCOMES.items():
        assert OUTCOME_GROUPS[outcome] == group, outcome
        assert outcome_group(outcome) == group and outcome_group(f"  {outcome} ") == group
    assert set(OUTCOME_GROUPS.values()) <= set(GROUP_ORDER)
    assert outcome_group(None, "Anti-social behaviour") == "not applicable"
    assert outcome_group("Something new") == "other" and outcome_group(None) == "other"


def _street_rows(outcomes: list[str], month: str = "2019-02") -> list[list[str]]:
    rows = []
    for number, outcome in enumerate(outcomes):
        rows.append([f"id{number:04d}", month, "Essex Police", "Essex Police", "0.47", "51.73", "On or near High Street",
                     "E01021588", "Basildon 001E", "Burglary", outcome, ""])
    return rows


def test_the_sql_mapping_groups_every_category(tmp_path):
    folder = tmp_path / "2019-02"
    folder.mkdir()
    header = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location", "LSOA code",
              "LSOA name", "Crime type", "Last outcome category", "Context"]
    outcomes = [outcome for outcome in DATA_POLICE_UK_OUTCOMES for _ in range(2)] + ["A new category"]
    with open(folder / "2019-02-essex-street.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(_street_rows(outcomes))
    db = tmp_path / "o.duckdb"
    load_sources([tmp_path], db, progress=False)
    con = duckdb.connect(str(db), read_only=True)
    frame = outcome_shares(con, date(2019, 2, 1), date(2019, 2, 1))
    expected = Counter(DATA_POLICE_UK_OUTCOMES[o] if o in DATA_POLICE_UK_OUTCOMES else "other" for o in outcomes)
    assert dict(zip(frame["outcome_group"], frame["crimes"])) == dict(expected)


def test_outcomes_file_district_with_lsoa_suffixes_beyond_a(tmp_path):
    folder = tmp_path / "2019-02"
    folder.mkdir()
    header = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location", "LSOA code",
              "LSOA name", "Outcome type"]
    names = {"Basildon 001E": "Basildon", "Southend-on-Sea 034F": "Southend-on-Sea", "Castle Point 012Z": "Castle Point",
             "Epping Forest 007B": "Epping Forest", "Tendring 018H": "Tendring", "": None}
    with open(folder / "2019-02-essex-outcomes.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for number, name in enumerate(names):
            writer.writerow([f"c{number:03d}", "2019-02", "Essex Police", "Essex Police", "0.5", "51.6", "On or near X",
                             "E01021500" if name else "", name, "Suspect charged"])
    db = tmp_path / "d.duckdb"
    load_sources([tmp_path], db, progress=False)
    con = duckdb.connect(str(db), read_only=True)
    got = dict(con.execute("select crime_id, district from outcomes").fetchall())
    assert got == {f"c{number:03d}": district for number, district in enumerate(names.values())}


def test_every_outcome_in_the_essex_files_is_mapped(essex_dir):
    seen = set()
    for month in MONTHS:
        with open(essex_dir / month / f"{month}-essex-street.csv", newline="", encoding="utf-8") as handle:
            seen |= {row["Last outcome category"] for row in csv.DictReader(handle) if row["Last outcome category"]}
    assert seen - set(OUTCOME_GROUPS) == set()


def test_shares_match_the_files(essex_db, essex_dir):
    con = duckdb.connect(str(essex_db), read_only=True)
    frame = outcome_shares(con, START, END, Filters(force_id="essex"))
    expected = Counter()
    for month in MONTHS:
        with open(essex_dir / month / f"{month}-essex-street.csv", newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row["Crime type"] != "Anti-social behaviour":
                    expected[OUTCOME_GROUPS.get(row["Last outcome category"], "other")] += 1
    total = sum(expected.values())
    got = dict(zip(frame["outcome_group"], frame["crimes"]))
    assert got == dict(expected)
    assert frame["share"].sum() == pytest.approx(1)
    for row in frame.itertuples():
        assert row.share == pytest.approx(expected[row.outcome_group] / total)
    rate = positive_outcome_rate(con, START, END, Filters(force_id="essex"))
    assert rate["positive_outcome_rate"].iloc[0] == pytest.approx(expected["charged/summonsed"] / total)
    by_type = outcome_shares(con, START, END, Filters(force_id="essex"), by=["crime_type"])
    assert len(set(by_type["crime_type"])) == 13  # the 14 types less ASB
    sums = by_type.groupby("crime_type")["share"].sum()
    assert sums.to_numpy() == pytest.approx([1.0] * 13)


def test_latest_outcome_wins(tmp_path, essex_dir):
    folder = tmp_path / "files" / "2019-02"
    folder.mkdir(parents=True)
    street = folder / "2019-02-essex-street.csv"
    shutil.copy(essex_dir / "2019-02" / "2019-02-essex-street.csv", street)
    with open(street, newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["Crime ID"] and r["Last outcome category"] == "Unable to prosecute suspect"][:3]
    header = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location", "LSOA code",
              "LSOA name", "Outcome type"]
    for month, outcome in (("2019-02", "Suspect charged"), ("2019-03", "Offender sent to prison")):
        out = tmp_path / "files" / month
        out.mkdir(parents=True, exist_ok=True)
        with open(out / f"{month}-essex-outcomes.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for row in rows[:2]:
                writer.writerow([row["Crime ID"], month, "Essex Police", "Essex Police", row["Longitude"], row["Latitude"],
                                 row["Location"], row["LSOA code"], row["LSOA name"], outcome])
    db = tmp_path / "o.duckdb"
    load_sources([tmp_path / "files"], db, progress=False)
    con = duckdb.connect(str(db), read_only=True)
    baseline = Counter()
    with open(street, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["Crime type"] != "Anti-social behaviour":
                baseline[OUTCOME_GROUPS.get(row["Last outcome category"], "other")] += 1
    frame = outcome_shares(con, date(2019, 2, 1), date(2019, 2, 1))
    got = dict(zip(frame["outcome_group"], frame["crimes"]))
    # two crimes moved from 'unable to prosecute' to a charge (the 2019-03 outcome is the latest)
    assert got["charged/summonsed"] == baseline["charged/summonsed"] + 2
    assert got["unable to prosecute"] == baseline["unable to prosecute"] - 2
    with_asb = outcome_shares(con, date(2019, 2, 1), date(2019, 2, 1), include_asb=True)
    assert "not applicable" in set(with_asb["outcome_group"])
