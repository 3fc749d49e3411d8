"""Sections and blocks several views share: a measure's headline (its change, with interval and significance,
and its monthly trend against the expected band), change-by-group tables and forest plots, district rates,
hotspots, "not loaded" hints and the force measures of a priority. Small functions over `ViewContext`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import plotly.graph_objects as go

import charts
from charts import formatting as fmt
from charts.memo import remembered
from metrics import calendar, force_measures, hotspots, plan, rates, registry, series
from metrics.compare import apart_note, change_by_district, period_change
from metrics.expected import expected_vs_observed
from briefing.disclosure import (
    DisclosureRule,
    protect_figure,
    published_lsoa_counts,
    release_period,
    selection_is_sensitive,
)
from metrics.filters import Filters, add_months, month_start
from metrics.registry import Measure
from views.model import (
    Chart,
    Column,
    Figures,
    Kpi,
    LoadHint,
    Section,
    SectionFunction,
    Table,
    Text,
    View,
    ViewContext,
    in_tab,
)

CENSUS_SOURCE = "2011 Census"


def priority_view(priority_id: str, icon: str, intro: str, sections: tuple[SectionFunction, ...],
                  **options: object) -> View:
    """A plan priority's view: id, titles and navigation group from `metrics.registry` (id = the priority id
    with underscores, its page `pages/<id>.py`); the priority's force measures close it."""
    prio = registry.priority(priority_id)
    number = f"{prio.number} · " if prio.number else ""
    return View(id=priority_id.replace("-", "_"), title=number + (prio.short_title or prio.title),
                heading=number + prio.title, icon=icon, group="Plan priorities" if prio.number else "More views",
                intro=intro,
                sections=(*sections, *(in_tab("Force measures", force_measures_for(priority_id)) if prio.number else ())),
                priority_id=priority_id, **options)


# ---------------------------------------------------------------------------------------------
# key figures
# ---------------------------------------------------------------------------------------------
def change_figures(row: pd.Series | None, label: str, unit: str, pre: tuple[date, date],
                   post: tuple[date, date]) -> Figures:
    """The headline trio of a change: the count in the current period with the change in its monthly rate
    against the baseline, the exact Poisson 95% interval of that change, and its significance."""
    if row is None:
        return Figures((Kpi(f"{label}, {plan.period_label(post)}", fmt.DASH),))
    change, interval = fmt.pct_change(row["rate_ratio"], row["ci_lower"], row["ci_upper"])
    delta = None if change == fmt.DASH else f"{change} monthly rate vs {plan.period_label(pre)}"
    return Figures((
        Kpi(f"{label}, {plan.period_label(post)}", fmt.number(row["post_count"]), delta=delta, delta_color="inverse",
            help=f"{fmt.number(row['pre_count'])} {unit} in {plan.period_label(pre)}. {_rates_text(row, unit)}"),
        Kpi("95% interval of the change", interval, help="Exact Poisson interval of the ratio of the rates per day."),
        Kpi("Significance", fmt.significance(row["q_value"], row["rate_ratio"]),
            help="A change is significant when its q-value is below 0.05 (one comparison here: q = p)."),
    ))


def _rates_text(row: pd.Series, unit: str) -> str:
    """How the change is computed, with the two rates per average month (30.44 days) when the row has them."""
    text = "The change compares the rates per day of the two periods (their lengths may differ)"
    days = (row.get("post_days"), row.get("pre_days"))
    if all(not fmt.is_missing(d) for d in days):
        text += f": {int(days[0])} days against {int(days[1])}"
    per_month = (row.get("post_per_month"), row.get("pre_per_month"))
    if all(not fmt.is_missing(v) for v in per_month):
        text += (f"; per average month of 30.44 days, {per_month[0]:,.1f} {unit} against {per_month[1]:,.1f}")
    return text + "."


def unit_noun(item: Measure) -> str:
    """'crimes', 'incidents', 'casualties' … from 'crimes per month'."""
    return item.unit.replace(" per month", "")


def measure_change_figures(ctx: ViewContext, item: Measure, filters: Filters | None = None,
                           label: str | None = None) -> tuple[Figures | None, str | None]:
    """The headline trio of a measure over the view's comparison (the measure's own latest 12 months against
    the 12 before when its source does not cover the shared periods), and the note saying so."""
    from metrics import periods

    first, last = ctx.read(series.data_range, item.family, Filters(force_id=ctx.force_id))
    comparison = periods.comparison_for(ctx.comparison, first, last)
    if comparison is None:
        return None, None
    change = ctx.read(plan.measure_change, item.id, filters or ctx.area_filters, comparison)
    row = change.iloc[0] if len(change) else None
    note = comparison.notice if comparison is not ctx.comparison else None
    return change_figures(row, label or item.label, unit_noun(item), comparison.pre, comparison.post), note


# ---------------------------------------------------------------------------------------------
# trends with the expected band
# ---------------------------------------------------------------------------------------------
def expected_caption(expected: pd.DataFrame | None) -> str:
    """What the expected band rests on (the expected frame's basis / note), or why there is none."""
    if expected is None:
        return "No expected band: the months before the current period are not loaded."
    attrs = expected.attrs
    text = attrs.get("basis") or attrs.get("note") or ""
    return f"Expected: {text}" if text else ""


def projected_rows(expected: pd.DataFrame | None) -> pd.DataFrame | None:
    """The projection months of an expected frame (None when there are none)."""
    if expected is None or expected.empty or "in_fit" not in expected.columns:
        return None
    rows = expected[~expected["in_fit"].astype(bool) & expected["expected"].notna()]
    return rows if len(rows) else None


def fit_until(ctx: ViewContext) -> date | None:
    """The last month the expected band is fitted on: the month before the current period."""
    return add_months(ctx.comparison.post[0], -1) if ctx.comparison is not None else None


def measure_trend(ctx: ViewContext, item: Measure, key: str, *, filters: Filters | None = None,
                  title: str | None = None) -> Chart:
    """A measure's monthly trend with the expected band over the current period and the lockdowns."""
    scope = filters or ctx.area_filters
    monthly = ctx.read(plan.measure_series, item, scope)
    expected = None
    if ctx.comparison is not None and len(monthly):
        try:
            expected = ctx.read(plan.expected_series, f"measure:{item.id}", scope, fit_until(ctx))
        except ValueError:
            expected = None
    as_at = monthly["month"].max() if len(monthly) else ctx.last_month
    title = title or f"{item.label} per month — {ctx.area_label}"
    return _trend_chart(ctx, monthly, expected, title, item.unit[0].upper() + item.unit[1:], item.source, as_at, key,
                        item.caveats, measure_filters_for_notes(item, scope))


def crimes_trend(ctx: ViewContext, filters: Filters, title: str, y_label: str, key: str) -> Chart:
    """Street-level crimes under `filters` per month with the expected band and lockdowns."""
    monthly = ctx.read(series.monthly_series, "crimes", None, filters)
    expected = None
    if ctx.comparison is not None and len(monthly):
        try:
            expected = ctx.read(expected_vs_observed, "crimes", filters, fit_until(ctx))
        except ValueError:
            expected = None
    as_at = monthly["month"].max() if len(monthly) else ctx.last_month
    return _trend_chart(ctx, monthly, expected, title, y_label, registry.STREET_SOURCE, as_at, key,
                        registry.MEASURE_BY_ID["all_crime"].caveats, filters)


def _trend_chart(ctx: ViewContext, monthly: pd.DataFrame, expected: pd.DataFrame | None, title: str, y_label: str,
                 source: str, as_at: date | None, key: str, caveats: str, filters: Filters) -> Chart:
    projected = projected_rows(expected)
    caption = expected_caption(expected) if ctx.comparison is not None else ""
    figure = charts.trend_chart(monthly, title, y_label, source, as_at, expected=projected,
                                lockdowns=calendar.lockdowns(), note=caption or None)
    return Chart(figure, key, ctx.notes(title, source, units=y_label, caveats=caveats, as_at=as_at), filters=filters)


def measure_filters_for_notes(item: Measure, scope: Filters) -> Filters:
    """The filters a measure's rows were read under (for disclosure control of its exports)."""
    return registry.measure_filters(item, scope)


def measure_headline(ctx: ViewContext, item: Measure, key: str, *, title: str | None = None,
                     filters: Filters | None = None, label: str | None = None) -> Section:
    """A measure's headline: whether it changed (count, change with interval, significance), its caveats
    (a warning for a proxy), and its monthly trend against the expected band."""
    figures, note = measure_change_figures(ctx, item, filters, label)
    blocks: list = [Text(item.caveats, "warning")] if item.is_proxy else []
    blocks += [b for b in (figures, Text(note, "caption") if note else None) if b is not None]
    if not item.is_proxy:
        blocks.append(Text(item.caveats, "caption"))
    blocks.append(measure_trend(ctx, item, key, filters=filters))
    return Section(title or item.label, tuple(blocks))


# ---------------------------------------------------------------------------------------------
# change by group (forest plot and table)
# ---------------------------------------------------------------------------------------------
CHANGE_FORMATS = {
    "pct_change": lambda v: fmt.percent(v, 1, sign=True),
    "q_value": fmt.q_value,
}


def change_table(ctx: ViewContext, change: pd.DataFrame, label: str, label_title: str, unit: str, key: str,
                 title: str, source: str, *, caption: str = "", filters: Filters | None = None) -> Table:
    """metrics.compare.period_change output as a table: counts, change in the monthly rate with its 95%
    interval, q-value and significance (Benjamini–Hochberg across the rows)."""
    data = change.assign(
        interval=[fmt.pct_change(r, lo, hi)[1] for r, lo, hi in zip(change["rate_ratio"], change["ci_lower"],
                                                                    change["ci_upper"])],
        ci_lower_pct=(change["ci_lower"] - 1) * 100, ci_upper_pct=(change["ci_upper"] - 1) * 100,
        significance=[fmt.significance(q, r) for q, r in zip(change["q_value"], change["rate_ratio"])],
    )
    columns = (
        Column(label, label_title, None), Column("pre_count", f"Baseline ({unit})", 0),
        Column("post_count", f"Current ({unit})", 0), Column("pct_change", "Change in monthly rate", 1, True),
        Column("interval", "95% interval", None), Column("q_value", "q-value (BH)", 3),
        Column("significance", "Significance", None),
    )
    exported = (*columns[:4], Column("ci_lower_pct", "95% interval, lower (%)", 1, True),
                Column("ci_upper_pct", "95% interval, upper (%)", 1, True), *columns[5:])
    pre, post = change.attrs.get("pre"), change.attrs.get("post")
    period = f"{plan.period_label(post)} against {plan.period_label(pre)}" if pre and post else ""
    return Table(key, data, columns, ctx.notes(title, source, units=f"{unit}; change in the rate per month (%)",
                                               period=period), caption=caption or change.attrs.get("note", ""),
                 formats=CHANGE_FORMATS, export_columns=exported, filters=filters)


def change_section(ctx: ViewContext, change: pd.DataFrame, label: str, label_title: str, unit: str, title: str,
                   source: str, key: str, *, caption: str = "", filters: Filters | None = None,
                   section_title: str | None = None) -> Section:
    """A forest plot of the change per group (filled = significant after BH) and its table. `title` names the
    chart (and its exports) in full; `section_title` heads the section (default: `title`)."""
    as_at = ctx.last_month
    heading = section_title or title
    if change.empty:
        figure = charts.empty_figure(title, "No data for this selection.", source, as_at)
        return Section(heading, (Chart(figure, key, ctx.notes(title, source)),))
    figure = charts.change_chart(change, label, title, source, as_at)
    chart = Chart(figure, key, ctx.notes(title, source, units="change in the rate per month (%)"), filters=filters)
    table = change_table(ctx, change, label, label_title, unit, f"{key}-table", title, source, caption=caption,
                         filters=filters)
    return Section(heading, (chart, table))


def district_change_section(ctx: ViewContext, family_filters: Filters, what: str, unit: str, key: str,
                            source: str = registry.STREET_SOURCE, title: str | None = None) -> Section | None:
    """Change by district over the force's own districts (BH across them), current against baseline."""
    if ctx.comparison is None:
        return None
    pre, post = ctx.comparison.pre, ctx.comparison.post
    change = ctx.read(change_by_district, "crimes", pre, post, family_filters)
    title = title or f"{what}: change by district, {plan.period_label(post)} against {plan.period_label(pre)}"
    return change_section(ctx, change, "district", "District", unit, title, source, key,
                          caption=district_change_caption(change, unit), filters=family_filters,
                          section_title=f"Change by district, {plan.period_label(post)} against {plan.period_label(pre)}")


def district_change_caption(change: pd.DataFrame, unit: str) -> str:
    """How a change-by-district table was computed, in words, and which rows it leaves out (not tested)."""
    attrs = change.attrs
    if "family_size" not in attrs:
        return attrs.get("note", "")
    days = ""
    if len(change) and "pre_days" in change and "post_days" in change:
        days = f" ({int(change['post_days'].iloc[0])} days against {int(change['pre_days'].iloc[0])})"
    text = (f"Change in the rate per day{days}, exact Poisson 95% intervals; significance after Benjamini–Hochberg "
            f"control across {attrs['family_label']}.")
    if attrs.get("apart_rows"):
        text += " " + apart_note(attrs, unit)
    return text


def category_change_section(ctx: ViewContext, family_filters: Filters, what: str, key: str,
                            source: str = registry.STREET_SOURCE) -> Section | None:
    """Change by crime type (Benjamini–Hochberg across the categories), current against baseline."""
    if ctx.comparison is None:
        return None
    pre, post = ctx.comparison.pre, ctx.comparison.post
    change = ctx.read(period_change, "crimes", ["crime_type"], pre, post, family_filters)
    periods_text = f"{plan.period_label(post)} against {plan.period_label(pre)}"
    return change_section(ctx, change, "crime_type", "Category", "crimes", f"{what}: change by category, {periods_text}",
                          source, key, filters=family_filters, section_title=f"Change by category, {periods_text}")


def proxy_applies(ctx: ViewContext) -> bool:
    """Whether a view shows its public proxy's change by district: street-level crime is loaded for the force
    and its own extract is not."""
    return (ctx.comparison is not None and ctx.read(series.data_range, "incidents", ctx.force_filters)[1] is None
            and ctx.read(series.data_range, "crimes", ctx.force_filters)[1] is not None)


def proxy_districts_section(ctx: ViewContext, proxy: Measure, key: str) -> Section | None:
    """When the force extract is not loaded: the public proxy's change by district."""
    if not proxy_applies(ctx):
        return None
    return district_change_section(ctx, registry.measure_filters(proxy, ctx.area_filters), proxy_label(proxy),
                                   "crimes", key, source=proxy.source)


def proxy_districts_for(proxy: Measure, key: str):
    """The section function: the public proxy's change by district, when the force extract is not loaded."""
    def proxy_districts(ctx: ViewContext) -> Section | None:
        return proxy_districts_section(ctx, proxy, key)

    proxy_districts.condition = proxy_applies
    return proxy_districts


def outcome_breakdown(ctx: ViewContext, frame: pd.DataFrame, what: str, count: tuple[str, str], key: str,
                      source: str, period: tuple[date, date], as_at: date | None, *, caption: str = "",
                      sensitive: bool | None = None) -> tuple[Chart, Table]:
    """A breakdown by outcome (frame: outcome, the count column, share 0..1): the shares as bars and the table.
    `count` is (column, label in words), e.g. ('searches', 'Searches')."""
    column, label = count
    data = frame.assign(share_pct=frame["share"] * 100)
    title = f"{what} by outcome, {plan.period_label(period)}"
    figure = charts.bar_chart(data, "share_pct", "outcome", title, f"Share of {label.lower()} (%)", "", source, as_at,
                              value_format=".1f")
    notes = ctx.notes(title, source, units=f"{label.lower()}; share (%)", period=period, as_at=as_at,
                      sensitive=sensitive)
    columns = (Column("outcome", "Outcome", None), Column(column, label, 0),
               Column("share_pct", f"Share of {label.lower()}", 1, True))
    return Chart(figure, key, notes), Table(f"{key.replace('_', '-')}-table", data, columns, notes, caption=caption)


# ---------------------------------------------------------------------------------------------
# districts and hotspots
# ---------------------------------------------------------------------------------------------
def district_rates_section(ctx: ViewContext, filters: Filters, what: str, unit: str, key: str,
                           period: tuple[date, date]) -> tuple[Section, pd.DataFrame | None]:
    """Rates per 1,000 residents by district (bar chart and table with the funnel-limit flags), and the
    rates frame (None when the ONS lookup and census are not loaded)."""
    title = f"{what} per 1,000 residents by district, {plan.period_label(period)}"
    heading = f"Rates by district, {plan.period_label(period)}"
    try:
        frame = ctx.read(rates.district_rates, "crimes", period[0], period[1], filters)
    except ValueError as problem:
        lookup = registry.data_file("ons_lookup")
        return Section(heading, (LoadHint("Rates per 1,000 residents", lookup.needs_file, lookup.load_command(ctx.db)),
                               Text(f"({problem})", "caption"))), None
    months = frame.attrs.get("months", 12)
    source = f"{registry.STREET_SOURCE}; {CENSUS_SOURCE}"
    y_label = f"{unit[0].upper()}{unit[1:]} per 1,000 residents ({months} months)"
    figure = charts.bar_chart(frame, "rate_per_1000", "district", title, y_label, "", source, ctx.last_month,
                              value_format=",.1f")
    data = frame.assign(vs_95=frame["outside_95"].fillna("within"), vs_998=frame["outside"].fillna("within"))
    columns = (Column("district", "District", None), Column("count", unit.capitalize(), 0),
               Column("residents", "Residents (2011 Census)", 0),
               Column("rate_per_1000", f"{unit.capitalize()} per 1,000 residents (period)", 1),
               Column("rate_per_1000_per_year", f"{unit.capitalize()} per 1,000 residents a year", 1),
               Column("vs_95", "Against the 95% funnel limits", None),
               Column("vs_998", "Against the 99.8% funnel limits", None))
    notes = ctx.notes(title, source, units=f"{unit}; rates per 1,000 residents", period=period, crime_types=True)
    table = Table(f"{key}-table", data, columns, notes, caption=frame.attrs.get("note", ""), filters=filters)
    return Section(heading, (Chart(figure, key, notes, filters=filters), table)), frame


def funnel_section(ctx: ViewContext, frame: pd.DataFrame, what: str, unit: str, key: str, filters: Filters) -> Section:
    """The funnel plot of district rates, with the limits named."""
    limits = rates.funnel_curve(frame)
    months = frame.attrs.get("months", 12)
    title = f"Funnel plot: {what} per 1,000 residents by district"
    source = f"{registry.STREET_SOURCE}; {CENSUS_SOURCE}"
    figure = charts.funnel_plot(frame, limits, title, source, ctx.last_month, label="district", population="residents",
                                overall_rate=frame.attrs["overall_rate_per_1000"], limits_population="population",
                                y_label=f"{unit.capitalize()} per 1,000 residents ({months} months)",
                                x_label="Usual residents (2011 Census)")
    caption = limits.attrs.get("limits", "") + " Districts outside the 99.8% limits are marked in vermillion."
    return Section("Funnel plot: districts against the force rate",
                   (Chart(figure, key, ctx.notes(title, source, units="rate per 1,000 residents"), caption=caption,
                          filters=filters),))


@dataclass(frozen=True, eq=False)
class LsoaRelease:
    """The LSOA counts a view may show for a period (`briefing.disclosure.published_lsoa_counts`): `frame`;
    `period` the months it counts (a whole calendar quarter inside the period asked for when the selection holds a
    sensitive category; None when none can be published); `sensitive`; `notice` saying which quarter is shown, or
    why nothing is, when that is not the period asked for."""

    frame: pd.DataFrame
    period: tuple[date, date] | None
    sensitive: bool
    notice: Text | None


def lsoa_release(ctx: ViewContext, filters: Filters, period: tuple[date, date], limit: int | None = None
                 ) -> LsoaRelease:
    """The published LSOA counts of `filters` for `period` (every LSOA, or the top `limit`), for every role: LSOA
    counts that include sexual offences, domestic abuse or child victims ("all crime" included) only for a whole
    calendar quarter, banded, one LSOA per district withheld; other selections exactly for the period."""
    frame = ctx.read(published_lsoa_counts, period[0], period[1], filters, limit=limit)
    rule = DisclosureRule()
    sensitive = selection_is_sensitive(frame.attrs.get("categories"), rule)
    shown = release_period(frame)
    asked = plan.period_label(period)
    why = (f"LSOA counts that include sexual offences, domestic abuse or child victims are published by "
           f"{rule.block_label()} only")
    notice = None
    if sensitive and shown is None:
        notice = Text(f"{why}, and {asked} holds no whole {rule.block_label()} with every month loaded: choose a "
                      f"current period that holds one to see them.", "info")
    elif sensitive and shown != (month_start(period[0]), month_start(period[1])):
        notice = Text(f"{why}: this shows {plan.period_label(shown)}, the latest whole {rule.block_label()} in "
                      f"{asked}.", "caption")
    return LsoaRelease(frame, shown, sensitive, notice)


def released_caption(release: LsoaRelease, text: str) -> str:
    """A table's caption, with the disclosure rule when the counts are banded."""
    return f"{text} {release.frame.attrs.get('disclosure_note', '')}" if release.sensitive else text


@remembered
def protected_chart(builder: str, args: tuple, kwargs: dict, *, sensitive: bool,
                    release: pd.DataFrame | None) -> go.Figure:
    """`charts.<builder>(*args, **kwargs)` after disclosure control (`protect_figure` with the published LSOA
    values of `release`), remembered as one figure by the content of all of it (`charts.memo`)."""
    figure = getattr(charts, builder)(*args, **kwargs)
    return protect_figure(figure, sensitive=sensitive, release=release)[0]


def top_lsoas_section(ctx: ViewContext, filters: Filters, what: str, unit: str, key: str,
                      period: tuple[date, date], *, crime_types: bool = False) -> Section:
    """The 15 LSOAs with most rows (bar chart) and the top 20 as a table, as published (`lsoa_release`): by the
    published value, "<5" and bands where the selection holds a sensitive category."""
    release = lsoa_release(ctx, filters, period, limit=20)
    shown_period = release.period or period
    title = f"{what}: the 15 LSOAs with most, {plan.period_label(shown_period)}"
    heading = f"Top LSOAs, {plan.period_label(shown_period)}"
    lead = (release.notice,) if release.notice else ()
    frame = release.frame if release.sensitive else release.frame[release.frame["count_value"] > 0]  # exact: no 0s
    if frame.empty:
        return Section(heading, lead or (Text("No rows with a location in this period for this selection.", "info"),))
    source = registry.STREET_SOURCE
    notes = ctx.notes(title, source, units=unit, period=shown_period, crime_types=crime_types)
    data = frame.assign(lsoa=frame["lsoa_name"].fillna(frame["lsoa_code"]))
    bars = data.head(15)
    bars = bars.assign(count_value=bars["count_value"].fillna(0),
                       count_text=[fmt.number(v) if not isinstance(v, str) else v for v in bars["count"]])
    figure = protected_chart("bar_chart", (bars, "count_value", "lsoa", title, unit.capitalize(), "", source,
                                           ctx.last_month), dict(label_column="count_text"),
                             sensitive=release.sensitive, release=release.frame)
    columns = (Column("lsoa", "LSOA", None), Column("count", unit.capitalize(), 0),
               Column("rate_per_1000", "Per 1,000 residents (period)", 1), Column("district", "District", None),
               Column("lsoa_code", "LSOA code", None), Column("residents", "Residents (2011 Census)", 0))
    table = Table(f"{key}-table", data, columns, notes, filters=filters,
                  caption=released_caption(release, "The 20 LSOAs with most in the period."))
    return Section(heading, (*lead, Chart(figure, key, notes, filters=filters, release=release.frame), table))


def lsoa_map_section(ctx: ViewContext, filters: Filters, what: str, unit: str, key: str,
                     period: tuple[date, date]) -> Section:
    """A map of the published LSOA counts (`lsoa_release`), from the LSOA boundaries; without boundaries a map
    of point density on a grid — not for a selection holding a sensitive category, whose points are not
    published."""
    release = lsoa_release(ctx, filters, period)
    shown_period = release.period or period
    title = f"{what} by LSOA, {plan.period_label(shown_period)}"
    heading = f"Hotspots, {plan.period_label(shown_period)}"
    lead = (release.notice,) if release.notice else ()
    source = registry.STREET_SOURCE
    lsoas = release.frame
    geojson = ctx.read(hotspots.boundaries, tuple(lsoas["lsoa_code"])) if len(lsoas) else None
    if geojson is not None:
        figure = protected_chart("choropleth_map", (lsoas.assign(count_value=lsoas["count_value"].fillna(0)), geojson,
                                 title, unit.capitalize(), f"{source}; ONS LSOA boundaries", ctx.last_month),
                                 dict(value="count_value", note="LSOAs with no rows are shown at 0."),
                                 sensitive=release.sensitive, release=lsoas)
        notes = ctx.notes(title, source, units=unit, period=shown_period, crime_types=True)
        return Section(heading, (*lead, Chart(figure, key, notes, filters=filters, release=lsoas)))
    if release.sensitive:
        return Section(heading, (*lead, Text(
            "Point maps are not drawn for crime types that include sexual offences, domestic abuse or child victims: "
            "load the ONS LSOA boundaries (lsoa11-boundaries .geojson) for a map of the published LSOA counts.",
            "info")))
    density = ctx.read(hotspots.point_density, period[0], period[1], filters)
    title = f"{what}: point density, {plan.period_label(period)}"
    figure = charts.point_density_map(density, title, f"{unit.capitalize()} per cell", source, ctx.last_month,
                                      note="Grid cells of 0.01° from the anonymised snap points; load the ONS LSOA "
                                           "boundaries (lsoa11-boundaries .geojson) for an LSOA map.")
    notes = ctx.notes(title, source, units=unit, period=period, crime_types=True)
    return Section(f"Hotspots, {plan.period_label(period)}", (Chart(figure, key, notes, filters=filters),))


# ---------------------------------------------------------------------------------------------
# not loaded; force measures
# ---------------------------------------------------------------------------------------------
def load_hint(ctx: ViewContext, item: Measure, proxies: tuple[Measure, ...] = ()) -> LoadHint:
    """Which file supplies a measure and the command that loads it into this warehouse."""
    return LoadHint(item.label, item.needs_file, item.load_command_for(ctx.db), tuple(p.label for p in proxies))


def proxy_label(item: Measure) -> str:
    """'… (proxy for domestic abuse)' stays as it is; other proxies get '(proxy)'."""
    return item.label if "proxy" in item.label.lower() else f"{item.label} (proxy)"


def force_measures_section(ctx: ViewContext, priority_id: str, key: str) -> Section:
    """The force's own measures mapped to the priority: the latest value of each against its target and the
    previous period, and the trend of one chosen measure; without any, the file and command that supply them."""
    title = "Force measures"
    latest = ctx.read(force_measures.latest_measures, priority_id, ctx.force_id)
    if latest.empty:
        wanted = [m for m, p in force_measures.measure_priorities().items() if p == priority_id]
        supply = registry.data_file("force_measures")
        return Section(title, (Text(f"**No force measures loaded for this priority** "
                                    f"({', '.join(wanted) or 'none mapped'}).", "info"),
                               LoadHint("Force measures", supply.needs_file, supply.load_command(ctx.db))), in_pack=False)
    data = latest.assign(
        period=[f"{a:%d %b %Y} – {b:%d %b %Y}" for a, b in zip(pd.to_datetime(latest["period_start"]),
                                                             pd.to_datetime(latest["period_end"]))],
        value_text=[fmt.number(v, 1, unit=u if isinstance(u, str) else "") for v, u in zip(latest["value"], latest["unit"])],
        meets=[("yes" if m else "no") if not fmt.is_missing(m) else "no target" for m in latest["meets_target"]],
    )
    columns = (Column("measure", "Measure", None), Column("period", "Period", None), Column("value_text", "Value", None),
               Column("target", "Target", 1), Column("meets", "Meets target", None),
               Column("previous_value", "Previous period", 1), Column("change", "Change", 1))
    exported = (Column("measure", "Measure", None), Column("period_start", "Period start", None),
                Column("period_end", "Period end", None), Column("value", "Value", 1), Column("unit", "Unit", None),
                *columns[3:])
    notes = ctx.notes(f"Force measures: {registry.priority(priority_id).short_title}", "Force measures supplied by "
                      "the force", units="as supplied by the force (see the Unit column)")
    table = Table(f"{key}-table", data, columns, notes,
                  formats={"change": lambda v: fmt.number(v, 1, sign=True)},
                  export_columns=exported,
                  caption="Values as supplied by the force, in their own units; the latest period of each measure.")
    return Section(title, (force_measure_trend(ctx, priority_id, key), table))  # the choice heads the chart


def force_measures_for(priority_id: str):
    """The force-measures section function of a priority's view."""
    def force_measures(ctx: ViewContext) -> Section:
        return force_measures_section(ctx, priority_id, f"{priority_id.replace('-', '_')}_fm")

    return force_measures


def force_measure_trend(ctx: ViewContext, priority_id: str, key: str) -> Chart:
    """The trend of one force measure of the priority (a choice kept in the URL)."""
    from views.model import Choice

    history = ctx.read(force_measures.measures_for_priority, priority_id, ctx.force_id)
    names = tuple(sorted(history["measure"].unique()))
    chosen = ctx.choose(Choice(f"{key}_measure", "Force measure to chart", names, names[0], widget="selectbox"))
    part = history[history["measure"] == chosen].rename(columns={"period_start": "month", "value": "count"})
    unit = next((u for u in part["unit"] if isinstance(u, str) and u), "value")
    as_at = pd.to_datetime(part["period_end"]).max().date() if len(part) else None
    title = f"{chosen} — {ctx.force_name}"
    source = "Force measures supplied by the force"
    figure = charts.trend_chart(part[["month", "count"]], title, f"{chosen} ({unit})", source, as_at,
                                lockdowns=calendar.lockdowns(), x_label="Period starting")
    return Chart(figure, f"{key}_trend", ctx.notes(title, source, units=unit, as_at=as_at))
