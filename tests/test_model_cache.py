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
