"""Data: what the warehouse holds — freshness per source, gaps, rows, rejects (with file and line), the
caveats of each source, and the measures that still need a file (with the command that loads it)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from metrics import inventory, plan

ctx = ui.context()
ui.page_header(
    "Data: what is loaded", ctx,
    "Every source in the warehouse with the months it covers, gaps, rows loaded and rejected, and when it was "
    "loaded; rejected rows with their file, line and reason; and the caveats an analyst must keep in mind.",
)

meta = ui.metric(inventory.warehouse_meta)
st.caption(
    f"Warehouse `{ui.db_path()}` · version {ctx.version} · schema {meta.get('schema_version', '—')}"
    + (f" · dataset: {meta['dataset']}" if meta.get("dataset") else "")
)

# --- freshness per source -----------------------------------------------------------------------------
st.subheader("Freshness per source")
sources = ui.metric(inventory.source_inventory)
if sources.empty:
    st.info("Nothing has been loaded yet: use `python -m etl load <files>` or `python -m etl demo`.")
else:
    fresh = pd.DataFrame({
        "Source": sources["source"],
        "Force": sources["force_id"].fillna("—"),
        "First month": [f"{v:%b %Y}" if pd.notna(v) else "—" for v in sources["first_month"]],
        "Last month": [f"{v:%b %Y}" if pd.notna(v) else "—" for v in sources["last_month"]],
        "Monthly files": [int(n) if n else "—" for n in sources["months_loaded"]],
        "Gaps": [f"{int(n)}: {m}" if n else "none" for n, m in zip(sources["missing_count"], sources["missing_months"])],
        "Rows loaded": sources["rows_loaded"].astype("int64"),
        "Rows rejected": sources["rows_rejected"].astype("int64"),
        "Last loaded (UTC)": sources["last_loaded_at"].dt.strftime("%d %b %Y %H:%M"),
    })
    ui.table(
        fresh, "sources",
        column_config={"Rows loaded": st.column_config.NumberColumn(format="localized"),
                       "Rows rejected": st.column_config.NumberColumn(format="localized")},
        download_frame=sources,
        caption="Reference files (lookup, census, boundaries) have no months; sources loaded as whole files "
                "(STATS19, fraud, extract, measures) take their months from their rows. Gaps are months missing "
                "between the first and last monthly file loaded.",
    )
    gaps = sources[sources["missing_count"] > 0]
    if len(gaps):
        for row in gaps.itertuples(index=False):
            st.warning(f"**{row.source}** ({row.force_id or 'all forces'}): {int(row.missing_count)} month(s) missing — "
                       f"{row.missing_months}. Charts show these months as gaps in the source, not as zero crime.",
                       icon=":material/report:")

st.subheader("Rows per table")
counts = ui.metric(inventory.table_rows)
ui.table(counts, "table-rows", column_config={"rows": st.column_config.NumberColumn("Rows", format="localized"),
                                               "table": "Table"})

# --- rejects -----------------------------------------------------------------------------------------
st.subheader("Rejected rows")
rejects = ui.metric(inventory.reject_summary)
if rejects.empty:
    st.success("No rows were rejected: every row read was loaded.", icon=":material/check_circle:")
else:
    ui.table(rejects, "reject-summary",
             column_config={"path": "File", "reason": "Reason", "rejects": "Rows", "first_line": "First line",
                            "last_line": "Last line"})
    samples = ui.metric(inventory.reject_samples, 200)
    with st.expander(f"The first {len(samples)} rejected rows (file, line, reason, raw text)"):
        ui.table(samples, "rejected-rows")

# --- caveats -------------------------------------------------------------------------------------------
st.subheader("Caveats of each source")
caveats = inventory.source_caveats()
loaded_kinds = set(sources["kind"]) if not sources.empty else set()
caveats = caveats.assign(loaded=["yes" if k in loaded_kinds else "no" for k in caveats["kind"]])
ui.table(caveats[["source", "table", "loaded", "caveats"]], "source-caveats",
         column_config={"source": "Source", "table": "Table", "loaded": "Loaded",
                        "caveats": st.column_config.TextColumn("Caveats", width="large")})

# --- measures that need a file -----------------------------------------------------------------------------
st.subheader("Plan measures and where they come from")
available = {m.id: ui.metric(plan.measure_available, m, ctx.force_filters) for m in plan.MEASURES}
measures = pd.DataFrame([
    {
        "priority": plan.priority(m.priority_id).label,
        "measure": m.label,
        "source": m.source,
        "proxy": "yes" if m.is_proxy else "no",
        "loaded": "yes" if available[m.id] else "no",
        "how to load": "" if available[m.id] else m.load_command,
    }
    for m in plan.MEASURES
])
ui.table(measures, "plan-measures",
         column_config={"how to load": st.column_config.TextColumn("How to load", width="large")})
for m in plan.MEASURES:
    if not available[m.id] and not m.is_proxy:
        with st.expander(f"{m.label}: the file that supplies it"):
            ui.not_loaded(m, [p for p in plan.MEASURES if p.proxy_for == m.id])
