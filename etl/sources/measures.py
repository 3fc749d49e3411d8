"""Force measures no public file carries (101 and 999 answer times, officer and special constable numbers,
speeding detections, ...): the tidy CSV we define.

Header `measure,period_start,period_end,value,unit,target` plus an optional `force` column, in any order
(docs/CONVENTIONS.md). Dates YYYY-MM-DD (period_end >= period_start, both inclusive); `value` a number;
`unit` free text ("seconds", "%", "officers", "detections"); `target` a number or empty. The force is the
row's `force` column, else `--force`. Both dates must lie in the load's date window (etl.plausibility).
Rows replace the warehouse's rows with the same (force_id, measure, period_start, period_end); two files of
one load supplying the same key are refused. Which priority view shows a measure is set in
`metrics/measure_priorities.toml`.
"""

from __future__ import annotations

from etl.sources.common import ScannedFile
from etl.sources.tidy_csv import (
    BadRecord,
    default_force_id,
    parse_date,
    parse_number,
    read_records,
    replace_and_log,
    resolve_force_id,
    stage_rows,
)
from etl.warehouse import WriteSession

MEASURES_HEADER = ["measure", "period_start", "period_end", "value", "unit", "target"]
HEADERS = {"measures": MEASURES_HEADER}


def detect(header: list[str], options: dict | None = None) -> str | None:
    """'measures' when the header is the measures columns (plus optionally `force`), else None."""
    names = [h.strip().lower() for h in header]
    if len(names) != len(set(names)):
        return None
    if set(names) in (set(MEASURES_HEADER), set(MEASURES_HEADER) | {"force"}):
        return "measures"
    return None


def load(session: WriteSession, files: list[tuple[ScannedFile, str]], force: str | None = None, **_options) -> None:
    """Load force measures CSVs; each file is logged with rows read = loaded + rejected."""
    default_force = default_force_id(force)
    window = session.date_window()
    for scanned, _kind in files:
        header = [h.strip().lower() for h in scanned.header]
        rows, rejects, seen = [], [], {}
        for record in read_records(scanned, header):
            if isinstance(record, BadRecord):
                rejects.append((record.line, record.reason, record.raw))
                continue
            values = record.values
            named_force = values.get("force", "")
            force_id = resolve_force_id(named_force) if named_force else default_force
            start = parse_date(values["period_start"])
            end = parse_date(values["period_end"])
            value = parse_number(values["value"])
            target = parse_number(values["target"]) if values["target"] else None
            key = (force_id, values["measure"], start, end)
            reason = None
            if not values["measure"]:
                reason = "measure is empty"
            elif force_id is None:
                reason = (
                    f"force {named_force!r} is not a police force of England and Wales" if named_force
                    else "the file has no force column (or it is empty) and no --force was given"
                )
            elif start is None:
                reason = f"period_start {values['period_start']!r} is not a date (YYYY-MM-DD)"
            elif end is None:
                reason = f"period_end {values['period_end']!r} is not a date (YYYY-MM-DD)"
            elif end < start:
                reason = f"period_end {end} is before period_start {start}"
            elif outside := window.reason(f"period_start {start}", start) or window.reason(f"period_end {end}", end):
                reason = outside
            elif value is None:
                reason = f"value {values['value']!r} is not a number"
            elif values["target"] and target is None:
                reason = f"target {values['target']!r} is not a number"
            elif key in seen:
                reason = f"duplicate row: {values['measure']!r} {start}..{end} already on line {seen[key]}"
            if reason:
                rejects.append((record.line, reason, record.raw))
                continue
            seen[key] = record.line
            rows.append((values["measure"], start, end, value, values["unit"] or None, target, force_id))
        staged = stage_rows(session, "measures", rows)
        replace_and_log(session, scanned, kind="measures", table="measures", staged=staged,
                        keys=["force_id", "measure", "period_start", "period_end"], rejects=rejects,
                        rows_read=len(rows) + len(rejects))
