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
left empty. Without one, the file must carry every canonical column.

Offence codes are mapped to the police.uk crime type with the Home Office table (generated into
`etl/reference_codes.py`); codes are compared upper-case, also without leading zeros ("008N" = "8N").
An incident whose code is not in the table is kept with `crime_type` empty. `district` comes from the
file, else from the `lsoa` table for its `lsoa_code`. Rows replace the warehouse's rows with the same
(force_id, incident_ref).
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
from etl.sources.tidy_csv import BadRecord, read_records, resolve_force_id
from etl.warehouse import FileLoad, LoadError, WriteSession

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
    """Parse and check a TOML mapping file; LoadError naming the file for anything wrong."""
    resolved = Path(path)
    try:
        stamp = resolved.stat().st_mtime
    except FileNotFoundError as exc:
        raise LoadError("mapping file not found", resolved) from exc
    key = (str(resolved.resolve()), stamp)
    if key in _MAPPING_CACHE:
        return _MAPPING_CACHE[key]
    try:
        with open(resolved, "rb") as handle:
            document = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise LoadError(f"not valid TOML: {exc}", resolved) from exc
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
    not_text = [c for c, v in columns.items() if not isinstance(v, str) or not v.strip()]
    if not_text:
        raise LoadError(f"[columns] value(s) must be non-empty column names: {not_text}", resolved)
    unmapped = [c for c in REQUIRED_WITH_MAPPING if c not in columns]
    if unmapped:
        raise LoadError(f"[columns] must map {', '.join(unmapped)}", resolved)
    mapping = ExtractMapping(
        path=str(resolved),
        columns={ours: theirs.strip() for ours, theirs in columns.items()},
        force=settings.get("force"),
        recorded_at_format=settings.get("recorded_at_format"),
        outcome_date_format=settings.get("outcome_date_format"),
        true_values=tuple(str(v).strip().lower() for v in settings.get("true_values", DEFAULT_TRUE)),
        false_values=tuple(str(v).strip().lower() for v in settings.get("false_values", DEFAULT_FALSE)),
    )
    overlap = set(mapping.true_values) & set(mapping.false_values)
    if overlap:
        raise LoadError(f"value(s) {sorted(overlap)} are both true_values and false_values", resolved)
    _MAPPING_CACHE[key] = mapping
    return mapping


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
        rows, rejects = _parse_rows(scanned, header, parsed_mapping, force_id)
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
        loaded = session.replace_rows("incidents", "staged_incidents", ["force_id", "incident_ref"])
        for temp in ("raw_extract", "staged_incidents"):
            con.execute(f"DROP TABLE IF EXISTS {temp}")
        session.add_rejects(scanned.display, rejects)
        session.log_file(
            FileLoad(
                path=scanned.display,
                kind="extract",
                force_id=force_id,
                sha256=scanned.sha256,
                rows_read=len(rows) + len(rejects),
                rows_loaded=loaded,
                rows_rejected=len(rejects),
            )
        )


def _parse_rows(scanned: ScannedFile, header: list[str], mapping: ExtractMapping, force_id: str):
    """Cast each record once; returns (rows for raw_extract, rejects)."""
    rows: list[tuple] = []
    rejects: list[tuple[int, str, str]] = []
    seen: dict[str, int] = {}
    columns = mapping.columns
    recorded_hint = mapping.recorded_at_format or "YYYY-MM-DD HH:MM[:SS]"
    outcome_format = mapping.outcome_date_format or "%Y-%m-%d"
    parse_recorded = DateTimeParser(mapping.recorded_at_format)
    outcome_dates: dict[str, date | None] = {}
    for record in read_records(scanned.path, header):
        if isinstance(record, BadRecord):
            rejects.append((record.line, record.reason, record.raw))
            continue
        raw = {ours: (record.values.get(columns[ours], "") if ours in columns else "") for ours in EXTRACT_COLUMNS}
        reason = None
        incident_ref = raw["incident_ref"]
        recorded_at = parse_recorded(raw["recorded_at"]) if raw["recorded_at"] else None
        outcome_date = None
        if raw["outcome_date"]:
            if raw["outcome_date"] not in outcome_dates:
                try:
                    outcome_dates[raw["outcome_date"]] = datetime.strptime(raw["outcome_date"], outcome_format).date()
                except ValueError:
                    outcome_dates[raw["outcome_date"]] = None
            outcome_date = outcome_dates[raw["outcome_date"]]
        flags = {name: _parse_flag(raw[name], mapping) for name in FLAG_COLUMNS}
        if not incident_ref:
            reason = f"{_their(columns, 'incident_ref')} is empty"
        elif recorded_at is None:
            reason = f"{_their(columns, 'recorded_at')} {raw['recorded_at']!r} is not a date-time ({recorded_hint})"
        elif raw["outcome_date"] and outcome_date is None:
            reason = f"{_their(columns, 'outcome_date')} {raw['outcome_date']!r} is not a date ({outcome_format})"
        elif not raw["offence_code"]:
            reason = f"{_their(columns, 'offence_code')} is empty"
        else:
            for name, (_value, ok) in flags.items():
                if not ok:
                    reason = (
                        f"{_their(columns, name)} {raw[name]!r} is not a yes/no value "
                        f"(true: {', '.join(mapping.true_values)}; false: {', '.join(mapping.false_values)})"
                    )
                    break
        if reason is None and incident_ref in seen:
            reason = f"duplicate incident: {incident_ref} already on line {seen[incident_ref]}"
        if reason:
            rejects.append((record.line, reason, record.raw))
            continue
        seen[incident_ref] = record.line
        code = normalise_offence_code(raw["offence_code"])
        rows.append(
            (
                incident_ref,
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


def _their(columns: dict[str, str], ours: str) -> str:
    theirs = columns.get(ours, ours)
    return ours if theirs == ours else f"{theirs} ({ours})"


__all__ = ["EXTRACT_COLUMNS", "HEADERS", "ExtractMapping", "category_for_offence_code", "detect", "load", "read_mapping"]
