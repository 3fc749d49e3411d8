"""COVID-19 impact: each crime type's (and each other loaded measure's) observed counts against what a
seasonal model fitted on the months before March 2020 expected, with the lockdown periods shaded."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

import charts
import ui
from metrics import calendar, plan

ctx = ui.context()
ui.page_header(
    "COVID-19 impact", ctx,
    "Observed counts against **expected** counts from a seasonal model fitted on the months up to February 2020 "
    "(as Langton, Dixon & Farrell 2021 did with data.police.uk data), with its 95% prediction interval. "
    "Grey bands are the national lockdowns.",
)

periods = calendar.covid_periods()
calendar_table = periods.assign(
    start=pd.to_datetime(periods["start"]).dt.strftime("%d %b %Y"),
    end=pd.to_datetime(periods["end"]).dt.strftime("%d %b %Y"),
)

FIRST_COVID_MONTH = date(2020, 3, 1)
if ctx.last_month is None or ctx.last_month < FIRST_COVID_MONTH:
    loaded = "nothing is loaded" if ctx.last_month is None else (
        f"the street-level data loaded for {ctx.force_name} cover "
        f"{plan.period_label((ctx.first_month, ctx.last_month))}")
    st.info(
        f"This view compares months from March 2020 on with a model fitted on the months before; {loaded}, "
        "so there is no COVID-19 period to show. Load data.police.uk street files from 2017 (or earlier) to 2021 — "
        "`python -m etl load path/to/police-uk-download.zip` — for a seasonal model (24 months or more before "
        "March 2020) and the COVID months.", icon=":material/info:",
    )
    st.subheader("The COVID-19 calendar used")
    ui.table(calendar_table, "covid-calendar", column_config={"label": "Period", "start": "From", "end": "To",
                                                              "kind": "Kind"})
    st.stop()

WINDOWS = {"year": "First COVID year (Mar 2020–Feb 2021)", "all": "Every month from March 2020"}
window = ui.url_choice("Period summarised", list(WINDOWS), key="window", default="year", format_func=WINDOWS.get)
start = FIRST_COVID_MONTH
end = date(2021, 2, 1) if window == "year" else ctx.last_month
end = min(end, ctx.last_month)
span = plan.period_label((start, end))

keys = ui.metric(plan.impact_keys, ctx.filters)
frames: dict = {}
progress = st.progress(0.0, text="Fitting a seasonal model to each series (cached after the first time)…")
for index, (key, label) in enumerate(keys, start=1):
    frames[label] = ui.metric(plan.expected_series, key, ctx.area_filters, plan.COVID_FIT_UNTIL)
    progress.progress(index / len(keys), text=f"Fitted {index} of {len(keys)} series")
progress.empty()
summary = plan.expected_summary(frames, start, end)

st.subheader(f"Observed against expected, {span}")
comparable = summary.dropna(subset=["pct_difference"])
if len(comparable):
    ui.chart(
        charts.bar_chart(comparable, "pct_difference", "series", f"Observed against expected, {span} — {ctx.area_label}",
                         "Observed minus expected (% of expected)", "", "data.police.uk and the other loaded sources; "
                         "metrics.expected seasonal models", ctx.last_month, value_format="+.1f",
                         note="Expected from models fitted on the months to February 2020."),
        key="covid_bars",
    )
display = summary.assign(
    observed=summary["observed"].round(0), expected=summary["expected"].round(0),
    difference=summary["difference"].round(0), pct_difference=summary["pct_difference"].round(1),
)
ui.table(
    display, "covid-observed-vs-expected",
    column_config={
        "series": "Series", "months": "Months",
        "observed": st.column_config.NumberColumn("Observed", format="localized"),
        "expected": st.column_config.NumberColumn("Expected", format="localized"),
        "difference": st.column_config.NumberColumn("Difference", format="localized"),
        "pct_difference": st.column_config.NumberColumn("Difference (%)", format="%+.1f"),
        "months_above": "Months above 95% PI", "months_below": "Months below 95% PI",
        "months_within": "Months within", "model": "Model", "note": "Note",
    },
    caption="Totals over the months summarised; a month is above or below when its count lies outside the 95% "
            "prediction interval.",
)

st.subheader("One series in detail")
labels = [label for _, label in keys]
chosen = ui.url_choice("Series", labels, key="series", default=labels[0] if labels else None, widget="selectbox")
frame = frames.get(chosen)
chosen_key = next((key for key, label in keys if label == chosen), "")
if chosen_key.startswith("measure:"):
    item = plan.measure(chosen_key.partition(":")[2])
    series_source, series_unit = item.source, item.unit[0].upper() + item.unit[1:]
else:
    series_source = "data.police.uk street-level crime"
    series_unit = "Incidents per month" if chosen == plan.ASB else "Crimes per month"
if frame is not None and len(frame):
    observed = frame.dropna(subset=["observed"]).rename(columns={"observed": "count"})[["month", "count"]]
    projected = frame[~frame["in_fit"].astype(bool)]
    ui.chart(
        charts.trend_chart(observed, f"{chosen}: observed and expected per month — {ctx.area_label}", series_unit,
                           series_source, ctx.last_month,
                           expected=projected if len(projected) else None, lockdowns=calendar.lockdowns(),
                           note=frame.attrs.get("note")),
        key="covid_trend",
    )
    def _number(value: float) -> str:
        return "—" if pd.isna(value) else f"{value:,.0f}"

    detail = pd.DataFrame({
        "Month": pd.to_datetime(frame["month"]).dt.strftime("%b %Y"),
        "Observed": frame["observed"].map(_number),
        "Expected": frame["expected"].map(_number),
        "95% interval": [("—" if pd.isna(lo) else f"{lo:,.0f} to {hi:,.0f}") for lo, hi in zip(frame["lower"], frame["upper"])],
        "Flag": [("fit period" if fit else (flag or "not observed")) for fit, flag in zip(frame["in_fit"], frame["flag"])],
        "Cumulative difference": frame["cumulative_difference"].map(_number),
    })
    ui.table(detail, f"covid-{chosen.lower().replace(' ', '-')}", caption=frame.attrs.get("note"),
             download_frame=frame)

st.subheader("The COVID-19 calendar used")
ui.table(calendar_table, "covid-calendar", column_config={"label": "Period", "start": "From", "end": "To", "kind": "Kind"})
