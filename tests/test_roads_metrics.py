"""Road metrics over STATS19 files written by the test (and the real DfT sample): every expected figure is
counted in plain Python from the rows the test wrote (KSI = fatal + serious computed independently)."""

from __future__ import annotations

import csv
import math
import random
from collections import Counter
from datetime import date, datetime

import duckdb
import pytest
from scipy import stats

from etl.load import load_sources
from metrics.filters import Filters
from metrics.roads import (
    KSI_SEVERITY_CAVEAT,
    casualties_by_road_user,
    casualties_per_collision_dispersion,
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


def _quasi_interval(current: float, previous: float, days_current: int, days_previous: int, phi: float):
    """The exact conditional interval on the effective counts count / phi, from scipy's beta quantiles."""
    x, y = current / phi, previous / phi
    lower_pi, upper_pi = stats.beta.ppf(0.025, x, y + 1), stats.beta.ppf(0.975, x + 1, y)
    scale = days_previous / days_current
    return lower_pi / (1 - lower_pi) * scale, upper_pi / (1 - upper_pi) * scale


def test_period_change_12_months(roads):
    con, collisions, casualties = roads
    kept = essex(collisions)
    frame = road_period_change(con, "essex", date(2022, 12, 1)).set_index("measure")
    ksi = [k for k in casualties if k["index"] in kept and k["severity"] in (1, 2)]
    current = sum(1 for k in ksi if kept[k["index"]]["when"].year == 2022)
    previous = sum(1 for k in ksi if kept[k["index"]]["when"].year == 2021)
    row = frame.loc["KSI casualties"]
    assert (row["current_12_months"], row["previous_12_months"]) == (current, previous)
    assert (row["days_current"], row["days_previous"]) == (365, 365)
    # casualties come in collisions: dispersion = Σc² / Σc over collisions (c = KSI casualties in each)
    per_collision = Counter(k["index"] for k in ksi)
    phi = sum(c * c for c in per_collision.values()) / sum(per_collision.values())
    assert phi > 1 and row["dispersion"] == pytest.approx(phi)
    assert (row["ci_lower"], row["ci_upper"]) == pytest.approx(_quasi_interval(current, previous, 365, 365, phi))
    assert row["rate_ratio"] == pytest.approx(current / previous)
    assert row["pct_change"] == pytest.approx(100 * (current - previous) / previous)
    # collisions are not clustered: the exact Poisson interval (Clopper–Pearson from scipy's binomtest)
    collisions_now = sum(1 for c in kept.values() if c["when"].year == 2022)
    collisions_before = sum(1 for c in kept.values() if c["when"].year == 2021)
    row = frame.loc["Collisions"]
    assert (row["current_12_months"], row["previous_12_months"]) == (collisions_now, collisions_before)
    assert row["dispersion"] == 1
    ci = stats.binomtest(collisions_now, collisions_now + collisions_before).proportion_ci(0.95, method="exact")
    assert (row["ci_lower"], row["ci_upper"]) == pytest.approx((ci.low / (1 - ci.low), ci.high / (1 - ci.high)))
    assert row["months_with_data_current"] == 12 and row["months_with_data_previous"] == 12
    # q-values: Benjamini–Hochberg across every row of the comparison (statsmodels as the independent check)
    from statsmodels.stats.multitest import multipletests

    expected_q = multipletests(frame["p_value"].to_numpy(), method="fdr_bh")[1]
    assert frame["q_value"].to_numpy() == pytest.approx(expected_q)
    assert (frame["significant"] == (frame["q_value"] < 0.05)).all()
    assert (frame["q_value"] >= frame["p_value"] - 1e-12).all()
    assert (frame["p_value"] < 0.05).equals((frame["ci_lower"] > 1) | (frame["ci_upper"] < 1))


def test_quasi_poisson_interval_is_wider_by_the_root_of_the_dispersion():
    from metrics.compare import poisson_rate_ratio

    # large counts: the log-scale width grows by √1.44 = 1.2 (Wald: √(φ(1/a + 1/b)))
    plain = poisson_rate_ratio(4000, 365, 3600, 365)
    clustered = poisson_rate_ratio(4000, 365, 3600, 365, dispersion=1.44)
    ratio = math.log(clustered.ci_upper / clustered.ci_lower) / math.log(plain.ci_upper / plain.ci_lower)
    assert ratio == pytest.approx(1.2, rel=0.005)
    assert clustered.rate_ratio == plain.rate_ratio and clustered.p_value > plain.p_value
    wald = 1.96 * math.sqrt(1.44 * (1 / 4000 + 1 / 3600))
    assert math.log(clustered.ci_upper / clustered.rate_ratio) == pytest.approx(wald, rel=0.01)


def test_dispersion_of_the_real_dft_sample_is_1_44(tmp_path, reference_data):
    sample = reference_data / "dft" / "collision-2022-met-january-sample.csv"
    with open(sample, encoding="utf-8-sig", newline="") as handle:
        per_collision = [int(r["number_of_casualties"]) for r in csv.DictReader(handle)]
    by_csv = sum(c * c for c in per_collision) / sum(per_collision)
    by_sql = duckdb.sql(
        f"select sum(number_of_casualties ^ 2) / sum(number_of_casualties) from read_csv('{sample}')"
    ).fetchall()[0][0]
    assert by_csv == pytest.approx(by_sql) and round(by_csv, 2) == 1.44
    db = tmp_path / "sample.duckdb"
    load_sources([sample], db, progress=False)
    con = duckdb.connect(str(db), read_only=True)
    assert casualties_per_collision_dispersion(con, Filters(force_id="metropolitan")) == pytest.approx(by_csv)
    # so Poisson intervals on these casualty counts are about 20% too narrow
    assert math.sqrt(by_csv) == pytest.approx(1.2, abs=0.005)


def test_ksi_measure_carries_the_severity_reporting_caveat():
    from metrics import plan

    assert "CRASH" in KSI_SEVERITY_CAVEAT and "2016" in KSI_SEVERITY_CAVEAT and "adjusted" in KSI_SEVERITY_CAVEAT
    assert KSI_SEVERITY_CAVEAT in plan.measure("ksi_casualties").caveats


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
