"""COVID-19 impact: each crime type's (and each other loaded measure's) observed counts against what a seasonal
model fitted on the months before March 2020 expected, with the lockdown periods shaded."""

from __future__ import annotations

import pandas as pd

import charts
from charts import formatting as fmt
from metrics import calendar, periods, plan, registry
from views.blocks import expected_caption
from views.model import Chart, Choice, Column, Section, Table, Text, View, ViewContext, in_tab, only_when
from views.text import md_literal

WINDOW_CHOICE = Choice("window", "Period summarised", tuple(periods.COVID_WINDOWS), "year", labels=periods.COVID_WINDOWS)
MODEL_SOURCE = "data.police.uk and the other loaded sources; metrics.expected seasonal models"


def _has_covid_months(ctx: ViewContext) -> bool:
    return ctx.last_month is not None and ctx.last_month >= periods.FIRST_COVID_MONTH


def _frames(ctx: ViewContext) -> tuple[list[tuple[str, str]], dict[str, pd.DataFrame]]:
    """Every series' expected frame (the models read, or fitted together in one call: the progress bar says
    what is being done, not how far)."""
    keys = ctx.read(plan.impact_keys, ctx.filters)
    ctx.progress(0.0, f"Expected values: the models of {len(keys)} series")
    by_key = ctx.read(plan.expected_series_many, tuple(key for key, _ in keys), ctx.area_filters, plan.COVID_FIT_UNTIL)
    ctx.progress(1.0, "")
    return keys, {label: by_key[key] for key, label in keys}


def summary(ctx: ViewContext) -> Section:
    """Observed against expected for every series over the chosen COVID window."""
    if not _has_covid_months(ctx):
        loaded = "nothing is loaded" if ctx.last_month is None else (
            f"the street-level data loaded for {md_literal(ctx.force_name, None)} cover "
            f"{plan.period_label((ctx.first_month, ctx.last_month))}")
        return Section("No COVID-19 months loaded", (Text(
            f"This view compares months from March 2020 on with a model fitted on the months before; {loaded}, so there "
            "is no COVID-19 period to show. Load data.police.uk street files from 2017 (or earlier) to 2021 — "
            f"`{registry.data_file('police_uk_street').load_command(ctx.db)}` — for a seasonal model (24 months or "
            "more before March 2020) and the COVID months.", "info"),))
    start, end = periods.covid_window(ctx.choose(WINDOW_CHOICE), ctx.last_month)
    span = plan.period_label((start, end))
    _keys, frames = _frames(ctx)
    table = plan.expected_summary(frames, start, end)
    title = f"Observed against expected, {span} — {ctx.area_label}"
    comparable = table.dropna(subset=["pct_difference"])
    figure = charts.bar_chart(comparable, "pct_difference", "series", title, "Observed minus expected (% of expected)",
                              "", MODEL_SOURCE, ctx.last_month, value_format="+.1f",
                              note="Expected from models fitted on the months to February 2020.")
    notes = ctx.notes(title, MODEL_SOURCE, units="counts over the months summarised; difference (%)", period=(start, end),
                      crime_types=True)
    columns = (Column("series", "Series", None), Column("months", "Months", 0), Column("observed", "Observed", 0),
               Column("expected", "Expected", 0), Column("difference", "Difference", 0),
               Column("difference_text", "Difference, with its 95% interval", None),
               Column("pct_difference", "Difference (% of expected)", 1, True),
               Column("months_above", "Months above the 95% interval", 0),
               Column("months_below", "Months below the 95% interval", 0), Column("months_within", "Months within", 0),
               Column("model", "Model", None), Column("note", "Note", None))
    blocks = (Chart(figure, "covid_bars", notes, filters=ctx.filters),
              Table("covid-observed-vs-expected", table, columns, notes,
                    formats={"pct_difference": lambda v: fmt.percent(v, 1, sign=True),
                             "difference": lambda v: fmt.number(v, sign=True)},
                    caption="Totals over the months summarised; a month is above or below when its count lies outside "
                            "the 95% prediction interval."))
    return Section(f"Observed against expected, {span}", blocks)


def detail(ctx: ViewContext) -> Section | None:
    """One series: observed and expected per month, the interval and the cumulative difference."""
    if not _has_covid_months(ctx):
        return None
    keys, frames = _frames(ctx)
    labels = tuple(label for _, label in keys)
    if not labels:
        return None
    chosen = ctx.choose(Choice("series", "Series", labels, labels[0], widget="selectbox"))
    frame = frames[chosen]
    key = next(key for key, label in keys if label == chosen)
    if key.startswith("measure:"):
        item = registry.measure(key.partition(":")[2])
        source, unit = item.source, item.unit[0].upper() + item.unit[1:]
    else:
        source = registry.STREET_SOURCE
        unit = "Incidents per month" if chosen == registry.ASB else "Crimes per month"
    title = f"{chosen}: observed and expected per month — {ctx.area_label}"
    observed = frame.dropna(subset=["observed"]).rename(columns={"observed": "count"})[["month", "count"]]
    projected = frame[~frame["in_fit"].astype(bool)] if len(frame) else frame
    figure = charts.trend_chart(observed, title, unit, source, ctx.last_month,
                                expected=projected if len(projected) else None, lockdowns=calendar.lockdowns(),
                                note=expected_caption(frame) or None)
    data = frame.assign(
        month_text=[fmt.month(m) for m in frame["month"]],
        interval=[fmt.DASH if fmt.is_missing(lo) else f"{lo:,.0f} to {hi:,.0f}"
                  for lo, hi in zip(frame["lower"], frame["upper"])],
        flag_text=["fit period" if fit else (flag or "not observed") for fit, flag in zip(frame["in_fit"], frame["flag"])],
        cumulative_interval=[fmt.DASH if fmt.is_missing(lo) else f"{lo:,.0f} to {hi:,.0f}"
                             for lo, hi in zip(frame["cumulative_lower"], frame["cumulative_upper"])],
    )
    columns = (Column("month_text", "Month", None), Column("observed", "Observed", 0), Column("expected", "Expected", 0),
               Column("interval", "95% interval", None), Column("flag_text", "Against the interval", None),
               Column("cumulative_difference", "Cumulative difference", 0),
               Column("cumulative_interval", "Cumulative difference, 95% interval", None))
    notes = ctx.notes(title, source, units=unit.lower(), caveats=frame.attrs.get("note", ""))
    return Section("One series in detail", (Chart(figure, "covid_trend", notes),
                                            Table(f"covid-{chosen.lower().replace(' ', '-')}", data, columns, notes,
                                                  caption=frame.attrs.get("note", ""), static=False)), in_pack=False)


def covid_calendar(ctx: ViewContext) -> Section:
    table = calendar.covid_periods()
    data = table.assign(start_text=[f"{pd.Timestamp(v):%d %b %Y}" for v in table["start"]],
                        end_text=[f"{pd.Timestamp(v):%d %b %Y}" for v in table["end"]])
    columns = (Column("label", "Period", None), Column("start_text", "From", None), Column("end_text", "To", None),
               Column("kind", "Kind", None))
    notes = ctx.notes("The COVID-19 calendar used", "Crime Plan Monitor COVID-19 calendar (England)")
    return Section("The COVID-19 calendar used", (Table("covid-calendar", data, columns, notes),),
                   in_pack=False)


VIEW = View(
    id="covid", title="COVID-19 impact", heading="COVID-19 impact", icon=":material/coronavirus:", group="More views",
    uses_crime_types=True, uses_comparison=False,
    intro=("Observed counts against **expected** counts from a seasonal model fitted on the months up to February 2020 "
           "(as Langton, Dixon & Farrell 2021 did with data.police.uk data), with its 95% prediction interval. Grey bands "
           "are the national lockdowns."),
    sections=(summary, *in_tab("One series", *only_when(_has_covid_months, detail)),
              *in_tab("COVID-19 calendar", covid_calendar)),
)
