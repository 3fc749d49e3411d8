"""Measures from the force's incident extract (`incidents`): domestic abuse with repeat victims, and the
child-victim and hate-crime flags. Real measures only exist when an extract is loaded; with none, the
frames are empty (pages then say which file would supply them).

Periods are inclusive month ranges (`start`, `end` first-of-month dates; None = everything loaded) of the
recorded date. Filters: force_id, districts (`district`), categories (police.uk `crime_type`).

Repeat victim within 12 months (`repeat_victims_12m`): a victim — a distinct non-empty `victim_key` —
with at least one domestic-abuse incident recorded in the period that was preceded by another
domestic-abuse incident of the same victim (same force) recorded at most 365 days earlier (strictly
earlier in time; the earlier incident may fall before the period, provided it is loaded). A
`repeat_incident_12m` is such a preceded incident. Incidents without a victim key cannot be linked and
count only towards `da_incidents` (`da_incidents_without_victim_key` says how many).

Frames:
- `domestic_abuse_summary`: one row: da_incidents, da_victims, repeat_victims_12m, repeat_victim_pct
  (% of da_victims), repeat_incidents_12m, da_incidents_without_victim_key, da_share_of_all_pct.
- `domestic_abuse_monthly`: month, da_incidents, repeat_incidents_12m (months without incidents 0).
- `flag_series(con, flag, ...)`: month (or week_start), count of incidents with the flag
  (`child_victim` or `hate_crime` or `domestic_abuse`), all_incidents, share_pct.
- `flag_by_crime_type`: crime_type, incidents with the flag, over the period.
- `flag_totals(con, flag, ...)`: one row over the period: flagged incidents, all_incidents, share_pct.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from metrics.filters import Filters

FLAGS = ("domestic_abuse", "hate_crime", "child_victim")
REPEAT_WINDOW_DAYS = 365


def _where(filters: Filters, start: date | None, end: date | None, alias: str = "") -> tuple[str, list]:
    prefix = f"{alias}." if alias else ""
    where, params = filters.where(force_column=f"{prefix}force_id", district_column=f"{prefix}district",
                                  category_column=f"{prefix}crime_type")
    if start is not None:
        where += f" and {prefix}month >= ?"
        params.append(start)
    if end is not None:
        where += f" and {prefix}month <= ?"
        params.append(end)
    return where, params


def _with_repeat_flags(con, filters: Filters, start: date | None, end: date | None, logic) -> pd.DataFrame:
    """Run `logic(where)` (the CTEs after `flagged`, then the final select, using the filters' WHERE clause
    `where` once) after the domestic-abuse CTEs of `_repeat_cte`; the filters' values are bound twice."""
    where, params = _where(filters, start, end)
    return con.execute(f"with {_repeat_cte(where)}, {logic(where)}", [*params, *params]).df()


def _repeat_cte(where: str) -> str:
    """SQL CTEs `period_da` (domestic-abuse incidents in scope) and `flagged` (each with is_repeat_12m)."""
    return f"""
        period_da as (
            select * from incidents where domestic_abuse and {where}
        ),

        all_da as (
            select force_id, victim_key, recorded_at from incidents
            where domestic_abuse and victim_key is not null
        ),

        flagged as (
            select
                period_da.*,
                period_da.victim_key is not null and exists (
                    select 1 from all_da
                    where all_da.force_id = period_da.force_id
                      and all_da.victim_key = period_da.victim_key
                      and all_da.recorded_at < period_da.recorded_at
                      and all_da.recorded_at >= period_da.recorded_at - interval {REPEAT_WINDOW_DAYS} day
                ) as is_repeat_12m
            from period_da
        )
    """


def domestic_abuse_summary(con, filters: Filters, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """Domestic-abuse incidents, victims and repeat victims within 12 months (see the module docstring)."""
    return _with_repeat_flags(con, filters, start, end, lambda where: f"""
        all_incidents as (
            select count(*) as n from incidents where {where}
        ),

        final as (
            select
                count(*)                                                            as da_incidents,
                count(distinct victim_key)                                          as da_victims,
                count(distinct victim_key) filter (where is_repeat_12m)             as repeat_victims_12m,
                round(100.0 * count(distinct victim_key) filter (where is_repeat_12m)
                      / nullif(count(distinct victim_key), 0), 1)                   as repeat_victim_pct,
                count(*) filter (where is_repeat_12m)                               as repeat_incidents_12m,
                count(*) filter (where victim_key is null)                          as da_incidents_without_victim_key,
                round(100.0 * count(*) / nullif((select n from all_incidents), 0), 1) as da_share_of_all_pct
            from flagged
        )

        select * from final
        """)


def domestic_abuse_monthly(con, filters: Filters, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """Domestic-abuse incidents and repeat incidents (12-month window) per month of recording."""
    return _with_repeat_flags(con, filters, start, end, lambda where: f"""
        months as (
            select cast(unnest(generate_series(min(month), max(month), interval 1 month)) as date) as month
            from incidents where {where}
        ),

        counted as (
            select month, count(*) as da_incidents, count(*) filter (where is_repeat_12m) as repeat_incidents_12m
            from flagged group by 1
        ),

        final as (
            select months.month, coalesce(da_incidents, 0) as da_incidents,
                   coalesce(repeat_incidents_12m, 0) as repeat_incidents_12m
            from months left join counted using (month)
        )

        select * from final order by month
        """)


def _checked(flag: str) -> str:
    """`flag` if it is one of FLAGS (a column name from code), else ValueError."""
    if flag not in FLAGS:
        raise ValueError(f"flag must be one of {', '.join(FLAGS)}, not {flag!r}")
    return flag


def _from_chosen(con, flag: str, filters: Filters, start: date | None, end: date | None, chosen: str,
                 logic: str) -> pd.DataFrame:
    """Run `with chosen as (select <chosen> <the filters' WHERE clause>), <logic>`: `chosen` ends in `where`
    and names only the checked `flag` and columns from code; the filters' values are bound."""
    _checked(flag)
    where, params = _where(filters, start, end)
    return con.execute(f"with chosen as (select {chosen} {where}), {logic}", params).df()


def flag_series(con, flag: str, filters: Filters, start: date | None = None, end: date | None = None,
                period: str = "month") -> pd.DataFrame:
    """Incidents with `flag` per month (or Monday-start week), with all incidents and the flagged share (%)."""
    if period not in ("month", "week"):
        raise ValueError("period must be 'month' or 'week'")
    column, step = ("month", "interval 1 month") if period == "month" else ("week_start", "interval 7 day")
    chosen = f"{column} as period_start, {_checked(flag)} as flagged from incidents where"
    frame = _from_chosen(con, flag, filters, start, end, chosen, f"""
        periods as (
            select cast(unnest(generate_series(min(period_start), max(period_start), {step})) as date) as period_start
            from chosen
        ),

        counted as (
            select period_start, count(*) filter (where flagged) as flagged_incidents, count(*) as all_incidents
            from chosen group by 1
        ),

        final as (
            select
                periods.period_start,
                coalesce(flagged_incidents, 0) as count,
                coalesce(all_incidents, 0)     as all_incidents,
                round(100.0 * coalesce(flagged_incidents, 0) / nullif(all_incidents, 0), 1) as share_pct
            from periods left join counted using (period_start)
        )

        select * from final order by period_start
        """)
    return frame.rename(columns={"period_start": "month" if period == "month" else "week_start"})


def child_victim_series(con, filters: Filters, start: date | None = None, end: date | None = None, period: str = "month") -> pd.DataFrame:
    """Crimes with a child victim per period (see `flag_series`)."""
    return flag_series(con, "child_victim", filters, start, end, period)


def hate_crime_series(con, filters: Filters, start: date | None = None, end: date | None = None, period: str = "month") -> pd.DataFrame:
    """Hate crimes per period (see `flag_series`)."""
    return flag_series(con, "hate_crime", filters, start, end, period)


def flag_by_crime_type(con, flag: str, filters: Filters, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """Incidents with `flag` by police.uk crime type (None = offence code not in the Home Office table)."""
    return _from_chosen(con, flag, filters, start, end, f"crime_type from incidents where {_checked(flag)} and", """
        final as (
            select crime_type, count(*) as count from chosen group by 1
        )

        select * from final order by count desc, crime_type nulls last
        """)


def flag_totals(con, flag: str, filters: Filters, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """One row over the period: incidents with `flag` (`count`), all incidents, and the flagged share (%)."""
    return _from_chosen(con, flag, filters, start, end, f"{_checked(flag)} as flagged from incidents where", """
        final as (
            select
                count(*) filter (where flagged) as count,
                count(*)                        as all_incidents,
                round(100.0 * count(*) filter (where flagged) / nullif(count(*), 0), 1) as share_pct
            from chosen
        )

        select * from final
        """)