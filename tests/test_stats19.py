"""STATS19 loader: the real 2022 DfT sample (BOM, no final newline, `accident_*` names), a copy cut off
mid-row, force selection, and small hand-written collision/casualty/vehicle files with 2023+ names.
Expected values come from a plain csv pass over the raw files or are worked out by hand."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from etl.load import load_sources
from etl.warehouse import LoadError, sha256_file
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def sample(reference_data: Path) -> Path:
    return reference_data / "dft" / "collision-2022-met-january-sample.csv"


def raw_sample_rows(sample: Path) -> list[dict]:
    with open(sample, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_real_sample_loads_every_row_with_its_severity(tmp_path, sample):
    raw_bytes = sample.read_bytes()
    assert raw_bytes.startswith(b"\xef\xbb\xbf") and not raw_bytes.endswith(b"\n")
    rows = raw_sample_rows(sample)
    expected = Counter({"1": "Fatal", "2": "Serious", "3": "Slight"}[r["accident_severity"]] for r in rows)
    assert len(rows) == 1049 and expected == {"Fatal": 5, "Serious": 152, "Slight": 892}

    db = tmp_path / "w.duckdb"
    summary = load_sources([sample], db, progress=False)
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (1049, 1049, 0)
    con = duckdb.connect(str(db), read_only=True)
    assert dict(con.execute("SELECT severity, count(*) FROM collisions GROUP BY 1").fetchall()) == dict(expected)
    # the BOM did not leak into the first column: every index is the raw one
    loaded = {r[0] for r in con.execute("SELECT collision_index FROM collisions").fetchall()}
    assert loaded == {r["accident_index"] for r in rows}
    # the last row (no newline after it) is there with its date and time
    last = rows[-1]
    day, month, year = last["date"].split("/")
    got = con.execute(
        "SELECT strftime(collision_date, '%d/%m/%Y'), strftime(occurred_at, '%H:%M'), force_id, police_force_name "
        "FROM collisions WHERE collision_index = ?",
        [last["accident_index"]],
    ).fetchall()
    assert got == [(f"{day}/{month}/{year}", last["time"], "metropolitan", "Metropolitan Police")]


def test_real_sample_decoded_columns_match_raw(tmp_path, sample):
    rows = raw_sample_rows(sample)
    db = tmp_path / "w.duckdb"
    load_sources([sample], db, progress=False)
    con = duckdb.connect(str(db), read_only=True)
    # speed limits and hours, counted by hand from the raw file
    assert dict(con.execute("SELECT speed_limit, count(*) FROM collisions GROUP BY 1").fetchall()) == {
        int(k): v for k, v in Counter(r["speed_limit"] for r in rows).items()
    }
    assert dict(con.execute("SELECT hour, count(*) FROM collisions GROUP BY 1").fetchall()) == {
        int(k): v for k, v in Counter(r["time"][:2] for r in rows).items()
    }
    # day_of_week code 1 = Sunday ... 7 = Saturday (DfT code list)
    names = {"1": "Sunday", "2": "Monday", "3": "Tuesday", "4": "Wednesday", "5": "Thursday", "6": "Friday", "7": "Saturday"}
    assert dict(con.execute("SELECT day_of_week, count(*) FROM collisions GROUP BY 1").fetchall()) == dict(
        Counter(names[r["day_of_week"]] for r in rows)
    )
    # urban 1 / rural 2
    urban = sum(1 for r in rows if r["urban_or_rural_area"] == "1")
    assert con.execute("SELECT count(*) FROM collisions WHERE urban_or_rural = 'Urban'").fetchall()[0][0] == urban
    # week_start is the Monday on or before the date
    bad = con.execute("SELECT count(*) FROM collisions WHERE isodow(week_start) <> 1 OR collision_date - week_start NOT BETWEEN 0 AND 6").fetchall()
    assert bad == [(0,)]


def test_cut_off_copy_keeps_complete_rows_and_rejects_the_cut_row(tmp_path, sample):
    data = sample.read_bytes()
    lines = data.split(b"\n")
    # keep the header and 500 rows, then half of row 501 (physical line 502)
    cut_line = lines[501]
    truncated = b"\n".join(lines[:501]) + b"\n" + cut_line[: len(cut_line) // 2]
    path = tmp_path / "cut.csv"
    path.write_bytes(truncated)
    db = tmp_path / "w.duckdb"
    summary = load_sources([path], db, progress=False)
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (501, 500, 1)
    con = duckdb.connect(str(db), read_only=True)
    rejects = con.execute("SELECT line_number, reason, raw_line FROM rejects").fetchall()
    assert len(rejects) == 1
    line, reason, raw_line = rejects[0]
    assert line == 502
    assert "too few columns" in reason
    assert raw_line == cut_line[: len(cut_line) // 2].decode()
    expected = Counter(r["accident_severity"] for r in raw_sample_rows(sample)[:500])
    got = dict(con.execute("SELECT severity_code::varchar, count(*) FROM collisions GROUP BY 1").fetchall())
    assert got == dict(expected)


@pytest.mark.parametrize("force, kept", [("42", 0), ("Essex", 0), ("1", 1049), ("Metropolitan Police", 1049), ("Essex,1", 1049)])
def test_force_selection_by_name_or_code(tmp_path, sample, force, kept):
    db = tmp_path / "w.duckdb"
    summary = load_sources([sample], db, progress=False, force=force)
    assert summary.rows_loaded == kept and summary.rows_rejected == 0
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM collisions").fetchall()[0][0] == kept


def test_unknown_force_is_a_clear_error(tmp_path, sample):
    with pytest.raises(LoadError, match="not a police force in the DfT code list"):
        load_sources([sample], tmp_path / "w.duckdb", progress=False, force="Atlantis")
    with pytest.raises(LoadError, match="not a DfT police_force code"):
        load_sources([sample], tmp_path / "w.duckdb", progress=False, force="77")


# ---------------------------------------------------------------------------------------------
# small hand-written files with the 2023+ `collision_*` names: two Essex collisions, one Met
# ---------------------------------------------------------------------------------------------
COLLISION_HEADER = (
    "collision_index,collision_year,collision_ref_no,location_easting_osgr,location_northing_osgr,longitude,latitude,"
    "police_force,collision_severity,number_of_vehicles,number_of_casualties,date,day_of_week,time,"
    "local_authority_district,local_authority_ons_district,local_authority_highway,first_road_class,first_road_number,"
    "road_type,speed_limit,light_conditions,weather_conditions,urban_or_rural_area,lsoa_of_collision_location"
)
COLLISIONS = [
    # Essex, fatal, Monday 06/03/2023 08:15, 60 mph rural
    "2023420000001,2023,420000001,575000,206000,0.47,51.73,42,1,2,2,06/03/2023,2,08:15,-1,E07000070,E10000012,3,12,6,60,1,1,2,E01021000",
    # Essex, slight, Sunday 12/03/2023 17:40, 30 mph urban
    "2023420000002,2023,420000002,575000,206000,0.48,51.74,42,3,1,1,12/03/2023,1,17:40,-1,E07000070,E10000012,3,12,6,30,4,2,1,E01021001",
    # Met, serious
    "2023010000003,2023,010000003,530000,180000,-0.12,51.50,1,2,2,1,07/03/2023,3,09:00,-1,E09000033,E09000033,3,12,6,20,1,1,1,E01004736",
]
CASUALTY_HEADER = (
    "collision_index,collision_year,collision_ref_no,vehicle_reference,casualty_reference,casualty_class,sex_of_casualty,"
    "age_of_casualty,age_band_of_casualty,casualty_severity,pedestrian_location,pedestrian_movement,car_passenger,"
    "bus_or_coach_passenger,pedestrian_road_maintenance_worker,casualty_type,casualty_home_area_type,casualty_imd_decile,lsoa_of_casualty"
)
CASUALTIES = [
    "2023420000001,2023,420000001,1,1,3,1,34,7,1,5,1,0,0,0,0,1,5,E01021000",   # pedestrian, fatal
    "2023420000001,2023,420000001,2,2,1,2,51,8,2,0,0,0,0,0,4,1,5,E01021000",   # motorcyclist (type 4), serious
    "2023420000002,2023,420000002,1,1,1,1,19,4,3,0,0,0,0,0,9,1,5,E01021001",   # car occupant, slight
    "2023010000003,2023,010000003,1,1,1,1,40,7,2,0,0,0,0,0,1,1,5,E01004736",   # Met pedal cyclist, serious
]
VEHICLE_HEADER = "collision_index,collision_year,collision_ref_no,vehicle_reference,vehicle_type,towing_and_articulation,sex_of_driver,age_of_driver,age_band_of_driver"
VEHICLES = [
    "2023420000001,2023,420000001,1,9,0,1,45,7",
    "2023420000001,2023,420000001,2,5,0,2,51,8",
    "2023420000002,2023,420000002,1,9,0,1,19,4",
    "2023010000003,2023,010000003,1,1,0,1,40,7",
]


def write_demo_files(folder: Path, with_bom: bool = False) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name, header, rows in (
        ("collisions.csv", COLLISION_HEADER, COLLISIONS),
        ("casualties.csv", CASUALTY_HEADER, CASUALTIES),
        ("vehicles.csv", VEHICLE_HEADER, VEHICLES),
    ):
        path = folder / name
        path.write_text(("\ufeff" if with_bom else "") + header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
        files.append(path)
    return files


def test_demo_files_all_forces(tmp_path):
    files = write_demo_files(tmp_path / "in", with_bom=True)
    db = tmp_path / "w.duckdb"
    summary = load_sources(files, db, progress=False)
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (11, 11, 0)
    con = duckdb.connect(str(db), read_only=True)
    assert dict(con.execute("SELECT force_id, count(*) FROM collisions GROUP BY 1").fetchall()) == {"essex": 2, "metropolitan": 1}
    users = dict(con.execute("SELECT casualty_reference || '@' || collision_index, road_user_type FROM casualties").fetchall())
    assert users == {
        "1@2023420000001": "Pedestrian",
        "2@2023420000001": "Motorcyclist",
        "1@2023420000002": "Car occupant",
        "1@2023010000003": "Pedal cyclist",
    }
    # KSI casualties worked out by hand: fatal + serious = 3 (2 Essex, 1 Met)
    assert con.execute("SELECT count(*) FROM casualties WHERE severity IN ('Fatal', 'Serious')").fetchall() == [(3,)]
    assert dict(con.execute("SELECT force_id, count(*) FROM casualties GROUP BY 1").fetchall()) == {"essex": 3, "metropolitan": 1}
    first = con.execute(
        "SELECT collision_date, strftime(occurred_at, '%H:%M'), day_of_week, hour, week_start, speed_limit, urban_or_rural, "
        "road_type, local_authority_district FROM collisions WHERE collision_index = '2023420000001'"
    ).fetchall()[0]
    assert str(first[0]) == "2023-03-06" and first[1] == "08:15" and first[2] == "Monday" and first[3] == 8
    assert str(first[4]) == "2023-03-06" and first[5] == 60 and first[6] == "Rural" and first[7] == "Single carriageway"
    assert first[8] == "E07000070"
    sunday = con.execute("SELECT week_start FROM collisions WHERE collision_index = '2023420000002'").fetchall()[0][0]
    assert str(sunday) == "2023-03-06"
    assert dict(con.execute("SELECT vehicle_type, count(*) FROM vehicles GROUP BY 1").fetchall()) == {
        "Car": 2, "Motorcycle over 500cc": 1, "Pedal cycle": 1
    }


def test_demo_files_force_essex_keeps_only_essex_rows(tmp_path):
    files = write_demo_files(tmp_path / "in")
    db = tmp_path / "w.duckdb"
    result = run_cli("etl", "load", *map(str, files), "--db", str(db), "--force", "42")
    assert "8 loaded, 0 rejected" in result.stdout
    con = duckdb.connect(str(db), read_only=True)
    for table, expected in (("collisions", 2), ("casualties", 3), ("vehicles", 3)):
        assert con.execute(f"SELECT count(*), count(*) FILTER (WHERE force_id = 'essex') FROM {table}").fetchall() == [(expected, expected)]


def test_casualties_alone_take_force_from_the_collision_reference(tmp_path):
    files = write_demo_files(tmp_path / "in")
    db = tmp_path / "w.duckdb"
    summary = load_sources([files[1]], db, progress=False, force="Essex")
    assert summary.rows_loaded == 3


def test_reload_gives_identical_tables(tmp_path):
    files = write_demo_files(tmp_path / "in")
    db = tmp_path / "w.duckdb"
    load_sources(files, db, progress=False)

    def snapshot():
        con = duckdb.connect(str(db), read_only=True)
        try:
            return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in ("collisions", "casualties", "vehicles")}
        finally:
            con.close()

    first = snapshot()
    load_sources(files, db, progress=False)
    assert snapshot() == first
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM load_log").fetchall() == [(3,)]


def test_bad_rows_are_rejected_with_line_and_reason(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / "collisions.csv"
    bad_severity = COLLISIONS[1].replace(",42,3,", ",42,7,")
    bad_date = COLLISIONS[2].replace("07/03/2023", "31/02/2023")
    path.write_text("\n".join([COLLISION_HEADER, COLLISIONS[0], bad_severity, bad_date]) + "\n", encoding="utf-8")
    db = tmp_path / "w.duckdb"
    summary = load_sources([path], db, progress=False)
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (3, 1, 2)
    con = duckdb.connect(str(db), read_only=True)
    rejects = con.execute("SELECT line_number, reason, raw_line FROM rejects ORDER BY 1").fetchall()
    assert rejects[0][0] == 3 and "severity '7'" in rejects[0][1] and rejects[0][2] == bad_severity
    assert rejects[1][0] == 4 and "31/02/2023" in rejects[1][1] and rejects[1][2] == bad_date


def test_missing_required_column_names_it(tmp_path):
    path = tmp_path / "collisions.csv"
    header = COLLISION_HEADER.replace(",date,", ",collision_date_x,")
    path.write_text(header + "\n" + COLLISIONS[0] + "\n", encoding="utf-8")
    with pytest.raises(LoadError, match="lacks column\\(s\\): date"):
        load_sources([path], tmp_path / "w.duckdb", progress=False)


def test_demo_generator_stats19_files_load_completely(tmp_path):
    """The synthetic demo's STATS19 files (etl.demo) load in full; KSI by financial year counted with csv."""
    import numpy as np

    from etl.demo import CASUALTY_HEADER as DEMO_CASUALTY
    from etl.demo import COLLISION_HEADER as DEMO_COLLISION
    from etl.demo import VEHICLE_HEADER as DEMO_VEHICLE
    from etl.demo import build_geography, generate_stats19

    collisions, casualties, vehicles = generate_stats19(build_geography(np.random.default_rng([1, 1])), np.random.default_rng([1, 7]))
    paths = []
    for name, header, rows in (("collision", DEMO_COLLISION, collisions), ("casualty", DEMO_CASUALTY, casualties),
                               ("vehicle", DEMO_VEHICLE, vehicles)):
        path = tmp_path / f"demo-{name}.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        paths.append(path)
    db = tmp_path / "w.duckdb"
    summary = load_sources(paths, db, progress=False, force="Essex")
    assert summary.rows_loaded == len(collisions) + len(casualties) + len(vehicles) and summary.rows_rejected == 0

    # KSI casualties per financial year (April-March), counted from the raw files with csv
    with open(paths[0], encoding="utf-8", newline="") as handle:
        collision_date = {r["collision_index"]: r["date"] for r in csv.DictReader(handle)}
    expected = Counter()
    with open(paths[1], encoding="utf-8", newline="") as handle:
        for r in csv.DictReader(handle):
            if r["casualty_severity"] in ("1", "2"):
                _day, month, year = map(int, collision_date[r["collision_index"]].split("/"))
                expected[year if month >= 4 else year - 1] += 1
    con = duckdb.connect(str(db), read_only=True)
    got = dict(con.execute(
        """
        SELECT CASE WHEN month(c.collision_date) >= 4 THEN year(c.collision_date) ELSE year(c.collision_date) - 1 END,
               count(*)
        FROM casualties k JOIN collisions c USING (collision_index)
        WHERE k.severity IN ('Fatal', 'Serious') GROUP BY 1
        """
    ).fetchall())
    assert got == dict(expected)


def test_casualty_of_unknown_force_rejected_when_a_force_is_chosen(tmp_path):
    path = tmp_path / "casualties.csv"
    odd = CASUALTIES[0].replace("2023420000001", "ABC")
    path.write_text("\n".join([CASUALTY_HEADER, CASUALTIES[0], odd]) + "\n", encoding="utf-8")
    db = tmp_path / "w.duckdb"
    summary = load_sources([path], db, progress=False, force="42")
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (2, 1, 1)
    con = duckdb.connect(str(db), read_only=True)
    (line, reason), = con.execute("SELECT line_number, reason FROM rejects").fetchall()
    assert line == 3 and "force of collision ABC is unknown" in reason
    con.close()
    # without --force every row is kept (its force unknown)
    summary = load_sources([path], tmp_path / "all.duckdb", progress=False)
    assert summary.rows_loaded == 2


def test_casualty_file_that_would_drop_a_casualty_of_a_collision_is_refused(tmp_path):
    """A casualty file replaces every casualty of each collision it names. Reloaded with one of collision
    ...001's two casualties rejected, it would leave that collision one casualty short: refused (database
    unchanged) unless the rejects are accepted."""
    files = write_demo_files(tmp_path / "in")
    db = tmp_path / "w.duckdb"
    load_sources(files, db, progress=False)
    before = sha256_file(db)
    revised = tmp_path / "revised" / "casualties.csv"
    revised.parent.mkdir()
    bad = CASUALTIES[1].replace(",8,2,0,0,0,0,0,4,", ",8,7,0,0,0,0,0,4,")  # casualty_severity 7
    revised.write_text("\n".join([CASUALTY_HEADER, CASUALTIES[0], bad]) + "\n", encoding="utf-8")
    with pytest.raises(LoadError) as caught:
        load_sources([revised], db, progress=False)
    assert str(caught.value) == (
        f"{revised}: 1 of 2 rows of this file (50.0%) were rejected (first: line 3: casualty_severity '7' is not 1"
        " (fatal), 2 (serious) or 3 (slight)); a file may replace data already in the warehouse only when at most 5%"
        " of its rows are rejected, and this one would replace 2 rows (casualties of the same collisions) with 1."
        " Fix the file, or pass --accept-rejects to load its accepted rows anyway")
    assert sha256_file(db) == before
    load_sources([revised], db, progress=False, accept_rejects=True)
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT casualty_reference FROM casualties WHERE collision_index = '2023420000001'"
                           ).fetchall() == [(1,)]
    finally:
        con.close()
