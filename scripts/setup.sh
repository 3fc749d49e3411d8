#!/usr/bin/env bash
# Set up a fresh machine: Debian Chromium (chart images, browser tests) and a Python venv with the pinned packages.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    echo "setup: installing Debian chromium (chart image export, browser tests)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
  else
    echo "setup: chromium is not installed and this user cannot install it; chart image export will not work" >&2
  fi
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
if ! cat requirements.txt requirements-nodeps.txt | cmp -s - .venv/.requirements-installed 2>/dev/null; then
  echo "setup: installing pinned Python packages (requirements.txt, requirements-nodeps.txt)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
  # packages whose declared pins are wider than what we use (see the file's comment): no dependency resolution
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
  cat requirements.txt requirements-nodeps.txt > .venv/.requirements-installed
fi
