"""District and force rates per 1,000 residents and funnel limits, checked against csv sums over the raw
ONS/census files and scipy's Poisson quantiles."""

from __future__ import annotations

import csv
import re
from collections import Counter
from datetime import date

import duckdb
import pytest
from scipy import stats

from metrics.filters import Filters
from metrics.rates import district_rates, force_rates, funnel_limits

START, END = date(2018, 10, 1), date(2019, 2, 1)


@pytest.fixture(scope="module")
def essex_lsoas(reference_data):
    """LSOA code -> (district, usual residents) for Essex, from the raw ONS lookup and census csv files."""
    lookup = {}
    with open(reference_data / "ons" / "lsoa11-to-local-authority-and-force.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["Police_force"] == "Essex":
                lookup[row["LSOA Code"]] = re.sub(r"\s+\d{3}[A-Z]$", "", row["LSOA Name"])
    residents = {}
    with open(reference_data / "ons" / "census2011-lsoa-usual-residents.csv", newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        code_at, persons_at = header.index("LSOA Code"), header.index("Persons")
        for row in reader:
            if row[code_at] in lookup:
                residents[row[code_at]] = int(row[persons_at].replace(",", ""))
    return {code: (district, residents[code]) for code, district in lookup.items()}


def test_district_rates_match_the_raw_files(essex_db, essex_dir, essex_lsoas):
    con = duckdb.connect(str(essex_db), read_only=True)
    frame = district_rates(con, "crimes", START, END, Filters(force_id="essex")).set_index("district")
    assert len(frame) == 14
    counts = Counter()
    for month in ["2018-10", "2018-11", "2018-12", "2019-01", "2019-02"]:
        with open(essex_dir / month / f"{month}-essex-street.csv", newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row["LSOA code"] in essex_lsoas:
                    counts[essex_lsoas[row["LSOA code"]][0]] += 1
    residents = Counter()
    for district, people in essex_lsoas.values():
        residents[district] += people
    overall = sum(counts.values()) / sum(residents.values()) * 1000
    for district, row in frame.iterrows():
        assert row["count"] == counts[district]
        assert row["residents"] == residents[district]
        assert row["rate_per_1000"] == pytest.approx(counts[district] / residents[district] * 1000)
        assert row["rate_per_1000_per_year"] == pytest.approx(row["rate_per_1000"] * 12 / 5)
        expected = overall / 1000 * residents[district]
        assert row["upper_998"] == pytest.approx(stats.poisson.ppf(0.999, expected) / residents[district] * 1000)
        assert row["lower_95"] == pytest.approx(stats.poisson.ppf(0.025, expected) / residents[district] * 1000)
        if counts[district] > stats.poisson.ppf(0.999, expected):
            assert row["outside"] == "above"
        elif counts[district] < stats.poisson.ppf(0.001, expected):
            assert row["outside"] == "below"
        else:
            assert row["outside"] is None
    assert frame.attrs["overall_rate_per_1000"] == pytest.approx(overall)
    assert frame.loc["Southend-on-Sea", "outside"] == "above" and frame.loc["Maldon", "outside"] == "below"


def test_funnel_limits_by_hand():
    funnel = funnel_limits(50.0, [2000, 100000], period_months=12)
    small = funnel.iloc[0]
    assert small["expected_count"] == pytest.approx(100)
    assert small["upper_95"] == stats.poisson.ppf(0.975, 100) / 2000 * 1000  # 120 → 60 per 1,000
    assert small["upper_95"] == pytest.approx(60.0)
    wide, narrow = funnel.iloc[0], funnel.iloc[1]
    assert wide["upper_998"] - wide["lower_998"] > narrow["upper_998"] - narrow["lower_998"]


def test_force_rates_from_crimes_and_home_office(essex_db, reference_data, tmp_path, essex_lsoas):
    con = duckdb.connect(str(essex_db), read_only=True)
    frame = force_rates(con, "crimes", START, END)
    assert frame["force_id"].tolist() == ["essex"]
    residents = sum(people for _, people in essex_lsoas.values())
    assert int(frame["residents"].iloc[0]) == residents
    assert int(frame["count"].iloc[0]) == 84233  # the README's row count of the five Essex files
    from etl.load import load_sources

    db = tmp_path / "ho.duckdb"
    load_sources([reference_data / "home-office" / "prc-pfa-2017-18-by-offence.csv",
                  reference_data / "ons" / "lsoa11-to-local-authority-and-force.csv",
                  reference_data / "ons" / "census2011-lsoa-usual-residents.csv"], db, progress=False)
    ho = duckdb.connect(str(db), read_only=True)
    table = force_rates(ho, "counts", date(2017, 4, 1), date(2018, 3, 1), categories=("Burglary",))
    expected = 0
    with open(reference_data / "home-office" / "prc-pfa-2017-18-by-offence.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["Force_Name"] == "Essex" and row["Policeuk_Cat"] == "Burglary":
                expected += int(row["Number_of_Offences"])
    essex = table.set_index("force_id").loc["essex"]
    assert essex["count"] == expected
    assert essex["rate_per_1000"] == pytest.approx(expected / residents * 1000)
    ranked = table.dropna(subset=["rate_per_1000"])
    assert list(ranked["rank"]) == sorted(ranked["rank"]) and ranked["rank"].iloc[0] == 1
    assert ranked["rate_per_1000"].is_monotonic_decreasing
    # the first quarter alone: only rows whose quarter ends inside the range
    first_quarter = force_rates(ho, "counts", date(2017, 4, 1), date(2017, 6, 1), categories=("Burglary",))
    assert first_quarter.set_index("force_id").loc["essex", "count"] < expected
    assert force_rates(ho, "counts", date(2017, 4, 1), date(2017, 5, 1)).empty
