"""Table exports for people: a metric frame -> CSV and XLSX, after disclosure control.

`table_files(frame, notes, columns)` (the call the UI makes for every table) writes the columns named in
`columns` (`briefing.export_spec.Column`), headed in words with their units and rounded as on screen
(p- and q-values to three decimals, "<0.001" below), with the notes of `notes` (`ExportNotes`):

- CSV (UTF-8 with a byte-order mark, so Excel shows "—" and "£"): a block of `CSV_NOTE_LINES` note lines
  ("Data status", title, source, units, period, filters in words, data as at, caveats, disclosure control,
  columns, produced by; two fields each), one empty line, then the header and the rows. Read it with
  `pandas.read_csv(path, skiprows=CSV_SKIPROWS)`. From the demo, line 1 says "Demo data — synthetic" and
  every row ends with a "Data status" column saying so (it survives sorting and pasting rows elsewhere).
- XLSX: sheet "Data" (title in row 1; row 2 the demo banner, or period, filters and as-at date; row 3 the
  disclosure note; the header in row `XLSX_HEADER_ROW`, bold and frozen; the same "Data status" column from
  the demo), sheet "Notes" (the same notes as the CSV block, one per row) and sheet "Provenance" (what
  produced the file, labelled in words, with the raw filter record for reproducing it).

Cells: withheld counts show the disclosure markers ("<5", "[c]"); text that a spreadsheet would run as a
formula (starting with =, +, -, @) is written as text (XLSX) or behind a leading apostrophe (CSV).
`table_downloads` is the older raw export (code column names, values as they are, CSV header on line 1)
with the same XLSX notes and demo marks.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from briefing import __version__, disclosure
from briefing.disclosure import DisclosureRule, ProtectedTable, protect_frame
from briefing.export_spec import DEMO_MARK, DEMO_NOTE, P_VALUE_FLOOR, Column, ExportNotes
from briefing.images import Download, safe_basename
from briefing.provenance import filters_dict, filters_in_words, provenance_for, provenance_lines, with_data_status

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv"
DATA_STATUS_COLUMN = "Data status"
NOTE_LABELS = ("Data status", "Title", "Source", "Units", "Period", "Filters", "Data as at", "Caveats",
               "Disclosure control", "Columns", "Produced by")
CSV_NOTE_LINES = len(NOTE_LABELS)
CSV_SKIPROWS = CSV_NOTE_LINES + 1  # the notes and the empty line after them
XLSX_HEADER_ROW = 5
DEMO_FILL = "B03A00"  # the pack's warning colour
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d[\d,]*)?(\.\d+)?%?$")
_WORDS = {"lsoa": "LSOA", "msoa": "MSOA", "ksi": "KSI", "asb": "ASB", "id": "ID", "bh": "BH", "ci": "CI",
          "gbp": "(£)", "pct": "(%)", "1000": "1,000", "utc": "(UTC)"}


# ---------------------------------------------------------------------------------------------
# columns and cells
# ---------------------------------------------------------------------------------------------
def column_words(name: str) -> str:
    """A header in words from a code name: 'rate_per_1000' -> 'Rate per 1,000', 'positive_outcome_pct' ->
    'Positive outcome (%)', 'reported_loss_gbp' -> 'Reported loss (£)', 'q_value' -> 'q-value'."""
    text = str(name)
    if text.lower() in ("p_value", "q_value"):
        return f"{text[0].lower()}-value"
    words = [_WORDS.get(part.lower(), part) for part in text.replace("-", "_").split("_") if part]
    out = " ".join(words)
    return out[:1].upper() + out[1:] if out else text


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple, np.ndarray))


def default_columns(frame: pd.DataFrame) -> list[Column]:
    """Columns for a frame exported without a column list: every column except list columns (sparkline
    values) and load commands (`*command*`, 'how to load'), headed in words, whole numbers for counts, one
    decimal for other numbers (two for ratios), p- and q-values as such. Pass Column objects (with a
    description) to export those."""
    out: list[Column] = []
    for name in frame.columns:
        values = frame[name]
        key = str(name).lower()
        if values.map(_is_list).any() or "command" in key or key == "how to load":
            continue
        p_value = key in ("p_value", "q_value") or key.endswith(("_p_value", "_q_value"))
        if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            decimals = None
        elif pd.api.types.is_integer_dtype(values):
            decimals = 0
        else:
            decimals = 2 if "ratio" in key else 1
        percent = key.endswith("_pct") or "_pct_" in key or "percent" in key
        out.append(Column(str(name), column_words(str(name)), decimals, percent=percent, p_value=p_value))
    return out


def raw_columns(frame: pd.DataFrame) -> list[Column]:
    """Every column under its code name, values as they are (the raw export; lists joined with "; ")."""
    return [Column(str(name), str(name), None,
                   description="values in order, separated by semicolons" if frame[name].map(_is_list).any() else "")
            for name in frame.columns]


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def rounded(value: float, decimals: int) -> float | int:
    """`value` to `decimals` places, halves away from zero on its exact binary value (as the browser's
    toFixed and Intl number formats round on screen; 2.25 -> 2.3, 0.05 -> 0.1), never -0.0."""
    step = Decimal(1).scaleb(-decimals)
    result = Decimal(value).quantize(step, rounding=ROUND_HALF_UP)
    if decimals == 0:
        return int(result)
    return float(result) + 0.0  # + 0.0 turns -0.0 into 0.0


def cell_value(value: Any, column: Column) -> Any:
    """A value as shown: rounded to the column's decimals (a p-value to three, "<0.001" below), a date or
    datetime (naive UTC), text; lists joined with "; "; missing -> None; markers ("<5", "[c]") as they are."""
    if _is_list(value):
        return "; ".join(cell_text(cell_value(v, column), column) for v in value) or None
    if _missing(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.date() if value.time() == datetime.min.time() else value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            return None if math.isnan(value) else value
        if column.p_value:
            return f"<{P_VALUE_FLOOR:g}" if value < P_VALUE_FLOOR else rounded(value, 3)
        return value if column.decimals is None else rounded(value, column.decimals)
    if isinstance(value, (dict, set)):
        return json.dumps(value, default=str, sort_keys=True)
    return value


def cell_text(value: Any, column: Column) -> str:
    """The text of a shown value in a CSV: numbers with the column's decimals (no thousands separators),
    ISO dates, text that a spreadsheet would run as a formula behind an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, float):
        decimals = 3 if column.p_value else column.decimals
        return f"{value:.{decimals}f}" if decimals is not None and math.isfinite(value) else repr(value)
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}" if value.second else f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return "'" + text if formula_like(text) else text


def formula_like(text: str) -> bool:
    """True for text a spreadsheet would evaluate (=..., @..., +/-... that is not a plain number)."""
    if not text:
        return False
    if text[0] in "=@\t\r":
        return True
    return text[0] in "+-" and len(text) > 1 and not _PLAIN_NUMBER.match(text)


def excel_format(column: Column, values: Sequence[Any]) -> str | None:
    """The Excel number format that shows a column's numbers as on screen."""
    if column.p_value:
        return "0.000"
    if any(isinstance(v, datetime) for v in values):
        return "yyyy-mm-dd hh:mm"
    if any(isinstance(v, date) for v in values):
        return "yyyy-mm-dd"
    if column.decimals is None:
        return None
    return "#,##0" if column.decimals == 0 else "#,##0." + "0" * column.decimals


# ---------------------------------------------------------------------------------------------
# the table for people: protected, formatted, with its notes
# ---------------------------------------------------------------------------------------------
@dataclass
class PeopleTable:
    """A table ready to write: headers, shown values by row, Excel formats, notes and provenance."""

    headers: list[str]
    rows: list[list[Any]]
    columns: list[Column]
    formats: list[str | None]
    notes: list[tuple[str, str]]
    record: dict[str, Any]
    demo: bool
    disclosure_note: str
    title: str


def _selected(frame: pd.DataFrame, columns: Sequence[Column]) -> pd.DataFrame:
    missing = [c.name for c in columns if c.name not in frame.columns]
    if missing:
        raise ValueError(f"export columns not in the table: {', '.join(missing)} "
                         f"(the table has: {', '.join(map(str, frame.columns))})")
    headers = [c.header for c in columns]
    repeated = sorted({h for h in headers if headers.count(h) > 1})
    if repeated:
        raise ValueError(f"export column headers repeated: {', '.join(repeated)}")
    lists = [c.name for c in columns if not c.description and frame[c.name].map(_is_list).any()]
    if lists:
        raise ValueError(f"list columns need a description to be exported: {', '.join(lists)}")
    return frame[[c.name for c in columns]]


def _as_at_text(as_at: Any) -> str:
    if as_at is None:
        return "not stated"
    from charts.figures import format_as_at

    return format_as_at(as_at)


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def _columns_note(columns: Sequence[Column]) -> str:
    parts = [f"{c.header}: {c.description}" for c in columns if c.description]
    if any(c.p_value for c in columns):
        parts.append(f"p- and q-values to three decimals; below {P_VALUE_FLOOR:g} shown as \"<{P_VALUE_FLOOR:g}\"")
    parts.append("numbers rounded as on screen; each heading gives the quantity and its unit")
    return "; ".join(parts)


def note_rows(notes: ExportNotes, columns: Sequence[Column], disclosure_note: str, record: Mapping[str, Any],
              filters: Any = None) -> list[tuple[str, str]]:
    """The notes of a table export, one (label, text) per `NOTE_LABELS`, in that order, each one line."""
    generated = str(record.get("generated_at") or "").replace("T", " ").removesuffix("+00:00")
    produced = f"Crime Plan Monitor {record.get('version', __version__)}, {generated} UTC"
    if record.get("load_fingerprint"):
        produced += f"; data fingerprint {record['load_fingerprint']} (see the Provenance sheet of the XLSX)"
    filters_text = notes.filters or (
        filters_in_words(filters) if filters is not None else "No filters: all data loaded.")
    texts = (
        DEMO_NOTE if notes.demo else "Data as loaded from the sources named below (not the synthetic demo).",
        notes.title, notes.source or "not stated", notes.units or "Stated in each column heading.",
        notes.period or "not stated", filters_text, _as_at_text(notes.as_at), notes.caveats or "None recorded.",
        disclosure_note, _columns_note(columns), produced,
    )
    return [(label, _one_line(text)) for label, text in zip(NOTE_LABELS, texts)]


def _context_columns(frame: pd.DataFrame, exported: Sequence[str]) -> list[str]:
    """Columns not exported that disclosure control still needs: the LSOA (the table is LSOA-level), the
    category and the flags (which rows are sensitive)."""
    names = (*getattr(disclosure, "GEOGRAPHY_COLUMNS", ("lsoa_code", "lsoa_name", "lsoa")),
             *getattr(disclosure, "CATEGORY_COLUMNS", ("crime_type", "category")),
             *getattr(disclosure, "FLAG_COLUMNS", ("domestic_abuse", "child_victim")))
    return [name for name in dict.fromkeys(names) if name in frame.columns and name not in exported]


def people_table(frame: pd.DataFrame, notes: ExportNotes, columns: Sequence[Column] | None = None, *,
                 filters: Any = None, rule: DisclosureRule | None = None) -> PeopleTable:
    """Disclosure control on the exported columns under their code names (with the LSOA, category and flag
    columns it needs even when they are not exported), then the values as shown and the notes. `columns`
    None: `default_columns(frame)`."""
    columns = list(columns) if columns else default_columns(frame)
    exported = list(_selected(frame, columns).columns)
    result: ProtectedTable = protect_frame(frame[exported + _context_columns(frame, exported)], rule=rule,
                                           filters=filters, sensitive=notes.sensitive)
    table = result.frame
    shown = [[cell_value(v, c) if not hidden else v for v, hidden in zip(table[c.name], result.suppressed[c.name])]
             for c in columns]
    record = dict(notes.provenance or {"producer": "Crime Plan Monitor", "version": __version__,
                                       "filters": filters_dict(filters),
                                       "generated_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat()})
    record.setdefault("disclosure", result.note)
    if notes.demo:
        record["dataset"] = record.get("dataset") or "demo"
    record = with_data_status(record)
    headers = [c.header for c in columns]
    rows = [list(r) for r in zip(*shown)] if shown else []
    if notes.demo:
        headers.append(DATA_STATUS_COLUMN)
        rows = [r + [DEMO_MARK] for r in rows]
    return PeopleTable(headers, rows, columns, [excel_format(c, s) for c, s in zip(columns, shown)],
                       note_rows(notes, columns, result.note, record, filters), record, notes.demo, result.note,
                       notes.title)


# ---------------------------------------------------------------------------------------------
# writers
# ---------------------------------------------------------------------------------------------
def _text_row(row: Sequence[Any], columns: Sequence[Column]) -> list[str]:
    plain = Column("", "", None)
    return [cell_text(v, columns[i] if i < len(columns) else plain) for i, v in enumerate(row)]


def people_csv_bytes(table: PeopleTable) -> bytes:
    """The CSV of a `PeopleTable`: notes block, empty line, header, rows (UTF-8 with BOM)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for label, text in table.notes:
        writer.writerow([label, "'" + text if formula_like(text) else text])
    writer.writerow([])
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow(_text_row(row, table.columns))
    return out.getvalue().encode("utf-8-sig")


def _set_cell(sheet: Any, row: int, column: int, value: Any) -> Any:
    """Write a cell; text is always text (never a formula)."""
    cell = sheet.cell(row=row, column=column, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def _data_sheet(sheet: Any, table: PeopleTable) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    notes = dict(table.notes)
    _set_cell(sheet, 1, 1, table.title).font = Font(bold=True, size=14)
    if table.demo:
        banner = _set_cell(sheet, 2, 1, DEMO_NOTE)
        banner.font = Font(bold=True, color="FFFFFF")
        banner.fill = PatternFill("solid", fgColor=DEMO_FILL)
    else:
        _set_cell(sheet, 2, 1, f"Period: {notes['Period']} · Filters: {notes['Filters']} · "
                               f"Data as at {notes['Data as at']}")
    _set_cell(sheet, 3, 1, f"Disclosure control: {table.disclosure_note} · Source, units, caveats: "
                           "see the Notes sheet.").font = Font(italic=True, color="555555")
    fill = PatternFill("solid", fgColor="DDE6F0")
    for col, name in enumerate(table.headers, start=1):
        cell = _set_cell(sheet, XLSX_HEADER_ROW, col, name)
        cell.font, cell.fill = Font(bold=True), fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    formats = table.formats + [None]
    for r, values in enumerate(table.rows, start=XLSX_HEADER_ROW + 1):
        for c, value in enumerate(values, start=1):
            cell = _set_cell(sheet, r, c, value)
            if isinstance(value, str) and (value.startswith("<") or value == "[c]"):
                cell.alignment = Alignment(horizontal="right")
            elif formats[c - 1] and not isinstance(value, str):
                cell.number_format = formats[c - 1]
            if table.demo and c == len(values):
                cell.font = Font(color=DEMO_FILL, bold=True)
    sheet.freeze_panes = sheet.cell(row=XLSX_HEADER_ROW + 1, column=1)
    sample = [_text_row(row, table.columns) for row in table.rows[:200]]
    for col, name in enumerate(table.headers, start=1):
        longest = max([len(name) // 2 + 2] + [len(texts[col - 1]) for texts in sample])
        sheet.column_dimensions[get_column_letter(col)].width = min(max(longest + 2, 10), 50)


def _pairs_sheet(sheet: Any, heading: tuple[str, str], pairs: Sequence[tuple[str, str]], width: int) -> None:
    from openpyxl.styles import Alignment, Font

    for col, text in enumerate(heading, start=1):
        _set_cell(sheet, 1, col, text).font = Font(bold=True)
    for row, (label, text) in enumerate(pairs, start=2):
        _set_cell(sheet, row, 1, label).font = Font(bold=True)
        _set_cell(sheet, row, 2, text).alignment = Alignment(wrap_text=True, vertical="top")
    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = width


def people_xlsx_bytes(table: PeopleTable) -> bytes:
    """The XLSX of a `PeopleTable`: sheets Data, Notes and Provenance."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Data"
    _data_sheet(sheet, table)
    notes = workbook.create_sheet("Notes")
    _pairs_sheet(notes, ("Note", "Text"), table.notes, 110)
    if table.demo:
        notes["B2"].font = Font(bold=True, color="FFFFFF")
        notes["B2"].fill = PatternFill("solid", fgColor=DEMO_FILL)
    _pairs_sheet(workbook.create_sheet("Provenance"), ("Field", "Value"), provenance_lines(table.record), 100)

    props = workbook.properties
    props.title = table.title
    notes_text = dict(table.notes)
    props.subject = ((DEMO_MARK + "; ") if table.demo else "") + (
        f"{notes_text['Units']}; source: {notes_text['Source']}; data as at {notes_text['Data as at']}")[:250]
    props.creator = f"Crime Plan Monitor {__version__}"
    props.keywords = f"load_fingerprint={table.record.get('load_fingerprint', '')}"
    props.description = json.dumps(table.record, default=str, sort_keys=True)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def table_csv_bytes(frame: pd.DataFrame, notes: ExportNotes, columns: Sequence[Column] | None = None, *,
                    filters: Any = None, rule: DisclosureRule | None = None) -> bytes:
    """CSV for people (see the module docstring): `pandas.read_csv(path, skiprows=CSV_SKIPROWS)` reads it."""
    return people_csv_bytes(people_table(frame, notes, columns, filters=filters, rule=rule))


def table_xlsx_bytes(frame: pd.DataFrame, notes: ExportNotes, columns: Sequence[Column] | None = None, *,
                     filters: Any = None, rule: DisclosureRule | None = None) -> bytes:
    """XLSX for people (see the module docstring)."""
    return people_xlsx_bytes(people_table(frame, notes, columns, filters=filters, rule=rule))


def table_files(frame: pd.DataFrame, notes: ExportNotes, columns: Sequence[Column] | None = None, *,
                basename: str | None = None, filters: Any = None) -> list[Download]:
    """CSV and XLSX downloads of a table for people (briefing.export_spec: `notes` an ExportNotes, `columns` a
    list of Column; None: every non-list column, headed in words), after disclosure control, built only when
    clicked (each Download.data is a zero-argument callable). Unknown or repeated columns: ValueError now."""
    _selected(frame, list(columns) if columns else default_columns(frame))  # fail at once, not on click
    snapshot = frame.copy()
    stem = safe_basename(basename or notes.title)
    csv_data = functools.partial(table_csv_bytes, snapshot, notes, columns, filters=filters)
    xlsx_data = functools.partial(table_xlsx_bytes, snapshot, notes, columns, filters=filters)
    return [Download("CSV", csv_data, f"{stem}.csv", CSV_MIME),
            Download("XLSX (Excel)", xlsx_data, f"{stem}.xlsx", XLSX_MIME)]


# ---------------------------------------------------------------------------------------------
# the raw export (code column names, values as they are)
# ---------------------------------------------------------------------------------------------
def protected(frame: pd.DataFrame, filters: Any = None, *, sensitive: bool | None = None,
              rule: DisclosureRule | None = None) -> ProtectedTable:
    """The frame after `briefing.disclosure.protect_frame` (every table export goes through this)."""
    return protect_frame(frame, rule=rule, filters=filters, sensitive=sensitive)


def csv_bytes(frame: pd.DataFrame, filters: Any = None, *, sensitive: bool | None = None,
              rule: DisclosureRule | None = None, demo: bool = False) -> bytes:
    """Raw CSV (UTF-8, header on line 1) of the frame after disclosure control; lists as "1;2;3"; with
    `demo` a last column "Data status" saying "Demo data — synthetic" on every row."""
    table = protected(frame, filters, sensitive=sensitive, rule=rule).frame
    for column in table.columns:
        if table[column].map(_is_list).any():
            table[column] = table[column].map(lambda v: ";".join(str(x) for x in v) if _is_list(v) else v)
    if demo:
        table[DATA_STATUS_COLUMN] = DEMO_MARK
    return table.to_csv(index=False, lineterminator="\n").encode("utf-8")


def table_downloads(
    frame: pd.DataFrame,
    title: str,
    units: str,
    source: str,
    as_at: Any,
    filters: Any = None,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    provenance: Mapping[str, Any] | None = None,
    basename: str | None = None,
    sensitive: bool | None = None,
    rule: DisclosureRule | None = None,
) -> list[Download]:
    """Raw CSV and XLSX downloads of a table (code column names, values as they are), after disclosure
    control: [Download(label, bytes, file name, MIME)]. Pass `con` (the app's read-only connection) to record
    the load fingerprint; a demo warehouse's files say "Demo data — synthetic"."""
    if provenance is None and con is not None:
        provenance = provenance_for(con, filters, title=title)
    notes = ExportNotes(title=title, source=source, units=units, as_at=as_at, provenance=provenance,
                        sensitive=sensitive)
    stem = safe_basename(basename or title)
    xlsx = table_xlsx_bytes(frame, notes, raw_columns(frame), filters=filters, rule=rule)
    return [
        Download("CSV", csv_bytes(frame, filters, sensitive=sensitive, rule=rule, demo=notes.demo), f"{stem}.csv",
                 CSV_MIME),
        Download("XLSX (Excel)", xlsx, f"{stem}.xlsx", XLSX_MIME),
    ]
