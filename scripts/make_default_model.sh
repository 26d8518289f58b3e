#!/usr/bin/env bash
# Reproduce the default model shipped in edge/assets from the shared data:
# 1. the real-video report (leave one real dancer out, at the runtime's decision level),
#    whose measured ratio calibrates "unsure" for dancers the model never saw;
# 2. the edge model on every in-set clip (seed 0), exposed to the real out-of-set clips;
# 3. float16 TFLite (checked against Keras, card embedded), put in the package.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${EDGEREC_DATA:-../shared/data}"
mkdir -p runs/default
.venv/bin/edgerec realvideo --data "$data" --out reports/realvideo
.venv/bin/edgerec train --arch edge --test-fold none --seed 0 --data "$data" --out runs/default/edge.keras \
  --real-calibration reports/realvideo/report.json
.venv/bin/edgerec convert runs/default/edge.keras --to tflite --quant float16 --data "$data" \
  --out edge/assets/default_edge_float16.tflite
