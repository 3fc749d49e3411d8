"""The shared filter bar in the sidebar: force, districts, crime types and the comparison periods. Each widget
is bound to its URL parameter by Streamlit (`bind="query-params"`): a link restores the filters, invalid
values are dropped and the URL stays clean at the defaults; `ui.url_state` says what was dropped."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import streamlit as st

from metrics import series
from metrics.filters import Filters, month_range
from metrics.plan import PRESETS, Comparison, period_label, resolve_comparison
from ui import store
from ui.url_state import URL_KEYS, FilterOptions, month_label, read_filter_params

OTHER_FAMILIES = ("incidents", "casualties", "fraud", "stop_search", "counts")  # when a force has no street data


@dataclass(frozen=True)
class FilterBar:
    """What the filter bar decided: the filters, the comparison (None when nothing is loaded), the force's
    loaded months, and the notices about the link."""

    filters: Filters
    comparison: Comparison | None
    force_name: str
    forces: tuple[str, ...]
    first_month: date | None
    last_month: date | None
    notices: tuple[str, ...]


def loaded_months(force_id: str | None) -> tuple[date | None, date | None]:
    """The force's street-level months, or another family's when it has none."""
    if force_id is None:
        return None, None
    first, last = store.read(series.data_range, "crimes", Filters(force_id=force_id))
    for family in OTHER_FAMILIES:
        if first is not None:
            break
        first, last = store.read(series.data_range, family, Filters(force_id=force_id))
    return first, last


@functools.lru_cache(maxsize=64)
def _months(first: date | None, last: date | None) -> tuple[date, ...]:
    """Every month from `first`'s to `last`'s, as first days (made once per pair: every page run asks)."""
    return () if first is None or last is None else month_range(first, last)


def options_for(force_id: str | None) -> FilterOptions:
    """The districts, crime types and months the bar offers for a force."""
    if force_id is None:
        return FilterOptions()
    districts = tuple(store.read(series.districts, "crimes", force_id))
    crime_types = tuple(store.read(series.categories, "crimes", Filters(force_id=force_id)))
    return FilterOptions(districts, crime_types, _months(*loaded_months(force_id)))


def default_force(force_ids: Sequence[str], with_crimes: Sequence[str]) -> str | None:
    """Essex when loaded, else the first force with street-level crime, else the first force."""
    if "essex" in force_ids:
        return "essex"
    return (list(with_crimes) or list(force_ids) or [None])[0]


def _url_params() -> dict[str, list[str]]:
    return {key: list(st.query_params.get_all(key)) for key in URL_KEYS if st.query_params.get_all(key)}


def filter_bar() -> FilterBar:
    """Draw the filter bar in the sidebar (widgets bound to the URL) and return what it decided."""
    forces_frame = store.read(series.forces)
    names: Mapping[str, str] = dict(zip(forces_frame["force_id"], forces_frame["force_name"]))
    force_ids = [str(f) for f in forces_frame["force_id"]]
    with_crimes = [str(f) for f in forces_frame.loc[forces_frame["crimes"], "force_id"]] if len(forces_frame) else []
    default = default_force(force_ids, with_crimes)
    _state, notices = read_filter_params(_url_params(), names, default, options_for)

    sidebar = st.sidebar
    sidebar.markdown("### Filters")
    force_id = None
    if force_ids:
        force_id = sidebar.selectbox("Force", force_ids, index=force_ids.index(default), key="force",
                                     format_func=lambda f: names.get(f, f), bind="query-params",
                                     help="Forces with data loaded in the warehouse.")
    else:
        sidebar.caption("No force data loaded yet.")
    options = options_for(force_id)
    districts = sidebar.multiselect("Districts", options.districts, key="district", bind="query-params",
                                    placeholder="All districts", help="Empty = the whole force area.")
    crime_types = sidebar.multiselect("Crime types", options.crime_types, key="crime_type", bind="query-params",
                                      placeholder="All crime types and ASB",
                                      help="Applies where a view shows any crime type (Local policing, COVID-19 "
                                           "impact); a plan measure keeps its own crime types.")
    comparison = _comparison(sidebar, options.months)
    return FilterBar(
        filters=Filters(force_id=force_id, districts=tuple(districts), categories=tuple(crime_types)),
        comparison=comparison, force_name=names.get(force_id, "All forces") if force_id else "All forces",
        forces=tuple(force_ids), first_month=options.months[0] if options.months else None,
        last_month=options.months[-1] if options.months else None, notices=tuple(notices),
    )


def _comparison(sidebar, months: tuple[date, ...]) -> Comparison | None:
    """The comparison preset and, for custom periods, the two period sliders."""
    preset_ids = list(PRESETS)
    preset = sidebar.radio("Compare", preset_ids, key="compare", bind="query-params", format_func=PRESETS.get)
    custom_pre = custom_post = None
    if preset == "custom" and len(months) > 1:
        half = max(len(months) // 2, 1)
        custom_post = sidebar.select_slider("Current period", options=months, value=(months[half], months[-1]),
                                            key="post", format_func=month_label, bind="query-params")
        custom_pre = sidebar.select_slider("Baseline period", options=months, value=(months[0], months[half - 1]),
                                           key="pre", format_func=month_label, bind="query-params")
    first, last = (months[0], months[-1]) if months else (None, None)
    comparison = resolve_comparison(first, last, preset, custom_pre, custom_post)
    if comparison is not None:
        sidebar.caption(f"**Current:** {period_label(comparison.post)}  \n**Baseline:** {period_label(comparison.pre)}")
    return comparison


__all__ = ["FilterBar", "default_force", "filter_bar", "loaded_months", "options_for"]
