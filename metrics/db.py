"""Read-only access to the warehouse for metrics, the app and exports."""

from __future__ import annotations

import os

import duckdb

from etl.warehouse import connect_read_only, database_version, resolve_db_path

__all__ = ["connect", "database_version", "resolve_db_path", "table_has_rows"]


def connect(db: str | os.PathLike | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the warehouse (`--db`, `$CRIME_MONITOR_DB` or data/warehouse.duckdb)."""
    return connect_read_only(db)


# tables a metric may ask about (identifiers are never taken from user input)
KNOWN_TABLES = frozenset(
    {"crimes", "outcomes", "stop_search", "lsoa", "lsoa_boundaries", "counts", "collisions", "casualties",
     "vehicles", "fraud", "incidents", "measures", "load_log", "rejects", "meta"}
)


def table_has_rows(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    if table not in KNOWN_TABLES:
        raise ValueError(f"unknown table {table!r}")
    return bool(con.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchall()[0][0])
