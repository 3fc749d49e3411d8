"""Command line: `python -m metrics series|compare|expected [...]`, and the commands of EXTRA_COMMANDS (weekly,
baselines, backtest, scorecard, rates, weekly-calibration, interval-calibration).

Examples:
  python -m metrics compare --db essex.duckdb --pre 2018-10:2018-12 --post 2019-01:2019-02
  python -m metrics expected --db london.duckdb --source counts --fit-from 2015-04 --fit-until 2020-02 --until 2021-06
  python -m metrics series --db essex.duckdb --by district --format csv
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import date

import pandas as pd

from etl.cli import register_commands
from metrics.filters import Filters

# modules that add their own sub-command with register(subparsers)
EXTRA_COMMANDS = ["metrics.weekly", "metrics.baselines", "metrics.backtest", "metrics.plan", "metrics.rates",
                  "metrics.weekly_calibration", "metrics.interval_calibration"]


def parse_month(text: str) -> date:
    """'2019-01' -> date(2019, 1, 1)."""
    try:
        year, month = text.strip().split("-")[:2]
        return date(int(year), int(month), 1)
    except (ValueError, TypeError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a month in the form YYYY-MM") from None


def parse_period(text: str) -> tuple[date, date]:
    """'2018-10:2018-12' -> (date(2018, 10, 1), date(2018, 12, 1)); a single month is a one-month period."""
    parts = text.split(":")
    if len(parts) == 1:
        month = parse_month(parts[0])
        return month, month
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"{text!r} is not a period in the form YYYY-MM:YYYY-MM")
    first, last = parse_month(parts[0]), parse_month(parts[1])
    if last < first:
        raise argparse.ArgumentTypeError(f"period {text!r} ends before it starts")
    return first, last


def _filters(args: argparse.Namespace) -> Filters:
    return Filters(
        force_id=args.force,
        districts=tuple(args.district or ()),
        categories=tuple(args.category or ()),
    )


def _by(args: argparse.Namespace) -> list[str] | None:
    if args.by is None:
        return None
    return [name for part in args.by for name in part.split(",") if name]


def _format_float(value: float) -> str:
    if math.isfinite(value) and abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def emit(frame: pd.DataFrame, fmt: str, out=None) -> None:
    """Print a frame as an aligned table, CSV or JSON records (NaN/inf as null in JSON)."""
    out = out or sys.stdout
    if fmt == "csv":
        frame.to_csv(out, index=False)
    elif fmt == "json":
        records = []
        for record in frame.to_dict(orient="records"):
            clean = {}
            for key, value in record.items():
                if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
                    value = None if math.isnan(value) else ("inf" if value > 0 else "-inf")
                elif isinstance(value, date):
                    value = value.isoformat()
                elif hasattr(value, "item"):
                    value = value.item()
                clean[key] = value
            records.append(clean)
        payload = {"rows": records}
        if frame.attrs:
            payload["attrs"] = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in frame.attrs.items()
                                if isinstance(v, (str, int, float, date, type(None)))}
        json.dump(payload, out, indent=2, default=str)
        out.write("\n")
    else:
        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 250,
                               "display.float_format", _format_float):
            out.write(frame.to_string(index=False) + "\n")
        note = frame.attrs.get("note")
        if note:
            out.write(f"\n{note}\n")


def _connect(args: argparse.Namespace):
    from metrics.db import connect

    return connect(args.db)


def _cmd_series(args: argparse.Namespace) -> int:
    from metrics.series import monthly_series, with_rolling

    con = _connect(args)
    try:
        start = args.start
        end = args.end
        frame = monthly_series(con, args.source, _by(args), _filters(args), start, end, args.value, dataset=args.dataset)
        if args.rolling:
            frame = with_rolling(frame, value_col=args.value)
    finally:
        con.close()
    emit(frame, args.format)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from metrics.compare import change_by
    from metrics.series import family_spec

    if args.pre is None or args.post is None:
        raise SystemExit("compare needs --pre YYYY-MM:YYYY-MM and --post YYYY-MM:YYYY-MM")
    by = _by(args)
    if by is None:
        category = family_spec(args.source).category_column
        by = [category] if category else []
    con = _connect(args)
    try:
        # the same call as the views and the pack: BH across the force's own districts / categories only
        frame = change_by(con, args.source, by, (args.pre, args.post), _filters(args), args.alpha,
                          value=args.value, dataset=args.dataset)
    finally:
        con.close()
    emit(frame, args.format)
    return 0


def _cmd_expected(args: argparse.Namespace) -> int:
    from metrics.expected import expected_vs_observed

    con = _connect(args)
    try:
        frame = expected_vs_observed(con, args.source, _filters(args), fit_until=args.fit_until, until=args.until,
                                     fit_from=args.fit_from, value=args.value, dataset=args.dataset,
                                     include_disrupted=args.include_disrupted)
    finally:
        con.close()
    if args.format == "table":
        sys.stdout.write(f"Method: {frame.attrs.get('method')}; model: {frame.attrs.get('model')}\n"
                         f"{frame.attrs.get('basis')}\n")
    emit(frame, args.format)
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    from metrics.series import FAMILIES

    parser.add_argument("--db", help="warehouse file (default $CRIME_MONITOR_DB or data/warehouse.duckdb)")
    parser.add_argument("--source", default="crimes", choices=sorted(FAMILIES), help="family of data (default crimes)")
    parser.add_argument("--force", help="data.police.uk force id, e.g. essex (default: every force loaded)")
    parser.add_argument("--district", action="append", help="keep only this district (repeatable)")
    parser.add_argument("--category", action="append", help="keep only this category / crime type (repeatable)")
    parser.add_argument("--dataset", help="counts only: one dataset of the counts table (e.g. london-datastore)")
    parser.add_argument("--value", default="count", help="value to sum (default count; fraud: reported_loss_gbp)")
    parser.add_argument("--format", default="table", choices=["table", "csv", "json"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m metrics", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    series = sub.add_parser("series", help="monthly counts (optionally by a column), rolling 12-month totals")
    _common(series)
    series.add_argument("--by", action="append", help="group column(s), e.g. crime_type or district (comma-separated)")
    series.add_argument("--start", type=parse_month, help="first month YYYY-MM (default: first loaded)")
    series.add_argument("--end", "--until", dest="end", type=parse_month, help="last month YYYY-MM (default: last loaded)")
    series.add_argument("--rolling", action="store_true", help="add rolling 12-month totals and year-on-year change")
    series.set_defaults(handler=_cmd_series)

    compare = sub.add_parser("compare", help="two periods per group: rate ratio, exact 95%% CI, p and BH q-values")
    _common(compare)
    compare.add_argument("--by", action="append", help="group column(s) (default: the family's category; 'none' for a total)")
    compare.add_argument("--pre", type=parse_period, help="comparison period YYYY-MM:YYYY-MM")
    compare.add_argument("--post", type=parse_period, help="period of interest YYYY-MM:YYYY-MM")
    compare.add_argument("--alpha", type=float, default=0.05, help="false discovery rate / interval level (default 0.05)")
    compare.set_defaults(handler=_cmd_compare)

    expected = sub.add_parser("expected", help="seasonal model on a pre-period projected forward with a 95%% interval")
    _common(expected)
    expected.add_argument("--fit-from", type=parse_month, help="first month of the fit period (default: first loaded)")
    expected.add_argument("--fit-until", type=parse_month, default=date(2020, 2, 1), help="last month of the fit period (default 2020-02)")
    expected.add_argument("--until", type=parse_month, help="last month projected (default: last loaded)")
    expected.add_argument("--include-disrupted", action="store_true",
                          help="fit on disrupted months too (default: leave out the COVID-19 calendar and other disruptions)")
    expected.set_defaults(handler=_cmd_expected)

    register_commands(sub, EXTRA_COMMANDS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "by", None) == ["none"]:
        args.by = []
    try:
        return int(args.handler(args) or 0)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
