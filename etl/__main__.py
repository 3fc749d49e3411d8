"""Command line: `python -m etl load|status|demo|fetch|export-parquet`.

The database is `--db`, else `$CRIME_MONITOR_DB`, else `data/warehouse.duckdb`.
"""

from __future__ import annotations

import argparse
import sys

from etl.cli import register_commands
from etl.warehouse import LoadError, connect_read_only, resolve_db_path

# modules that add their own sub-command with register(subparsers)
EXTRA_COMMANDS = ["etl.demo", "etl.fetch", "etl.parquet", "etl.national"]


def _cmd_load(args: argparse.Namespace) -> int:
    from etl.load import load_sources

    options = {}
    if args.force:
        options["force"] = args.force
    if args.mapping:
        options["mapping"] = args.mapping
    summary = load_sources(args.sources, args.db, wait=not args.no_wait, accept_rejects=args.accept_rejects,
                           earliest_date=args.earliest_date, latest_date=args.latest_date, **options)
    print(
        f"Loaded {len(summary.files)} file(s) into {summary.db_path}: {summary.rows_read:,} rows read, "
        f"{summary.rows_loaded:,} loaded, {summary.rows_rejected:,} rejected."
    )
    for entry in summary.files:
        if entry.rows_rejected:
            print(f"  {entry.path}: {entry.rows_rejected:,} row(s) rejected (see the rejects table or the Data view)")
    if not args.no_baselines:
        from etl.baselines_hook import start_baselines

        start_baselines(summary.db_path)
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from etl.status import format_status, load_status

    path = resolve_db_path(args.db)
    if not path.exists():
        print(f"No warehouse at {path}. Load data with `python -m etl load` or build the demo with `python -m etl demo`.")
        return 1
    con = connect_read_only(path)
    try:
        print(f"Warehouse {path}")
        print(format_status(load_status(con)))
    finally:
        con.close()
    return 0


CORE_COMMANDS = {"load", "status"}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The CLI parser. For a core command (`load`, `status`) the other commands' modules are not imported:
    they pull in pandas and numpy, a second of start-up that a load does not need."""
    parser = argparse.ArgumentParser(prog="python -m etl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    load = sub.add_parser("load", help="load source files, month folders or data.police.uk zips")
    load.add_argument("sources", nargs="+", help="CSV files, month folders, parents of month folders, zips")
    load.add_argument("--db", help="warehouse file (default $CRIME_MONITOR_DB or data/warehouse.duckdb)")
    load.add_argument("--force", help="force for files that do not name one (STATS19: keep only this force; name or DfT code)")
    load.add_argument("--mapping", help="column mapping file (TOML) for a force incident extract")
    load.add_argument("--no-wait", action="store_true", help="fail at once if another load is running")
    load.add_argument("--accept-rejects", action="store_true",
                      help="load a file even when all its rows, or more than 5%% of them while it replaces data"
                           " already loaded, are rejected (by default such a file fails the load; see docs/PLAUSIBILITY.md)")
    load.add_argument("--earliest-date", metavar="YYYY-MM-DD",
                      help="rows dated before this are rejected (default $CRIME_MONITOR_EARLIEST_DATE or 2000-01-01)")
    load.add_argument("--latest-date", metavar="YYYY-MM-DD",
                      help="rows dated after this are rejected (default $CRIME_MONITOR_LATEST_DATE or tomorrow)")
    load.add_argument("--no-baselines", action="store_true",
                      help="do not start fitting the expected-vs-observed baselines in the background")
    load.set_defaults(handler=_cmd_load)

    status = sub.add_parser("status", help="what is loaded: months, gaps, rows, rejects")
    status.add_argument("--db")
    status.set_defaults(handler=_cmd_status)

    register_commands(sub, EXTRA_COMMANDS if command not in CORE_COMMANDS else [])
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    args = build_parser(arguments[0] if arguments else None).parse_args(arguments)
    try:
        return int(args.handler(args) or 0)
    except LoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print("The database was not changed.", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
