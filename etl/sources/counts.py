"""Aggregate recorded-crime counts into the `counts` table, from three layouts:

- 'counts-tidy': header `period,area,category,count` plus optional `subcategory`, `offence_code`, `force`
  (any order). `period` is YYYY-MM or YYYY-MM-01 (a calendar month). Dataset = the `dataset` option, else
  the file name without extension. force_id from the `force` column, else the `--force` option.
- 'counts-wide-monthly': the London Datastore layout `MajorText,MinorText,BoroughName,YYYYMM,...` (one column
  per month). Dataset 'london-datastore', area = borough, category = MajorText, subcategory = MinorText,
  force_id 'metropolitan' (or `--force`).
- 'counts-home-office': the Home Office police recorded crime (PRC) table by force area and offence code
  (`,Financial_Year,Financial_Quarter,Force_Name,Offence_Description,...,Policeuk_Cat`): Financial_Year
  2017/18 + Financial_Quarter 1..4 -> quarters starting 2017-04-01, 2017-07-01, 2017-10-01, 2018-01-01;
  dataset 'home-office-prc', area = Force_Name, category = Policeuk_Cat (spelled as police.uk spells its
  crime types), subcategory = Offence_Description. Negative numbers are kept: the Home Office publishes
  them as reclassification adjustments. Rows of non-force bodies (Action Fraud, CIFAS, UK Finance) get
  force_id NULL.

Every row becomes one `counts` row per period with count = a whole number (≥ 0 except in the Home Office
table; rows of that table sharing a key, which it has for homicide, are summed). A row that cannot be loaded
(bad period, a period starting outside the load's date window, non-numeric count, empty area or category, a
duplicate of an earlier row of the file) is rejected with its physical line. Reloading replaces rows with the
same (dataset, area, period_start, category, subcategory, offence_code); two files of one load supplying the
same key are refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from etl.sources.common import FORCES, ScannedFile, force_id_for
from etl.sources.tidy_csv import records_with_lines, replace_and_log, stage_rows
from etl.warehouse import LoadError, WriteSession

TIDY_REQUIRED = ["period", "area", "category", "count"]
TIDY_OPTIONAL = ["subcategory", "offence_code", "force"]
WIDE_PREFIX = ["MajorText", "MinorText", "BoroughName"]
HOME_OFFICE_HEADER = [
    "", "Financial_Year", "Financial_Quarter", "Force_Name", "Offence_Description", "Offence_Group",
    "Offence_Subgroup", "Offence_Code", "Number_of_Offences", "Policeuk_Cat",
]
HEADERS = {
    "counts-tidy": TIDY_REQUIRED,
    "counts-wide-monthly": WIDE_PREFIX + ["201004"],
    "counts-home-office": HOME_OFFICE_HEADER,
}
KEY_COLUMNS = ["dataset", "area", "period_start", "category", "subcategory", "offence_code"]
POLICE_UK_CATEGORIES = [
    "Anti-social behaviour", "Bicycle theft", "Burglary", "Criminal damage and arson", "Drugs", "Other crime",
    "Other theft", "Possession of weapons", "Public order", "Robbery", "Shoplifting", "Theft from the person",
    "Vehicle crime", "Violence and sexual offences",
]
_CANONICAL_CATEGORY = {name.lower(): name for name in POLICE_UK_CATEGORIES}
_YYYYMM = re.compile(r"^(\d{4})(0[1-9]|1[0-2])$")
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])(?:-01)?$")
_FINANCIAL_YEAR = re.compile(r"^(\d{4})/(\d{2})$")
_WHOLE_NUMBER = re.compile(r"^-?\d+$")


def detect(header: list[str], options: dict | None = None) -> str | None:
    """The counts layout of a file from its header, or None."""
    if header == HOME_OFFICE_HEADER or header == HOME_OFFICE_HEADER[1:]:
        return "counts-home-office"
    if header[:3] == WIDE_PREFIX and len(header) > 3 and all(_YYYYMM.match(name) for name in header[3:]):
        return "counts-wide-monthly"
    names = set(header)
    if set(TIDY_REQUIRED) <= names and names <= set(TIDY_REQUIRED + TIDY_OPTIONAL) and len(names) == len(header):
        return "counts-tidy"
    return None


def _month_end(start: date, months: int) -> date:
    index = start.year * 12 + start.month - 1 + months
    following = date(index // 12, index % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()
    return text or None


def _count(text: str, allow_negative: bool) -> int | None:
    cleaned = text.replace(",", "").strip()
    if not _WHOLE_NUMBER.match(cleaned):
        return None
    value = int(cleaned)
    if value < 0 and not allow_negative:
        return None
    return value


def _known_force_id(name: str | None) -> str | None:
    force_id = force_id_for(name)
    return force_id if force_id in FORCES else None


class _Batch:
    """Rows for `counts` from one file, with duplicate detection within the file (two files of one load with
    the same key are refused when they are loaded: WriteSession.replace_keyed)."""

    def __init__(self) -> None:
        self.rows: dict[tuple, list] = {}
        self.seen: dict[tuple, int] = {}

    def add(self, row: tuple, line: int, merge: bool = False) -> str | None:
        """Add a counts row; returns a reject reason if its key was already in this file.
        merge=True adds the count to the earlier row with the same key instead (the Home Office table
        lists homicide once per offence code 1/4.1/4.10/4.2 under one shared label)."""
        dataset, period_start, _end, _type, area, _force, category, subcategory, offence_code, count = row
        key = (dataset, area, period_start, category, subcategory, offence_code)
        if key in self.seen:
            if merge:
                self.rows[key][-1] += count
                return None
            return (
                "duplicate row: same dataset, area, period, category, subcategory and offence code as "
                f"line {self.seen[key]}"
            )
        self.seen[key] = line
        self.rows[key] = list(row)
        return None

    def tuples(self) -> list[tuple]:
        return [tuple(row) for row in self.rows.values()]


@dataclass
class _FileRows:
    """What one counts file gave: its rows, rejects and records read and loaded."""

    kind: str
    force_id: str | None = None
    batch: _Batch = field(default_factory=_Batch)
    rejects: list[tuple[int, str, str]] = field(default_factory=list)
    read: int = 0
    loaded: int = 0

    def records(self, scanned: ScannedFile) -> Iterator[tuple[int, list[str], str]]:
        """The file's records as the header's width; a record of another width is rejected here."""
        width = len(scanned.header)
        for line, record, raw in records_with_lines(scanned):
            self.read += 1
            if len(record) != width:
                self.rejects.append((line, f"{len(record)} fields, expected {width} (as in the header)", raw))
                continue
            yield line, record, raw

    def keep(self, row: tuple, line: int, raw: str, merge: bool = False) -> None:
        duplicate = self.batch.add(row, line, merge=merge)
        if duplicate:
            self.rejects.append((line, duplicate, raw))
        else:
            self.loaded += 1


def _load_tidy(scanned: ScannedFile, options: dict, window) -> _FileRows:
    header = scanned.header
    dataset = options.get("dataset") or Path(scanned.path).stem
    default_force = force_id_for(options.get("force")) if options.get("force") else None
    result = _FileRows("counts-tidy", default_force)
    for line, record, raw in result.records(scanned):
        value = dict(zip(header, record))
        match = _PERIOD.match(value["period"].strip())
        area, category = _clean(value["area"]), _clean(value["category"])
        count = _count(value["count"], allow_negative=False)
        start = date(int(match.group(1)), int(match.group(2)), 1) if match else None
        reason = None
        if not match:
            reason = f"period {value['period']!r} is not a month in the form YYYY-MM (or YYYY-MM-01)"
        elif outside := window.reason(f"period {value['period'].strip()}", start):
            reason = outside
        elif area is None:
            reason = "area is empty"
        elif category is None:
            reason = "category is empty"
        elif count is None:
            reason = f"count {value['count']!r} is not a whole number ≥ 0"
        if reason:
            result.rejects.append((line, reason, raw))
            continue
        force_id = force_id_for(_clean(value.get("force"))) if "force" in value else default_force
        result.keep((dataset, start, _month_end(start, 1), "month", area, force_id, category,
                     _clean(value.get("subcategory")), _clean(value.get("offence_code")), count), line, raw)
    return result


def _load_wide(scanned: ScannedFile, options: dict, window) -> _FileRows:
    header = scanned.header
    months = [date(int(name[:4]), int(name[4:]), 1) for name in header[3:]]
    if len(set(months)) != len(months):
        raise LoadError("the same month column appears twice in the header", scanned.display, 1)
    for name, month in zip(header[3:], months):
        if outside := window.reason(f"month column {name}", month):
            raise LoadError(outside, scanned.display, 1)
    dataset = options.get("dataset") or "london-datastore"
    result = _FileRows("counts-wide-monthly", force_id_for(options.get("force")) if options.get("force") else "metropolitan")
    for line, record, raw in result.records(scanned):
        category, subcategory, area = (_clean(v) for v in record[:3])
        reason = None
        if area is None:
            reason = "BoroughName is empty"
        elif category is None:
            reason = "MajorText is empty"
        counts = []
        if reason is None:
            for name, text in zip(header[3:], record[3:]):
                count = _count(text, allow_negative=False)
                if count is None:
                    reason = f"column {name}: count {text!r} is not a whole number ≥ 0"
                    break
                counts.append(count)
        if reason:
            result.rejects.append((line, reason, raw))
            continue
        rows = [
            (dataset, month, _month_end(month, 1), "month", area, result.force_id, category, subcategory, None, count)
            for month, count in zip(months, counts)
        ]
        duplicate = result.batch.add(rows[0], line) if rows else None
        if duplicate:
            result.rejects.append((line, duplicate, raw))
            continue
        for row in rows[1:]:
            result.batch.add(row, line)
        result.loaded += 1
    return result


def _load_home_office(scanned: ScannedFile, options: dict, window) -> _FileRows:
    offset = 1 if scanned.header[0] == "" else 0
    dataset = options.get("dataset") or "home-office-prc"
    result = _FileRows("counts-home-office")
    for line, record, raw in result.records(scanned):
        value = dict(zip(HOME_OFFICE_HEADER[1:], record[offset:]))
        year = _FINANCIAL_YEAR.match(value["Financial_Year"].strip())
        quarter = value["Financial_Quarter"].strip()
        area = _clean(value["Force_Name"])
        category_text = _clean(value["Policeuk_Cat"])
        count = _count(value["Number_of_Offences"], allow_negative=True)
        start = None
        if year and quarter in {"1", "2", "3", "4"}:
            start_index = int(year.group(1)) * 12 + 3 + (int(quarter) - 1) * 3  # April = month index 3
            start = date(start_index // 12, start_index % 12 + 1, 1)
        reason = None
        if not year or (int(year.group(1)) + 1) % 100 != int(year.group(2)):
            reason = f"Financial_Year {value['Financial_Year']!r} is not a financial year such as 2017/18"
        elif start is None:
            reason = f"Financial_Quarter {quarter!r} is not 1, 2, 3 or 4"
        elif outside := window.reason(f"quarter starting {start}", start):
            reason = outside
        elif area is None:
            reason = "Force_Name is empty"
        elif category_text is None:
            reason = "Policeuk_Cat is empty"
        elif count is None:
            reason = f"Number_of_Offences {value['Number_of_Offences']!r} is not a whole number"
        if reason:
            result.rejects.append((line, reason, raw))
            continue
        category = _CANONICAL_CATEGORY.get(category_text.lower(), category_text)
        result.keep((dataset, start, _month_end(start, 3), "quarter", area, _known_force_id(area), category,
                     _clean(value["Offence_Description"]), _clean(value["Offence_Code"]), count), line, raw, merge=True)
    return result


LOADERS = {"counts-tidy": _load_tidy, "counts-wide-monthly": _load_wide, "counts-home-office": _load_home_office}


def load(session: WriteSession, files: list[tuple[ScannedFile, str]], **options) -> None:
    """Load counts files of any of the three layouts; replaces rows with the same key (see module docstring)."""
    window = session.date_window()
    for scanned, kind in files:
        result = LOADERS[kind](scanned, options, window)
        staged = stage_rows(session, "counts", result.batch.tuples())
        replace_and_log(session, scanned, kind=result.kind, table="counts", staged=staged, keys=KEY_COLUMNS,
                        rejects=result.rejects, rows_read=result.read, force_id=result.force_id,
                        records_loaded=result.loaded)
