"""Priority 2 — anti-social behaviour: monthly trend with lockdowns and the expected band, the 2020 rise,
change by district (rates per 1,000 residents, Benjamini–Hochberg-aware significance), hotspot LSOAs and
the force measures mapped to ASB."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import charts
import page_blocks
import ui
from metrics import calendar, hotspots, plan, rates, series
from metrics.compare import period_change
from metrics.filters import Filters

ctx = ui.context()
ui.page_header(
    "2 · Cracking down on anti-social behaviour", ctx,
    "Anti-social behaviour incidents reported to the police (data.police.uk): the monthly trend against what "
    "the seasonal pattern of earlier months would lead us to expect, the 2020 rise, the change in each district "
    "and where incidents concentrate.",
)
MEASURE = plan.measure("asb_incidents")
SOURCE = MEASURE.source
asb = plan.measure_filters(MEASURE, ctx.area_filters)
first, last = ui.metric(series.data_range, "crimes", asb)
if ctx.comparison is None or last is None:
    page_blocks.not_loaded(MEASURE)
    page_blocks.force_measures_section(ctx, "asb", key="asb_fm")
    st.stop()

pre, post = ctx.comparison.pre, ctx.comparison.post
as_at = last

# --- headline ----------------------------------------------------------------------------------------
page_blocks.headline_change("ASB incidents", "incidents", "crimes", asb, pre, post)
st.caption(MEASURE.caveats)

# --- trend -----------------------------------------------------------------------------------------
page_blocks.trend_with_expected(ctx, "crimes", asb, f"ASB incidents per month — {ctx.area_label}",
                                "ASB incidents per month", SOURCE, key="asb_trend")

# --- the 2020 rise -------------------------------------------------------------------------------------
st.subheader("The 2020 rise")
covid_pre, covid_post = calendar.pre_covid_vs_covid_year()
if first <= covid_pre[0] and covid_post[1] <= last:
    rise = ui.metric(period_change, "crimes", [], covid_pre, covid_post, asb)
    r = rise.iloc[0]
    rise_pct, rise_interval = charts.format_pct_change(r["rate_ratio"], r["ci_lower"], r["ci_upper"])
    c = st.columns(3)
    c[0].metric(f"ASB, {plan.period_label(covid_post)}", ui.metric_value(r["post_count"]))
    c[1].metric(f"ASB, {plan.period_label(covid_pre)}", ui.metric_value(r["pre_count"]))
    c[2].metric("Change (95% interval)", rise_pct, help=rise_interval, delta=rise_interval, delta_color="off")
    st.caption("In 2020 many breaches of the COVID-19 regulations were recorded as anti-social behaviour, which "
               "explains much of the rise during the lockdowns (shaded on the trend).")
else:
    st.info(f"The 2020 rise compares {plan.period_label(covid_post)} with {plan.period_label(covid_pre)}; the ASB data "
            f"loaded for {ctx.area_label} cover {plan.period_label((first, last))}. Load the data.police.uk months "
            "from March 2019 to February 2021 to see it.")

# --- districts -----------------------------------------------------------------------------------------
st.subheader(f"Districts — {plan.period_label(post)} against {plan.period_label(pre)}")
force_districts = ui.metric(series.districts, "crimes", ctx.force_id)
# only the force's own districts, so the Benjamini–Hochberg control is across the districts shown
in_force = Filters(force_id=ctx.force_id, districts=ctx.filters.districts or tuple(force_districts),
                   categories=asb.categories)
by_district = ui.metric(period_change, "crimes", ["district"], pre, post, in_force)
try:
    district_rates = ui.metric(rates.district_rates, "crimes", post[0], post[1], asb)
except ValueError as problem:
    district_rates = None
    st.info(f"Rates per 1,000 residents need the ONS LSOA lookup and census residents: {problem}.")
if district_rates is not None and len(district_rates):
    months = district_rates.attrs.get("months", 1)
    ui.chart(charts.bar_chart(district_rates, "rate_per_1000", "district",
                              f"ASB incidents per 1,000 residents by district, {plan.period_label(post)}",
                              f"ASB incidents per 1,000 residents ({months} months)", "", f"{SOURCE}; 2011 Census",
                              as_at, value_format=",.1f"), key="asb_district_rates")
if by_district.empty:
    ui.chart(charts.empty_figure("Change in ASB by district", "No data for this selection.", SOURCE, as_at),
             key="asb_district_change")
else:
    ui.chart(charts.change_chart(by_district, "district", "Change in ASB incidents per month by district",
                                 SOURCE, as_at), key="asb_district_change")
    shown = page_blocks.change_display(by_district, "district", "District", "incidents")
    download = by_district
    if district_rates is not None and len(district_rates):
        per_1000 = dict(zip(district_rates["district"], district_rates["rate_per_1000"]))
        per_year = dict(zip(district_rates["district"], district_rates["rate_per_1000_per_year"]))
        shown.insert(3, "Per 1,000 residents (current)", [page_blocks.dash(per_1000.get(d), ",.1f") for d in by_district["district"]])
        shown.insert(4, "Per 1,000 a year", [page_blocks.dash(per_year.get(d), ",.1f") for d in by_district["district"]])
        download = by_district.merge(district_rates[["district", "residents", "rate_per_1000", "rate_per_1000_per_year"]],
                                     on="district", how="left")
    ui.table(shown, "asb-change-by-district", download_frame=download,
             caption=by_district.attrs.get("note", "") + " Significance is after Benjamini–Hochberg control across "
                                                         "the districts.")

# --- hotspots ----------------------------------------------------------------------------------------------
st.subheader(f"Hotspots — {plan.period_label(post)}")
top = ui.metric(hotspots.top_lsoas, post[0], post[1], asb, 20)
if top.empty:
    st.info("No ASB incidents with a location in this period for this selection.")
else:
    ui.chart(charts.bar_chart(top.head(15).assign(label=top["lsoa_name"].fillna(top["lsoa_code"])), "count", "label",
                              f"The 15 LSOAs with most ASB incidents, {plan.period_label(post)}",
                              "ASB incidents", "", SOURCE, as_at), key="asb_hotspots")
    ui.table(
        pd.DataFrame({
            "LSOA": top["lsoa_code"], "Name": top["lsoa_name"].fillna("—"), "District": top["district"].fillna("—"),
            "ASB incidents": top["count"].map(page_blocks.dash),
            "Residents (2011)": top["residents"].map(page_blocks.dash),
            "Per 1,000 (period)": top["rate_per_1000"].map(lambda v: page_blocks.dash(v, ",.1f")),
        }),
        "asb-top-lsoas", download_frame=top, caption="The 20 LSOAs with most ASB incidents in the current period.",
    )

page_blocks.force_measures_section(ctx, "asb", key="asb_fm")
