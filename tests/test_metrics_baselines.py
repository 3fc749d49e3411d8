"""Baselines stored with the data: a stored baseline equals a fresh fit of the same series, a slice outside
the store or changed data is fitted on demand, the computation re-checks the data under the write lock, and
a load starts it in the background."""

from __future__ import annotations

import shutil
import uuid
from datetime import date, datetime

import duckdb
import pandas as pd
import pytest

from etl.warehouse import Warehouse, connect_read_only, load_fingerprint
from metrics import expected, plan
from metrics.baselines import compute_baselines
from metrics.expected import expected_from_series
from metrics.filters import Filters

ESSEX = Filters(force_id="essex")


@pytest.fixture(scope="module")
def stored_demo(demo_db, tmp_path_factory):
    """A copy of the demo warehouse with force-wide baselines computed."""
    db = tmp_path_factory.mktemp("baselines") / "demo.duckdb"
    shutil.copyfile(demo_db, db)
    lines: list[str] = []
    run = compute_baselines(db, scope="force", log=lines.append)
    return db, run, lines


def _burglary_by_sql(con) -> pd.Series:
    rows = con.execute(
        "select month, count(*) from crimes where force_id = 'essex' and crime_type = 'Burglary' group by month order by month"
    ).fetchall()
    return pd.Series({pd.Timestamp(m): float(n) for m, n in rows})


def test_stored_baseline_equals_a_fresh_fit(stored_demo):
    db, run, lines = stored_demo
    assert run.scope == "force" and run.forces == ["essex"] and run.stored >= 20
    assert any("stored" in line for line in lines)
    con = connect_read_only(db)
    try:
        stored = plan.expected_series(con, "crime_type:Burglary", ESSEX)
        series = _burglary_by_sql(con)
        expected._memory_cache.clear()
        fresh = expected_from_series(series, fit_until=date(2020, 2, 1))  # no store: fitted now
        flags_stored = {m.id: plan.expected_flag(con, m.id, ESSEX, _latest12(con)) for m in plan.MEASURES
                        if plan.measure_available(con, m, ESSEX)}
    finally:
        con.close()
    assert stored.attrs["baseline_source"] == "stored" and fresh.attrs["baseline_source"] == "fitted"
    pd.testing.assert_frame_equal(stored, fresh)
    assert {k: v for k, v in stored.attrs.items() if k != "baseline_source"} == \
        {k: v for k, v in fresh.attrs.items() if k != "baseline_source"}
    assert len(flags_stored) >= 10 and all(f["expected_flag"] in ("above", "below", "within") for f in flags_stored.values())


def _latest12(con):
    first, last = con.execute("select min(month), max(month) from crimes").fetchall()[0]
    return plan.resolve_comparison(first, last, "latest12")


def test_every_stored_baseline_leaves_the_lockdown_months_out(stored_demo):
    db, _, _ = stored_demo
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("select fit_from, fit_until, len(slices) from baselines").fetchall()
    finally:
        con.close()
    # the demo runs Jan 2017 - Dec 2021; restrictions touched Mar 2020 - Jul 2021, and the 5 months after
    # them are too few to refit: every window must lie in Jan 2017 - Feb 2020
    assert rows and all(date(2017, 1, 1) <= a <= b <= date(2020, 2, 1) for a, b, _ in rows)
    assert all(n >= 1 for _, _, n in rows)


def test_a_slice_outside_the_store_is_fitted_on_demand(stored_demo):
    db, _, _ = stored_demo
    con = connect_read_only(db)
    try:
        two = Filters("essex", ("Basildon", "Colchester"), ("Burglary",))
        frame = expected.expected_vs_observed(con, "crimes", two, fit_until=date(2020, 12, 1))
    finally:
        con.close()
    assert frame.attrs["baseline_source"] == "fitted" and frame.attrs["method"] == "sarima"
    assert frame.attrs["fit_until"] == date(2020, 2, 1)


def test_changed_data_is_never_served_a_stale_baseline(stored_demo, tmp_path):
    db = tmp_path / "changed.duckdb"
    shutil.copyfile(stored_demo[0], db)
    with Warehouse(db).write() as session:  # one burglary fewer in June 2019
        session.con.execute("""
            delete from crimes where rowid = (select min(rowid) from crimes
                                              where crime_type = 'Burglary' and month = '2019-06-01')""")
    con = connect_read_only(db)
    try:
        frame = plan.expected_series(con, "crime_type:Burglary", ESSEX)
        june = frame.set_index("month").loc[date(2019, 6, 1), "observed"]
        by_sql = _burglary_by_sql(con)[pd.Timestamp(2019, 6, 1)]
    finally:
        con.close()
    assert june == by_sql and frame.attrs["baseline_source"] == "fitted"


def test_the_computation_rechecks_the_data_under_the_write_lock(stored_demo, tmp_path):
    db = tmp_path / "reloaded.duckdb"
    shutil.copyfile(stored_demo[0], db)
    reloads = []

    def reload_once():  # a load swaps in new data after the fits, before the write
        if not reloads:
            with Warehouse(db).write() as session:
                session.con.execute(
                    "insert into load_log (load_id, path, kind, rows_read, rows_loaded, rows_rejected, loaded_at) "
                    "values (?, 'extra.csv', 'test', 0, 0, 0, ?)", [uuid.uuid4().hex, datetime.now()])
            reloads.append(1)

    lines: list[str] = []
    run = compute_baselines(db, scope="force", log=lines.append, before_write=reload_once)
    assert any("reloaded while its baselines were being fitted; fitting again" in line for line in lines)
    con = duckdb.connect(str(db), read_only=True)
    try:
        stamp = con.execute("select value from meta where key = 'baselines_stamp'").fetchall()[0][0]
        assert stamp.split("|")[0] == load_fingerprint(con)  # written for the data now in the file
    finally:
        con.close()
    assert run.stored >= 20
    again = compute_baselines(db, scope="force", if_stale=True, log=lines.append)
    assert again.skipped == "the stored baselines are up to date" and again.stored == 0


def test_a_load_starts_the_computation_in_the_background(essex_db, tmp_path, monkeypatch):
    from etl.baselines_hook import start_baselines

    db = tmp_path / "essex.duckdb"
    shutil.copyfile(essex_db, db)
    con = duckdb.connect(str(db))  # never computed on this copy, whatever other tests did to the shared warehouse
    try:
        con.execute("delete from meta where key = 'baselines_stamp'")
        con.execute("delete from baselines")
    finally:
        con.close()
    monkeypatch.setenv("CRIME_MONITOR_BASELINES", "on")
    process = start_baselines(db, log=lambda _m: None)
    assert process is not None and process.wait(timeout=600) == 0
    log = (tmp_path / "essex.duckdb.baselines.log").read_text()
    assert "baselines: stored 0 baselines for 1 force(s), scope full" in log  # 5 months: nothing to fit
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("select count(*) from meta where key = 'baselines_stamp'").fetchall()[0][0] == 1
    finally:
        con.close()
    monkeypatch.setenv("CRIME_MONITOR_BASELINES", "off")
    assert start_baselines(db) is None
