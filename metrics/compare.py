"""Period comparison: counts, rates per day of exposure, exact Poisson rate ratios and Benjamini–Hochberg
q-values over an honest family of tests.

`period_change` compares two inclusive month ranges per group. Counts are aggregated in DuckDB; the
statistics run on the small per-group frame. `change_by` is the one call the views, the briefing pack and
the CLI use for "change by district" and "change by crime type".

Statistics (per group):
- exposure is the number of days in each period (Jan+Feb 2019 = 59 days, Oct–Dec 2018 = 92 days), so months
  of different lengths do not bias the comparison; pre_per_day / post_per_day are count / days and
  pre_per_month / post_per_month are the same rates per average month (365.25 / 12 = 30.44 days), for display.
- change: post_count − pre_per_day × post_days (the count above or below the baseline rate).
- pct_change: 100 × (rate_ratio − 1).
- rate_ratio: post_per_day / pre_per_day, with an exact 95% interval and a two-sided p-value from the
  conditional binomial method: given n = pre + post, post ~ Binomial(n, π) with π = RR·E_post / (RR·E_post + E_pre)
  (E = days). The interval is Clopper–Pearson's central one on π turned into RR limits; the p-value is the
  central ("doubling") exact p = min(1, 2·min(P(X ≤ x), P(X ≥ x))) under RR = 1, so p < 0.05 exactly when the
  95% interval excludes 1.
- q_value: Benjamini–Hochberg adjusted p-values across the family of tests: the rows whose every group value is
  recorded and, when grouping by district or LSOA of data.police.uk rows, lies in the force's own area (the ONS
  LSOA lookup). Rows outside the family — districts of neighbouring forces (border snap points), rows without a
  district or category — are kept, with `in_force` False, q_value NaN and a `family_note`, and are never
  corrected with the family. significant = q < alpha.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from metrics.filters import Filters, add_months, month_start, months_between
from metrics.series import (
    FamilySpec,
    _by_columns,
    family_spec,
    range_clause,
    single_counts_dataset,
)

DAYS_PER_MONTH = 365.25 / 12
RESULT_COLUMNS = [
    "pre_count", "post_count", "pre_months", "post_months", "pre_per_month", "post_per_month", "change",
    "pct_change", "rate_ratio", "ci_lower", "ci_upper", "p_value", "q_value", "significant",
    "pre_days", "post_days", "pre_per_day", "post_per_day", "in_force", "family_note",
]
# data.police.uk families whose district / LSOA come from snap points that can fall in a neighbouring force
_SNAP_POINT_FAMILIES = ("crimes", "outcomes")
OUTSIDE_FORCE_NOTE = "outside the force (a neighbouring force's area): shown apart, not in the Benjamini–Hochberg family"
BLANK_NOTE = "not recorded: shown apart, not in the Benjamini–Hochberg family"


def days_in_period(first_month: date, last_month: date) -> int:
    """Days in the inclusive month range first_month..last_month (e.g. 2019-01..2019-02 -> 59)."""
    return (add_months(month_start(last_month), 1) - month_start(first_month)).days


def seasonality_warning(pre: tuple[date, date], post: tuple[date, date]) -> str | None:
    """A warning when the two periods cover different calendar months (e.g. Oct–Dec against Jan–Feb), whose
    seasonal difference is part of the change; None when they cover the same months of the year."""
    def months_of_year(period: tuple[date, date]) -> list[int]:
        first, last = month_start(period[0]), month_start(period[1])
        return sorted(add_months(first, k).month for k in range(months_between(first, last)))

    if months_of_year(pre) == months_of_year(post):
        return None
    return (f"The periods cover different months of the year ({pre[0]:%b}–{pre[1]:%b} against {post[0]:%b}–"
            f"{post[1]:%b}): part of the change may be the usual seasonal pattern, not a real trend.")


@dataclass(frozen=True)
class RateRatio:
    """Rate ratio (post rate / pre rate) with its exact confidence interval and two-sided p-value."""

    rate_ratio: float
    ci_lower: float
    ci_upper: float
    p_value: float


def central_binomial_p(successes: float, trials: float, probability: float) -> float:
    """Two-sided exact binomial p-value by doubling the smaller tail: min(1, 2·min(P(X ≤ x), P(X ≥ x))),
    X ~ Binomial(trials, probability). It agrees with the central Clopper–Pearson interval. The tails are
    written as beta distribution functions (P(X ≥ x) = I_p(x, n − x + 1)), which also serve non-whole
    'effective' counts (quasi-Poisson: counts divided by the dispersion)."""
    n, x = float(trials), float(successes)
    upper_tail = 1.0 if x <= 0 else stats.beta.cdf(probability, x, n - x + 1)
    lower_tail = 1.0 if x >= n else stats.beta.sf(probability, x + 1, n - x)
    return float(min(1.0, 2 * min(lower_tail, upper_tail)))


def poisson_rate_ratio(
    count_post: float, exposure_post: float, count_pre: float, exposure_pre: float, alpha: float = 0.05,
    dispersion: float = 1.0,
) -> RateRatio:
    """Exact conditional (binomial) comparison of two Poisson rates: (count_post/exposure_post) / (count_pre/exposure_pre).

    Central Clopper–Pearson (1 − alpha) interval and the central exact two-sided p-value, so p < alpha exactly
    when the interval excludes 1. Zeros: both counts 0 -> NaN ratio, interval (0, inf), p = 1; pre 0 -> ratio
    inf, upper inf; post 0 -> ratio 0, lower 0. Exposures (days) must be positive.
    dispersion > 1 (quasi-Poisson: variance = dispersion × mean, e.g. casualties clustered in collisions) runs
    the same method on the effective counts count / dispersion: the ratio is unchanged, the interval wider.
    """
    if exposure_post <= 0 or exposure_pre <= 0:
        raise ValueError("exposures must be positive")
    if count_post < 0 or count_pre < 0:
        raise ValueError("counts must be non-negative")
    if dispersion < 1:
        raise ValueError("dispersion must be at least 1")
    post, pre = count_post / dispersion, count_pre / dispersion
    scale = exposure_pre / exposure_post  # RR = odds(π) × E_pre/E_post
    if post + pre == 0:
        return RateRatio(math.nan, 0.0, math.inf, 1.0)
    rate_ratio = math.inf if pre == 0 else (count_post / exposure_post) / (count_pre / exposure_pre)
    # Clopper–Pearson limits on π = P(an event falls in the post period)
    pi_lower = 0.0 if post == 0 else stats.beta.ppf(alpha / 2, post, pre + 1)
    pi_upper = 1.0 if pre == 0 else stats.beta.ppf(1 - alpha / 2, post + 1, pre)
    ci_lower = pi_lower / (1 - pi_lower) * scale
    ci_upper = math.inf if pi_upper >= 1 else pi_upper / (1 - pi_upper) * scale
    null_pi = exposure_post / (exposure_post + exposure_pre)
    p_value = central_binomial_p(post, post + pre, null_pi)
    return RateRatio(float(rate_ratio), float(ci_lower), float(ci_upper), p_value)


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini–Hochberg q-values (step-up, monotone, capped at 1). NaN p-values stay NaN and do not
    count towards the number of tests."""
    p = np.asarray(p_values, dtype="float64")
    q = np.full(p.shape, np.nan)
    valid = ~np.isnan(p)
    m = int(valid.sum())
    if m == 0:
        return q
    values = p[valid]
    order = np.argsort(values, kind="mergesort")
    ranked = values[order] * m / np.arange(1, m + 1)
    monotone = np.minimum.accumulate(ranked[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(monotone, 1.0)
    q[valid] = adjusted
    return q


def _exposures(out: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(pre, post) exposures: days when the frame carries them, else its month counts (any positive exposure)."""
    if {"pre_days", "post_days"} <= set(out.columns) and out[["pre_days", "post_days"]].notna().all().all():
        return out["pre_days"].astype("float64"), out["post_days"].astype("float64")
    return out["pre_months"].astype("float64"), out["post_months"].astype("float64")


def period_change_from_counts(frame: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """The statistics for a frame with *group columns, pre_count, post_count, pre_months, post_months and
    (preferably) pre_days, post_days — the exposures; without days the months are the exposure. An `in_force`
    column (bool) marks the Benjamini–Hochberg family (default: every row). Returns every RESULT_COLUMNS column."""
    needed = {"pre_count", "post_count", "pre_months", "post_months"}
    missing = needed - set(frame.columns)
    if missing:
        raise ValueError(f"frame lacks column(s): {', '.join(sorted(missing))}")
    groups = [c for c in frame.columns if c not in RESULT_COLUMNS]
    out = frame.copy().reset_index(drop=True)
    for column, default in (("pre_days", np.nan), ("post_days", np.nan), ("in_force", True), ("family_note", "")):
        if column not in out.columns:
            out[column] = default
    out["in_force"] = out["in_force"].fillna(False).astype(bool)
    out["pre_count"] = out["pre_count"].fillna(0).astype("int64")
    out["post_count"] = out["post_count"].fillna(0).astype("int64")
    pre_exposure, post_exposure = _exposures(out)
    per_month = DAYS_PER_MONTH if out["pre_days"].notna().all() else 1.0
    out["pre_per_day"] = out["pre_count"] / out["pre_days"]
    out["post_per_day"] = out["post_count"] / out["post_days"]
    out["pre_per_month"] = out["pre_count"] / pre_exposure * per_month
    out["post_per_month"] = out["post_count"] / post_exposure * per_month
    out["change"] = out["post_count"] - out["pre_count"] / pre_exposure * post_exposure
    undefined = RateRatio(math.nan, math.nan, math.nan, math.nan)
    ratios = [
        # a negative total (Home Office adjustments can sum below zero) has no Poisson test: NaN, left out of BH
        poisson_rate_ratio(post, post_e, pre, pre_e, alpha) if post >= 0 and pre >= 0 else undefined
        for post, post_e, pre, pre_e in zip(out["post_count"], post_exposure, out["pre_count"], pre_exposure)
    ]
    out["rate_ratio"] = [r.rate_ratio for r in ratios]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["pct_change"] = np.where(out["pre_count"] > 0, (out["rate_ratio"] - 1) * 100, np.nan)
    out["ci_lower"] = [r.ci_lower for r in ratios]
    out["ci_upper"] = [r.ci_upper for r in ratios]
    out["p_value"] = [r.p_value for r in ratios]
    out["q_value"] = benjamini_hochberg(out["p_value"].where(out["in_force"]).to_numpy(dtype="float64"))
    out["significant"] = out["q_value"] < alpha
    return out[groups + RESULT_COLUMNS]


def _period_counts(
    con: duckdb.DuckDBPyConnection,
    spec: FamilySpec,
    pairs: list[tuple[str, str]],
    pre: tuple[date, date],
    post: tuple[date, date],
    filters: Filters | None,
    value: str = "count",
    dataset: str | None = None,
) -> pd.DataFrame:
    first, last = min(pre[0], post[0]), max(pre[1], post[1])
    dataset = single_counts_dataset(con, spec, dataset, first, last, by=[c for _, c in pairs])
    where, params = spec.where(filters)
    pre_clause, pre_params = range_clause(spec, *pre)
    post_clause, post_params = range_clause(spec, *post)
    extra, extra_params = "", []
    if spec.name == "counts" and dataset:
        extra, extra_params = " and dataset = ?", [dataset]
    value_sql = spec.value_sql(value)
    group_select = "".join(f"{column} as {name}, " for name, column in pairs)
    order = "order by all" if pairs else ""
    sql = f"""
        with
        source as (
            select *, ({pre_clause}) as in_pre, ({post_clause}) as in_post
            from {spec.source}
            where {where}{extra}
        ),
        final as (
            select {group_select}
                coalesce({value_sql} filter (where in_pre), 0) as pre_count,
                coalesce({value_sql} filter (where in_post), 0) as post_count
            from source
            where in_pre or in_post
            group by all
        )
        select * from final {order}
    """
    frame = con.execute(sql, [*pre_params, *post_params, *params, *extra_params]).df()
    if not pairs and frame.empty:
        frame = pd.DataFrame({"pre_count": [0], "post_count": [0]})
    return frame


def _own_area(con: duckdb.DuckDBPyConnection, spec: FamilySpec, column: str, filters: Filters | None) -> set | None:
    """The force's own districts (column 'district') or LSOA codes ('lsoa_code') from the ONS lookup — for the
    force filtered on, else every force with rows in the family. None when the lookup holds none of them."""
    if column not in ("district", "lsoa_code"):
        raise ValueError(f"the force's own area is known by district or lsoa_code, not {column!r}")
    force_id = (filters or Filters()).force_id
    forces_sql = "select ?" if force_id else f"select distinct force_id from {spec.source}"
    rows = con.execute(
        f"select distinct {column} from lsoa where {column} is not null and force_id in ({forces_sql})",
        [force_id] if force_id else [],
    ).fetchall()
    return {row[0] for row in rows} or None


def _family_membership(
    con: duckdb.DuckDBPyConnection, spec: FamilySpec, pairs: list[tuple[str, str]], counts: pd.DataFrame,
    filters: Filters | None,
) -> tuple[pd.Series, pd.Series, str]:
    """(in_force, family_note, what the family is) for each row of the per-group counts."""
    in_family = pd.Series(True, index=counts.index)
    note = pd.Series("", index=counts.index, dtype="object")
    described = "rows"
    for name, column in pairs:
        values = counts[name]
        blank = values.isna() | values.astype("string").str.strip().eq("").fillna(True)
        note[blank & in_family] = f"{name} {BLANK_NOTE}"
        in_family &= ~blank
        if spec.name in _SNAP_POINT_FAMILIES and column in ("district", "lsoa_code"):
            own = _own_area(con, spec, column, filters)
            described = "districts of the force" if column == "district" else "LSOAs of the force"
            if own is None:
                described = f"{column} values (no ONS LSOA lookup loaded: the force's own area is unknown)"
                continue
            outside = ~values.isin(own) & in_family
            note[outside] = OUTSIDE_FORCE_NOTE
            in_family &= ~outside
        elif len(pairs) == 1:
            described = {"crime_type": "crime types", "category": "categories"}.get(name, f"{name} values")
    return in_family, note, described


def period_change(
    con: duckdb.DuckDBPyConnection,
    family: str = "crimes",
    by: list[str] | None = None,
    pre: tuple[date, date] | None = None,
    post: tuple[date, date] | None = None,
    filters: Filters | None = None,
    alpha: float = 0.05,
    *,
    value: str = "count",
    dataset: str | None = None,
) -> pd.DataFrame:
    """Compare two inclusive month ranges per group (default group: the family's category column; by=[]
    gives one total row). Groups with rows in either period are included; a zero on one side is a real
    zero. Columns: *by + RESULT_COLUMNS (see the module docstring): the force's own groups first (tested
    together), then the rows shown apart. attrs: family, pre, post, family_size, family_label, apart, note,
    seasonality_warning."""
    if pre is None or post is None:
        raise ValueError("period_change needs pre=(first month, last month) and post=(first month, last month)")
    spec = family_spec(family)
    if by is None:
        by = [spec.category_column] if spec.category_column else []
    pairs = _by_columns(spec, by)
    pre = (month_start(pre[0]), month_start(pre[1]))
    post = (month_start(post[0]), month_start(post[1]))
    for label, (first, last) in (("pre", pre), ("post", post)):
        if last < first:
            raise ValueError(f"{label} period ends ({last:%Y-%m}) before it starts ({first:%Y-%m})")
    counts = _period_counts(con, spec, pairs, pre, post, filters, value, dataset)
    counts["pre_months"], counts["post_months"] = months_between(*pre), months_between(*post)
    counts["pre_days"], counts["post_days"] = days_in_period(*pre), days_in_period(*post)
    counts["in_force"], counts["family_note"], described = _family_membership(con, spec, pairs, counts, filters)
    counts = pd.concat([counts[counts["in_force"]], counts[~counts["in_force"]]]) if len(counts) else counts
    result = period_change_from_counts(counts, alpha)
    size, apart = int(result["in_force"].sum()), int((~result["in_force"]).sum())
    apart_text = f"; {apart} other row(s) shown apart, not corrected with them" if apart else ""
    warning = seasonality_warning(pre, post)
    result.attrs = {
        "family": family, "pre": pre, "post": post, "family_size": size, "apart": apart,
        "family_label": f"the {size} {described}" if pairs else "the total",
        "seasonality_warning": warning,
        "note": (
            f"{spec.label or family}: {pre[0]:%Y-%m}..{pre[1]:%Y-%m} ({days_in_period(*pre)} days) against "
            f"{post[0]:%Y-%m}..{post[1]:%Y-%m} ({days_in_period(*post)} days); rates per day; exact Poisson rate "
            f"ratios; Benjamini–Hochberg q-values across the {size} {described if pairs else 'row'}{apart_text}."
            + (f" {warning}" if warning else "")
        ),
    }
    return result


def change_by(
    con: duckdb.DuckDBPyConnection,
    family: str,
    by: str | Sequence[str],
    periods,
    filters: Filters | None = None,
    alpha: float = 0.05,
    *,
    value: str = "count",
    dataset: str | None = None,
) -> pd.DataFrame:
    """Change between two periods by `by` ("district", "crime_type", ... or a list): the one call the views,
    the briefing pack and `python -m metrics compare` use. `periods` is a metrics.plan.Comparison (anything
    with .pre and .post) or a (pre, post) pair of month ranges. Rows of the force's own groups carry q-values
    (Benjamini–Hochberg across them only, `in_force` True); other rows follow with q NaN. See period_change."""
    pre, post = (periods.pre, periods.post) if hasattr(periods, "pre") else periods
    columns = [by] if isinstance(by, str) else list(by)
    return period_change(con, family, columns, pre, post, filters, alpha, value=value, dataset=dataset)


def apart_note(attrs: dict, unit: str) -> str:
    """In words: the rows change_by_district left out (attrs apart_rows, apart_districts, apart_blank), in `unit`."""
    parts = [f"in {attrs['apart_districts']} district(s) of neighbouring forces (locations near the border snapped "
             "to their LSOAs)" if attrs["apart_districts"] else "", "with no district recorded" if attrs["apart_blank"]
             else ""]
    where = " and ".join(p for p in parts if p)
    return f"Not shown or tested: {attrs['apart_rows']:,} {unit} of the two periods {where}."


def change_by_district(
    con: duckdb.DuckDBPyConnection,
    family: str,
    pre: tuple[date, date],
    post: tuple[date, date],
    filters: Filters | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """`change_by(..., "district", ...)` keeping the force's own districts only (the family the
    Benjamini–Hochberg control runs across); attrs["apart"] counts the rows left out (districts of neighbouring
    forces from border snap points, and a blank district); apart_rows (rows they hold in the two periods),
    apart_districts and apart_blank describe them and apart_note (also at the end of attrs["note"]) says it in
    words. Columns as period_change (district first)."""
    frame = change_by(con, family, "district", (pre, post), filters, alpha)
    attrs = dict(frame.attrs)
    in_force = frame["in_force"].astype(bool)
    own = frame[in_force].reset_index(drop=True)
    left_out = frame[~in_force]
    if len(left_out):
        blank = left_out["district"].isna()
        attrs.update(apart_rows=int(left_out["pre_count"].sum() + left_out["post_count"].sum()),
                     apart_districts=int((~blank).sum()), apart_blank=bool(blank.any()))
        attrs["apart_note"] = apart_note(attrs, "row(s)")
        attrs["note"] = attrs["note"].replace(
            f"; {attrs['apart']} other row(s) shown apart, not corrected with them", "") + " " + attrs["apart_note"]
    own.attrs = attrs
    return own
