"""The OpenPose BODY_25 loader: layout, person choice, malformed files, and the shared dancers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge.core.schema import LANDMARK
from training import datasets
from training.datasets.openpose import load_sequence


def _person(dx: float = 0.0, conf: float = 0.9) -> list[float]:
    kp = []
    for k in range(25):
        kp += [100.0 + 10 * k + dx, 200.0 + 5 * k, conf]
    kp[17 * 3: 17 * 3 + 3] = [0.0, 0.0, 0.0]  # right ear not found
    return kp


def _write(folder: Path, frames: list[list[list[float]]], meta: dict | None = None) -> Path:
    (folder / "json").mkdir(parents=True)
    for i, people in enumerate(frames):
        (folder / "json" / f"frame-{i:06d}.json").write_text(
            json.dumps({"version": 1.3, "people": [{"pose_keypoints_2d": p} for p in people]}))
    (folder / "meta.json").write_text(json.dumps(meta or {"fps": 30.0, "width": 640, "height": 480, "dancer": "Zoe"}))
    return folder


def test_layout_label_group_and_mapping(tmp_path):
    folder = _write(tmp_path / "salsa" / "Zoe", [[_person()], [_person(2.0)], []])
    seq = load_sequence(folder)
    assert seq.label == "salsa" and seq.group == "dancer:zoe" and seq.source == "openpose"
    assert seq.fps == 30.0 and seq.image_size == (640, 480) and seq.num_frames == 3
    assert np.allclose(np.diff(seq.times), 1 / 30)
    # BODY_25 5 = left shoulder, 9 = right hip; 17 (right ear) was (0, 0, 0): not seen
    assert seq.points[0, LANDMARK["left_shoulder"], :2].tolist() == [150.0, 225.0]
    assert seq.points[1, LANDMARK["right_hip"], 0] == pytest.approx(192.0)
    assert not seq.mask[0, LANDMARK["right_ear"]] and seq.mask[0, LANDMARK["left_ear"]]
    assert not seq.mask[2].any()  # nobody in the last frame
    refs = datasets.discover(tmp_path)
    assert [(r.source, r.path) for r in refs] == [("openpose", folder)]


def test_follows_the_same_person_when_two_are_in_view(tmp_path):
    big_far = _person(300.0)
    frames = [[_person(0.0)], [big_far, _person(3.0)], [_person(6.0), big_far]]
    seq = load_sequence(_write(tmp_path / "salsa" / "A", frames))
    xs = seq.points[:, LANDMARK["left_shoulder"], 0]
    assert xs.tolist() == [150.0, 153.0, 156.0]


@pytest.mark.parametrize("bad, match", [
    ("{not json", "not an OpenPose BODY_25 frame"),
    (json.dumps({"people": [{"pose_keypoints_2d": [1, 2, 3]}]}), "BODY_25 has 75"),
    (json.dumps([1, 2]), "not an OpenPose BODY_25 frame"),
])
def test_malformed_frames_name_the_file(tmp_path, bad, match):
    folder = _write(tmp_path / "salsa" / "B", [[_person()], [_person()]])
    (folder / "json" / "frame-000001.json").write_text(bad)
    with pytest.raises(ValueError, match=match) as err:
        load_sequence(folder)
    assert "frame-000001.json" in str(err.value) and "\n" not in str(err.value)


def test_meta_without_a_frame_rate_names_the_fix(tmp_path):
    folder = _write(tmp_path / "salsa" / "C", [[_person()], [_person()]], meta={"width": 10, "height": 10})
    with pytest.raises(ValueError, match="meta.json: needs numeric 'fps'"):
        load_sequence(folder)


def test_shared_dancers(data_root):
    seqs = {s.meta["dancer"]: s for s in (datasets.load(r) for r in datasets.discover(data_root, ("openpose",)))}
    assert {"Ana", "Eero", "Gustavo"} <= set(seqs)
    for s in seqs.values():
        assert s.label == "salsa" and s.meta["real_video"] and s.fps == 30.0
        assert s.mask.any(axis=1).mean() > 0.95
        core = s.mask[:, [LANDMARK[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]]
        assert core.all(axis=1).mean() > 0.95
