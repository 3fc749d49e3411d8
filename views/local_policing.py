"""Priority 1 — more local, visible and accessible policing: all crime (or the chosen crime types) and ASB by
district, rates per 1,000 residents with a funnel plot, the force's rank among the loaded forces, hotspots
(map and top LSOAs), outcomes, and the force measures (999/101 answer times, officer numbers)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

import charts
from charts import formatting as fmt
from metrics import outcomes, plan, rates, registry, series
from metrics.compare import period_change
from metrics.filters import Filters
from views.blocks import (
    change_figures,
    crimes_trend,
    district_rates_section,
    funnel_section,
    load_hint,
    lsoa_map_section,
    priority_view,
    top_lsoas_section,
)
from views.model import Chart, Choice, Column, Section, Table, Text, ViewContext, in_tab, only_when
from views.text import md_literal

INTRO = ("All recorded crime (or the crime types chosen in the sidebar) and anti-social behaviour across the "
         "districts, rates per 1,000 residents (2011 Census), where crime concentrates, and how often crimes end in "
         "a charge or summons.")
MEASURE_CHOICE = Choice("measure", "Measure", ("crime", "asb"), "crime",
                        labels={"crime": "Crime", "asb": "Anti-social behaviour"},
                        help="Crime: the crime types chosen in the sidebar (all crime without ASB when none).")


@dataclass(frozen=True)
class Shown:
    """What the view counts: its name (titles say it), unit, and filters."""

    what: str
    unit: str
    filters: Filters


def crime_types_label(categories: tuple[str, ...]) -> str:
    """What a set of crime types is called in titles: 'All crime (excluding ASB)', 'Burglary',
    'Burglary and Robbery', '4 crime types (Burglary, Drugs, Robbery and 1 more)'."""
    if not categories or set(categories) == set(registry.POLICE_UK_CRIME_TYPES):
        return "All crime (excluding ASB)"
    if len(categories) <= 3:
        return fmt.join_labels(list(categories))
    return f"{len(categories)} crime types ({fmt.join_labels(list(categories), 2)})"


def shown(ctx: ViewContext) -> Shown:
    """The measure the view shows: the chosen crime types (all crime without ASB when none), or ASB."""
    if ctx.choose(MEASURE_CHOICE) == "asb":
        return Shown("Anti-social behaviour", "ASB incidents", Filters(ctx.force_id, ctx.filters.districts, (registry.ASB,)))
    chosen = tuple(c for c in ctx.filters.categories if c != registry.ASB)
    categories = chosen or registry.POLICE_UK_CRIME_TYPES
    return Shown(crime_types_label(chosen), "crimes", Filters(ctx.force_id, ctx.filters.districts, categories))


def headline(ctx: ViewContext) -> Section:
    if ctx.comparison is None or ctx.last_month is None:
        return Section("Not loaded", (Text("No street-level crime is loaded for this force.", "info"),
                                      load_hint(ctx, registry.measure("all_crime"))))
    measure = shown(ctx)
    pre, post = ctx.comparison.pre, ctx.comparison.post
    change = ctx.read(period_change, "crimes", [], pre, post, measure.filters)
    figures = change_figures(change.iloc[0] if len(change) else None, measure.what, measure.unit, pre, post)
    chart = crimes_trend(ctx, measure.filters, f"{measure.what} per month — {ctx.area_label}",
                         f"{measure.unit.capitalize()} per month", "lp_trend")
    return Section(f"{measure.what}: trend", (figures, chart))


def districts(ctx: ViewContext) -> Section | None:
    """Rates per 1,000 residents by district (chart and table)."""
    if ctx.comparison is None:
        return None
    measure = shown(ctx)
    return district_rates_section(ctx, measure.filters, measure.what, measure.unit, "lp_districts",
                                  ctx.comparison.post)[0]


def _rates_frame(ctx: ViewContext) -> pd.DataFrame | None:
    """The district rates district_rates_section reads (the same cached read), or None when they cannot be computed
    (no ONS lookup and census: the Districts tab says what to load)."""
    if ctx.comparison is None:
        return None
    try:
        frame = ctx.read(rates.district_rates, "crimes", *ctx.comparison.post, shown(ctx).filters)
    except ValueError:
        return None
    return None if frame.empty else frame


def _rates_available(ctx: ViewContext) -> bool:
    """The funnel plot's tab is offered only when district rates can be computed."""
    return _rates_frame(ctx) is not None


def funnel(ctx: ViewContext) -> Section | None:
    """The funnel plot of the district rates."""
    frame = _rates_frame(ctx)
    if frame is None:
        return None
    measure = shown(ctx)
    return funnel_section(ctx, frame, measure.what, measure.unit, "lp_funnel", measure.filters)


def force_rank(ctx: ViewContext) -> Section | None:
    """The force's rate among every loaded force."""
    if ctx.comparison is None:
        return None
    title = "Rank among the forces loaded"
    ranking = ctx.read(plan.force_ranking, shown(ctx).filters.categories, ctx.comparison.post)
    if ranking is None:
        return Section(title, (Text("Only one force is loaded, so there is nothing to rank against. Load data.police.uk "
                                    "street files for the most similar forces (e.g. `python -m etl load "
                                    "kent-street.zip hertfordshire-street.zip`) or the Home Office police recorded "
                                    "crime table by force area, with the ONS lookup and census residents.", "info"),),
                       in_pack=False)
    frame, meta = ranking
    blocks: list = []
    own = frame[frame["force_id"] == ctx.force_id]
    if len(own) and pd.notna(own["rank"].iloc[0]):
        blocks.append(Text(f"**{md_literal(ctx.force_name, None)}** ranks **{int(own['rank'].iloc[0])} of "
                           f"{int(frame['rank'].notna().sum())}** forces by {meta['what']} per 1,000 residents "
                           f"({meta['period']}; 1 = highest rate)."))
    chart_title = f"{meta['what'].capitalize()} per 1,000 residents by force, {meta['period']}"
    figure = charts.bar_chart(frame.dropna(subset=["rate_per_1000"]), "rate_per_1000", "force_name", chart_title,
                              f"{meta['what'].capitalize()} per 1,000 residents", "", meta["source"], meta["as_at"],
                              highlight=ctx.force_name, value_format=",.1f")
    notes = ctx.notes(chart_title, meta["source"], units="rate per 1,000 residents", period=meta["period"],
                      as_at=meta["as_at"], crime_types=True)
    columns = (Column("rank", "Rank", 0), Column("force_name", "Force", None), Column("count", meta["what"].capitalize(), 0),
               Column("residents", "Residents (2011 Census)", 0), Column("rate_per_1000", "Per 1,000 residents", 1))
    blocks += [Chart(figure, "lp_force_rank", notes), Table("force-ranking", frame, columns, notes)]
    return Section(title, tuple(blocks))


def hotspot_map(ctx: ViewContext) -> Section | None:
    """Where the measure concentrates: a map of the published LSOA counts (or of point density without
    boundaries, for selections without a sensitive category)."""
    if ctx.comparison is None:
        return None
    measure = shown(ctx)
    return lsoa_map_section(ctx, measure.filters, measure.what, measure.unit, "lp_map", ctx.comparison.post)


def top_lsoas(ctx: ViewContext) -> Section | None:
    if ctx.comparison is None:
        return None
    measure = shown(ctx)
    return top_lsoas_section(ctx, measure.filters, measure.what, measure.unit, "lp_top_lsoas", ctx.comparison.post,
                             crime_types=True)


def outcomes_section(ctx: ViewContext) -> Section | None:
    """Share of crimes by their latest outcome, and the charge or summons rate by district."""
    if ctx.comparison is None:
        return None
    post = ctx.comparison.post
    measure = shown(ctx)
    categories = tuple(c for c in measure.filters.categories if c != registry.ASB) or registry.POLICE_UK_CRIME_TYPES
    scope = Filters(ctx.force_id, ctx.filters.districts, categories)
    title = f"Outcomes of crimes recorded in {plan.period_label(post)}"
    shares = ctx.read(outcomes.outcome_shares, post[0], post[1], scope)
    blocks: list = [Text("ASB incidents have no outcomes: showing crimes (excluding ASB) in the area.", "caption")] \
        if measure.unit == "ASB incidents" else []
    if shares.empty:
        return Section(title, (*blocks, Text("No crimes with outcomes in this period.", "info")))
    source = registry.STREET_SOURCE + " (latest outcome)"
    what = crime_types_label(tuple(c for c in categories if c in ctx.filters.categories))
    chart_title = f"{what}: share by latest outcome, {plan.period_label(post)}"
    figure = charts.bar_chart(shares.assign(share_pct=shares["share"] * 100), "share_pct", "outcome_group", chart_title,
                              "Share of crimes (%)", "", source, ctx.last_month, value_format=".1f",
                              note="Latest outcome of each crime; recent crimes are often still under investigation.")
    by_district = ctx.read(outcomes.positive_outcome_rate, post[0], post[1], scope, ("district",))
    own = ctx.read(series.districts, "crimes", ctx.force_id)
    by_district = by_district[by_district["district"].isin(own)]
    data = by_district.assign(positive_outcome_pct=by_district["positive_outcome_rate"] * 100)
    columns = (Column("district", "District", None), Column("crimes", "Crimes", 0),
               Column("charged_summonsed", "Charged or summonsed", 0),
               Column("positive_outcome_pct", "Share charged or summonsed", 1, True))
    notes = ctx.notes(chart_title, source, units="crimes; share (%)", period=post, crime_types=True)
    table = Table("positive-outcomes-by-district", data, columns, notes, filters=scope,
                  caption="Share of crimes whose latest outcome is a charge or summons (including court results).")
    return Section(title, (*blocks, Chart(figure, "lp_outcomes", notes, filters=scope), table))


VIEW = priority_view("local-policing", ":material/local_police:", INTRO, (
    headline,
    *in_tab("Districts", districts),
    *in_tab("Funnel plot", *only_when(_rates_available, funnel)),
    *in_tab("Force rank", force_rank),
    *in_tab("Hotspots", hotspot_map, top_lsoas),
    *in_tab("Outcomes", outcomes_section),
), uses_crime_types=True)
