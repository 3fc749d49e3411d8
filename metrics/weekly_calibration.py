"""The weekly exceedance flag's false-alarm rate, measured on simulated in-control series.

`python -m metrics weekly-calibration [--series N] [--seed S] [--format table|csv|json]` simulates, for each
scenario, N weekly series of 7 years with nothing unusual going on — seasonal (±15% over the year plus a
half-yearly harmonic), with or without a 5%-a-year trend, counts Poisson or negative binomial with variance
1.5 or 3 times the mean, at realistic weekly levels (5, 20, 100 and 400 events a week) — and runs
metrics.exceedance.exceedance on each of the last 52 weeks (2021). Every flag there is a false alarm; the rate
is flagged weeks / weeks tested, against the target of at most 5% (the nominal one-sided level is 1%).

Three more scenarios put a COVID-like dip (−25% in the weeks of the COVID-19 calendar, 23 Mar 2020 –
18 Jul 2021) into the series: with those weeks left out of the baselines, as the method does, and — for
contrast only, not part of the verdict — kept in, which is how the earlier version flagged most weeks of 2021.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from metrics.exceedance import DEFAULT_ALPHA, disrupted_weeks, exceedance

TARGET_RATE = 0.05
LEVELS = (5, 20, 100, 400)
DISTRIBUTIONS = (("Poisson", 1.0), ("negative binomial, variance 1.5 × mean", 1.5),
                 ("negative binomial, variance 3 × mean", 3.0))
TRENDS = (0.0, 0.05)
YEARS = 7
FIRST_WEEK = date(2015, 1, 5)  # 7 years of weeks: the last 52 are those of 2021
COVID_DIP = 0.25
CALIBRATION_COLUMNS = ["level_per_week", "distribution", "trend_per_year", "covid_dip", "covid_weeks",
                       "series", "weeks_tested", "weeks_flagged", "false_alarm_rate", "target", "meets_target"]


@dataclass(frozen=True)
class Scenario:
    """One kind of in-control series: weekly mean level, variance/mean ratio (1 = Poisson), trend a year, a
    dip in the COVID-19 calendar's weeks (0 = none), and whether the baselines leave those weeks out."""

    level: float
    distribution: str
    dispersion: float
    trend: float
    covid_dip: float = 0.0
    leave_out_covid: bool = True

    @property
    def for_contrast(self) -> bool:
        """A scenario that shows what keeping disrupted weeks in the baseline would do (not the method)."""
        return self.covid_dip > 0 and not self.leave_out_covid


def scenarios() -> list[Scenario]:
    """Every combination of LEVELS, DISTRIBUTIONS and TRENDS, then the COVID-dip scenarios."""
    plain = [Scenario(level, name, phi, trend) for trend in TRENDS for name, phi in DISTRIBUTIONS for level in LEVELS]
    name, phi = DISTRIBUTIONS[1]
    dips = [Scenario(level, name, phi, 0.0, COVID_DIP, leave_out) for leave_out in (True, False)
            for level in LEVELS[1:]]
    return plain + dips


def simulate_series(rng: np.random.Generator, scenario: Scenario, years: int = YEARS) -> pd.Series:
    """One in-control weekly series (Monday index from FIRST_WEEK, 52 × years + 1 weeks)."""
    count = 52 * years + 1
    weeks = [FIRST_WEEK + timedelta(weeks=k) for k in range(count)]
    t = np.arange(count) / (365.25 / 7)
    log_mean = (0.15 * np.sin(2 * np.pi * t) + 0.05 * np.cos(4 * np.pi * t)
                + math.log1p(scenario.trend) * (t - t[-1]))
    mean = scenario.level * np.exp(log_mean)
    if scenario.covid_dip:
        disrupted = disrupted_weeks()
        mean = np.where([week in disrupted for week in weeks], mean * (1 - scenario.covid_dip), mean)
    if scenario.dispersion <= 1:
        counts = rng.poisson(mean)
    else:  # NB with variance = dispersion × mean: size = mean / (dispersion − 1), p = 1 / dispersion
        counts = rng.negative_binomial(mean / (scenario.dispersion - 1), 1 / scenario.dispersion)
    return pd.Series(counts.astype("float64"), index=weeks)


def false_alarm_rates(series_per_scenario: int = 8, seed: int = 2013, alpha: float = DEFAULT_ALPHA,
                      chosen: list[Scenario] | None = None) -> pd.DataFrame:
    """CALIBRATION_COLUMNS per scenario: weeks tested and flagged over the last 52 weeks of each simulated
    series. The COVID-19 calendar's weeks are left out of the baselines as the method does (they hold no
    disruption unless the scenario has a dip); the contrast scenarios keep them in."""
    rows = []
    for number, scenario in enumerate(chosen or scenarios()):
        rng = np.random.default_rng([seed, number])
        tested = flagged = 0
        left_out = None if scenario.leave_out_covid else frozenset()
        for _ in range(series_per_scenario):
            series = simulate_series(rng, scenario)
            for week in series.index[-52:]:
                result = exceedance(series, week, alpha=alpha, left_out_weeks=left_out)
                if result["exceeds"] is not None:
                    tested += 1
                    flagged += int(result["exceeds"])
        rate = flagged / tested if tested else math.nan
        rows.append({"level_per_week": scenario.level, "distribution": scenario.distribution,
                     "trend_per_year": scenario.trend, "covid_dip": scenario.covid_dip,
                     "covid_weeks": ("kept in baseline (contrast)" if scenario.for_contrast else "left out"),
                     "series": series_per_scenario, "weeks_tested": tested, "weeks_flagged": flagged,
                     "false_alarm_rate": rate, "target": TARGET_RATE,
                     "meets_target": None if scenario.for_contrast else bool(rate <= TARGET_RATE)})
    return pd.DataFrame(rows, columns=CALIBRATION_COLUMNS)


def summary(frame: pd.DataFrame) -> str:
    """One line: the pooled and the worst scenario's false-alarm rate against the target (contrast rows apart)."""
    method = frame[frame["meets_target"].notna()]
    pooled = method["weeks_flagged"].sum() / method["weeks_tested"].sum()
    worst = method.loc[method["false_alarm_rate"].idxmax()]
    verdict = "meets" if meets_target(frame) else "DOES NOT MEET"
    contrast = frame[frame["meets_target"].isna()]
    kept = (f" With a COVID-like dip kept in the baselines instead, {100 * contrast['weeks_flagged'].sum() / contrast['weeks_tested'].sum():.1f}% "
            "of weeks would be flagged." if len(contrast) else "")
    return (f"False-alarm rate {100 * pooled:.2f}% of {int(method['weeks_tested'].sum()):,} in-control weeks "
            f"(worst scenario {100 * worst['false_alarm_rate']:.2f}%: {worst['level_per_week']:g} a week, "
            f"{worst['distribution']}, trend {100 * worst['trend_per_year']:g}% a year); target at most "
            f"{100 * TARGET_RATE:g}% in every scenario: {verdict} the target.{kept}")


def meets_target(frame: pd.DataFrame) -> bool:
    """Whether every scenario of the method (contrast rows apart) is at or below the target rate."""
    return bool(frame["meets_target"].dropna().astype(bool).all())


def register(subparsers) -> None:
    """Add `weekly-calibration` to `python -m metrics`."""
    parser = subparsers.add_parser("weekly-calibration", help="false-alarm rate of the weekly flag on simulated "
                                                              "in-control series, against its 5%% target")
    parser.add_argument("--series", type=int, default=8, help="simulated series per scenario (default 8)")
    parser.add_argument("--seed", type=int, default=2013, help="random seed (default 2013)")
    parser.add_argument("--format", default="table", choices=["table", "csv", "json"])
    parser.set_defaults(handler=_cmd_calibration)


def _cmd_calibration(args: argparse.Namespace) -> int:
    from metrics.__main__ import emit

    if args.series < 1:
        raise ValueError("--series must be at least 1")
    started = time.perf_counter()
    frame = false_alarm_rates(args.series, args.seed)
    frame.attrs["note"] = summary(frame) + f" ({time.perf_counter() - started:.0f} s)"
    emit(frame, args.format)
    return 0 if meets_target(frame) else 1
