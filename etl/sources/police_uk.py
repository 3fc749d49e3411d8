"""data.police.uk street-level crime and ASB, outcomes, and stop and search CSVs.

The kind of each file is recognised from its header. Files of one kind are read together by DuckDB's CSV
reader, staged by the SQL in `etl/sql/stg_police_uk_*.sql`, and replace the rows of their force-month
in the warehouse (each force-month of a kind may come from one file of a load only).

Two passes, one per file at most:
- streaming: read_csv -> staging -> INSERT of the accepted rows, for files named as data.police.uk names
  them (`YYYY-MM-<force>-<kind>.csv`, or in a `YYYY-MM` folder). A file is done when its rows loaded plus
  the lines the reader rejected equal its physical data lines (counted while it was hashed), no Crime ID
  repeats in it and its rows name one force, its own; nearly every real file is.
- exact: for any other file, the raw rows are kept in a temp table so that every reject (a line the reader
  cannot parse, a row the staging rules refuse, a repeated Crime ID) gets its physical line.
Either way rows read = rows loaded + rows rejected, and DuckDB never sees the user's file names (a name
with `*`, `?` or `[` is not a pattern: etl.sources.common.literal_paths).
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from pathlib import Path

from etl.progress import Progress
from etl.sources.common import (
    FORCES,
    ScannedFile,
    force_id_for,
    install_staging_macros,
    literal_paths,
    month_from_path,
    physical_lines,
    read_csv_source,
    structural_reason,
)
from etl.warehouse import FileLoad, LoadError, WriteSession, fault_point

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

STREET_HEADER = [
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
]
OUTCOMES_HEADER = [
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Outcome type",
]
STOP_SEARCH_HEADER = [
    "Type", "Date", "Part of a policing operation", "Policing operation", "Latitude", "Longitude",
    "Gender", "Age range", "Self-defined ethnicity", "Officer-defined ethnicity", "Legislation",
    "Object of search", "Outcome", "Outcome linked to object of search",
    "Removal of more than just outer clothing",
]

# kind -> (expected header, warehouse table, staging SQL file, description); see staging_sql
KINDS: dict[str, tuple[list[str], str, str, str]] = {
    "street": (STREET_HEADER, "crimes", "stg_police_uk_street.sql", "data.police.uk street-level crime"),
    "outcomes": (OUTCOMES_HEADER, "outcomes", "stg_police_uk_outcomes.sql", "data.police.uk outcomes"),
    "stop-and-search": (STOP_SEARCH_HEADER, "stop_search", "stg_police_uk_stop_search.sql", "data.police.uk stop and search"),
}
HEADERS = {kind: spec[0] for kind, spec in KINDS.items()}
# the shared first CTEs each kind's model follows (one definition of what street and outcomes rows share)
_STAGING_PREFIXES = {
    "street": ("stg_police_uk_imports.sql", "stg_police_uk_located.sql"),
    "outcomes": ("stg_police_uk_imports.sql", "stg_police_uk_located.sql"),
    "stop-and-search": ("stg_police_uk_imports.sql",),
}
BATCH_FILES = 400
# bytes of CSV per batch of the exact pass: keeps its temporary tables inside the write's memory_limit
# (a national month of 43 forces is ~150 MB; larger batches spill to disk and run several times slower)
BATCH_BYTES = 384 * 1024**2
# the streaming pass keeps no raw rows (its memory does not grow with the batch), so its batches are larger:
# every INSERT statement ends with partly filled row groups and every batch runs its own checks, about
# 0.5 CPU-s a batch (national archive: 3 batches instead of 14). Files it sends to the exact pass are
# loaded there in batches of BATCH_FILES / BATCH_BYTES.
STREAM_BATCH_FILES = 2000
STREAM_BATCH_BYTES = 2 * 1024**3


def staging_sql(kind: str) -> str:
    """The staging model of a kind: its shared import (and located) CTEs, then its own CTEs and `final`."""
    names = (*_STAGING_PREFIXES[kind], KINDS[kind][2])
    return "\n".join((SQL_DIR / name).read_text() for name in names)


def detect(header: list[str], options: dict | None = None) -> str | None:
    """The kind of a data.police.uk file from its header, or None."""
    for kind, (expected, *_rest) in KINDS.items():
        if header == expected:
            return kind
    return None


def load(session: WriteSession, files: list[tuple[ScannedFile, str]], force: str | None = None, **_options) -> None:
    """Load data.police.uk files of any of the three kinds. `files` holds (scanned file, kind)."""
    by_kind: dict[str, list[ScannedFile]] = defaultdict(list)
    for scanned, kind in files:
        by_kind[kind].append(scanned)
    session.window_table()
    install_staging_macros(session.con)
    planned = []
    for kind, kind_files in by_kind.items():
        for scanned in kind_files:
            _check_name_and_folder_agree(scanned)
        planned += [(kind, batch) for batch in _batches(kind_files, STREAM_BATCH_FILES, STREAM_BATCH_BYTES)]
    total_bytes = sum(f.size for _kind, batch in planned for f in batch)
    with Progress(max(total_bytes // (1 << 20), 1), "loading (MB)", enabled=session.progress) as bar:
        for kind, batch in planned:
            _load_batch(session, kind, batch, force)
            fault_point(f"police_uk batch {kind}")
            bar.advance(f"{kind}: {batch[-1].path.name}", step=sum(f.size for f in batch) // (1 << 20))


def _batches(files: list[ScannedFile], max_files: int | None = None, max_bytes: int | None = None) -> list[list[ScannedFile]]:
    """Consecutive groups of at most `max_files` files and (unless one file is larger) `max_bytes` bytes
    (default: the exact pass's BATCH_FILES and BATCH_BYTES)."""
    max_files = BATCH_FILES if max_files is None else max_files
    max_bytes = BATCH_BYTES if max_bytes is None else max_bytes
    batches: list[list[ScannedFile]] = []
    current: list[ScannedFile] = []
    size = 0
    for scanned in files:
        if current and (len(current) >= max_files or size + scanned.size > max_bytes):
            batches.append(current)
            current, size = [], 0
        current.append(scanned)
        size += scanned.size
    if current:
        batches.append(current)
    return batches


def _file_force_from_name(path: Path, kind: str) -> str | None:
    """`2019-01-essex-street.csv` -> "essex" (used where the rows do not name the force)."""
    name = path.name.lower()
    suffix = {"street": "-street.csv", "outcomes": "-outcomes.csv", "stop-and-search": "-stop-and-search.csv"}[kind]
    if len(name) > 8 and name[:7].replace("-", "").isdigit() and name.endswith(suffix):
        return name[8 : -len(suffix)] or None
    return None


def _check_name_and_folder_agree(scanned: ScannedFile) -> None:
    """`2019-02/2019-01-essex-street.csv`: the name and the month folder disagree; refuse to guess."""
    from_name = month_from_path(Path(scanned.path.name))
    from_folder = month_from_path(Path(scanned.path.parent.name))
    if from_name and from_folder and from_name != from_folder:
        raise LoadError(
            f"the file name says month {from_name:%Y-%m} but its folder says {from_folder:%Y-%m};"
            " put the file in the folder of its month",
            scanned.display,
        )


def _claim(session: WriteSession, kind: str, scanned: ScannedFile) -> None:
    """The file's force-month of this kind: refused when another file of the load has it too."""
    force_id, month = scanned.extra["force_id"], scanned.extra["file_month"]
    session.claim_unit((kind, force_id, month), scanned.display, f"force-month ({force_id} {month:%Y-%m}, {kind})")


def _load_batch(session: WriteSession, kind: str, files: list[ScannedFile], force: str | None) -> None:
    """Load one batch: files named as data.police.uk names them go through the streaming pass; a file
    whose rows do not all load cleanly there (or whose name does not say its force and month) is loaded
    again by the exact pass, which finds each reject's physical line."""
    streaming, exact = [], []
    for scanned in files:
        scanned.extra["file_month"] = month_from_path(scanned.path)
        scanned.extra["month_source"] = "from its name or folder"
        named = _file_force_from_name(scanned.path, kind)
        if scanned.extra["file_month"] is not None and named is not None:
            if scanned.lines <= 1:
                raise LoadError(_HEADER_ONLY, scanned.display)
            scanned.extra["force_id"] = named
            _claim(session, kind, scanned)
            streaming.append(scanned)
        else:
            exact.append(scanned)
    replaced: dict[tuple[str, date], int] = {}
    entries: dict[str, FileLoad] = {}
    if streaming:
        done, again = _streaming_pass(session, kind, streaming, replaced)
        entries.update(done)
        exact += again
    for exact_batch in _batches(exact):
        entries.update(_exact_pass(session, kind, exact_batch, force, replaced))
    session.log_files([entries[f.display] for f in files])  # one set-based write for the batch


_HEADER_ONLY = ("the file has a header but no rows; loading it would empty its month."
                " Leave it out of the load (data.police.uk month files always have rows)")


def _read_columns(kind: str) -> dict[str, str]:
    columns = {name: "VARCHAR" for name in KINDS[kind][0]}
    columns["Longitude"] = "DOUBLE"
    columns["Latitude"] = "DOUBLE"
    return columns


def _register_files(con, files: list[ScannedFile]) -> None:
    """police_uk_files: one row per file of the pass (file_index = its position in the read_csv list)."""
    con.execute("DROP TABLE IF EXISTS police_uk_files")
    con.execute("CREATE TEMP TABLE police_uk_files (file_index BIGINT, file_month DATE, month_text VARCHAR,"
                " month_source VARCHAR, force_id VARCHAR)")
    rows = [(i, f.extra["file_month"], f.extra["month_source"], f.extra["force_id"]) for i, f in enumerate(files)]
    con.execute(  # one statement (executemany costs a round trip per file)
        "INSERT INTO police_uk_files SELECT i, m, strftime(m, '%Y-%m'), s, f FROM (VALUES "
        + ", ".join(["(?::BIGINT, ?::DATE, ?, ?)"] * len(rows)) + ") AS v (i, m, s, f)",
        [value for row in rows for value in row],
    )


def _delete_units(con, table: str, replaced: dict[tuple[str, date], int]) -> None:
    """Delete the rows of every force-month in police_uk_files, counting them first (rows replaced)."""
    counted = con.execute(
        f"""SELECT force_id, month, count(*) FROM {table}
            WHERE (force_id, month) IN (SELECT force_id, file_month FROM police_uk_files) GROUP BY ALL"""
    ).fetchall()
    for force_id, month, rows in counted:
        replaced.setdefault((force_id, month), int(rows))
    con.execute(f"DELETE FROM {table} WHERE (force_id, month) IN (SELECT force_id, file_month FROM police_uk_files)")


def _structural_rejects(con, links: list[str], kind: str) -> dict[int, list[tuple[int, str, str]]]:
    """Rows DuckDB's reader could not parse, by file index: (physical line, reason, raw line)."""
    index = {link: i for i, link in enumerate(links)}
    found: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
    for file_path, line, message, raw in con.execute(
        """
        SELECT scans.file_path, errors.line, min(errors.error_type || ': ' || errors.error_message),
               min(errors.csv_line)
        FROM police_uk_errors AS errors
        JOIN police_uk_scans AS scans USING (scan_id, file_id)
        GROUP BY ALL
        ORDER BY 1, 2
        """
    ).fetchall():
        raw_text = (raw or "").rstrip("\r\n")
        found[index[file_path]].append((int(line), structural_reason(message, raw_text, len(KINDS[kind][0])), raw_text))
    return found


def _entry(kind: str, scanned: ScannedFile, read: int, loaded: int, rejected: int, replaced: dict) -> FileLoad:
    force_id, month = scanned.extra["force_id"], scanned.extra["file_month"]
    return FileLoad(path=scanned.display, kind=kind, force_id=force_id, month=month, sha256=scanned.sha256,
                    rows_read=read, rows_loaded=loaded, rows_rejected=rejected,
                    rows_replaced=replaced.get((force_id, month), 0),
                    replaces=f"{KINDS[kind][1]} of {force_id} {month:%Y-%m}")


def _streaming_pass(session: WriteSession, kind: str, files: list[ScannedFile], replaced: dict):
    """read_csv -> staging -> INSERT in one pass, without keeping the raw rows. A file is done when its
    rows loaded plus the lines the reader rejected equal its physical data lines (so no row was rejected by
    the staging rules), no Crime ID repeats in it and its rows name its force; the others are returned
    for the exact pass (their rows deleted again). Returns ({display: FileLoad}, files to redo)."""
    con = session.con
    table = KINDS[kind][1]
    _drop_temporaries(con)
    _register_files(con, files)
    _delete_units(con, table, replaced)
    columns = ", ".join(row[0] for row in con.execute(f"DESCRIBE {table}").fetchall())
    with literal_paths([f.path for f in files]) as links:
        source, parameters = read_csv_source(links, _read_columns(kind), "police_uk")
        # file order is kept without ORDER BY (preserve_insertion_order; a sort of every row is costly)
        con.execute(
            f"""INSERT INTO {table} ({columns})
                WITH raw_police_uk AS (SELECT *, NULL::BIGINT AS row_position FROM {source})
                SELECT {columns} FROM ({staging_sql(kind)}) AS staged WHERE reject_reason IS NULL""",
            parameters,
        )
        structural = _structural_rejects(con, links, kind)
    loaded = _loaded_by_unit(con, kind, table)
    done: dict[str, FileLoad] = {}
    again: list[ScannedFile] = []
    for number, scanned in enumerate(files):
        unit = (scanned.extra["force_id"], scanned.extra["file_month"])
        rows, reported_by, repeated = loaded.get(unit, (0, None, False))
        mixed = reported_by is None and kind != "stop-and-search"  # several forces named: the exact pass decides
        if repeated or mixed or rows + len(structural[number]) != scanned.lines - 1:
            again.append(scanned)
            continue
        _check_force_agrees(scanned, reported_by)
        session.add_rejects(scanned.display, structural[number])
        done[scanned.display] = _entry(kind, scanned, scanned.lines - 1, rows, len(structural[number]), replaced)
    if again:
        _register_files(con, again)
        con.execute(f"DELETE FROM {table} WHERE (force_id, month) IN (SELECT force_id, file_month FROM police_uk_files)")
    _drop_temporaries(con)
    return done, again


def _loaded_by_unit(con, kind: str, table: str) -> dict[tuple[str, date], tuple[int, str | None, bool]]:
    """For every force-month just loaded: (rows, its one "Reported by" name or None when mixed, whether a
    Crime ID may repeat). Repeats are found by a 64-bit hash of (force, month, Crime ID): a hash collision
    only sends the file to the exact pass."""
    in_units = "(force_id, month) IN (SELECT force_id, file_month FROM police_uk_files)"
    names = "min(reported_by), max(reported_by)" if kind != "stop-and-search" else "NULL, NULL"
    result = {}
    for force_id, month, rows, first, last in con.execute(
        f"SELECT force_id, month, count(*), {names} FROM {table} WHERE {in_units} GROUP BY ALL"
    ).fetchall():
        result[(force_id, month)] = (int(rows), first if first == last else None, False)
    repeated = f"""
        SELECT hash(force_id, month, crime_id) AS key_hash FROM {table}
        WHERE {in_units} AND crime_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1"""
    # nearly always none: only then are the force-months with a repeat looked up
    if kind == "street" and _hashes_repeat(con.execute(
            f"SELECT hash(force_id, month, crime_id) AS key_hash FROM {table} WHERE {in_units} AND crime_id IS NOT NULL"
    ).fetchnumpy()["key_hash"]):
        for force_id, month in con.execute(
            f"""SELECT DISTINCT force_id, month FROM {table}
                WHERE {in_units} AND crime_id IS NOT NULL AND hash(force_id, month, crime_id) IN ({repeated})"""
        ).fetchall():
            rows, reported_by, _ = result[(force_id, month)]
            result[(force_id, month)] = (rows, reported_by, True)
    return result


def _hashes_repeat(hashes) -> bool:
    """Whether any value of a numpy array of 64-bit hashes occurs twice. Sorting the array (about 0.1 s per
    million rows, one thread) is half the cost of DuckDB grouping the same hashes, whose hash table holds a
    group per row; a repeat is nearly never found, and then the exact look-up runs in SQL."""
    import numpy as np

    hashes = np.sort(np.asarray(hashes))
    return bool(hashes.size > 1 and np.any(hashes[1:] == hashes[:-1]))


def _check_force_agrees(scanned: ScannedFile, reported_by: str | None) -> None:
    """A file named for one force whose rows are all reported by another known force: refuse to guess."""
    named = scanned.extra["force_id"]
    said = force_id_for(reported_by)
    if said is not None and said in FORCES and said != named:
        raise LoadError(
            f"the file name says force {named!r} but its rows are reported by {reported_by!r} ({said});"
            " rename the file after its force or fix its rows",
            scanned.display,
        )


def _exact_pass(session: WriteSession, kind: str, files: list[ScannedFile], force: str | None,
                replaced: dict) -> dict[str, FileLoad]:
    """Keep the raw rows (their rowid is their position in file order), so every rejected row gets its
    physical line: rows the reader could not parse, rows the staging rules reject, repeated Crime IDs."""
    con = session.con
    table = KINDS[kind][1]
    _drop_temporaries(con)
    with literal_paths([f.path for f in files]) as links:
        source, parameters = read_csv_source(links, _read_columns(kind), "police_uk")
        con.execute(f"CREATE TEMP TABLE raw_police_uk_rows AS SELECT * FROM {source}", parameters)
        structural = _structural_rejects(con, links, kind)
    # Rows keep file order (preserve_insertion_order), so a temp table's rowid is the row position;
    # row_number() OVER () would force a single-threaded window over every row.
    con.execute("CREATE TEMP VIEW raw_police_uk AS SELECT *, rowid AS row_position FROM raw_police_uk_rows")
    parsed = dict(con.execute("SELECT file_index, count(*) FROM raw_police_uk GROUP BY 1").fetchall())
    for number, scanned in enumerate(files):
        if number not in parsed and number not in structural:
            raise LoadError(_HEADER_ONLY, scanned.display)  # replacing the month with nothing would wipe it
    _settle_force_and_month(session, kind, files, force)
    _register_files(con, files)
    _delete_units(con, table, replaced)
    con.execute(f"CREATE TEMP VIEW staged_police_uk_base AS {staging_sql(kind)}")
    _find_duplicates(con, kind)
    con.execute(
        """
        CREATE TEMP VIEW staged_police_uk AS
        SELECT s.* REPLACE (coalesce(s.reject_reason, d.reject_reason) AS reject_reason)
        FROM staged_police_uk_base AS s
        LEFT JOIN police_uk_duplicates AS d ON d.file_index = s.file_index AND d.row_position = s.row_position
        """
    )
    columns = ", ".join(row[0] for row in con.execute(f"DESCRIBE {table}").fetchall())
    con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM staged_police_uk WHERE reject_reason IS NULL")
    semantic = _semantic_rejects(con, files, structural)
    entries = {}
    for number, scanned in enumerate(files):
        file_rejects = sorted(structural.get(number, []) + semantic.get(number, []),
                              key=lambda r: (r[0] is None, r[0] or 0))
        session.add_rejects(scanned.display, file_rejects)
        read = int(parsed.get(number, 0)) + len(structural.get(number, []))
        loaded = int(parsed.get(number, 0)) - len(semantic.get(number, []))
        entries[scanned.display] = _entry(kind, scanned, read, loaded, len(file_rejects), replaced)
    _drop_temporaries(con)
    return entries


_YEAR_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
# the month of a row as text YYYY-MM, per kind (for files whose name and folder do not say their month)
_ROW_MONTH = {"street": 'trim("Month")', "outcomes": 'trim("Month")', "stop-and-search": 'substr(trim("Date"), 1, 7)'}


def _settle_force_and_month(session: WriteSession, kind: str, files: list[ScannedFile], force: str | None) -> None:
    """Each file's force (its name, else the most common "Reported by" of its rows, else --force) and
    month (its name or folder, else the most common month of its rows); claim its force-month."""
    con = session.con
    names = 'mode("Reported by")' if kind != "stop-and-search" else "NULL"
    by_file = {int(i): (reported_by, month_text) for i, reported_by, month_text in con.execute(
        f"SELECT file_index, {names}, mode({_ROW_MONTH[kind]}) FROM raw_police_uk_rows GROUP BY 1").fetchall()}
    for number, scanned in enumerate(files):
        reported_by, month_text = by_file.get(number, (None, None))
        named = _file_force_from_name(scanned.path, kind)
        scanned.extra["force_id"] = named or force_id_for(reported_by) or force_id_for(force)
        if scanned.extra["force_id"] is None:
            raise LoadError(
                "cannot tell which force this file belongs to: name it YYYY-MM-<force>-"
                f"{kind}.csv as data.police.uk does, or pass --force",
                scanned.display,
            )
        if named:
            _check_force_agrees(scanned, reported_by)
        if scanned.extra["file_month"] is None:
            match = _YEAR_MONTH.fullmatch(month_text or "")
            if match is None:
                raise LoadError("cannot tell which month this file holds: name it YYYY-MM-<force>-"
                                f"{kind}.csv or put it in a YYYY-MM folder", scanned.display)
            scanned.extra["file_month"] = date(int(match.group(1)), int(match.group(2)), 1)
            scanned.extra["month_source"] = "the month of most of its rows"
        _claim(session, kind, scanned)


def _find_duplicates(con, kind: str) -> None:
    """police_uk_duplicates: the later copies of a Crime ID repeated in one street file (ASB rows have
    none). Candidates come from a narrow hash of (file, Crime ID) over the raw rows; the exact check runs
    on the candidates only."""
    if kind != "street":
        con.execute("CREATE TEMP TABLE police_uk_duplicates (file_index BIGINT, row_position BIGINT, reject_reason VARCHAR)")
        return
    con.execute(
        """
        CREATE TEMP TABLE police_uk_duplicate_keys AS
        SELECT hash(file_index, nullif(trim("Crime ID"), '')) AS key_hash
        FROM raw_police_uk_rows
        WHERE nullif(trim("Crime ID"), '') IS NOT NULL
        GROUP BY 1 HAVING count(*) > 1
        """
    )
    con.execute(
        """
        CREATE TEMP TABLE police_uk_duplicates AS
        WITH accepted AS (
            SELECT file_index, crime_id, row_position FROM staged_police_uk_base
            WHERE crime_id IS NOT NULL AND reject_reason IS NULL
              AND hash(file_index, crime_id) IN (SELECT key_hash FROM police_uk_duplicate_keys)
        ),
        repeated AS (
            SELECT file_index, crime_id, min(row_position) AS first_position
            FROM accepted
            GROUP BY ALL HAVING count(*) > 1
        )
        SELECT a.file_index, a.row_position,
               'duplicate row: Crime ID ' || a.crime_id || ' already appears earlier in this file' AS reject_reason
        FROM accepted AS a JOIN repeated AS r USING (file_index, crime_id)
        WHERE a.row_position > r.first_position
        """
    )


def _semantic_rejects(con, files: list[ScannedFile], structural: dict) -> dict[int, list[tuple[int | None, str, str | None]]]:
    """Rows the staging rules (or the duplicate check) reject, by file index, with physical line and text."""
    by_file: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for file_index, ordinal, reason in con.execute(
        """
        SELECT s.file_index, s.row_position - f.first_position AS ordinal, s.reject_reason
        FROM staged_police_uk s
        JOIN (SELECT file_index, min(row_position) AS first_position FROM raw_police_uk GROUP BY 1) f USING (file_index)
        WHERE s.reject_reason IS NOT NULL
        ORDER BY 1, 2
        """
    ).fetchall():
        by_file[int(file_index)].append((int(ordinal), reason))
    located_rejects: dict[int, list[tuple[int | None, str, str | None]]] = defaultdict(list)
    for number, items in by_file.items():
        skipped = [line for line, _reason, _raw in structural.get(number, [])]
        located = physical_lines(files[number].path, [o for o, _ in items], skipped)
        for ordinal, reason in items:
            line, raw = located.get(ordinal, (None, None))
            located_rejects[number].append((line, reason, raw))
    return located_rejects


def _drop_temporaries(con) -> None:
    """Drop the temporary views and tables of a pass (views first: they depend on the tables)."""
    for view in ("staged_police_uk", "staged_police_uk_base", "raw_police_uk"):
        con.execute(f"DROP VIEW IF EXISTS {view}")
    for temp in ("raw_police_uk_rows", "police_uk_duplicate_keys", "police_uk_duplicates", "police_uk_files",
                 "police_uk_errors", "police_uk_scans"):
        con.execute(f"DROP TABLE IF EXISTS {temp}")
