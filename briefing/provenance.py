"""What produced an export, so a briefing can be reproduced later: the filters, the periods compared,
the warehouse's load fingerprint (`etl.warehouse.load_fingerprint`: a hash of load_log, i.e. exactly
which source files the tables hold), the app version and when the export was made.

Where it goes: PPTX core properties and an "About this pack" slide, an XLSX "Provenance" sheet,
PNG/SVG/PDF metadata (`briefing.images.embed_metadata`), and a JSON sidecar beside a file written to disk.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from briefing import __version__
from briefing.export_spec import DEMO_MARK
from etl.sources.common import force_name_for
from etl.warehouse import load_fingerprint


def filters_dict(filters: Any) -> dict[str, Any]:
    """A JSON-able dict of a `metrics.filters.Filters` (or any dataclass/mapping); {} for None."""
    if filters is None:
        return {}
    if dataclasses.is_dataclass(filters):
        raw = dataclasses.asdict(filters)
    elif isinstance(filters, Mapping):
        raw = dict(filters)
    else:
        raw = {"filters": str(filters)}
    return {key: _jsonable(value) for key, value in raw.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return filters_dict(value)
    return value


def _names(values: Any) -> list[str]:
    if not values:
        return []
    if isinstance(values, str):
        return [values]
    return [str(v) for v in values]


def filters_in_words(filters: Any) -> str:
    """The filters as a reader would say them: 'Essex Police; districts: Basildon, Harlow; crime types:
    Burglary' ('All forces loaded; all districts; all crime types' for none). Accepts a
    `metrics.filters.Filters`, the dict `filters_dict` makes of one, or None."""
    raw = filters_dict(filters)
    force_id = raw.get("force_id")
    districts = _names(raw.get("districts"))
    categories = _names(raw.get("categories"))
    parts = [force_name_for(force_id) if force_id else "All forces loaded",
             ("districts: " + ", ".join(districts)) if districts else "all districts",
             ("crime types: " + ", ".join(categories)) if categories else "all crime types"]
    other = {k: v for k, v in raw.items()
             if k not in ("force_id", "districts", "categories") and v not in (None, "", [], {})}
    parts += [f"{key.replace('_', ' ')}: {', '.join(_names(value)) if isinstance(value, list) else value}"
              for key, value in other.items()]
    return "; ".join(parts)


def with_data_status(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record with `data_status` set to "Demo data — synthetic" when its dataset is the demo."""
    out = dict(record)
    if out.get("dataset") == "demo":
        out["data_status"] = DEMO_MARK
    return out


def dataset_label(con: duckdb.DuckDBPyConnection) -> str | None:
    """`meta.dataset` ('demo' for the synthetic warehouse), None when unset."""
    from metrics.inventory import dataset_label as read_dataset_label

    return read_dataset_label(con)


def warehouse_identity(con: duckdb.DuckDBPyConnection) -> tuple[str, str | None]:
    """(load fingerprint, dataset label): which data a warehouse holds, as an export's record names them. Fixed for a
    warehouse file (a load swaps in a new file), so the app reads it once per file through its cache."""
    return load_fingerprint(con), dataset_label(con)


def provenance_for(
    con: duckdb.DuckDBPyConnection,
    filters: Any = None,
    *,
    generated_at: datetime | None = None,
    identity: tuple[str, str | None] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The provenance record of an export made now from `con` under `filters`; `identity` is the warehouse's
    `warehouse_identity` when the caller already has it (read from `con` otherwise). `extra` (period,
    comparison, title, ...) is added as given (dates as ISO text)."""
    fingerprint, dataset = identity if identity is not None else warehouse_identity(con)
    record: dict[str, Any] = {
        "producer": "Crime Plan Monitor",
        "version": __version__,
        "load_fingerprint": fingerprint,
        "dataset": dataset,
        "filters": filters_dict(filters),
        "generated_at": (generated_at or datetime.now(timezone.utc)).replace(microsecond=0).isoformat(),
    }
    record.update({key: _jsonable(value) for key, value in extra.items()})
    return with_data_status(record)


_LABELS = {
    "producer": "Produced by",
    "version": "Version",
    "generated_at": "Generated at (UTC)",
    "load_fingerprint": "Data fingerprint (files loaded)",
    "dataset": "Dataset",
    "data_status": "Data status",
    "filters": "Filters",
    "period": "Period",
    "comparison": "Compared with",
    "comparison_label": "Comparison",
    "database": "Database",
    "disclosure": "Disclosure control",
    "title": "Title",
}


def _value_in_words(key: str, value: Any) -> str:
    if key == "filters":
        return filters_in_words(value)
    if key in ("period", "comparison") and isinstance(value, list) and len(value) == 2:
        return f"{str(value[0])[:7]} to {str(value[1])[:7]}"  # first-of-month ISO dates: 'YYYY-MM to YYYY-MM'
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str, sort_keys=True) if value else "none"
    return "" if value is None else str(value)


def provenance_lines(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, text) pairs for a provenance sheet or slide, in reading order, labelled in words; the filters
    are given in words and, for reproducing the export, as recorded (JSON) on the line after."""
    lines: list[tuple[str, str]] = []
    for key, value in record.items():
        lines.append((_LABELS.get(key, key.replace("_", " ").capitalize()), _value_in_words(key, value)))
        if key == "filters":
            raw = json.dumps(value, default=str, sort_keys=True) if value else "none (all)"
            lines.append(("Filters (as recorded)", raw))
    return lines


def sidecar_path(out_path: str | Path) -> Path:
    """`pack.pptx` -> `pack.pptx.provenance.json`."""
    out_path = Path(out_path)
    return out_path.with_name(out_path.name + ".provenance.json")


def write_sidecar(out_path: str | Path, record: Mapping[str, Any]) -> Path:
    """Write the JSON sidecar of an export beside it (with `data_status` "Demo data — synthetic" when the
    record's dataset is the demo); returns its path."""
    path = sidecar_path(out_path)
    record = with_data_status(record)
    path.write_text(json.dumps(record, indent=2, default=str, sort_keys=True) + "\n", encoding="utf-8")
    return path
