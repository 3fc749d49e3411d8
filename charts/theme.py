"""One chart style for the dashboard and the briefing pack: Okabe–Ito colour-blind-safe palette, a
Plotly template, lockdown shading colours and number formats."""

from __future__ import annotations

import json
import urllib.parse

import plotly.graph_objects as go
import plotly.io as pio

# Okabe & Ito (2008) colour-universal-design palette, in the order series take them
OKABE_ITO: dict[str, str] = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "bluish_green": "#009E73",
    "vermillion": "#D55E00",
    "sky_blue": "#56B4E9",
    "reddish_purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}
PALETTE: list[str] = list(OKABE_ITO.values())

OBSERVED_COLOUR = OKABE_ITO["blue"]
EXPECTED_COLOUR = OKABE_ITO["orange"]
EXPECTED_BAND_FILL = "rgba(230, 159, 0, 0.18)"     # orange, translucent
HIGHLIGHT_COLOUR = OKABE_ITO["vermillion"]
MUTED_COLOUR = "#9AA5B1"
LOCKDOWN_FILL = "rgba(120, 120, 120, 0.16)"
RISE_COLOUR = OKABE_ITO["vermillion"]
FALL_COLOUR = OKABE_ITO["blue"]
# sequential scale for maps (light to dark blue; readable for every colour-vision type)
SEQUENTIAL_SCALE: list[list] = [[0.0, "#F7FBFF"], [0.35, "#9ECAE1"], [0.7, "#3182BD"], [1.0, "#08306B"]]

FONT_FAMILY = "Source Sans Pro, Arial, sans-serif"
TEMPLATE_NAME = "crime_monitor"


def _template() -> go.layout.Template:
    base = pio.templates["plotly_white"]
    template = go.layout.Template(base)
    template.layout.colorway = PALETTE
    template.layout.font = dict(family=FONT_FAMILY, size=13, color="#1A1A1A")
    template.layout.title = dict(font=dict(size=17), x=0.0, xanchor="left", y=0.98, yanchor="top")
    template.layout.legend = dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0.0, title_text="")
    template.layout.hoverlabel = dict(font_family=FONT_FAMILY)
    # no automargin: Plotly then draws each chart two or three times to fit the margins to the tick labels (60% of a
    # trend chart's drawing time in the browser); charts.figures sizes the left margin from the labels instead
    template.layout.xaxis = dict(showline=True, linecolor="#666", ticks="outside", gridcolor="#E5E8EC", automargin=False)
    template.layout.yaxis = dict(showline=True, linecolor="#666", ticks="outside", gridcolor="#E5E8EC",
                                 rangemode="tozero", automargin=False)
    return template


pio.templates[TEMPLATE_NAME] = _template()
# every figure starts from it: Plotly applies the default template at creation without validating it again, where
# `update_layout(template=...)` validated and copied it for each figure (half of a chart's build time)
pio.templates.default = TEMPLATE_NAME


def use_as_default() -> None:
    """Make the dashboard's template Plotly's default again if something replaced it: importing Streamlit's
    `st.plotly_chart` sets its own default ("streamlit", with placeholder colours its browser code fills in), so
    which default a figure got depended on whether charts or Streamlit was imported first. Every builder calls this
    before it makes a figure (a comparison of two strings)."""
    if pio.templates.default != TEMPLATE_NAME:
        pio.templates.default = TEMPLATE_NAME


def colour_for(index: int) -> str:
    """The palette colour for the index-th series (cycles)."""
    return PALETTE[index % len(PALETTE)]


# Plotly's geo subplots always load a world topojson from cdn.plot.ly, even with the base map hidden, and
# draw nothing when it cannot be fetched (offline servers, air-gapped force networks). Our maps draw only
# their own GeoJSON, so an empty topology served as a data: URL is enough ("#" makes Plotly's
# "<name>.json" suffix a URL fragment). Pass PLOTLY_CONFIG to st.plotly_chart / fig.show / write_html.
_EMPTY_TOPOLOGY = {
    "type": "Topology",
    "objects": {name: {"type": "GeometryCollection", "geometries": []}
                for name in ("coastlines", "land", "ocean", "lakes", "rivers", "countries", "subunits")},
    "arcs": [],
}
OFFLINE_TOPOJSON_URL = "data:application/json;charset=utf-8," + urllib.parse.quote(
    json.dumps(_EMPTY_TOPOLOGY, separators=(",", ":"))) + "#"
PLOTLY_CONFIG: dict = {
    "displaylogo": False,
    "toImageButtonOptions": {"format": "png", "scale": 2},
    "modeBarButtonsToRemove": ["lasso2d", "select2d"],
    "topojsonURL": OFFLINE_TOPOJSON_URL,
}
# the same for static exports (kaleido: briefing images and slides)
pio.defaults.topojson = OFFLINE_TOPOJSON_URL
