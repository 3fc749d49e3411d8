"""What an export needs to be read by people, and the two calls that build the files.

The UI (and the briefing pack) describe a table by its columns in words and the export by its notes; the
export layer (`briefing.tables.table_files`, `briefing.images.chart_files`) turns a frame or a Plotly figure
into CSV/XLSX or PNG/SVG/PDF downloads that are built only when clicked (each `Download.data` is a
zero-argument callable).

    columns = [Column("district", "District", None), Column("rate_per_1000", "Crimes per 1,000 residents", 1)]
    notes = ExportNotes(title="Crime by district", source="data.police.uk street-level crime; 2011 Census",
                        units="crimes; rates per 1,000 residents", period="Jan 2021–Dec 2021",
                        filters="Essex Police; all districts; all crime types", as_at=date(2021, 12, 1))
    items = table_files(frame, notes, columns, basename="crime-by-district")
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

DEMO_MARK = "Demo data — synthetic"


@dataclass(frozen=True)
class Column:
    """One exported column: `name` in the frame, `label` the header in words with its unit, `decimals` the
    rounding shown on screen (None: the value as it is, e.g. text or dates), `percent` when the value is a
    percentage (shown with a % sign in its header, not multiplied)."""

    name: str
    label: str
    decimals: int | None = 0
    percent: bool = False


@dataclass(frozen=True)
class ExportNotes:
    """The notes every export carries: title, source, units, the period in words, the filters in words, the
    data-as-at date, caveats, whether the data are the synthetic demo, the provenance record
    (`briefing.provenance.provenance_for`) and whether disclosure control applies (None: decided from the
    frame/figure and `filters`)."""

    title: str
    source: str
    units: str = ""
    period: str = ""
    filters: str = ""
    as_at: date | None = None
    caveats: str = ""
    is_demo: bool = False
    provenance: Mapping[str, Any] | None = field(default=None, compare=False)
    sensitive: bool | None = None


__all__ = ["DEMO_MARK", "Column", "ExportNotes"]
