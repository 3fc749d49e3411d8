"""The link's query parameters -> the filter state they ask for, and a notice for every value that cannot be
honoured. Pure (no Streamlit): the filter bar's widgets are bound to the same parameters by Streamlit
(`bind="query-params"`), which drops invalid values and keeps the URL clean at the defaults; this module says
which values it dropped and why, in text safe to render as markdown.

The URL holds what a widget shows: the force's name ("Essex Police"), district and crime-type names, the
comparison's label and month labels ("Jan 2019"), e.g.
`?force=Essex+Police&district=Basildon&compare=Custom+periods&pre=Jan+2018&pre=Jun+2018&post=Jan+2019&post=Jun+2019`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from metrics.plan import PRESETS, period_label
from views.text import md_literal, quoted

URL_KEYS = ("force", "district", "crime_type", "compare", "pre", "post")
DEFAULT_PRESET = "latest12"
Params = Mapping[str, Sequence[str]]


def month_label(month: date) -> str:
    """How a month reads on the period sliders and in the URL: 'Jan 2019'."""
    return f"{month:%b %Y}"


@dataclass(frozen=True)
class FilterOptions:
    """What the filter bar offers once a force is chosen: its districts, crime types and loaded months."""

    districts: tuple[str, ...] = ()
    crime_types: tuple[str, ...] = ()
    months: tuple[date, ...] = ()


@dataclass(frozen=True)
class FilterState:
    """The filters a link asks for, every value valid (None/empty: the default)."""

    force_id: str | None = None
    districts: tuple[str, ...] = ()
    crime_types: tuple[str, ...] = ()
    preset: str = DEFAULT_PRESET
    pre: tuple[date, date] | None = None
    post: tuple[date, date] | None = None


# ---------------------------------------------------------------------------------------------
# one parameter at a time (also used for the views' own choices)
# ---------------------------------------------------------------------------------------------
def check_choice(values: Sequence[str], options: Sequence[Any], label_for: Callable[[Any], str],
                 what: str, key: str, default: Any) -> tuple[Any, str | None]:
    """The option whose label the parameter `key` names (the last value when repeated, as a bound widget
    reads it), or (default, notice) when it names none. No parameter: (default, None)."""
    if not values:
        return default, None
    wanted = values[-1]
    by_label = {label_for(option): option for option in options}
    if wanted in by_label:
        return by_label[wanted], None
    return default, (f"{quoted(wanted)} is not a valid {md_literal(what, None)} (link parameter `{key}`): "
                     f"showing “{md_literal(label_for(default), None)}”.")


def check_many(values: Sequence[str], options: Sequence[str], what: str, where: str) -> tuple[tuple[str, ...], str | None]:
    """The values that are options (in the link's order, once each), and a notice naming the others."""
    known = [v for v in dict.fromkeys(values) if v in options]
    unknown = [v for v in dict.fromkeys(values) if v not in options]
    if not unknown:
        return tuple(known), None
    return tuple(known), (f"Ignored {what}(s) in the link that are not in the data for {md_literal(where, None)}: "
                          + ", ".join(quoted(v) for v in unknown[:5]) + (" …" if len(unknown) > 5 else "") + ".")


def check_period(values: Sequence[str], months: Sequence[date], name: str) -> tuple[tuple[date, date] | None, str | None]:
    """Two month labels of loaded months, in order (a bound range slider's parameter), or (None, notice)."""
    if not values:
        return None, None
    by_label = {month_label(m): m for m in months}
    chosen = [by_label.get(v) for v in values]
    if len(values) == 2 and None not in chosen and chosen[0] <= chosen[1]:
        return (chosen[0], chosen[1]), None
    loaded = period_label((months[0], months[-1])) if months else "no months"
    shown = "&".join(f"{name}={v}" for v in values)
    return None, (f"The {name} period {quoted(shown)} in the link is not two loaded months in order "
                  f"(e.g. {name}=Jan 2019&{name}=Jun 2019, within {loaded}): using the default.")


# ---------------------------------------------------------------------------------------------
# the shared filters
# ---------------------------------------------------------------------------------------------
def read_filter_params(params: Params, forces: Mapping[str, str], default_force: str | None,
                       options_for: Callable[[str | None], FilterOptions]) -> tuple[FilterState, list[str]]:
    """The filter state the link asks for and the notices for what it cannot have.

    params: query parameter -> values; forces: loaded force id -> name (the label in the URL);
    options_for(force_id): the districts, crime types and months offered for a force.
    """
    notices: list[str] = []

    def note(result: tuple[Any, str | None]) -> Any:
        value, notice = result
        if notice:
            notices.append(notice)
        return value

    force_values = list(params.get("force", ()))
    force_id = default_force
    if force_values and forces:
        by_name = {name: force for force, name in forces.items()}
        force_id = by_name.get(force_values[-1], default_force)
        if force_values[-1] not in by_name:
            notices.append(f"The link asks for force {quoted(force_values[-1])}, which is not loaded: showing "
                           f"{md_literal(forces.get(default_force, 'all forces'), None)} instead.")
    options = options_for(force_id)
    where = forces.get(force_id, "all forces") if force_id else "all forces"
    districts = note(check_many(params.get("district", ()), options.districts, "district", where))
    crime_types = note(check_many(params.get("crime_type", ()), options.crime_types, "crime type", where))
    preset_values = list(params.get("compare", ()))
    preset = DEFAULT_PRESET
    if preset_values:
        by_label = {label: key for key, label in PRESETS.items()}
        preset = by_label.get(preset_values[-1], DEFAULT_PRESET)
        if preset_values[-1] not in by_label:
            notices.append(f"Unknown comparison {quoted(preset_values[-1])} in the link: using “{PRESETS[DEFAULT_PRESET]}”.")
    pre = post = None
    if preset == "custom":
        pre = note(check_period(params.get("pre", ()), options.months, "pre"))
        post = note(check_period(params.get("post", ()), options.months, "post"))
    return FilterState(force_id, districts, crime_types, preset, pre, post), notices


__all__ = [
    "DEFAULT_PRESET", "FilterOptions", "FilterState", "URL_KEYS", "check_choice", "check_many", "check_period",
    "month_label", "read_filter_params",
]
