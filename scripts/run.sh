#!/usr/bin/env bash
# Set up (first time), build the synthetic demo warehouse if no database exists, and start the dashboard.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export BROWSER_PATH="${BROWSER_PATH:-/usr/bin/chromium}"
DB="${CRIME_MONITOR_DB:-data/warehouse.duckdb}"
if [ ! -f "$DB" ]; then
  echo "run: no warehouse at $DB: building the synthetic demo dataset (about a minute)"
fi
.venv/bin/python -m etl demo --if-missing --db "$DB"
export CRIME_MONITOR_DB="$DB"
# fit and store the views' expected-vs-observed baselines in the background unless they are up to date
.venv/bin/python -m metrics baselines --db "$DB" --if-stale > data/baselines.log 2>&1 &
exec .venv/bin/streamlit run app.py --server.port "${PORT:-8501}" "$@"
