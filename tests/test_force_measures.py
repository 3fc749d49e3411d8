"""Force measures loader and the per-priority measure views (mapping in a TOML file)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from etl.load import load_sources
from etl.warehouse import LoadError

HEADER = "measure,period_start,period_end,value,unit,target"


def write(path: Path, header: str, lines: list[str]) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def test_measures_load_with_rejects_and_reload(tmp_path):
    path = write(tmp_path / "measures.csv", HEADER, [
        "999 calls answered within 10 seconds,2023-01-01,2023-01-31,91.5,%,90",
        "999 calls answered within 10 seconds,2023-02-01,2023-02-28,88.0,%,90",
        "101 average answer time,2023-01-01,2023-01-31,185,seconds,120",
        "Police officers,2023-03-31,2023-03-31,3755,officers,",
        "Speeding detections,2023-02-01,2023-01-01,5,detections,",      # line 6: end before start
        "Speeding detections,2023-01-01,2023-01-31,many,detections,",   # line 7: value not a number
        "Speeding detections,01/01/2023,2023-01-31,5,detections,",      # line 8: bad date
        ",2023-01-01,2023-01-31,5,detections,",                         # line 9: empty measure
        "Police officers,2023-03-31,2023-03-31,3760,officers,",         # line 10: duplicate of line 5
    ])
    db = tmp_path / "w.duckdb"
    summary = load_sources([path], db, progress=False, force="Essex")
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (9, 4, 5)
    con = duckdb.connect(str(db), read_only=True)
    assert [r[0] for r in con.execute("SELECT line_number FROM rejects ORDER BY 1").fetchall()] == [6, 7, 8, 9, 10]
    rows = con.execute("SELECT measure, period_start, value, unit, target, force_id FROM measures ORDER BY measure, period_start").fetchall()
    assert rows[0] == ("101 average answer time", date(2023, 1, 1), 185.0, "seconds", 120.0, "essex")
    assert rows[3] == ("Police officers", date(2023, 3, 31), 3755.0, "officers", None, "essex")
    con.close()
    load_sources([path], db, progress=False, force="Essex")
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM measures").fetchall() == [(4,)]


def test_force_column_and_missing_force(tmp_path):
    path = write(tmp_path / "m.csv", "force,measure,period_start,period_end,value,unit,target", [
        "Essex Police,Police officers,2023-03-31,2023-03-31,3755,officers,",
        "Kent,Police officers,2023-03-31,2023-03-31,3900,officers,",
    ])
    db = tmp_path / "w.duckdb"
    load_sources([path], db, progress=False)
    con = duckdb.connect(str(db), read_only=True)
    assert dict(con.execute("SELECT force_id, value FROM measures").fetchall()) == {"essex": 3755.0, "kent": 3900.0}
    nameless = write(tmp_path / "n.csv", HEADER, ["Police officers,2023-03-31,2023-03-31,3755,officers,"])
    # its only row is rejected: the load fails (nothing would be loaded) unless the rejects are accepted
    with pytest.raises(LoadError, match=r"n\.csv: all 1 rows of this file were rejected \(first: line 2: the file has no"
                                        r" force column \(or it is empty\) and no --force was given\)"):
        load_sources([nameless], tmp_path / "x.duckdb", progress=False)
    summary = load_sources([nameless], tmp_path / "x.duckdb", progress=False, accept_rejects=True)
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (1, 0, 1)


def test_measures_per_priority(tmp_path):
    path = write(tmp_path / "measures.csv", HEADER, [
        "999 calls answered within 10 seconds,2023-01-01,2023-01-31,91.5,%,90",
        "999 calls answered within 10 seconds,2023-02-01,2023-02-28,88.0,%,90",
        "101 average answer time,2023-01-01,2023-01-31,185,seconds,120",
        "Speeding detections,2023-01-01,2023-01-31,512,detections,",
        "Unmapped thing,2023-01-01,2023-01-31,1,things,",
    ])
    db = tmp_path / "w.duckdb"
    load_sources([path], db, progress=False, force="Essex")
    from metrics.force_measures import latest_measures, measures_for_priority

    con = duckdb.connect(str(db), read_only=True)
    local = measures_for_priority(con, "local-policing", "essex")
    assert list(local["measure"]) == ["101 average answer time", "999 calls answered within 10 seconds", "999 calls answered within 10 seconds"]
    # 185 s against a 120 s target misses (time: lower is better); 91.5% >= 90% meets, 88% misses
    assert list(local["meets_target"]) == [False, True, False]
    roads = measures_for_priority(con, "roads")
    assert list(roads["value"]) == [512.0] and roads["meets_target"].isna().all()
    latest = latest_measures(con).set_index("measure")
    assert latest.loc["999 calls answered within 10 seconds", "value"] == 88.0
    assert latest.loc["999 calls answered within 10 seconds", "previous_value"] == 91.5
    assert latest.loc["999 calls answered within 10 seconds", "change"] == pytest.approx(-3.5)
    assert latest.loc["Unmapped thing", "priority_id"] is None or latest["priority_id"].isna()["Unmapped thing"]
    # an edited mapping moves a measure
    custom = tmp_path / "p.toml"
    custom.write_text('[measures]\n"Unmapped thing" = "gangs"\n', encoding="utf-8")
    assert list(measures_for_priority(con, "gangs", mapping_path=custom)["measure"]) == ["Unmapped thing"]
    bad = tmp_path / "bad.toml"
    bad.write_text('[measures]\n"X" = "nowhere"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="nowhere"):
        measures_for_priority(con, "gangs", mapping_path=bad)


def test_shipped_mapping_uses_known_priorities():
    from metrics.force_measures import PRIORITY_IDS, measure_priorities

    mapping = measure_priorities()
    assert mapping["999 calls answered within 10 seconds"] == "local-policing"
    assert mapping["Speeding detections"] == "roads"
    assert set(mapping.values()) <= set(PRIORITY_IDS)


def test_unknown_force_option_is_an_error(tmp_path):
    path = write(tmp_path / "m.csv", HEADER, ["Police officers,2023-03-31,2023-03-31,3755,officers,"])
    with pytest.raises(LoadError, match="Atlantis"):
        load_sources([path], tmp_path / "w.duckdb", progress=False, force="Atlantis")
