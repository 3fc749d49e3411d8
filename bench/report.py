"""Small helpers the bench tools share for their figures: nearest-rank percentiles, the machine line and
figure-against-target verdicts."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile on the sorted values: the value at index round(p/100 * (n-1)); None when empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, e.g. '1.84 2.38 4.37'."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def machine_line() -> str:
    """CPUs, Python and the load average now: printed with every figure (the machine may be shared)."""
    return (f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}; "
            f"load average {load_average()} (1/5/15 min)")


def verdict(value: float | None, target: float) -> str:
    """'met' when value <= target, 'MISSED' above it, 'not measured' without a value."""
    if value is None:
        return "not measured"
    return "met" if value <= target else "MISSED"
