"""metrics.plan (measures as data, comparison presets, scorecard) and metrics.inventory, checked against
values computed by hand, plain SQL and statsmodels."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from metrics import inventory, plan
from metrics.filters import Filters
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def essex_con(essex_db):
    con = duckdb.connect(str(essex_db), read_only=True)
    yield con
    con.close()


# --- measures as data (metrics.registry) -------------------------------------------------------------
def test_every_measure_is_well_formed():
    ids = [m.id for m in plan.MEASURES]
    assert len(ids) == len(set(ids))
    for item in plan.MEASURES:
        assert item.priority_id in plan.PRIORITY_BY_ID
        assert item.load_command.startswith("python -m etl load ")
        assert item.needs_file and item.unit and item.source
        if item.is_proxy:
            assert item.proxy_for in plan.MEASURE_BY_ID and "proxy" in item.label.lower()
    assert [p.number for p in plan.PRIORITIES if p.number] == [1, 2, 3, 4, 5, 6, 7]
    assert {m.priority_id for m in plan.MEASURES} == {p.id for p in plan.PRIORITIES}
    with pytest.raises(ValueError, match="unknown measure"):
        plan.measure("nope")


def test_load_commands_come_from_one_place():
    """A measure's load command is its data file's, aimed at the warehouse the reader uses."""
    from metrics import registry

    extract = plan.measure("domestic_abuse_crimes")
    assert extract.load_command_for("data/w.duckdb") == (
        "python -m etl load --db data/w.duckdb --mapping path/to/extract-mapping.toml path/to/force-extract.csv")
    assert extract.load_command == extract.load_command_for(None)
    assert plan.measure("hate_crimes").load_command == extract.load_command  # same file, same command
    assert registry.data_file("force_measures").load_command("x.duckdb") == (
        "python -m etl load --db x.duckdb path/to/force-measures.csv")


def test_weekly_measures_are_registry_measures_in_priority_order():
    from metrics import registry, weekly

    assert weekly.WEEKLY_MEASURES is registry.WEEKLY_MEASURES
    labels = {m.id: m.label for m in registry.WEEKLY_MEASURES}
    assert labels["incidents_domestic_abuse"] == plan.measure("domestic_abuse_crimes").label == "Domestic abuse crimes"
    assert {m.source for m in registry.WEEKLY_MEASURES} == set(weekly.SOURCES)
    for item in registry.WEEKLY_MEASURES:  # the ids become SQL column aliases: plain identifiers only
        assert item.id.isidentifier() and item.id.islower()
    # ASB has no dated source: the weekly view says so, from the registry
    gaps = dict((prio.id, why) for prio, why in registry.weekly_gaps())
    assert set(gaps) == {"asb"} and "month" in gaps["asb"]


def test_scorecard_measures_keep_their_order():
    shown = [m.id for m in plan.MEASURES if m.in_scorecard]
    assert shown[:3] == ["all_crime", "asb_incidents", "domestic_abuse_crimes"]
    assert "incidents_violence" not in shown and "collisions_ksi" not in shown


# --- comparison presets --------------------------------------------------------------------------------
def test_latest12_when_24_months_are_loaded():
    comparison = plan.resolve_comparison(date(2017, 1, 1), date(2021, 12, 1), "latest12")
    assert comparison.pre == (date(2020, 1, 1), date(2020, 12, 1))
    assert comparison.post == (date(2021, 1, 1), date(2021, 12, 1))
    assert comparison.notice is None
    assert comparison.label == "Jan 2021–Dec 2021 vs Jan 2020–Dec 2020"


def test_short_data_falls_back_to_equal_halves_with_a_notice():
    # Oct 2018..Feb 2019 = 5 months: the latest 2 against the 2 before
    comparison = plan.resolve_comparison(date(2018, 10, 1), date(2019, 2, 1), "latest12")
    assert comparison.post == (date(2019, 1, 1), date(2019, 2, 1))
    assert comparison.pre == (date(2018, 11, 1), date(2018, 12, 1))
    assert "needs 24 months" in comparison.notice
    covid = plan.resolve_comparison(date(2018, 10, 1), date(2019, 2, 1), "covid")
    assert covid.post == comparison.post and "pre-COVID" in covid.notice


def test_covid_and_custom_presets():
    covid = plan.resolve_comparison(date(2017, 1, 1), date(2021, 12, 1), "covid")
    assert covid.pre == (date(2019, 3, 1), date(2020, 2, 1)) and covid.post == (date(2020, 3, 1), date(2021, 2, 1))
    custom = plan.resolve_comparison(date(2017, 1, 1), date(2021, 12, 1), "custom",
                                     (date(2018, 1, 1), date(2018, 3, 1)), (date(2019, 1, 1), date(2019, 3, 1)))
    assert custom.pre == (date(2018, 1, 1), date(2018, 3, 1)) and custom.notice is None
    outside = plan.resolve_comparison(date(2018, 10, 1), date(2019, 2, 1), "custom",
                                      (date(2016, 1, 1), date(2016, 3, 1)), (date(2019, 1, 1), date(2019, 2, 1)))
    assert "not both within" in outside.notice
    single = plan.resolve_comparison(date(2019, 2, 1), date(2019, 2, 1), "latest12")
    assert "nothing to compare" in single.notice
    assert plan.resolve_comparison(None, None) is None


# --- scorecard ----------------------------------------------------------------------------------------
def test_scorecard_counts_and_bh_significance(essex_con):
    comparison = plan.resolve_comparison(date(2018, 10, 1), date(2019, 2, 1), "latest12")
    card = plan.scorecard(essex_con, Filters(force_id="essex"), comparison).set_index("measure_id")
    drugs_post, drugs_pre = (
        essex_con.execute(
            "select count(*) from crimes where crime_type = 'Drugs' and month between ? and ?", [a, b]
        ).fetchall()[0][0]
        for a, b in (comparison.post, comparison.pre)
    )
    assert (card.loc["drug_offences", "post_count"], card.loc["drug_offences", "pre_count"]) == (drugs_post, drugs_pre)
    latest_asb = essex_con.execute(
        "select count(*) from crimes where crime_type = 'Anti-social behaviour' and month = ?", [date(2019, 2, 1)]
    ).fetchall()[0][0]
    assert card.loc["asb_incidents", "latest_value"] == latest_asb
    assert len(card.loc["asb_incidents", "sparkline"]) == 5
    # Benjamini–Hochberg across every tested measure, as statsmodels computes it
    tested = card[card["p_value"].notna()]
    assert len(tested) == 8  # the street-level measures; the rest are not loaded
    _, q_values, _, _ = multipletests(tested["p_value"], method="fdr_bh")
    assert np.allclose(tested["q_value"], q_values)
    assert (tested["significant"] == (q_values < 0.05)).all()
    not_loaded = card.loc["domestic_abuse_crimes"]
    assert not not_loaded["available"] and "--mapping" in not_loaded["load_command"]
    # 5 months of history: no expected value at all, and the note says why (never a plain mean)
    months_before = essex_con.execute(
        "select count(distinct month) from crimes where month < ?", [comparison.post[0]]).fetchall()[0][0]
    assert months_before == 3
    for measure_id in tested.index:
        row = card.loc[measure_id]
        assert row["expected_method"] is None or row["expected_method"] != row["expected_method"]
        assert row["expected_flag"] is None and np.isnan(row["expected_latest"])
        assert row["expected_note"] == f"Needs 24 months of history, {months_before} available."
        assert row["fit_excluded"] == "" and pd.isna(row["fit_from"]) and pd.isna(row["fit_until"])


def test_expected_flag_matches_the_scorecard(essex_con):
    comparison = plan.resolve_comparison(date(2018, 10, 1), date(2019, 2, 1), "latest12")
    card = plan.scorecard(essex_con, Filters(force_id="essex"), comparison).set_index("measure_id")
    separate = plan.expected_flag(essex_con, "robbery", Filters(force_id="essex"), comparison)
    assert set(separate) == set(plan.EXPECTED_COLUMNS)
    assert separate["expected_flag"] is None and card.loc["robbery", "expected_flag"] is None
    assert separate["expected_note"] == card.loc["robbery", "expected_note"] == "Needs 24 months of history, 3 available."


def test_scorecard_cli_on_the_real_essex_files(essex_db):
    import json

    out = run_cli("metrics", "scorecard", "--db", str(essex_db), "--format", "json").stdout
    rows = {row["measure_id"]: row for row in json.loads(out)["rows"]}
    columns = ["measure_id", "label", "latest_month", "latest_value", "rate_ratio", "ci_lower", "ci_upper", "p_value",
               "q_value", "expected", "expected_lower", "expected_upper", "expected_flag", "fit_from", "fit_until",
               "fit_excluded"]
    assert all(set(columns) <= set(row) for row in rows.values())
    con = duckdb.connect(str(essex_db), read_only=True)
    try:
        robbery_feb = con.execute("select count(*) from crimes where crime_type = 'Robbery' and month = '2019-02-01'").fetchall()[0][0]
        robbery_post = con.execute("select count(*) from crimes where crime_type = 'Robbery' and month >= '2019-01-01'").fetchall()[0][0]
        robbery_pre = con.execute(
            "select count(*) from crimes where crime_type = 'Robbery' and month between '2018-11-01' and '2018-12-01'").fetchall()[0][0]
    finally:
        con.close()
    robbery = rows["robbery"]
    assert robbery["latest_month"] == "2019-02-01" and robbery["latest_value"] == robbery_feb
    # rate per day: Jan–Feb 2019 is 31 + 28 days, Nov–Dec 2018 is 30 + 31 days
    assert robbery["rate_ratio"] == pytest.approx((robbery_post / 59) / (robbery_pre / 61))
    assert robbery["expected_flag"] == "" and robbery["expected"] is None
    assert "Needs 24 months of history, 3 available" in robbery["expected_note"]
    assert "domestic_abuse_crimes" not in rows  # not loaded: only available measures
    csv_out = run_cli("metrics", "scorecard", "--db", str(essex_db), "--format", "csv").stdout
    assert csv_out.splitlines()[0].startswith("measure_id,label,latest_month,latest_value")
    bad = run_cli("metrics", "scorecard", "--db", str(essex_db), "--compare", "custom", check=False)
    assert bad.returncode == 2 and "--compare custom needs --pre" in bad.stderr and "Traceback" not in bad.stderr


def test_flag_measure_series_counts_only_flagged_rows(demo_db):
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        series = plan.measure_series(con, plan.measure("domestic_abuse_crimes"), Filters(force_id="essex"))
        by_sql = dict(con.execute(
            "select month, count(*) from incidents where domestic_abuse and force_id = 'essex' group by month"
        ).fetchall())
    finally:
        con.close()
    assert len(series) == len(by_sql)
    assert all(int(c) == by_sql[m] for m, c in zip(series["month"], series["count"]))


def test_force_ranking_needs_two_forces(essex_con):
    assert plan.force_ranking(essex_con, plan.POLICE_UK_CRIME_TYPES, (date(2019, 1, 1), date(2019, 2, 1))) is None


# --- inventory -----------------------------------------------------------------------------------------
def test_inventory_matches_sql(essex_con):
    sources = inventory.source_inventory(essex_con).set_index("kind")
    street = sources.loc["street"]
    rows = essex_con.execute("select count(*) from crimes").fetchall()[0][0]
    assert int(street["rows_loaded"]) == rows == 84_233
    assert (street["first_month"].date(), street["last_month"].date()) == (date(2018, 10, 1), date(2019, 2, 1))
    assert street["missing_count"] == 0 and street["caveats"]
    tables = inventory.table_rows(essex_con).set_index("table")["rows"]
    assert tables["crimes"] == rows and tables["fraud"] == 0
    assert inventory.reject_summary(essex_con).empty
    assert not inventory.is_demo(essex_con)


def test_inventory_months_of_whole_file_sources(demo_db):
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        sources = inventory.source_inventory(con).set_index("kind")
        fraud_span = con.execute("select min(month), max(month) from fraud").fetchall()[0]
        assert inventory.is_demo(con)
    finally:
        con.close()
    assert (sources.loc["fraud", "first_month"].date(), sources.loc["fraud", "last_month"].date()) == fraud_span


def test_force_ranking_ranks_the_loaded_forces_per_1000(tmp_path, essex_dir, reference_data):
    """Essex (real) and three Kent rows (written here in the data.police.uk layout): rates per 1,000
    residents and ranks match plain SQL over the same warehouse."""
    from etl.load import load_sources

    kent = tmp_path / "kent" / "2019-01"
    kent.mkdir(parents=True)
    header = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,"
              "Last outcome category,Context")
    rows = [f"k{i},2019-01,Kent Police,Kent Police,0.5,51.4,On or near High Street,E01016070,Medway 001A,Burglary,"
            "Under investigation," for i in range(3)]
    (kent / "2019-01-kent-street.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    db = tmp_path / "two.duckdb"
    load_sources([essex_dir / "2019-01", tmp_path / "kent",
                  reference_data / "ons" / "lsoa11-to-local-authority-and-force.csv",
                  reference_data / "ons" / "census2011-lsoa-usual-residents.csv"], db, progress=False)
    con = duckdb.connect(str(db), read_only=True)
    try:
        ranking = plan.force_ranking(con, ("Burglary",), (date(2019, 1, 1), date(2019, 1, 1)))
        expected = dict(con.execute(
            """
            with counted as (select force_id, count(*) as n from crimes where crime_type = 'Burglary' group by force_id),
                 residents as (select force_id, sum(usual_residents) as people from lsoa group by force_id)
            select counted.force_id, n * 1000.0 / people from counted join residents using (force_id)
            """
        ).fetchall())
    finally:
        con.close()
    assert ranking is not None
    frame, meta = ranking
    rates = dict(zip(frame["force_id"], frame["rate_per_1000"]))
    assert rates == pytest.approx(expected)
    assert set(rates) == {"essex", "kent"}
    top = max(expected, key=expected.get)
    assert frame.set_index("force_id").loc[top, "rank"] == 1
    assert meta["what"] == "crimes" and meta["period"] == "Jan 2019"


@pytest.mark.parametrize("districts", [(), ("Harlow",), ("Maldon", "Uttlesford")])
def test_covid_views_crime_type_series_read_in_one_query_match_one_query_each(essex_con, districts):
    """expected_series_many reads every crime type's series in one query: the same requests (series, months,
    fit window) as metrics.expected.observed_request gives one type at a time."""
    from metrics.expected import observed_request

    filters = Filters("essex", districts)
    keys = tuple(key for key, _ in plan.impact_keys(essex_con, filters))
    batch = plan._crime_type_requests(essex_con, keys + ("crime_type:Not a crime type",), filters,
                                      plan.COVID_FIT_UNTIL, include_disrupted=True)
    assert len([k for k in keys if k.startswith("crime_type:")]) == 14
    for key in [k for k in keys if k.startswith("crime_type:")] + ["crime_type:Not a crime type"]:
        one = observed_request(essex_con, "crimes", Filters("essex", districts, (key.partition(":")[2],)),
                               plan.COVID_FIT_UNTIL, include_disrupted=True)
        assert ((batch[key].fit_until, batch[key].until, batch[key].fit_from, batch[key].include_disrupted)
                == (one.fit_until, one.until, one.fit_from, one.include_disrupted))
        pd.testing.assert_series_equal(batch[key].series, one.series, check_names=False, check_freq=False)
    assert batch["crime_type:Not a crime type"].series.empty
