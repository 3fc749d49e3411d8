"""Monthly and weekly series, rolling totals and year-on-year change, checked against csv counts over
the real Essex files and hand-made inputs."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date

import duckdb
import pandas as pd
import pytest

from etl.load import load_sources
from metrics.filters import Filters
from metrics.series import (
    FAMILIES,
    categories,
    data_range,
    districts,
    forces,
    monthly_series,
    monthly_series_each_category,
    weekly_series,
    with_rolling,
)
from tests.test_metrics_stop_search import write_stop_search

ESSEX_DISTRICTS = ["Basildon", "Braintree", "Brentwood", "Castle Point", "Chelmsford", "Colchester", "Epping Forest",
                   "Harlow", "Maldon", "Rochford", "Southend-on-Sea", "Tendring", "Thurrock", "Uttlesford"]


def test_monthly_by_crime_type_matches_the_files(essex_db, essex_rows):
    con = duckdb.connect(str(essex_db), read_only=True)
    frame = monthly_series(con, "crimes", ["crime_type"], Filters(force_id="essex"))
    expected = Counter((row["Month"], row["Crime type"]) for row in essex_rows)
    got = {(f"{r.month:%Y-%m}", r.crime_type): r.count for r in frame.itertuples()}
    assert got == dict(expected)
    assert list(frame.columns) == ["month", "crime_type", "count"]
    total = monthly_series(con)
    assert dict(zip((f"{m:%Y-%m}" for m in total["month"]), total["count"])) == dict(Counter(r["Month"] for r in essex_rows))


def test_monthly_by_district_filters_and_zero_fill(essex_db, essex_rows):
    con = duckdb.connect(str(essex_db), read_only=True)
    filters = Filters(force_id="essex", districts=("Maldon", "Harlow"), categories=("Bicycle theft", "Robbery"))
    frame = monthly_series(con, "crimes", ["district"], filters, date(2018, 9, 1), date(2019, 3, 1))

    def district(name):
        return re.sub(r"\s+\d{3}[A-Z]$", "", name.strip()) if name else None

    expected = Counter(
        (row["Month"], district(row["LSOA name"])) for row in essex_rows
        if district(row["LSOA name"]) in {"Maldon", "Harlow"} and row["Crime type"] in {"Bicycle theft", "Robbery"}
    )
    assert len(frame) == 7 * 2  # 2018-09..2019-03 for both districts, months without data filled with 0
    for row in frame.itertuples():
        assert row.count == expected.get((f"{row.month:%Y-%m}", row.district), 0)
    assert frame[frame["month"] == date(2018, 9, 1)]["count"].tolist() == [0, 0]


@pytest.mark.parametrize("districts", [(), ("Maldon",), ("Rochford", "Havering")])
def test_monthly_each_crime_type_from_its_own_first_to_last_month(essex_db, essex_rows, districts):
    """One query, every crime type: each from its own first to its own last month under the filters, gaps as 0."""
    con = duckdb.connect(str(essex_db), read_only=True)
    frame = monthly_series_each_category(con, "crimes", Filters(force_id="essex", districts=districts))

    def district(name):
        return re.sub(r"\s+\d{3}[A-Z]$", "", name.strip()) if name else None

    counts = Counter((row["Crime type"], row["Month"]) for row in essex_rows
                     if not districts or district(row["LSOA name"]) in districts)
    expected = []
    for crime_type in sorted({t for t, _ in counts}):
        months = sorted(m for t, m in counts if t == crime_type)
        month = date.fromisoformat(months[0] + "-01")
        while f"{month:%Y-%m}" <= months[-1]:
            expected.append((crime_type, month, counts.get((crime_type, f"{month:%Y-%m}"), 0)))
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    assert list(frame.itertuples(index=False, name=None)) == expected
    assert list(frame.columns) == ["category", "month", "count"]
    if districts:  # the small districts leave gaps inside some types' ranges, filled with 0
        assert any(count == 0 for _, _, count in expected)
    chosen = monthly_series_each_category(con, "crimes", Filters("essex", districts, ("Robbery", "Drugs")))
    assert set(chosen["category"]) == {"Robbery", "Drugs"} & {t for t, _ in counts}


def test_counts_family_gaps_and_groups(tmp_path):
    source = tmp_path / "tidy.csv"
    source.write_text(
        "period,area,category,count\n"
        "2020-01,North,Burglary,5\n2020-01,South,Burglary,2\n2020-03,North,Burglary,7\n2020-03,North,Robbery,1\n"
    )
    db = tmp_path / "tidy.duckdb"
    load_sources([source], db, progress=False)
    con = duckdb.connect(str(db), read_only=True)
    total = monthly_series(con, "counts")
    assert total.to_dict("list") == {"month": [date(2020, 1, 1), date(2020, 2, 1), date(2020, 3, 1)], "count": [7, 0, 8]}
    by = monthly_series(con, "counts", ["category", "area"])
    assert len(by) == 3 * 3  # three (category, area) pairs seen × three months
    north_robbery = by[(by["category"] == "Robbery") & (by["area"] == "North")]["count"].tolist()
    assert north_robbery == [0, 0, 1]
    assert data_range(con, "counts") == (date(2020, 1, 1), date(2020, 3, 1))
    assert categories(con, "counts") == ["Burglary", "Robbery"]


def test_with_rolling_by_hand():
    months = pd.date_range("2018-01-01", periods=26, freq="MS").date
    frame = pd.DataFrame({"month": list(months) * 2, "area": ["a"] * 26 + ["b"] * 26,
                          "count": list(range(1, 27)) + [10] * 26})
    result = with_rolling(frame)
    a = result[result["area"] == "a"].reset_index(drop=True)
    assert a["rolling_12_month_total"].iloc[:11].isna().all()
    assert a["rolling_12_month_total"].iloc[11] == sum(range(1, 13))  # 78
    assert a["rolling_12_month_total"].iloc[25] == sum(range(15, 27))
    assert a["yoy_change"].iloc[12] == 12 and a["yoy_pct_change"].iloc[12] == pytest.approx(1200.0)
    assert a["yoy_change"].iloc[:12].isna().all()
    b = result[result["area"] == "b"].reset_index(drop=True)
    assert b["rolling_12_month_total"].iloc[20] == 120 and b["yoy_change"].iloc[20] == 0


def test_weekly_series_mondays_and_local_time(tmp_path):
    write_stop_search(tmp_path / "files")
    db = tmp_path / "s.duckdb"
    load_sources([tmp_path / "files"], db, progress=False)
    con = duckdb.connect(str(db), read_only=True)
    frame = weekly_series(con, "stop_search")
    weeks = dict(zip(frame["week_start"], frame["count"]))
    assert weeks[date(2019, 3, 4)] == 3  # Mon 4, Tue 5 and Sun 10 March
    assert weeks[date(2019, 3, 11)] == 1
    assert weeks[date(2019, 3, 18)] == 0 and weeks[date(2019, 3, 25)] == 0 and weeks[date(2019, 4, 1)] == 0
    assert weeks[date(2019, 4, 8)] == 2  # 00:30 BST on Monday 8 April belongs to that week
    assert all(d.weekday() == 0 for d in frame["week_start"])
    by = weekly_series(con, "stop_search", ["object_of_search"], start=date(2019, 3, 6), end=date(2019, 3, 12))
    assert set(by["week_start"]) == {date(2019, 3, 4), date(2019, 3, 11)}
    monthly = monthly_series(con, "stop_search", ["outcome"])
    assert int(monthly["count"].sum()) == 6
    with pytest.raises(ValueError, match="no dates"):
        weekly_series(con, "crimes")


def test_lookups(essex_db):
    con = duckdb.connect(str(essex_db), read_only=True)
    assert districts(con, "crimes", force_id="essex") == ESSEX_DISTRICTS
    assert len(districts(con, "crimes")) > 14  # without a force: also the neighbours' LSOAs
    assert len(categories(con, "crimes", Filters(force_id="essex"))) == 14
    assert data_range(con, "crimes", Filters(force_id="essex")) == (date(2018, 10, 1), date(2019, 2, 1))
    assert data_range(con, "crimes", Filters(force_id="kent")) == (None, None)
    table = forces(con)
    assert table["force_id"].tolist() == ["essex"] and table["force_name"].tolist() == ["Essex Police"]
    assert bool(table["crimes"].iloc[0]) and not bool(table["stop_search"].iloc[0])
    assert set(FAMILIES) == {"crimes", "outcomes", "stop_search", "counts", "collisions", "casualties", "fraud", "incidents"}
    with pytest.raises(ValueError, match="cannot group"):
        monthly_series(con, "crimes", ["severity"])
    with pytest.raises(ValueError, match="unknown family"):
        monthly_series(con, "nonsense")


def test_every_family_runs_on_an_empty_warehouse(tmp_path):
    from etl.warehouse import Warehouse

    db = tmp_path / "empty.duckdb"
    Warehouse(db).ensure()
    con = duckdb.connect(str(db), read_only=True)
    for name, spec in FAMILIES.items():
        assert monthly_series(con, name).empty
        assert monthly_series(con, name, [spec.category_column], start=date(2020, 1, 1), end=date(2020, 2, 1)).empty
        if spec.date_column:
            assert weekly_series(con, name).empty
