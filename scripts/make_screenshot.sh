#!/usr/bin/env bash
# Regenerate docs/screenshot.png: CMU salsa take 60_01 (CMU mocap: free to use) projected
# through the evaluation camera, replayed through `edgerec run --poses --save`, frame 1850.
# The example videos have no licence for redistribution, so no frame of them is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
.venv/bin/edgerec data export-poses cmu:60_01 --out "$tmp/salsa.npy"
.venv/bin/edgerec run --poses "$tmp/salsa.npy" --fps 120 --size 1280x720 --max-frames 1900 \
  --save "$tmp/salsa.mp4" --json -q > "$tmp/salsa.jsonl"
.venv/bin/python - "$tmp/salsa.mp4" <<'PY'
import sys, cv2
cap = cv2.VideoCapture(sys.argv[1]); cap.set(cv2.CAP_PROP_POS_FRAMES, 1850)
ok, frame = cap.read(); assert ok, "no frame 1850"
cv2.imwrite("docs/screenshot.png.tmp.png", frame[:, :900], [cv2.IMWRITE_PNG_COMPRESSION, 9])
PY
mv docs/screenshot.png.tmp.png docs/screenshot.png
echo "wrote docs/screenshot.png"
