"""`edgerec run` listening: a video's sound track, an audio file beside --poses, a video
without sound, --no-audio; what the JSON lines, the text lines and the summary say."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edge.cli import main
from test_beat import click_track
from test_run_cli import native_ready  # noqa: F401  (a fixture)


def run_json(*args: str):
    return CliRunner().invoke(main, ["run", *args, "--json"])


def lines_of(res) -> list[dict]:
    return [json.loads(x) for x in res.output.splitlines() if x.startswith("{")]


@pytest.fixture(scope="module")
def clicks_wav(tmp_path_factory) -> Path:
    sf = pytest.importorskip("soundfile")
    y, _ = click_track(120.0, 12.0, 44100)
    path = tmp_path_factory.mktemp("audio") / "clicks120.wav"
    sf.write(str(path), y, 44100)
    return path


def test_poses_with_an_audio_file_hear_its_tempo(data_root, clicks_wav):
    poses = str(data_root / "videos" / "macarena_mediapipe33.npy")
    res = run_json("--poses", poses, "--audio", str(clicks_wav))
    assert res.exit_code == 0, res.output
    lines = lines_of(res)
    updates = [d for d in lines if d["type"] == "update"]
    heard = [u for u in updates if u["music"] and u["music"]["bpm"]]
    assert heard, "no update heard the music"
    late = [u for u in heard if u["t"] > 8.0]
    assert late and all(abs(u["music"]["bpm"] - 120.0) < 2.0 for u in late)
    assert all(u["music"]["silent"] is False for u in heard)
    decided = [u for u in late if u["state"] in ("style", "unsure")]
    assert decided and all(u["on_beat"] is None or 0.0 <= (u["on_beat"]["score"] or 0.0) <= 1.0 for u in decided)
    recs = [r for u in decided for r in u["recommendations"]]
    assert recs and all("the music's 120 BPM" in r["why"] or "tempo unknown" in r["why"] for r in recs)
    summary = lines[-1]
    assert summary["type"] == "summary" and summary["audio"]["source"].endswith("clicks120.wav (44100 Hz)")
    assert abs(summary["audio"]["music_bpm"]["p50"] - 120.0) < 2.0


def test_missing_audio_file_is_a_one_line_error(data_root, tmp_path):
    poses = str(data_root / "videos" / "macarena_mediapipe33.npy")
    res = CliRunner().invoke(main, ["run", "--poses", poses, "--audio", str(tmp_path / "nope.wav"), "-q"])
    assert res.exit_code == 1
    assert res.output.startswith("Error: ") and len(res.output.strip().splitlines()) == 1


def _silent_video(path: Path, seconds: float = 3.0) -> None:
    import cv2

    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (160, 120))
    for i in range(int(seconds * 30)):
        w.write(np.full((120, 160, 3), (i * 3) % 255, np.uint8))
    w.release()


def test_a_video_without_a_sound_track_says_so_once(tmp_path, native_ready):
    video = tmp_path / "mute.mp4"
    _silent_video(video)
    res = CliRunner().invoke(main, ["run", "--video", str(video), "--json"])
    assert res.exit_code == 0, res.output
    notes = [x for x in res.output.splitlines() if x.startswith("edgerec: no audio")]
    assert len(notes) == 1 and "no sound track" in notes[0] and notes[0].endswith("going on with pose only")
    updates = [json.loads(x) for x in res.output.splitlines() if x.startswith('{"type": "update"')]
    assert updates and all(u["music"] is None and u["on_beat"] is None for u in updates)


def test_a_real_video_with_music_and_no_audio(data_root, native_ready):
    video = str(data_root / "realvideo" / "bachata" / "basic__basic.mp4")
    res = CliRunner().invoke(main, ["run", "--video", video, "--json", "--max-frames", "300"])
    assert res.exit_code == 0, res.output
    updates = [json.loads(x) for x in res.output.splitlines() if x.startswith('{"type": "update"')]
    late = [u for u in updates if u["t"] > 8.0]
    assert late and all(u["music"]["bpm"] and not u["music"]["silent"] for u in late)
    assert any(r["sound_fit"] is not None for u in late for r in u["recommendations"])
    off = CliRunner().invoke(main, ["run", "--video", video, "--json", "--max-frames", "120", "--no-audio"])
    assert off.exit_code == 0 and "no audio" not in off.output
    assert all(json.loads(x)["music"] is None for x in off.output.splitlines() if x.startswith('{"type": "update"'))


def test_a_silent_sound_track_is_silence(data_root, native_ready):
    """The shared salsa video's sound track is digital silence (-128 dBFS): heard, not music."""
    video = str(data_root / "realvideo" / "salsa" / "ana_salsa_overlay.mp4")
    res = CliRunner().invoke(main, ["run", "--video", video, "--max-frames", "200"])
    assert res.exit_code == 0, res.output
    assert "music: silence" in res.output and "no audio" not in res.output
