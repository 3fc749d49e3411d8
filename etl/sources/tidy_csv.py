"""Shared reading for the small tidy CSV formats we define (fraud, force measures, force incident extract).

These files are small (thousands to a few hundred thousand rows), so a plain Python `csv` pass is used:
it gives each record's physical line number (header = line 1) and raw text for rejects exactly, and
handles a UTF-8 byte-order mark and quoted fields spanning lines. `replace_and_log` is the shared tail of
these loaders (and of the counts loader): replace the keys a file supplies, keep its rejects, log it.
Not a source module itself.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from etl.sources.common import FORCES, ScannedFile, force_id_for, insert_rows, lines_with_ends
from etl.warehouse import FileLoad, LoadError, WriteSession


@dataclass
class Record:
    """One CSV record: its first physical line, its raw text and its fields (a dict by header name)."""

    line: int
    raw: str
    values: dict[str, str]


@dataclass
class BadRecord:
    line: int
    raw: str
    reason: str


def read_records(scanned: ScannedFile, header: list[str]) -> Iterator[Record | BadRecord]:
    """Every record after the header; a record with the wrong number of fields is a BadRecord.

    Blank lines are skipped (not counted as rows). A record the csv module cannot read at all (a field
    over its 128 kB limit) is a LoadError naming the file and the record's first line."""
    with open(scanned.path, encoding="utf-8-sig", newline="") as handle:
        text_lines = lines_with_ends(handle.read())
    reader = csv.reader(text_lines, strict=False)
    start_line = 1
    first = True
    width = len(header)
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise csv_load_error(exc, scanned.display, start_line) from exc
        end_line = reader.line_num
        raw = "".join(text_lines[start_line - 1 : end_line]).rstrip("\r\n")
        line = start_line
        start_line = end_line + 1
        if first:
            first = False
            continue
        if not record or (len(record) == 1 and not record[0].strip()):
            continue
        if len(record) != width:
            yield BadRecord(line, raw, f"{len(record)} fields, expected {width} (the line may be cut off or have a stray comma)")
            continue
        yield Record(line, raw, {name: value.strip() for name, value in zip(header, record)})


def records_with_lines(scanned: ScannedFile) -> Iterator[tuple[int, list[str], str]]:
    """(physical line of the record's start, record, raw text of its lines) for every non-empty record after
    the header, streaming (for files too large to hold as lines: the counts and LSOA tables). A record the
    csv module cannot read is a LoadError naming the file and the record's first line."""
    with open(scanned.path, encoding="utf-8-sig", newline="") as handle:
        pending: list[str] = []

        def lines():
            for text in handle:
                pending.append(text)
                yield text

        reader = csv.reader(lines())
        start = 1
        try:
            if next(reader, None) is None:
                return
            pending.clear()
            start = reader.line_num + 1
            for record in reader:
                if record:
                    yield start, record, "".join(pending).rstrip("\r\n")
                pending.clear()
                start = reader.line_num + 1
        except csv.Error as exc:  # a field over csv's size limit: the file is not a clean CSV
            raise csv_load_error(exc, scanned.display, start) from exc


def default_force_id(force: str | None) -> str | None:
    """The force id of `--force` (None without it); LoadError when it names no force of England and Wales."""
    force_id = resolve_force_id(force) if force else None
    if force and force_id is None:
        raise LoadError(f"--force {force!r} is not a police force of England and Wales")
    return force_id


def csv_load_error(exc: csv.Error, display: str, line: int) -> LoadError:
    """The LoadError for a record Python's csv module cannot read (named by its first line)."""
    message = f"cannot read the CSV: {exc}"
    if "field larger than field limit" in str(exc):
        message += (f"; a field is longer than {csv.field_size_limit():,} characters, more than any real value"
                    " (an unterminated quote makes the rest of the file one field)")
    return LoadError(message, display, line)


def stage_rows(session: WriteSession, table: str, rows: list[tuple]) -> str:
    """A temp table `staged_<table>` with `table`'s columns holding `rows`; returns its name."""
    staged = f"staged_{table}"
    session.con.execute(f"DROP TABLE IF EXISTS {staged}")
    session.con.execute(f"CREATE TEMP TABLE {staged} AS SELECT * FROM {table} LIMIT 0")
    insert_rows(session.con, staged, rows)
    return staged


def replace_and_log(
    session: WriteSession,
    scanned: ScannedFile,
    *,
    kind: str,
    table: str,
    staged: str,
    keys: list[str],
    rejects: list[tuple[int | None, str, str | None]],
    rows_read: int,
    force_id: str | None = None,
    records_loaded: int | None = None,
) -> FileLoad:
    """The shared tail of the keyed loaders: replace `table`'s rows whose `keys` the staged rows carry
    (refusing keys another file of this load supplied), drop the staged table, keep the file's rejects
    and log the file (which applies the replacement rule of etl.plausibility). `records_loaded`: the
    file's records loaded, when a record is not one table row (a wide counts row holds many months).

    Rows are replaced key by key, so a rejected row never removes the row its key had: only the "nothing
    accepted" rule applies to these files (rows_replaced stays 0)."""
    loaded, _replaced = session.replace_keyed(table, staged, keys, scanned.display)
    if records_loaded is not None:
        loaded = records_loaded
    if force_id is None:
        forces = session.con.execute(f"SELECT DISTINCT force_id FROM {staged} LIMIT 2").fetchall()
        force_id = forces[0][0] if len(forces) == 1 else None
    session.con.execute(f"DROP TABLE IF EXISTS {staged}")
    session.add_rejects(scanned.display, rejects)
    entry = FileLoad(
        path=scanned.display,
        kind=kind,
        force_id=force_id,
        sha256=scanned.sha256,
        rows_read=rows_read,
        rows_loaded=loaded,
        rows_rejected=len(rejects),
    )
    session.log_file(entry)
    return entry


_DFT_CODE = re.compile(r"^\d{1,2}$")


def resolve_force_id(text: str | None) -> str | None:
    """A data.police.uk force id from a force name ("Essex Police", "Essex") or a DfT police_force code
    ("42"); None when empty or not a force of England and Wales."""
    if text is None or not text.strip():
        return None
    value = text.strip()
    if _DFT_CODE.match(value):
        from etl.sources.stats19 import force_id_for_dft_code

        candidate = force_id_for_dft_code(int(value))
    else:
        candidate = force_id_for(value)
    return candidate if candidate in FORCES else None


def parse_month(text: str) -> date | None:
    """'2020-03' -> date(2020, 3, 1); None if not YYYY-MM."""
    try:
        parsed = datetime.strptime(text.strip(), "%Y-%m")
    except ValueError:
        return None
    return date(parsed.year, parsed.month, 1)


def parse_date(text: str, fmt: str = "%Y-%m-%d") -> date | None:
    try:
        return datetime.strptime(text.strip(), fmt).date()
    except ValueError:
        return None


def parse_number(text: str) -> float | None:
    """A plain number ('1234.5', '1,234.5', '£1,234'); None if not a finite number."""
    cleaned = text.strip().replace(",", "").lstrip("£")
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
