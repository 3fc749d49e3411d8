"""Benchmark: build the full briefing pack (PPTX, then PPTX + PDF) for the demo warehouse and print the times.

    python bench/briefing_bench.py                    # builds the demo warehouse in a temporary folder first
    python bench/briefing_bench.py --db /tmp/demo.duckdb

Target (issue 7): the full pack for the demo database in under a minute on the project machine (2 cores).
Reported, not asserted. The load average is printed because the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="an existing demo warehouse (default: build one with etl.demo)")
    parser.add_argument("--period", default="latest12", help="comparison preset (default latest12)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="briefing-bench-"))
    db = Path(args.db) if args.db else work / "demo.duckdb"
    if not args.db:
        from etl.demo import build_demo

        started = time.perf_counter()
        build_demo(db, seed=1, archive_dir=work / "archive")
        print(f"demo warehouse built in {time.perf_counter() - started:.1f} s (not part of the pack time)")

    from briefing import images, pack
    from etl.warehouse import connect_read_only
    from metrics.filters import Filters

    con = connect_read_only(db)
    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    timings: list[tuple[str, float]] = []

    cpu_started = _cpu_seconds()
    started = time.perf_counter()
    content = pack.pack_content(con, args.period, Filters())
    timings.append(("metrics, models and charts (pack_content)", time.perf_counter() - started))
    step = time.perf_counter()
    pptx = pack._pptx(content)
    timings.append(("PPTX incl. PNG rendering (first image starts Chromium)", time.perf_counter() - step))
    step = time.perf_counter()
    pdf = pack._pdf(content)
    timings.append(("PDF pages (warm kaleido)", time.perf_counter() - step))
    total_pdf = time.perf_counter() - started
    cpu_pdf = _cpu_seconds() - cpu_started

    step = time.perf_counter()
    out = pack.build_pack(con, args.period, Filters(), work / "pack.pptx")
    full_pptx = time.perf_counter() - step
    con.close()
    images.stop_server()

    for label, seconds in timings:
        print(f"  {label:<58} {seconds:6.1f} s")
    print(f"full pack, PPTX + PDF (cold Chromium):  {total_pdf:6.1f} s  ({len(pptx):,} + {len(pdf):,} bytes, "
          f"{len(content.slides)} slides)")
    print(f"  CPU time of this process for it:      {cpu_pdf:6.1f} s  (Chromium's own CPU not included; the wall "
          "time approaches this on an idle machine)")
    print(f"full pack, PPTX only (warm Chromium):   {full_pptx:6.1f} s  -> {out}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print("target: under 60 s —", "met" if total_pdf < 60 else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
