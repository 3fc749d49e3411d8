"""Exports for Police, Fire and Crime Panel briefings: chart images (PNG, SVG, PDF), tables (CSV, XLSX),
and the briefing pack (PPTX, optionally PDF), with disclosure control and provenance in every export.

No Streamlit here: the dashboard calls `chart_downloads`, `table_downloads` and `build_pack_bytes`; the
command line is `python -m briefing`.
"""

from __future__ import annotations

__version__ = "0.9.0"

__all__ = ["__version__", "chart_downloads", "table_downloads", "build_pack", "build_pack_bytes", "pack_downloads"]


def __getattr__(name: str):
    """Import the heavy modules (Plotly, python-pptx, openpyxl) only when first used."""
    if name == "chart_downloads":
        from briefing.images import chart_downloads

        return chart_downloads
    if name == "table_downloads":
        from briefing.tables import table_downloads

        return table_downloads
    if name in ("build_pack", "build_pack_bytes", "pack_downloads"):
        from briefing import pack

        return getattr(pack, name)
    raise AttributeError(name)
