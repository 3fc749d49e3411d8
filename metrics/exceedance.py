"""Weekly exceedance of one weekly count series: the improved Farrington method (Noufaily et al. 2013), with
the weeks of the COVID-19 calendar left out of every baseline.

`exceedance(counts_by_week, week)` tests one week:
  * baseline: every week from `years_back` years before the week up to `recent_weeks_left_out` weeks before it
    (the most recent half-year is left out so an emerging rise does not raise its own baseline). Weeks of
    disrupted periods (`disrupted_weeks`: the COVID-19 lockdowns and easing, 23 Mar 2020 – 18 Jul 2021) and
    weeks outside the loaded data are left out, never counted as zero;
  * seasonality: a 10-level factor (Noufaily et al. 2013): the ±`window_weeks` around the same week of each
    earlier year form the reference level, and the weeks between those windows are split into 9 blocks;
  * model: a quasi-Poisson log-linear model of the baseline counts on the seasonal factor and, where the
    Farrington rules allow (trend significant at 5% with the overdispersion, the clean baseline spanning at
    least `MIN_TREND_YEARS` years, the prediction not above every baseline count), a linear time trend;
    overdispersion φ = max(1, Pearson χ² / (n − p));
  * earlier outbreaks are down-weighted: baseline weeks whose Anscombe residual exceeds 2.58 get weight
    ∝ residual⁻² and the model is refitted (Noufaily et al. 2013);
  * upper threshold: the (1 − alpha) quantile of a negative binomial with variance φ·μ (Poisson when φ = 1),
    its mean μ taken at the upper (1 − alpha) limit of the model's estimate for the week (surveillance's
    "muan" threshold), so the uncertainty of the baseline is allowed for;
  * flag: observed > threshold, and at least `min_recent_total` events in this week and the 3 before (a
    handful of rare events cannot raise a flag).
Only rises are flagged. Its false-alarm rate on simulated in-control series is measured by
`python -m metrics weekly-calibration` (metrics/weekly_calibration.py) and reported in docs/STATISTICS.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats

DEFAULT_YEARS_BACK = 5
DEFAULT_WINDOW_WEEKS = 3
DEFAULT_ALPHA = 0.01
SEASONAL_LEVELS = 10
RECENT_WEEKS_LEFT_OUT = 26
REWEIGHT_ABOVE = 2.58
MIN_BASELINE_WEEKS = 6
MIN_RECENT_TOTAL = 5
MIN_TREND_YEARS = 3.0

FLAG_MEANING = (
    "A flag means this week's count is higher than ordinary week-to-week variation would give: above the level "
    "that an unchanged week exceeds only about 1 time in 100, judged against the same time of year in up to five "
    "earlier years (COVID-19 lockdown and easing weeks left out, trends and past spikes allowed for). On simulated "
    "series with nothing going on, about 1 week in 250 was flagged by chance (1 in 60 in the worst case). A flag "
    "is a prompt to look at the week, not proof of a problem; weeks with fewer than 5 events in 4 weeks are never "
    "flagged."
)


# ---------------------------------------------------------------------------------------------
# weeks
# ---------------------------------------------------------------------------------------------
def monday(value: date) -> date:
    """The Monday on or before `value`."""
    return value - timedelta(days=value.weekday())


def same_week_years_back(week: date, years: int) -> date:
    """The Monday nearest the same calendar date `years` years before `week` (29 Feb -> 28 Feb)."""
    try:
        earlier = week.replace(year=week.year - years)
    except ValueError:
        earlier = week.replace(year=week.year - years, day=28)
    offset = earlier.weekday()
    return earlier - timedelta(days=offset) if offset <= 3 else earlier + timedelta(days=7 - offset)


def _weeks_overlapping(start: date, end: date) -> set[date]:
    first, last = monday(start), monday(end)
    return {first + timedelta(weeks=k) for k in range((last - first).days // 7 + 1)}


def _weeks_of_periods(config: dict | None) -> frozenset[date]:
    from metrics.calendar import covid_periods

    periods = covid_periods(config)
    weeks: set[date] = set()
    for start, end in zip(periods["start"], periods["end"]):
        weeks |= _weeks_overlapping(start, end)
    return frozenset(weeks)


_DEFAULT_DISRUPTED = lru_cache(maxsize=1)(lambda: _weeks_of_periods(None))


def disrupted_weeks(config: dict | None = None) -> frozenset[date]:
    """Mondays of the weeks that overlap a period of the COVID-19 calendar (metrics.calendar.covid_periods:
    lockdowns and easing, 23 Mar 2020 – 18 Jul 2021 by default; `config` as covid_periods takes it). These
    weeks are left out of every weekly baseline."""
    return _DEFAULT_DISRUPTED() if config is None else _weeks_of_periods(config)


def seasonal_blocks(week: date, years_back: int = DEFAULT_YEARS_BACK, window_weeks: int = DEFAULT_WINDOW_WEEKS,
                    levels: int = SEASONAL_LEVELS) -> dict[date, int]:
    """{Monday: seasonal level} for the weeks of the `years_back` years before `week` (Noufaily et al. 2013):
    level 0 is the ±window_weeks around the same week of each earlier year; the weeks between one window and
    the next (or the week itself) are split into levels − 1 blocks of near-equal length, levels 1..levels−1 in
    time order (the first blocks take the remainder)."""
    references = [week] + [same_week_years_back(week, y) for y in range(1, years_back + 1)]
    blocks: dict[date, int] = {}
    for year in range(1, years_back + 1):
        reference = references[year]
        for shift in range(-window_weeks, window_weeks + 1):
            blocks[reference + timedelta(weeks=shift)] = 0
        gap_start = reference + timedelta(weeks=window_weeks + 1)
        gap_weeks = (references[year - 1] - gap_start).days // 7 - window_weeks
        if levels < 2 or gap_weeks <= 0:
            continue
        size, rest = divmod(gap_weeks, levels - 1)
        offset = 0
        for level in range(1, levels):
            length = size + (1 if level <= rest else 0)
            for k in range(offset, offset + length):
                blocks[gap_start + timedelta(weeks=k)] = level
            offset += length
    return blocks


def _as_week_series(counts_by_week: pd.Series) -> dict[date, float]:
    series = {}
    for key, value in counts_by_week.items():
        key_date = key.date() if isinstance(key, datetime) else key
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        series[key_date] = float(value)
    return series


# ---------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------
@dataclass
class _Fit:
    beta: np.ndarray
    cov_unscaled: np.ndarray
    mu: np.ndarray
    dispersion: float
    trend: bool


def _fit_quasi_poisson(y: np.ndarray, X: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Weighted Poisson log-linear fit by IRLS (prior weights `weights`); returns (beta, covariance
    (unscaled), fitted mu, dispersion φ = max(1, Σ w (y − μ)²/μ / (n − p)))."""
    beta = np.zeros(X.shape[1])
    beta[0] = math.log(max(float(np.average(y, weights=weights)), 0.5))
    for _ in range(100):
        eta = X @ beta
        mu = np.exp(eta)
        z = eta + (y - mu) / mu
        W = weights * mu
        XtW = X.T * W
        new_beta = np.linalg.solve(XtW @ X, XtW @ z)
        done = np.max(np.abs(new_beta - beta)) < 1e-10
        beta = new_beta
        if done:
            break
    mu = np.exp(X @ beta)
    cov_unscaled = np.linalg.inv((X.T * (weights * mu)) @ X)
    n, p = X.shape
    pearson = float(np.sum(weights * (y - mu) ** 2 / mu))
    dispersion = max(1.0, pearson / (n - p)) if n > p else 1.0
    return beta, cov_unscaled, mu, dispersion


def _reweighted_fit(y: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Fit, down-weight weeks whose Anscombe residual exceeds REWEIGHT_ABOVE (weight ∝ residual⁻², weights
    summing to n), refit (Farrington et al. 1996; Noufaily et al. 2013)."""
    beta, cov, mu, phi = _fit_quasi_poisson(y, X, np.ones(len(y)))
    root_w = np.sqrt(mu)[:, None]
    hat = np.clip(np.einsum("ij,jk,ik->i", X * root_w, cov, X * root_w), 0.0, 0.999)
    anscombe = 1.5 * (np.power(y, 2 / 3) * np.power(mu, -1 / 6) - np.sqrt(mu)) / np.sqrt(phi * (1 - hat))
    outlying = anscombe > REWEIGHT_ABOVE
    if not outlying.any():
        return beta, cov, mu, phi
    raw = np.where(outlying, np.power(np.where(outlying, anscombe, 1.0), -2.0), 1.0)
    return _fit_quasi_poisson(y, X, raw * len(y) / raw.sum())


def _fit_baseline(y: np.ndarray, seasonal: np.ndarray, t: np.ndarray, allow_trend: bool) -> _Fit:
    """The reweighted quasi-Poisson fit with a trend when Farrington's rules keep it, else without."""
    if allow_trend:
        X = np.column_stack([seasonal, t])
        beta, cov, mu, phi = _reweighted_fit(y, X)
        z = beta[-1] / math.sqrt(phi * cov[-1, -1])
        if 2 * stats.norm.sf(abs(z)) < 0.05 and math.exp(beta[0]) <= y.max():
            return _Fit(beta, cov, mu, phi, True)
    beta, cov, mu, phi = _reweighted_fit(y, seasonal)
    return _Fit(beta, cov, mu, phi, False)


def _seasonal_design(levels: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(design columns: intercept = the reference level 0, one indicator per other level with events; mask of
    the weeks kept). Weeks of levels with no events are dropped (their fitted mean is 0 and carries nothing
    about level 0); without events in the reference windows the model is a plain level (intercept only)."""
    keep = np.ones(len(y), dtype=bool)
    if y[levels == 0].sum() == 0:
        return np.ones((len(y), 1)), keep
    columns = [np.ones(len(y))]
    for level in sorted(set(levels.tolist()) - {0}):
        in_level = levels == level
        if y[in_level].sum() == 0:
            keep &= ~in_level
        else:
            columns.append(in_level.astype(float))
    return np.column_stack(columns)[keep], keep


def upper_threshold(mean: float, se_log_mean: float, dispersion: float, alpha: float = DEFAULT_ALPHA) -> float:
    """The (1 − alpha) quantile of a negative binomial with variance dispersion × mean (Poisson when
    dispersion is 1), at the mean's upper (1 − alpha) limit exp(log mean + z·se) (surveillance's "muan")."""
    if mean <= 0:
        return 0.0
    z = stats.norm.ppf(1 - alpha)
    mean_upper = math.exp(math.log(mean) + z * se_log_mean)
    if dispersion <= 1.0 + 1e-9:
        return float(stats.poisson.ppf(1 - alpha, mean_upper))
    return float(stats.nbinom.ppf(1 - alpha, mean_upper / (dispersion - 1), 1 / dispersion))


# ---------------------------------------------------------------------------------------------
# one week
# ---------------------------------------------------------------------------------------------
def _baseline(series: dict[date, float], week: date, blocks: dict[date, int], left_out: frozenset[date],
              recent_weeks_left_out: int) -> tuple[list[tuple[date, int]], int]:
    """([(Monday, seasonal level)] of the baseline weeks in the data, number of weeks left out as disrupted)."""
    cutoff = week - timedelta(weeks=recent_weeks_left_out)
    candidates = [(d, level) for d, level in sorted(blocks.items()) if d in series and d < cutoff]
    kept = [(d, level) for d, level in candidates if d not in left_out]
    return kept, len(candidates) - len(kept)


def _plain_note(result: dict, baseline: list[tuple[date, int]], disrupted: int, min_recent_total: int) -> str:
    """What the test found and what the baseline held, in plain words."""
    observed, upper = result["observed"], result["upper_threshold"]
    if result["exceeds"]:
        verdict = "Higher than usual for this time of year."
    elif observed > upper:
        verdict = f"Above the usual range, but fewer than {min_recent_total} events in 4 weeks: too few to flag."
    else:
        verdict = "Within the usual range for this time of year."
    first, last = baseline[0][0], baseline[-1][0]
    held = f"Usual level from {len(baseline)} earlier weeks ({first:%b %Y}–{last + timedelta(days=6):%b %Y}"
    held += ", COVID-19 weeks left out)" if disrupted else ")"
    if result["trend"]:
        held += ", allowing for a " + ("rising" if result["trend_per_year"] > 0 else "falling") + " trend"
    return f"{verdict} {held}."


def _no_test(result: dict, note: str) -> dict:
    result["note"] = note
    return result


def exceedance(
    counts_by_week: pd.Series,
    week: date,
    years_back: int = DEFAULT_YEARS_BACK,
    window_weeks: int = DEFAULT_WINDOW_WEEKS,
    alpha: float = DEFAULT_ALPHA,
    min_baseline_weeks: int = MIN_BASELINE_WEEKS,
    min_recent_total: int = MIN_RECENT_TOTAL,
    *,
    seasonal_levels: int = SEASONAL_LEVELS,
    recent_weeks_left_out: int = RECENT_WEEKS_LEFT_OUT,
    left_out_weeks: frozenset[date] | None = None,
    min_trend_years: float = MIN_TREND_YEARS,
) -> dict:
    """Improved-Farrington test of one week of a weekly count series (see the module docstring).

    counts_by_week: counts indexed by week_start (Monday dates); weeks outside the data are absent.
    left_out_weeks: weeks never used in a baseline (default: disrupted_weeks()). Returns observed, expected,
    upper_threshold, exceeds (bool, or None when there are fewer than `min_baseline_weeks` comparable weeks or
    the week is missing), same_week_last_year, same_week_mean_previous_years, last_4_weeks_mean,
    baseline_weeks, weeks_left_out, baseline_from, baseline_until, dispersion, trend, trend_per_year (relative
    change a year), note (plain words), method.
    """
    if isinstance(week, datetime):  # also pandas Timestamp
        week = week.date()
    if week.weekday() != 0:
        raise ValueError(f"week {week} is not a Monday")
    series = _as_week_series(counts_by_week)
    observed = series.get(week)
    previous_4 = [series.get(week - timedelta(weeks=k)) for k in range(1, 5)]
    recent = [v for v in previous_4 if v is not None]
    same_weeks = [series.get(same_week_years_back(week, y)) for y in range(1, years_back + 1)]
    same_present = [v for v in same_weeks if v is not None]
    result = {
        "observed": observed, "same_week_last_year": same_weeks[0] if same_weeks else None,
        "same_week_mean_previous_years": float(np.mean(same_present)) if same_present else None,
        "last_4_weeks_mean": float(np.mean(recent)) if len(recent) == 4 else None,
        "expected": None, "upper_threshold": None, "exceeds": None, "baseline_weeks": 0, "weeks_left_out": 0,
        "baseline_from": None, "baseline_until": None, "dispersion": None, "trend": None, "trend_per_year": None,
        "note": "", "method": method_text(years_back, window_weeks, alpha),
    }
    if observed is None:
        return _no_test(result, "No data for this week.")
    left_out = disrupted_weeks() if left_out_weeks is None else frozenset(left_out_weeks)
    blocks = seasonal_blocks(week, years_back, window_weeks, seasonal_levels)
    baseline, disrupted = _baseline(series, week, blocks, left_out, recent_weeks_left_out)
    comparable = sum(1 for _, level in baseline if level == 0)
    result.update(baseline_weeks=len(baseline), weeks_left_out=disrupted)
    if comparable < min_baseline_weeks:
        return _no_test(result, f"Only {comparable} comparable week(s) at this time of year in earlier years "
                                f"(need {min_baseline_weeks}): no test.")
    y = np.array([series[d] for d, _ in baseline])
    levels = np.array([level for _, level in baseline])
    t = np.array([(d - week).days / 365.25 for d, _ in baseline])
    result.update(baseline_from=baseline[0][0], baseline_until=baseline[-1][0])
    if y.sum() == 0:
        expected, upper, phi, fit = 0.0, 0.0, 1.0, None
    else:
        seasonal, keep = _seasonal_design(levels, y)
        y, t = y[keep], t[keep]
        span_years = (max(t) - min(t)) if len(t) else 0.0
        fit = _fit_baseline(y, seasonal, t, allow_trend=span_years >= min_trend_years)
        expected, phi = math.exp(fit.beta[0]), fit.dispersion
        upper = upper_threshold(expected, math.sqrt(phi * fit.cov_unscaled[0, 0]), phi, alpha)
    recent_total = observed + sum(v for v in previous_4[:3] if v is not None)
    result.update(
        expected=float(expected), upper_threshold=float(upper), dispersion=float(phi),
        exceeds=bool(observed > upper and recent_total >= min_recent_total),
        trend=bool(fit.trend) if fit else False,
        trend_per_year=float(math.expm1(fit.beta[-1])) if fit and fit.trend else None,
    )
    result["note"] = _plain_note(result, baseline, disrupted, min_recent_total)
    return result


def method_text(years_back: int = DEFAULT_YEARS_BACK, window_weeks: int = DEFAULT_WINDOW_WEEKS,
                alpha: float = DEFAULT_ALPHA) -> str:
    """The method in one sentence (for captions and exports)."""
    return (
        f"Improved Farrington (Noufaily et al. 2013): quasi-Poisson model of up to {years_back} earlier years of "
        f"weeks with a 10-level seasonal factor (same week ±{window_weeks} weeks as reference), a trend where "
        f"significant, past spikes down-weighted, the latest {RECENT_WEEKS_LEFT_OUT} weeks and the COVID-19 "
        f"calendar left out; flagged above the one-sided {100 * (1 - alpha):g}% negative-binomial threshold with "
        f"at least {MIN_RECENT_TOTAL} events in 4 weeks."
    )
