"""The simulations that measure the calibration of the period comparison, funnel limits and road intervals
(metrics/interval_calibration.py, whose figures docs/STATISTICS.md reports): their set-ups checked by hand, and
the measured rates within the bounds the docs state."""

from __future__ import annotations

import json

import numpy as np
import pytest

from metrics.interval_calibration import (
    ESSEX_RATE,
    EXTRA_CASUALTIES,
    casualty_coverage,
    funnel_flag_rates,
    rate_ratio_coverage,
)
from tests.test_metrics_cli import metrics_cli


def test_simulated_casualties_per_collision_match_the_dft_dispersion():
    # 1 + Poisson(m): E[c] = 1 + m, E[c²] = m + (1 + m)²  =>  E[c²]/E[c] = 1.44 for m = 0.244
    m = EXTRA_CASUALTIES
    assert (m + (1 + m) ** 2) / (1 + m) == pytest.approx(1.44, abs=0.001)
    sizes = 1 + np.random.default_rng(0).poisson(m, 200_000)
    assert (sizes**2).sum() / sizes.sum() == pytest.approx(1.44, abs=0.01)
    assert ESSEX_RATE * 1000 == pytest.approx(48.49, abs=0.01)  # the real Essex rate per 1,000 (test_metrics_rates)


def test_measured_calibration_within_the_documented_bounds():
    rng = np.random.default_rng(1)
    assert rate_ratio_coverage(rng, 20, 300) >= 0.93  # exact intervals: at least 95% up to simulation error
    outside_95, outside_998 = funnel_flag_rates(rng, 0.113, 200)
    assert 0.025 <= outside_95 <= 0.075 and outside_998 <= 0.01
    poisson, quasi = casualty_coverage(rng, 100, 300)
    assert quasi >= 0.93 and quasi > poisson


def test_interval_calibration_command(capsys):
    payload = json.loads(metrics_cli(capsys, "interval-calibration", "--simulations", "20", "--format", "json").stdout)
    checks = [row["check"] for row in payload["rows"]]
    assert checks.count("rate-ratio 95% interval coverage") == 4 and len(checks) == 13
    assert all(0 <= row["measured"] <= 1 for row in payload["rows"])
    bad = metrics_cli(capsys, "interval-calibration", "--simulations", "2", check=False)
    assert bad.returncode == 2 and "at least 10" in bad.stderr
