"""The server process's heap after its first page: collected once, then kept out of the garbage collector's
full passes (`gc.freeze`).

Python's full (generation 2) collection walks every tracked object. After the first page the server holds about
200,000 of them (Streamlit, pandas, Plotly, DuckDB, SciPy, the app's own modules and caches), and each full
collection took 40–150 ms here (measured with `gc.callbacks` during `python -m bench pages`), several of them
inside timed page visits. Frozen, they are never walked again: later full collections see only what later pages
create. Collected first, so no garbage is frozen with them.
"""

from __future__ import annotations

import gc
import threading

_frozen = False
_guard = threading.Lock()


def freeze_after_first_page() -> bool:
    """Once per process (the end of the first script run): collect every generation, then freeze what is left.
    True when this call did it."""
    global _frozen
    with _guard:
        if _frozen:
            return False
        _frozen = True
    gc.collect()
    gc.freeze()
    return True


__all__ = ["freeze_after_first_page"]
