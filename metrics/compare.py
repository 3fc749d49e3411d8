"""Period comparison: counts, rates per month, exact Poisson rate ratios and Benjamini–Hochberg q-values.

`period_change` compares two inclusive month ranges per group. Counts are aggregated in DuckDB; the
statistics run on the small per-group frame.

Statistics (per group):
- pre_per_month, post_per_month: count / months in the period (periods of unequal length compare rates).
- change: post_count − pre_per_month × post_months (= post_count − pre_count when the periods are equally long).
- pct_change: 100 × (post_per_month / pre_per_month − 1).
- rate_ratio: post_per_month / pre_per_month, with an exact 95% interval and two-sided p-value from the
  conditional binomial method: given n = pre + post, post ~ Binomial(n, π) with
  π = RR·E_post / (RR·E_post + E_pre) (E = months). Clopper–Pearson limits on π are turned into RR limits.
- q_value: Benjamini–Hochberg adjusted p-values across every row of the table; significant = q < alpha.
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

from metrics.filters import Filters, month_start, months_between
from metrics.series import (
    FamilySpec,
    _by_columns,
    family_spec,
    range_clause,
    single_counts_dataset,
)

RESULT_COLUMNS = [
    "pre_count", "post_count", "pre_months", "post_months", "pre_per_month", "post_per_month", "change",
    "pct_change", "rate_ratio", "ci_lower", "ci_upper", "p_value", "q_value", "significant",
]


@dataclass(frozen=True)
class RateRatio:
    """Rate ratio (post rate / pre rate) with its exact confidence interval and two-sided p-value."""

    rate_ratio: float
    ci_lower: float
    ci_upper: float
    p_value: float


def poisson_rate_ratio(
    count_post: int, exposure_post: float, count_pre: int, exposure_pre: float, alpha: float = 0.05
) -> RateRatio:
    """Exact conditional (binomial) comparison of two Poisson rates: (count_post/exposure_post) / (count_pre/exposure_pre).

    Zeros: both counts 0 -> NaN ratio, interval (0, inf), p = 1; pre 0 -> ratio inf, upper inf;
    post 0 -> ratio 0, lower 0. Exposures (e.g. months) must be positive.
    """
    if exposure_post <= 0 or exposure_pre <= 0:
        raise ValueError("exposures must be positive")
    if count_post < 0 or count_pre < 0:
        raise ValueError("counts must be non-negative")
    count_post, count_pre = int(count_post), int(count_pre)
    n = count_post + count_pre
    scale = exposure_pre / exposure_post  # RR = odds(π) × E_pre/E_post
    if n == 0:
        return RateRatio(math.nan, 0.0, math.inf, 1.0)
    if count_pre == 0:
        rate_ratio = math.inf
    else:
        rate_ratio = (count_post / exposure_post) / (count_pre / exposure_pre)
    # Clopper–Pearson limits on π = P(an event falls in the post period)
    pi_lower = 0.0 if count_post == 0 else stats.beta.ppf(alpha / 2, count_post, count_pre + 1)
    pi_upper = 1.0 if count_pre == 0 else stats.beta.ppf(1 - alpha / 2, count_post + 1, count_pre)
    ci_lower = pi_lower / (1 - pi_lower) * scale
    ci_upper = math.inf if pi_upper >= 1 else pi_upper / (1 - pi_upper) * scale
    null_pi = exposure_post / (exposure_post + exposure_pre)
    p_value = float(stats.binomtest(count_post, n, null_pi, alternative="two-sided").pvalue)
    return RateRatio(float(rate_ratio), float(ci_lower), float(ci_upper), min(p_value, 1.0))


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


def period_change_from_counts(frame: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """The statistics for a frame with *group columns, pre_count, post_count, pre_months, post_months
    (exposures; months, or any positive exposure). Returns the frame with every RESULT_COLUMNS column."""
    needed = {"pre_count", "post_count", "pre_months", "post_months"}
    missing = needed - set(frame.columns)
    if missing:
        raise ValueError(f"frame lacks column(s): {', '.join(sorted(missing))}")
    groups = [c for c in frame.columns if c not in RESULT_COLUMNS]
    out = frame[groups + ["pre_count", "post_count", "pre_months", "post_months"]].copy().reset_index(drop=True)
    out["pre_count"] = out["pre_count"].fillna(0).astype("int64")
    out["post_count"] = out["post_count"].fillna(0).astype("int64")
    out["pre_per_month"] = out["pre_count"] / out["pre_months"]
    out["post_per_month"] = out["post_count"] / out["post_months"]
    out["change"] = out["post_count"] - out["pre_per_month"] * out["post_months"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["pct_change"] = np.where(
            out["pre_count"] > 0, (out["post_per_month"] / out["pre_per_month"] - 1) * 100, np.nan
        )
    undefined = RateRatio(math.nan, math.nan, math.nan, math.nan)
    ratios = [
        # a negative total (Home Office adjustments can sum below zero) has no Poisson test: NaN, left out of BH
        poisson_rate_ratio(post, post_e, pre, pre_e, alpha) if post >= 0 and pre >= 0 else undefined
        for post, post_e, pre, pre_e in zip(out["post_count"], out["post_months"], out["pre_count"], out["pre_months"])
    ]
    out["rate_ratio"] = [r.rate_ratio for r in ratios]
    out["ci_lower"] = [r.ci_lower for r in ratios]
    out["ci_upper"] = [r.ci_upper for r in ratios]
    out["p_value"] = [r.p_value for r in ratios]
    out["q_value"] = benjamini_hochberg(out["p_value"].to_numpy())
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
    zero. Columns: *by + RESULT_COLUMNS (see the module docstring)."""
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
    counts["pre_months"] = months_between(*pre)
    counts["post_months"] = months_between(*post)
    result = period_change_from_counts(counts, alpha)
    result.attrs = {
        "family": family,
        "pre": pre,
        "post": post,
        "note": (
            f"{spec.label or family}: {pre[0]:%Y-%m}..{pre[1]:%Y-%m} ({months_between(*pre)} months) against "
            f"{post[0]:%Y-%m}..{post[1]:%Y-%m} ({months_between(*post)} months); rates per month; exact Poisson "
            f"rate ratios, Benjamini–Hochberg q-values across {len(result)} rows."
        ),
    }
    return result


def change_by_district(
    con: duckdb.DuckDBPyConnection,
    family: str,
    pre: tuple[date, date],
    post: tuple[date, date],
    filters: Filters | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """period_change by district over the force's own districts only (the chosen ones, or every district of
    the force): they are the family of comparisons the Benjamini–Hochberg control runs across, and the rows
    in neighbouring forces' LSOAs (about 1%) are left out. Columns as period_change (district first)."""
    from metrics.series import districts

    base = filters or Filters()
    own = base.districts or tuple(districts(con, family, base.force_id))
    frame = period_change(con, family, ["district"], pre, post, Filters(base.force_id, own, base.categories), alpha)
    frame.attrs["note"] = frame.attrs.get("note", "") + " Districts of the force only."
    return frame
