"""`edgerec data extract`: videos to landmark files with the runtime's own pose stage.

Real data: macarena.mp4 (copied alone into a temporary folder) must come out like the
shared reference ``macarena_mediapipe33.npy``, with a sidecar that strict JSON accepts.
Everything else (resume, --overwrite, stale sidecars, sidecar-only loading, the label
rule, errors) runs on tiny synthetic videos, so it takes seconds. Tests that run the pose
stage skip with a reason when no pose stage is ready (`edgerec pose fetch`).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from edge.cli import main
from edge.runtime.extract import ExtractConfig, ExtractError, extract, find_videos, plan, video_label
from edge.sources.posefile import (
    SIDECAR_SCHEMA,
    landmark_errors,
    load_landmark_file,
    sidecar_path,
)
from edge.sources import PoseFileSource, SourceError

QUIET = ExtractConfig(progress=False)


def invoke(*args: str):
    return CliRunner().invoke(main, ["data", "extract", *args])


def strict_json(path: Path) -> dict[str, Any]:
    """Parse like a strict JSON reader: NaN/Infinity are errors."""
    def reject(name: str) -> None:
        raise ValueError(f"{name} in {path}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=reject)


def final_files(folder: Path) -> list[Path]:
    """Every file under ``folder`` (temporary ones included)."""
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def one_error_line(res) -> str:
    """The command failed with exactly one non-empty line on stderr, ``Error: ...``."""
    assert res.exit_code != 0, res.output
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    return lines[0]


@pytest.fixture(scope="module")
def pose_ready() -> None:
    from edge.pose import POSE_STAGES

    if not any(stage.available() for stage in POSE_STAGES.values()):
        pytest.skip("no pose stage is ready; run `edgerec pose fetch` to cache the BlazePose models")


def write_video(path: Path, frames: int = 6, size: tuple[int, int] = (96, 64), fps: float = 25.0) -> Path:
    """A tiny mp4 of noise (no person in it: every row comes out NaN)."""
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    assert writer.isOpened(), "OpenCV cannot write mp4v here"
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    writer.release()
    return path


# --- the label rule and finding videos (no pose stage) ----------------------------------------


def test_label_is_the_sub_folder_name_else_the_stem(tmp_path: Path) -> None:
    root = tmp_path / "in"
    assert video_label(root / "salsa" / "x.mp4", root) == "salsa"
    assert video_label(root / "macarena.mp4", root) == "macarena"
    assert video_label(root / "latin" / "bachata" / "basic__1.mov", root) == "bachata"


def test_finds_videos_recursively_in_stable_order_and_keeps_sub_folders(tmp_path: Path) -> None:
    root = tmp_path / "in"
    for rel in ("b.mp4", "a.MOV", "salsa/z.mkv", "salsa/a.webm", "notes.txt", ".hidden.mp4",
                "x_mediapipe33.npy"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")
    found = [p.relative_to(root).as_posix() for p in find_videos(root)]
    assert found == ["a.MOV", "b.mp4", "salsa/a.webm", "salsa/z.mkv"]
    jobs = plan(root, tmp_path / "out")
    assert [j.landmarks.relative_to(tmp_path / "out").as_posix() for j in jobs] == [
        "a_mediapipe33.npy", "b_mediapipe33.npy", "salsa/a_mediapipe33.npy", "salsa/z_mediapipe33.npy"]
    assert [j.sidecar.name for j in jobs][2] == "a_mediapipe33.json"
    assert [j.label for j in jobs] == ["a", "b", "salsa", "salsa"]


def test_two_videos_for_one_landmark_file_are_refused(tmp_path: Path) -> None:
    for name in ("x.mp4", "x.avi"):
        (tmp_path / "in").mkdir(exist_ok=True)
        (tmp_path / "in" / name).write_bytes(b"")
    with pytest.raises(ExtractError, match="would both write"):
        plan(tmp_path / "in", tmp_path / "out")


# --- errors ------------------------------------------------------------------------------------


def test_missing_folder_is_one_line(tmp_path: Path) -> None:
    line = one_error_line(invoke(str(tmp_path / "nope"), "--out", str(tmp_path / "out")))
    assert "video folder not found" in line and "check the path" in line
    assert not (tmp_path / "out").exists()


def test_folder_without_videos_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "readme.txt").write_text("no videos here")
    line = one_error_line(invoke(str(tmp_path / "in"), "--out", str(tmp_path / "out")))
    assert "no videos found" in line and ".mp4" in line
    assert not (tmp_path / "out").exists()


def test_out_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.mp4").write_bytes(b"")
    (tmp_path / "out").write_text("a file")
    assert "not a folder" in one_error_line(invoke(str(tmp_path / "in"), "--out", str(tmp_path / "out")))


def test_corrupt_video_is_one_line_and_leaves_no_files(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.mp4").write_bytes(np.random.default_rng(1).bytes(20_000))
    out = tmp_path / "out"
    line = one_error_line(invoke(str(tmp_path / "in"), "--out", str(out), "-q"))
    assert "x.mp4" in line and "cannot open" in line and "fix or remove" in line
    assert final_files(out) == []
    # without -q the per-video line says the same, still no traceback
    res = invoke(str(tmp_path / "in"), "--out", str(out))
    assert res.exit_code != 0 and "x.mp4: FAILED" in res.stderr and "Traceback" not in res.output
    assert final_files(out) == []


def test_a_bad_video_does_not_stop_the_others(tmp_path: Path, pose_ready) -> None:
    root, out = tmp_path / "in", tmp_path / "out"
    write_video(root / "salsa" / "good.mp4")
    (root / "bad.mp4").write_bytes(np.random.default_rng(2).bytes(5_000))
    res = invoke(str(root), "--out", str(out))
    assert res.exit_code != 0
    assert "bad.mp4: FAILED" in res.stderr and "1 of 2 videos could not be extracted" in res.stderr
    assert [p.relative_to(out).as_posix() for p in final_files(out)] == [
        "salsa/good_mediapipe33.json", "salsa/good_mediapipe33.npy"]


# --- resume, overwrite, stale sidecars (synthetic video) ---------------------------------------


def statuses(summary) -> list[str]:
    return [r.status for r in summary.results]


def test_resume_overwrite_and_stale_sidecars(tmp_path: Path, pose_ready) -> None:
    root, out = tmp_path / "in", tmp_path / "out"
    video = write_video(root / "salsa" / "clip.mp4", frames=7, size=(96, 64), fps=25.0)
    npy, side = out / "salsa" / "clip_mediapipe33.npy", out / "salsa" / "clip_mediapipe33.json"

    first = extract(root, out, QUIET, log=lambda m: None)
    assert statuses(first) == ["done"] and not first.failed
    arr = np.load(npy)
    assert arr.dtype == np.float32 and arr.shape == (7, 33, 4)
    meta = strict_json(side)
    assert meta["schema"] == SIDECAR_SCHEMA and meta["frames"] == 7 and meta["label"] == "salsa"
    assert (meta["width"], meta["height"], meta["fps"]) == (96, 64, pytest.approx(25.0))
    assert meta["frames_with_pose"] == int((~np.isnan(arr[:, 0, 0])).sum())
    assert meta["video"] == str(video) and meta["video_size_bytes"] == video.stat().st_size

    # a second run skips it, and says so
    res = invoke(str(root), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "salsa/clip.mp4: skipped" in res.stderr and "skipped 1 already done" in res.stderr
    assert statuses(extract(root, out, QUIET, log=lambda m: None)) == ["skipped"]

    # --overwrite redoes it
    assert statuses(extract(root, out, ExtractConfig(progress=False, overwrite=True), log=lambda m: None)) == ["done"]
    res = invoke(str(root), "--out", str(out), "--overwrite", "-q")
    assert res.exit_code == 0 and res.stderr == ""

    # the video's mtime changed: redone
    st = video.stat()
    os.utime(video, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert statuses(extract(root, out, QUIET, log=lambda m: None)) == ["done"]
    assert strict_json(side)["video_mtime_ns"] == video.stat().st_mtime_ns

    # the sidecar names another size: redone
    meta = strict_json(side)
    side.write_text(json.dumps({**meta, "video_size_bytes": meta["video_size_bytes"] + 1}))
    assert statuses(extract(root, out, QUIET, log=lambda m: None)) == ["done"]

    # a landmark file without its sidecar (a run killed between the two renames): redone
    side.unlink()
    assert statuses(extract(root, out, QUIET, log=lambda m: None)) == ["done"] and side.is_file()

    # a landmark file that is not the one the sidecar describes: redone
    np.save(npy, np.zeros((7, 33, 4), np.float32))
    assert statuses(extract(root, out, QUIET, log=lambda m: None)) == ["done"]
    assert np.isnan(np.load(npy)[:, 0, 0]).all()  # noise: no pose anywhere

    # a broken sidecar: redone, and leftover temporary files of a killed run are cleaned up
    side.write_text("{not json")
    (npy.parent / f".{npy.name}.abc123.tmp").write_bytes(b"half")
    assert statuses(extract(root, out, QUIET, log=lambda m: None)) == ["done"]
    assert sorted(p.name for p in final_files(out)) == ["clip_mediapipe33.json", "clip_mediapipe33.npy"]
    assert statuses(extract(root, out, QUIET, log=lambda m: None)) == ["skipped"]


def test_an_explicit_other_pose_stage_is_not_taken_as_done(tmp_path: Path, pose_ready) -> None:
    from edge.pose import POSE_STAGES

    if not POSE_STAGES["native"].available():
        pytest.skip("the native pose stage is not cached (`edgerec pose fetch`)")
    root, out = tmp_path / "in", tmp_path / "out"
    write_video(root / "a.mp4", frames=3)
    assert statuses(extract(root, out, ExtractConfig(pose="native", progress=False), log=lambda m: None)) == ["done"]
    assert statuses(extract(root, out, ExtractConfig(pose="native", progress=False), log=lambda m: None)) == ["skipped"]
    side = out / "a_mediapipe33.json"
    side.write_text(json.dumps({**strict_json(side), "pose_stage": "mediapipe", "pose_variant": None}))
    assert statuses(extract(root, out, QUIET, log=lambda m: None)) == ["skipped"]  # auto: any stage
    assert statuses(extract(root, out, ExtractConfig(pose="native", progress=False), log=lambda m: None)) == ["done"]


def test_a_pose_stage_that_cannot_start_is_one_line(tmp_path: Path, monkeypatch) -> None:
    import edge.pose

    def broken(*args: Any, **kwargs: Any) -> None:
        raise FileNotFoundError("no pose stage is ready: run `edgerec pose fetch` once")

    monkeypatch.setattr(edge.pose, "make_pose", broken)
    write_video(tmp_path / "in" / "a.mp4", frames=2)
    line = one_error_line(invoke(str(tmp_path / "in"), "--out", str(tmp_path / "out"), "-q"))
    assert "edgerec pose fetch" in line
    assert final_files(tmp_path / "out") == []


# --- landmark files without a video beside them --------------------------------------------------


def test_sidecar_gives_fps_size_and_label_without_a_video(tmp_path: Path, pose_ready) -> None:
    root, out = tmp_path / "in", tmp_path / "out"
    write_video(root / "salsa" / "clip.mp4", frames=5, size=(80, 48), fps=24.0)
    extract(root, out, QUIET, log=lambda m: None)
    npy = out / "salsa" / "clip_mediapipe33.npy"
    assert not list(npy.parent.glob("*.mp4"))

    seq = load_landmark_file(npy)
    assert seq.fps == pytest.approx(24.0) and seq.image_size == (80, 48) and seq.label == "salsa"
    assert seq.num_frames == 5
    assert load_landmark_file(npy, label="mine").label == "mine"
    explicit = load_landmark_file(npy, fps=10.0, image_size=(20, 10))
    assert explicit.fps == 10.0 and explicit.image_size == (20, 10)

    src = PoseFileSource(npy)
    assert src.fps == pytest.approx(24.0) and src.size == (80, 48)
    frames = list(src)
    assert len(frames) == 5 and frames[1].t == pytest.approx(1 / 24.0)
    assert PoseFileSource(npy, fps=12.0).size == (80, 48)

    # a sidecar that describes another file, or is not strict JSON: one-line errors
    side = sidecar_path(npy)
    meta = strict_json(side)
    side.write_text(json.dumps({**meta, "frames": 99}))
    with pytest.raises(ValueError, match="describes 99 frames") as err:
        load_landmark_file(npy)
    assert "\n" not in str(err.value)
    with pytest.raises(SourceError, match="describes 99 frames"):
        PoseFileSource(npy)
    side.write_text(json.dumps(meta).replace('"fps": 24.0', '"fps": NaN'))
    with pytest.raises(ValueError, match="not a readable landmark sidecar") as err:
        load_landmark_file(npy)
    assert "\n" not in str(err.value)

    # neither sidecar nor video: the message names both and the fix
    side.unlink()
    with pytest.raises(ValueError, match="no sidecar .* or video beside it"):
        load_landmark_file(npy)
    with pytest.raises(SourceError, match="pass --fps and --size WxH"):
        PoseFileSource(npy)


# --- real data: macarena against MediaPipe's reference ------------------------------------------


@pytest.fixture(scope="module")
def macarena(data_root: Path, pose_ready, tmp_path_factory) -> dict[str, Any]:
    """macarena.mp4 alone in a folder, extracted once (about 5 s on two cores)."""
    src = data_root / "videos" / "macarena.mp4"
    ref = data_root / "videos" / "macarena_mediapipe33.npy"
    if not src.is_file() or not ref.is_file():
        pytest.skip(f"{src.name} or its reference is not in {src.parent}")
    base = tmp_path_factory.mktemp("macarena")
    root, out = base / "videos", base / "out"
    root.mkdir()
    shutil.copy2(src, root / src.name)
    res = invoke(str(root), "--out", str(out))
    assert res.exit_code == 0, res.output
    return {"root": root, "out": out, "ref": ref, "res": res, "video": root / src.name,
            "npy": out / "macarena_mediapipe33.npy", "json": out / "macarena_mediapipe33.json"}


def decoded_frames(path: Path) -> int:
    import cv2

    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.grab():
        n += 1
    cap.release()
    return n


def test_macarena_matches_the_reference(macarena: dict[str, Any]) -> None:
    import cv2

    arr, ref = np.load(macarena["npy"]), np.load(macarena["ref"])
    assert arr.dtype == np.float32 and arr.ndim == 3 and arr.shape[1:] == (33, 4)
    assert len(arr) == decoded_frames(macarena["video"]) == len(ref)
    meta = strict_json(macarena["json"])
    cap = cv2.VideoCapture(str(macarena["video"]))
    fps, w, h = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    assert meta["fps"] == pytest.approx(fps) and (meta["width"], meta["height"]) == (w, h) == (640, 360)
    assert meta["label"] == "macarena" and meta["frames"] == len(arr)
    assert meta["frames_with_pose"] == int((~np.isnan(arr[:, 0, 0])).sum())
    for key in ("video", "video_size_bytes", "video_mtime", "pose_stage", "pose_variant", "edgerec_version",
                "schema", "schema_version"):
        assert key in meta
    # the same measure as tests/test_pose_native.py: visible reference landmarks, frames
    # where both found a pose, error as a fraction of the image diagonal
    err = landmark_errors(arr, ref, (w, h))
    assert err.size > 0
    assert float(np.median(err)) < 0.02
    assert meta["frames_with_pose"] >= int((~np.isnan(ref[:, 0, 0])).sum())
    # NaN rows are whole rows, and every found row is finite
    found = ~np.isnan(arr[:, 0, 0])
    assert np.isnan(arr[~found]).all() and np.isfinite(arr[found]).all()
    assert f"macarena.mp4: {len(arr)} frames, {meta['frames_with_pose']} with a pose" in macarena["res"].stderr
    assert "extracted 1 of 1 videos" in macarena["res"].stderr


def test_macarena_second_run_skips_and_run_poses_needs_no_fps(macarena: dict[str, Any]) -> None:
    before = macarena["npy"].stat().st_mtime_ns
    res = invoke(str(macarena["root"]), "--out", str(macarena["out"]))
    assert res.exit_code == 0 and "skipped 1 already done" in res.stderr
    assert macarena["npy"].stat().st_mtime_ns == before
    seq = load_landmark_file(macarena["npy"])
    assert seq.label == "macarena" and seq.image_size == (640, 360)
    assert math.isclose(seq.fps, 30000 / 1001, rel_tol=1e-6)
    run = CliRunner().invoke(main, ["run", "--poses", str(macarena["npy"]), "--json", "-q", "--no-dataset-songs"])
    assert run.exit_code == 0, run.output
    summary = json.loads(run.stdout.splitlines()[-1])
    assert summary["type"] == "summary" and summary["frames"] == len(np.load(macarena["npy"]))
