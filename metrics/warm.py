"""`python -m metrics warm`: fit, ahead of the first visitor, the seasonal models the default views need
(the scorecard's expected-vs-observed flags and the COVID-19 impact view, for each force with crime data,
under both comparison presets). Fits are kept in the model cache (metrics.expected.model_cache_dir), which
the app and the briefing pack read, so their first page view does not wait for model fitting."""

from __future__ import annotations

import argparse
import time

from metrics import plan
from metrics.db import connect
from metrics.filters import Filters


def warm(db: str | None = None, force_ids: list[str] | None = None, log=print) -> int:
    """Fit every default-view model for the forces (default: every force with crimes). Returns fits done."""
    from metrics.series import data_range, forces

    con = connect(db)
    try:
        frame = forces(con)
        chosen = force_ids or [str(f) for f, has in zip(frame["force_id"], frame["crimes"]) if has]
        fits = 0
        started = time.monotonic()
        for force_id in chosen:
            filters = Filters(force_id=force_id)
            first, last = data_range(con, "crimes", filters)
            if first is None:
                continue
            for preset in ("latest12", "covid"):
                comparison = plan.resolve_comparison(first, last, preset)
                if comparison is None:
                    continue
                for item in plan.MEASURES:
                    if plan.measure_available(con, item, filters):
                        plan.expected_flag(con, item.id, filters, comparison)
                        fits += 1
            for key, _label in plan.impact_keys(con, filters):
                plan.expected_series(con, key, filters, plan.COVID_FIT_UNTIL)
                fits += 1
            log(f"warm: {force_id}: models ready ({fits} series, {time.monotonic() - started:.0f} s)")
        return fits
    finally:
        con.close()


def _cmd_warm(args: argparse.Namespace) -> int:
    warm(args.db, [args.force] if args.force else None)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("warm", help="fit the default views' seasonal models ahead of the first visit")
    parser.add_argument("--db", help="warehouse file (default $CRIME_MONITOR_DB or data/warehouse.duckdb)")
    parser.add_argument("--force", help="only this force id (default: every force with crime data)")
    parser.set_defaults(handler=_cmd_warm)
