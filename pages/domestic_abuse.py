"""Priority 3 — domestic abuse: from the force's incident extract (domestic-abuse flag) the monthly and weekly
trend, repeat victims within 12 months and outcomes; without an extract, which file to load and how, and the
public proxy (violence and sexual offences, data.police.uk) clearly labelled as a proxy. Plus the force
measures mapped to domestic abuse."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import charts
import page_blocks
import ui
from metrics import calendar, incidents, plan, series
from metrics.compare import period_change
from metrics.filters import Filters
from metrics.weekly import latest_complete_week

ctx = ui.context()
ui.page_header(
    "3 · Breaking the cycle of domestic abuse", ctx,
    "Domestic-abuse crimes flagged in the force's own records (repeat victims, outcomes). Public data carry no "
    "domestic-abuse flag, so without the force extract only a labelled proxy can be shown.",
)
MEASURE = plan.measure("domestic_abuse_crimes")
PROXY = plan.measure("violence_sexual_proxy")
EXTRACT_SOURCE = "Force crime extract (domestic-abuse flag)"
extract_filters = Filters(force_id=ctx.force_id, districts=ctx.filters.districts)
da_first, da_last = ui.metric(series.data_range, "incidents", Filters(force_id=ctx.force_id))

if da_last is not None:
    period, note = page_blocks.family_period(ctx, da_first, da_last)
    if note:
        st.caption(note)
    label = plan.period_label(period)
    summary = ui.metric(incidents.domestic_abuse_summary, extract_filters, period[0], period[1])
    s = summary.iloc[0] if len(summary) else pd.Series(dtype="float64")
    st.markdown(f"**{label}**")
    c = st.columns(5)
    c[0].metric("Domestic-abuse crimes", ui.metric_value(s.get("da_incidents")), help=f"Recorded in {label}.")
    c[1].metric("Victims", ui.metric_value(s.get("da_victims")), help="Distinct victim keys.")
    c[2].metric("Repeat victims within 12 months", ui.metric_value(s.get("repeat_victims_12m")),
                help="Victims with an incident in the period preceded by another domestic-abuse incident of theirs "
                     "at most 365 days earlier.")
    c[3].metric("Repeat victim rate", ui.metric_value(s.get("repeat_victim_pct"), "%", 1),
                help="Repeat victims within 12 months as a share of all victims in the period.")
    c[4].metric("Share of all crime in the extract", ui.metric_value(s.get("da_share_of_all_pct"), "%", 1))
    st.caption(MEASURE.caveats + f" {ui.metric_value(s.get('da_incidents_without_victim_key'))} incidents have no "
               "victim key and cannot be linked to a repeat.")

    monthly = ui.metric(incidents.domestic_abuse_monthly, extract_filters)
    long = pd.concat([
        pd.DataFrame({"month": monthly["month"], "count": monthly["da_incidents"], "series": "All domestic-abuse crimes"}),
        pd.DataFrame({"month": monthly["month"], "count": monthly["repeat_incidents_12m"],
                      "series": "Repeat within 12 months"}),
    ]) if len(monthly) else monthly
    ui.chart(charts.trend_chart(long, f"Domestic-abuse crimes per month — {ctx.area_label}", "Crimes per month",
                                EXTRACT_SOURCE, da_last, lockdowns=calendar.lockdowns(), group="series"), key="da_monthly")
    weekly = ui.metric(incidents.flag_series, "domestic_abuse", extract_filters, None, None, "week")
    complete_to = ui.metric(latest_complete_week, ctx.force_id)
    if complete_to is not None and len(weekly):  # leave out a last, partly loaded week
        weekly = weekly[pd.to_datetime(weekly["week_start"]) <= pd.Timestamp(complete_to)]
    ui.chart(charts.trend_chart(weekly, f"Domestic-abuse crimes per week — {ctx.area_label}", "Crimes per week",
                                EXTRACT_SOURCE, da_last, lockdowns=calendar.lockdowns(), x="week_start",
                                x_label="Week starting (Monday)"), key="da_weekly")

    st.subheader(f"Outcomes of domestic-abuse crimes recorded in {label}")
    outcomes_da = ui.metric(plan.incident_outcomes, "domestic_abuse", extract_filters, period[0], period[1])
    ui.chart(charts.bar_chart(outcomes_da.assign(share_pct=outcomes_da["share"] * 100), "share_pct", "outcome",
                              f"Domestic-abuse crimes by outcome, {label}", "Share of crimes (%)", "", EXTRACT_SOURCE,
                              da_last, value_format=".1f"), key="da_outcomes")
    ui.table(pd.DataFrame({"Outcome": outcomes_da["outcome"], "Crimes": outcomes_da["incidents"].map(page_blocks.dash),
                           "Share": outcomes_da["share"].map(lambda v: page_blocks.dash(v * 100, ".1f", "%"))}),
             "domestic-abuse-outcomes", download_frame=outcomes_da,
             caption="Outcome as recorded in the extract; recent crimes are often still under investigation.")
    types = ui.metric(incidents.flag_by_crime_type, "domestic_abuse", extract_filters, period[0], period[1])
    ui.table(pd.DataFrame({"Crime type": types["crime_type"].fillna("Offence code not in the Home Office table"),
                           "Domestic-abuse crimes": types["count"].map(page_blocks.dash)}),
             "domestic-abuse-by-crime-type", download_frame=types, caption=f"By police.uk crime type, {label}.")
else:
    page_blocks.not_loaded(MEASURE, (PROXY,))
    proxy_filters = plan.measure_filters(PROXY, ctx.area_filters)
    first, last = ui.metric(series.data_range, "crimes", proxy_filters)
    if ctx.comparison is None or last is None:
        st.info("Neither the force extract nor data.police.uk street-level crime is loaded for this force.")
    else:
        st.subheader(page_blocks.proxy_label(PROXY))
        st.warning(PROXY.caveats, icon=":material/warning:")
        pre, post = ctx.comparison.pre, ctx.comparison.post
        page_blocks.trend_with_expected(ctx, "crimes", proxy_filters,
                                        f"Violence and sexual offences per month (proxy) — {ctx.area_label}",
                                        "Crimes per month", PROXY.source, key="da_proxy_trend")
        force_districts = ui.metric(series.districts, "crimes", ctx.force_id)
        in_force = Filters(force_id=ctx.force_id, districts=ctx.filters.districts or tuple(force_districts),
                           categories=PROXY.categories)
        by_district = ui.metric(period_change, "crimes", ["district"], pre, post, in_force)
        page_blocks.change_section(by_district, "district", "District", "crimes",
                                   f"Violence and sexual offences (proxy): change per month by district, "
                                   f"{plan.period_label(post)} vs {plan.period_label(pre)}", PROXY.source, last,
                                   "domestic-abuse-proxy-change-by-district", "da_proxy_change")

page_blocks.force_measures_section(ctx, "domestic-abuse", key="da_fm")
