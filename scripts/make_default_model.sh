#!/usr/bin/env bash
# Reproduce the default model shipped in edge/assets from the shared data:
# train the edge model on every in-set clip (seed 0), convert it to float16 TFLite
# (checked against Keras, card embedded), and put it in the package.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${EDGEREC_DATA:-../shared/data}"
mkdir -p runs/default
.venv/bin/edgerec train --arch edge --test-fold none --seed 0 --data "$data" --out runs/default/edge.keras
.venv/bin/edgerec convert runs/default/edge.keras --to tflite --quant float16 --data "$data" \
  --out edge/assets/default_edge_float16.tflite
