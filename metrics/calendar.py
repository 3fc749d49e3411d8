"""The COVID-19 calendar (England) as data the charts can shade, the disruption periods that expected
baselines leave out, and comparison-period presets.

Defaults (configurable): first lockdown 23 Mar 2020 – 23 Jun 2020; second 5 Nov – 2 Dec 2020;
third 6 Jan – 29 Mar 2021; last restrictions lifted 19 Jul 2021. Periods between lockdowns up to the
lifting of the last restrictions are 'easing'.

Disruptions (`disruptions()`): labelled date ranges read from metrics/disruptions.toml (or the file
$CRIME_MONITOR_DISRUPTIONS names); by default one, "COVID-19 restrictions", 23 Mar 2020 – 19 Jul 2021. A
month is disrupted when any period touches any day of it (`disrupted_months`), so the default marks
Mar 2020–Jul 2021.

Comparison periods are (first month, last month) tuples of first-of-month dates, inclusive.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from metrics.filters import add_months, month_start

# (label, start, end, kind); inclusive dates
COVID_PERIODS: list[tuple[str, date, date, str]] = [
    ("First lockdown", date(2020, 3, 23), date(2020, 6, 23), "lockdown"),
    ("Easing", date(2020, 6, 24), date(2020, 11, 4), "easing"),
    ("Second lockdown", date(2020, 11, 5), date(2020, 12, 2), "lockdown"),
    ("Tiers", date(2020, 12, 3), date(2021, 1, 5), "easing"),
    ("Third lockdown", date(2021, 1, 6), date(2021, 3, 29), "lockdown"),
    ("Roadmap easing", date(2021, 3, 30), date(2021, 7, 18), "easing"),
]
RESTRICTIONS_LIFTED = date(2021, 7, 19)
KINDS = ("lockdown", "easing")


def _as_date(value, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not a date in the form YYYY-MM-DD") from None


def covid_periods(config: dict | None = None) -> pd.DataFrame:
    """The lockdown and easing periods: DataFrame[label, start, end, kind] (inclusive dates, in order).

    config (e.g. from a TOML file): {"periods": [{"label": ..., "start": "2020-03-23", "end": "2020-06-23",
    "kind": "lockdown"}, ...]} replaces the defaults; {"restrictions_lifted": "2021-07-19"} is kept in
    frame.attrs. Raises ValueError on a bad date, an unknown kind or an end before its start.
    """
    config = config or {}
    periods = COVID_PERIODS
    if "periods" in config:
        periods = []
        for number, entry in enumerate(config["periods"], start=1):
            where = f"covid period {number}"
            label = str(entry.get("label") or f"Period {number}")
            start = _as_date(entry.get("start"), where + " start")
            end = _as_date(entry.get("end"), where + " end")
            kind = entry.get("kind", "lockdown")
            if kind not in KINDS:
                raise ValueError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
            if end < start:
                raise ValueError(f"{where}: ends {end} before it starts {start}")
            periods.append((label, start, end, kind))
    frame = pd.DataFrame(periods, columns=["label", "start", "end", "kind"]).sort_values("start").reset_index(drop=True)
    lifted = _as_date(config.get("restrictions_lifted", RESTRICTIONS_LIFTED), "restrictions_lifted")
    frame.attrs = {"restrictions_lifted": lifted}
    return frame


def lockdowns(config: dict | None = None) -> pd.DataFrame:
    """Only the lockdown periods (for shading). The default calendar's is made once; each caller gets its own copy."""
    if not config:
        return _default_lockdowns().copy()
    return _only_lockdowns(covid_periods(config))


def _only_lockdowns(periods: pd.DataFrame) -> pd.DataFrame:
    return periods[periods["kind"] == "lockdown"].reset_index(drop=True)


@functools.lru_cache(maxsize=1)
def _default_lockdowns() -> pd.DataFrame:
    return _only_lockdowns(covid_periods())


def latest_12_vs_previous_12(last_month: date) -> tuple[tuple[date, date], tuple[date, date]]:
    """(previous 12 months, latest 12 months) ending with `last_month`: the incumbent's comparison."""
    last = month_start(last_month)
    post = (add_months(last, -11), last)
    pre = (add_months(last, -23), add_months(last, -12))
    return pre, post


def pre_covid_vs_covid_year() -> tuple[tuple[date, date], tuple[date, date]]:
    """(2019-03..2020-02, 2020-03..2021-02): the 12 months before COVID against the first COVID year."""
    return (date(2019, 3, 1), date(2020, 2, 1)), (date(2020, 3, 1), date(2021, 2, 1))


def same_period_last_year(start: date, end: date) -> tuple[tuple[date, date], tuple[date, date]]:
    """(the same months a year earlier, start..end)."""
    return (add_months(start, -12), add_months(end, -12)), (month_start(start), month_start(end))


COMPARISON_PRESETS = {
    "latest 12 months vs previous 12": latest_12_vs_previous_12,
    "12 months pre-COVID vs first COVID year": lambda _last=None: pre_covid_vs_covid_year(),
}


# ---------------------------------------------------------------------------------------------
# disruption periods (left out of expected-vs-observed baselines)
# ---------------------------------------------------------------------------------------------
DISRUPTIONS_FILE = Path(__file__).resolve().with_name("disruptions.toml")


@dataclass(frozen=True)
class Disruption:
    """A period when recorded crime did not follow its usual pattern (inclusive dates)."""

    label: str
    start: date
    end: date

    @property
    def first_month(self) -> date:
        return month_start(self.start)

    @property
    def last_month(self) -> date:
        return month_start(self.end)


def disruptions_file() -> Path:
    """$CRIME_MONITOR_DISRUPTIONS when set, else metrics/disruptions.toml."""
    configured = os.environ.get("CRIME_MONITOR_DISRUPTIONS")
    return Path(configured) if configured else DISRUPTIONS_FILE


def parse_disruptions(config: dict, where: str = "disruptions") -> tuple[Disruption, ...]:
    """Disruptions from a parsed TOML document {"disruption": [{"label", "start", "end"}, ...]}, in date
    order. ValueError naming `where` and the entry on a missing label, a bad date or an end before its start."""
    entries = config.get("disruption", [])
    if not isinstance(entries, list):
        raise ValueError(f"{where}: 'disruption' must be a list of [[disruption]] tables")
    periods = []
    for number, entry in enumerate(entries, start=1):
        place = f"{where}, disruption {number}"
        if not isinstance(entry, dict) or not str(entry.get("label") or "").strip():
            raise ValueError(f"{place}: needs a label")
        start = _as_date(entry.get("start"), f"{place} start")
        end = _as_date(entry.get("end"), f"{place} end")
        if end < start:
            raise ValueError(f"{place}: ends {end} before it starts {start}")
        periods.append(Disruption(str(entry["label"]).strip(), start, end))
    return tuple(sorted(periods, key=lambda p: (p.start, p.end)))


_loaded: dict[tuple[str, int], tuple[Disruption, ...]] = {}


def disruptions(path: str | os.PathLike | None = None) -> tuple[Disruption, ...]:
    """The configured disruption periods (see disruptions_file), re-read when the file changes.
    A missing or malformed file is a ValueError naming the file (and the line for TOML syntax errors)."""
    file = Path(path) if path is not None else disruptions_file()
    try:
        stamp = file.stat().st_mtime_ns
    except OSError:
        raise ValueError(f"{file}: disruption calendar not found") from None
    key = (str(file), stamp)
    if key not in _loaded:
        try:
            config = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{file}: not valid TOML ({exc})") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{file}: cannot be read ({exc})") from None
        _loaded[key] = parse_disruptions(config, str(file))
    return _loaded[key]


def disruptions_digest(periods: tuple[Disruption, ...]) -> str:
    """A short hash of the periods (part of the stamp of stored baselines)."""
    text = "\n".join(f"{p.label}|{p.start}|{p.end}" for p in periods)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def month_disruption(month: date, periods: tuple[Disruption, ...]) -> Disruption | None:
    """The first period that touches `month` (any day of it), or None."""
    first = month_start(month)
    for period in periods:
        if period.first_month <= first <= period.last_month:
            return period
    return None


def disrupted_months(months, periods: tuple[Disruption, ...]) -> list[bool]:
    """For each month (dates or Timestamps), whether a disruption period touches it."""
    return [month_disruption(_as_month(m), periods) is not None for m in months]


def _as_month(value) -> date:
    if isinstance(value, pd.Timestamp):
        return date(value.year, value.month, 1)
    return month_start(value)


def month_range_text(first: date, last: date) -> str:
    """'Mar 2020–Jul 2021' (or 'Mar 2020' for one month)."""
    return f"{first:%b %Y}" if first == last else f"{first:%b %Y}–{last:%b %Y}"
