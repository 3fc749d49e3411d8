"""Figures remembered by the content of their inputs (charts.memo): an equal figure for equal inputs, a new figure for
any change in them, copies callers may change, shared map boundaries and the default template."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from charts import figures, memo
from charts.theme import TEMPLATE_NAME

MONTHS = pd.date_range("2019-01-01", periods=24, freq="MS")
LOCKDOWNS = [("Lockdown 1", pd.Timestamp("2020-03-23"), pd.Timestamp("2020-06-30"))]


@pytest.fixture(autouse=True)
def empty_memo():
    memo.forget()
    yield
    memo.forget()


def monthly(counts: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"month": MONTHS[: len(counts)], "count": counts})


def trend(frame: pd.DataFrame, title: str = "Burglary") -> go.Figure:
    return figures.trend_chart(frame, title, "Crimes per month", "data.police.uk", "2020-12-01", lockdowns=LOCKDOWNS)


def spec(fig: go.Figure) -> dict:
    """The figure as the browser receives it (JSON; key order aside)."""
    return json.loads(pio.to_json(fig, validate=False))


def test_equal_inputs_give_the_same_figure_without_building_it_again():
    counts = list(range(100, 124))
    first = trend(monthly(counts))
    again = trend(monthly(list(counts)))  # an equal frame, another object
    assert spec(again) == spec(first)
    assert memo.statistics()["hits"] == 1
    # and the remembered figure is what the builder itself makes
    assert spec(again) == spec(figures.trend_chart.uncached(monthly(counts), "Burglary", "Crimes per month",
                                                            "data.police.uk", "2020-12-01", lockdowns=LOCKDOWNS))
    assert list(again.data[0].y) == counts


@pytest.mark.parametrize("change", ["one count", "title", "column dtype", "attrs", "lockdowns"])
def test_any_change_in_the_inputs_builds_a_new_figure(change):
    counts = list(range(100, 124))
    base = trend(monthly(counts))
    frame, title, lockdowns = monthly(counts), "Burglary", LOCKDOWNS
    if change == "one count":
        frame.loc[5, "count"] = 999
    elif change == "title":
        title = "Burglary "
    elif change == "column dtype":
        frame["count"] = frame["count"].astype(float)
    elif change == "attrs":
        frame.attrs["note"] = "changed"
    elif change == "lockdowns":
        lockdowns = [("Lockdown 1", pd.Timestamp("2020-03-23"), pd.Timestamp("2020-07-01"))]
    other = figures.trend_chart(frame, title, "Crimes per month", "data.police.uk", "2020-12-01", lockdowns=lockdowns)
    assert memo.statistics()["hits"] == 0
    assert memo.statistics()["misses"] == 2
    if change == "one count":
        assert other.data[0].y[5] == 999 and base.data[0].y[5] == 105
    if change == "title":
        assert other.layout.title.text == "Burglary " and base.layout.title.text == "Burglary"


def test_a_caller_changing_its_figure_does_not_change_what_is_remembered():
    frame = monthly(list(range(24)))
    first = trend(frame)
    first.update_layout(title_text="changed by the caller")
    first.add_annotation(text="extra")
    second = trend(frame)
    second.data[0].update(y=[0] * 24)
    second.layout.annotations[0].text = "changed again"
    third = trend(frame)
    assert third.layout.title.text == "Burglary"
    assert list(third.data[0].y) == list(range(24))
    assert [a.text for a in third.layout.annotations] == [a.text for a in figures.trend_chart.uncached(
        frame, "Burglary", "Crimes per month", "data.police.uk", "2020-12-01", lockdowns=LOCKDOWNS).layout.annotations]


def test_cells_pandas_cannot_hash_are_keyed_item_by_item():
    frame = pd.DataFrame({"label": ["a", "b"], "value": [1.0, 2.0], "ci": [[0.5, 1.5], [1.0, 3.0]]})
    one = memo.content_key("f", (frame,), {})
    assert one == memo.content_key("f", (frame.copy(),), {})
    changed = frame.copy()
    changed.at[1, "ci"] = [1.0, 3.5]
    assert memo.content_key("f", (changed,), {}) != one


def test_object_columns_are_keyed_with_the_type_of_each_cell():
    numbers = pd.DataFrame({"label": pd.Series([1, 2], dtype=object)})
    texts = pd.DataFrame({"label": pd.Series(["1", "2"], dtype=object)})
    assert memo.content_key("f", (numbers,), {}) != memo.content_key("f", (texts,), {})
    assert memo.content_key("f", (numbers,), {}) == memo.content_key("f", (numbers.copy(),), {})


def test_date_columns_and_number_columns_are_keyed_by_value():
    """The fast paths (a column of dates pickled whole, a NumPy column by its bytes, a RangeIndex by its bounds) still
    tell every change apart, and equal content in other objects still gives the same key."""
    months = [date(2020, 1, 1) + timedelta(days=31 * i) for i in range(12)]
    frame = pd.DataFrame({"month": pd.Series(months, dtype=object), "count": np.arange(12, dtype="int64"),
                          "rate": np.linspace(0.0, 1.0, 12), "flag": [i % 2 == 0 for i in range(12)]})
    frame.attrs = {"fit_from": date(2017, 1, 1), "note": "fitted"}
    key = memo.content_key
    one = key("f", (frame,), {})
    rebuilt = pd.DataFrame({column: list(frame[column]) for column in frame.columns})
    rebuilt["month"] = rebuilt["month"].astype(object)
    rebuilt.attrs = {"fit_from": date(2017, 1, 1), "note": "fitted"}
    assert key("f", (rebuilt,), {}) == one
    for change in ("month", "month as datetime", "count", "rate", "flag", "index", "attrs date"):
        other = frame.copy()
        if change == "month":
            other.at[3, "month"] = date(2020, 4, 2)
        elif change == "month as datetime":  # the same day, another type
            other.at[3, "month"] = datetime(months[3].year, months[3].month, months[3].day)
        elif change == "count":
            other.at[11, "count"] = 12
        elif change == "rate":
            other.at[0, "rate"] = 1e-12
        elif change == "flag":
            other.at[5, "flag"] = True
        elif change == "index":
            other.index = pd.RangeIndex(1, 13)
        elif change == "attrs date":
            other.attrs = {"fit_from": date(2017, 2, 1), "note": "fitted"}
        assert key("f", (other,), {}) != one, change
    assert frame.attrs == {"fit_from": date(2017, 1, 1), "note": "fitted"}  # keying leaves the frame as it was


def test_keys_tell_types_and_positions_apart():
    key = memo.content_key
    assert key("f", (1,), {}) != key("f", (1.0,), {}) != key("f", (True,), {})
    assert key("f", ("a", "b"), {}) != key("f", ("b", "a"), {})
    assert key("f", ("a",), {"x": 1}) != key("f", ("a", 1), {})
    assert key("f", (pd.Series([1, 2], name="a"),), {}) != key("f", (pd.Series([1, 2], name="b"),), {})
    assert key("f", (np.array([1, 2]),), {}) != key("f", (np.array([1, 2], dtype="int32"),), {})
    assert key("f", (None,), {}) != key("g", (None,), {})


def test_an_input_the_key_cannot_describe_is_built_every_time():
    calls = []

    @memo.remembered
    def build(thing: object) -> go.Figure:
        calls.append(thing)
        return go.Figure()

    thing = object()
    build(thing)
    build(thing)
    assert len(calls) == 2
    assert memo.statistics()["figures"] == 0


def test_the_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(memo, "MAX_FIGURES", 3)
    for n in range(5):
        trend(monthly([n] * 24))
    assert memo.statistics()["figures"] == 3
    trend(monthly([4] * 24))  # the most recent is still there
    assert memo.statistics()["hits"] == 1
    trend(monthly([0] * 24))  # the oldest went first
    assert memo.statistics()["hits"] == 1


def test_map_boundaries_are_shared_not_copied_and_serialise_as_geojson():
    square = {"type": "Polygon", "coordinates": [[[0.0, 51.0], [0.0, 51.1], [0.1, 51.1], [0.1, 51.0], [0.0, 51.0]]]}
    geojson = {"type": "FeatureCollection", "features": [{"type": "Feature", "id": "E01000001", "geometry": square,
                                                          "properties": {"lsoa_code": "E01000001"}}]}
    frame = pd.DataFrame({"lsoa_code": ["E01000001"], "lsoa_name": ["Basildon 001A"], "count": [7]})
    fig = figures.choropleth_map(frame, geojson, "Crimes by LSOA", "Crimes", "data.police.uk", "2020-12-01")
    boundaries = fig.data[0].geojson
    assert isinstance(boundaries, figures.SharedGeoJSON)
    assert fig.to_dict()["data"][0]["geojson"] is boundaries          # drawing it copies no polygon
    assert copy.deepcopy(go.Figure(fig.to_dict(), _validate=False)).data[0].geojson is boundaries
    again = figures.choropleth_map(frame, copy.deepcopy(geojson), "Crimes by LSOA", "Crimes", "data.police.uk",
                                   "2020-12-01")
    assert memo.statistics()["hits"] == 1
    written = json.loads(pio.to_json(again, validate=False))["data"][0]["geojson"]
    assert written["features"][0]["id"] == "E01000001"
    assert written["features"][0]["geometry"]["type"] == "Polygon"


def test_figures_carry_the_dashboard_template(monkeypatch):
    import streamlit.elements.plotly_chart  # noqa: F401  (importing it sets Streamlit's own default template)

    monkeypatch.setattr(pio.templates, "default", "streamlit")  # as when Streamlit was imported after charts
    fig = figures.bar_chart(pd.DataFrame({"district": ["A", "B"], "n": [1, 2]}), "n", "district", "T", "x", "y",
                            "src", "2020-12-01")
    assert pio.templates.default == TEMPLATE_NAME
    template = fig.to_dict()["layout"]["template"]
    assert template["layout"]["colorway"][0] == "#0072B2"   # Okabe-Ito blue, the first series colour
    assert template["layout"]["font"]["family"].startswith("Source Sans Pro")
