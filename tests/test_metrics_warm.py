"""`python -m metrics warm` fits the default views' models into the shared model cache."""

from __future__ import annotations

import os

import pandas as pd

from metrics import expected, plan
from metrics.db import connect
from metrics.filters import Filters
from tests.conftest import run_cli


def test_warm_fills_the_cache_the_views_then_read(demo_db, tmp_path):
    cache = tmp_path / "cache"
    out = run_cli("metrics", "warm", "--db", str(demo_db), env={"CRIME_MONITOR_CACHE": str(cache)}).stdout
    assert "warm: essex: models ready" in out
    fitted = sorted(cache.glob("expected-*.json"))
    assert len(fitted) >= 20  # 14 crime types + the plan's other measures, over 5 years of demo data
    # a second run finds every model cached: nothing new is written
    run_cli("metrics", "warm", "--db", str(demo_db), env={"CRIME_MONITOR_CACHE": str(cache)})
    assert sorted(cache.glob("expected-*.json")) == fitted
    # the COVID view's frame from the cache equals a fresh fit
    previous = os.environ.get("CRIME_MONITOR_CACHE")
    con = connect(demo_db)
    try:
        os.environ["CRIME_MONITOR_CACHE"] = str(cache)
        expected._memory_cache.clear()
        cached = plan.expected_series(con, "crime_type:Burglary", Filters(force_id="essex"))
        os.environ["CRIME_MONITOR_CACHE"] = "off"
        expected._memory_cache.clear()
        fresh = plan.expected_series(con, "crime_type:Burglary", Filters(force_id="essex"))
    finally:
        con.close()
        expected._memory_cache.clear()
        if previous is None:
            os.environ.pop("CRIME_MONITOR_CACHE", None)
        else:
            os.environ["CRIME_MONITOR_CACHE"] = previous
    pd.testing.assert_frame_equal(cached, fresh)
