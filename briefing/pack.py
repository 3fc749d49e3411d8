"""The Panel briefing pack: a PPTX (16:9) built without a browser, optionally the same as one PDF.

The pack draws the dashboard's own view definitions (`views/`) as slides, so a section added to a view reaches
the Panel without touching this module:

1. Title: the plan, the force, the periods compared, the data-as-at month of every source, when it was
   produced (and the synthetic-data warning for a demo warehouse).
2. The Overview's sections marked for the pack (the scorecard of every measure; the change of each measure).
3. For each plan priority (1–7), its view's sections marked for the pack, one slide each: the first titled with
   the priority ("2. Cracking down on anti-social behaviour"). A slide shows the section's first chart (PNG,
   with alt text), its key figures and text, and its first table after disclosure control; source and as-at
   date in the footer; caveats, methods and sources in the notes.
4. About this pack: provenance (filters, load fingerprint, version, generated at), methods, disclosure rule.

Views read their numbers through `ctx.read(function, *args)`: here a plain call on the pack's connection,
memoised for the pack (`views.model.memo_reader`), the same calls the dashboard makes.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from io import BytesIO
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from briefing import __version__
from briefing.disclosure import DisclosureRule, protect_figure, protect_frame
from briefing.images import figure_alt_text, figure_bytes
from briefing.provenance import provenance_for, provenance_lines, write_sidecar
from metrics.filters import Filters

PLAN_TITLE = "Police and Crime Plan 2016–2021"
PACK_TITLE = "Police, Fire and Crime Panel briefing"
SLIDE_WIDTH_EMU, SLIDE_HEIGHT_EMU = 12_192_000, 6_858_000   # 13.333 x 7.5 in, 16:9 (PowerPoint's widescreen)
PACK_CHART_WIDTH_PX, PACK_CHART_HEIGHT_PX, PACK_CHART_SCALE = 960, 540, 8 / 3   # 2560 x 1440 px, 8.2 in wide
SIDE_TABLE_ROWS, SIDE_TABLE_COLUMNS = 6, 3   # a table beside a chart: its first rows and columns
TABLE_ROWS = 16                               # a slide that is a table
PPTX_MIME = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
PDF_MIME = "application/pdf"
DEMO_WARNING = "Demo data — synthetic: the numbers in this pack are invented and must not be quoted as real."
METHODS_TEXT = (
    "Change: the rate per day in the current period against the baseline period (the periods may differ in "
    "length; shown as the change in the monthly rate, a month being 30.44 days); exact Poisson 95% interval of "
    "the rate ratio (conditional binomial method; quasi-Poisson for road casualties, which come in collisions); "
    "significance after Benjamini–Hochberg control of false discoveries across the force's own rows of each "
    "table (rows in neighbouring forces' areas are not tested; q < 0.05; a single measure: q = p). Expected: "
    "seasonal ARIMA on log counts (lowest AICc) fitted on the months before the current period, leaving out the "
    "COVID-19 restrictions and other marked disruptions, with its 95% prediction interval (its basis is in each "
    "chart's caption); none with fewer than 24 months of history."
)


# ---------------------------------------------------------------------------------------------
# content (no python-pptx here: the same content feeds the PPTX and the PDF)
# ---------------------------------------------------------------------------------------------
@dataclass
class SlideContent:
    """What one slide says. `figure`: the section's first Plotly figure (None: text and table only);
    `section`/`view_id`: the view section it draws."""

    title: str
    lines: list[tuple[str, str]] = field(default_factory=list)     # (style, text): 'head', 'body', 'small', 'warn'
    figure: Any = None
    alt_text: str = ""
    table: pd.DataFrame | None = None                              # already disclosure-controlled, as text
    table_title: str = ""
    footer: str = ""
    notes: str = ""
    kind: str = "section"                                           # 'title', 'table', 'section', 'about'
    section: str = ""
    view_id: str = ""


@dataclass
class PackContent:
    slides: list[SlideContent]
    provenance: dict[str, Any]
    comparison: Any
    sections: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)  # view id -> (title, in the pack)


def resolve_pack_comparison(
    con: duckdb.DuckDBPyConnection,
    comparison: Any = "latest12",
    filters: Filters | None = None,
):
    """A `metrics.plan.Comparison` from a Comparison, a preset name ('latest12', 'covid'), or a
    ((pre first, pre last), (post first, post last)) pair, within the months of street-level crime
    loaded for the force (any loaded family when there is none)."""
    from metrics.plan import Comparison, resolve_comparison

    if isinstance(comparison, Comparison):
        return comparison
    first, last = _loaded_months(con, Filters(force_id=(filters or Filters()).force_id))
    if isinstance(comparison, (tuple, list)) and len(comparison) == 2:
        pre, post = comparison
        resolved = resolve_comparison(first, last, "custom", tuple(pre), tuple(post))
    else:
        resolved = resolve_comparison(first, last, str(comparison or "latest12"))
    if resolved is None:
        raise ValueError("the warehouse holds no crime, incident, casualty, fraud or stop-and-search months: "
                         "load data first (python -m etl load ... or python -m etl demo)")
    return resolved


def _loaded_months(con: duckdb.DuckDBPyConnection, force: Filters):
    """The force's street-level months, or another family's when it has none (as the dashboard's filter bar)."""
    from metrics.series import data_range

    first, last = data_range(con, "crimes", force)
    for family in ("incidents", "casualties", "fraud", "stop_search"):
        if first is not None:
            break
        first, last = data_range(con, family, force)
    return first, last


def _force_label(con: duckdb.DuckDBPyConnection, filters: Filters | None) -> tuple[str | None, str]:
    from etl.sources.common import force_name_for
    from metrics.series import forces

    force_id = (filters or Filters()).force_id
    if force_id is None:
        loaded = forces(con)
        if len(loaded) == 1:
            force_id = str(loaded["force_id"].iloc[0])
        elif len(loaded) > 1:
            return None, "all forces loaded (" + ", ".join(loaded["force_name"].astype(str)) + ")"
    return force_id, (force_name_for(force_id) or "no force loaded")


def plain_text(markdown: str) -> str:
    """Markdown written for the screen as plain text: no **emphasis**, `code` marks or backslash escapes."""
    text = re.sub(r"\\(.)", r"\1", markdown)
    return text.replace("**", "").replace("`", "")


# ---------------------------------------------------------------------------------------------
# a view section as a slide
# ---------------------------------------------------------------------------------------------
def section_lines(section) -> list[tuple[str, str]]:
    """The section's key figures, text and "not loaded" hints as slide lines."""
    from views.model import Figures, LoadHint, Text

    lines: list[tuple[str, str]] = []
    for block in section.blocks:
        if isinstance(block, Figures):
            lines += [("body", kpi.sentence()) for kpi in block.items]
        elif isinstance(block, Text):
            lines.append(("warn" if block.tone in ("warning", "error") else "small", plain_text(block.body)))
        elif isinstance(block, LoadHint):
            lines += [("body", f"{block.what}: not loaded. It needs {block.needs_file}."),
                      ("small", f"Load it with: {block.command}")]
    return lines


def slide_table(block, rule: DisclosureRule, *, side: bool) -> tuple[pd.DataFrame, str]:
    """A view table as slide text after disclosure control (applied to the rows the slide shows, so secondary
    suppression holds within them): beside a chart its first rows and columns, alone its first TABLE_ROWS rows.
    Returns the text frame and the disclosure note."""
    from views.model import display_frame

    rows = block.data.head(SIDE_TABLE_ROWS if side else TABLE_ROWS)  # the rows shown are the table protected
    result = protect_frame(rows, rule=rule, filters=block.filters, sensitive=block.notes.sensitive)
    columns = [c for c in block.columns if c.name in block.slide_columns] if block.slide_columns else block.columns
    columns = columns[:SIDE_TABLE_COLUMNS] if side else columns
    return display_frame(result.frame, columns, block.formats), result.note


def section_slide(section, title: str, view_id: str, rule: DisclosureRule, footer_tail: str,
                  lead: tuple[str, str] | None = None) -> SlideContent:
    """One section of a view as a slide: its first chart (after disclosure control), its lines, its first table."""
    from charts.formatting import as_at

    charts_, tables = section.charts(), section.tables()
    lines = ([lead] if lead else []) + section_lines(section)
    notes_from = charts_[0].notes if charts_ else (tables[0].notes if tables else None)
    figure, alt = None, ""
    if charts_:
        figure, _ = protect_figure(charts_[0].figure, rule=rule, filters=charts_[0].filters,
                                   sensitive=charts_[0].notes.sensitive, release=charts_[0].release)
        alt = figure_alt_text(figure)
    table, table_title, disclosure = None, "", ""
    if tables:
        table, disclosure = slide_table(tables[0], rule, side=figure is not None)
        table_title = tables[0].notes.title
    footer = footer_tail
    if notes_from is not None:
        footer = f"Source: {notes_from.source}. Data as at {as_at(notes_from.as_at)}. " + footer_tail
    notes = [f"Section: {section.title}.", METHODS_TEXT]
    for item in [*charts_, *tables]:
        notes.append(f"{item.notes.title} — source: {item.notes.source}. Caveats: {item.notes.caveats or 'none recorded'}"
                     + (f" Filters: {item.notes.filters}." if item.notes.filters else ""))
    notes += [plain_text(c.caption) for c in [*charts_, *tables] if c.caption]
    if disclosure:
        notes.append("Disclosure control: " + disclosure)
    kind = "section" if figure is not None else ("table" if table is not None else "section")
    return SlideContent(title, lines, figure=figure, alt_text=alt, table=table, table_title=table_title,
                        footer=footer, notes="\n\n".join(notes), kind=kind, section=section.title, view_id=view_id)


def view_slides(view, ctx, rule: DisclosureRule, footer_tail: str, sections: dict) -> list[SlideContent]:
    """A view's sections as slides (those marked for the pack); records every section in `sections`."""
    from metrics.registry import PRIORITY_BY_ID

    prio = PRIORITY_BY_ID.get(view.priority_id or "")
    slides: list[SlideContent] = []
    sections[view.id] = []
    for section in view.build(ctx):
        sections[view.id].append((section.title, section.in_pack))
        if not section.in_pack:
            continue
        if prio is None:
            title, lead = section.title, None
        elif not slides:
            title, lead = f"{prio.number}. {prio.title}", ("head", section.title)
        else:
            title, lead = f"{prio.number}. {section.title}", None
        slides.append(section_slide(section, title, view.id, rule, footer_tail, lead))
    return slides


# ---------------------------------------------------------------------------------------------
# the pack's content
# ---------------------------------------------------------------------------------------------
def pack_context(con: duckdb.DuckDBPyConnection, comparison, filters: Filters, force_name: str, record: dict,
                 is_demo: bool, db_label: str | None = None):
    """The ViewContext the pack builds the views in: the pack's filters and comparison, plain memoised reads."""
    from views.model import ViewContext, memo_reader

    first, last = _loaded_months(con, Filters(force_id=filters.force_id))
    return ViewContext(filters=filters, comparison=comparison, force_name=force_name, first_month=first,
                       last_month=last, is_demo=is_demo, read=memo_reader(con), db=db_label or "PATH",
                       provenance=record)


def title_slide(con: duckdb.DuckDBPyConnection, comparison, filters: Filters, force_label: str, is_demo: bool,
                generated_at: datetime, record: dict, footer_tail: str) -> SlideContent:
    """The plan, the force, the periods, the data-as-at month of every loaded source."""
    from charts.formatting import as_at
    from metrics.plan import measure_available, period_label
    from metrics.registry import MEASURES
    from metrics.series import data_range

    lines = [("head", f"{PLAN_TITLE} — {force_label}"),
             ("body", f"Current period {period_label(comparison.post)} compared with {period_label(comparison.pre)}")]
    if comparison.notice:
        lines.append(("small", comparison.notice))
    if comparison.seasonality_warning and comparison.seasonality_warning not in (comparison.notice or ""):
        lines.append(("warn", comparison.seasonality_warning))  # different calendar months compared
    if filters.districts:
        lines.append(("body", "Districts: " + ", ".join(filters.districts)))
    lines.append(("head", "Data as at"))
    latest: dict[str, Any] = {}
    for item in MEASURES:
        if item.source not in latest and measure_available(con, item, filters):
            latest[item.source] = data_range(con, item.family, Filters(force_id=filters.force_id))[1]
    lines += [("body", f"{source}: {as_at(month)}") for source, month in latest.items()]
    lines.append(("small", f"Produced {generated_at:%d %b %Y %H:%M} UTC by Crime Plan Monitor {__version__}"))
    if is_demo:
        lines.insert(0, ("warn", DEMO_WARNING))
    return SlideContent(PACK_TITLE, lines, footer=footer_tail, kind="title",
                        notes="Provenance: " + json.dumps(record, default=str, sort_keys=True))


def about_slide(comparison, filters: Filters, rule: DisclosureRule, record: dict, footer_tail: str) -> SlideContent:
    """Provenance, methods, the disclosure rule, and the command that rebuilds the pack."""
    lines = [("head", "Provenance: how to reproduce this pack")]
    lines += [("small", f"{label}: {text}") for label, text in provenance_lines(record)]
    lines += [("head", "Methods"), ("small", METHODS_TEXT), ("head", "Disclosure control"), ("small", rule.describe())]
    command = (f"python -m briefing --db PATH --period {comparison.post[0]:%Y-%m}..{comparison.post[1]:%Y-%m}"
               f" --compare {comparison.pre[0]:%Y-%m}..{comparison.pre[1]:%Y-%m}")
    if filters.force_id:
        command += f" --force {filters.force_id}"
    for district in filters.districts:
        command += f" --district '{district}'"
    lines.append(("small", f"Rebuild: {command} --out pack.pptx (on a warehouse with the same data fingerprint)"))
    return SlideContent("About this pack", lines, footer=footer_tail, kind="about",
                        notes=json.dumps(record, indent=2, default=str, sort_keys=True))


def pack_content(
    con: duckdb.DuckDBPyConnection,
    comparison: Any = "latest12",
    filters: Filters | None = None,
    *,
    rule: DisclosureRule | None = None,
    generated_at: datetime | None = None,
    priority_ids: Sequence[str] | None = None,
    db_label: str | None = None,
) -> PackContent:
    """Everything the pack shows, computed once (for the PPTX and the PDF): the title, the Overview's and each
    plan priority's view sections marked for the pack, and the about slide."""
    import views
    from metrics.inventory import is_demo

    rule = rule or DisclosureRule()
    filters = filters or Filters()
    comparison = resolve_pack_comparison(con, comparison, filters)
    force_id, force_label = _force_label(con, filters)
    if force_id and not filters.force_id:
        filters = Filters(force_id=force_id, districts=filters.districts, categories=filters.categories)
    filters = Filters(force_id=filters.force_id, districts=filters.districts)  # the pack shows the plan's measures
    generated_at = (generated_at or datetime.now(timezone.utc)).replace(microsecond=0)
    demo = is_demo(con)
    record = provenance_for(
        con, filters, generated_at=generated_at, period=list(comparison.post), comparison=list(comparison.pre),
        comparison_label=comparison.label, title=PACK_TITLE, disclosure=rule.describe(),
        **({"database": db_label} if db_label else {}),
    )
    footer_tail = ("DEMO DATA — SYNTHETIC · " if demo else "") + (
        f"Crime Plan Monitor {__version__} · data fingerprint {record['load_fingerprint']}")
    ctx = pack_context(con, comparison, filters, force_label, record, demo, db_label)
    slides = [title_slide(con, comparison, filters, force_label, demo, generated_at, record, footer_tail)]
    sections: dict[str, list[tuple[str, bool]]] = {}
    wanted = [v for v in views.PRIORITY_VIEWS if not priority_ids or v.priority_id in priority_ids]
    for view in (views.VIEWS[0], *wanted):
        slides += view_slides(view, ctx, rule, footer_tail, sections)
    slides.append(about_slide(comparison, filters, rule, record, footer_tail))
    return PackContent(slides, record, comparison, sections)


# ---------------------------------------------------------------------------------------------
# PPTX
# ---------------------------------------------------------------------------------------------
STYLE_OFFSETS = {"head": 2, "body": 0, "small": -2, "warn": 0}


def fit_font_size(lines: list[tuple[str, str]], width_in: float, height_in: float, size: int, min_size: int = 7) -> int:
    """The largest body font size (points, at most `size`) at which the lines, wrapped, fit the box
    (estimate: average character 0.5 em wide, line height 1.2 em, 8 pt before each heading)."""
    import math

    for candidate in range(size, min_size - 1, -1):
        total_pt = 0.0
        for style, text in lines:
            points = candidate + STYLE_OFFSETS[style]
            chars_per_line = max(int((width_in - 0.2) * 72 / (points * 0.5)), 1)
            wrapped = max(math.ceil(len(text) / chars_per_line), 1)
            total_pt += wrapped * points * 1.2 + (8 if style == "head" else 0)
        if total_pt / 72 <= height_in - 0.1:
            return candidate
    return min_size


def compact_provenance(record: dict[str, Any], limit: int = 255) -> str:
    """The provenance in at most `limit` characters (PPTX core properties allow 255): fingerprint,
    version, periods, filters, generated at. The full record is in the About slide's notes and the sidecar."""
    filters = record.get("filters") or {}
    shown = {k: v for k, v in filters.items() if v}
    text = (f"load_fingerprint={record.get('load_fingerprint')}; version={record.get('version')}; "
            f"period={'..'.join(str(v)[:7] for v in record.get('period') or [])}; "
            f"comparison={'..'.join(str(v)[:7] for v in record.get('comparison') or [])}; "
            f"generated_at={record.get('generated_at')}; filters={json.dumps(shown, sort_keys=True)}")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text_box(slide, left: float, top: float, width: float, height: float, lines, size: int = 12):
    """A text box (inches) whose font shrinks until the lines fit."""
    from pptx.dml.color import RGBColor
    from pptx.util import Inches, Pt

    colours = {"warn": RGBColor(0xB0, 0x3A, 0x00), "small": RGBColor(0x55, 0x55, 0x55)}
    size = fit_font_size(lines, width, height, size)
    box = slide.shapes.add_textbox(Inches(left), Inches(top), Inches(width), Inches(height))
    frame = box.text_frame
    frame.word_wrap = True
    for index, (style, text) in enumerate(lines):
        para = frame.paragraphs[0] if index == 0 else frame.add_paragraph()
        run = para.add_run()
        run.text = text
        run.font.size = Pt(size + STYLE_OFFSETS[style])
        run.font.bold = style in ("head", "warn")
        run.font.color.rgb = colours.get(style, RGBColor(0x1A, 0x1A, 0x1A))
        if style == "head" and index:
            para.space_before = Pt(8)
    return box


def _add_table(slide, frame: pd.DataFrame, left: float, top: float, width: float, height: float, size: int = 10):
    """A table (inches), columns as wide as their longest text (within limits)."""
    from pptx.util import Inches, Pt

    shape = slide.shapes.add_table(len(frame) + 1, len(frame.columns), Inches(left), Inches(top), Inches(width),
                                   Inches(height))
    table = shape.table
    widths = [min(max([len(str(c))] + [len(str(v)) for v in frame[c]]), 40) + 4 for c in frame.columns]
    for column, share in zip(table.columns, widths):
        column.width = Inches(width * share / sum(widths))
    for row in table.rows:
        row.height = Inches(height / (len(frame) + 1))
    cells = [list(map(str, frame.columns))] + [["" if v is None else str(v) for v in row]
                                                 for row in frame.itertuples(index=False, name=None)]
    for r, values in enumerate(cells):
        for c, value in enumerate(values):
            cell = table.cell(r, c)
            cell.text = value
            for para in cell.text_frame.paragraphs:
                for run in para.runs:
                    run.font.size = Pt(size)
                    run.font.bold = r == 0
    return shape


def _add_chart(slide, item: SlideContent, provenance: dict) -> None:
    """The section's chart as a slide-sized PNG with its alt text."""
    from pptx.util import Inches

    png = figure_bytes(item.figure, "png", width=PACK_CHART_WIDTH_PX, height=PACK_CHART_HEIGHT_PX,
                       scale=PACK_CHART_SCALE, provenance=provenance)
    picture = slide.shapes.add_picture(BytesIO(png), Inches(0.4), Inches(1.15), width=Inches(8.2))
    picture.name = "Chart"
    c_nv_pr = picture._element.nvPicPr.cNvPr
    c_nv_pr.set("descr", item.alt_text)
    c_nv_pr.set("title", item.figure.layout.title.text or "Chart")


def _draw_slide(slide, item: SlideContent, provenance: dict) -> None:
    """Title, body (by kind), footer and speaker notes of one slide."""
    top = 1.2 if item.kind == "title" else 0.3
    _text_box(slide, 0.5, top, 12.3, 0.8, [("head", item.title)], size=28 if item.kind == "title" else 22).name = "Title"
    if item.kind == "title":
        _text_box(slide, 0.5, 2.3, 12.3, 4.3, item.lines, size=16)
    elif item.kind == "about":
        _text_box(slide, 0.5, 1.1, 12.3, 5.6, item.lines, size=12)
    elif item.figure is None and item.table is not None:
        lines_height = 0.4 + 0.25 * min(len(item.lines), 4) if item.lines else 0
        if item.lines:
            _text_box(slide, 0.5, 1.0, 12.3, lines_height, item.lines, size=11)
        _add_table(slide, item.table, 0.5, 1.05 + lines_height, 12.3,
                   min(0.3 * (len(item.table) + 1), 5.7 - lines_height), size=9)
    elif item.figure is None:
        _text_box(slide, 0.5, 1.1, 12.3, 5.6, item.lines, size=14)
    else:
        _add_chart(slide, item, provenance)
        _text_box(slide, 8.8, 1.1, 4.2, 3.4 if item.table is not None else 5.6, item.lines, size=11)
        if item.table is not None:
            _text_box(slide, 8.8, 4.55, 4.2, 0.3, [("small", item.table_title)], size=11)
            _add_table(slide, item.table, 8.8, 4.9, 4.2, min(0.3 * (len(item.table) + 1), 2.0), size=8)
    _text_box(slide, 0.5, 6.95, 12.3, 0.45, [("small", item.footer)], size=10).name = "Footer"
    slide.notes_slide.notes_text_frame.text = item.notes


def _set_properties(prs, content: PackContent) -> None:
    props = prs.core_properties
    record = content.provenance
    props.title = f"{PACK_TITLE}: {content.comparison.label}"
    props.subject = f"{PLAN_TITLE}; current period {record.get('period')}; baseline {record.get('comparison')}"
    props.author = f"Crime Plan Monitor {__version__}"
    props.keywords = f"load_fingerprint={record['load_fingerprint']}; version={__version__}"
    props.comments = compact_provenance(record)
    props.category = "Panel briefing"
    props.version = __version__
    props.created = datetime.fromisoformat(record["generated_at"]).replace(tzinfo=None)
    props.modified = props.created
    props.last_modified_by = props.author
    props.revision = 1


def _pptx(content: PackContent) -> bytes:
    from pptx import Presentation
    from pptx.util import Emu

    prs = Presentation()
    prs.slide_width, prs.slide_height = Emu(SLIDE_WIDTH_EMU), Emu(SLIDE_HEIGHT_EMU)
    for item in content.slides:
        _draw_slide(prs.slides.add_slide(prs.slide_layouts[6]), item, content.provenance)
    _set_properties(prs, content)
    out = BytesIO()
    prs.save(out)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# PDF: each slide as a page rendered by kaleido (the chart keeps its vectors), merged with pypdf
# ---------------------------------------------------------------------------------------------
PAGE_WIDTH_PX, PAGE_HEIGHT_PX = 1600, 900


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width) or [""]


def _text_html(lines: list[tuple[str, str]], width_chars: int) -> str:
    out = []
    for style, text in lines:
        wrapped = "<br>".join(_escape(part) for part in _wrap(text, width_chars))
        if style in ("head", "warn"):
            colour = "#B03A00" if style == "warn" else "#1A1A1A"
            out.append(f"<b><span style='color:{colour}'>{wrapped}</span></b>")
        elif style == "small":
            out.append(f"<span style='font-size:13px;color:#555'>{wrapped}</span>")
        else:
            out.append(wrapped)
    return "<br>".join(out)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _page_table(table: pd.DataFrame, x: list[float], y: list[float], font_size: int = 12):
    import plotly.graph_objects as go

    widths = [max([len(str(c))] + [len(str(v)) for v in table[c]]) for c in table.columns]
    return go.Table(
        domain=dict(x=x, y=y), columnwidth=[min(max(w, 6), 60) for w in widths],
        header=dict(values=[f"<b>{_escape(str(c))}</b>" for c in table.columns], fill_color="#DDE6F0",
                    align="left", font=dict(size=font_size)),
        cells=dict(values=[[_escape(str(v)) for v in table[c]] for c in table.columns], align="left",
                   font=dict(size=font_size - 1), height=22),
    )


def _page_figure(item: SlideContent):
    """One PDF page (1600 x 900 px) for a slide: title, chart (left), key figures (right), table, footer."""
    import plotly.graph_objects as go

    from charts.theme import TEMPLATE_NAME

    has_chart = item.figure is not None
    lines = list(item.lines)
    if has_chart:
        fig = go.Figure(item.figure)
        caption = (fig.layout.meta or {}).get("caption") if isinstance(fig.layout.meta, dict) else None
        # the chart's caption moves beside it (the page's footer takes the chart's bottom margin)
        fig.layout.annotations = [a for a in fig.layout.annotations if (a.text or "").replace("<br>", " ") != caption]
        if caption:
            lines.append(("small", caption))
        fig.update_layout(xaxis=dict(domain=[0.0, 0.6]), yaxis=dict(domain=[0.0, 0.9]),
                          legend=dict(x=0, y=0.92, yanchor="bottom", xanchor="left"))
    else:
        fig = go.Figure()
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
    fig.update_layout(template=TEMPLATE_NAME, width=PAGE_WIDTH_PX, height=PAGE_HEIGHT_PX,
                      margin=dict(l=60, r=40, t=110, b=120), showlegend=has_chart,
                      title=dict(text=f"<b>{_escape(item.title)}</b>", x=0.03, xanchor="left", y=0.97,
                                 yanchor="top", font=dict(size=26)))
    if item.kind == "table" and item.table is not None:
        fig.add_trace(_page_table(item.table, [0.0, 1.0], [0.0, 0.78 if item.lines else 0.9], font_size=13))
        text_y, text_x, width_chars = 1.0, 0.0, 170
    elif has_chart:
        text_y, text_x, width_chars = 0.98, 0.64, 58
        if item.table is not None:
            fig.add_trace(_page_table(item.table, [0.64, 1.0], [0.0, 0.3]))
            fig.add_annotation(text=f"<b>{_escape(item.table_title)}</b>", x=0.64, y=0.31, xref="paper",
                               yref="paper", xanchor="left", yanchor="bottom", showarrow=False, font=dict(size=13))
    else:
        text_y, text_x, width_chars = 0.98, 0.0, 140
    fig.add_annotation(text=_text_html(lines, width_chars), x=text_x, y=text_y, xref="paper", yref="paper",
                       xanchor="left", yanchor="top", align="left", showarrow=False,
                       font=dict(size=15 if has_chart else 17))
    fig.add_annotation(text="<br>".join(_escape(p) for p in _wrap(item.footer, 190)), x=0, y=0, yshift=-62,
                       xref="paper", yref="paper", xanchor="left", yanchor="top", align="left", showarrow=False,
                       font=dict(size=11, color="#555"))
    return fig


def _pdf(content: PackContent) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for item in content.slides:
        page = figure_bytes(_page_figure(item), "pdf", width=PAGE_WIDTH_PX, height=PAGE_HEIGHT_PX)
        for pdf_page in PdfReader(BytesIO(page)).pages:
            writer.add_page(pdf_page)
    record = content.provenance
    writer.add_metadata({
        "/Title": f"{PACK_TITLE}: {content.comparison.label}",
        "/Author": f"Crime Plan Monitor {__version__}",
        "/Subject": PLAN_TITLE,
        "/Keywords": f"load_fingerprint={record['load_fingerprint']}",
        "/Provenance": json.dumps(record, default=str, sort_keys=True),
    })
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------
def build_pack_bytes(con: duckdb.DuckDBPyConnection, comparison: Any = "latest12", filters: Filters | None = None,
                     *, formats: Sequence[str] = ("pptx",), **options: Any) -> dict[str, bytes]:
    """The pack in memory for a download button: {'pptx': bytes, 'pdf': bytes} for the `formats` asked, plus
    'provenance.json'. comparison: a metrics.plan.Comparison, a preset name, or (pre, post) month ranges;
    `options` as pack_content (rule, priority_ids, generated_at, db_label)."""
    content = pack_content(con, comparison, filters, **options)
    out = {"provenance.json": json.dumps(content.provenance, indent=2, default=str, sort_keys=True).encode()}
    for fmt in formats:
        out[fmt] = {"pptx": _pptx, "pdf": _pdf}[fmt](content)
    return out


def build_pack(con: duckdb.DuckDBPyConnection, comparison: Any = "latest12", filters: Filters | None = None,
               out_path: str | Path = "pack.pptx", pdf: bool = False, **options: Any) -> Path:
    """Write the pack to `out_path` (PPTX), its JSON provenance sidecar beside it, and with pdf=True the
    same pack as `out_path` with a .pdf suffix. Returns the PPTX path. `options` as pack_content."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    content = pack_content(con, comparison, filters, **options)
    out_path.write_bytes(_pptx(content))
    write_sidecar(out_path, content.provenance)
    if pdf:
        out_path.with_suffix(".pdf").write_bytes(_pdf(content))
    return out_path


def pack_downloads(
    db_path: str | Path,
    comparison: Any = "latest12",
    filters: Filters | None = None,
    *,
    pdf: bool = False,
    lazy: bool = True,
) -> list:
    """Download buttons' content for the pack: [Download('Briefing pack (PPTX)', ...)] (and the PDF when
    asked). lazy=True: each `data` is a callable that opens its own read-only connection to `db_path`
    and builds the pack when called (Streamlit calls it on click, in another thread)."""
    from briefing.images import Download
    from etl.warehouse import connect_read_only

    def make(kind: str) -> bytes:
        con = connect_read_only(db_path)
        try:
            return build_pack_bytes(con, comparison, filters, formats=(kind,))[kind]
        finally:
            con.close()

    stem = f"briefing-pack-{datetime.now(timezone.utc):%Y%m%d}"
    kinds = [("pptx", "Briefing pack (PPTX)", PPTX_MIME)] + ([("pdf", "Briefing pack (PDF)", PDF_MIME)] if pdf else [])
    out = []
    for kind, label, mime in kinds:
        render = functools.partial(make, kind)
        out.append(Download(label, render if lazy else render(), f"{stem}.{kind}", mime))
    return out
