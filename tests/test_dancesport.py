"""DanceSport tempo table, beats per bar from accents, and the tempo-to-style fit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge.features.audio import onset_envelope
from edge.features.beat import track_beats
from edge.recommend.dancesport import (
    ALL_TEMPOS, DANCESPORT_TEMPOS, SOCIAL_TEMPOS, best_style, beat_strengths, estimate_beats_per_bar,
    tempo_style_fit, tempo_table,
)

SR = 22050


def accented_clicks(bpm: float, beats_per_bar: int, seconds: float = 20.0, start: float = 0.3) -> np.ndarray:
    """Clicks at ``bpm``, every ``beats_per_bar``-th one (the downbeat) twice as loud."""
    y = np.zeros(int(seconds * SR), np.float32)
    n = int(0.01 * SR)
    burst = (np.sin(2 * np.pi * 1000 * np.arange(n) / SR) * np.exp(-np.arange(n) / (0.002 * SR))).astype(np.float32)
    for i, b in enumerate(np.arange(start, seconds - 0.02, 60.0 / bpm)):
        k = int(round(b * SR))
        y[k:k + n] += (1.0 if i % beats_per_bar == 0 else 0.5) * burst[: len(y) - k]
    return y


def meter_of(y: np.ndarray, bpm: float):
    env = onset_envelope(y, SR)
    times = np.arange(len(env)) * 512 / SR + 1024 / SR
    beats, _ = track_beats(env, times, bpm, memory_seconds=1e6)
    return estimate_beats_per_bar(env, beats=np.asarray(beats), times=times)


def test_the_table_holds_the_wdsf_ranges():
    want = {"waltz": (28, 30, 3), "viennese waltz": (58, 60, 3), "tango": (31, 33, 4), "foxtrot": (28, 30, 4),
            "quickstep": (50, 52, 4), "cha-cha": (30, 32, 4), "rumba": (25, 27, 4), "samba": (50, 52, 2),
            "jive": (42, 44, 4), "paso doble": (60, 62, 2)}
    got = {r.style: (r.bars_min, r.bars_max, r.beats_per_bar) for r in DANCESPORT_TEMPOS}
    assert got == want
    assert all(r.dancesport for r in DANCESPORT_TEMPOS) and not any(r.dancesport for r in SOCIAL_TEMPOS)
    assert {r.style for r in SOCIAL_TEMPOS} == {"salsa", "bachata"}
    assert tempo_table(["waltz"])[0].bpm_range == (84, 90)
    assert tempo_table(["cha-cha"])[0].bpm_range == (120, 128)
    with pytest.raises(KeyError, match="polka"):
        tempo_table(["polka"])
    for r in ALL_TEMPOS:
        assert r.bars_min < r.bars_max and r.to_json()["meter"] == f"{r.beats_per_bar}/4"


@pytest.mark.parametrize("row", DANCESPORT_TEMPOS, ids=lambda r: r.style)
def test_the_middle_of_every_range_fits_its_style_fully(row):
    bpm = 0.5 * sum(row.bpm_range)
    fit = tempo_style_fit(bpm, row.beats_per_bar)
    assert fit[row.style] == pytest.approx(1.0)
    assert all(0.0 <= v <= 1.0 for v in fit.values())


def test_fit_falls_off_with_distance_in_bars():
    # waltz 28-30 bars in 3/4; 31 bars (93 BPM) is one bar out, 33 (99 BPM) three
    f = [tempo_style_fit(b, styles=["waltz"])["waltz"] for b in (87, 93, 99, 110)]
    assert f[0] == 1.0 and f[0] > f[1] > f[2] > f[3]
    assert f[1] == pytest.approx(math.exp(-0.5 / 1.5 ** 2))


def test_octave_errors_of_the_tempo_estimate_still_fit_at_half_weight():
    # cha-cha at 124 BPM estimated as 62 or 248
    for bpm in (62.0, 248.0):
        assert tempo_style_fit(bpm, styles=["cha-cha"])["cha-cha"] == pytest.approx(0.5)
    assert tempo_style_fit(124.0, styles=["cha-cha"])["cha-cha"] == 1.0


def test_meter_separates_waltz_from_foxtrot_at_the_same_bars_per_minute():
    # 29 bars/min: waltz in 3/4 is 87 BPM, foxtrot in 4/4 is 116 BPM
    styles = ["waltz", "foxtrot", "cha-cha", "rumba"]
    assert best_style(tempo_style_fit(87, None, styles)) == "waltz"
    assert best_style(tempo_style_fit(116, 4, styles)) == "foxtrot"
    fit = tempo_style_fit(87, 4, styles)
    assert fit["waltz"] == pytest.approx(0.2)  # the other meter family: x0.2, not ruled out


def test_no_tempo_fits_nothing():
    for bpm in (float("nan"), 0.0, -5.0, float("inf")):
        fit = tempo_style_fit(bpm)
        assert set(fit) == {r.style for r in ALL_TEMPOS} and not any(fit.values())
        assert best_style(fit) is None


@pytest.mark.parametrize("bpm,bars", [(87.0, 3), (180.0, 3), (126.0, 4), (104.0, 4), (120.0, 2)])
def test_click_tracks_with_accented_downbeats_give_their_meter(bpm, bars):
    m = meter_of(accented_clicks(bpm, bars), bpm)
    assert m.beats_per_bar == (3 if bars == 3 else 4), m
    assert m.confidence > 0


def test_unaccented_clicks_and_too_few_beats_are_not_a_meter():
    y = accented_clicks(120.0, 1)  # every click the same
    m = meter_of(y, 120.0)
    assert m.confidence < 1.5
    assert estimate_beats_per_bar(np.ones(5)).beats_per_bar is None


def test_strengths_in_beat_order_work_directly():
    s = np.tile([3.0, 1.0, 1.2], 8) + np.random.default_rng(0).normal(0, 0.1, 24)
    m = estimate_beats_per_bar(s)
    assert m.beats_per_bar == 3 and m.downbeat == 0 and m.confidence > 2
    s4 = np.tile([3.0, 1.0, 2.0, 1.0], 8) + np.random.default_rng(1).normal(0, 0.1, 32)
    assert estimate_beats_per_bar(s4).beats_per_bar == 4


def test_beat_strengths_reads_the_envelope_near_each_beat():
    times = np.arange(100) * 0.01
    env = np.zeros(100)
    env[50] = 2.0
    s = beat_strengths([0.5, 0.2, 5.0], env, times)
    assert s.tolist() == [2.0, 0.0, 0.0]
    with pytest.raises(ValueError):
        beat_strengths([0.5], env, times[:10])
