"""Draw a view definition on screen: its heading, then each section's title, choices, key figures, charts,
tables, text and "not loaded" hints, in order, each as soon as it is built. A view's later sections sit in tabs
(`views.model.in_tab`): only the open tab's sections run and reach the browser (`st.tabs(on_change="rerun")`), and
the open tab is kept in the URL (`?tab=Hotspots`), so a first visit draws the lead section and one tab, not the
whole view.

What reaches the browser depends on the session's role (docs/SECURITY.md): for a role with disclosure control on
screen (the Panel) every table and chart passes through `briefing.disclosure` first (`for_screen`), so the values,
hover text and Plotly's own image export hold only protected values; raw rows are drawn only where the role may
see them (`ViewContext.raw_rows`)."""

from __future__ import annotations

from dataclasses import replace
from html import escape
from typing import Any

import streamlit as st

from briefing.provenance import provenance_for, warehouse_identity
from charts.figures import screen_figure
from charts.theme import PLOTLY_CONFIG
from ui import store
from ui.downloads import chart_downloads, table_downloads
from ui.shell import AppState, app_state
from ui.widgets import chooser, progress_bar
from views.model import (
    Chart,
    Figures,
    LoadHint,
    Section,
    Table,
    Text,
    View,
    ViewContext,
    applies,
    as_sections,
    screen_layout,
)
from views.text import md_literal

TONES = {"info": st.info, "warning": st.warning, "success": st.success, "error": st.error}
ICONS = {"info": ":material/info:", "warning": ":material/warning:", "success": ":material/check_circle:",
         "error": ":material/error:"}


def view_context(state: AppState) -> ViewContext:
    """The ViewContext of this page run: cached reads, URL-bound choices, the exports' provenance."""
    extra: dict[str, Any] = {}
    if state.comparison is not None:
        extra = {"period": list(state.comparison.post), "comparison": list(state.comparison.pre)}
    capabilities = state.capabilities
    return ViewContext(
        filters=state.filters, comparison=state.comparison, force_name=state.force_name,
        first_month=state.first_month, last_month=state.last_month, is_demo=state.is_demo, read=store.read,
        db=state.db, choose=chooser(), provenance=provenance_for(store.cursor(), state.filters,
                                                                   identity=store.read(warehouse_identity), **extra),
        raw_rows=capabilities is None or bool(capabilities.rejected_rows),
    )


TAB_KEY = "tab"  # the URL parameter holding a view's open tab (its label)


def render(view: View) -> None:
    """Draw `view` for the filters the shell decided this run: its lead sections, then its tabs (only the open
    tab's sections run and reach the browser; the open tab is kept in the URL), then any sections after them."""
    state = app_state()
    ctx = view_context(state)
    heading(view, state, ctx)
    layout = screen_layout(view.sections)
    for make in layout.lead:
        draw_made(make, ctx, state)
    tabs = [(label, makes) for label, makes in layout.tabs if any(applies(make, ctx) for make in makes)]
    if view.uses_comparison and ctx.comparison is None:
        tabs = []  # nothing loaded for the comparison: the lead section says what to load
    if len(tabs) == 1:  # one tab alone is no choice: drawn in place
        layout = replace(layout, tail=(*tabs[0][1], *layout.tail))
        tabs = []
    if tabs:
        containers = st.tabs([label for label, _ in tabs], key=TAB_KEY, on_change="rerun", bind="query-params")
        for (label, makes), container in zip(tabs, containers):
            if container.open:
                with container:
                    if not sum(draw_made(make, ctx, state) for make in makes):
                        st.info(f"Nothing to show under {label} for {md_literal(ctx.area_label, None)} with these "
                                "filters.", icon=ICONS["info"])
    for make in layout.tail:
        draw_made(make, ctx, state)


def draw_made(make: Any, ctx: ViewContext, state: AppState) -> int:
    """Run one section function and draw what it gives (as soon as it is built); the number of sections drawn."""
    with st.container():
        title_slot = st.empty()
        sections = as_sections(make(replace(ctx, progress=progress_bar())))
        for index, section in enumerate(sections):
            draw_section(section, title_slot if index == 0 else None, state)
    return len(sections)


def for_screen(block: Any, capabilities: Any) -> Any:
    """The block as a role's browser may receive it: for a role with disclosure control on screen (the Panel), a
    table's frame after `protect_frame` and a chart's figure after `protect_figure` (LSOA values from the chart's
    release when it has one); otherwise the block as it is. Exports apply the same control for every role."""
    if capabilities is None or not capabilities.disclosure_on_screen:
        return block
    from briefing.disclosure import protect_figure, protect_frame

    if isinstance(block, Table):
        protected = protect_frame(block.data, filters=block.filters, sensitive=block.notes.sensitive).frame
        return replace(block, data=protected)
    if isinstance(block, Chart):
        figure, _ = protect_figure(block.figure, filters=block.filters, sensitive=block.notes.sensitive,
                                   release=block.release)
        return replace(block, figure=figure)
    return block


def heading(view: View, state: AppState, ctx: ViewContext) -> None:
    """Title; what the view shows (area, the crime types where they apply, periods, data to); its
    introduction; the notices about the link and, where the comparison applies, about the periods."""
    st.title(view.heading)
    bits = [md_literal(ctx.area_label, None)]
    if view.uses_crime_types and state.filters.categories:
        bits.append("crime types: " + md_literal(", ".join(state.filters.categories), None))
    if view.uses_comparison and state.comparison is not None:
        bits.append(f"comparing {state.comparison.label}")
    if state.last_month is not None:
        bits.append(f"data to {state.last_month:%B %Y}")
    st.caption(" · ".join(bits))
    if view.intro:
        st.markdown(view.intro)
    for notice in state.notices:
        st.info(notice, icon=ICONS["info"])
    if view.uses_comparison and state.comparison is not None and state.comparison.notice:
        st.info(state.comparison.notice, icon=ICONS["info"])
    seasonal = state.comparison.seasonality_warning if view.uses_comparison and state.comparison else None
    if seasonal and seasonal not in (state.comparison.notice or ""):  # different calendar months compared
        st.warning(seasonal, icon=ICONS["warning"])
    if state.filters.categories and not view.uses_crime_types:
        st.caption("The crime-type filter (" + md_literal(", ".join(state.filters.categories), None) + ") does not "
                   "apply here: this view shows its own measures, named in each title.")


def draw_section(section: Section, title_slot: Any = None, state: AppState | None = None) -> None:
    """A section's title and blocks."""
    (title_slot or st).subheader(md_literal(section.title, None), help=section.help)  # titles name data: literal
    for block in section.blocks:
        draw_block(block, state)


def draw_block(block: Any, state: AppState | None = None) -> None:
    block = for_screen(block, state.capabilities if state is not None else None)
    if isinstance(block, Figures):
        draw_figures(block)
    elif isinstance(block, Chart):
        draw_chart(block, state)
    elif isinstance(block, Table):
        draw_table(block, state)
    elif isinstance(block, Text):
        draw_text(block)
    elif isinstance(block, LoadHint):
        draw_load_hint(block)
    else:
        raise TypeError(f"unknown block {type(block).__name__}")


def draw_figures(block: Figures) -> None:
    for column, kpi in zip(st.columns(len(block.items)), block.items):  # labels name data (crime types): literal
        column.metric(md_literal(kpi.label, None), kpi.value, delta=kpi.delta, delta_color=kpi.delta_color,
                      help=kpi.help)


def draw_chart(block: Chart, state: AppState | None = None) -> None:
    """A Plotly figure at full width (the offline topojson lets maps draw without internet), its title above it and
    its source caption below as text that wraps to the screen (`charts.screen_figure`; the downloads keep them in
    the image), and its image downloads."""
    figure, title, caption = screen_figure(block.figure)
    if title:
        st.markdown(f"**{md_literal(title, None)}**")
    st.plotly_chart(figure, key=block.key, width="stretch", config=PLOTLY_CONFIG, theme=None)
    if caption:
        st.caption(md_literal(caption, None))
    if block.caption:
        st.caption(block.caption)
    chart_downloads(block, state)


def draw_table(block: Table, state: AppState | None = None) -> None:
    """A static table (wraps its text, every column visible) or a grid, with its CSV/XLSX downloads."""
    shown = block.shown()
    if block.static:
        # a wide screen reads the table; a phone (CSS in app.py) reads one card per row instead
        st.html(table_html(shown, block))
    else:
        config = {label: st.column_config.TextColumn(label, width=width) for label, width in block.widths.items()}
        height = 35 * (len(shown) + 1) + 3 if len(shown) <= 40 else "auto"  # short tables: every row, no scrolling
        st.dataframe(shown, hide_index=True, width="stretch", column_config=config, height=height)
    columns = st.columns([1, 1, 3])
    table_downloads(block, columns[:2], state)
    if block.caption:
        columns[2].caption(block.caption)


def table_html(shown: Any, block: Table) -> str:
    """A static table as escaped HTML (one element, no markdown to parse per cell): the table for wide screens
    and one card per row for phones (app.py's CSS shows one of them; a card leaves out its empty cells).
    Highlighted rows carry class 'marked'."""
    marked = list(block.data[block.highlight].astype(bool)) if block.highlight else [False] * len(shown)
    labels = [escape(str(label)) for label in shown.columns]
    head = "".join(f"<th>{label}</th>" for label in labels)
    rows, cards = [], []
    for flagged, row in zip(marked, shown.itertuples(index=False, name=None)):
        cells = [escape(str(value)) for value in row]
        mark = ' class="marked"' if flagged else ""
        rows.append(f"<tr{mark}>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
        heading = " · ".join(cell for cell in cells[:2] if cell.strip())
        details = " · ".join(f"{label}: {cell}" for label, cell in zip(labels[2:], cells[2:]) if cell.strip())
        cards.append(f"<p{mark}><strong>{heading}</strong><br>{details}</p>")
    return (f'<div class="cpm-table" data-testid="cpmTable" data-key="{escape(block.key)}">'
            f'<table class="cpm-wide"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            f'<div class="cpm-cards">{"".join(cards)}</div></div>')


def draw_text(block: Text) -> None:
    if block.tone == "caption":
        st.caption(block.body)
    elif block.tone in TONES:
        TONES[block.tone](block.body, icon=ICONS[block.tone])
    else:
        st.markdown(block.body)


def draw_load_hint(block: LoadHint) -> None:
    """Which file supplies a measure and the command that loads it; the proxies shown instead."""
    st.warning(f"**{block.what} — not loaded.** This needs {block.needs_file}. Load it with:",
               icon=":material/folder_open:")
    st.code(block.command, language="bash", wrap_lines=True)
    if block.proxies:
        st.caption("Shown instead, labelled as proxies: " + "; ".join(block.proxies) + ".")


__all__ = ["draw_section", "for_screen", "heading", "render", "view_context"]
