"""`python -m bench models`: how long choosing and forecasting one expected-vs-observed model takes.

For each series (the London total and major categories, real; with `--db`, the demo's crime types, plan
measures and a sample of district crime types), time metrics.expected.fit_baseline (the AICc choice among
the candidate models + the forecast) on the fit window the views use, with nothing remembered, and print
the median and 95th percentile wall and CPU time against the target (median ≤ 100 ms per series), plus
the time to read a stored baseline and build the view's frame, and the machine's load average.

    python -m bench models [--db data/warehouse.duckdb] [--london FILE] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date

import numpy as np
import pandas as pd

from metrics import expected
from metrics.backtest import default_london_file, demo_series, london_series
from metrics.expected import choose_fit_window, fit_baseline

TARGET_MS = 100.0
DISTRICT_SAMPLE = 40


def _fit_inputs(values: pd.Series, projection_start: date) -> tuple[np.ndarray, int] | None:
    """The fit values and forecast steps the views would use for a projection from projection_start."""
    monthly = values.sort_index()
    months = [m.date() for m in monthly.index]
    window = choose_fit_window(months, monthly.to_numpy(dtype="float64"), projection_start)
    if not window.ok:
        return None
    fit = monthly[(monthly.index >= pd.Timestamp(window.fit_from)) & (monthly.index <= pd.Timestamp(window.fit_until))]
    steps = len(monthly[monthly.index > pd.Timestamp(window.fit_until)])
    return fit.to_numpy(dtype="float64"), steps


def time_fits(inputs: list[tuple[np.ndarray, int]], repeat: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of fit_baseline per series (median over `repeat` runs each)."""
    walls, cpus = [], []
    for fit_values, steps in inputs:
        wall, cpu = [], []
        for _ in range(repeat):
            expected._memory_cache.clear()
            started, started_cpu = time.perf_counter(), time.process_time()
            fit_baseline(fit_values, steps + expected.SPARE_STEPS)
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        walls.append(float(np.median(wall)))
        cpus.append(float(np.median(cpu)))
    return walls, cpus


def _line(label: str, seconds: list[float], target: float | None = None) -> str:
    values = np.array(seconds) * 1000
    text = f"{label:<58} n={len(values):>4}  median {np.median(values):7.1f} ms  p95 {np.percentile(values, 95):7.1f} ms"
    if target is not None:
        verdict = "met" if np.median(values) <= target else "MISSED"
        text += f"  [target median <= {target:.0f} ms: {verdict}]"
    return text


def run(db: str | None, london: str | None, repeat: int) -> None:
    groups: dict[str, list[tuple[np.ndarray, int]]] = {}
    if london:
        inputs = [_fit_inputs(s.values, date(2020, 3, 1)) for s in london_series(london)]
        groups[f"London (real), fit to Feb 2020, at most {expected.MAX_FIT_MONTHS} months"] = [i for i in inputs if i]
    if db:
        series = demo_series(db, districts=True)
        force_wide = [s for s in series if s.group != "Demo crime types by district"]
        districts = [s for s in series if s.group == "Demo crime types by district"][::7][:DISTRICT_SAMPLE]
        for label, chosen in (("Demo force-wide (synthetic), projected from Jan 2021", force_wide),
                              ("Demo district crime types (synthetic, sample)", districts)):
            inputs = [_fit_inputs(s.values, date(2021, 1, 1)) for s in chosen]
            groups[label] = [i for i in inputs if i]
    print(f"Model selection + forecast per series (statsforecast ARIMA, {len(expected.CANDIDATE_ORDERS)} candidates "
          f"by AICc), {repeat} run(s) each; load average {os.getloadavg()[0]:.2f} at start")
    all_wall, all_cpu = [], []
    for label, inputs in groups.items():
        wall, cpu = time_fits(inputs, repeat)
        all_wall += wall
        all_cpu += cpu
        print(_line(f"{label} (wall)", wall))
        print(_line(f"{label} (CPU)", cpu))
    print(_line("all series (wall)", all_wall, TARGET_MS))
    print(_line("all series (CPU)", all_cpu, TARGET_MS))
    if db:
        _time_stored_reads(db)
    print(f"load average at end {os.getloadavg()[0]:.2f}")


def _time_stored_reads(db: str) -> None:
    """The COVID-19 view's calls with the warehouse's stored baselines (after `python -m metrics baselines`)."""
    from metrics import plan
    from metrics.db import connect
    from metrics.filters import Filters

    con = connect(db)
    try:
        filters = Filters(force_id="essex")
        keys = plan.impact_keys(con, filters)
        plan.expected_series(con, keys[0][0], filters)
        seconds, sources = [], []
        for key, _label in keys:
            expected._memory_cache.clear()
            started = time.perf_counter()
            frame = plan.expected_series(con, key, filters)
            seconds.append(time.perf_counter() - started)
            sources.append(frame.attrs.get("baseline_source"))
    finally:
        con.close()
    stored = sum(source == "stored" for source in sources)
    print(_line(f"COVID view series read ({stored} of {len(sources)} stored) + frame", seconds))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench models", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="a demo warehouse for the synthetic series (python -m etl demo)")
    parser.add_argument("--london", default=str(default_london_file()), help="the London Datastore borough file")
    parser.add_argument("--repeat", type=int, default=3, help="runs per series (median taken; default 3)")
    args = parser.parse_args(argv)
    run(args.db, args.london, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
