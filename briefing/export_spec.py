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
# the longer sentence beside the mark in notes, banners and sidecars
DEMO_NOTE = (f"{DEMO_MARK}: made from the synthetic demo warehouse; the numbers are invented and must not be "
             "quoted as real.")
P_VALUE_FLOOR = 0.001  # p- and q-values below this are shown as "<0.001"


@dataclass(frozen=True)
class Column:
    """One exported column: `name` in the frame, `label` the header in words with its unit, `decimals` the
    rounding shown on screen (None: the value as it is, e.g. text or dates), `percent` when the value is a
    percentage (shown with a % sign in its header, not multiplied), `p_value` for a p- or q-value (three
    decimals, "<0.001" below 0.001), `description` what the column holds when its header cannot say it (it
    goes into the notes; a list column, e.g. sparkline values, is exported only with a description)."""

    name: str
    label: str
    decimals: int | None = 0
    percent: bool = False
    p_value: bool = False
    description: str = ""

    @property
    def header(self) -> str:
        """The header written into the file: the label, with " (%)" added for a percentage that does not say so."""
        return f"{self.label} (%)" if self.percent and "%" not in self.label else self.label


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

    @property
    def demo(self) -> bool:
        """True when the export is made from the synthetic demo: `is_demo`, or a provenance record whose
        dataset is 'demo' (`meta.dataset`, as `briefing.provenance.provenance_for` records it)."""
        return bool(self.is_demo) or (self.provenance or {}).get("dataset") == "demo"


__all__ = ["DEMO_MARK", "DEMO_NOTE", "P_VALUE_FLOOR", "Column", "ExportNotes"]
