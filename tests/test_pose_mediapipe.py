"""`--pose mediapipe`: MediaPipe's own legacy solution behind the pose interface.

Runs only where the optional `mediapipe` extra is installed (it is not part of the dev
install, which keeps numpy 2 open for the device); the reference landmarks were made with
exactly this solution, so the output must match them.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None,
                                reason="mediapipe is not installed (pip install -c constraints.txt '.[mediapipe]')")


def test_mediapipe_stage_reproduces_the_reference(data_root):
    import cv2

    from edge.pose import make_pose

    pose = make_pose("mediapipe")
    cap = cv2.VideoCapture(str(data_root / "videos" / "gangnam_style.mp4"))
    out = []
    while len(out) < 90:
        ok, frame = cap.read()
        if not ok:
            break
        r = pose.process(frame)
        out.append(r.landmarks if r.found else np.full((33, 4), np.nan, np.float32))
    pose.close()
    ref = np.load(data_root / "videos" / "gangnam_style_mediapipe33.npy")[: len(out)]
    assert np.isfinite(ref[:, 0, 0]).sum() == np.isfinite(np.array(out)[:, 0, 0]).sum()
    assert np.nanmax(np.abs(np.array(out) - ref)) < 1e-4


def test_mediapipe_stage_keeps_tensorflow_out():
    code = ("import sys; from edge.pose import make_pose; make_pose('mediapipe').close(); "
            "print('TF' if sys.modules.get('tensorflow') is not None else 'NO-TF')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-1500:]
    assert out.stdout.strip().endswith("NO-TF")
