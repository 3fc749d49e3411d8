"""Download buttons. Every file is built only when its button is clicked (Streamlit calls the `data`
callable of `st.download_button`), through the export layer: `briefing.tables.table_files`,
`briefing.images.chart_files` and `briefing.pack.pack_downloads` (disclosure control, notes, demo marking)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from briefing.images import Download, chart_files
from briefing.tables import table_files
from metrics.filters import Filters
from views.model import Chart, Table
from views.text import md_literal


def _button(item: Download, key: str, container: Any = None, **extra: Any) -> None:
    (container or st).download_button(item.label, data=item.data, file_name=item.file_name, mime=item.mime,
                                      key=key, on_click="ignore", **extra)


def chart_downloads(chart: Chart) -> None:
    """PNG (slide size), SVG and PDF of a chart, in a popover."""
    items = chart_files(chart.figure, chart.notes, chart.key, filters=chart.filters)
    with st.popover("Download chart", icon=":material/download:", key=f"popover_download_{chart.key}"):
        for item in items:
            _button(item, f"download_{chart.key}_{item.file_name.rsplit('.', 1)[-1]}")


def table_downloads(table: Table, containers: Sequence[Any]) -> None:
    """CSV and XLSX of a table: its columns headed in words, rounded as on screen, with its notes."""
    items = table_files(table.data, table.notes, list(table.export_columns or table.columns), basename=table.key,
                        filters=table.filters)
    for container, item in zip(containers, items):
        _button(item, f"download_{table.key}_{item.file_name.rsplit('.', 1)[-1]}", container,
                icon=":material/download:")


def pack_downloads(state: Any) -> None:
    """The one-click briefing pack (PPTX, or the same as one PDF) for the current force, districts and
    comparison, in the sidebar."""
    if state.comparison is None:
        return
    from briefing.pack import pack_downloads as downloads

    area = state.force_name + (": " + ", ".join(state.filters.districts) if state.filters.districts else "")
    with st.sidebar.popover("Briefing pack", icon=":material/slideshow:", key="popover_briefing_pack"):
        st.caption(f"Every plan priority for {md_literal(area, None)}, {state.comparison.label}: takes a minute or two.")
        filters = Filters(force_id=state.filters.force_id, districts=state.filters.districts)
        for item in downloads(state.db, state.comparison, filters, pdf=True):
            _button(item, f"download_pack_{item.file_name.rsplit('.', 1)[-1]}")


__all__ = ["chart_downloads", "pack_downloads", "table_downloads"]
