"""charts: captions (source and as-at), lockdown shading, the Okabe–Ito palette, polygon winding for
Plotly's d3-geo, label placement without overlaps, and the scorecard text helpers."""

from __future__ import annotations

from datetime import date

import pandas as pd
import plotly.graph_objects as go
import pytest

import charts
from charts.figures import place_labels, rewind_for_plotly
from charts.theme import PALETTE
from metrics import calendar

OKABE_ITO = {"#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}


def _months(first: str, periods: int) -> list[date]:
    return [d.date() for d in pd.date_range(first, periods=periods, freq="MS")]


def test_trend_chart_has_title_axes_caption_and_lockdowns():
    frame = pd.DataFrame({"month": _months("2019-07-01", 24), "count": range(24)})
    fig = charts.trend_chart(frame, "Burglary per month", "Crimes per month", "data.police.uk", date(2021, 6, 1),
                             lockdowns=calendar.lockdowns())
    assert fig.layout.title.text == "Burglary per month"
    assert fig.layout.yaxis.title.text == "Crimes per month" and fig.layout.xaxis.title.text == "Month"
    captions = [a.text for a in fig.layout.annotations if "Source:" in a.text]
    assert captions == ["Source: data.police.uk. Data as at June 2021."]
    # three lockdowns (Mar–Jun 2020, Nov–Dec 2020, Jan–Mar 2021), all inside Jul 2019..Jun 2021
    assert len(fig.layout.shapes) == 3
    assert {s.x0.date() for s in fig.layout.shapes} == {date(2020, 3, 23), date(2020, 11, 5), date(2021, 1, 6)}


def test_lockdowns_outside_the_range_are_not_shaded():
    frame = pd.DataFrame({"month": _months("2018-10-01", 5), "count": [5, 4, 3, 2, 1]})
    fig = charts.trend_chart(frame, "t", "Crimes per month", "s", date(2019, 2, 1), lockdowns=calendar.lockdowns())
    assert len(fig.layout.shapes) == 0


def test_palette_is_okabe_ito():
    assert set(PALETTE) == OKABE_ITO


def test_long_captions_wrap_instead_of_running_off():
    fig = charts.bar_chart(pd.DataFrame({"label": ["a", "b"], "value": [1, 2]}), "value", "label", "t", "x", "y",
                           "a very long source description " * 10, date(2020, 1, 1))
    caption = next(a.text for a in fig.layout.annotations if "Source:" in a.text)
    assert "<br>" in caption and all(len(line) <= 150 for line in caption.split("<br>"))


def test_rewind_makes_exterior_rings_clockwise():
    anticlockwise = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]
    clockwise = list(reversed(anticlockwise))
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "a", "geometry": {"type": "Polygon", "coordinates": [anticlockwise]}},
        {"type": "Feature", "id": "b", "geometry": {"type": "MultiPolygon", "coordinates": [[clockwise]]}},
    ]}
    rewound = rewind_for_plotly(collection)
    assert rewound["features"][0]["geometry"]["coordinates"][0] == clockwise
    assert rewound["features"][1]["geometry"]["coordinates"][0][0] == clockwise
    assert collection["features"][0]["geometry"]["coordinates"][0] == anticlockwise  # input untouched


def test_place_labels_never_overlaps():
    # three points at the same place: at most the four positions around it, none overlapping
    positions = place_labels([100, 100, 100], [10, 10, 10], ["Chelmsford", "Colchester", "Basildon"])
    placed = [p for p in positions if p]
    assert len(placed) == len(set(placed)) == 3
    far = place_labels([10, 1000], [1, 20], ["a", "b"])
    assert far == ["top center", "top center"]


def test_funnel_marks_points_outside_998_limits():
    frame = pd.DataFrame({"district": ["A", "B"], "residents": [1000, 1000], "rate_per_1000": [50.0, 10.0]})
    limits = pd.DataFrame({"population": [500, 2000], "lower_998": [5.0, 5.0], "upper_998": [20.0, 20.0],
                           "lower_95": [7.0, 7.0], "upper_95": [15.0, 15.0]})
    fig = charts.funnel_plot(frame, limits, "t", "s", date(2020, 1, 1), population="residents",
                             limits_population="population", overall_rate=12.0)
    points = fig.data[-1]
    assert list(points.marker.color) == ["#D55E00", "#0072B2"]


@pytest.mark.parametrize("rr, lo, hi, expected", [
    (1.1, 1.05, 1.2, ("+10.0%", "+5.0% to +20.0%")),
    (float("nan"), 0.0, float("inf"), ("—", "—")),
    (0.5, 0.25, 0.9, ("-50.0%", "-75.0% to -10.0%")),
])
def test_format_pct_change(rr, lo, hi, expected):
    assert charts.format_pct_change(rr, lo, hi) == expected


def test_significance_mark_uses_q_value():
    assert charts.significance_mark(0.01, 1.2) == "▲ significant rise"
    assert charts.significance_mark(0.01, 0.8) == "▼ significant fall"
    assert charts.significance_mark(0.2, 0.8) == "– not significant"
    assert charts.significance_mark(None, 0.8) == "not tested"


# --- lockdown labels: readable on a phone-wide plot ----------------------------------------------------
LIBERATION_SANS = "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"  # Chromium's Arial here


def _label_boxes(fig, plot_width_px: float) -> list[tuple[int, float, float]]:
    """(row offset, left px, right px) of each lockdown label, measured with the real font at 10 px."""
    from PIL import ImageFont

    font = ImageFont.truetype(LIBERATION_SANS, 10)
    x_lo, x_hi = (pd.Timestamp(v) for v in fig.layout.xaxis.range)
    per_day = plot_width_px / (x_hi - x_lo).days
    boxes = []
    for note in fig.layout.annotations:
        if note.yref != "paper" or note.y != 1.0 or note.yshift is None:
            continue
        centre = (pd.Timestamp(note.x) - x_lo).days * per_day
        width = font.getlength(note.text) + 4  # the label's white background pads it
        boxes.append((note.yshift, centre - width / 2, centre + width / 2))
    return boxes


@pytest.mark.parametrize("first, months", [("2018-01-01", 48), ("2019-03-01", 34), ("2020-01-01", 24)])
def test_lockdown_labels_do_not_collide_on_a_phone_wide_plot(first, months):
    frame = pd.DataFrame({"month": _months(first, months), "count": [100 + i % 7 for i in range(months)]})
    fig = charts.trend_chart(frame, "t", "Crimes per month", "s", date(2021, 12, 1), lockdowns=calendar.lockdowns())
    boxes = _label_boxes(fig, plot_width_px=330)
    assert len(boxes) == 3
    for i, (row_a, left_a, right_a) in enumerate(boxes):
        for row_b, left_b, right_b in boxes[i + 1:]:
            if row_a == row_b:
                assert right_a <= left_b or right_b <= left_a, (first, boxes)
    # the axis leaves room above the data for the label rows
    rows = len({row for row, _, _ in boxes})
    assert fig.layout.yaxis.range[1] > frame["count"].max() * (1 + 0.05 * rows)


def test_heatmap_fills_missing_cells_with_zero_in_the_given_order():
    frame = pd.DataFrame({"hour": [0, 0, 23], "day": ["Monday", "Monday", "Sunday"], "collisions": [2, 3, 4]})
    fig = charts.heatmap(frame, "hour", "day", "collisions", "t", "Hour", "Day", "Collisions", "s", date(2021, 1, 1),
                         x_order=list(range(24)), y_order=["Monday", "Tuesday", "Sunday"])
    grid = fig.data[0].z
    assert list(fig.data[0].y) == ["Monday", "Tuesday", "Sunday"] and list(fig.data[0].x)[:2] == ["0", "1"]
    assert grid[0][0] == 5 and grid[2][23] == 4 and sum(map(sum, grid)) == 9
    assert any("Source: s." in a.text for a in fig.layout.annotations)


def test_change_chart_wraps_long_labels_so_the_plot_keeps_its_width():
    frame = pd.DataFrame({"label": ["Serious violence (violence and sexual offences incl. common assault, robbery, "
                                    "weapons)", "Robbery"], "rate_ratio": [1.1, 0.9], "ci_lower": [1.0, 0.8],
                          "ci_upper": [1.2, 1.0], "significant": [True, False]})
    fig = charts.change_chart(frame, "label", "t", "s", date(2021, 1, 1))
    assert all(len(part) <= 26 for text in fig.data[0].y for part in text.split("<br>"))
    assert "Robbery" in fig.data[0].y



def test_bar_chart_draws_long_names_on_two_lines_and_keeps_them_whole_in_the_bars():
    names = ["Killed or seriously injured (KSI) casualties", "Fraud reports (Action Fraud)", "Drugs"]
    frame = pd.DataFrame({"series": names, "pct_difference": [-27.6, 33.3, 15.8]})
    fig = charts.bar_chart(frame, "pct_difference", "series", "t", "x", "", "s", date(2021, 1, 1))
    # the bars keep the whole names (hover text, exports); the axis draws them wrapped
    assert sorted(fig.data[0].y) == sorted(names)
    ticks = dict(zip(fig.layout.yaxis.tickvals, fig.layout.yaxis.ticktext))
    assert ticks["Killed or seriously injured (KSI) casualties"] == "Killed or seriously<br>injured (KSI) casualties"
    assert ticks["Fraud reports (Action Fraud)"] == "Fraud reports (Action<br>Fraud)" and ticks["Drugs"] == "Drugs"
    # the left margin fits the longest drawn line ("injured (KSI) casualties", 24 characters), not the longest name (44)
    assert fig.layout.margin.l == int(14 + 7.2 * 24)
    # short names: no tick texts of their own, one line a row
    short = charts.bar_chart(frame.assign(series=["A", "B", "C"]), "pct_difference", "series", "t", "x", "", "s",
                             date(2021, 1, 1))
    assert short.layout.yaxis.ticktext is None and short.layout.margin.l == int(14 + 7.2 * 1)


def test_diverging_bars_put_a_value_inside_its_bar_where_it_fits_so_it_does_not_run_into_the_names():
    diverging = charts.bar_chart(pd.DataFrame({"series": ["A", "B"], "pct": [40.0, -60.0]}), "pct", "series", "t", "x",
                                 "", "s", date(2021, 1, 1))
    assert diverging.data[0].textposition == "auto"
    # room beyond the bars: a quarter of the span (100) to the left, 18% to the right
    assert list(diverging.layout.xaxis.range) == pytest.approx([-60.0 - 25.0, 40.0 + 18.0])
    positive = charts.bar_chart(pd.DataFrame({"series": ["A", "B"], "n": [40.0, 60.0]}), "n", "series", "t", "x", "",
                                "s", date(2021, 1, 1))
    assert positive.data[0].textposition == "outside" and list(positive.layout.xaxis.range) == pytest.approx(
        [0.0, 60.0 * 1.18])


def test_the_screen_copy_of_a_chart_leaves_its_title_and_caption_to_the_page_and_the_figure_whole():
    frame = pd.DataFrame({"month": _months("2019-01-01", 36), "count": [100 + i % 7 for i in range(36)]})
    expected = frame.assign(expected=100.0, lower=90.0, upper=110.0).iloc[14:]
    fig = charts.trend_chart(frame, "Burglary & robbery per month", "Crimes per month", "data.police.uk",
                             date(2021, 12, 1), expected=expected, lockdowns=calendar.lockdowns(), note="A note.")
    before = fig.to_json()
    screen, title, caption = charts.screen_figure(fig)
    assert fig.to_json() == before  # the figure itself (exports, the briefing pack) keeps its title and caption
    assert title == "Burglary & robbery per month"  # as text, not the figure's HTML-escaped title
    assert caption == "Source: data.police.uk. Data as at December 2021. A note."
    assert not screen.layout.title.text
    texts = [a.text for a in screen.layout.annotations]
    assert not any("Source:" in text for text in texts) and any("Source:" in a.text for a in fig.layout.annotations)
    assert [t for t in texts if "lockdown" in t] == [a.text for a in fig.layout.annotations if "lockdown" in a.text]
    # the room they took is given back: 30 px of title (a legend stays above the plot) and one caption line
    assert screen.layout.margin.t == fig.layout.margin.t - 30
    assert screen.layout.margin.b == fig.layout.margin.b - (15 + 6)
    assert screen.layout.height == fig.layout.height - 30 - 21
    assert [list(trace.y) for trace in screen.data] == [list(trace.y) for trace in fig.data]
    alone = charts.trend_chart(frame, "t", "Crimes per month", "s", date(2021, 12, 1), lockdowns=calendar.lockdowns())
    assert charts.screen_figure(alone)[0].layout.margin.t == 16  # one line: no legend above the plot
    # no legend: only a small gap is left above the plot
    bars = charts.bar_chart(pd.DataFrame({"series": ["A", "B"], "v": [1.0, -2.0]}), "v", "series", "t", "x", "", "s",
                            date(2021, 1, 1))
    assert charts.screen_figure(bars)[0].layout.margin.t == 16
    forest = charts.change_chart(pd.DataFrame({"label": ["A", "B"], "rate_ratio": [1.1, 0.9], "ci_lower": [1.0, 0.8],
                                               "ci_upper": [1.2, 1.0], "significant": [True, False]}),
                                 "label", "t", "s", date(2021, 1, 1))
    assert charts.screen_figure(forest)[0].layout.margin.t == 16  # its one trace is not in a legend
    # a figure the charts module did not finish is drawn as it is
    plain = go.Figure(go.Bar(x=[1], y=["a"]))
    assert charts.screen_figure(plain) == (plain, "", "")

# --- the one formatter -----------------------------------------------------------------------------
def test_formatting_reads_the_same_everywhere():
    from charts import formatting as fmt

    assert fmt.number(12345.6) == "12,346" and fmt.number(12.345, 1) == "12.3" and fmt.number(None) == "—"
    assert fmt.number(float("nan")) == "—" and fmt.number(pd.NA) == "—" and fmt.number("<5") == "<5"
    assert fmt.number(4, sign=True) == "+4" and fmt.number(2.5, 1, unit="%") == "2.5 %"
    assert fmt.percent(12.345) == "12.3%" and fmt.percent(-3, 0, sign=True) == "-3%"
    assert fmt.share(0.1234) == "12.3%" and fmt.share(None) == "—"
    assert fmt.pounds_millions(1_234_567) == "£1.2m"
    assert fmt.q_value(0.0004) == "<0.001" and fmt.q_value(0.04567) == "0.046"
    assert fmt.as_at(date(2021, 3, 1)) == "March 2021" and fmt.as_at(date(2021, 4, 12)) == "12 Apr 2021"
    assert fmt.month(date(2021, 3, 1)) == "Mar 2021"
    assert fmt.sparkline_text([1, 2, 3, 4]) == "▁▃▆█"  # levels floor((v - 1) / 3 * 8): 0, 2, 5, 7
    assert fmt.sparkline_text([]) == "—"
    assert fmt.join_labels(["a"]) == "a" and fmt.join_labels(["a", "b", "c"]) == "a, b and c"
    assert fmt.join_labels(["a", "b", "c", "d", "e"]) == "a, b, c and 2 more"
