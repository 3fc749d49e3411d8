"""`python -m bench`: generate, load, query and compare with pandas; prints every figure.

    python -m bench                       # small scale (~300,000 rows; what CI runs)
    python -m bench --scale national      # 43 forces x 36 months x 600,000 rows/month (~22 million rows)
    python -m bench --rows-per-month 100000 --forces 43 --months 12 --workdir /tmp/bench
    python -m bench models                # expected-vs-observed model selection + forecast time per series
    python -m bench pages [--db DB] [--runs N] [--views ...]   # page budget in headless Chromium (bench/pages.py)
    python -m bench loadtest [--sessions 20] [--seconds 30]    # many users against one server (bench/loadtest.py)
"""

from __future__ import annotations

import argparse
import importlib
import sys

from bench.run import SCALES, run_benchmark

# sub-commands in modules of their own: model speed, page budget in Chromium, many users against one server
SUBCOMMANDS = {"models": "bench.models", "pages": "bench.pages", "loadtest": "bench.loadtest"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in SUBCOMMANDS:  # python -m bench models|pages|loadtest ...
        return importlib.import_module(SUBCOMMANDS[argv[0]]).main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--forces", type=int, help="override the scale's number of forces (1-43)")
    parser.add_argument("--months", type=int, help="override the scale's number of months")
    parser.add_argument("--rows-per-month", type=int, help="override the scale's street rows per month (all forces)")
    parser.add_argument("--workdir", help="where the archive, warehouse and results go (default bench/out/<scale>)")
    parser.add_argument("--warm-runs", type=int, help="warm repetitions per query (default 20)")
    parser.add_argument("--cold-runs", type=int, help="cold repetitions per query (default 5)")
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas baseline")
    args = parser.parse_args(argv)
    run_benchmark(args.scale, workdir=args.workdir, forces=args.forces, months=args.months,
                  rows_per_month=args.rows_per_month, warm_runs=args.warm_runs, cold_runs=args.cold_runs,
                  pandas=not args.no_pandas)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
