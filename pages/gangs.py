"""Priority 5 — gangs and organised crime: drug offences and possession of weapons (trends, expected band,
change by category and district) and stop and search (volume, object of search, outcome, arrest and find
rates), with the force measures mapped to gangs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import charts
import page_blocks
import ui
from metrics import calendar, plan, series, stop_search
from metrics.compare import period_change
from metrics.filters import Filters, add_months

ctx = ui.context()
ui.page_header(
    "5 · Tackling gangs and organised crime", ctx,
    "Drug offences and possession of weapons — mostly found by proactive policing, so a rise can mean more "
    "enforcement — and the stop and search that finds many of them.",
)
DRUGS, WEAPONS, SEARCHES = plan.measure("drug_offences"), plan.measure("weapon_possession"), plan.measure("stop_searches")
SOURCE = DRUGS.source
gang_crimes = Filters(force_id=ctx.force_id, districts=ctx.filters.districts,
                      categories=DRUGS.categories + WEAPONS.categories)
first, last = ui.metric(series.data_range, "crimes", gang_crimes)

# --- drugs and weapons -----------------------------------------------------------------------------
if ctx.comparison is None or last is None:
    page_blocks.not_loaded(DRUGS)
else:
    pre, post = ctx.comparison.pre, ctx.comparison.post
    by_category = ui.metric(period_change, "crimes", ["crime_type"], pre, post, gang_crimes)
    cols = st.columns(len(by_category) or 1)
    for col, record in zip(cols, by_category.to_dict("records")):
        col.metric(f"{record['crime_type']}, {plan.period_label(post)}", ui.metric_value(record["post_count"]),
                   delta=None if pd.isna(record["pct_change"]) else f"{record['pct_change']:+.1f}% per month",
                   delta_color="off", help=f"Against {plan.period_label(pre)} ({ui.metric_value(record['pre_count'])}), "
                                           "as a rate per month. " + charts.significance_mark(record["q_value"], record["rate_ratio"]))
    st.caption(DRUGS.caveats)
    for item, key in ((DRUGS, "gangs_drugs"), (WEAPONS, "gangs_weapons")):
        page_blocks.trend_with_expected(ctx, "crimes", plan.measure_filters(item, ctx.area_filters),
                                        f"{item.label} per month — {ctx.area_label}", "Crimes per month", SOURCE, key=key)
    st.subheader(f"Change — {plan.period_label(post)} against {plan.period_label(pre)}")
    page_blocks.change_section(by_category, "crime_type", "Category", "crimes", "Change in crimes per month by category",
                               SOURCE, last, "gangs-change-by-category", "gangs_change_category")
    force_districts = ui.metric(series.districts, "crimes", ctx.force_id)
    in_force = Filters(force_id=ctx.force_id, districts=ctx.filters.districts or tuple(force_districts),
                       categories=gang_crimes.categories)
    by_district = ui.metric(period_change, "crimes", ["district"], pre, post, in_force)
    page_blocks.change_section(by_district, "district", "District", "crimes",
                               "Change in drug and weapon offences per month by district", SOURCE, last,
                               "gangs-change-by-district", "gangs_change_district")

# --- stop and search ----------------------------------------------------------------------------------
st.subheader("Stop and search")
ss_filters = Filters(force_id=ctx.force_id)
ss_first, ss_last = ui.metric(series.data_range, "stop_search", ss_filters)
if ss_last is None:
    page_blocks.not_loaded(SEARCHES)
else:
    post_ss = ctx.comparison.post if ctx.comparison is not None else (ss_first, ss_last)
    if not (ss_first <= post_ss[0] and post_ss[1] <= ss_last):
        post_ss = (max(ss_first, add_months(ss_last, -11)), ss_last)
        st.caption(f"Stop and search data cover {plan.period_label((ss_first, ss_last))}: showing "
                   f"{plan.period_label(post_ss)}.")
    label = plan.period_label(post_ss)
    summary = ui.metric(stop_search.stop_search_summary, post_ss[0], post_ss[1], ss_filters)
    c = st.columns(4)
    c[0].metric(f"Searches, {label}", ui.metric_value(summary["searches"]))
    c[1].metric("Arrests", ui.metric_value(summary["arrests"]))
    c[2].metric("Arrest rate", ui.metric_value(None if summary["arrest_rate"] is None else summary["arrest_rate"] * 100, "%", 1),
                help="Searches ending in an arrest / all searches.")
    c[3].metric("Find rate", ui.metric_value(None if summary["find_rate"] is None else summary["find_rate"] * 100, "%", 1),
                help="Searches whose outcome was linked to the object of the search / searches where the link is recorded.")
    monthly_ss = ui.metric(series.monthly_series, "stop_search", None, ss_filters)
    ui.chart(charts.trend_chart(monthly_ss, f"Stops and searches per month — {ctx.force_name}", "Searches per month",
                                SEARCHES.source, ss_last, lockdowns=calendar.lockdowns()), key="gangs_ss_trend")
    objects = ui.metric(stop_search.by_object, post_ss[0], post_ss[1], ss_filters)
    ui.chart(charts.bar_chart(objects, "searches", "object_of_search", f"Searches by object of search, {label}",
                              "Searches", "", SEARCHES.source, ss_last), key="gangs_ss_object")
    ui.table(
        pd.DataFrame({
            "Object of search": objects["object_of_search"],
            "Searches": objects["searches"].map(page_blocks.dash),
            "Arrests": objects["arrests"].map(page_blocks.dash),
            "Arrest rate": objects["arrest_rate"].map(lambda v: page_blocks.dash(None if pd.isna(v) else v * 100, ".1f", "%")),
            "Find rate": objects["find_rate"].map(lambda v: page_blocks.dash(None if pd.isna(v) else v * 100, ".1f", "%")),
            "Searches with the find recorded": objects["finds_known"].map(page_blocks.dash),
        }),
        "stop-search-by-object", download_frame=objects,
        caption="Find rate: outcome linked to the object of search, among searches where that link is recorded.",
    )
    outcomes_ss = ui.metric(stop_search.by_outcome, post_ss[0], post_ss[1], ss_filters)
    ui.chart(charts.bar_chart(outcomes_ss.assign(share_pct=outcomes_ss["share"] * 100), "share_pct", "outcome",
                              f"Outcome of searches, {label}", "Share of searches (%)", "", SEARCHES.source, ss_last,
                              value_format=".1f"), key="gangs_ss_outcome")
    ui.table(
        pd.DataFrame({"Outcome": outcomes_ss["outcome"], "Searches": outcomes_ss["searches"].map(page_blocks.dash),
                      "Share": outcomes_ss["share"].map(lambda v: page_blocks.dash(v * 100, ".1f", "%"))}),
        "stop-search-by-outcome", download_frame=outcomes_ss, caption=SEARCHES.caveats,
    )

page_blocks.force_measures_section(ctx, "gangs", key="gangs_fm")
