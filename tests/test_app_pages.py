"""AppTest: every page of the dashboard runs on the real Essex data and on the demo warehouse without an
exception, and the key numbers it shows match values computed independently (the raw data.police.uk CSV
files, plain SQL, scipy). Also: the demo banner, URL state (valid and invalid link parameters) and the
short-range fall-backs."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from scipy import stats
from streamlit.testing.v1 import AppTest

import ui
from tests.conftest import PROJECT_ROOT

ASB = "Anti-social behaviour"
VIEWS = ui.available_views()
# the pages this module's author owns: their tables must show no empty (None/nan) cells
SHELL_PAGES = {"pages/overview.py", "pages/local_policing.py", "pages/covid.py", "pages/data.py"}
# keep the demo runs fast: a comparison whose baseline is short, so expected values use the seasonal mean
DEMO_FAST = {"compare": "custom", "pre": "2017-01..2017-06", "post": "2017-07..2017-12"}


def run_page(db: Path, page: str, params: dict | None = None, monkeypatch=None, timeout: float = 240) -> AppTest:
    """Run app.py for `page` (a path like 'pages/overview.py') as a fresh session with URL `params`."""
    monkeypatch.setenv("CRIME_MONITOR_DB", str(db))
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=timeout)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.switch_page(page)
    at.run()
    return at


def _assert_clean(at: AppTest, page: str) -> None:
    assert [e.value for e in at.exception] == [], f"{page}: exception {[e.value for e in at.exception]}"
    assert len(at.title) >= 1, f"{page}: no title"
    if page in SHELL_PAGES:
        for frame in (d.value for d in at.dataframe):
            for column in frame.columns:
                values = frame[column]
                if values.map(lambda v: isinstance(v, (list, tuple))).any():
                    continue
                assert not values.isna().any(), f"{page}: empty cells in column {column!r}"
                assert not values.astype(str).isin(["None", "nan", "NaN", "NaT"]).any(), f"{page}: {column!r}"


def _raw_street_counts(essex_dir: Path) -> dict[tuple[str, str], int]:
    """(YYYY-MM, crime type) -> rows, read straight from the data.police.uk CSV files."""
    counts: dict[tuple[str, str], int] = {}
    for path in sorted(essex_dir.glob("*/*-essex-street.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                key = (row["Month"], row["Crime type"])
                counts[key] = counts.get(key, 0) + 1
    return counts


def _scorecard(at: AppTest) -> pd.DataFrame:
    frames = [d.value for d in at.dataframe if "Measure" in d.value.columns and "Latest month" in d.value.columns]
    assert frames, "no scorecard table"
    return frames[-1].set_index("Measure")


# ---------------------------------------------------------------------------------------------------
# every page, both warehouses
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("view", VIEWS, ids=[v.url_path for v in VIEWS])
def test_every_page_runs_on_essex_data(essex_db, monkeypatch, view):
    at = run_page(essex_db, view.path, monkeypatch=monkeypatch)
    _assert_clean(at, view.path)
    assert not any("Demo data — synthetic" in w.value for w in at.warning)


@pytest.mark.parametrize("view", VIEWS, ids=[v.url_path for v in VIEWS])
def test_every_page_runs_on_demo_data(demo_db, monkeypatch, view):
    params = {"crime_type": "Burglary"} if view.path == "pages/covid.py" else DEMO_FAST
    at = run_page(demo_db, view.path, params, monkeypatch=monkeypatch)
    _assert_clean(at, view.path)
    assert any("Demo data — synthetic" in w.value for w in at.warning), "no demo banner"


def test_all_twelve_views_exist():
    assert [v.path for v in VIEWS] == [v.path for v in ui.VIEWS]


# ---------------------------------------------------------------------------------------------------
# key numbers against independent computations
# ---------------------------------------------------------------------------------------------------
def test_overview_numbers_match_the_raw_files(essex_db, essex_dir, monkeypatch):
    raw = _raw_street_counts(essex_dir)
    at = run_page(essex_db, "pages/overview.py", monkeypatch=monkeypatch)
    _assert_clean(at, "pages/overview.py")
    card = _scorecard(at)

    asb_feb = raw[("2019-02", ASB)]
    assert card.loc["Anti-social behaviour incidents", "Latest month"] == f"{asb_feb:,}"
    assert card.loc["Anti-social behaviour incidents", "As at"] == "Feb 2019"

    # only 5 months loaded: the default comparison falls back to Jan–Feb 2019 against Nov–Dec 2018
    assert any("comparing the latest 2 months" in i.value for i in at.info)

    def crimes(months: list[str]) -> int:
        return sum(n for (month, kind), n in raw.items() if month in months and kind != ASB)

    post, pre = crimes(["2019-01", "2019-02"]), crimes(["2018-11", "2018-12"])
    # exact conditional (Clopper–Pearson) interval of the rate ratio per day: Jan–Feb 59 days, Nov–Dec 61
    pi_lo = stats.beta.ppf(0.025, post, pre + 1)
    pi_hi = stats.beta.ppf(0.975, post + 1, pre)
    row = card.loc["All recorded crime (excluding ASB)"]
    assert row["Change"] == f"{((post / 59) / (pre / 61) - 1) * 100:+.1f}%"
    low, high = (pi / (1 - pi) * 61 / 59 for pi in (pi_lo, pi_hi))
    assert row["95% interval"] == f"{(low - 1) * 100:+.1f}% to {(high - 1) * 100:+.1f}%"


def test_local_policing_numbers_match_sql(essex_db, essex_dir, monkeypatch):
    raw = _raw_street_counts(essex_dir)
    at = run_page(essex_db, "pages/local_policing.py", monkeypatch=monkeypatch)
    _assert_clean(at, "pages/local_policing.py")
    post = sum(n for (month, kind), n in raw.items() if month in ("2019-01", "2019-02") and kind != ASB)
    assert at.metric[0].value == f"{post:,}"

    con = duckdb.connect(str(essex_db), read_only=True)
    try:
        basildon = con.execute(
            """
            select count(*) from crimes
            where crime_type <> ? and month between ? and ?
              and lsoa_code in (select lsoa_code from lsoa where force_id = 'essex' and district = 'Basildon')
            """,
            [ASB, date(2019, 1, 1), date(2019, 2, 1)],
        ).fetchall()[0][0]
        residents = con.execute(
            "select sum(usual_residents) from lsoa where force_id = 'essex' and district = 'Basildon'"
        ).fetchall()[0][0]
    finally:
        con.close()
    districts = next(d.value for d in at.dataframe if "district" in d.value.columns and "residents" in d.value.columns)
    row = districts.set_index("district").loc["Basildon"]
    assert int(row["count"]) == basildon
    assert row["rate_per_1000"] == pytest.approx(basildon / residents * 1000)
    assert len(districts) == 14


def test_demo_overview_latest_asb_matches_sql(demo_db, monkeypatch):
    at = run_page(demo_db, "pages/overview.py", DEMO_FAST, monkeypatch=monkeypatch)
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        last, count = con.execute(
            """
            with last_month as (select max(month) as month from crimes where force_id = 'essex')
            select last_month.month, count(*) from crimes, last_month
            where crimes.month = last_month.month and crime_type = ? and force_id = 'essex'
            group by last_month.month
            """,
            [ASB],
        ).fetchall()[0]
    finally:
        con.close()
    card = _scorecard(at)
    assert card.loc["Anti-social behaviour incidents", "Latest month"] == f"{count:,}"
    assert card.loc["Anti-social behaviour incidents", "As at"] == f"{last:%b %Y}"


def test_data_view_rows_match_sql(essex_db, essex_dir, monkeypatch):
    raw_rows = sum(_raw_street_counts(essex_dir).values())
    at = run_page(essex_db, "pages/data.py", monkeypatch=monkeypatch)
    _assert_clean(at, "pages/data.py")
    tables = next(d.value for d in at.dataframe if list(d.value.columns) == ["table", "rows"]).set_index("table")
    assert int(tables.loc["crimes", "rows"]) == raw_rows == 84_233
    sources = next(d.value for d in at.dataframe if "Source" in d.value.columns and "Gaps" in d.value.columns)
    street = sources[sources["Source"] == "data.police.uk street-level crime and ASB"].iloc[0]
    assert (street["First month"], street["Last month"], street["Gaps"]) == ("Oct 2018", "Feb 2019", "none")


# ---------------------------------------------------------------------------------------------------
# URL state and fall-backs
# ---------------------------------------------------------------------------------------------------
def test_url_state_applies_and_is_written_back(essex_db, monkeypatch):
    at = run_page(essex_db, "pages/local_policing.py", {"district": ["Harlow", "Basildon"], "measure": "asb"},
                  monkeypatch=monkeypatch)
    _assert_clean(at, "pages/local_policing.py")
    assert at.caption[0].value.startswith("Essex Police: Harlow, Basildon")
    assert at.query_params["district"] == ["Harlow", "Basildon"]
    districts = next(d.value for d in at.dataframe if "district" in d.value.columns and "residents" in d.value.columns)
    assert sorted(districts["district"]) == ["Basildon", "Harlow"]
    assert at.metric[0].label.startswith("Anti-social behaviour")


def test_invalid_url_parameters_fall_back_with_a_notice(essex_db, monkeypatch):
    at = run_page(essex_db, "pages/overview.py",
                  {"force": "atlantis", "district": "Nowhere", "compare": "bogus", "crime_type": "Piracy"},
                  monkeypatch=monkeypatch)
    _assert_clean(at, "pages/overview.py")
    notices = " ".join(i.value for i in at.info)
    assert "“atlantis”" in notices and "“Nowhere”" in notices and "“bogus”" in notices and "“Piracy”" in notices
    assert at.caption[0].value.startswith("Essex Police ·")
    assert "force" not in at.query_params and "district" not in at.query_params


def test_custom_periods_from_the_url(essex_db, monkeypatch):
    at = run_page(essex_db, "pages/overview.py", {"compare": "custom", "pre": "2018-10..2018-11", "post": "2019-01..2019-02"},
                  monkeypatch=monkeypatch)
    _assert_clean(at, "pages/overview.py")
    assert "Jan 2019–Feb 2019 vs Oct 2018–Nov 2018" in at.caption[0].value
    assert at.query_params["pre"] == "2018-10..2018-11"


def test_covid_presets_fall_back_on_short_data(essex_db, monkeypatch):
    at = run_page(essex_db, "pages/covid.py", {"compare": "covid"}, monkeypatch=monkeypatch)
    _assert_clean(at, "pages/covid.py")
    text = " ".join(i.value for i in at.info)
    assert "pre-COVID vs COVID-year comparison needs" in text
    assert "there is no COVID-19 period to show" in text
