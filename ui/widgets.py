"""The views' own choices as widgets bound to the URL, and progress bars: what `ViewContext.choose` and
`ViewContext.progress` do on screen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from ui.url_state import check_choice
from views.model import Choice


def chooser() -> Callable[[Choice], Any]:
    """A `choose(choice)` for one page run: draws the widget where it is first asked for (bound to the URL
    under `choice.key`, a notice when the link's value is not an option) and returns the same value when
    asked again."""
    chosen: dict[str, Any] = {}

    def choose(choice: Choice) -> Any:
        if choice.key not in chosen:
            chosen[choice.key] = _widget(choice)
        return chosen[choice.key]

    return choose


def _widget(choice: Choice) -> Any:
    options = list(choice.options)
    if not options:
        return choice.default
    default = choice.default if choice.default in options else options[0]
    _value, notice = check_choice(st.query_params.get_all(choice.key), options, choice.label_for, choice.label,
                                  choice.key, default)
    if notice:
        st.info(notice, icon=":material/info:")
    common = dict(key=choice.key, format_func=choice.label_for, help=choice.help, bind="query-params")
    if choice.widget == "radio":
        return st.radio(choice.label, options, index=options.index(default), horizontal=True, **common)
    if choice.widget == "selectbox":
        return st.selectbox(choice.label, options, index=options.index(default), **common)
    value = st.segmented_control(choice.label, options, default=default, selection_mode="single", required=True,
                                 **common)
    return default if value is None else value


def progress_bar() -> Callable[[float, str], None]:
    """A `progress(fraction, text)` that draws one bar where it is first called and removes it at 1.0."""
    holder: dict[str, Any] = {}

    def progress(fraction: float, text: str) -> None:
        if "slot" not in holder:
            holder["slot"] = st.empty()
        if fraction >= 1:
            holder["slot"].empty()
            return
        holder["slot"].progress(max(0.0, min(fraction, 1.0)), text=text)

    return progress


__all__ = ["chooser", "progress_bar"]
