"""Expected against observed: a seasonal model fitted on months before a projection start, projected forward
with a 95% prediction interval (as Langton, Dixon & Farrell 2021 did for monthly data.police.uk counts).

Fit window (`choose_fit_window`): the months before the projection start that are observed and not
disrupted (metrics.calendar.disruptions: a month is left out when a disruption period touches any day of
it; include_disrupted=True keeps them). The window is the most recent run of at least 24 consecutive such
months, at most its last 60; when the latest run is shorter (say the months since restrictions were
lifted), an earlier run is used and the model projects across the gap. With no run of 24 months there is
no expected value at all (the note says "Needs 24 months of history, N available").

Model (`fit_baseline`): seasonal ARIMA on log(count + 1) with one regular and one seasonal difference,
chosen by AICc among CANDIDATE_ORDERS (the "airline" model SARIMA(0,1,1)(0,1,1)12 and SARIMA(1,1,1)(0,1,1)12),
fitted with statsforecast (exact ML). Prediction interval on the log scale: mean ± t(df) quantile × the
forecast standard deviation: the Box–Jenkins innovation part σ² Σ ψ_j² (σ² the residual variance on df =
residual degrees of freedom) plus the coefficients' estimation error by the delta method
(`parameter_loadings`); back-transformed with exp(·) − 1 (so `expected` is the median forecast). Interval
coverage is measured by `python -m metrics backtest` (docs/STATISTICS.md).

Cumulative difference (observed − expected, summed from the projection start) carries an interval from
the same model's joint forecast distribution: the months are log-normal and correlated (ψ-weights and the
shared coefficient error), so the total's mean and variance are exact; the total is matched to a log-normal
(Fenton–Wilkinson) and cut at the same t quantile as the monthly intervals (`total_interval`).

Where fits run (`obtain_baselines`): a stored baseline (metrics.baselines) or this process's earlier fit
when there is one; otherwise the fits a call needs (one series, or a page's batch: `expected_from_many`)
are submitted together to a small pool of spawned worker processes ($CRIME_MONITOR_FIT_WORKERS, default
min(2, CPU count); 0 = fit in this process), so a server's interpreter lock stays free for its other
sessions and two fits use two cores. The same code fits there, so the floats are the same. One fit per key
at a time across threads; a pool that cannot start or breaks (a worker died) falls back to fitting here
with a logged warning. `warm_fit_pool()` starts the workers in the background (the app: a minute after its first
page, or at the first fit wanted, which is then done here while they start); they stop at exit. Workers run
at a lower CPU priority (nice WORKER_NICENESS), so their start (importing the model library, a few CPU-seconds)
and their fits give way to the server's page runs and to a browser on the same machine.

Frame: month, observed, expected, lower, upper, in_fit, flag ('above'|'below'|'within'; None in the fit
window and where a month is not observed), cumulative_difference, cumulative_lower, cumulative_upper (from
the projection start on). Rows run from the first fitted month (the first month of the series when there is
no model) to `until`. frame.attrs: method ('sarima' or None), model, note (the full sentence charts show),
basis (which months were fitted and left out), fit_from, fit_until (dates or None), fit_excluded (text),
projection_start, include_disrupted, baseline_key, baseline_source ('stored' | 'fitted' | None).
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import math
import multiprocessing.context
import os
import sys
import threading
import time
import types
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from metrics.calendar import Disruption, disruptions, month_disruption, month_range_text
from metrics.filters import Filters, add_months, month_start, months_between

MIN_MODEL_MONTHS = 24
MAX_FIT_MONTHS = 60
SEASON = 12
# (order, seasonal order) candidates, both with d = 1 and D = 1 so their AICc values compare. A third,
# SARIMA(0,1,1)(1,1,1)12, won 9 of 252 London contests, cannot be fitted on 24 months and cost a third more time
CANDIDATE_ORDERS: tuple[tuple[tuple[int, int, int], tuple[int, int, int]], ...] = (
    ((0, 1, 1), (0, 1, 1)),
    ((1, 1, 1), (0, 1, 1)),
)
DIFFERENCED_MONTHS = 1 + SEASON  # months the differencing uses up: no one-step fit for them
MODEL_VERSION = "sarima-log1p-3"  # part of every stored baseline's key: bump when the model changes
SPARE_STEPS = 24  # months forecast beyond what was asked, so a stored baseline still serves next month
COLUMNS = ["month", "observed", "expected", "lower", "upper", "in_fit", "flag", "cumulative_difference",
           "cumulative_lower", "cumulative_upper"]


# ---------------------------------------------------------------------------------------------
# the fit window
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FitWindow:
    """Which months a baseline is fitted on, and why.

    available: the longest run of consecutive observed, undisrupted months before the projection start.
    left_out: (first month, last month, label) of disrupted months left out between the window's start (or
    the series' start when there is no window) and the projection start.
    skipped: (first, last) usable months after the window, not fitted because their run is too short.
    included: disrupted ranges inside the window (only with include_disrupted=True).
    """

    projection_start: date
    fit_from: date | None
    fit_until: date | None
    available: int
    left_out: tuple[tuple[date, date, str], ...] = ()
    skipped: tuple[date, date] | None = None
    included: tuple[tuple[date, date, str], ...] = ()
    include_disrupted: bool = False

    @property
    def ok(self) -> bool:
        return self.fit_from is not None

    @property
    def months(self) -> int:
        return months_between(self.fit_from, self.fit_until) if self.ok else 0

    @property
    def fit_excluded(self) -> str:
        """'Mar 2020–Jul 2021 (COVID-19 restrictions)', or '' when nothing was left out."""
        return _ranges_text(self.left_out)

    @property
    def basis(self) -> str:
        """One plain sentence: which months were fitted and which were left out."""
        if not self.ok:
            text = f"Needs {MIN_MODEL_MONTHS} months of history, {self.available} available"
            if self.left_out:
                text += f" (left out {self.fit_excluded})"
            return text + "."
        text = f"Fitted on {month_range_text(self.fit_from, self.fit_until)} ({self.months} months)"
        if self.included:
            text += f", including {_ranges_text(self.included)} as asked"
        if self.left_out:
            text += f"; left out {self.fit_excluded}"
        if self.skipped:
            text += (f"; {month_range_text(*self.skipped)} not fitted (fewer than {MIN_MODEL_MONTHS} months in a "
                     "row since the last gap): projected across")
        return text + "."


def _ranges_text(ranges: tuple[tuple[date, date, str], ...]) -> str:
    return "; ".join(f"{month_range_text(first, last)} ({label})" for first, last, label in ranges)


def _labelled_ranges(months: list[date], labels: list[str]) -> tuple[tuple[date, date, str], ...]:
    """Consecutive months with the same label merged into (first, last, label) ranges."""
    ranges: list[list] = []
    for month, label in zip(months, labels):
        if ranges and ranges[-1][2] == label and add_months(ranges[-1][1], 1) == month:
            ranges[-1][1] = month
        else:
            ranges.append([month, month, label])
    return tuple((first, last, label) for first, last, label in ranges)


def choose_fit_window(
    months: list[date],
    observed: np.ndarray,
    projection_start: date,
    periods: tuple[Disruption, ...] | None = None,
    include_disrupted: bool = False,
) -> FitWindow:
    """The fit window for a monthly series (consecutive first-of-month `months`, `observed` NaN where a
    month is missing) projected from `projection_start` (see the module docstring for the rule)."""
    periods = disruptions() if periods is None else periods
    start = month_start(projection_start)
    before = [(m, v) for m, v in zip(months, observed) if m < start]
    disrupted = [month_disruption(m, periods) for m, _ in before]
    usable = [not (v is None or np.isnan(v)) and (include_disrupted or d is None) for (_, v), d in zip(before, disrupted)]
    runs: list[tuple[int, int]] = []  # inclusive index ranges of usable months
    for index, ok in enumerate(usable):
        if ok and runs and runs[-1][1] == index - 1:
            runs[-1] = (runs[-1][0], index)
        elif ok:
            runs.append((index, index))
    available = max((last - first + 1 for first, last in runs), default=0)
    chosen = next(((first, last) for first, last in reversed(runs) if last - first + 1 >= MIN_MODEL_MONTHS), None)
    first_index = 0 if chosen is None else max(chosen[0], chosen[1] - MAX_FIT_MONTHS + 1)
    marked = [(m, d.label) for (m, _), d in zip(before[first_index:], disrupted[first_index:]) if d is not None]
    if chosen is None or not include_disrupted:
        left_out = _labelled_ranges([m for m, _ in marked], [label for _, label in marked])
        included: tuple = ()
    else:
        in_window = [(m, label) for m, label in marked if m <= before[chosen[1]][0]]
        included = _labelled_ranges([m for m, _ in in_window], [label for _, label in in_window])
        left_out = ()
    if chosen is None:
        return FitWindow(start, None, None, available, left_out, include_disrupted=include_disrupted)
    later = [m for (m, _), ok in zip(before[chosen[1] + 1:], usable[chosen[1] + 1:]) if ok]
    skipped = (later[0], later[-1]) if later else None
    return FitWindow(start, before[first_index][0], before[chosen[1]][0], available, left_out, skipped, included,
                     include_disrupted)


# ---------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Baseline:
    """A fitted model, everything on the log(count + 1) scale.

    fitted_log: one-step fitted values of the fit months (NaN for the first DIFFERENCED_MONTHS);
    mean_log: forecast means for steps 1..len; psi: ψ_0..ψ_(len-1), the MA(∞) weights of the forecast
    errors; sigma2: innovation variance (on residual_df degrees of freedom); param_loadings: steps × k
    matrix L with L Lᵀ = the forecast covariance from the coefficients' estimation error (G V Gᵀ)."""

    model: str
    candidates: int
    fitted_log: np.ndarray = field(repr=False)
    mean_log: np.ndarray = field(repr=False)
    psi: np.ndarray = field(repr=False)
    sigma2: float = 0.0
    residual_df: int = 1
    param_loadings: np.ndarray | None = field(default=None, repr=False)

    def loadings(self, horizon: int) -> np.ndarray:
        """The first `horizon` rows of param_loadings (zeros when there are none)."""
        if self.param_loadings is None or not self.param_loadings.size:
            return np.zeros((horizon, 0))
        return self.param_loadings[:horizon]

    @property
    def horizon(self) -> int:
        return len(self.mean_log)


def psi_weights(coef: dict[str, float], order, seasonal_order, steps: int, season: int = SEASON) -> np.ndarray:
    """ψ_0..ψ_(steps-1) of a seasonal ARIMA with coefficients named as statsforecast names them
    (ar1.., ma1.., sar1.., sma1..; x_t = Σ ar x_(t-i) + e_t + Σ ma e_(t-i)), differencing included."""
    p, d, q = order
    sp, sd, sq = seasonal_order
    ar = np.r_[1.0, [-coef[f"ar{i}"] for i in range(1, p + 1)]]
    seasonal_ar = np.zeros(sp * season + 1)
    seasonal_ar[0] = 1.0
    for i in range(1, sp + 1):
        seasonal_ar[i * season] = -coef[f"sar{i}"]
    ma = np.r_[1.0, [coef[f"ma{i}"] for i in range(1, q + 1)]]
    seasonal_ma = np.zeros(sq * season + 1)
    seasonal_ma[0] = 1.0
    for i in range(1, sq + 1):
        seasonal_ma[i * season] = coef[f"sma{i}"]
    phi = np.convolve(ar, seasonal_ar)
    for _ in range(d):
        phi = np.convolve(phi, [1.0, -1.0])
    for _ in range(sd):
        phi = np.convolve(phi, np.r_[1.0, np.zeros(season - 1), -1.0])
    theta = np.convolve(ma, seasonal_ma)
    psi = np.zeros(steps)
    for j in range(steps):
        value = theta[j] if j < len(theta) else 0.0
        for i in range(1, min(j, len(phi) - 1) + 1):
            value -= phi[i] * psi[j - i]
        psi[j] = value
    return psi


def fit_baseline(fit_values: np.ndarray, steps: int) -> Baseline | None:
    """The lowest-AICc candidate fitted to fit_values (counts, no gaps), forecast `steps` months ahead.
    None when no candidate can be fitted (for example a series that never changes)."""
    from statsforecast.models import ARIMA

    y = np.log1p(np.asarray(fit_values, dtype="float64"))
    if len(y) < MIN_MODEL_MONTHS or np.isnan(y).any() or np.ptp(y) == 0:
        return None
    best, best_order, tried = None, None, 0
    for order, seasonal_order in CANDIDATE_ORDERS:
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                model = ARIMA(order=order, seasonal_order=seasonal_order, season_length=SEASON).fit(y)
        except (ValueError, RuntimeError, np.linalg.LinAlgError, ZeroDivisionError, FloatingPointError):
            continue  # e.g. a seasonal AR term needs more than 24 months
        aicc = float(model.model_.get("aicc", np.nan))
        if not math.isfinite(aicc) or not float(model.model_["sigma2"]) > 0:
            continue
        tried += 1
        if best is None or aicc < best.model_["aicc"]:
            best, best_order = model, (order, seasonal_order)
    if best is None:
        return None
    order, seasonal_order = best_order
    coef = {name: float(value) for name, value in best.model_["coef"].items()}
    mean_log = np.asarray(best.predict(steps)["mean"], dtype="float64")
    fitted_log = y - np.asarray(best.model_["residuals"], dtype="float64")
    fitted_log[:DIFFERENCED_MONTHS] = np.nan
    p, d, q = order
    sp, sd, sq = seasonal_order
    return Baseline(
        model=f"SARIMA({p},{d},{q})({sp},{sd},{sq}){SEASON} on log(count + 1)",
        candidates=tried,
        fitted_log=fitted_log,
        mean_log=mean_log,
        psi=psi_weights(coef, order, seasonal_order, steps),
        sigma2=float(best.model_["sigma2"]),
        residual_df=max(int(best.model_["nobs"]) - len(coef), 1),
        param_loadings=parameter_loadings(y, order, seasonal_order, coef, mean_log),
    )


HESSIAN_STEP = 2e-3
GRADIENT_STEP = 1e-4
MAX_COEFFICIENT_VARIANCE = 1 / 3  # the variance of a uniform distribution on (−1, 1)


def _hessian(function, size: int, step: float = HESSIAN_STEP) -> np.ndarray:
    """The numerical Hessian of function(shift) at shift = 0 by central differences (symmetric: 1 + 2k +
    2k(k − 1) evaluations for k coefficients)."""
    unit = np.eye(size) * step
    centre = function(np.zeros(size))
    hessian = np.zeros((size, size))
    for i in range(size):
        hessian[i, i] = (function(unit[i]) - 2 * centre + function(-unit[i])) / step**2
        for j in range(i + 1, size):
            hessian[i, j] = hessian[j, i] = (function(unit[i] + unit[j]) - function(unit[i] - unit[j])
                                             - function(unit[j] - unit[i]) + function(-unit[i] - unit[j])) / (4 * step**2)
    return hessian


def parameter_loadings(y: np.ndarray, order, seasonal_order, coef: dict[str, float], mean_log: np.ndarray) -> np.ndarray:
    """steps × k matrix L with L Lᵀ = G V Gᵀ: the delta-method covariance of the forecast means from the
    coefficients' estimation error. V = the inverse of minus the numerical Hessian of the exact log-likelihood
    (central differences, HESSIAN_STEP); G = the forecast means' derivatives (forward differences). The
    model is refitted with every coefficient fixed for each evaluation (cheap: one Kalman filter pass).
    Zeros (no term) when a refit fails or the Hessian is not usable."""
    from statsforecast.models import ARIMA

    names = list(coef)
    steps = len(mean_log)
    base = np.array([coef[n] for n in names])

    def refit(values: np.ndarray):
        fixed = {n: float(v) for n, v in zip(names, values)}
        return ARIMA(order=order, seasonal_order=seasonal_order, season_length=SEASON, fixed=fixed).fit(y)

    def loglik(shift: np.ndarray) -> float:
        return float(refit(base + shift).model_["loglik"])

    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            covariance = np.linalg.inv(-_hessian(loglik, len(names)))
            gradient = np.column_stack([
                (np.asarray(refit(base + np.eye(len(names))[k] * GRADIENT_STEP).predict(steps)["mean"]) - mean_log)
                / GRADIENT_STEP for k in range(len(names))])
            if not (np.isfinite(covariance).all() and np.isfinite(gradient).all()):
                return np.zeros((steps, 0))
            eigenvalues, vectors = np.linalg.eigh(covariance)
    except (ValueError, RuntimeError, np.linalg.LinAlgError, ZeroDivisionError, FloatingPointError):
        return np.zeros((steps, 0))
    if eigenvalues.max() <= 0:
        return np.zeros((steps, 0))
    # a flat likelihood (a coefficient at the edge of its range, few months) makes V explode; no ARMA
    # coefficient is less certain than "anywhere in (−1, 1)", so each direction's variance is capped
    return gradient @ vectors @ np.diag(np.sqrt(np.clip(eigenvalues, 0.0, MAX_COEFFICIENT_VARIANCE)))


def baseline_key(fit_values: np.ndarray, window: FitWindow) -> str:
    """The key a baseline is stored under: the model version, the fit window and the exact fit values."""
    digest = hashlib.sha256()
    digest.update(f"{MODEL_VERSION}|{window.fit_from}|{window.fit_until}|".encode())
    digest.update(np.ascontiguousarray(fit_values, dtype="float64").tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# where a baseline comes from: the store (metrics.baselines), this process's memory, or a fit now
# ---------------------------------------------------------------------------------------------
MEMORY_ENTRIES = 2048
_memory_cache: OrderedDict[str, Baseline | None] = OrderedDict()
_memory_guard = threading.Lock()
_in_flight: dict[str, threading.Event] = {}  # keys being fitted now (single flight: one fit per key at a time)


class FitRequest(NamedTuple):
    """One series' baseline to obtain: its key (baseline_key), the fit values (counts, no gaps) and the months
    to forecast after them."""

    key: str
    fit_values: np.ndarray
    steps: int


def _remembered_locked(key: str, steps: int) -> tuple[bool, Baseline | None]:
    """This process's earlier fit of `key` when it forecasts `steps` months (caller holds _memory_guard)."""
    if key in _memory_cache:
        value = _memory_cache[key]
        if value is None or value.horizon >= steps:
            _memory_cache.move_to_end(key)
            return True, value
    return False, None


def _remember(key: str, value: Baseline | None) -> None:
    with _memory_guard:
        _memory_cache[key] = value
        _memory_cache.move_to_end(key)
        while len(_memory_cache) > MEMORY_ENTRIES:
            _memory_cache.popitem(last=False)


def _obtain_fits(wanted: dict[str, tuple[np.ndarray, int]]) -> dict[str, Baseline | None]:
    """{key: baseline} for {key: (fit values, months asked)}: this process's earlier fit when it covers the
    months, else a fit now, all of them at once (in the fit workers when there are some, see _fit_now). A key
    another thread is fitting is waited for, not fitted twice."""
    obtained: dict[str, Baseline | None] = {}
    while wanted:
        mine: dict[str, tuple[np.ndarray, int]] = {}
        theirs: dict[str, threading.Event] = {}
        with _memory_guard:
            for key, (values, steps) in wanted.items():
                found, baseline = _remembered_locked(key, steps)
                if found:
                    obtained[key] = baseline
                elif key in _in_flight:
                    theirs[key] = _in_flight[key]
                else:
                    _in_flight[key] = threading.Event()
                    mine[key] = (values, steps + SPARE_STEPS)
        try:
            for key, baseline in _fit_now(mine).items():
                _remember(key, baseline)
                obtained[key] = baseline
        finally:
            with _memory_guard:
                for key in mine:
                    _in_flight.pop(key).set()
        for event in theirs.values():
            event.wait()
        wanted = {key: wanted[key] for key in theirs}  # remembered now, unless that fit failed or is too short
    return obtained


def obtain_baselines(requests: Sequence[FitRequest], store=None) -> list[tuple[Baseline | None, str | None]]:
    """[(baseline, 'stored' | 'fitted' | None)] per request, in order: the stored row when `store`
    (metrics.baselines.BaselineStore) has one covering its months, else this process's earlier fit, else a
    fit now. The fits a batch needs run together (in parallel in the fit workers); a key asked twice is
    fitted once, for the most months asked."""
    results: list[tuple[Baseline | None, str | None] | None] = [None] * len(requests)
    wanted: dict[str, tuple[np.ndarray, int]] = {}
    for index, request in enumerate(requests):
        stored = store.get(request.key, request.steps) if store is not None else None
        if stored is not None:
            results[index] = (stored, "stored")
        else:
            values, steps = wanted.get(request.key, (request.fit_values, 0))
            wanted[request.key] = (values, max(steps, int(request.steps)))
    obtained = _obtain_fits(wanted)
    for index, request in enumerate(requests):
        if results[index] is None:
            baseline = obtained[request.key]
            results[index] = (baseline, "fitted" if baseline is not None else None)
    return results


def obtain_baseline(key: str, fit_values: np.ndarray, steps: int, store=None) -> tuple[Baseline | None, str | None]:
    """(baseline, 'stored' | 'fitted'): obtain_baselines for one series."""
    return obtain_baselines([FitRequest(key, fit_values, steps)], store)[0]


# ---------------------------------------------------------------------------------------------
# fitting in worker processes: the fits hold the interpreter lock (statsforecast and scipy in Python), so a
# server fitting in its own process stalls every session's script; a pool of spawned workers leaves it free
# and uses the cores. Results are the same floats (the same deterministic code, pickled arrays).
# ---------------------------------------------------------------------------------------------
FIT_WORKERS_ENV = "CRIME_MONITOR_FIT_WORKERS"
WORKER_NICENESS = 10  # fit workers run this much nicer than the server (which a browser on the machine also beats)
MAX_POOL_FAILURES = 3  # pools broken (a worker died) before fits stay in this process for good
_log = logging.getLogger(__name__)
_pool: ProcessPoolExecutor | None = None
_pool_workers = 0
_pool_failures = 0
_pool_guard = threading.Lock()
_warm_started = False
_pool_ready = False  # the workers' first warm-up has finished: from then on fits are sent to them
_warm_now = threading.Event()  # cuts a delayed warm-up short (a fit is wanted now)
_main_swap_guard = threading.Lock()
_NEUTRAL_MAIN = types.ModuleType("__main__")  # no __file__, no __spec__: a spawned child imports no main module


def fit_workers() -> int:
    """Worker processes for model fits: $CRIME_MONITOR_FIT_WORKERS (0 = fit in this process); default
    min(2, CPU count)."""
    default = min(2, os.cpu_count() or 1)
    text = os.environ.get(FIT_WORKERS_ENV, "").strip()
    if not text:
        return default
    if not text.isdigit():
        _log.warning("%s=%r is not a whole number of workers (0 or more): using %d", FIT_WORKERS_ENV, text, default)
        return default
    return int(text)


class _WorkerProcess(multiprocessing.context.SpawnProcess):
    """A spawned fit worker that does not run the parent's __main__: under Streamlit that is the app script
    (installed as sys.modules['__main__'] for each run), which a spawned child would otherwise execute. The
    swap lasts while the child is launched (its start data are written) and is undone only if nobody else
    replaced __main__ meanwhile."""

    def start(self) -> None:
        with _main_swap_guard:
            saved = sys.modules.get("__main__")
            sys.modules["__main__"] = _NEUTRAL_MAIN
            try:
                super().start()
            finally:
                if sys.modules.get("__main__") is _NEUTRAL_MAIN:
                    sys.modules["__main__"] = saved
        try:  # at once, while the child is still starting: its imports and fits give way to the server
            os.setpriority(os.PRIO_PROCESS, self.pid, min(os.getpriority(os.PRIO_PROCESS, 0) + WORKER_NICENESS, 19))
        except OSError as exc:
            _log.warning("model fits: worker priority not lowered (%s)", exc)


class _WorkerContext(multiprocessing.context.SpawnContext):
    """'spawn' (never fork a threaded server) with _WorkerProcess."""

    Process = _WorkerProcess


def _worker_started(parent_pid: int) -> None:
    """In each worker, once: import the model library (so the first fit does not wait for it), and exit when
    the parent process is gone (a killed server leaves no workers behind)."""
    from statsforecast.models import ARIMA  # noqa: F401

    def watch_parent() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch_parent, name="fit-worker-parent-watch", daemon=True).start()


def _fit_in_worker(fit_values: np.ndarray, steps: int) -> Baseline | None:
    """fit_baseline, in a worker (a module-level function, picklable by name)."""
    return fit_baseline(fit_values, steps)


def _fit_pool() -> ProcessPoolExecutor | None:
    """The fit workers (started on first use), or None: workers = 0, or the pool cannot be had."""
    global _pool, _pool_workers, _pool_failures
    workers = fit_workers()
    with _pool_guard:
        if _pool is not None and _pool_workers == workers:
            return _pool
        if _pool is not None:  # the configured number changed: start again
            _pool.shutdown(wait=False, cancel_futures=True)
            _pool = None
        if workers == 0 or _pool_failures >= MAX_POOL_FAILURES:
            return None
        try:
            _pool = ProcessPoolExecutor(workers, mp_context=_WorkerContext(), initializer=_worker_started,
                                        initargs=(os.getpid(),))
        except (OSError, RuntimeError, ValueError) as exc:
            _pool_failures = MAX_POOL_FAILURES
            _log.warning("model fits: no worker processes (%s); fitting in the server process", exc)
            return None
        _pool_workers = workers
        return _pool


def _discard_pool(pool: ProcessPoolExecutor, exc: BaseException) -> None:
    """Stop using a broken pool (the next fit starts a new one, up to MAX_POOL_FAILURES times)."""
    global _pool, _pool_failures
    with _pool_guard:
        if _pool is pool:
            _pool = None
            _pool_failures += 1
            _log.warning("model fits: worker pool failed (%s: %s); fitting in the server process%s",
                         type(exc).__name__, exc, "" if _pool_failures < MAX_POOL_FAILURES else " from now on")
    pool.shutdown(wait=False, cancel_futures=True)


def _fit_now(jobs: dict[str, tuple[np.ndarray, int]]) -> dict[str, Baseline | None]:
    """fit_baseline for each {key: (fit values, months to forecast)}: submitted together to the fit workers
    when they are ready, else (or for any the pool fails to return) fitted here, in turn. Workers that have
    not started yet are started in the background, not waited for (starting costs seconds; the fits here,
    tens of milliseconds each)."""
    if jobs and not _pool_ready and fit_workers() > 0:
        warm_fit_pool()
        _warm_now.set()
        pool = None
    else:
        pool = _fit_pool() if jobs else None
    futures: dict[str, Future] = {}
    if pool is not None:
        try:
            for key, (values, steps) in jobs.items():
                futures[key] = pool.submit(_fit_in_worker, values, steps)
        except (BrokenProcessPool, RuntimeError, OSError) as exc:  # broken, or shut down meanwhile
            _discard_pool(pool, exc)
    fitted: dict[str, Baseline | None] = {}
    for key, (values, steps) in jobs.items():
        future = futures.get(key)
        if future is not None:
            try:
                fitted[key] = future.result()
                continue
            except BrokenProcessPool as exc:
                _discard_pool(pool, exc)
            except Exception as exc:  # noqa: BLE001 (fitted here instead: the same result, or the same error)
                _log.warning("model fits: a worker's fit failed (%s: %s); fitting in the server process",
                             type(exc).__name__, exc)
        fitted[key] = fit_baseline(values, steps)
    return fitted


WARM_VALUES = np.round(100 + 20 * np.sin(np.arange(36) * 2 * np.pi / SEASON) + np.arange(36) % 5)


def warm_fit_pool(wait: bool = False, delay: float = 0.0) -> None:
    """Start the fit workers in the background, once per process (nothing when workers = 0), after `delay`
    seconds unless a fit is wanted sooner: each imports the model library and fits a small series, so no page
    waits for that. wait=True: return when they are ready."""
    global _warm_started
    with _pool_guard:
        started, _warm_started = _warm_started, True
    if started:
        return
    thread = threading.Thread(target=_warm, args=(delay,), name="fit-pool-warm", daemon=True)
    thread.start()
    if wait:
        thread.join()


def _warm(delay: float = 0.0) -> None:
    global _pool_ready
    _warm_now.wait(delay)
    pool = _fit_pool()
    if pool is None:
        return
    try:
        futures = [pool.submit(_fit_in_worker, WARM_VALUES, 1) for _ in range(_pool_workers)]
        for future in futures:
            future.result()
        _pool_ready = True
    except BrokenProcessPool as exc:
        _discard_pool(pool, exc)
    except (RuntimeError, OSError) as exc:  # shut down meanwhile (the interpreter is exiting)
        _log.warning("model fits: workers not warmed (%s)", exc)


def shutdown_fit_pool() -> None:
    """Stop the fit workers and wait for them (at interpreter exit, and in tests); a later fit starts anew."""
    global _pool
    with _pool_guard:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown_fit_pool)


# ---------------------------------------------------------------------------------------------
# the frame
# ---------------------------------------------------------------------------------------------
def _as_monthly(series: pd.Series) -> pd.Series:
    """The series indexed by first-of-month Timestamps, sorted, with missing months as NaN."""
    index = pd.to_datetime(pd.Index(series.index)).to_period("M").to_timestamp()
    values = pd.Series(pd.to_numeric(series.to_numpy(), errors="coerce"), index=index, dtype="float64")
    if not (index.is_unique and index.is_monotonic_increasing):  # e.g. several rows in a month: add them up
        values = values.groupby(level=0).sum(min_count=1).sort_index()
    if values.empty:
        return values
    full = pd.date_range(values.index.min(), values.index.max(), freq="MS")
    return values.reindex(full)


def _flag(observed: float, lower: float, upper: float) -> str | None:
    if observed is None or np.isnan(observed) or np.isnan(lower) or np.isnan(upper):
        return None
    if observed < lower:
        return "below"
    if observed > upper:
        return "above"
    return "within"


def error_covariance(baseline: Baseline, horizon: int) -> np.ndarray:
    """Covariance of the log-scale forecast errors at steps 1..horizon: σ² Σ_k ψ_(i−k) ψ_(j−k) from the
    innovations, plus the coefficients' estimation error (L Lᵀ)."""
    psi = baseline.psi[:horizon]
    weights = np.zeros((horizon, horizon))  # row h: the weights of innovations 1..h in the error at step h
    for h in range(horizon):
        weights[h, : h + 1] = psi[h::-1]
    loadings = baseline.loadings(horizon)
    return baseline.sigma2 * weights @ weights.T + loadings @ loadings.T


def total_interval(baseline: Baseline, steps: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper limits of the running total of the counts forecast for the given steps (1-based
    months after the fit window): the total's mean and variance from the model's joint forecast
    distribution (log-normal months, correlated as error_covariance says), matched to a log-normal
    (Fenton–Wilkinson) and cut at the same t quantile as the monthly intervals."""
    if not len(steps):
        return np.array([]), np.array([])
    index = np.asarray(steps, dtype=int) - 1
    covariance = error_covariance(baseline, int(index.max()) + 1)[np.ix_(index, index)]
    level = np.exp(baseline.mean_log[index] + np.diag(covariance) / 2)  # E[count + 1] per month
    pairs = np.outer(level, level) * np.expm1(covariance)
    mean = np.cumsum(level)
    variance = np.diag(np.cumsum(np.cumsum(pairs, axis=0), axis=1))
    sigma = np.sqrt(np.log1p(variance / mean**2))
    centre = np.log(mean) - sigma**2 / 2
    quantile = stats.t.ppf(1 - alpha / 2, baseline.residual_df)
    months = np.arange(1, len(index) + 1)
    lower = np.clip(np.exp(centre - quantile * sigma) - months, 0.0, None)
    upper = np.exp(centre + quantile * sigma) - months
    return lower, upper


def _projection(baseline: Baseline, steps: int, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median forecast and prediction limits on the count scale for steps 1..steps."""
    mean = baseline.mean_log[:steps]
    sd = np.sqrt(baseline.sigma2 * np.cumsum(baseline.psi[:steps] ** 2) + (baseline.loadings(steps) ** 2).sum(axis=1))
    quantile = stats.t.ppf(1 - alpha / 2, baseline.residual_df)
    expected = np.clip(np.expm1(mean), 0.0, None)
    lower = np.clip(np.expm1(mean - quantile * sd), 0.0, None)
    upper = np.clip(np.expm1(mean + quantile * sd), 0.0, None)
    return expected, lower, upper


def _series_frame(dates: list[date], observed: np.ndarray, expected: np.ndarray, lower: np.ndarray,
                  upper: np.ndarray, in_fit: np.ndarray, flags: list[str | None],
                  cumulative: tuple[np.ndarray, np.ndarray, np.ndarray]) -> pd.DataFrame:
    """The expected-vs-observed frame's columns, in order (see the module docstring); cumulative = the running
    difference and its lower and upper limits."""
    return pd.DataFrame({"month": dates, "observed": observed, "expected": expected, "lower": lower, "upper": upper,
                         "in_fit": in_fit, "flag": flags, "cumulative_difference": cumulative[0],
                         "cumulative_lower": cumulative[1], "cumulative_upper": cumulative[2]})


def _empty_frame(months: pd.DatetimeIndex, observed: np.ndarray) -> pd.DataFrame:
    nan = np.full(len(months), np.nan)
    return _series_frame([m.date() for m in months], observed, nan, nan, nan, np.zeros(len(months), dtype=bool),
                         [None] * len(months), (nan, nan, nan))


def _model_frame(months: pd.DatetimeIndex, observed: np.ndarray, window: FitWindow, baseline: Baseline,
                 alpha: float) -> pd.DataFrame:
    """The frame for months fit_from..last: fitted values in the window, forecasts after it, flags, and the
    cumulative difference with its interval from the projection start (columns built as arrays, one frame)."""
    dates = [m.date() for m in months]
    size = len(dates)
    in_fit = np.array([window.fit_from <= d <= window.fit_until for d in dates], dtype=bool)
    fitted_months = int(in_fit.sum())
    steps = size - fitted_months
    expected, lower, upper = np.full(size, np.nan), np.full(size, np.nan), np.full(size, np.nan)
    expected[in_fit] = np.clip(np.expm1(baseline.fitted_log), 0.0, None)[:fitted_months]
    if steps:
        expected[~in_fit], lower[~in_fit], upper[~in_fit] = _projection(baseline, steps, alpha)
    flags = [None if fit else _flag(o, lo, hi) for o, lo, hi, fit in zip(observed, lower, upper, in_fit)]
    cumulative = {name: np.full(size, np.nan) for name in ("difference", "lower", "upper")}
    assessed = np.array([d >= window.projection_start for d in dates], dtype=bool) & ~np.isnan(observed)
    if assessed.any():
        positions = np.flatnonzero(assessed)
        step_numbers = positions - fitted_months + 1
        observed_total = np.cumsum(observed[positions])
        low_total, high_total = total_interval(baseline, step_numbers, alpha)
        cumulative["difference"][positions] = np.cumsum(observed[positions] - expected[positions])
        cumulative["lower"][positions] = observed_total - high_total
        cumulative["upper"][positions] = observed_total - low_total
    return _series_frame(dates, observed, expected, lower, upper, in_fit, flags,
                         (cumulative["difference"], cumulative["lower"], cumulative["upper"]))


def round_for_people(value: float, unit: float) -> int:
    """`value` rounded half away from zero to a multiple of `unit` (a power of ten ≥ 1)."""
    step = Decimal(int(unit))
    return int((Decimal(repr(float(value))) / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step)


def difference_text(difference: float, lower: float, upper: float) -> str:
    """'about 160,000 fewer than expected (107,000–218,000)': observed − expected and its interval, rounded
    to 2–3 significant figures (to a tenth of the interval's half-width, at most 3 figures of the largest
    number, never below 1). Empty when the difference is not a number."""
    if difference is None or not np.isfinite(difference):
        return ""
    values = [v for v in (difference, lower, upper) if v is not None and np.isfinite(v)]
    largest = max(abs(v) for v in values) or 1.0
    unit = 10 ** max(math.floor(math.log10(largest)) - 2, 0)
    if len(values) == 3 and upper > lower:
        unit = max(unit, 10 ** max(math.floor(math.log10((upper - lower) / 2)) - 1, 0))
    point = round_for_people(difference, unit)
    direction = "more" if point > 0 else "fewer"
    head = "about as many as expected" if point == 0 else f"about {abs(point):,} {direction} than expected"
    if len(values) < 3:
        return head
    low, high = round_for_people(lower, unit), round_for_people(upper, unit)
    if low >= 0 and point > 0:
        return f"{head} ({low:,}–{high:,})"
    if high <= 0 and point < 0:
        return f"{head} ({abs(high):,}–{abs(low):,})"

    def word(value: int) -> str:
        return "none" if value == 0 else f"{abs(value):,} {'more' if value > 0 else 'fewer'}"

    return f"{head} ({word(low)} to {word(high)})"


def _projection_note(frame: pd.DataFrame, window: FitWindow) -> str:
    assessed = np.flatnonzero(frame["cumulative_difference"].notna().to_numpy())
    if not len(assessed):
        return " No observed months after the fit window to compare."
    column = {name: frame[name].to_numpy() for name in
              ("month", "flag", "cumulative_difference", "cumulative_lower", "cumulative_upper")}
    last = assessed[-1]
    outside = int((column["flag"][assessed] != "within").sum())
    wording = difference_text(column["cumulative_difference"][last], column["cumulative_lower"][last],
                              column["cumulative_upper"][last])
    return (f" {month_range_text(column['month'][assessed[0]], column['month'][last])}: {wording}; {outside} of "
            f"{len(assessed)} months outside the interval.")


@dataclass(frozen=True, eq=False)
class SeriesRequest:
    """One monthly series to compare with its expected values: expected_from_series's arguments (values
    indexed by month; the projection starts after `fit_until`)."""

    series: pd.Series
    fit_until: date = date(2020, 2, 1)
    until: date | None = None
    fit_from: date | None = None
    include_disrupted: bool = False


@dataclass(frozen=True, eq=False)
class _Prepared:
    """A request's months, observations and fit window; `frame` is already the answer when there is
    nothing to fit (no data, or no fit window)."""

    window: FitWindow
    months: pd.DatetimeIndex
    observed: np.ndarray
    frame: pd.DataFrame | None = None

    @property
    def fit_values(self) -> np.ndarray:
        return self.observed[: self.window.months]

    @property
    def fit_request(self) -> FitRequest:
        return FitRequest(baseline_key(self.fit_values, self.window), self.fit_values,
                          len(self.months) - self.window.months)


def _prepare(request: SeriesRequest) -> _Prepared:
    """The months from the first fitted one (the first asked when there is no model) to `until`, their
    observations and the fit window (see expected_from_series)."""
    monthly = _as_monthly(request.series)
    projection_start = add_months(month_start(request.fit_until), 1)
    if monthly.empty:
        frame = _empty_frame(pd.DatetimeIndex([]), np.array([]))
        window = FitWindow(projection_start, None, None, 0, include_disrupted=request.include_disrupted)
        frame.attrs = _attrs(window, None, None, None, "No data: nothing to fit.")
        return _Prepared(window, pd.DatetimeIndex([]), np.array([]), frame)
    first = pd.Timestamp(month_start(request.fit_from)) if request.fit_from else monthly.index.min()
    last = pd.Timestamp(month_start(request.until)) if request.until else monthly.index.max()
    last = max(last, min(pd.Timestamp(month_start(request.fit_until)), monthly.index.max()), first)
    months = pd.date_range(first, last, freq="MS")
    observed = monthly.reindex(months).to_numpy(dtype="float64")
    window = choose_fit_window([m.date() for m in months], observed, projection_start,
                               include_disrupted=request.include_disrupted)
    if not window.ok:
        frame = _empty_frame(months, observed)
        frame.attrs = _attrs(window, None, None, None, window.basis)
        return _Prepared(window, months, observed, frame)
    keep = months >= pd.Timestamp(window.fit_from)
    return _Prepared(window, months[keep], observed[keep])


def _finish(prepared: _Prepared, baseline: Baseline | None, source: str | None, alpha: float, store) -> pd.DataFrame:
    """The frame of a prepared request from its baseline (see the module docstring)."""
    window, months, observed = prepared.window, prepared.months, prepared.observed
    key = prepared.fit_request.key
    if baseline is None:
        frame = _empty_frame(months, observed)
        note = (f"No seasonal model could be fitted to {month_range_text(window.fit_from, window.fit_until)} "
                "(the counts hardly vary).")
        frame.attrs = _attrs(window, None, key, None, note)
        return frame
    if store is not None:
        store.record(key, baseline, window)
    frame = _model_frame(months, observed, window, baseline, alpha)
    note = (f"{window.basis} {baseline.model} chosen by AICc among {baseline.candidates} candidate models; "
            f"{100 * (1 - alpha):.0f}% prediction interval." + _projection_note(frame, window))
    frame.attrs = _attrs(window, baseline, key, source, note)
    return frame


def expected_from_many(requests: Sequence[SeriesRequest], alpha: float = 0.05, store=None) -> list[pd.DataFrame]:
    """expected_from_series for each request, in order, with the models the batch needs fitted together
    (in parallel in the fit workers, see obtain_baselines): the same frames as one call each."""
    prepared = [_prepare(request) for request in requests]
    asked = [p for p in prepared if p.frame is None]
    obtained = iter(obtain_baselines([p.fit_request for p in asked], store))
    return [p.frame if p.frame is not None else _finish(p, *next(obtained), alpha, store) for p in prepared]


def expected_from_series(
    series: pd.Series,
    fit_until: date = date(2020, 2, 1),
    until: date | None = None,
    fit_from: date | None = None,
    alpha: float = 0.05,
    *,
    include_disrupted: bool = False,
    store=None,
) -> pd.DataFrame:
    """Expected against observed for one monthly series (values indexed by month).

    The projection starts the month after `fit_until`; the fit window is chosen among the months from
    `fit_from` (default: the series' first) to `fit_until` (see choose_fit_window); the frame runs to
    `until` (default: the series' last month; months beyond the data get expected values and no
    observation). `store`: a metrics.baselines.BaselineStore to read stored baselines from. See the
    module docstring for the frame and its attrs."""
    request = SeriesRequest(series, fit_until, until, fit_from, include_disrupted)
    return expected_from_many([request], alpha, store)[0]


def _attrs(window: FitWindow, baseline: Baseline | None, key: str | None, source: str | None, note: str) -> dict:
    return {
        "method": "sarima" if baseline is not None else None,
        "model": baseline.model if baseline is not None else None,
        "note": note,
        "basis": window.basis,
        "fit_from": window.fit_from if baseline is not None else None,
        "fit_until": window.fit_until if baseline is not None else None,
        "fit_excluded": window.fit_excluded,
        "projection_start": window.projection_start,
        "include_disrupted": window.include_disrupted,
        "baseline_key": key,
        "baseline_source": source,
    }


def observed_request(con: duckdb.DuckDBPyConnection, family: str = "crimes", filters: Filters | None = None,
                     fit_until: date = date(2020, 2, 1), until: date | None = None, fit_from: date | None = None,
                     value: str = "count", *, dataset: str | None = None,
                     include_disrupted: bool = False) -> SeriesRequest:
    """The family's monthly total under the filters (built in DuckDB by `metrics.series.monthly_series`) as
    the request expected_vs_observed answers, arguments as there (an empty series when nothing is loaded)."""
    from metrics.series import data_range, monthly_series

    first, last = data_range(con, family, filters)
    if first is None:
        return SeriesRequest(pd.Series(dtype="float64"), fit_until)
    start = month_start(fit_from) if fit_from else first
    end = month_start(until) if until else last
    end = max(end, start)
    series_frame = monthly_series(con, family, None, filters, start, min(end, last) if last >= start else start,
                                  value, dataset=dataset)
    series = pd.Series(series_frame[value].to_numpy(dtype="float64"), index=pd.to_datetime(series_frame["month"]))
    return SeriesRequest(series, fit_until, until=end, fit_from=start, include_disrupted=include_disrupted)


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
    include_disrupted: bool = False,
) -> pd.DataFrame:
    """Expected against observed for the family's monthly total under the filters (series built in
    DuckDB by `metrics.series.monthly_series`), from the stored baseline when there is one
    (metrics.baselines.expected_for_many). See `expected_from_series` for the frame."""
    from metrics.baselines import expected_for_many

    request = observed_request(con, family, filters, fit_until, until, fit_from, value, dataset=dataset,
                               include_disrupted=include_disrupted)
    return expected_for_many(con, [request], alpha)[0]


__all__ = ["Baseline", "FitRequest", "FitWindow", "SeriesRequest", "choose_fit_window", "difference_text",
           "expected_from_many", "expected_from_series", "expected_vs_observed", "fit_baseline", "fit_workers",
           "obtain_baselines", "observed_request", "shutdown_fit_pool", "warm_fit_pool"]
