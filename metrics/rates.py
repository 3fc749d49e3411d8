"""Rates per 1,000 residents (2011 Census usual residents) for districts and forces, and funnel-plot limits
that allow for overdispersion.

Rates are per 1,000 residents for the whole period asked for (rate_per_1000), plus an annualised rate
(rate_per_1000_per_year = rate_per_1000 × 12 / months). A district's crimes are the rows whose LSOA
belongs to the force and district in the `lsoa` lookup (rows without an LSOA, or in another force's
LSOAs, are not in any district); its residents are the sum over those LSOAs.

Funnel limits (Spiegelhalter 2005, "Handling over-dispersion of performance indicators", Qual Saf Health Care
14:347–351): around the force's overall rate θ, each district's expected count is E = θ × residents. On the
square-root scale y = √(O/E) (target 1, standard error s = 1/(2√E)) the z-scores z = 2(√O − √E) are
Winsorised at their 10th and 90th percentiles (so a genuine outlier cannot widen everyone's limits) and
φ = mean(z²) / 0.679 (0.679 = E[z²] of Winsorised standard normal scores: without it φ, and so τ, is
biased low and the limits flag about twice the nominal share). When I·φ exceeds the 95% point of χ² on I − 1
degrees of freedom the districts vary more than chance allows (overdispersion) and an additive random effect
τ² = (I·φ − (I − 1)) / (Σw − Σw²/Σw), w = 1/s², widens every limit: 1 ± z_α·√(s² + τ²) on the √(O/E) scale,
squared back to rates. Without overdispersion the limits are exact Poisson quantiles (95%: 2.5% and 97.5%;
99.8%: 0.1% and 99.9%). `outside` / `outside_998` flag districts beyond the 99.8% limits ('above' | 'below'),
`outside_95` beyond the 95% limits; `limits` says which limits they are.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from etl.sources.common import force_name_for
from metrics.filters import Filters, add_months, month_start, months_between
from metrics.series import family_spec, range_clause

WINSOR_FRACTION = 0.10
_CUT = float(stats.norm.ppf(1 - WINSOR_FRACTION))
# E[z²] of standard normal z-scores Winsorised at their 10th and 90th percentiles (≈ 0.679): dividing the
# Winsorised mean of z² by it makes φ unbiased when no unit is a genuine outlier (calibration measured by
# simulation; see docs/STATISTICS.md, "Rates and funnel plots")
WINSOR_CONSISTENCY = float((1 - 2 * WINSOR_FRACTION) - 2 * _CUT * stats.norm.pdf(_CUT) + 2 * WINSOR_FRACTION * _CUT**2)
LIMIT_LEVELS = (("95", 0.025, 0.975), ("998", 0.001, 0.999))
POISSON_LIMITS = "Poisson (exact quantiles; no overdispersion detected)"
MIN_UNITS_FOR_OVERDISPERSION = 5


@dataclass(frozen=True)
class Overdispersion:
    """Spiegelhalter's (2005) overdispersion estimate for I units on the √(O/E) scale.

    pearson_dispersion: Pearson χ² / (I − 1) around the overall rate (no Winsorising; 1 when counts are Poisson).
    phi: mean of the Winsorised squared z-scores over WINSOR_CONSISTENCY. tau: the additive random-effect SD on the √(O/E) scale
    (0 when not overdispersed; τ ≈ the relative SD of the units' true rates)."""

    units: int
    pearson_dispersion: float
    phi: float
    tau: float
    overdispersed: bool

    @property
    def limits(self) -> str:
        """Which limits apply, in words."""
        if not self.overdispersed:
            if self.units < MIN_UNITS_FOR_OVERDISPERSION:
                return f"Poisson (exact quantiles; too few units ({self.units}) to estimate overdispersion)"
            return POISSON_LIMITS
        return (f"overdispersed: additive random effect τ = {self.tau:.3f} on the √(O/E) scale (the units' true rates "
                f"differ by about {200 * self.tau:.0f}% (one SD) beyond chance), Spiegelhalter (2005); Pearson χ²/df = "
                f"{self.pearson_dispersion:,.1f}")


def overdispersion(counts: Sequence[float], expected: Sequence[float]) -> Overdispersion:
    """Spiegelhalter's (2005) Winsorised estimate of overdispersion and the additive random effect τ for
    observed counts against expected counts (see the module docstring). Units with expected ≤ 0 are ignored."""
    observed = np.asarray(counts, dtype="float64")
    wanted = np.asarray(expected, dtype="float64")
    keep = wanted > 0
    observed, wanted = observed[keep], wanted[keep]
    units = len(observed)
    if units < 2:
        return Overdispersion(units, math.nan, math.nan, 0.0, False)
    pearson = float(np.sum((observed - wanted) ** 2 / wanted) / (units - 1))
    z = 2 * (np.sqrt(observed) - np.sqrt(wanted))
    low, high = np.percentile(z, [100 * WINSOR_FRACTION, 100 * (1 - WINSOR_FRACTION)])
    phi = float(np.mean(np.clip(z, low, high) ** 2)) / WINSOR_CONSISTENCY
    if units < MIN_UNITS_FOR_OVERDISPERSION or units * phi <= stats.chi2.ppf(0.95, units - 1):
        return Overdispersion(units, pearson, phi, 0.0, False)
    weights = 4 * wanted  # 1 / s², s = 1 / (2√E)
    tau2 = (units * phi - (units - 1)) / (weights.sum() - np.sum(weights**2) / weights.sum())
    return Overdispersion(units, pearson, phi, float(math.sqrt(max(tau2, 0.0))), True)


def _count_limits(expected: np.ndarray, probability: float, tau: float) -> np.ndarray:
    """Count limits at `probability` for expected counts: exact Poisson quantiles (tau 0) or the random-effects
    limits E·(1 + z·√(1/(4E) + τ²))² on the √(O/E) scale (clipped at 0 below)."""
    if tau <= 0:
        return stats.poisson.ppf(probability, expected)
    with np.errstate(divide="ignore"):
        root = 1 + stats.norm.ppf(probability) * np.sqrt(1 / (4 * expected) + tau**2)
    return expected * np.clip(root, 0, None) ** 2


def funnel_limits(
    overall_rate_per_1000: float, populations: Sequence[float], period_months: int = 12, tau: float = 0.0,
) -> pd.DataFrame:
    """Funnel curve points: population, expected count, and rate limits (per 1,000 for the period)
    lower_95, upper_95, lower_998, upper_998 at each population; `tau` is district_rates' attrs['tau'] (0:
    exact Poisson limits). period_months is carried for labels; attrs['limits'] says which limits they are."""
    population = np.asarray(sorted(float(p) for p in populations if p and p > 0))
    expected = overall_rate_per_1000 / 1000 * population
    frame = pd.DataFrame({"population": population, "expected_count": expected})
    for level, low, high in LIMIT_LEVELS:
        frame[f"lower_{level}"] = _count_limits(expected, low, tau) / population * 1000
        frame[f"upper_{level}"] = _count_limits(expected, high, tau) / population * 1000
    frame["rate_per_1000"] = overall_rate_per_1000
    frame.attrs = {"period_months": period_months, "tau": tau,
                   "limits": POISSON_LIMITS if tau <= 0 else f"additive random effect τ = {tau:.3f}, Spiegelhalter (2005)"}
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
    which = district_frame.attrs.get("limits", limits.attrs["limits"])
    limits.attrs["limits"] = f"95% and 99.8% limits around the force's rate per 1,000 residents: {which}."
    return limits


def _resolve_force(con: duckdb.DuckDBPyConnection, filters: Filters | None, table: str = "crimes") -> str:
    if filters is not None and filters.force_id:
        return filters.force_id
    rows = con.execute(f"select distinct force_id from {table} where force_id is not null").fetchall()
    if len(rows) == 1:
        return rows[0][0]
    raise ValueError("district rates need one force: set Filters(force_id=...)")


def _district_counts(con: duckdb.DuckDBPyConnection, spec, force_id: str, categories: tuple[str, ...],
                     start: date, end: date) -> pd.DataFrame:
    """[district, count, residents] for every district of the force (counts of rows in its LSOAs)."""
    where, params = Filters(force_id=force_id, categories=categories).where(
        force_column="rows.force_id", district_column=None, category_column=f"rows.{spec.category_column}"
    )
    in_range, range_params = range_clause(spec, start, end)
    in_range = in_range.replace(spec.month_column, f"rows.{spec.month_column}")
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
        )
        select * from final order by district
    """
    return con.execute(sql, [force_id, *params, *range_params]).df()


def _outside(count: pd.Series, lower: np.ndarray, upper: np.ndarray) -> pd.Series:
    """'above' | 'below' | None per unit (object dtype, so None stays None)."""
    flags = ["above" if c > u else ("below" if c < lo else None) for c, lo, u in zip(count, lower, upper)]
    return pd.Series(flags, index=count.index, dtype="object")


def district_rates(
    con: duckdb.DuckDBPyConnection,
    family: str = "crimes",
    start: date | None = None,
    end: date | None = None,
    filters: Filters | None = None,
) -> pd.DataFrame:
    """Per district of the force: count in start..end (inclusive months), residents, rate_per_1000 (for the
    period), rate_per_1000_per_year, expected_count (at the force rate), z_score (on the √(O/E) scale, allowing
    for τ), funnel limits lower/upper_95 and _998 (rates per 1,000), outside / outside_998 and outside_95
    ('above' | 'below' | None) and `limits` (which limits, in words). The force rate and the overdispersion are
    estimated over all the force's districts; a district filter then keeps only the chosen rows.
    attrs: force_id, months, overall_rate_per_1000, tau, phi, pearson_dispersion, overdispersed, limits, note.
    Families with LSOA codes: crimes, incidents, outcomes."""
    if family not in ("crimes", "incidents", "outcomes"):
        raise ValueError(f"district rates need LSOA codes: crimes, incidents or outcomes, not {family!r}")
    if start is None or end is None:
        raise ValueError("district_rates needs start and end months")
    spec = family_spec(family)
    force_id = _resolve_force(con, filters, spec.source)
    base = filters or Filters()
    frame = _district_counts(con, spec, force_id, base.categories, start, end)
    if frame.empty:
        raise ValueError(f"no LSOAs with residents for force {force_id!r}: load the ONS lookup and census files")
    months = months_between(month_start(start), month_start(end))
    frame["count"] = frame["count"].astype("int64")
    frame["residents"] = frame["residents"].astype("int64")
    frame["rate_per_1000"] = frame["count"] / frame["residents"] * 1000
    frame["rate_per_1000_per_year"] = frame["rate_per_1000"] * 12 / months
    populated = frame["residents"] > 0
    overall = frame["count"].sum() / frame["residents"].sum() * 1000
    population = frame["residents"].to_numpy(dtype="float64")
    expected = overall / 1000 * population
    spread = overdispersion(frame.loc[populated, "count"], expected[populated.to_numpy()])
    frame["expected_count"] = expected
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["z_score"] = (np.sqrt(frame["count"] / expected) - 1) / np.sqrt(1 / (4 * expected) + spread.tau**2)
        for level, low, high in LIMIT_LEVELS:
            lower, upper = _count_limits(expected, low, spread.tau), _count_limits(expected, high, spread.tau)
            frame[f"lower_{level}"] = lower / population * 1000
            frame[f"upper_{level}"] = upper / population * 1000
            frame[f"outside_{level}"] = _outside(frame["count"], lower, upper)
    frame["outside"] = frame["outside_998"]
    frame["limits"] = spread.limits
    if base.districts:
        frame = frame[frame["district"].isin(base.districts)].reset_index(drop=True)
    frame.attrs = {
        "force_id": force_id, "months": months, "overall_rate_per_1000": overall, "tau": spread.tau,
        "phi": spread.phi, "pearson_dispersion": spread.pearson_dispersion, "overdispersed": spread.overdispersed,
        "limits": spread.limits,
        "note": f"Rates per 1,000 residents (2011 Census) for the {months} months {start:%Y-%m}..{end:%Y-%m};"
                f" funnel limits at 95% and 99.8% around the force rate: {spread.limits}.",
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


# ---------------------------------------------------------------------------------------------
# command line: python -m metrics rates
# ---------------------------------------------------------------------------------------------
RATES_CLI_COLUMNS = [
    "district", "count", "residents", "rate_per_1000", "lower_95", "upper_95", "lower_998", "upper_998",
    "outside_95", "outside_998", "limits",
]


def register(subparsers) -> None:
    """Add `rates` to `python -m metrics`."""
    from metrics.__main__ import parse_period

    parser = subparsers.add_parser("rates", help="rates per 1,000 residents by district, with funnel limits "
                                                 "allowing for overdispersion")
    parser.add_argument("--db", help="warehouse file (default $CRIME_MONITOR_DB or data/warehouse.duckdb)")
    parser.add_argument("--by", default="district", choices=["district"], help="unit of the rates (district)")
    parser.add_argument("--source", default="crimes", choices=["crimes", "incidents", "outcomes"],
                        help="family of data with LSOA codes (default crimes)")
    parser.add_argument("--period", type=parse_period,
                        help="months YYYY-MM:YYYY-MM (default: the latest 12 months loaded)")
    parser.add_argument("--force", help="data.police.uk force id, e.g. essex (default: the one force loaded)")
    parser.add_argument("--district", action="append", help="keep only this district (repeatable)")
    parser.add_argument("--category", action="append", help="keep only this crime type (repeatable)")
    parser.add_argument("--format", default="table", choices=["table", "csv", "json"])
    parser.set_defaults(handler=_cmd_rates)


def _cmd_rates(args: argparse.Namespace) -> int:
    from metrics.__main__ import emit
    from metrics.db import connect
    from metrics.series import data_range

    filters = Filters(force_id=args.force, districts=tuple(args.district or ()), categories=tuple(args.category or ()))
    con = connect(args.db)
    try:
        period = args.period
        if period is None:
            first, last = data_range(con, args.source, Filters(force_id=args.force))
            if first is None:
                raise ValueError(f"no {args.source} rows loaded{' for ' + args.force if args.force else ''}")
            period = (max(month_start(first), add_months(month_start(last), -11)), month_start(last))
        frame = district_rates(con, args.source, period[0], period[1], filters)
    finally:
        con.close()
    shown = frame[RATES_CLI_COLUMNS + ["rate_per_1000_per_year", "expected_count", "z_score"]]
    shown.attrs = {key: frame.attrs[key] for key in ("force_id", "months", "overall_rate_per_1000", "tau",
                                                      "pearson_dispersion", "limits", "note")}
    if args.format == "table":
        shown = shown.drop(columns=["limits"])  # the same text for every row: said once, in the note
    emit(shown, args.format)
    return 0
