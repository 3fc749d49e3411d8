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


def dataset_label(con: duckdb.DuckDBPyConnection) -> str | None:
    """`meta.dataset` ('demo' for the synthetic warehouse), None when unset."""
    from metrics.inventory import dataset_label as read_dataset_label

    return read_dataset_label(con)


def provenance_for(
    con: duckdb.DuckDBPyConnection,
    filters: Any = None,
    *,
    generated_at: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The provenance record of an export made now from `con` under `filters`. `extra` (period,
    comparison, title, ...) is added as given (dates as ISO text)."""
    record: dict[str, Any] = {
        "producer": "Crime Plan Monitor",
        "version": __version__,
        "load_fingerprint": load_fingerprint(con),
        "dataset": dataset_label(con),
        "filters": filters_dict(filters),
        "generated_at": (generated_at or datetime.now(timezone.utc)).replace(microsecond=0).isoformat(),
    }
    record.update({key: _jsonable(value) for key, value in extra.items()})
    return record


def provenance_lines(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, text) pairs for a provenance sheet or slide, in reading order."""
    labels = {
        "producer": "Produced by",
        "version": "Version",
        "generated_at": "Generated at (UTC)",
        "load_fingerprint": "Data fingerprint (load_log)",
        "dataset": "Dataset",
        "filters": "Filters",
        "period": "Period",
        "comparison": "Compared with",
        "database": "Database",
        "disclosure": "Disclosure control",
    }
    lines: list[tuple[str, str]] = []
    for key, value in record.items():
        if isinstance(value, (dict, list)):
            text = json.dumps(value, default=str, sort_keys=True) if value else "none (all)"
        else:
            text = "" if value is None else str(value)
        lines.append((labels.get(key, key.replace("_", " ").capitalize()), text))
    return lines


def sidecar_path(out_path: str | Path) -> Path:
    """`pack.pptx` -> `pack.pptx.provenance.json`."""
    out_path = Path(out_path)
    return out_path.with_name(out_path.name + ".provenance.json")


def write_sidecar(out_path: str | Path, record: Mapping[str, Any]) -> Path:
    """Write the JSON sidecar of an export beside it; returns its path."""
    path = sidecar_path(out_path)
    path.write_text(json.dumps(record, indent=2, default=str, sort_keys=True) + "\n", encoding="utf-8")
    return path
