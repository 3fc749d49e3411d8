"""How numbers, changes, dates and significance read wherever people see them: on screen, in chart captions,
in the briefing pack and in exports. The one formatter module (no Streamlit, no Plotly).

Missing values read "—", never "None" or "nan".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import pandas as pd

DASH = "—"
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"


def is_missing(value: Any) -> bool:
    """None, NaN, NA or NaT (text and numbers otherwise)."""
    if value is None or isinstance(value, str):
        return value is None
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def number(value: Any, decimals: int = 0, *, unit: str = "", sign: bool = False) -> str:
    """'12,345' (decimals=0), '12.3' (decimals=1), '+4' with sign=True, with ' unit' after it; text passes
    through unchanged (e.g. a disclosure marker '<5'); '—' when missing."""
    if is_missing(value):
        return DASH
    if isinstance(value, str):
        return value
    try:
        text = f"{float(value):{'+' if sign else ''},.{decimals}f}"
    except (TypeError, ValueError):
        return str(value)
    return f"{text} {unit}" if unit else text


def percent(value: Any, decimals: int = 1, *, sign: bool = False) -> str:
    """A value already in percent: 12.34 -> '12.3%' ('+12.3%' with sign); '—' when missing."""
    if is_missing(value):
        return DASH
    if isinstance(value, float) and math.isinf(value):
        return "no baseline"
    return f"{number(value, decimals, sign=sign)}%"


def share(value: Any, decimals: int = 1) -> str:
    """A share 0..1 as a percentage: 0.1234 -> '12.3%'; '—' when missing."""
    return DASH if is_missing(value) else percent(float(value) * 100, decimals)


def pounds_millions(value: Any, decimals: int = 1) -> str:
    """£ amounts in millions: 1_234_567 -> '£1.2m'; '—' when missing."""
    return DASH if is_missing(value) else f"£{float(value) / 1e6:,.{decimals}f}m"


def _ratio_as_change(value: Any) -> str:
    if is_missing(value):
        return DASH
    if math.isinf(float(value)):
        return "no baseline"
    return f"{(float(value) - 1) * 100:+.1f}%"


def pct_change(rate_ratio: Any, lower: Any, upper: Any) -> tuple[str, str]:
    """('+12.3%', '+5.1% to +20.0%') from a rate ratio and its 95% interval; ('—', '—') when not defined."""
    if is_missing(rate_ratio):
        return DASH, DASH
    return _ratio_as_change(rate_ratio), f"{_ratio_as_change(lower)} to {_ratio_as_change(upper)}"


def significance(q_value: Any, rate_ratio: Any, alpha: float = 0.05) -> str:
    """'▲ significant rise' / '▼ significant fall' when q < alpha (Benjamini–Hochberg), '– not significant'
    otherwise, 'not tested' without a q-value."""
    if is_missing(q_value) or is_missing(rate_ratio):
        return "not tested"
    if float(q_value) < alpha:
        return "▲ significant rise" if float(rate_ratio) > 1 else "▼ significant fall"
    return "– not significant"


def q_value(value: Any) -> str:
    """'<0.001' or '0.123'; '—' when missing."""
    if is_missing(value):
        return DASH
    return "<0.001" if float(value) < 0.001 else f"{float(value):.3f}"


def as_at(value: date | datetime | str | None) -> str:
    """'March 2021' for a month (first day), '12 Apr 2021' for a date, the text itself for a string,
    'unknown' when missing."""
    if is_missing(value):
        return "unknown"
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return f"{value:%d %b %Y}"
    if isinstance(value, date):
        return f"{value:%d %b %Y}" if value.day != 1 else f"{value:%B %Y}"
    return str(value)


def month(value: Any) -> str:
    """'Jan 2021'; '—' when missing."""
    return DASH if is_missing(value) else f"{pd.Timestamp(value):%b %Y}"


def sparkline_text(values: Sequence[float]) -> str:
    """A series as block characters ('▁▃▅█'), lowest to highest: a trend that fits in a table cell."""
    clean = [float(v) for v in values if not is_missing(v)]
    if not clean:
        return DASH
    low, high = min(clean), max(clean)
    span = (high - low) or 1.0
    return "".join(SPARK_BLOCKS[min(int((v - low) / span * len(SPARK_BLOCKS)), len(SPARK_BLOCKS) - 1)]
                   for v in clean)


def join_labels(items: Sequence[str], limit: int = 3) -> str:
    """'a', 'a and b', 'a, b and c', 'a, b, c and 2 more'."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    if len(items) <= limit:
        return ", ".join(items[:-1]) + " and " + items[-1]
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


__all__ = [
    "DASH", "as_at", "is_missing", "join_labels", "month", "number", "pct_change", "percent", "pounds_millions",
    "q_value", "share", "significance", "sparkline_text",
]
