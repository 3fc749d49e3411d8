"""Stop and search: volume, arrests, arrest rate and find rate, by object of search and by outcome.

Searches are rows of `stop_search` whose month is in start..end (inclusive). arrest_rate = searches with
outcome 'Arrest' / searches. find_rate = searches whose outcome was linked to the object of search /
searches where that link is recorded (true or false; unknown excluded). Filters.categories act on
object_of_search; stop and search has no district.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from metrics.filters import Filters, month_start


def _where(filters: Filters | None, start: date, end: date) -> tuple[str, list]:
    where, params = (filters or Filters()).where(district_column=None, category_column="object_of_search")
    return f"{where} and month between ? and ?", [*params, month_start(start), month_start(end)]


_MEASURES = """
    count(*) as searches,
    count(*) filter (where outcome in ('Arrest', 'Suspect arrested')) as arrests,
    count(*) filter (where outcome_linked_to_object_of_search) as finds,
    count(outcome_linked_to_object_of_search) as finds_known
"""


def _rates(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("searches", "arrests", "finds", "finds_known"):
        frame[column] = frame[column].astype("int64")
    frame["arrest_rate"] = frame["arrests"] / frame["searches"].where(frame["searches"] > 0)
    frame["find_rate"] = frame["finds"] / frame["finds_known"].where(frame["finds_known"] > 0)
    return frame


def stop_search_summary(con: duckdb.DuckDBPyConnection, start: date, end: date, filters: Filters | None = None) -> dict:
    """Totals for the period: {'searches', 'arrests', 'arrest_rate', 'finds', 'finds_known', 'find_rate'}
    (rates are 0..1, None when undefined)."""
    where, params = _where(filters, start, end)
    frame = _rates(con.execute(f"select {_MEASURES} from stop_search where {where}", params).df())
    row = frame.iloc[0].to_dict()
    return {key: (None if pd.isna(value) else (int(value) if key in ("searches", "arrests", "finds", "finds_known") else float(value)))
            for key, value in row.items()}


def by_object(con: duckdb.DuckDBPyConnection, start: date, end: date, filters: Filters | None = None) -> pd.DataFrame:
    """[object_of_search, searches, arrests, finds, finds_known, arrest_rate, find_rate], most searches first."""
    where, params = _where(filters, start, end)
    sql = f"""
        select coalesce(object_of_search, 'Not recorded') as object_of_search, {_MEASURES}
        from stop_search where {where}
        group by 1 order by searches desc, 1
    """
    return _rates(con.execute(sql, params).df())


def by_outcome(con: duckdb.DuckDBPyConnection, start: date, end: date, filters: Filters | None = None) -> pd.DataFrame:
    """[outcome, searches, share] (share of all searches in the period, 0..1), most searches first."""
    where, params = _where(filters, start, end)
    sql = f"""
        with
        counted as (
            select coalesce(outcome, 'Not recorded') as outcome, count(*) as searches
            from stop_search where {where}
            group by 1
        ),
        final as (
            select outcome, searches, searches / sum(searches) over () as share from counted
        )
        select * from final order by searches desc, outcome
    """
    frame = con.execute(sql, params).df()
    frame["searches"] = frame["searches"].astype("int64")
    return frame
