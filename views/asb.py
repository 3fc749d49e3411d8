"""Priority 2 — anti-social behaviour: whether ASB changed (with its interval and significance), the monthly trend
against the expected band, the 2020 rise, rates and change by district, hotspot LSOAs and the force measures."""

from __future__ import annotations

from metrics import calendar, plan, registry, series
from metrics.compare import period_change
from views.blocks import (
    change_figures,
    district_change_section,
    district_rates_section,
    load_hint,
    measure_headline,
    priority_view,
    top_lsoas_section,
)
from views.model import Section, Text, ViewContext, in_tab, only_when
from views.text import md_literal

INTRO = ("Anti-social behaviour incidents reported to the police (data.police.uk): whether they rose or fell, the "
         "monthly trend against what the seasonal pattern of earlier months would lead us to expect, the 2020 rise, "
         "the change in each district and where incidents concentrate.")
MEASURE = registry.measure("asb_incidents")


def _asb(ctx: ViewContext):
    return registry.measure_filters(MEASURE, ctx.area_filters)


def _loaded(ctx: ViewContext) -> bool:
    return ctx.comparison is not None and ctx.read(series.data_range, "crimes", _asb(ctx))[1] is not None


def headline(ctx: ViewContext) -> Section:
    if not _loaded(ctx):
        return Section("Anti-social behaviour incidents", (load_hint(ctx, MEASURE),))
    return measure_headline(ctx, MEASURE, "asb_trend", title="Anti-social behaviour incidents: trend",
                            label="ASB incidents")


def _covid_year_loaded(ctx: ViewContext) -> bool:
    """ASB loaded for the year before COVID-19 and the first COVID year (the 2020 rise's two periods)."""
    if not _loaded(ctx):
        return False
    first, last = ctx.read(series.data_range, "crimes", _asb(ctx))
    pre, post = calendar.pre_covid_vs_covid_year()
    return first <= pre[0] and post[1] <= last


def _covid_year_missing(ctx: ViewContext) -> bool:
    return _loaded(ctx) and not _covid_year_loaded(ctx)


def covid_rise(ctx: ViewContext) -> Section | None:
    """ASB in the first COVID year against the year before (many breaches of the regulations were recorded
    as ASB)."""
    title = "The 2020 rise"
    pre, post = calendar.pre_covid_vs_covid_year()
    if not _covid_year_loaded(ctx):
        first, last = ctx.read(series.data_range, "crimes", _asb(ctx))
        return Section(title, (Text(f"The 2020 rise compares {plan.period_label(post)} with {plan.period_label(pre)}; "
                                    f"the ASB data loaded for {md_literal(ctx.area_label, None)} cover "
                                    f"{plan.period_label((first, last))}. Load the data.police.uk months from March "
                                    "2019 to February 2021 to see it.", "info"),), in_pack=False)
    change = ctx.read(period_change, "crimes", [], pre, post, _asb(ctx))
    figures = change_figures(change.iloc[0] if len(change) else None, "ASB incidents", "incidents", pre, post)
    return Section(title, (figures, Text("In 2020 many breaches of the COVID-19 regulations were recorded as anti-social "
                                         "behaviour, which explains much of the rise during the lockdowns (shaded on "
                                         "the trend).", "caption")))


def district_rates(ctx: ViewContext) -> Section | None:
    return district_rates_section(ctx, _asb(ctx), "ASB incidents", "incidents", "asb_district_rates",
                                  ctx.comparison.post)[0]


def district_change(ctx: ViewContext) -> Section | None:
    return district_change_section(ctx, _asb(ctx), "ASB incidents", "incidents", "asb_district_change",
                                   source=MEASURE.source)


def hotspots(ctx: ViewContext) -> Section | None:
    return top_lsoas_section(ctx, _asb(ctx), "ASB incidents", "incidents", "asb_hotspots", ctx.comparison.post)


VIEW = priority_view("asb", ":material/campaign:", INTRO, (
    headline,
    *only_when(_covid_year_missing, covid_rise),  # which months to load, under the headline
    *in_tab("COVID-19 rise", *only_when(_covid_year_loaded, covid_rise)),  # the 2020 rise itself, in its tab
    *in_tab("Districts", *only_when(_loaded, district_rates, district_change)),
    *in_tab("Hotspots", *only_when(_loaded, hotspots)),
))
