"""Which months a view summarises when its data do not follow the shared comparison: the latest 12 months of a
family, the comparison a family's own months can support, and the COVID windows. Periods are inclusive
(first month, last month) tuples of first-of-month dates.
"""

from __future__ import annotations

from datetime import date

from metrics.filters import add_months, month_start
from metrics.plan import Comparison, period_label, resolve_comparison

FIRST_COVID_MONTH = date(2020, 3, 1)
COVID_YEAR_END = date(2021, 2, 1)
COVID_WINDOWS: dict[str, str] = {
    "year": "First COVID year (Mar 2020–Feb 2021)",
    "all": "Every month from March 2020",
}


def latest_months(first: date, last: date, months: int = 12) -> tuple[date, date]:
    """The latest `months` months of data covering first..last (fewer when less is loaded)."""
    return max(month_start(first), add_months(last, -(months - 1))), month_start(last)


def current_period(comparison: Comparison | None, first: date, last: date) -> tuple[tuple[date, date], str | None]:
    """The comparison's current period when the family's data (first..last) cover it, else the family's
    latest 12 months (or fewer), with a note saying so."""
    if comparison is not None and first <= comparison.post[0] and comparison.post[1] <= last:
        return comparison.post, None
    period = latest_months(first, last)
    return period, (f"These data cover {period_label((first, last))}, not the comparison's current period: "
                    f"showing {period_label(period)}.")


def comparison_for(comparison: Comparison | None, first: date | None, last: date | None) -> Comparison | None:
    """The shared comparison when a family's months first..last cover both its periods; otherwise the
    latest 12 months of the family against the 12 before (or the longest equal halves), with a notice
    naming the family's months. None when the family holds no months."""
    if first is None or last is None:
        return None
    if comparison is not None and first <= comparison.pre[0] and comparison.post[1] <= last:
        return comparison
    own = resolve_comparison(first, last, "latest12")
    note = f"These data cover {period_label((first, last))}: comparing {own.label} instead of the shared periods."
    if own.notice and "nothing to compare" in own.notice:
        note = own.notice
    return Comparison(own.preset, own.pre, own.post, notice=note)


def covid_window(window: str, last: date) -> tuple[date, date]:
    """The months a COVID summary covers: 'year' (Mar 2020–Feb 2021) or 'all' (Mar 2020 to the last loaded
    month), never past `last`."""
    if window not in COVID_WINDOWS:
        raise ValueError(f"unknown COVID window {window!r}; one of: {', '.join(COVID_WINDOWS)}")
    end = COVID_YEAR_END if window == "year" else month_start(last)
    return FIRST_COVID_MONTH, min(end, month_start(last))


__all__ = ["COVID_WINDOWS", "FIRST_COVID_MONTH", "comparison_for", "covid_window", "current_period", "latest_months"]
