"""One module per source family. Each exposes:

- `HEADERS: dict[str, list[str]]` — the header(s) it recognises, by kind (used to explain near misses);
- `detect(header: list[str], options: dict | None = None) -> str | None` — the kind of a file from its
  parsed header line (options carry CLI flags such as `mapping` for the force extract);
- `load(session, files: list[tuple[ScannedFile, str]], **options)` — load files it detected, inside the
  caller's atomic write session; must log every file with `session.log_file` and keep
  rows read = rows loaded + rows rejected.

The registry below is the only list of families: `etl.load` asks each module in turn.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# module names under etl.sources, in detection order
SOURCE_MODULES = ["police_uk", "reference", "counts", "stats19", "fraud", "extract", "measures"]


def source_modules() -> list[ModuleType]:
    """The source modules that exist (families are added module by module)."""
    modules = []
    for name in SOURCE_MODULES:
        try:
            modules.append(importlib.import_module(f"etl.sources.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"etl.sources.{name}":
                raise
    return modules
