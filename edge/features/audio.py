"""Audio on the device: load a song, its mean log-mel signature, and its tempo, in numpy only.

The paper summarises the music of a dance by the time average of its log-mel spectrogram
(``np.mean(log_spectrogram, axis=1)``, 128 mel bands). Training computed that with librosa;
the device cannot afford librosa (and its scipy/numba stack), so this module re-implements
exactly the pieces used -- librosa's default Slaney mel filterbank, its centred, zero-padded
Hann STFT and ``power_to_db`` -- in numpy, and the tests check the results against librosa.

It also estimates tempo: an onset-strength envelope (spectral flux of the log-mel) and an
autocorrelation weighted by a log-normal prior around 120 BPM, in the manner of librosa's
``beat.tempo``. :func:`estimate_periodicity_bpm` takes any 1-D envelope, so the runtime can
estimate a dancer's movement tempo from landmark speed with the same code and compare it
with the music's.

Only numpy is imported at module import time; ``soundfile`` is imported inside
:func:`load_audio` through :func:`edge.core.optional.require`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Iterator, Union

import numpy as np

from edge.core.optional import require
from edge.core.schema import Audio

__all__ = [
    "TempoEstimate",
    "load_audio",
    "resample",
    "mel_filterbank",
    "stft_power",
    "power_to_db",
    "log_mel_spectrogram",
    "mean_log_mel",
    "onset_envelope",
    "estimate_tempo",
    "estimate_periodicity_bpm",
]

#: STFT frames processed at once. Bounds the working memory of the long-song paths to a few
#: tens of MB (a 2048-sample frame block of 512 frames is 8 MB in float64, its spectrum 8 MB).
_BLOCK_FRAMES = 512


# --------------------------------------------------------------------------------------
# Loading and resampling
# --------------------------------------------------------------------------------------


def load_audio(
    path: Union[str, os.PathLike],
    target_sr: int | None = None,
    *,
    offset: float = 0.0,
    duration: float | None = None,
) -> Audio:
    """Read an audio file as mono float32, optionally resampled to ``target_sr`` Hz.

    Any format libsndfile reads works (WAV, FLAC, Ogg Vorbis/Opus, MP3 with libsndfile
    >= 1.1). Channels are averaged to mono. ``offset`` and ``duration`` (seconds) read only
    part of the file; libsndfile seeks, so a 10 s excerpt of a long song is cheap.
    Resampling uses :func:`resample` (a windowed-sinc polyphase filter in numpy).

    Raises ``ValueError`` (one line, naming the file) when the file cannot be read.
    """
    sf = require("soundfile", "edge")
    if offset < 0 or (duration is not None and duration < 0):
        raise ValueError(f"{path}: offset and duration must be non-negative")
    try:
        with sf.SoundFile(os.fspath(path)) as f:
            sr = int(f.samplerate)
            start = min(int(round(offset * sr)), f.frames)
            if start:
                f.seek(start)
            frames = -1 if duration is None else int(round(duration * sr))
            data = f.read(frames=frames, dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as exc:  # LibsndfileError is a RuntimeError
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"cannot read audio file {os.fspath(path)!r}: {reason}") from None
    samples = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if target_sr is not None and int(target_sr) != sr:
        samples = resample(samples, sr, int(target_sr))
        sr = int(target_sr)
    return Audio(samples=samples, sample_rate=sr)


def resample(
    y: np.ndarray,
    orig_sr: int,
    target_sr: int,
    *,
    zero_crossings: int = 16,
    rolloff: float = 0.945,
    kaiser_beta: float = 8.6,
) -> np.ndarray:
    """Band-limited resampling of a 1-D signal from ``orig_sr`` to ``target_sr`` (float32).

    A Kaiser-windowed sinc low-pass, evaluated as a polyphase filter: with the rate ratio
    reduced to ``up/down``, output sample ``n`` sits at input time ``n*down/up``, whose
    fractional part takes one of ``up`` values, so the filter taps for every phase are
    tabulated once. The cut-off is ``rolloff`` times the lower of the two Nyquist
    frequencies (anti-aliasing when downsampling); ``zero_crossings`` sinc lobes per side
    and ``kaiser_beta`` 8.6 give roughly 80 dB stop-band rejection, plenty for mel
    features. Each phase's taps are normalised to unit DC gain. The output has
    ``ceil(len(y) * target_sr / orig_sr)`` samples, as librosa's. Memory is bounded by
    processing the output in blocks.
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"resample expects a 1-D signal, got shape {y.shape}")
    orig_sr, target_sr = int(orig_sr), int(target_sr)
    if orig_sr <= 0 or target_sr <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_sr} -> {target_sr}")
    g = math.gcd(orig_sr, target_sr)
    up, down = target_sr // g, orig_sr // g
    if up == down:
        return y.copy()
    n_out = int(math.ceil(len(y) * up / down))
    if len(y) == 0:
        return np.zeros(0, dtype=np.float32)

    scale = min(1.0, up / down)  # cut-off relative to the input Nyquist frequency
    cutoff = rolloff * scale
    half = int(math.ceil(zero_crossings / scale))  # filter half-width in input samples
    # Taps at input offsets k = -half+1 .. half from floor(t); distance to t is k - frac.
    k = np.arange(-half + 1, half + 1, dtype=np.float64)
    frac = np.arange(up, dtype=np.float64)[:, None] / up
    d = k[None, :] - frac  # (up, taps)
    taper = np.clip(1.0 - (d / half) ** 2, 0.0, None)
    table = cutoff * np.sinc(cutoff * d) * np.i0(kaiser_beta * np.sqrt(taper)) / np.i0(kaiser_beta)
    table /= table.sum(axis=1, keepdims=True)
    table = table.astype(np.float32)

    padded = np.concatenate(
        [np.zeros(half, np.float32), y, np.zeros(half + 1, np.float32)]
    )
    offsets = k.astype(np.int64) + half  # index into padded for base 0
    out = np.empty(n_out, dtype=np.float32)
    block = max(1, 262144 // len(k))
    for s in range(0, n_out, block):
        n = np.arange(s, min(s + block, n_out), dtype=np.int64)
        pos = n * down
        base, phase = pos // up, pos % up
        window = padded[base[:, None] + offsets[None, :]]
        out[s : s + len(n)] = np.einsum("ij,ij->i", window, table[phase])
    return out


# --------------------------------------------------------------------------------------
# Mel filterbank, STFT, dB
# --------------------------------------------------------------------------------------


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa ``htk=False``): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    return np.where(
        f >= min_log_hz,
        min_log_mel + np.log(np.maximum(f, min_log_hz) / min_log_hz) / logstep,
        f / f_sp,
    )


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_hz_to_mel`."""
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    return np.where(
        m >= min_log_mel,
        min_log_hz * np.exp(logstep * (np.maximum(m, min_log_mel) - min_log_mel)),
        f_sp * m,
    )


def mel_filterbank(
    sr: int,
    n_fft: int,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    *,
    dtype: type = np.float32,
) -> np.ndarray:
    """Mel filterbank ``(n_mels, 1 + n_fft // 2)`` equal to ``librosa.filters.mel``'s default.

    Slaney mel scale (``htk=False``), triangles between consecutive mel-spaced edge
    frequencies, each scaled by ``2 / bandwidth`` (``norm='slaney'``, constant energy per
    band). Computed in float64 and cast to ``dtype`` (float32 by default, as librosa).
    """
    if fmax is None:
        fmax = float(sr) / 2
    fftfreqs = np.fft.rfftfreq(int(n_fft), d=1.0 / float(sr))
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), int(n_mels) + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    return weights.astype(dtype)


def _num_frames(n_samples: int, hop_length: int) -> int:
    """Frames of a centred STFT (librosa ``center=True``): ``1 + n // hop``."""
    return 1 + int(n_samples) // int(hop_length)


def _stft_power_blocks(
    y: np.ndarray, n_fft: int, hop_length: int, block_frames: int = _BLOCK_FRAMES
) -> Iterator[np.ndarray]:
    """Yield the power spectrogram in consecutive blocks of at most ``block_frames`` frames.

    Same frames as librosa's default STFT: the signal is zero-padded by ``n_fft // 2`` on
    both sides (``center=True, pad_mode='constant'``, librosa 0.11's default), frame ``t``
    starts at padded sample ``t * hop_length`` and is multiplied by a periodic Hann window
    (``scipy.signal.get_window('hann', n_fft)``). Each block is cut from ``y`` on its own,
    so the padded signal is never materialised.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"expected a 1-D signal, got shape {y.shape}")
    n_fft, hop_length = int(n_fft), int(hop_length)
    if n_fft <= 0 or hop_length <= 0:
        raise ValueError(f"n_fft and hop_length must be positive, got {n_fft}, {hop_length}")
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)
    n = len(y)
    pad = n_fft // 2
    total = _num_frames(n, hop_length)
    for a in range(0, total, block_frames):
        b = min(a + block_frames, total)
        lo = a * hop_length - pad  # first sample of the block, in unpadded coordinates
        hi = (b - 1) * hop_length - pad + n_fft
        seg = np.zeros(hi - lo, dtype=np.float64)
        s0, s1 = max(lo, 0), min(hi, n)
        if s1 > s0:
            seg[s0 - lo : s1 - lo] = y[s0:s1]
        frames = np.lib.stride_tricks.sliding_window_view(seg, n_fft)[::hop_length]
        spec = np.fft.rfft(frames * window, axis=1)
        yield (spec.real**2 + spec.imag**2).T  # (1 + n_fft // 2, frames)


def stft_power(y: np.ndarray, n_fft: int = 2048, hop_length: int = 512) -> np.ndarray:
    """Power spectrogram ``|STFT|**2``, shape ``(1 + n_fft // 2, 1 + len(y) // hop_length)``.

    Matches ``np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length)) ** 2`` with
    librosa 0.11's defaults (periodic Hann window, ``center=True``, zero padding). Returned
    in float64; for long signals prefer :func:`log_mel_spectrogram`, which never holds the
    whole linear-frequency spectrogram.
    """
    blocks = list(_stft_power_blocks(y, n_fft, hop_length))
    return np.concatenate(blocks, axis=1)


def _mel_power(
    y: np.ndarray,
    sr: int,
    n_mels: int,
    n_fft: int,
    hop_length: int,
    fmin: float,
    fmax: float | None,
) -> np.ndarray:
    """Mel power spectrogram (float64), computed block by block to bound memory.

    Only the ``(n_mels, frames)`` result is kept: 11 MB for a 4-minute song at 24 kHz,
    against 175 MB for its complex linear-frequency STFT.
    """
    basis = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, dtype=np.float64)
    out = np.empty((int(n_mels), _num_frames(len(y), hop_length)), dtype=np.float64)
    col = 0
    for power in _stft_power_blocks(y, n_fft, hop_length):
        out[:, col : col + power.shape[1]] = basis @ power
        col += power.shape[1]
    return out


def power_to_db(
    S: np.ndarray,
    ref: Union[float, str] = 1.0,
    amin: float = 1e-10,
    top_db: float | None = 80.0,
) -> np.ndarray:
    """``librosa.power_to_db``: ``10 log10(max(S, amin) / ref)``, floored at ``max - top_db``.

    ``ref`` is a number or ``"max"`` (librosa's ``ref=np.max``). The ``top_db`` floor is
    relative to the maximum of the whole array, which is why :func:`mean_log_mel` converts
    the whole song's mel power at once rather than chunk by chunk.
    """
    S = np.asarray(S, dtype=np.float64)
    if amin <= 0:
        raise ValueError("amin must be strictly positive")
    if isinstance(ref, str) and ref != "max":
        raise ValueError(f"ref must be a number or 'max', got {ref!r}")
    ref_value = float(np.max(S)) if isinstance(ref, str) else float(ref)
    log_spec = 10.0 * np.log10(np.maximum(amin, S))
    log_spec -= 10.0 * np.log10(max(amin, abs(ref_value)))
    if top_db is not None:
        if top_db < 0:
            raise ValueError("top_db must be non-negative")
        np.maximum(log_spec, log_spec.max() - top_db, out=log_spec)
    return log_spec


def log_mel_spectrogram(
    y: np.ndarray,
    sr: int,
    n_mels: int = 128,
    n_fft: int = 2048,
    hop_length: int = 512,
    *,
    fmin: float = 0.0,
    fmax: float | None = None,
    ref: Union[float, str] = 1.0,
    amin: float = 1e-10,
    top_db: float | None = 80.0,
) -> np.ndarray:
    """Log-mel spectrogram in dB, ``(n_mels, 1 + len(y) // hop_length)`` float32.

    Equals ``librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, n_mels=n_mels,
    n_fft=n_fft, hop_length=hop_length))``. The dB reference follows librosa's
    ``power_to_db`` defaults -- ``ref=1.0`` (absolute dB re. full-scale power),
    ``amin=1e-10``, ``top_db=80`` -- because the paper ("Extracting Mel-Spectrogram
    Features") only says it converts the power spectrogram to a decibel scale and names no
    reference. ``ref=1.0`` also keeps a song's loudness in its feature, which
    ``ref="max"`` (per-song normalisation, ``ref=np.max`` in librosa) would remove; pass
    ``ref="max"`` to get that variant.

    Memory: the STFT is taken in blocks of frames and only the mel power is kept.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"expected a 1-D signal, got shape {y.shape}")
    mel = _mel_power(y, sr, n_mels, n_fft, hop_length, fmin, fmax)
    return power_to_db(mel, ref=ref, amin=amin, top_db=top_db).astype(np.float32)


def mean_log_mel(
    y: np.ndarray,
    sr: int,
    n_mels: int = 128,
    *,
    n_fft: int = 2048,
    hop_length: int = 512,
    ref: Union[float, str] = 1.0,
) -> np.ndarray:
    """The paper's audio feature: ``np.mean(log_spectrogram, axis=1)``, ``(n_mels,)`` float32.

    The time average of :func:`log_mel_spectrogram` (same dB conventions, see there): each
    mel band's typical level over the song, its "mean spectral signature". Long songs are
    processed in blocks of STFT frames, so a 4-minute song needs the signal plus ~40 MB.
    """
    log_mel = log_mel_spectrogram(y, sr, n_mels, n_fft, hop_length, ref=ref)
    return log_mel.mean(axis=1, dtype=np.float64).astype(np.float32)


# --------------------------------------------------------------------------------------
# Tempo
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TempoEstimate:
    """A tempo in beats per minute and how periodic the envelope is at that tempo.

    ``confidence`` is the (window-corrected, time-averaged) normalised autocorrelation of
    the mean-removed envelope at the chosen beat period, clipped to [0, 1]: near 1 for a
    strictly periodic envelope, near 0 for noise. ``bpm`` is NaN, with confidence 0, when
    the envelope has no variation at all.
    """

    bpm: float
    confidence: float


def onset_envelope(
    y: np.ndarray,
    sr: int,
    *,
    n_mels: int = 128,
    n_fft: int = 2048,
    hop_length: int = 512,
) -> np.ndarray:
    """Onset strength per STFT frame (sampled at ``sr / hop_length`` Hz), like librosa's.

    Spectral flux of the log-mel spectrogram (dB, ``ref=1``, ``top_db=80``): the frame-to-
    frame increase of each band, half-wave rectified (only energy onsets count), averaged
    over bands (librosa's ``onset_strength`` aggregate; a sum would only rescale it). The
    first frame is 0 so the envelope has one value per frame.
    """
    log_mel = log_mel_spectrogram(y, sr, n_mels, n_fft, hop_length).astype(np.float64)
    flux = np.maximum(0.0, np.diff(log_mel, axis=1)).mean(axis=0)
    return np.concatenate([[0.0], flux])


def estimate_tempo(
    y: np.ndarray,
    sr: int,
    bpm_range: tuple[float, float] = (60.0, 200.0),
    *,
    hop_length: int = 512,
    start_bpm: float = 120.0,
    std_octaves: float = 1.0,
) -> TempoEstimate:
    """Global tempo of a music signal: :func:`onset_envelope`, then
    :func:`estimate_periodicity_bpm` with a log-normal prior around ``start_bpm``.

    As librosa's ``beat.tempo``, the answer can be off by an octave (half or double the
    tempo a listener would tap) when the music is ambiguous; the prior decides.
    """
    env = onset_envelope(y, sr, hop_length=hop_length)
    return estimate_periodicity_bpm(
        env, float(sr) / hop_length, bpm_range, start_bpm=start_bpm, std_octaves=std_octaves
    )


def estimate_periodicity_bpm(
    envelope: np.ndarray,
    rate: float,
    bpm_range: tuple[float, float] = (60.0, 200.0),
    *,
    start_bpm: float = 120.0,
    std_octaves: float = 1.0,
    window_seconds: float = 8.0,
) -> TempoEstimate:
    """Dominant period of any 1-D envelope sampled at ``rate`` Hz, as beats per minute.

    Used for music (an onset envelope) and for movement (e.g. landmark speed from a camera
    at 30 fps), so the two tempos are measured the same way.

    Method (librosa's tempogram idea, made cheap): the envelope is cut into Hann-windowed
    windows of ``window_seconds`` (75 % overlap; the whole envelope if shorter), each
    window's mean is removed, and its autocorrelation is computed by FFT, divided by the
    window's own autocorrelation (so long lags are not penalised by the taper) and
    normalised to 1 at lag 0. Averaging over windows tolerates slow tempo drift. The
    average is weighted by a log-normal prior over tempo, ``exp(-0.5 * (log2(bpm /
    start_bpm) / std_octaves) ** 2)``, which, like librosa's, resolves the octave
    ambiguity of a periodic envelope (peaks at every multiple of the period) toward
    ``start_bpm``. The best lag within ``bpm_range`` is refined by parabolic interpolation,
    since one frame of lag is several BPM at typical rates.

    Raises ``ValueError`` when the envelope is too short to hold two periods of the slowest
    tempo in ``bpm_range``.
    """
    env = np.asarray(envelope, dtype=np.float64)
    if env.ndim != 1:
        raise ValueError(f"envelope must be 1-D, got shape {env.shape}")
    lo_bpm, hi_bpm = float(bpm_range[0]), float(bpm_range[1])
    if not (0 < lo_bpm < hi_bpm) or not rate > 0:
        raise ValueError(f"need 0 < bpm_range[0] < bpm_range[1] and rate > 0, got {bpm_range}, {rate}")
    if not np.all(np.isfinite(env)):
        raise ValueError("envelope contains NaN or infinite values")
    min_lag = max(1, int(math.floor(60.0 * rate / hi_bpm)))
    max_lag = int(math.ceil(60.0 * rate / lo_bpm))
    win = min(len(env), max(int(round(window_seconds * rate)), 2 * max_lag + 2))
    if win < 2 * max_lag + 2:
        raise ValueError(
            f"envelope of {len(env)} samples at {rate:g} Hz is too short for {lo_bpm:g} BPM: "
            f"need at least {2 * max_lag + 2} samples ({(2 * max_lag + 2) / rate:.1f} s)"
        )

    # Windowed segments, 75 % overlap; the last window is aligned to the end.
    hop = max(1, win // 4)
    starts = list(range(0, len(env) - win + 1, hop))
    if starts[-1] != len(env) - win:
        starts.append(len(env) - win)
    segs = np.lib.stride_tricks.sliding_window_view(env, win)[starts]
    segs = segs - segs.mean(axis=1, keepdims=True)
    taper = np.hanning(win + 2)[1:-1]  # strictly positive Hann
    nfft = 1 << int(math.ceil(math.log2(2 * win)))
    acf = np.fft.irfft(np.abs(np.fft.rfft(segs * taper, nfft, axis=1)) ** 2, nfft, axis=1)
    wacf = np.fft.irfft(np.abs(np.fft.rfft(taper, nfft)) ** 2, nfft)
    lags = np.arange(max_lag + 2)
    acf = acf[:, lags] / wacf[lags]
    energy = acf[:, 0]
    live = energy > 1e-12 * max(float(energy.max()), 1e-300)
    if not np.any(live) or energy.max() <= 0:
        return TempoEstimate(bpm=float("nan"), confidence=0.0)
    acf = (acf[live] / energy[live, None]).mean(axis=0)  # normalised, 1 at lag 0

    cand = np.arange(min_lag, max_lag + 1)
    bpm_of_lag = 60.0 * rate / cand
    prior = np.exp(-0.5 * (np.log2(bpm_of_lag / start_bpm) / std_octaves) ** 2)
    in_range = (bpm_of_lag >= lo_bpm) & (bpm_of_lag <= hi_bpm)
    score = np.where(in_range, np.maximum(acf[cand], 0.0) * prior, -np.inf)
    i = int(np.argmax(score))
    if not np.isfinite(score[i]) or score[i] <= 0:
        # No positive correlation at any candidate lag: no periodicity to report.
        return TempoEstimate(bpm=float("nan"), confidence=0.0)

    # Parabolic refinement on the prior-weighted autocorrelation around the best lag.
    lag = float(cand[i])
    full_lag = np.arange(max(1, cand[i] - 1), cand[i] + 2)
    s = np.maximum(acf[full_lag], 0.0) * np.exp(
        -0.5 * (np.log2(60.0 * rate / full_lag / start_bpm) / std_octaves) ** 2
    )
    if len(s) == 3:
        denom = s[0] - 2.0 * s[1] + s[2]
        if denom < 0:
            lag += float(np.clip(0.5 * (s[0] - s[2]) / denom, -0.5, 0.5))
    bpm = float(np.clip(60.0 * rate / lag, lo_bpm, hi_bpm))
    confidence = float(np.clip(acf[cand[i]], 0.0, 1.0))
    return TempoEstimate(bpm=bpm, confidence=confidence)
