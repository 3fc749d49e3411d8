"""The Panel briefing pack: a PPTX (16:9) built without a browser, optionally the same as one PDF.

Slides:
1. Title: the plan, the force, the periods compared, the data-as-at month of every source, when it was
   produced (and the synthetic-data warning for a demo warehouse).
2. Scorecard: every measure of the plan (`metrics.plan.scorecard`, the Overview's call) with its latest
   value, change and 95% interval, and significance after Benjamini–Hochberg control.
3. One slide per plan priority (1–7): the headline chart (`charts.figures.trend_chart` of the priority's
   first loaded measure, expected band fitted before the current period, lockdowns shaded), the key
   figures of every measure of the priority (count in the period, change against the baseline with its
   interval, the latest month against expected), and, for street-level measures, the LSOAs with most
   crimes in the period after disclosure control. Source and as-at date in the footer; caveats, methods
   and sources in the notes. Every picture has alt text.
4. About this pack: provenance (filters, load fingerprint, version, generated at), methods, disclosure rule.

The measures, their filters and their statistics come from `metrics.plan` (the same calls as the views);
charts from `charts.figures`; nothing is computed a second way here.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from io import BytesIO
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from briefing import __version__
from briefing.disclosure import DisclosureRule, protect_frame
from briefing.images import figure_alt_text, figure_bytes
from briefing.provenance import provenance_for, provenance_lines, write_sidecar
from metrics.filters import Filters, add_months, month_start

PLAN_TITLE = "Police and Crime Plan 2016–2021"
PACK_TITLE = "Police, Fire and Crime Panel briefing"
SLIDE_WIDTH_EMU, SLIDE_HEIGHT_EMU = 12_192_000, 6_858_000   # 13.333 x 7.5 in, 16:9 (PowerPoint's widescreen)
CHART_MONTHS = 36            # months shown on a headline chart (the comparison periods at least)
PACK_CHART_WIDTH_PX, PACK_CHART_HEIGHT_PX, PACK_CHART_SCALE = 960, 540, 8 / 3   # 2560 x 1440 px, 8.2 in wide
HOTSPOT_ROWS = 5             # LSOAs listed on a priority slide
HOTSPOT_FAMILIES = ("crimes",)
PPTX_MIME = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
PDF_MIME = "application/pdf"
DEMO_WARNING = "Demo data — synthetic: the numbers in this pack are invented and must not be quoted as real."
METHODS_TEXT = (
    "Change: rate per month in the current period against the baseline period; exact Poisson 95% interval of "
    "the rate ratio (conditional binomial method); significance after Benjamini–Hochberg control of false "
    "discoveries across every measure of the scorecard (q < 0.05). Expected: seasonal ARIMA on log counts "
    "(lowest AICc) fitted on the months before the current period, leaving out the COVID-19 restrictions and "
    "other marked disruptions, with its 95% prediction interval; none with fewer than 24 months of history."
)


# ---------------------------------------------------------------------------------------------
# content (no python-pptx here: the same content feeds the PPTX and the PDF)
# ---------------------------------------------------------------------------------------------
@dataclass
class SlideContent:
    """What one slide says. `figure`: the headline Plotly figure (None: text only)."""

    title: str
    lines: list[tuple[str, str]] = field(default_factory=list)     # (style, text): 'head', 'body', 'small'
    figure: Any = None
    alt_text: str = ""
    table: pd.DataFrame | None = None                              # already disclosure-controlled, as text
    table_title: str = ""
    footer: str = ""
    notes: str = ""
    kind: str = "priority"                                          # 'title', 'scorecard', 'priority', 'about'


@dataclass
class PackContent:
    slides: list[SlideContent]
    provenance: dict[str, Any]
    comparison: Any
    scorecard: pd.DataFrame


def _fmt_count(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{float(value):,.0f}"


def _fmt_pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if math.isinf(value):
        return "no baseline"
    return f"{value:+.1f}%"


def _month_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    value = pd.Timestamp(value)
    return f"{value:%b %Y}"


def resolve_pack_comparison(
    con: duckdb.DuckDBPyConnection,
    comparison: Any = "latest12",
    filters: Filters | None = None,
):
    """A `metrics.plan.Comparison` from a Comparison, a preset name ('latest12', 'covid'), or a
    ((pre first, pre last), (post first, post last)) pair, within the months of street-level crime
    loaded for the force (any loaded family when there is none)."""
    from metrics.plan import Comparison, resolve_comparison
    from metrics.series import data_range

    if isinstance(comparison, Comparison):
        return comparison
    force = Filters(force_id=(filters or Filters()).force_id)
    first, last = data_range(con, "crimes", force)
    if first is None:
        for family in ("incidents", "casualties", "fraud", "stop_search"):
            first, last = data_range(con, family, force)
            if first is not None:
                break
    if isinstance(comparison, (tuple, list)) and len(comparison) == 2:
        pre, post = comparison
        resolved = resolve_comparison(first, last, "custom", tuple(pre), tuple(post))
    else:
        resolved = resolve_comparison(first, last, str(comparison or "latest12"))
    if resolved is None:
        raise ValueError("the warehouse holds no crime, incident, casualty, fraud or stop-and-search months: "
                         "load data first (python -m etl load ... or python -m etl demo)")
    return resolved


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


def _is_demo(con: duckdb.DuckDBPyConnection) -> bool:
    rows = con.execute("select value from meta where key = 'dataset'").fetchall()
    return bool(rows) and rows[0][0] == "demo"


def _measure_lines(row: pd.Series, comparison) -> list[tuple[str, str]]:
    """Key figures of one scorecard row as text lines."""
    from charts.figures import significance_mark
    from metrics.plan import period_label

    lines = [("head", str(row["label"]) + (" (proxy)" if bool(row["is_proxy"]) else ""))]
    if not bool(row["available"]):
        lines.append(("small", "Not loaded in this warehouse: the notes say which file supplies it and how to load it."))
        return lines
    unit_noun = str(row["unit"]).replace(" per month", "")
    if pd.notna(row["post_count"]):
        per_month = float(row["post_count"]) / float(row["post_months"])
        lines.append(("body", f"{_fmt_count(row['post_count'])} {unit_noun} in {period_label(comparison.post)} "
                              f"({per_month:,.1f} per month)"))
        pre_per_month = float(row["pre_count"]) / float(row["pre_months"])
        lines.append(("body", f"Change against {period_label(comparison.pre)} ({_fmt_count(row['pre_count'])}, "
                              f"{pre_per_month:,.1f} per month): {_fmt_pct(row['pct_change'])} "
                              f"(95% CI {_fmt_pct((row['ci_lower'] - 1) * 100)} to "
                              f"{_fmt_pct((row['ci_upper'] - 1) * 100)}); "
                              f"{significance_mark(row['q_value'], row['rate_ratio']).lstrip('–▲▼ ').strip()}"))
    elif row.get("note"):
        lines.append(("body", str(row["note"])))
    latest = f"Latest month {_month_text(row['latest_month'])}: {_fmt_count(row['latest_value'])}"
    if pd.notna(row.get("expected_latest")):
        flag = {"above": "above the expected range", "below": "below the expected range",
                "within": "within the expected range"}.get(row["expected_flag"], "not compared")
        latest += (f" against {_fmt_count(row['expected_latest'])} expected "
                   f"(95% range {_fmt_count(row['expected_lower'])}–{_fmt_count(row['expected_upper'])}): {flag}")
    lines.append(("small", latest + (f". Expected: {row['expected_basis']}" if row.get("expected_basis") else "")))
    return lines


def _headline_measure(card: pd.DataFrame, priority_id: str):
    """The priority's headline measure: its first loaded non-proxy measure, else its first loaded proxy."""
    from metrics.plan import MEASURE_BY_ID, measures_for

    available = set(card.loc[card["available"].astype(bool), "measure_id"])
    items = [m for m in measures_for(priority_id) if m.in_scorecard]
    for item in items:
        if item.id in available and not item.is_proxy:
            return MEASURE_BY_ID[item.id]
    for item in items:
        if item.id in available:
            return MEASURE_BY_ID[item.id]
    return None


def headline_figure(con: duckdb.DuckDBPyConnection, item, filters: Filters | None, comparison):
    """The trend chart of a measure for the pack: the last CHART_MONTHS months (and at least both
    comparison periods), its expected band fitted on the months before the current period, lockdowns."""
    from charts.figures import trend_chart
    from metrics import calendar
    from metrics.plan import measure_expected, measure_series, period_label
    from metrics.series import data_range

    first, last = data_range(con, item.family, Filters(force_id=(filters or Filters()).force_id))
    start = max(first, min(add_months(last, -(CHART_MONTHS - 1)), comparison.pre[0]))
    full = measure_series(con, item, filters, first, last)
    shown = full[pd.to_datetime(full["month"]) >= pd.Timestamp(start)]
    model = measure_expected(con, item.id, filters, comparison)  # the views' stored baseline, same call
    projected = model[~model["in_fit"].astype(bool)] if model.attrs.get("method") else model.iloc[0:0]
    expected = projected.assign(month=pd.to_datetime(projected["month"]))[["month", "expected", "lower", "upper"]]
    expected = expected if len(expected) else None
    unit = str(item.unit)
    fig = trend_chart(
        shown, title=f"{item.label}, {period_label((month_start(start), last))}",
        y_label=unit[0].upper() + unit[1:], source=item.source, as_at=last, expected=expected,
        lockdowns=calendar.lockdowns(),
        note=(f"Expected: {model.attrs['basis']}" if expected is not None else None),
    )
    return fig


def hotspot_table(con: duckdb.DuckDBPyConnection, item, filters: Filters | None, comparison,
                  rule: DisclosureRule, rows: int = HOTSPOT_ROWS) -> tuple[pd.DataFrame, str] | None:
    """The LSOAs with most of the measure's crimes in the current period (`metrics.hotspots.top_lsoas`, the
    views' call) with their rate per 1,000 residents, after disclosure control, as display text. None for
    families without LSOAs."""
    from metrics.hotspots import top_lsoas
    from metrics.plan import measure_filters

    if item.family not in HOTSPOT_FAMILIES or item.flag:
        return None
    scoped = measure_filters(item, filters)
    frame = top_lsoas(con, comparison.post[0], comparison.post[1], scoped, limit=rows)
    if frame.empty:
        return None
    result = protect_frame(frame, rule=rule, filters=scoped)
    table = result.frame
    text = pd.DataFrame({
        "LSOA": table["lsoa_name"].fillna(table["lsoa_code"]).astype(str),
        "Count": [v if isinstance(v, str) else _fmt_count(v) for v in table["count"]],
        "Per 1,000 residents": [v if isinstance(v, str) else ("—" if pd.isna(v) else f"{v:,.1f}")
                                for v in table["rate_per_1000"]],
    })
    return text, result.note


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
    """Everything the pack shows, computed once (for the PPTX and the PDF)."""
    from charts.figures import format_as_at
    from metrics.plan import (
        MEASURE_BY_ID,
        PRIORITIES,
        measures_for,
        period_label,
        scorecard,
    )

    rule = rule or DisclosureRule()
    filters = filters or Filters()
    comparison = resolve_pack_comparison(con, comparison, filters)
    force_id, force_label = _force_label(con, filters)
    if force_id and not filters.force_id:
        filters = Filters(force_id=force_id, districts=filters.districts, categories=filters.categories)
    generated_at = (generated_at or datetime.now(timezone.utc)).replace(microsecond=0)
    card = scorecard(con, filters, comparison)
    demo = _is_demo(con)
    record = provenance_for(
        con, filters, generated_at=generated_at, period=list(comparison.post), comparison=list(comparison.pre),
        comparison_label=comparison.label, title=PACK_TITLE, disclosure=rule.describe(),
        **({"database": db_label} if db_label else {}),
    )
    footer_tail = f"Crime Plan Monitor {__version__} · data fingerprint {record['load_fingerprint']}"
    if demo:
        footer_tail = "DEMO DATA — SYNTHETIC · " + footer_tail

    slides: list[SlideContent] = []
    # ---- title
    as_at = (card[card["available"].astype(bool)].groupby("source", sort=False)["as_at"].max())
    title_lines = [
        ("head", f"{PLAN_TITLE} — {force_label}"),
        ("body", f"Current period {period_label(comparison.post)} compared with {period_label(comparison.pre)}"),
    ]
    if comparison.notice:
        title_lines.append(("small", comparison.notice))
    if filters.districts:
        title_lines.append(("body", "Districts: " + ", ".join(filters.districts)))
    title_lines.append(("head", "Data as at"))
    for source, month in as_at.items():
        title_lines.append(("body", f"{source}: {format_as_at(month)}"))
    title_lines.append(("small", f"Produced {generated_at:%d %b %Y %H:%M} UTC by Crime Plan Monitor {__version__}"))
    if demo:
        title_lines.insert(0, ("warn", DEMO_WARNING))
    slides.append(SlideContent(PACK_TITLE, title_lines, footer=footer_tail, kind="title",
                               notes="Provenance: " + json.dumps(record, default=str, sort_keys=True)))

    # ---- scorecard
    rows = []
    for _, row in card.iterrows():
        if bool(row["available"]) and pd.notna(row["post_count"]):
            change = f"{_fmt_pct(row['pct_change'])} ({_fmt_pct((row['ci_lower'] - 1) * 100)} to {_fmt_pct((row['ci_upper'] - 1) * 100)})"
            from charts.figures import significance_mark

            sig = significance_mark(row["q_value"], row["rate_ratio"])
        else:
            change, sig = "—", ("not loaded" if not bool(row["available"]) else "—")
        rows.append({
            "Priority": "" if pd.isna(row["priority_number"]) else str(int(row["priority_number"])),
            "Measure": str(row["label"]),
            period_label(comparison.post): _fmt_count(row["post_count"]) if bool(row["available"]) else "—",
            period_label(comparison.pre): _fmt_count(row["pre_count"]) if bool(row["available"]) else "—",
            "Change (95% CI)": change,
            "Significance": sig,
        })
    slides.append(SlideContent(
        "Scorecard: every measure of the plan", [("small", card.attrs.get("note", METHODS_TEXT))],
        table=pd.DataFrame(rows), table_title="", kind="scorecard",
        footer="Sources: " + "; ".join(sorted(set(card["source"].astype(str)))) + ". " + footer_tail,
        notes=METHODS_TEXT + "\n\n" + "\n".join(f"{r['label']}: {r['caveats']}" for _, r in card.iterrows()),
    ))

    # ---- one slide per priority
    wanted = [p for p in PRIORITIES if p.number is not None and (not priority_ids or p.id in priority_ids)]
    for prio in wanted:
        items = [m for m in measures_for(prio.id) if m.in_scorecard]
        rows_here = card[card["measure_id"].isin([m.id for m in items])]
        lines: list[tuple[str, str]] = []
        for _, row in rows_here.iterrows():
            lines.extend(_measure_lines(row, comparison))
        headline = _headline_measure(card, prio.id)
        figure, alt, table, table_title, note = None, "", None, "", ""
        if headline is not None:
            figure = headline_figure(con, headline, filters, comparison)
            alt = figure_alt_text(figure)
            hot = hotspot_table(con, headline, filters, comparison, rule)
            if hot is not None:
                table, note = hot
                table_title = f"LSOAs with most: {headline.label}, {period_label(comparison.post)}"
        sources = sorted({str(r["source"]) for _, r in rows_here.iterrows()})
        as_at_texts = sorted({f"{format_as_at(r['as_at'])}" for _, r in rows_here.iterrows()
                              if bool(r["available"]) and pd.notna(r["as_at"])})
        footer = (f"Source: {'; '.join(sources)}. Data as at {', '.join(as_at_texts) or 'not loaded'}. "
                  + footer_tail)
        notes = [f"Priority {prio.number}: {prio.title}.", METHODS_TEXT]
        for _, row in rows_here.iterrows():
            item = MEASURE_BY_ID[row["measure_id"]]
            notes.append(f"{item.label} — source: {item.source}. Caveats: {item.caveats or 'none recorded'}"
                         + (f" Proxy for {MEASURE_BY_ID[item.proxy_for].label.lower()}." if item.proxy_for else "")
                         + (f" {row['note']}" if isinstance(row["note"], str) and row["note"] else "")
                         + ("" if bool(row["available"]) else
                            f" Not loaded: needs {item.needs_file}. Load with: {item.load_command}"))
        if table is not None:
            notes.append("Disclosure control: " + (note or rule.describe()))
        if headline is None:
            lines.append(("small", "No measure of this priority is loaded, so there is no chart."))
        slides.append(SlideContent(f"{prio.number}. {prio.title}", lines, figure=figure, alt_text=alt,
                                   table=table, table_title=table_title, footer=footer, notes="\n\n".join(notes)))

    # ---- about
    about_lines = [("head", "Provenance: how to reproduce this pack")]
    about_lines += [("small", f"{label}: {text}") for label, text in provenance_lines(record)]
    about_lines += [("head", "Methods"), ("small", METHODS_TEXT), ("head", "Disclosure control"),
                    ("small", rule.describe())]
    command = "python -m briefing --db PATH"
    command += f" --period {comparison.post[0]:%Y-%m}..{comparison.post[1]:%Y-%m}"
    command += f" --compare {comparison.pre[0]:%Y-%m}..{comparison.pre[1]:%Y-%m}"
    if filters.force_id:
        command += f" --force {filters.force_id}"
    for district in filters.districts:
        command += f" --district '{district}'"
    about_lines.append(("small", f"Rebuild: {command} --out pack.pptx (on a warehouse with the same data fingerprint)"))
    slides.append(SlideContent("About this pack", about_lines, footer=footer_tail, kind="about",
                               notes=json.dumps(record, indent=2, default=str, sort_keys=True)))
    return PackContent(slides, record, comparison, card)


# ---------------------------------------------------------------------------------------------
# PPTX
# ---------------------------------------------------------------------------------------------
STYLE_OFFSETS = {"head": 2, "body": 0, "small": -2, "warn": 0}


def fit_font_size(lines: list[tuple[str, str]], width_in: float, height_in: float, size: int, min_size: int = 7) -> int:
    """The largest body font size (points, at most `size`) at which the lines, wrapped, fit the box
    (estimate: average character 0.5 em wide, line height 1.2 em, 8 pt before each heading)."""
    import math as _math

    for candidate in range(size, min_size - 1, -1):
        total_pt = 0.0
        for style, text in lines:
            points = candidate + STYLE_OFFSETS[style]
            chars_per_line = max(int((width_in - 0.2) * 72 / (points * 0.5)), 1)
            wrapped = max(_math.ceil(len(text) / chars_per_line), 1)
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


def _pptx(content: PackContent) -> bytes:
    from pptx import Presentation
    from pptx.dml.color import RGBColor
    from pptx.util import Emu, Inches, Pt

    dark, muted, warn = RGBColor(0x1A, 0x1A, 0x1A), RGBColor(0x55, 0x55, 0x55), RGBColor(0xB0, 0x3A, 0x00)
    prs = Presentation()
    prs.slide_width, prs.slide_height = Emu(SLIDE_WIDTH_EMU), Emu(SLIDE_HEIGHT_EMU)
    blank = prs.slide_layouts[6]

    def text_box(slide, left, top, width, height, lines, size=12):
        size = fit_font_size(lines, width, height, size)
        box = slide.shapes.add_textbox(Inches(left), Inches(top), Inches(width), Inches(height))
        frame = box.text_frame
        frame.word_wrap = True
        first = True
        for style, text in lines:
            para = frame.paragraphs[0] if first else frame.add_paragraph()
            first = False
            run = para.add_run()
            run.text = text
            run.font.size = Pt(size + STYLE_OFFSETS[style])
            run.font.bold = style in ("head", "warn")
            run.font.color.rgb = warn if style == "warn" else (muted if style == "small" else dark)
            if style == "head" and para is not frame.paragraphs[0]:
                para.space_before = Pt(8)
        return box

    def add_table(slide, frame: pd.DataFrame, left, top, width, height, size=10, widths=None):
        shape = slide.shapes.add_table(len(frame) + 1, len(frame.columns), Inches(left), Inches(top),
                                       Inches(width), Inches(height))
        table = shape.table
        if widths:
            for column, share in zip(table.columns, widths):
                column.width = Inches(width * share / sum(widths))
        for row in table.rows:
            row.height = Inches(height / (len(frame) + 1))
        for c, name in enumerate(frame.columns):
            table.cell(0, c).text = str(name)
        for r, values in enumerate(frame.itertuples(index=False, name=None), start=1):
            for c, value in enumerate(values):
                table.cell(r, c).text = "" if value is None else str(value)
        for r in range(len(frame) + 1):
            for c in range(len(frame.columns)):
                for para in table.cell(r, c).text_frame.paragraphs:
                    for run in para.runs:
                        run.font.size = Pt(size)
                        run.font.bold = r == 0
        return shape

    for item in content.slides:
        slide = prs.slides.add_slide(blank)
        title_size = 30 if item.kind == "title" else 24
        title_box = text_box(slide, 0.5, 0.3 if item.kind != "title" else 1.2, 12.3, 0.8, [("head", item.title)],
                             size=title_size - 2)
        title_box.name = "Title"
        if item.kind == "title":
            text_box(slide, 0.5, 2.3, 12.3, 4.3, item.lines, size=16)
        elif item.kind == "about":
            text_box(slide, 0.5, 1.1, 12.3, 5.6, item.lines, size=12)
        elif item.kind == "scorecard":
            text_box(slide, 0.5, 1.0, 12.3, 0.5, item.lines, size=11)
            add_table(slide, item.table, 0.5, 1.5, 12.3, min(0.3 * (len(item.table) + 1), 5.3), size=10,
                      widths=[0.9, 4.2, 1.3, 1.3, 2.6, 2.0])
        else:
            if item.figure is not None:
                png = figure_bytes(item.figure, "png", width=PACK_CHART_WIDTH_PX, height=PACK_CHART_HEIGHT_PX,
                                   scale=PACK_CHART_SCALE, provenance=content.provenance)
                picture = slide.shapes.add_picture(BytesIO(png), Inches(0.4), Inches(1.15), width=Inches(8.2))
                picture.name = "Headline chart"
                c_nv_pr = picture._element.nvPicPr.cNvPr
                c_nv_pr.set("descr", item.alt_text)
                c_nv_pr.set("title", item.figure.layout.title.text or "Chart")
            if item.figure is None:
                text_box(slide, 0.5, 1.1, 12.3, 5.6, item.lines, size=14)
            else:
                text_box(slide, 8.8, 1.1, 4.2, 3.4 if item.table is not None else 5.6, item.lines, size=11)
            if item.table is not None:
                text_box(slide, 8.8, 4.55, 4.2, 0.3, [("small", item.table_title)], size=11)
                add_table(slide, item.table, 8.8, 4.9, 4.2, 0.3 * (len(item.table) + 1), size=9,
                          widths=[2.0, 0.9, 1.3])
        footer = text_box(slide, 0.5, 6.95, 12.3, 0.45, [("small", item.footer)], size=10)
        footer.name = "Footer"
        slide.notes_slide.notes_text_frame.text = item.notes

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
    if has_chart:
        fig = go.Figure(item.figure)
        caption = (fig.layout.meta or {}).get("caption") if isinstance(fig.layout.meta, dict) else None
        fig.layout.annotations = [a for a in fig.layout.annotations if a.text != caption]
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
    if item.kind == "scorecard" and item.table is not None:
        fig.add_trace(_page_table(item.table, [0.0, 1.0], [0.0, 0.9], font_size=13))
        text_y, text_x, width_chars = 1.0, 0.0, 170
    elif has_chart:
        text_y, text_x, width_chars = 0.98, 0.64, 58
        if item.table is not None:
            fig.add_trace(_page_table(item.table, [0.64, 1.0], [0.0, 0.3]))
            fig.add_annotation(text=f"<b>{_escape(item.table_title)}</b>", x=0.64, y=0.31, xref="paper",
                               yref="paper", xanchor="left", yanchor="bottom", showarrow=False, font=dict(size=13))
    else:
        text_y, text_x, width_chars = 0.98, 0.0, 140
    fig.add_annotation(text=_text_html(item.lines, width_chars), x=text_x, y=text_y, xref="paper", yref="paper",
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
def build_pack_bytes(
    con: duckdb.DuckDBPyConnection,
    comparison: Any = "latest12",
    filters: Filters | None = None,
    *,
    pdf: bool = False,
    rule: DisclosureRule | None = None,
    priority_ids: Sequence[str] | None = None,
    generated_at: datetime | None = None,
) -> dict[str, bytes]:
    """The pack in memory for a download button: {'pptx': bytes} (and 'pdf' when asked), plus
    'provenance.json'. comparison: a metrics.plan.Comparison, a preset name, or (pre, post) month ranges."""
    content = pack_content(con, comparison, filters, rule=rule, priority_ids=priority_ids, generated_at=generated_at)
    out = {"pptx": _pptx(content),
           "provenance.json": json.dumps(content.provenance, indent=2, default=str, sort_keys=True).encode()}
    if pdf:
        out["pdf"] = _pdf(content)
    return out


def build_pack(
    con: duckdb.DuckDBPyConnection,
    comparison: Any = "latest12",
    filters: Filters | None = None,
    out_path: str | Path = "pack.pptx",
    pdf: bool = False,
    *,
    rule: DisclosureRule | None = None,
    priority_ids: Sequence[str] | None = None,
    generated_at: datetime | None = None,
    db_label: str | None = None,
) -> Path:
    """Write the pack to `out_path` (PPTX), its JSON provenance sidecar beside it, and with pdf=True the
    same pack as `out_path` with a .pdf suffix. Returns the PPTX path."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    content = pack_content(con, comparison, filters, rule=rule, priority_ids=priority_ids,
                           generated_at=generated_at, db_label=db_label)
    out_path.write_bytes(_pptx(content))
    write_sidecar(out_path, content.provenance)
    if pdf:
        pdf_path = out_path.with_suffix(".pdf")
        pdf_path.write_bytes(_pdf(content))
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
            return build_pack_bytes(con, comparison, filters, pdf=kind == "pdf")[kind]
        finally:
            con.close()

    stem = f"briefing-pack-{datetime.now(timezone.utc):%Y%m%d}"
    kinds = [("pptx", "Briefing pack (PPTX)", PPTX_MIME)] + ([("pdf", "Briefing pack (PDF)", PDF_MIME)] if pdf else [])
    out = []
    for kind, label, mime in kinds:
        render = functools.partial(make, kind)
        out.append(Download(label, render if lazy else render(), f"{stem}.{kind}", mime))
    return out
