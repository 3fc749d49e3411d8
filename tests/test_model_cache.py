"""The in-process model memory: a remembered fit returns exactly what a fresh fit returns, never a fit of
other data, and concurrent requests for one series share a single fit."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd

from metrics import expected


def _series(scale: float = 1.0) -> pd.Series:
    months = pd.date_range("2016-01-01", "2020-02-01", freq="MS")
    rng = np.random.default_rng(7)
    seasonal = 100 + 15 * np.sin(2 * np.pi * months.month / 12)
    return pd.Series(rng.poisson(seasonal * scale).astype("float64"), index=months)


def test_remembered_fit_equals_fresh_fit_and_keys_on_the_data(monkeypatch):
    expected._memory_cache.clear()
    calls = []
    real_fit = expected.fit_baseline
    monkeypatch.setattr(expected, "fit_baseline", lambda *a, **k: calls.append(1) or real_fit(*a, **k))
    first = expected.expected_from_series(_series(), until=pd.Timestamp("2020-12-01").date())
    again = expected.expected_from_series(_series(), until=pd.Timestamp("2020-12-01").date())
    assert len(calls) == 1  # the second call used the remembered fit
    expected._memory_cache.clear()
    fresh = expected.expected_from_series(_series(), until=pd.Timestamp("2020-12-01").date())
    assert len(calls) == 2
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(first, fresh)
    assert first.attrs == fresh.attrs
    other = expected.expected_from_series(_series(scale=2.0), until=pd.Timestamp("2020-12-01").date())
    assert len(calls) == 3 and other.attrs["baseline_key"] != first.attrs["baseline_key"]
    assert other["expected"].iloc[-1] > 1.5 * fresh["expected"].iloc[-1]
    expected._memory_cache.clear()


def test_concurrent_requests_for_one_series_fit_it_once(monkeypatch):
    expected._memory_cache.clear()
    calls = []
    real_fit = expected.fit_baseline

    def counting_fit(*args, **kwargs):
        calls.append(1)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(expected, "fit_baseline", counting_fit)
    results = []
    threads = [threading.Thread(target=lambda: results.append(expected.expected_from_series(_series(3.0))))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(results) == 4
    for frame in results[1:]:
        pd.testing.assert_frame_equal(frame, results[0])
    expected._memory_cache.clear()
