"""Streaming music analysis (edge.features.beat): tempo and beats on generated click tracks,
the streaming resampler, silence and clock jumps, and the on-beat score on synthetic dancers
whose steps land on, off or between the beats."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge.features.audio import mean_log_mel, resample
from edge.features.beat import (
    MusicAnalyser, MusicSpec, StreamingResampler, beat_alignment, kinematic_hits, movement_envelope, on_beat,
)


def click_track(bpm: float, seconds: float, sr: int, start: float = 0.3, accent_every: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Clicks (10 ms 1 kHz bursts) at ``bpm`` from ``start``; returns (signal, click times)."""
    y = np.zeros(int(seconds * sr), np.float32)
    beats = np.arange(start, seconds - 0.02, 60.0 / bpm)
    n = int(0.01 * sr)
    burst = (np.sin(2 * np.pi * 1000 * np.arange(n) / sr) * np.exp(-np.arange(n) / (0.002 * sr))).astype(np.float32)
    for i, b in enumerate(beats):
        k = int(round(b * sr))
        gain = 1.0 if not accent_every or i % accent_every == 0 else 0.5
        y[k:k + n] += gain * burst[: len(y) - k]
    return y, beats


def stream(y: np.ndarray, sr: int, chunk: int = 1024, t0: float = 0.0, spec: MusicSpec = MusicSpec()) -> MusicAnalyser:
    a = MusicAnalyser(sr, spec)
    for i in range(0, len(y), chunk):
        a.push(y[i:i + chunk], t0 + i / sr)
    return a


@pytest.mark.parametrize("bpm", [87.0, 100.0, 120.0, 126.0, 150.0])
@pytest.mark.parametrize("sr", [44100, 48000, 22050])
def test_click_track_tempo_within_2_bpm_and_beats_within_50_ms(bpm: float, sr: int) -> None:
    y, clicks = click_track(bpm, 12.0, sr)
    state = stream(y, sr).analyse()
    assert not state.silent and state.seconds > 10
    assert abs(state.bpm - bpm) < 2.0, state.bpm
    beats = np.asarray(state.beats)
    assert len(beats) >= int(8.0 * bpm / 60) - 1  # every beat of the last 8 s
    err = np.array([np.min(np.abs(clicks - b)) for b in beats])
    assert err.max() < 0.050, err
    # the next predicted beat is the next click
    nxt = clicks[clicks > state.t]
    if len(nxt):
        assert abs(state.next_beat - nxt[0]) < 0.050


def test_beats_follow_the_media_clock() -> None:
    """Timestamps are the source's media time: a stream that starts at t=100 s has its beats there."""
    sr = 44100
    y, clicks = click_track(120.0, 10.0, sr)
    state = stream(y, sr, t0=100.0).analyse()
    beats = np.asarray(state.beats)
    assert beats.min() > 100.0
    assert np.max([np.min(np.abs(clicks + 100.0 - b)) for b in beats]) < 0.05


def test_streaming_resampler_equals_the_offline_one() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(44100).astype(np.float32)
    for a, b in ((44100, 22050), (48000, 22050), (24000, 22050), (22050, 22050)):
        r = StreamingResampler(a, b)
        out = np.concatenate([r(x[i:i + 777]) for i in range(0, len(x), 777)])
        ref = resample(x, a, b)
        n = len(out)
        assert n <= len(ref) and len(ref) - n <= r.half * b // a + 2
        np.testing.assert_allclose(out, ref[:n], atol=1e-5)


def test_mean_log_mel_equals_the_offline_feature_on_the_same_span() -> None:
    """The live mean log-mel over the history equals :func:`mean_log_mel` of the same samples,
    apart from the last frames (the offline STFT zero-pads the end, the live one waits)."""
    sr = 22050
    rng = np.random.default_rng(1)
    y = (0.1 * rng.standard_normal(sr * 8)).astype(np.float32)
    y += np.sin(2 * np.pi * 440 * np.arange(len(y)) / sr).astype(np.float32) * 0.2
    state = stream(y, sr, spec=MusicSpec(log_mel_seconds=20.0)).analyse()
    ref = mean_log_mel(y, sr)
    assert state.mean_log_mel.shape == (128,)
    assert np.abs(state.mean_log_mel - ref).max() < 0.5


def test_silence_is_not_music() -> None:
    a = MusicAnalyser(16000)
    a.push(np.zeros(16000 * 5, np.float32), 0.0)
    s = a.analyse()
    assert s.silent and not s.has_tempo and s.beats == () and math.isnan(s.next_beat)
    a.push((1e-5 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32))  # -100 dBFS hiss
    assert a.analyse().silent


def test_a_clock_that_jumps_back_restarts_and_a_gap_is_filled() -> None:
    sr = 22050
    y, _ = click_track(120.0, 6.0, sr)
    a = stream(y, sr)
    before = a.seconds
    a.push(y[:2048], 3.0 + len(y) / sr)  # 3 s ahead: a gap, filled with silence
    assert a.seconds > before + 2.9 and a.restarts == 0
    a.push(y[:2048], 0.0)  # back to the start (a looped file)
    assert a.restarts == 1 and a.seconds < 0.2


def test_non_finite_samples_do_not_poison_the_analysis() -> None:
    sr = 22050
    y, _ = click_track(120.0, 10.0, sr)
    y[1000:1100] = np.nan
    state = stream(y, sr).analyse()
    assert abs(state.bpm - 120.0) < 2.0 and np.isfinite(state.mean_log_mel).all()


# ------------------------------------------------------------------ on the beat


def dancer(step_times: np.ndarray, seconds: float, rate: float = 30.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 13-joint dancer whose speed dips to nearly 0 at each step time and peaks between."""
    t = np.arange(0.0, seconds, 1.0 / rate)
    phase = np.zeros_like(t)
    for a, b in zip(step_times[:-1], step_times[1:]):
        m = (t >= a) & (t < b)
        phase[m] = (t[m] - a) / (b - a)
    # position advances like 1 - cos: speed ~ sin(pi * phase), 0 at the steps
    pos = np.cumsum(np.sin(np.pi * phase) ** 2) / rate
    xy = np.zeros((len(t), 13, 2))
    xy[:, :, 0] = 100 * pos[:, None] + np.arange(13)[None, :]
    xy[:, :, 1] = np.arange(13)[None, :] * 3.0
    return t, xy, np.ones((len(t), 13), bool)


def test_kinematic_hits_are_the_steps() -> None:
    steps = np.arange(0.5, 10.0, 0.5)
    t, xy, ok = dancer(steps, 10.0)
    grid, speed = movement_envelope(t, xy, ok)
    hits = kinematic_hits(grid, speed)
    inner = steps[(steps > 1.0) & (steps < 9.0)]
    assert all(np.min(np.abs(hits - s)) < 0.04 for s in inner)


def test_beat_score_on_off_and_between_the_beats() -> None:
    period = 0.5
    beats = np.arange(0.5, 10.0, period)
    on = beat_alignment(beats[1:-1] + 0.01, beats, period)
    half = beat_alignment(beats[1:-1] + period / 2, beats, period)
    rng = np.random.default_rng(0)
    rand = [beat_alignment(np.sort(rng.uniform(1, 9, 16)), beats, period).score for _ in range(200)]
    assert on.score > 0.9 and abs(on.offset_ms - 10.0) < 1.0
    assert half.score == 0.0
    assert 0.0 <= np.mean(rand) < 0.2  # chance is 0 on average (clipped at 0 from below)
    assert math.isnan(beat_alignment(beats[:2], beats, period).score)  # too few hits


def test_on_beat_of_a_dancer_with_the_music_and_against_it() -> None:
    """The score is high when the steps land on the clicks, and drops when the music is
    shifted by half a beat or swapped for another tempo."""
    sr, bpm = 22050, 120.0
    y, clicks = click_track(bpm, 12.0, sr)
    music = stream(y, sr).analyse()
    t, xy, ok = dancer(clicks, 12.0)
    synced = on_beat(t, xy, ok, music)
    shifted_music = stream(np.roll(y, int(0.25 * sr)), sr).analyse()  # half a beat at 120 BPM
    shifted = on_beat(t, xy, ok, shifted_music)
    other, _ = click_track(97.0, 12.0, sr)
    swapped = on_beat(t, xy, ok, stream(other, sr).analyse())
    assert synced.score > 0.7, synced
    assert shifted.score < 0.2 and swapped.score < 0.4, (shifted, swapped)
    assert synced.hits >= 10
