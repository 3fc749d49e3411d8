"""DfT STATS19 road-safety open data: collision, casualty and vehicle CSVs.

Recognised from the header, under both DfT namings: `accident_index`, `accident_severity`, ... (files up to
the 2022 release) and `collision_index`, `collision_severity`, ... (2023 release onwards). A UTF-8
byte-order mark and a missing newline after the last row are fine. Each file is read by DuckDB's CSV
reader (a line it cannot parse — a row cut off mid-way, say — is a reject with its physical line number),
renamed to our column names here, then cast and decoded once by `etl/sql/stg_stats19_<kind>.sql` with the
DfT code lists in `etl/reference_codes.py`.

Force selection (`--force`): one or more forces, by name ("Essex", "Essex Police") or DfT `police_force`
code ("42"), comma-separated. Collisions of other forces are skipped; casualties and vehicles are kept
when their collision belongs to a chosen force (their collision is looked up in `collisions`, loaded in
the same run or before; failing that, the force code inside the collision reference, whose first two
digits are the DfT police_force code). Without `--force` every row is kept.

Counting: `rows_read` counts the rows in scope — every row of a chosen force, plus every row that could
not be parsed or attributed to a force (those are rejects) — so rows read = loaded + rejected holds;
rows of forces not chosen are not counted (a national file would otherwise log hundreds of thousands
of "rejects").

Replacement: rows replace the warehouse's rows with the same `collision_index` (collisions, casualties and
vehicles separately), so loading the same file twice gives identical tables; two files of one load with the
same collision (of one table) are refused. A collision dated outside the load's date window
(etl.plausibility; 2000-01-01 to tomorrow unless `--earliest-date` / `--latest-date`) is a reject.
"""

from __future__ import annotations

from pathlib import Path

from etl import reference_codes as codes
from etl.sources.common import ScannedFile, force_id_for, literal_paths, physical_lines, read_csv_source, structural_reason
from etl.warehouse import FileLoad, LoadError, WriteSession

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

# our column -> the names DfT has used for it (first match wins); columns marked optional may be absent
COLLISION_COLUMNS: dict[str, tuple[str, ...]] = {
    "collision_index": ("collision_index", "accident_index"),
    "collision_year": ("collision_year", "accident_year"),
    "collision_ref_no": ("collision_ref_no", "collision_reference", "accident_reference"),
    "police_force": ("police_force",),
    "collision_severity": ("collision_severity", "accident_severity"),
    "number_of_vehicles": ("number_of_vehicles",),
    "number_of_casualties": ("number_of_casualties",),
    "date": ("date",),
    "day_of_week": ("day_of_week",),
    "time": ("time",),
    "longitude": ("longitude",),
    "latitude": ("latitude",),
    "speed_limit": ("speed_limit",),
    "road_type": ("road_type",),
    "urban_or_rural_area": ("urban_or_rural_area",),
    "light_conditions": ("light_conditions",),
    "weather_conditions": ("weather_conditions",),
    "local_authority_district": ("local_authority_district",),
    "local_authority_ons_district": ("local_authority_ons_district",),
    "lsoa_of_collision_location": ("lsoa_of_collision_location", "lsoa_of_accident_location"),
}
CASUALTY_COLUMNS: dict[str, tuple[str, ...]] = {
    "collision_index": ("collision_index", "accident_index"),
    "collision_year": ("collision_year", "accident_year"),
    "vehicle_reference": ("vehicle_reference",),
    "casualty_reference": ("casualty_reference",),
    "casualty_class": ("casualty_class",),
    "sex_of_casualty": ("sex_of_casualty",),
    "age_of_casualty": ("age_of_casualty",),
    "age_band_of_casualty": ("age_band_of_casualty",),
    "casualty_severity": ("casualty_severity",),
    "casualty_type": ("casualty_type",),
}
VEHICLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "collision_index": ("collision_index", "accident_index"),
    "collision_year": ("collision_year", "accident_year"),
    "vehicle_reference": ("vehicle_reference",),
    "vehicle_type": ("vehicle_type",),
    "sex_of_driver": ("sex_of_driver",),
    "age_of_driver": ("age_of_driver",),
}
OPTIONAL = {
    "collision_ref_no", "local_authority_district", "local_authority_ons_district", "lsoa_of_collision_location",
    "day_of_week", "time", "longitude", "latitude", "urban_or_rural_area", "light_conditions",
    "weather_conditions", "road_type", "speed_limit", "number_of_vehicles", "number_of_casualties",
    "collision_year", "casualty_class", "sex_of_casualty", "age_of_casualty", "age_band_of_casualty",
    "sex_of_driver", "age_of_driver",
}

# kind -> (column spec, warehouse table, staging SQL, raw temp table)
KINDS: dict[str, tuple[dict[str, tuple[str, ...]], str, str, str]] = {
    "stats19-collision": (COLLISION_COLUMNS, "collisions", "stg_stats19_collisions.sql", "raw_stats19_collision"),
    "stats19-casualty": (CASUALTY_COLUMNS, "casualties", "stg_stats19_casualties.sql", "raw_stats19_casualty"),
    "stats19-vehicle": (VEHICLE_COLUMNS, "vehicles", "stg_stats19_vehicles.sql", "raw_stats19_vehicle"),
}
# the current (2023+) DfT names, for explaining near misses
HEADERS = {kind: [names[0] for col, names in spec[0].items() if col not in OPTIONAL] for kind, spec in KINDS.items()}
LOAD_ORDER = ["stats19-collision", "stats19-casualty", "stats19-vehicle"]

# the code lists the staging SQL decodes with: variable -> {code: label}
CODE_LISTS: dict[str, dict[int, str]] = {
    "police_force": codes.POLICE_FORCE,
    "collision_severity": codes.COLLISION_SEVERITY,
    "casualty_severity": codes.CASUALTY_SEVERITY,
    "casualty_type": codes.CASUALTY_TYPE,
    "vehicle_type": codes.VEHICLE_TYPE,
    "road_type": codes.ROAD_TYPE,
    "urban_or_rural_area": codes.URBAN_OR_RURAL_AREA,
    "light_conditions": codes.LIGHT_CONDITIONS,
    "weather_conditions": codes.WEATHER_CONDITIONS,
    "day_of_week": codes.DAY_OF_WEEK,
    "sex_of_casualty": codes.SEX_OF_CASUALTY,
    "sex_of_driver": codes.SEX_OF_DRIVER,
    "casualty_class": codes.CASUALTY_CLASS,
    "age_band_of_casualty": codes.AGE_BAND_OF_CASUALTY,
}


def _present(header: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {h.strip().lower(): h for h in header}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def detect(header: list[str], options: dict | None = None) -> str | None:
    """'stats19-collision', 'stats19-casualty' or 'stats19-vehicle' from a DfT header, else None."""
    names = {h.strip().lower() for h in header}
    if not names & {"collision_index", "accident_index"}:
        return None
    if names & {"collision_severity", "accident_severity"} and "police_force" in names:
        return "stats19-collision"
    if {"casualty_reference", "casualty_severity", "casualty_type"} <= names:
        return "stats19-casualty"
    if {"vehicle_reference", "vehicle_type"} <= names:
        return "stats19-vehicle"
    return None


def resolve_forces(force: str | None) -> list[int] | None:
    """DfT police_force codes chosen by `--force` ("Essex", "42", "Essex,Kent"); None = every force.

    Raises LoadError for a name or code that is not a DfT police force."""
    if force is None or not str(force).strip():
        return None
    chosen: list[int] = []
    by_id = {force_id_for(label): code for code, label in codes.POLICE_FORCE.items()}
    for part in str(force).split(","):
        text = part.strip()
        if not text:
            continue
        if text.isdigit():
            code = int(text)
            if code not in codes.POLICE_FORCE:
                raise LoadError(f"--force {text}: not a DfT police_force code (42 is Essex, 1 the Metropolitan Police)")
        else:
            code = by_id.get(force_id_for(text))
            if code is None:
                raise LoadError(f"--force {text!r}: not a police force in the DfT code list (e.g. 'Essex' or 42)")
        if code not in chosen:
            chosen.append(code)
    return chosen or None


def force_id_for_dft_code(code: int) -> str | None:
    """data.police.uk force id for a DfT police_force code (42 -> 'essex')."""
    label = codes.POLICE_FORCE.get(code)
    return force_id_for(label) if label else None


def load(session: WriteSession, files: list[tuple[ScannedFile, str]], force: str | None = None, **_options) -> None:
    """Load STATS19 files: collisions first (casualties and vehicles look up their collision's force)."""
    chosen = resolve_forces(force)
    con = session.con
    session.window_table()
    _create_code_tables(con, chosen)
    ordered = sorted(files, key=lambda item: (LOAD_ORDER.index(item[1]), item[0].display))
    for scanned, kind in ordered:
        _load_file(session, scanned, kind, chosen)
    for temp in ("stats19_codes", "stats19_forces", "stats19_chosen"):
        con.execute(f"DROP TABLE IF EXISTS {temp}")


def _create_code_tables(con, chosen: list[int] | None) -> None:
    con.execute("DROP TABLE IF EXISTS stats19_codes")
    con.execute("CREATE TEMP TABLE stats19_codes (variable VARCHAR, code INTEGER, label VARCHAR)")
    con.executemany(
        "INSERT INTO stats19_codes VALUES (?, ?, ?)",
        [(variable, code, label) for variable, table in CODE_LISTS.items() for code, label in table.items()],
    )
    con.execute("DROP TABLE IF EXISTS stats19_forces")
    con.execute("CREATE TEMP TABLE stats19_forces (police_force_code INTEGER, police_force_name VARCHAR, force_id VARCHAR)")
    con.executemany(
        "INSERT INTO stats19_forces VALUES (?, ?, ?)",
        [(code, label, force_id_for_dft_code(code)) for code, label in codes.POLICE_FORCE.items()],
    )
    # the chosen forces; empty table + flag row means "all"
    con.execute("DROP TABLE IF EXISTS stats19_chosen")
    con.execute("CREATE TEMP TABLE stats19_chosen (police_force_code INTEGER, all_forces BOOLEAN)")
    if chosen is None:
        con.execute("INSERT INTO stats19_chosen VALUES (NULL, true)")
    else:
        con.executemany("INSERT INTO stats19_chosen VALUES (?, false)", [(code,) for code in chosen])


def _select_list(scanned: ScannedFile, kind: str) -> list[str]:
    """`trim("<their column>") AS <ours>` for each of our columns (NULL for an optional one they lack);
    LoadError naming the required columns the file lacks."""
    spec = KINDS[kind][0]
    header = scanned.header
    if scanned.has_bom and header:
        header = [header[0].lstrip("\ufeff"), *header[1:]]
    select_list, missing = [], []
    for ours, names in spec.items():
        theirs = _present(header, names)
        if theirs is None:
            if ours not in OPTIONAL:
                missing.append(names[0])
            select_list.append(f"NULL::VARCHAR AS {ours}")
        else:
            # `theirs` is a column name of this file that equals one of our fixed names (whitelisted)
            select_list.append(f'trim("{theirs}") AS {ours}')
    if missing:
        raise LoadError(f"STATS19 {kind.split('-')[1]} file lacks column(s): {', '.join(missing)}", scanned.display, 1)
    return select_list


def _read_raw(con, scanned: ScannedFile, kind: str) -> list[tuple[int, str, str]]:
    """The file's rows, renamed, into the kind's raw temp table with their ordinal; returns the rows the CSV
    reader could not parse: (physical line, reason, raw line)."""
    raw_table = KINDS[kind][3]
    select_list = _select_list(scanned, kind)
    header = [scanned.header[0].lstrip("\ufeff"), *scanned.header[1:]] if scanned.has_bom else scanned.header
    for temp in ("stats19_read", "stats19_read_errors", "stats19_read_scans"):
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    with literal_paths([scanned.path]) as links:
        source, parameters = read_csv_source(links, {name: "VARCHAR" for name in header}, "stats19_read")
        # one file of at most a few hundred thousand rows: a window for the ordinal is affordable here
        con.execute(f"CREATE TEMP TABLE stats19_read AS SELECT *, row_number() OVER () - 1 AS row_ordinal FROM {source}",
                    parameters)
    structural = con.execute(
        "SELECT line, min(error_type || ': ' || error_message), min(csv_line) FROM stats19_read_errors GROUP BY 1 ORDER BY 1"
    ).fetchall()
    con.execute(f"DROP TABLE IF EXISTS {raw_table}")
    con.execute(f"CREATE TEMP TABLE {raw_table} AS SELECT row_ordinal, {', '.join(select_list)} FROM stats19_read")
    for temp in ("stats19_read", "stats19_read_errors", "stats19_read_scans"):
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    return [(int(line), structural_reason(message, (raw or "").strip("\r\n"), len(header)), (raw or "").strip("\r\n"))
            for line, message, raw in structural]


# a collision (or casualty / vehicle) twice in one file: the later copies are rejected
_ROW_KEYS = {
    "collisions": ["collision_index"],
    "casualties": ["collision_index", "casualty_reference"],
    "vehicles": ["collision_index", "vehicle_reference"],
}


def staging_sql(kind: str) -> str:
    """The staging model of a kind; casualty and vehicle models follow the shared collision-member CTEs."""
    names = ("stg_stats19_collision_members.sql",) if kind != "stats19-collision" else ()
    return "\n".join((SQL_DIR / name).read_text() for name in (*names, KINDS[kind][2]))


def _stage(con, kind: str) -> None:
    """staged_stats19: the raw rows cast, decoded and checked (reject_reason, in_scope), repeats rejected."""
    _spec, table, _sql_file, raw_table = KINDS[kind]
    if kind != "stats19-collision":  # the force of each row's collision (shared by casualties and vehicles)
        con.execute(f"CREATE OR REPLACE TEMP VIEW raw_stats19_children AS SELECT * FROM {raw_table}")
        con.execute("DROP TABLE IF EXISTS stats19_collision_forces")
        con.execute(f"CREATE TEMP TABLE stats19_collision_forces AS {(SQL_DIR / 'int_stats19_collision_forces.sql').read_text()}")
    con.execute("DROP TABLE IF EXISTS staged_stats19")
    con.execute(f"CREATE TEMP TABLE staged_stats19 AS {staging_sql(kind)}")
    keys = _ROW_KEYS[table]
    con.execute(
        f"""
        UPDATE staged_stats19 AS s
        SET reject_reason = 'duplicate row: {' + '.join(keys)} already appears earlier in this file'
        FROM (
            SELECT {', '.join(keys)}, min(row_ordinal) AS first_ordinal
            FROM staged_stats19 WHERE reject_reason IS NULL AND in_scope
            GROUP BY ALL HAVING count(*) > 1
        ) AS d
        WHERE ({', '.join('s.' + c for c in keys)}) = ({', '.join('d.' + c for c in keys)})
          AND s.row_ordinal > d.first_ordinal AND s.reject_reason IS NULL AND s.in_scope
        """
    )
    for temp in ("stats19_collision_forces", raw_table):
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    con.execute("DROP VIEW IF EXISTS raw_stats19_children")


def _load_file(session: WriteSession, scanned: ScannedFile, kind: str, chosen: list[int] | None) -> None:
    con = session.con
    table = KINDS[kind][1]
    structural = _read_raw(con, scanned, kind)
    _stage(con, kind)
    semantic = con.execute(
        "SELECT row_ordinal, reject_reason FROM staged_stats19 WHERE reject_reason IS NOT NULL AND in_scope ORDER BY 1"
    ).fetchall()
    in_scope = con.execute("SELECT count(*) FROM staged_stats19 WHERE in_scope").fetchall()[0][0]
    rejects: list[tuple[int | None, str, str | None]] = list(structural)
    located = physical_lines(scanned.path, [o for o, _ in semantic], [line for line, _, _ in structural])
    for ordinal, reason in semantic:
        line, raw = located.get(int(ordinal), (None, None))
        rejects.append((line, reason, raw))
    rejects.sort(key=lambda r: (r[0] is None, r[0] or 0))

    con.execute("DROP VIEW IF EXISTS stats19_accepted")
    con.execute("CREATE TEMP VIEW stats19_accepted AS SELECT * FROM staged_stats19 WHERE reject_reason IS NULL AND in_scope")
    forces = [row[0] for row in con.execute("SELECT DISTINCT force_id FROM stats19_accepted LIMIT 2").fetchall()]
    loaded, replaced = session.replace_keyed(table, "stats19_accepted", ["collision_index"], scanned.display)
    con.execute("DROP VIEW IF EXISTS stats19_accepted")
    con.execute("DROP TABLE IF EXISTS staged_stats19")

    session.add_rejects(scanned.display, rejects)
    file_force = forces[0] if len(forces) == 1 else None
    if file_force is None and chosen is not None and len(chosen) == 1:
        file_force = force_id_for_dft_code(chosen[0])
    session.log_file(
        FileLoad(
            path=scanned.display,
            kind=kind,
            force_id=file_force,
            month=None,
            sha256=scanned.sha256,
            rows_read=int(in_scope) + len(structural),
            rows_loaded=int(loaded),
            rows_rejected=len(rejects),
            # a casualty or vehicle file replaces every row of each collision it names (a collision file
            # replaces collision by collision: a rejected collision keeps its earlier row)
            rows_replaced=replaced if table != "collisions" else 0,
            replaces=f"{table} of the same collisions",
        )
    )


__all__ = ["HEADERS", "detect", "load", "resolve_forces", "force_id_for_dft_code"]
