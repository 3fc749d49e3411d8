"""What the warehouse holds, for the Data view and the demo banner: freshness per source (from
etl.status.load_status), gaps, rejects, row counts per table, and the caveats of each source.

Frames:
- `source_inventory` -> [kind, source, table, force_id, first_month, last_month, months_loaded, missing_count,
  missing_months, rows_loaded, rows_rejected, last_loaded_at, caveats]
- `table_rows` -> [table, rows]
- `reject_summary` -> [path, reason, rejects, first_line, last_line]
- `reject_samples` -> [path, line_number, reason, raw_line] (at most `limit` rows)
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from etl.status import load_status
from etl.warehouse import SCHEMA


@dataclass(frozen=True)
class SourceInfo:
    """What a load_log kind is, the table it fills and what an analyst must keep in mind."""

    source: str
    table: str
    caveats: str


SOURCES: dict[str, SourceInfo] = {
    "street": SourceInfo(
        "data.police.uk street-level crime and ASB", "crimes",
        "Monthly; locations are anonymised snap points; some rows have no LSOA and about 1% fall in LSOAs "
        "outside the force; months are revised and re-published (a reload replaces the force-month).",
    ),
    "outcomes": SourceInfo(
        "data.police.uk outcomes", "outcomes",
        "Outcomes are published in the month they are reached, not the month the crime was recorded.",
    ),
    "stop-and-search": SourceInfo(
        "data.police.uk stop and search", "stop_search",
        "Dated searches; some have no location; ethnicity is self-defined and officer-defined.",
    ),
    "lsoa-lookup": SourceInfo(
        "ONS LSOA (2011) to local authority and police force lookup", "lsoa",
        "2011 LSOAs; the district is the LSOA name without its code suffix.",
    ),
    "census-population": SourceInfo(
        "2011 Census usual residents by LSOA", "lsoa",
        "Rates per 1,000 use 2011 usual residents: populations have grown since, so rates run a little high.",
    ),
    "lsoa-boundaries": SourceInfo(
        "ONS LSOA (Dec 2011) boundaries, super generalised", "lsoa_boundaries",
        "Generalised shapes for maps, not for measurement.",
    ),
    "counts-home-office": SourceInfo(
        "Home Office police recorded crime by force area and offence code", "counts",
        "Quarterly; recording practice changes can move counts without a change in crime.",
    ),
    "counts-wide-monthly": SourceInfo(
        "Aggregate monthly counts (wide layout, e.g. London Datastore)", "counts",
        "Counts as published by the source; categories are the source's own.",
    ),
    "counts-tidy": SourceInfo(
        "Aggregate counts (tidy period, area, category, count)", "counts",
        "Counts as published by the source; categories are the source's own.",
    ),
    "stats19-collision": SourceInfo(
        "DfT STATS19 road collisions", "collisions",
        "Injury collisions reported to the police; published annually, about a year in arrears.",
    ),
    "stats19-casualty": SourceInfo(
        "DfT STATS19 road casualties", "casualties",
        "Severity as judged by the police at the scene; some serious injuries are adjusted in DfT tables.",
    ),
    "stats19-vehicle": SourceInfo(
        "DfT STATS19 vehicles", "vehicles", "One row per vehicle in an injury collision.",
    ),
    "fraud": SourceInfo(
        "Action Fraud (NFIB) reports by force area", "fraud",
        "Reports by residents of the force area, not crimes recorded by the force; losses as reported.",
    ),
    "extract": SourceInfo(
        "Force incident-level crime extract", "incidents",
        "The force's own records: flags (domestic abuse, hate crime, child victim) as recorded; not published.",
    ),
    "measures": SourceInfo(
        "Force performance measures", "measures",
        "Values as supplied by the force; definitions are the force's own.",
    ),
}


def warehouse_meta(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The meta table as a dict (schema_version, dataset, ...)."""
    return {key: value for key, value in con.execute("select key, value from meta order by key").fetchall()}


def dataset_label(con: duckdb.DuckDBPyConnection) -> str | None:
    """`meta.dataset` ('demo' for the synthetic warehouse), None when unset: the one place it is read."""
    rows = con.execute("select value from meta where key = 'dataset'").fetchall()
    return rows[0][0] if rows else None


def is_demo(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the warehouse is the synthetic demo (meta.dataset = 'demo')."""
    return dataset_label(con) == "demo"


# table -> (first-month column, last-month column): for sources whose files are not one month each
MONTH_COLUMNS: dict[str, tuple[str, str]] = {
    "crimes": ("month", "month"),
    "outcomes": ("month", "month"),
    "stop_search": ("month", "month"),
    "collisions": ("month", "month"),
    "fraud": ("month", "month"),
    "incidents": ("month", "month"),
    "measures": ("period_start", "period_end"),
    "counts": ("period_start", "period_end"),
}
# STATS19 casualty and vehicle rows take their dates from their collisions
MONTH_TABLE_FOR = {"casualties": "collisions", "vehicles": "collisions"}


def table_months(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """[table, force_id, first_month, last_month] for every table with dates (identifiers from MONTH_COLUMNS)."""
    union = " union all ".join(
        f"select '{table}' as table_name, force_id, date_trunc('month', min({first}))::date as first_month, "
        f"date_trunc('month', max({last}))::date as last_month from {table} group by force_id"
        for table, (first, last) in MONTH_COLUMNS.items()
    )
    frame = con.execute(f"with spans as ({union}) select * from spans order by table_name, force_id").df()
    return frame.rename(columns={"table_name": "table"})


def source_inventory(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per (load kind, force): what is loaded, its months and gaps, rows, rejects, last load (UTC)
    and the source's caveats. Sources loaded as whole files (STATS19, fraud, extract, measures, counts)
    take their first and last month from their table."""
    status = load_status(con)
    status.insert(1, "source", [SOURCES[k].source if k in SOURCES else k for k in status["kind"]])
    status.insert(2, "table", [SOURCES[k].table if k in SOURCES else "" for k in status["kind"]])
    status["caveats"] = [SOURCES[k].caveats if k in SOURCES else "" for k in status["kind"]]
    spans = table_months(con)
    status["first_month"] = pd.to_datetime(status["first_month"])
    status["last_month"] = pd.to_datetime(status["last_month"])
    for index, row in status.iterrows():
        if pd.notna(row["first_month"]):
            continue
        table = MONTH_TABLE_FOR.get(row["table"], row["table"])
        match = spans[(spans["table"] == table) & (spans["force_id"].fillna("") == (row["force_id"] if isinstance(row["force_id"], str) else ""))]
        if len(match):
            status.loc[index, "first_month"] = pd.Timestamp(match["first_month"].iloc[0])
            status.loc[index, "last_month"] = pd.Timestamp(match["last_month"].iloc[0])
    return status


def table_rows(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Rows in every warehouse table (table names from the fixed SCHEMA)."""
    tables = [t for t in SCHEMA if t != "meta"]
    union = " union all ".join(f"select '{t}' as table_name, count(*) as rows from {t}" for t in tables)
    frame = con.execute(f"with counts as ({union}) select * from counts").df()
    return frame.rename(columns={"table_name": "table"})


REJECT_SUMMARY_SQL = """
with

rejects_in as (
    select * from rejects
),

final as (
    select
        path,
        reason,
        count(*)            as rejects,
        min(line_number)    as first_line,
        max(line_number)    as last_line
    from rejects_in
    group by all
)

select * from final order by rejects desc, path, reason
"""


def reject_summary(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Rejected rows per file and reason, with the first and last line numbers."""
    return con.execute(REJECT_SUMMARY_SQL).df()


def reject_samples(con: duckdb.DuckDBPyConnection, limit: int = 200) -> pd.DataFrame:
    """The first `limit` rejected rows (file, line, reason, raw text), in file and line order."""
    return con.execute(
        "select path, line_number, reason, raw_line from rejects order by path, line_number limit ?", [int(limit)]
    ).df()


def source_caveats() -> pd.DataFrame:
    """Every known source with its table and caveats (whether loaded or not)."""
    return pd.DataFrame(
        [{"kind": k, "source": v.source, "table": v.table, "caveats": v.caveats} for k, v in SOURCES.items()]
    )


__all__ = [
    "MONTH_COLUMNS", "SOURCES", "SourceInfo", "dataset_label", "is_demo", "table_months", "reject_samples", "reject_summary", "source_caveats", "source_inventory",
    "table_rows", "warehouse_meta",
]
