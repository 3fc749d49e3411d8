"""Monthly and weekly count series for every loaded family, rolling 12-month totals and year-on-year change.

Every series is aggregated in DuckDB; only the small result (months × groups) comes back to pandas.
Months are first-of-month dates; weeks start on Monday (ISO weeks, local UK time for timestamps).

Frames:
- `monthly_series` -> [month, *by, count]   (count = number of rows, or the family's value, per month)
- `weekly_series`  -> [week_start, *by, count]
- `with_rolling`   -> the frame + rolling_12_month_total, yoy_change, yoy_pct_change
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from etl.sources.common import force_name_for
from metrics.filters import Filters, add_months, month_start


@dataclass(frozen=True)
class FamilySpec:
    """How one family of data is counted. Every name here is a trusted identifier (never user input).

    source: a table name or a parenthesised sub-query (casualties take their dates from collisions).
    month_column: first-of-month DATE column. date_column: DATE/TIMESTAMP for weekly series (None: monthly only).
    category_column / district_column: what `Filters.categories` / `Filters.districts` act on.
    by_columns: the only columns a caller may group by. values: value name -> SQL aggregate.
    period_end_column: for aggregate tables whose rows cover a period (counts): a row is in a range only
    when it ends inside it.
    """

    name: str
    source: str
    month_column: str
    category_column: str | None
    district_column: str | None
    by_columns: tuple[str, ...]
    values: dict[str, str] = field(default_factory=lambda: {"count": "count(*)"})
    date_column: str | None = None
    force_column: str | None = "force_id"
    period_end_column: str | None = None
    extra_where: str = "true"
    label: str = ""

    def column_for(self, name: str) -> str:
        """The real column behind a `by` name ('category' and 'district' are aliases); ValueError if not allowed."""
        if name == "category" and self.category_column:
            return self.category_column
        if name == "district" and self.district_column:
            return self.district_column
        if name in self.by_columns:
            return name
        raise ValueError(
            f"cannot group {self.name} by {name!r}; allowed: {', '.join(sorted({*self.by_columns, 'category'}))}"
        )

    def value_sql(self, value: str) -> str:
        if value not in self.values:
            raise ValueError(f"{self.name} has no value {value!r}; allowed: {', '.join(self.values)}")
        return self.values[value]

    def where(self, filters: Filters | None) -> tuple[str, list]:
        clause, params = (filters or Filters()).where(
            force_column=self.force_column,
            district_column=self.district_column,
            category_column=self.category_column,
        )
        return f"({clause}) and ({self.extra_where})", params


_CASUALTIES_SOURCE = """(
    select casualties.*, collisions.month, collisions.collision_date, collisions.week_start,
           collisions.local_authority_district
    from casualties
    inner join collisions
        on collisions.collision_index = casualties.collision_index
       and collisions.collision_year is not distinct from casualties.collision_year
)"""

FAMILIES: dict[str, FamilySpec] = {
    "crimes": FamilySpec(
        name="crimes", source="crimes", month_column="month", category_column="crime_type",
        district_column="district",
        by_columns=("crime_type", "district", "lsoa_code", "lsoa_name", "force_id", "last_outcome_category"),
        label="crimes and ASB incidents (data.police.uk)",
    ),
    "outcomes": FamilySpec(
        name="outcomes", source="outcomes", month_column="month", category_column="outcome_type",
        district_column="district", by_columns=("outcome_type", "district", "lsoa_code", "force_id"),
        label="outcomes (data.police.uk)",
    ),
    "stop_search": FamilySpec(
        name="stop_search", source="stop_search", month_column="month", category_column="object_of_search",
        district_column=None, date_column="occurred_at",
        by_columns=("object_of_search", "outcome", "type", "gender", "age_range", "officer_defined_ethnicity",
                    "self_defined_ethnicity", "legislation", "outcome_linked_to_object_of_search", "force_id"),
        label="stops and searches",
    ),
    "counts": FamilySpec(
        name="counts", source="counts", month_column="period_start", category_column="category",
        district_column="area", period_end_column="period_end",
        by_columns=("category", "subcategory", "area", "offence_code", "force_id", "dataset"),
        values={"count": "sum(count)"},
        label="recorded crimes (aggregate counts)",
    ),
    "collisions": FamilySpec(
        name="collisions", source="collisions", month_column="month", category_column="severity",
        district_column="local_authority_district", date_column="collision_date",
        by_columns=("severity", "local_authority_district", "speed_limit", "road_type", "urban_or_rural",
                    "light_conditions", "weather_conditions", "day_of_week", "force_id"),
        label="road traffic collisions (STATS19)",
    ),
    "casualties": FamilySpec(
        name="casualties", source=_CASUALTIES_SOURCE, month_column="month", category_column="severity",
        district_column="local_authority_district", date_column="collision_date",
        by_columns=("severity", "casualty_class", "casualty_type", "road_user_type", "sex_of_casualty",
                    "age_band_of_casualty", "local_authority_district", "force_id"),
        label="road casualties (STATS19)",
    ),
    "fraud": FamilySpec(
        name="fraud", source="fraud", month_column="month", category_column="fraud_type", district_column=None,
        by_columns=("fraud_type", "force_id"),
        values={"count": "sum(reports)", "reports": "sum(reports)", "reported_loss_gbp": "sum(reported_loss_gbp)"},
        label="fraud reports (Action Fraud)",
    ),
    "incidents": FamilySpec(
        name="incidents", source="incidents", month_column="month", category_column="crime_type",
        district_column="district", date_column="recorded_at",
        by_columns=("crime_type", "offence_code", "district", "lsoa_code", "domestic_abuse", "hate_crime",
                    "child_victim", "outcome", "force_id"),
        label="recorded crimes (force extract)",
    ),
}


def family_spec(name: str) -> FamilySpec:
    """The FamilySpec of `name`; ValueError listing the families otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown family {name!r}; one of: {', '.join(FAMILIES)}") from None


def _by_columns(spec: FamilySpec, by: Sequence[str] | None) -> list[tuple[str, str]]:
    """(output name, real column) for each `by` name, checked against the whitelist."""
    pairs = [(name, spec.column_for(name)) for name in (by or [])]
    if len({name for name, _ in pairs}) != len(pairs):
        raise ValueError(f"duplicate column in by={list(by or [])}")
    return pairs


def range_clause(spec: FamilySpec, start: date, end: date) -> tuple[str, list]:
    """Rows whose month is in start..end (inclusive months); for period tables, whose period ends by `end`'s month end."""
    clause = f"{spec.month_column} between ? and ?"
    params: list = [month_start(start), month_start(end)]
    if spec.period_end_column:
        clause += f" and {spec.period_end_column} < ?"
        params.append(add_months(end, 1))
    return clause, params


def single_counts_dataset(
    con: duckdb.DuckDBPyConnection, spec: FamilySpec, dataset: str | None, start: date, end: date,
    monthly_only: bool = False, by: Sequence[str] = (),
) -> str | None:
    """For the counts family without a chosen dataset: ValueError when rows of several datasets fall in
    start..end (summing e.g. the London Datastore and the Home Office table would count crimes twice),
    unless the caller groups by dataset."""
    if spec.name != "counts" or dataset or "dataset" in by:
        return dataset
    in_range, params = range_clause(spec, start, end)
    monthly = " and period_type = 'month'" if monthly_only else ""
    names = [row[0] for row in con.execute(
        f"select distinct dataset from counts where {in_range}{monthly} order by 1", params).fetchall()]
    if len(names) > 1:
        raise ValueError(
            f"the counts table holds {len(names)} datasets for {start:%Y-%m}..{end:%Y-%m} ({', '.join(names)}): "
            "choose one (dataset=..., --dataset) so no crime is counted twice"
        )
    return dataset


def data_range(con: duckdb.DuckDBPyConnection, family: str = "crimes", filters: Filters | None = None) -> tuple[date | None, date | None]:
    """First and last month loaded for the family (under the filters' force, districts and categories)."""
    spec = family_spec(family)
    where, params = spec.where(filters)
    extra = ""
    if spec.name == "counts":
        extra = " and period_type = 'month'"
    row = con.execute(
        f"select min({spec.month_column}), max({spec.month_column}) from {spec.source} where {where}{extra}", params
    ).fetchall()[0]
    return row[0], row[1]


def monthly_series(
    con: duckdb.DuckDBPyConnection,
    family: str = "crimes",
    by: list[str] | None = None,
    filters: Filters | None = None,
    start: date | None = None,
    end: date | None = None,
    value: str = "count",
    *,
    dataset: str | None = None,
) -> pd.DataFrame:
    """Count per month (and per `by` group) for `family`, months without rows filled with 0.

    start..end: inclusive months (default: the family's loaded range under the filters). For `counts`
    only monthly rows (period_type 'month') are used; `dataset` picks one dataset of the counts table.
    The value column is named after `value` ('count' unless e.g. value='reported_loss_gbp').
    """
    spec = family_spec(family)
    pairs = _by_columns(spec, by)
    value_sql = spec.value_sql(value)
    if start is None or end is None:
        first, last = data_range(con, family, filters)
        start = start or first
        end = end or last
    columns = ["month", *[name for name, _ in pairs], value]
    if start is None or end is None:
        return pd.DataFrame({name: pd.Series(dtype="object") for name in columns})
    start, end = month_start(start), month_start(end)
    if end < start:
        raise ValueError(f"end {end:%Y-%m} is before start {start:%Y-%m}")
    dataset = single_counts_dataset(con, spec, dataset, start, end, monthly_only=True, by=[c for _, c in pairs])
    where, params = spec.where(filters)
    in_range, range_params = range_clause(spec, start, end)
    extra, extra_params = "", []
    if spec.name == "counts":
        extra = " and period_type = 'month'"
        if dataset:
            extra += " and dataset = ?"
            extra_params.append(dataset)
    group_select = "".join(f", {column} as {name}" for name, column in pairs)
    group_names = "".join(f", {name}" for name, _ in pairs)
    groups_sql = f"select distinct {group_names[2:]} from aggregated" if pairs else "select true as present"
    join_on = " and ".join(["months.month = aggregated.month"] + [f"groups.{n} is not distinct from aggregated.{n}" for n, _ in pairs])
    sql = f"""
        with
        source as (
            select * from {spec.source}
            where {where} and {in_range}{extra}
        ),
        aggregated as (
            select {spec.month_column} as month{group_select}, {value_sql} as value
            from source
            group by all
        ),
        months as (
            select cast(unnest(generate_series(cast(? as date), cast(? as date), interval 1 month)) as date) as month
        ),
        groups as (
            {groups_sql}
        ),
        final as (
            select months.month{''.join(f', groups.{n}' for n, _ in pairs)}, coalesce(aggregated.value, 0) as value
            from months
            cross join groups
            left join aggregated on {join_on}
        )
        select * from final order by all
    """
    frame = con.execute(sql, [*params, *range_params, *extra_params, start, end]).df()
    frame = frame.rename(columns={"value": value})
    frame["month"] = pd.to_datetime(frame["month"]).dt.date
    if value == "count" or spec.values[value].startswith("count"):
        frame[value] = frame[value].astype("int64")
    return frame[columns].reset_index(drop=True)


def monthly_series_each_category(con: duckdb.DuckDBPyConnection, family: str = "crimes",
                                  filters: Filters | None = None) -> pd.DataFrame:
    """Count per month for each category of `family` separately (one query): each category from its own first
    to its own last month under the filters (the range `data_range` gives with that category alone), months
    without rows filled with 0 — for every category, the frame monthly_series gives with that category alone.
    Columns category, month (date), count; ordered by category and month; a category with no rows has none.
    The filters' categories (empty: every one) pick the categories; not for the counts family."""
    spec = family_spec(family)
    if spec.category_column is None or spec.name == "counts":
        raise ValueError(f"{family}: no separate categories to count (monthly_series_each_category)")
    where, params = spec.where(filters)
    sql = f"""
        with
        source as (
            select {spec.category_column} as category, {spec.month_column} as month
            from {spec.source}
            where {where}
        ),
        aggregated as (
            select category, month, count(*) as value
            from source
            group by all
        ),
        ranges as (
            select category, min(month) as first_month, max(month) as last_month
            from aggregated
            group by all
        ),
        months as (
            select category,
                   cast(unnest(generate_series(first_month, last_month, interval 1 month)) as date) as month
            from ranges
        ),
        final as (
            select months.category, months.month, coalesce(aggregated.value, 0) as value
            from months
            left join aggregated
                on aggregated.category is not distinct from months.category
               and aggregated.month = months.month
        )
        select * from final order by all
    """
    frame = con.execute(sql, params).df().rename(columns={"value": "count"})
    frame["month"] = pd.to_datetime(frame["month"]).dt.date
    frame["count"] = frame["count"].astype("int64")
    return frame[["category", "month", "count"]].reset_index(drop=True)


def _week_expression(spec: FamilySpec) -> str:
    column = spec.date_column
    if spec.name == "stop_search":  # TIMESTAMPTZ: weeks in UK local time
        column = f"({column} at time zone 'Europe/London')"
    return f"cast(date_trunc('week', {column}) as date)"


def weekly_series(
    con: duckdb.DuckDBPyConnection,
    family: str,
    by: list[str] | None = None,
    filters: Filters | None = None,
    start: date | None = None,
    end: date | None = None,
) -> pd.DataFrame:
    """Count per Monday-start week (and `by` group), empty weeks filled with 0, for families with dates
    (stop_search, collisions, casualties, incidents); ValueError otherwise.

    start..end: any dates; every week whose Monday falls in the range (default: the loaded range).
    """
    spec = family_spec(family)
    if spec.date_column is None:
        raise ValueError(f"{family} has no dates, only months: weekly series need stop_search, collisions, casualties or incidents")
    pairs = _by_columns(spec, by)
    where, params = spec.where(filters)
    week = _week_expression(spec)
    if start is None or end is None:
        first, last = con.execute(f"select min({week}), max({week}) from {spec.source} where {where}", params).fetchall()[0]
        start = start or first
        end = end or last
    columns = ["week_start", *[name for name, _ in pairs], "count"]
    if start is None or end is None:
        return pd.DataFrame({name: pd.Series(dtype="object") for name in columns})
    first_week = start - timedelta(days=start.weekday())
    last_week = end - timedelta(days=end.weekday())
    group_select = "".join(f", {column} as {name}" for name, column in pairs)
    group_names = "".join(f", {name}" for name, _ in pairs)
    groups_sql = f"select distinct {group_names[2:]} from aggregated" if pairs else "select true as present"
    join_on = " and ".join(["weeks.week_start = aggregated.week_start"] + [f"groups.{n} is not distinct from aggregated.{n}" for n, _ in pairs])
    sql = f"""
        with
        source as (
            select *, {week} as week_start_ from {spec.source} where {where}
        ),
        aggregated as (
            select week_start_ as week_start{group_select}, {spec.value_sql('count')} as value
            from source
            where week_start_ between ? and ?
            group by all
        ),
        weeks as (
            select cast(unnest(generate_series(cast(? as date), cast(? as date), interval 7 day)) as date) as week_start
        ),
        groups as (
            {groups_sql}
        ),
        final as (
            select weeks.week_start{''.join(f', groups.{n}' for n, _ in pairs)}, coalesce(aggregated.value, 0) as value
            from weeks
            cross join groups
            left join aggregated on {join_on}
        )
        select * from final order by all
    """
    frame = con.execute(sql, [*params, first_week, last_week, first_week, last_week]).df()
    frame = frame.rename(columns={"value": "count"})
    frame["week_start"] = pd.to_datetime(frame["week_start"]).dt.date
    frame["count"] = frame["count"].astype("int64")
    return frame[columns].reset_index(drop=True)


def with_rolling(frame: pd.DataFrame, date_col: str = "month", value_col: str = "count") -> pd.DataFrame:
    """Add rolling_12_month_total (sum of this month and the 11 before; NaN until 12 months exist),
    yoy_change (value − value of the same month a year earlier) and yoy_pct_change (%), per group
    (every column other than the date and value columns is a group column)."""
    if date_col != "month":
        raise ValueError("rolling 12-month totals need a monthly frame (date_col='month')")
    groups = [c for c in frame.columns if c not in (date_col, value_col)]
    work = frame.copy()
    months = pd.to_datetime(work[date_col])
    work["_index"] = months.dt.year * 12 + months.dt.month - 1
    keyed = work[groups + ["_index", value_col]]

    def shifted(offset: int) -> pd.Series:
        other = keyed.rename(columns={value_col: "_other"}).assign(_index=keyed["_index"] + offset)
        merged = keyed.merge(other, on=groups + ["_index"], how="left")
        return merged["_other"].to_numpy()

    total = work[value_col].astype("float64").to_numpy().copy()
    complete = np.ones(len(work), dtype=bool)
    for offset in range(1, 12):
        previous = shifted(offset)
        complete &= ~pd.isna(previous)
        total = total + np.nan_to_num(previous.astype('float64'))
    work["rolling_12_month_total"] = pd.Series(total, index=work.index).where(complete)
    year_before = pd.Series(shifted(12), index=work.index, dtype="float64")
    work["yoy_change"] = work[value_col] - year_before
    work["yoy_pct_change"] = (work["yoy_change"] / year_before.where(year_before != 0)) * 100
    return work.drop(columns="_index")


def categories(con: duckdb.DuckDBPyConnection, family: str = "crimes", filters: Filters | None = None) -> list[str]:
    """The distinct categories of the family (e.g. the crime types), alphabetical, under the filters' force/districts."""
    spec = family_spec(family)
    if spec.category_column is None:
        return []
    base = filters or Filters()
    where, params = spec.where(Filters(force_id=base.force_id, districts=base.districts))
    rows = con.execute(
        f"select distinct {spec.category_column} from {spec.source} where {where} and {spec.category_column} is not null order by 1",
        params,
    ).fetchall()
    return [row[0] for row in rows]


def districts(con: duckdb.DuckDBPyConnection, family: str = "crimes", force_id: str | None = None) -> list[str]:
    """The districts of the family's rows, alphabetical. With a force and a loaded LSOA lookup for it,
    only the force's own districts (the ~1% of rows in neighbouring forces' LSOAs are left out)."""
    spec = family_spec(family)
    if spec.district_column is None:
        return []
    if force_id is not None and spec.name in ("crimes", "outcomes", "incidents"):
        own = con.execute(
            "select distinct district from lsoa where force_id = ? and district is not null order by 1", [force_id]
        ).fetchall()
        if own:
            return [row[0] for row in own]
    where, params = spec.where(Filters(force_id=force_id))
    rows = con.execute(
        f"select distinct {spec.district_column} from {spec.source} where {where} and {spec.district_column} is not null order by 1",
        params,
    ).fetchall()
    return [row[0] for row in rows]


FORCE_TABLES = ("crimes", "outcomes", "stop_search", "counts", "collisions", "casualties", "fraud", "incidents")


def forces(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every force with rows in any table: force_id, force_name and one boolean column per family."""
    union = " union all ".join(
        f"select distinct force_id, '{table}' as family from {table} where force_id is not null" for table in FORCE_TABLES
    )
    pivot = ", ".join(f"bool_or(family = '{table}') as {table}" for table in FORCE_TABLES)
    frame = con.execute(f"select force_id, {pivot} from ({union}) group by force_id order by force_id").df()
    frame.insert(1, "force_name", [force_name_for(f) for f in frame["force_id"]])
    return frame
