"""app.py per role with AppTest (no [auth]: the local session's role from $CRIME_MONITOR_LOCAL_ROLE), on a small
warehouse of the real Essex street files for Oct–Dec 2018 (a whole calendar quarter) plus one bad row: a view the
role may not see is refused and audited; rejected rows only for analysts; a failing page shows an error id (audited,
no traceback); LSOA tables and charts of violence and sexual offences show the quarter's published bands (expected
values counted here from the raw CSV files); exports are audited with what they held; the analysts' audit view.
Sign-in for real is in tests/browser/test_app_signin.py."""

from __future__ import annotations

import base64
import csv
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import PROJECT_ROOT, static_tables

VSO = "Violence and sexual offences"
MONTHS = ("2018-10", "2018-11", "2018-12")
BAD_ROW = ",2018-13,Essex Police,Essex Police,0.1,51.5,On or near Nowhere,E01021237,Basildon 001A,Burglary,,"
QUARTER = {"compare": "Custom periods", "pre": ["Oct 2018", "Oct 2018"], "post": ["Oct 2018", "Dec 2018"]}


def build_small_db(root: Path, reference_data: Path) -> Path:
    """A warehouse of the real Essex street files for Oct–Dec 2018 plus BAD_ROW (rejected on load), with the ONS
    lookup and census residents, in `root`."""
    from etl.load import load_sources

    for month in MONTHS:
        folder = root / "police-uk" / month
        folder.mkdir(parents=True)
        shutil.copyfile(reference_data / "police-uk" / "essex" / month / f"{month}-essex-street.csv",
                        folder / f"{month}-essex-street.csv")
    with open(root / "police-uk" / "2018-12" / "2018-12-essex-street.csv", "a", encoding="utf-8") as handle:
        handle.write(BAD_ROW + "\n")
    db = root / "small.duckdb"
    load_sources([root / "police-uk", reference_data / "ons" / "lsoa11-to-local-authority-and-force.csv",
                  reference_data / "ons" / "census2011-lsoa-usual-residents.csv"], db, progress=False)
    return db


@pytest.fixture(scope="module")
def small_db(tmp_path_factory, reference_data) -> Path:
    return build_small_db(tmp_path_factory.mktemp("access"), reference_data)


@pytest.fixture()
def audit_log(tmp_path, monkeypatch) -> Path:
    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("CRIME_MONITOR_AUDIT_LOG", str(log))
    return log


def run_app(db: Path, view_id: str, role: str, monkeypatch, params: dict | None = None) -> AppTest:
    monkeypatch.setenv("CRIME_MONITOR_DB", str(db))
    monkeypatch.setenv("CRIME_MONITOR_LOCAL_ROLE", role)
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=240)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.switch_page(f"pages/{view_id}.py")
    return at.run()


def entries(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def page_text(at: AppTest) -> str:
    parts = [e.value for kind in (at.info, at.warning, at.error, at.success, at.markdown, at.caption, at.title,
                                  at.subheader) for e in kind]
    return "\n".join(str(p) for p in parts)


def tables(at: AppTest) -> list:
    return [d.value for d in at.dataframe] + [t.value for t in static_tables(at)]


def plotly_values(values) -> list:
    """A trace's values as Plotly sends them: a list, or a typed array {"dtype", "bdata" (base64)}."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"])).tolist()
    return list(values or [])


def raw_vso_counts(reference_data: Path) -> Counter:
    """LSOA code -> violence and sexual offences in Oct–Dec 2018, counted from the raw street files."""
    counts: Counter = Counter()
    for month in MONTHS:
        with open(reference_data / "police-uk" / "essex" / month / f"{month}-essex-street.csv", encoding="utf-8") as f:
            counts.update(row["LSOA code"] for row in csv.DictReader(f) if row["Crime type"] == VSO)
    return counts


def band(count: int) -> str:
    """The published band, written out: 0–4 "<5", else the nearest multiple of 5 (halves up)."""
    return "<5" if count < 5 else str(5 * int(count / 5 + 0.5))


def test_panel_is_refused_the_data_view_and_the_refusal_is_audited(small_db, audit_log, monkeypatch):
    at = run_app(small_db, "data", "panel", monkeypatch)
    assert not at.exception
    assert "This view is not available to your role." in [e.value for e in at.error]
    assert not at.dataframe and not static_tables(at) and "Rejected rows" not in page_text(at)
    assert "previews the **panel** role" in page_text(at)                 # the notice without sign-in
    refused = [e for e in entries(audit_log) if e["event"] == "view_refused"]
    assert [(e["user"], e["role"], e["detail"]) for e in refused] == [("local", "panel", {"view": "data"})]


def test_officer_is_refused_the_audit_view(small_db, audit_log, monkeypatch):
    at = run_app(small_db, "audit", "officer", monkeypatch)
    assert "This view is not available to your role." in [e.value for e in at.error]
    assert not at.dataframe and [e["event"] for e in entries(audit_log)] == ["view_refused"]


@pytest.mark.parametrize("role", ["analyst", "officer"])
def test_rejected_rows_are_shown_to_analysts_only(small_db, audit_log, monkeypatch, role):
    at = run_app(small_db, "data", role, monkeypatch)
    assert not at.exception and not at.error
    cells = "\n".join(str(v) for frame in tables(at) for column in frame.columns for v in frame[column].tolist())
    if role == "analyst":
        assert "On or near Nowhere" in cells                                # the raw text of the bad row
    else:
        assert "On or near Nowhere" not in cells and "2018-13" not in cells
        assert "1 rows in 1 file(s) were rejected" in page_text(at) and "analysts only" in page_text(at)
    view = next(e for e in entries(audit_log) if e["event"] == "view")
    assert (view["role"], view["detail"]["view"], view["detail"]["filters"]["force_id"]) == (role, "data", "essex")


def test_a_failing_page_shows_an_error_id_which_the_audit_log_records(small_db, audit_log, monkeypatch):
    from metrics import inventory

    def broken(*_args, **_kwargs):
        raise RuntimeError("secret: /srv/crime/warehouse.duckdb select raw_line from rejects")

    monkeypatch.setattr(inventory, "reject_summary", broken)
    at = run_app(small_db, "data", "analyst", monkeypatch)
    assert not at.exception
    message = next(e.value for e in at.error if "Something went wrong" in e.value)
    error_id = re.search(r"E-[0-9A-F]{8}", message).group(0)
    for leak in ("secret", "warehouse.duckdb", "RuntimeError", "Traceback", "select"):
        assert leak not in page_text(at)
    error = next(e for e in entries(audit_log) if e["event"] == "error")
    assert error["detail"] == {"view": "data", "error_id": error_id, "error_type": "RuntimeError"}


@pytest.mark.parametrize("role", ["panel", "officer"])
def test_lsoa_counts_of_violence_are_the_quarters_bands_for_every_role(small_db, audit_log, monkeypatch, role,
                                                                      reference_data):
    params = {**QUARTER, "crime_type": VSO, "tab": "Hotspots"}  # the map and the top LSOAs
    at = run_app(small_db, "local_policing", role, monkeypatch, params)
    assert not at.exception and not at.error
    truth = raw_vso_counts(reference_data)
    table = next(t for t in tables(at) if "LSOA code" in t.columns)
    assert len(table) == 20
    shown = dict(zip(table["LSOA code"], table.iloc[:, 1].astype(str)))
    assert shown == {code: band(truth[code]) for code in shown}
    specs = [json.loads(e.proto.spec) for e in at.get("plotly_chart")]
    lsoa_traces = [t for s in specs for t in s["data"] if t.get("type") in ("bar", "choropleth")
                   and any(re.match(r"^.+ \d{3}[A-Z]$", str(v)) for v in (t.get("y") or t.get("text") or []))]
    assert lsoa_traces, "no LSOA chart"
    for trace in lsoa_traces:
        values = plotly_values(trace.get("x") if trace["type"] == "bar" else trace.get("z"))
        assert values and all(v is None or v != v or v % 5 == 0 for v in values), trace["type"]   # bands: no 1–4
        for text in trace.get("hovertext") or trace.get("text") or []:
            assert not re.search(r": [1-4]$", str(text)), text
        assert trace.get("customdata") is None


def test_a_part_quarter_says_which_quarter_it_would_show(small_db, audit_log, monkeypatch):
    at = run_app(small_db, "local_policing", "panel", monkeypatch, {"crime_type": VSO, "tab": "Hotspots"})
    assert not at.exception
    assert "published by calendar quarter only" in page_text(at)
    assert not [t for t in tables(at) if "LSOA code" in t.columns]


def test_exports_are_audited_with_what_they_held(small_db, audit_log, monkeypatch):
    import pandas as pd

    from access.roles import capabilities_for
    from access.streamlit_side import Access
    from briefing.export_spec import ExportNotes
    from briefing.tables import table_files
    from ui.downloads import _data, table_detail
    from views.model import Column, Table

    frame = pd.DataFrame({"district": ["Harlow", "Maldon"], "crimes": [120, 45]})
    notes = ExportNotes(title="Crimes by district", source="test", units="crimes")
    table = Table("by-district", frame, (Column("district", "District", None), Column("crimes", "Crimes", 0)), notes)
    item = table_files(frame, notes, list(table.columns), basename="by-district")[0]

    class State:
        access = Access("ann@essex.example", "officer", capabilities_for("officer"), signed_in=True)
        view_id = "local_policing"

        @staticmethod
        def filters_record():
            return {"force_id": "essex", "districts": ["Harlow", "Maldon"]}

    content = _data(item, State, table_detail(table))()
    assert content == item.data() and content.decode("utf-8-sig").count("Harlow") >= 1
    export = next(e for e in entries(audit_log) if e["event"] == "export")
    assert (export["user"], export["role"]) == ("ann@essex.example", "officer")
    assert export["detail"] == {"view": "local_policing", "file": "by-district.csv", "format": "csv",
                                "filters": {"force_id": "essex", "districts": ["Harlow", "Maldon"]},
                                "table": "by-district", "title": "Crimes by district", "rows": 2,
                                "columns": ["District", "Crimes"], "disclosure": export["detail"]["disclosure"],
                                "bytes": len(content)}
    assert "sensitive" in export["detail"]["disclosure"] or "not LSOA-level" in export["detail"]["disclosure"]


def test_chart_exports_are_made_and_audited_with_the_values_they_plot(small_db, audit_log, monkeypatch):
    """A chart's file made through its button's callable (as Streamlit runs it on the click): the figures the app
    draws hold NumPy arrays, which the audit detail counts (it once raised on them, so no chart downloaded)."""
    from datetime import date

    import pandas as pd

    from access.roles import capabilities_for
    from access.streamlit_side import Access
    from briefing.export_spec import ExportNotes
    from briefing.images import chart_files
    from charts import figures
    from ui.downloads import _data, chart_detail
    from views.model import Chart

    months = pd.date_range("2019-01-01", periods=24, freq="MS").date
    frame = pd.DataFrame({"month": months, "count": range(100, 124)})
    figure = figures.trend_chart(frame, "Burglary per month", "Crimes per month", "test", date(2020, 12, 1))
    assert any(isinstance(trace.y, np.ndarray) for trace in figure.data)
    notes = ExportNotes(title="Burglary per month", source="test")
    chart = Chart(figure, "burglary_trend", notes)
    item = next(i for i in chart_files(figure, notes, chart.key) if i.file_name.endswith(".svg"))

    class State:
        access = Access("ann@essex.example", "officer", capabilities_for("officer"), signed_in=True)
        view_id = "local_policing"

        @staticmethod
        def filters_record():
            return {"force_id": "essex"}

    content = _data(item, State, chart_detail(chart))()
    assert content.startswith(b"<svg") and b"Burglary per month" in content
    export = next(e for e in entries(audit_log) if e["event"] == "export")
    assert export["detail"]["chart"] == "burglary_trend" and export["detail"]["file"] == "burglary_trend.svg"
    assert export["detail"]["rows"] == 24  # one trace of 24 months
    assert export["detail"]["bytes"] == len(content)


def test_the_audit_view_reads_the_log_and_checks_its_chain(small_db, audit_log, monkeypatch):
    run_app(small_db, "overview", "analyst", monkeypatch)
    at = run_app(small_db, "audit", "analyst", monkeypatch, {"event": "view"})
    assert not at.exception and not at.error
    assert any("Chain intact" in s.value for s in at.success)
    table = next(d.value for d in at.dataframe)
    assert set(table["Event"]) == {"view"}
    assert {"overview", "audit"} <= set(table["View"])
    logged = [e for e in entries(audit_log) if e["event"] == "view"]
    assert len(table) == len(logged)
