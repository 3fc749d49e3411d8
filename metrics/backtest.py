"""`python -m metrics backtest`: how often the expected-vs-observed 95% intervals hold, measured.

Rolling-origin backtest of metrics.expected (the same fit window rule, model and intervals the views use):
for each series and each origin month, fit on the months up to the origin and project the next `horizon`
months; a month is covered when its count lies inside its 95% prediction interval, and the forecast total
is covered when the observed total over the horizon lies inside the interval of the cumulative difference.

Series groups:
- London (real): the Metropolitan Police borough file (London Datastore, `--london`, default
  $CRIME_REFERENCE_DATA/london-datastore/mps-borough-level-crime-historical.csv), summed over boroughs:
  the total and each major category, origins 2014-02..2019-02 monthly, 10-month horizons. Categories
  with zero months are left out (FRAUD AND FORGERY is recorded as 0 from 2013, when Action Fraud took
  over the reports).
  `--boroughs` adds real small-area series: every 6th borough × major category series with no zero month
  (in name order), at every 6th origin.
- Demo (synthetic, `--demo-db`): each police.uk crime type and each plan measure of the demo warehouse,
  force-wide, fit until 2020-02 at the latest (origins from the first with 24 months of history until
  the last whose horizon ends by 2020-02); `--demo-districts` adds each crime type per district (small
  counts).

Prints, per group and overall, the number of forecasts and the empirical coverage of the monthly 95%
interval and of the cumulative-difference interval, against the target 93–97%, and the model fit time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from metrics import expected
from metrics.expected import MIN_MODEL_MONTHS, expected_from_series
from metrics.filters import add_months, months_between

TARGET = (0.93, 0.97)
LONDON_FILE = Path("london-datastore") / "mps-borough-level-crime-historical.csv"
LONDON_ORIGINS = (date(2014, 2, 1), date(2019, 2, 1))
DEMO_LAST_CLEAN = date(2020, 2, 1)
HORIZON = 10
BOROUGH_SAMPLE = 6  # every 6th borough x major category series, and every 6th origin, for `--boroughs`


@dataclass
class Series:
    """One monthly series to backtest: group, name, values indexed by first-of-month Timestamps."""

    group: str
    name: str
    values: pd.Series


def default_london_file() -> Path:
    root = Path(os.environ.get("CRIME_REFERENCE_DATA", Path(__file__).resolve().parent.parent.parent / "shared" / "data"))
    return root / LONDON_FILE


def _london_frame(path: str | os.PathLike) -> pd.DataFrame:
    """borough, major_category, month, crimes: the file summed over minor categories, in DuckDB."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: London Datastore borough file not found (give --london)")
    con = duckdb.connect()
    try:
        return con.execute(
            """
            with

            source as (
                select * from read_csv(?, header = true, all_varchar = true)
            ),

            unpivoted as (
                unpivot source on columns(* exclude (MajorText, MinorText, BoroughName))
                into name period value recorded
            ),

            typed as (
                select BoroughName as borough, MajorText as major_category,
                       strptime(period, '%Y%m')::date as month, cast(recorded as bigint) as crimes
                from unpivoted
            ),

            final as (
                select borough, major_category, month, sum(crimes) as crimes from typed group by all
            )

            select * from final order by borough, major_category, month
            """,
            [str(path)],
        ).df()
    finally:
        con.close()


def london_series(path: str | os.PathLike, boroughs: bool = False) -> list[Series]:
    """The London total and major categories by month, summed over boroughs; with `boroughs`, also a fixed
    sample of borough × major category series (every BOROUGH_SAMPLE-th in name order, small counts)."""
    frame = _london_frame(path)
    out = [Series("London total", "all recorded crime", _indexed(frame.groupby("month")["crimes"].sum()))]
    for name, part in frame.groupby("major_category"):
        values = _indexed(part.groupby("month")["crimes"].sum())
        if (values > 0).all():  # categories with zero months are left out
            out.append(Series("London major categories", str(name).capitalize(), values))
    if boroughs:
        kept = [(key, part) for key, part in frame.groupby(["borough", "major_category"]) if (part["crimes"] > 0).all()]
        for (borough, name), part in kept[::BOROUGH_SAMPLE]:
            out.append(Series("London boroughs (sample)", f"{borough}: {str(name).capitalize()}",
                              _indexed(part.set_index("month")["crimes"])))
    return out


def _indexed(values: pd.Series) -> pd.Series:
    return pd.Series(values.to_numpy(dtype="float64"), index=pd.to_datetime(values.index)).sort_index()


def demo_series(db: str | os.PathLike, districts: bool = False) -> list[Series]:
    """Each crime type and plan measure of a demo warehouse, force-wide (and crime types per district)."""
    from metrics import plan
    from metrics.db import connect
    from metrics.filters import Filters
    from metrics.series import categories, data_range, forces, monthly_series
    from metrics.series import districts as district_names

    con = connect(db)
    try:
        force_id = str(forces(con)["force_id"].iloc[0])
        out = []
        for name in categories(con, "crimes", Filters(force_id=force_id)):
            frame = monthly_series(con, "crimes", None, Filters(force_id, (), (name,)))
            out.append(Series("Demo crime types", name, _series(frame)))
        for item in plan.MEASURES:
            if item.family != "crimes" and plan.measure_available(con, item, Filters(force_id=force_id)):
                first, last = data_range(con, item.family, Filters(force_id=force_id))
                out.append(Series("Demo measures", item.label, _series(plan.measure_series(
                    con, item, Filters(force_id=force_id), first, last))))
        if districts:
            for district in district_names(con, "crimes", force_id):
                for name in categories(con, "crimes", Filters(force_id=force_id)):
                    frame = monthly_series(con, "crimes", None, Filters(force_id, (district,), (name,)))
                    out.append(Series("Demo crime types by district", f"{district}: {name}", _series(frame)))
        return out
    finally:
        con.close()


def _series(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(frame["count"].to_numpy(dtype="float64"), index=pd.to_datetime(frame["month"]))


def origins_for(values: pd.Series, first: date | None, last: date | None, horizon: int) -> list[date]:
    """Origins (last fitted month) from `first` (default: the first with 24 months of history) to `last`
    (default: the last whose horizon the series covers), monthly."""
    start = values.index.min().date()
    end = values.index.max().date()
    first = first or add_months(start, MIN_MODEL_MONTHS - 1)
    last = last or add_months(end, -horizon)
    return [add_months(first, i) for i in range(max(months_between(first, last), 0))]


def backtest_series(series: Series, origins: list[date], horizon: int, alpha: float = 0.05) -> tuple[pd.DataFrame, list[float]]:
    """One row per (origin, month ahead): observed, lower, upper, covered; plus one row per origin for the
    total (step 0): covered when the observed total is inside the cumulative interval. And fit seconds."""
    rows, seconds = [], []
    for origin in origins:
        end = add_months(origin, horizon)
        values = series.values[series.values.index <= pd.Timestamp(end)]
        started = time.process_time()
        frame = expected_from_series(values, fit_until=origin, until=end, alpha=alpha)
        seconds.append(time.process_time() - started)
        projected = frame[frame["cumulative_difference"].notna()]
        if frame.attrs.get("method") is None or len(projected) != horizon:
            continue
        for step, record in enumerate(projected.itertuples(index=False), start=1):
            rows.append((series.group, series.name, origin, step, record.observed, record.lower, record.upper,
                         record.lower <= record.observed <= record.upper))
        last = projected.iloc[-1]
        rows.append((series.group, series.name, origin, 0, float(projected["observed"].sum()),
                     last["cumulative_lower"], last["cumulative_upper"],
                     last["cumulative_lower"] <= 0 <= last["cumulative_upper"]))
    columns = ["group", "series", "origin", "step", "observed", "lower", "upper", "covered"]
    return pd.DataFrame(rows, columns=columns), seconds


def coverage_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per group and overall: series, origins, monthly forecasts, monthly and cumulative coverage."""
    def summarise(part: pd.DataFrame, group: str) -> dict:
        monthly = part[part["step"] > 0]
        totals = part[part["step"] == 0]
        return {"group": group, "series": part["series"].nunique(), "origins": part["origin"].nunique(),
                "monthly_forecasts": len(monthly), "monthly_coverage": float(monthly["covered"].mean()),
                "total_forecasts": len(totals), "cumulative_coverage": float(totals["covered"].mean())}

    rows = [summarise(part, group) for group, part in results.groupby("group", sort=False)]
    rows.append(summarise(results, "overall"))
    return pd.DataFrame(rows)


def run_backtest(london: str | os.PathLike | None, demo_db: str | os.PathLike | None, horizon: int = HORIZON,
                 demo_districts: bool = False, log=print, boroughs: bool = False,
                 ) -> tuple[pd.DataFrame, pd.DataFrame, list[float]]:
    """(coverage table, per-forecast results, CPU seconds per fit) over the chosen series."""
    plans: list[tuple[Series, list[date]]] = []
    if london is not None:
        for series in london_series(london, boroughs):
            origins = origins_for(series.values, *LONDON_ORIGINS, horizon)
            plans.append((series, origins[::BOROUGH_SAMPLE] if series.group.startswith("London boroughs") else origins))
    if demo_db is not None:
        for series in demo_series(demo_db, demo_districts):
            clean = series.values[series.values.index <= pd.Timestamp(DEMO_LAST_CLEAN)]
            plans.append((series, origins_for(clean, None, None, horizon)))
    frames, seconds = [], []
    for number, (series, origins) in enumerate(plans, start=1):
        frame, fit_seconds = backtest_series(series, origins, horizon)
        frames.append(frame)
        seconds.extend(fit_seconds)
        if number % 10 == 0:
            log(f"backtest: {number} of {len(plans)} series")
    results = pd.concat(frames, ignore_index=True)
    return coverage_table(results), results, seconds


def _cmd_backtest(args: argparse.Namespace) -> int:
    from metrics.__main__ import emit

    london = None if args.no_london else (args.london or default_london_file())
    if london is None and args.demo_db is None:
        raise ValueError("nothing to backtest: give --demo-db, or leave out --no-london")
    if args.max_fit_months is not None:  # this process only: how calibration depends on the window length
        if not MIN_MODEL_MONTHS <= args.max_fit_months <= expected.MAX_FIT_MONTHS:
            raise ValueError(f"--max-fit-months must be {MIN_MODEL_MONTHS}..{expected.MAX_FIT_MONTHS}")
        expected.MAX_FIT_MONTHS = args.max_fit_months
    table, results, seconds = run_backtest(london, args.demo_db, args.horizon, args.demo_districts,
                                           log=lambda m: print(m, file=sys.stderr), boroughs=args.boroughs)
    if args.results:
        results.to_csv(args.results, index=False)
    low, high = TARGET
    table.attrs["note"] = (
        f"Coverage of the 95% prediction interval (monthly) and of the cumulative-difference interval (total over "
        f"{args.horizon} months) [target {low:.0%}–{high:.0%}]. Model selection + forecast per series: median "
        f"{np.median(seconds) * 1000:.0f} ms CPU over {len(seconds)} fits (load average {os.getloadavg()[0]:.1f}); "
        f"fit windows of at most {expected.MAX_FIT_MONTHS} months.")
    emit(table, args.format)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("backtest", help="rolling-origin backtest: coverage of the 95%% intervals")
    parser.add_argument("--london", help="London Datastore borough file (default: in $CRIME_REFERENCE_DATA)")
    parser.add_argument("--no-london", action="store_true", help="leave the London series out")
    parser.add_argument("--boroughs", action="store_true",
                        help=f"also a sample of London borough x category series (every {BOROUGH_SAMPLE}th, "
                             f"every {BOROUGH_SAMPLE}th origin)")
    parser.add_argument("--demo-db", help="a demo warehouse (python -m etl demo) for the synthetic series")
    parser.add_argument("--demo-districts", action="store_true", help="also each demo crime type per district")
    parser.add_argument("--horizon", type=int, default=HORIZON, help=f"months projected per origin (default {HORIZON})")
    parser.add_argument("--max-fit-months", type=int,
                        help="fit on at most this many months (default: the views' rule, at most "
                             f"{expected.MAX_FIT_MONTHS}): how calibration depends on the window length")
    parser.add_argument("--results", help="also write every forecast's row to this CSV")
    parser.add_argument("--format", default="table", choices=["table", "csv", "json"])
    parser.set_defaults(handler=_cmd_backtest)
