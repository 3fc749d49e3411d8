"""Priority 4 — serious violence, as police.uk can count it: violence and sexual offences (including common
assault), robbery and possession of weapons — whether it changed, the trend against the expected band, each
category's trend, and where and in which category the change is real (Benjamini–Hochberg)."""

from __future__ import annotations

from metrics import plan, registry, series
from metrics.compare import period_change
from metrics.filters import Filters
from views.blocks import (
    change_section,
    crimes_trend,
    district_change_section,
    force_measures_section,
    load_hint,
    measure_headline,
)
from views.model import Choice, Section, View, ViewContext

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
    if not _loaded(ctx):
        return None
    category = ctx.choose(Choice("sv_category", "Category", MEASURE.categories, MEASURE.categories[0],
                                help="Each category's own trend and expected band."))
    scope = Filters(ctx.force_id, ctx.filters.districts, (category,))
    chart = crimes_trend(ctx, scope, f"{category} per month — {ctx.area_label}", "Crimes per month", "sv_by_type")
    return Section("Trend by category", (chart,))


def category_change(ctx: ViewContext) -> Section | None:
    if not _loaded(ctx):
        return None
    pre, post = ctx.comparison.pre, ctx.comparison.post
    change = ctx.read(period_change, "crimes", ["crime_type"], pre, post, _scope(ctx))
    title = f"Serious violence: change by category, {plan.period_label(post)} against {plan.period_label(pre)}"
    return change_section(ctx, change, "crime_type", "Category", "crimes", title, MEASURE.source, "sv_change_category",
                          filters=_scope(ctx), section_title=f"Change by category, {plan.period_label(post)} against "
                                                             f"{plan.period_label(pre)}")


def district_change(ctx: ViewContext) -> Section | None:
    if not _loaded(ctx):
        return None
    return district_change_section(ctx, _scope(ctx), KPI_LABEL, "crimes",
                                   "sv_change_district", source=MEASURE.source)


def force_measures(ctx: ViewContext) -> Section:
    return force_measures_section(ctx, "serious-violence", "sv_fm")


VIEW = View(
    id="serious_violence", title="4 · Serious violence", heading="4 · Reversing the trend in serious violence",
    icon=":material/warning:", group="Plan priorities", priority_id="serious-violence",
    intro=("What police.uk can count of serious violence: **violence and sexual offences (including common assault), "
           "robbery and possession of weapons**. Whether it rose or fell, the trend against the expected seasonal "
           "pattern, and where and in which category the change is real."),
    sections=(headline, by_category, category_change, district_change, force_measures),
)
