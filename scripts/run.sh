#!/usr/bin/env bash
# Set up (first time), build the synthetic demo warehouse if no database exists, and start the dashboard.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# serve address (docs/SECURITY.md): without sign-in ([auth] in .streamlit/secrets.toml) only 127.0.0.1; another
# address is refused unless CRIME_MONITOR_ALLOW_UNAUTHENTICATED=1. check-serve prints the address to add.
ADDRESS="$(.venv/bin/python -m access check-serve -- "$@")" || exit 2
SERVE_ARGS=()
if [ -n "$ADDRESS" ]; then SERVE_ARGS=(--server.address "$ADDRESS"); fi
export BROWSER_PATH="${BROWSER_PATH:-/usr/bin/chromium}"
DB="${CRIME_MONITOR_DB:-data/warehouse.duckdb}"
if [ ! -f "$DB" ]; then
  echo "run: no warehouse at $DB: building the synthetic demo dataset (about a minute)"
  .venv/bin/python -m etl demo --if-missing --db "$DB"
fi
export CRIME_MONITOR_DB="$DB"
# fit and store the views' expected-vs-observed baselines in the background unless up to date; started
# detached from this shell (a subshell that exits at once), so it is not left a zombie under streamlit, with a log
# of its own per start (two instances never write the same file)
mkdir -p data
BASELINES_LOG="data/baselines.$$.log"
# at a lower CPU priority (nice), so the check and any fitting give way to the dashboard's first pages
( nice -n 10 .venv/bin/python -m metrics baselines --db "$DB" --if-stale > "$BASELINES_LOG" 2>&1 & )
echo "run: fitting the views' baselines in the background if stale, at low priority (log: $BASELINES_LOG)"
exec .venv/bin/streamlit run app.py --server.port "${PORT:-8501}" "${SERVE_ARGS[@]}" "$@"
