"""Weekly figures for the senior officer, on one printable screen: for the chosen complete week (kept in the
URL), each dated priority measure against the same week in previous years and the last 4 weeks, with a
Farrington-style exceedance flag (metrics.weekly.weekly_table)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

import page_blocks
import ui
from metrics import plan, weekly

WEEKS_OFFERED = 52
# short priority names for a table that fits a printed page ("3 · Domestic abuse")
PRIORITY_TITLES = {p.id: p.label for p in plan.PRIORITIES}

ctx = ui.context()
# print-friendly: no sidebar, header or toolbars on paper; tables at full width
st.markdown(
    "<style>@media print { section[data-testid='stSidebar'], header, [data-testid='stToolbar'], "
    "[data-testid='stElementToolbar'], .stDownloadButton, [data-testid='stSegmentedControl'], "
    "div[data-testid='stSelectbox'] { display: none !important; } .block-container { padding: 0 !important; "
    "max-width: 100% !important; } }</style>",
    unsafe_allow_html=True,
)
ui.page_header(
    "Weekly figures", ctx,
    "The latest complete Monday–Sunday week of each dated measure against the same week in earlier years and the "
    "last 4 weeks. **Flagged** rows are above the Farrington-style upper threshold (an unusual rise, not noise).",
)

latest = ui.metric(weekly.latest_complete_week, ctx.force_id)
if latest is None:
    st.warning("**No dated weekly data loaded.** Weekly figures need at least one of: the force's incident-level "
               "crime extract, data.police.uk stop-and-search files, or DfT STATS19 collisions. Load them with:",
               icon=":material/folder_open:")
    st.code(f"python -m etl load --db {ui.db_path()} --mapping path/to/extract-mapping.toml path/to/force-extract.csv\n"
            f"python -m etl load --db {ui.db_path()} path/to/police-uk-download.zip\n"
            f"python -m etl load --db {ui.db_path()} dft-road-casualty-statistics-collision-2020.csv "
            "dft-road-casualty-statistics-casualty-2020.csv --force Essex", language="bash", wrap_lines=True)
    st.caption("Monthly data.police.uk street-level crime has no dates within the month, so it cannot give weekly "
               "figures: see the priority views for monthly trends.")
    st.stop()

weeks = [(latest - timedelta(weeks=k)).isoformat() for k in range(WEEKS_OFFERED)]


def week_label(text: str) -> str:
    start = date.fromisoformat(text)
    return f"{start:%a %d %b %Y} – {start + timedelta(days=6):%a %d %b %Y}"


chosen = ui.url_choice("Week", weeks, key="week", default=weeks[0], widget="selectbox", format_func=week_label,
                       help="Complete Monday–Sunday weeks, latest first; the choice is kept in the link.")
week = date.fromisoformat(chosen)
table = ui.metric(weekly.weekly_table, week, ctx.force_id)

flagged = table[table["exceeds"].map(lambda v: v is True)]
cols = st.columns(3)
cols[0].metric("Week", f"{week:%d %b}–{week + timedelta(days=6):%d %b %Y}")
cols[1].metric("Measures flagged", f"{len(flagged)} of {int(table['observed'].notna().sum())}")
cols[2].metric("Latest complete week loaded", f"{latest:%d %b %Y}")
if len(flagged):
    st.error("**Above the expected range:** " + "; ".join(
        f"{m} ({page_blocks.dash(o)} against about {page_blocks.dash(e)})"
        for m, o, e in zip(flagged["measure"], flagged["observed"], flagged["expected"])), icon=":material/trending_up:")

shown = pd.DataFrame({
    "Priority": table["priority"].map(lambda p: PRIORITY_TITLES.get(p, p or "—")),
    "Measure": table["measure"],
    "Flag": table["exceeds"].map(lambda v: "▲ above threshold" if v is True else ("within" if v is False else "not tested")),
    "This week": table["observed"].map(page_blocks.dash),
    "Expected": table["expected"].map(lambda v: page_blocks.dash(v, ",.0f")),
    "Upper threshold": table["upper_threshold"].map(lambda v: page_blocks.dash(v, ",.0f")),
    "Same week last year": table["same_week_last_year"].map(page_blocks.dash),
    "Same week, earlier years (mean)": table["same_week_mean_previous_years"].map(lambda v: page_blocks.dash(v, ",.1f")),
    "Last 4 weeks (mean)": table["last_4_weeks_mean"].map(lambda v: page_blocks.dash(v, ",.1f")),
    "Note": [f"{source}: {note}" if isinstance(note, str) and note else source
             for source, note in zip(table["source"], table["note"])],
})

def highlight(row: pd.Series) -> list[str]:
    colour = "background-color: #FBE3D6; font-weight: 600" if row["Flag"].startswith("▲") else ""
    return [colour] * len(row)


# a static table (st.table): every column visible on screen and on paper, flagged rows highlighted
st.table(shown.style.apply(highlight, axis=1).hide(axis="index"))
cols = st.columns([1, 3])
with cols[0]:
    ui.download(table, f"weekly-figures-{week.isoformat()}")
cols[1].caption(table.attrs.get("method", ""))
st.caption("Counts: incidents by recorded date (force extract), searches by date in UK local time (stop and search), "
           "collisions by date (STATS19). The same week in earlier years is the Monday nearest the same date.")
