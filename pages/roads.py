"""Priority 7 — roads: collisions and casualties (DfT STATS19) by severity, killed or seriously injured (KSI),
road-user type, speed limit, hour × day of week, weekly or monthly, and the 12 months to date against the
previous 12; plus the force measures mapped to roads (e.g. speeding detections)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import charts
import page_blocks
import ui
from metrics import calendar, plan, roads, series
from metrics.filters import Filters, add_months

ctx = ui.context()
ui.page_header(
    "7 · Improving safety on our roads", ctx,
    "Injury collisions reported to the police and their casualties (DfT STATS19): people killed or seriously "
    "injured (KSI), who they were, where and when collisions happen, and the latest 12 months against the 12 before.",
)
KSI = plan.measure("ksi_casualties")
SOURCE = KSI.source
road_filters = Filters(force_id=ctx.force_id, districts=ctx.filters.districts)
first, last = ui.metric(series.data_range, "casualties", Filters(force_id=ctx.force_id))

if last is None:
    page_blocks.not_loaded(KSI)
    st.caption("No public proxy: police.uk street-level crime does not include road collisions.")
else:
    if ctx.filters.districts:
        st.caption("District filter: collisions whose LSOA lies in the chosen districts (needs the ONS LSOA lookup).")
    twelve = (max(first, add_months(last, -11)), last)
    label = plan.period_label(twelve)

    # --- 12 months to date against the previous 12 ----------------------------------------------------
    st.subheader(f"12 months to {last:%B %Y} against the 12 months before")
    change = ui.metric(roads.road_period_change, ctx.force_id, last)
    by_measure = {r["measure"]: r for r in change.to_dict("records")}
    cols = st.columns(4)
    for col, name in zip(cols, ("KSI casualties", "Fatal casualties", "Casualties", "Collisions")):
        r = by_measure.get(name)
        if r is None:
            col.metric(name, "—")
            continue
        col.metric(f"{name}, {label}", ui.metric_value(r["current_12_months"]),
                   delta=None if pd.isna(r["pct_change"]) else f"{r['pct_change']:+.1f}% on previous 12",
                   delta_color="inverse", help=f"Previous 12 months: {ui.metric_value(r['previous_12_months'])}.")
    if len(change) and int(change["months_with_data_previous"].min()) < 12:
        st.info(f"The previous 12 months hold data for only {int(change['months_with_data_previous'].min())} months: "
                "load earlier STATS19 years for a like-for-like comparison.")
    if ctx.filters.districts:
        st.caption("The 12-month comparison is for the whole force area.")
    ui.chart(charts.change_chart(change, "measure", "Change in road casualties and collisions, 12 months vs previous 12",
                                 SOURCE, last,
                                 note="Exact Poisson 95% intervals; significance after Benjamini–Hochberg across these rows."),
             key="roads_change")
    ui.table(pd.DataFrame({
        "Measure": change["measure"],
        "Previous 12 months": change["previous_12_months"].map(page_blocks.dash),
        "Latest 12 months": change["current_12_months"].map(page_blocks.dash),
        "Change": change["change"].map(lambda v: page_blocks.dash(v, "+,.0f")),
        "Change (%)": change["pct_change"].map(lambda v: page_blocks.dash(v, "+.1f", "%")),
        "95% interval": [charts.format_pct_change(r, lo, hi)[1] for r, lo, hi in
                         zip(change["rate_ratio"], change["ci_lower"], change["ci_upper"])],
        "p-value": change["p_value"].map(lambda v: page_blocks.dash(v, ".3f")),
        "q-value (BH)": change["q_value"].map(lambda v: page_blocks.dash(v, ".3f")),
        "Significance": [charts.significance_mark(q, r) for q, r in zip(change["q_value"], change["rate_ratio"])],
    }), "roads-12-month-change", download_frame=change)

    # --- trend -------------------------------------------------------------------------------------------
    PERIODS = {"month": "Monthly", "week": "Weekly"}
    period = ui.url_choice("Trend by", list(PERIODS), key="roads_period", default="month", format_func=PERIODS.get)
    trend = ui.metric(roads.ksi_series, road_filters, None, None, period)
    x_label = "Month" if period == "month" else "Week starting (Monday)"
    per = "month" if period == "month" else "week"
    long = pd.concat([
        pd.DataFrame({"period_start": trend["period_start"], "count": trend[column], "series": name})
        for column, name in (("ksi_casualties", "KSI casualties"), ("fatal", "Fatal casualties"))
    ]) if len(trend) else trend
    ui.chart(charts.trend_chart(long, f"Killed or seriously injured casualties per {per} — {ctx.area_label}",
                                f"Casualties per {per}", SOURCE, last, lockdowns=calendar.lockdowns(),
                                x="period_start", x_label=x_label, group="series"), key="roads_ksi_trend")
    ui.chart(charts.trend_chart(trend, f"Injury collisions per {per} — {ctx.area_label}", f"Collisions per {per}",
                                SOURCE, last, lockdowns=calendar.lockdowns(), x="period_start", y="collisions",
                                x_label=x_label), key="roads_collision_trend")

    # --- severity, road users, speed limits ------------------------------------------------------------------
    st.subheader(f"Who and where — {label}")
    severity = ui.metric(roads.severity_counts, road_filters, twelve[0], twelve[1])
    ui.table(pd.DataFrame({"Severity": severity["severity"], "Collisions": severity["collisions"].map(page_blocks.dash),
                           "Casualties": severity["casualties"].map(page_blocks.dash)}),
             "roads-severity", download_frame=severity,
             caption="Collisions by their most severe casualty; casualties by their own severity.")
    users = ui.metric(roads.casualties_by_road_user, road_filters, twelve[0], twelve[1])
    ui.chart(charts.bar_chart(users, "ksi_casualties", "road_user_type", f"KSI casualties by road user, {label}",
                              "KSI casualties", "", SOURCE, last), key="roads_users")
    ui.table(pd.DataFrame({
        "Road user": users["road_user_type"], "Fatal": users["fatal"].map(page_blocks.dash),
        "Serious": users["serious"].map(page_blocks.dash), "Slight": users["slight"].map(page_blocks.dash),
        "KSI": users["ksi_casualties"].map(page_blocks.dash), "All casualties": users["casualties"].map(page_blocks.dash),
    }), "roads-casualties-by-road-user", download_frame=users)
    speed = ui.metric(roads.collisions_by_speed_limit, road_filters, twelve[0], twelve[1])
    speed_shown = speed.assign(limit=speed["speed_limit"].map(lambda v: "Not recorded" if pd.isna(v) else f"{int(v)} mph"))
    ui.chart(charts.bar_chart(speed_shown, "limit", "collisions", f"Injury collisions by speed limit, {label}",
                              "Speed limit", "Collisions", SOURCE, last, horizontal=False), key="roads_speed")
    ui.table(pd.DataFrame({"Speed limit": speed_shown["limit"], "Collisions": speed["collisions"].map(page_blocks.dash),
                           "KSI collisions": speed["ksi_collisions"].map(page_blocks.dash),
                           "Casualties": speed["casualties"].map(page_blocks.dash)}),
             "roads-collisions-by-speed-limit", download_frame=speed)

    # --- when -------------------------------------------------------------------------------------------------
    hour_day = ui.metric(roads.collisions_by_hour_day, road_filters, twelve[0], twelve[1])
    days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    ui.chart(page_blocks.heatmap_figure(hour_day, "hour", "day_of_week", "collisions",
                                        f"Injury collisions by hour and day of week, {label}", "Hour of day (0–23)",
                                        "Day of week", "Collisions", SOURCE, last, x_order=list(range(24)),
                                        y_order=days), key="roads_heatmap")

page_blocks.force_measures_section(ctx, "roads", key="roads_fm")
