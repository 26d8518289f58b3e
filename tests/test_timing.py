"""Frame rates checked against the music: the test cross-validation cannot replace.

A model trained with a wrong frame rate scores just as well in cross-validation (every
clip is wrong the same way) and then fails on correctly timed input. So the loader's frame
rates are checked against physics instead: in Music-to-Dance the dancers' movement repeats
once per bar of the song they dance to. Waltz (3/4) rises and falls once per bar of three
beats; cha-cha's feet repeat once per 4/4 bar. The beat comes from the audio, so the
motion's autocorrelation one bar later is high only when the frames are correctly timed.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge.features.audio import estimate_tempo, load_audio
from edge.core.schema import LANDMARK
from training.crossval import retime

HIPS = [LANDMARK["left_hip"], LANDMARK["right_hip"]]
ANKLES = [LANDMARK["left_ankle"], LANDMARK["right_ankle"]]
# tempo estimates may land on the half beat, so a bar may be twice as many "beats" long
WALTZ_BAR_BEATS = (3, 6)
CHACHA_BAR_BEATS = (4, 8)


def autocorrelation_at(signal: np.ndarray, times: np.ndarray, lag: float) -> float:
    """Normalised autocorrelation of a (T, ...) signal at ``lag`` seconds (linear in between)."""
    x = signal.reshape(len(signal), -1)
    x = x - x.mean(axis=0)
    n = len(x)
    period = float(np.median(np.diff(times)))
    position = lag / period
    k0 = int(np.floor(position))
    if k0 + 1 >= n - 1:
        return float("nan")

    def ac(k: int) -> float:
        return float(np.sum(x[: n - k] * x[k:]) / (n - k) / (np.sum(x * x) / n))

    frac = position - k0
    return (1 - frac) * ac(k0) + frac * ac(k0 + 1)


def bar_correlation(seq, signal: np.ndarray, bar_beats: tuple[int, ...], beat: float) -> float:
    return max(autocorrelation_at(signal, seq.times, b * beat) for b in bar_beats)


@pytest.fixture(scope="module")
def m2d_with_beats(data_root):
    from training.datasets import discover, load

    out = []
    for ref in discover(data_root, ("music2dance",)):
        seq = load(ref)
        if seq.audio_path and seq.label in ("waltz", "cha-cha"):
            audio = load_audio(seq.audio_path)
            out.append((seq, 60.0 / estimate_tempo(audio.samples, audio.sample_rate).bpm))
    if not out:
        pytest.skip("no Music-to-Dance waltz or cha-cha clips with audio in the data folder")
    return out


def hip_height(seq) -> np.ndarray:
    return seq.points[:, HIPS, 1].mean(axis=1)


def feet(seq) -> np.ndarray:
    return seq.points[:, ANKLES] - seq.points[:, HIPS].mean(axis=1, keepdims=True)


def test_waltz_frame_rate_puts_the_rise_and_fall_on_the_bar(m2d_with_beats):
    rows = []
    for seq, beat in m2d_with_beats:
        if seq.label != "waltz":
            continue
        assert 5.3 < seq.fps < 6.3, f"{seq.clip_id}: waltz frame rate {seq.fps}"
        right = bar_correlation(seq, hip_height(seq), WALTZ_BAR_BEATS, beat)
        wrong_seq = retime(seq, 25.0)  # the upstream README's claim
        wrong = bar_correlation(wrong_seq, hip_height(wrong_seq), WALTZ_BAR_BEATS, beat)
        rows.append((seq.clip_id, right, wrong))
    right = np.array([r[1] for r in rows])
    wrong = np.array([r[2] for r in rows])
    assert len(rows) >= 5
    assert np.median(right) > 0.6, rows
    assert np.mean(right > wrong) >= 0.9, rows
    assert np.median(right - wrong) > 0.2, rows


def test_chacha_at_25fps_repeats_on_the_bar(m2d_with_beats):
    rows = []
    for seq, beat in m2d_with_beats:
        if seq.label != "cha-cha":
            continue
        assert seq.fps == 25.0
        right = bar_correlation(seq, feet(seq), CHACHA_BAR_BEATS, beat)
        wrong_seq = retime(seq, 5.9)
        wrong = bar_correlation(wrong_seq, feet(wrong_seq), CHACHA_BAR_BEATS, beat)
        rows.append((seq.clip_id, right, wrong))
    assert rows and all(r > w for _, r, w in rows), rows
