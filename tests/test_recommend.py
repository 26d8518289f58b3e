"""Music recommendations: tempo and style fit, ranking, explanations, catalogue files, build."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edge import recommend as rec
from edge.cli import main

LABELS = ["cha-cha", "rumba", "waltz", "salsa"]


def song(id, style, bpm, **kw):
    return rec.Song(id=id, title=id, path=f"{id}.wav", root=rec.ROOT_CATALOG, source="test", licence="MIT",
                    style=style, bpm=bpm, bpm_source="given", tempo_confidence=1.0, duration=30.0,
                    embedding={style: 1.0} if style else {}, **kw)


def test_tempo_fit_symmetric_and_half_double():
    for a, b in [(120, 60), (126, 62), (90, 100), (70, 150)]:
        assert rec.tempo_fit(a, b) == pytest.approx(rec.tempo_fit(b, a))
    assert rec.tempo_fit(120, 120) == pytest.approx(1.0)
    assert rec.tempo_fit(120, 60) == pytest.approx(1.0)
    assert rec.tempo_fit(120, 240) == pytest.approx(1.0)
    assert rec.tempo_fit(120, 90) < 0.05  # 3:4 is no match
    assert rec.tempo_fit(120, 114) > rec.tempo_fit(120, 100) > rec.tempo_fit(120, 90)
    assert math.isnan(rec.tempo_fit(float("nan"), 100))


def test_ranking_prefers_matching_style_and_tempo():
    cat = rec.Catalog((song("waltz-90", "waltz", 90.0), song("chacha-slow", "cha-cha", 80.0),
                       song("chacha-124", "cha-cha", 124.0), song("unknown-124", None, 124.0)))
    probs = np.array([0.9, 0.05, 0.03, 0.02])
    out = rec.recommend(probs, 62.0, cat, k=4, labels=LABELS)
    # style and tempo both fit first; a song of unknown style at the right tempo beats the
    # right style at a clashing tempo (documented weights 0.6/0.4); wrong style and tempo last
    assert [r.song.id for r in out] == ["chacha-124", "unknown-124", "chacha-slow", "waltz-90"]
    assert out[0].tempo_fit > 0.9 and out[0].style_fit > 0.9
    assert all(out[i].score >= out[i + 1].score for i in range(3))
    assert len(rec.recommend(probs, 62.0, cat, k=2, labels=LABELS)) == 2


def test_unsure_ignores_style():
    cat = rec.Catalog((song("chacha-80", "cha-cha", 80.0), song("waltz-120", "waltz", 120.0)))
    probs = np.array([0.97, 0.01, 0.01, 0.01])
    sure = rec.recommend(probs, 120.0, cat, k=2, labels=LABELS)
    unsure = rec.recommend(probs, 120.0, cat, k=2, labels=LABELS, unsure=True)
    assert sure[0].song.id == "chacha-80"
    assert unsure[0].song.id == "waltz-120"
    assert all(r.style_fit is None for r in unsure)
    assert "tempo only" in unsure[0].why
    # the same ranking whatever the probabilities say
    flipped = rec.recommend(np.array([0.01, 0.01, 0.97, 0.01]), 120.0, cat, k=2, labels=LABELS, unsure=True)
    assert [r.song.id for r in flipped] == [r.song.id for r in unsure]


def test_why_mentions_style_and_bpm():
    cat = rec.Catalog((song("a", "cha-cha", 126.0), song("b", None, 100.0), song("c", "tango", 62.0)))
    out = rec.recommend(np.array([0.92, 0.04, 0.02, 0.02]), 62.0, cat, k=3, labels=LABELS)
    by = {r.song.id: r.why for r in out}
    assert "cha-cha" in by["a"] and "% fit" in by["a"]
    assert "126 BPM" in by["a"] and "62 steps/min" in by["a"] and "half the beat" in by["a"]
    assert "style unknown" in by["b"]
    assert "not a style the model knows" in by["c"]
    no_tempo = rec.recommend(np.array([0.92, 0.04, 0.02, 0.02]), float("nan"), cat, k=1, labels=LABELS)
    assert "not known yet" in no_tempo[0].why and no_tempo[0].song.id == "a"


def test_movement_tempo_from_speed_and_track():
    rate, bpm = 30.0, 75.0
    t = np.arange(0, 20, 1 / rate)
    speed = 1.0 + np.cos(2 * np.pi * bpm / 60 * t)
    assert rec.movement_tempo(speed, rate).bpm == pytest.approx(bpm, abs=2)

    class Track:  # duck-typed like edge.features.Track: times, xy (T, J, 2), ok (T, J)
        times = np.sort(np.arange(0, 20, 1 / 25.0) + np.random.default_rng(0).uniform(0, 0.005, 500))
        xy = np.stack([np.sin(2 * np.pi * (bpm / 2) / 60 * times)[:, None] * np.ones(3),
                       np.zeros((500, 3))], axis=-1) * 50
        ok = np.ones((500, 3), bool)

    est = rec.movement_tempo(Track(), 30.0)
    # a limb swinging at bpm/2 peaks in speed twice per cycle: bpm (or its octave)
    assert min(abs(est.bpm - bpm), abs(est.bpm - 2 * bpm), abs(est.bpm - bpm / 2)) < 3
    assert math.isnan(rec.movement_tempo(np.ones(10), 30.0).bpm)


def test_catalog_round_trip_and_errors(tmp_path):
    cat = rec.Catalog((song("a", "cha-cha", 126.0), song("b", None, float("nan"), mood="calm")))
    path = rec.save_catalog(cat, tmp_path / "c.json")
    back = rec.load_catalog(path)
    assert back.songs[0] == cat.songs[0]
    assert back.songs[1].mood == "calm" and math.isnan(back.songs[1].bpm)
    assert not list(tmp_path.glob(".*tmp"))

    with pytest.raises(ValueError, match="catalogue not found.*catalog build"):
        rec.load_catalog(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    for text, msg in [("", "not a readable"), ("{not json", "not a readable"),
                      (json.dumps({"format": "x"}), "not an edgerec catalogue"),
                      (json.dumps({"format": rec.CATALOG_FORMAT, "version": 1, "songs": []}), "no songs"),
                      (json.dumps({"format": rec.CATALOG_FORMAT, "version": 1, "songs": [{"id": 1}]}), "corrupt")]:
        bad.write_text(text)
        with pytest.raises(ValueError, match=msg) as info:
            rec.load_catalog(bad)
        assert "\n" not in str(info.value) and str(bad) in str(info.value)
    with pytest.raises(ValueError, match="empty"):
        rec.save_catalog(rec.Catalog(()), tmp_path / "empty.json")


def _click_track(path: Path, bpm: float, seconds: float = 12.0, sr: int = 22050) -> None:
    sf = pytest.importorskip("soundfile")
    y = np.zeros(int(seconds * sr), np.float32)
    click = (np.sin(2 * np.pi * 1000 * np.arange(400) / sr) * np.exp(-np.arange(400) / 80)).astype(np.float32)
    for t in np.arange(0, seconds - 0.1, 60.0 / bpm):
        i = int(t * sr)
        y[i:i + len(click)] += click
    sf.write(str(path), y, sr)


def test_catalog_build_click_tracks(tmp_path):
    music = tmp_path / "music"
    (music / "sub").mkdir(parents=True)
    # within the estimator's octave-safe range around its 120 BPM prior (a bare click track
    # at 140 reads as 70, the octave ambiguity edge.features.audio documents)
    bpms = {"a.wav": 92.0, "sub/b.wav": 110.0, "sub/c.flac": 128.0}
    for name, bpm in bpms.items():
        _click_track(music / name, bpm)
    (music / "notes.txt").write_text("not audio")
    (music / "broken.wav").write_bytes(b"RIFF0000WAVEjunk")
    out = tmp_path / "cat" / "songs.json"
    res = CliRunner().invoke(main, ["catalog", "build", str(music), "--out", str(out), "--style", "salsa",
                                    "--licence", "CC0", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "3 songs" in res.output and "1 skipped" in res.output
    cat = rec.load_catalog(out)
    got = {Path(s.path).name: s for s in cat.songs}
    for name, bpm in bpms.items():
        s = got[Path(name).name]
        assert s.bpm == pytest.approx(bpm, abs=3), (name, s.bpm)
        assert s.style == "salsa" and s.licence == "CC0" and s.duration == pytest.approx(12.0, abs=0.01)
        assert len(s.log_mel) == 128 and all(math.isfinite(v) for v in s.log_mel)
        assert s.resolve(out).is_file()
    res = CliRunner().invoke(main, ["catalog", "info", str(out)])
    assert res.exit_code == 0 and "salsa" in res.output and "3 songs" in res.output
    res = CliRunner().invoke(main, ["catalog", "info", str(tmp_path / "nope.json")])
    assert res.exit_code != 0 and "catalogue not found" in res.output


def test_default_catalog_loads():
    cat = rec.load_default_catalog()
    assert len(cat) == 28 and all(s.licence == "MIT" and s.bpm_source == "metadata" for s in cat.songs)
    out = rec.recommend(np.array([0.7, 0.1, 0.1, 0.1]), 66.0, cat, k=3, labels=LABELS)
    assert all(r.tempo_fit > 0.9 for r in out)  # 132 (x2) or 68 BPM songs for 66 steps/min
    pytest.importorskip("immich_memories_music")
    assert cat.songs[0].resolve(None).is_file()


def test_catalog_build_music2dance(data_root, tmp_path):
    m2d = data_root / "music2dance"
    clips = [d for d in sorted(m2d.glob("DANCE_*")) if (d / "audio.opus").is_file()]
    picks = [next(d for d in clips if "_C_" in d.name), next(d for d in clips if "_W_" in d.name)]
    music = tmp_path / "m2d"
    for d in picks:
        (music / d.name).mkdir(parents=True)
        (music / d.name / "audio.opus").symlink_to(d / "audio.opus")
    out = tmp_path / "m2d.json"
    res = CliRunner().invoke(main, ["catalog", "build", str(music), "--out", str(out),
                                    "--labels-from-dataset", "--no-progress"])
    assert res.exit_code == 0, res.output
    cat = rec.load_catalog(out)
    assert {s.title: s.style for s in cat.songs} == {picks[0].name: "cha-cha", picks[1].name: "waltz"}
    assert all(60 <= s.bpm <= 200 and s.duration > 10 for s in cat.songs)


# ------------------------------------------------------------------ hearing the room


def test_sound_similarity_modes():
    from edge.recommend.sound import reference_spectrum, sound_similarity

    rng = np.random.default_rng(0)
    tilt = -20 - 0.3 * np.arange(128)  # every song's downward spectral tilt
    a, b = tilt + rng.normal(0, 3, 128), tilt + rng.normal(0, 3, 128)
    assert sound_similarity(a, b, mode="paper") > 0.99  # the raw cosine cannot tell songs apart
    ref = reference_spectrum([a, b, tilt])
    assert sound_similarity(a, a, ref) == pytest.approx(1.0)
    assert sound_similarity(a, b, ref) < 0.8
    assert sound_similarity(a, 2 * tilt - a, tilt) == pytest.approx(0.0, abs=1e-9)  # opposite departures
    assert math.isnan(sound_similarity(a, np.zeros(3)))
    assert math.isnan(sound_similarity(a, None))
    with pytest.raises(ValueError, match="unknown sound mode"):
        sound_similarity(a, b, mode="loud")


def test_recommend_hears_the_music_tempo_and_sound():
    tilt = -20 - 0.3 * np.arange(128)
    bright, dark = tilt + np.linspace(-5, 5, 128), tilt + np.linspace(5, -5, 128)
    cat = rec.Catalog((song("dark-124", None, 124.0, log_mel=tuple(dark)),
                       song("bright-124", None, 124.0, log_mel=tuple(bright)),
                       song("bright-90", None, 90.0, log_mel=tuple(bright)),
                       song("silent-124", None, 124.0)))
    probs = np.full(4, 0.25)
    ref = np.mean([bright, dark], axis=0)
    out = rec.recommend(probs, 62.0, cat, k=4, labels=LABELS, music_bpm=124.0, music_log_mel=bright, reference=ref)
    assert [r.song.id for r in out][:2] == ["bright-124", "silent-124"]
    top = out[0]
    assert top.sound_fit == pytest.approx(1.0) and top.tempo_fit == pytest.approx(1.0)
    assert "the music's 124 BPM" in top.why and "sounds 100% like the music playing" in top.why
    silent = next(r for r in out if r.song.id == "silent-124")
    assert silent.sound_fit is None and "sounds" not in silent.why  # no log-mel: the term drops out
    # the music's tempo wins over the dancer's steps when it is heard
    assert next(r for r in out if r.song.id == "bright-90").tempo_fit < 0.1
    # unsure: tempo and sound only
    uns = rec.recommend(probs, 62.0, cat, k=4, labels=LABELS, unsure=True, music_bpm=124.0,
                        music_log_mel=bright, reference=ref)
    assert uns[0].song.id == "bright-124" and "ranked by tempo and sound" in uns[0].why
    # nothing heard: the old ranking, no sound term
    quiet = rec.recommend(probs, 62.0, cat, k=4, labels=LABELS)
    assert all(r.sound_fit is None and "sounds" not in r.why for r in quiet)


def test_catalogue_round_trips_log_mel_and_refuses_a_bad_one(tmp_path):
    lm = tuple(float(v) for v in -30 - 0.2 * np.arange(128))
    cat = rec.Catalog((song("a", "waltz", 88.0, log_mel=lm), song("b", None, 120.0)))
    path = rec.save_catalog(cat, tmp_path / "c.json")
    back = rec.load_catalog(path)
    assert back.songs[0].log_mel == pytest.approx(lm, abs=0.01) and back.songs[1].log_mel == ()
    doc = json.loads(path.read_text())
    assert doc["log_mel"]["n_mels"] == 128
    doc["songs"][0]["log_mel"] = [1.0, 2.0]
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="log_mel must be a list of 128"):
        rec.load_catalog(path)


def test_default_catalog_songs_have_their_sound():
    cat = rec.load_default_catalog()
    assert all(len(s.log_mel) == 128 for s in cat.songs)
