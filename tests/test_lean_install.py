"""The device install on numpy 2 with no MediaPipe: `scripts/check_lean_install.sh` end to end.

Builds a throwaway venv from the package index (about 45 s with a warm pip cache), so it is
marked slow; it needs the shared videos and the cached pose models (fetched if absent).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_edge_extra_runs_on_numpy2_without_mediapipe(data_root):
    out = subprocess.run(["bash", str(REPO / "scripts" / "check_lean_install.sh")], capture_output=True, text=True,
                         timeout=900, env={**os.environ, "EDGEREC_DATA": str(data_root)})
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    assert "OK: lean install on numpy 2 without mediapipe works" in out.stdout
    assert "mediapipe and tensorflow absent" in out.stdout
