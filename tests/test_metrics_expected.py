"""Expected against observed: the London acceptance line (April 2020 below the 95% interval), the
seasonal-mean fallback checked by hand and with scipy, and the frame's contract."""

from __future__ import annotations

import csv
import time
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from etl.load import load_sources
from metrics.expected import expected_from_series, expected_vs_observed
from metrics.filters import Filters


@pytest.fixture(scope="module")
def london(tmp_path_factory, reference_data):
    source = reference_data / "london-datastore" / "mps-borough-level-crime-historical.csv"
    db = tmp_path_factory.mktemp("london") / "london.duckdb"
    load_sources([source], db, progress=False)
    totals: dict[date, int] = {}
    with open(source, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        for row in reader:
            for name, value in zip(header[3:], row[3:]):
                month = date(int(name[:4]), int(name[4:]), 1)
                totals[month] = totals.get(month, 0) + int(value)
    return db, totals


def test_london_april_2020_below_the_interval(london):
    db, totals = london
    con = duckdb.connect(str(db), read_only=True)
    started = time.perf_counter()
    frame = expected_vs_observed(con, "counts", fit_from=date(2015, 4, 1), fit_until=date(2020, 2, 1), until=date(2021, 6, 1))
    elapsed = time.perf_counter() - started
    indexed = frame.set_index("month")
    # observed = the csv totals, month by month
    for month, row in indexed.iterrows():
        assert row["observed"] == totals[month]
    assert indexed.index[0] == date(2015, 4, 1) and indexed.index[-1] == date(2021, 6, 1)
    assert int(indexed["in_fit"].sum()) == 59  # 2015-04..2020-02
    april = indexed.loc[date(2020, 4, 1)]
    assert april["observed"] == totals[date(2020, 4, 1)]
    assert april["observed"] < april["lower"] < april["expected"] < april["upper"]
    assert april["flag"] == "below"
    # the interval is a real forecast interval around a plausible level (within 15% of April 2019)
    assert abs(april["expected"] / totals[date(2019, 4, 1)] - 1) < 0.15
    projected = frame[~frame["in_fit"]]
    assert projected["cumulative_difference"].iloc[-1] == pytest.approx(
        (projected["observed"] - projected["expected"]).sum())
    assert frame.loc[frame["in_fit"], "flag"].isna().all()
    assert frame.attrs["method"] in {"sarima", "ets"}
    assert "Fitted on 59 months 2015-04..2020-02" in frame.attrs["note"]
    assert "fewer than expected" in frame.attrs["note"]
    assert elapsed < 10  # < 2 s on an idle machine; generous here for a shared CI box


def test_expected_from_series_pure_function_matches_the_db_version(london):
    db, totals = london
    series = pd.Series({pd.Timestamp(m): v for m, v in totals.items() if date(2015, 4, 1) <= m <= date(2020, 6, 1)})
    frame = expected_from_series(series, fit_until=date(2020, 2, 1))
    assert list(frame.columns) == ["month", "observed", "expected", "lower", "upper", "in_fit", "flag", "cumulative_difference"]
    assert frame.set_index("month").loc[date(2020, 4, 1), "flag"] == "below"
    assert len(frame) == 63


def test_seasonal_mean_fallback_by_hand():
    # 14 fit months (2019-01..2020-02) then 3 projected months; January and February appear twice
    months = pd.date_range("2019-01-01", "2020-05-01", freq="MS")
    values = [100, 80, 90, 95, 97, 99, 101, 103, 105, 107, 109, 111, 120, 60, 30, 200, 93]
    frame = expected_from_series(pd.Series(values, index=months), fit_until=date(2020, 2, 1)).set_index("month")
    assert frame.attrs["method"] == "seasonal_mean"
    assert "Only 14 months" in frame.attrs["note"] and "fewer than the 24" in frame.attrs["note"]
    march = frame.loc[date(2020, 3, 1)]
    assert march["expected"] == 90  # the only March in the fit period
    assert march["lower"] == stats.poisson.ppf(0.025, 90) and march["upper"] == stats.poisson.ppf(0.975, 90)
    assert march["flag"] == "below"  # 30 < 72
    april = frame.loc[date(2020, 4, 1)]
    assert april["expected"] == 95 and april["flag"] == "above"
    may = frame.loc[date(2020, 5, 1)]
    assert may["expected"] == 97 and may["flag"] == "within"
    assert may["cumulative_difference"] == (30 - 90) + (200 - 95) + (93 - 97)
    assert frame.loc[date(2020, 1, 1), "expected"] == 110  # (100 + 120) / 2 for the fit months too
    assert not frame.loc[date(2020, 1, 1), "flag"] == frame.loc[date(2020, 1, 1), "flag"]  # NaN/None in fit


def test_short_fit_uses_overall_mean_and_essex_says_so(essex_db):
    con = duckdb.connect(str(essex_db), read_only=True)
    frame = expected_vs_observed(con, "crimes", Filters(force_id="essex"), fit_until=date(2018, 12, 1))
    assert frame.attrs["method"] == "seasonal_mean" and frame.attrs["model"] == "overall mean"
    totals = dict(con.execute(
        "select month, count(*) from crimes where force_id = 'essex' group by month").fetchall())
    mean = (totals[date(2018, 10, 1)] + totals[date(2018, 11, 1)] + totals[date(2018, 12, 1)]) / 3
    january = frame.set_index("month").loc[date(2019, 1, 1)]
    assert january["expected"] == pytest.approx(mean)
    assert january["observed"] == totals[date(2019, 1, 1)]
    assert "Only 3 months" in frame.attrs["note"]


def test_model_on_a_simulated_seasonal_series_is_calibrated():
    # a known seasonal Poisson series: the projection's interval should contain the known mean
    rng = np.random.default_rng(7)
    months = pd.date_range("2014-01-01", "2019-12-01", freq="MS")
    mean = 500 * (1 + 0.2 * np.sin(2 * np.pi * months.month / 12))
    series = pd.Series(rng.poisson(mean), index=months)
    frame = expected_from_series(series, fit_until=date(2018, 12, 1))
    projected = frame[~frame["in_fit"]]
    true_mean = mean[-12:]
    assert ((projected["lower"].to_numpy() < true_mean) & (true_mean < projected["upper"].to_numpy())).all()
    assert np.abs(projected["expected"].to_numpy() / true_mean - 1).max() < 0.1
