"""ui.heap: the server's heap after its first page is collected once, then frozen (gc.freeze)."""

from __future__ import annotations

import gc
import weakref

from ui import heap


class _Cycle:
    def __init__(self):
        self.me = self


def test_first_page_collects_then_freezes_once(monkeypatch):
    monkeypatch.setattr(heap, "_frozen", False)
    gc.unfreeze()
    gc.disable()  # no automatic collection in between: only the one under test
    try:
        garbage = _Cycle()
        gone = weakref.ref(garbage)
        del garbage  # unreachable, only its cycle keeps it: must be collected before the freeze, not frozen
        alive = _Cycle()
        assert gone() is not None and gc.get_freeze_count() == 0
        assert heap.freeze_after_first_page() is True
        assert gone() is None
        assert gc.get_freeze_count() > 0 and alive.me is alive
        frozen = gc.get_freeze_count()
        assert heap.freeze_after_first_page() is False  # once per process
        assert gc.get_freeze_count() == frozen
    finally:
        gc.enable()
        gc.unfreeze()
