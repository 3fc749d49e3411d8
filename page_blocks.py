"""Blocks shared by the priority views (pages/asb.py … pages/fraud.py): a measure's monthly trend with its
expected band, a period-change table formatted for people (no "None"/"nan" cells), and the force measures
mapped to a priority. Streamlit layout only: every number comes from metrics/ through `ui.metric`.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

import charts
import ui
from metrics import calendar, force_measures, plan, registry, series
from metrics.expected import expected_vs_observed
from metrics.filters import Filters, add_months

FORCE_MEASURES_FILE = registry.DATA_FILES["force_measures"].needs_file


def dash(value: object, fmt: str = ",.0f", suffix: str = "") -> str:
    """A number formatted for a table cell, or "—" when missing (never "None"/"nan" on screen)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    if isinstance(value, str):
        return value
    try:
        return f"{value:{fmt}}{suffix}"
    except (TypeError, ValueError):
        return str(value)


def trend_with_expected(ctx: ui.PageContext, family: str, filters: Filters, title: str, y_label: str,
                        source: str, key: str, *, fit_until: date | None = None) -> pd.DataFrame:
    """Monthly series of `family` under `filters` with the expected band projected over the comparison's
    current period (model fitted on the months before it) and the lockdowns shaded. Returns the series."""
    monthly = ui.metric(series.monthly_series, family, None, filters)
    projected = None
    note = None
    if ctx.comparison is not None and len(monthly):
        fit_to = fit_until or add_months(ctx.comparison.post[0], -1)
        expected = ui.metric(expected_vs_observed, family, filters, fit_to)
        if len(expected):
            rows = expected[~expected["in_fit"].astype(bool)]
            if len(rows):
                projected = rows
                note = "Expected: " + expected.attrs.get("note", "")
    as_at = monthly["month"].max() if len(monthly) else ctx.last_month
    ui.chart(charts.trend_chart(monthly, title, y_label, source, as_at, expected=projected,
                                lockdowns=calendar.lockdowns(), note=note), key=key)
    return monthly


def change_display(frame: pd.DataFrame, label: str, label_title: str, unit: str) -> pd.DataFrame:
    """metrics.compare.period_change output as a table of text cells: counts, % change in the rate per month
    with its 95% interval, q-value and significance (after Benjamini–Hochberg across the rows). The rates per
    month are in the CSV download (the full frame)."""
    rows = []
    for record in frame.to_dict("records"):
        pct, interval = charts.format_pct_change(record["rate_ratio"], record["ci_lower"], record["ci_upper"])
        rows.append({
            label_title: dash(record[label]),
            f"Baseline ({unit})": dash(record["pre_count"]),
            f"Current ({unit})": dash(record["post_count"]),
            "Change per month": pct,
            "95% interval": interval,
            "q-value (BH)": "<0.001" if record["q_value"] is not None and record["q_value"] < 0.001 else dash(record["q_value"], ".3f"),
            "Significance": charts.significance_mark(record["q_value"], record["rate_ratio"]),
        })
    return pd.DataFrame(rows)


def change_section(change: pd.DataFrame, label: str, label_title: str, unit: str, title: str, source: str,
                   as_at: date | None, name: str, key: str, caption: str | None = None) -> None:
    """Forest plot (filled = significant after BH) and the table with its CSV (the raw statistics)."""
    if change.empty:
        ui.chart(charts.empty_figure(title, "No data for this selection.", source, as_at), key=key)
        return
    ui.chart(charts.change_chart(change, label, title, source, as_at), key=key)
    ui.table(change_display(change, label, label_title, unit), name, download_frame=change,
             caption=caption or change.attrs.get("note"))


def force_measures_section(ctx: ui.PageContext, priority_id: str, *, key: str) -> pd.DataFrame:
    """The force measures mapped to `priority_id` (metrics/measure_priorities.toml): the latest value of each,
    against its target and the previous period, and the trend of one chosen measure. When none are loaded,
    which file supplies them and the command. Returns the latest-values frame (empty when none)."""
    st.subheader("Force measures")
    latest = ui.metric(force_measures.latest_measures, priority_id, ctx.force_id)
    if latest.empty:
        wanted = [m for m, p in force_measures.measure_priorities().items() if p == priority_id]
        st.info(
            f"**No force measures loaded for this priority** ({', '.join(wanted) or 'none mapped'}). They need "
            f"{FORCE_MEASURES_FILE}. Load it with:", icon=":material/folder_open:",
        )
        st.code(registry.DATA_FILES["force_measures"].load_command(ui.db_path()), language="bash", wrap_lines=True)
        return latest
    shown = pd.DataFrame({
        "Measure": latest["measure"],
        "Period": [f"{a:%d %b %Y} – {b:%d %b %Y}" for a, b in zip(pd.to_datetime(latest["period_start"]),
                                                                 pd.to_datetime(latest["period_end"]))],
        "Value": [dash(v, ",.1f") + (f" {u}" if isinstance(u, str) and u else "") for v, u in zip(latest["value"], latest["unit"])],
        "Target": [dash(v, ",.1f") for v in latest["target"]],
        "Meets target": [("yes" if m else "no") if m is not None and not pd.isna(m) else "no target"
                         for m in latest["meets_target"]],
        "Previous period": [dash(v, ",.1f") for v in latest["previous_value"]],
        "Change": [dash(v, "+,.1f") for v in latest["change"]],
    })
    ui.table(shown, f"force-measures-{priority_id}", download_frame=latest,
             caption="Values as supplied by the force, in their own units; the latest period of each measure.")
    history = ui.metric(force_measures.measures_for_priority, priority_id, ctx.force_id)
    names = sorted(history["measure"].unique())
    chosen = st.selectbox("Force measure to chart", names, key=f"{key}_measure")
    part = history[history["measure"] == chosen].rename(columns={"period_start": "month", "value": "count"})
    unit = next((u for u in part["unit"] if isinstance(u, str) and u), "value")
    as_at = pd.to_datetime(part["period_end"]).max().date() if len(part) else None
    ui.chart(charts.trend_chart(part[["month", "count"]], f"{chosen} — {ctx.force_name}", f"{chosen} ({unit})",
                                "Force measures supplied by the force", as_at, lockdowns=calendar.lockdowns(),
                                x_label="Period starting"), key=f"{key}_trend")
    return latest


def proxy_label(item: plan.Measure) -> str:
    """'Violence and sexual offences (proxy for domestic abuse)' stays as is; other proxies get '(proxy)'."""
    return item.label if "proxy" in item.label.lower() else f"{item.label} (proxy)"


def not_loaded(item: plan.Measure, proxies: tuple[plan.Measure, ...] = ()) -> None:
    """ui.not_loaded with the load command aimed at the warehouse this dashboard reads (`--db PATH`)."""
    ui.not_loaded(item, proxies, command=item.load_command_for(ui.db_path()))


def family_period(ctx: ui.PageContext, first: date, last: date) -> tuple[tuple[date, date], str | None]:
    """The comparison's current period when the family's data (first..last) cover it, else the family's latest
    12 months (or fewer), with a note saying so."""
    if ctx.comparison is not None and first <= ctx.comparison.post[0] and ctx.comparison.post[1] <= last:
        return ctx.comparison.post, None
    period = (max(first, add_months(last, -11)), last)
    return period, (f"These data cover {plan.period_label((first, last))}, not the comparison's current period: "
                    f"showing {plan.period_label(period)}.")


def heatmap_figure(frame: pd.DataFrame, x: str, y: str, z: str, title: str, x_label: str, y_label: str,
                   value_label: str, source: str, as_at: date | None, *, x_order: list | None = None,
                   y_order: list | None = None):
    """A heatmap (sequential Okabe–Ito-safe blue scale) of `z` over x × y, with the house caption; cells with
    no rows are 0. Built here until charts/ has a heatmap builder."""
    import plotly.graph_objects as go

    from charts.figures import _finish
    from charts.theme import SEQUENTIAL_SCALE

    if frame is None or frame.empty:
        return charts.empty_figure(title, "No data for this selection.", source, as_at)
    grid = frame.pivot_table(index=y, columns=x, values=z, aggfunc="sum", fill_value=0)
    grid = grid.reindex(index=y_order or list(grid.index), columns=x_order or list(grid.columns), fill_value=0)
    fig = go.Figure(go.Heatmap(z=grid.to_numpy(), x=[str(c) for c in grid.columns], y=[str(i) for i in grid.index],
                               colorscale=SEQUENTIAL_SCALE, colorbar=dict(title=value_label),
                               hovertemplate=f"%{{y}}, %{{x}}: %{{z:,}} {value_label.lower()}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", showgrid=False)
    fig.update_xaxes(showgrid=False, type="category")
    return _finish(fig, title=title, source=source, as_at=as_at, x_label=x_label, y_label=y_label, height=380)


def headline_change(label: str, unit: str, family: str, filters: Filters, pre: tuple[date, date],
                    post: tuple[date, date]) -> None:
    """The headline trio of a view's measure: its count in the current period with the change in the rate
    per month, the exact Poisson 95% interval of that change, and its significance (a single comparison,
    so the q-value equals the p-value). `unit` names what is counted ("crimes", "incidents")."""
    from metrics.compare import period_change

    row = ui.metric(period_change, family, [], pre, post, filters).iloc[0]
    cols = st.columns(3)
    cols[0].metric(f"{label}, {plan.period_label(post)}", ui.metric_value(row["post_count"]),
                   delta=None if pd.isna(row["pct_change"]) else f"{row['pct_change']:+.1f}% per month",
                   delta_color="inverse",
                   help=f"Against {plan.period_label(pre)} ({ui.metric_value(row['pre_count'])} {unit}), "
                        "as a rate per month.")
    _pct, interval = charts.format_pct_change(row["rate_ratio"], row["ci_lower"], row["ci_upper"])
    cols[1].metric("95% interval of the change", interval, help="Exact Poisson interval of the rate ratio.")
    cols[2].metric("Significance", charts.significance_mark(row["q_value"], row["rate_ratio"]),
                   help="A single comparison here: q-value = p-value.")
