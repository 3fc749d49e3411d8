"""The DuckDB warehouse: schema, default location, atomic build-and-swap writes, load_log and rejects.

A write never touches the live database file. `Warehouse.write()` takes an exclusive lock, copies the
live file to a temporary file beside it, runs the load on the copy inside one transaction, checkpoints
and closes it, fsyncs, and swaps it in with `os.replace`. A failure or a killed process at any point
leaves the live file exactly as it was; readers (the dashboard) open the live file read-only and keep
serving the previous version until they notice the new inode.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import shutil
import signal
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from etl.plausibility import DateWindow

DEFAULT_DB = Path(__file__).resolve().parent.parent / "data" / "warehouse.duckdb"
SCHEMA_VERSION = 1
MAX_REJECT_LINE_CHARS = 2000
REJECTS_PER_STATEMENT = 1000


class LoadError(Exception):
    """A load that cannot go on. The message names the file (and line, where there is one)."""

    def __init__(self, message: str, path: str | os.PathLike | None = None, line: int | None = None):
        self.path = str(path) if path is not None else None
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f", line {line}"
            where += ": "
        super().__init__(where + message)


def resolve_db_path(db: str | os.PathLike | None = None) -> Path:
    """`--db` if given, else `$CRIME_MONITOR_DB`, else `data/warehouse.duckdb` in the project."""
    if db:
        return Path(db)
    env = os.environ.get("CRIME_MONITOR_DB")
    if env:
        return Path(env)
    return DEFAULT_DB


# ---------------------------------------------------------------------------------------------
# Schema. Every table exists in every warehouse (empty until its source is loaded), so metrics and
# pages can always query it. Columns are snake_case; types are cast once, at staging.
# ---------------------------------------------------------------------------------------------
# the columns data.police.uk street-level crime and outcomes rows share (etl/sql/stg_police_uk_located.sql)
_POLICE_UK_LOCATED_COLUMNS = """
        crime_id VARCHAR,
        month DATE,
        reported_by VARCHAR,
        falls_within VARCHAR,
        longitude DOUBLE,
        latitude DOUBLE,
        location VARCHAR,
        lsoa_code VARCHAR,
        lsoa_name VARCHAR,
        district VARCHAR,
"""
SCHEMA: dict[str, str] = {
    "meta": """
        key VARCHAR PRIMARY KEY,
        value VARCHAR
    """,
    "load_log": """
        load_id VARCHAR,
        path VARCHAR,
        kind VARCHAR,
        force_id VARCHAR,
        month DATE,
        sha256 VARCHAR,
        rows_read BIGINT,
        rows_loaded BIGINT,
        rows_rejected BIGINT,
        loaded_at TIMESTAMP
    """,
    "rejects": """
        load_id VARCHAR,
        path VARCHAR,
        line_number BIGINT,
        reason VARCHAR,
        raw_line VARCHAR
    """,
    # data.police.uk street-level crime and ASB (one row per published row)
    "crimes": _POLICE_UK_LOCATED_COLUMNS + """
        crime_type VARCHAR,
        last_outcome_category VARCHAR,
        context VARCHAR,
        force_id VARCHAR
    """,
    "outcomes": _POLICE_UK_LOCATED_COLUMNS + """
        outcome_type VARCHAR,
        force_id VARCHAR
    """,
    "stop_search": """
        type VARCHAR,
        occurred_at TIMESTAMPTZ,
        month DATE,
        part_of_a_policing_operation BOOLEAN,
        policing_operation VARCHAR,
        latitude DOUBLE,
        longitude DOUBLE,
        gender VARCHAR,
        age_range VARCHAR,
        self_defined_ethnicity VARCHAR,
        officer_defined_ethnicity VARCHAR,
        legislation VARCHAR,
        object_of_search VARCHAR,
        outcome VARCHAR,
        outcome_linked_to_object_of_search BOOLEAN,
        removal_of_more_than_just_outer_clothing BOOLEAN,
        force_id VARCHAR
    """,
    # ONS LSOA lookup joined to 2011 census usual residents
    "lsoa": """
        lsoa_code VARCHAR PRIMARY KEY,
        lsoa_name VARCHAR,
        district VARCHAR,
        msoa_code VARCHAR,
        msoa_name VARCHAR,
        local_authority_code VARCHAR,
        local_authority_name VARCHAR,
        region_code VARCHAR,
        region_name VARCHAR,
        police_force_name VARCHAR,
        force_id VARCHAR,
        usual_residents INTEGER,
        household_residents INTEGER,
        communal_residents INTEGER,
        area_hectares DOUBLE
    """,
    # LSOA boundaries (GeoJSON geometry kept as text; no spatial extension needed)
    "lsoa_boundaries": """
        lsoa_code VARCHAR PRIMARY KEY,
        lsoa_name VARCHAR,
        centroid_longitude DOUBLE,
        centroid_latitude DOUBLE,
        geometry_json VARCHAR
    """,
    # aggregate recorded-crime counts (tidy, wide-by-month, Home Office quarterly tables)
    "counts": """
        dataset VARCHAR,
        period_start DATE,
        period_end DATE,
        period_type VARCHAR,
        area VARCHAR,
        force_id VARCHAR,
        category VARCHAR,
        subcategory VARCHAR,
        offence_code VARCHAR,
        count BIGINT
    """,
    # DfT STATS19 road safety
    "collisions": """
        collision_index VARCHAR,
        collision_year INTEGER,
        collision_ref_no VARCHAR,
        police_force_code INTEGER,
        police_force_name VARCHAR,
        force_id VARCHAR,
        severity_code INTEGER,
        severity VARCHAR,
        collision_date DATE,
        collision_time TIME,
        occurred_at TIMESTAMP,
        month DATE,
        week_start DATE,
        day_of_week VARCHAR,
        hour INTEGER,
        longitude DOUBLE,
        latitude DOUBLE,
        number_of_vehicles INTEGER,
        number_of_casualties INTEGER,
        speed_limit INTEGER,
        road_type VARCHAR,
        urban_or_rural VARCHAR,
        light_conditions VARCHAR,
        weather_conditions VARCHAR,
        local_authority_district VARCHAR,
        lsoa_code VARCHAR
    """,
    "casualties": """
        collision_index VARCHAR,
        collision_year INTEGER,
        vehicle_reference INTEGER,
        casualty_reference INTEGER,
        casualty_class VARCHAR,
        sex_of_casualty VARCHAR,
        age_of_casualty INTEGER,
        age_band_of_casualty VARCHAR,
        severity_code INTEGER,
        severity VARCHAR,
        casualty_type_code INTEGER,
        casualty_type VARCHAR,
        road_user_type VARCHAR,
        force_id VARCHAR
    """,
    "vehicles": """
        collision_index VARCHAR,
        collision_year INTEGER,
        vehicle_reference INTEGER,
        vehicle_type_code INTEGER,
        vehicle_type VARCHAR,
        sex_of_driver VARCHAR,
        age_of_driver INTEGER,
        force_id VARCHAR
    """,
    # Action Fraud (NFIB) reports by force area
    "fraud": """
        month DATE,
        force_name VARCHAR,
        force_id VARCHAR,
        fraud_type VARCHAR,
        reports INTEGER,
        reported_loss_gbp DOUBLE
    """,
    # the force's own incident-level extract
    "incidents": """
        incident_ref VARCHAR,
        recorded_at TIMESTAMP,
        month DATE,
        week_start DATE,
        offence_code VARCHAR,
        offence_description VARCHAR,
        crime_type VARCHAR,
        district VARCHAR,
        lsoa_code VARCHAR,
        domestic_abuse BOOLEAN,
        hate_crime BOOLEAN,
        child_victim BOOLEAN,
        outcome VARCHAR,
        outcome_date DATE,
        victim_key VARCHAR,
        force_id VARCHAR
    """,
    # force measures no public file carries (101/999 answer times, officer numbers, ...)
    "measures": """
        measure VARCHAR,
        period_start DATE,
        period_end DATE,
        value DOUBLE,
        unit VARCHAR,
        target DOUBLE,
        force_id VARCHAR
    """,
    # expected-vs-observed models fitted after a load (metrics.baselines; written by `python -m metrics
    # baselines`): one row per fitted series, keyed on the model version, fit window and exact fit values
    "baselines": """
        baseline_key VARCHAR,
        model_version VARCHAR,
        model VARCHAR,
        candidates INTEGER,
        fit_from DATE,
        fit_until DATE,
        sigma2 DOUBLE,
        residual_df INTEGER,
        horizon_months INTEGER,
        fitted_log DOUBLE[],
        mean_log DOUBLE[],
        psi DOUBLE[],
        param_count INTEGER,
        param_loadings DOUBLE[],
        slices VARCHAR[],
        computed_at TIMESTAMP
    """,
}


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table that does not exist yet (idempotent)."""
    for table, columns in SCHEMA.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
    con.execute(
        "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
    )


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class FileLoad:
    """What one source file contributed to a load (one `load_log` row)."""

    path: str
    kind: str
    force_id: str | None = None
    month: date | None = None
    sha256: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    # rows of earlier loads in the whole units this file replaces (a force-month, the casualties of a
    # collision); 0 for files replaced row by row. etl.plausibility.check_replacement reads it.
    rows_replaced: int = 0
    replaces: str | None = None  # what those rows are, for messages ("crimes of essex 2018-12")

    def check_balance(self) -> None:
        if self.rows_read != self.rows_loaded + self.rows_rejected:
            raise LoadError(
                f"internal check failed: rows read {self.rows_read} != loaded {self.rows_loaded}"
                f" + rejected {self.rows_rejected}",
                self.path,
            )


@dataclass
class WriteSession:
    """An open write: a connection on the temporary copy, plus bookkeeping for load_log and rejects.

    accept_rejects: let files with many (or only) rejected rows replace data (`--accept-rejects`);
    window: the plausible date window rows are checked against (etl.plausibility.DateWindow), set by the load.
    """

    con: duckdb.DuckDBPyConnection
    load_id: str
    target: Path
    files: list[FileLoad] = field(default_factory=list)
    progress: bool = False
    accept_rejects: bool = False
    window: DateWindow | None = None
    first_rejects: dict[str, tuple[int | None, str]] = field(default_factory=dict)
    claimed_units: dict[tuple, str] = field(default_factory=dict)

    def add_rejects(self, path: str, rows: Iterable[tuple[int | None, str, str | None]]) -> int:
        """Record rejected rows: (line_number, reason, raw_line). Returns how many."""
        batch = [
            (self.load_id, str(path), line, reason, None if raw is None else raw[:MAX_REJECT_LINE_CHARS])
            for line, reason, raw in rows
        ]
        # multi-row VALUES statements: executemany costs a round trip per row (a whole bad file has thousands)
        for start in range(0, len(batch), REJECTS_PER_STATEMENT):
            chunk = batch[start : start + REJECTS_PER_STATEMENT]
            self.con.execute("INSERT INTO rejects VALUES " + ", ".join(["(?, ?, ?, ?, ?)"] * len(chunk)),
                             [value for row in chunk for value in row])
        if batch:
            self.first_rejects.setdefault(str(path), (batch[0][2], batch[0][3]))
        return len(batch)

    def date_window(self) -> DateWindow:
        """The load's plausible date window (etl.plausibility.DateWindow; the default one unless set)."""
        from etl.plausibility import date_window

        if self.window is None:
            self.window = date_window()
        return self.window

    def window_table(self) -> str:
        """The temp table holding the load's date window (created on first use); see etl.plausibility."""
        from etl.plausibility import WINDOW_TABLE, install_window

        window = self.date_window()
        exists = self.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [WINDOW_TABLE]
        ).fetchall()[0][0]
        return WINDOW_TABLE if exists else install_window(self.con, window)

    def claim_unit(self, unit: tuple, display: str, description: str) -> None:
        """Refuse a unit of replacement (a force-month of one kind, say) that two files of this load both
        supply: loading both would collapse one into the other or add them up."""
        other = self.claimed_units.setdefault(unit, display)
        if other != display:
            raise LoadError(
                f"the same {description} is in two files of this load; the other is {other}. Load one of them.",
                display,
            )

    def _check_replacement(self, entry: FileLoad) -> None:
        from etl.plausibility import check_replacement

        check_replacement(entry, self.first_rejects.get(entry.path), self.accept_rejects)

    def log_file(self, entry: FileLoad) -> None:
        """Record one loaded file. A file that supersedes an earlier load of the same kind and
        force-month (or, without a month, the same path) replaces that load's log and rejects,
        so load_log describes what the tables hold now. A file that would replace data with nothing or with
        far fewer rows than it read fails here (etl.plausibility.check_replacement)."""
        entry.check_balance()
        self._check_replacement(entry)
        self.files.append(entry)
        if entry.month is not None:
            superseded = "kind = ? AND force_id IS NOT DISTINCT FROM ? AND month = ?"
            params: list = [entry.kind, entry.force_id, entry.month]
        else:
            superseded = "kind = ? AND path = ?"
            params = [entry.kind, entry.path]
        self.con.execute(
            f"""
            DELETE FROM rejects WHERE (load_id, path) IN (
                SELECT load_id, path FROM load_log WHERE {superseded} AND load_id <> ?)
            """,
            [*params, self.load_id],
        )
        self.con.execute(f"DELETE FROM load_log WHERE {superseded} AND load_id <> ?", [*params, self.load_id])
        self.con.execute(
            "INSERT INTO load_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                self.load_id,
                entry.path,
                entry.kind,
                entry.force_id,
                entry.month,
                entry.sha256,
                entry.rows_read,
                entry.rows_loaded,
                entry.rows_rejected,
                datetime.now(timezone.utc).replace(tzinfo=None),
            ],
        )

    def log_files(self, entries: list[FileLoad]) -> None:
        """`log_file` for many files at once: the same result in four statements instead of three per
        file (at national scale, 1,500 files, per-file statements cost more than loading the rows)."""
        if not entries:
            return
        for entry in entries:
            entry.check_balance()
            self._check_replacement(entry)
        loaded_at = datetime.now(timezone.utc).replace(tzinfo=None)
        self.con.execute("DROP TABLE IF EXISTS log_files_batch")
        self.con.execute(
            """CREATE TEMP TABLE log_files_batch (load_id VARCHAR, path VARCHAR, kind VARCHAR, force_id VARCHAR,
               month DATE, sha256 VARCHAR, rows_read BIGINT, rows_loaded BIGINT, rows_rejected BIGINT,
               loaded_at TIMESTAMP)"""
        )
        # one multi-row VALUES statement with bound parameters (pyarrow would cost half a second to import)
        rows = [(self.load_id, e.path, e.kind, e.force_id, e.month, e.sha256, e.rows_read, e.rows_loaded,
                 e.rows_rejected, loaded_at) for e in entries]
        self.con.execute(
            "INSERT INTO log_files_batch VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows)),
            [value for row in rows for value in row],
        )
        superseded = """
            SELECT old.load_id, old.path FROM load_log AS old JOIN log_files_batch AS new
              ON old.kind = new.kind
             AND ((new.month IS NOT NULL AND old.force_id IS NOT DISTINCT FROM new.force_id AND old.month = new.month)
                  OR (new.month IS NULL AND old.path = new.path))
            WHERE old.load_id <> ?
        """
        self.con.execute(f"DELETE FROM rejects WHERE (load_id, path) IN ({superseded})", [self.load_id])
        self.con.execute(f"DELETE FROM load_log WHERE (load_id, path) IN ({superseded})", [self.load_id])
        columns = "load_id, path, kind, force_id, month, sha256, rows_read, rows_loaded, rows_rejected, loaded_at"
        self.con.execute(f"INSERT INTO load_log ({columns}) SELECT {columns} FROM log_files_batch")
        self.con.execute("DROP TABLE log_files_batch")
        self.files.extend(entries)

    def replace_rows(self, table: str, staged: str, keys: list[str]) -> int:
        """Delete the rows of `table` whose key tuple appears in `staged`, then insert all of `staged`.

        `staged` is a table or view with exactly `table`'s columns. Keys are trusted identifiers
        chosen by the loaders (never user input). Returns rows inserted.
        """
        return self.replace_keyed(table, staged, keys)[0]

    def replace_keyed(self, table: str, staged: str, keys: list[str], display: str | None = None) -> tuple[int, int]:
        """`replace_rows` that also returns the rows it replaced: (rows inserted, existing rows deleted).

        With `display` (the file the staged rows come from), a key that an earlier file of this load
        already supplied is refused with a LoadError naming both files, instead of one file silently
        replacing the other's rows."""
        if display is not None:
            self.claim_keys(table, staged, keys, display)
        # NULL is a key value too (counts rows without a subcategory): IS NOT DISTINCT FROM, not IN
        match = " AND ".join(f"s.{key} IS NOT DISTINCT FROM {table}.{key}" for key in keys)
        deleted = self.con.execute(
            f"DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM {staged} AS s WHERE {match})"
        ).fetchall()
        columns = [row[0] for row in self.con.execute(f"DESCRIBE {table}").fetchall()]
        column_list = ", ".join(columns)
        inserted = self.con.execute(
            f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {staged}"
        ).fetchall()
        return (int(inserted[0][0]) if inserted else 0), (int(deleted[0][0]) if deleted else 0)

    def claim_keys(self, table: str, staged: str, keys: list[str], display: str) -> None:
        """Record the keys `display` supplies to `table` in this load; LoadError if another file did.
        `table` names the claim (a trusted identifier: the table, or e.g. `lsoa_census` for its columns)."""
        claimed = f"claimed_keys_{table}"
        key_list = ", ".join(keys)
        self.con.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {claimed} AS SELECT {key_list}, ''::VARCHAR AS claimed_by"
            f" FROM {staged} LIMIT 0"
        )
        match = " AND ".join(f"c.{key} IS NOT DISTINCT FROM s.{key}" for key in keys)
        clash = self.con.execute(
            f"SELECT c.claimed_by, {', '.join('s.' + key for key in keys)} FROM {staged} AS s"
            f" JOIN {claimed} AS c ON {match} WHERE c.claimed_by <> ? LIMIT 1",
            [display],
        ).fetchall()
        if clash:
            other, *values = clash[0]
            shown = ", ".join(f"{key} {value}" for key, value in zip(keys, values))
            raise LoadError(
                f"rows with the same {', '.join(keys)} ({shown}) are also in {other}; two files for the same"
                f" {table} rows in one load would replace one with the other. Load one of them",
                display,
            )
        self.con.execute(f"INSERT INTO {claimed} SELECT DISTINCT {key_list}, ? FROM {staged}", [display])

    def set_meta(self, key: str, value: str | None) -> None:
        if value is None:
            self.con.execute("DELETE FROM meta WHERE key = ?", [key])
        else:
            self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])


class Warehouse:
    """One DuckDB warehouse file and the rules for writing to it."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = resolve_db_path(path)

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def exists(self) -> bool:
        return self.path.exists()

    @contextlib.contextmanager
    def write(
        self,
        *,
        wait: bool = True,
        memory_limit: str = "2GB",
        threads: int | None = None,
        fresh: bool = False,
    ) -> Iterator[WriteSession]:
        """Open an atomic write. Yields a WriteSession; on clean exit the copy is swapped in.

        wait: block until another writer finishes (True) or fail at once with LoadError (False).
        fresh: start from an empty warehouse instead of a copy of the live one.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_handle = open(self.lock_path, "a+")
        try:
            flags = fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB)
            try:
                fcntl.flock(lock_handle.fileno(), flags)
            except BlockingIOError as exc:
                raise LoadError("another load is writing to this database; try again when it ends", self.path) from exc
            fault_point("locked")
            self._remove_stale_temporaries()
            temp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
            try:
                live = self.path.stat() if self.path.exists() else None
                if live is not None and not fresh:
                    _copy_private(self.path, temp)
                fault_point("copied")
                config = {"memory_limit": memory_limit, "preserve_insertion_order": True}
                if threads:
                    config["threads"] = threads
                con = duckdb.connect(str(temp), config=config)
                try:
                    con.execute("SET enable_progress_bar = false")  # a session option: not allowed in config
                    ensure_schema(con)
                    con.execute("BEGIN TRANSACTION")
                    session = WriteSession(con=con, load_id=uuid.uuid4().hex, target=self.path)
                    yield session
                    fault_point("loaded")
                    con.execute("COMMIT")
                    fault_point("committed")
                    con.execute("CHECKPOINT")
                    fault_point("checkpointed")
                finally:
                    con.close()
                if live is not None:
                    _take_ownership_of(live, temp)
                _fsync(temp)
                fault_point("synced")
                os.replace(temp, self.path)
                fault_point("swapped")
                _fsync_dir(self.path.parent)
                fault_point("done")
            except BaseException as exc:
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()
                with contextlib.suppress(FileNotFoundError):
                    Path(str(temp) + ".wal").unlink()
                if _is_write_failure(exc):
                    raise LoadError(
                        f"could not write the new database ({str(exc).strip()}); free some disk space or"
                        " raise the file size limit and load again",
                        self.path,
                    ) from exc
                raise
        finally:
            fcntl.flock(lock_handle.fileno(), fcntl.LOCK_UN)
            lock_handle.close()

    def _remove_stale_temporaries(self) -> None:
        """Temporary copies left by killed loads (we hold the lock, so none is in use). Matched by exact
        name (`<db>.<pid>.<8 hex>.tmp[.wal]`), never by a glob pattern built from the database name."""
        pattern = re.compile(re.escape(self.path.name) + r"\.\d+\.[0-9a-f]{8}\.tmp(?:\.wal)?")
        with os.scandir(self.path.parent) as entries:
            stale = [entry.path for entry in entries if pattern.fullmatch(entry.name)]
        for path in stale:
            with contextlib.suppress(OSError):
                os.unlink(path)

    def ensure(self) -> None:
        """Create an empty warehouse if none exists."""
        if not self.path.exists():
            with self.write():
                pass


FAULT_ENV = "CRIME_MONITOR_KILL_AT"
FAULT_TRACE_ENV = "CRIME_MONITOR_FAULT_TRACE"
_fault_steps = 0


def fault_point(name: str) -> None:
    """A numbered point of a load where the fault tests may kill the process (deterministically).

    With `$CRIME_MONITOR_FAULT_TRACE` set, each point reached appends "<step> <name>" to that file; with
    `$CRIME_MONITOR_KILL_AT=<step>` the process SIGKILLs itself on reaching that step. Unset (always, outside
    tests) a point costs one dictionary lookup."""
    global _fault_steps
    kill_at, trace = os.environ.get(FAULT_ENV), os.environ.get(FAULT_TRACE_ENV)
    if not kill_at and not trace:
        return
    _fault_steps += 1
    if trace:
        with open(trace, "a") as handle:
            handle.write(f"{_fault_steps} {name}\n")
    if kill_at and int(kill_at) == _fault_steps:
        os.kill(os.getpid(), signal.SIGKILL)


def _copy_private(source: Path, dest: Path) -> None:
    """Copy the live file to a new file that only its owner can read until the live mode is applied."""
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(source, "rb") as src, os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(src, out, 16 * 1024**2)


def _take_ownership_of(live: os.stat_result, temp: Path) -> None:
    """Give the new file the live file's mode and owner before it replaces it (a 600 warehouse stays 600).

    The owner can be kept only by root or the owner; otherwise the group is tried, and failing that the
    new file keeps the loading user as owner (the mode is always kept)."""
    os.chmod(temp, live.st_mode & 0o7777)
    info = temp.stat()
    if (info.st_uid, info.st_gid) == (live.st_uid, live.st_gid):
        return
    try:
        os.chown(temp, live.st_uid, live.st_gid)
    except PermissionError:
        with contextlib.suppress(PermissionError):
            os.chown(temp, -1, live.st_gid)
    os.chmod(temp, live.st_mode & 0o7777)  # chown may clear set-id bits


def _is_write_failure(exc: BaseException) -> bool:
    """A disk that is full or a file size limit hit while writing the copy (not a bad source file)."""
    if isinstance(exc, duckdb.Error):  # IOException while loading, FatalException at the checkpoint
        return any(text in str(exc) for text in ("No space left on device", "File too large", "Disk quota exceeded"))
    return isinstance(exc, OSError) and exc.errno in {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def connect_read_only(path: str | os.PathLike | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the live warehouse (what the app and metrics use).

    `duckdb.connect(path)` would hand back the database instance DuckDB already holds for that path in
    this process — the file as it was before the last swap, for as long as any old connection lives — so
    a long-running app would never see a new load. Instead the file is ATTACHed READ_ONLY to a fresh
    in-memory instance (which opens the file anew) and made the default catalog; views in the in-memory
    catalog make every table visible to cursors too (a cursor starts in the default `memory` catalog).
    Nothing can write to the file through this connection.
    """
    resolved = resolve_db_path(path)
    if not resolved.exists():
        raise FileNotFoundError(f"no warehouse at {resolved}: run `python -m etl load` or `python -m etl demo` first")
    con = duckdb.connect(":memory:")
    try:
        con.execute("ATTACH ? AS warehouse (READ_ONLY)", [str(resolved)])
        relations = con.execute(
            """
            SELECT table_name FROM duckdb_tables() WHERE database_name = 'warehouse' AND schema_name = 'main'
            UNION
            SELECT view_name FROM duckdb_views() WHERE database_name = 'warehouse' AND schema_name = 'main'
                AND NOT internal
            """
        ).fetchall()
        for (name,) in relations:  # names from the file's own catalogue, quoted as identifiers
            quoted = '"' + name.replace('"', '""') + '"'
            con.execute(f"CREATE VIEW memory.main.{quoted} AS SELECT * FROM warehouse.main.{quoted}")
        con.execute("USE warehouse")
    except BaseException:
        con.close()
        raise
    return con


def database_version(path: str | os.PathLike | None = None) -> str:
    """A token that changes whenever a load swaps in a new file (inode, size, mtime)."""
    resolved = resolve_db_path(path)
    try:
        info = resolved.stat()
    except FileNotFoundError:
        return "missing"
    return f"{info.st_ino}-{info.st_size}-{info.st_mtime_ns}"


def load_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """A short hash of load_log (paths, hashes, rows): identifies exactly what data a warehouse holds."""
    rows = con.execute(
        """
        SELECT coalesce(string_agg(concat_ws('|', path, kind, force_id, month, sha256, rows_loaded), '\n'
                                   ORDER BY path, sha256), '')
        FROM load_log
        """
    ).fetchall()
    return hashlib.sha256(rows[0][0].encode()).hexdigest()[:16]
