"""Shared reading for the small tidy CSV formats we define (fraud, force measures, force incident extract).

These files are small (thousands to a few hundred thousand rows), so a plain Python `csv` pass is used:
it gives each record's physical line number (header = line 1) and raw text for rejects exactly, and
handles a UTF-8 byte-order mark and quoted fields spanning lines. Not a source module itself.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from etl.sources.common import FORCES, force_id_for


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


def read_records(path: Path, header: list[str]) -> Iterator[Record | BadRecord]:
    """Every record after the header; a record with the wrong number of fields is a BadRecord.

    Blank lines are skipped (not counted as rows)."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        text_lines = handle.read().splitlines(keepends=True)
    reader = csv.reader(text_lines, strict=False)
    start_line = 1
    first = True
    width = len(header)
    for record in reader:
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
