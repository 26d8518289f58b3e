#!/usr/bin/env bash
# Set up, show the data, train the edge model on a grouped split and
# evaluate it on the whole data folder (held-out fold + out-of-set videos).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh train
mkdir -p runs
.venv/bin/edgerec data info
.venv/bin/edgerec train --arch edge --out runs/edge.keras
.venv/bin/edgerec evaluate runs/edge.keras "${EDGEREC_DATA:-../shared/data}"
