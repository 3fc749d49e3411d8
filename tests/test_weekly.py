"""Weekly exceedance (improved Farrington): thresholds by hand and against statsmodels, the seasonal blocks and
the COVID weeks by hand, the "5 events in 4 weeks" boundary, the false-alarm rate on simulated in-control
series, the weekly table and range over a loaded force extract, and the demo's 2021 flags."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from etl.load import load_sources
from metrics.exceedance import FLAG_MEANING, disrupted_weeks, seasonal_blocks
from metrics.weekly import exceedance, same_week_years_back, weekly_range, weekly_table
from metrics.weekly_calibration import Scenario, false_alarm_rates, meets_target, simulate_series, summary
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


def test_seasonal_blocks_by_hand():
    blocks = seasonal_blocks(TARGET, years_back=5, window_weeks=3, levels=10)
    # the reference level: the same week ±3 in each of 5 earlier years
    references = [date(2022, 3, 7), date(2021, 3, 8), date(2020, 3, 9), date(2019, 3, 4), date(2018, 3, 5)]
    level_0 = {r + timedelta(weeks=k) for r in references for k in range(-3, 4)}
    assert {d for d, level in blocks.items() if level == 0} == level_0
    # between 7 Mar 2022 + 4 weeks (4 Apr 2022) and 6 Mar 2023 - 4 weeks (6 Feb 2023): 45 weeks = 9 blocks of 5
    gap = [date(2022, 4, 4) + timedelta(weeks=k) for k in range(45)]
    assert [blocks[d] for d in gap] == [level for level in range(1, 10) for _ in range(5)]
    assert date(2023, 2, 13) not in blocks and TARGET not in blocks
    # 2019-03-04 .. 2020-03-09 holds 53 weeks: a 46-week gap, the first block takes the extra week
    gap_2019 = [date(2019, 4, 1) + timedelta(weeks=k) for k in range(46)]
    assert [blocks[d] for d in gap_2019] == [1] * 6 + [level for level in range(2, 10) for _ in range(5)]
    assert min(blocks) == date(2018, 2, 12) and len(blocks) == 35 + 45 * 4 + 46


def test_disrupted_weeks_are_the_covid_calendar():
    weeks = disrupted_weeks()
    # 23 Mar 2020 (a Monday) to 18 Jul 2021 (a Sunday): every Monday from 23 Mar 2020 to 12 Jul 2021
    assert min(weeks) == date(2020, 3, 23) and max(weeks) == date(2021, 7, 12)
    assert len(weeks) == (date(2021, 7, 12) - date(2020, 3, 23)).days // 7 + 1 == 69
    only_first = disrupted_weeks({"periods": [{"start": "2020-03-23", "end": "2020-06-23", "kind": "lockdown"}]})
    assert min(only_first) == date(2020, 3, 23) and max(only_first) == date(2020, 6, 22) and len(only_first) == 14


def test_flat_series_not_flagged_and_threshold_by_hand():
    weeks = weekly_index(date(2017, 1, 2), TARGET)
    series = pd.Series(20.0, index=weeks)
    result = exceedance(series, TARGET, years_back=5, window_weeks=3, alpha=0.01, left_out_weeks=frozenset())
    assert result["exceeds"] is False and result["observed"] == 20
    assert result["expected"] == pytest.approx(20.0) and result["dispersion"] == pytest.approx(1.0)
    # the 261 weeks of the 5 earlier years (to 4 weeks before), less the 23 from 5 Sep 2022 (26 weeks before)
    assert result["baseline_weeks"] == 261 - 23 and result["weeks_left_out"] == 0
    # by default the 69 COVID-19 weeks are left out as well
    assert exceedance(series, TARGET)["weeks_left_out"] == 69
    # by hand: phi = 1; Var(log mu) = 1 / (35 weeks x 20) for the reference level; threshold = 99% Poisson
    # quantile at the mean's upper 99% limit
    z = stats.norm.ppf(0.99)
    mean_upper = 20 * math.exp(z * math.sqrt(1 / (35 * 20)))
    assert result["upper_threshold"] == stats.poisson.ppf(0.99, mean_upper)
    assert result["same_week_last_year"] == 20 and result["same_week_mean_previous_years"] == 20
    assert result["last_4_weeks_mean"] == 20
    assert result["note"].startswith("Within the usual range")


def anscombe_weights(model, y: np.ndarray, phi: float) -> np.ndarray:
    """Farrington's reweighting, written out: Anscombe residuals with leverage; weight ∝ r⁻² above 2.58."""
    mu = model.fittedvalues
    hat = model.get_influence().hat_matrix_diag
    r = 1.5 * (y ** (2 / 3) * mu ** (-1 / 6) - mu ** 0.5) / np.sqrt(phi * (1 - hat))
    raw = np.where(r > 2.58, r ** -2.0, 1.0)
    return raw * len(y) / raw.sum()


def test_expected_and_threshold_match_statsmodels():
    import statsmodels.api as sm

    rng = np.random.default_rng(5)
    weeks = weekly_index(date(2016, 1, 4), TARGET)
    t = np.arange(len(weeks)) / 52.18
    mean = 40 * np.exp(0.2 * np.sin(2 * np.pi * t))
    series = pd.Series(rng.negative_binomial(mean / 1.5, 1 / 2.5).astype(float), index=weeks)
    series[date(2021, 6, 7)] = 200.0  # an old outbreak, to be down-weighted
    # no trend (the seasonal factor model alone) and no weeks left out, to compare like with like
    result = exceedance(series, TARGET, min_trend_years=99, left_out_weeks=frozenset())
    blocks = seasonal_blocks(TARGET)
    baseline = [d for d in sorted(blocks) if d < TARGET - timedelta(weeks=26) and d in series.index]
    y = series[baseline].to_numpy()
    levels = pd.Categorical([blocks[d] for d in baseline], categories=range(10))
    X = pd.get_dummies(levels, drop_first=True).astype(float).to_numpy()
    X = sm.add_constant(X)
    first = sm.GLM(y, X, family=sm.families.Poisson()).fit(scale="X2")
    weights = anscombe_weights(first, y, max(1.0, first.scale))
    final = sm.GLM(y, X, family=sm.families.Poisson(), var_weights=weights).fit(scale="X2")
    phi = max(1.0, final.scale)
    assert result["expected"] == pytest.approx(math.exp(final.params[0]), rel=1e-6)
    assert result["dispersion"] == pytest.approx(phi, rel=1e-6)
    mean_upper = math.exp(final.params[0] + stats.norm.ppf(0.99) * final.bse[0])
    threshold = stats.nbinom.ppf(0.99, mean_upper / (phi - 1), 1 / phi)
    assert result["upper_threshold"] == threshold
    assert result["exceeds"] == (series[TARGET] > threshold)


def test_quasi_poisson_fit_matches_statsmodels():
    import statsmodels.api as sm

    from metrics.exceedance import _fit_quasi_poisson

    rng = np.random.default_rng(3)
    t = np.linspace(-5, -0.5, 30)
    y = rng.poisson(np.exp(3 + 0.1 * t)).astype(float) * rng.choice([1, 2], size=30)
    X = sm.add_constant(t)
    weights = rng.uniform(0.5, 1.5, size=30)
    beta, cov, _mu, phi = _fit_quasi_poisson(y, X, weights)
    model = sm.GLM(y, X, family=sm.families.Poisson(), var_weights=weights).fit(scale="X2")
    assert beta == pytest.approx(model.params, rel=1e-6)
    assert phi == pytest.approx(max(1.0, model.scale), rel=1e-6)
    assert np.sqrt(np.diag(cov * phi)) == pytest.approx(model.bse, rel=1e-5)


def test_planted_spike_is_flagged_only_in_its_week():
    rng = np.random.default_rng(7)
    weeks = weekly_index(date(2017, 1, 2), TARGET + timedelta(weeks=4))
    series = pd.Series(rng.poisson(20, size=len(weeks)).astype(float), index=weeks)
    series[TARGET] = 60.0
    flagged = exceedance(series, TARGET)
    assert flagged["exceeds"] is True and flagged["observed"] == 60
    assert flagged["note"].startswith("Higher than usual for this time of year")
    older = [v for d, v in series.items() if d < TARGET - timedelta(weeks=26) and d >= date(2018, 2, 12)]
    assert flagged["expected"] == pytest.approx(np.mean(older), rel=0.1)
    assert flagged["upper_threshold"] < 60
    for offset in (-2, -1, 1, 2):  # the ordinary Poisson(20) weeks around it are not flagged
        other = exceedance(series, TARGET + timedelta(weeks=offset))
        assert other["exceeds"] is False, (offset, other)


def test_earlier_outbreak_is_down_weighted():
    weeks = weekly_index(date(2017, 1, 2), TARGET)
    series = pd.Series(20.0, index=weeks)
    series[same_week_years_back(TARGET, 1)] = 200.0  # an outbreak in last year's comparable week
    series[TARGET] = 45.0
    result = exceedance(series, TARGET)
    plain_mean = np.mean([series[same_week_years_back(TARGET, y) + timedelta(weeks=s)] for y in range(1, 6)
                          for s in range(-3, 4)])
    assert result["expected"] < plain_mean
    assert result["exceeds"] is True


def test_covid_weeks_are_left_out_of_the_baseline():
    weeks = weekly_index(date(2016, 1, 4), date(2021, 12, 27))
    disrupted = disrupted_weeks()
    series = pd.Series([12.0 if w in disrupted else 20.0 for w in weeks], index=weeks)
    week = date(2021, 10, 4)
    result = exceedance(series, week)
    # disrupted weeks older than 26 weeks before 4 Oct 2021 (i.e. before 5 Apr 2021): 23 Mar 2020 .. 29 Mar 2021
    assert result["weeks_left_out"] == (date(2021, 3, 29) - date(2020, 3, 23)).days // 7 + 1 == 54
    assert result["expected"] == pytest.approx(20.0) and "COVID-19 weeks left out" in result["note"]
    kept = exceedance(series, week, left_out_weeks=frozenset())
    assert kept["weeks_left_out"] == 0 and kept["expected"] < 19


def test_short_history_gives_no_flag():
    weeks = weekly_index(date(2022, 10, 3), TARGET)
    series = pd.Series(20.0, index=weeks)
    series[TARGET] = 80.0
    result = exceedance(series, TARGET)
    assert result["exceeds"] is None and "comparable week" in result["note"]
    assert result["last_4_weeks_mean"] == 20


@pytest.mark.parametrize(("this_week", "week_before", "flagged"), [
    (4, 0, False),  # 4 events in the 4 weeks: no flag is possible
    (2, 2, False),
    (5, 0, True),   # 5 events: can flag
    (4, 1, True),
    (3, 2, True),
])
def test_five_events_in_four_weeks_boundary(this_week, week_before, flagged):
    weeks = weekly_index(date(2017, 1, 2), TARGET)
    series = pd.Series(0.0, index=weeks)  # nothing for years: expected 0, threshold 0
    series[TARGET] = float(this_week)
    series[TARGET - timedelta(weeks=1)] = float(week_before)
    series[TARGET - timedelta(weeks=4)] = 9.0  # outside the 4 weeks: does not count
    result = exceedance(series, TARGET)
    assert result["expected"] == 0 and result["upper_threshold"] == 0
    assert result["exceeds"] is flagged
    if not flagged:
        assert "fewer than 5 events in 4 weeks" in result["note"]


def test_notes_are_plain_words():
    rng = np.random.default_rng(11)
    weeks = weekly_index(date(2016, 1, 4), TARGET)
    series = pd.Series(rng.negative_binomial(20, 0.2, size=len(weeks)).astype(float), index=weeks)
    for k in range(8):
        note = exceedance(series, TARGET - timedelta(weeks=k))["note"]
        assert "dispersion" not in note and not re.search(r"\d\.\d", note), note
        assert note.split(".")[0] in {"Higher than usual for this time of year", "Within the usual range for this time of year"}
    assert "1 time in 100" in FLAG_MEANING and "not proof" in FLAG_MEANING


def test_week_must_be_a_monday():
    with pytest.raises(ValueError, match="not a Monday"):
        exceedance(pd.Series(dtype=float), date(2023, 3, 7))


# ---------------------------------------------------------------------------------------------
# calibration on simulated in-control series
# ---------------------------------------------------------------------------------------------
def test_simulated_series_have_the_stated_distribution():
    rng = np.random.default_rng(1)
    scenario = Scenario(400, "negative binomial", 3.0, 0.0)
    draws = np.array([simulate_series(rng, scenario).to_numpy() for _ in range(40)])
    t = np.arange(draws.shape[1]) / (365.25 / 7)
    mean = 400 * np.exp(0.15 * np.sin(2 * np.pi * t) + 0.05 * np.cos(4 * np.pi * t))
    ratio = ((draws - mean) ** 2).mean(axis=0).mean() / mean.mean()
    assert ratio == pytest.approx(3.0, rel=0.1)  # variance = 3 x mean
    assert draws.mean(axis=0) == pytest.approx(mean, rel=0.15)
    assert simulate_series(rng, scenario).index[-52] == date(2021, 1, 4)


def test_false_alarm_rate_is_within_target():
    chosen = [Scenario(20, "Poisson", 1.0, 0.0), Scenario(100, "negative binomial", 3.0, 0.05)]
    frame = false_alarm_rates(series_per_scenario=2, seed=7, chosen=chosen)
    assert list(frame["weeks_tested"]) == [104, 104]
    assert (frame["false_alarm_rate"] == frame["weeks_flagged"] / frame["weeks_tested"]).all()
    assert (frame["false_alarm_rate"] <= 0.05).all() and meets_target(frame)
    assert "meets the target" in summary(frame)


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
        "measure_id", "baseline_weeks", "weeks_left_out",
    ]
    assert table.attrs["flag_meaning"] == FLAG_MEANING
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
        assert pd.isna(rows.loc[measure, "observed"]) and rows.loc[measure, "note"].startswith("No ")
    # an earlier week chosen explicitly (any date in it): no spike there
    earlier = weekly_table(con, date(2023, 2, 15)).set_index("measure")
    assert earlier.loc["Domestic abuse crimes", "observed"] == 7
    assert earlier.loc["Domestic abuse crimes", "exceeds"] == False  # noqa: E712
    # another force's view is empty
    assert weekly_table(con, force_id="kent")["observed"].isna().all()


def test_weekly_cli_prints_the_same_table(extract_db, capsys):
    from tests.test_metrics_cli import metrics_cli

    con = duckdb.connect(str(extract_db), read_only=True)
    table = weekly_table(con)
    con.close()
    result = run_cli("metrics", "weekly", "--db", str(extract_db), "--format", "csv")
    printed = pd.read_csv(io.StringIO(result.stdout))
    assert list(printed["measure"]) == list(table["measure"])
    assert printed["observed"].fillna(-1).tolist() == table["observed"].astype(float).fillna(-1).tolist()
    as_json = json.loads(metrics_cli(capsys, "weekly", "--db", str(extract_db), "--week", "2023-03-08", "--format",
                                     "json").stdout)
    assert as_json["week_start"] == "2023-03-06"
    assert {r["measure"]: r["exceeds"] for r in as_json["rows"]}["Domestic abuse crimes"] is True
    assert as_json["flag_meaning"] == FLAG_MEANING
    text = metrics_cli(capsys, "weekly", "--db", str(extract_db)).stdout
    assert "Week Mon 06 Mar 2023 to Sun 12 Mar 2023" in text and "YES" in text


def test_weekly_range_every_week_and_measure(extract_db, capsys):
    from tests.test_metrics_cli import metrics_cli

    con = duckdb.connect(str(extract_db), read_only=True)
    table = weekly_range(con, date(2023, 2, 15), date(2023, 3, 12))  # any dates in the weeks of 13 Feb .. 6 Mar
    con.close()
    assert list(table.columns[:7]) == ["week_start", "measure", "observed", "expected", "upper_threshold", "exceeds", "note"]
    mondays = [date(2023, 2, 13), date(2023, 2, 20), date(2023, 2, 27), TARGET]
    assert sorted(set(table["week_start"])) == mondays and len(table) == 4 * 9
    domestic = table[table["measure"] == "Domestic abuse crimes"].set_index("week_start")
    assert domestic["observed"].tolist() == [7, 7, 7, 7 + SPIKE]  # one a day, and the planted 30
    assert domestic["exceeds"].tolist() == [False, False, False, True]
    printed = pd.read_csv(io.StringIO(metrics_cli(capsys, "weekly", "--db", str(extract_db), "--from", "2023-02-13",
                                                  "--to", "2023-03-06", "--format", "csv").stdout))
    assert len(printed) == 36 and printed["observed"].fillna(-1).tolist() == table["observed"].astype(float).fillna(-1).tolist()
    text = metrics_cli(capsys, "weekly", "--db", str(extract_db), "--from", "2023-02-13").stdout
    assert "Weeks Mon 13 Feb 2023 to Sun 12 Mar 2023" in text and FLAG_MEANING[:40] in text
    both = metrics_cli(capsys, "weekly", "--db", str(extract_db), "--week", "2023-03-06", "--from", "2023-02-13",
                       check=False)
    assert both.returncode == 2 and "either --week or --from" in both.stderr
    backwards = metrics_cli(capsys, "weekly", "--db", str(extract_db), "--from", "2023-03-06", "--to", "2023-02-13",
                            check=False)
    assert backwards.returncode == 2 and "before" in backwards.stderr


@pytest.mark.slow
def test_demo_all_crimes_not_flagged_most_weeks_of_2021(demo_db):
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        table = weekly_range(con, date(2021, 1, 4), date(2021, 12, 20))
        by_sql = dict(con.execute(
            """
            select cast(date_trunc('week', cast(recorded_at as date)) as date), count(*)
            from incidents where cast(recorded_at as date) between '2021-01-04' and '2021-12-26' group by 1
            """
        ).fetchall())
    finally:
        con.close()
    all_crimes = table[table["measure_id"] == "incidents_all"]
    assert len(all_crimes) == 51
    assert dict(zip(all_crimes["week_start"], all_crimes["observed"].astype(int))) == by_sql
    tested = all_crimes["exceeds"].notna()
    flagged = int(all_crimes["exceeds"].map(lambda v: v is True).sum())
    assert tested.all() and flagged <= 10  # 33 of 52 before the baselines left the COVID weeks out
    assert all_crimes["note"].str.contains("COVID-19 weeks left out").all()


def test_weekly_calibration_command(capsys):
    from tests.test_metrics_cli import metrics_cli

    result = metrics_cli(capsys, "weekly-calibration", "--series", "1", "--format", "json")
    payload = json.loads(result.stdout)
    rows = payload["rows"]
    assert len(rows) == 4 * 3 * 2 + 3 * 2  # levels x distributions x trends, and the COVID-dip scenarios
    assert {r["level_per_week"] for r in rows} == {5, 20, 100, 400}
    for row in rows:
        assert row["weeks_tested"] == 52 and row["false_alarm_rate"] == row["weeks_flagged"] / 52
        assert row["meets_target"] is (None if row["covid_weeks"].startswith("kept") else row["false_alarm_rate"] <= 0.05)
    assert "target at most 5%" in payload["attrs"]["note"]
