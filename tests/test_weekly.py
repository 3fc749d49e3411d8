"""Weekly exceedance: a planted spike is flagged in its week, a flat series is not; the threshold of a flat
series matches the 2/3-power formula worked out by hand; the weekly table over a loaded force extract."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from etl.load import load_sources
from metrics.weekly import exceedance, same_week_years_back, weekly_table
from tests.conftest import run_cli

TARGET = date(2023, 3, 6)  # a Monday


def weekly_index(first: date, last: date) -> list[date]:
    return [first + timedelta(weeks=k) for k in range((last - first).days // 7 + 1)]


def test_same_week_years_back_is_nearest_monday():
    assert same_week_years_back(date(2023, 3, 6), 1) == date(2022, 3, 7)   # 6 Mar 2022 is a Sunday -> Monday 7th
    assert same_week_years_back(date(2023, 3, 6), 2) == date(2021, 3, 8)   # 6 Mar 2021 is a Saturday -> Monday 8th
    assert same_week_years_back(date(2024, 3, 4), 1) == date(2023, 3, 6)   # 4 Mar 2023 is a Saturday -> 6th
    for years in range(1, 6):
        assert same_week_years_back(TARGET, years).weekday() == 0


def test_flat_series_not_flagged_and_threshold_matches_formula():
    weeks = weekly_index(date(2017, 1, 2), TARGET)
    series = pd.Series(20.0, index=weeks)
    result = exceedance(series, TARGET, years_back=5, window_weeks=3, alpha=0.01)
    assert result["exceeds"] is False
    assert result["observed"] == 20 and result["expected"] == pytest.approx(20.0)
    assert result["baseline_weeks"] == 35 and result["dispersion"] == pytest.approx(1.0)
    # by hand: mu = 20, phi = 1, Var(mu_hat) = mu / n  => tau = 1 + 1/n; U = (mu^(2/3) + z sqrt(4/9 mu^(1/3) tau))^(3/2)
    z = stats.norm.ppf(0.99)
    tau = 1 + 1 / 35
    upper = (20 ** (2 / 3) + z * math.sqrt(4 / 9 * 20 ** (1 / 3) * tau)) ** 1.5
    assert result["upper_threshold"] == pytest.approx(upper, rel=1e-6)
    assert result["same_week_last_year"] == 20 and result["same_week_mean_previous_years"] == 20
    assert result["last_4_weeks_mean"] == 20


def test_planted_spike_is_flagged_only_in_its_week():
    rng = np.random.default_rng(7)
    weeks = weekly_index(date(2017, 1, 2), TARGET + timedelta(weeks=4))
    values = rng.poisson(20, size=len(weeks)).astype(float)
    series = pd.Series(values, index=weeks)
    series[TARGET] = 60.0
    flagged = exceedance(series, TARGET)
    assert flagged["exceeds"] is True and flagged["observed"] == 60
    # the expected value is close to the plain mean of the baseline weeks (same week ±3, five earlier years)
    baseline = [series[same_week_years_back(TARGET, y) + timedelta(weeks=s)] for y in range(1, 6) for s in range(-3, 4)]
    assert flagged["expected"] == pytest.approx(np.mean(baseline), rel=0.1)
    assert flagged["upper_threshold"] < 60
    # the weeks around the spike (ordinary Poisson(20) weeks) are not flagged
    for offset in (-2, -1, 1, 2):
        other = exceedance(series, TARGET + timedelta(weeks=offset))
        assert other["exceeds"] is False, (offset, other)


def test_earlier_outbreak_is_down_weighted():
    weeks = weekly_index(date(2017, 1, 2), TARGET)
    series = pd.Series(20.0, index=weeks)
    # an outbreak in last year's comparable week would otherwise inflate the baseline
    series[same_week_years_back(TARGET, 1)] = 200.0
    series[TARGET] = 45.0
    result = exceedance(series, TARGET)
    plain_mean = np.mean([series[same_week_years_back(TARGET, y) + timedelta(weeks=s)] for y in range(1, 6) for s in range(-3, 4)])
    assert result["expected"] < plain_mean
    assert result["exceeds"] is True


def test_short_history_gives_no_flag():
    weeks = weekly_index(date(2022, 10, 3), TARGET)
    series = pd.Series(20.0, index=weeks)
    series[TARGET] = 80.0
    result = exceedance(series, TARGET)
    assert result["exceeds"] is None and "comparable week" in result["note"]
    assert result["last_4_weeks_mean"] == 20


def test_rare_events_need_five_in_four_weeks():
    weeks = weekly_index(date(2017, 1, 2), TARGET)
    series = pd.Series(0.0, index=weeks)
    series[TARGET] = 2.0
    result = exceedance(series, TARGET)
    assert result["expected"] == 0 and result["exceeds"] is False


def test_quasi_poisson_fit_matches_statsmodels():
    import statsmodels.api as sm

    from metrics.weekly import _fit_quasi_poisson

    rng = np.random.default_rng(3)
    t = np.linspace(-5, -0.5, 30)
    y = rng.poisson(np.exp(3 + 0.1 * t)).astype(float) * rng.choice([1, 2], size=30)
    beta, cov, _mu, phi = _fit_quasi_poisson(y, t, np.ones(30), True)
    model = sm.GLM(y, sm.add_constant(t), family=sm.families.Poisson()).fit(scale="X2")
    assert beta == pytest.approx(model.params, rel=1e-6)
    assert phi == pytest.approx(max(1.0, model.scale), rel=1e-6)
    assert np.sqrt(np.diag(cov * phi)) == pytest.approx(model.bse, rel=1e-5)


def test_week_must_be_a_monday():
    with pytest.raises(ValueError, match="not a Monday"):
        exceedance(pd.Series(dtype=float), date(2023, 3, 7))


# ---------------------------------------------------------------------------------------------
# the table, over a force extract loaded through the real loader
# ---------------------------------------------------------------------------------------------
EXTRACT_HEADER = [
    "incident_ref", "recorded_at", "offence_code", "offence_description", "district", "lsoa_code",
    "domestic_abuse", "hate_crime", "child_victim", "outcome", "outcome_date", "victim_key",
]
FIRST_DAY = date(2018, 1, 1)
LAST_DAY = date(2023, 3, 15)  # a Wednesday: the latest complete week is Mon 6 - Sun 12 March 2023
SPIKE = 30


@pytest.fixture(scope="module")
def extract_db(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("weekly")
    path = root / "extract.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(EXTRACT_HEADER)
        number = 0
        day = FIRST_DAY
        while day <= LAST_DAY:
            extra = SPIKE if day == TARGET + timedelta(days=2) else 0
            # every day: one domestic-abuse assault, one hate-crime public order offence, one burglary
            for kind in ["da"] * (1 + extra) + ["hate", "burglary"]:
                number += 1
                code, da, hate = {"da": ("8N", "Y", "N"), "hate": ("9A", "N", "Y"), "burglary": ("28E", "N", "N")}[kind]
                writer.writerow([f"R{number}", f"{day.isoformat()} 12:00", code, "", "Basildon", "", da, hate, "N", "", "", f"V{number}"])
            day += timedelta(days=1)
    db = root / "w.duckdb"
    load_sources([path], db, progress=False, force="Essex")
    return db


def test_weekly_table_default_week_and_flags(extract_db):
    con = duckdb.connect(str(extract_db), read_only=True)
    table = weekly_table(con)
    assert list(table.columns) == [
        "priority", "measure", "source", "week_start", "week_end", "observed", "same_week_last_year",
        "same_week_mean_previous_years", "last_4_weeks_mean", "expected", "upper_threshold", "exceeds", "note",
    ]
    assert set(table["week_start"]) == {TARGET} and set(table["week_end"]) == {TARGET + timedelta(days=6)}
    rows = table.set_index("measure")
    # counts by hand: 7 days x 3 incidents + the 30 planted domestic-abuse assaults
    assert rows.loc["All recorded crimes (force extract)", "observed"] == 7 * 3 + SPIKE
    assert rows.loc["Domestic abuse crimes", "observed"] == 7 + SPIKE
    assert rows.loc["Domestic abuse crimes", "same_week_last_year"] == 7
    assert rows.loc["Domestic abuse crimes", "last_4_weeks_mean"] == 7
    assert rows.loc["Domestic abuse crimes", "exceeds"] == True  # noqa: E712 (numpy/object bool)
    assert rows.loc["Violence and sexual offences", "exceeds"] == True  # noqa: E712
    assert rows.loc["Hate crimes", "observed"] == 7 and rows.loc["Hate crimes", "exceeds"] == False  # noqa: E712
    assert rows.loc["Crimes with a child victim", "observed"] == 0
    assert rows.loc["Crimes with a child victim", "exceeds"] == False  # noqa: E712
    # no stop and search or collisions loaded: rows present, figures empty, a note says why
    for measure in ("Stops and searches", "Injury road collisions", "Fatal or serious (KSI) collisions"):
        assert pd.isna(rows.loc[measure, "observed"]) and "no" in rows.loc[measure, "note"]
    # an earlier week chosen explicitly (any date in it): no spike there
    earlier = weekly_table(con, date(2023, 2, 15)).set_index("measure")
    assert earlier.loc["Domestic abuse crimes", "observed"] == 7
    assert earlier.loc["Domestic abuse crimes", "exceeds"] == False  # noqa: E712
    # another force's view is empty
    assert weekly_table(con, force_id="kent")["observed"].isna().all()


def test_weekly_cli_prints_the_same_table(extract_db):
    con = duckdb.connect(str(extract_db), read_only=True)
    table = weekly_table(con)
    con.close()
    result = run_cli("metrics", "weekly", "--db", str(extract_db), "--format", "csv")
    printed = pd.read_csv(io.StringIO(result.stdout))
    assert list(printed["measure"]) == list(table["measure"])
    assert printed["observed"].fillna(-1).tolist() == table["observed"].astype(float).fillna(-1).tolist()
    as_json = json.loads(run_cli("metrics", "weekly", "--db", str(extract_db), "--week", "2023-03-08", "--format", "json").stdout)
    assert as_json["week_start"] == "2023-03-06"
    assert {r["measure"]: r["exceeds"] for r in as_json["rows"]}["Domestic abuse crimes"] is True
    text = run_cli("metrics", "weekly", "--db", str(extract_db)).stdout
    assert "Week Mon 06 Mar 2023 to Sun 12 Mar 2023" in text and "YES" in text
