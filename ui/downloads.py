"""Download buttons. Every file is built only when its button is clicked (Streamlit calls the `data`
callable of `st.download_button`), through the export layer: `briefing.tables.table_files`,
`briefing.images.chart_files` and `briefing.pack.pack_downloads` (disclosure control, notes, demo marking).

Every download is audited (`access.streamlit_side.audited`): on the click, an `export` entry records who, the view,
the file and its format, what it held (rows and columns of a table, the chart or the pack), the filters and the
disclosure note of what left the server. What the entry records is worked out on the click, not on every page run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import streamlit as st

from briefing.images import Download, chart_files
from briefing.tables import table_files
from metrics.filters import Filters
from views.model import Chart, Table
from views.text import md_literal

Detail = Callable[[], Mapping[str, Any]]


def _file_format(item: Download) -> str:
    return item.file_name.rsplit(".", 1)[-1]


def _data(item: Download, state: Any, detail: Detail) -> Any:
    """The button's data: audited with what the file holds when the session has an Access (always in the app)."""
    access = getattr(state, "access", None)
    if access is None:
        return item.data
    from access.streamlit_side import audited

    base = {"view": state.view_id, "file": item.file_name, "format": _file_format(item),
            "filters": state.filters_record()}
    return audited(item.data, access, lambda: {**base, **detail()})


def _button(item: Download, key: str, state: Any, detail: Detail, container: Any = None, **extra: Any) -> None:
    (container or st).download_button(item.label, data=_data(item, state, detail), file_name=item.file_name,
                                      mime=item.mime, key=key, on_click="ignore", **extra)


def _length(values: Any) -> int:
    """How many values a trace property holds (a list, tuple or NumPy array; None for none)."""
    return 0 if values is None else len(values)


def _open_menu(container: Any, label: str, icon: str, key: str) -> Any:
    """A download menu (popover) in `container` that reruns the page when opened or closed: the popover while it is
    open, to make its buttons in; None while it is closed (its buttons are not made)."""
    popover = container.popover(label, icon=icon, key=key, on_change="rerun")
    return popover if popover.open else None


def chart_detail(chart: Chart) -> Detail:
    """What a chart's image holds, for the audit log: its key and title, the values plotted, and how many LSOA
    values disclosure control withheld or banded in the file."""
    def detail() -> dict[str, Any]:
        from briefing.disclosure import protect_figure

        figure, withheld = protect_figure(chart.figure, filters=chart.filters, sensitive=chart.notes.sensitive,
                                          release=chart.release)
        values = sum(max(_length(getattr(t, a, None)) for a in ("x", "y", "z", "locations", "lon"))
                     for t in figure.data)
        note = (f"{withheld} LSOA value(s) withheld or banded: {chart.release.attrs.get('disclosure_note', '')}"
                if withheld and chart.release is not None else
                f"{withheld} LSOA value(s) withheld or banded" if withheld else "no LSOA-level sensitive values")
        return {"chart": chart.key, "title": chart.notes.title, "rows": values, "disclosure": note}

    return detail


def table_detail(table: Table) -> Detail:
    """What a table's file holds, for the audit log: its key and title, rows, columns (as headed in the file)
    and the disclosure note of the rows exported."""
    def detail() -> dict[str, Any]:
        from briefing.tables import people_table

        columns = list(table.export_columns or table.columns)
        exported = people_table(table.data, table.notes, columns, filters=table.filters)
        return {"table": table.key, "title": table.notes.title, "rows": len(exported.rows),
                "columns": [c.label for c in columns], "disclosure": exported.disclosure_note}

    return detail


def chart_downloads(chart: Chart, state: Any = None) -> None:
    """PNG (slide size), SVG and PDF of a chart, in a popover whose buttons are made only while it is open (opening it
    reruns the page): otherwise every page run would make each chart's three file makers and register its three
    buttons, for files that are rarely asked for."""
    popover = _open_menu(st, "Download chart", ":material/download:", f"popover_download_{chart.key}")
    if popover is None:
        return
    items = chart_files(chart.figure, chart.notes, chart.key, filters=chart.filters, release=chart.release)
    detail = chart_detail(chart)
    with popover:
        for item in items:
            _button(item, f"download_{chart.key}_{_file_format(item)}", state, detail)


def table_downloads(table: Table, containers: Sequence[Any], state: Any = None) -> None:
    """CSV and XLSX of a table: its columns headed in words, rounded as on screen, with its notes."""
    items = table_files(table.data, table.notes, list(table.export_columns or table.columns), basename=table.key,
                        filters=table.filters)
    detail = table_detail(table)
    for container, item in zip(containers, items):
        _button(item, f"download_{table.key}_{_file_format(item)}", state, detail, container,
                icon=":material/download:")


def pack_downloads(state: Any) -> None:
    """The one-click briefing pack (PPTX, or the same as one PDF) for the current force, districts and
    comparison, in the sidebar."""
    if state.comparison is None:
        return
    from briefing.disclosure import DisclosureRule
    from briefing.pack import pack_downloads as downloads

    area = state.force_name + (": " + ", ".join(state.filters.districts) if state.filters.districts else "")
    popover = _open_menu(st.sidebar, "Briefing pack", ":material/slideshow:", "popover_briefing_pack")
    if popover is None:
        return
    with popover:
        st.caption(f"Every plan priority for {md_literal(area, None)}, {state.comparison.label}: takes a minute or two.")
        filters = Filters(force_id=state.filters.force_id, districts=state.filters.districts)
        note = DisclosureRule().describe()
        for item in downloads(state.db, state.comparison, filters, pdf=True):
            _button(item, f"download_pack_{_file_format(item)}", state,
                    lambda: {"title": "Briefing pack", "comparison": state.comparison.label, "disclosure": note})


__all__ = ["chart_detail", "chart_downloads", "pack_downloads", "table_detail", "table_downloads"]
