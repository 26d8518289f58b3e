#!/usr/bin/env bash
# Set up (pinned versions) and run the whole test suite. Real-data tests read
# $EDGEREC_DATA (default ../shared/data) and are skipped, with the reason, when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
exec .venv/bin/python -m pytest "$@"
