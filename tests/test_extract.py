"""Force incident extract loader: canonical columns, a TOML mapping of renamed columns (identical result),
offence codes mapped to police.uk categories (checked against the Home Office file itself), rejects."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from etl.load import load_sources
from etl.warehouse import LoadError

CANONICAL = [
    "incident_ref", "recorded_at", "offence_code", "offence_description", "district", "lsoa_code",
    "domestic_abuse", "hate_crime", "child_victim", "outcome", "outcome_date", "victim_key",
]
ROWS = [
    ["INC-1", "2023-03-06 08:15", "8N", "Assault with injury", "Basildon", "E01021300", "Y", "N", "N", "Charged", "2023-04-01", "V1"],
    ["INC-2", "2023-03-12 23:59:30", "28E", "Burglary", "", "", "N", "N", "N", "", "", "V2"],
    ["INC-3", "2023-03-13 00:00", "008N", "Assault with injury", "Colchester", "", "true", "false", "1", "", "", "V1"],
    ["INC-4", "2023-03-14 10:00", "999Z", "Unknown code", "Colchester", "", "0", "1", "0", "", "", ""],
]
THEIR_NAMES = {
    "incident_ref": "CrimeReference", "recorded_at": "RecordedDateTime", "offence_code": "HOCode",
    "offence_description": "OffenceDesc", "district": "CSPArea", "lsoa_code": "LSOA",
    "domestic_abuse": "DAFlag", "hate_crime": "HateFlag", "child_victim": "ChildVictimFlag",
    "outcome": "OutcomeText", "outcome_date": "OutcomeDate", "victim_key": "VictimPseudoId",
}


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def home_office_category(reference_data: Path, code: str) -> str:
    with open(reference_data / "home-office" / "offence-code-to-policeuk-category.csv", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            if code in row["Offence_Code"].split("/"):
                return row["Police.uk_Cat"]
    raise KeyError(code)


def snapshot(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT * FROM incidents ORDER BY incident_ref").fetchall()
    finally:
        con.close()


def test_canonical_extract_loads(tmp_path, reference_data):
    path = write_csv(tmp_path / "extract.csv", CANONICAL, ROWS)
    db = tmp_path / "w.duckdb"
    summary = load_sources([path], db, progress=False, force="Essex Police")
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (4, 4, 0)
    con = duckdb.connect(str(db), read_only=True)
    got = {r[0]: r[1:] for r in con.execute(
        "SELECT incident_ref, crime_type, month, week_start, domestic_abuse, hate_crime, child_victim, force_id, offence_code "
        "FROM incidents").fetchall()}
    # categories from the Home Office file, compared case-insensitively (we use data.police.uk's casing)
    assert got["INC-1"][0].lower() == home_office_category(reference_data, "8N").lower()
    assert got["INC-2"][0].lower() == home_office_category(reference_data, "28E").lower() == "burglary"
    assert got["INC-3"][0] == got["INC-1"][0] == "Violence and sexual offences"  # leading zeros ignored
    assert got["INC-4"][0] is None  # unknown code kept, category empty
    # 2023-03-12 is a Sunday: week starts Monday 6 March; 13 March is the next Monday
    assert str(got["INC-2"][2]) == "2023-03-06" and str(got["INC-3"][2]) == "2023-03-13"
    assert str(got["INC-1"][1]) == "2023-03-01"
    assert got["INC-1"][3:6] == (True, False, False)
    assert got["INC-3"][3:6] == (True, False, True)
    assert got["INC-4"][3:6] == (False, True, False)
    assert {v[6] for v in got.values()} == {"essex"}
    outcome = con.execute("SELECT outcome, outcome_date, victim_key FROM incidents WHERE incident_ref = 'INC-1'").fetchall()
    assert outcome[0][0] == "Charged" and str(outcome[0][1]) == "2023-04-01" and outcome[0][2] == "V1"


def test_mapping_file_loads_renamed_columns_identically(tmp_path):
    canonical = write_csv(tmp_path / "canonical.csv", CANONICAL, ROWS)
    # the same rows under the force's own names, in another column order, with UK date formats
    order = list(reversed(CANONICAL))
    theirs_rows = []
    for row in ROWS:
        values = dict(zip(CANONICAL, row))
        if values["recorded_at"]:
            day, time = values["recorded_at"].split(" ")
            y, m, d = day.split("-")
            values["recorded_at"] = f"{d}/{m}/{y} {time[:5]}"
            if len(time) > 5:
                values["recorded_at"] += time[5:]
        if values["outcome_date"]:
            y, m, d = values["outcome_date"].split("-")
            values["outcome_date"] = f"{d}/{m}/{y}"
        theirs_rows.append([values[c] for c in order])
    # INC-2 has seconds: give all rows seconds so one format fits
    for row in theirs_rows:
        index = order.index("recorded_at")
        if row[index].count(":") == 1:
            row[index] += ":00"
    renamed = write_csv(tmp_path / "force_export.csv", [THEIR_NAMES[c] for c in order], theirs_rows)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        "[extract]\n"
        'force = "Essex Police"\n'
        'recorded_at_format = "%d/%m/%Y %H:%M:%S"\n'
        'outcome_date_format = "%d/%m/%Y"\n'
        'true_values = ["Y", "Yes", "1", "TRUE"]\n'
        'false_values = ["N", "No", "0", "FALSE"]\n'
        "[columns]\n" + "".join(f'{ours} = "{theirs}"\n' for ours, theirs in THEIR_NAMES.items()),
        encoding="utf-8",
    )
    db_canonical, db_mapped = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    load_sources([canonical], db_canonical, progress=False, force="Essex")
    summary = load_sources([renamed], db_mapped, progress=False, mapping=str(mapping))
    assert summary.rows_loaded == 4 and summary.rows_rejected == 0
    assert snapshot(db_mapped) == snapshot(db_canonical)
    assert len(snapshot(db_mapped)) == 4


def test_mapping_naming_a_missing_column_is_a_clear_error(tmp_path):
    renamed = write_csv(tmp_path / "force_export.csv", ["CrimeReference", "RecordedDateTime", "Code"], [["A", "2023-01-01 00:00", "8N"]])
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        '[extract]\nforce = "Essex"\n[columns]\nincident_ref = "CrimeReference"\nrecorded_at = "RecordedDateTime"\n'
        'offence_code = "HOCode"\ndomestic_abuse = "DAFlag"\n',
        encoding="utf-8",
    )
    with pytest.raises(LoadError) as info:
        load_sources([renamed], tmp_path / "w.duckdb", progress=False, mapping=str(mapping))
    message = str(info.value)
    assert "force_export.csv" in message and "offence_code (their 'HOCode')" in message and "DAFlag" in message


def test_canonical_extract_missing_columns_named(tmp_path):
    path = write_csv(tmp_path / "extract.csv", CANONICAL[:3], [r[:3] for r in ROWS])
    with pytest.raises(LoadError) as info:
        load_sources([path], tmp_path / "w.duckdb", progress=False, force="Essex")
    assert "victim_key" in str(info.value) and "domestic_abuse" in str(info.value)


def test_bad_mapping_keys_rejected(tmp_path):
    path = write_csv(tmp_path / "extract.csv", CANONICAL, ROWS)
    mapping = tmp_path / "m.toml"
    mapping.write_text('[columns]\nincident_ref = "incident_ref"\nrecorded_at = "recorded_at"\noffence_code = "offence_code"\ncolour = "x"\n')
    with pytest.raises(LoadError, match="colour"):
        load_sources([path], tmp_path / "w.duckdb", progress=False, mapping=str(mapping), force="Essex")


def test_rejects_with_line_and_reason_and_reload_is_identical(tmp_path):
    rows = ROWS + [
        ["INC-5", "06/03/2023 08:15", "8N", "", "", "", "Y", "N", "N", "", "", ""],      # line 6: UK date, not ISO
        ["INC-6", "2023-03-06 08:15", "8N", "", "", "", "maybe", "N", "N", "", "", ""],  # line 7: bad flag
        ["INC-1", "2023-03-06 08:15", "8N", "", "", "", "Y", "N", "N", "", "", ""],      # line 8: duplicate
    ]
    path = write_csv(tmp_path / "extract.csv", CANONICAL, rows)
    db = tmp_path / "w.duckdb"
    summary = load_sources([path], db, progress=False, force="42")
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (7, 4, 3)
    con = duckdb.connect(str(db), read_only=True)
    rejects = con.execute("SELECT line_number, reason FROM rejects ORDER BY 1").fetchall()
    con.close()
    assert [r[0] for r in rejects] == [6, 7, 8]
    assert "not a date-time" in rejects[0][1] and "maybe" in rejects[1][1] and "duplicate incident: INC-1" in rejects[2][1]
    first = snapshot(db)
    load_sources([path], db, progress=False, force="Essex")
    assert snapshot(db) == first


def test_extract_without_force_is_an_error(tmp_path):
    path = write_csv(tmp_path / "extract.csv", CANONICAL, ROWS)
    with pytest.raises(LoadError, match="which force"):
        load_sources([path], tmp_path / "w.duckdb", progress=False)


# ---------------------------------------------------------------------------------------------
# domestic abuse, repeat victims within 12 months, child-victim and hate-crime series
# ---------------------------------------------------------------------------------------------
DA_ROWS = [
    # ref, recorded, code, da, hate, child, victim
    ("D1", "2022-01-10 12:00", "8N", "Y", "N", "N", "V1"),
    ("D2", "2022-06-01 12:00", "8N", "Y", "N", "Y", "V1"),   # 142 days after D1: repeat
    ("D3", "2023-07-01 12:00", "8N", "Y", "N", "N", "V1"),   # 395 days after D2: not a repeat
    ("D4", "2022-03-01 12:00", "8N", "Y", "N", "N", "V2"),
    ("N1", "2022-02-01 12:00", "28E", "N", "Y", "N", "V2"),  # not domestic abuse: does not make D4 a repeat
    ("D5", "2021-12-01 12:00", "8N", "Y", "N", "N", "V3"),   # before 2022 ...
    ("D6", "2022-02-01 12:00", "8N", "Y", "N", "Y", "V3"),   # ... so D6 (62 days later) is a repeat
    ("D7", "2022-05-01 12:00", "8N", "Y", "N", "N", "V4"),
    ("D8", "2023-05-01 12:00", "8N", "Y", "N", "N", "V4"),   # exactly 365 days later: a repeat
    ("D9", "2022-04-01 12:00", "8N", "Y", "Y", "N", ""),     # no victim key
]


@pytest.fixture()
def da_db(tmp_path) -> Path:
    rows = [[r, t, c, "", "Basildon", "", da, hate, child, "", "", v] for r, t, c, da, hate, child, v in DA_ROWS]
    path = write_csv(tmp_path / "extract.csv", CANONICAL, rows)
    db = tmp_path / "w.duckdb"
    load_sources([path], db, progress=False, force="Essex")
    return db


def test_domestic_abuse_repeat_victims(da_db):
    from datetime import date

    from metrics.filters import Filters
    from metrics.incidents import domestic_abuse_monthly, domestic_abuse_summary

    con = duckdb.connect(str(da_db), read_only=True)
    year_2022 = domestic_abuse_summary(con, Filters(force_id="essex"), date(2022, 1, 1), date(2022, 12, 1)).iloc[0]
    # by hand: D1 D2 D4 D6 D7 D9 in 2022; victims V1 V2 V3 V4; repeats D2 (V1) and D6 (V3)
    assert year_2022["da_incidents"] == 6 and year_2022["da_victims"] == 4
    assert year_2022["repeat_victims_12m"] == 2 and year_2022["repeat_incidents_12m"] == 2
    assert year_2022["repeat_victim_pct"] == 50.0
    assert year_2022["da_incidents_without_victim_key"] == 1
    assert year_2022["da_share_of_all_pct"] == round(100 * 6 / 7, 1)
    year_2023 = domestic_abuse_summary(con, Filters(force_id="essex"), date(2023, 1, 1), date(2023, 12, 1)).iloc[0]
    assert (year_2023["da_incidents"], year_2023["da_victims"], year_2023["repeat_victims_12m"]) == (2, 2, 1)
    monthly = domestic_abuse_monthly(con, Filters(force_id="essex"), date(2022, 1, 1), date(2022, 6, 1))
    assert list(monthly["da_incidents"]) == [1, 1, 1, 1, 1, 1]
    assert list(monthly["repeat_incidents_12m"]) == [0, 1, 0, 0, 0, 1]
    assert domestic_abuse_summary(con, Filters(force_id="kent")).iloc[0]["da_incidents"] == 0


def test_child_victim_and_hate_crime_series(da_db):
    from datetime import date

    from metrics.filters import Filters
    from metrics.incidents import (
        child_victim_series,
        flag_by_crime_type,
        hate_crime_series,
    )

    con = duckdb.connect(str(da_db), read_only=True)
    child = child_victim_series(con, Filters(force_id="essex"), date(2022, 1, 1), date(2022, 12, 1))
    counts = dict(zip([str(m)[:7] for m in child["month"]], child["count"]))
    assert counts["2022-02"] == 1 and counts["2022-06"] == 1 and sum(counts.values()) == 2
    assert len(child) == 6  # Jan..Jun 2022: the months holding incidents in the range, gaps filled
    hate = hate_crime_series(con, Filters(force_id="essex"))
    assert hate["count"].sum() == 2
    feb = hate[[str(m)[:7] == "2022-02" for m in hate["month"]]].iloc[0]
    assert (feb["count"], feb["all_incidents"], feb["share_pct"]) == (1, 2, 50.0)
    by_type = flag_by_crime_type(con, "hate_crime", Filters())
    assert dict(zip(by_type["crime_type"], by_type["count"])) == {"Burglary": 1, "Violence and sexual offences": 1}


def test_iso_times_with_offset_become_uk_local_time(tmp_path):
    rows = [
        ["T1", "2023-07-01T12:00:00+00:00", "8N", "", "", "", "N", "N", "N", "", "", ""],  # BST: 13:00 local
        ["T2", "2023-01-15T12:00:00Z", "8N", "", "", "", "N", "N", "N", "", "", ""],       # GMT: 12:00 local
        ["T3", "2023-01-15T09:30", "8N", "", "", "", "N", "N", "N", "", "", ""],
    ]
    path = write_csv(tmp_path / "extract.csv", CANONICAL, rows)
    db = tmp_path / "w.duckdb"
    load_sources([path], db, progress=False, force="Essex")
    got = dict((r[0], str(r[1])) for r in snapshot(db))
    assert got == {"T1": "2023-07-01 13:00:00", "T2": "2023-01-15 12:00:00", "T3": "2023-01-15 09:30:00"}
