"""The paper's per-clip input: two pose values and the mean log-mel spectrum (130 values).

The paper computes, per video, the mean distance between the first two MediaPipe
landmarks, the mean angle at landmark 1 from the first three, and the time-averaged
128-bin log-mel spectrogram of the soundtrack, concatenated. Reproduced here on our data,
with two necessary decisions stated plainly:

* Landmarks 0-2 (nose, left inner eye, left eye) exist only for camera sources. For a
  source without them, the first three landmarks it does have (in MediaPipe order) are
  used, which is what the paper's ``pose_data[:, 0..2]`` would index in that source's own
  array; they are taken from the image-plane projection (world sources through the
  evaluation camera), in units of image height, like MediaPipe's normalised coordinates.
* Clips without a soundtrack (CMU, AIST++ here) get the log-mel of silence: every bin at
  the dB floor, which is what the paper's code produces for a silent track.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from edge.features.audio import load_audio, mean_log_mel
from edge.features.motion import paper_pose_features, paper_vector
from edge.core.schema import PoseSequence
from training.augment import EVAL_CAMERA, project

N_MELS = 128
#: STFT of the log-mel (librosa's defaults, which :func:`edge.features.audio.mean_log_mel` keeps).
N_FFT = 2048
HOP_LENGTH = 512
#: librosa's power_to_db floor: 10*log10(amin=1e-10)
SILENCE_DB = -100.0
VECTOR_SIZE = 2 + N_MELS
#: Native rate of every Music-to-Dance song (the only source here with songs).
M2D_SAMPLE_RATE = 24000
#: How :func:`clip_audio_values` computes the audio part, as the paper model's card records
#: it (``card["audio"]``), so the device can compute the same feature from live sound. The
#: log-mel is taken at the song's native rate, with no resampling: 24 kHz for every
#: Music-to-Dance song. :func:`audio_card` replaces the rate by the one the songs had.
PAPER_AUDIO: dict = {
    "sample_rate": M2D_SAMPLE_RATE,
    "n_fft": N_FFT,
    "hop_length": HOP_LENGTH,
    "n_mels": N_MELS,
    "silence_db": SILENCE_DB,
    "source": "the song's native rate (Music-to-Dance: 24 kHz)",
}


def clip_pose_values(seq: PoseSequence) -> np.ndarray:
    """The paper's two pose values for a clip (see module doc for sources lacking landmarks 0-2)."""
    if seq.frame == "world":
        xy = project(seq.points.astype(np.float64), seq.mask, EVAL_CAMERA)
        height = EVAL_CAMERA.image_size[1]
    else:
        xy = seq.points[..., :2].astype(np.float64)
        height = (seq.image_size or (1, 1))[1]
    present = np.flatnonzero(seq.present)[:3]
    if len(present) < 3:
        return np.zeros(2, np.float32)
    values = paper_pose_features(xy[:, present] / height, seq.mask[:, present])
    return np.nan_to_num(values)


def clip_audio_values(seq: PoseSequence) -> np.ndarray:
    """Mean log-mel of the song span the dance covers, or of silence without a song."""
    if not seq.audio_path:
        return np.full(N_MELS, SILENCE_DB, np.float32)
    audio = load_audio(seq.audio_path)
    start = int(seq.audio_offset * audio.sample_rate)
    stop = start + int(seq.duration * audio.sample_rate)
    segment = audio.samples[start:stop]
    if len(segment) < audio.sample_rate:
        segment = audio.samples
    return mean_log_mel(segment, audio.sample_rate, n_mels=N_MELS, n_fft=N_FFT, hop_length=HOP_LENGTH)


def clip_vectors(seqs: Sequence[PoseSequence], progress: bool = False) -> np.ndarray:
    """(clips, 130, 1) paper inputs."""
    it = seqs
    if progress:
        from edge.core.optional import require

        it = require("tqdm", "train").tqdm(seqs, desc="paper features", unit="clip", leave=False)
    rows = [paper_vector(clip_pose_values(s), clip_audio_values(s)) for s in it]
    return np.stack(rows).astype(np.float32)[..., None]


def audio_card(seqs: Sequence[PoseSequence]) -> dict:
    """The card's ``audio`` section for a model trained on ``seqs``: :data:`PAPER_AUDIO` with
    the native rate their songs actually have (read from the files' headers, not decoded:
    about 15 ms a song).

    Songs of several rates (each clip's feature at its own rate) record the rate most clips
    had and every rate seen (``sample_rates``: rate -> clips); without any song (every audio
    vector is silence) the rate is Music-to-Dance's, and ``source`` says so.
    """
    from collections import Counter

    from edge.core.optional import require

    paths = [s.audio_path for s in seqs if s.audio_path]
    if not paths:
        return {**PAPER_AUDIO, "songs": 0,
                "source": "no training clip had a song (every audio vector is silence); rate as Music-to-Dance's"}
    sf = require("soundfile", "edge")
    rates: Counter = Counter()
    for path in paths:
        try:
            rates[int(sf.info(str(path)).samplerate)] += 1
        except (RuntimeError, OSError) as exc:  # LibsndfileError is a RuntimeError
            reason = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise ValueError(f"cannot read audio file {path!r}: {reason}") from None
    rate, _ = rates.most_common(1)[0]
    card = {**PAPER_AUDIO, "sample_rate": rate, "songs": len(paths)}
    if len(rates) == 1:
        card["source"] = (PAPER_AUDIO["source"] if rate == M2D_SAMPLE_RATE
                          else f"the song's native rate (every training song: {rate} Hz)")
    else:
        card["sample_rates"] = {str(r): n for r, n in sorted(rates.items())}
        card["source"] = f"each song's native rate ({len(rates)} rates; {rate} Hz for most clips)"
    return card
