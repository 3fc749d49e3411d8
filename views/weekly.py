"""Weekly figures for the senior officer, on one screen: for the chosen complete week (kept in the URL), each dated
measure of the plan, in priority order, against the same week in earlier years and the last 4 weeks (means), with
a Farrington-style exceedance flag (▲: an unusual rise); which priorities have no weekly figures and why."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from charts import formatting as fmt
from metrics import registry, weekly
from views.model import Choice, Column, LoadHint, Section, Table, Text, View, ViewContext
from views.text import md_literal

WEEKS_OFFERED = 52
WEEKLY_SOURCES = ("force_extract", "police_uk_stop_search", "stats19")
COLUMNS = (
    Column("priority_label", "Priority", None), Column("measure", "Measure", None), Column("observed", "This week", 0),
    Column("expected", "Expected", 0), Column("upper_threshold", "Threshold", 0),
    Column("same_week_last_year", "Last year", 0), Column("same_week_mean_previous_years", "Earlier years", 0),
    Column("last_4_weeks_mean", "Last 4 weeks", 0), Column("flag", "Unusual rise", None),
)
COUNTING = ("Counts: incidents by recorded date (force extract), searches by date in UK local time (stop and search), "
            "collisions by date (STATS19); the same week in earlier years is the Monday nearest the same date.")
EXPORT_COLUMNS = (
    Column("priority_full", "Priority", None), *COLUMNS[1:4], Column("upper_threshold", "Upper threshold", 1),
    Column("same_week_last_year", "Same week last year", 0),
    Column("same_week_mean_previous_years", "Same week, earlier years (mean)", 1),
    Column("last_4_weeks_mean", "Last 4 weeks (mean)", 1), COLUMNS[-1], Column("source", "Source", None),
    Column("note", "How it was computed", None),
)


def week_label(week: date) -> str:
    """'Mon 13 Dec – Sun 19 Dec 2021' (also the URL value)."""
    return f"{week:%a %d %b} – {week + timedelta(days=6):%a %d %b %Y}"


def in_priority_order(table: pd.DataFrame) -> pd.DataFrame:
    """The weekly table's rows in plan order: by priority, then as the registry lists the measures."""
    priority_rank = {p.id: i for i, p in enumerate(registry.PRIORITIES)}
    measure_rank = {m.label: i for i, m in enumerate(registry.WEEKLY_MEASURES)}
    order = sorted(range(len(table)), key=lambda i: (priority_rank.get(table["priority"].iloc[i], 99),
                                                     measure_rank.get(table["measure"].iloc[i], 99)))
    return table.iloc[order].reset_index(drop=True)


def _priority_number(priority_id: str | None) -> str:
    """The plan priority's number ('6'); the measure's name says the rest."""
    prio = registry.PRIORITY_BY_ID.get(priority_id or "")
    return str(prio.number) if prio is not None and prio.number else fmt.DASH


def _flag_text(value: object) -> str:
    return "▲" if value is True else ("–" if value is False else "not tested")


def figures(ctx: ViewContext) -> Section:
    latest = ctx.read(weekly.latest_complete_week, ctx.force_id)
    if latest is None:
        hints = tuple(LoadHint(f"Dated data ({name})", registry.data_file(file_id).needs_file,
                               registry.data_file(file_id).load_command(ctx.db))
                      for name, file_id in zip(("force extract", "stop and search", "STATS19"), WEEKLY_SOURCES))
        return Section("No dated weekly data loaded", (Text(
            "**No dated weekly data loaded.** Weekly figures need at least one of: the force's incident-level crime "
            "extract, data.police.uk stop-and-search files, or DfT STATS19 collisions.", "warning"), *hints, Text(
            "Monthly data.police.uk street-level crime has no dates within the month, so it cannot give weekly "
            "figures: see the priority views for monthly trends.", "caption")))
    weeks = tuple(latest - timedelta(weeks=k) for k in range(WEEKS_OFFERED))
    week = ctx.choose(Choice("week", "Week (Monday to Sunday)", weeks, weeks[0], labels={w: week_label(w) for w in weeks},
                             widget="selectbox", help=f"Complete weeks, latest first (the latest loaded starts "
                                                      f"{latest:%a %d %b %Y}); the choice is kept in the link."))
    table = in_priority_order(ctx.read(weekly.weekly_table, week, ctx.force_id))
    data = table.assign(priority_label=[_priority_number(p) for p in table["priority"]],
                        priority_full=[registry.PRIORITY_BY_ID[p].label if p in registry.PRIORITY_BY_ID else fmt.DASH
                                       for p in table["priority"]],
                        flag=[_flag_text(v) for v in table["exceeds"]], flagged=[v is True for v in table["exceeds"]])
    flagged, tested = int(data["flagged"].sum()), int(table["observed"].notna().sum())
    span = week_label(week)
    notes = ctx.notes(f"Weekly figures, {span}", "force extract; data.police.uk stop and search; DfT STATS19",
                      units="events per week", period=span, caveats=table.attrs.get("method", "") + " " + COUNTING)
    gaps = "; ".join(f"{prio.label}: {why}" for prio, why in registry.weekly_gaps())
    table_block = Table(f"weekly-figures-{week.isoformat()}", data, COLUMNS, notes,
                        export_columns=EXPORT_COLUMNS, highlight="flagged",
                        caption=f"Not weekly — {gaps}")
    title = (f"{flagged} of {tested} measures show an unusual rise" if flagged
             else f"No measure shows an unusual rise ({tested} tested)")
    meaning = Text(f"**What a flag means.** {table.attrs.get('flag_meaning', weekly.FLAG_MEANING)}", "caption")
    return Section(title, (table_block, meaning, *_row_notes(data)), help=weekly.FLAG_MEANING)


def _row_notes(data) -> tuple[Text, ...]:
    """Each measure's plain-English note (flagged measures first), as one caption list."""
    rows = data[data["note"].fillna("").str.len() > 0].sort_values("flagged", ascending=False, kind="stable")
    if rows.empty:
        return ()
    return (Text("\n".join(f"- **{md_literal(row.measure, None)}**{' ▲' if row.flagged else ''}: "
                           f"{md_literal(row.note, None)}" for row in rows.itertuples(index=False)), "caption"),)


VIEW = View(
    id="weekly", title="Weekly figures", heading="Weekly figures", icon=":material/calendar_month:", group="More views",
    uses_comparison=False,
    intro="",
    sections=(figures,),
)
