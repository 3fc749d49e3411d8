"""Expected against observed: a seasonal model fitted on a pre-period, projected forward with a 95%
prediction interval (as Langton, Dixon & Farrell 2021 did for monthly data.police.uk counts).

Model choice (fit period of at least 24 months): on log counts (raw counts when any month is 0),
seasonal ARIMA (p, d, q)(P, 1, Q)12 with p, q, P, Q in {0, 1} (seasonal differencing D = 1 from 36 fit
months, else D = 0; d from a KPSS test on the seasonally differenced series), plus two ETS models
(damped additive trend; additive seasonality on the log scale = multiplicative on counts, and additive
seasonality on raw counts). The lowest AIC wins; AICs of log-scale models are put on the count scale
with the Jacobian (+ 2 Σ log y) so raw and log fits compare fairly. Log-scale forecasts are
back-transformed with exp (the median forecast, interval limits exact under the model).

Fallback (fewer than 24 fit months): the mean of the same calendar month in the fit period (the overall
mean where a calendar month is missing, or with fewer than 12 fit months), with Poisson 95% limits.

Frame: month, observed, expected, lower, upper, in_fit, flag ('above'|'below'|'within'; None in the fit
period and where a month is not observed), cumulative_difference (running Σ observed − expected over the
projection months). frame.attrs: method, model, note.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import math
import os
import re
import threading
import warnings
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from metrics.filters import Filters, month_start

MIN_MODEL_MONTHS = 24
SEASONAL_DIFFERENCE_MONTHS = 36
COLUMNS = ["month", "observed", "expected", "lower", "upper", "in_fit", "flag", "cumulative_difference"]


def _as_monthly(series: pd.Series) -> pd.Series:
    """The series indexed by first-of-month Timestamps, sorted, with missing months as NaN."""
    index = pd.to_datetime(pd.Index(series.index)).to_period("M").to_timestamp()
    values = pd.Series(pd.to_numeric(series.to_numpy(), errors="coerce"), index=index, dtype="float64")
    values = values.groupby(level=0).sum(min_count=1).sort_index()
    if values.empty:
        return values
    full = pd.date_range(values.index.min(), values.index.max(), freq="MS")
    return values.reindex(full)


def _kpss_needs_difference(values: np.ndarray) -> bool:
    from statsmodels.tsa.stattools import kpss

    clean = values[~np.isnan(values)]
    if len(clean) < 12:
        return False
    if np.ptp(clean) == 0:
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _statistic, p_value, *_ = kpss(clean, regression="c", nlags="auto")
    except (ValueError, ZeroDivisionError, OverflowError):
        return False
    return bool(p_value < 0.05)


_BLAS_FUNCTIONS = [
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
    ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
    ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
    ("openblas_set_num_threads", "openblas_get_num_threads"),
]


@contextlib.contextmanager
def _single_threaded_blas():
    """Run OpenBLAS single-threaded while fitting: the matrices of a monthly state-space model are tiny, and
    thread hand-offs made each SARIMA fit 10-50x slower on a busy 2-core machine. Restores the previous
    setting; does nothing where OpenBLAS is not found (other BLAS, other platforms)."""
    handles = []
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({m.group(1) for line in maps if (m := re.search(r"(/\S*openblas\S*\.so\S*)$", line.strip()))})
    except OSError:
        paths = []
    for path in paths:
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in _BLAS_FUNCTIONS:
            if hasattr(library, set_name) and hasattr(library, get_name):
                setter, getter = getattr(library, set_name), getattr(library, get_name)
                previous = int(getter())
                setter(1)
                handles.append((setter, previous))
                break
    try:
        yield
    finally:
        for setter, previous in handles:
            setter(previous)


class _Candidate:
    def __init__(self, name: str, aic: float, forecast, fitted, log_scale: bool, method: str):
        self.name, self.aic, self.forecast, self.fitted, self.log_scale, self.method = name, aic, forecast, fitted, log_scale, method


def _fit_sarima(y: np.ndarray, order, seasonal_order, log_scale: bool, steps: int, alpha: float) -> _Candidate | None:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = SARIMAX(y, order=order, seasonal_order=seasonal_order, trend="n",
                            enforce_stationarity=True, enforce_invertibility=True,
                            simple_differencing=False, concentrate_scale=True)
            result = model.fit(disp=False, method="lbfgs", maxiter=200)
            if not np.isfinite(result.aic):
                return None
            burn = int(result.loglikelihood_burn)
            # AIC on all n months: the likelihood skips the `burn` differenced-away months, so scale it up
            # to n to compare fairly with ETS (whose likelihood covers every month)
            parameters = (result.aic + 2 * result.llf) / 2
            used = max(int(np.sum(~np.isnan(y))) - burn, 1)
            aic = -2 * result.llf * len(y) / used + 2 * parameters
            fitted = np.asarray(result.fittedvalues, dtype="float64").copy()
            fitted[:burn] = np.nan
            if steps:
                forecast = result.get_forecast(steps)
                mean = np.asarray(forecast.predicted_mean, dtype="float64")
                interval = np.asarray(forecast.conf_int(alpha=alpha), dtype="float64")
                lower, upper = interval[:, 0], interval[:, 1]
            else:
                mean = lower = upper = np.array([])
    except (ValueError, np.linalg.LinAlgError):
        return None
    p, d, q = order
    P, D, Q, s = seasonal_order
    name = f"SARIMA({p},{d},{q})({P},{D},{Q},{s})" + (" on log counts" if log_scale else "")
    return _Candidate(name, float(aic), (mean, lower, upper), fitted, log_scale, "sarima")


def _fit_ets(y: np.ndarray, log_scale: bool, steps: int, alpha: float) -> _Candidate | None:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    if np.isnan(y).any() or len(y) < 24:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            endog = pd.Series(y, index=pd.date_range("2000-01-01", periods=len(y), freq="MS"))
            model = ETSModel(endog, error="add", trend="add", damped_trend=True, seasonal="add", seasonal_periods=12)
            result = model.fit(disp=False, maxiter=200)
            if not np.isfinite(result.aic):
                return None
            fitted = np.asarray(result.fittedvalues, dtype="float64")
            if steps:
                frame = result.get_prediction(start=len(y), end=len(y) + steps - 1).summary_frame(alpha=alpha)
                mean = frame["mean"].to_numpy(dtype="float64")
                lower = frame["pi_lower"].to_numpy(dtype="float64")
                upper = frame["pi_upper"].to_numpy(dtype="float64")
            else:
                mean = lower = upper = np.array([])
    except (ValueError, np.linalg.LinAlgError):
        return None
    name = "ETS(A,Ad,A) on log counts (multiplicative seasonality)" if log_scale else "ETS(A,Ad,A) on counts (additive seasonality)"
    return _Candidate(name, float(result.aic), (mean, lower, upper), fitted, log_scale, "ets")


MODEL_CACHE_VERSION = "1"  # bump when the candidate set or the fitting changes
_memory_cache: dict[str, tuple[_Candidate, int]] = {}
_key_locks: dict[str, threading.Lock] = {}
_key_locks_guard = threading.Lock()


def model_cache_dir() -> Path | None:
    """Where chosen models are kept between processes: $CRIME_MONITOR_CACHE, else data/cache/ in the
    project. The app, the briefing pack and `python -m metrics warm` share it, so a series is fitted once.
    Entries are keyed on the exact fit values, so a reload with different data never reuses a stale fit."""
    configured = os.environ.get("CRIME_MONITOR_CACHE")
    if configured == "off":
        return None
    return Path(configured) if configured else Path(__file__).resolve().parent.parent / "data" / "cache"


def _cache_key(fit_values: np.ndarray, steps: int, alpha: float) -> str:
    digest = hashlib.sha256()
    digest.update(MODEL_CACHE_VERSION.encode())
    digest.update(np.ascontiguousarray(fit_values, dtype="float64").tobytes())
    digest.update(f"|{steps}|{alpha!r}".encode())
    return digest.hexdigest()


def _cache_read(key: str) -> tuple[_Candidate, int] | None:
    if key in _memory_cache:
        return _memory_cache[key]
    folder = model_cache_dir()
    if folder is None:
        return None
    try:
        payload = json.loads((folder / f"expected-{key}.json").read_text())
        arrays = {name: np.array(payload[name], dtype="float64") for name in ("mean", "lower", "upper", "fitted")}
        candidate = _Candidate(payload["name"], float(payload["aic"]),
                               (arrays["mean"], arrays["lower"], arrays["upper"]), arrays["fitted"],
                               bool(payload["log_scale"]), payload["method"])
        entry = (candidate, int(payload["tried"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    _memory_cache[key] = entry
    return entry


def _cache_write(key: str, entry: tuple[_Candidate, int]) -> None:
    _memory_cache[key] = entry
    folder = model_cache_dir()
    if folder is None:
        return
    candidate, tried = entry
    mean, lower, upper = candidate.forecast

    def _list(values) -> list:
        return [None if not np.isfinite(v) else float(v) for v in np.asarray(values, dtype="float64")]

    payload = {"name": candidate.name, "aic": candidate.aic, "log_scale": candidate.log_scale,
               "method": candidate.method, "tried": tried, "mean": _list(mean), "lower": _list(lower),
               "upper": _list(upper), "fitted": _list(candidate.fitted)}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temp = folder / f".expected-{key}.{os.getpid()}.tmp"
        temp.write_text(json.dumps(payload))
        os.replace(temp, folder / f"expected-{key}.json")
    except OSError:
        pass  # a read-only or full disk only costs a refit next time


def _choose_model(fit_values: np.ndarray, steps: int, alpha: float) -> tuple[_Candidate, int]:
    """The lowest-AIC candidate for these fit values (cached in memory and on disk; see model_cache_dir)."""
    key = _cache_key(fit_values, steps, alpha)
    cached = _cache_read(key)
    if cached is not None:
        return cached
    # concurrent sessions asking for the same series wait for one fit instead of each fitting it
    with _key_locks_guard:
        lock = _key_locks.setdefault(key, threading.Lock())
    with lock:
        cached = _cache_read(key)
        if cached is not None:
            return cached
        entry = _fit_candidates(fit_values, steps, alpha)
        _cache_write(key, entry)
    return entry


def _fit_candidates(fit_values: np.ndarray, steps: int, alpha: float) -> tuple[_Candidate, int]:
    """Fit the candidates and return the lowest (count-scale) AIC one and how many were fitted."""
    observed = fit_values[~np.isnan(fit_values)]
    use_log = bool(len(observed)) and bool((observed > 0).all())
    seasonal_d = 1 if len(fit_values) >= SEASONAL_DIFFERENCE_MONTHS else 0
    candidates: list[_Candidate] = []
    jacobian = 2 * float(np.nansum(np.log(fit_values))) if use_log else 0.0
    y = np.log(fit_values) if use_log else fit_values
    seasonal = y[12:] - y[:-12] if seasonal_d else y
    d = 1 if _kpss_needs_difference(seasonal) else 0
    for p in (0, 1):
        for q in (0, 1):
            for P in (0, 1):
                for Q in (0, 1):
                    if seasonal_d == 0 and P == 0 and Q == 0 and p == 0 and q == 0 and d == 0:
                        continue
                    candidate = _fit_sarima(y, (p, d, q), (P, seasonal_d, Q, 12), use_log, steps, alpha)
                    if candidate is not None:
                        candidate.aic += jacobian
                        candidates.append(candidate)
    ets_log = _fit_ets(y, use_log, steps, alpha) if use_log else None
    if ets_log is not None:
        ets_log.aic += jacobian
        candidates.append(ets_log)
    ets_raw = _fit_ets(fit_values, False, steps, alpha)
    if ets_raw is not None:
        candidates.append(ets_raw)
    if not candidates:
        raise ValueError("no seasonal model could be fitted")
    return min(candidates, key=lambda c: c.aic), len(candidates)


def _flag(observed: float, lower: float, upper: float) -> str | None:
    if observed is None or (isinstance(observed, float) and math.isnan(observed)):
        return None
    if observed < lower:
        return "below"
    if observed > upper:
        return "above"
    return "within"


def expected_from_series(
    series: pd.Series,
    fit_until: date = date(2020, 2, 1),
    until: date | None = None,
    fit_from: date | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Expected against observed for one monthly series (values indexed by month: DatetimeIndex or dates).

    fit_from..fit_until (inclusive months; default from the first month) is the fit period; the projection
    runs from the month after fit_until to `until` (default: the last month of the series; months beyond
    the data get expected values and no observation). See the module docstring for the frame.
    """
    monthly = _as_monthly(series)
    if monthly.empty:
        frame = pd.DataFrame({c: pd.Series(dtype="object") for c in COLUMNS})
        frame.attrs = {"method": None, "model": None, "note": "No data: nothing to fit."}
        return frame
    fit_until_ts = pd.Timestamp(month_start(fit_until))
    first = pd.Timestamp(month_start(fit_from)) if fit_from else monthly.index.min()
    last = pd.Timestamp(month_start(until)) if until else monthly.index.max()
    last = max(last, min(fit_until_ts, monthly.index.max()))
    months = pd.date_range(first, last, freq="MS")
    observed = monthly.reindex(months)
    in_fit = months <= fit_until_ts
    fit_values = observed[in_fit].to_numpy(dtype="float64")
    fit_n = len(fit_values)
    steps = int((~in_fit).sum())
    if fit_n == 0 or np.isnan(fit_values).all():
        raise ValueError(f"no observed months in the fit period (up to {fit_until_ts:%Y-%m})")
    fit_label = f"{months[0]:%Y-%m}..{months[in_fit][-1]:%Y-%m}"
    expected = np.full(len(months), np.nan)
    lower = np.full(len(months), np.nan)
    upper = np.full(len(months), np.nan)
    best = None
    reason = None
    if fit_n >= MIN_MODEL_MONTHS:
        try:
            with _single_threaded_blas():
                best, tried = _choose_model(fit_values, steps, alpha)
        except ValueError:
            reason = f"no seasonal model could be fitted to the {fit_n} months {fit_label}"
    else:
        reason = (f"only {fit_n} months ({fit_label}) before the projection, fewer than the {MIN_MODEL_MONTHS} "
                  "a seasonal model needs")
    if best is None:
        method, model = "seasonal_mean", "seasonal mean"
        fit_series = observed[in_fit]
        overall = float(np.nanmean(fit_values))
        if fit_n >= 12:
            by_month = fit_series.groupby(fit_series.index.month).mean()
            means = [
                overall if np.isnan(by_month.get(m.month, np.nan)) else float(by_month[m.month]) for m in months
            ]
            basis = "the mean of the same calendar month"
        else:
            means = [overall] * len(months)
            model = "overall mean"
            basis = "the overall monthly mean"
        expected[:] = means
        lower[:] = stats.poisson.ppf(alpha / 2, expected)
        upper[:] = stats.poisson.ppf(1 - alpha / 2, expected)
        lower[in_fit] = np.nan
        upper[in_fit] = np.nan
        note = (
            f"{reason[0].upper()}{reason[1:]}: expected = {basis} in the fit period, with Poisson "
            f"{100 * (1 - alpha):.0f}% limits (no trend, no allowance for estimation error)."
        )
    else:
        method, model = best.method, best.name
        mean, low, high = best.forecast
        fitted = best.fitted
        if best.log_scale:
            mean, low, high, fitted = np.exp(mean), np.exp(low), np.exp(high), np.exp(fitted)
        expected[in_fit] = fitted
        expected[~in_fit] = mean
        lower[~in_fit] = low
        upper[~in_fit] = high
        note = (
            f"Fitted on {fit_n} months {fit_label}; {model} chosen by AIC among {tried} candidate models; "
            f"{100 * (1 - alpha):.0f}% prediction interval."
        )
    obs = observed.to_numpy(dtype="float64")
    flags = [None if fit else _flag(o, lo, hi) for o, lo, hi, fit in zip(obs, lower, upper, in_fit)]
    difference = np.where(~in_fit & ~np.isnan(obs), obs - expected, 0.0)
    cumulative = np.cumsum(difference)
    cumulative = np.where(in_fit, np.nan, cumulative)
    frame = pd.DataFrame(
        {
            "month": [m.date() for m in months],
            "observed": obs,
            "expected": expected,
            "lower": lower,
            "upper": upper,
            "in_fit": in_fit,
            "flag": flags,
            "cumulative_difference": cumulative,
        }
    )
    if steps:
        projected = frame[~frame["in_fit"] & frame["observed"].notna()]
        if len(projected):
            total = float(projected["cumulative_difference"].iloc[-1])
            if round(total) == 0:
                difference = "as many as expected"
            else:
                difference = f"{abs(total):,.0f} {'more' if total > 0 else 'fewer'} than expected"
            outside = int((projected["flag"] != "within").sum())
            note += (
                f" Projection {projected['month'].iloc[0]:%Y-%m}..{projected['month'].iloc[-1]:%Y-%m}: "
                f"{difference}; {outside} of {len(projected)} months outside the interval."
            )
    else:
        note += " No months after the fit period to project."
    frame.attrs = {"method": method, "model": model, "note": note}
    return frame


def expected_vs_observed(
    con: duckdb.DuckDBPyConnection,
    family: str = "crimes",
    filters: Filters | None = None,
    fit_until: date = date(2020, 2, 1),
    until: date | None = None,
    fit_from: date | None = None,
    value: str = "count",
    *,
    alpha: float = 0.05,
    dataset: str | None = None,
) -> pd.DataFrame:
    """Expected against observed for the family's monthly total under the filters (series built in
    DuckDB by `metrics.series.monthly_series`). See `expected_from_series` for the frame."""
    from metrics.series import data_range, monthly_series

    first, last = data_range(con, family, filters)
    if first is None:
        return expected_from_series(pd.Series(dtype="float64"), fit_until)
    start = month_start(fit_from) if fit_from else first
    end = month_start(until) if until else last
    end = max(end, start)
    series_frame = monthly_series(con, family, None, filters, start, min(end, last) if last >= start else start,
                                  value, dataset=dataset)
    series = pd.Series(series_frame[value].to_numpy(dtype="float64"), index=pd.to_datetime(series_frame["month"]))
    return expected_from_series(series, fit_until, until=end, fit_from=start, alpha=alpha)


__all__ = ["expected_from_series", "expected_vs_observed"]
