"""Plotly figure builders for metric frames. One style (charts.theme), and every figure carries a title,
axis labels with units and a caption line "Source: … Data as at …" inside the figure, so a PNG/SVG
exported into a briefing paper keeps its provenance.

No Streamlit here: pages and the briefing pack call the same builders.
"""

from __future__ import annotations

import html
import json
import math
import textwrap
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from charts.formatting import as_at as format_as_at
from charts.formatting import join_labels  # noqa: F401  (kept for callers of charts.figures)
from charts.formatting import pct_change as format_pct_change  # noqa: F401  (charts.format_pct_change)
from charts.formatting import significance as significance_mark  # noqa: F401
from charts.memo import remembered, specification
from charts.theme import (
    EXPECTED_BAND_FILL,
    EXPECTED_COLOUR,
    FALL_COLOUR,
    HIGHLIGHT_COLOUR,
    LOCKDOWN_FILL,
    OBSERVED_COLOUR,
    RISE_COLOUR,
    SEQUENTIAL_SCALE,
    colour_for,
    use_as_default,
)

CAPTION_FONT = dict(size=11, color="#555")
CAPTION_WRAP = 150  # characters per caption line
CAPTION_LINE_PX = 15  # height of a caption line
CAPTION_NAME = "caption"  # the caption annotation's name (charts.figures.screen_figure leaves it out)
SCREEN_TITLE_PX = 30  # room the title takes above the plot (given back when the page writes the title as text)
SCREEN_TOP_PX = 16  # room left above the plot of a figure with no legend when the page writes its title


# ---------------------------------------------------------------------------------------------
# shared finishing: title, axis labels, caption
# ---------------------------------------------------------------------------------------------
def caption_text(source: str, as_at: date | datetime | str | None, note: str | None = None) -> str:
    """The caption line every chart carries."""
    text = f"Source: {source}. Data as at {format_as_at(as_at)}."
    if note:
        text += f" {note}"
    return text


def _new_figure(*args: Any, **kwargs: Any) -> go.Figure:
    """A new figure on the dashboard's template (charts.theme), whatever was imported before."""
    use_as_default()
    return go.Figure(*args, **kwargs)


def _finish(
    fig: go.Figure,
    *,
    title: str,
    source: str,
    as_at: Any,
    x_label: str | None = None,
    y_label: str | None = None,
    note: str | None = None,
    height: int = 420,
    caption_wrap: int = CAPTION_WRAP,
) -> go.Figure:
    caption = caption_text(source, as_at, note)
    lines = textwrap.wrap(caption, caption_wrap) or [""]
    bottom = 76 + CAPTION_LINE_PX * len(lines)
    fig.update_layout(  # the template is the default (charts.theme): set at the figure's creation, unvalidated
        title=dict(text=html.escape(title, quote=False)),  # Plotly reads tags (<a href>) in text: names are literal
        height=height + CAPTION_LINE_PX * (len(lines) - 1),
        margin=dict(l=left_margin(fig, bool(y_label)), r=20, t=80, b=bottom),
    )
    if x_label is not None:
        fig.update_xaxes(title_text=x_label)
    if y_label is not None:
        fig.update_yaxes(title_text=y_label)
    fig.add_annotation(
        text="<br>".join(lines), xref="paper", yref="paper", x=0, y=0, yshift=-(bottom - 8), xanchor="left",
        yanchor="bottom", name=CAPTION_NAME,
        showarrow=False, font=CAPTION_FONT, align="left",
    )
    fig.layout.meta = {"caption": caption, "source": source, "as_at": format_as_at(as_at)}
    return fig


def screen_figure(fig: go.Figure) -> tuple[go.Figure, str, str]:
    """(figure, title, caption) as the dashboard draws a chart: the page writes the title and the caption as text,
    which wraps to the screen's width (inside the figure a phone cuts them off), so this copy of the figure leaves
    them out and gives their room back. Exports and the briefing pack keep the figure whole. A figure `_finish` did
    not make comes back as it is, with no title or caption."""
    meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
    if "caption" not in meta:
        return fig, "", ""
    spec = specification(fig)  # a copy (plain dicts, quicker to read than the figure): the figure stays whole
    layout = spec["layout"]
    notes = [note for note in layout.get("annotations", ()) if note.get("name") == CAPTION_NAME]
    if not notes:
        return fig, "", ""
    layout["annotations"] = [note for note in layout["annotations"] if note.get("name") != CAPTION_NAME]
    title = html.unescape((layout.pop("title", None) or {}).get("text") or "")  # _finish escaped it for Plotly
    margin = dict(layout.get("margin", {}))
    top, bottom = int(margin.get("t", 0)), int(margin.get("b", 0))
    # the title's room goes; with no legend above the plot (Plotly draws one for two or more traces that may show
    # in it) all of it but a small gap
    in_legend = sum(1 for trace in spec["data"] if trace.get("showlegend") is not False)
    legend = layout.get("showlegend") is True or (layout.get("showlegend") is not False and in_legend >= 2)
    new_top = max(top - SCREEN_TITLE_PX, 0) if legend else min(top, SCREEN_TOP_PX)
    caption_px = CAPTION_LINE_PX * (notes[0].get("text", "").count("<br>") + 1) + 6  # its lines, the gap under them
    new_bottom = max(bottom - caption_px, 0)
    layout["margin"] = {**margin, "t": new_top, "b": new_bottom}
    if layout.get("height"):
        layout["height"] = int(layout["height"]) - (top - new_top) - (bottom - new_bottom)
    return go.Figure(spec, _validate=False), title, str(meta["caption"])


TICK_CHAR_PX = 7.2   # width of a digit or an average letter of the 13 px tick font
TICK_GAP_PX = 14     # tick mark, padding, and room to spare at the figure's edge
Y_TITLE_PX = 24      # a rotated y-axis title beside the tick labels


def y_tick_chars(fig: go.Figure) -> int:
    """Characters in the widest y-axis tick label the figure will show: the longest line of a category label (or of
    the tick texts drawn in their place), or the largest value with thousands separators (the axis may run 20% above
    the data, and a minus sign)."""
    ticktext = fig.layout.yaxis.ticktext
    if ticktext:  # labels drawn in place of the values (charts.figures.bar_chart's wrapped names)
        return max(len(part) for tick in ticktext for part in str(tick).split("<br>"))
    chars = 0
    for trace in fig.data:
        values = getattr(trace, "y", None)
        if values is None or len(values) == 0:
            continue
        items = list(values)
        if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in items):
            finite = [abs(float(v)) for v in items if math.isfinite(float(v))]
            decimals = 1 if finite and max(finite) < 10 else 0
            chars = max(chars, len(f"{max(finite, default=0) * 1.2:,.{decimals}f}") + 1)
        else:
            chars = max(chars, max(len(part) for v in items for part in str(v).split("<br>")))
    return chars


def left_margin(fig: go.Figure, y_title: bool) -> int:
    """Pixels left of the plot for the y-axis tick labels and title (Plotly's automargin is off, see charts.theme)."""
    chars = y_tick_chars(fig)
    if not chars:
        return 10
    return int(TICK_GAP_PX + TICK_CHAR_PX * chars + (Y_TITLE_PX if y_title else 0))


@remembered
def empty_figure(title: str, message: str, source: str = "", as_at: Any = None) -> go.Figure:
    """A figure that says why there is nothing to plot (never an empty frame of axes)."""
    fig = _new_figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font=dict(size=15, color="#555"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _finish(fig, title=title, source=source or "—", as_at=as_at, height=260)


# ---------------------------------------------------------------------------------------------
# time series
# ---------------------------------------------------------------------------------------------
def _period_rows(periods: Any) -> list[tuple[str, pd.Timestamp, pd.Timestamp]]:
    """Normalise lockdown periods: a frame (label|name, start, end), dicts, objects with .label/.start/.end
    or (label, start, end) tuples."""
    if periods is None:
        return []
    rows: list[tuple[str, pd.Timestamp, pd.Timestamp]] = []
    if isinstance(periods, pd.DataFrame):
        label_col = next((c for c in ("label", "name", "period") if c in periods.columns), None)
        for record in periods.to_dict("records"):
            rows.append((str(record[label_col]) if label_col else "", pd.Timestamp(record["start"]),
                         pd.Timestamp(record["end"])))
        return rows
    for item in periods:
        if isinstance(item, dict):
            label = item.get("label") or item.get("name") or ""
            rows.append((str(label), pd.Timestamp(item["start"]), pd.Timestamp(item["end"])))
        elif isinstance(item, (tuple, list)):
            label, start, end = item
            rows.append((str(label), pd.Timestamp(start), pd.Timestamp(end)))
        else:
            label = getattr(item, "label", None) or getattr(item, "name", "")
            rows.append((str(label), pd.Timestamp(item.start), pd.Timestamp(item.end)))
    return rows


# Lockdown labels are placed for the narrowest plot they must stay readable on (a phone: about 330 px of
# plot width, 10 px text at about 6.2 px a character): labels that would touch there go on another row.
LABEL_PLOT_WIDTH_PX = 330.0
LABEL_CHAR_PX = 6.2
LABEL_ROW_PX = 14


def lockdown_label_rows(periods: list[tuple[str, pd.Timestamp, pd.Timestamp]], x_min: pd.Timestamp,
                        x_max: pd.Timestamp, plot_width_px: float = LABEL_PLOT_WIDTH_PX) -> list[int]:
    """The label row (0 = top) of each period so that no two labels overlap on a plot `plot_width_px` wide
    spanning x_min..x_max (greedy: the first row where the label fits)."""
    days = max((x_max - x_min).days, 1)
    px_per_day = plot_width_px / days
    rows: list[int] = []
    row_free_from: list[float] = []  # px where each row is free again
    for label, start, end in periods:
        middle_px = ((start + (end - start) / 2) - x_min).days * px_per_day
        half = (len(label) * LABEL_CHAR_PX + 8) / 2
        row = next((i for i, free in enumerate(row_free_from) if middle_px - half > free), len(row_free_from))
        if row == len(row_free_from):
            row_free_from.append(middle_px + half)
        else:
            row_free_from[row] = middle_px + half
        rows.append(row)
    return rows


def add_lockdowns(fig: go.Figure, lockdowns: Any, x_min: Any = None, x_max: Any = None) -> go.Figure:
    """Shade each lockdown period (only those overlapping x_min..x_max when given) with a grey band and a
    short label at the top; labels that would touch on a narrow plot are put on rows below each other
    (`fig.layout.meta['lockdown_label_rows']` says how many rows)."""
    lo = pd.Timestamp(x_min) if x_min is not None else None
    hi = pd.Timestamp(x_max) if x_max is not None else None
    shown = [(label, start, end) for label, start, end in _period_rows(lockdowns)
             if (lo is None or end >= lo - pd.Timedelta(days=31)) and (hi is None or start <= hi + pd.Timedelta(days=31))]
    if not shown:
        return fig
    first = lo if lo is not None else min(start for _, start, _ in shown)
    last = hi if hi is not None else max(end for _, _, end in shown)
    rows = lockdown_label_rows(shown, first, last)
    for (label, start, end), row in zip(shown, rows):
        # what add_vrect makes, without its per-call walk over every subplot (13 ms a band)
        fig.add_shape(type="rect", xref="x", yref="y domain", x0=start, x1=end, y0=0, y1=1, fillcolor=LOCKDOWN_FILL,
                      line_width=0, layer="below")
        fig.add_annotation(x=start + (end - start) / 2, y=1.0, yref="paper", yanchor="top",
                           yshift=-2 - LABEL_ROW_PX * row, text=label, showarrow=False,
                           font=dict(size=10, color="#444"), bgcolor="rgba(255,255,255,0.7)")
    fig.layout.meta = {**(fig.layout.meta or {}), "lockdowns_shown": len(shown),
                       "lockdown_label_rows": max(rows) + 1}
    return fig


@remembered
def trend_chart(
    frame: pd.DataFrame,
    title: str,
    y_label: str,
    source: str,
    as_at: Any,
    expected: pd.DataFrame | None = None,
    lockdowns: Any = None,
    *,
    x: str = "month",
    y: str = "count",
    group: str | None = None,
    x_label: str = "Month",
    expected_columns: tuple[str, str, str] = ("expected", "lower", "upper"),
    note: str | None = None,
    height: int = 420,
) -> go.Figure:
    """A line per group (or one line) of `y` over `x`, with the expected band (expected, lower, upper
    columns of `expected`, indexed by the same `x`) and lockdown periods shaded.

    y_label carries the unit, e.g. "Crimes per month".
    """
    if frame is None or frame.empty:
        return empty_figure(title, "No data for this selection.", source, as_at)
    fig = _new_figure()
    xs_all = pd.to_datetime(frame[x])
    if expected is not None and not expected.empty:
        exp_col, lo_col, hi_col = expected_columns
        ex = expected.sort_values(x)
        ex_x = pd.to_datetime(ex[x])
        fig.add_trace(go.Scatter(x=ex_x, y=ex[hi_col], mode="lines", line=dict(width=0), hoverinfo="skip",
                                 showlegend=False, name="upper"))
        fig.add_trace(go.Scatter(x=ex_x, y=ex[lo_col], mode="lines", line=dict(width=0), fill="tonexty",
                                 fillcolor=EXPECTED_BAND_FILL, name="95% range", hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=ex_x, y=ex[exp_col], mode="lines", name="Expected",
                                 line=dict(color=EXPECTED_COLOUR, dash="dash", width=2)))
    if group:
        for index, (name, part) in enumerate(frame.groupby(group, sort=True)):
            part = part.sort_values(x)
            fig.add_trace(go.Scatter(x=pd.to_datetime(part[x]), y=part[y], mode="lines+markers", name=str(name),
                                     line=dict(color=colour_for(index), width=2), marker=dict(size=5)))
    else:
        part = frame.sort_values(x)
        fig.add_trace(go.Scatter(x=pd.to_datetime(part[x]), y=part[y], mode="lines+markers", name="Observed",
                                 line=dict(color=OBSERVED_COLOUR, width=2.5), marker=dict(size=6)))
    if lockdowns is not None:
        add_lockdowns(fig, lockdowns, xs_all.min(), xs_all.max())
        _headroom_for_labels(fig, frame[y], expected[expected_columns[2]] if expected is not None and not expected.empty
                             else None, height)
    fig.update_xaxes(range=[xs_all.min() - pd.Timedelta(days=12), xs_all.max() + pd.Timedelta(days=12)])
    if xs_all.nunique() <= 8:
        fig.update_xaxes(tickformat="%b %Y", dtick="M1")
    fig.update_yaxes(tickformat=",")
    return _finish(fig, title=title, source=source, as_at=as_at, x_label=x_label, y_label=y_label, note=note,
                   height=height)


def _headroom_for_labels(fig: go.Figure, values: pd.Series, upper: pd.Series | None, height: int) -> None:
    """Raise the top of a non-negative y axis so the lockdown label rows sit above the data."""
    rows = (fig.layout.meta or {}).get("lockdown_label_rows", 0)
    tops = [float(values.max())] + ([float(upper.max())] if upper is not None and len(upper) else [])
    top = max((t for t in tops if not math.isnan(t)), default=0.0)
    if not rows or top <= 0 or float(values.min()) < 0:
        return
    plot_px = max(height - 160, 120)  # the plot area inside the title, legend and caption margins
    fig.update_yaxes(range=[0, top / (1 - (LABEL_ROW_PX * rows + 8) / plot_px)])


def sparkline_values(frame: pd.DataFrame, y: str = "count", x: str = "month") -> list[float]:
    """The values of a series in time order, for a table sparkline (st.column_config.LineChartColumn)."""
    if frame is None or frame.empty:
        return []
    return [float(v) for v in frame.sort_values(x)[y].tolist()]


@remembered
def sparkline(values: Sequence[float], colour: str = OBSERVED_COLOUR) -> go.Figure:
    """A tiny axis-less line for a series (briefing tables)."""
    fig = _new_figure(go.Scatter(y=list(values), mode="lines", line=dict(color=colour, width=2), hoverinfo="skip"))
    fig.update_layout(height=40, width=140, margin=dict(l=0, r=0, t=0, b=0), showlegend=False)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, rangemode="normal")
    return fig


# ---------------------------------------------------------------------------------------------
# comparisons
# ---------------------------------------------------------------------------------------------
@remembered
def bar_chart(
    frame: pd.DataFrame,
    x: str,
    y: str,
    title: str,
    x_label: str,
    y_label: str,
    source: str,
    as_at: Any,
    *,
    horizontal: bool = True,
    highlight: str | None = None,
    label_column: str | None = None,
    value_format: str = ",.0f",
    note: str | None = None,
    height: int | None = None,
) -> go.Figure:
    """Bars of `x` (the value) per `y` (the label) when horizontal (sorted, largest at top), else vertical.
    `highlight` colours one label (e.g. the selected force) vermillion, the rest blue."""
    if frame is None or frame.empty:
        return empty_figure(title, "No data for this selection.", source, as_at)
    labels_col = y if horizontal else x
    values_col = x if horizontal else y
    data = frame.sort_values(values_col, ascending=horizontal)
    colours = [HIGHLIGHT_COLOUR if highlight is not None and str(v) == str(highlight) else OBSERVED_COLOUR
               for v in data[labels_col]]
    text = data[label_column] if label_column else data[values_col].map(lambda v: f"{v:{value_format}}")
    names = [str(v) for v in data[labels_col]]
    if horizontal:
        # bars both sides of zero: a value drawn outside the longest bars to the left would run into the names on
        # a narrow plot, so Plotly puts a value inside its bar where it fits there ("auto"), else outside
        diverging = bool((data[values_col] < 0).any())
        trace = go.Bar(x=data[values_col], y=names, orientation="h", marker_color=colours,
                       text=text, textposition="auto" if diverging else "outside", cliponaxis=False)
    else:
        trace = go.Bar(x=names, y=data[values_col], marker_color=colours, text=text,
                       textposition="outside", cliponaxis=False)
    fig = _new_figure(trace)
    # a long label is drawn on two lines (the bars keep their whole names: hover, exports), so the labels do not
    # take the width of a phone-wide plot
    ticks = [wrap_label(name) for name in names] if horizontal else names
    lines = max((tick.count("<br>") + 1 for tick in ticks), default=1)
    if horizontal and ticks != names:
        fig.update_yaxes(tickmode="array", tickvals=names, ticktext=ticks)
    if height is None:
        height = max(320, (26 if lines == 1 else 36) * len(data) + 170) if horizontal else 420
    fig.update_layout(showlegend=False, bargap=0.25)
    if horizontal:
        fig.update_xaxes(tickformat=",", rangemode="tozero")
        low, high = float(min(data[values_col].min(), 0)), float(max(data[values_col].max(), 0))
        span = (high - low) or 1.0
        # room beyond the longest bars for their values (more to the left, where a value outside its bar faces the
        # names)
        fig.update_xaxes(range=[low - (0.25 * span if low < 0 else 0), high + (0.18 * span if high > 0 else 0)])
    longest = max(len(part) for tick in ticks for part in tick.split("<br>")) if horizontal else 0
    return _finish(fig, title=title, source=source, as_at=as_at, x_label=x_label, y_label=y_label, note=note,
                   height=height, caption_wrap=max(70, CAPTION_WRAP - longest))


@remembered
def change_chart(
    frame: pd.DataFrame,
    label: str,
    title: str,
    source: str,
    as_at: Any,
    *,
    ratio: str = "rate_ratio",
    lower: str = "ci_lower",
    upper: str = "ci_upper",
    significant: str | None = "significant",
    note: str | None = None,
) -> go.Figure:
    """A forest plot: % change (rate ratio − 1) per label with its 95% interval; filled markers for
    changes significant after Benjamini–Hochberg control, hollow for the rest; vertical line at no change."""
    data = frame.replace([np.inf, -np.inf], np.nan).dropna(subset=[ratio, lower, upper])
    if data.empty:
        return empty_figure(title, "No comparable counts in both periods.", source, as_at)
    data = data.sort_values(ratio)
    pct = (data[ratio] - 1) * 100
    pct_lo = (data[lower] - 1) * 100
    pct_hi = (data[upper] - 1) * 100
    sig = (data[significant].astype(bool) if significant and significant in data.columns
           else pd.Series(False, index=data.index))
    colours = [RISE_COLOUR if p > 0 else FALL_COLOUR for p in pct]
    labels = [wrap_label(text) for text in data[label].astype(str)]
    fig = _new_figure(go.Scatter(
        x=pct, y=labels, mode="markers",
        marker=dict(size=11, color=[c if s else "white" for c, s in zip(colours, sig)],
                    line=dict(color=colours, width=2), symbol="circle"),
        error_x=dict(type="data", symmetric=False, array=pct_hi - pct, arrayminus=pct - pct_lo, color="#777",
                     thickness=1.5),
        customdata=np.stack([pct_lo, pct_hi, sig.map({True: "yes", False: "no"}), data[label].astype(str)], axis=-1),
        hovertemplate="%{customdata[3]}: %{x:+.1f}% (95% CI %{customdata[0]:+.1f}% to %{customdata[1]:+.1f}%),"
                      " significant after BH: %{customdata[2]}<extra></extra>",
        showlegend=False,
    ))
    fig.add_vline(x=0, line_color="#444", line_width=1)
    fig.update_xaxes(ticksuffix="%", rangemode="normal")
    fig.update_yaxes(rangemode="normal")
    legend_note = "Filled: significant after Benjamini–Hochberg (q < 0.05); hollow: not significant."
    row_px = 16 + 14 * max(text.count("<br>") + 1 for text in labels)  # every row as tall as the tallest label
    return _finish(fig, title=title, source=source, as_at=as_at, x_label="Change in the monthly rate (%, 95% CI)",
                   y_label="", note=(legend_note + (" " + note if note else "")),
                   height=max(320, row_px * len(labels) + 190),
                   caption_wrap=max(70, CAPTION_WRAP - max(len(part) for text in labels for part in text.split("<br>"))))


LABEL_WRAP = 26  # characters per line of an axis label (long labels would squeeze a phone-wide plot)
LABEL_LINES = 2  # lines at most: rows stay apart; the whole label is in the hover text


def wrap_label(text: str, width: int = LABEL_WRAP, lines: int = LABEL_LINES) -> str:
    """A long category label on at most `lines` lines ('<br>' between them, '…' when cut) so it takes little
    of the plot's width and does not run into its neighbours."""
    parts = textwrap.wrap(text, width) or [text]
    if len(parts) > lines:
        parts = parts[:lines]
        parts[-1] = parts[-1][: width - 1].rstrip() + "…"
    return "<br>".join(parts)


@remembered
def funnel_plot(
    frame: pd.DataFrame,
    limits: pd.DataFrame,
    title: str,
    source: str,
    as_at: Any,
    *,
    label: str = "district",
    population: str = "usual_residents",
    rate: str = "rate_per_1000",
    overall_rate: float | None = None,
    limit_columns: dict[str, str] | None = None,
    limits_population: str | None = None,
    y_label: str = "Rate per 1,000 residents",
    x_label: str = "Usual residents (2011 Census)",
    note: str | None = None,
) -> go.Figure:
    """Funnel plot: each unit's rate against its population, with the overall rate and 95% / 99.8%
    control limits (columns of `limits`, keyed by population). Units outside 99.8% are highlighted."""
    if frame is None or frame.empty:
        return empty_figure(title, "No rates for this selection.", source, as_at)
    columns = {"lower_95": "lower_95", "upper_95": "upper_95", "lower_998": "lower_998", "upper_998": "upper_998"}
    columns.update(limit_columns or {})
    limits_population = limits_population or population
    fig = _new_figure()
    if limits is not None and not limits.empty:
        lim = limits.sort_values(limits_population)
        styles = {"95": dict(color="#777", dash="dash", width=1.2), "998": dict(color="#333", dash="dot", width=1.2)}
        for level, name in (("95", "95% limits"), ("998", "99.8% limits")):
            lo_col, hi_col = columns[f"lower_{level}"], columns[f"upper_{level}"]
            if lo_col in lim.columns and hi_col in lim.columns:
                fig.add_trace(go.Scatter(x=lim[limits_population], y=lim[hi_col], mode="lines", line=styles[level],
                                         name=name, hoverinfo="skip"))
                fig.add_trace(go.Scatter(x=lim[limits_population], y=lim[lo_col], mode="lines", line=styles[level],
                                         showlegend=False, hoverinfo="skip"))
    if overall_rate is not None and not math.isnan(overall_rate):
        fig.add_hline(y=overall_rate, line_color=EXPECTED_COLOUR, line_width=2,
                      annotation_text=f"Overall {overall_rate:,.1f}", annotation_position="top left")
    outside = pd.Series(False, index=frame.index)
    if limits is not None and not limits.empty and columns["upper_998"] in limits.columns:
        lim = limits.sort_values(limits_population)
        upper = np.interp(frame[population], lim[limits_population], lim[columns["upper_998"]])
        lower = np.interp(frame[population], lim[limits_population], lim[columns["lower_998"]])
        outside = (frame[rate] > upper) | (frame[rate] < lower)
    positions = place_labels(frame[population].astype(float).tolist(), frame[rate].astype(float).tolist(),
                             frame[label].astype(str).tolist())
    fig.add_trace(go.Scatter(
        x=frame[population], y=frame[rate], mode="markers+text",
        text=[name if pos else "" for name, pos in zip(frame[label].astype(str), positions)],
        textposition=[pos or "top center" for pos in positions], customdata=frame[label],
        textfont=dict(size=10), name="Districts",
        marker=dict(size=10, color=[HIGHLIGHT_COLOUR if o else OBSERVED_COLOUR for o in outside],
                    line=dict(color="white", width=1)),
        hovertemplate="%{customdata}: %{y:,.1f} per 1,000 (population %{x:,})<extra></extra>",
    ))
    fig.update_xaxes(tickformat=",", rangemode="tozero")
    hidden = sum(1 for p in positions if not p)
    default_note = "Vermillion: outside the 99.8% limits."
    if hidden:
        default_note += f" {hidden} crowded label(s) left off: hover a point for its name."
    return _finish(fig, title=title, source=source, as_at=as_at, x_label=x_label, y_label=y_label,
                   note=note or default_note, height=480)


def place_labels(
    xs: Sequence[float], ys: Sequence[float], labels: Sequence[str], *, width_px: float = 900.0,
    height_px: float = 330.0, char_px: float = 6.0, line_px: float = 13.0,
) -> list[str | None]:
    """A text position for each point's label ('top center', 'bottom center', 'middle right', 'middle left')
    chosen greedily so that no two labels (nor a label and a marker) overlap in an approximate pixel space;
    None where every position collides (the label is left off)."""
    if not xs:
        return []
    x_lo, x_hi = 0.0, max(xs) * 1.05 or 1.0
    y_lo, y_hi = 0.0, max(ys) * 1.08 or 1.0  # both axes start at zero

    def to_px(x: float, y: float) -> tuple[float, float]:
        return ((x - x_lo) / (x_hi - x_lo) * width_px, (y_hi - y) / (y_hi - y_lo) * height_px)

    points = [to_px(x, y) for x, y in zip(xs, ys)]
    boxes: list[tuple[float, float, float, float]] = [(px - 5, py - 5, px + 5, py + 5) for px, py in points]

    def overlaps(box, others) -> bool:
        return any(not (box[2] <= o[0] or box[0] >= o[2] or box[3] <= o[1] or box[1] >= o[3]) for o in others)

    order = sorted(range(len(xs)), key=lambda i: -ys[i])
    result: list[str | None] = [None] * len(xs)
    for i in order:
        px, py = points[i]
        w, h = len(labels[i]) * char_px, line_px
        candidates = {
            "top center": (px - w / 2, py - 7 - h, px + w / 2, py - 7),
            "bottom center": (px - w / 2, py + 7, px + w / 2, py + 7 + h),
            "middle right": (px + 7, py - h / 2, px + 7 + w, py + h / 2),
            "middle left": (px - 7 - w, py - h / 2, px - 7, py + h / 2),
        }
        own_marker = (px - 5, py - 5, px + 5, py + 5)
        for position, box in candidates.items():
            if not overlaps(box, [b for b in boxes if b != own_marker]):
                result[i] = position
                boxes.append(box)
                break
    return result


# ---------------------------------------------------------------------------------------------
# maps (no tile servers: geo projections only)
# ---------------------------------------------------------------------------------------------
def feature_collection(frame: pd.DataFrame, id_column: str = "lsoa_code", geometry_column: str = "geometry_json") -> dict:
    """A GeoJSON FeatureCollection whose feature ids are `id_column` (geometry text parsed once)."""
    features = []
    for record in frame[[id_column, geometry_column]].itertuples(index=False):
        geometry = record[1]
        if isinstance(geometry, str):
            geometry = json.loads(geometry)
        features.append({"type": "Feature", "id": record[0], "properties": {id_column: record[0]}, "geometry": geometry})
    return {"type": "FeatureCollection", "features": features}


def _ring_area(ring: Sequence[Sequence[float]]) -> float:
    """Signed area (shoelace) of a lon/lat ring: positive = anticlockwise."""
    return sum(x1 * y2 - x2 * y1 for (x1, y1, *_), (x2, y2, *_) in zip(ring, ring[1:])) / 2


def _rewind_polygon(rings: list) -> list:
    out = []
    for index, ring in enumerate(rings):
        clockwise = _ring_area(ring) < 0
        want_clockwise = index == 0  # exterior clockwise, holes anticlockwise (what d3-geo expects)
        out.append(ring if clockwise == want_clockwise else list(reversed(ring)))
    return out


class SharedGeoJSON(dict):
    """A map's boundaries that copies of its figure share instead of copying: Plotly deep-copies a figure whenever it
    is drawn, exported or protected (40 ms for 1,000 LSOA squares, far more for real boundaries), and nothing changes a
    figure's boundaries in place (disclosure control sets locations and values, never geometry). Read-only by
    convention: build a new one to change it."""

    def __deepcopy__(self, memo: dict) -> SharedGeoJSON:
        return self

    def __copy__(self) -> SharedGeoJSON:
        return self


def rewind_for_plotly(geojson: dict) -> dict:
    """A copy of a FeatureCollection whose polygons wind the way Plotly's d3-geo expects (exterior rings
    clockwise). RFC 7946 files wind the other way, and d3 then fills the whole globe except the shape."""
    features = []
    for feature in geojson.get("features", []):
        geometry = feature.get("geometry") or {}
        if geometry.get("type") == "Polygon":
            geometry = {**geometry, "coordinates": _rewind_polygon(geometry["coordinates"])}
        elif geometry.get("type") == "MultiPolygon":
            geometry = {**geometry, "coordinates": [_rewind_polygon(p) for p in geometry["coordinates"]]}
        features.append({**feature, "geometry": geometry})
    return {**geojson, "features": features}


@remembered
def choropleth_map(
    frame: pd.DataFrame,
    geojson: dict,
    title: str,
    value_label: str,
    source: str,
    as_at: Any,
    *,
    location: str = "lsoa_code",
    value: str = "count",
    hover_name: str | None = "lsoa_name",
    note: str | None = None,
) -> go.Figure:
    """LSOAs coloured by `value` from a GeoJSON of their boundaries (feature id = `location`), on a bare
    geo projection fitted to the shapes (no internet map tiles)."""
    if frame is None or frame.empty:
        return empty_figure(title, "No LSOA counts for this selection.", source, as_at)
    hover = frame[hover_name] if hover_name and hover_name in frame.columns else frame[location]
    fig = _new_figure(go.Choropleth(
        geojson=SharedGeoJSON(rewind_for_plotly(geojson)), locations=frame[location], z=frame[value], text=hover,
        colorscale=SEQUENTIAL_SCALE, marker_line_color="rgba(80,80,80,0.35)", marker_line_width=0.3,
        colorbar=dict(title=dict(text=value_label, side="right"), thickness=14),
        hovertemplate="%{text}: %{z:,.0f}<extra></extra>",
    ))
    fig.update_geos(fitbounds="locations", visible=False, projection_type="mercator")
    fig = _finish(fig, title=title, source=source, as_at=as_at, note=note, height=560)
    fig.update_layout(margin=dict(l=0, r=0, t=60))  # keep the bottom margin _finish sized for the caption
    return fig


@remembered
def point_density_map(
    frame: pd.DataFrame,
    title: str,
    value_label: str,
    source: str,
    as_at: Any,
    *,
    longitude: str = "longitude",
    latitude: str = "latitude",
    value: str = "count",
    hover_name: str | None = None,
    note: str | None = None,
) -> go.Figure:
    """Points (e.g. grid cells or snap points with their counts) sized and coloured by `value` on a bare
    geo projection fitted to the points: the fallback when no LSOA boundary file is loaded."""
    if frame is None or frame.empty:
        return empty_figure(title, "No located records for this selection.", source, as_at)
    values = frame[value].astype(float)
    sizes = 4 + 18 * np.sqrt(values / values.max()) if values.max() > 0 else 6
    hover = (frame[hover_name].astype(str) if hover_name and hover_name in frame.columns
             else values.map(lambda v: f"{v:,.0f}"))
    fig = _new_figure(go.Scattergeo(
        lon=frame[longitude], lat=frame[latitude], mode="markers", text=hover,
        marker=dict(size=sizes, color=values, colorscale=SEQUENTIAL_SCALE, cmin=0, opacity=0.85,
                    line=dict(width=0.3, color="#333"),
                    colorbar=dict(title=dict(text=value_label, side="right"), thickness=14)),
        hovertemplate="%{text}<br>%{marker.color:,.0f}<extra></extra>",
    ))
    # frame the bulk of the points (weighted 1st–99th percentiles): a few rows far outside the force
    # area would otherwise shrink the map to a dot
    lon_range = _weighted_range(frame[longitude].astype(float), values)
    lat_range = _weighted_range(frame[latitude].astype(float), values)
    fig.update_geos(visible=False, projection_type="mercator", lonaxis_range=lon_range, lataxis_range=lat_range,
                    showframe=True, framecolor="#CCC")
    fig = _finish(fig, title=title, source=source, as_at=as_at, note=note, height=560)
    fig.update_layout(margin=dict(l=0, r=0, t=60))  # keep the bottom margin _finish sized for the caption
    return fig


def _weighted_range(coordinate: pd.Series, weights: pd.Series, low: float = 0.01, high: float = 0.99,
                    pad: float = 0.08) -> list[float]:
    order = np.argsort(coordinate.to_numpy())
    sorted_values = coordinate.to_numpy()[order]
    cumulative = np.cumsum(weights.to_numpy()[order])
    total = cumulative[-1] if len(cumulative) and cumulative[-1] > 0 else 1.0
    lo = float(sorted_values[np.searchsorted(cumulative, low * total)])
    hi = float(sorted_values[min(np.searchsorted(cumulative, high * total), len(sorted_values) - 1)])
    margin = max((hi - lo) * pad, 0.01)
    return [lo - margin, hi + margin]


# ---------------------------------------------------------------------------------------------
# grids
# ---------------------------------------------------------------------------------------------
@remembered
def heatmap(
    frame: pd.DataFrame,
    x: str,
    y: str,
    z: str,
    title: str,
    x_label: str,
    y_label: str,
    value_label: str,
    source: str,
    as_at: Any,
    *,
    x_order: Sequence | None = None,
    y_order: Sequence | None = None,
    note: str | None = None,
) -> go.Figure:
    """`z` summed over x × y on a sequential blue scale (readable for every colour-vision type); cells with
    no rows are 0. `x_order` / `y_order` fix the order of the columns and rows (e.g. hours 0–23, Monday
    first)."""
    if frame is None or frame.empty:
        return empty_figure(title, "No data for this selection.", source, as_at)
    grid = frame.pivot_table(index=y, columns=x, values=z, aggfunc="sum", fill_value=0)
    grid = grid.reindex(index=list(y_order) if y_order is not None else list(grid.index),
                        columns=list(x_order) if x_order is not None else list(grid.columns), fill_value=0)
    fig = _new_figure(go.Heatmap(
        z=grid.to_numpy(), x=[str(c) for c in grid.columns], y=[str(i) for i in grid.index],
        colorscale=SEQUENTIAL_SCALE, colorbar=dict(title=dict(text=value_label, side="right"), thickness=14),
        hovertemplate=f"%{{y}}, %{{x}}: %{{z:,}} {value_label.lower()}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", showgrid=False)
    fig.update_xaxes(showgrid=False, type="category")
    return _finish(fig, title=title, source=source, as_at=as_at, x_label=x_label, y_label=y_label, note=note,
                   height=380)
