"""Fraud: reports to Action Fraud (NFIB) by residents of the force area and their reported losses, by type
and month, and the rise in the first COVID year."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import charts
import page_blocks
import ui
from metrics import calendar, fraud, plan, series
from metrics.filters import Filters, add_months

ctx = ui.context()
ui.page_header(
    "Fraud", ctx,
    "Fraud reported to Action Fraud by people living in the force area (not crimes recorded by the force), the "
    "losses they reported, which types of fraud, and how reports changed when COVID-19 moved life online.",
)
MEASURE = plan.measure("fraud_reports")
SOURCE = MEASURE.source
fraud_filters = Filters(force_id=ctx.force_id)
first, last = ui.metric(series.data_range, "fraud", fraud_filters)

if last is None:
    page_blocks.not_loaded(MEASURE)
    st.caption("No public proxy: police.uk street-level crime does not include fraud reported to Action Fraud.")
    st.stop()

if ctx.filters.districts:
    st.caption("Fraud is published by force area: the district filter does not apply here.")
twelve = (max(first, add_months(last, -11)), last)
label = plan.period_label(twelve)
st.caption(MEASURE.caveats)

# --- monthly -------------------------------------------------------------------------------------------
monthly = ui.metric(fraud.fraud_monthly, fraud_filters)
in_twelve = monthly[(pd.to_datetime(monthly["month"]) >= pd.Timestamp(twelve[0]))]
cols = st.columns(2)
cols[0].metric(f"Fraud reports, {label}", ui.metric_value(in_twelve["reports"].sum()))
cols[1].metric(f"Reported losses, {label}", "£" + ui.metric_value(in_twelve["reported_loss_gbp"].sum() / 1e6, "m", 1)
               if in_twelve["reported_loss_gbp"].notna().any() else "—")
ui.chart(charts.trend_chart(monthly, f"Fraud reports per month — {ctx.force_name}", "Reports per month", SOURCE, last,
                            y="reports", lockdowns=calendar.lockdowns()), key="fraud_reports_trend")
losses = monthly.assign(loss_m=monthly["reported_loss_gbp"] / 1e6)
ui.chart(charts.trend_chart(losses, f"Reported losses per month — {ctx.force_name}", "Reported losses (£ million per month)",
                            SOURCE, last, y="loss_m", lockdowns=calendar.lockdowns(),
                            note="Losses as reported by victims; months without a published figure count as 0."),
         key="fraud_loss_trend")

# --- by type ---------------------------------------------------------------------------------------------
st.subheader(f"By type of fraud — {label}")
by_type = ui.metric(fraud.fraud_by_type, fraud_filters, twelve[0], twelve[1])
ui.chart(charts.bar_chart(by_type, "reports", "fraud_type", f"Fraud reports by type, {label}", "Reports", "",
                          SOURCE, last), key="fraud_by_type")
ui.table(pd.DataFrame({
    "Fraud type": by_type["fraud_type"].fillna("Not recorded"),
    "Reports": by_type["reports"].map(page_blocks.dash),
    "Share of reports": by_type["share_of_reports_pct"].map(lambda v: page_blocks.dash(v, ".1f", "%")),
    "Reported loss (£)": by_type["reported_loss_gbp"].map(page_blocks.dash),
}), "fraud-by-type", download_frame=by_type)

# --- the COVID rise ----------------------------------------------------------------------------------------
st.subheader("The COVID rise: March 2020–February 2021 against the 12 months before")
rise = ui.metric(fraud.covid_rise, fraud_filters)
if rise.empty or rise["reports_during"].isna().all() or rise["reports_before"].isna().all():
    st.info(f"The COVID comparison needs Mar 2019–Feb 2021; the fraud data loaded cover {plan.period_label((first, last))}.")
else:
    months_before, months_during = int(rise["months_before"].max()), int(rise["months_during"].max())
    if months_before < 12 or months_during < 12:
        st.warning(f"Incomplete: {months_before} months before and {months_during} months during are loaded, so the "
                   "change is not like for like.")
    total = rise[rise["fraud_type"] == "All fraud"]
    if len(total):
        t = total.iloc[0]
        c = st.columns(3)
        c[0].metric("Reports, Mar 2020–Feb 2021", ui.metric_value(t["reports_during"]))
        c[1].metric("Reports, Mar 2019–Feb 2020", ui.metric_value(t["reports_before"]))
        c[2].metric("Change in reports", page_blocks.dash(t["reports_change_pct"], "+.1f", "%"))
    types_only = rise[rise["fraud_type"] != "All fraud"].dropna(subset=["reports_change_pct"])
    ui.chart(charts.bar_chart(types_only, "reports_change_pct", "fraud_type",
                              "Change in fraud reports by type, first COVID year vs the year before",
                              "Change in reports (%)", "", SOURCE, last, value_format="+.1f"), key="fraud_covid")
    ui.table(pd.DataFrame({
        "Fraud type": rise["fraud_type"].fillna("Not recorded"),
        "Reports before": rise["reports_before"].map(page_blocks.dash),
        "Reports during": rise["reports_during"].map(page_blocks.dash),
        "Change in reports": rise["reports_change_pct"].map(lambda v: page_blocks.dash(v, "+.1f", "%")),
        "Loss before (£)": rise["loss_before_gbp"].map(page_blocks.dash),
        "Loss during (£)": rise["loss_during_gbp"].map(page_blocks.dash),
        "Change in losses": rise["loss_change_pct"].map(lambda v: page_blocks.dash(v, "+.1f", "%")),
    }), "fraud-covid-rise", download_frame=rise,
        caption="Before: March 2019–February 2020; during: March 2020–February 2021 (the first COVID year).")
