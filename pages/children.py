"""Priority 6 — children and vulnerable people: crimes with a child victim and hate crimes from the force's
incident extract (monthly trend, share of all crime, crime types, outcomes); without an extract, which file
to load and how, and the public proxy (public order offences) labelled as a proxy. Plus the force measures
mapped to this priority."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import charts
import page_blocks
import ui
from metrics import calendar, incidents, plan, series
from metrics.compare import period_change
from metrics.filters import Filters

ctx = ui.context()
ui.page_header(
    "6 · Protecting children and vulnerable people", ctx,
    "Crimes against children and hate crimes, flagged in the force's own records. Public data carry neither "
    "flag, so without the force extract only labelled proxies can be shown.",
)
CHILD, HATE = plan.measure("child_victim_crimes"), plan.measure("hate_crimes")
PROXY = plan.measure("public_order_proxy")
EXTRACT_SOURCE = "Force crime extract"
extract_filters = Filters(force_id=ctx.force_id, districts=ctx.filters.districts)
first_x, last_x = ui.metric(series.data_range, "incidents", Filters(force_id=ctx.force_id))

if last_x is not None:
    period, note = page_blocks.family_period(ctx, first_x, last_x)
    if note:
        st.caption(note)
    label = plan.period_label(period)
    for item, flag, noun, key in ((CHILD, "child_victim", "Crimes with a child victim", "child"),
                                  (HATE, "hate_crime", "Hate crimes", "hate")):
        st.subheader(noun)
        monthly = ui.metric(incidents.flag_series, flag, extract_filters)
        in_period = monthly[(pd.to_datetime(monthly["month"]) >= pd.Timestamp(period[0]))
                            & (pd.to_datetime(monthly["month"]) <= pd.Timestamp(period[1]))]
        flagged, total = in_period["count"].sum(), in_period["all_incidents"].sum()
        c = st.columns(2)
        c[0].metric(f"{noun}, {label}", ui.metric_value(flagged))
        c[1].metric("Share of all crime in the extract", ui.metric_value(flagged / total * 100 if total else None, "%", 1))
        st.caption(item.caveats)
        ui.chart(charts.trend_chart(monthly, f"{noun} per month — {ctx.area_label}", "Crimes per month",
                                    f"{EXTRACT_SOURCE} ({flag.replace('_', ' ')} flag)", last_x,
                                    lockdowns=calendar.lockdowns()), key=f"children_{key}_trend")
        types = ui.metric(incidents.flag_by_crime_type, flag, extract_filters, period[0], period[1])
        types = types.assign(crime_type=types["crime_type"].fillna("Offence code not in the Home Office table"))
        ui.chart(charts.bar_chart(types, "count", "crime_type", f"{noun} by crime type, {label}", "Crimes", "",
                                  EXTRACT_SOURCE, last_x), key=f"children_{key}_types")
        outcome_frame = ui.metric(plan.incident_outcomes, flag, extract_filters, period[0], period[1])
        ui.table(pd.DataFrame({"Outcome": outcome_frame["outcome"], "Crimes": outcome_frame["incidents"].map(page_blocks.dash),
                               "Share": outcome_frame["share"].map(lambda v: page_blocks.dash(v * 100, ".1f", "%"))}),
                 f"{key}-outcomes", download_frame=outcome_frame, caption=f"Outcomes of {noun.lower()} recorded in {label}.")
else:
    page_blocks.not_loaded(CHILD)
    page_blocks.not_loaded(HATE, (PROXY,))
    proxy_filters = plan.measure_filters(PROXY, ctx.area_filters)
    first, last = ui.metric(series.data_range, "crimes", proxy_filters)
    if ctx.comparison is None or last is None:
        st.info("Neither the force extract nor data.police.uk street-level crime is loaded for this force.")
    else:
        st.subheader(page_blocks.proxy_label(PROXY))
        st.warning(PROXY.caveats, icon=":material/warning:")
        st.caption("No public proxy exists for crimes with a child victim: that measure needs the force extract.")
        pre, post = ctx.comparison.pre, ctx.comparison.post
        page_blocks.trend_with_expected(ctx, "crimes", proxy_filters,
                                        f"Public order offences per month (proxy) — {ctx.area_label}",
                                        "Crimes per month", PROXY.source, key="children_proxy_trend")
        force_districts = ui.metric(series.districts, "crimes", ctx.force_id)
        in_force = Filters(force_id=ctx.force_id, districts=ctx.filters.districts or tuple(force_districts),
                           categories=PROXY.categories)
        by_district = ui.metric(period_change, "crimes", ["district"], pre, post, in_force)
        page_blocks.change_section(by_district, "district", "District", "crimes",
                                   f"Public order offences (proxy): change per month by district, "
                                   f"{plan.period_label(post)} vs {plan.period_label(pre)}", PROXY.source, last,
                                   "children-proxy-change-by-district", "children_proxy_change")

page_blocks.force_measures_section(ctx, "children", key="children_fm")
