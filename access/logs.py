"""The server log for access events: the audit heads and page errors must reach it even though Streamlit
configures only its own loggers. A handler on stderr (where Streamlit logs too) is added to our loggers unless
the deployment configured logging itself (any handler on the logger or the root)."""

from __future__ import annotations

import logging
import sys


def server_logger(name: str) -> logging.Logger:
    """The logger `name` at INFO, writing to stderr with a timestamp when nothing else would show it."""
    logger = logging.getLogger(name)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    return logger
