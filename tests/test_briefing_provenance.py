"""Provenance records for people: filters in words, labels in words, the demo mark in the record and the
JSON sidecar (read back with the json module)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import duckdb
import pytest

from briefing.export_spec import DEMO_MARK, ExportNotes
from briefing.provenance import (
    filters_in_words,
    provenance_for,
    provenance_lines,
    sidecar_path,
    warehouse_identity,
    write_sidecar,
)
from etl.warehouse import ensure_schema
from metrics.filters import Filters


@pytest.fixture()
def warehouse(tmp_path):
    def make(dataset: str | None) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(str(tmp_path / f"{dataset}.duckdb"))
        ensure_schema(con)
        if dataset:
            con.execute("insert into meta values ('dataset', ?)", [dataset])
        return con

    return make


def test_filters_in_words():
    assert filters_in_words(Filters(force_id="essex", districts=("Basildon", "Harlow"), categories=("Burglary",))) \
        == "Essex Police; districts: Basildon, Harlow; crime types: Burglary"
    assert filters_in_words(None) == "All forces loaded; all districts; all crime types"
    # the dict a provenance record holds reads the same
    assert filters_in_words({"force_id": "metropolitan", "districts": [], "categories": ["Drugs", "Robbery"]}) \
        == "Metropolitan Police Service; all districts; crime types: Drugs, Robbery"


def test_provenance_lines_are_words_with_the_raw_filters_kept():
    record = {"producer": "Crime Plan Monitor", "load_fingerprint": "abc", "filters": {"force_id": "essex"},
              "period": ["2021-01-01", "2021-12-01"], "comparison": ["2020-01-01", "2020-12-01"]}
    lines = dict(provenance_lines(record))
    assert lines["Filters"] == "Essex Police; all districts; all crime types"
    assert json.loads(lines["Filters (as recorded)"]) == {"force_id": "essex"}
    assert lines["Period"] == "2021-01 to 2021-12" and lines["Compared with"] == "2020-01 to 2020-12"
    assert lines["Data fingerprint (files loaded)"] == "abc"
    assert all("_" not in label for label in lines)


def test_demo_record_and_sidecar_say_synthetic(warehouse, tmp_path):
    demo = provenance_for(warehouse("demo"), Filters(force_id="essex"))
    assert demo["dataset"] == "demo" and demo["data_status"] == DEMO_MARK
    assert ExportNotes("t", "s", provenance=demo).demo  # the notes of an export made from it are demo notes
    real = provenance_for(warehouse(None), Filters(force_id="essex"))
    assert "data_status" not in real and not ExportNotes("t", "s", provenance=real).demo

    out = tmp_path / "chart.png"
    path = write_sidecar(out, {"dataset": "demo", "version": "t"})  # a record made elsewhere is marked too
    assert path == sidecar_path(out) == tmp_path / "chart.png.provenance.json"
    assert json.loads(path.read_text(encoding="utf-8"))["data_status"] == DEMO_MARK
    plain = write_sidecar(tmp_path / "real.png", real)
    assert DEMO_MARK not in plain.read_text(encoding="utf-8")


def test_the_identity_the_app_reads_once_names_the_files_loaded(warehouse):
    """The app reads a warehouse's identity once per file (ui.render through its cache) and passes it in: the record
    is the one read from the warehouse itself, and the fingerprint is the hash of load_log's rows, computed by hand."""
    con = warehouse("demo")
    con.execute("insert into load_log values ('l1', 'a.csv', 'street', 'essex', date '2021-01-01', 'f00d', 10, 9, 1, "
                "timestamp '2026-12-01 10:00:00'), ('l1', 'b.csv', 'street', 'essex', date '2021-02-01', 'beef', 5, 5, "
                "0, timestamp '2026-12-01 10:00:00')")
    by_hand = hashlib.sha256("a.csv|street|essex|2021-01-01|f00d|9\nb.csv|street|essex|2021-02-01|beef|5".encode())
    identity = warehouse_identity(con)
    assert identity == (by_hand.hexdigest()[:16], "demo")
    at = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)
    given = provenance_for(con, Filters(force_id="essex"), generated_at=at, identity=identity, title="t")
    assert given == provenance_for(con, Filters(force_id="essex"), generated_at=at, title="t")
    assert given["load_fingerprint"] == by_hand.hexdigest()[:16] and "identity" not in given
