"""Command line: build the Panel briefing pack without a browser.

    python -m briefing --db data/warehouse.duckdb --period latest12 --out pack.pptx [--pdf]
    python -m briefing --db PATH --period covid --out pack.pptx
    python -m briefing --db PATH --period 2020-04..2021-03 [--compare 2019-04..2020-03] --out pack.pptx

--period: 'latest12' (the 12 months to the latest loaded month against the 12 before), 'covid'
(Mar 2020–Feb 2021 against Mar 2019–Feb 2020), or a month range YYYY-MM..YYYY-MM (the current period),
compared with --compare (default: the same months a year earlier).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import date

from briefing import __version__

_MONTH_RANGE = re.compile(r"^(\d{4})-(\d{2})(?:\.\.(\d{4})-(\d{2}))?$")


def parse_month_range(text: str, option: str) -> tuple[date, date]:
    """'2020-04..2021-03' (or one month '2020-04') -> (first month, last month); ValueError naming the option."""
    match = _MONTH_RANGE.match(text.strip())
    if not match:
        raise ValueError(f"{option} {text!r}: expected YYYY-MM..YYYY-MM (e.g. 2020-04..2021-03)")
    y1, m1, y2, m2 = match.groups()
    try:
        first = date(int(y1), int(m1), 1)
        last = date(int(y2), int(m2), 1) if y2 else first
    except ValueError:
        raise ValueError(f"{option} {text!r}: not a real month") from None
    if last < first:
        raise ValueError(f"{option} {text!r}: ends before it starts")
    return first, last


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m briefing", description="Build the Panel briefing pack (PPTX, optional PDF).")
    parser.add_argument("--db", help="warehouse file (default $CRIME_MONITOR_DB or data/warehouse.duckdb)")
    parser.add_argument("--period", default="latest12",
                        help="latest12 | covid | YYYY-MM..YYYY-MM (current period; default latest12)")
    parser.add_argument("--compare", help="baseline period YYYY-MM..YYYY-MM (with a --period range; default: a year earlier)")
    parser.add_argument("--out", default="pack.pptx", help="output PPTX path (default pack.pptx)")
    parser.add_argument("--pdf", action="store_true", help="also write the pack as one PDF beside the PPTX")
    parser.add_argument("--force", dest="force_id", help="force id, e.g. essex (default: the only force loaded)")
    parser.add_argument("--district", action="append", default=[], help="limit to a district (repeatable)")
    parser.add_argument("--priority", action="append", default=[], help="only this priority id (repeatable)")
    parser.add_argument("--threshold", type=int, help="disclosure threshold: counts 1..N shown as <N+1 (default 4)")
    parser.add_argument("--version", action="version", version=f"Crime Plan Monitor briefing {__version__}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from briefing.disclosure import DisclosureRule
    from briefing.pack import build_pack
    from etl.warehouse import connect_read_only, resolve_db_path
    from metrics import calendar
    from metrics.filters import Filters

    try:
        if args.period in ("latest12", "covid"):
            if args.compare:
                raise ValueError("--compare goes with a --period range (YYYY-MM..YYYY-MM), not a preset")
            comparison = args.period
        else:
            post = parse_month_range(args.period, "--period")
            pre = parse_month_range(args.compare, "--compare") if args.compare else calendar.same_period_last_year(*post)[0]
            comparison = (pre, post)
        rule = DisclosureRule(threshold=args.threshold) if args.threshold is not None else DisclosureRule()
        db_path = resolve_db_path(args.db)
        con = connect_read_only(db_path)
    except (ValueError, FileNotFoundError) as exc:
        print(f"briefing: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        from briefing.pack import resolve_pack_comparison

        filters = Filters(force_id=args.force_id, districts=tuple(args.district))
        resolved = resolve_pack_comparison(con, comparison, filters)
        if not isinstance(comparison, str) and resolved.notice:
            print(f"briefing: {resolved.notice}", file=sys.stderr)
            return 2
        out = build_pack(con, resolved, filters, args.out, pdf=args.pdf, rule=rule,
                         priority_ids=tuple(args.priority) or None, db_label=db_path.name)
    except ValueError as exc:
        print(f"briefing: {exc}", file=sys.stderr)
        return 2
    finally:
        con.close()
        from briefing.images import stop_server

        stop_server()  # close Chromium cleanly before the interpreter exits
    seconds = time.perf_counter() - started
    print(f"wrote {out} ({out.stat().st_size:,} bytes) in {seconds:.1f} s; {resolved.label}")
    if resolved.notice:
        print(f"note: {resolved.notice}")
    if args.pdf:
        pdf_path = out.with_suffix(".pdf")
        print(f"wrote {pdf_path} ({pdf_path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
