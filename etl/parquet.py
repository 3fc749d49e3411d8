"""`python -m etl export-parquet --db PATH --out DIR`: the warehouse as Hive-partitioned Parquet.

For a user who outgrows one machine: the same tables, readable by Spark, Trino/Presto, BigQuery
external tables, Athena or DuckDB itself (`read_parquet('DIR/crimes/**/*.parquet', hive_partitioning=true)`).

Layout:
    DIR/<table>/force_id=<id>/year=<yyyy>/data_0.parquet   tables with a force and a date (crimes, outcomes,
                                                          stop_search, fraud, incidents, collisions, ...)
    DIR/<table>/force_id=<id>/data_0.parquet              tables with a force but no date
    DIR/<table>/data_0.parquet                            reference tables (lsoa, lsoa_boundaries, meta, load_log, rejects)
    DIR/_manifest.json                                    tables, rows, partition columns, load fingerprint

Partition columns are not repeated inside the files (the Hive convention); readers get them back from
the paths (force_id as text, year as an integer). Rows without a force go to `force_id=NULL` (DuckDB's
spelling; Spark/Hive call it `__HIVE_DEFAULT_PARTITION__`). The export is written beside DIR and moved into
place when complete, so DIR is never half-written.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import duckdb

from etl.warehouse import SCHEMA, LoadError, load_fingerprint, resolve_db_path

# table -> SQL expression of its partition year (None: partitioned by force only). Trusted identifiers.
YEAR_OF: dict[str, str | None] = {
    "crimes": "year(month)",
    "outcomes": "year(month)",
    "stop_search": "year(month)",
    "fraud": "year(month)",
    "incidents": "year(month)",
    "collisions": "collision_year",
    "casualties": "collision_year",
    "vehicles": "collision_year",
    "counts": "year(period_start)",
    "measures": "year(period_start)",
}


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def export_parquet(db: str | Path | None, out: str | Path, *, overwrite: bool = False,
                   memory_limit: str = "2GB") -> dict:
    """Write every non-empty warehouse table under `out`. Returns the manifest (also `_manifest.json`)."""
    db_path = resolve_db_path(db)
    if not db_path.exists():
        raise LoadError("no warehouse here: load data first", db_path)
    out = Path(out)
    if out.exists() and not overwrite:
        raise LoadError("the output folder exists; pass --overwrite to replace it", out)
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    began = time.perf_counter()
    con = duckdb.connect(str(db_path), read_only=True, config={"memory_limit": memory_limit})
    manifest: dict = {"database": str(db_path), "tables": {}}
    try:
        manifest["load_fingerprint"] = load_fingerprint(con)
        for table in SCHEMA:
            rows = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            if not rows:
                continue
            columns = _columns(con, table)
            target = staging / table
            if "force_id" in columns and table in YEAR_OF:
                year_sql = YEAR_OF[table]
                if year_sql:
                    select = f"SELECT * EXCLUDE (force_id), force_id, {year_sql} AS year FROM {table}"
                    partitions = ["force_id", "year"]
                else:
                    select = f"SELECT * FROM {table}"
                    partitions = ["force_id"]
                con.execute(
                    f"COPY ({select}) TO {_sql_path(target)} "
                    f"(FORMAT parquet, COMPRESSION zstd, PARTITION_BY ({', '.join(partitions)}))"
                )
            else:
                target.mkdir()
                partitions = []
                con.execute(f"COPY {table} TO {_sql_path(target / 'data_0.parquet')} (FORMAT parquet, COMPRESSION zstd)")
            manifest["tables"][table] = {"rows": int(rows), "partitioned_by": partitions, "columns": columns}
    finally:
        con.close()
    manifest["seconds"] = round(time.perf_counter() - began, 3)
    (staging / "_manifest.json").write_text(json.dumps(manifest, indent=1))
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return manifest


def _cmd_export(args: argparse.Namespace) -> int:
    manifest = export_parquet(args.db, args.out, overwrite=args.overwrite)
    total = sum(t["rows"] for t in manifest["tables"].values())
    print(f"Exported {len(manifest['tables'])} table(s), {total:,} rows, to {args.out} in {manifest['seconds']:.1f} s "
          "(Hive partitions force_id=/year=; read with hive_partitioning).")
    for table, info in manifest["tables"].items():
        parts = "/".join(f"{p}=" for p in info["partitioned_by"]) or "unpartitioned"
        print(f"  {table}: {info['rows']:,} rows ({parts})")
    return 0


def register(subparsers) -> None:
    """Add `export-parquet` to `python -m etl`."""
    cmd = subparsers.add_parser("export-parquet", help="export the warehouse as Hive-partitioned Parquet (force_id, year)")
    cmd.add_argument("--db", help="warehouse file (default $CRIME_MONITOR_DB or data/warehouse.duckdb)")
    cmd.add_argument("--out", required=True, help="output folder (must not exist unless --overwrite)")
    cmd.add_argument("--overwrite", action="store_true", help="replace the output folder if it exists")
    cmd.set_defaults(handler=_cmd_export)
