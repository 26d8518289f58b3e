"""Fault injection: full disks, read-only folders, signals and damaged models, the way users
and machines break runs. The rule checked everywhere: the final path holds a complete,
valid artefact or nothing, and the user gets one line saying what happened.

Signals and full disks need real processes and file systems: these tests run
``python -m edge.cli`` in a subprocess, and mount a tiny tmpfs where the machine allows it
(root in a container); they skip with the reason where it does not.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edge.cli import main
from edge.core.errors import BUG_EXIT, UserError, describe
from edge.core.files import atomic_write_text, remove_stale_temps, temp_file
from test_run_cli import frames_in

REPO = Path(__file__).resolve().parents[1]


def _strict(line: str):
    """json.loads that refuses NaN and Infinity, as browsers and jq do."""
    def bad(name):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(line, parse_constant=bad)


@pytest.fixture(scope="module")
def long_poses(tmp_path_factory, data_root) -> Path:
    """A 12,000-frame landmark file (the macarena reference landmarks, tiled)."""
    src = data_root / "videos" / "macarena_mediapipe33.npy"
    if not src.is_file():
        pytest.skip(f"{src} is not in the shared data")
    arr = np.load(src)
    out = tmp_path_factory.mktemp("faults") / "long.npy"
    np.save(out, np.concatenate([arr] * 40))
    return out


def _run_args(poses: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "edge.cli", "run", "--poses", str(poses), "--fps", "30", "--size", "320x240",
            "--no-dataset-songs", "--json", "-q", *extra]


def _wait_for(path_glob_dir: Path, pattern: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Wait until the run has started writing (its temporary file exists)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if list(path_glob_dir.glob(pattern)) or proc.poll() is not None:
            return
        time.sleep(0.1)
    raise AssertionError("the run never started writing")


# ------------------------------------------------------------------ signals during --save


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_during_save_finishes_the_video_and_the_summary(tmp_path, long_poses, sig):
    out = tmp_path / "run.mp4"
    proc = subprocess.Popen(_run_args(long_poses, "--save", str(out)), cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_for(tmp_path, ".run.mp4.edgerec-*", proc)
    time.sleep(1.0)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, (proc.returncode, stderr[-2000:])
    assert "Traceback" not in stderr, stderr
    summary = _strict(stdout.strip().splitlines()[-1])
    assert summary["interrupted"] is True and summary["stopped_by"] == signal.Signals(sig).name
    assert summary["saved"] == str(out)
    assert frames_in(out) == summary["saved_frames"] > 0, "the saved video holds every frame the summary counts"
    assert not list(tmp_path.glob(".run.mp4.*")), "no temporary file is left"


def test_sigkill_leaves_nothing_at_the_path_and_the_next_run_cleans_up(tmp_path, long_poses):
    out = tmp_path / "run.mp4"
    proc = subprocess.Popen(_run_args(long_poses, "--save", str(out)), cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _wait_for(tmp_path, ".run.mp4.edgerec-*", proc)
    time.sleep(0.5)
    proc.kill()
    proc.wait(timeout=30)
    assert not out.exists(), "a killed run must not leave a half video at the final path"
    stale = list(tmp_path.glob(f".run.mp4.edgerec-{proc.pid}-*"))
    assert stale, "the killed run's temporary file is the one the next write must remove"
    short = tmp_path / "short.npy"
    np.save(short, np.load(long_poses)[:60])
    res = subprocess.run(_run_args(short, "--save", str(out)), cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert frames_in(out) == 60
    assert not list(tmp_path.glob(f".run.mp4.edgerec-{proc.pid}-*")), "the stale temporary file was not removed"


def test_stale_temporaries_of_live_processes_are_kept(tmp_path):
    target = tmp_path / "catalog.json"
    mine = temp_file(target)
    dead = tmp_path / f".catalog.json.edgerec-{2 ** 22 + 12345}-abc.tmp"
    dead.write_text("half")
    other = tmp_path / ".other.json.edgerec-1-abc.tmp"
    other.write_text("not ours to judge")
    removed = remove_stale_temps(target)
    assert removed == [dead] and mine.exists() and other.exists()
    atomic_write_text(target, "{}")
    assert list(tmp_path.glob(".catalog.json.edgerec-*")) == [mine], "only the live process's file is left"


def test_save_respects_the_umask(tmp_path, long_poses):
    short = tmp_path / "short.npy"
    np.save(short, np.load(long_poses)[:40])
    out = tmp_path / "private.mp4"
    res = subprocess.run(["bash", "-c", "umask 077 && exec \"$@\"", "_", *_run_args(short, "--save", str(out))],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert out.stat().st_mode & 0o777 == 0o600


# ------------------------------------------------------------------ full disk, read-only folders


@pytest.fixture()
def tiny_disk(tmp_path):
    """A 1 MiB tmpfs (needs mount rights: root in a container)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({res.stderr.strip() or res.returncode}); "
                    "the patched-writer test covers the same path")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.fixture()
def read_only_dir(tmp_path):
    """A folder this process cannot write to (a read-only tmpfs for root, chmod otherwise)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() != 0:
        ro.chmod(0o555)
        yield ro
        ro.chmod(0o755)
        return
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"root cannot be kept out of a folder without a read-only mount ({res.stderr.strip()})")
    try:
        yield ro
    finally:
        subprocess.run(["umount", "-l", str(ro)], capture_output=True)


def test_a_full_disk_during_save_says_so_and_leaves_nothing(tiny_disk, long_poses):
    out = tiny_disk / "run.mp4"
    res = subprocess.run(_run_args(long_poses, "--save", str(out), "--max-frames", "3000"), cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, (res.returncode, res.stderr[-2000:])
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Error: {out}: no space left"), last
    assert "Traceback" not in res.stderr
    assert not out.exists() and not list(tiny_disk.iterdir()), list(tiny_disk.iterdir())


def test_a_lost_video_write_is_an_error_not_a_success(tmp_path, data_root, monkeypatch):
    """OpenCV's writer failing silently (what a full disk does to it) is caught by the check."""
    import cv2

    real = cv2.VideoWriter

    class Lossy:
        def __init__(self, *a, **k):
            self.inner = real(*a, **k)

        def isOpened(self):
            return self.inner.isOpened()

        def write(self, image):
            pass  # every frame lost, no error: what OpenCV does when the disk is full

        def release(self):
            self.inner.release()

    monkeypatch.setattr(cv2, "VideoWriter", Lossy)
    out = tmp_path / "lost.mp4"
    res = CliRunner().invoke(main, ["run", "--poses", str(data_root / "videos" / "macarena_mediapipe33.npy"),
                                    "--save", str(out), "--no-dataset-songs", "-q"])
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines()[-1].startswith(f"Error: {out}: the video could not be written"), res.output
    assert not out.exists() and not list(tmp_path.glob(".lost.mp4*"))


@pytest.mark.parametrize("what", ["save", "catalog", "export-poses"])
def test_writing_into_a_read_only_folder_is_one_line(read_only_dir, data_root, what):
    poses = str(data_root / "videos" / "macarena_mediapipe33.npy")
    if what == "save":
        args = ["run", "--poses", poses, "--save", str(read_only_dir / "x.mp4"), "--no-dataset-songs", "-q"]
    elif what == "catalog":
        music = data_root / "music2dance"
        if not music.is_dir():
            pytest.skip("no Music-to-Dance songs in the shared data")
        first = next(p for p in sorted(music.iterdir()) if p.is_dir())
        args = ["catalog", "build", str(first), "--out", str(read_only_dir / "c.json"), "--no-progress"]
    else:
        args = ["data", "export-poses", "cmu:60_01", "--out", str(read_only_dir / "x.npy"), "--data", str(data_root)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code not in (0, BUG_EXIT), res.output
    msg = res.output.strip().splitlines()[-1]
    assert msg.startswith("Error: "), res.output
    assert "Traceback" not in res.output
    assert not list(read_only_dir.iterdir())


# ------------------------------------------------------------------ damaged models


def test_nan_outputs_are_never_a_style():
    from edge.classify.model import StyleModel

    model = StyleModel.__new__(StyleModel)
    model.labels, model.calibration, model.non_finite = ["a", "b", "c"], None, 0
    model.backend = lambda x: (np.full((1, 3), np.nan, np.float32), None)
    probs, unsure, _ = model(np.zeros((50, 10), np.float32))
    assert unsure and np.allclose(probs, 1 / 3) and model.non_finite == 1


def test_temperature_zero_is_refused():
    from edge.classify.calibration import Calibration

    for t in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="temperature must be a positive number"):
            Calibration(t, np.zeros((2, 3)), np.eye(3), 2.0, 0.5)
    with pytest.raises(ValueError, match="do not fit together"):
        Calibration(1.0, np.zeros((2, 3)), np.eye(4), 2.0, 0.5)


def test_every_json_line_of_a_run_is_strict_json(data_root):
    res = CliRunner().invoke(main, ["run", "--poses", str(data_root / "videos" / "macarena_mediapipe33.npy"),
                                    "--json", "-q", "--no-dataset-songs"])
    assert res.exit_code == 0, res.output
    lines = [line for line in res.output.splitlines() if line.startswith("{")]
    assert len(lines) > 5
    for line in lines:
        _strict(line)


def test_jsonio_writes_nan_as_null():
    from edge.core import jsonio

    text = jsonio.dumps({"a": float("nan"), "b": [np.float32("inf"), 1.5], "c": np.arange(2)})
    assert _strict(text) == {"a": None, "b": [None, 1.5], "c": [0, 1]}


# ------------------------------------------------------------------ the error boundary


def test_expected_failures_are_one_line_and_bugs_say_so(monkeypatch, tmp_path):
    assert describe(OSError(28, "No space left on device", "/x/y.json")) == \
        "/x/y.json: no space left on the device; free some space or write to another disk"
    assert describe(PermissionError(13, "Permission denied", "/etc/z")).startswith("/etc/z: permission denied;")
    assert describe(RecursionError()).startswith("the input is nested too deeply")
    assert describe(UserError("f.npy", "not landmarks", "give a (T, 33, 4) array")) == \
        "f.npy: not landmarks; give a (T, 33, 4) array"
    assert describe(TypeError("bug")) is None

    import edge.cli.catalog as catalog_cli

    def boom(*a, **k):
        raise TypeError("an edgerec bug")

    monkeypatch.setattr(catalog_cli, "load_catalog", boom)
    (tmp_path / "c.json").write_text("{}")
    res = CliRunner().invoke(main, ["catalog", "info", str(tmp_path / "c.json")])
    assert res.exit_code == BUG_EXIT and "internal error: TypeError: an edgerec bug" in res.output, res.output
    assert "--debug" in res.output
    res = CliRunner().invoke(main, ["--debug", "catalog", "info", str(tmp_path / "c.json")])
    assert isinstance(res.exception, TypeError), "--debug lets the traceback through"


@pytest.mark.parametrize("args, fragment", [
    (["--fps", "1e-300"], "--fps"), (["--fps", "nan"], "--fps"), (["--fps", "inf"], "--fps"),
    (["--every", "1e-9"], "--every"), (["--size", "100000x100000"], "--size"), (["--top", "0"], "--top"),
])
def test_numbers_that_would_hang_or_overflow_are_refused(args, fragment):
    res = CliRunner().invoke(main, ["run", "--poses", "x.npy", *args, "-q"])
    assert res.exit_code == 2 and fragment in res.output, res.output


def test_quiet_means_quiet(data_root):
    """-q: no LiteRT "Created TensorFlow Lite XNNPACK delegate" line, no OpenCV/FFmpeg chatter."""
    from edge.pose import POSE_STAGES

    video = data_root / "videos" / "macarena.mp4"
    args = ["--video", str(video)] if POSE_STAGES["native"].available() and video.is_file() else \
        ["--poses", str(data_root / "videos" / "macarena_mediapipe33.npy")]
    res = subprocess.run([sys.executable, "-m", "edge.cli", "run", *args, "--max-frames", "30", "--json", "-q",
                          "--no-dataset-songs"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stderr == "", res.stderr
