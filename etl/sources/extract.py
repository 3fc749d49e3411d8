"""The force's own incident-level extract (one row per recorded incident), with an optional TOML column
mapping for exports whose column names differ from ours.

Canonical columns (docs/CONVENTIONS.md): `incident_ref, recorded_at, offence_code, offence_description,
district, lsoa_code, domestic_abuse, hate_crime, child_victim, outcome, outcome_date, victim_key`.
`recorded_at` is ISO `YYYY-MM-DD HH:MM[:SS]` (or `YYYY-MM-DDTHH:MM[:SS]`) unless the mapping gives a
strptime format; flags are Y/N, Yes/No, true/false, 1/0 (empty = not known); `outcome_date` YYYY-MM-DD
or empty.

Mapping file (`--mapping FILE`, TOML):
    [extract]
    force = "Essex Police"                  # which force the extract belongs to (else --force)
    recorded_at_format = "%d/%m/%Y %H:%M"   # optional
    outcome_date_format = "%d/%m/%Y"        # optional
    true_values = ["Y", "Yes", "1", "TRUE"] # optional (compared case-insensitively)
    false_values = ["N", "No", "0", "FALSE"]# optional
    [columns]                               # our column = their column
    incident_ref = "CrimeReference"
    ...
With a mapping, `incident_ref`, `recorded_at` and `offence_code` must be mapped; a column not mapped is
left empty. Without one, the file must carry every canonical column. Every value of the mapping is checked
for its type (text, or a list of texts for true_values/false_values; a format must parse a date it wrote
itself), and a mapping that is not UTF-8 or not TOML is refused with the line at fault.

Plausibility (etl.plausibility): `recorded_at` and `outcome_date` must lie in the load's date window, and an
outcome cannot be dated before the incident was recorded.

Offence codes are mapped to the police.uk crime type with the Home Office table (generated into
`etl/reference_codes.py`); codes are compared upper-case, also without leading zeros ("008N" = "8N").
An incident whose code is not in the table is kept with `crime_type` empty. `district` comes from the
file, else from the `lsoa` table for its `lsoa_code`. Rows replace the warehouse's rows with the same
(force_id, incident_ref); two files of one load supplying the same incident are refused.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from etl.reference_codes import OFFENCE_CODE_TO_POLICEUK_CATEGORY
from etl.sources.common import ScannedFile, insert_rows
from etl.sources.tidy_csv import BadRecord, read_records, replace_and_log, resolve_force_id
from etl.warehouse import LoadError, WriteSession

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

EXTRACT_COLUMNS = [
    "incident_ref", "recorded_at", "offence_code", "offence_description", "district", "lsoa_code",
    "domestic_abuse", "hate_crime", "child_victim", "outcome", "outcome_date", "victim_key",
]
REQUIRED_WITH_MAPPING = ["incident_ref", "recorded_at", "offence_code"]
FLAG_COLUMNS = ["domestic_abuse", "hate_crime", "child_victim"]
HEADERS = {"extract": EXTRACT_COLUMNS}
DEFAULT_TRUE = ("y", "yes", "true", "t", "1")
DEFAULT_FALSE = ("n", "no", "false", "f", "0")


@dataclass
class ExtractMapping:
    """A parsed mapping file: our column -> their column, formats and flag values."""

    path: str | None = None
    columns: dict[str, str] = field(default_factory=lambda: {c: c for c in EXTRACT_COLUMNS})
    force: str | None = None
    recorded_at_format: str | None = None
    outcome_date_format: str | None = None
    true_values: tuple[str, ...] = DEFAULT_TRUE
    false_values: tuple[str, ...] = DEFAULT_FALSE


_MAPPING_CACHE: dict[tuple[str, float], ExtractMapping] = {}


def read_mapping(path: str | os.PathLike) -> ExtractMapping:
    """Parse and check a TOML mapping file; LoadError naming the file (and line) for anything wrong."""
    resolved = Path(path)
    try:
        stamp = resolved.stat().st_mtime
    except FileNotFoundError as exc:
        raise LoadError("mapping file not found", resolved) from exc
    key = (str(resolved.resolve()), stamp)
    if key in _MAPPING_CACHE:
        return _MAPPING_CACHE[key]
    document, text = _read_toml(resolved)
    unknown_sections = set(document) - {"extract", "columns"}
    if unknown_sections:
        raise LoadError(f"unknown section(s) {sorted(unknown_sections)}; expected [extract] and [columns]", resolved)
    settings = document.get("extract", {})
    columns = document.get("columns", {})
    if not isinstance(settings, dict) or not isinstance(columns, dict):
        raise LoadError("[extract] and [columns] must be tables", resolved)
    unknown_keys = set(settings) - {"force", "recorded_at_format", "outcome_date_format", "true_values", "false_values"}
    if unknown_keys:
        raise LoadError(f"unknown key(s) in [extract]: {sorted(unknown_keys)}", resolved)
    unknown_columns = [c for c in columns if c not in EXTRACT_COLUMNS]
    if unknown_columns:
        raise LoadError(
            f"[columns] names column(s) we do not have: {unknown_columns}; ours are {', '.join(EXTRACT_COLUMNS)}",
            resolved,
        )
    for ours, theirs in columns.items():
        if not isinstance(theirs, str) or not theirs.strip():
            raise LoadError(f"[columns] {ours} must be a non-empty column name in quotes, not {_typed(theirs)}",
                            resolved, _line_of(text, ours))
    unmapped = [c for c in REQUIRED_WITH_MAPPING if c not in columns]
    if unmapped:
        raise LoadError(f"[columns] must map {', '.join(unmapped)}", resolved)
    _check_settings(settings, text, resolved)
    mapping = ExtractMapping(
        path=str(resolved),
        columns={ours: theirs.strip() for ours, theirs in columns.items()},
        force=settings.get("force"),
        recorded_at_format=settings.get("recorded_at_format"),
        outcome_date_format=settings.get("outcome_date_format"),
        true_values=tuple(v.strip().lower() for v in settings.get("true_values", DEFAULT_TRUE)),
        false_values=tuple(v.strip().lower() for v in settings.get("false_values", DEFAULT_FALSE)),
    )
    overlap = set(mapping.true_values) & set(mapping.false_values)
    if overlap:
        raise LoadError(f"value(s) {sorted(overlap)} are both true_values and false_values", resolved)
    _MAPPING_CACHE[key] = mapping
    return mapping


def _read_toml(path: Path) -> tuple[dict, str]:
    """The parsed document and its text; LoadError with the line for bytes that are not UTF-8 or bad TOML."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LoadError(
            f"the mapping file is not UTF-8: byte 0x{data[exc.start]:02x} at byte {exc.start} cannot be decoded"
            " (save it as UTF-8)",
            path,
            data[: exc.start].count(b"\n") + 1,
        ) from exc
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        raise LoadError(f"not valid TOML: {exc}", path, line) from exc


def _typed(value: object) -> str:
    """`42 (a whole number)` — a TOML value and its type, for messages."""
    kinds = {bool: "true/false", int: "a whole number", float: "a number", str: "text", list: "a list",
             dict: "a table"}
    return f"{value!r} ({kinds.get(type(value), type(value).__name__)})"


def _line_of(text: str, key: str) -> int | None:
    """The line of the first `key = ...` in a TOML text (for messages), or None."""
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip().startswith(key) and line.strip()[len(key):].lstrip().startswith("="):
            return number
    return None


def _check_settings(settings: dict, text: str, path: Path) -> None:
    """Each [extract] value has its type: force and formats text, true/false values lists of text; a format
    must read back a date-time it wrote (so '%d/%m/%Y' passes and 'dd/mm/yyyy' or '%Q' do not)."""
    for name in ("force", "recorded_at_format", "outcome_date_format"):
        value = settings.get(name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise LoadError(f"[extract] {name} must be text in quotes, not {_typed(value)}", path, _line_of(text, name))
    for name in ("recorded_at_format", "outcome_date_format"):
        fmt = settings.get(name)
        if fmt is None:
            continue
        sample = datetime(2021, 3, 14, 15, 9, 26)
        try:
            parsed = datetime.strptime(sample.strftime(fmt), fmt)
        except ValueError:
            parsed = None
        if parsed is None or parsed.date() != sample.date():
            raise LoadError(
                f"[extract] {name} {fmt!r} is not a strptime format that reads a date (e.g. '%d/%m/%Y %H:%M')",
                path, _line_of(text, name),
            )
    for name in ("true_values", "false_values"):
        value = settings.get(name)
        if value is None:
            continue
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
            raise LoadError(
                f"[extract] {name} must be a list of texts such as [\"Y\", \"Yes\", \"1\"], not {_typed(value)}",
                path, _line_of(text, name),
            )


def _mapping_from_options(options: dict | None) -> ExtractMapping:
    path = (options or {}).get("mapping")
    return read_mapping(path) if path else ExtractMapping()


def detect(header: list[str], options: dict | None = None) -> str | None:
    """'extract' when the header carries the incident reference and recorded date-time columns
    (canonical names, or the mapped names with `--mapping`); `load` then checks the rest and names
    any missing column."""
    mapping = _mapping_from_options(options)
    names = {h.strip() for h in header}
    if mapping.columns["incident_ref"] in names and mapping.columns["recorded_at"] in names:
        return "extract"
    return None


def normalise_offence_code(code: str) -> str | None:
    """' 8n ' -> '8N' (trimmed, upper-case); None for empty. Leading zeros are handled at lookup."""
    text = code.strip().upper()
    if not text:
        return None
    return text


def category_for_offence_code(code: str | None) -> str | None:
    """The police.uk crime type of a Home Office offence code, or None when the code is unknown."""
    if not code:
        return None
    if code in OFFENCE_CODE_TO_POLICEUK_CATEGORY:
        return OFFENCE_CODE_TO_POLICEUK_CATEGORY[code]
    stripped = code.lstrip("0")
    return OFFENCE_CODE_TO_POLICEUK_CATEGORY.get(stripped)


_DATE_DIRECTIVES = frozenset("aAwdbBmyYjUWuGVx")
_TIME_DIRECTIVES = frozenset("HIpMSfzZX")
_UK = ZoneInfo("Europe/London")
_MISSING = object()


def _directives(fmt: str) -> set[str]:
    return {fmt[i + 1] for i in range(len(fmt) - 1) if fmt[i] == "%" and fmt[i + 1] != "%"}


class DateTimeParser:
    """`recorded_at` text -> naive local datetime, or None when it does not parse.

    Without a format: ISO 8601 (`YYYY-MM-DD HH:MM[:SS]`, `T` separator, or a date alone); an ISO value
    with a UTC offset is converted to UK local time. With a strptime format: that format; a
    "<date part> <time part>" format is parsed part by part with a cache of each part (fast on big
    extracts: a few thousand distinct dates and 1,440 minutes)."""

    def __init__(self, fmt: str | None):
        self.fmt = fmt
        self.split: tuple[str, str] | None = None
        if fmt and fmt.count(" ") == 1:
            date_fmt, time_fmt = fmt.split(" ")
            if _directives(date_fmt) <= _DATE_DIRECTIVES and _directives(time_fmt) <= _TIME_DIRECTIVES - {"z", "Z"}:
                self.split = (date_fmt, time_fmt)
        self._dates: dict[str, object] = {}
        self._times: dict[str, object] = {}

    def _cached(self, cache: dict, text: str, fmt: str, part: str):
        value = cache.get(text, _MISSING)
        if value is _MISSING:
            try:
                parsed = datetime.strptime(text, fmt)
                value = parsed.date() if part == "date" else parsed.time()
            except ValueError:
                value = None
            cache[text] = value
        return value

    def __call__(self, text: str) -> datetime | None:
        if not self.fmt:
            try:
                value = datetime.fromisoformat(text)
            except ValueError:
                return None
            if value.tzinfo is not None:
                value = value.astimezone(_UK).replace(tzinfo=None)
            return value
        if self.split:
            parts = text.split(" ")
            if len(parts) == 2:
                day = self._cached(self._dates, parts[0], self.split[0], "date")
                clock = self._cached(self._times, parts[1], self.split[1], "time")
                return datetime.combine(day, clock) if day is not None and clock is not None else None
        try:
            return datetime.strptime(text, self.fmt)
        except ValueError:
            return None


def _parse_flag(text: str, mapping: ExtractMapping) -> tuple[bool | None, bool]:
    """(value, ok): empty -> (None, True); a known true/false value -> (bool, True); else (None, False)."""
    lowered = text.strip().lower()
    if not lowered:
        return None, True
    if lowered in mapping.true_values:
        return True, True
    if lowered in mapping.false_values:
        return False, True
    return None, False


def load(
    session: WriteSession,
    files: list[tuple[ScannedFile, str]],
    force: str | None = None,
    mapping: str | None = None,
    **_options,
) -> None:
    """Load force incident extracts into `incidents`."""
    parsed_mapping = read_mapping(mapping) if mapping else ExtractMapping()
    force_text = parsed_mapping.force or force
    force_id = resolve_force_id(force_text) if force_text else None
    con = session.con
    for scanned, _kind in files:
        if force_id is None:
            if force_text:
                raise LoadError(f"force {force_text!r} is not a police force of England and Wales", scanned.display)
            raise LoadError(
                "cannot tell which force this incident extract belongs to: pass --force or set force in the"
                " [extract] section of the mapping file",
                scanned.display,
            )
        header = [h.strip() for h in scanned.header]
        present = set(header)
        missing = [f"{ours} (their {theirs!r})" if ours != theirs else ours
                   for ours, theirs in parsed_mapping.columns.items() if theirs not in present]
        if missing:
            source = f"mapping {parsed_mapping.path}" if parsed_mapping.path else "the canonical extract columns"
            raise LoadError(f"incident extract lacks column(s) required by {source}: {', '.join(missing)}", scanned.display, 1)
        rows, rejects = _parse_rows(scanned, header, parsed_mapping, force_id, session.date_window())
        con.execute("DROP TABLE IF EXISTS raw_extract")
        con.execute(
            """
            CREATE TEMP TABLE raw_extract (
                incident_ref VARCHAR, recorded_at TIMESTAMP, offence_code VARCHAR, offence_description VARCHAR,
                crime_type VARCHAR, district VARCHAR, lsoa_code VARCHAR, domestic_abuse BOOLEAN,
                hate_crime BOOLEAN, child_victim BOOLEAN, outcome VARCHAR, outcome_date DATE,
                victim_key VARCHAR, force_id VARCHAR)
            """
        )
        insert_rows(con, "raw_extract", rows)
        con.execute("DROP TABLE IF EXISTS staged_incidents")
        con.execute(f"CREATE TEMP TABLE staged_incidents AS {(SQL_DIR / 'stg_extract_incidents.sql').read_text()}")
        con.execute("DROP TABLE raw_extract")
        replace_and_log(session, scanned, kind="extract", table="incidents", staged="staged_incidents",
                        keys=["force_id", "incident_ref"], rejects=rejects, rows_read=len(rows) + len(rejects),
                        force_id=force_id)


class _OutcomeDates:
    """`outcome_date` text -> date (None when it does not parse), cached: few distinct dates per extract."""

    def __init__(self, fmt: str):
        self.fmt = fmt
        self.cache: dict[str, date | None] = {}

    def __call__(self, text: str) -> date | None:
        if text not in self.cache:
            try:
                self.cache[text] = datetime.strptime(text, self.fmt).date()
            except ValueError:
                self.cache[text] = None
        return self.cache[text]


def _parse_rows(scanned: ScannedFile, header: list[str], mapping: ExtractMapping, force_id: str, window):
    """Cast each record once; returns (rows for raw_extract, rejects)."""
    rows: list[tuple] = []
    rejects: list[tuple[int, str, str]] = []
    seen: dict[str, int] = {}
    columns = mapping.columns
    parse_recorded = DateTimeParser(mapping.recorded_at_format)
    parse_outcome = _OutcomeDates(mapping.outcome_date_format or "%Y-%m-%d")
    for record in read_records(scanned, header):
        if isinstance(record, BadRecord):
            rejects.append((record.line, record.reason, record.raw))
            continue
        raw = {ours: (record.values.get(columns[ours], "") if ours in columns else "") for ours in EXTRACT_COLUMNS}
        recorded_at = parse_recorded(raw["recorded_at"]) if raw["recorded_at"] else None
        outcome_date = parse_outcome(raw["outcome_date"]) if raw["outcome_date"] else None
        flags = {name: _parse_flag(raw[name], mapping) for name in FLAG_COLUMNS}
        reason = _reject_reason(raw, recorded_at, outcome_date, flags, mapping, window)
        if reason is None and raw["incident_ref"] in seen:
            reason = f"duplicate incident: {raw['incident_ref']} already on line {seen[raw['incident_ref']]}"
        if reason:
            rejects.append((record.line, reason, record.raw))
            continue
        seen[raw["incident_ref"]] = record.line
        code = normalise_offence_code(raw["offence_code"])
        rows.append(
            (
                raw["incident_ref"],
                recorded_at,
                code,
                raw["offence_description"] or None,
                category_for_offence_code(code),
                raw["district"] or None,
                raw["lsoa_code"].upper() or None,
                flags["domestic_abuse"][0],
                flags["hate_crime"][0],
                flags["child_victim"][0],
                raw["outcome"] or None,
                outcome_date,
                raw["victim_key"] or None,
                force_id,
            )
        )
    return rows, rejects


def _reject_reason(raw: dict[str, str], recorded_at: datetime | None, outcome_date: date | None, flags: dict,
                   mapping: ExtractMapping, window) -> str | None:
    """Why a parsed record cannot be loaded (column names as the file spells them), or None."""
    columns = mapping.columns
    if not raw["incident_ref"]:
        return f"{_their(columns, 'incident_ref')} is empty"
    if recorded_at is None:
        hint = mapping.recorded_at_format or "YYYY-MM-DD HH:MM[:SS]"
        return f"{_their(columns, 'recorded_at')} {raw['recorded_at']!r} is not a date-time ({hint})"
    if raw["outcome_date"] and outcome_date is None:
        return (f"{_their(columns, 'outcome_date')} {raw['outcome_date']!r} is not a date"
                f" ({mapping.outcome_date_format or '%Y-%m-%d'})")
    outside = window.reason(f"{_their(columns, 'recorded_at')} {raw['recorded_at']!r}", recorded_at)
    if outside is None and outcome_date is not None:
        outside = window.reason(f"{_their(columns, 'outcome_date')} {raw['outcome_date']!r}", outcome_date)
    if outside:
        return outside
    if outcome_date is not None and outcome_date < recorded_at.date():
        return (f"{_their(columns, 'outcome_date')} {raw['outcome_date']!r} is before the incident was recorded"
                f" ({_their(columns, 'recorded_at')} {raw['recorded_at']!r}): an outcome cannot precede its crime")
    if not raw["offence_code"]:
        return f"{_their(columns, 'offence_code')} is empty"
    for name, (_value, ok) in flags.items():
        if not ok:
            return (f"{_their(columns, name)} {raw[name]!r} is not a yes/no value "
                    f"(true: {', '.join(mapping.true_values)}; false: {', '.join(mapping.false_values)})")
    return None


def _their(columns: dict[str, str], ours: str) -> str:
    theirs = columns.get(ours, ours)
    return ours if theirs == ours else f"{theirs} ({ours})"


__all__ = ["EXTRACT_COLUMNS", "HEADERS", "ExtractMapping", "category_for_offence_code", "detect", "load", "read_mapping"]
