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
#: librosa's power_to_db floor: 10*log10(amin=1e-10)
SILENCE_DB = -100.0
VECTOR_SIZE = 2 + N_MELS


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
    return mean_log_mel(segment, audio.sample_rate, n_mels=N_MELS)


def clip_vectors(seqs: Sequence[PoseSequence], progress: bool = False) -> np.ndarray:
    """(clips, 130, 1) paper inputs."""
    it = seqs
    if progress:
        from edge.core.optional import require

        it = require("tqdm", "train").tqdm(seqs, desc="paper features", unit="clip", leave=False)
    rows = [paper_vector(clip_pose_values(s), clip_audio_values(s)) for s in it]
    return np.stack(rows).astype(np.float32)[..., None]
