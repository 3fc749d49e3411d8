"""Table exports: a metric frame -> CSV bytes and XLSX bytes, after disclosure control.

XLSX layout (sheet "Data"): title (row 1), units, source, data as at, filters, disclosure note, a blank
row, then the header row (bold, frozen) and the values; a second sheet "Provenance" lists what produced
the file (version, load fingerprint, filters, generated at). CSV: the header row and the values
(UTF-8), the same withheld markers as the XLSX.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, timezone
from io import BytesIO
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from briefing import __version__
from briefing.disclosure import DisclosureRule, ProtectedTable, protect_frame
from briefing.images import Download, safe_basename
from briefing.provenance import filters_dict, provenance_for, provenance_lines

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv"
HEADER_ROWS = ("Title", "Units", "Source", "Data as at", "Filters", "Disclosure control")


def _as_at_text(as_at: Any) -> str:
    if as_at is None:
        return "unknown"
    try:
        from charts.figures import format_as_at

        return format_as_at(as_at)
    except ImportError:  # charts not importable: ISO text
        return as_at.isoformat() if isinstance(as_at, (date, datetime)) else str(as_at)


def _cell(value: Any) -> Any:
    """A value openpyxl can write: NaN/NA -> empty, numpy scalars -> Python, dates kept."""
    if value is None:
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, (dict, set)):
        return json.dumps(value, default=str)
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    if isinstance(value, np.generic):
        return value.item()
    return value


def protected(frame: pd.DataFrame, filters: Any = None, *, sensitive: bool | None = None,
              rule: DisclosureRule | None = None) -> ProtectedTable:
    """The frame after `briefing.disclosure.protect_frame` (every table export goes through this)."""
    return protect_frame(frame, rule=rule, filters=filters, sensitive=sensitive)


def csv_bytes(frame: pd.DataFrame, filters: Any = None, *, sensitive: bool | None = None,
              rule: DisclosureRule | None = None) -> bytes:
    """CSV (UTF-8) of the frame after disclosure control."""
    table = protected(frame, filters, sensitive=sensitive, rule=rule).frame
    for column in table.columns:  # lists (e.g. sparkline values) as plain text: "1;2;3"
        if table[column].map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any():
            table[column] = table[column].map(
                lambda v: ";".join(str(x) for x in v) if isinstance(v, (list, tuple, np.ndarray)) else v)
    return table.to_csv(index=False, lineterminator="\n").encode("utf-8")


def xlsx_bytes(
    frame: pd.DataFrame,
    title: str,
    units: str,
    source: str,
    as_at: Any,
    filters: Any = None,
    *,
    provenance: Mapping[str, Any] | None = None,
    sensitive: bool | None = None,
    rule: DisclosureRule | None = None,
    sheet_name: str = "Data",
) -> bytes:
    """XLSX of the frame after disclosure control, with title, units, source, as-at date and filters
    above the header row, and a "Provenance" sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    result = protected(frame, filters, sensitive=sensitive, rule=rule)
    table = result.frame
    record = dict(provenance or {"producer": "Crime Plan Monitor", "version": __version__,
                                 "filters": filters_dict(filters),
                                 "generated_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat()})
    record.setdefault("disclosure", result.note)

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = sheet_name[:31]
    filters_text = json.dumps(filters_dict(filters), sort_keys=True) if filters is not None else "none (all)"
    header_values = (title, units, source, _as_at_text(as_at), filters_text, result.note)
    for row, (label, value) in enumerate(zip(HEADER_ROWS, header_values), start=1):
        sheet.cell(row=row, column=1, value=label).font = Font(bold=True)
        sheet.cell(row=row, column=2, value=value)
    sheet["B1"].font = Font(bold=True, size=14)
    header_row = len(HEADER_ROWS) + 2
    fill = PatternFill("solid", fgColor="DDE6F0")
    for col, name in enumerate(table.columns, start=1):
        cell = sheet.cell(row=header_row, column=col, value=str(name))
        cell.font = Font(bold=True)
        cell.fill = fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for r, values in enumerate(table.itertuples(index=False, name=None), start=header_row + 1):
        for c, value in enumerate(values, start=1):
            cell = sheet.cell(row=r, column=c, value=_cell(value))
            if isinstance(cell.value, str) and cell.value in ("[c]",) or (isinstance(cell.value, str) and cell.value.startswith("<")):
                cell.alignment = Alignment(horizontal="right")
            elif isinstance(cell.value, float):
                cell.number_format = "#,##0.00"
            elif isinstance(cell.value, int) and not isinstance(cell.value, bool):
                cell.number_format = "#,##0"
            elif isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    for col, name in enumerate(table.columns, start=1):
        sample = [len(str(name))] + [len(str(v)) for v in table.iloc[:200, col - 1].tolist()]
        sheet.column_dimensions[get_column_letter(col)].width = min(max(sample) + 2, 50) if col > 1 else max(min(max(sample) + 2, 50), 20)

    about = workbook.create_sheet("Provenance")
    about.cell(row=1, column=1, value="Field").font = Font(bold=True)
    about.cell(row=1, column=2, value="Value").font = Font(bold=True)
    for row, (label, text) in enumerate(provenance_lines(record), start=2):
        about.cell(row=row, column=1, value=label)
        about.cell(row=row, column=2, value=text)
    about.column_dimensions["A"].width = 28
    about.column_dimensions["B"].width = 100

    props = workbook.properties
    props.title = title
    props.subject = f"{units}; source: {source}; data as at {_as_at_text(as_at)}"
    props.creator = f"Crime Plan Monitor {__version__}"
    props.keywords = f"load_fingerprint={record.get('load_fingerprint', '')}"
    props.description = json.dumps(record, default=str, sort_keys=True)
    out = BytesIO()
    workbook.save(out)
    return out.getvalue()


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
    """CSV and XLSX downloads of a table, after disclosure control: [Download(label, bytes, file name,
    MIME)]. Pass `con` (the app's read-only connection) to record the load fingerprint."""
    if provenance is None and con is not None:
        provenance = provenance_for(con, filters, title=title)
    stem = safe_basename(basename or title)
    return [
        Download("CSV", csv_bytes(frame, filters, sensitive=sensitive, rule=rule), f"{stem}.csv", CSV_MIME),
        Download("XLSX (Excel)", xlsx_bytes(frame, title, units, source, as_at, filters, provenance=provenance,
                                            sensitive=sensitive, rule=rule), f"{stem}.xlsx", XLSX_MIME),
    ]


def _for_people(frame: pd.DataFrame, columns: Any) -> pd.DataFrame:
    """The frame with only `columns` (briefing.export_spec.Column), headed in words, rounded as on screen."""
    if not columns:
        return frame
    out = pd.DataFrame(index=frame.index)
    for column in columns:
        values = frame[column.name]
        if column.decimals is not None and pd.api.types.is_numeric_dtype(values):
            values = values.round(column.decimals)
            if column.decimals == 0:
                values = values.astype("Int64")
        out[column.label] = values
    return out.reset_index(drop=True)


def table_files(frame: pd.DataFrame, notes: Any, columns: Any = None, *, basename: str | None = None,
                filters: Any = None) -> list[Download]:
    """CSV and XLSX downloads of a table for people (briefing.export_spec: `notes` an ExportNotes, `columns` a
    list of Column), built only when clicked (each Download.data is a callable), after disclosure control."""
    import functools

    table = _for_people(frame, columns)
    title = notes.title
    stem = safe_basename(basename or title)
    csv = functools.partial(csv_bytes, table, filters, sensitive=notes.sensitive)
    xlsx = functools.partial(xlsx_bytes, table, title, notes.units, notes.source, notes.as_at, filters,
                             provenance=notes.provenance, sensitive=notes.sensitive)
    return [Download("CSV", csv, f"{stem}.csv", CSV_MIME), Download("XLSX (Excel)", xlsx, f"{stem}.xlsx", XLSX_MIME)]
