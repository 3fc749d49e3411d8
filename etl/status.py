"""What a warehouse holds: per force and kind, months covered, gaps, rows, rejects and last load.

Used by `python -m etl status` and (through metrics.inventory) by the dashboard's Data view.
"""

from __future__ import annotations

import duckdb
import pandas as pd

STATUS_SQL = """
with

log as (
    select * from load_log
),

months as (
    select kind, force_id, month, sum(rows_loaded) as rows_loaded, sum(rows_rejected) as rows_rejected,
           max(loaded_at) as loaded_at
    from log
    group by all
),

ranges as (
    select
        kind,
        force_id,
        min(month)                                  as first_month,
        max(month)                                  as last_month,
        count(month)                                as months_loaded,
        sum(rows_loaded)                            as rows_loaded,
        sum(rows_rejected)                          as rows_rejected,
        count(*)                                    as files,
        max(loaded_at)                              as last_loaded_at
    from months
    group by all
),

expected_months as (
    select r.kind, r.force_id, unnest(generate_series(r.first_month, r.last_month, interval 1 month))::date as month
    from ranges r
    where r.first_month is not null
),

gaps as (
    select e.kind, e.force_id, string_agg(strftime(e.month, '%Y-%m'), ', ' order by e.month) as missing_months,
           count(*) as missing_count
    from expected_months e
    anti join months m on m.kind = e.kind and m.force_id is not distinct from e.force_id and m.month = e.month
    group by all
),

final as (
    select
        r.kind,
        r.force_id,
        r.first_month,
        r.last_month,
        r.months_loaded,
        coalesce(g.missing_count, 0)                 as missing_count,
        coalesce(g.missing_months, '')               as missing_months,
        r.rows_loaded,
        r.rows_rejected,
        r.last_loaded_at
    from ranges r
    left join gaps g on g.kind = r.kind and g.force_id is not distinct from r.force_id
)

select * from final order by kind, force_id
"""


def load_status(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per (kind, force_id): first/last month, months loaded, gaps, rows, rejects, last load (UTC)."""
    return con.execute(STATUS_SQL).df()


def format_status(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "The warehouse is empty: nothing has been loaded."
    lines = []
    header = f"{'kind':<18} {'force':<18} {'months':<19} {'n':>3} {'gaps':>4} {'rows':>11} {'rejects':>8}  last load (UTC)"
    lines.append(header)
    lines.append("-" * len(header))
    for row in frame.itertuples(index=False):
        span = "" if pd.isna(row.first_month) else f"{row.first_month:%Y-%m}..{row.last_month:%Y-%m}"
        lines.append(
            f"{row.kind:<18} {(row.force_id if isinstance(row.force_id, str) else '-'):<18} {span:<19} {row.months_loaded:>3} {row.missing_count:>4}"
            f" {int(row.rows_loaded):>11,} {int(row.rows_rejected):>8,}  {row.last_loaded_at:%Y-%m-%d %H:%M}"
        )
        if row.missing_count:
            lines.append(f"    missing months: {row.missing_months}")
    return "\n".join(lines)
