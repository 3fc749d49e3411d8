"""Priority 5 — gangs and organised crime: drug offences and possession of weapons (whether each changed, trends
against the expected band, change by category and district) and stop and search (volume, object of search,
outcome, arrest and find rates), with the force measures mapped to gangs."""

from __future__ import annotations

import charts
from charts import formatting as fmt
from metrics import calendar, periods, plan, registry, series, stop_search
from metrics.filters import Filters
from views.blocks import (
    category_change_section,
    district_change_section,
    load_hint,
    measure_headline,
    outcome_breakdown,
    priority_view,
    top_lsoas_section,
)
from views.model import Chart, Column, Figures, Kpi, Section, Table, Text, ViewContext, in_tab, only_when

INTRO = ("Drug offences and possession of weapons — mostly found by proactive policing, so a rise can mean more "
         "enforcement — and the stop and search that finds many of them.")
DRUGS, WEAPONS = registry.measure("drug_offences"), registry.measure("weapon_possession")
SEARCHES = registry.measure("stop_searches")


def _crimes(ctx: ViewContext) -> Filters:
    return Filters(ctx.force_id, ctx.filters.districts, DRUGS.categories + WEAPONS.categories)


def _loaded(ctx: ViewContext) -> bool:
    return ctx.comparison is not None and ctx.read(series.data_range, "crimes", _crimes(ctx))[1] is not None


def drugs(ctx: ViewContext) -> Section:
    if not _loaded(ctx):
        return Section("Drug offences and possession of weapons", (load_hint(ctx, DRUGS),))
    return measure_headline(ctx, DRUGS, "gangs_drugs", title="Drug offences: trend", label="Drug offences")


def weapons(ctx: ViewContext) -> Section:
    return measure_headline(ctx, WEAPONS, "gangs_weapons", title="Possession of weapons: trend",
                            label="Possession of weapons")


def category_change(ctx: ViewContext) -> Section | None:
    return category_change_section(ctx, _crimes(ctx), "Drugs and weapons", "gangs_change_category", DRUGS.source)


def district_change(ctx: ViewContext) -> Section | None:
    return district_change_section(ctx, _crimes(ctx), "Drug and weapon offences", "crimes", "gangs_change_district",
                                   source=DRUGS.source)


def _searches_loaded(ctx: ViewContext) -> bool:
    return ctx.read(series.data_range, "stop_search", ctx.force_filters)[1] is not None


def _search_period(ctx: ViewContext) -> tuple[tuple, str, str | None, object]:
    """The period the stop-and-search sections summarise, its label, a note when it is not the comparison's
    current period, and the last month loaded."""
    first, last = ctx.read(series.data_range, "stop_search", ctx.force_filters)
    period, note = periods.current_period(ctx.comparison, first, last)
    return period, plan.period_label(period), note, last


def searches(ctx: ViewContext) -> Section:
    """Stop and search: volume, arrests, arrest and find rates, and the monthly trend."""
    if not _searches_loaded(ctx):
        return Section("Stop and search", (load_hint(ctx, SEARCHES),))
    period, label, note, last = _search_period(ctx)
    summary = ctx.read(stop_search.stop_search_summary, period[0], period[1], ctx.force_filters)
    figures = Figures((
        Kpi(f"Searches, {label}", fmt.number(summary["searches"])),
        Kpi("Arrests", fmt.number(summary["arrests"])),
        Kpi("Arrest rate", fmt.share(summary["arrest_rate"]), help="Searches ending in an arrest / all searches."),
        Kpi("Find rate", fmt.share(summary["find_rate"]),
            help="Searches whose outcome was linked to the object of the search / searches where the link is recorded."),
    ))
    monthly = ctx.read(series.monthly_series, "stop_search", None, ctx.force_filters)
    title = f"Stops and searches per month — {ctx.force_name}"
    figure = charts.trend_chart(monthly, title, "Searches per month", SEARCHES.source, last,
                                lockdowns=calendar.lockdowns())
    blocks = [figures] + ([] if note is None else [Text(note, "caption")])
    blocks.append(Chart(figure, "gangs_ss_trend", ctx.notes(title, SEARCHES.source, units="searches per month",
                                                           caveats=SEARCHES.caveats, as_at=last)))
    return Section("Stop and search", tuple(blocks))


def search_objects(ctx: ViewContext) -> Section:
    period, label, _note, last = _search_period(ctx)
    objects = ctx.read(stop_search.by_object, period[0], period[1], ctx.force_filters)
    title = f"Searches by object of search, {label}"
    figure = charts.bar_chart(objects, "searches", "object_of_search", title, "Searches", "", SEARCHES.source, last)
    data = objects.assign(arrest_pct=objects["arrest_rate"] * 100, find_pct=objects["find_rate"] * 100)
    columns = (Column("object_of_search", "Object of search", None), Column("searches", "Searches", 0),
               Column("arrests", "Arrests", 0), Column("arrest_pct", "Arrest rate", 1, True),
               Column("find_pct", "Find rate", 1, True), Column("finds_known", "Searches with the find recorded", 0))
    notes = ctx.notes(title, SEARCHES.source, units="searches; rates (%)", period=period, as_at=last)
    table = Table("stop-search-by-object", data, columns, notes,
                  caption="Find rate: outcome linked to the object of search, among searches where that link is recorded.")
    return Section(f"Object of search, {label}", (Chart(figure, "gangs_ss_object", notes), table))


def search_outcomes(ctx: ViewContext) -> Section:
    period, label, _note, last = _search_period(ctx)
    frame = ctx.read(stop_search.by_outcome, period[0], period[1], ctx.force_filters)
    chart, table = outcome_breakdown(ctx, frame, "Searches", ("searches", "Searches"), "gangs_ss_outcome",
                                     SEARCHES.source, period, last, caption=SEARCHES.caveats)
    return Section(f"Outcome of searches, {label}", (chart, table))


def hotspots(ctx: ViewContext) -> Section:
    return top_lsoas_section(ctx, _crimes(ctx), "Drug and weapon offences", "crimes", "gangs_top_lsoas",
                             ctx.comparison.post)


VIEW = priority_view("gangs", ":material/groups:", INTRO, (
    drugs,
    *in_tab("Weapons", *only_when(_loaded, weapons)),
    *in_tab("By category", *only_when(_loaded, category_change)),
    *in_tab("Districts", *only_when(_loaded, district_change)),
    *in_tab("Hotspots", *only_when(_loaded, hotspots)),
    *in_tab("Stop and search", searches, *only_when(_searches_loaded, search_objects, search_outcomes)),
))
