"""data.police.uk street-level crime and ASB, outcomes, and stop and search CSVs.

The kind of each file is recognised from its header. Files of one kind are read together by DuckDB's
CSV reader (rows it cannot parse become rejects with their physical line), staged by the SQL in
`etl/sql/stg_police_uk_*.sql`, and replace the rows of their force-month in the warehouse.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path

from etl.progress import Progress
from etl.sources.common import (
    ScannedFile,
    force_id_for,
    month_from_path,
    physical_lines,
)
from etl.warehouse import FileLoad, LoadError, WriteSession

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

# kind -> (expected header, warehouse table, staging SQL file, description)
KINDS: dict[str, tuple[list[str], str, str, str]] = {
    "street": (STREET_HEADER, "crimes", "stg_police_uk_street.sql", "data.police.uk street-level crime"),
    "outcomes": (OUTCOMES_HEADER, "outcomes", "stg_police_uk_outcomes.sql", "data.police.uk outcomes"),
    "stop-and-search": (STOP_SEARCH_HEADER, "stop_search", "stg_police_uk_stop_search.sql", "data.police.uk stop and search"),
}
HEADERS = {kind: spec[0] for kind, spec in KINDS.items()}
BATCH_FILES = 400
# bytes of CSV per batch: keeps each batch's temporary tables inside the write's memory_limit
# (a national month of 43 forces is ~150 MB; larger batches spill to disk and run several times slower)
BATCH_BYTES = 384 * 1024**2


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
    planned = []
    for kind, kind_files in by_kind.items():
        _check_one_file_per_force_month(kind, kind_files, force)
        planned += [(kind, batch) for batch in _batches(kind_files)]
    total_bytes = sum(f.size for _kind, batch in planned for f in batch)
    with Progress(max(total_bytes // (1 << 20), 1), "loading (MB)", enabled=session.progress) as bar:
        for kind, batch in planned:
            _load_batch(session, kind, batch, force)
            bar.advance(f"{kind}: {batch[-1].path.name}", step=sum(f.size for f in batch) // (1 << 20))


def _batches(files: list[ScannedFile]) -> list[list[ScannedFile]]:
    """Consecutive groups of at most BATCH_FILES files and (unless one file is larger) BATCH_BYTES bytes."""
    batches: list[list[ScannedFile]] = []
    current: list[ScannedFile] = []
    size = 0
    for scanned in files:
        if current and (len(current) >= BATCH_FILES or size + scanned.size > BATCH_BYTES):
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


def _check_one_file_per_force_month(kind: str, files: list[ScannedFile], force: str | None) -> None:
    """Two files for the same force-month in one load would silently double-count: refuse."""
    seen: dict[tuple[str | None, date], str] = {}
    for scanned in files:
        _check_name_and_folder_agree(scanned)
        month = month_from_path(scanned.path)
        if month is None:
            continue
        named_force = _file_force_from_name(scanned.path, kind) or force_id_for(force)
        key = (named_force, month)
        if named_force is not None and key in seen:
            raise LoadError(
                f"the same force-month ({named_force} {month:%Y-%m}, {kind}) is in two files of this load;"
                f" the other is {seen[key]}. Load one of them.",
                scanned.display,
            )
        seen[key] = scanned.display


def _load_batch(session: WriteSession, kind: str, files: list[ScannedFile], force: str | None) -> None:
    con = session.con
    header, table, sql_file, description = KINDS[kind]
    columns = {name: "VARCHAR" for name in header}
    columns["Longitude"] = "DOUBLE"
    columns["Latitude"] = "DOUBLE"
    paths = [str(f.path) for f in files]
    by_path = {str(f.path): f for f in files}

    _drop_temporaries(con)
    # Rows keep file order (preserve_insertion_order), so a temp table's rowid is the row position;
    # row_number() OVER () would force a single-threaded window over every row (2x slower at scale).
    con.execute(
        """
        CREATE TEMP TABLE raw_police_uk_rows AS
        SELECT *
        FROM read_csv(?, header = true, columns = ?, auto_detect = false, delim = ',', quote = '"',
                      escape = '"', filename = true, strict_mode = true, store_rejects = true,
                      rejects_table = 'police_uk_rejects', rejects_scan = 'police_uk_reject_scans',
                      max_line_size = 1048576, null_padding = false, encoding = 'utf-8')
        """,
        [paths, columns],
    )
    con.execute("CREATE TEMP VIEW raw_police_uk AS SELECT *, rowid AS row_position FROM raw_police_uk_rows")
    structural = con.execute(
        """
        SELECT scans.file_path, errors.line, min(errors.error_type || ': ' || errors.error_message),
               min(errors.csv_line)
        FROM police_uk_rejects AS errors
        JOIN police_uk_reject_scans AS scans USING (scan_id, file_id)
        GROUP BY ALL
        ORDER BY 1, 2
        """
    ).fetchall()
    parsed_counts = dict(con.execute("SELECT filename, count(*) FROM raw_police_uk GROUP BY 1").fetchall())
    structural_files = {row[0] for row in structural}
    for scanned in files:
        if str(scanned.path) not in parsed_counts and str(scanned.path) not in structural_files:
            # replacing the force-month with nothing would silently wipe rows already loaded
            raise LoadError(
                "the file has a header but no rows; loading it would empty its month."
                " Leave it out of the load (data.police.uk month files always have rows)",
                scanned.display,
            )

    # one row per file: the month it claims (name/folder) and its force
    file_rows = []
    data_force = dict(
        con.execute(
            "SELECT filename, mode(\"Reported by\") FROM raw_police_uk GROUP BY 1"
        ).fetchall()
    ) if kind != "stop-and-search" else {}
    for scanned in files:
        force_id = force_id_for(data_force.get(str(scanned.path))) or _file_force_from_name(scanned.path, kind) or force_id_for(force)
        if force_id is None:
            raise LoadError(
                "cannot tell which force this file belongs to: name it YYYY-MM-<force>-"
                f"{kind}.csv as data.police.uk does, or pass --force",
                scanned.display,
            )
        scanned.extra["force_id"] = force_id
        scanned.extra["file_month"] = month_from_path(scanned.path)
        file_rows.append((str(scanned.path), scanned.extra["file_month"], force_id))
    con.execute("DROP TABLE IF EXISTS police_uk_files")
    con.execute("CREATE TEMP TABLE police_uk_files (filename VARCHAR, file_month DATE, force_id VARCHAR)")
    con.executemany("INSERT INTO police_uk_files VALUES (?, ?, ?)", file_rows)

    # Staging is a view (not materialised: at national scale a copy of every row costs more than
    # re-evaluating the staging SQL in the few passes below).
    staging_sql = (SQL_DIR / sql_file).read_text()
    con.execute(f"CREATE TEMP VIEW staged_police_uk_base AS {staging_sql}")
    # a Crime ID twice in one file is a duplicated row (ASB rows have no Crime ID): the later copies
    # are rejected. Only the (rare) duplicates are materialised.
    if kind == "street":
        con.execute(
            """
            CREATE TEMP TABLE police_uk_duplicate_keys AS
            -- candidates: a narrow hash of (file, Crime ID) seen twice among the raw rows (cheap: no
            -- staging, no grouping on 64-character ids); every repeated accepted id is among them
            SELECT hash(filename, nullif(trim("Crime ID"), '')) AS key_hash
            FROM raw_police_uk_rows
            WHERE nullif(trim("Crime ID"), '') IS NOT NULL
            GROUP BY 1 HAVING count(*) > 1
            """
        )
        con.execute(
            """
            CREATE TEMP TABLE police_uk_duplicates AS
            WITH accepted AS (
                SELECT filename, crime_id, row_position FROM staged_police_uk_base
                WHERE crime_id IS NOT NULL AND reject_reason IS NULL
                  AND hash(filename, crime_id) IN (SELECT key_hash FROM police_uk_duplicate_keys)
            ),
            -- the exact check, on the candidates only
            repeated AS (
                SELECT filename, crime_id, min(row_position) AS first_position
                FROM accepted
                GROUP BY ALL HAVING count(*) > 1
            )
            SELECT a.filename, a.row_position,
                   'duplicate row: Crime ID ' || a.crime_id || ' already appears earlier in this file' AS reject_reason
            FROM accepted AS a JOIN repeated AS r USING (filename, crime_id)
            WHERE a.row_position > r.first_position
            """
        )
    else:
        con.execute("CREATE TEMP TABLE police_uk_duplicates (filename VARCHAR, row_position BIGINT, reject_reason VARCHAR)")
    con.execute(
        """
        CREATE TEMP VIEW staged_police_uk AS
        SELECT s.* REPLACE (coalesce(s.reject_reason, d.reject_reason) AS reject_reason)
        FROM staged_police_uk_base AS s
        LEFT JOIN police_uk_duplicates AS d ON d.filename = s.filename AND d.row_position = s.row_position
        """
    )

    # files whose month comes only from their rows (no month in the name or folder)
    if any(f.extra["file_month"] is None for f in files):
        for filename, month in con.execute(
            """
            SELECT f.filename, (SELECT mode(month) FROM staged_police_uk s WHERE s.filename = f.filename)
            FROM police_uk_files f WHERE f.file_month IS NULL
            """
        ).fetchall():
            by_path[filename].extra["file_month"] = month

    semantic = con.execute(
        """
        SELECT s.filename, s.row_position - f.first_position AS ordinal, s.reject_reason
        FROM staged_police_uk s
        JOIN (SELECT filename, min(row_position) AS first_position FROM raw_police_uk GROUP BY 1) f USING (filename)
        WHERE s.reject_reason IS NOT NULL
        ORDER BY 1, 2
        """
    ).fetchall()

    rejects_by_file: dict[str, list[tuple[int | None, str, str | None]]] = defaultdict(list)
    structural_lines: dict[str, list[int]] = defaultdict(list)
    for file_path, line, message, raw in structural:
        raw_text = (raw or "").rstrip("\r\n")
        rejects_by_file[file_path].append((int(line), _structural_reason(message, raw_text, len(header)), raw_text))
        structural_lines[file_path].append(int(line))
    semantic_by_file: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for filename, ordinal, reason in semantic:
        semantic_by_file[filename].append((int(ordinal), reason))
    for filename, items in semantic_by_file.items():
        located = physical_lines(Path(filename), [o for o, _ in items], structural_lines.get(filename, []))
        for ordinal, reason in items:
            line, raw = located.get(ordinal, (None, None))
            rejects_by_file[filename].append((line, reason, raw))

    # replace each file's force-month, then insert its accepted rows
    con.execute("DROP TABLE IF EXISTS police_uk_keys")
    con.execute("CREATE TEMP TABLE police_uk_keys (force_id VARCHAR, month DATE)")
    keys = {(f.extra["force_id"], f.extra["file_month"]) for f in files if f.extra["file_month"] is not None}
    if keys:
        con.executemany("INSERT INTO police_uk_keys VALUES (?, ?)", sorted(keys))
    con.execute(f"DELETE FROM {table} WHERE (force_id, month) IN (SELECT force_id, month FROM police_uk_keys)")
    target_columns = [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]
    column_list = ", ".join(target_columns)
    # file order is kept without ORDER BY (preserve_insertion_order; a sort of every row is costly)
    con.execute(
        f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM staged_police_uk "
        "WHERE reject_reason IS NULL"
    )
    # every parsed row is either loaded or a semantic reject
    loaded_counts = {
        key: int(count) - len(semantic_by_file.get(key, [])) for key, count in parsed_counts.items()
    }

    entries = []
    for scanned in files:
        key = str(scanned.path)
        file_rejects = sorted(rejects_by_file.get(key, []), key=lambda r: (r[0] is None, r[0] or 0))
        session.add_rejects(scanned.display, file_rejects)
        entries.append(FileLoad(
            path=scanned.display,
            kind=kind,
            force_id=scanned.extra["force_id"],
            month=scanned.extra["file_month"],
            sha256=scanned.sha256,
            rows_read=int(parsed_counts.get(key, 0)) + len(structural_lines.get(key, [])),
            rows_loaded=int(loaded_counts.get(key, 0)),
            rows_rejected=len(file_rejects),
        ))
    session.log_files(entries)  # one set-based write for the batch (per-file statements are slow at scale)
    _drop_temporaries(con)


def _drop_temporaries(con) -> None:
    """Drop the temporary views and tables of a batch (views first: they depend on the tables)."""
    for view in ("staged_police_uk", "staged_police_uk_base", "raw_police_uk"):
        con.execute(f"DROP VIEW IF EXISTS {view}")
    for temp in ("raw_police_uk_rows", "police_uk_duplicate_keys", "police_uk_duplicates", "police_uk_files", "police_uk_keys",
                 "police_uk_rejects", "police_uk_reject_scans"):
        con.execute(f"DROP TABLE IF EXISTS {temp}")


def _structural_reason(message: str, raw_line: str = "", expected_columns: int = 0) -> str:
    """Turn DuckDB's CSV error into a reason an analyst can act on."""
    kind, _, detail = message.partition(": ")
    if kind in {"MISSING COLUMNS", "TOO MANY COLUMNS"}:
        import csv as _csv

        try:
            found = len(next(_csv.reader([raw_line])))
        except (StopIteration, _csv.Error):
            found = None
        counted = f"{found} found, {expected_columns} expected" if found is not None else detail
        if kind == "MISSING COLUMNS":
            return f"too few columns (the line may be truncated): {counted}"
        return f"too many columns: {counted}"
    if kind == "UNQUOTED VALUE":
        return f"badly quoted value (an unterminated or stray quote; the line may be truncated): {detail}"
    if kind == "CAST":
        return f"value of the wrong type: {detail}"
    if kind == "LINE SIZE OVER MAXIMUM":
        return f"line too long: {detail}"
    if kind == "INVALID ENCODING" or kind == "INVALID UNICODE":
        return f"not UTF-8 text: {detail}"
    return f"{kind.lower()}: {detail}"
