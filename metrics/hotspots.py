"""Hotspots: crimes by LSOA (top LSOAs, every LSOA of the force for the choropleth), point density on a
grid, and LSOA boundaries as GeoJSON. Counts are of crimes/ASB rows whose month is in start..end
(inclusive); rates are per 1,000 usual residents (2011 Census) for the period.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

import duckdb
import pandas as pd

from metrics.filters import Filters, month_start


def _query_attrs(frame: pd.DataFrame, start: date, end: date, filters: Filters | None) -> pd.DataFrame:
    """Record what the frame counts in its attrs ("lsoa_query": period, force, districts, categories; empty
    categories = every crime type), so disclosure control knows it whatever filters a caller passes on."""
    base = filters or Filters()
    frame.attrs["lsoa_query"] = {"start": month_start(start).isoformat(), "end": month_start(end).isoformat(),
                                 "force_id": base.force_id, "districts": list(base.districts),
                                 "categories": list(base.categories)}  # plain JSON values (Arrow keeps attrs)
    return frame


def _crime_filter(filters: Filters | None, start: date, end: date) -> tuple[str, list]:
    where, params = (filters or Filters()).where(
        force_column="crimes.force_id", district_column="crimes.district", category_column="crimes.crime_type"
    )
    return f"{where} and crimes.month between ? and ?", [*params, month_start(start), month_start(end)]


def top_lsoas(
    con: duckdb.DuckDBPyConnection, start: date, end: date, filters: Filters | None = None, limit: int = 20
) -> pd.DataFrame:
    """The `limit` LSOAs with most crimes in start..end: lsoa_code, lsoa_name, district, count, residents,
    rate_per_1000 (for the period; NaN where the LSOA has no census residents loaded)."""
    where, params = _crime_filter(filters, start, end)
    sql = f"""
        with
        counted as (
            select crimes.lsoa_code, any_value(crimes.lsoa_name) as lsoa_name, any_value(crimes.district) as district,
                   count(*) as count
            from crimes
            where {where} and crimes.lsoa_code is not null
            group by crimes.lsoa_code
        ),
        final as (
            select counted.lsoa_code, coalesce(lsoa.lsoa_name, counted.lsoa_name) as lsoa_name,
                   coalesce(lsoa.district, counted.district) as district, counted.count,
                   lsoa.usual_residents as residents,
                   counted.count / nullif(lsoa.usual_residents, 0) * 1000 as rate_per_1000
            from counted left join lsoa using (lsoa_code)
        )
        select * from final order by count desc, lsoa_code limit ?
    """
    frame = con.execute(sql, [*params, int(limit)]).df()
    frame["count"] = frame["count"].astype("int64")
    frame["rate_per_1000"] = frame["rate_per_1000"].astype("float64")
    return _query_attrs(frame, start, end, filters)


def lsoa_counts(con: duckdb.DuckDBPyConnection, start: date, end: date, filters: Filters | None = None) -> pd.DataFrame:
    """Every LSOA of the force (lsoa.force_id = filters.force_id; all LSOAs with crimes when no force is
    set) with its count in start..end (0 where none), residents and rate_per_1000 — for the choropleth."""
    base = filters or Filters()
    where, params = _crime_filter(base, start, end)
    if base.force_id:
        universe, universe_params = "select lsoa_code from lsoa where force_id = ?", [base.force_id]
        if base.districts:
            universe += " and list_contains(?, district)"
            universe_params.append(list(base.districts))
    else:
        universe, universe_params = f"select distinct crimes.lsoa_code from crimes where {where} and crimes.lsoa_code is not null", list(params)
    sql = f"""
        with
        universe as ({universe}),
        counted as (
            select crimes.lsoa_code, count(*) as count
            from crimes
            where {where} and crimes.lsoa_code is not null
            group by crimes.lsoa_code
        ),
        final as (
            select universe.lsoa_code, lsoa.lsoa_name, lsoa.district, coalesce(counted.count, 0) as count,
                   lsoa.usual_residents as residents,
                   coalesce(counted.count, 0) / nullif(lsoa.usual_residents, 0) * 1000 as rate_per_1000
            from universe
            left join counted using (lsoa_code)
            left join lsoa using (lsoa_code)
        )
        select * from final order by lsoa_code
    """
    frame = con.execute(sql, [*universe_params, *params]).df()
    frame["count"] = frame["count"].astype("int64")
    frame["rate_per_1000"] = frame["rate_per_1000"].astype("float64")
    return _query_attrs(frame, start, end, filters)


def point_density(
    con: duckdb.DuckDBPyConnection, start: date, end: date, filters: Filters | None = None, cell_degrees: float = 0.01
) -> pd.DataFrame:
    """Crimes binned on a longitude/latitude grid of `cell_degrees` (cell centres) in SQL: longitude, latitude, count."""
    if not cell_degrees or cell_degrees <= 0:
        raise ValueError("cell_degrees must be positive")
    where, params = _crime_filter(filters, start, end)
    sql = f"""
        with
        binned as (
            select floor(crimes.longitude / ?) as x, floor(crimes.latitude / ?) as y
            from crimes
            where {where} and crimes.longitude is not null and crimes.latitude is not null
        ),
        final as (
            select (x + 0.5) * ? as longitude, (y + 0.5) * ? as latitude, count(*) as count
            from binned group by x, y
        )
        select * from final order by count desc, longitude, latitude
    """
    cell = float(cell_degrees)
    frame = con.execute(sql, [cell, cell, *params, cell, cell]).df()
    frame["count"] = frame["count"].astype("int64")
    return _query_attrs(frame, start, end, filters)


def boundaries(con: duckdb.DuckDBPyConnection, lsoa_codes: Sequence[str]) -> dict | None:
    """A GeoJSON FeatureCollection of the LSOAs' polygons (property lsoa_code, lsoa_name); None if none loaded."""
    rows = con.execute(
        "select lsoa_code, lsoa_name, geometry_json from lsoa_boundaries where list_contains(?, lsoa_code) order by lsoa_code",
        [list(lsoa_codes)],
    ).fetchall()
    if not rows:
        return None
    features = [
        {"type": "Feature", "id": code, "properties": {"lsoa_code": code, "lsoa_name": name}, "geometry": json.loads(geometry)}
        for code, name, geometry in rows
        if geometry
    ]
    return {"type": "FeatureCollection", "features": features} if features else None
