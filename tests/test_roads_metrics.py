"""Road metrics over STATS19 files written by the test (and the real DfT sample): every expected figure is
counted in plain Python from the rows the test wrote (KSI = fatal + serious computed independently)."""

from __future__ import annotations

import csv
import random
from collections import Counter
from datetime import date, datetime

import duckdb
import pytest
from scipy import stats

from etl.load import load_sources
from metrics.filters import Filters
from metrics.roads import (
    casualties_by_road_user,
    collisions_by_hour_day,
    collisions_by_speed_limit,
    ksi_series,
    road_period_change,
    severity_counts,
)

COLLISION_HEADER = [
    "collision_index", "collision_year", "collision_ref_no", "longitude", "latitude", "police_force",
    "collision_severity", "number_of_vehicles", "number_of_casualties", "date", "day_of_week", "time",
    "local_authority_district", "local_authority_ons_district", "road_type", "speed_limit", "light_conditions",
    "weather_conditions", "urban_or_rural_area", "lsoa_of_collision_location",
]
CASUALTY_HEADER = [
    "collision_index", "collision_year", "collision_ref_no", "vehicle_reference", "casualty_reference",
    "casualty_class", "sex_of_casualty", "age_of_casualty", "age_band_of_casualty", "casualty_severity", "casualty_type",
]
USER_OF_TYPE = {0: "Pedestrian", 1: "Pedal cyclist", 2: "Motorcyclist", 5: "Motorcyclist", 97: "Motorcyclist",
                9: "Car occupant", 11: "Other", 19: "Other"}
SEVERITY = {1: "Fatal", 2: "Serious", 3: "Slight"}


@pytest.fixture(scope="module")
def roads(tmp_path_factory):
    rng = random.Random(11)
    collisions, casualties = [], []
    number = 0
    for year in (2021, 2022):
        for month in range(1, 13):
            for _ in range(rng.randint(5, 15) if year == 2021 else rng.randint(8, 20)):
                number += 1
                force = rng.choice([42, 42, 42, 1])
                day = rng.randint(1, 28)
                when = datetime(year, month, day, rng.randint(0, 23), rng.choice([0, 15, 30, 45]))
                casualty_rows = []
                for ref in range(1, rng.randint(1, 3) + 1):
                    casualty_rows.append({"ref": ref, "severity": rng.choice([1, 2, 2, 3, 3, 3, 3, 3]),
                                          "type": rng.choice(list(USER_OF_TYPE))})
                index = f"{year}{force:02d}{number:07d}"
                collisions.append({
                    "index": index, "force": force, "when": when, "speed": rng.choice([20, 30, 30, 40, 60, 70]),
                    "severity": min(c["severity"] for c in casualty_rows),
                })
                for c in casualty_rows:
                    casualties.append({"index": index, **c})
    root = tmp_path_factory.mktemp("roads")
    with open(root / "collisions.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLLISION_HEADER)
        for c in collisions:
            dow = (c["when"].isoweekday() % 7) + 1  # DfT: 1 = Sunday
            writer.writerow([c["index"], c["when"].year, c["index"][4:], "0.5", "51.7", c["force"], c["severity"], 1,
                             "1", c["when"].strftime("%d/%m/%Y"), dow, c["when"].strftime("%H:%M"), -1, "E07000066",
                             6, c["speed"], 1, 1, 1, "E01021300"])
    with open(root / "casualties.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CASUALTY_HEADER)
        for k in casualties:
            writer.writerow([k["index"], k["index"][:4], k["index"][4:], 1, k["ref"], 1, 1, 30, 6, k["severity"], k["type"]])
    db = root / "roads.duckdb"
    load_sources([root / "collisions.csv", root / "casualties.csv"], db, progress=False)
    con = duckdb.connect(str(db), read_only=True)
    yield con, collisions, casualties
    con.close()


def essex(collisions):
    return {c["index"]: c for c in collisions if c["force"] == 42}


def test_severity_counts(roads):
    con, collisions, casualties = roads
    kept = essex(collisions)
    frame = severity_counts(con, Filters(force_id="essex")).set_index("severity")
    expected_collisions = Counter(SEVERITY[c["severity"]] for c in kept.values())
    assert frame["collisions"].to_dict() == {s: expected_collisions.get(s, 0) for s in ("Fatal", "Serious", "Slight")}
    expected_casualties = Counter(SEVERITY[k["severity"]] for k in casualties if k["index"] in kept)
    assert frame["casualties"].to_dict() == {s: expected_casualties.get(s, 0) for s in ("Fatal", "Serious", "Slight")}
    everyone = severity_counts(con, Filters())
    assert everyone["collisions"].sum() == len(collisions) and everyone["casualties"].sum() == len(casualties)


def test_ksi_monthly_and_weekly(roads):
    con, collisions, casualties = roads
    kept = essex(collisions)
    monthly = ksi_series(con, Filters(force_id="essex"), period="month")
    assert len(monthly) == 24
    expected = Counter()
    for k in casualties:
        if k["index"] in kept and k["severity"] in (1, 2):
            when = kept[k["index"]]["when"]
            expected[date(when.year, when.month, 1)] += 1
    got = {row.period_start.date() if hasattr(row.period_start, "date") else row.period_start: row.ksi_casualties
           for row in monthly.itertuples()}
    assert got == {m: expected.get(m, 0) for m in got}
    assert (monthly["ksi_casualties"] == monthly["fatal"] + monthly["serious"]).all()
    weekly = ksi_series(con, Filters(force_id="essex"), date(2022, 1, 1), date(2022, 3, 1), period="week")
    weekly_expected = Counter()
    for k in casualties:
        if k["index"] in kept and k["severity"] in (1, 2) and date(2022, 1, 1) <= kept[k["index"]]["when"].date() < date(2022, 4, 1):
            d = kept[k["index"]]["when"].date()
            weekly_expected[d.toordinal() - d.weekday()] += 1
    assert weekly["ksi_casualties"].sum() == sum(weekly_expected.values())
    assert all(ts.weekday() == 0 for ts in weekly["period_start"])


def test_by_road_user_speed_and_hour(roads):
    con, collisions, casualties = roads
    kept = essex(collisions)
    users = casualties_by_road_user(con, Filters(force_id="essex")).set_index("road_user_type")
    expected_ksi = Counter(USER_OF_TYPE[k["type"]] for k in casualties if k["index"] in kept and k["severity"] in (1, 2))
    assert list(users.index) == ["Pedestrian", "Pedal cyclist", "Motorcyclist", "Car occupant", "Other"]
    assert users["ksi_casualties"].to_dict() == {u: expected_ksi.get(u, 0) for u in users.index}
    speeds = collisions_by_speed_limit(con, Filters(force_id="essex")).set_index("speed_limit")
    assert speeds["collisions"].to_dict() == dict(Counter(c["speed"] for c in kept.values()))
    grid = collisions_by_hour_day(con, Filters(force_id="essex"))
    expected_grid = Counter((c["when"].strftime("%A"), c["when"].hour) for c in kept.values())
    assert {(r.day_of_week, r.hour): r.collisions for r in grid.itertuples()} == dict(expected_grid)


def test_period_change_12_months(roads):
    con, collisions, casualties = roads
    kept = essex(collisions)
    frame = road_period_change(con, "essex", date(2022, 12, 1)).set_index("measure")
    current = sum(1 for k in casualties if k["index"] in kept and k["severity"] in (1, 2) and kept[k["index"]]["when"].year == 2022)
    previous = sum(1 for k in casualties if k["index"] in kept and k["severity"] in (1, 2) and kept[k["index"]]["when"].year == 2021)
    row = frame.loc["KSI casualties"]
    assert (row["current_12_months"], row["previous_12_months"]) == (current, previous)
    assert row["pct_change"] == pytest.approx(100 * (current - previous) / previous)
    # exact interval from the binomial split (Clopper-Pearson), equal exposures
    lower_pi = stats.beta.ppf(0.025, current, previous + 1)
    upper_pi = stats.beta.ppf(0.975, current + 1, previous)
    assert row["ci_lower"] == pytest.approx(lower_pi / (1 - lower_pi))
    assert row["ci_upper"] == pytest.approx(upper_pi / (1 - upper_pi))
    assert row["months_with_data_current"] == 12 and row["months_with_data_previous"] == 12
    assert frame.loc["Collisions", "current_12_months"] == sum(1 for c in kept.values() if c["when"].year == 2022)
    # q-values: Benjamini–Hochberg across every row of the comparison (statsmodels as the independent check)
    from statsmodels.stats.multitest import multipletests

    expected_q = multipletests(frame["p_value"].to_numpy(), method="fdr_bh")[1]
    assert frame["q_value"].to_numpy() == pytest.approx(expected_q)
    assert (frame["significant"] == (frame["q_value"] < 0.05)).all()
    assert (frame["q_value"] >= frame["p_value"] - 1e-12).all()


def test_real_sample_severity_and_hour_grid(tmp_path, reference_data):
    sample = reference_data / "dft" / "collision-2022-met-january-sample.csv"
    with open(sample, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    db = tmp_path / "w.duckdb"
    load_sources([sample], db, progress=False)
    con = duckdb.connect(str(db), read_only=True)
    frame = severity_counts(con, Filters(force_id="metropolitan")).set_index("severity")
    assert frame["collisions"].to_dict() == {"Fatal": 5, "Serious": 152, "Slight": 892}
    assert frame["collisions"].to_dict() == {
        {"1": "Fatal", "2": "Serious", "3": "Slight"}[k]: v for k, v in Counter(r["accident_severity"] for r in rows).items()
    }
    grid = collisions_by_hour_day(con, Filters())
    expected = Counter((datetime.strptime(r["date"], "%d/%m/%Y").strftime("%A"), int(r["time"][:2])) for r in rows)
    assert {(r.day_of_week, r.hour): r.collisions for r in grid.itertuples()} == dict(expected)
    ksi = sum(1 for r in rows if r["accident_severity"] in ("1", "2"))
    monthly = ksi_series(con, Filters())
    assert monthly["ksi_collisions"].sum() == ksi == 157
