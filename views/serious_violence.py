"""Priority 4 — serious violence, as police.uk can count it: violence and sexual offences (including common
assault), robbery and possession of weapons — whether it changed, the trend against the expected band, each
category's trend, and where and in which category the change is real (Benjamini–Hochberg)."""

from __future__ import annotations

from metrics import registry, series
from metrics.filters import Filters
from views.blocks import (
    category_change_section,
    crimes_trend,
    district_change_section,
    load_hint,
    measure_headline,
    priority_view,
    top_lsoas_section,
)
from views.model import Choice, Section, ViewContext, in_tab, only_when

INTRO = ("What police.uk can count of serious violence: **violence and sexual offences (including common assault), "
         "robbery and possession of weapons**. Whether it rose or fell, the trend against the expected seasonal "
         "pattern, and where and in which category the change is real.")
MEASURE = registry.measure("serious_violence")
WHAT = registry.SERIOUS_VIOLENCE_LABEL
KPI_LABEL = "Violence and sexual offences, robbery and weapons"


def _scope(ctx: ViewContext) -> Filters:
    return registry.measure_filters(MEASURE, ctx.area_filters)


def _loaded(ctx: ViewContext) -> bool:
    return ctx.comparison is not None and ctx.read(series.data_range, "crimes", _scope(ctx))[1] is not None


def headline(ctx: ViewContext) -> Section:
    if not _loaded(ctx):
        return Section(WHAT, (load_hint(ctx, MEASURE),))
    return measure_headline(ctx, MEASURE, "sv_trend", title=f"{WHAT}: trend", label=KPI_LABEL)


def by_category(ctx: ViewContext) -> Section | None:
    """One category's trend and expected band (their sizes differ too much for one axis)."""
    category = ctx.choose(Choice("sv_category", "Category", MEASURE.categories, MEASURE.categories[0],
                                help="Each category's own trend and expected band."))
    scope = Filters(ctx.force_id, ctx.filters.districts, (category,))
    chart = crimes_trend(ctx, scope, f"{category} per month — {ctx.area_label}", "Crimes per month", "sv_by_type")
    return Section("Trend by category", (chart,))


def category_change(ctx: ViewContext) -> Section | None:
    return category_change_section(ctx, _scope(ctx), "Serious violence", "sv_change_category", MEASURE.source)


def district_change(ctx: ViewContext) -> Section | None:
    return district_change_section(ctx, _scope(ctx), KPI_LABEL, "crimes",
                                   "sv_change_district", source=MEASURE.source)


def hotspots(ctx: ViewContext) -> Section:
    return top_lsoas_section(ctx, _scope(ctx), KPI_LABEL, "crimes", "sv_top_lsoas", ctx.comparison.post)


VIEW = priority_view("serious-violence", ":material/warning:", INTRO, (
    headline,
    *in_tab("By category", *only_when(_loaded, by_category)),
    *in_tab("Change by category", *only_when(_loaded, category_change)),
    *in_tab("Districts", *only_when(_loaded, district_change)),
    *in_tab("Hotspots", *only_when(_loaded, hotspots)),
))
