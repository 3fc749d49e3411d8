"""Plausibility rules applied while loading (written out for analysts in docs/PLAUSIBILITY.md).

- **Date window.** Every date a row carries (a data.police.uk month, a stop-and-search date-time, a collision
  date, a fraud month, a measure's period, an incident's recording and outcome dates, a counts period) must lie
  in [earliest, latest]. Default: 2000-01-01 to the day after the load (no source we load describes the
  future). `--earliest-date` / `--latest-date` (or `$CRIME_MONITOR_EARLIEST_DATE` /
  `$CRIME_MONITOR_LATEST_DATE`, YYYY-MM-DD) change it, e.g. `--earliest-date 1979-01-01` for old STATS19.
  A row outside the window is a reject whose reason names the value and the window.
- **Replacement.** A load replaces what the warehouse holds only with what it read and accepted: a file whose
  rows are all rejected fails the whole load (database unchanged), and so does a file that replaces whole
  units already in the warehouse (a force-month of data.police.uk rows, every casualty or vehicle of a
  collision, all LSOA boundaries) while more than `MAX_REJECTED_SHARE` of its rows are rejected — unless
  `--accept-rejects`. Files replaced key by key (fraud, measures, extract, counts, collisions, LSOA lookup
  and census) keep a rejected row's earlier value, so only the first rule applies to them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from etl.warehouse import LoadError

DEFAULT_EARLIEST = date(2000, 1, 1)
EARLIEST_ENV = "CRIME_MONITOR_EARLIEST_DATE"
LATEST_ENV = "CRIME_MONITOR_LATEST_DATE"
# a file replacing rows already in the warehouse may have at most this share of its rows rejected
MAX_REJECTED_SHARE = 0.05
WINDOW_TABLE = "load_window"


@dataclass(frozen=True)
class DateWindow:
    """The inclusive range of dates a loaded row may carry."""

    earliest: date
    latest: date

    def describe(self) -> str:
        return f"{self.earliest:%Y-%m-%d} to {self.latest:%Y-%m-%d}"

    def contains(self, value: date | datetime) -> bool:
        day = value.date() if isinstance(value, datetime) else value
        return self.earliest <= day <= self.latest

    def reason(self, label: str, value: date | datetime) -> str | None:
        """A reject reason when `value` (shown as `label`) lies outside the window, else None."""
        if self.contains(value):
            return None
        return f"{label} is outside the plausible date window {self.describe()} (see docs/PLAUSIBILITY.md)"


def _parse_day(text: str, where: str) -> date:
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError as exc:
        raise LoadError(f"{where} {text!r} is not a date in the form YYYY-MM-DD") from exc


def date_window(earliest: str | date | None = None, latest: str | date | None = None, *,
                today: date | None = None) -> DateWindow:
    """The window from the options (`--earliest-date`, `--latest-date`), else the environment, else the
    default 2000-01-01 .. today + 1 day. LoadError for a value that is not YYYY-MM-DD or an empty window."""
    def resolve(value: str | date | None, option: str, env: str, default: date) -> date:
        if isinstance(value, date):
            return value
        if value:
            return _parse_day(value, option)
        if os.environ.get(env):
            return _parse_day(os.environ[env], f"${env}")
        return default

    first = resolve(earliest, "--earliest-date", EARLIEST_ENV, DEFAULT_EARLIEST)
    last = resolve(latest, "--latest-date", LATEST_ENV, (today or date.today()) + timedelta(days=1))
    if last < first:
        raise LoadError(f"the date window is empty: the earliest date {first} is after the latest date {last}")
    return DateWindow(first, last)


def install_window(con, window: DateWindow) -> str:
    """(Re)create the one-row temp table holding the window and the SQL macro the staging SQL checks dates
    with: `outside_date_window(label, day)` is the same reject reason as `DateWindow.reason`, or NULL.
    Returns the table's name. (The macro's two dates are `date` objects formatted here, never user text.)"""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {WINDOW_TABLE} (earliest DATE, latest DATE)")
    con.execute(f"INSERT INTO {WINDOW_TABLE} VALUES (?, ?)", [window.earliest, window.latest])
    first, last = f"{window.earliest:%Y-%m-%d}", f"{window.latest:%Y-%m-%d}"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP MACRO outside_date_window(label, day) AS
            CASE WHEN day < DATE '{first}' OR day > DATE '{last}'
                 THEN label || ' is outside the plausible date window {window.describe()} (see docs/PLAUSIBILITY.md)'
            END
        """
    )
    return WINDOW_TABLE


def check_replacement(entry, first_reject: tuple[int | None, str] | None, accept_rejects: bool) -> None:
    """Refuse a file that would replace data with nothing or with far fewer rows than it read.

    `entry` is a FileLoad (rows read/loaded/rejected; rows_replaced = rows of earlier loads in the whole units
    it replaces, 0 for files replaced key by key; replaces = what those rows are). Raises LoadError naming the file, how many rows were rejected and the
    first reject's line and reason, unless `accept_rejects`."""
    if accept_rejects or entry.rows_rejected == 0:
        return
    first = ""
    if first_reject is not None:
        line, reason = first_reject
        first = f" (first: {'line ' + str(line) + ': ' if line is not None else ''}{reason})"
    held = f" ({entry.replaces})" if entry.replaces else ""
    if entry.rows_loaded == 0:
        replaced = (f"; loading it would replace the {entry.rows_replaced:,} rows already in the warehouse{held}"
                    " with nothing" if entry.rows_replaced else "; nothing would be loaded from it")
        raise LoadError(
            f"all {entry.rows_read:,} rows of this file were rejected{first}{replaced}. Fix the file, or pass"
            " --accept-rejects to load it anyway (the rejects are then kept with their reasons)",
            entry.path,
        )
    share = entry.rows_rejected / max(entry.rows_read, 1)
    if share > MAX_REJECTED_SHARE and entry.rows_replaced > 0:
        raise LoadError(
            f"{entry.rows_rejected:,} of {entry.rows_read:,} rows of this file ({share:.1%}) were rejected{first};"
            f" a file may replace data already in the warehouse only when at most {MAX_REJECTED_SHARE:.0%} of its"
            f" rows are rejected, and this one would replace {entry.rows_replaced:,} rows{held} with"
            f" {entry.rows_loaded:,}. Fix the file, or pass --accept-rejects to load its accepted rows anyway",
            entry.path,
        )
