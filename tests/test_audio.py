"""Tests for edge.features.audio: numpy re-implementations checked against librosa, tempo on clicks
and on real music2dance songs.

Real-data tests read ``$EDGEREC_DATA`` (default ``<repo>/../shared/data``) and skip when the
files are absent. librosa is only a reference here; the tests that need it import-skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from edge import audio as A
from edge.core.schema import Audio

REPO = Path(__file__).resolve().parents[1]
DATA_ROOT = Path(os.environ.get("EDGEREC_DATA", REPO.parent / "shared" / "data"))
M2D = DATA_ROOT / "music2dance"

#: Max abs difference (dB) allowed between our log-mel and librosa's. Achieved: ~4e-6 dB
#: (float32 rounding of librosa's own pipeline), so 1e-3 dB leaves a wide margin.
DB_TOL = 1e-3


def song_path(name: str) -> Path:
    path = M2D / name / "audio.opus"
    if not path.is_file():
        pytest.skip(f"music2dance audio not found at {path} (set EDGEREC_DATA to the data root)")
    return path


def chirp_noise(sr: int = 24000, seconds: float = 5.3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    y = 0.3 * np.sin(2 * np.pi * (100 * t + 400 * t**2)) + 0.05 * rng.standard_normal(len(t))
    return y.astype(np.float32)


def click_track(bpm: float, sr: int = 22050, seconds: float = 20.0) -> np.ndarray:
    n = np.arange(400)
    click = (np.exp(-n / 60) * np.sin(2 * np.pi * 1500 * n / sr)).astype(np.float32)
    y = np.zeros(int(sr * seconds), dtype=np.float32)
    for t in np.arange(0.1, seconds - 0.1, 60.0 / bpm):
        i = int(t * sr)
        y[i : i + len(click)] += click
    return y


def octave_match(ours: float, ref: float, tol: float = 0.04) -> bool:
    return any(abs(ours / (ref * k) - 1.0) <= tol for k in (0.5, 1.0, 2.0))


# --------------------------------------------------------------------------------------
# Import hygiene
# --------------------------------------------------------------------------------------


def test_import_pulls_in_numpy_only() -> None:
    code = (
        "import sys, edge.features.audio; "
        "bad = [m for m in ('soundfile', 'librosa', 'scipy', 'numba') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


# --------------------------------------------------------------------------------------
# Filterbank, STFT, log-mel vs librosa
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("sr,n_fft", [(22050, 2048), (24000, 2048), (16000, 512), (44100, 4096)])
def test_mel_filterbank_matches_librosa(sr: int, n_fft: int) -> None:
    librosa = pytest.importorskip("librosa")
    ours = A.mel_filterbank(sr, n_fft)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft)
    assert ours.shape == ref.shape == (128, 1 + n_fft // 2)
    np.testing.assert_allclose(ours, ref, atol=1e-6, rtol=0)
    # Non-default band limits and band count too.
    ours = A.mel_filterbank(sr, n_fft, n_mels=40, fmin=50.0, fmax=sr / 3)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=40, fmin=50.0, fmax=sr / 3)
    np.testing.assert_allclose(ours, ref, atol=1e-6, rtol=0)


def test_stft_power_matches_librosa() -> None:
    librosa = pytest.importorskip("librosa")
    y = chirp_noise(seconds=1.7)
    ours = A.stft_power(y)
    ref = np.abs(librosa.stft(y)) ** 2
    assert ours.shape == ref.shape == (1025, 1 + len(y) // 512)
    assert np.abs(ours - ref).max() <= 1e-5 * ref.max()


def test_log_mel_matches_librosa_on_chirp_noise() -> None:
    librosa = pytest.importorskip("librosa")
    sr = 24000
    y = chirp_noise(sr)
    ours = A.log_mel_spectrogram(y, sr)
    ref = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, n_mels=128))
    assert ours.shape == ref.shape and ours.dtype == np.float32
    assert np.abs(ours - ref).max() < DB_TOL
    ours_max = A.log_mel_spectrogram(y, sr, ref="max")
    ref_max = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr), ref=np.max)
    assert np.abs(ours_max - ref_max).max() < DB_TOL


def test_log_mel_matches_librosa_on_real_song() -> None:
    librosa = pytest.importorskip("librosa")
    audio = A.load_audio(song_path("DANCE_C_2"), offset=60.0, duration=10.0)
    y, sr = audio.samples, audio.sample_rate
    ours = A.log_mel_spectrogram(y, sr)
    ref = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, n_mels=128))
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < DB_TOL
    mean = A.mean_log_mel(y, sr)
    assert np.abs(mean - ref.mean(axis=1)).max() < DB_TOL


def test_mean_log_mel_shape_and_memory() -> None:
    sr = 24000
    y = np.random.default_rng(3).standard_normal(sr * 240).astype(np.float32) * 0.1  # 4 min
    tracemalloc.start()
    try:
        mean = A.mean_log_mel(y, sr)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert mean.shape == (128,) and mean.dtype == np.float32
    assert np.all(np.isfinite(mean))
    assert peak < 100e6, f"mean_log_mel on a 4-minute song peaked at {peak / 1e6:.0f} MB"
    assert A.mean_log_mel(y[: sr * 2], sr, n_mels=64).shape == (64,)


def test_short_and_bad_input() -> None:
    assert A.log_mel_spectrogram(np.zeros(100, np.float32), 22050).shape == (128, 1)
    with pytest.raises(ValueError):
        A.log_mel_spectrogram(np.zeros((2, 100), np.float32), 22050)


# --------------------------------------------------------------------------------------
# Loading and resampling
# --------------------------------------------------------------------------------------


def test_load_audio_mixes_to_mono_and_resamples(tmp_path: Path) -> None:
    sf = pytest.importorskip("soundfile")
    sr = 24000
    t = np.arange(sr) / sr
    left, right = 0.5 * np.sin(2 * np.pi * 440 * t), 0.1 * np.ones_like(t)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), sr, subtype="FLOAT")
    audio = A.load_audio(path)
    assert isinstance(audio, Audio) and audio.sample_rate == sr
    assert audio.samples.dtype == np.float32 and audio.samples.shape == (sr,)
    np.testing.assert_allclose(audio.samples, (left + right) / 2, atol=1e-6)
    part = A.load_audio(path, offset=0.25, duration=0.5)
    np.testing.assert_allclose(part.samples, audio.samples[sr // 4 : sr // 4 + sr // 2])
    res = A.load_audio(path, target_sr=22050)
    assert res.sample_rate == 22050 and len(res.samples) == 22050


def test_load_audio_unreadable_file(tmp_path: Path) -> None:
    pytest.importorskip("soundfile")
    bad = tmp_path / "not_audio.wav"
    bad.write_text("hello")
    for path in (bad, tmp_path / "missing.opus"):
        with pytest.raises(ValueError) as info:
            A.load_audio(path)
        msg = str(info.value)
        assert str(path) in msg and "\n" not in msg


def test_load_real_opus() -> None:
    audio = A.load_audio(song_path("DANCE_C_2"), duration=5.0)
    assert audio.sample_rate == 24000
    assert audio.samples.dtype == np.float32 and audio.samples.shape == (5 * 24000,)
    assert 0 < np.abs(audio.samples).max() <= 1.5


@pytest.mark.parametrize("orig,target", [(24000, 22050), (22050, 44100), (48000, 16000)])
def test_resample_sine(orig: int, target: int) -> None:
    t = np.arange(orig) / orig
    y = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    out = A.resample(y, orig, target)
    assert out.dtype == np.float32 and len(out) == int(np.ceil(len(y) * target / orig))
    expected = np.sin(2 * np.pi * 1000 * np.arange(len(out)) / target)
    edge = target // 50  # filter transients at the zero-padded ends
    assert np.abs(out - expected)[edge:-edge].max() < 1e-3


def test_resample_rejects_aliases() -> None:
    t = np.arange(24000) / 24000
    y = np.sin(2 * np.pi * 11000 * t).astype(np.float32)  # above 8 kHz Nyquist of 16 kHz
    out = A.resample(y, 24000, 16000)
    assert np.abs(out[400:-400]).max() < 1e-3


# --------------------------------------------------------------------------------------
# Tempo
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("bpm", [100.0, 128.0])
def test_tempo_click_track(bpm: float) -> None:
    est = A.estimate_tempo(click_track(bpm), 22050)
    assert isinstance(est, A.TempoEstimate)
    assert abs(est.bpm - bpm) <= 2.0, est
    assert 0.5 < est.confidence <= 1.0


def test_periodicity_of_motion_like_envelope() -> None:
    rng = np.random.default_rng(0)
    fps = 30.0
    t = np.arange(int(20 * fps)) / fps
    speed = np.abs(np.sin(np.pi * 1.8 * t)) + 0.1 * rng.standard_normal(len(t))  # 108 BPM
    est = A.estimate_periodicity_bpm(speed, fps)
    assert abs(est.bpm - 108.0) <= 2.0 and est.confidence > 0.5
    noise = A.estimate_periodicity_bpm(rng.standard_normal(len(t)), fps)
    assert noise.confidence < 0.3
    flat = A.estimate_periodicity_bpm(np.ones(len(t)), fps)
    assert np.isnan(flat.bpm) and flat.confidence == 0.0
    with pytest.raises(ValueError, match="too short"):
        A.estimate_periodicity_bpm(speed[:40], fps)


@pytest.mark.parametrize("song", ["DANCE_C_2", "DANCE_R_2", "DANCE_W_1"])
def test_tempo_real_song_vs_librosa(song: str) -> None:
    librosa = pytest.importorskip("librosa")
    audio = A.load_audio(song_path(song))
    y, sr = audio.samples, audio.sample_rate
    ours = A.estimate_tempo(y, sr)
    ref = float(librosa.feature.tempo(y=y, sr=sr)[0])
    print(f"{song}: ours {ours.bpm:.1f} BPM (confidence {ours.confidence:.2f}), "
          f"librosa.feature.tempo {ref:.1f} BPM")
    assert octave_match(ours.bpm, ref), (ours, ref)
