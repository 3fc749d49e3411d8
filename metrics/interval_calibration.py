"""Calibration of the period-comparison, funnel and road-casualty statistics, measured by simulation.

`python -m metrics interval-calibration [--simulations N] [--seed S] [--format table|csv|json]` prints, for
each check, what was simulated, the measured rate and its nominal value:
- rate-ratio interval coverage: Poisson counts in 92 and 59 days with a true rate ratio of 1.2; how often the
  exact 95% interval contains 1.2 (nominal at least 95%: the exact method is conservative);
- Benjamini–Hochberg under the null: 14 districts with no change; how often any is called significant
  (at most 5%);
- funnel false flags: 14 districts with Essex-like populations whose true rates differ by a random effect
  (τ = 0.113 on the √(O/E) scale, as estimated on the real Essex data) and none is special; the share of
  districts outside the 95% and 99.8% limits (nominal 5% and 0.2%); and the same with no overdispersion;
- road casualty intervals: collisions Poisson, casualties per collision 1 + Poisson(0.244) (E[c²]/E[c] = 1.44,
  as in the real DfT sample), a true fall of 10%; coverage of the 95% interval with the Poisson and with the
  quasi-Poisson (clustering) method.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import pandas as pd

from metrics.compare import benjamini_hochberg, poisson_rate_ratio
from metrics.rates import _count_limits, overdispersion

ESSEX_RESIDENTS = (174497, 147084, 73601, 88011, 168310, 173074, 124659, 81944, 61629, 83287, 173658, 138048,
                   157705, 79443)  # 2011 Census usual residents of the 14 districts
ESSEX_RATE = 0.04849  # crimes and ASB per resident, Oct 2018 – Feb 2019
ESSEX_TAU = 0.113
EXTRA_CASUALTIES = 0.244  # 1 + Poisson(0.244) casualties per collision: E[c²]/E[c] = 1.44
CALIBRATION_COLUMNS = ["check", "setting", "simulations", "measured", "nominal"]


def rate_ratio_coverage(rng: np.random.Generator, mean_pre: float, simulations: int, true_ratio: float = 1.2) -> float:
    """Share of exact 95% intervals (92 days against 59) that contain the true rate ratio."""
    pre = rng.poisson(mean_pre, simulations)
    post = rng.poisson(mean_pre * true_ratio * 59 / 92, simulations)
    covered = 0
    for a, b in zip(post, pre):
        result = poisson_rate_ratio(int(a), 59, int(b), 92)
        covered += result.ci_lower <= true_ratio <= result.ci_upper
    return covered / simulations


def bh_null_rate(rng: np.random.Generator, simulations: int, mean_pre: float = 3000.0, units: int = 14) -> float:
    """Share of simulated tables of `units` unchanged districts where any q-value is below 0.05."""
    hits = 0
    for _ in range(simulations):
        pre, post = rng.poisson(mean_pre, units), rng.poisson(mean_pre * 59 / 92, units)
        p_values = [poisson_rate_ratio(int(a), 59, int(b), 92).p_value for a, b in zip(post, pre)]
        hits += bool((benjamini_hochberg(p_values) < 0.05).any())
    return hits / simulations


def funnel_flag_rates(rng: np.random.Generator, tau: float, simulations: int) -> tuple[float, float]:
    """(share outside 95%, share outside 99.8%) of districts with no special cause, the limits estimated from
    each simulated set as district_rates does (rate, overdispersion, τ)."""
    residents = np.asarray(ESSEX_RESIDENTS, dtype="float64")
    outside = np.zeros(2)
    for _ in range(simulations):
        true_rate = ESSEX_RATE * (1 + rng.normal(0, tau, len(residents))) ** 2 if tau else ESSEX_RATE
        observed = rng.poisson(true_rate * residents)
        expected = observed.sum() / residents.sum() * residents
        fitted_tau = overdispersion(observed, expected).tau
        for k, (low, high) in enumerate(((0.025, 0.975), (0.001, 0.999))):
            lower, upper = _count_limits(expected, low, fitted_tau), _count_limits(expected, high, fitted_tau)
            outside[k] += int(((observed < lower) | (observed > upper)).sum())
    share = outside / (simulations * len(residents))
    return float(share[0]), float(share[1])


def casualty_coverage(rng: np.random.Generator, collisions_per_year: float, simulations: int) -> tuple[float, float]:
    """(Poisson coverage, quasi-Poisson coverage) of the 95% interval for a 10% fall in casualties, the
    dispersion estimated from each simulated pair of years as road_period_change does."""
    covered = np.zeros(2)
    for _ in range(simulations):
        sizes = [1 + rng.poisson(EXTRA_CASUALTIES, rng.poisson(rate)) for rate in (collisions_per_year,
                                                                                   collisions_per_year * 0.9)]
        before, after = int(sizes[0].sum()), int(sizes[1].sum())
        together = np.concatenate(sizes)
        dispersion = max(1.0, float((together**2).sum() / together.sum())) if together.size else 1.0
        for k, phi in enumerate((1.0, dispersion)):
            result = poisson_rate_ratio(after, 365, before, 365, dispersion=phi)
            covered[k] += result.ci_lower <= 0.9 <= result.ci_upper
    share = covered / simulations
    return float(share[0]), float(share[1])


def calibration_table(simulations: int = 1000, seed: int = 2005) -> pd.DataFrame:
    """Every check of the module docstring (CALIBRATION_COLUMNS)."""
    rng = np.random.default_rng(seed)
    rows = [("rate-ratio 95% interval coverage", f"{mean:g} events in 92 days, ratio 1.2", simulations,
             rate_ratio_coverage(rng, mean, simulations), "≥ 0.95") for mean in (5, 20, 100, 1000)]
    rows.append(("Benjamini–Hochberg: any false discovery", "14 unchanged districts, ~3,000 events each", simulations,
                 bh_null_rate(rng, simulations), "≤ 0.05"))
    for tau, label in ((ESSEX_TAU, f"random effect τ = {ESSEX_TAU}"), (0.0, "Poisson, no overdispersion")):
        outside_95, outside_998 = funnel_flag_rates(rng, tau, simulations)
        rows.append(("funnel: districts outside 95%", f"14 Essex-like districts, {label}", simulations, outside_95, "0.05"))
        rows.append(("funnel: districts outside 99.8%", f"14 Essex-like districts, {label}", simulations, outside_998,
                     "0.002"))
    for per_year in (50, 500):
        poisson, quasi = casualty_coverage(rng, per_year, simulations)
        setting = f"{per_year} collisions a year, E[c²]/E[c] = 1.44, fall of 10%"
        rows.append(("casualty 95% interval coverage, Poisson", setting, simulations, poisson, "0.95"))
        rows.append(("casualty 95% interval coverage, quasi-Poisson", setting, simulations, quasi, "0.95"))
    return pd.DataFrame(rows, columns=CALIBRATION_COLUMNS)


def register(subparsers) -> None:
    """Add `interval-calibration` to `python -m metrics`."""
    parser = subparsers.add_parser("interval-calibration", help="coverage and false-flag rates of the period "
                                                                "comparison, funnel and road intervals, by simulation")
    parser.add_argument("--simulations", type=int, default=1000, help="simulations per check (default 1000)")
    parser.add_argument("--seed", type=int, default=2005)
    parser.add_argument("--format", default="table", choices=["table", "csv", "json"])
    parser.set_defaults(handler=_cmd_calibration)


def _cmd_calibration(args: argparse.Namespace) -> int:
    from metrics.__main__ import emit

    if args.simulations < 10:
        raise ValueError("--simulations must be at least 10")
    frame = calibration_table(args.simulations, args.seed)
    standard_error = math.sqrt(0.05 * 0.95 / args.simulations)
    frame.attrs["note"] = (f"Rates from {args.simulations:,} simulations per check (standard error about "
                           f"{standard_error:.3f} at 0.05); nominal values as in docs/STATISTICS.md.")
    emit(frame, args.format)
    return 0
