"""Chart images through the warm kaleido server: type, size, dimensions, metadata, thread safety."""

from __future__ import annotations

import json
import struct
import threading
import time
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


def test_server_is_warm_and_thread_safe():
    images.figure_bytes(_figure(), "png")  # warm
    started = time.perf_counter()
    images.figure_bytes(_figure("second"), "svg")
    assert time.perf_counter() - started < 5  # no browser start per image
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
