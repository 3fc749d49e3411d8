"""Chart images through the warm kaleido server: type, size, dimensions, metadata, thread safety; the demo
mark in the pictures themselves (PNG pixels read with Pillow, SVG text elements, PDF text with pypdf); maps
rendered with no request leaving the machine (a recording proxy in front of Chromium)."""

from __future__ import annotations

import json
import re
import struct
import threading
from concurrent.futures import ThreadPoolExecutor

import plotly.graph_objects as go
import pytest

from briefing import images


@pytest.fixture(scope="module", autouse=True)
def _stop_server_after_module():
    yield
    images.stop_server()


def _figure(title: str = "Burglary per month") -> go.Figure:
    fig = go.Figure(go.Scatter(x=["2020-01-01", "2020-02-01", "2020-03-01"], y=[410, 388, 251], name="Observed"))
    fig.update_layout(title=dict(text=title), yaxis_title="Crimes per month", xaxis_title="Month",
                      meta={"caption": "Source: test. Data as at March 2020."})
    return fig


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_png_svg_pdf_types_sizes_and_slide_dimensions():
    fig = _figure()
    png = images.figure_bytes(fig, "png")
    svg = images.figure_bytes(fig, "svg")
    pdf = images.figure_bytes(fig, "pdf")
    # 16:9 slide size, 1280 x 720 CSS px at scale 2
    assert _png_size(png) == (2560, 1440)
    assert len(png) > 20_000
    assert svg.lstrip().startswith(b"<svg") and b"</svg>" in svg[-200:] and len(svg) > 2_000
    assert b'width="1280"' in svg[:400] and b'height="720"' in svg[:400]
    assert pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-64:] and len(pdf) > 2_000
    # the caller's figure is not changed
    assert fig.layout.width is None and fig.layout.height is None


def test_provenance_is_embedded_in_png_svg_and_pdf():
    from io import BytesIO

    from pypdf import PdfReader

    record = {"load_fingerprint": "abc123", "version": "9.9", "filters": {"force_id": "essex"}}
    fig = _figure()
    png = images.figure_bytes(fig, "png", provenance=record)
    chunks = images.png_text_chunks(png)
    assert json.loads(chunks["provenance"]) == record
    assert chunks["Title"] == "Burglary per month"
    assert _png_size(png) == (2560, 1440)  # still a valid PNG with the same header
    svg = images.figure_bytes(fig, "svg", provenance=record).decode()
    assert "abc123" in svg and "<metadata>" in svg
    pdf = images.figure_bytes(fig, "pdf", provenance=record)
    info = PdfReader(BytesIO(pdf)).metadata
    assert json.loads(info["/Provenance"]) == record
    assert info["/Title"] == "Burglary per month"


def test_chart_downloads_labels_files_and_mime():
    items = images.chart_downloads(_figure(), "Burglary: Essex / 2020")
    assert [d.file_name for d in items] == ["burglary-essex-2020.png", "burglary-essex-2020.svg",
                                            "burglary-essex-2020.pdf"]
    assert [d.mime for d in items] == ["image/png", "image/svg+xml", "application/pdf"]
    label, data, name, mime = items[0]
    assert data[:4] == b"\x89PNG" and name.endswith(".png")


def test_server_is_warm_and_thread_safe(monkeypatch):
    import kaleido

    images.figure_bytes(_figure(), "png")  # warm
    starts = []
    real_start = kaleido.start_sync_server
    monkeypatch.setattr(kaleido, "start_sync_server", lambda *a, **k: starts.append(1) or real_start(*a, **k))
    images.figure_bytes(_figure("second"), "svg")
    titles = [f"Chart {i}" for i in range(6)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        svgs = list(pool.map(lambda t: images.figure_bytes(_figure(t), "svg"), titles))
    # every thread got its own figure back, not a neighbour's
    for title, svg in zip(titles, svgs):
        assert title.encode() in svg
        for other in titles:
            if other != title:
                assert f">{other}<".encode() not in svg
    assert threading.active_count() >= 1
    assert starts == []  # one browser for every image, not one per image


def test_alt_text_describes_the_chart():
    text = images.figure_alt_text(_figure())
    assert text.startswith("Burglary per month")
    assert "Crimes per month" in text and "Observed" in text and "Source: test" in text


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown image format 'gif'"):
        images.figure_bytes(_figure(), "gif")


def test_lsoa_bar_chart_of_a_sensitive_category_is_protected_in_downloads():
    import pandas as pd

    from charts.figures import bar_chart
    from metrics.filters import Filters

    frame = pd.DataFrame({"lsoa_name": ["Harlow 001A", "Harlow 001B", "Harlow 001C", "Harlow 001D"],
                          "count": [3, 12, 40, 25]})
    fig = bar_chart(frame, "count", "lsoa_name", "Violence by LSOA", "Crimes", "LSOA", "test", "2021-01")
    svg = images.chart_downloads(fig, "v", formats=("svg",),
                                 filters=Filters(categories=("Violence and sexual offences",)))[0].content().decode()
    # issue 15: sensitive LSOA counts leave only through the published quarterly table (briefing.disclosure);
    # a chart drawn from anything else has every bar withheld as "[c]"
    assert ">[c]<" in svg
    assert ">3<" not in svg and ">12<" not in svg and ">40<" not in svg and ">25<" not in svg
    plain = images.chart_downloads(fig, "v", formats=("svg",), filters=Filters(categories=("Burglary",)))[0]
    assert ">3<" in plain.content().decode()


# ---------------------------------------------------------------------------------------------
# demo mark in the picture
# ---------------------------------------------------------------------------------------------
BANNER_RGB = (0xB0, 0x3A, 0x00)


def _pixels(png: bytes):
    from io import BytesIO

    from PIL import Image

    return Image.open(BytesIO(png)).convert("RGB")


def _rgb(image, box: tuple[int, int, int, int]):
    """The pixels of a box (left, top, right, bottom) as an int array (height, width, 3)."""
    import numpy as np

    return np.asarray(image.crop(box), dtype=int)


def _count(image, box: tuple[int, int, int, int], colour: tuple[int, int, int], tolerance: int = 0) -> int:
    """Pixels in the box within `tolerance` of `colour` on every channel."""
    return int((abs(_rgb(image, box) - colour) <= tolerance).all(axis=2).sum())


def _tinted_pixels(image, base, box: tuple[int, int, int, int]) -> int:
    """Pixels of `image` made redder than the same pixel of `base` (the translucent orange-red diagonal
    over the plot's background): red minus blue up by more than 15."""
    a, b = _rgb(image, box), _rgb(base, box)
    return int((((a[..., 0] - a[..., 2]) - (b[..., 0] - b[..., 2])) > 15).sum())


def test_demo_mark_is_in_the_png_pixels():
    fig = _figure()
    plain = _pixels(images.figure_bytes(fig, "png"))
    demo = _pixels(images.figure_bytes(fig, "png", demo=True))
    assert plain.size == demo.size == (2560, 1440)
    top_right = (1920, 0, 2560, 160)
    middle = (640, 360, 1920, 1080)
    # a solid banner of the warning colour in the top right corner (about 280 x 30 CSS px at scale 2)
    assert _count(demo, top_right, BANNER_RGB) > 10_000
    assert _count(plain, top_right, BANNER_RGB) == 0
    # the large translucent diagonal across the middle of the plot
    assert _tinted_pixels(demo, plain, middle) > 20_000


def _visible_svg_text(svg: bytes) -> list[str]:
    """The text of every <text> element (what is drawn), not <title>/<desc>/<metadata>."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(svg)
    return ["".join(node.itertext()) for node in root.iter("{http://www.w3.org/2000/svg}text")]


def test_demo_mark_is_drawn_in_svg_and_pdf_and_recorded_in_metadata():
    from io import BytesIO

    from pypdf import PdfReader

    from briefing.export_spec import DEMO_MARK, ExportNotes

    notes = ExportNotes(title="Burglary per month", source="synthetic demo", period="Jan–Mar 2020",
                        filters="Essex Police; all districts; Burglary", is_demo=True)
    png, svg, pdf = (item.content() for item in images.chart_files(_figure(), notes, "burglary"))
    assert _visible_svg_text(svg).count(DEMO_MARK) == 2  # banner and diagonal
    page_text = PdfReader(BytesIO(pdf)).pages[0].extract_text()
    assert page_text.count(DEMO_MARK) == 2 and "Burglary per month" in page_text
    assert images.png_text_chunks(png)["Data status"] == DEMO_MARK
    assert "Filters: Essex Police; all districts; Burglary" in images.png_text_chunks(png)["Description"]
    assert PdfReader(BytesIO(pdf)).metadata["/Subject"].startswith(DEMO_MARK)
    plain_notes = ExportNotes(title="Burglary per month", source="data.police.uk")
    plain_svg = images.chart_files(_figure(), plain_notes, "b", formats=("svg",))[0].content()
    assert DEMO_MARK.encode() not in plain_svg and "Burglary per month" in _visible_svg_text(plain_svg)


def test_a_demo_provenance_record_marks_the_image():
    """The briefing pack passes the record of `provenance_for` (dataset 'demo' from meta.dataset)."""
    from briefing.export_spec import DEMO_MARK

    svg = images.figure_bytes(_figure(), "svg", provenance={"dataset": "demo", "version": "t"})
    assert _visible_svg_text(svg).count(DEMO_MARK) == 2
    real = images.figure_bytes(_figure(), "svg", provenance={"dataset": None, "version": "t"})
    assert DEMO_MARK.encode() not in real


def test_chart_files_render_only_when_clicked(monkeypatch):
    from briefing.export_spec import ExportNotes

    calls = []
    real = images._render
    monkeypatch.setattr(images, "_render", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    fig = _figure()
    items = images.chart_files(fig, ExportNotes("Burglary per month", "test"), "burglary")
    assert [d.file_name for d in items] == ["burglary.png", "burglary.svg", "burglary.pdf"]
    assert all(callable(d.data) for d in items) and calls == []
    fig.update_layout(title_text="changed after the page drew it")
    svg = items[1].content()
    assert calls == ["svg"] and b"Burglary per month" in svg and b"changed after" not in svg


# ---------------------------------------------------------------------------------------------
# maps offline
# ---------------------------------------------------------------------------------------------
class _RecordingProxy:
    """An HTTP proxy on 127.0.0.1 that records every request Chromium sends it and answers 502: with
    Chromium pointed at it, every request for a host outside the machine shows up here and fails."""

    def __init__(self) -> None:
        import socketserver

        self.requests: list[str] = []
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                proxy.requests.append(self.rfile.readline().decode("latin-1").strip())
                self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def hosts(self) -> list[str]:
        """The host of every request so far ('CONNECT host:443 ...' or 'GET http://host/...'). A connection that
        sent no request line (Chromium opens spare connections to its proxy ahead of need and closes some unused)
        asked for no host and is not counted."""
        out = []
        for line in self.requests:
            if not line:
                continue
            parts = line.split()
            target = parts[1] if len(parts) > 1 else ""
            out.append(target.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].lower())
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _squares() -> tuple[dict, "pd.DataFrame"]:
    """Six LSOA-like squares near Harlow (a hand-made GeoJSON) with counts 10..60."""
    import pandas as pd

    codes = [f"E0100{i:04d}" for i in range(6)]
    features = []
    for i, code in enumerate(codes):
        x, y, d = 0.05 + 0.05 * (i % 3), 51.70 + 0.05 * (i // 3), 0.05
        ring = [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]
        features.append({"type": "Feature", "id": code, "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}})
    frame = pd.DataFrame({"lsoa_code": codes, "lsoa_name": [f"Harlow 00{i}A" for i in range(6)],
                          "count": [10, 20, 30, 40, 50, 60], "longitude": [0.075 + 0.05 * (i % 3) for i in range(6)],
                          "latitude": [51.725 + 0.05 * (i // 3) for i in range(6)]})
    return {"type": "FeatureCollection", "features": features}, frame


# Chromium's own browser services (component updates, sign-in, optimisation hints, the default search
# engine's preconnect) call these hosts whenever the browser runs, whatever it renders; a page resource (a
# topojson, a script, a web font) never comes from them. Web-font hosts are not on the list.
BROWSER_SERVICE_HOST = re.compile(r"^(?!fonts\.)([a-z0-9-]+\.)*(google\.com|googleapis\.com|gvt1\.com|duckduckgo\.com)$")


def test_maps_render_offline_with_no_outside_request(monkeypatch):
    import kaleido

    from briefing.export_spec import ExportNotes
    from charts.figures import choropleth_map, point_density_map

    geojson, frame = _squares()
    choropleth = choropleth_map(frame, geojson, "Crimes by LSOA", "Crimes", "test", "2021-01")
    points = point_density_map(frame, "Crimes by place", "Crimes", "test", "2021-01")
    proxy = _RecordingProxy()
    images.stop_server()
    monkeypatch.setenv("CHOREO_PROXY_SERVER", proxy.address)  # every outside request goes to the proxy
    try:
        notes = ExportNotes("Crimes by LSOA", "test", sensitive=False)  # offline rendering, not disclosure, is tested
        map_png = _pixels(images.chart_files(choropleth, notes, "map", formats=("png",))[0].content())
        points_png = _pixels(images.figure_bytes(points, "png"))
        during = proxy.hosts()
        # the harness sees a page's requests: Plotly's default world topojson is asked for through the proxy
        with pytest.raises(Exception, match="topojson"):
            kaleido.calc_fig_sync(choropleth.to_dict(), opts={"format": "png", "width": 640, "height": 360, "scale": 1})
        control = proxy.hosts()
    finally:
        images.stop_server()
        proxy.close()
    page_requests = [host for host in during if not BROWSER_SERVICE_HOST.match(host)]
    assert page_requests == [], f"outside requests while rendering maps: {page_requests} (all: {during})"
    assert "cdn.plot.ly" in control and not BROWSER_SERVICE_HOST.match("cdn.plot.ly")
    assert not BROWSER_SERVICE_HOST.match("fonts.googleapis.com")
    # not blank: the darkest LSOA is the scale's top colour (#08306B), a large solid area; the lighter ones too
    full = (0, 0, 2560, 1440)
    assert _count(map_png, full, (0x08, 0x30, 0x6B), 6) > 50_000
    pixels = _rgb(map_png, full)
    assert int(((pixels[..., 2] > pixels[..., 0] + 40) & (pixels[..., 0] < 200)).sum()) > 250_000  # blue shades
    # the points, left of the colour bar: the biggest marker in the scale's top colour at opacity 0.85 over
    # white (0.85 x #08306B + 0.15 x white = (45, 79, 129)), a disc about 44 px across at scale 2
    assert _count(points_png, (0, 0, 2200, 1440), (45, 79, 129), 6) > 1_000
