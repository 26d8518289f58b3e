"""Listening, streaming: the music's tempo and beats, its mean log-mel, and how well a dancer
moves on the beat, from audio that arrives a chunk at a time.

:class:`MusicAnalyser` takes audio chunks at any sample rate (a video's sound track, a
microphone, a file) and keeps the last few seconds of a centred STFT (2048 samples, hop
512, at 22,050 Hz: librosa's defaults), as mel-band levels in dB. From that history it
answers, at any time:

* **tempo** -- the periodicity of the onset-strength envelope (spectral flux of the log-mel,
  as :func:`edge.features.audio.onset_envelope`) over the last
  :attr:`MusicSpec.tempo_seconds`, found by :func:`edge.features.audio.estimate_periodicity_bpm`
  with librosa's log-normal prior around 120 BPM;
* **beats** -- the phase of a comb at that period that collects the most onset strength,
  recent beats weighted more (:func:`track_beats`), so beat times follow the music as it
  plays and the next beat is predicted;
* **the paper's audio feature** -- the mean log-mel spectrum over the last
  :attr:`MusicSpec.log_mel_seconds` (the same dB conventions as
  :func:`edge.features.audio.mean_log_mel`, the 80 dB floor relative to that span's peak);
* **silence** -- the level, so a muted room is not analysed as music.

Onset times follow librosa's centring: a frame is centred on its sample, and a sharp attack
first shows in the frame whose leading edge reaches it, so onset values are dated half a
window (``n_fft / 2`` samples) after their frame's centre, as ``librosa.onset.onset_strength
(center=True)`` does.

**On the beat.** :func:`beat_alignment` scores how a dancer's *kinematic beats* -- the local
minima of their joints' summed speed, where a step lands or a movement turns (the convention
of the AIST++ Beat Align Score, Li et al. 2021) -- sit on the music's beats: the mean of
``exp(-d^2 / (2 sigma^2))`` over hits, ``d`` the distance to the nearest beat and ``sigma``
an eighth of the beat period, rescaled so that 0 is what hits at random times would score
and 1 is every hit exactly on a beat. The signed mean offset says whether the dancer is
early or late.

numpy only; the optional audio libraries live in :mod:`edge.sources.audio`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from edge.features.audio import estimate_periodicity_bpm, mel_filterbank

__all__ = [
    "MusicSpec", "MusicState", "MusicAnalyser", "StreamingResampler", "BeatScore", "track_beats",
    "movement_envelope", "kinematic_hits", "beat_alignment", "on_beat",
]


@dataclass(frozen=True)
class MusicSpec:
    """How the music is analysed. The defaults are librosa's (22,050 Hz, 2048/512, 128 mels)."""

    sample_rate: int = 22050
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    #: Seconds of onset strength the tempo and beats are read from.
    tempo_seconds: float = 8.0
    #: Seconds the mean log-mel is averaged over (the paper averages a whole clip).
    log_mel_seconds: float = 10.0
    bpm_range: tuple[float, float] = (60.0, 200.0)
    #: Centre of the log-normal tempo prior (librosa's ``start_bpm``).
    start_bpm: float = 120.0
    #: librosa's ``top_db``: levels more than this far below the span's peak are floored.
    top_db: float = 80.0
    #: Below this level (dBFS, RMS over the last 2 s) the input is silence, not music.
    silence_dbfs: float = -60.0
    #: Half-life (seconds) of a beat's weight in the phase estimate: recent beats count more.
    beat_memory_seconds: float = 4.0

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def history_seconds(self) -> float:
        return max(self.tempo_seconds, self.log_mel_seconds) + 1.0


@dataclass(frozen=True)
class MusicState:
    """What the analyser hears at time ``t`` (media time of the audio source)."""

    t: float
    #: Seconds of audio in the history (up to :attr:`MusicSpec.history_seconds`).
    seconds: float
    #: RMS level over the last 2 s, dBFS (-inf for digital silence).
    level_dbfs: float
    silent: bool
    bpm: float = float("nan")
    tempo_confidence: float = 0.0
    #: Beat times (seconds, media time) over the last :attr:`MusicSpec.tempo_seconds`, oldest first.
    beats: tuple[float, ...] = ()
    #: The next beat after ``t`` the tracker predicts (NaN without a tempo).
    next_beat: float = float("nan")
    #: The paper's feature over the last :attr:`MusicSpec.log_mel_seconds`, (n_mels,) dB.
    mean_log_mel: Optional[np.ndarray] = field(default=None, repr=False, compare=False)

    @property
    def has_tempo(self) -> bool:
        return math.isfinite(self.bpm) and self.bpm > 0

    @property
    def period(self) -> float:
        return 60.0 / self.bpm if self.has_tempo else float("nan")

    def to_json(self) -> dict:
        """The JSON form of ``edgerec run --json`` (``music`` in an update)."""
        r = (lambda x, nd=2: None if x is None or not math.isfinite(x) else round(float(x), nd))
        return {"seconds": r(self.seconds, 2), "level_dbfs": r(self.level_dbfs, 1), "silent": self.silent,
                "bpm": r(self.bpm, 1), "tempo_confidence": r(self.tempo_confidence, 3),
                "next_beat": r(self.next_beat, 3), "beats": len(self.beats)}


class StreamingResampler:
    """Band-limited resampling of a stream, chunk by chunk, with the same Kaiser-windowed
    sinc as :func:`edge.features.audio.resample` (identical output away from the ends).

    Output sample ``n`` sits at input position ``n * down / up``; it is computed as soon as
    the input reaches ``half`` samples beyond it, and input no output needs is dropped, so
    memory stays at one filter length however long the stream runs.
    """

    def __init__(self, orig_sr: int, target_sr: int, *, zero_crossings: int = 16,
                 rolloff: float = 0.945, kaiser_beta: float = 8.6):
        orig_sr, target_sr = int(orig_sr), int(target_sr)
        if orig_sr <= 0 or target_sr <= 0:
            raise ValueError(f"sample rates must be positive, got {orig_sr} -> {target_sr}")
        g = math.gcd(orig_sr, target_sr)
        self.up, self.down = target_sr // g, orig_sr // g
        scale = min(1.0, self.up / self.down)
        cutoff = rolloff * scale
        self.half = int(math.ceil(zero_crossings / scale))
        k = np.arange(-self.half + 1, self.half + 1, dtype=np.float64)
        frac = np.arange(self.up, dtype=np.float64)[:, None] / self.up
        d = k[None, :] - frac
        taper = np.clip(1.0 - (d / self.half) ** 2, 0.0, None)
        table = cutoff * np.sinc(cutoff * d) * np.i0(kaiser_beta * np.sqrt(taper)) / np.i0(kaiser_beta)
        self.table = (table / table.sum(axis=1, keepdims=True)).astype(np.float32)
        self.offsets = k.astype(np.int64)
        # input samples held, and the input index of the first one (negative: zero padding)
        self._buf = np.zeros(self.half, np.float32)
        self._start = -self.half
        self._n = 0  # next output sample

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32).ravel()
        if self.up == self.down:
            return x.copy()
        self._buf = np.concatenate([self._buf, x])
        end = self._start + len(self._buf)  # one past the last input index held
        # output n needs input up to floor(n*down/up) + half
        last = ((end - 1 - self.half) * self.up) // self.down
        if last < self._n:
            return np.zeros(0, np.float32)
        n = np.arange(self._n, last + 1, dtype=np.int64)
        pos = n * self.down
        base, phase = pos // self.up, pos % self.up
        idx = base[:, None] + self.offsets[None, :] - self._start
        out = np.einsum("ij,ij->i", self._buf[idx], self.table[phase]).astype(np.float32)
        self._n = int(last + 1)
        keep_from = (self._n * self.down) // self.up - self.half + 1 - self._start
        if keep_from > 0:
            self._buf = self._buf[keep_from:]
            self._start += keep_from
        return out


class MusicAnalyser:
    """Streaming tempo, beats and mean log-mel. Feed :meth:`push`; ask :meth:`analyse`.

    ``input_rate`` is the rate chunks arrive at; they are resampled to
    :attr:`MusicSpec.sample_rate`. Timestamps are the audio source's media time: the first
    chunk's ``t`` anchors the clock; a later chunk more than :data:`GAP_SECONDS` ahead of
    where the stream should be is preceded by silence (a gap in a stream), and one that
    goes back in time (a seek, a looped file) restarts the analysis.
    """

    #: Timestamp disagreement (seconds) tolerated before a gap is filled or the stream restarts.
    GAP_SECONDS = 0.1

    def __init__(self, input_rate: int, spec: MusicSpec = MusicSpec()):
        if int(input_rate) <= 0:
            raise ValueError(f"the audio's sample rate must be positive, got {input_rate}")
        self.spec = spec
        self.input_rate = int(input_rate)
        self._basis = mel_filterbank(spec.sample_rate, spec.n_fft, spec.n_mels, dtype=np.float64)
        self._window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(spec.n_fft) / spec.n_fft)
        self._cap = int(math.ceil(spec.history_seconds * spec.frame_rate))
        self.restarts = 0
        self._reset(None)

    def _reset(self, t0: Optional[float]) -> None:
        s = self.spec
        self._resampler = StreamingResampler(self.input_rate, s.sample_rate)
        self._t0 = t0  # media time of output sample 0
        self._in = 0  # input samples consumed since t0
        self._buf = np.zeros(s.n_fft // 2, np.float32)  # centred STFT: zero padding before sample 0
        self._buf_start = -(s.n_fft // 2)
        self._frame = 0  # next STFT frame
        self._db: list[np.ndarray] = []  # per frame: mel levels, dB, unfloored
        self._power: list[float] = []  # per frame: mean power of the frame's samples
        self._onset: list[float] = []
        self._fmax: list[float] = []  # per frame: its loudest band, for the top_db floor
        self._prev_db: Optional[np.ndarray] = None
        self._cache: Optional[tuple[float, MusicState]] = None

    @property
    def seconds(self) -> float:
        """Seconds of audio analysed since the clock started (or restarted)."""
        return self._frame * self.spec.hop_length / self.spec.sample_rate

    @property
    def clock(self) -> float:
        """Media time just after the last sample pushed (NaN before the first chunk)."""
        return float("nan") if self._t0 is None else self._t0 + self._in / self.input_rate

    def push(self, samples: np.ndarray, t: Optional[float] = None) -> None:
        """Add a mono chunk whose first sample is at media time ``t`` (None: right after the
        previous chunk)."""
        x = np.asarray(samples, np.float32).ravel()
        if not np.isfinite(x).all():
            x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        if self._t0 is None:
            self._reset(0.0 if t is None else float(t))
        elif t is not None:
            ahead = float(t) - self.clock
            if ahead < -self.GAP_SECONDS or ahead > self.spec.history_seconds:
                self.restarts += 1
                self._reset(float(t))
            elif ahead > self.GAP_SECONDS:
                self._feed(np.zeros(int(round(ahead * self.input_rate)), np.float32))
        self._feed(x)

    def _feed(self, x: np.ndarray) -> None:
        self._in += len(x)
        y = self._resampler(x)
        if not len(y):
            return
        s = self.spec
        self._buf = np.concatenate([self._buf, y])
        end = self._buf_start + len(self._buf)
        half = s.n_fft // 2
        last = (end - half) // s.hop_length  # frame k needs samples up to k*hop + half
        if last < self._frame:
            return
        ks = np.arange(self._frame, last + 1)
        starts = ks * s.hop_length - half - self._buf_start
        frames = self._buf[starts[:, None] + np.arange(s.n_fft)[None, :]].astype(np.float64)
        spec = np.fft.rfft(frames * self._window, axis=1)
        mel = (spec.real ** 2 + spec.imag ** 2) @ self._basis.T  # (frames, n_mels)
        db = 10.0 * np.log10(np.maximum(mel, 1e-10))
        power = (frames[:, half - s.hop_length // 2: half + s.hop_length // 2] ** 2).mean(axis=1)
        self._frame = int(last + 1)
        drop = self._frame * s.hop_length - half - self._buf_start
        if drop > 0:
            self._buf = self._buf[drop:]
            self._buf_start += drop
        for row, pw in zip(db, power):
            self._db.append(row)
            self._power.append(float(pw))
            self._fmax.append(float(row.max()))
            peak = max(self._fmax[-self._cap:])
            floor = peak - s.top_db
            cur = np.maximum(row, floor)
            flux = 0.0 if self._prev_db is None else float(np.maximum(0.0, cur - np.maximum(self._prev_db, floor)).mean())
            self._onset.append(flux)
            self._prev_db = row
        if len(self._db) > self._cap:
            cut = len(self._db) - self._cap
            del self._db[:cut], self._power[:cut], self._onset[:cut], self._fmax[:cut]
        self._cache = None

    def _frame_times(self, n: int) -> np.ndarray:
        """Media times of the last ``n`` frames' centres."""
        s = self.spec
        first = self._frame - n
        return (self._t0 or 0.0) + np.arange(first, self._frame) * s.hop_length / s.sample_rate

    def analyse(self, t: Optional[float] = None) -> MusicState:
        """What the music is doing now (``t``: the media time asked about, for the beat
        prediction; default the analyser's clock)."""
        s = self.spec
        now = self.clock if t is None else float(t)
        if self._cache is not None and self._cache[0] == now:
            return self._cache[1]
        n = len(self._db)
        if n == 0:
            state = MusicState(t=now, seconds=0.0, level_dbfs=float("-inf"), silent=True)
            self._cache = (now, state)
            return state
        fr = s.frame_rate
        recent = np.asarray(self._power[-int(2 * fr):])
        rms = float(np.sqrt(recent.mean())) if len(recent) else 0.0
        level = 20.0 * math.log10(rms) if rms > 0 else float("-inf")
        silent = not level > s.silence_dbfs
        seconds = n / fr
        nm = min(n, int(round(s.log_mel_seconds * fr)))
        S = np.stack(self._db[-nm:])
        S = np.maximum(S, S.max() - s.top_db)
        mlm = S.mean(axis=0).astype(np.float32)
        state = MusicState(t=now, seconds=seconds, level_dbfs=level, silent=silent, mean_log_mel=mlm)
        if not silent:
            nt = min(n, int(round(s.tempo_seconds * fr)))
            onset = np.asarray(self._onset[-nt:], np.float64)
            times = self._frame_times(nt) + s.n_fft / 2 / s.sample_rate
            try:
                est = estimate_periodicity_bpm(onset, fr, s.bpm_range, start_bpm=s.start_bpm,
                                               window_seconds=s.tempo_seconds)
            except ValueError:  # not yet two periods of the slowest tempo
                est = None
            if est is not None and math.isfinite(est.bpm):
                beats, bpm = track_beats(onset, times, est.bpm, s.beat_memory_seconds)
                bpm = bpm if math.isfinite(bpm) else est.bpm
                period = 60.0 / bpm
                nxt = float("nan")
                if beats:
                    k = math.floor((now - beats[-1]) / period) + 1
                    nxt = beats[-1] + max(k, 1) * period
                state = MusicState(t=now, seconds=seconds, level_dbfs=level, silent=False, bpm=bpm,
                                   tempo_confidence=est.confidence, beats=beats, next_beat=nxt, mean_log_mel=mlm)
        self._cache = (now, state)
        return state


def track_beats(onset: np.ndarray, times: np.ndarray, bpm: float, memory_seconds: float = 4.0,
                phases: int = 96, refine: float = 0.03) -> tuple[tuple[float, ...], float]:
    """(beat times over ``times``' span, refined BPM).

    A comb of teeth ``60 / bpm`` s apart is slid over the onset strength; the phase that
    collects the most (each tooth weighted by ``2 ** (-age / memory_seconds)``, age from the
    newest sample, strength read by linear interpolation, so sub-frame) places the beats.
    The period is searched too, within ``refine`` (3 %) of ``bpm``: the autocorrelation
    tempo is quantised to whole frames of lag, and a period 1 % off drifts a beat 80 ms
    over 8 s of a 120 BPM comb.
    """
    onset = np.asarray(onset, np.float64)
    times = np.asarray(times, np.float64)
    if len(onset) < 2 or not (math.isfinite(bpm) and bpm > 0):
        return (), float("nan")
    end, start = float(times[-1]), float(times[0])
    centred = onset - onset.mean()
    best_score, best = -np.inf, (float("nan"), 0.0)
    for cand in bpm * (1.0 + np.linspace(-refine, refine, 25)):
        period = 60.0 / cand
        teeth = int((end - start) // period) + 1
        if teeth < 2:
            continue
        phi = np.arange(phases) * (period / phases)
        k = np.arange(teeth)
        at = end - phi[:, None] - k[None, :] * period  # (phases, teeth)
        inside = at >= start
        strength = np.interp(np.where(inside, at, start), times, centred)
        weight = np.where(inside, 2.0 ** (-(end - at) / max(memory_seconds, 1e-3)), 0.0)
        score = (strength * weight).sum(axis=1) / np.maximum(weight.sum(axis=1), 1e-12)
        i = int(np.argmax(score))
        if score[i] > best_score:
            # refine the phase by a parabola through the best and its neighbours (circularly)
            a, b, c = score[(i - 1) % phases], score[i], score[(i + 1) % phases]
            den = a - 2 * b + c
            off = 0.5 * (a - c) / den if den < 0 else 0.0
            best_score, best = float(score[i]), (float(cand), phi[i] + float(np.clip(off, -0.5, 0.5)) * period / phases)
    cand, p = best
    if not math.isfinite(cand):
        return (), float("nan")
    period = 60.0 / cand
    beats = end - p - np.arange(int((end - start) // period) + 1) * period
    return tuple(float(x) for x in sorted(beats[beats >= start])), cand


# --------------------------------------------------------------------------------------
# On the beat
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BeatScore:
    """How a dancer's kinematic beats sit on the music's beats (see the module docstring)."""

    #: 0 = no better than hits at random times, 1 = every hit exactly on a beat.
    score: float
    #: The raw mean ``exp(-d^2 / (2 sigma^2))`` over hits (the Beat Align Score).
    alignment: float
    #: What hits at uniformly random times would score on average.
    chance: float
    #: Circular mean of the hits' signed offsets from the nearest beat, ms (+: after the beat).
    offset_ms: float
    hits: int

    def to_json(self) -> dict:
        r = (lambda x, nd=3: None if not math.isfinite(x) else round(float(x), nd))
        return {"score": r(self.score), "alignment": r(self.alignment), "chance": r(self.chance),
                "offset_ms": r(self.offset_ms, 1), "hits": self.hits}


NO_SCORE = BeatScore(float("nan"), float("nan"), float("nan"), float("nan"), 0)


def movement_envelope(times: np.ndarray, xy: np.ndarray, ok: np.ndarray,
                      rate: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """(grid, speed): the summed speed of the joints seen in consecutive frames, at the
    frames' own timestamps, interpolated onto a regular ``rate`` Hz grid. Empty arrays when
    fewer than three usable frames."""
    t = np.asarray(times, np.float64)
    xy = np.asarray(xy, np.float64)
    ok = np.asarray(ok, bool)
    if len(t) < 3:
        return np.zeros(0), np.zeros(0)
    dt = np.diff(t)
    dt[dt <= 0] = np.nan
    with np.errstate(invalid="ignore"):
        v = np.linalg.norm(np.diff(xy, axis=0), axis=-1) / dt[:, None]
    seen = ok[1:] & ok[:-1] & np.isfinite(v)
    speed = np.where(seen, v, 0.0).sum(axis=1)
    mid = 0.5 * (t[1:] + t[:-1])
    good = np.isfinite(mid) & np.isfinite(dt)
    if good.sum() < 3:
        return np.zeros(0), np.zeros(0)
    grid = np.arange(mid[good][0], mid[good][-1], 1.0 / rate)
    return grid, np.interp(grid, mid[good], speed[good])


def kinematic_hits(grid: np.ndarray, speed: np.ndarray, smooth_seconds: float = 0.05,
                   min_gap_seconds: float = 0.15) -> np.ndarray:
    """Times of the local minima of the (Gaussian-smoothed) speed: where movement lands or
    turns. Minima closer than ``min_gap_seconds`` keep the lower one; flat stretches (no
    movement) give none."""
    grid = np.asarray(grid, np.float64)
    v = np.asarray(speed, np.float64)
    if len(v) < 5:
        return np.zeros(0)
    rate = 1.0 / float(np.median(np.diff(grid)))
    sig = smooth_seconds * rate
    if sig > 0.3:
        r = int(math.ceil(3 * sig))
        kern = np.exp(-0.5 * (np.arange(-r, r + 1) / sig) ** 2)
        kern /= kern.sum()
        v = np.convolve(np.pad(v, r, mode="edge"), kern, mode="valid")
    if float(v.max() - v.min()) <= 1e-9 * max(float(v.max()), 1e-12):
        return np.zeros(0)
    inner = (v[1:-1] < v[:-2]) & (v[1:-1] <= v[2:])
    idx = np.flatnonzero(inner) + 1
    # sub-sample: a parabola through each minimum and its neighbours
    a, b, c = v[idx - 1], v[idx], v[idx + 1]
    den = a - 2 * b + c
    off = np.where(den > 0, 0.5 * (a - c) / np.where(den > 0, den, 1.0), 0.0)
    t = grid[idx] + np.clip(off, -0.5, 0.5) / rate
    keep: list[int] = []
    for i in np.argsort(v[idx], kind="stable"):  # lowest first
        if all(abs(t[i] - t[j]) >= min_gap_seconds for j in keep):
            keep.append(int(i))
    return np.sort(t[keep])


def beat_alignment(hits: np.ndarray, beats: np.ndarray, period: float,
                   sigma_fraction: float = 0.125) -> BeatScore:
    """Score ``hits`` (times) against a beat grid: ``beats`` and ``period`` seconds. Only
    hits within the beats' span (half a period either side) count; fewer than 3 give no
    score (NaN)."""
    hits = np.asarray(hits, np.float64)
    beats = np.asarray(beats, np.float64)
    if not (math.isfinite(period) and period > 0) or len(beats) < 2:
        return NO_SCORE
    use = hits[(hits >= beats[0] - period / 2) & (hits <= beats[-1] + period / 2)]
    if len(use) < 3:
        return NO_SCORE
    j = np.clip(np.searchsorted(beats, use), 1, len(beats) - 1)
    before, after = beats[j - 1], beats[j]
    d = np.where(use - before <= after - use, use - before, use - after)
    sigma = sigma_fraction * period
    raw = float(np.exp(-0.5 * (d / sigma) ** 2).mean())
    half = period / 2
    chance = float(sigma * math.sqrt(2 * math.pi) / period * math.erf(half / (math.sqrt(2) * sigma)))
    score = float(np.clip((raw - chance) / (1.0 - chance), 0.0, 1.0))
    ang = 2 * np.pi * d / period
    offset = float(math.atan2(np.sin(ang).mean(), np.cos(ang).mean()) * period / (2 * np.pi) * 1e3)
    return BeatScore(score=score, alignment=raw, chance=chance, offset_ms=offset, hits=int(len(use)))


def on_beat(times: np.ndarray, xy: np.ndarray, ok: np.ndarray, music: MusicState,
            rate: float = 30.0) -> BeatScore:
    """The dancer's beat score over the music's beat span: :func:`movement_envelope`,
    :func:`kinematic_hits`, :func:`beat_alignment`. NaN score without a tempo."""
    if not music.has_tempo or len(music.beats) < 2:
        return NO_SCORE
    t = np.asarray(times, np.float64)
    span = (t >= music.beats[0] - 1.0) & (t <= music.beats[-1] + 1.0)
    grid, speed = movement_envelope(t[span], np.asarray(xy)[span], np.asarray(ok)[span], rate)
    if not len(grid):
        return NO_SCORE
    return beat_alignment(kinematic_hits(grid, speed), np.asarray(music.beats), music.period)
