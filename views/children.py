"""Priority 6 — children and vulnerable people: crimes with a child victim and hate crimes from the force's
incident extract (whether each changed, with interval and significance; monthly trend against the expected
band; share of all crime; crime types; outcomes); without an extract, which file to load and how, and the
public proxy (public order offences) labelled as a proxy. Plus the force measures mapped to this priority."""

from __future__ import annotations

import charts
from charts import formatting as fmt
from metrics import incidents, periods, plan, registry, series
from metrics.filters import Filters
from views.blocks import load_hint, measure_headline, outcome_breakdown, priority_view, proxy_districts_for, proxy_label
from views.model import Chart, Figures, Kpi, Section, Text, ViewContext, in_tab, only_when

INTRO = ("Crimes against children and hate crimes, flagged in the force's own records: whether they rose or fell, "
         "and what they are. Public data carry neither flag, so without the force extract only labelled proxies "
         "can be shown.")
CHILD, HATE = registry.measure("child_victim_crimes"), registry.measure("hate_crimes")
PROXY = registry.measure("public_order_proxy")
NO_CODE = "Offence code not in the Home Office table"


def _extract_range(ctx: ViewContext):
    return ctx.read(series.data_range, "incidents", Filters(force_id=ctx.force_id))


def _flag_sections(ctx: ViewContext, item, key: str) -> list[Section]:
    """A flagged measure: its change and trend, its share of all crime, its crime types and outcomes."""
    return [_flag_headline(ctx, item, key), _flag_detail(ctx, item, key)]


def _flag_headline(ctx: ViewContext, item, key: str) -> Section:
    """A flagged measure's change and trend."""
    return measure_headline(ctx, item, f"children_{key}_trend", title=f"{item.label}: trend")


def _flag_detail(ctx: ViewContext, item, key: str) -> Section:
    """A flagged measure's share of all crime, its crime types and outcomes."""
    first, last = _extract_range(ctx)
    period, note = periods.current_period(ctx.comparison, first, last)
    label = plan.period_label(period)
    totals = ctx.read(incidents.flag_totals, item.flag, ctx.area_filters, period[0], period[1]).iloc[0]
    share = Figures((Kpi(f"Share of all crime in the extract, {label}", fmt.percent(totals["share_pct"]),
                         help=f"{fmt.number(totals['count'])} of {fmt.number(totals['all_incidents'])} crimes."),))
    types = ctx.read(incidents.flag_by_crime_type, item.flag, ctx.area_filters, period[0], period[1])
    types = types.assign(crime_type=types["crime_type"].fillna(NO_CODE))
    title = f"{item.label} by crime type, {label}"
    source = item.source
    figure = charts.bar_chart(types, "count", "crime_type", title, "Crimes", "", source, last)
    notes = ctx.notes(title, source, units="crimes", period=period, as_at=last, sensitive=item.flag == "child_victim")
    outcome_frame = ctx.read(plan.incident_outcomes, item.flag, ctx.area_filters, period[0], period[1])
    _chart, outcome_table = outcome_breakdown(ctx, outcome_frame, item.label, ("incidents", "Crimes"),
                                              f"children_{key}_outcomes", source, period, last,
                                              sensitive=item.flag == "child_victim",
                                              caption=f"Outcomes of {item.label.lower()} recorded in {label}.")
    detail = (share,) + ((Text(note, "caption"),) if note else ()) + (Chart(figure, f"children_{key}_types", notes),
                                                                      outcome_table)
    return Section(f"{item.label}: crime types and outcomes, {label}", detail)


def _extract_loaded(ctx: ViewContext) -> bool:
    return _extract_range(ctx)[1] is not None


def child_victims(ctx: ViewContext) -> Section | list[Section]:
    """Crimes with a child victim: change and trend (the force extract), or what to load."""
    if _extract_loaded(ctx):
        return _flag_headline(ctx, CHILD, "child")
    return [Section("Crimes with a child victim and hate crimes",
                    (load_hint(ctx, CHILD), load_hint(ctx, HATE, (PROXY,)),
                     Text("No public proxy exists for crimes with a child victim: that measure needs the force "
                          "extract.", "caption")))]


def child_victims_detail(ctx: ViewContext) -> Section:
    """Crimes with a child victim: share of all crime, crime types and outcomes (the force extract)."""
    return _flag_detail(ctx, CHILD, "child")


def hate_crimes(ctx: ViewContext) -> list[Section] | Section | None:
    if _extract_loaded(ctx):
        return _flag_sections(ctx, HATE, "hate")
    if ctx.comparison is None or ctx.read(series.data_range, "crimes", ctx.force_filters)[1] is None:
        return Section("No data", (Text("Neither the force extract nor data.police.uk street-level crime is loaded "
                                        "for this force.", "info"),), in_pack=False)
    return measure_headline(ctx, PROXY, "children_proxy_trend", title=proxy_label(PROXY))


VIEW = priority_view("children", ":material/child_care:", INTRO, (
    child_victims,
    *in_tab("Types and outcomes", *only_when(_extract_loaded, child_victims_detail)),
    *in_tab("Hate crimes", hate_crimes),
    *in_tab("Districts", proxy_districts_for(PROXY, "children_proxy_change")),
))
