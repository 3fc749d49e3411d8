"""scripts/run.sh starts the background baselines computation detached, so it is not left a zombie under streamlit, and two
instances write their own logs. Run against a copy of the script with stand-ins for setup, Python and
streamlit (nothing is installed, no server is started)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from tests.conftest import PROJECT_ROOT

FAKE_PYTHON = """#!/usr/bin/env bash
# stand-in: `-m metrics baselines` works briefly and exits; everything else succeeds at once
if [ "$2" = "metrics" ]; then sleep 0.3; echo "baselines done"; fi
exit 0
"""
FAKE_STREAMLIT = """#!/usr/bin/env bash
# stand-in for the server: stays up without ever reaping children (as a long-running server would not)
exec sleep 3
"""


def _project_copy(root: Path) -> Path:
    (root / "scripts").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "scripts" / "run.sh", root / "scripts" / "run.sh")
    (root / "scripts" / "setup.sh").write_text("#!/usr/bin/env bash\nexit 0\n")
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in (("python", FAKE_PYTHON), ("streamlit", FAKE_STREAMLIT)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return root


def _zombie_children(pid: int) -> list[int]:
    zombies = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == pid:
            zombies.append(int(stat.parent.name))
    return zombies


def test_background_baselines_run_is_not_left_a_zombie_and_each_start_has_its_own_log(tmp_path):
    root = _project_copy(tmp_path / "project")
    env = {**os.environ, "CRIME_MONITOR_DB": str(tmp_path / "w.duckdb")}
    runs = [subprocess.Popen(["bash", "scripts/run.sh"], cwd=root, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    try:
        time.sleep(1.5)  # the baselines run (0.3 s) has finished; each run.sh is now the server (exec)
        for run in runs:
            assert run.poll() is None, run.stdout.read()
            assert _zombie_children(run.pid) == [], "the baselines run is a zombie child of the server"
    finally:
        outputs = [run.communicate(timeout=30)[0] for run in runs]
    logs = sorted((root / "data").glob("baselines*.log"))
    assert len(logs) == 2, (logs, outputs)  # one log per start
    assert all(log.read_text().strip() == "baselines done" for log in logs)
    assert all("log: data/baselines." in out for out in outputs)
