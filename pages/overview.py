"""Overview: the plan scorecard — one row per priority measure with its latest value, change against the
comparison period (95% interval, Benjamini–Hochberg significance), expected-vs-observed flag, a
sparkline and the as-at month of its source; then how fresh each source is."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import charts
import ui
from metrics import inventory, plan

ctx = ui.context()
ui.page_header(
    "Police and Crime Plan scorecard", ctx,
    "Each row is a measure of the plan. **Change** compares the rate per month in the current period with the "
    "baseline; a change is marked significant only when its Benjamini–Hochberg q-value is below 0.05 across "
    "every measure tested here. **Expected** says whether the latest month is inside the range a seasonal "
    "model fitted on the months before the current period predicts.",
)

if ctx.comparison is None:
    st.info("Nothing is loaded for this force yet: see the **Data** view for what to load.")
    st.stop()

card = ui.metric(plan.scorecard, ctx.area_filters, ctx.comparison, with_expected=False)

FLAG_TEXT = {"above": "▲ above expected", "below": "▼ below expected", "within": "within expected"}


def _significance(q_value: float, rate_ratio: float) -> str:
    """'▲ rise (q < 0.001)', '▼ fall (q = 0.011)' or 'not significant (q = 0.676)' (BH q-value < 0.05)."""
    q_text = "q < 0.001" if q_value < 0.001 else f"q = {q_value:.3f}"
    mark = charts.significance_mark(q_value, rate_ratio)
    if mark.startswith("▲"):
        return f"▲ rise ({q_text})"
    if mark.startswith("▼"):
        return f"▼ fall ({q_text})"
    return f"not significant ({q_text})"


def _display(frame: pd.DataFrame, pending: str = "") -> pd.DataFrame:
    rows = []
    for row in frame.to_dict("records"):
        number = plan.priority(plan.measure(row["measure_id"]).priority_id).number
        priority = str(number) if number else plan.priority(plan.measure(row["measure_id"]).priority_id).title
        label = row["label"] + (" — proxy" if row["is_proxy"] and "proxy" not in row["label"].lower() else "")
        if not row["available"]:
            rows.append({
                "Priority": priority, "Measure": label, "Latest month": "not loaded", "Trend": [], "Change": "—",
                "95% interval": "—", "Significance": "—", "Expected": "—", "As at": "—",
                "Note": "Load: " + row["load_command"],
            })
            continue
        change, interval = charts.format_pct_change(row["rate_ratio"], row["ci_lower"], row["ci_upper"])
        tested = pd.notna(row["q_value"])
        rows.append({
            "Priority": priority,
            "Measure": label,
            "Latest month": ui.metric_value(row["latest_value"]),
            "Trend": row["sparkline"],
            "Change": change if tested else "—",
            "95% interval": interval if tested else "—",
            "Significance": _significance(row["q_value"], row["rate_ratio"]) if tested else "not tested",
            "Expected": pending if pending else (
                FLAG_TEXT.get(row["expected_flag"], "no baseline") if isinstance(row["expected_flag"], str)
                else "no baseline"),
            "As at": f"{row['as_at']:%b %Y}",
            "Note": row["note"] or (row["caveats"] if row["is_proxy"] else ""),
        })
    return pd.DataFrame(rows)


st.subheader(f"Scorecard — {ctx.comparison.label}")
COLUMNS = {
    "Priority": st.column_config.TextColumn("Priority", width=60,
                                            help="Plan priority: " + "; ".join(p.label for p in plan.PRIORITIES)),
    "Trend": st.column_config.LineChartColumn("Trend (24 months)", width="small"),
    "Significance": st.column_config.TextColumn("Significance (BH)", width="medium"),
    "Measure": st.column_config.TextColumn("Measure", width=250),
    "Expected": st.column_config.TextColumn("Expected", width=130),
    "Latest month": st.column_config.TextColumn("Latest month", width=90),
    "Change": st.column_config.TextColumn("Change", width=70),
    "Note": st.column_config.TextColumn("Note", width="large"),
}
holder = st.empty()
with holder.container():
    # numbers first; the expected column follows once each measure's seasonal model is fitted (cached)
    ui.table(_display(card, pending="fitting model…"), "scorecard", column_config=COLUMNS, with_download=False)
flags = {}
available_ids = [m for m, ok in zip(card["measure_id"], card["available"]) if ok]
progress = st.progress(0.0, text="Fitting seasonal models for the expected-vs-observed flags…")
for index, measure_id in enumerate(available_ids, start=1):
    flags[measure_id] = ui.metric(plan.expected_flag, measure_id, ctx.area_filters, ctx.comparison)
    progress.progress(index / len(available_ids), text=f"Fitted {index} of {len(available_ids)} models")
progress.empty()
card = plan.add_expected(card, flags)
with holder.container():
    ui.table(
        _display(card), "scorecard", column_config=COLUMNS,
        caption=card.attrs.get("note", "") + " Expected: the latest month against a model fitted on the months "
        "before the current period (95% interval).",
        download_frame=card.drop(columns=["caveats"]),
    )

tested = card[card["q_value"].notna()]
if len(tested):
    figure = charts.change_chart(
        tested.assign(label=[name + (" (proxy)" if proxy and "proxy" not in name.lower() else "")
                             for name, proxy in zip(tested["label"], tested["is_proxy"])]),
        "label", f"Change by measure, {ctx.comparison.label}",
        source="; ".join(sorted(set(tested["source"]))), as_at=tested["as_at"].max(),
        note=f"Area: {ctx.area_label}.",
    )
    ui.chart(figure, key="overview_changes")

missing = card[~card["available"].astype(bool)]
if len(missing):
    st.subheader("Measures not loaded")
    st.caption("These measures need files the warehouse does not hold yet. Their public proxies, where one "
               "exists, are in the scorecard above, labelled as proxies.")
    for row in missing.to_dict("records"):
        item = plan.measure(row["measure_id"])
        proxies = [m for m in plan.MEASURES if m.proxy_for == item.id]
        with st.expander(f"{item.label} — how to load it"):
            ui.not_loaded(item, proxies)

st.subheader("How fresh each source is")
sources = ui.metric(inventory.source_inventory)
if sources.empty:
    st.info("Nothing has been loaded yet.")
else:
    fresh = pd.DataFrame({
        "Source": sources["source"],
        "Force": sources["force_id"].fillna("—"),
        "Months": [f"{a:%b %Y}–{b:%b %Y}" if pd.notna(a) else "reference (no months)"
                   for a, b in zip(sources["first_month"], sources["last_month"])],
        "Gaps": [f"{int(n)} missing" if n else "none" for n in sources["missing_count"]],
        "Rows": sources["rows_loaded"].astype("int64"),
        "Last loaded (UTC)": sources["last_loaded_at"].dt.strftime("%d %b %Y %H:%M"),
    })
    ui.table(fresh, "source-freshness", download_frame=sources,
             column_config={"Rows": st.column_config.NumberColumn(format="localized")})
