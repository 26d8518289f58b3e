#!/usr/bin/env bash
# Check the device install on numpy 2 without MediaPipe: a throwaway venv (in a temp dir)
# gets `pip install "numpy>=2" ".[edge]"` from a copy of this working tree, with
# constraints.txt minus its numpy pin (every other pin kept), then:
#   1. `import mediapipe` must fail and numpy must be 2.x;
#   2. the cached BlazePose models are used (fetched with `edgerec pose fetch` if absent);
#   3. `edgerec run --video gangnam_style.mp4 --json -q --no-dataset-songs` must end with a
#      summary from the native pose stage with a pose in at least 95% of the frames;
#   4. pytest tests/test_pose_native.py (and tests/test_pose_variants.py's fast tests,
#      which run the ONNX variants on numpy 2 when they are built) from the copy.
# Nothing in the repository or its .venv is touched; the temp dir is removed at the end
# (KEEP=1 keeps it). Needs the package index; $EDGEREC_DATA (default ../shared/data) for
# the video; $PYTHON (default python3) for the venv.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
DATA="${EDGEREC_DATA:-$REPO/../shared/data}"
DATA="$(cd "$DATA" && pwd)"
VIDEO="$DATA/videos/gangnam_style.mp4"
PY="${PYTHON:-python3}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/edgerec-lean.XXXXXX")"
cleanup() { if [[ "${KEEP:-0}" == 1 ]]; then echo "kept $TMP"; else rm -rf "$TMP"; fi; }
trap cleanup EXIT
start=$SECONDS
step() { echo "== $* ($((SECONDS - start)) s)"; }

[[ -f "$VIDEO" ]] || { echo "FAIL: $VIDEO not found (set EDGEREC_DATA)"; exit 1; }

step "copy of the working tree (tracked and untracked, not ignored) -> $TMP/src"
mkdir "$TMP/src"
git -C "$REPO" ls-files -z --cached --others --exclude-standard \
  | (cd "$REPO" && xargs -0 tar --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$TMP/src"

step "constraints without the numpy pin"
grep -v -E '^numpy==' "$REPO/constraints.txt" > "$TMP/constraints.txt"

step "venv ($("$PY" --version)) and pip install numpy>=2 .[edge]"
"$PY" -m venv "$TMP/venv"
V="$TMP/venv/bin"
"$V/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$V/python" -m pip install -q --disable-pip-version-check -c "$TMP/constraints.txt" "numpy>=2" "$TMP/src[edge]"
"$V/python" -m pip list --disable-pip-version-check 2>/dev/null \
  | grep -i -E '^(numpy|opencv-python-headless|ai-edge-litert|onnxruntime|edgerec|mediapipe|tensorflow) ' || true

step "numpy 2, no mediapipe, no tensorflow"
"$V/python" - <<'EOF'
import importlib.util, sys
import numpy
assert numpy.__version__.split(".")[0] == "2", f"numpy {numpy.__version__} is not 2.x"
for mod in ("mediapipe", "tensorflow"):
    try:
        __import__(mod)
    except ImportError:
        pass
    else:
        sys.exit(f"FAIL: {mod} is importable in the lean venv")
import cv2, onnxruntime, ai_edge_litert
print(f"numpy {numpy.__version__}, opencv {cv2.__version__}, onnxruntime {onnxruntime.__version__}; mediapipe and tensorflow absent")
EOF

step "pose models"
if ! "$V/python" -c "from edge.pose.models import find_pose_models; print(find_pose_models())"; then
  "$V/edgerec" pose fetch
fi
"$V/edgerec" pose info

step "edgerec run --video $(basename "$VIDEO")"
(cd "$TMP" && "$V/edgerec" run --video "$VIDEO" --json -q --no-dataset-songs > "$TMP/run.jsonl")
"$V/python" - "$TMP/run.jsonl" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
summary = lines[-1]
assert summary["type"] == "summary", summary
assert summary["pose_stage"] == "native", summary["pose_stage"]
frames, posed = summary["frames"], summary["frames_with_pose"]
assert frames > 0 and posed >= 0.95 * frames, f"pose in {posed} of {frames} frames"
print(f"summary: {frames} frames, {posed} with a pose, {summary['fps']:.1f} fps, "
      f"{summary['updates']} updates, most shown style {summary['most_shown_style']}, "
      f"pose p50 {summary['latency_ms']['pose']['p50']:.1f} ms")
EOF

step "pytest (pinned by the filtered constraints)"
"$V/python" -m pip install -q --disable-pip-version-check -c "$TMP/constraints.txt" pytest
(cd "$TMP/src" && EDGEREC_DATA="$DATA" "$V/python" -m pytest -q -p no:cacheprovider -m "not slow" \
  tests/test_pose_native.py tests/test_pose_variants.py)

step "OK: lean install on numpy 2 without mediapipe works"
