"""The benchmark: generate a synthetic archive, load it, load one more month, time every page's queries
cold and warm, export Parquet, and run the plain-pandas baseline on the same files and questions.

Loads and the pandas baseline run as child processes, so their wall time and peak RSS (ru_maxrss from
wait4) are their own. Query latencies are measured in this process on read-only connections:
- cold: a new connection for each run, first execution of the query (DuckDB's buffer cache empty; the
  OS page cache may still hold the file — dropping it needs root);
- warm: the same connection, after one untimed run.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bench.queries import QUERIES, Periods, available, periods_for

PROJECT_ROOT = Path(__file__).resolve().parent.parent
GIB = 1024**3

SCALES = {
    # a few hundred thousand rows: what CI runs
    "small": {"forces": 43, "months": 24, "rows_per_month": 12_000},
    # the national archive: 43 forces x 36 months x ~600,000 rows = ~22 million rows
    "national": {"forces": 43, "months": 36, "rows_per_month": 600_000},
}
TARGETS = {
    "load_s": 45.0, "load_rss_gib": 3.0, "increment_s": 5.0, "warm_p95_ms": 150.0, "cold_ms": 1000.0,
    "pandas_ratio": 10.0,
}


@dataclass
class Measured:
    """A child process's wall time (s), peak resident memory (bytes) and output."""

    seconds: float
    peak_rss_bytes: int
    stdout: str
    stderr: str
    returncode: int
    cpu_seconds: float = 0.0  # user + system CPU of the process and its threads (independent of other load)


def run_measured(args: list[str], env: dict | None = None) -> Measured:
    """Run `python -m ...` from the project root; wall time and peak RSS of that process tree's main process."""
    out_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-{os.getpid()}-{time.monotonic_ns()}"
    with open(f"{out_path}.out", "w+") as out, open(f"{out_path}.err", "w+") as err:
        began = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", *args], cwd=PROJECT_ROOT, stdout=out, stderr=err,
                                 env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - began
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = Measured(seconds, usage.ru_maxrss * 1024, out.read(), err.read(), child.returncode,
                          usage.ru_utime + usage.ru_stime)
    for suffix in (".out", ".err"):
        Path(f"{out_path}{suffix}").unlink(missing_ok=True)
    if result.returncode != 0:
        raise RuntimeError(f"`python -m {' '.join(args)}` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def _month_after(start: date, months: int) -> date:
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def prepare_archive(workdir: Path, forces: int, months: int, rows_per_month: int, start: date = date(2021, 1, 1)) -> dict:
    """The archive (months folders) and the increment (the month after), reused when the manifest matches."""
    from etl.national import generate_national

    wanted = {"forces": forces, "months": months, "rows_per_month": rows_per_month, "start": f"{start:%Y-%m}", "seed": 1}
    archive, increment = workdir / "archive", workdir / "increment"
    manifest_path = workdir / "manifest.json"
    if manifest_path.exists() and json.loads(manifest_path.read_text()).get("parameters") == wanted \
            and archive.is_dir() and increment.is_dir():
        manifest = json.loads(manifest_path.read_text())
        manifest["reused"] = True
        return manifest
    for folder in (archive, increment):
        shutil.rmtree(folder, ignore_errors=True)
    main = generate_national(archive, forces=forces, months=months, rows_per_month=rows_per_month, start=start)
    extra = generate_national(increment, forces=forces, months=1, rows_per_month=rows_per_month,
                              start=_month_after(start, months))
    manifest = {"parameters": wanted, "archive": str(archive), "increment": str(increment),
                "rows": main["rows"], "bytes": main["bytes"], "files": main["files"],
                "increment_rows": extra["rows"], "increment_month": extra["months"][0],
                "first_month": main["months"][0], "generate_seconds": main["seconds"] + extra["seconds"]}
    manifest_path.write_text(json.dumps(manifest, indent=1))
    manifest["reused"] = False
    return manifest


def time_queries(db: Path, periods: Periods, warm_runs: int, cold_runs: int) -> dict:
    """Cold and warm latencies (ms) and the answer of every available page query."""
    import duckdb

    results = {}
    for query in QUERIES:
        if not available(query):
            results[query.name] = {"page": query.page, "missing": query.module}
            continue
        try:  # a metric may refuse this warehouse (e.g. rates need the ONS lookup and census residents)
            probe = duckdb.connect(str(db), read_only=True)
            try:
                query.duckdb(probe, periods)
            finally:
                probe.close()
        except ValueError as exc:
            results[query.name] = {"page": query.page, "missing": f"{query.module} refused: {exc}"}
            continue
        cold = []
        answer = None
        for _ in range(cold_runs):
            con = duckdb.connect(str(db), read_only=True)
            try:
                began = time.perf_counter()
                answer = query.duckdb(con, periods)
                cold.append((time.perf_counter() - began) * 1000)
            finally:
                con.close()
        con = duckdb.connect(str(db), read_only=True)
        try:
            query.duckdb(con, periods)
            warm, warm_cpu = [], []
            for _ in range(warm_runs):
                began, began_cpu = time.perf_counter(), time.process_time()
                query.duckdb(con, periods)
                warm.append((time.perf_counter() - began) * 1000)
                warm_cpu.append((time.process_time() - began_cpu) * 1000)
        finally:
            con.close()
        results[query.name] = {
            "page": query.page,
            "cold_median_ms": statistics.median(cold), "cold_p95_ms": percentile(cold, 95),
            "warm_median_ms": statistics.median(warm), "warm_p95_ms": percentile(warm, 95),
            "warm_cpu_median_ms": statistics.median(warm_cpu),
            "answer": answer,
        }
    return results


def _load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def run_benchmark(
    scale: str = "small",
    *,
    workdir: str | Path | None = None,
    forces: int | None = None,
    months: int | None = None,
    rows_per_month: int | None = None,
    warm_runs: int | None = None,
    cold_runs: int | None = None,
    pandas: bool = True,
    out=sys.stdout,
) -> dict:
    """Run every measurement, print the report to `out` and return the figures (also written as
    results.json in the work folder)."""
    params = dict(SCALES[scale])
    for key, value in (("forces", forces), ("months", months), ("rows_per_month", rows_per_month)):
        if value:
            params[key] = value
    workdir = Path(workdir) if workdir else PROJECT_ROOT / "bench" / "out" / scale
    workdir.mkdir(parents=True, exist_ok=True)
    warm_runs = warm_runs or 20
    cold_runs = cold_runs or 5
    say = lambda text="": print(text, file=out, flush=True)  # noqa: E731
    figures: dict = {"scale": scale, "parameters": params, "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                     "machine": {"cpus": os.cpu_count(), "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB, 1),
                                 "python": sys.version.split()[0]},
                     "load_average_start": _load_average()}
    import duckdb
    import pandas as pd

    figures["machine"]["duckdb"] = duckdb.__version__
    figures["machine"]["pandas"] = pd.__version__
    say(f"Crime Plan Monitor benchmark — scale {scale}: {params['forces']} forces x {params['months']} months x "
        f"{params['rows_per_month']:,} rows/month")
    say(f"machine: {figures['machine']['cpus']} CPUs, {figures['machine']['memory_gib']} GiB RAM, Python "
        f"{figures['machine']['python']}, DuckDB {duckdb.__version__}, pandas {pd.__version__}; "
        f"load average at start {figures['load_average_start']}")

    # 1. archive
    manifest = prepare_archive(workdir, params["forces"], params["months"], params["rows_per_month"])
    figures["archive"] = manifest
    say(f"archive: {manifest['rows']:,} street rows in {manifest['files']:,} CSV files ({manifest['bytes'] / 1e9:.2f} GB)"
        + (" (reused)" if manifest["reused"] else f", generated in {manifest['generate_seconds']:.1f} s")
        + f"; increment month {manifest['increment_month']}: {manifest['increment_rows']:,} rows")

    db = _measure_loads(manifest, workdir, figures, say)

    # 5. queries
    con = duckdb.connect(str(db), read_only=True)
    first, last = con.execute("select min(month), max(month) from crimes").fetchall()[0]
    total_rows = con.execute("select count(*) from crimes").fetchall()[0][0]
    con.close()
    periods = periods_for(first, last)
    figures["periods"] = {"first": str(first), "last": str(last), "pre": [str(d) for d in periods.pre],
                          "post": [str(d) for d in periods.post], "fit_until": str(periods.fit_until)}
    figures["crimes_rows"] = total_rows
    queries = time_queries(db, periods, warm_runs, cold_runs)
    figures["queries"] = queries

    # 6. Parquet export
    parquet_dir = workdir / "parquet"
    shutil.rmtree(parquet_dir, ignore_errors=True)
    export = run_measured(["etl", "export-parquet", "--db", str(db), "--out", str(parquet_dir)])
    parquet_bytes = sum(p.stat().st_size for p in parquet_dir.rglob("*.parquet"))
    figures["parquet"] = {"seconds": export.seconds, "bytes": parquet_bytes, "peak_rss_bytes": export.peak_rss_bytes,
                          "cpu_seconds": export.cpu_seconds}

    # 7. pandas baseline (same files, same questions)
    if pandas:
        figures["pandas"] = _pandas_baseline(manifest, workdir, first, last, queries)

    _print_report(figures, say)
    figures["load_average_end"] = _load_average()
    say(f"load average at end {figures['load_average_end']} (other work on this machine inflates every figure)")
    (workdir / "results.json").write_text(json.dumps(figures, indent=1, default=str))
    say(f"figures written to {workdir / 'results.json'}")
    return figures


def _pandas_baseline(manifest: dict, workdir: Path, first, last, queries: dict) -> dict:
    """The same questions answered by plain pandas over the same files (a separate process), each answer
    checked against DuckDB's and its time as a ratio of the warm DuckDB median."""
    result_path = workdir / "pandas.json"
    baseline = run_measured(["bench.pandas_baseline", manifest["archive"], manifest["increment"],
                             "--first", f"{first:%Y-%m}", "--last", f"{last:%Y-%m}", "--out", str(result_path)])
    pandas_figures = json.loads(result_path.read_text())
    pandas_figures["peak_rss_bytes"] = baseline.peak_rss_bytes
    pandas_figures["process_seconds"] = baseline.seconds
    pandas_figures["process_cpu_seconds"] = baseline.cpu_seconds
    for name, entry in pandas_figures["queries"].items():
        mine = queries.get(name, {})
        if "answer" in mine:
            entry["agrees"] = [list(r) for r in mine["answer"]] == [list(r) for r in entry["answer"]]
            entry["ratio_vs_warm"] = entry["median_s"] * 1000 / max(mine["warm_median_ms"], 1e-6)
            entry["cpu_ratio"] = entry["cpu_median_s"] * 1000 / max(mine["warm_cpu_median_ms"], 1e-6)
    return pandas_figures


def _measure_loads(manifest: dict, workdir: Path, figures: dict, say) -> Path:
    """The full load of the archive (and DuckDB's own read_csv over the same files, side by side), the
    incremental load of one more month, and the size on disk; returns the warehouse."""
    # 2. full load
    db = workdir / "warehouse.duckdb"
    for stale in workdir.glob("warehouse.duckdb*"):
        stale.unlink() if stale.is_file() else shutil.rmtree(stale)
    full = run_measured(["etl", "load", manifest["archive"], "--db", str(db), "--no-baselines"])
    figures["load"] = {"seconds": full.seconds, "rows": manifest["rows"], "rows_per_second": manifest["rows"] / full.seconds,
                       "peak_rss_bytes": full.peak_rss_bytes, "cpu_seconds": full.cpu_seconds}
    say(f"full load: {full.seconds:.1f} s, {manifest['rows'] / full.seconds:,.0f} rows/s, peak RSS "
        f"{full.peak_rss_bytes / GIB:.2f} GiB, CPU {full.cpu_seconds:.1f} s  "
        f"[target < {TARGETS['load_s']:.0f} s, < {TARGETS['load_rss_gib']:.0f} GiB]")

    # 2b. the same files with DuckDB's own read_csv into a table, side by side (bench/load.py)
    from bench.load import report_line, side_by_side

    figures["load_vs_read_csv"] = side_by_side(manifest["archive"], workdir, 1, say=lambda _text: None, load_runs=[full])
    say(report_line(figures["load_vs_read_csv"]))

    # 3. incremental load of one new month
    increment_folder = Path(manifest["increment"]) / manifest["increment_month"]
    extra = run_measured(["etl", "load", str(increment_folder), "--db", str(db), "--no-baselines"])
    figures["increment"] = {"seconds": extra.seconds, "rows": manifest["increment_rows"], "peak_rss_bytes": extra.peak_rss_bytes,
                            "cpu_seconds": extra.cpu_seconds}
    say(f"incremental load of one month ({manifest['increment_rows']:,} rows): {extra.seconds:.2f} s, peak RSS "
        f"{extra.peak_rss_bytes / GIB:.2f} GiB, CPU {extra.cpu_seconds:.1f} s  [target < {TARGETS['increment_s']:.0f} s]")

    # 4. size on disk
    size = db.stat().st_size
    figures["database_bytes"] = size
    say(f"database size on disk: {size / 1e9:.2f} GB ({size / max(manifest['bytes'], 1):.0%} of the CSV archive)")
    return db


def _print_report(figures: dict, say) -> None:
    queries = figures["queries"]
    pandas_queries = figures.get("pandas", {}).get("queries", {})
    say()
    say(f"page queries on {figures['crimes_rows']:,} rows (cold: new connection each run; warm: repeated on one connection)")
    header = (f"{'page':<9} {'query':<48} {'cold med':>9} {'cold p95':>9} {'warm med':>9} {'warm p95':>9} "
              f"{'warm CPU':>9} {'pandas':>9} {'ratio':>7} {'CPU ratio':>9}  answers")
    say(header)
    for name, entry in queries.items():
        if "missing" in entry:
            reason = entry["missing"] if " " in entry["missing"] else f"{entry['missing']} is not in this checkout"
            say(f"{entry['page']:<9} {name:<48} not measured: {reason}")
            continue
        base = pandas_queries.get(name)
        pandas_text = f"{base['median_s'] * 1000:8.0f}ms" if base else f"{'—':>9}"
        ratio_text = f"{base['ratio_vs_warm']:6.1f}x" if base and "ratio_vs_warm" in base else f"{'—':>7}"
        cpu_ratio_text = f"{base['cpu_ratio']:8.1f}x" if base and "cpu_ratio" in base else f"{'—':>9}"
        agree_text = ("agree" if base["agrees"] else "DISAGREE") if base and "agrees" in base else "(no pandas equivalent)"
        say(f"{entry['page']:<9} {name:<48} {entry['cold_median_ms']:7.1f}ms {entry['cold_p95_ms']:7.1f}ms "
            f"{entry['warm_median_ms']:7.1f}ms {entry['warm_p95_ms']:7.1f}ms {entry['warm_cpu_median_ms']:7.1f}ms "
            f"{pandas_text} {ratio_text} {cpu_ratio_text}  {agree_text}")
    measured = [e for e in queries.values() if "missing" not in e]
    if measured:
        worst_warm = max(measured, key=lambda e: e["warm_p95_ms"])
        worst_cold = max(measured, key=lambda e: e["cold_p95_ms"])
        say(f"worst warm p95 {worst_warm['warm_p95_ms']:.1f} ms [target < {TARGETS['warm_p95_ms']:.0f} ms]; "
            f"worst cold p95 {worst_cold['cold_p95_ms']:.1f} ms [target < {TARGETS['cold_ms']:.0f} ms]")
    parquet = figures["parquet"]
    say(f"parquet export (hive force_id/year): {parquet['seconds']:.1f} s (CPU {parquet['cpu_seconds']:.1f} s), "
        f"{parquet['bytes'] / 1e9:.2f} GB")
    if "pandas" in figures:
        p = figures["pandas"]
        compared = [q for q in pandas_queries.values() if "ratio_vs_warm" in q]
        duck_total = sum(queries[n]["warm_median_ms"] for n, q in pandas_queries.items() if "ratio_vs_warm" in q)
        pandas_total = sum(q["median_s"] * 1000 for q in compared)
        overall = pandas_total / max(duck_total, 1e-6)
        p["overall_query_ratio"] = overall
        duck_cpu = sum(queries[n]["warm_cpu_median_ms"] for n, q in pandas_queries.items() if "cpu_ratio" in q)
        p["overall_cpu_ratio"] = sum(q["cpu_median_s"] * 1000 for q in compared) / max(duck_cpu, 1e-6)
        p["min_query_ratio"] = min((q["ratio_vs_warm"] for q in compared), default=None)
        say(f"pandas baseline: read CSVs {p['load_seconds']:.1f} s ({p['rows']:,} rows, process CPU "
            f"{p['process_cpu_seconds']:.1f} s incl. queries, peak RSS "
            f"{p['peak_rss_bytes'] / GIB:.2f} GiB) vs DuckDB full load {figures['load']['seconds']:.1f} s "
            f"(ratio {p['load_seconds'] / figures['load']['seconds']:.2f}x; the DuckDB load also validates, "
            f"hashes and persists)")
        say(f"pandas / DuckDB-warm query CPU time: {p['overall_cpu_ratio']:.1f}x overall (sum of medians), "
            f"{min(q['cpu_ratio'] for q in compared):.1f}x for the closest query")
        say(f"pandas / DuckDB-warm query time: {overall:.1f}x overall (sum of medians), "
            f"{p['min_query_ratio']:.1f}x for the closest query [target >= {TARGETS['pandas_ratio']:.0f}x]; "
            f"answers agree on {sum(1 for q in compared if q.get('agrees'))}/{len(compared)} queries")
