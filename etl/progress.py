"""A minimal terminal progress bar (only drawn when attached to a terminal)."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, label: str, enabled: bool | None = None, stream=None):
        self.total = max(total, 1)
        self.label = label
        self.done = 0
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.started = time.monotonic()

    def __enter__(self) -> "Progress":
        return self

    def advance(self, note: str = "", step: int = 1) -> None:
        self.done += step
        if not self.enabled:
            return
        width = 30
        filled = int(width * self.done / self.total)
        elapsed = time.monotonic() - self.started
        note = note[-50:]
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {elapsed:5.1f}s {note:<50}"
        )
        self.stream.flush()

    def __exit__(self, *exc) -> None:
        if self.enabled and self.done:
            self.stream.write("\n")
            self.stream.flush()
