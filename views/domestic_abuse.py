"""Priority 3 — domestic abuse: from the force's incident extract (domestic-abuse flag) whether it changed (with
interval and significance), the monthly and weekly trend, repeat victims within 12 months, outcomes and crime
types; without an extract, which file to load and how, and the public proxy (violence and sexual offences)
labelled as a proxy. Plus the force measures mapped to domestic abuse."""

from __future__ import annotations

import pandas as pd

import charts
from charts import formatting as fmt
from metrics import calendar, incidents, periods, plan, registry, series
from metrics.filters import Filters
from metrics.weekly import latest_complete_week
from views.blocks import load_hint, measure_headline, outcome_breakdown, priority_view, proxy_districts_for, proxy_label
from views.model import Chart, Column, Figures, Kpi, Section, Table, Text, ViewContext, in_tab, only_when

INTRO = ("Domestic-abuse crimes flagged in the force's own records: whether they rose or fell, repeat victims and "
         "outcomes. Public data carry no domestic-abuse flag, so without the force extract only a labelled proxy can "
         "be shown.")
MEASURE = registry.measure("domestic_abuse_crimes")
PROXY = registry.measure("violence_sexual_proxy")
SOURCE = "Force crime extract (domestic-abuse flag)"
NO_CODE = "Offence code not in the Home Office table"


def _extract_range(ctx: ViewContext):
    return ctx.read(series.data_range, "incidents", Filters(force_id=ctx.force_id))


def _extract_loaded(ctx: ViewContext) -> bool:
    return _extract_range(ctx)[1] is not None


def _extract_period(ctx: ViewContext) -> tuple[tuple, str, str | None, object]:
    """The period the extract's sections summarise, its label, a note when it is not the comparison's current
    period, and the extract's last month."""
    first, last = _extract_range(ctx)
    period, note = periods.current_period(ctx.comparison, first, last)
    return period, plan.period_label(period), note, last


def headline(ctx: ViewContext) -> list[Section]:
    """The flagged crimes' change and trend; without an extract, the file to load and the labelled proxy."""
    if _extract_range(ctx)[1] is not None:
        return [measure_headline(ctx, MEASURE, "da_trend", title="Domestic abuse crimes: trend")]
    sections = [Section("Domestic abuse crimes", (load_hint(ctx, MEASURE, (PROXY,)),))]
    if ctx.comparison is not None and ctx.read(series.data_range, "crimes", ctx.force_filters)[1] is not None:
        sections.append(measure_headline(ctx, PROXY, "da_proxy_trend", title=proxy_label(PROXY)))
    else:
        sections.append(Section("No data", (Text("Neither the force extract nor data.police.uk street-level crime is "
                                                 "loaded for this force.", "info"),), in_pack=False))
    return sections


def repeat_victims(ctx: ViewContext) -> Section:
    """Victims, repeat victims within 12 months, and the monthly count of repeat incidents."""
    period, label, note, last = _extract_period(ctx)
    summary = ctx.read(incidents.domestic_abuse_summary, ctx.area_filters, period[0], period[1])
    s = summary.iloc[0] if len(summary) else pd.Series(dtype="float64")
    figures = Figures((
        Kpi(f"Victims, {label}", fmt.number(s.get("da_victims")), help="Distinct victim keys."),
        Kpi("Repeat victims within 12 months", fmt.number(s.get("repeat_victims_12m")),
            help="Victims with an incident in the period preceded by another domestic-abuse incident of theirs at "
                 "most 365 days earlier."),
        Kpi("Repeat victim rate", fmt.percent(s.get("repeat_victim_pct")),
            help="Repeat victims within 12 months as a share of all victims in the period."),
        Kpi("Share of all crime in the extract", fmt.percent(s.get("da_share_of_all_pct"))),
    ))
    monthly = ctx.read(incidents.domestic_abuse_monthly, ctx.area_filters)
    long = pd.concat([
        pd.DataFrame({"month": monthly["month"], "count": monthly["da_incidents"], "series": "All domestic-abuse crimes"}),
        pd.DataFrame({"month": monthly["month"], "count": monthly["repeat_incidents_12m"],
                      "series": "Repeat within 12 months"}),
    ]) if len(monthly) else monthly
    title = f"Domestic-abuse crimes and repeats per month — {ctx.area_label}"
    figure = charts.trend_chart(long, title, "Crimes per month", SOURCE, last, lockdowns=calendar.lockdowns(),
                                group="series")
    blocks = [figures, Text(f"{fmt.number(s.get('da_incidents_without_victim_key'))} incidents have no victim key and "
                            "cannot be linked to a repeat." + (f" {note}" if note else ""), "caption"),
              Chart(figure, "da_monthly", ctx.notes(title, SOURCE, units="crimes per month", as_at=last,
                                                    sensitive=True))]
    return Section(f"Repeat victims, {label}", tuple(blocks))


def weekly(ctx: ViewContext) -> Section:
    last = _extract_range(ctx)[1]
    counts = ctx.read(incidents.flag_series, "domestic_abuse", ctx.area_filters, None, None, "week")
    complete_to = ctx.read(latest_complete_week, ctx.force_id)
    if complete_to is not None and len(counts):  # leave out a last, partly loaded week
        counts = counts[pd.to_datetime(counts["week_start"]) <= pd.Timestamp(complete_to)]
    title = f"Domestic-abuse crimes per week — {ctx.area_label}"
    figure = charts.trend_chart(counts, title, "Crimes per week", SOURCE, last, lockdowns=calendar.lockdowns(),
                                x="week_start", x_label="Week starting (Monday)")
    return Section("Week by week", (Chart(figure, "da_weekly", ctx.notes(title, SOURCE, units="crimes per week",
                                                                         as_at=last, sensitive=True)),))


def outcomes(ctx: ViewContext) -> Section:
    period, label, _note, last = _extract_period(ctx)
    frame = ctx.read(plan.incident_outcomes, "domestic_abuse", ctx.area_filters, period[0], period[1])
    chart, table = outcome_breakdown(ctx, frame, "Domestic-abuse crimes", ("incidents", "Crimes"), "da_outcomes",
                                     SOURCE, period, last, sensitive=True,
                                     caption="Outcome as recorded in the extract; recent crimes are often still under "
                                             "investigation.")
    return Section(f"Outcomes of domestic-abuse crimes recorded in {label}", (chart, table))


def crime_types(ctx: ViewContext) -> Section:
    period, label, _note, last = _extract_period(ctx)
    types = ctx.read(incidents.flag_by_crime_type, "domestic_abuse", ctx.area_filters, period[0], period[1])
    data = types.assign(crime_type=types["crime_type"].fillna(NO_CODE))
    title = f"Domestic-abuse crimes by crime type, {label}"
    figure = charts.bar_chart(data, "count", "crime_type", title, "Crimes", "", SOURCE, last)
    notes = ctx.notes(title, SOURCE, units="crimes", period=period, as_at=last, sensitive=True)
    table = Table("domestic-abuse-by-crime-type", data, (Column("crime_type", "Crime type", None),
                                                         Column("count", "Domestic-abuse crimes", 0)), notes,
                  caption=f"By police.uk crime type, {label}.")
    return Section(f"By crime type, {label}", (Chart(figure, "da_types", notes), table))


VIEW = priority_view("domestic-abuse", ":material/home:", INTRO, (
    headline,
    *in_tab("Repeat victims", *only_when(_extract_loaded, repeat_victims)),
    *in_tab("Week by week", *only_when(_extract_loaded, weekly)),
    *in_tab("Outcomes", *only_when(_extract_loaded, outcomes)),
    *in_tab("Crime types", *only_when(_extract_loaded, crime_types)),
    *in_tab("Districts", proxy_districts_for(PROXY, "da_proxy_change")),
))
