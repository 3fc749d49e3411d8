"""The on-disk model cache returns exactly what a fresh fit returns, and never a fit of other data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics import expected


def _series(scale: float = 1.0) -> pd.Series:
    months = pd.date_range("2016-01-01", "2020-12-01", freq="MS")
    rng = np.random.default_rng(7)
    seasonal = 100 + 15 * np.sin(2 * np.pi * months.month / 12)
    return pd.Series(rng.poisson(seasonal * scale).astype("float64"), index=months)


def test_cached_fit_equals_fresh_fit_and_keys_on_the_data(tmp_path, monkeypatch):
    monkeypatch.setenv("CRIME_MONITOR_CACHE", "off")
    expected._memory_cache.clear()
    fresh = expected.expected_from_series(_series())
    monkeypatch.setenv("CRIME_MONITOR_CACHE", str(tmp_path))
    expected._memory_cache.clear()
    first = expected.expected_from_series(_series())
    assert len(list(tmp_path.glob("expected-*.json"))) == 1
    expected._memory_cache.clear()  # force the read from disk
    from_disk = expected.expected_from_series(_series())
    pd.testing.assert_frame_equal(fresh, first)
    pd.testing.assert_frame_equal(fresh, from_disk)
    assert from_disk.attrs == fresh.attrs
    other = expected.expected_from_series(_series(scale=2.0))
    assert len(list(tmp_path.glob("expected-*.json"))) == 2
    assert other["expected"].iloc[-1] > 1.5 * fresh["expected"].iloc[-1]


def test_concurrent_requests_for_one_series_fit_it_once(monkeypatch):
    """Sessions asking at once for the same series share one fit (the others wait for it)."""
    import threading

    monkeypatch.setenv("CRIME_MONITOR_CACHE", "off")
    expected._memory_cache.clear()
    calls = []
    real_fit = expected._fit_candidates

    def counting_fit(*args, **kwargs):
        calls.append(1)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(expected, "_fit_candidates", counting_fit)
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
