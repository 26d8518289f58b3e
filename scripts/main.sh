#!/usr/bin/env bash
# The main job: set up the lean device install (no TensorFlow), cache the BlazePose models,
# and run `edgerec demo`: the camera if one exists, else a sample video, through pose, the
# shipped default model and the default music catalogue, printing live updates and a summary.
# Extra arguments go to `edgerec demo` (e.g. --save demo.mp4, --json).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh edge
.venv/bin/edgerec demo "$@"
