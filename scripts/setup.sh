#!/usr/bin/env bash
# Create .venv (if missing) and install edgerec with the verified, pinned versions.
# Usage: scripts/setup.sh [EXTRAS]   (default extras: dev = train + convert + tests)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-dev}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e ".[${extras}]"
