"""Weekly figures for the senior officer: the latest complete week (Monday–Sunday) of each dated measure
against the same week in earlier years and the last 4 weeks, with a Farrington-style exceedance flag.

`exceedance(counts_by_week, week)` — the statistics for one week of one weekly series:
  * baseline: the weeks within ±`window_weeks` of the same week in each of the `years_back` previous
    years (the "same week" y years back is the Monday nearest the same calendar date y years earlier),
    only weeks present in the series (weeks outside the loaded data are absent, not zero);
  * model: a quasi-Poisson log-linear fit to the baseline counts, with a linear time trend kept only when
    there are at least 3 years of baseline, the trend is significant (Wald p < 0.05 with the
    over-dispersion) and the trend's prediction does not exceed every baseline count (Farrington et al.
    1996); over-dispersion φ = max(1, Pearson χ² / (n − p));
  * earlier outbreaks are down-weighted: baseline weeks whose Anscombe residual exceeds 1 get weight
    ∝ residual⁻² and the model is refitted once (Farrington et al. 1996; Noufaily et al. 2013);
  * upper threshold: the one-sided (1 − alpha) limit from the 2/3-power transformation
    U = (μ₀^(2/3) + z·√(4/9 · μ₀^(1/3) · τ))^(3/2), τ = φ + Var(μ̂₀)/μ₀;
  * flag: observed > U and at least `min_recent_total` events in this week and the 3 before (so a handful
    of rare events cannot raise a flag).
  Only rises are flagged (the threshold is an upper one). It needs at least `min_baseline_weeks` baseline weeks; with fewer, `exceeds` is None and the note says why.

`weekly_table(con, week=None, force_id=None)` — one row per measure of the dated sources (the measures of
`metrics.registry` with a weekly count: force extract: all, domestic abuse, hate crime, child victim,
violence and sexual offences; stop and search: searches, arrests; STATS19: collisions, KSI collisions) for
one week. Columns: priority, measure, source, week_start,
week_end, observed, same_week_last_year, same_week_mean_previous_years, last_4_weeks_mean, expected,
upper_threshold, exceeds, note. Counts are events per week (incidents by recorded date, searches by
date in UK local time, collisions by date). The default week is the latest complete Monday–Sunday week
of the loaded data (across the three sources); a source whose data does not cover that week shows
empty figures and says so.

CLI: `python -m metrics weekly --db PATH [--week YYYY-MM-DD] [--force essex] [--format table|csv|json]`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from scipy import stats

from metrics.registry import WEEKLY_MEASURES  # the dated measures and their SQL conditions (fixed text)

DEFAULT_YEARS_BACK = 5
DEFAULT_WINDOW_WEEKS = 3
DEFAULT_ALPHA = 0.01
MIN_BASELINE_WEEKS = 6
MIN_RECENT_TOTAL = 5
FLAG_MEANING = (
    "Flagged means this week's count is above the upper threshold: a count that high would come less than "
    f"{DEFAULT_ALPHA:.0%} of the time if the week were like the same weeks of earlier years (and at least "
    f"{MIN_RECENT_TOTAL} events in the last 4 weeks), so it is an unusual rise, not noise. Only rises are flagged."
)

TABLE_COLUMNS = [
    "priority", "measure", "source", "week_start", "week_end", "observed", "same_week_last_year",
    "same_week_mean_previous_years", "last_4_weeks_mean", "expected", "upper_threshold", "exceeds", "note",
]


# ---------------------------------------------------------------------------------------------
# the statistics for one series
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


def _as_week_series(counts_by_week: pd.Series) -> dict[date, float]:
    series = {}
    for key, value in counts_by_week.items():
        key_date = key.date() if isinstance(key, datetime) else key
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        series[key_date] = float(value)
    return series


@dataclass
class _Fit:
    expected: float
    var_expected: float
    dispersion: float
    trend: bool


def _fit_quasi_poisson(y: np.ndarray, t: np.ndarray, weights: np.ndarray, trend: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Weighted Poisson log-linear fit by IRLS; returns (beta, covariance (unscaled), fitted mu, dispersion)."""
    X = _design(t, trend)
    mu = np.full(len(y), max(y.mean(), 0.5))
    beta = np.zeros(X.shape[1])
    beta[0] = math.log(mu[0])
    for _ in range(100):
        eta = X @ beta
        mu = np.exp(eta)
        z = eta + (y - mu) / mu
        W = weights * mu
        XtW = X.T * W
        new_beta = np.linalg.solve(XtW @ X, XtW @ z)
        if np.max(np.abs(new_beta - beta)) < 1e-10:
            beta = new_beta
            break
        beta = new_beta
    mu = np.exp(X @ beta)
    W = weights * mu
    cov_unscaled = np.linalg.inv((X.T * W) @ X)
    n, p = X.shape
    pearson = float(np.sum(weights * (y - mu) ** 2 / mu))
    dispersion = max(1.0, pearson / (n - p)) if n > p else 1.0
    return beta, cov_unscaled, mu, dispersion


def _design(t: np.ndarray, trend: bool) -> np.ndarray:
    return np.column_stack([np.ones_like(t), t]) if trend else np.ones((len(t), 1))


def _fit_with_trend_rule(y: np.ndarray, t: np.ndarray, weights: np.ndarray, allow_trend: bool):
    """Fit with a trend when allowed and it passes Farrington's rules, else without one.
    Returns (beta, unscaled covariance, fitted mu, dispersion, trend kept)."""
    if allow_trend:
        beta, cov, mu, phi = _fit_quasi_poisson(y, t, weights, True)
        z = beta[1] / math.sqrt(phi * cov[1, 1])
        if 2 * stats.norm.sf(abs(z)) < 0.05 and math.exp(beta[0]) <= y.max():
            return beta, cov, mu, phi, True
    beta, cov, mu, phi = _fit_quasi_poisson(y, t, weights, False)
    return beta, cov, mu, phi, False


def _farrington_fit(y: np.ndarray, t: np.ndarray, allow_trend: bool) -> _Fit:
    """Fit, down-weight earlier outbreaks by their Anscombe residuals, refit; predict the week (t = 0)."""
    weights = np.ones(len(y))
    beta, cov, mu, phi, trend = _fit_with_trend_rule(y, t, weights, allow_trend)
    X = _design(t, trend)
    sqrt_w = np.sqrt(weights * mu)[:, None]
    hat = np.clip(np.einsum("ij,jk,ik->i", X * sqrt_w, cov, X * sqrt_w), 0.0, 0.99)
    anscombe = 1.5 * (np.power(y, 2 / 3) * np.power(mu, -1 / 6) - np.sqrt(mu)) / np.sqrt(phi * (1 - hat))
    raw = np.where(anscombe > 1, np.power(np.maximum(anscombe, 1.0), -2.0), 1.0)
    weights = raw * len(y) / raw.sum()
    beta, cov, mu, phi, trend = _fit_with_trend_rule(y, t, weights, trend)
    expected = float(math.exp(beta[0]))  # the week itself is t = 0
    var_expected = expected**2 * phi * float(cov[0, 0])
    return _Fit(expected=expected, var_expected=var_expected, dispersion=phi, trend=trend)


def exceedance(
    counts_by_week: pd.Series,
    week: date,
    years_back: int = DEFAULT_YEARS_BACK,
    window_weeks: int = DEFAULT_WINDOW_WEEKS,
    alpha: float = DEFAULT_ALPHA,
    min_baseline_weeks: int = MIN_BASELINE_WEEKS,
    min_recent_total: int = MIN_RECENT_TOTAL,
) -> dict:
    """Farrington-style test of one week of a weekly count series (see the module docstring).

    counts_by_week: counts indexed by week_start (Monday dates); weeks outside the data are absent.
    Returns observed, expected, upper_threshold, exceeds (bool, or None when the baseline is too short or
    the week is missing), same_week_last_year, same_week_mean_previous_years, last_4_weeks_mean,
    baseline_weeks, dispersion, trend, note (what the baseline held, or why there is no test), method.
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
    baseline_t, baseline_y = [], []
    for years in range(1, years_back + 1):
        centre = same_week_years_back(week, years)
        for shift in range(-window_weeks, window_weeks + 1):
            candidate = centre + timedelta(weeks=shift)
            if candidate in series:
                baseline_t.append((candidate - week).days / 365.25)
                baseline_y.append(series[candidate])
    result = {
        "observed": observed,
        "same_week_last_year": same_weeks[0] if same_weeks else None,
        "same_week_mean_previous_years": float(np.mean(same_present)) if same_present else None,
        "last_4_weeks_mean": float(np.mean(recent)) if len(recent) == 4 else None,
        "expected": None,
        "upper_threshold": None,
        "exceeds": None,
        "baseline_weeks": len(baseline_y),
        "dispersion": None,
        "trend": None,
        "note": "",
        "method": (
            f"Farrington-style: quasi-Poisson fit to the same week ±{window_weeks} weeks in up to {years_back} earlier "
            f"years (trend if significant; earlier outbreaks down-weighted); one-sided {100 * (1 - alpha):g}% upper "
            "threshold by the 2/3-power transformation"
        ),
    }
    if observed is None:
        result["note"] = "no data for this week"
        return result
    if len(baseline_y) < min_baseline_weeks:
        result["note"] = (
            f"only {len(baseline_y)} comparable week(s) in earlier years (need {min_baseline_weeks}); no exceedance test"
        )
        return result
    y = np.asarray(baseline_y, dtype=float)
    t = np.asarray(baseline_t, dtype=float)
    z = stats.norm.ppf(1 - alpha)
    years_covered = len({round(-tt) for tt in t})
    if y.sum() == 0:
        expected, upper, phi, trend = 0.0, 0.0, 1.0, False
    else:
        fit = _farrington_fit(y, t, allow_trend=years_covered >= 3)
        expected, phi, trend = fit.expected, fit.dispersion, fit.trend
        tau = phi + fit.var_expected / expected
        upper = (expected ** (2 / 3) + z * math.sqrt(4 / 9 * expected ** (1 / 3) * tau)) ** 1.5
    recent_total = observed + sum(v for v in previous_4[:3] if v is not None)
    exceeds = bool(observed > upper and recent_total >= min_recent_total)
    result.update(
        expected=float(expected),
        upper_threshold=float(upper),
        exceeds=exceeds,
        dispersion=float(phi),
        trend=bool(trend),
        note=(
            f"baseline {len(y)} weeks from {years_covered} earlier year(s)"
            + ("; linear trend" if trend else "")
            + (f"; over-dispersion {phi:.2f}" if phi > 1 else "")
            + (f"; above the threshold but fewer than {min_recent_total} events in 4 weeks" if observed > upper and not exceeds else "")
        ),
    )
    return result


# ---------------------------------------------------------------------------------------------
# the table over the warehouse's dated sources
# ---------------------------------------------------------------------------------------------
# source -> (label, event date expression, first and last day the data cover) — fixed SQL, never user input
SOURCES: dict[str, tuple[str, str, str, str]] = {
    "incidents": ("force extract", "cast(recorded_at as date)", "min(cast(recorded_at as date))",
                  "max(cast(recorded_at as date))"),
    # stop and search is published by month: the data cover their months from the first to the last day
    "stop_search": ("stop and search", "cast(timezone('Europe/London', occurred_at) as date)", "min(month)",
                    "max(last_day(month))"),
    "collisions": ("STATS19", "collision_date", "min(collision_date)", "max(collision_date)"),
}


def _source_weeks(con, source: str, force_id: str | None) -> tuple[pd.DataFrame, date | None, date | None]:
    """(counts per measure and week, first fully covered Monday, last fully covered Monday) for one source."""
    day_expr = SOURCES[source][1]
    measures = [m for m in WEEKLY_MEASURES if m.source == source]
    first_week, last_week = _source_bounds(con, source, force_id)
    if first_week is None or last_week < first_week:
        return pd.DataFrame(columns=["measure_id", "week_start", "count"]), first_week, last_week
    counts_sql = ",\n".join(f"count(*) filter (where {m.condition}) as {m.id}" for m in measures)
    frame = con.execute(
        f"""
        with

        source_rows as (
            select *, {day_expr} as event_date from {source} where (?::varchar is null or force_id = ?)
        ),

        weekly as (
            select
                cast(date_trunc('week', event_date) as date) as week_start,
                {counts_sql}
            from source_rows
            where event_date between ? and ?
            group by 1
        ),

        final as (
            unpivot weekly on {', '.join(m.id for m in measures)} into name measure_id value count
        )

        select * from final
        """,
        [force_id, force_id, first_week, last_week + timedelta(days=6)],
    ).df()
    return frame, first_week, last_week


def latest_complete_week(con, force_id: str | None = None) -> date | None:
    """The latest Monday whose whole week (to Sunday) is covered by the loaded dated data (any source)."""
    latest = None
    for source in SOURCES:
        first_week, last_week = _source_bounds(con, source, force_id)
        if last_week is not None and first_week is not None and last_week >= first_week:
            latest = last_week if latest is None else max(latest, last_week)
    return latest


def _source_bounds(con, source: str, force_id: str | None) -> tuple[date | None, date | None]:
    """(first, last) Monday of the weeks the source's data cover completely; (None, None) when empty."""
    _label, _day_expr, start_expr, end_expr = SOURCES[source]
    first_day, last_day = con.execute(
        f"select {start_expr}, {end_expr} from {source} where (?::varchar is null or force_id = ?)",
        [force_id, force_id],
    ).fetchall()[0]
    if first_day is None or last_day is None:
        return None, None
    first_week = monday(first_day) if first_day.weekday() == 0 else monday(first_day) + timedelta(weeks=1)
    last_week = monday(last_day) - (timedelta(weeks=1) if last_day.weekday() != 6 else timedelta(0))
    return first_week, last_week


def weekly_table(
    con,
    week: date | None = None,
    force_id: str | None = None,
    years_back: int = DEFAULT_YEARS_BACK,
    window_weeks: int = DEFAULT_WINDOW_WEEKS,
    alpha: float = DEFAULT_ALPHA,
) -> pd.DataFrame:
    """One row per dated measure for one week (see the module docstring). `week`: any date in the week
    (default: the latest complete week of the loaded data)."""
    target = monday(week) if week is not None else latest_complete_week(con, force_id)
    rows = []
    for source in SOURCES:
        frame, first_week, last_week = _source_weeks(con, source, force_id)
        label = SOURCES[source][0]
        for measure in (m for m in WEEKLY_MEASURES if m.source == source):
            row = {"priority": measure.priority, "measure": measure.label, "source": label,
                   "week_start": target, "week_end": target + timedelta(days=6) if target else None}
            if target is None or first_week is None or last_week < first_week:
                row.update({"note": f"no {label} data loaded" if first_week is None else f"{label} data cover no complete week"})
                rows.append(row)
                continue
            chosen = frame[frame["measure_id"] == measure.id]
            counts = {pd.Timestamp(w).date(): float(c) for w, c in zip(chosen["week_start"], chosen["count"])}
            weeks = [first_week + timedelta(weeks=k) for k in range((last_week - first_week).days // 7 + 1)]
            series = pd.Series({w: counts.get(w, 0.0) for w in weeks}, dtype="float64")
            result = exceedance(series, target, years_back=years_back, window_weeks=window_weeks, alpha=alpha)
            if not (first_week <= target <= last_week):
                result["note"] = (
                    f"{label} data cover complete weeks {first_week:%d %b %Y} to {last_week + timedelta(days=6):%d %b %Y} only"
                )
            row.update({key: result[key] for key in TABLE_COLUMNS if key in result})
            rows.append(row)
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    for whole in ("observed", "same_week_last_year"):  # counts of events: whole numbers, empty where unknown
        table[whole] = pd.array([None if pd.isna(v) else int(v) for v in table[whole]], dtype="Int64")
    table["exceeds"] = table["exceeds"].astype("object").where(table["exceeds"].notna(), None)
    table.attrs["method"] = (
        f"Farrington-style: expected from the same week ±{window_weeks} weeks in up to {years_back} earlier years "
        f"(quasi-Poisson, optional linear trend, earlier outbreaks down-weighted); upper threshold one-sided "
        f"{100 * (1 - alpha):g}% (2/3-power); flagged when observed > threshold and ≥{MIN_RECENT_TOTAL} events in 4 weeks."
    )
    table.attrs["week_start"] = target
    return table


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
def _parse_week(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def register(subparsers) -> None:
    """Add `weekly` to `python -m metrics`."""
    parser = subparsers.add_parser("weekly", help="latest complete week per dated measure, with exceedance flags")
    parser.add_argument("--db", help="warehouse file (default $CRIME_MONITOR_DB or data/warehouse.duckdb)")
    parser.add_argument("--week", type=_parse_week, help="any date in the week (default: latest complete week)")
    parser.add_argument("--force", help="data.police.uk force id, e.g. essex (default: every force loaded)")
    parser.add_argument("--format", default="table", choices=["table", "csv", "json"])
    parser.set_defaults(handler=_cmd_weekly)


def _cmd_weekly(args: argparse.Namespace) -> int:
    from metrics.db import connect

    con = connect(args.db)
    try:
        table = weekly_table(con, args.week, getattr(args, "force", None))
    finally:
        con.close()
    print_table(table, args.format)
    return 0


def print_table(table: pd.DataFrame, fmt: str = "table", out=None) -> None:
    """Print the weekly table as an aligned text table, CSV or JSON."""
    out = out or sys.stdout
    if fmt == "csv":
        table.to_csv(out, index=False)
        return
    if fmt == "json":
        records = []
        for record in table.to_dict(orient="records"):
            clean = {}
            for key, value in record.items():
                if value is pd.NA or (isinstance(value, float) and math.isnan(value)):
                    value = None
                elif isinstance(value, date):
                    value = value.isoformat()
                elif hasattr(value, "item"):
                    value = value.item()
                clean[key] = value
            records.append(clean)
        json.dump({"week_start": table.attrs.get("week_start").isoformat() if table.attrs.get("week_start") else None,
                   "method": table.attrs.get("method"), "rows": records}, out, indent=2, default=str)
        out.write("\n")
        return
    start = table.attrs.get("week_start")
    heading = f"Week {start:%a %d %b %Y} to {start + timedelta(days=6):%a %d %b %Y}" if start else "No complete week of dated data loaded"
    shown = table.drop(columns=["week_start", "week_end"]).copy()
    shown["exceeds"] = shown["exceeds"].map({True: "YES", False: "no"}).fillna("–")
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 250,
                           "display.max_colwidth", 70, "display.float_format", lambda v: f"{v:.1f}"):
        out.write(heading + "\n\n" + shown.to_string(index=False, na_rep="–") + "\n\n" + table.attrs.get("method", "") + "\n")
