#!/usr/bin/env bash
# Set up (first time) and run every test, browser tests included. Needs ../shared/data (or $CRIME_REFERENCE_DATA).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export BROWSER_PATH="${BROWSER_PATH:-/usr/bin/chromium}"
export CRIME_REFERENCE_DATA="${CRIME_REFERENCE_DATA:-$(cd .. && pwd)/shared/data}"
if [ ! -d "$CRIME_REFERENCE_DATA/police-uk/essex" ]; then
  echo "test: reference data not found at $CRIME_REFERENCE_DATA (put ../shared/data beside the project)" >&2
  exit 1
fi
exec .venv/bin/python -m pytest "$@"
