"""Top LSOAs, every-LSOA counts, point density and boundaries, against csv counts over the real files."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date

import duckdb
import pytest

from etl.load import load_sources
from metrics.filters import Filters
from metrics.hotspots import boundaries, lsoa_counts, point_density, top_lsoas

START, END = date(2018, 10, 1), date(2019, 2, 1)


def test_top_lsoas(essex_db, essex_rows):
    con = duckdb.connect(str(essex_db), read_only=True)
    frame = top_lsoas(con, START, END, Filters(force_id="essex"), limit=5)
    counts = Counter(row["LSOA code"] for row in essex_rows if row["LSOA code"])
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:5]
    assert list(zip(frame["lsoa_code"], frame["count"])) == top
    assert frame["rate_per_1000"].tolist() == pytest.approx((frame["count"] / frame["residents"] * 1000).tolist())
    burglary = top_lsoas(con, START, END, Filters(force_id="essex", categories=("Burglary",)), limit=1)
    burglary_counts = Counter(r["LSOA code"] for r in essex_rows if r["LSOA code"] and r["Crime type"] == "Burglary")
    assert burglary["count"].iloc[0] == max(burglary_counts.values())


def test_lsoa_counts_cover_every_lsoa_of_the_force(essex_db, essex_rows):
    con = duckdb.connect(str(essex_db), read_only=True)
    frame = lsoa_counts(con, START, END, Filters(force_id="essex"))
    assert len(frame) == 1077  # Essex LSOAs (data README)
    counts = Counter(row["LSOA code"] for row in essex_rows if row["LSOA code"])
    for row in frame.itertuples():
        assert row.count == counts.get(row.lsoa_code, 0)
    maldon = lsoa_counts(con, START, END, Filters(force_id="essex", districts=("Maldon",)))
    assert set(maldon["district"]) == {"Maldon"} and len(maldon) < 100


def test_point_density(essex_db, essex_rows):
    con = duckdb.connect(str(essex_db), read_only=True)
    frame = point_density(con, START, END, Filters(force_id="essex"), cell_degrees=0.05)
    cells = Counter(
        (math.floor(float(r["Longitude"]) / 0.05), math.floor(float(r["Latitude"]) / 0.05))
        for r in essex_rows if r["Longitude"]
    )
    assert int(frame["count"].sum()) == sum(cells.values())
    assert len(frame) == len(cells)
    assert frame["count"].iloc[0] == max(cells.values())
    with pytest.raises(ValueError):
        point_density(con, START, END, None, cell_degrees=0)


def test_boundaries(tmp_path, reference_data):
    con_empty = duckdb.connect(str(tmp_path / "none.duckdb"))
    from etl.warehouse import ensure_schema

    ensure_schema(con_empty)
    assert boundaries(con_empty, ["E01021272"]) is None
    db = tmp_path / "b.duckdb"
    load_sources([reference_data / "ons" / "lsoa11-boundaries-bsc.geojson.gz"], db, progress=False)
    con = duckdb.connect(str(db), read_only=True)
    codes = [r[0] for r in con.execute("select lsoa_code from lsoa_boundaries order by 1 limit 3").fetchall()]
    collection = boundaries(con, codes)
    assert collection["type"] == "FeatureCollection"
    assert [f["properties"]["lsoa_code"] for f in collection["features"]] == codes
    assert collection["features"][0]["geometry"]["type"] in {"Polygon", "MultiPolygon"}
