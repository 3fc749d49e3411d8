"""Action Fraud (NFIB) fraud reports by force area: the tidy CSV we define.

Header exactly `month,force,fraud_type,reports,reported_loss_gbp` (docs/CONVENTIONS.md):
`month` YYYY-MM; `force` a force name ("Essex Police", "Essex") or DfT code, or empty when `--force`
names it; `fraud_type` free text (e.g. "Online shopping and auctions"); `reports` a whole number >= 0;
`reported_loss_gbp` a number >= 0 in pounds sterling, or empty when not published; the month must lie in
the load's date window (etl.plausibility). Rows replace the warehouse's rows with the same
(force_id, month, fraud_type); two files of one load supplying the same key are refused.
"""

from __future__ import annotations

from etl.sources.common import ScannedFile, force_name_for
from etl.sources.tidy_csv import (
    BadRecord,
    default_force_id,
    parse_month,
    parse_number,
    read_records,
    replace_and_log,
    resolve_force_id,
    stage_rows,
)
from etl.warehouse import WriteSession

FRAUD_HEADER = ["month", "force", "fraud_type", "reports", "reported_loss_gbp"]
HEADERS = {"fraud": FRAUD_HEADER}


def detect(header: list[str], options: dict | None = None) -> str | None:
    """'fraud' for the tidy fraud header, else None."""
    return "fraud" if [h.strip().lower() for h in header] == FRAUD_HEADER else None


def load(session: WriteSession, files: list[tuple[ScannedFile, str]], force: str | None = None, **_options) -> None:
    """Load fraud CSVs; each file is logged with its rows read = loaded + rejected."""
    default_force = default_force_id(force)
    window = session.date_window()
    for scanned, _kind in files:
        rows, rejects, seen = [], [], {}
        for record in read_records(scanned, FRAUD_HEADER):
            if isinstance(record, BadRecord):
                rejects.append((record.line, record.reason, record.raw))
                continue
            values = record.values
            month = parse_month(values["month"])
            force_id = resolve_force_id(values["force"]) if values["force"] else default_force
            reports = parse_number(values["reports"])
            loss = parse_number(values["reported_loss_gbp"]) if values["reported_loss_gbp"] else None
            key = (force_id, month, values["fraud_type"])
            reason = None
            if month is None:
                reason = f"month {values['month']!r} is not YYYY-MM"
            elif outside := window.reason(f"month {values['month']}", month):
                reason = outside
            elif force_id is None:
                reason = (
                    f"force {values['force']!r} is not a police force of England and Wales" if values["force"]
                    else "force is empty and no --force was given"
                )
            elif not values["fraud_type"]:
                reason = "fraud_type is empty"
            elif reports is None or reports < 0 or reports != int(reports):
                reason = f"reports {values['reports']!r} is not a whole number >= 0"
            elif values["reported_loss_gbp"] and (loss is None or loss < 0):
                reason = f"reported_loss_gbp {values['reported_loss_gbp']!r} is not a number >= 0"
            elif key in seen:
                reason = f"duplicate row: {force_id} {values['month']} {values['fraud_type']!r} already on line {seen[key]}"
            if reason:
                rejects.append((record.line, reason, record.raw))
                continue
            seen[key] = record.line
            rows.append((month, force_name_for(force_id), force_id, values["fraud_type"], int(reports), loss))
        staged = stage_rows(session, "fraud", rows)
        replace_and_log(session, scanned, kind="fraud", table="fraud", staged=staged,
                        keys=["force_id", "month", "fraud_type"], rejects=rejects, rows_read=len(rows) + len(rejects))
