"""Data: what the warehouse holds — freshness per source, gaps, rows, rejects (with file and line), the caveats of
each source, and the measures that still need a file (with the command that loads it)."""

from __future__ import annotations

import pandas as pd

from metrics import inventory, plan, registry
from views.blocks import load_hint
from views.model import Column, Section, Table, Text, View, ViewContext
from views.text import md_literal

LOAD_LOG = "Crime Plan Monitor load log"


def freshness(ctx: ViewContext) -> Section:
    meta = ctx.read(inventory.warehouse_meta)
    about = Text(f"Warehouse `{md_literal(ctx.db, None)}` · schema {md_literal(meta.get('schema_version', '—'), None)}"
                 + (f" · dataset: {md_literal(meta['dataset'], None)}" if meta.get("dataset") else ""), "caption")
    title = "Freshness per source"
    sources = ctx.read(inventory.source_inventory)
    if sources.empty:
        return Section(title, (about, Text("Nothing has been loaded yet: use `python -m etl load <files>` or "
                                           "`python -m etl demo`.", "info")))
    data = sources.assign(
        force=sources["force_id"].fillna("—"),
        first=[f"{v:%b %Y}" if pd.notna(v) else "—" for v in sources["first_month"]],
        last=[f"{v:%b %Y}" if pd.notna(v) else "—" for v in sources["last_month"]],
        gaps=[f"{int(n)}: {m}" if n else "none" for n, m in zip(sources["missing_count"], sources["missing_months"])],
        loaded_at=sources["last_loaded_at"].dt.strftime("%d %b %Y %H:%M"),
    )
    columns = (Column("source", "Source", None), Column("force", "Force", None), Column("first", "First month", None),
               Column("last", "Last month", None), Column("months_loaded", "Monthly files", 0),
               Column("gaps", "Gaps", None), Column("rows_loaded", "Rows loaded", 0),
               Column("rows_rejected", "Rows rejected", 0), Column("loaded_at", "Last loaded (UTC)", None))
    table = Table("sources", data, columns, ctx.notes(title, LOAD_LOG, units="rows; months"),
                  caption="Reference files (lookup, census, boundaries) have no months; sources loaded as whole files "
                          "(STATS19, fraud, extract, measures) take their months from their rows. Gaps are months "
                          "missing between the first and last monthly file loaded.")
    warnings = tuple(Text(f"**{md_literal(row.source, None)}** ({md_literal(row.force_id or 'all forces', None)}): "
                          f"{int(row.missing_count)} month(s) missing — {md_literal(row.missing_months, None)}. Charts "
                          "show these months as gaps in the source, not as zero crime.", "warning")
                     for row in sources[sources["missing_count"] > 0].itertuples(index=False))
    return Section(title, (about, table, *warnings))


def table_rows(ctx: ViewContext) -> Section:
    counts = ctx.read(inventory.table_rows)
    notes = ctx.notes("Rows per table", LOAD_LOG, units="rows")
    return Section("Rows per table", (Table("table-rows", counts, (Column("table", "Table", None),
                                                                    Column("rows", "Rows", 0)), notes),))


def rejects(ctx: ViewContext) -> Section:
    """Rejected rows per file and reason, and the first rejected rows' raw text — for readers who may see raw rows
    (analysts); others read how many rows were rejected (reasons can quote the rows' values)."""
    title = "Rejected rows"
    summary = ctx.read(inventory.reject_summary)
    if summary.empty:
        return Section(title, (Text("No rows were rejected: every row read was loaded.", "success"),))
    if not ctx.raw_rows:
        total, files = int(summary["rejects"].sum()), summary["path"].nunique()
        return Section(title, (Text(f"{total:,} rows in {files:,} file(s) were rejected (see *Rows rejected* above). "
                                    "Their reasons and raw text (which can hold victim keys, locations and flags) are "
                                    "shown to analysts only.", "info"),))
    columns = (Column("path", "File", None), Column("reason", "Reason", None), Column("rejects", "Rows", 0),
               Column("first_line", "First line", 0), Column("last_line", "Last line", 0))
    samples = ctx.read(inventory.reject_samples, 200)
    sample_columns = (Column("path", "File", None), Column("line_number", "Line", 0), Column("reason", "Reason", None),
                      Column("raw_line", "Raw text", None))
    return Section(title, (
        Table("reject-summary", summary, columns, ctx.notes("Rejected rows per file and reason", LOAD_LOG, units="rows")),
        Text(f"The first {len(samples)} rejected rows (file, line, reason, raw text):", "caption"),
        Table("rejected-rows", samples, sample_columns, ctx.notes("Rejected rows", LOAD_LOG), static=False,
              widths={"Raw text": "large"}),
    ))


def caveats(ctx: ViewContext) -> Section:
    title = "Caveats of each source"
    sources = ctx.read(inventory.source_inventory)
    loaded = set(sources["kind"]) if not sources.empty else set()
    data = inventory.source_caveats()
    data = data.assign(loaded=["yes" if k in loaded else "no" for k in data["kind"]])
    columns = (Column("source", "Source", None), Column("table", "Table", None), Column("loaded", "Loaded", None),
               Column("caveats", "Caveats", None))
    return Section(title, (Table("source-caveats", data, columns, ctx.notes(title, "Crime Plan Monitor source notes")),))


def plan_measures(ctx: ViewContext) -> Section:
    """Every plan measure, where it comes from, whether it is loaded, and how to load it."""
    available = {m.id: ctx.read(plan.measure_available, m, ctx.force_filters) for m in registry.MEASURES}
    data = pd.DataFrame([{
        "priority": registry.priority(m.priority_id).label, "measure": m.label, "source": m.source,
        "proxy": "yes" if m.is_proxy else "no", "loaded": "yes" if available[m.id] else "no",
        "how": "" if available[m.id] else m.load_command_for(ctx.db),
    } for m in registry.MEASURES])
    columns = (Column("priority", "Priority", None), Column("measure", "Measure", None), Column("source", "Source", None),
               Column("proxy", "Proxy", None), Column("loaded", "Loaded", None), Column("how", "How to load", None))
    title = "Plan measures and where they come from"
    hints = tuple(load_hint(ctx, m, tuple(registry.proxies_for(m.id))) for m in registry.MEASURES
                  if not available[m.id] and not m.is_proxy and m.in_scorecard)
    return Section(title, (Table("plan-measures", data, columns, ctx.notes(title, "metrics.registry")), *hints))


VIEW = View(
    id="data", title="Data", heading="Data: what is loaded", icon=":material/database:", group="More views",
    uses_comparison=False,
    intro=("Every source in the warehouse with the months it covers, gaps, rows loaded and rejected, and when it was "
           "loaded; rejected rows with their file, line and reason (analysts); and the caveats an analyst must keep in "
           "mind."),
    sections=(freshness, table_rows, rejects, caveats, plan_measures),
)
