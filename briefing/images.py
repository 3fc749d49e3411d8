"""Chart images: a Plotly figure -> PNG, SVG or PDF bytes, rendered by kaleido (>= 1.0) with the system
Chromium (Debian `chromium`; kaleido finds /usr/bin/chromium itself, or `$BROWSER_PATH`).

One warm kaleido server per process (`kaleido.start_sync_server`): the first image starts Chromium
(a few seconds), every later one takes about 0.2-0.3 s. The server answers one request at a time, so
calls are serialised with a lock and the module is safe to call from several threads (Streamlit
sessions). Images are slide-sized, 16:9: 1280 x 720 CSS pixels; PNG at scale 2 (2560 x 1440 px),
SVG and PDF as vectors at the same layout size.

Provenance (filters, load fingerprint, version) can be embedded: a PNG `tEXt` chunk, PDF document
metadata, an SVG `<metadata>` element.

Offline: maps (choropleth, scatter_geo) render with the bundled empty world topology
(`charts.theme.OFFLINE_TOPOJSON_URL`, a data: URL; our maps draw only their own shapes), never Plotly's
default topojson from cdn.plot.ly, and the kaleido page loads no MathJax from a CDN: an image export makes no
request outside the machine.

Demo data: an image made from the synthetic demo (`demo=True`, or a provenance record whose dataset is
'demo') carries "Demo data — synthetic" in the picture itself: a solid banner in the top right corner and a
large translucent diagonal mark across the plot (`mark_demo`), added before rendering.
"""

from __future__ import annotations

import copy
import functools
import json
import struct
import threading
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import plotly.graph_objects as go

from briefing.export_spec import DEMO_MARK
from charts.theme import OFFLINE_TOPOJSON_URL

SLIDE_WIDTH_PX = 1280
SLIDE_HEIGHT_PX = 720
PNG_SCALE = 2
FORMATS: dict[str, str] = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
DEMO_BANNER_COLOUR = "#B03A00"                     # the pack's warning colour (not in the chart palette)
DEMO_WATERMARK_COLOUR = "rgba(176, 58, 0, 0.2)"   # the same, translucent: the data stay readable under it

_LOCK = threading.RLock()
_SERVER_STARTED = False


class ImageExportError(RuntimeError):
    """Chromium/kaleido could not render a figure (the message says what to install or set)."""


def _ensure_server() -> None:
    """Start the process-wide kaleido server once (warm Chromium for every later image)."""
    global _SERVER_STARTED
    if _SERVER_STARTED:
        return
    import kaleido

    kaleido.start_sync_server(silence_warnings=True, mathjax=False)  # no MathJax from a CDN (we use no LaTeX)
    _SERVER_STARTED = True


def stop_server() -> None:
    """Stop the warm server (tests, or before a process exits; it also stops at exit)."""
    global _SERVER_STARTED
    with _LOCK:
        if _SERVER_STARTED:
            import kaleido

            kaleido.stop_sync_server(silence_warnings=True)
            _SERVER_STARTED = False


def _render(spec: dict, fmt: str, width: int, height: int, scale: float) -> bytes:
    import kaleido

    opts = {"format": fmt, "width": width, "height": height, "scale": scale}
    with _LOCK:
        _ensure_server()
        try:
            return kaleido.calc_fig_sync(spec, opts=opts, topojson=OFFLINE_TOPOJSON_URL)
        except Exception as first_error:  # a crashed Chromium: restart the server once, then give up
            stop_server()
            _ensure_server()
            try:
                return kaleido.calc_fig_sync(spec, opts=opts, topojson=OFFLINE_TOPOJSON_URL)
            except Exception as exc:
                raise ImageExportError(
                    f"could not render a {fmt.upper()} image with kaleido/Chromium ({exc}); install the Debian "
                    "package `chromium` (scripts/setup.sh does) or set BROWSER_PATH to a Chrome/Chromium binary"
                ) from first_error


def mark_demo(spec: dict, width: int = SLIDE_WIDTH_PX) -> dict:
    """Add "Demo data — synthetic" to a figure dict (in place, returned): a solid banner in the top right
    corner of the image and a large translucent diagonal mark across the plot area. `width`: the image width
    in CSS pixels (the marks scale with it)."""
    layout = spec.setdefault("layout", {})
    margin = layout.get("margin") or {}
    template_margin = ((layout.get("template") or {}).get("layout") or {}).get("margin") or {}
    top = margin.get("t", template_margin.get("t", 100))  # Plotly's default top margin is 100 px
    annotations = list(layout.get("annotations") or [])
    annotations.append(dict(
        text=DEMO_MARK, textangle=-24, x=0.5, y=0.5, xref="paper", yref="paper", xanchor="center", yanchor="middle",
        showarrow=False, font=dict(size=max(int(width / 16), 24), color=DEMO_WATERMARK_COLOUR)))
    annotations.append(dict(
        text=f"<b>{DEMO_MARK}</b>", x=1, y=1, xref="paper", yref="paper", xanchor="right", yanchor="top",
        yshift=max(int(top) - 4, 0), showarrow=False, bgcolor=DEMO_BANNER_COLOUR, borderpad=5,
        font=dict(size=max(int(width / 80), 12), color="#FFFFFF")))
    layout["annotations"] = annotations
    return spec


def _is_demo_record(provenance: Mapping[str, Any] | None) -> bool:
    return bool(provenance) and provenance.get("dataset") == "demo"


def figure_bytes(
    fig: go.Figure | Mapping,
    fmt: str = "png",
    *,
    width: int = SLIDE_WIDTH_PX,
    height: int = SLIDE_HEIGHT_PX,
    scale: float | None = None,
    provenance: Mapping[str, Any] | None = None,
    demo: bool | None = None,
    description: str = "",
) -> bytes:
    """The figure as `fmt` ('png', 'svg' or 'pdf') bytes, `width` x `height` CSS pixels (PNG scaled by
    `scale`, default 2). The caller's figure is not modified. `provenance` (a JSON-able mapping) is
    embedded in the file's metadata, and `description` (the export's notes in words) beside it. `demo`
    (None: when the provenance record's dataset is 'demo') marks the picture "Demo data — synthetic"."""
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise ValueError(f"unknown image format {fmt!r}; one of: {', '.join(FORMATS)}")
    spec = fig.to_dict() if hasattr(fig, "to_dict") else copy.deepcopy(dict(fig))
    layout = spec.setdefault("layout", {})
    layout["width"], layout["height"] = width, height
    config = spec.get("config")
    if isinstance(config, dict):  # a figure's own topojsonURL would override the bundled one
        spec["config"] = {k: v for k, v in config.items() if k != "topojsonURL"}
    demo = _is_demo_record(provenance) if demo is None else demo
    if demo:
        mark_demo(spec, width)
    data = _render(spec, fmt, width, height, (scale or PNG_SCALE) if fmt == "png" else 1)
    if provenance or demo or description:
        record = dict(provenance or {})
        if demo:
            record["data_status"] = DEMO_MARK
        data = embed_metadata(data, fmt, record, title=figure_title(fig), description=description)
    return data


def figure_title(fig: go.Figure | Mapping) -> str:
    """The figure's title text ('' when it has none)."""
    layout = fig.to_dict().get("layout", {}) if hasattr(fig, "to_dict") else dict(fig).get("layout", {})
    title = layout.get("title") or {}
    return str(title.get("text") or "") if isinstance(title, dict) else str(title)


def figure_alt_text(fig: go.Figure | Mapping) -> str:
    """Alt text for an exported chart: its title, what it plots (trace names) and its caption."""
    spec = fig.to_dict() if hasattr(fig, "to_dict") else dict(fig)
    layout = spec.get("layout", {})
    parts = [figure_title(fig) or "Chart"]
    kinds = sorted({str(trace.get("type", "scatter")) for trace in spec.get("data", [])})
    names = [str(trace["name"]) for trace in spec.get("data", []) if trace.get("name") and trace.get("showlegend", True) is not False]
    axis_y = (layout.get("yaxis") or {}).get("title", {})
    axis_x = (layout.get("xaxis") or {}).get("title", {})
    y_text = axis_y.get("text") if isinstance(axis_y, dict) else None
    x_text = axis_x.get("text") if isinstance(axis_x, dict) else None
    kind = {"scatter": "line chart", "bar": "bar chart", "choropleth": "map", "scattergeo": "map"}
    described = " and ".join(kind.get(k, k) for k in kinds) or "chart"
    sentence = f"{described.capitalize()}"
    if y_text and x_text:
        sentence += f" of {y_text} by {x_text.lower()}"
    elif y_text:
        sentence += f" of {y_text}"
    if names:
        sentence += f"; series: {', '.join(dict.fromkeys(names))}"
    parts.append(sentence + ".")
    meta = layout.get("meta") or {}
    if isinstance(meta, dict) and meta.get("caption"):
        parts.append(str(meta["caption"]))
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------
# metadata
# ---------------------------------------------------------------------------------------------
def _png_text_chunk(keyword: str, text: str) -> bytes:
    # iTXt (UTF-8): keyword, null, compression flag 0, method 0, empty language tag, null, empty
    # translated keyword, null, text
    body = keyword.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8")
    return struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body) & 0xFFFFFFFF)


def png_text_chunks(data: bytes) -> dict[str, str]:
    """The tEXt/iTXt key -> text pairs of a PNG (to read provenance back)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    out: dict[str, str] = {}
    position = 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        kind = data[position + 4:position + 8]
        body = data[position + 8:position + 8 + length]
        if kind == b"tEXt":
            key, _, value = body.partition(b"\x00")
            out[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\x00")
            rest = rest[2:]  # compression flag and method
            _language, _, rest = rest.partition(b"\x00")
            _translated, _, value = rest.partition(b"\x00")
            out[key.decode("latin-1")] = value.decode("utf-8")
        position += 12 + length
    return out


def embed_metadata(data: bytes, fmt: str, provenance: Mapping[str, Any], title: str = "",
                   description: str = "") -> bytes:
    """Put `provenance` (JSON) into a PNG iTXt chunk 'provenance', a PDF's document info
    (/Title, /Subject, /Keywords and a /Provenance entry) or an SVG <metadata> element; `description` (the
    notes in words) into a PNG 'Description' chunk, the PDF /Subject or an SVG <desc>; a record whose
    `data_status` is set (the demo) also into a PNG 'Data status' chunk and the start of the PDF /Subject."""
    text = json.dumps(provenance, default=str, sort_keys=True)
    status = str(provenance.get("data_status") or "")
    if fmt == "png":
        end = data.rfind(b"IEND") - 4  # the IEND chunk's length field
        chunks = _png_text_chunk("provenance", text)
        if title:
            chunks = _png_text_chunk("Title", title) + chunks
        if description:
            chunks += _png_text_chunk("Description", description)
        if status:
            chunks += _png_text_chunk("Data status", status)
        return data[:end] + chunks + data[end:]
    if fmt == "svg":
        from xml.sax.saxutils import escape

        head, sep, tail = data.decode("utf-8").partition(">")
        if not sep:
            return data
        block = f"<metadata><provenance xmlns=\"urn:crime-plan-monitor\">{escape(text)}</provenance></metadata>"
        if description:
            block = f"<desc>{escape(description)}</desc>" + block
        if title:
            block = f"<title>{escape(title)}</title>" + block
        return (head + sep + block + tail).encode("utf-8")
    if fmt == "pdf":
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter(clone_from=PdfReader(BytesIO(data)))
        writer.add_metadata({
            "/Title": title or "Chart",
            "/Subject": "; ".join(t for t in (status, description or "Crime Plan Monitor export") if t),
            "/Keywords": f"load_fingerprint={provenance.get('load_fingerprint', '')}",
            "/Provenance": text,
        })
        out = BytesIO()
        writer.write(out)
        return out.getvalue()
    return data


@dataclass(frozen=True)
class Download:
    """One download button's content: (label, data, file_name, mime) unpacks in that order. `data` is bytes,
    or a zero-argument callable returning bytes (Streamlit's deferred download: made only when clicked)."""

    label: str
    data: bytes | Callable[[], bytes]
    file_name: str
    mime: str

    def __iter__(self):
        return iter((self.label, self.data, self.file_name, self.mime))

    def content(self) -> bytes:
        """The bytes (calling a deferred `data`)."""
        return self.data() if callable(self.data) else self.data


def safe_basename(name: str) -> str:
    """A file-name-safe stem: letters, digits, '-' and '_' only."""
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in name.strip().lower())
    while "--" in cleaned:
        cleaned = cleaned.replace("--", "-")
    return cleaned.strip("-") or "chart"


def chart_downloads(
    fig: go.Figure,
    basename: str,
    provenance: Mapping[str, Any] | None = None,
    formats: tuple[str, ...] = ("png", "svg", "pdf"),
    *,
    lazy: bool = False,
    filters: Any = None,
    sensitive: bool | None = None,
    rule: Any = None,
    demo: bool | None = None,
    description: str = "",
    release: Any = None,
) -> list[Download]:
    """PNG (2560 x 1440), SVG and PDF of a figure for download buttons: a list of Download
    (label, data, file name, MIME type), rendered by the warm kaleido server. lazy=True: `data` is a
    callable that renders only when called (pass it to st.download_button, which calls it on click, in
    another thread: rendering is serialised, so that is safe). Disclosure control
    (`briefing.disclosure.protect_figure`) is applied to LSOA-level bars and maps when `filters` select a
    sensitive category or `sensitive=True` (LSOA values from `release`, a `published_lsoa_counts` frame, when
    given). `demo` (None: from the provenance record's dataset) marks the
    pictures "Demo data — synthetic"; `description` (the notes in words) goes into their metadata."""
    from briefing.disclosure import protect_figure

    # the figure as drawn now (one copy; later changes to it do not reach the files)
    snapshot = fig.to_dict() if hasattr(fig, "to_dict") else copy.deepcopy(dict(fig))

    @functools.cache
    def protected_snapshot() -> dict:
        # disclosure control on the snapshot, on click (lazy) or now
        protected, _ = protect_figure(go.Figure(snapshot), rule=rule, filters=filters, sensitive=sensitive,
                                      release=release)
        return protected.to_dict()

    def render(fmt: str) -> bytes:
        return figure_bytes(protected_snapshot(), fmt, provenance=record, demo=demo, description=description)

    stem = safe_basename(basename)
    labels = {"png": "PNG (slide, high resolution)", "svg": "SVG (vector)", "pdf": "PDF (vector)"}
    record = dict(provenance) if provenance else None
    out = []
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"unknown image format {fmt!r}; one of: {', '.join(FORMATS)}")
        # lazy: protected and rendered only on click
        out.append(Download(labels[fmt], functools.partial(render, fmt) if lazy else render(fmt), f"{stem}.{fmt}",
                            FORMATS[fmt]))
    return out


def notes_description(notes: Any, filters: Any = None) -> str:
    """The notes of an export in one paragraph (for image metadata): title, source, units, period, filters
    in words, data as at, caveats."""
    from briefing.provenance import filters_in_words
    from charts.figures import format_as_at

    parts = [notes.title, f"Source: {notes.source}" if notes.source else "",
             f"Units: {notes.units}" if notes.units else "", f"Period: {notes.period}" if notes.period else "",
             f"Filters: {notes.filters or (filters_in_words(filters) if filters is not None else 'none')}",
             f"Data as at {format_as_at(notes.as_at)}" if notes.as_at is not None else "",
             f"Caveats: {notes.caveats}" if notes.caveats else ""]
    return ". ".join(" ".join(str(p).split()) for p in parts if p)


def chart_files(fig: go.Figure, notes: Any, basename: str, *, filters: Any = None,
                formats: tuple[str, ...] = ("png", "svg", "pdf"), release: Any = None) -> list[Download]:
    """PNG/SVG/PDF downloads of a figure for people (`notes` a briefing.export_spec.ExportNotes), rendered only
    when clicked, after disclosure control (LSOA values from `release` when the chart was drawn from the published
    LSOA table); from the demo (`notes.demo`) "Demo data — synthetic" is in the picture itself; the provenance
    record and the notes in words are in the file's metadata."""
    return chart_downloads(fig, basename, notes.provenance, formats, lazy=True, filters=filters,
                           sensitive=notes.sensitive, demo=notes.demo, description=notes_description(notes, filters),
                           release=release)
