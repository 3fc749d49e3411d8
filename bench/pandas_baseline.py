"""The obvious alternative, measured: read every street CSV with pandas, derive the same columns the
warehouse has (month, force_id, district), and answer the page queries with pandas group-bys.

Run as a separate process by the benchmark (`python -m bench.pandas_baseline ...`) so its peak memory
is measured on its own. Writes a JSON file: load seconds, rows, per-query times and canonical answers.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from datetime import date
from pathlib import Path

import pandas as pd

from bench.queries import QUERIES, periods_for

USECOLS = ["Month", "LSOA code", "LSOA name", "Crime type", "Last outcome category"]
FILE_NAME = re.compile(r"^(\d{4}-\d{2})-(.+)-street\.csv$")


def street_files(folders: list[Path]) -> list[Path]:
    return sorted(p for folder in folders for p in folder.rglob("*-street.csv"))


def load_frame(files: list[Path]) -> pd.DataFrame:
    """All street rows as one frame: month (datetime64), force_id (from the file name), lsoa_code,
    lsoa_name, district, crime_type, last_outcome_category."""
    parts = []
    for path in files:
        part = pd.read_csv(path, usecols=USECOLS)
        part["force_id"] = FILE_NAME.match(path.name).group(2)
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.rename(columns={"LSOA code": "lsoa_code", "LSOA name": "lsoa_name", "Crime type": "crime_type",
                                  "Last outcome category": "last_outcome_category"})
    frame["month"] = pd.to_datetime(frame.pop("Month"), format="%Y-%m")
    frame["district"] = frame["lsoa_name"].str.replace(r"\s+\d{3}[A-Z]$", "", regex=True)
    return frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pandas_baseline")
    parser.add_argument("folders", nargs="+", help="archive folders (month folders or their parents)")
    parser.add_argument("--first", required=True, help="first month YYYY-MM of the data")
    parser.add_argument("--last", required=True, help="last month YYYY-MM of the data")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    began = time.perf_counter()
    frame = load_frame(street_files([Path(f) for f in args.folders]))
    load_seconds = time.perf_counter() - began
    periods = periods_for(date(int(args.first[:4]), int(args.first[5:7]), 1),
                          date(int(args.last[:4]), int(args.last[5:7]), 1))
    results = {}
    for query in QUERIES:
        if query.pandas is None:
            continue
        times, cpu = [], []
        answer = None
        for _ in range(args.repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            answer = query.pandas(frame, periods)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        results[query.name] = {"median_s": statistics.median(times), "times_s": times,
                               "cpu_median_s": statistics.median(cpu), "answer": answer}
    Path(args.out).write_text(json.dumps({"load_seconds": load_seconds, "rows": len(frame), "queries": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
