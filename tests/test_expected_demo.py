"""On the demo warehouse with default arguments no baseline learns from the lockdown months, the bands are
of a sensible width, and the COVID-19 summary's last month and intervals are what the frames say."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import duckdb
import pandas as pd
import pytest

from metrics import plan
from metrics.expected import expected_vs_observed
from metrics.filters import Filters
from tests.conftest import run_cli

ESSEX = Filters(force_id="essex")
# touched by the COVID-19 restrictions (23 Mar 2020 - 19 Jul 2021), typed out
RESTRICTED = {date(2020, m, 1) for m in range(3, 13)} | {date(2021, m, 1) for m in range(1, 8)}
ASB = ("Anti-social behaviour",)


@pytest.fixture(scope="module")
def con(demo_db):
    connection = duckdb.connect(str(demo_db), read_only=True)
    yield connection
    connection.close()


def _fitted_months(frame: pd.DataFrame) -> set[date]:
    return set(frame.loc[frame["in_fit"].astype(bool), "month"])


def test_scorecard_baselines_leave_the_lockdowns_out(con):
    first, last = con.execute("select min(month), max(month) from crimes").fetchall()[0]
    assert (first, last) == (date(2017, 1, 1), date(2021, 12, 1))
    for preset, left_out in (("latest12", "Mar 2020–Dec 2020 (COVID-19 restrictions)"), ("covid", "")):
        comparison = plan.resolve_comparison(first, last, preset)
        card = plan.scorecard(con, ESSEX, comparison)
        with_model = card[card["expected_method"].notna()]
        assert len(with_model) >= 10
        assert (with_model["fit_until"] == date(2020, 2, 1)).all()
        assert (with_model["fit_excluded"] == left_out).all()
        assert with_model["expected_flag"].isin(["above", "below", "within"]).all()
        assert with_model["expected_note"].str.startswith("Fitted on ").all()


def test_covid_view_and_trend_bands_fit_no_restricted_month(con):
    for key, _label in plan.impact_keys(con, ESSEX):
        frame = plan.expected_series(con, key, ESSEX)
        if frame.attrs["method"] is None:
            continue
        assert frame.attrs["fit_until"] == date(2020, 2, 1) and not (_fitted_months(frame) & RESTRICTED)
    # the trend band of the default view (latest 12 months: projected from Jan 2021)
    band = expected_vs_observed(con, "crimes", Filters("essex", (), ASB), fit_until=date(2020, 12, 1))
    assert not (_fitted_months(band) & RESTRICTED) and max(_fitted_months(band)) == date(2020, 2, 1)
    assert band.attrs["basis"] == ("Fitted on Jan 2017–Feb 2020 (38 months); left out Mar 2020–Dec 2020 "
                                   "(COVID-19 restrictions).")


def test_asb_2021_band_is_sensible_and_narrower_than_one_fitted_on_lockdowns(con):
    band = expected_vs_observed(con, "crimes", Filters("essex", (), ASB), fit_until=date(2020, 12, 1)).set_index("month")
    naive = expected_vs_observed(con, "crimes", Filters("essex", (), ASB), fit_until=date(2020, 12, 1),
                                 include_disrupted=True).set_index("month")
    peak_2019 = con.execute("select max(n) from (select count(*) as n from crimes where crime_type = ? "
                            "and year(month) = 2019 group by month)", [ASB[0]]).fetchall()[0][0]
    year = [date(2021, m, 1) for m in range(1, 13)]
    december = band.loc[date(2021, 12, 1)]
    # a seasonal pattern like 2019's, not a lockdown surge: the 2021 peak within 25% of 2019's observed peak
    assert band.loc[year, "expected"].max() < 1.25 * peak_2019
    assert december["upper"] / december["lower"] < 1.5  # the lockdown-trained band is about 3.4x
    assert naive.loc[date(2021, 12, 1), "upper"] / naive.loc[date(2021, 12, 1), "lower"] > 2.5
    assert "including Mar 2020–Dec 2020 (COVID-19 restrictions) as asked" in naive.attrs["basis"]


def test_covid_summary_last_month_and_interval(con):
    keys = {"Burglary": "crime_type:Burglary", "Anti-social behaviour": "crime_type:Anti-social behaviour",
            "Fraud reports": "measure:fraud_reports"}
    frames = {label: plan.expected_series(con, key, ESSEX) for label, key in keys.items()}
    last = date(2021, 12, 1)
    for end, months in ((last, 22), (date(2021, 2, 1), 12)):
        summary = plan.expected_summary(frames, date(2020, 3, 1), end).set_index("series")
        burglary = summary.loc["Burglary"]
        observed = con.execute("select count(*) from crimes where crime_type = 'Burglary' and month between ? and ?",
                               [date(2020, 3, 1), end]).fetchall()[0][0]
        assert burglary["months"] == months and burglary["observed"] == observed
        frame = frames["Burglary"].set_index("month")
        chosen = frame.loc[date(2020, 3, 1):end]
        assert burglary["expected"] == pytest.approx(chosen["expected"].sum())
        assert burglary["difference"] == pytest.approx(observed - chosen["expected"].sum())
        assert (burglary["difference_lower"], burglary["difference_upper"]) == (
            frame.loc[end, "cumulative_lower"], frame.loc[end, "cumulative_upper"])
        assert burglary["difference_lower"] < burglary["difference"] < burglary["difference_upper"]
        assert re.fullmatch(r"about [\d,]+ (more|fewer) than expected \(.+\)", burglary["difference_text"])
        fraud = summary.loc["Fraud reports"]
        fraud_observed = con.execute("select sum(reports) from fraud where month between ? and ?",
                                     [date(2020, 3, 1), end]).fetchall()[0][0]
        assert fraud["observed"] == fraud_observed and fraud["months"] == months
    later = plan.expected_summary(frames, date(2020, 4, 1), last).set_index("series")
    assert later["difference_lower"].isna().all() and later["note"].str.contains("only for sums from Mar 2020").all()


def test_scorecard_cli_on_the_demo(demo_db):
    out = run_cli("metrics", "scorecard", "--db", str(demo_db), "--compare", "covid", "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) >= 12
    with_flag = [r for r in rows if r["expected_flag"]]
    assert len(with_flag) >= 10 and {r["expected_flag"] for r in with_flag} <= {"above", "below", "within"}
    # street-level series start Jan 2017, the demo force extract Jan 2018: every window ends Feb 2020
    assert all(r["fit_until"] == "2020-02-01" and r["fit_from"] in ("2017-01-01", "2018-01-01") for r in with_flag)
    asb = next(r for r in rows if r["measure_id"] == "asb_incidents")
    december = con_value(demo_db, "select count(*) from crimes where crime_type = ? and month = '2021-12-01'", ASB[0])
    assert float(asb["latest_value"]) == december


def con_value(db, sql: str, *params):
    connection = duckdb.connect(str(db), read_only=True)
    try:
        return connection.execute(sql, list(params)).fetchall()[0][0]
    finally:
        connection.close()
