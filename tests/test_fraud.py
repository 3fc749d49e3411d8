"""Fraud CSV loader and fraud metrics: by type and month, losses, the COVID rise (worked out by hand)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from etl.load import load_sources
from etl.warehouse import LoadError

HEADER = "month,force,fraud_type,reports,reported_loss_gbp"


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def test_fraud_loads_with_rejects(tmp_path):
    path = write(tmp_path / "fraud.csv", [
        "2020-03,Essex Police,Online shopping and auctions,120,45000.50",
        "2020-03,Essex,Investment fraud,10,",
        "2020-13,Essex,Investment fraud,10,5",            # line 4: bad month
        "2020-04,Essex,Investment fraud,-1,5",            # line 5: negative reports
        "2020-04,Essex,Investment fraud,3,lots",          # line 6: bad loss
        "2020-03,Essex,Investment fraud,11,5",            # line 7: duplicate of line 3
        "2020-04,Atlantis Police,Investment fraud,3,5",   # line 8: unknown force
    ])
    db = tmp_path / "w.duckdb"
    summary = load_sources([path], db, progress=False)
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (7, 2, 5)
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT month, force_name, force_id, fraud_type, reports, reported_loss_gbp FROM fraud ORDER BY fraud_type").fetchall()
    assert rows == [
        (date(2020, 3, 1), "Essex Police", "essex", "Investment fraud", 10, None),
        (date(2020, 3, 1), "Essex Police", "essex", "Online shopping and auctions", 120, 45000.5),
    ]
    assert [r[0] for r in con.execute("SELECT line_number FROM rejects ORDER BY 1").fetchall()] == [4, 5, 6, 7, 8]
    con.close()
    # reload: identical
    load_sources([path], db, progress=False)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM fraud").fetchall() == [(2,)]


def test_empty_force_uses_force_option(tmp_path):
    path = write(tmp_path / "fraud.csv", ["2020-03,,Investment fraud,10,100"])
    db = tmp_path / "w.duckdb"
    summary = load_sources([path], db, progress=False, force="Essex")
    assert summary.rows_loaded == 1
    with pytest.raises(LoadError, match="all 1 rows of this file were rejected .first: line 2: force is empty and no --force"):
        load_sources([path], tmp_path / "x.duckdb", progress=False)
    summary = load_sources([path], tmp_path / "x.duckdb", progress=False, accept_rejects=True)
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (1, 0, 1)


@pytest.fixture()
def fraud_db(tmp_path) -> Path:
    # 24 months: March 2019 .. Feb 2020 at 10 reports/month (£100 each), March 2020 .. Feb 2021 at 15 (£200 each)
    # for "Online shopping"; "Investment" 2 reports every month, £1000 each month
    lines = []
    for index in range(24):
        year = 2019 + (2 + index) // 12
        month = (2 + index) % 12 + 1
        shopping = 10 if index < 12 else 15
        lines.append(f"{year}-{month:02d},Essex,Online shopping,{shopping},{shopping * (100 if index < 12 else 200)}")
        lines.append(f"{year}-{month:02d},Essex,Investment,2,1000")
    lines.append("2020-03,Kent,Investment,99,99")
    path = write(tmp_path / "fraud.csv", lines)
    db = tmp_path / "w.duckdb"
    load_sources([path], db, progress=False)
    return db


def test_fraud_metrics(fraud_db):
    from metrics.filters import Filters
    from metrics.fraud import covid_rise, fraud_by_type, fraud_monthly

    con = duckdb.connect(str(fraud_db), read_only=True)
    by_type = fraud_by_type(con, Filters(force_id="essex"), date(2019, 3, 1), date(2021, 2, 1)).set_index("fraud_type")
    assert by_type.loc["Online shopping", "reports"] == 12 * 10 + 12 * 15
    assert by_type.loc["Online shopping", "reported_loss_gbp"] == 12 * 1000 + 12 * 3000
    assert by_type.loc["Investment", "reports"] == 48
    monthly = fraud_monthly(con, Filters(force_id="essex"))
    assert len(monthly) == 24 and monthly["reports"].sum() == 12 * 10 + 12 * 15 + 48
    rise = covid_rise(con, Filters(force_id="essex")).set_index("fraud_type")
    # all types: before = 12*(10+2) = 144, during = 12*(15+2) = 204
    total = rise.loc["All fraud"]
    assert total["reports_before"] == 144 and total["reports_during"] == 204
    assert total["reports_change_pct"] == pytest.approx(100 * (204 - 144) / 144)
    assert total["loss_before_gbp"] == 12 * 1000 + 12 * 1000 and total["loss_during_gbp"] == 12 * 3000 + 12 * 1000
    assert rise.loc["Investment", "reports_change_pct"] == pytest.approx(0.0)
    # Kent's row is not in Essex's figures but is in all forces'
    everyone = covid_rise(con, Filters()).set_index("fraud_type")
    assert everyone.loc["All fraud", "reports_during"] == 204 + 99
