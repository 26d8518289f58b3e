"""The audio report: how well edgerec hears music, measured on real songs.

``edgerec bench audio`` regenerates ``reports/audio/report.md`` + ``report.json`` (+ PNGs).
Sections:

a. **Tempo**: the streaming :class:`~edge.features.beat.MusicAnalyser` (fed 1024-sample
   chunks at the file's own rate, asked every 0.5 s, as the runtime does) and the offline
   :func:`~edge.features.audio.estimate_periodicity_bpm` of the whole song's onset envelope,
   against ``librosa.beat.beat_track``'s tempo, on every Music-to-Dance song and the real
   videos with sound. Octave errors (x2, x1/2, and x3/2, x2/3) are counted apart.
b. **Beats**: F-measure (+-70 ms, beats after the first 5 s, as ``mir_eval``) of our streaming
   beats against librosa's: *causal* (each beat as first announced, no look-ahead) and
   *settled* (each beat as placed 2 s later).
c. **On the beat**: :func:`~edge.features.beat.on_beat` over 8 s windows of the dance, with the
   music in sync, shifted by half a beat, taken from a random other moment of the same song,
   or from another song (of the same style, and of any style); AUC synced-vs-each.
d. **Recommender**: leave-one-out top-5 style agreement by sound mode, tempo and chance;
   also with the live query (the analyser's mean log-mel of the last 10 s).
e. **DanceSport fit**: accuracy of :func:`~edge.recommend.dancesport.tempo_style_fit`'s argmax
   over the styles present, with and without :func:`~edge.recommend.dancesport.estimate_beats_per_bar`.
f. **Fused model**: ``reports/audio/fused.json`` when another run wrote it.

Every interval is a seeded bootstrap 95 % percentile interval over songs (clips), windows
of one clip resampled together.
"""

from __future__ import annotations

import math
import platform
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from edge.core import jsonio
from edge.core.files import atomic_write_bytes, atomic_write_text

SEED = 20261204
BOOT = 2000
CHUNK = 1024
ANALYSE_EVERY = 0.5
BEAT_WINDOW = 0.07
SETTLE = 2.0
LIVE_QUERY_TIMES = (30.0, 60.0, 90.0)
WINDOW_STEP = 4.0
QUICK_SECONDS = 32.0


# ------------------------------------------------------------------ statistics


def boot_ci(groups: Sequence[Sequence[float]] | Sequence[float], stat: Callable[[np.ndarray], float] = np.mean,
            n: int = BOOT, seed: int = SEED) -> Optional[list[float]]:
    """Percentile 95 % interval of ``stat`` over the pooled values, resampling groups (clips)
    with replacement. Plain values are groups of one. None with fewer than 2 groups."""
    gs = [np.atleast_1d(np.asarray(g, np.float64)) for g in groups]
    gs = [g[np.isfinite(g)] for g in gs]
    gs = [g for g in gs if len(g)]
    if len(gs) < 2:
        return None
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(gs), (n, len(gs)))
    if stat is np.mean:  # the pooled mean of a resample, without concatenating
        sums = np.array([g.sum() for g in gs])
        counts = np.array([len(g) for g in gs], float)
        out = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    else:
        out = [stat(np.concatenate([gs[i] for i in pick])) for pick in picks]
    lo, hi = np.nanpercentile(out, [2.5, 97.5])
    return [float(lo), float(hi)]


def mean_ci(groups) -> dict:
    flat = [float(x) for g in groups for x in np.atleast_1d(g) if math.isfinite(float(x))]
    return {"value": float(np.mean(flat)) if flat else None, "ci": boot_ci(groups), "n": len(flat)}


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(pos > neg) + 0.5 P(tie) (Mann-Whitney)."""
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    pos, neg = pos[np.isfinite(pos)], neg[np.isfinite(neg)]
    if not len(pos) or not len(neg):
        return float("nan")
    neg = np.sort(neg)
    less = np.searchsorted(neg, pos, side="left")
    leq = np.searchsorted(neg, pos, side="right")
    return float((less + 0.5 * (leq - less)).sum() / (len(pos) * len(neg)))


def auc_ci(pairs: Sequence[tuple[np.ndarray, np.ndarray]], n: int = BOOT, seed: int = SEED) -> dict:
    """AUC pooled over clips, with a clip bootstrap (pairs: per clip (positives, negatives))."""
    pairs = [(np.asarray(p, float), np.asarray(q, float)) for p, q in pairs if len(p) and len(q)]
    if not pairs:
        return {"value": None, "ci": None, "clips": 0}
    value = auc(np.concatenate([p for p, _ in pairs]), np.concatenate([q for _, q in pairs]))
    ci = None
    if len(pairs) >= 2:
        rng = np.random.default_rng(seed)
        vals = []
        for _ in range(n // 4):
            pick = rng.integers(0, len(pairs), len(pairs))
            vals.append(auc(np.concatenate([pairs[i][0] for i in pick]), np.concatenate([pairs[i][1] for i in pick])))
        lo, hi = np.nanpercentile(vals, [2.5, 97.5])
        ci = [float(lo), float(hi)]
    return {"value": value, "ci": ci, "clips": len(pairs)}


def f_measure(est: np.ndarray, ref: np.ndarray, window: float = BEAT_WINDOW, skip: float = 5.0) -> float:
    """Beat F-measure (mir_eval's, greedy one-to-one matching within ``window``)."""
    est = np.sort(np.asarray(est, float))
    ref = np.sort(np.asarray(ref, float))
    est, ref = est[est >= skip], ref[ref >= skip]
    if not len(est) and not len(ref):
        return float("nan")
    if not len(est) or not len(ref):
        return 0.0
    used = np.zeros(len(ref), bool)
    hits = 0
    for e in est:
        j = int(np.searchsorted(ref, e))
        best, bj = window + 1, -1
        for k in (j - 1, j):
            if 0 <= k < len(ref) and not used[k] and abs(ref[k] - e) <= window and abs(ref[k] - e) < best:
                best, bj = abs(ref[k] - e), k
        if bj >= 0:
            used[bj] = True
            hits += 1
    p, r = hits / len(est), hits / len(ref)
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def tempo_relation(est: float, ref: float, tol: float = 0.04) -> str:
    """'match' (within tol), 'double', 'half', 'x3/2', 'x2/3', 'other' or 'none'."""
    if not (math.isfinite(est) and math.isfinite(ref) and est > 0 and ref > 0):
        return "none"
    for name, k in (("match", 1.0), ("double", 2.0), ("half", 0.5), ("x3/2", 1.5), ("x2/3", 2 / 3)):
        if abs(est / (k * ref) - 1) <= tol:
            return name
    return "other"


# ------------------------------------------------------------------ inputs


@dataclass
class Track:
    """One song (or a video's sound track) and what each analyser heard."""

    name: str
    style: str
    kind: str  # "music2dance" or "video"
    samples: np.ndarray
    rate: int
    seconds: float
    #: streaming snapshots: times, bpm, beats (tuples), silent flags
    snap_t: list[float] = field(default_factory=list)
    snap_bpm: list[float] = field(default_factory=list)
    snap_beats: list[tuple] = field(default_factory=list)
    silent: bool = False
    live_log_mel: dict = field(default_factory=dict)
    causal_beats: np.ndarray = field(default_factory=lambda: np.zeros(0))
    settled_beats: np.ndarray = field(default_factory=lambda: np.zeros(0))
    offline_bpm: float = float("nan")
    librosa_bpm: float = float("nan")
    librosa_beats: np.ndarray = field(default_factory=lambda: np.zeros(0))
    log_mel: Optional[np.ndarray] = None
    onset: Optional[np.ndarray] = None
    onset_low: Optional[np.ndarray] = None
    onset_times: Optional[np.ndarray] = None
    seq: Any = None  # PoseSequence
    offset: float = 0.0  # song time of the dance's t = 0

    @property
    def stream_bpm(self) -> float:
        """The live reading: the median streaming BPM once the analyser has 8 s."""
        b = np.asarray([x for t, x in zip(self.snap_t, self.snap_bpm) if t >= 8.0], float)
        b = b[np.isfinite(b)]
        return float(np.median(b)) if len(b) else float("nan")

    def state_at(self, t: float):
        from edge.features.beat import MusicState

        if not self.snap_t:
            return None
        i = int(np.searchsorted(self.snap_t, t, side="right")) - 1
        if i < 0:
            return None
        return MusicState(t=self.snap_t[i], seconds=8.0, level_dbfs=0.0, silent=False, bpm=self.snap_bpm[i],
                          beats=self.snap_beats[i])


def m2d_folders(root: Path) -> list[Path]:
    base = root / "music2dance"
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if p.is_dir() and p.name.startswith("DANCE_") and
                  (p / "audio.opus").is_file())


def video_files(root: Path) -> list[tuple[Path, str]]:
    out = []
    for folder, style in ((root / "realvideo", None), (root / "videos", "video")):
        if not folder.is_dir():
            continue
        for p in sorted(folder.rglob("*.mp4")):
            lm = p.with_name(p.stem + "_mediapipe33.npy")
            if lm.is_file():
                out.append((p, p.parent.name if style is None else p.stem))
    return out


def _quick_pick(folders: list[Path]) -> list[Path]:
    from edge.core.schema import music2dance_style

    by: dict[str, list[Path]] = {}
    for f in folders:
        by.setdefault(music2dance_style(f.name) or "?", []).append(f)
    picked = []
    for style, fs in sorted(by.items()):
        picked += fs[: 2 if style == "waltz" else 1]
    return picked


# ------------------------------------------------------------------ per track


def listen(tr: Track) -> None:
    """Stream the whole track through a MusicAnalyser, as live, and keep snapshots."""
    from edge.features.beat import MusicAnalyser

    an = MusicAnalyser(tr.rate)
    every = max(1, int(round(ANALYSE_EVERY * tr.rate / CHUNK)))
    announced: list[float] = []
    settled: dict[int, float] = {}
    queries = sorted(LIVE_QUERY_TIMES)
    silent_n = 0
    n_an = 0
    x = tr.samples
    for k, i in enumerate(range(0, len(x), CHUNK)):
        an.push(x[i:i + CHUNK], i / tr.rate)
        if (k + 1) % every:
            continue
        st = an.analyse()
        n_an += 1
        silent_n += st.silent
        tr.snap_t.append(st.t)
        tr.snap_bpm.append(st.bpm)
        tr.snap_beats.append(tuple(st.beats))
        if st.beats and st.has_tempo:
            half = 0.5 * st.period
            last = announced[-1] if announced else -np.inf
            for b in st.beats:
                if b > last + half:
                    announced.append(b)
                    last = b
            # settled: beats about SETTLE s before now, as placed now
            for b in st.beats:
                if st.t - SETTLE - ANALYSE_EVERY < b <= st.t - SETTLE:
                    settled[int(round(b * 20))] = b
        while queries and st.t >= queries[0]:
            if st.mean_log_mel is not None and not st.silent:
                tr.live_log_mel[queries[0]] = np.asarray(st.mean_log_mel, np.float64)
            queries.pop(0)
    tr.silent = n_an > 0 and silent_n > 0.9 * n_an
    tr.causal_beats = np.asarray(announced)
    tr.settled_beats = np.unique(np.asarray(sorted(settled.values())))


def offline(tr: Track, with_log_mel: bool) -> None:
    """Offline tempo, onset envelopes and (for songs) the catalogue log-mel feature."""
    from edge.features.audio import estimate_periodicity_bpm, log_mel_spectrogram, mean_log_mel, resample

    lm = log_mel_spectrogram(tr.samples, tr.rate).astype(np.float64)
    flux = np.maximum(0.0, np.diff(lm, axis=1))
    tr.onset = np.concatenate([[0.0], flux.mean(axis=0)])
    tr.onset_low = np.concatenate([[0.0], flux[:16].mean(axis=0)])  # mel bands below ~250 Hz
    # the analyser's dating: a frame's flux half a window after its centre
    tr.onset_times = np.arange(len(tr.onset)) * 512 / tr.rate + 1024 / tr.rate
    try:
        tr.offline_bpm = estimate_periodicity_bpm(tr.onset, tr.rate / 512).bpm
    except ValueError:
        tr.offline_bpm = float("nan")
    if with_log_mel:
        y = resample(tr.samples[: int(90 * tr.rate)], tr.rate, 22050)
        tr.log_mel = mean_log_mel(y, 22050).astype(np.float64)


def with_librosa(tr: Track) -> None:
    import librosa

    tempo, beats = librosa.beat.beat_track(y=tr.samples, sr=tr.rate, units="time")
    tr.librosa_bpm = float(np.atleast_1d(tempo)[0])
    tr.librosa_beats = np.asarray(beats, float)


def load_tracks(root: Path, quick: bool, progress) -> tuple[list[Track], list[Track], list[str]]:
    from edge.features.audio import load_audio
    from edge.core.schema import music2dance_style

    notes: list[str] = []
    folders = m2d_folders(root)
    if quick:
        folders = _quick_pick(folders)
    dur = QUICK_SECONDS if quick else None
    songs = []
    for f in progress(folders, "songs"):
        from training.datasets import music2dance

        a = load_audio(f / "audio.opus", duration=dur)
        tr = Track(f.name, music2dance_style(f.name) or "?", "music2dance", a.samples, a.sample_rate,
                   len(a.samples) / a.sample_rate)
        try:
            tr.seq = music2dance.load_clip(f)
            tr.offset = float(tr.seq.audio_offset)
        except (ValueError, OSError) as exc:
            notes.append(f"{f.name}: motion not loaded ({exc})")
        listen(tr)
        offline(tr, with_log_mel=True)
        with_librosa(tr)
        songs.append(tr)
    videos = []
    vids = video_files(root)
    if quick:
        vids = [v for v in vids if "bachata" in str(v[0])][:1]
    for path, style in progress(vids, "videos"):
        from edge.sources.audio import AudioError, VideoAudioSource
        from edge.sources.posefile import load_landmark_file

        try:
            with VideoAudioSource(path) as src:
                chunks = src.read_until(1e9)
                rate = src.sample_rate
        except AudioError as exc:
            notes.append(f"{path.name}: no sound ({exc.note})")
            continue
        if not chunks:
            notes.append(f"{path.name}: empty sound track")
            continue
        t0 = chunks[0].t
        x = np.concatenate([c.samples for c in chunks]).astype(np.float32)
        tr = Track(path.stem, style, "video", x, rate, len(x) / rate)
        tr.offset = -t0  # video time t = sound sample time (t - t0)... sound starts at t0
        try:
            tr.seq = load_landmark_file(path.with_name(path.stem + "_mediapipe33.npy"), label=style)
        except (ValueError, OSError) as exc:
            notes.append(f"{path.name}: landmarks not loaded ({exc})")
        listen(tr)
        if tr.silent:
            notes.append(f"{path.parent.name}/{path.name}: the sound track is silence; left out")
            continue
        offline(tr, with_log_mel=False)
        with_librosa(tr)
        videos.append(tr)
    return songs, videos, notes


# ------------------------------------------------------------------ sections


def section_tempo(songs: list[Track], videos: list[Track]) -> dict:
    from edge.recommend.dancesport import tempo_table

    out: dict[str, Any] = {"clips": {"music2dance": len(songs), "videos": len(videos)}, "groups": {}}
    for gname, group in (("music2dance", songs), ("videos", videos), ("all", songs + videos)):
        if not group:
            continue
        g: dict[str, Any] = {}
        for est in ("stream", "offline"):
            errs, within2, within4, rel = [], [], [], {}
            for tr in group:
                e = tr.stream_bpm if est == "stream" else tr.offline_bpm
                r = tempo_relation(e, tr.librosa_bpm)
                rel[r] = rel.get(r, 0) + 1
                if r != "none":
                    errs.append(abs(e - tr.librosa_bpm))
                    within2.append(float(abs(e - tr.librosa_bpm) <= 2.0))
                    within4.append(float(r == "match"))
            octave = [float(tempo_relation(tr.stream_bpm if est == "stream" else tr.offline_bpm, tr.librosa_bpm)
                            in ("double", "half")) for tr in group]
            g[est] = {"abs_error_bpm_median": float(np.median(errs)) if errs else None,
                      "abs_error_bpm_median_ci": boot_ci(errs, np.median) if errs else None,
                      "within_2_bpm": mean_ci(within2), "within_4_percent": mean_ci(within4),
                      "octave_errors": mean_ci(octave), "relations": rel}
        # per live reading: share of the streaming readings (after 8 s) within 4 % of librosa's tempo
        per = []
        for tr in group:
            b = np.asarray([x for t, x in zip(tr.snap_t, tr.snap_bpm) if t >= 8.0], float)
            per.append([float(tempo_relation(x, tr.librosa_bpm) == "match") for x in b])
        g["stream_readings_within_4_percent"] = mean_ci(per)
        out["groups"][gname] = g
    rows = []
    for tr in songs + videos:
        row = {"clip": tr.name, "style": tr.style, "seconds": round(tr.seconds, 1), "librosa": tr.librosa_bpm,
               "stream": tr.stream_bpm, "offline": tr.offline_bpm,
               "stream_vs_librosa": tempo_relation(tr.stream_bpm, tr.librosa_bpm),
               "offline_vs_librosa": tempo_relation(tr.offline_bpm, tr.librosa_bpm), "published": None}
        try:
            (r,) = tempo_table([tr.style])
            row["dancesport_bpm"] = list(r.bpm_range)
        except KeyError:
            row["dancesport_bpm"] = None
        rows.append(row)
    out["rows"] = rows
    # are the estimates in the style's published range (DanceSport), at x1 exactly?
    ins = {}
    for est in ("librosa", "stream", "offline"):
        vals = []
        for row in rows:
            if row["dancesport_bpm"] and row[est] is not None and math.isfinite(row[est]):
                lo, hi = row["dancesport_bpm"]
                vals.append(float(lo * 0.96 <= row[est] <= hi * 1.04))
        ins[est] = mean_ci(vals)
    out["in_dancesport_range"] = ins
    return out


def section_beats(songs: list[Track], videos: list[Track]) -> dict:
    out: dict[str, Any] = {"window_ms": BEAT_WINDOW * 1e3, "skip_seconds": 5.0, "groups": {}}
    for gname, group in (("music2dance", songs), ("videos", videos)):
        if not group:
            continue
        g = {}
        for kind in ("causal", "settled"):
            fs = [f_measure(getattr(tr, f"{kind}_beats"), tr.librosa_beats) for tr in group]
            g[kind] = mean_ci(fs)
            # the same only where the two agree on the tempo (so phase is what is measured)
            same = [f for f, tr in zip(fs, group) if tempo_relation(tr.stream_bpm, tr.librosa_bpm) == "match"]
            g[f"{kind}_tempo_agrees"] = mean_ci(same)
        by = {}
        for s in sorted({tr.style for tr in group}):
            by[s] = mean_ci([f_measure(tr.settled_beats, tr.librosa_beats) for tr in group if tr.style == s])
        g["settled_by_style"] = by
        out["groups"][gname] = g
    return out


CONDITIONS = ("synced", "half-beat shift", "random offset", "other song, same style", "other song, any style")


def _shift_state(st, dt: float):
    return replace(st, beats=tuple(b + dt for b in st.beats))


def section_on_beat(songs: list[Track], videos: list[Track]) -> dict:
    """on_beat over 8 s windows of the dance under each music condition."""
    from edge.features.beat import on_beat

    rng = np.random.default_rng(SEED)
    out: dict[str, Any] = {"window_seconds": 8.0, "step_seconds": WINDOW_STEP, "groups": {}}
    per_clip: dict[str, dict[str, dict[str, list[float]]]] = {}
    for group_name, group in (("music2dance", songs), ("videos", videos)):
        for tr in group:
            if tr.seq is None:
                continue
            seq = tr.seq
            t_song = seq.times + tr.offset  # song time of each frame
            xy, ok = seq.points, seq.mask
            if tr.kind == "video":
                xy = xy[..., :2]
            lo = max(8.0, float(t_song[0]) + 8.0)
            hi = min(tr.seconds, float(t_song[-1]))
            res = {c: [] for c in CONDITIONS}
            others_same = [o for o in group if o is not tr and o.style == tr.style and o.snap_t]
            others_any = [o for o in group if o is not tr and o.snap_t]
            for T in np.arange(lo, hi + 1e-9, WINDOW_STEP):
                st = tr.state_at(T)
                if st is None or not st.has_tempo or len(st.beats) < 2:
                    continue
                res["synced"].append(on_beat(t_song, xy, ok, st).score)
                res["half-beat shift"].append(on_beat(t_song, xy, ok, _shift_state(st, st.period / 2)).score)
                # the same song at another moment at least 2 beats away, re-timed into this window
                cand = [u for u in tr.snap_t if u >= 8.0 and abs(u - T) > 2 * st.period]
                if cand:
                    u = float(rng.choice(cand))
                    s2 = tr.state_at(u)
                    if s2 is not None and s2.has_tempo:
                        res["random offset"].append(on_beat(t_song, xy, ok, _shift_state(s2, T - s2.t)).score)
                for cond, pool in (("other song, same style", others_same), ("other song, any style", others_any)):
                    if not pool:
                        continue
                    o = pool[int(rng.integers(len(pool)))]
                    us = [u for u in o.snap_t if u >= 8.0]
                    if not us:
                        continue
                    s2 = o.state_at(float(rng.choice(us)))
                    if s2 is not None and s2.has_tempo:
                        res[cond].append(on_beat(t_song, xy, ok, _shift_state(s2, T - s2.t)).score)
            per_clip.setdefault(group_name, {})[tr.name] = {c: [x for x in v if math.isfinite(x)] for c, v in res.items()}
    clip_style = {tr.name: tr.style for tr in songs + videos}
    out["phase_locking"] = phase_locking(songs, videos)
    for group_name, clips in per_clip.items():
        styles = sorted({clip_style[c] for c in clips})
        subsets = [("all", list(clips))] + [(s, [c for c in clips if clip_style[c] == s]) for s in styles]
        if group_name == "videos":
            subsets = [("all", list(clips))]
        g = {}
        for sname, names in subsets:
            d: dict[str, Any] = {"clips": len(names),
                                 "windows": sum(len(clips[c]["synced"]) for c in names), "mean_score": {}, "auc": {}}
            for c in CONDITIONS:
                d["mean_score"][c] = mean_ci([clips[n][c] for n in names])
            for c in CONDITIONS[1:]:
                d["auc"][c] = auc_ci([(clips[n]["synced"], clips[n][c]) for n in names])
            g[sname] = d
        out["groups"][group_name] = g
    out["_per_clip"] = per_clip
    return out


def phase_locking(songs: list[Track], videos: list[Track]) -> dict:
    """Diagnostic: are the dancer's kinematic hits (on_beat's, over the whole dance) locked to
    any phase of librosa's beats? Rayleigh test of the hits' beat phases: resultant length R
    (0: spread evenly, 1: all at one phase; about 1/sqrt(n) for random times), p ~ exp(-n R^2)."""
    from edge.features.beat import kinematic_hits, movement_envelope

    rows = []
    for tr in songs + videos:
        if tr.seq is None or len(tr.librosa_beats) < 4:
            continue
        xy = tr.seq.points if tr.kind != "video" else tr.seq.points[..., :2]
        grid, speed = movement_envelope(tr.seq.times + tr.offset, xy, tr.seq.mask)
        hits = kinematic_hits(grid, speed) if len(grid) else np.zeros(0)
        b = tr.librosa_beats
        j = np.clip(np.searchsorted(b, hits), 1, len(b) - 1)
        ph = (hits - b[j - 1]) / (b[j] - b[j - 1])
        ph = ph[(ph >= 0) & (ph < 1)]
        if len(ph) < 5:
            continue
        z = np.exp(2j * np.pi * ph).mean()
        r, n = float(abs(z)), int(len(ph))
        rows.append({"clip": tr.name, "style": tr.style, "kind": tr.kind, "hits": n, "R": r,
                     "mean_phase": float(np.angle(z) / (2 * np.pi)), "p": float(math.exp(-n * r * r))})
    out: dict[str, Any] = {"clips": rows, "by_group": {}}
    for key in sorted({(r["kind"], r["style"] if r["kind"] == "music2dance" else "all") for r in rows}):
        sel = [r for r in rows if r["kind"] == key[0] and (key[1] == "all" or r["style"] == key[1])]
        out["by_group"][f"{key[0]}: {key[1]}"] = {
            "clips": len(sel), "R_median": float(np.median([r["R"] for r in sel])),
            "R_random_median": float(np.median([1 / math.sqrt(r["hits"]) for r in sel])) * math.sqrt(math.pi) / 2,
            "locked_p05": mean_ci([float(r["p"] < 0.05) for r in sel])}
    return out


def section_recommend(songs: list[Track]) -> dict:
    from edge.recommend.rank import tempo_fit
    from edge.recommend.sound import reference_spectrum, sound_similarity

    rng = np.random.default_rng(SEED)
    usable = [s for s in songs if s.log_mel is not None]
    n = len(usable)
    styles = [s.style for s in usable]
    out: dict[str, Any] = {"songs": n, "k": 5, "methods": {}, "chance": {}}
    if n < 3:
        out["note"] = "fewer than 3 songs with audio"
        return out
    k = min(5, n - 1)
    out["k"] = k

    def rates(query_vec, bpm_of) -> dict[str, list[float]]:
        res: dict[str, list] = {m: [] for m in ("paper", "centred", "shape", "tempo", "random")}
        for i, q in enumerate(usable):
            qv = query_vec(i)
            if qv is None:
                for m in res:
                    res[m].append(float("nan"))
                continue
            others = [j for j in range(n) if j != i]
            ref = reference_spectrum([usable[j].log_mel for j in others])
            for m in ("paper", "centred", "shape"):
                sc = [sound_similarity(qv, usable[j].log_mel, ref, mode=m) for j in others]
                top = [others[t] for t in np.argsort(-np.nan_to_num(np.asarray(sc), nan=-1.0), kind="stable")[:k]]
                res[m].append(float(np.mean([styles[j] == styles[i] for j in top])))
            qb = bpm_of(i)
            tf = [tempo_fit(usable[j].offline_bpm, qb) for j in others]
            top = [others[t] for t in np.argsort(-np.nan_to_num(np.asarray(tf), nan=-1.0), kind="stable")[:k]]
            res["tempo"].append(float(np.mean([styles[j] == styles[i] for j in top])) if math.isfinite(qb) else float("nan"))
            top = rng.choice(others, size=k, replace=False)
            res["random"].append(float(np.mean([styles[j] == styles[i] for j in top])))
        return res

    def summarise(res) -> dict:
        d = {}
        for m, v in res.items():
            row = {"overall": mean_ci(v)}
            for s in sorted(set(styles)):
                row[s] = mean_ci([x for x, st in zip(v, styles) if st == s])
            d[m] = row
        return d

    out["methods"] = summarise(rates(lambda i: usable[i].log_mel, lambda i: usable[i].offline_bpm))
    for s in sorted(set(styles)):
        c = styles.count(s)
        out["chance"][s] = {"songs": c, "rate": (c - 1) / (n - 1)}
    out["chance"]["overall"] = {"rate": float(np.mean([(styles.count(s) - 1) / (n - 1) for s in styles]))}
    # live: the analyser's 10 s mean log-mel at 30, 60, 90 s; tempo from the stream at that moment
    live_rows: dict[str, list] = {}
    used_times = []
    for t in LIVE_QUERY_TIMES:
        if not any(t in s.live_log_mel for s in usable):
            continue
        used_times.append(t)
        res = rates(lambda i: usable[i].live_log_mel.get(t),
                    lambda i: float(usable[i].state_at(t).bpm) if usable[i].state_at(t) is not None else float("nan"))
        for m, v in res.items():
            live_rows.setdefault(m, [[] for _ in range(n)])
            for i, x in enumerate(v):
                live_rows[m][i].append(x)
    if live_rows:
        live = {}
        for m, per_song in live_rows.items():
            row = {"overall": mean_ci(per_song)}
            for s in sorted(set(styles)):
                row[s] = mean_ci([g for g, st in zip(per_song, styles) if st == s])
            live[m] = row
        out["live"] = {"query_times": used_times, "query_seconds": 10.0, "methods": live}
    return out


def section_dancesport(songs: list[Track]) -> dict:
    from edge.recommend.dancesport import best_style, estimate_beats_per_bar, tempo_style_fit, tempo_table

    present = sorted({s.style for s in songs})
    try:
        table = tempo_table(present)
    except KeyError as exc:
        return {"note": str(exc)}
    true_meter = {r.style: (3 if r.triple else 4) for r in table}
    out: dict[str, Any] = {"styles": present, "songs": len(songs), "table": [r.to_json() for r in table],
                           "accuracy": {}, "meter": {}}
    meters = {}
    for variant, env_of in (("full band", lambda s: s.onset), ("low band", lambda s: s.onset_low)):
        res = []
        for s in songs:
            beats = s.settled_beats if len(s.settled_beats) >= 8 else s.causal_beats
            m = estimate_beats_per_bar(env_of(s), beats=beats, times=s.onset_times)
            res.append(m)
        meters[variant] = res
        acc = [float(m.beats_per_bar == true_meter[s.style]) for m, s in zip(res, songs)]
        out["meter"][variant] = {"accuracy": mean_ci(acc), "by_style": {
            st: mean_ci([a for a, s in zip(acc, songs) if s.style == st]) for st in present},
            "confidence_median": float(np.median([m.confidence for m in res])) if res else None}
    rows = []
    for tempo_name in ("offline", "stream", "librosa"):
        for meter_name in ("none", "full band", "low band", "true meter (oracle)"):
            hits = []
            for i, s in enumerate(songs):
                bpm = {"offline": s.offline_bpm, "stream": s.stream_bpm, "librosa": s.librosa_bpm}[tempo_name]
                bpb = None
                if meter_name in meters:
                    bpb = meters[meter_name][i].beats_per_bar
                elif meter_name.startswith("true"):
                    bpb = true_meter[s.style]
                hits.append(float(best_style(tempo_style_fit(bpm, bpb, table)) == s.style))
            by = {st: mean_ci([h for h, s in zip(hits, songs) if s.style == st]) for st in present}
            rows.append({"tempo": tempo_name, "meter": meter_name, "accuracy": mean_ci(hits), "by_style": by})
    out["accuracy"] = rows
    majority = max(present, key=lambda st: sum(s.style == st for s in songs))
    out["majority_baseline"] = {"style": majority, "rate": sum(s.style == majority for s in songs) / max(len(songs), 1)}
    out["per_song"] = [{"clip": s.name, "style": s.style, "offline_bpm": s.offline_bpm,
                        "meter_full": meters["full band"][i].to_json(), "meter_low": meters["low band"][i].to_json(),
                        "best_no_meter": best_style(tempo_style_fit(s.offline_bpm, None, table)),
                        "best_low_meter": best_style(tempo_style_fit(s.offline_bpm, meters["low band"][i].beats_per_bar,
                                                                     table))}
                       for i, s in enumerate(songs)]
    return out


def section_fused(out_dir: Path) -> dict:
    p = out_dir / "fused.json"
    if not p.is_file():
        return {"measured": False}
    try:
        doc = jsonio.loads(p.read_text())
    except (ValueError, OSError) as exc:
        return {"measured": False, "error": f"{p}: unreadable ({exc})"}
    if not isinstance(doc, dict):
        return {"measured": False, "error": f"{p}: not a JSON object"}
    return {"measured": True, **doc}


# ------------------------------------------------------------------ report


def machine() -> str:
    from benchmarks.env import available_cores, cpu_model

    return f"{platform.platform()}; {cpu_model()}, {len(available_cores())} cores; Python {platform.python_version()}"


def _fmt(x, nd=3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.{nd}f}"


def _mc(d: Optional[dict], nd: int = 3, pct: bool = False) -> str:
    if not d or d.get("value") is None:
        return "n/a"
    f = (lambda v: f"{100 * v:.{max(nd - 2, 0)}f} %") if pct else (lambda v: f"{v:.{nd}f}")
    ci = d.get("ci")
    s = f(d["value"])
    if ci:
        s += f" [{f(ci[0])}, {f(ci[1])}]"
    n = d.get("n", d.get("clips"))
    return s + (f" (n={n})" if n is not None else "")


def render(doc: dict) -> str:
    L: list[str] = []
    head = (f"Machine: {doc['machine']}. Command: `{doc['command']}`. Commit {doc.get('commit')}. "
            f"Wall time {doc['seconds']:.0f} s{' (quick: a few songs, first 32 s: a smoke test, not a measurement)' if doc['quick'] else ''}.")
    L += ["# Audio report: tempo, beats, on the beat, recommendations", "",
          "Generated by `edgerec bench audio` (benchmarks/audio.py). Intervals are seeded bootstrap 95 % "
          "percentile intervals over clips (a clip's windows resampled together); `n` counts the values pooled.",
          "Reference beats and tempo are librosa's (`librosa.beat.beat_track`, librosa "
          f"{doc.get('librosa', '?')}), which is itself an estimate, not ground truth: no song here comes "
          "with annotated beats or a published tempo (the Music-to-Dance configs give only the danced span).",
          "", head, ""]
    if doc.get("notes"):
        L += ["Notes on the inputs:", ""] + [f"- {n}" for n in doc["notes"]] + [""]
    # a
    a = doc["tempo"]
    L += ["## a. Tempo", "", head,
          f"Clips: {a['clips']['music2dance']} Music-to-Dance songs, {a['clips']['videos']} videos with sound. "
          "`stream`: the live MusicAnalyser's median reading once it has 8 s (readings every 0.5 s, chunks of "
          "1024 samples at the file's rate); `offline`: the same estimator on the whole song's onset envelope. "
          "`within 4 %` excludes octave errors, which are counted apart (x2 or x1/2 of librosa's tempo).", ""]
    L += ["| clips | estimate | median abs error (BPM) | within 2 BPM | within 4 % | octave errors | relations |",
          "|---|---|---|---|---|---|---|"]
    for gname, g in a["groups"].items():
        for est in ("stream", "offline"):
            e = g[est]
            ci = e["abs_error_bpm_median_ci"]
            err = _fmt(e["abs_error_bpm_median"], 2) + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")
            rel = ", ".join(f"{k} {v}" for k, v in sorted(e["relations"].items()))
            L.append(f"| {gname} | {est} | {err} | {_mc(e['within_2_bpm'], 3, True)} | "
                     f"{_mc(e['within_4_percent'], 3, True)} | {_mc(e['octave_errors'], 3, True)} | {rel} |")
    L += [""]
    for gname, g in a["groups"].items():
        L.append(f"- {gname}: share of the live readings (after 8 s) within 4 % of librosa's tempo: "
                 f"{_mc(g['stream_readings_within_4_percent'], 3, True)}")
    ins = a["in_dancesport_range"]
    L += ["", "Inside the style's WDSF range (x1, +-4 %), songs of a DanceSport style: " +
          "; ".join(f"{k} {_mc(v, 3, True)}" for k, v in ins.items()), "",
          "| clip | style | s | librosa | stream | offline | stream vs librosa | DanceSport BPM |", "|---|---|---|---|---|---|---|---|"]
    for r in a["rows"]:
        ds = f"{r['dancesport_bpm'][0]:g}-{r['dancesport_bpm'][1]:g}" if r["dancesport_bpm"] else "-"
        L.append(f"| {r['clip']} | {r['style']} | {r['seconds']} | {_fmt(r['librosa'], 1)} | {_fmt(r['stream'], 1)} | "
                 f"{_fmt(r['offline'], 1)} | {r['stream_vs_librosa']} | {ds} |")
    L += ["", "![tempo](tempo.png)", ""]
    # b
    b = doc["beats"]
    L += ["## b. Beats", "", head,
          f"F-measure of our streaming beats against librosa's, +-{b['window_ms']:.0f} ms, beats after the first "
          f"{b['skip_seconds']:.0f} s. `causal`: each beat as first announced by the live analyser (no look-ahead); "
          f"`settled`: each beat as placed {SETTLE:.0f} s later. `tempo agrees`: only clips whose stream tempo is "
          "within 4 % of librosa's.", "",
          "| clips | causal | settled | causal, tempo agrees | settled, tempo agrees |", "|---|---|---|---|---|"]
    for gname, g in b["groups"].items():
        L.append(f"| {gname} | {_mc(g['causal'])} | {_mc(g['settled'])} | {_mc(g['causal_tempo_agrees'])} | "
                 f"{_mc(g['settled_tempo_agrees'])} |")
    for gname, g in b["groups"].items():
        L.append("")
        L.append(f"{gname}, settled, by style: " + "; ".join(f"{s} {_mc(v)}" for s, v in g["settled_by_style"].items()))
    L += [""]
    # c
    c = doc["on_beat"]
    L += ["## c. On the beat", "", head,
          f"`on_beat` (kinematic beats against the music's, 0 = chance, 1 = every hit on a beat) over the analyser's "
          f"8 s beat window, one window every {c['step_seconds']:.0f} s of the dance. Music-to-Dance: 3D mocap, the "
          "dance placed in the song by its config's start frame (25 fps). **Waltz is doubtful**: its motion is about "
          "5.9 fps (frame rate inferred from the span, see the data README), coarser than the +-period/8 "
          "tolerance (86 ms at 87 BPM), so it is reported apart. Videos: MediaPipe landmarks of real videos with "
          "their own sound (bachata: a couple, one person tracked).", ""]
    for gname, g in c["groups"].items():
        L += [f"### {gname}", "",
              "| subset | clips | windows | " + " | ".join(CONDITIONS) + " |", "|---|---|---|" + "---|" * len(CONDITIONS)]
        for sname, d in g.items():
            L.append(f"| {sname} | {d['clips']} | {d['windows']} | " +
                     " | ".join(_mc(d["mean_score"][k]) for k in CONDITIONS) + " |")
        L += ["", "AUC, synced against each condition (1: every synced window scores above every other):", "",
              "| subset | " + " | ".join(CONDITIONS[1:]) + " |", "|---|" + "---|" * (len(CONDITIONS) - 1)]
        for sname, d in g.items():
            L.append(f"| {sname} | " + " | ".join(_mc(d["auc"][k]) for k in CONDITIONS[1:]) + " |")
        L += [""]
    pl = c.get("phase_locking") or {}
    if pl.get("by_group"):
        L += ["**Diagnostic: are the kinematic hits locked to the beat at all?** Over each whole dance, the phase "
              "of every kinematic hit within librosa's beat (0 = on the beat), Rayleigh test: resultant length R "
              "(1: every hit at one phase; about 0.89/sqrt(n) for hits at random times), share of clips locked "
              "at p < 0.05 (at any phase, so a constant lag would still count as locked).", "",
              "| group | clips | median R | median R for random hits | locked (p < 0.05) |", "|---|---|---|---|---|"]
        for k, d in pl["by_group"].items():
            L.append(f"| {k} | {d['clips']} | {d['R_median']:.3f} | {d['R_random_median']:.3f} | "
                     f"{_mc(d['locked_p05'], 3, True)} |")
        L += [""]
    L += ["![on-beat](on_beat.png)", ""]
    # d
    r = doc["recommend"]
    L += ["## d. Recommender", "", head,
          f"Each Music-to-Dance song with audio ({r['songs']}) is the query; the others are the catalogue (its "
          f"reference spectrum is their mean). Share of the top {r.get('k', 5)} that share the query's style. "
          "`paper`: raw cosine of mean log-mel (first 90 s at 22,050 Hz); `centred`: minus the catalogue mean; "
          "`shape`: minus each vector's own mean; `tempo`: edgerec's tempo fit (half/double count) on the "
          "offline BPM; `random`: 5 drawn at random (seeded); chance = (songs of the style - 1) / (songs - 1).", ""]
    if r.get("methods"):
        st = [s for s in r["chance"] if s != "overall"]
        L += ["| method | overall | " + " | ".join(st) + " |", "|---|---|" + "---|" * len(st)]
        for m, row in r["methods"].items():
            L.append(f"| {m} | {_mc(row['overall'])} | " + " | ".join(_mc(row[s]) for s in st) + " |")
        L.append("| chance | " + _fmt(r["chance"]["overall"]["rate"]) + " | " +
                 " | ".join(f"{r['chance'][s]['rate']:.3f} ({r['chance'][s]['songs']} songs)" for s in st) + " |")
        if r.get("live"):
            lv = r["live"]
            L += ["", f"Live query: the analyser's mean log-mel of the last {lv['query_seconds']:.0f} s at "
                  f"{', '.join(f'{t:.0f}' for t in lv['query_times'])} s into each song (tempo: the live reading "
                  "then), against the catalogue's 90 s vectors; values pool the query times.", "",
                  "| method | overall | " + " | ".join(st) + " |", "|---|---|" + "---|" * len(st)]
            for m, row in lv["methods"].items():
                L.append(f"| {m} | {_mc(row['overall'])} | " + " | ".join(_mc(row[s]) for s in st) + " |")
    else:
        L.append(r.get("note", "not measured"))
    L += [""]
    # e
    e = doc["dancesport"]
    L += ["## e. DanceSport fit", "", head]
    if "accuracy" in e and e["accuracy"]:
        L += [f"Songs: {e['songs']}; argmax of `tempo_style_fit` over the styles present ({', '.join(e['styles'])}), "
              "WDSF ranges: " + "; ".join(f"{t['style']} {t['bars_per_minute'][0]:g}-{t['bars_per_minute'][1]:g} "
                                          f"bars/min in {t['meter']} ({t['bpm'][0]:g}-{t['bpm'][1]:g} BPM)"
                                          for t in e["table"]) +
              f". Majority baseline ({e['majority_baseline']['style']}): {e['majority_baseline']['rate']:.3f}.", "",
              "Meter (`estimate_beats_per_bar` on the settled streaming beats; `full band`: onset strength over all "
              "mel bands; `low band`: bands below ~250 Hz, the bass): " +
              "; ".join(f"{k} {_mc(v['accuracy'], 3, True)} (" +
                        ", ".join(f"{s} {_mc(x, 3, True)}" for s, x in v["by_style"].items()) + ")"
                        for k, v in e["meter"].items()), "",
              "| tempo | meter | accuracy | " + " | ".join(e["styles"]) + " |", "|---|---|---|" + "---|" * len(e["styles"])]
        for row in e["accuracy"]:
            L.append(f"| {row['tempo']} | {row['meter']} | {_mc(row['accuracy'], 3, True)} | " +
                     " | ".join(_mc(row["by_style"][s], 3, True) for s in e["styles"]) + " |")
    else:
        L.append(e.get("note", "not measured"))
    L += [""]
    # f
    f = doc["fused"]
    L += ["## f. Fused model (pose + audio)", ""]
    if not f.get("measured"):
        L.append("Not measured yet." + (f" ({f['error']})" if f.get("error") else ""))
    else:
        L += [f"Machine: {f.get('machine', '?')}. Command: `{f.get('command', '?')}`.", "",
              f"Kept: **{'yes' if f.get('kept') else 'no'}**. {f.get('reason', '')}", "",
              "| variant | condition | clips | metric | value | 95 % CI |", "|---|---|---|---|---|---|"]
        for row in f.get("rows") or []:
            if not isinstance(row, dict):
                continue
            ci = row.get("ci")
            cis = f"[{_fmt(ci[0])}, {_fmt(ci[1])}]" if isinstance(ci, list) and len(ci) == 2 else "-"
            v = row.get("value")
            L.append(f"| {row.get('variant', '')} | {row.get('condition', '')} | {row.get('clips', '')} | "
                     f"{row.get('metric', '')} | {_fmt(v) if isinstance(v, (int, float)) else v} | {cis} |")
        if f.get("notes"):
            L += [""] + [f"- {n}" for n in f["notes"]]
    L += [""]
    return "\n".join(L)


def plots(doc: dict, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    rows = doc["tempo"]["rows"]
    if rows:
        fig, ax = plt.subplots(figsize=(6, 5))
        for est, mk in (("stream", "o"), ("offline", "x")):
            xs = [r["librosa"] for r in rows if r[est] is not None and r["librosa"] is not None]
            ys = [r[est] for r in rows if r[est] is not None and r["librosa"] is not None]
            ax.scatter(xs, ys, marker=mk, label=est, alpha=0.7)
        lim = [50, 220]
        for k, ls in ((1, "-"), (2, ":"), (0.5, ":")):
            ax.plot(lim, [k * lim[0], k * lim[1]], "k" + ls, lw=0.7)
        ax.set_xlim(lim)
        ax.set_ylim(lim)
        ax.set_xlabel("librosa beat_track tempo (BPM)")
        ax.set_ylabel("edgerec tempo (BPM)")
        ax.set_title("Tempo per clip (dotted: x2, x1/2)")
        ax.legend()
        fig.tight_layout()
        written.append(_savefig(fig, out / "tempo.png"))
        plt.close(fig)
    per = doc["on_beat"].get("_per_clip", {})
    groups = []
    clip_style = {r["clip"]: r["style"] for r in rows}
    for gname, clips in per.items():
        subs = sorted({clip_style.get(c, "?") for c in clips}) if gname == "music2dance" else ["all"]
        for s in subs:
            names = [c for c in clips if gname != "music2dance" or clip_style.get(c) == s]
            groups.append((f"{gname}: {s}", {k: [x for n in names for x in clips[n][k]] for k in CONDITIONS}))
    if groups:
        fig, axes = plt.subplots(1, len(groups), figsize=(3.2 * len(groups), 4), sharey=True, squeeze=False)
        for ax, (title, d) in zip(axes[0], groups):
            data = [d[k] if d[k] else [np.nan] for k in CONDITIONS]
            ax.boxplot(data, showmeans=True)
            ax.set_xticks(range(1, len(CONDITIONS) + 1), ["sync", "half", "rand", "song=", "song*"])
            ax.set_title(title, fontsize=9)
        axes[0][0].set_ylabel("on_beat score per 8 s window")
        fig.tight_layout()
        written.append(_savefig(fig, out / "on_beat.png"))
        plt.close(fig)
    return written


def _savefig(fig, path: Path) -> Path:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    atomic_write_bytes(path, buf.getvalue())
    return path


def run(root: Path, out: Path, command: str, quick: bool = False, quiet: bool = False) -> dict:
    from benchmarks.env import git_commit

    t0 = time.monotonic()

    def progress(items, desc):
        from tqdm import tqdm

        return tqdm(items, desc=desc, disable=quiet, leave=False)

    songs, videos, notes = load_tracks(root, quick, progress)
    if not songs and not videos:
        raise ValueError(f"{root}: no Music-to-Dance songs (music2dance/DANCE_*/audio.opus) and no videos with sound")
    try:
        from importlib.metadata import version

        lib = version("librosa")
    except Exception:  # noqa: BLE001
        lib = "?"
    doc: dict[str, Any] = {"format": "edgerec-audio-report", "version": 1, "command": command, "machine": machine(),
                           "commit": git_commit(), "quick": quick, "data": str(root), "librosa": lib,
                           "clips": {"music2dance": len(songs), "videos": len(videos)}, "notes": notes}
    doc["tempo"] = section_tempo(songs, videos)
    doc["beats"] = section_beats(songs, videos)
    doc["on_beat"] = section_on_beat(songs, videos)
    doc["recommend"] = section_recommend(songs)
    doc["dancesport"] = section_dancesport(songs)
    doc["fused"] = section_fused(out)
    doc["seconds"] = time.monotonic() - t0
    return doc


def write_report(out: Path, root: Path, command: str, quick: bool = False, quiet: bool = False) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    doc = run(Path(root), out, command, quick, quiet)
    paths = plots(doc, out)
    atomic_write_text(out / "report.json", jsonio.dumps(doc, indent=1) + "\n")
    atomic_write_text(out / "report.md", render(doc))
    return [out / "report.md", out / "report.json", *paths]
