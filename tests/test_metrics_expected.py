"""Expected against observed: the London acceptance line (April 2020 below the 95% interval), the model's
intervals against statsmodels at the requested level, the cumulative interval against an independent
simulation, the "needs 24 months" rule on the real Essex files, and the wording of differences."""

from __future__ import annotations

import csv
import re
import warnings
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from etl.load import load_sources
from metrics.expected import (
    Baseline,
    difference_text,
    expected_from_series,
    expected_vs_observed,
    total_interval,
)
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


def _series(totals: dict[date, int], first: date, last: date) -> pd.Series:
    return pd.Series({pd.Timestamp(m): float(v) for m, v in totals.items() if first <= m <= last})


def test_london_april_2020_below_the_interval(london):
    db, totals = london
    con = duckdb.connect(str(db), read_only=True)
    frame = expected_vs_observed(con, "counts", fit_from=date(2015, 4, 1), fit_until=date(2020, 2, 1), until=date(2021, 6, 1))
    indexed = frame.set_index("month")
    for month, row in indexed.iterrows():  # observed = the csv totals, month by month
        assert row["observed"] == totals[month]
    assert indexed.index[0] == date(2015, 4, 1) and indexed.index[-1] == date(2021, 6, 1)
    assert int(indexed["in_fit"].sum()) == 59  # 2015-04..2020-02
    april = indexed.loc[date(2020, 4, 1)]
    assert april["observed"] < april["lower"] < april["expected"] < april["upper"]
    assert april["flag"] == "below"
    assert abs(april["expected"] / totals[date(2019, 4, 1)] - 1) < 0.15  # a plausible level
    projected = frame[~frame["in_fit"]]
    assert projected["cumulative_difference"].iloc[-1] == pytest.approx((projected["observed"] - projected["expected"]).sum())
    assert frame.loc[frame["in_fit"], "flag"].isna().all()
    assert frame.attrs["method"] == "sarima"
    assert (frame.attrs["fit_from"], frame.attrs["fit_until"], frame.attrs["fit_excluded"]) == (
        date(2015, 4, 1), date(2020, 2, 1), "")
    assert frame.attrs["note"].startswith("Fitted on Apr 2015–Feb 2020 (59 months).")
    assert "fewer than expected" in frame.attrs["note"]


def _statsmodels_forecast(values: np.ndarray, model_name: str, steps: int):
    """The same model with the same fitted coefficients (statsforecast's estimates) in statsmodels: forecast
    means, the innovation standard errors (exact Kalman filter), the delta-method variance of the means from
    the coefficients' estimation error (Hessian of statsmodels' exact profile log-likelihood, gradients of
    its forecasts), and the residual degrees of freedom."""
    from statsforecast.models import ARIMA
    from statsmodels.tools.numdiff import approx_hess3
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    p, d, q, sp, sd, sq = map(int, re.findall(r"\d+", model_name)[:6])
    y = np.log1p(values)
    fitted = ARIMA(order=(p, d, q), seasonal_order=(sp, sd, sq), season_length=12).fit(y).model_
    names = {"ar1": "ar.L1", "ma1": "ma.L1", "sar1": "ar.S.L12", "sma1": "ma.S.L12"}
    by_name = {names[k]: v for k, v in fitted["coef"].items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SARIMAX(y, order=(p, d, q), seasonal_order=(sp, sd, sq, 12))
        forecast = model.filter([by_name[n] for n in model.param_names[:-1]] + [fitted["sigma2"]]).get_forecast(steps)
        profile = SARIMAX(y, order=(p, d, q), seasonal_order=(sp, sd, sq, 12), concentrate_scale=True)
        coef = np.array([by_name[n] for n in profile.param_names])
        covariance = np.linalg.inv(-approx_hess3(coef, profile.loglike))

        def means(values):
            return np.asarray(profile.filter(values).get_forecast(steps).predicted_mean)

        gradient = np.column_stack([(means(coef + np.eye(len(coef))[k] * 1e-5) - means(coef)) / 1e-5
                                    for k in range(len(coef))])
    parameter_variance = np.einsum("hi,ij,hj->h", gradient, covariance, gradient)
    residual_df = len(y) - d - 12 * sd - len(fitted["coef"])  # observations after differencing - coefficients
    return np.asarray(forecast.predicted_mean), np.asarray(forecast.se_mean), parameter_variance, residual_df


def _half_widths(projected: pd.DataFrame) -> np.ndarray:
    return (np.log1p(projected["upper"].to_numpy()) - np.log1p(projected["lower"].to_numpy())) / 2


@pytest.mark.parametrize("alpha", [0.05, 0.2])
def test_monthly_interval_at_the_requested_level_matches_statsmodels(london, alpha):
    _, totals = london
    series = _series(totals, date(2015, 4, 1), date(2020, 12, 1))
    frame = expected_from_series(series, fit_until=date(2020, 2, 1), alpha=alpha)
    projected = frame[~frame["in_fit"]]
    mean, se, parameter_variance, residual_df = _statsmodels_forecast(
        series.to_numpy()[:59], frame.attrs["model"], len(projected))
    quantile = stats.t.ppf(1 - alpha / 2, residual_df)
    # the two Kalman filters start differently (statsforecast: a large-variance prior; statsmodels: exact
    # diffuse), which moves the means by a few parts in 100,000
    np.testing.assert_allclose(projected["expected"], np.expm1(mean), rtol=1e-4)
    centre = (np.log1p(projected["upper"].to_numpy()) + np.log1p(projected["lower"].to_numpy())) / 2
    np.testing.assert_allclose(centre, mean, rtol=1e-5)
    # innovations + coefficients (delta method): ours leaves out the last state's small uncertainty (up to
    # 2% of the innovation standard error) and the two Hessians differ a little: within 3% in all
    np.testing.assert_allclose(_half_widths(projected), quantile * np.sqrt(se**2 + parameter_variance), rtol=0.03)


def test_innovation_part_is_the_exact_forecast_variance_and_the_short_window_is_close(london):
    from dataclasses import replace

    from metrics.expected import _projection, fit_baseline

    _, totals = london
    for first in (date(2015, 4, 1), date(2017, 1, 1)):  # 59 and 38 months
        values = _series(totals, first, date(2020, 2, 1)).to_numpy()
        baseline = fit_baseline(values, 10)
        mean, se, parameter_variance, residual_df = _statsmodels_forecast(values, baseline.model, 10)
        quantile = stats.t.ppf(0.975, residual_df)
        _, lower, upper = _projection(replace(baseline, param_loadings=None), 10, 0.05)
        innovations = (np.log1p(upper) - np.log1p(lower)) / 2
        # the ψ-weight variance leaves out the small uncertainty of the last state (the seasonal state is
        # learnt slowly when Θ is near −1): up to 2% of the exact standard error (docs/STATISTICS.md)
        assert np.all(innovations <= quantile * se * (1 + 1e-5))
        np.testing.assert_allclose(innovations, quantile * se, rtol=0.02)
        loadings = baseline.loadings(10)
        np.testing.assert_allclose((loadings**2).sum(axis=1), parameter_variance, rtol=0.2)


def test_psi_weights_match_statsmodels_arma2ma():
    from statsmodels.tsa.arima_process import arma2ma

    from metrics.expected import psi_weights

    # the airline model by hand: (1 + θB)(1 + ΘB¹²) / ((1 − B)(1 − B¹²)), and one with AR terms
    theta, seasonal_theta = -0.4, -0.6
    ours = psi_weights({"ma1": theta, "sma1": seasonal_theta}, (0, 1, 1), (0, 1, 1), 30)
    ar = np.convolve([1, -1], np.r_[1, np.zeros(11), -1])
    ma = np.convolve([1, theta], np.r_[1, np.zeros(11), seasonal_theta])
    np.testing.assert_allclose(ours, arma2ma(ar, ma, lags=30), atol=1e-12)
    assert ours[0] == 1 and ours[1] == pytest.approx(1 + theta) and ours[12] == pytest.approx(2 + theta + seasonal_theta)
    coef = {"ar1": 0.3, "ma1": -0.5, "sar1": -0.2, "sma1": -0.7}
    ours = psi_weights(coef, (1, 1, 1), (1, 1, 1), 40)
    ar = np.convolve(np.convolve([1, -0.3], np.r_[1, np.zeros(11), 0.2]), np.convolve([1, -1], np.r_[1, np.zeros(11), -1]))
    ma = np.convolve([1, -0.5], np.r_[1, np.zeros(11), -0.7])
    np.testing.assert_allclose(ours, arma2ma(ar, ma, lags=40), atol=1e-12)


def test_cumulative_interval_against_an_independent_simulation():
    # a hand-made model: large counts, the airline ψ-weights, σ = 0.05 on the log scale, many degrees of
    # freedom (so the t quantile is the normal one); the total's interval by simulating the joint errors
    from statsmodels.tsa.arima_process import arma2ma

    steps = 12
    ar = np.convolve([1, -1], np.r_[1, np.zeros(11), -1])
    ma = np.convolve([1, -0.5], np.r_[1, np.zeros(11), -0.6])
    psi = arma2ma(ar, ma, lags=steps)
    mean_log = np.log(np.linspace(5000, 6000, steps))
    baseline = Baseline("hand", 1, np.array([]), mean_log, psi, 0.05**2, 10**9)
    lower, upper = total_interval(baseline, np.arange(1, steps + 1), 0.05)
    rng = np.random.default_rng(11)
    shocks = rng.normal(0, 0.05, (200_000, steps))
    errors = np.stack([shocks[:, : h + 1] @ psi[h::-1] for h in range(steps)], axis=1)
    totals = np.cumsum(np.expm1(mean_log + errors), axis=1)
    low_sim, high_sim = np.quantile(totals, [0.025, 0.975], axis=0)
    np.testing.assert_allclose(lower, low_sim, rtol=0.01)
    np.testing.assert_allclose(upper, high_sim, rtol=0.01)
    # one month alone: exactly the monthly interval
    assert lower[0] == pytest.approx(np.expm1(mean_log[0] - 1.959964 * 0.05), rel=1e-6)


def test_essex_five_months_has_no_expected_value(essex_db):
    con = duckdb.connect(str(essex_db), read_only=True)
    frame = expected_vs_observed(con, "crimes", Filters(force_id="essex"), fit_until=date(2018, 12, 1))
    before = con.execute("select count(distinct month) from crimes where force_id = 'essex' and month < '2019-01-01'").fetchall()[0][0]
    assert before == 3
    assert frame.attrs["method"] is None and frame.attrs["model"] is None
    assert frame.attrs["note"] == f"Needs 24 months of history, {before} available."
    assert frame["expected"].isna().all() and frame["flag"].isna().all()
    totals = dict(con.execute("select month, count(*) from crimes where force_id = 'essex' group by month").fetchall())
    assert frame.set_index("month")["observed"].to_dict() == {m: float(v) for m, v in totals.items()}


def test_model_on_a_simulated_seasonal_series_is_calibrated():
    rng = np.random.default_rng(7)
    months = pd.date_range("2014-01-01", "2019-12-01", freq="MS")
    mean = 500 * (1 + 0.2 * np.sin(2 * np.pi * months.month / 12))
    series = pd.Series(rng.poisson(mean), index=months)
    frame = expected_from_series(series, fit_until=date(2018, 12, 1))
    projected = frame[~frame["in_fit"]]
    true_mean = mean[-12:]
    assert ((projected["lower"].to_numpy() < true_mean) & (true_mean < projected["upper"].to_numpy())).all()
    assert np.abs(projected["expected"].to_numpy() / true_mean - 1).max() < 0.1


@pytest.mark.parametrize(("difference", "lower", "upper", "text"), [
    (-159_831, -218_300, -106_500, "about 160,000 fewer than expected (107,000–218,000)"),
    (2_512, 1_180, 3_890, "about 2,500 more than expected (1,200–3,900)"),
    (-12.4, -30.2, 5.3, "about 12 fewer than expected (30 fewer to 5 more)"),
    (0.3, -40.0, 41.0, "about as many as expected (40 fewer to 41 more)"),
    (5_365.1, 3_218.9, 7_375.9, "about 5,400 more than expected (3,200–7,400)"),
    (7.6, 2.4, 12.9, "about 8 more than expected (2–13)"),
    (-48_213, float("nan"), float("nan"), "about 48,200 fewer than expected"),
])
def test_difference_wording_is_rounded_to_what_the_interval_supports(difference, lower, upper, text):
    assert difference_text(difference, lower, upper) == text
