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
BY_HAND = {
    "Investigation complete; no suspect identified": "no suspect identified",
    "Unable to prosecute suspect": "unable to prosecute",
    "Offender given a caution": "out-of-court",
    "Local resolution": "out-of-court",
    "Offender sent to prison": "charged/summonsed",
    "Suspect charged": "charged/summonsed",
    "Under investigation": "under investigation",
    "Status update unavailable": "other",
}


def test_mapping_by_hand():
    for outcome, group in BY_HAND.items():
        assert OUTCOME_GROUPS[outcome] == group
    assert set(OUTCOME_GROUPS.values()) <= set(GROUP_ORDER)
    assert outcome_group(None, "Anti-social behaviour") == "not applicable"
    assert outcome_group("Something new") == "other"


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
