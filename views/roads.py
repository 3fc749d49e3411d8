"""Priority 7 — roads: collisions and casualties (DfT STATS19): the latest 12 months against the 12 before with
intervals and significance, killed or seriously injured (KSI) by month or week, severity, road-user type, speed
limit, hour × day of week, and the force measures mapped to roads (e.g. speeding detections)."""

from __future__ import annotations

import pandas as pd

import charts
from charts import formatting as fmt
from metrics import calendar, periods, plan, registry, roads, series
from views.blocks import CHANGE_FORMATS, load_hint, priority_view
from views.model import Chart, Choice, Column, Figures, Kpi, Section, Table, Text, ViewContext, in_tab, only_when

KSI = registry.measure("ksi_casualties")
INTERVALS_NOTE = ("Rates per day; 95% intervals exact Poisson for collisions, quasi-Poisson for casualties; "
                  "significance after Benjamini–Hochberg across these rows.")
SOURCE = KSI.source
HEADLINE_MEASURES = ("KSI casualties", "Fatal casualties", "Casualties", "Collisions")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
INTRO = ("Injury collisions reported to the police and their casualties (DfT STATS19): people killed or seriously "
         "injured (KSI), who they were, where and when collisions happen, and the latest 12 months against the 12 "
         "before.")
PERIOD_CHOICE = Choice("roads_period", "Trend by", ("month", "week"), "month", labels={"month": "Month", "week": "Week"})


def _range(ctx: ViewContext):
    return ctx.read(series.data_range, "casualties", ctx.force_filters)


def _loaded(ctx: ViewContext) -> bool:
    return _range(ctx)[1] is not None


def _latest_year(ctx: ViewContext) -> tuple[tuple, str, object]:
    """The latest 12 months of STATS19 data, their label, and the last month loaded."""
    first, last = _range(ctx)
    twelve = periods.latest_months(first, last)
    return twelve, plan.period_label(twelve), last


def twelve_months(ctx: ViewContext) -> Section:
    """KSI, fatal, all casualties and collisions in the latest 12 months against the 12 before."""
    first, last = _range(ctx)
    if last is None:
        return Section("Road casualties", (load_hint(ctx, KSI), Text("No public proxy: police.uk street-level crime "
                                                                     "does not include road collisions.", "caption")))
    change = ctx.read(roads.road_period_change, ctx.force_id, last)
    label = plan.period_label(periods.latest_months(first, last))
    rows = {r["measure"]: r for r in change.to_dict("records")}
    figures = Figures(tuple(
        Kpi(name, fmt.number(rows[name]["current_12_months"]),
            delta=None if fmt.is_missing(rows[name]["pct_change"]) else f"{rows[name]['pct_change']:+.1f}% on previous 12",
            delta_color="inverse", help=f"{label}; the 12 months before: {fmt.number(rows[name]['previous_12_months'])}.")
        for name in HEADLINE_MEASURES if name in rows))
    # the change in severity recording (CRASH) beside every KSI figure, on screen and on the slide
    blocks: list = [figures, Text(change.attrs.get("ksi_caveat", roads.KSI_SEVERITY_CAVEAT), "warning")]
    if len(change) and int(change["months_with_data_previous"].min()) < 12:
        blocks.append(Text(f"The previous 12 months hold data for only {int(change['months_with_data_previous'].min())} "
                           "months: load earlier STATS19 years for a like-for-like comparison.", "info"))
    if ctx.filters.districts:
        blocks.append(Text("The 12-month comparison is for the whole force area.", "caption"))
    title = "Change in road casualties and collisions, 12 months against the previous 12"
    figure = charts.change_chart(change, "measure", title, SOURCE, last,
                                 note=INTERVALS_NOTE)
    data = change.assign(
        interval=[fmt.pct_change(r, lo, hi)[1]
                  for r, lo, hi in zip(change["rate_ratio"], change["ci_lower"], change["ci_upper"])],
        significance=[fmt.significance(q, r) for q, r in zip(change["q_value"], change["rate_ratio"])],
    )
    columns = (Column("measure", "Measure", None), Column("previous_12_months", "Previous 12 months", 0),
               Column("current_12_months", "Latest 12 months", 0), Column("pct_change", "Change", 1, True),
               Column("interval", "95% interval", None), Column("p_value", "p-value", 3),
               Column("q_value", "q-value (BH)", 3), Column("significance", "Significance", None))
    notes = ctx.notes(title, SOURCE, units="casualties and collisions; change (%)", period=label, as_at=last,
                      caveats=KSI.caveats)
    blocks += [Chart(figure, "roads_change", notes),
               Table("roads-12-month-change", data, columns, notes,
                     formats={**CHANGE_FORMATS, "p_value": fmt.q_value},
                     caption=f"{INTERVALS_NOTE} {change.attrs.get('note', roads.CLUSTERING_NOTE)}")]
    return Section(f"12 months to {last:%B %Y} against the 12 months before", tuple(blocks))


def _series(ctx: ViewContext):
    period = ctx.choose(PERIOD_CHOICE)
    trend = ctx.read(roads.ksi_series, ctx.area_filters, None, None, period)
    x_label = "Month" if period == "month" else "Week starting (Monday)"
    return period, trend, x_label


def ksi_trend(ctx: ViewContext) -> Section:
    last = _range(ctx)[1]
    period, trend, x_label = _series(ctx)
    long = pd.concat([
        pd.DataFrame({"period_start": trend["period_start"], "count": trend[column], "series": name})
        for column, name in (("ksi_casualties", "KSI casualties"), ("fatal", "Fatal casualties"))
    ]) if len(trend) else trend
    title = f"Killed or seriously injured casualties per {period} — {ctx.area_label}"
    figure = charts.trend_chart(long, title, f"Casualties per {period}", SOURCE, last, lockdowns=calendar.lockdowns(),
                                x="period_start", x_label=x_label, group="series")
    caption = "District filter: collisions whose LSOA lies in the chosen districts (needs the ONS LSOA lookup)." \
        if ctx.filters.districts else ""
    return Section("Killed or seriously injured", (Chart(figure, "roads_ksi_trend", ctx.notes(
        title, SOURCE, units=f"casualties per {period}", as_at=last), caption=caption),))


def collision_trend(ctx: ViewContext) -> Section:
    last = _range(ctx)[1]
    period, trend, x_label = _series(ctx)
    title = f"Injury collisions per {period} — {ctx.area_label}"
    figure = charts.trend_chart(trend, title, f"Collisions per {period}", SOURCE, last, lockdowns=calendar.lockdowns(),
                                x="period_start", y="collisions", x_label=x_label)
    return Section("Injury collisions", (Chart(figure, "roads_collision_trend",
                                               ctx.notes(title, SOURCE, units=f"collisions per {period}", as_at=last)),))


def road_users(ctx: ViewContext) -> Section:
    """Severity, and KSI casualties by road user."""
    twelve, label, last = _latest_year(ctx)
    severity = ctx.read(roads.severity_counts, ctx.area_filters, *twelve)
    severity_notes = ctx.notes(f"Collisions and casualties by severity, {label}", SOURCE, units="collisions; casualties",
                               period=twelve, as_at=last)
    severity_table = Table("roads-severity", severity, (Column("severity", "Severity", None),
                                                        Column("collisions", "Collisions", 0),
                                                        Column("casualties", "Casualties", 0)), severity_notes,
                           caption="Collisions by their most severe casualty; casualties by their own severity.")
    users = ctx.read(roads.casualties_by_road_user, ctx.area_filters, *twelve)
    title = f"KSI casualties by road user, {label}"
    figure = charts.bar_chart(users, "ksi_casualties", "road_user_type", title, "KSI casualties", "", SOURCE, last)
    notes = ctx.notes(title, SOURCE, units="casualties", period=twelve, as_at=last)
    columns = (Column("road_user_type", "Road user", None), Column("fatal", "Fatal", 0), Column("serious", "Serious", 0),
               Column("slight", "Slight", 0), Column("ksi_casualties", "KSI", 0), Column("casualties", "All casualties", 0))
    return Section(f"Who, {label}", (severity_table, Chart(figure, "roads_users", notes),
                                     Table("roads-casualties-by-road-user", users, columns, notes)))


def speed_limits(ctx: ViewContext) -> Section:
    twelve, label, last = _latest_year(ctx)
    speed = ctx.read(roads.collisions_by_speed_limit, ctx.area_filters, *twelve)
    data = speed.assign(limit=speed["speed_limit"].map(lambda v: "Not recorded" if pd.isna(v) else f"{int(v)} mph"))
    title = f"Injury collisions by speed limit, {label}"
    figure = charts.bar_chart(data, "limit", "collisions", title, "Speed limit", "Collisions", SOURCE, last,
                              horizontal=False)
    notes = ctx.notes(title, SOURCE, units="collisions; casualties", period=twelve, as_at=last)
    columns = (Column("limit", "Speed limit", None), Column("collisions", "Collisions", 0),
               Column("ksi_collisions", "KSI collisions", 0), Column("casualties", "Casualties", 0))
    return Section(f"Where: speed limits, {label}", (Chart(figure, "roads_speed", notes),
                                                      Table("roads-collisions-by-speed-limit", data, columns, notes)))


def when(ctx: ViewContext) -> Section:
    twelve, label, last = _latest_year(ctx)
    hour_day = ctx.read(roads.collisions_by_hour_day, ctx.area_filters, *twelve)
    title = f"Injury collisions by hour and day of week, {label}"
    figure = charts.heatmap(hour_day, "hour", "day_of_week", "collisions", title, "Hour of day (0–23)", "Day of week",
                            "Collisions", SOURCE, last, x_order=list(range(24)), y_order=list(DAYS))
    return Section(f"When, {label}", (Chart(figure, "roads_heatmap", ctx.notes(title, SOURCE, units="collisions",
                                                                               period=twelve, as_at=last)),))



VIEW = priority_view("roads", ":material/directions_car:", INTRO, (
    twelve_months,
    *in_tab("Killed or seriously injured", *only_when(_loaded, ksi_trend)),
    *in_tab("Collisions", *only_when(_loaded, collision_trend)),
    *in_tab("Who", *only_when(_loaded, road_users)),
    *in_tab("Speed limits", *only_when(_loaded, speed_limits)),
    *in_tab("When", *only_when(_loaded, when)),
), uses_comparison=False)
