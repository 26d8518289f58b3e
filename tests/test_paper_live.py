"""The paper model live: a converted clip model, its pose values from a stream and its mean
log-mel from streaming audio, each checked against what training computes for a clip.

The model is a tiny seeded ``paper`` network (the real architecture, 130-value input, a few
epochs on synthetic clip vectors with real-looking ranges), converted to TFLite and ONNX
float32 with its card embedded, as ``edgerec convert`` writes them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from edge.classify.clip import (
    ASSUMED_AUDIO, INPUT_SHAPE, PaperAudioSpec, PaperWindow, PaperWindowConfig, is_clip_model, live_log_mel_spec,
)
from edge.classify.model import ModelError
from edge.core.assets import default_model_path
from edge.features.audio import log_mel_spectrogram, mean_log_mel, resample
from edge.features.beat import MusicAnalyser, MusicSpec

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("tensorflow", "keras", "tf2onnx", "sklearn", "librosa", "torch")
SALSA = Path("realvideo") / "salsa" / "ana_salsa_overlay_mediapipe33.npy"
LABELS = ("salsa", "bachata", "tango")


# ------------------------------------------------------------------ no TensorFlow, shared constants


def test_import_loads_no_tensorflow():
    code = ("import sys, edge.classify.clip\n"
            f"print('HEAVY:' + ','.join(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    heavy = next(line for line in out.stdout.splitlines() if line.startswith("HEAVY:"))[len("HEAVY:"):]
    assert heavy == "", f"heavy modules imported by edge.classify.clip: {heavy}"


def test_assumed_audio_and_visibility_are_what_training_used():
    from edge.classify.clip import VISIBILITY_THRESHOLD
    from edge.sources.posefile import VISIBILITY_THRESHOLD as FILE_THRESHOLD
    from training.paper import N_MELS, PAPER_AUDIO, SILENCE_DB, VECTOR_SIZE

    assert ASSUMED_AUDIO == PAPER_AUDIO
    assert PaperAudioSpec().to_dict() == PAPER_AUDIO
    assert VISIBILITY_THRESHOLD == FILE_THRESHOLD
    assert INPUT_SHAPE == (VECTOR_SIZE, 1) and PaperAudioSpec().n_mels == N_MELS
    assert np.array_equal(PaperAudioSpec().silence(), np.full(N_MELS, SILENCE_DB, np.float32))


def test_training_card_records_the_songs_native_rate(data_root):
    from training.paper import PAPER_AUDIO, audio_card

    songs = sorted((data_root / "music2dance").glob("*/audio.*"))
    if not songs:
        pytest.skip(f"no Music-to-Dance songs under {data_root / 'music2dance'}")
    seqs = [SimpleNamespace(audio_path=str(p)) for p in songs] + [SimpleNamespace(audio_path=None)]
    card = audio_card(seqs)  # type: ignore[arg-type]  # only audio_path is read
    assert card == {**PAPER_AUDIO, "songs": len(songs)}  # every Music-to-Dance song is 24 kHz
    silent = audio_card([SimpleNamespace(audio_path=None)])  # type: ignore[list-item]
    assert silent["songs"] == 0 and silent["sample_rate"] == PAPER_AUDIO["sample_rate"]
    assert "silence" in silent["source"]
    assert PaperAudioSpec.from_dict(card) == PaperAudioSpec()


def test_audio_spec_refuses_damaged_sections():
    for bad, field in (({**ASSUMED_AUDIO, "sample_rate": 0}, "sample_rate"),
                       ({**ASSUMED_AUDIO, "n_fft": 2048.5}, "n_fft"),
                       ({**ASSUMED_AUDIO, "hop_length": True}, "hop_length"),
                       ({**ASSUMED_AUDIO, "silence_db": float("nan")}, "silence_db"),
                       ({**ASSUMED_AUDIO, "hop_length": 4096}, "hop_length"),
                       ([], "object")):
        with pytest.raises(ValueError, match=field):
            PaperAudioSpec.from_dict(bad)


# ------------------------------------------------------------------ the model


def _synthetic_vectors(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(x (n, 130, 1), y): clip vectors in the real ranges (a face-sized distance, an angle
    near 2 rad, log-mel levels in dB), each class with its own spectral tilt and pose."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(LABELS), n)
    pose = np.stack([0.015 + 0.004 * y + rng.normal(0, 0.001, n), 2.1 - 0.2 * y + rng.normal(0, 0.05, n)], 1)
    bands = np.linspace(0.0, 1.0, 128)[None, :]
    mel = -30.0 - (20.0 + 15.0 * y[:, None]) * bands + rng.normal(0, 3.0, (n, 128))
    return np.concatenate([pose, mel], 1).astype(np.float32)[..., None], y


slow = pytest.mark.slow  # the fixture trains and converts a TensorFlow model (about 30 s)


@pytest.fixture(scope="module")
def paper_files(tmp_path_factory):
    """A tiny trained paper model and its TFLite / ONNX float32 conversions (card with ``audio``)."""
    pytest.importorskip("tensorflow")
    from converters.convert import convert_model
    from converters.inputs import array_inputs
    from converters.model import load_source
    from training.card import write_card
    from training.models import ModelConfig, build_model
    from training.paper import PAPER_AUDIO
    from training.train import save_keras

    folder = tmp_path_factory.mktemp("paper_live")
    x, y = _synthetic_vectors(96, 0)
    test_x, _ = _synthetic_vectors(64, 1)
    config = ModelConfig("paper", len(LABELS), INPUT_SHAPE, seed=0, learning_rate=1e-3)
    model = build_model(config)
    model.fit(x, y, epochs=4, batch_size=32, verbose=0, shuffle=True)
    path = folder / "paper.keras"
    save_keras(model, path)
    write_card(path, {"arch": "paper", "labels": list(LABELS), "model_config": config.to_dict(),
                      "input": {"shape": [1, *INPUT_SHAPE], "dtype": "float32"},
                      "split": {"train_clips": [], "test_clips": []},
                      "preprocessing": "paper-clip", "audio": dict(PAPER_AUDIO)})
    files = {}
    for target in ("tflite", "onnx"):
        files[target] = convert_model(path, target, None, folder / f"paper.{target}",
                                      inputs=array_inputs(test_x, x)).path
    return SimpleNamespace(source=load_source(path), files=files, test_x=test_x, folder=folder)


@slow
@pytest.mark.parametrize("target", ["tflite", "onnx"])
def test_clip_model_equals_keras(paper_files, target, data_root):
    from edge.classify.clip import ClipModel
    from edge.classify.formats import get_format

    fmt = get_format(target)
    x = paper_files.test_x
    ref, _ = paper_files.source.predict(x)
    with ClipModel(paper_files.files[target]) as model:
        assert model.labels == list(LABELS) and not model.audio_spec_assumed
        assert model.audio_spec == PaperAudioSpec()
        got = np.stack([model(v[:2, 0], v[2:, 0]) for v in x])
        diff = float(np.abs(got - ref).max())
        assert diff <= fmt.max_abs_diff, f"{fmt.name}: max |dp| {diff:.2e} over {fmt.max_abs_diff}"
        assert (got.argmax(1) == ref.argmax(1)).all()
        # a vector from live features, which the model never saw the like of
        live = model.vector(np.array([0.0149, 2.097]), np.full(128, -60.0))
        assert live.shape == INPUT_SHAPE and live.dtype == np.float32
        lref, _ = paper_files.source.predict(live[None])
        assert np.abs(model(live[:2, 0], live[2:, 0]) - lref[0]).max() <= fmt.max_abs_diff
        assert model.non_finite == 0
        # NaN features are never a style: uniform, counted (ONNX Runtime alone would answer)
        p = model(np.array([np.nan, 1.0]), np.zeros(128))
        assert np.array_equal(p, np.full(3, 1 / 3)) and model.non_finite == 1
        print(f"{fmt.name}: max |dp| vs Keras {diff:.2e} over {len(x)} clip vectors")
        with pytest.raises(ValueError, match=r"mean_log_mel must have shape \(128,\)"):
            model(np.zeros(2), np.zeros(64))
        with pytest.raises(ValueError, match=r"pose_values must have shape \(2,\)"):
            model(np.zeros(3), np.zeros(128))
    assert is_clip_model(paper_files.files[target])


@slow
def test_a_card_without_audio_assumes_the_training_default(paper_files, tmp_path):
    from converters.tflite import embed_card
    from edge.classify.clip import ClipModel
    from edge.classify.metadata import read_card

    src = paper_files.files["tflite"]
    card = read_card(src)
    old = {k: v for k, v in card.items() if k not in ("audio", "format")}
    path = tmp_path / "old.tflite"
    path.write_bytes(embed_card(src.read_bytes(), old))
    with ClipModel(path) as model:
        assert model.audio_spec_assumed and model.audio_spec == PaperAudioSpec.from_dict(ASSUMED_AUDIO)
    damaged = tmp_path / "damaged.tflite"
    damaged.write_bytes(embed_card(src.read_bytes(), {**old, "audio": {**ASSUMED_AUDIO, "n_mels": 64}}))
    with pytest.raises(ModelError, match="64 mel bands") as info:
        ClipModel(damaged)
    assert "\n" not in str(info.value) and "edgerec train --arch paper" in str(info.value)


def test_window_models_and_missing_files_are_refused(tmp_path):
    from converters.tflite import embed_card
    from edge.classify.clip import ClipModel
    from edge.classify.metadata import read_card

    window = default_model_path()
    with pytest.raises(ModelError, match="not a paper-clip model.*open it with StyleModel") as info:
        ClipModel(window)
    assert "\n" not in str(info.value)
    assert not is_clip_model(window)
    with pytest.raises(ModelError, match="model file not found; pass a converted paper model"):
        ClipModel(tmp_path / "nope.tflite")
    assert not is_clip_model(tmp_path / "nope.tflite")
    # a paper-clip card on a file whose input is not (130, 1)
    card = read_card(window)
    card["preprocessing"] = "paper-clip"
    wrong = tmp_path / "wrong.tflite"
    wrong.write_bytes(embed_card(window.read_bytes(), card))
    assert is_clip_model(wrong)
    with pytest.raises(ModelError, match=r"a paper-clip model takes \(130, 1\).*edgerec train --arch paper"):
        ClipModel(wrong)
    # damaged files are the backends' one-line errors
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x01not a model")
    assert not is_clip_model(junk)
    with pytest.raises(ModelError) as info:
        ClipModel(junk)
    assert str(info.value).startswith(str(junk)) and "\n" not in str(info.value)


# ------------------------------------------------------------------ pose values


def _landmark_clip(data_root: Path):
    path = data_root / SALSA
    if not path.is_file():
        pytest.skip(f"{path} is absent (the shared real-video landmarks)")
    from edge.sources.posefile import load_landmark_file, read_landmark_array

    seq = load_landmark_file(path, label="salsa", fps=30.0, image_size=(960, 540))  # the video's header
    return read_landmark_array(path), seq


def _feed(window: PaperWindow, arr: np.ndarray, times: np.ndarray, size=(960, 540)) -> None:
    for t, row in zip(times, arr):
        window.add(float(t), None if np.isnan(row[:, 0]).all() else row, size)


def test_pose_values_equal_training_over_a_whole_clip(data_root):
    """Bit for bit, on every shared real-video landmark file (the salsa one at least), each
    loaded as training loads it (the ``realvideo`` source: size and rate from its video)."""
    from edge.sources.posefile import read_landmark_array
    from training.datasets import SOURCE_BY_NAME
    from training.paper import clip_pose_values

    _landmark_clip(data_root)  # skips without the salsa file
    pytest.importorskip("cv2", reason="the realvideo loader reads each video's size with OpenCV")
    source = SOURCE_BY_NAME["realvideo"]
    paths = source.find(data_root)
    assert data_root / SALSA in paths
    for path in paths:
        arr = read_landmark_array(path)
        seq = source.load(path)
        if list(np.flatnonzero(seq.present)[:3]) != [0, 1, 2]:
            continue  # training would use other landmarks for this clip (see PaperWindow's doc)
        window = PaperWindow(window_seconds=seq.duration + 1.0)
        _feed(window, arr, seq.times, seq.image_size)
        assert len(window) == seq.num_frames
        ours = window.pose_values()
        ref = clip_pose_values(seq)
        assert ours is not None and ours.dtype == np.float32
        assert np.array_equal(ours, ref), (path.name, ours, ref)


def test_pose_values_slide_over_the_last_seconds(data_root):
    from dataclasses import replace

    from training.paper import clip_pose_values

    arr, seq = _landmark_clip(data_root)
    # some frames without a pose and some unseen landmarks, as a live stream has
    arr = arr.copy()
    arr[40:55] = np.nan
    arr[100:130, 1, 3] = 0.2
    found = ~np.isnan(arr[..., 0]) & ~np.isnan(arr[..., 1])
    mask = found & (np.nan_to_num(arr[..., 3]) >= 0.5)
    seq = replace(seq, mask=mask, points=np.where(found[..., None], seq.points, 0).astype(np.float32))
    window = PaperWindow(window_seconds=4.0)
    for i, (t, row) in enumerate(zip(seq.times, arr)):
        window.add(float(t), None if np.isnan(row[:, 0]).all() else row, (960, 540))
        if i % 37 == 0 and i > 120:
            keep = seq.times > t - 4.0
            keep &= seq.times <= t
            sub = replace(seq, points=seq.points[keep], mask=seq.mask[keep], times=seq.times[keep],
                          meta={})
            assert list(np.flatnonzero(sub.present)[:3]) == [0, 1, 2]
            ours = window.pose_values()
            assert ours is not None
            assert np.array_equal(ours, clip_pose_values(sub)), i
    assert len(window) == 120  # 4 s at 30 fps


def test_pose_values_need_a_second_of_complete_frames_and_memory_is_bounded():
    lm = np.zeros((33, 4), np.float32)
    lm[:3, :2] = [[0.50, 0.30], [0.52, 0.28], [0.53, 0.28]]
    lm[:, 3] = 0.9
    window = PaperWindow(min_seconds=1.0, max_fps=60.0)
    assert window.pose_values() is None
    for i in range(29):
        window.add(i / 30, lm, (640, 480))
    assert window.pose_values() is None  # 29 frames < 1 s at 30 fps
    window.add(29 / 30, lm, (640, 480))
    values = window.pose_values()
    assert values is not None and np.isfinite(values).all()
    # landmark 2 unseen: no complete frames in the next 10 s
    hidden = lm.copy()
    hidden[2, 3] = 0.1
    for i in range(30, 30 + 301):
        window.add(i / 30, hidden if i % 2 else None, (640, 480))
    assert window.pose_values() is None
    # a long stream at 200 fps keeps a fixed buffer
    fast = PaperWindow(max_fps=60.0)
    for i in range(5000):
        fast.add(i / 200, lm, (640, 480))
    assert len(fast) == PaperWindowConfig(max_fps=60.0).capacity == 601
    assert fast._t.shape == (601,)
    # time going back starts afresh; a repeated time is ignored
    fast.add(1.0, lm, (640, 480))
    fast.add(1.0, lm, (640, 480))
    assert len(fast) == 1
    with pytest.raises(ValueError, match="landmarks must be"):
        fast.add(2.0, np.zeros((33, 3)), (640, 480))
    with pytest.raises(ValueError, match="frame size"):
        fast.add(2.0, lm, (0, 480))


# ------------------------------------------------------------------ the mean log-mel, streaming


def _music(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    """A steady, band-rich signal: three tones, a beat of noise bursts, a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 1760 * t) + 0.05 * np.sin(2 * np.pi * 5000 * t)
    x += 0.3 * rng.normal(0, 1, len(t)) * (np.mod(t, 0.5) < 0.05)
    x += 0.01 * rng.normal(0, 1, len(t))
    return x.astype(np.float32)


def _streamed(x: np.ndarray, input_rate: int, spec, chunk: int = 1024) -> np.ndarray:
    analyser = MusicAnalyser(input_rate, spec)
    for start in range(0, len(x), chunk):
        analyser.push(x[start:start + chunk])
    state = analyser.analyse()
    assert state.mean_log_mel is not None
    return state.mean_log_mel


def test_live_spec_is_the_models_audio_spec():
    spec = live_log_mel_spec(PaperAudioSpec())
    assert (spec.sample_rate, spec.n_fft, spec.hop_length, spec.n_mels) == (24000, 2048, 512, 128)
    assert spec.log_mel_seconds == 10.0
    assert live_log_mel_spec(PaperAudioSpec(sample_rate=44100), 5.0).sample_rate == 44100


def test_streaming_mean_log_mel_equals_the_clip_feature():
    """10 s at the model's rate: the analyser's mean log-mel is training's ``mean_log_mel``
    but for the STFT's last two frames, which are centred within ``n_fft / 2`` of the end and
    need zero padding after it: a stream cannot know it has ended, so it never computes them
    (467 of 469 frames). Without those two frames the two agree to float32 rounding."""
    spec = live_log_mel_spec(PaperAudioSpec())
    sr = spec.sample_rate
    x = _music(10.0, sr)
    live = _streamed(x, sr, spec)
    ref = mean_log_mel(x, sr, n_mels=spec.n_mels, n_fft=spec.n_fft, hop_length=spec.hop_length)
    assert np.abs(live - ref).max() < 0.1  # dB; measured 0.045
    S = log_mel_spectrogram(x, sr, spec.n_mels, spec.n_fft, spec.hop_length, top_db=None)
    done = (len(x) - spec.n_fft // 2) // spec.hop_length + 1
    assert (done, S.shape[1]) == (467, 469)
    S = S[:, :done]
    inner = np.maximum(S, S.max() - spec.top_db).mean(axis=1)
    assert np.abs(live - inner).max() < 1e-4  # measured 2e-6: float32 levels vs float64


def test_streaming_mean_log_mel_from_a_microphone_rate():
    """A 48 kHz source through the model's 24 kHz analyser: the analyser's streaming
    resampler against the clip resampler, plus the two edge frames."""
    spec = live_log_mel_spec(PaperAudioSpec())
    x48 = _music(10.0, 48000, seed=1)
    live = _streamed(x48, 48000, spec, chunk=960)
    ref = mean_log_mel(resample(x48, 48000, 24000), 24000)
    assert np.abs(live - ref).max() < 0.1  # dB; measured 0.046


def test_streaming_mean_log_mel_of_a_real_song(data_root):
    from edge.features.audio import load_audio

    songs = sorted((data_root / "music2dance").glob("*/audio.*"))
    if not songs:
        pytest.skip(f"no Music-to-Dance songs under {data_root / 'music2dance'}")
    audio = load_audio(songs[0], offset=30.0, duration=10.0)
    spec = live_log_mel_spec(PaperAudioSpec())
    assert audio.sample_rate == spec.sample_rate
    live = _streamed(audio.samples, audio.sample_rate, spec)
    ref = mean_log_mel(audio.samples, audio.sample_rate)
    # a song changes within 10 s, so its last two frames weigh more than a steady tone's
    assert np.abs(live - ref).max() < 0.5  # dB; measured 0.04-0.13 on 8 songs
    # why the model's own rate: the main analyser's 22,050 Hz bands are other frequencies
    main = _streamed(resample(audio.samples, audio.sample_rate, 22050), 22050, MusicSpec())
    assert np.abs(main - ref).max() > 1.0  # dB; measured 5.9 dB (mean 1.4) on this song, 9 dB on another


# ------------------------------------------------------------------ edgerec run with a paper model


def _bachata(data_root: Path) -> Path:
    path = data_root / "realvideo" / "bachata" / "basic__basic_mediapipe33.npy"
    if not path.is_file():
        pytest.skip(f"{path} is absent (the shared real-video landmarks)")
    return path


@pytest.fixture(scope="module")
def clicks_120(tmp_path_factory) -> Path:
    sf = pytest.importorskip("soundfile")
    from test_beat import click_track

    y, _ = click_track(120.0, 14.0, 48000)
    path = tmp_path_factory.mktemp("paper_audio") / "clicks120.wav"
    sf.write(str(path), y, 48000)
    return path


@slow
def test_runtime_companion_answers_what_the_model_says_for_its_window(paper_files, data_root, clicks_120):
    """The runtime's companion answer at an update equals the clip model run on the pose
    values of the frames so far (a PaperWindow of its own) and the mean log-mel of an
    analyser of its own at the model's rate: nothing is lost or shifted on the way."""
    import soundfile as sf

    from edge.classify.clip import ClipModel
    from edge.classify.model import StyleModel
    from edge.recommend.catalog import Catalog
    from edge.runtime.companions import ClipCompanion
    from edge.runtime.loop import Runtime, RuntimeConfig
    from edge.sources.frames import PoseFileSource

    poses = _bachata(data_root)
    y, sr = sf.read(str(clicks_120), dtype="float32")
    src = PoseFileSource(poses)
    edge_model = StyleModel(default_model_path())
    clip = ClipModel(paper_files.files["onnx"])
    try:
        companion = ClipCompanion(clip, MusicSpec())
        assert not companion.shares_main and companion.spec.sample_rate == 24000
        runtime = Runtime(edge_model, Catalog(()), None, RuntimeConfig(hop_seconds=1.0), companions=[companion])
        own_window = PaperWindow(10.0)
        own_music = MusicAnalyser(sr, live_log_mel_spec(clip))
        heard = 0
        checked = 0
        for frame in src:
            while heard < len(y) and heard / sr <= frame.t:
                chunk = y[heard:heard + 4800]
                runtime.hear(chunk, sr, heard / sr)
                own_music.push(chunk, heard / sr)
                heard += len(chunk)
            own_window.add(frame.t, frame.pose.landmarks, frame.size)
            update = runtime.process(frame)
            if update is None:
                continue
            (answer,) = update.companions
            pose = own_window.pose_values(frame.t)
            if pose is None:
                assert answer.state == "warming_up"
                continue
            state = own_music.analyse(frame.t)
            expected = clip(pose, state.mean_log_mel)
            assert answer.state == "ok" and answer.silent is False
            got = np.array([answer.probs[k] for k in clip.labels])
            assert np.abs(got - expected).max() < 1e-6
            assert answer.style == clip.labels[int(expected.argmax())]
            checked += 1
            if frame.t > 13.0:
                break
        assert checked >= 8
        summary = runtime.summary()
        assert summary["companions"][0]["answered"] == checked
        assert summary["companions"][0]["sample_rate"] == 24000
    finally:
        edge_model.close()
        clip.close()
        src.close()


@slow
def test_edgerec_run_shows_the_paper_model_beside_the_edge_model(paper_files, data_root, clicks_120):
    import json

    from click.testing import CliRunner

    from edge.cli import main

    poses = str(_bachata(data_root))
    paper = str(paper_files.files["tflite"])
    # only the paper model given: the shipped edge model decides, the paper model beside it
    res = CliRunner().invoke(main, ["run", "--poses", poses, "--audio", str(clicks_120), "--model", paper,
                                    "--json", "--duration", "13"])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in res.output.splitlines() if x.startswith("{")]
    updates = [d for d in lines if d["type"] == "update"]
    assert updates and all(u["schema"] == 3 and len(u["companions"]) == 1 for u in updates)
    ok = [u["companions"][0] for u in updates if u["companions"][0]["state"] == "ok"]
    assert len(ok) >= 10
    for c in ok:
        assert c["model"] == "paper.tflite" and c["kind"] == "paper-clip" and c["silent"] is False
        assert set(c["probs"]) == set(LABELS) and abs(sum(c["probs"].values()) - 1) < 1e-3
        assert c["style"] == max(c["probs"], key=c["probs"].get)
    summary = lines[-1]
    assert summary["model"].endswith(default_model_path().name)
    assert summary["companions"][0]["answered"] == len(ok)
    # text lines: "| paper: STYLE NN%"
    res = CliRunner().invoke(main, ["run", "--poses", poses, "--audio", str(clicks_120), "--model",
                                    str(default_model_path()), "--model", paper, "--duration", "13"])
    assert res.exit_code == 0, res.output
    assert any("| paper: " in x and "%" in x.split("| paper: ")[1] for x in res.output.splitlines())
    assert "+ paper.tflite (3 styles, paper)" in res.output
    assert "paper.tflite (paper, 10 s of pose and sound): answered" in res.output


@slow
def test_a_paper_model_without_sound_or_two_edge_models_are_one_line_errors(paper_files, data_root):
    from click.testing import CliRunner

    from edge.cli import main

    poses = str(_bachata(data_root))
    paper = str(paper_files.files["onnx"])
    for extra in ([], ["--no-audio"]):
        res = CliRunner().invoke(main, ["run", "--poses", poses, "--model", paper, "-q", *extra])
        assert res.exit_code == 1, res.output
        out = res.output.strip()
        assert len(out.splitlines()) == 1 and "needs sound" in out and "--audio FILE" in out, out
        if extra:
            assert "--no-audio was given" in out
    edge_model = str(default_model_path())
    res = CliRunner().invoke(main, ["run", "--poses", poses, "--model", edge_model, "--model", edge_model, "-q"])
    assert res.exit_code == 1 and "2 pose-window models" in res.output
    assert len(res.output.strip().splitlines()) == 1


@slow
def test_silent_sound_is_given_to_the_paper_model_as_the_silence_it_was_trained_with(paper_files, data_root):
    """A muted track (Ana's salsa video has one) is heard, but as silence: the companion
    feeds the model the log-mel of silence, as training fed every clip without a song."""
    from edge.classify.clip import ClipModel
    from edge.runtime.companions import ClipCompanion
    from edge.sources.frames import PoseFileSource

    src = PoseFileSource(_bachata(data_root))
    clip = ClipModel(paper_files.files["tflite"])
    try:
        companion = ClipCompanion(clip, MusicSpec())
        answers = []
        heard = 0
        for frame in src:
            while heard / 16000 <= frame.t:  # contiguous digital silence up to this frame
                companion.hear(np.zeros(800, np.float32), 16000, heard / 16000)
                heard += 800
            companion.add_frame(frame.t, frame.pose.landmarks, frame.size)
            if frame.index % 30 == 29:
                answers.append((companion.decide(frame.t, None), companion.window.pose_values(frame.t)))
        done = [(a, pose) for a, pose in answers if a.state == "ok"]
        assert len(done) >= 5
        for a, pose in done:
            assert a.silent is True
            expected = clip(pose, clip.audio_spec.silence())
            assert np.abs(np.array([a.probs[k] for k in clip.labels]) - expected).max() < 1e-6
        assert companion.summary()["answered"] == len(done)
    finally:
        clip.close()
        src.close()
