"""The synthetic demo warehouse: calibration against the facts in PRODUCT.md, the COVID-19 shifts,
realism of the generated source files, determinism, and the CLI.

Expected values are PRODUCT.md's published figures (typed in here, not read from etl.demo) and counts
taken straight from the generated CSV files with the csv module."""

from __future__ import annotations

import csv
import json
import os
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_cli

# PRODUCT.md "Facts to calibrate": Essex street-level totals, Oct 2018 - Feb 2019
PRODUCT_CATEGORY_TOTALS = {
    "Violence and sexual offences": 26779, "Anti-social behaviour": 16460, "Criminal damage and arson": 6826,
    "Vehicle crime": 6498, "Other theft": 5729, "Public order": 5332, "Burglary": 5234, "Shoplifting": 4727,
    "Drugs": 1984, "Other crime": 1555, "Bicycle theft": 838, "Possession of weapons": 820, "Robbery": 817,
    "Theft from the person": 634,
}
ESSEX_DISTRICTS = {
    "Basildon", "Braintree", "Brentwood", "Castle Point", "Chelmsford", "Colchester", "Epping Forest", "Harlow",
    "Maldon", "Rochford", "Tendring", "Uttlesford", "Southend-on-Sea", "Thurrock",
}


@pytest.fixture(scope="module")
def con(demo_db: Path):
    connection = duckdb.connect(str(demo_db), read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def archive(demo_db: Path) -> Path:
    return demo_db.parent / "archive"


def one(con, sql: str, params: list | None = None):
    return con.execute(sql, params or []).fetchall()[0][0]


def monthly(con, crime_type: str, month: str) -> int:
    return one(con, "SELECT count(*) FROM crimes WHERE crime_type = ? AND month = ?::DATE", [crime_type, month])


# ---------------------------------------------------------------------------------------------
# labelling and completeness
# ---------------------------------------------------------------------------------------------
def test_meta_labels_the_warehouse_as_demo(con):
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    assert meta["dataset"] == "demo"
    assert meta["demo_seed"] == "1"


def test_every_view_has_data_and_nothing_was_rejected(con):
    for table in ("crimes", "outcomes", "stop_search", "lsoa", "lsoa_boundaries", "collisions", "casualties",
                  "vehicles", "fraud", "incidents", "measures"):
        assert one(con, f"SELECT count(*) FROM {table}") > 0, table
    assert one(con, "SELECT sum(rows_rejected) FROM load_log") == 0
    assert one(con, "SELECT count(*) FROM rejects") == 0
    months = con.execute("SELECT min(month), max(month), count(DISTINCT month) FROM crimes").fetchall()[0]
    assert months == (date(2017, 1, 1), date(2021, 12, 1), 60)


def test_archive_is_labelled_synthetic(archive):
    readme = (archive / "README.md").read_text(encoding="utf-8")
    assert "SYNTHETIC DEMO DATA" in readme


# ---------------------------------------------------------------------------------------------
# calibration to PRODUCT.md (Oct 2018 - Feb 2019)
# ---------------------------------------------------------------------------------------------
def test_monthly_volumes_match_the_published_level(con):
    rows = con.execute(
        """
        SELECT month,
               count(*) FILTER (WHERE crime_type <> 'Anti-social behaviour') AS crimes,
               count(*) FILTER (WHERE crime_type = 'Anti-social behaviour') AS asb
        FROM crimes WHERE month BETWEEN DATE '2018-10-01' AND DATE '2019-02-01'
        GROUP BY month
        """
    ).fetchall()
    assert len(rows) == 5
    for month, crimes, asb in rows:
        assert 12_650 <= crimes <= 14_550, (month, crimes)  # "about 13,600 crimes a month" (real: 13,108-13,965)
        assert 2_800 <= asb <= 4_000, (month, asb)  # "and 3,300 ASB incidents" (real: 3,003-3,826)


def test_category_totals_and_shares_match_product_facts(con):
    totals = dict(con.execute(
        """
        SELECT crime_type, count(*) FROM crimes
        WHERE month BETWEEN DATE '2018-10-01' AND DATE '2019-02-01' GROUP BY 1
        """
    ).fetchall())
    assert set(totals) == set(PRODUCT_CATEGORY_TOTALS)
    grand, product_grand = sum(totals.values()), sum(PRODUCT_CATEGORY_TOTALS.values())
    assert abs(grand / product_grand - 1) < 0.03
    for category, expected in PRODUCT_CATEGORY_TOTALS.items():
        # 8%, or 5 Poisson standard deviations for the small categories
        tolerance = max(0.08 * expected, 5 * expected ** 0.5)
        assert abs(totals[category] - expected) <= tolerance, (category, totals[category], expected)
        assert abs(totals[category] / grand - expected / product_grand) < 0.01, category


def test_districts_and_their_ranking(con):
    districts = [row[0] for row in con.execute(
        """
        SELECT district FROM crimes
        WHERE month BETWEEN DATE '2018-10-01' AND DATE '2019-02-01' AND district IN (SELECT district FROM lsoa WHERE force_id = 'essex')
        GROUP BY 1 ORDER BY count(*) DESC
        """
    ).fetchall()]
    assert set(districts) == ESSEX_DISTRICTS
    assert set(districts[:5]) == {"Southend-on-Sea", "Basildon", "Colchester", "Thurrock", "Chelmsford"}
    assert set(districts[-2:]) <= {"Maldon", "Rochford", "Brentwood"}


def test_some_rows_fall_outside_the_force_or_have_no_location(con):
    total = one(con, "SELECT count(*) FROM crimes")
    outside = one(con, """
        SELECT count(*) FROM crimes c JOIN lsoa l USING (lsoa_code) WHERE l.force_id IS DISTINCT FROM 'essex'""")
    no_location = one(con, "SELECT count(*) FROM crimes WHERE lsoa_code IS NULL AND longitude IS NULL")
    assert 0.002 < outside / total < 0.015
    assert 0.001 < no_location / total < 0.01


def test_seasonality(con):
    rows = dict(((r[0], r[1]), r[2]) for r in con.execute(
        """
        SELECT crime_type, month(month), count(*) FROM crimes
        WHERE month < DATE '2020-01-01' GROUP BY ALL
        """
    ).fetchall())
    # per day, summed over 2017-2019: violence and ASB peak in summer, burglary in winter
    assert rows[("Violence and sexual offences", 7)] / 31 > 1.08 * rows[("Violence and sexual offences", 1)] / 31
    assert rows[("Anti-social behaviour", 7)] / 31 > 1.2 * rows[("Anti-social behaviour", 1)] / 31
    assert rows[("Burglary", 11)] / 30 > 1.15 * rows[("Burglary", 6)] / 30
    assert rows[("Bicycle theft", 7)] > 1.5 * rows[("Bicycle theft", 1)]


# ---------------------------------------------------------------------------------------------
# COVID-19 shifts
# ---------------------------------------------------------------------------------------------
def change(con, crime_type: str, before: str, after: str) -> float:
    return monthly(con, crime_type, after) / monthly(con, crime_type, before) - 1


def test_first_lockdown_shifts_have_the_published_direction_and_size(con):
    # PRODUCT.md: burglary -37%, shoplifting -54%, ASB +59%, drugs +22% (April) and +44% (May 2020)
    assert -0.50 < change(con, "Burglary", "2019-04-01", "2020-04-01") < -0.25
    assert -0.68 < change(con, "Shoplifting", "2019-04-01", "2020-04-01") < -0.40
    assert 0.35 < change(con, "Anti-social behaviour", "2019-04-01", "2020-04-01") < 0.80
    assert 0.05 < change(con, "Drugs", "2019-04-01", "2020-04-01") < 0.50
    assert 0.25 < change(con, "Drugs", "2019-05-01", "2020-05-01") < 0.70
    assert change(con, "Drugs", "2019-05-01", "2020-05-01") > change(con, "Drugs", "2019-04-01", "2020-04-01")
    assert change(con, "Theft from the person", "2019-04-01", "2020-04-01") < -0.4
    crimes = dict(con.execute(
        """SELECT month, count(*) FROM crimes WHERE crime_type <> 'Anti-social behaviour'
           AND month IN (DATE '2019-04-01', DATE '2020-04-01') GROUP BY 1"""
    ).fetchall())
    overall = crimes[date(2020, 4, 1)] / crimes[date(2019, 4, 1)] - 1
    assert -0.33 < overall < -0.15  # -25% in England and Wales


def test_partial_recovery_and_smaller_later_lockdown_shifts(con):
    for crime_type in ("Burglary", "Shoplifting", "Other theft"):
        april = change(con, crime_type, "2019-04-01", "2020-04-01")
        september = change(con, crime_type, "2019-09-01", "2020-09-01")
        november = change(con, crime_type, "2019-11-01", "2020-11-01")
        assert april < november < september + 0.05, crime_type  # second lockdown: a smaller dip
        assert april < september, crime_type  # recovery
    asb_april = change(con, "Anti-social behaviour", "2019-04-01", "2020-04-01")
    asb_september = change(con, "Anti-social behaviour", "2019-09-01", "2020-09-01")
    assert 0 < asb_september < asb_april


def test_year_to_march_2021_falls_and_asb_in_2021(con):
    before = one(con, """SELECT count(*) FROM crimes WHERE crime_type <> 'Anti-social behaviour'
                         AND month BETWEEN DATE '2019-04-01' AND DATE '2020-03-01'""")
    after = one(con, """SELECT count(*) FROM crimes WHERE crime_type <> 'Anti-social behaviour'
                        AND month BETWEEN DATE '2020-04-01' AND DATE '2021-03-01'""")
    assert -0.18 < after / before - 1 < -0.05  # Essex: -11.4%
    asb_2021 = one(con, "SELECT count(*) FROM crimes WHERE crime_type = 'Anti-social behaviour' AND year(month) = 2021")
    assert abs(asb_2021 / 40_965 - 1) < 0.10


# ---------------------------------------------------------------------------------------------
# other sources
# ---------------------------------------------------------------------------------------------
def test_ksi_casualties_match_the_published_years(con):
    rows = dict(con.execute(
        """
        SELECT CASE WHEN c.collision_date BETWEEN DATE '2019-04-01' AND DATE '2020-03-31' THEN 'before'
                    WHEN c.collision_date BETWEEN DATE '2020-04-01' AND DATE '2021-03-31' THEN 'covid' END AS period,
               count(*) FILTER (WHERE k.severity IN ('Fatal', 'Serious')) AS ksi
        FROM casualties k JOIN collisions c USING (collision_index)
        GROUP BY 1
        """
    ).fetchall())
    assert abs(rows["before"] / 820 - 1) < 0.10
    assert abs(rows["covid"] / 648 - 1) < 0.10
    slight = one(con, "SELECT count(*) FROM casualties WHERE severity = 'Slight'")
    ksi = one(con, "SELECT count(*) FROM casualties WHERE severity IN ('Fatal', 'Serious')")
    assert 3.0 < slight / ksi < 5.0
    road_users = {r[0] for r in con.execute("SELECT DISTINCT casualty_type FROM casualties").fetchall()}
    assert {"Pedestrian", "Cyclist", "Car occupant"} <= road_users
    assert one(con, "SELECT count(DISTINCT force_id) FROM collisions") == 1


def test_fraud_rises_in_the_year_to_march_2021(con):
    before = one(con, "SELECT sum(reports) FROM fraud WHERE month BETWEEN DATE '2019-04-01' AND DATE '2020-03-01'")
    after = one(con, "SELECT sum(reports) FROM fraud WHERE month BETWEEN DATE '2020-04-01' AND DATE '2021-03-01'")
    assert 0.25 < after / before - 1 < 0.50  # crime survey: +36%
    first = one(con, "SELECT sum(reports) FROM fraud WHERE year(month) = 2017")
    assert one(con, "SELECT sum(reports) FROM fraud WHERE year(month) = 2019") > first


def test_stop_and_search_volumes_objects_and_outcomes(con):
    monthly_counts = [r[0] for r in con.execute("SELECT count(*) FROM stop_search GROUP BY month").fetchall()]
    assert len(monthly_counts) == 60 and min(monthly_counts) > 450 and max(monthly_counts) < 1500
    in_2019 = one(con, "SELECT count(*) / 12 FROM stop_search WHERE year(month) = 2019")
    assert 700 <= in_2019 <= 900
    arrest = one(con, "SELECT avg((outcome = 'Arrest')::INT) FROM stop_search")
    assert 0.12 < arrest < 0.18
    top_object = one(con, "SELECT object_of_search FROM stop_search GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
    assert top_object == "Controlled drugs"
    spring = dict(con.execute(
        "SELECT year(month), count(*) FROM stop_search WHERE month(month) IN (4, 5) GROUP BY 1").fetchall())
    assert spring[2020] > 1.2 * spring[2019]


def test_extract_flags_and_domestic_abuse_in_lockdown(con):
    share = one(con, """SELECT avg(domestic_abuse::INT) FROM incidents
                        WHERE crime_type = 'Violence and sexual offences' AND recorded_at < TIMESTAMP '2020-03-01'""")
    assert 0.12 < share < 0.18
    da = dict(con.execute(
        """SELECT month, count(*) FROM incidents WHERE domestic_abuse
           AND month IN (DATE '2019-04-01', DATE '2020-04-01') GROUP BY 1""").fetchall())
    assert da[date(2020, 4, 1)] / da[date(2019, 4, 1)] > 0.9  # held up (+3% published) while violence fell
    assert one(con, "SELECT count(*) FROM incidents WHERE hate_crime") > 0
    assert one(con, "SELECT count(*) FROM incidents WHERE child_victim") > 0
    repeat = one(con, """SELECT count(*) FROM (SELECT victim_key FROM incidents WHERE domestic_abuse
                         GROUP BY 1 HAVING count(*) > 1)""")
    assert repeat > 100
    assert one(con, "SELECT count(*) FROM incidents WHERE crime_type IS NULL OR recorded_at IS NULL") == 0


def test_speeding_measure_matches_the_published_april_figures(con):
    rows = dict(con.execute(
        """SELECT period_start, value FROM measures WHERE measure = 'Speeding detections'
           AND period_start IN (DATE '2019-04-01', DATE '2020-04-01')""").fetchall())
    assert rows == {date(2019, 4, 1): 6584.0, date(2020, 4, 1): 465.0}


# ---------------------------------------------------------------------------------------------
# the generated files themselves (read with the csv module, not the loaders)
# ---------------------------------------------------------------------------------------------
def test_street_files_round_trip_and_look_like_data_police_uk(con, archive):
    path = archive / "2020-04" / "2020-04-essex-street.csv"
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == one(con, "SELECT count(*) FROM crimes WHERE month = DATE '2020-04-01'")
    for row in rows:
        assert row["Reported by"] == row["Falls within"] == "Essex Police"
        if row["Crime type"] == "Anti-social behaviour":
            assert row["Crime ID"] == "" and row["Last outcome category"] == ""
        else:
            assert re.fullmatch(r"[0-9a-f]{64}", row["Crime ID"])
            assert row["Last outcome category"]
        if row["LSOA code"]:
            assert re.fullmatch(r"E0199\d{4}", row["LSOA code"])
            assert re.fullmatch(r".+ \d{3}[A-Z]", row["LSOA name"])
            assert row["Location"].startswith("On or near ")
    search = archive / "2020-06" / "2020-06-essex-stop-and-search.csv"
    with open(search, newline="", encoding="utf-8") as handle:
        dates = [row["Date"] for row in csv.DictReader(handle)]
    assert dates and all(re.fullmatch(r"2020-06-\d\dT\d\d:\d\d:00\+01:00", d) for d in dates)  # BST
    january = archive / "2020-01" / "2020-01-essex-stop-and-search.csv"
    with open(january, newline="", encoding="utf-8") as handle:
        assert all(row["Date"].endswith("+00:00") for row in csv.DictReader(handle))


def test_reference_files_cover_essex_with_non_overlapping_lsoas(archive):
    lookup = archive / "reference" / "demo-lsoa11-to-local-authority-and-force.csv"
    with open(lookup, newline="", encoding="utf-8") as handle:
        essex = [row for row in csv.DictReader(handle) if row["Police_force"] == "Essex"]
    assert len(essex) == 1077
    assert len({row["Local authority name"] for row in essex}) == 14
    assert {"Southend-on-Sea UA", "Thurrock UA", "Basildon"} <= {row["Local authority name"] for row in essex}
    census = archive / "reference" / "demo-census2011-lsoa-usual-residents.csv"
    with open(census, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        persons = {row[6]: row[9] for row in reader}
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})*", text) for text in persons.values())
    assert sum("," in text for text in persons.values()) > 1000  # thousands commas, as the ONS file has
    essex_residents = sum(int(persons[row["LSOA Code"]].replace(",", "")) for row in essex)
    assert 1_700_000 < essex_residents < 1_760_000  # 2011 Census, Essex police force area: 1,724,950
    collection = json.loads((archive / "reference" / "demo-lsoa11-boundaries.geojson").read_text(encoding="utf-8"))
    boxes = []
    for feature in collection["features"]:
        ring = feature["geometry"]["coordinates"][0]
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        assert 0.0 <= min(xs) and max(xs) <= 1.35 and 51.4 <= min(ys) and max(ys) <= 52.15
        boxes.append((min(xs), min(ys), max(xs), max(ys)))
        assert feature["properties"]["LSOA11CD"].startswith("E0199")
    assert len(boxes) == 1077
    boxes.sort()
    for i, (x0, y0, x1, y1) in enumerate(boxes):  # no two rectangles overlap (beyond rounding)
        for a0, b0, a1, b1 in boxes[i + 1 :]:
            if a0 >= x1 - 1e-6:
                break
            assert not (a0 < x1 - 1e-6 and x0 < a1 - 1e-6 and b0 < y1 - 1e-6 and y0 < b1 - 1e-6)


def test_extract_uses_a_force_layout_with_its_mapping(con, archive):
    extract = archive / "extract" / "demo-essex-incident-extract.csv"
    with open(extract, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        first = next(reader)
        rows = 1 + sum(1 for _ in reader)
    assert header[:3] == ["CrimeRef", "RecordedDateTime", "HOOffenceCode"]
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", first[1])
    assert (archive / "extract" / "demo-essex-extract-mapping.toml").exists()
    assert rows == one(con, "SELECT count(*) FROM incidents")


# ---------------------------------------------------------------------------------------------
# determinism, replacement, CLI
# ---------------------------------------------------------------------------------------------
COMPARE_EXCLUDE = {"load_log": {"load_id", "loaded_at", "path"}, "rejects": {"load_id", "path"}}


@pytest.mark.slow
def test_same_seed_gives_identical_tables(demo_db, tmp_path):
    from etl.demo import build_demo
    from etl.warehouse import SCHEMA

    again = tmp_path / "again.duckdb"
    again.write_text("not a database: the demo must replace whatever is here")
    build_demo(again, seed=1, archive_dir=tmp_path / "archive")
    con = duckdb.connect()
    try:
        con.execute("ATTACH ? AS a (READ_ONLY)", [str(demo_db)])
        con.execute("ATTACH ? AS b (READ_ONLY)", [str(again)])
        for table in SCHEMA:
            columns = [r[0] for r in con.execute(f"DESCRIBE a.{table}").fetchall()
                       if r[0] not in COMPARE_EXCLUDE.get(table, set())]
            column_list = ", ".join(f'"{c}"' for c in columns)
            counts = con.execute(f"SELECT (SELECT count(*) FROM a.{table}), (SELECT count(*) FROM b.{table})").fetchall()[0]
            assert counts[0] == counts[1], table
            for left, right in (("a", "b"), ("b", "a")):
                differing = con.execute(
                    f"SELECT count(*) FROM (SELECT {column_list} FROM {left}.{table} "
                    f"EXCEPT ALL SELECT {column_list} FROM {right}.{table})"
                ).fetchall()[0][0]
                assert differing == 0, (table, left, right)
        assert con.execute("SELECT count(*) FROM b.crimes").fetchall()[0][0] > 900_000
    finally:
        con.close()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith("again.duckdb.")]
    assert leftovers in ([], ["again.duckdb.lock"])


def test_if_missing_leaves_an_existing_database_alone(tmp_path):
    db = tmp_path / "existing.duckdb"
    db.write_bytes(b"placeholder")
    before = os.stat(db).st_mtime_ns
    result = run_cli("etl", "demo", "--if-missing", "--db", str(db))
    assert "nothing to do" in result.stdout
    assert db.read_bytes() == b"placeholder" and os.stat(db).st_mtime_ns == before


def test_refuses_to_clear_a_folder_that_is_not_a_demo_archive(tmp_path):
    from etl.demo import build_demo

    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.csv").write_text("keep me")
    with pytest.raises(ValueError, match="not a demo archive"):
        build_demo(tmp_path / "x.duckdb", seed=1, archive_dir=precious)
    assert (precious / "notes.csv").read_text() == "keep me"
