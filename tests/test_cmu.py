"""Tests for the CMU BVH loader: hand-computed forward kinematics, malformed files, real data.

The synthetic file checks the conventions that are easy to get silently wrong (degrees,
rotation composition in CHANNELS order, offsets rotated by the parent); the real-data test
checks units, y up and that CMU's ``l*`` joints land on the performer's left.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from edge.core.schema import LANDMARK
from training.datasets.cmu import forward_kinematics, load_cmu_bvh, read_bvh

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EDGEREC_DATA", REPO.parent / "shared" / "data"))
CMU = DATA / "cmu_salsa"

# Root translated to (1, 2, 3). Frame 1 rotates the root by Rz(90) @ Rx(90) (the
# CHANNELS order) and the arm by Ry(90):
#   arm     = root + Rz Rx (0,1,0)          = (1,2,3) + (0,0,1)  = (1, 2, 4)
#   arm_end = arm  + Rz Rx Ry (1,0,0)       = (1,2,4) + (-1,0,0) = (0, 2, 4)
# (composing the root as Rx @ Rz instead would put the arm at (0, 2, 3)).
TINY_BVH = """HIERARCHY
ROOT root
{
\tOFFSET 0 0 0
\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
\tJOINT arm
\t{
\t\tOFFSET 0 1 0
\t\tCHANNELS 3 Yrotation Xrotation Zrotation
\t\tEnd Site
\t\t{
\t\t\tOFFSET 1 0 0
\t\t}
\t}
}
MOTION
Frames: 2
Frame Time: 0.5
1 2 3 0 0 0 0 0 0
1 2 3 90 90 0 90 0 0
"""

TINY_EXPECTED = np.array(
    [
        [[1, 2, 3], [1, 3, 3], [2, 3, 3]],
        [[1, 2, 3], [1, 2, 4], [0, 2, 4]],
    ],
    dtype=np.float64,
)


def _write(path: Path, text: str) -> Path:
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["tiny.bvh", "tiny.bvh.gz"])
def test_forward_kinematics_by_hand(tmp_path: Path, name: str) -> None:
    motion = read_bvh(_write(tmp_path / name, TINY_BVH))
    assert motion.names == ("root", "arm", "arm_end")
    assert motion.parents == (-1, 0, 1)
    assert motion.frame_time == 0.5 and motion.fps == 2.0
    np.testing.assert_allclose(forward_kinematics(motion), TINY_EXPECTED, atol=1e-12)


def test_load_metadata_and_group(tmp_path: Path) -> None:
    # Unknown joints map to nothing (mask all False); the file name carries subject/take.
    lead = load_cmu_bvh(_write(tmp_path / "60_07.bvh", TINY_BVH), label="salsa")
    follow = load_cmu_bvh(_write(tmp_path / "61_07.bvh.gz", TINY_BVH), label="salsa")
    assert lead.group == follow.group == "cmu:take07"
    assert (lead.clip_id, follow.clip_id) == ("cmu:60_07", "cmu:61_07")
    assert lead.meta == {"subject": "60", "take": "07"}
    assert lead.source == "cmu" and lead.frame == "world" and lead.label == "salsa"
    assert lead.path == str(tmp_path / "60_07.bvh")
    assert lead.points.shape == (2, 33, 3) and not lead.mask.any()
    np.testing.assert_allclose(lead.times, [0.0, 0.5])


@pytest.mark.parametrize(
    "text, what",
    [
        (TINY_BVH.rsplit("\n", 2)[0] + "\n", "truncated"),  # header says 2 frames, 1 given
        (TINY_BVH.replace("1 2 3 90 90 0 90 0 0", "1 2 3 90 90 0 90 0"), "8 values"),
        (TINY_BVH.replace("ROOT root", "JOINT root"), "JOINT outside the ROOT"),
        ("HIERARCHY\nMOTION\nFrames: 0\nFrame Time: 0.1\n", "no ROOT"),
        (TINY_BVH.replace("90 90 0 90", "90 abc 0 90"), "non-numeric"),
        (TINY_BVH.replace("Frame Time: 0.5", "Frame Time: 0"), "Frame Time"),
    ],
)
def test_malformed_raises_one_line_value_error(tmp_path: Path, text: str, what: str) -> None:
    path = _write(tmp_path / "60_01.bvh.gz", text)
    with pytest.raises(ValueError) as info:
        load_cmu_bvh(path, label="salsa")
    message = str(info.value)
    assert str(path) in message and what in message and "\n" not in message


def _real(name: str) -> Path:
    path = CMU / name
    if not path.exists():
        pytest.skip(f"CMU salsa data not found at {path} (set EDGEREC_DATA to the data root)")
    return path


def test_real_cmu_file() -> None:
    seq = load_cmu_bvh(_real("60_01.bvh.gz"), label="salsa")
    partner = load_cmu_bvh(_real("61_01.bvh.gz"), label="salsa")
    assert seq.points.shape == (2242, 33, 3) and seq.mask.shape == (2242, 33)
    assert seq.fps == 120.0 and seq.frame == "world"
    assert seq.group == partner.group == "cmu:take01"
    assert int(seq.mask[0].sum()) == 18

    p = seq.points.astype(np.float64)
    lm = {name: p[:, i] for name, i in LANDMARK.items()}
    # Height eye-to-toe, metres. CMU's BVH conversion retargets every subject onto one
    # standard skeleton (60 and 61 have identical offsets) whose eyes are ~1.13 m above
    # its toes; a centimetre or inch mix-up would give ~113 or ~45 instead.
    eyes = (lm["left_eye"] + lm["right_eye"]) / 2
    toes = np.minimum(lm["left_foot_index"][:, 1], lm["right_foot_index"][:, 1])
    height = float(np.median(eyes[:, 1] - toes))
    assert 1.0 < height < 2.0
    assert abs(float(np.median(toes))) < 0.15  # y up, feet on the floor at y ~ 0

    # Left is the performer's own left: left shoulder and left hip on the same side, and
    # both on the left of the facing direction (eyes forward of the shoulders), with
    # left = up x forward in a right-handed, y-up frame.
    across_shoulders = lm["left_shoulder"] - lm["right_shoulder"]
    across_hips = lm["left_hip"] - lm["right_hip"]
    assert np.mean(np.sum(across_shoulders * across_hips, axis=1) > 0) > 0.95
    forward = eyes - (lm["left_shoulder"] + lm["right_shoulder"]) / 2
    left = np.cross([0.0, 1.0, 0.0], forward)
    assert np.mean(np.sum(across_shoulders * left, axis=1) > 0) > 0.95
