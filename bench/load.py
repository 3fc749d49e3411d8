"""The load side by side with DuckDB's own CSV reader: `python -m etl load` against `CREATE TABLE ... AS
SELECT * FROM read_csv([files])` into a new database file, over the same files, in the same run.

    python -m bench.load                                  # 2.02 M real rows: 24 relabelled copies of the Essex months
    python -m bench.load --scale national --workdir /work/bench-data   # 22 M synthetic rows (43 forces x 36 months)
    python -m bench.load --repeat 5                       # more alternating pairs (medians are reported)

Both sides run as child processes (Python start-up included on both), alternately (baseline, load, baseline,
load, ...), so a busy machine slows both alike; the figure is the ratio of the median wall times, printed
against the target of 1.5x, with the CPU seconds of each side and the load average before and after. The
national archive is also held to its own target (the whole load in at most 45 s on this machine, quiet).
`python -m bench` prints the same ratio for its own archive (bench/run.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ESSEX_MONTHS = ["2018-10", "2018-11", "2018-12", "2019-01", "2019-02"]
ESSEX_COPIES = 24  # 24 x 84,233 = 2,021,592 rows
RATIO_TARGET = 1.5
NATIONAL_LOAD_TARGET_S = 45.0
SCALES = ("essex-2m", "national")


def _month_before(month: str, months: int) -> str:
    year, number = map(int, month.split("-"))
    index = year * 12 + number - 1 - months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def essex_copies(reference: Path, dest: Path, copies: int = ESSEX_COPIES) -> dict:
    """The five real Essex street files copied `copies` times into earlier months (copy k is moved back 5k
    months; Month values and names relabelled), in data.police.uk's folder layout; reused when present."""
    marker = dest / ".complete"
    if not marker.exists():
        shutil.rmtree(dest, ignore_errors=True)
        for copy in range(copies):
            for month in ESSEX_MONTHS:
                data = (reference / month / f"{month}-essex-street.csv").read_bytes()
                new_month = _month_before(month, 5 * copy)
                target = dest / new_month / f"{new_month}-essex-street.csv"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data.replace(f",{month},".encode(), f",{new_month},".encode()))
        marker.write_text("")
    files = sorted(dest.glob("*/*-street.csv"))
    rows = sum(path.read_bytes().count(b"\n") - 1 for path in files)
    return {"archive": str(dest), "files": len(files), "rows": rows, "bytes": sum(p.stat().st_size for p in files)}


def national_archive(workdir: Path) -> dict:
    """The national archive of `python -m bench --scale national` (generated once, then reused)."""
    from bench.run import SCALES as RUN_SCALES
    from bench.run import prepare_archive

    params = RUN_SCALES["national"]
    manifest = prepare_archive(workdir, params["forces"], params["months"], params["rows_per_month"])
    return {"archive": manifest["archive"], "files": manifest["files"], "rows": manifest["rows"],
            "bytes": manifest["bytes"]}


def baseline_main(archive: str, db: str) -> int:
    """The baseline (run as a child process): every CSV under `archive` into one table with DuckDB's
    read_csv, defaults (type sniffing included), then close (which checkpoints the file)."""
    import duckdb

    files = sorted(str(path) for path in Path(archive).rglob("*.csv"))
    con = duckdb.connect(db)
    con.execute("CREATE TABLE crimes AS SELECT * FROM read_csv(?)", [files])
    rows = con.execute("SELECT count(*) FROM crimes").fetchall()[0][0]
    con.close()
    print(rows)
    return 0


def side_by_side(archive: str, workdir: Path, repeat: int, say=print, load_runs: list | None = None) -> dict:
    """Alternate baseline and load `repeat` times each over `archive`; returns both sides' figures.
    `load_runs`: loads of the same archive already measured (bench/run.py's full load): then only the
    baseline runs."""
    from bench.run import run_measured

    sides: dict[str, list] = {"read_csv": [], "etl load": list(load_runs or [])}
    for run in range(repeat):
        for side in ("read_csv", "etl load"):
            if side == "etl load" and load_runs:
                continue
            db = workdir / f"side-by-side-{side.replace(' ', '-')}.duckdb"
            for leftover in workdir.glob(f"{db.name}*"):
                leftover.unlink()
            args = (["bench.load", "--baseline-of", archive, "--db", str(db)] if side == "read_csv"
                    else ["etl", "load", archive, "--db", str(db), "--no-baselines"])
            measured = run_measured(args)
            sides[side].append(measured)
            say(f"  run {run + 1}: {side:<9} {measured.seconds:7.2f} s wall, {measured.cpu_seconds:7.2f} s CPU,"
                f" peak RSS {measured.peak_rss_bytes / 1024**3:.2f} GiB")
            for leftover in workdir.glob(f"{db.name}*"):
                leftover.unlink()
    wall = {side: statistics.median(m.seconds for m in runs) for side, runs in sides.items()}
    cpu = {side: statistics.median(m.cpu_seconds for m in runs) for side, runs in sides.items()}
    return {"wall_s": wall, "cpu_s": cpu, "ratio": wall["etl load"] / wall["read_csv"],
            "cpu_ratio": cpu["etl load"] / cpu["read_csv"], "repeat": repeat}


def report_line(figures: dict) -> str:
    """One line: the ratio of median wall times against the target (and the CPU ratio)."""
    verdict = "met" if figures["ratio"] <= RATIO_TARGET else "MISSED"
    return (f"load vs DuckDB read_csv (same files, same run, median of {figures['repeat']}):"
            f" {figures['wall_s']['etl load']:.2f} s against {figures['wall_s']['read_csv']:.2f} s ="
            f" {figures['ratio']:.2f}x [target <= {RATIO_TARGET}x: {verdict}]; CPU {figures['cpu_s']['etl load']:.1f} s"
            f" against {figures['cpu_s']['read_csv']:.1f} s = {figures['cpu_ratio']:.2f}x")


def _load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=SCALES, default="essex-2m")
    parser.add_argument("--workdir", help="where the archive and databases go (default: a temporary folder;"
                                          " the national archive needs ~5 GB, e.g. /work/bench-data)")
    parser.add_argument("--repeat", type=int, help="alternating pairs of runs (default 3; 1 at national scale)")
    parser.add_argument("--reference", default=os.environ.get("CRIME_REFERENCE_DATA"),
                        help="reference data folder with police-uk/essex (default $CRIME_REFERENCE_DATA or ../shared/data)")
    parser.add_argument("--baseline-of", help=argparse.SUPPRESS)  # the child process of the baseline side
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline_of:
        return baseline_main(args.baseline_of, args.db)

    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    repeat = args.repeat or (1 if args.scale == "national" else 3)
    say = lambda text="": print(text, flush=True)  # noqa: E731
    say(f"load side by side — scale {args.scale}; {os.cpu_count()} CPUs; load average at start {_load_average()}")
    if args.scale == "essex-2m":
        reference = Path(args.reference) if args.reference else Path(__file__).resolve().parent.parent.parent / "shared" / "data"
        archive = essex_copies(reference / "police-uk" / "essex", workdir / "essex-2m")
    else:
        archive = national_archive(workdir)
    say(f"archive: {archive['rows']:,} street rows in {archive['files']:,} files ({archive['bytes'] / 1e9:.2f} GB),"
        f" {archive['archive']}")
    figures = side_by_side(archive["archive"], workdir, repeat, say)
    say(report_line(figures))
    if args.scale == "national":
        seconds = figures["wall_s"]["etl load"]
        say(f"national load: {seconds:.1f} s, {archive['rows'] / seconds:,.0f} rows/s"
            f" [target <= {NATIONAL_LOAD_TARGET_S:.0f} s on a quiet machine:"
            f" {'met' if seconds <= NATIONAL_LOAD_TARGET_S else 'MISSED'}]")
    say(f"load average at end {_load_average()} (figures taken on a busy machine are not quiet-machine figures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
