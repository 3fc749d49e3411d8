"""After a successful load, start `python -m metrics baselines` as a detached background process: it fits
the expected-vs-observed baselines of every slice the views offer and stores them in the warehouse
(metrics.baselines). etl never imports metrics; this is a subprocess.

Off with `--no-baselines` on `python -m etl load` / `python -m etl demo`, or CRIME_MONITOR_BASELINES=off
(the test suite sets it). The process's output goes to `<warehouse>.baselines.log` beside the database.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def baselines_enabled() -> bool:
    return os.environ.get("CRIME_MONITOR_BASELINES", "").lower() != "off"


def start_baselines(db_path: str | os.PathLike, log=print) -> subprocess.Popen | None:
    """Start the baselines computation for the warehouse at db_path in the background (a new session, so
    it outlives this command); returns the process, or None when baselines are switched off."""
    if not baselines_enabled():
        return None
    db = Path(db_path).resolve()
    log_path = db.with_name(db.name + ".baselines.log")
    with open(log_path, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "metrics", "baselines", "--db", str(db), "--if-stale"],
            cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    log(f"Fitting the expected-vs-observed baselines in the background (process {process.pid}, log {log_path}).")
    return process
