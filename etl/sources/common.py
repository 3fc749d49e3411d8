"""Helpers shared by the source loaders: file scanning, headers, force names, months, reject lines."""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from etl.warehouse import LoadError

# data.police.uk force ids and names (as its /api/forces lists them)
FORCES: dict[str, str] = {
    "avon-and-somerset": "Avon and Somerset Constabulary",
    "bedfordshire": "Bedfordshire Police",
    "btp": "British Transport Police",
    "cambridgeshire": "Cambridgeshire Constabulary",
    "cheshire": "Cheshire Constabulary",
    "city-of-london": "City of London Police",
    "cleveland": "Cleveland Police",
    "cumbria": "Cumbria Constabulary",
    "derbyshire": "Derbyshire Constabulary",
    "devon-and-cornwall": "Devon & Cornwall Police",
    "dorset": "Dorset Police",
    "durham": "Durham Constabulary",
    "dyfed-powys": "Dyfed-Powys Police",
    "essex": "Essex Police",
    "gloucestershire": "Gloucestershire Constabulary",
    "greater-manchester": "Greater Manchester Police",
    "gwent": "Gwent Police",
    "hampshire": "Hampshire Constabulary",
    "hertfordshire": "Hertfordshire Constabulary",
    "humberside": "Humberside Police",
    "kent": "Kent Police",
    "lancashire": "Lancashire Constabulary",
    "leicestershire": "Leicestershire Police",
    "lincolnshire": "Lincolnshire Police",
    "merseyside": "Merseyside Police",
    "metropolitan": "Metropolitan Police Service",
    "norfolk": "Norfolk Constabulary",
    "north-wales": "North Wales Police",
    "north-yorkshire": "North Yorkshire Police",
    "northamptonshire": "Northamptonshire Police",
    "northumbria": "Northumbria Police",
    "nottinghamshire": "Nottinghamshire Police",
    "northern-ireland": "Police Service of Northern Ireland",
    "south-wales": "South Wales Police",
    "south-yorkshire": "South Yorkshire Police",
    "staffordshire": "Staffordshire Police",
    "suffolk": "Suffolk Constabulary",
    "surrey": "Surrey Police",
    "sussex": "Sussex Police",
    "thames-valley": "Thames Valley Police",
    "warwickshire": "Warwickshire Police",
    "west-mercia": "West Mercia Police",
    "west-midlands": "West Midlands Police",
    "west-yorkshire": "West Yorkshire Police",
    "wiltshire": "Wiltshire Police",
}
_NAME_TO_ID = {name.lower(): force_id for force_id, name in FORCES.items()}
_FORCE_WORDS = re.compile(r"\b(police|constabulary|service|force|of)\b")


def force_id_for(name: str | None) -> str | None:
    """The data.police.uk force id for a force name in any of its usual spellings.

    "Essex Police", "Essex", "essex" -> "essex"; "Metropolitan Police" -> "metropolitan";
    "London, City of" -> "city-of-london"; "Devon and Cornwall" -> "devon-and-cornwall".
    """
    if name is None:
        return None
    text = name.strip()
    if not text:
        return None
    lowered = text.lower()
    if lowered in FORCES:
        return lowered
    if lowered in _NAME_TO_ID:
        return _NAME_TO_ID[lowered]
    if lowered == "police service of northern ireland":
        return "northern-ireland"
    if lowered in {"london, city of", "city of london"}:
        return "city-of-london"
    if lowered in {"british transport police", "btp"}:
        return "btp"
    words = lowered.replace("&", " and ")
    words = _FORCE_WORDS.sub(" ", words)
    slug = re.sub(r"[^a-z0-9]+", "-", words).strip("-")
    return slug or None


def force_name_for(force_id: str | None) -> str | None:
    if force_id is None:
        return None
    return FORCES.get(force_id, force_id.replace("-", " ").title())


_MONTH_IN_NAME = re.compile(r"(?<!\d)(\d{4})-(0[1-9]|1[0-2])(?!\d)")


def month_from_path(path: Path) -> date | None:
    """The month a data.police.uk file belongs to, from its name (`2019-01-essex-street.csv`) or its
    month folder (`2019-01/`). None when neither says."""
    for part in (path.name, path.parent.name):
        match = _MONTH_IN_NAME.match(part)
        if match:
            return date(int(match.group(1)), int(match.group(2)), 1)
    return None


def district_from_lsoa_name(lsoa_name: str | None) -> str | None:
    """ "Basildon 001A" -> "Basildon" (the LSOA name without its code suffix)."""
    if not lsoa_name:
        return None
    return re.sub(r"\s+\d{3}[A-Z]$", "", lsoa_name.strip())


# SQL expression doing the same as district_from_lsoa_name, for staging SQL
DISTRICT_SQL = r"nullif(regexp_replace(trim({col}), '\s+\d{{3}}[A-Z]$', ''), '')"


@dataclass
class ScannedFile:
    """A source file after the byte-level checks: readable, UTF-8, not empty; its header parsed."""

    path: Path
    display: str
    sha256: str
    header: list[str]
    has_bom: bool
    size: int
    extra: dict = field(default_factory=dict)
    lines: int = 0  # physical lines, header included (a last line without a newline counts)


def scan_file(path: Path, display: str | None = None) -> ScannedFile:
    """Hash the file and check it is non-empty UTF-8 text with a header line, no NUL byte anywhere and
    LF or CRLF line endings; count its physical lines.

    Raises LoadError naming the file and, for bad bytes, the line.
    """
    display = display or str(path)
    try:
        return _scan(path, display)
    except OSError as exc:  # unreadable (permissions, a device error): a message, not a traceback
        raise LoadError(f"cannot read the file ({exc.strerror or exc})", display) from exc


def _scan(path: Path, display: str) -> ScannedFile:
    size = path.stat().st_size
    if size == 0:
        raise LoadError("the file is empty (0 bytes); expected a CSV with a header line", display)
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    first_chunk = b""
    line = 1
    offset = 0
    last_byte = b""
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            if not first_chunk:
                first_chunk = block[:65536]
                _check_first_chunk(first_chunk, display)
            digest.update(block)
            if b"\x00" in block:
                _refuse_nul(block, line, offset, display)
            # ASCII blocks (nearly all of them) need no decoding unless a character is split across blocks
            if not block.isascii() or decoder.getstate()[0]:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as exc:
                    bad_line = line + block[: exc.start].count(b"\n")
                    raise LoadError(
                        f"the file is not UTF-8: byte 0x{block[exc.start]:02x} at byte {offset + exc.start}"
                        " cannot be decoded (save it as UTF-8)",
                        display,
                        bad_line,
                    ) from exc
            line += _count_newlines(block)
            offset += len(block)
            last_byte = block[-1:]
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise LoadError("the file is not UTF-8: it ends inside a multi-byte character", display, line) from exc
    has_bom = first_chunk.startswith(codecs.BOM_UTF8)
    text = first_chunk[3:] if has_bom else first_chunk
    header_line = text.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", errors="replace")
    if not header_line.strip():
        raise LoadError("the first line is empty; expected a CSV header", display, 1)
    try:
        header = [name.strip() for name in next(csv.reader(io.StringIO(header_line)))]
    except csv.Error as exc:
        raise LoadError(f"the header line is not valid CSV ({exc})", display, 1) from exc
    lines = line - 1 + (last_byte != b"\n")
    return ScannedFile(path=path, display=display, sha256=digest.hexdigest(), header=header, has_bom=has_bom,
                       size=size, lines=lines)


def _count_newlines(block: bytes) -> int:
    """LF bytes in a block. numpy compares without holding the GIL (the scan runs in threads) and is twice
    as fast as `bytes.count` here: at national scale (5 GB) that is 1.5 CPU-s."""
    import numpy as np

    return int(np.count_nonzero(np.frombuffer(block, dtype=np.uint8) == 10))


def _check_first_chunk(chunk: bytes, display: str) -> None:
    """UTF-16 (byte-order mark or NUL bytes in the first 64 kB) and CR-only line endings."""
    if chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise LoadError("the file is UTF-16 encoded; save it as UTF-8 (data.police.uk files are UTF-8)", display, 1)
    if b"\x00" in chunk:
        raise LoadError(
            "the file contains NUL bytes: it looks like UTF-16 without a byte-order mark, or is not text;"
            " save it as UTF-8",
            display,
            chunk[: chunk.index(b"\x00")].count(b"\n") + 1,
        )
    first_cr, first_lf = chunk.find(b"\r"), chunk.find(b"\n")
    if first_cr != -1 and (first_lf == -1 or first_cr < first_lf) and chunk[first_cr + 1 : first_cr + 2] != b"\n":
        raise LoadError(
            "the lines end with a carriage return only (CR, as old Mac OS wrote text): CSV readers see one"
            " endless line. Save the file with LF or CRLF line endings",
            display,
            1,
        )


def _refuse_nul(block: bytes, line: int, offset: int, display: str) -> None:
    position = block.index(b"\x00")
    raise LoadError(
        f"the file contains a NUL byte (at byte {offset + position}); a text CSV has none: the file may be"
        " damaged or not text. Remove the NUL bytes or fetch the file again",
        display,
        line + block[:position].count(b"\n"),
    )


# the temporary folder of `literal_paths` must look like this (DuckDB expands * ? [ ] and a leading ~)
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9/._-]*")


@contextlib.contextmanager
def literal_paths(paths: list[Path]) -> Iterator[list[str]]:
    """Paths DuckDB can be given without any being read as a pattern: a symlink per file, named
    `000000.csv`, `000001.csv`, ... in a fresh temporary folder (same order as `paths`).

    DuckDB's read_csv expands `*`, `?` and `[...]` in every path it is given, so a file named
    `2018-12-ess*-street.csv` would also read its neighbours. Pass `compression = 'none'` with these paths
    (the link names say nothing about compression); `read_csv_source` does."""
    folder = Path(tempfile.mkdtemp(prefix="crime-monitor-read-"))
    try:
        if not _PLAIN_PATH.fullmatch(str(folder)):
            raise LoadError(f"the temporary folder's path {str(folder)!r} has characters other than letters, digits"
                            " and / . _ - (DuckDB reads * ? [ ] as patterns); set TMPDIR to a plainer folder")
        links = []
        for number, path in enumerate(paths):
            link = folder / f"{number:06d}.csv"
            os.symlink(os.path.abspath(path), link)
            links.append(str(link))
        yield links
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def describe_header_mismatch(found: list[str], expected: list[str]) -> str:
    """A one-line explanation of how a header differs from the expected one."""
    found_set, expected_set = set(found), set(expected)
    missing = [name for name in expected if name not in found_set]
    extra = [name for name in found if name not in expected_set]
    parts = []
    if missing:
        parts.append("missing column(s): " + ", ".join(repr(m) for m in missing))
    if extra:
        parts.append("unexpected column(s): " + ", ".join(repr(e) for e in extra))
    if not parts and found != expected:
        for position, (have, want) in enumerate(zip(found, expected), start=1):
            if have != want:
                parts.append(f"columns out of order: column {position} is {have!r}, expected {want!r}")
                break
    if not parts and len(found) != len(expected):
        parts.append(f"{len(found)} columns, expected {len(expected)}")
    return "; ".join(parts)


def physical_lines(path: Path, ordinals: Iterable[int], skipped_lines: Iterable[int], has_header: bool = True) -> dict[int, tuple[int, str]]:
    """Map record ordinals (0-based, among the records the CSV reader accepted) to (line number, raw text).

    `skipped_lines` are the physical line numbers (1-based, header = line 1) of records the reader
    rejected; they are not counted as ordinals. Handles quoted fields spanning lines. Used only for
    the few rows a semantic check rejects, so a plain Python pass is fine.
    """
    wanted = set(ordinals)
    skipped = set(skipped_lines)
    result: dict[int, tuple[int, str]] = {}
    if not wanted:
        return result
    with open(path, encoding="utf-8-sig", newline="") as handle:
        text_lines = lines_with_ends(handle.read())
    reader = csv.reader(text_lines)
    ordinal = 0
    start_line = 1
    first = True
    for record in reader:
        end_line = reader.line_num
        if not record:  # blank line: CSV readers skip it
            start_line = end_line + 1
            continue
        if first and has_header:
            first = False
            start_line = end_line + 1
            continue
        first = False
        if start_line not in skipped:
            if ordinal in wanted:
                raw = "".join(text_lines[start_line - 1 : end_line]).rstrip("\r\n")
                result[ordinal] = (start_line, raw)
                if len(result) == len(wanted):
                    break
            ordinal += 1
        start_line = end_line + 1
    return result


def lines_with_ends(text: str) -> list[str]:
    """The physical lines of a text, each with its line end, split at LF only (as DuckDB and line numbers
    count them; `str.splitlines` would also split at form feeds, U+2028 and other characters)."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def insert_rows(con, table: str, rows: list[tuple]) -> int:
    """Bulk-insert Python tuples into an existing table through Arrow (executemany is slow in DuckDB).

    `table` is a trusted identifier; the rows are data, never SQL."""
    if not rows:
        return 0
    import pyarrow as pa

    columns = [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]
    batch = pa.table({name: [row[i] for row in rows] for i, name in enumerate(columns)})
    con.register("_insert_rows_batch", batch)
    try:
        con.execute(f"INSERT INTO {table} SELECT * FROM _insert_rows_batch")
    finally:
        con.unregister("_insert_rows_batch")
    return len(rows)


def structural_reason(message: str, raw_line: str = "", expected_columns: int = 0) -> str:
    """Turn a DuckDB CSV reader error (`ERROR TYPE: message`, from its rejects table) into a reason an
    analyst can act on; column counts are counted from the raw line."""
    kind, _, detail = message.partition(": ")
    if kind in {"MISSING COLUMNS", "TOO MANY COLUMNS"}:
        try:
            found = len(next(csv.reader([raw_line])))
        except (StopIteration, csv.Error):
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
    if kind in {"INVALID ENCODING", "INVALID UNICODE"}:
        return f"not UTF-8 text: {detail}"
    return f"{kind.lower()}: {detail}"


def install_staging_macros(con) -> None:
    """SQL macros of the staging SQL. `clean_text(x)`: x without leading and trailing spaces (U+0020), NULL
    when empty; `coordinates_reject_reason(longitude, latitude)`: why a row's coordinates cannot be loaded
    (one given without the other, or outside the UK), or NULL.

    clean_text is on every text value of a data.police.uk load (9 per street row), so its usual case, no
    padding, is kept cheap: `trim` copies every string, so it runs only on values that may need it.
    `x < '!'` (binary comparison: the first byte is a space, a control character, or x is empty) reads only
    the string's inlined first bytes, unlike `prefix(x, ' ')`; `suffix(x, ' ')` tests the last byte. Values
    that pass neither test are returned as they are: the CSV reader already reads an empty field, quoted or
    not, as NULL, so `nullif(..., '')` is needed only after trimming. Together about 10 % cheaper than
    testing `prefix` and `suffix` and always taking `nullif` (0.55 against 0.61 CPU-s for 9 columns of
    2.4 M rows); the `suffix` test, which reads the string's last byte, is most of what remains."""
    con.execute(
        """
        CREATE OR REPLACE TEMP MACRO clean_text(x) AS
            CASE WHEN x < '!' OR suffix(x, ' ') THEN nullif(trim(x, ' '), '') ELSE x END
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP MACRO coordinates_reject_reason(longitude, latitude) AS
            CASE
                WHEN (longitude IS NULL) <> (latitude IS NULL)
                    THEN 'only one of Longitude and Latitude is given'
                WHEN longitude NOT BETWEEN -8.75 AND 1.85 OR latitude NOT BETWEEN 49.8 AND 60.95
                    THEN 'coordinates (' || longitude || ', ' || latitude || ') are outside the UK'
            END
        """
    )


def read_csv_source(paths: list[str], columns: dict[str, str], rejects: str) -> tuple[str, list]:
    """A subquery reading `paths` (from `literal_paths`) with DuckDB's CSV reader, and its parameters:
    every column typed as given (bound, as are the paths: header names come from the file), no sniffing,
    the reader's rejects kept in `<rejects>_errors` / `<rejects>_scans` (a name from code), and each row's
    `file_index` (its file's position in `paths`)."""
    sql = (
        "(SELECT *, file_index FROM read_csv(?, header = true, columns = ?, auto_detect = false, delim = ',',"
        " quote = '\"', escape = '\"', strict_mode = true, store_rejects = true,"
        f" rejects_table = '{rejects}_errors', rejects_scan = '{rejects}_scans', max_line_size = 1048576,"
        " null_padding = false, encoding = 'utf-8', compression = 'none'))"
    )
    return sql, [list(paths), dict(columns)]
