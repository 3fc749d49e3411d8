"""Weekly figures for the senior officer: each dated measure, week by week, against the same time of year in
earlier years, with an exceedance flag (the improved Farrington method of metrics.exceedance: COVID-19 weeks
left out of every baseline, negative-binomial threshold, false-alarm rate measured by
`python -m metrics weekly-calibration`).

`weekly_table(con, week=None, force_id=None)` — one row per measure of the dated sources (force extract:
all, domestic abuse, hate crime, child victim, violence and sexual offences; stop and search: searches,
arrests; STATS19: collisions, KSI collisions) for one week. Columns (TABLE_COLUMNS): priority, measure,
source, week_start, week_end, observed, same_week_last_year, same_week_mean_previous_years,
last_4_weeks_mean, expected, upper_threshold, exceeds, note, measure_id, baseline_weeks, weeks_left_out.
Counts are events per week (incidents by recorded date, searches by date in UK local time, collisions by
date). The default week is the latest complete Monday–Sunday week of the loaded data (across the three
sources); a source whose data does not cover that week shows empty figures and says so. `note` is plain
words; FLAG_MEANING says what a flag means.

`weekly_range(con, start, end, force_id=None)` — every week from the week of `start` to the week of `end`,
one row per measure and week (RANGE_COLUMNS, starting week_start, measure, observed, expected,
upper_threshold, exceeds, note).

CLI: `python -m metrics weekly --db PATH [--week YYYY-MM-DD | --from YYYY-MM-DD --to YYYY-MM-DD]
[--force essex] [--format table|csv|json]`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import date, timedelta

import pandas as pd

from metrics.exceedance import (
    DEFAULT_ALPHA,
    DEFAULT_WINDOW_WEEKS,
    DEFAULT_YEARS_BACK,
    FLAG_MEANING,
    MIN_BASELINE_WEEKS,
    MIN_RECENT_TOTAL,
    disrupted_weeks,
    exceedance,
    method_text,
    monday,
    same_week_years_back,
)
from metrics.registry import WEEKLY_MEASURES, WeeklyMeasure  # the dated measures (one registry)

TABLE_COLUMNS = [
    "priority", "measure", "source", "week_start", "week_end", "observed", "same_week_last_year",
    "same_week_mean_previous_years", "last_4_weeks_mean", "expected", "upper_threshold", "exceeds", "note",
    "measure_id", "baseline_weeks", "weeks_left_out",
]
RANGE_COLUMNS = [
    "week_start", "measure", "observed", "expected", "upper_threshold", "exceeds", "note", "week_end", "priority",
    "source", "measure_id", "same_week_last_year", "same_week_mean_previous_years", "last_4_weeks_mean",
    "baseline_weeks", "weeks_left_out",
]
MAX_RANGE_WEEKS = 5 * 53
# the weekly statistics' public names, re-exported from metrics.exceedance
__all__ = [
    "FLAG_MEANING", "MIN_BASELINE_WEEKS", "MIN_RECENT_TOTAL", "RANGE_COLUMNS", "SOURCES", "TABLE_COLUMNS",
    "WEEKLY_MEASURES", "WeeklyMeasure", "disrupted_weeks", "exceedance", "latest_complete_week", "monday",
    "print_table", "register", "same_week_years_back", "weekly_range", "weekly_table",
]


# source -> (label, event date expression, first and last day the data cover) — fixed SQL, never user input
SOURCES: dict[str, tuple[str, str, str, str]] = {
    "incidents": ("force extract", "cast(recorded_at as date)", "min(cast(recorded_at as date))",
                  "max(cast(recorded_at as date))"),
    # stop and search is published by month: the data cover their months from the first to the last day
    "stop_search": ("stop and search", "cast(timezone('Europe/London', occurred_at) as date)", "min(month)",
                    "max(last_day(month))"),
    "collisions": ("STATS19", "collision_date", "min(collision_date)", "max(collision_date)"),
}


def _source_weeks(con, source: str, force_id: str | None) -> tuple[pd.DataFrame, date | None, date | None]:
    """(counts per measure and week, first fully covered Monday, last fully covered Monday) for one source."""
    day_expr = SOURCES[source][1]
    measures = [m for m in WEEKLY_MEASURES if m.source == source]
    first_week, last_week = _source_bounds(con, source, force_id)
    if first_week is None or last_week < first_week:
        return pd.DataFrame(columns=["measure_id", "week_start", "count"]), first_week, last_week
    counts_sql = ",\n".join(f"count(*) filter (where {m.condition}) as {m.id}" for m in measures)
    frame = con.execute(
        f"""
        with

        source_rows as (
            select *, {day_expr} as event_date from {source} where (?::varchar is null or force_id = ?)
        ),

        weekly as (
            select
                cast(date_trunc('week', event_date) as date) as week_start,
                {counts_sql}
            from source_rows
            where event_date between ? and ?
            group by 1
        ),

        final as (
            unpivot weekly on {', '.join(m.id for m in measures)} into name measure_id value count
        )

        select * from final
        """,
        [force_id, force_id, first_week, last_week + timedelta(days=6)],
    ).df()
    return frame, first_week, last_week


def latest_complete_week(con, force_id: str | None = None) -> date | None:
    """The latest Monday whose whole week (to Sunday) is covered by the loaded dated data (any source)."""
    latest = None
    for source in SOURCES:
        first_week, last_week = _source_bounds(con, source, force_id)
        if last_week is not None and first_week is not None and last_week >= first_week:
            latest = last_week if latest is None else max(latest, last_week)
    return latest


def _source_bounds(con, source: str, force_id: str | None) -> tuple[date | None, date | None]:
    """(first, last) Monday of the weeks the source's data cover completely; (None, None) when empty."""
    _label, _day_expr, start_expr, end_expr = SOURCES[source]
    first_day, last_day = con.execute(
        f"select {start_expr}, {end_expr} from {source} where (?::varchar is null or force_id = ?)",
        [force_id, force_id],
    ).fetchall()[0]
    if first_day is None or last_day is None:
        return None, None
    first_week = monday(first_day) if first_day.weekday() == 0 else monday(first_day) + timedelta(weeks=1)
    last_week = monday(last_day) - (timedelta(weeks=1) if last_day.weekday() != 6 else timedelta(0))
    return first_week, last_week


def _measure_series(con, force_id: str | None) -> dict[str, tuple[pd.Series | None, str]]:
    """{measure id: (its weekly counts over the weeks its source covers completely, or None when the source
    covers no complete week; why not)}."""
    out: dict[str, tuple[pd.Series | None, str]] = {}
    for source, (label, *_rest) in SOURCES.items():
        frame, first_week, last_week = _source_weeks(con, source, force_id)
        for measure in (m for m in WEEKLY_MEASURES if m.source == source):
            if first_week is None or last_week < first_week:
                out[measure.id] = (None, f"No {label} data loaded." if first_week is None
                                   else f"The {label} data cover no complete week.")
                continue
            chosen = frame[frame["measure_id"] == measure.id]
            counts = {pd.Timestamp(w).date(): float(c) for w, c in zip(chosen["week_start"], chosen["count"])}
            weeks = [first_week + timedelta(weeks=k) for k in range((last_week - first_week).days // 7 + 1)]
            out[measure.id] = (pd.Series({w: counts.get(w, 0.0) for w in weeks}, dtype="float64"), "")
    return out


def _rows(con, weeks: list[date | None], force_id: str | None, years_back: int, window_weeks: int,
          alpha: float) -> pd.DataFrame:
    """One row per week and measure (TABLE_COLUMNS)."""
    series_by_measure = _measure_series(con, force_id)
    rows = []
    for target in weeks:
        for measure in WEEKLY_MEASURES:
            label = SOURCES[measure.source][0]
            row = {"priority": measure.priority, "measure": measure.label, "source": label, "measure_id": measure.id,
                   "week_start": target, "week_end": target + timedelta(days=6) if target else None}
            series, why_not = series_by_measure[measure.id]
            if target is None or series is None:
                rows.append({**row, "note": why_not or "No complete week of dated data loaded."})
                continue
            result = exceedance(series, target, years_back=years_back, window_weeks=window_weeks, alpha=alpha)
            first_week, last_week = series.index[0], series.index[-1]
            if not (first_week <= target <= last_week):
                result["note"] = (f"The {label} data cover complete weeks {first_week:%d %b %Y} to "
                                  f"{last_week + timedelta(days=6):%d %b %Y} only.")
            rows.append({**row, **{key: result[key] for key in TABLE_COLUMNS if key in result}})
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    for whole in ("observed", "same_week_last_year"):  # counts of events: whole numbers, empty where unknown
        table[whole] = pd.array([None if pd.isna(v) else int(v) for v in table[whole]], dtype="Int64")
    table["exceeds"] = pd.Series([v if isinstance(v, bool) else None for v in table["exceeds"]], dtype="object")
    table.attrs.update(method=method_text(years_back, window_weeks, alpha), flag_meaning=FLAG_MEANING)
    return table


def weekly_table(
    con,
    week: date | None = None,
    force_id: str | None = None,
    years_back: int = DEFAULT_YEARS_BACK,
    window_weeks: int = DEFAULT_WINDOW_WEEKS,
    alpha: float = DEFAULT_ALPHA,
) -> pd.DataFrame:
    """One row per dated measure for one week (see the module docstring). `week`: any date in the week
    (default: the latest complete week of the loaded data). attrs: week_start, method, flag_meaning."""
    target = monday(week) if week is not None else latest_complete_week(con, force_id)
    table = _rows(con, [target], force_id, years_back, window_weeks, alpha)
    table.attrs["week_start"] = target
    return table


def weekly_range(
    con,
    start: date,
    end: date | None = None,
    force_id: str | None = None,
    years_back: int = DEFAULT_YEARS_BACK,
    window_weeks: int = DEFAULT_WINDOW_WEEKS,
    alpha: float = DEFAULT_ALPHA,
) -> pd.DataFrame:
    """Every week from the week of `start` to the week of `end` (default: the latest complete week), one row per
    measure and week (RANGE_COLUMNS). At most MAX_RANGE_WEEKS weeks. attrs: from, to, method, flag_meaning."""
    end = end if end is not None else latest_complete_week(con, force_id)
    if end is None:
        raise ValueError("no complete week of dated data loaded (force extract, stop and search or STATS19)")
    first, last = monday(start), monday(end)
    if last < first:
        raise ValueError(f"--to {end} is before --from {start}")
    count = (last - first).days // 7 + 1
    if count > MAX_RANGE_WEEKS:
        raise ValueError(f"{count} weeks asked for; at most {MAX_RANGE_WEEKS} at a time")
    weeks = [first + timedelta(weeks=k) for k in range(count)]
    table = _rows(con, weeks, force_id, years_back, window_weeks, alpha)[RANGE_COLUMNS]
    table.attrs.update(method=method_text(years_back, window_weeks, alpha), flag_meaning=FLAG_MEANING,
                       **{"from": first, "to": last})
    return table


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
def _parse_week(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def register(subparsers) -> None:
    """Add `weekly` to `python -m metrics`."""
    parser = subparsers.add_parser("weekly", help="dated measures week by week, with exceedance flags")
    parser.add_argument("--db", help="warehouse file (default $CRIME_MONITOR_DB or data/warehouse.duckdb)")
    parser.add_argument("--week", type=_parse_week, help="any date in one week (default: latest complete week)")
    parser.add_argument("--from", dest="start", type=_parse_week, help="every week from the week of this date")
    parser.add_argument("--to", dest="end", type=_parse_week,
                        help="... to the week of this date (default: the latest complete week)")
    parser.add_argument("--force", help="data.police.uk force id, e.g. essex (default: every force loaded)")
    parser.add_argument("--format", default="table", choices=["table", "csv", "json"])
    parser.set_defaults(handler=_cmd_weekly)


def _cmd_weekly(args: argparse.Namespace) -> int:
    from metrics.db import connect

    ranged = args.start is not None or args.end is not None
    if ranged and args.week is not None:
        raise ValueError("give either --week or --from/--to, not both")
    con = connect(args.db)
    try:
        if ranged:
            table = weekly_range(con, args.start or args.end, args.end, getattr(args, "force", None))
        else:
            table = weekly_table(con, args.week, getattr(args, "force", None))
    finally:
        con.close()
    print_table(table, args.format)
    return 0


def _json_value(value):
    if value is pd.NA or value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, date):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


def print_table(table: pd.DataFrame, fmt: str = "table", out=None) -> None:
    """Print the weekly table (one week, or a range of weeks) as an aligned text table, CSV or JSON."""
    out = out or sys.stdout
    if fmt == "csv":
        table.to_csv(out, index=False)
        return
    attrs = table.attrs
    if fmt == "json":
        records = [{key: _json_value(value) for key, value in record.items()} for record in table.to_dict(orient="records")]
        header = {key: _json_value(attrs.get(key)) for key in ("week_start", "from", "to") if key in attrs}
        json.dump({**header, "method": attrs.get("method"), "flag_meaning": attrs.get("flag_meaning"),
                   "rows": records}, out, indent=2, default=str)
        out.write("\n")
        return
    start = attrs.get("week_start")
    if "from" in attrs:
        heading = f"Weeks {attrs['from']:%a %d %b %Y} to {attrs['to'] + timedelta(days=6):%a %d %b %Y}"
    elif start:
        heading = f"Week {start:%a %d %b %Y} to {start + timedelta(days=6):%a %d %b %Y}"
    else:
        heading = "No complete week of dated data loaded"
    dropped = ["week_end", "measure_id", "source", "baseline_weeks", "weeks_left_out"] + ([] if "from" in attrs else ["week_start"])
    shown = table.drop(columns=dropped).copy()
    shown["exceeds"] = shown["exceeds"].map({True: "YES", False: "no"}).fillna("–")
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 250,
                           "display.max_colwidth", 90, "display.float_format", lambda v: f"{v:.1f}"):
        out.write(heading + "\n\n" + shown.to_string(index=False, na_rep="–") + "\n\n" + attrs.get("method", "")
                  + "\n" + attrs.get("flag_meaning", "") + "\n")
