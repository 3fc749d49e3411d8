"""Rates per 1,000 residents (2011 Census usual residents) for districts and forces, and funnel-plot limits.

Rates are per 1,000 residents for the whole period asked for (rate_per_1000), plus an annualised rate
(rate_per_1000_per_year = rate_per_1000 × 12 / months). A district's crimes are the rows whose LSOA
belongs to the force and district in the `lsoa` lookup (rows without an LSOA, or in another force's
LSOAs, are not in any district); its residents are the sum over those LSOAs.

Funnel limits: around the force's overall rate, exact Poisson limits for a district's population
(95%: 2.5% and 97.5% quantiles; 99.8%: 0.1% and 99.9%), as counts turned into rates. `outside` flags
districts beyond the 99.8% limits ('above' | 'below'); `outside_95` the same for the 95% limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from etl.sources.common import force_name_for
from metrics.filters import Filters, month_start, months_between
from metrics.series import family_spec, range_clause


def _limits(expected: np.ndarray, probability: float) -> np.ndarray:
    return stats.poisson.ppf(probability, expected)


def funnel_limits(overall_rate_per_1000: float, populations: Sequence[float], period_months: int = 12) -> pd.DataFrame:
    """Funnel curve points: population, expected count, and rate limits (per 1,000 for the period)
    lower_95, upper_95, lower_998, upper_998 at each population. period_months is carried for labels."""
    population = np.asarray(sorted(float(p) for p in populations if p and p > 0))
    expected = overall_rate_per_1000 / 1000 * population
    frame = pd.DataFrame({"population": population, "expected_count": expected})
    for name, probability in (("lower_95", 0.025), ("upper_95", 0.975), ("lower_998", 0.001), ("upper_998", 0.999)):
        frame[name] = _limits(expected, probability) / population * 1000
    frame["rate_per_1000"] = overall_rate_per_1000
    frame.attrs = {"period_months": period_months}
    return frame


def funnel_curve(district_frame: pd.DataFrame, points: int = 121) -> pd.DataFrame:
    """The funnel limits of a `district_rates` frame over a grid of `points` populations from half the
    smallest district to 1.1 times the largest (for drawing the funnel), around its overall rate.
    attrs["limits"] says which limits they are."""
    populations = district_frame["residents"].astype(float)
    low, high = populations.min() * 0.5, populations.max() * 1.1
    grid = [low + i * (high - low) / (points - 1) for i in range(points)]
    months = int(district_frame.attrs.get("months", 12))
    overdispersion = {"tau": district_frame.attrs["tau"]} if "tau" in district_frame.attrs else {}
    limits = funnel_limits(district_frame.attrs["overall_rate_per_1000"], grid, months, **overdispersion)
    limits.attrs.setdefault("limits", "Exact Poisson 95% and 99.8% limits around the force's rate per 1,000 "
                                      "residents (no allowance for overdispersion between districts).")
    return limits


def _resolve_force(con: duckdb.DuckDBPyConnection, filters: Filters | None, table: str = "crimes") -> str:
    if filters is not None and filters.force_id:
        return filters.force_id
    rows = con.execute(f"select distinct force_id from {table} where force_id is not null").fetchall()
    if len(rows) == 1:
        return rows[0][0]
    raise ValueError("district rates need one force: set Filters(force_id=...)")


def district_rates(
    con: duckdb.DuckDBPyConnection,
    family: str = "crimes",
    start: date | None = None,
    end: date | None = None,
    filters: Filters | None = None,
) -> pd.DataFrame:
    """Per district of the force: count in start..end (inclusive months), residents, rate_per_1000 (for the
    period), rate_per_1000_per_year, funnel limits and `outside`. Families with LSOA codes: crimes, incidents."""
    if family not in ("crimes", "incidents", "outcomes"):
        raise ValueError(f"district rates need LSOA codes: crimes, incidents or outcomes, not {family!r}")
    if start is None or end is None:
        raise ValueError("district_rates needs start and end months")
    spec = family_spec(family)
    force_id = _resolve_force(con, filters, spec.source)
    base = filters or Filters()
    where, params = Filters(force_id=force_id, categories=base.categories).where(
        force_column="rows.force_id", district_column=None, category_column=f"rows.{spec.category_column}"
    )
    in_range, range_params = range_clause(spec, start, end)
    in_range = in_range.replace(spec.month_column, f"rows.{spec.month_column}")
    district_filter, district_params = "true", []
    if base.districts:
        district_filter, district_params = "list_contains(?, district)", [list(base.districts)]
    sql = f"""
        with
        lsoas as (
            select lsoa_code, district, coalesce(usual_residents, 0) as usual_residents
            from lsoa where force_id = ? and district is not null
        ),
        residents as (
            select district, sum(usual_residents) as residents from lsoas group by district
        ),
        counted as (
            select lsoas.district, count(*) as count
            from {spec.source} as rows
            inner join lsoas on lsoas.lsoa_code = rows.lsoa_code
            where {where} and {in_range}
            group by lsoas.district
        ),
        final as (
            select residents.district, coalesce(counted.count, 0) as count, residents.residents
            from residents left join counted using (district)
            where {district_filter}
        )
        select * from final order by district
    """
    frame = con.execute(sql, [force_id, *params, *range_params, *district_params]).df()
    if frame.empty:
        raise ValueError(f"no LSOAs with residents for force {force_id!r}: load the ONS lookup and census files")
    months = months_between(month_start(start), month_start(end))
    frame["count"] = frame["count"].astype("int64")
    frame["residents"] = frame["residents"].astype("int64")
    frame["rate_per_1000"] = frame["count"] / frame["residents"] * 1000
    frame["rate_per_1000_per_year"] = frame["rate_per_1000"] * 12 / months
    overall = frame["count"].sum() / frame["residents"].sum() * 1000
    expected = overall / 1000 * frame["residents"].to_numpy(dtype="float64")
    population = frame["residents"].to_numpy(dtype="float64")
    for name, probability in (("lower_95", 0.025), ("upper_95", 0.975), ("lower_998", 0.001), ("upper_998", 0.999)):
        frame[name] = _limits(expected, probability) / population * 1000
    frame["outside"] = np.where(frame["count"] > _limits(expected, 0.999), "above",
                                np.where(frame["count"] < _limits(expected, 0.001), "below", None))
    frame["outside_95"] = np.where(frame["count"] > _limits(expected, 0.975), "above",
                                   np.where(frame["count"] < _limits(expected, 0.025), "below", None))
    frame["outside"] = frame["outside"].astype("object").where(frame["outside"].notna(), None)
    frame["outside_95"] = frame["outside_95"].astype("object").where(frame["outside_95"].notna(), None)
    frame.attrs = {
        "force_id": force_id, "months": months, "overall_rate_per_1000": overall,
        "note": f"Rates per 1,000 residents (2011 Census) for the {months} months {start:%Y-%m}..{end:%Y-%m};"
                " funnel limits are exact Poisson 95% and 99.8% limits around the force rate.",
    }
    return frame


def force_rates(
    con: duckdb.DuckDBPyConnection,
    family: str = "crimes",
    start: date | None = None,
    end: date | None = None,
    categories: Sequence[str] = (),
    *,
    dataset: str | None = None,
) -> pd.DataFrame:
    """Every force's count in start..end, its residents (sum of its LSOAs' usual residents), rate_per_1000
    for the period and rank (1 = highest rate). family 'crimes' (data.police.uk rows) or 'counts' (e.g. the
    Home Office quarterly table; rows whose period lies inside start..end; without `dataset`, the counts
    dataset covering most forces). Forces with no residents
    loaded get a NaN rate and no rank."""
    if family not in ("crimes", "counts", "incidents"):
        raise ValueError(f"force rates are for crimes, counts or incidents, not {family!r}")
    if start is None or end is None:
        raise ValueError("force_rates needs start and end months")
    spec = family_spec(family)
    in_range, range_params = range_clause(spec, start, end)
    category_filter, category_params = "true", []
    if categories:
        category_filter, category_params = f"list_contains(?, {spec.category_column})", [list(categories)]
    dataset_filter, dataset_params = "true", []
    if family == "counts" and not dataset:
        # several datasets (London Datastore and the Home Office table both hold the Met): use the one
        # covering most forces, so no force is counted twice
        chosen = con.execute(
            f"""
            select dataset from counts where force_id is not null and {in_range}
            group by dataset order by count(distinct force_id) desc, dataset limit 1
            """,
            range_params,
        ).fetchall()
        dataset = chosen[0][0] if chosen else None
    if family == "counts" and dataset:
        dataset_filter, dataset_params = "dataset = ?", [dataset]
    value = spec.value_sql("count")
    sql = f"""
        with
        counted as (
            select force_id, {value} as count
            from {spec.source}
            where force_id is not null and {in_range} and {category_filter} and {dataset_filter}
            group by force_id
        ),
        residents as (
            select force_id, sum(usual_residents) as residents from lsoa where force_id is not null group by force_id
        ),
        final as (
            select counted.force_id, counted.count, residents.residents
            from counted left join residents using (force_id)
        )
        select * from final order by force_id
    """
    frame = con.execute(sql, [*range_params, *category_params, *dataset_params]).df()
    frame.insert(1, "force_name", [force_name_for(f) for f in frame["force_id"]])
    frame["count"] = frame["count"].astype("int64")
    frame["rate_per_1000"] = frame["count"] / frame["residents"].astype("float64") * 1000
    frame["rank"] = frame["rate_per_1000"].rank(ascending=False, method="min").astype("Int64")
    frame = frame.sort_values(["rank", "force_id"], na_position="last").reset_index(drop=True)
    months = months_between(month_start(start), month_start(end))
    source = f" from counts dataset {dataset}" if family == "counts" and dataset else ""
    frame.attrs = {"months": months, "dataset": dataset if family == "counts" else None,
                   "note": f"Rates per 1,000 residents (2011 Census) for {start:%Y-%m}..{end:%Y-%m}{source}."}
    return frame
