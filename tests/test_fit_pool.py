"""Model fits in worker processes (metrics.expected's fit pool): a worker's fit is the in-process fit float for
float; a page's batch (plan.expected_series_many, plan.expected_flags) gives the frames the per-item calls give;
a broken or unavailable pool falls back to fitting in this process; workers never run the parent's main script
(Streamlit installs the app script as __main__) and none remain after shutdown.

One pool (2 spawned workers) serves the module; its start and its end are checked in the fixture."""

from __future__ import annotations

import csv
import logging
import os
import sys
import threading
import types
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from etl.warehouse import ensure_schema
from metrics import expected, plan
from metrics.expected import FitRequest
from metrics.filters import Filters
from tests.conftest import REFERENCE_DATA

ENV = expected.FIT_WORKERS_ENV
LONDON = REFERENCE_DATA / "london-datastore" / "mps-borough-level-crime-historical.csv"
FORCE = "testshire"
DISTRICTS = ("North", "South", "East")
TWO_DISTRICTS = Filters(force_id=FORCE, districts=("North", "South"))


def _worker_children() -> list[int]:
    """Process ids of this process's children that are spawned multiprocessing workers (read from /proc,
    not from the pool: the resource tracker, multiprocessing's one helper per process, is not a worker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == os.getpid() and b"spawn_main" in command:
            found.append(int(stat.parent.name))
    return found


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """Two workers started (and warmed) while __main__ is a Streamlit-like script module that would leave a
    marker file if a worker ran it; shut down at the end, leaving no worker process."""
    folder = tmp_path_factory.mktemp("fit_pool")
    marker = folder / "main_script_ran"
    script = folder / "app_like.py"
    script.write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    fake_main = types.ModuleType("__main__")
    fake_main.__file__ = str(script)
    previous_env, previous_main = os.environ.get(ENV), sys.modules["__main__"]
    os.environ[ENV] = "2"
    sys.modules["__main__"] = fake_main
    try:
        expected.shutdown_fit_pool()
        expected._warm_started = False
        expected.warm_fit_pool(wait=True)
    finally:
        sys.modules["__main__"] = previous_main
    yield {"workers": _worker_children(), "marker": marker}
    expected.shutdown_fit_pool()
    if previous_env is None:
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = previous_env
    assert _worker_children() == []


def _london_series() -> list[np.ndarray]:
    """Five real monthly series (Metropolitan Police, by borough and category), Mar 2015–Feb 2020 or shorter,
    read with the csv module: large, middling, small counts, and a 30-month window."""
    wanted = {("THEFT", "Westminster"), ("BURGLARY", "Camden"), ("ROBBERY", "Hackney"),
              ("ARSON AND CRIMINAL DAMAGE", "Sutton")}
    totals: dict[tuple[str, str], np.ndarray] = {}
    with open(LONDON, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        months = [f"{y}{m:02d}" for y in range(2015, 2021) for m in range(1, 13)]
        months = [m for m in months if "201503" <= m <= "202002"]
        for row in reader:
            key = (row["MajorText"], row["BoroughName"])
            if key in wanted:
                values = np.array([float(row[m]) for m in months])
                totals[key] = totals.get(key, 0) + values
    assert len(totals) == 4 and all(len(v) == 60 for v in totals.values())
    series = [totals[key] for key in sorted(totals)]
    return series + [series[0][-30:]]


def _assert_same_baseline(left: expected.Baseline | None, right: expected.Baseline | None) -> None:
    assert (left is None) == (right is None)
    if left is None:
        return
    assert (left.model, left.candidates, left.sigma2, left.residual_df) == \
        (right.model, right.candidates, right.sigma2, right.residual_df)
    for name in ("fitted_log", "mean_log", "psi", "param_loadings"):
        a, b = getattr(left, name), getattr(right, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert np.array_equal(a, b, equal_nan=True), name  # the same floats, not merely close


def _counting_fits(monkeypatch) -> list[int]:
    """Count fit_baseline calls made in this process (a worker's fits are not counted)."""
    calls: list[int] = []
    real_fit = expected.fit_baseline
    monkeypatch.setattr(expected, "fit_baseline", lambda *a, **k: calls.append(1) or real_fit(*a, **k))
    return calls


def test_the_pool_starts_two_workers_that_do_not_run_the_main_script(pool):
    assert len(pool["workers"]) == 2
    assert not pool["marker"].exists()


def test_workers_run_at_a_lower_priority_than_the_server(pool):
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert [os.getpriority(os.PRIO_PROCESS, pid) for pid in pool["workers"]] == [min(mine + 10, 19)] * 2


def test_a_workers_fit_is_the_in_process_fit_float_for_float(pool, monkeypatch):
    series = _london_series()
    flat = np.full(40, 7.0)  # no model can be fitted: None both ways
    jobs = {f"s{i}": (values, 36) for i, values in enumerate([*series, flat])}
    calls = _counting_fits(monkeypatch)
    pooled = expected._fit_now(jobs)
    assert calls == []  # every fit ran in a worker
    here = {key: expected.fit_baseline(values, steps) for key, (values, steps) in jobs.items()}
    assert len(calls) == len(jobs)
    for key in jobs:
        _assert_same_baseline(pooled[key], here[key])
    assert pooled["s5"] is None and all(pooled[f"s{i}"] is not None for i in range(5))
    assert pooled["s0"].horizon == 36


@pytest.fixture(scope="module")
def small_db(tmp_path_factory) -> tuple[Path, dict]:
    """A synthetic warehouse: one force, three districts, four crime types Jan 2015–Jun 2021 (Poisson counts
    around a seasonal level, seed 14) and Drugs in North from Jan 2019 only (too short for a model). Returns
    the path and the generated counts {(district, crime_type): per-month array}."""
    rng = np.random.default_rng(14)
    months = pd.date_range("2015-01-01", "2021-06-01", freq="MS")
    rows, counts = [], {}
    for district in DISTRICTS:
        for crime_type, level in (("Burglary", 40), ("Robbery", 12), ("Shoplifting", 60), ("Bicycle theft", 6)):
            values = rng.poisson(level * (1 + 0.25 * np.sin(2 * np.pi * (months.month - 1) / 12)))
            counts[(district, crime_type)] = values
            rows += [(m.date(), district, crime_type, int(n)) for m, n in zip(months, values)]
    drugs = rng.poisson(9, size=int((months >= "2019-01-01").sum()))
    counts[("North", "Drugs")] = drugs
    rows += [(m.date(), "North", "Drugs", int(n)) for m, n in zip(months[months >= "2019-01-01"], drugs)]
    db = tmp_path_factory.mktemp("small_warehouse") / "small.duckdb"
    con = duckdb.connect(str(db))
    try:
        ensure_schema(con)
        con.register("generated", pd.DataFrame(rows, columns=["month", "district", "crime_type", "n"]))
        con.execute("insert into crimes (month, district, crime_type, force_id) "
                    "select month, district, crime_type, ? from (select *, unnest(range(n)) from generated)", [FORCE])
    finally:
        con.close()
    return db, {"months": months, "counts": counts}


def test_a_pages_batch_gives_the_frames_of_one_call_each(pool, small_db, monkeypatch):
    db, generated = small_db
    con = duckdb.connect(str(db), read_only=True)
    try:
        keys = tuple(key for key, _ in plan.impact_keys(con, TWO_DISTRICTS))
        first, last = con.execute("select min(month), max(month) from crimes").fetchall()[0]
        comparison = plan.resolve_comparison(first, last, "latest12")
        measure_ids = tuple(m.id for m in plan.MEASURES
                            if m.in_scorecard and plan.measure_available(con, m, TWO_DISTRICTS))
        expected._memory_cache.clear()
        calls = _counting_fits(monkeypatch)
        batch = plan.expected_series_many(con, keys, TWO_DISTRICTS)
        flags = plan.expected_flags(con, measure_ids, TWO_DISTRICTS, comparison)
        assert calls == []  # the batch's fits ran in the workers
        expected._memory_cache.clear()
        monkeypatch.setattr(expected, "_fit_pool", lambda: None)  # one call each, fitted here
        single = {key: plan.expected_series(con, key, TWO_DISTRICTS) for key in keys}
        single_flags = {m: plan.expected_flag(con, m, TWO_DISTRICTS, comparison) for m in measure_ids}
        assert len(calls) >= len(keys)
    finally:
        con.close()
        expected._memory_cache.clear()
    assert set(keys) == {"crime_type:Bicycle theft", "crime_type:Burglary", "crime_type:Drugs",
                         "crime_type:Robbery", "crime_type:Shoplifting"}
    assert list(batch) == list(keys)
    for key in keys:
        pd.testing.assert_frame_equal(batch[key], single[key], check_exact=True)
        assert batch[key].attrs == single[key].attrs
    pd.testing.assert_frame_equal(pd.DataFrame(flags), pd.DataFrame(single_flags), check_exact=True)
    assert len(measure_ids) >= 3 and any(isinstance(f["expected_flag"], str) for f in flags.values())
    # independent of the code under test: the observed months are the generated counts of the two districts
    burglary = batch["crime_type:Burglary"]
    months = pd.to_datetime(burglary["month"])
    generated_total = pd.Series(generated["counts"][("North", "Burglary")] + generated["counts"][("South", "Burglary")],
                                index=generated["months"])
    assert burglary["observed"].to_numpy().tolist() == generated_total.reindex(months).to_numpy(dtype=float).tolist()
    assert burglary.attrs["method"] == "sarima" and burglary.attrs["baseline_source"] == "fitted"
    assert batch["crime_type:Drugs"].attrs["method"] is None  # Jan 2019–Feb 2020: fewer than 24 months
    assert "Needs 24 months of history, 14 available" in batch["crime_type:Drugs"].attrs["note"]


def test_concurrent_batches_fit_each_series_once(pool, monkeypatch):
    series = _london_series()
    requests = [FitRequest(f"concurrent-{i}", values, 12) for i, values in enumerate(series)]
    fitted_keys: list[str] = []
    real_fit_now = expected._fit_now
    monkeypatch.setattr(expected, "_fit_now", lambda jobs: fitted_keys.extend(jobs) or real_fit_now(jobs))
    results: dict[int, list] = {}
    batches = [requests[:3], requests[1:], requests[::-1]]
    threads = [threading.Thread(target=lambda i=i, b=b: results.__setitem__(i, expected.obtain_baselines(b)))
               for i, b in enumerate(batches)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(fitted_keys) == sorted(r.key for r in requests)  # each key fitted once, by one thread
    by_key = {}
    for i, batch in enumerate(batches):
        for request, (baseline, source) in zip(batch, results[i]):
            assert source == "fitted"
            _assert_same_baseline(by_key.setdefault(request.key, baseline), baseline)
    for key in list(expected._memory_cache):
        if key.startswith("concurrent-"):
            expected._memory_cache.pop(key)


def test_fit_workers_reads_the_environment(monkeypatch, caplog):
    monkeypatch.setenv(ENV, "0")
    assert expected.fit_workers() == 0
    monkeypatch.setenv(ENV, "3")
    assert expected.fit_workers() == 3
    monkeypatch.delenv(ENV)
    assert expected.fit_workers() == min(2, os.cpu_count())
    monkeypatch.setenv(ENV, "two")
    with caplog.at_level(logging.WARNING, logger="metrics.expected"):
        assert expected.fit_workers() == min(2, os.cpu_count())
    assert "CRIME_MONITOR_FIT_WORKERS='two' is not a whole number" in caplog.text


def test_no_pool_to_be_had_fits_here_with_a_warning(monkeypatch, caplog):
    def refuse(*args, **kwargs):
        raise OSError("no processes allowed")

    monkeypatch.setenv(ENV, "2")
    monkeypatch.setattr(expected, "_pool", None)  # the module's pool stays as it is (restored after the test)
    monkeypatch.setattr(expected, "_pool_failures", 0)
    monkeypatch.setattr(expected, "_pool_ready", True)  # warmed before: the pool is asked for at once
    monkeypatch.setattr(expected, "ProcessPoolExecutor", refuse)
    values = _london_series()[1]
    calls = _counting_fits(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="metrics.expected"):
        fitted = expected._fit_now({"k": (values, 12)})
    assert len(calls) == 1
    _assert_same_baseline(fitted["k"], expected.fit_baseline(values, 12))
    assert "no worker processes (no processes allowed); fitting in the server process" in caplog.text


def test_workers_zero_fits_here(monkeypatch):
    monkeypatch.setattr(expected, "_pool", None)  # the module's pool stays as it is (restored after the test)
    monkeypatch.setenv(ENV, "0")
    calls = _counting_fits(monkeypatch)
    values = _london_series()[2]
    fitted = expected._fit_now({"a": (values, 6), "b": (values[:-1], 6)})
    assert len(calls) == 2 and expected._pool is None
    _assert_same_baseline(fitted["a"], expected.fit_baseline(values, 6))


def test_a_dead_worker_falls_back_to_fitting_here_then_a_new_pool(pool, monkeypatch, caplog):
    monkeypatch.setattr(expected, "_pool_failures", 0)
    broken = expected._fit_pool()
    with pytest.raises(BrokenProcessPool):
        broken.submit(os._exit, 3).result()  # a worker dies
    values = _london_series()[3]
    calls = _counting_fits(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="metrics.expected"):
        fitted = expected._fit_now({"a": (values, 12), "b": (values[6:], 12)})
    assert len(calls) == 2  # both fitted here
    assert "worker pool failed (BrokenProcessPool" in caplog.text
    assert expected._pool is None and expected._pool_failures == 1
    _assert_same_baseline(fitted["a"], expected.fit_baseline(values, 12))
    again = expected._fit_now({"c": (values[:-2], 12)})  # the next batch: a new pool
    assert expected._pool is not None and expected._pool is not broken
    assert len(calls) == 3  # + the reference fit above; "c" ran in a worker
    _assert_same_baseline(again["c"], expected.fit_baseline(values[:-2], 12))


def test_no_worker_process_remains_after_shutdown(pool):
    assert _worker_children()  # the pool of the previous test
    expected.shutdown_fit_pool()
    assert _worker_children() == []
    assert expected._pool is None


def test_a_fit_before_the_workers_are_ready_is_done_here_and_starts_them(monkeypatch):
    """Workers not yet started (a delayed warm-up still waiting): the fit is not held up by their start."""
    monkeypatch.setenv(ENV, "2")
    monkeypatch.setattr(expected, "_pool_ready", False)
    monkeypatch.setattr(expected, "_warm_started", True)  # a delayed warm-up is waiting
    expected._warm_now.clear()
    calls = _counting_fits(monkeypatch)
    values = _london_series()[0]
    fitted = expected._fit_now({"a": (values, 12)})
    assert len(calls) == 1 and expected._warm_now.is_set()  # fitted here; the warm-up told to start now
    _assert_same_baseline(fitted["a"], expected.fit_baseline(values, 12))
    expected._warm_now.clear()
