#!/usr/bin/env bash
# Create .venv (if missing), install edgerec with the verified, pinned versions, and cache
# the BlazePose models the native pose stage runs (checksum-verified, from the mediapipe
# 0.10.14 wheel on the package index; skipped when already cached).
# Usage: scripts/setup.sh [EXTRAS]   (default extras: dev = train + convert + tests)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-dev}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e ".[${extras}]"
pose_info="$(.venv/bin/edgerec pose info)"
if ! grep -q "^native *ready" <<<"$pose_info"; then
  .venv/bin/edgerec pose fetch
fi
