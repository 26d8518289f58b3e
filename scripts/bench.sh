#!/usr/bin/env bash
# Regenerate the committed benchmark report (benchmarks/reports/latest.{md,json,png}).
# 1. train edge and paper on folds 1-4 and convert each to every format (skipped for files
#    already in runs/conversion: delete that folder to start over); 2. benchmark every file
#    at 1 and 2 threads with held-out accuracy, and the runtime end to end on the sample
#    videos. Run it on a quiet machine: other load changes the numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
n=$(ls runs/conversion/{edge,paper}.{keras,float32.tflite,float16.tflite,dynamic.tflite,int8.tflite,none.onnx,dynamic.onnx,static.onnx} 2>/dev/null | wc -l)
if [ "$n" -lt 16 ]; then
  .venv/bin/edgerec export-report --work runs/conversion --out reports/conversion --reuse
fi
# MediaPipe's own pose stage is compared when the optional extra is installed
pose=native
if .venv/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('mediapipe') is None)"; then
  pose=native,mediapipe
fi
.venv/bin/edgerec bench all runs/conversion --pose "$pose" --pose-every 1,2 --out benchmarks/reports --name latest "$@"
