"""Clip bookkeeping and window datasets: which clips train, which split, which windows.

* :func:`remove_shared_motion` makes clips independent. 28 of the 29 Music-to-Dance waltz
  sequences open with identical frames (a common choreographed start of 15-112 frames,
  shared by up to 19 clips); splitting them as they are would put the same motion in train
  and test. The shared openings are trimmed, and clips that still share frames anywhere
  would have their split groups merged.
* :func:`split_labels` keeps as classes only labels with enough independent groups to be
  cross-validated; the rest (a single clip of ballet, say) are out-of-set examples, used to
  calibrate and test the "unsure" answer.
* :func:`training_windows` draws class-balanced augmented windows in worker processes;
  evaluation windows (every clip cut at a fixed hop, unaugmented) come from
  :func:`training.augment.clip_windows`.
"""

from __future__ import annotations

import os
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from edge.features.motion import FeatureSpec
from edge.core.schema import PoseSequence
from training.augment import AugmentConfig, sample_window

#: Sources whose landmarks come from a pose estimator run on real camera video.
REAL_SOURCES = ("openpose", "realvideo", "mediapipe")


def is_real(seq: PoseSequence) -> bool:
    """Whether a clip's landmarks come from a pose estimator on real camera video."""
    return seq.source in REAL_SOURCES


#: Body landmarks whose exact repetition marks shared motion between two clips.
_FINGERPRINT = [11, 12, 13, 14, 15, 16, 25, 26, 27, 28]


def _fingerprints(seq: PoseSequence) -> list[bytes]:
    rel = seq.points[:, _FINGERPRINT] - seq.points[:, [23, 24]].mean(axis=1, keepdims=True)
    return [np.round(f, 4).tobytes() for f in rel]


def remove_shared_motion(seqs: Sequence[PoseSequence], min_shared: int = 10) -> list[PoseSequence]:
    """Make clips independent: trim shared openings, then merge groups that still share frames.

    In the Music-to-Dance waltz set every shared frame sits in a clip's opening (a common
    choreographed start, 15-112 frames, shared by up to 19 clips). Trimming each clip's
    shared prefix removes all overlap and keeps the clips as independent groups; any overlap
    left elsewhere merges the clips' groups instead, so no motion is ever in two folds.
    Trimmed clips keep their audio alignment (``audio_offset`` moves with the cut).
    """
    keys = [(_fingerprints(s) if s.frame == "world" else []) for s in seqs]
    owners: dict[bytes, set[int]] = defaultdict(set)
    for i, ks in enumerate(keys):
        for k in set(ks):
            owners[k].add(i)
    trimmed: list[PoseSequence] = []
    for i, s in enumerate(seqs):
        shared = np.array([len(owners[k]) > 1 for k in keys[i]], dtype=bool)
        cut = int(np.argmin(shared)) if shared.any() and not shared.all() else 0
        if cut and s.num_frames - cut >= 2:
            t0 = float(s.times[cut])
            s = replace(s, points=s.points[cut:], mask=s.mask[cut:], times=s.times[cut:] - t0,
                        audio_offset=s.audio_offset + t0,
                        meta={**s.meta, "trimmed_shared_opening_frames": cut})
        trimmed.append(s)
    return link_shared_groups(link_same_dancers(trimmed), min_shared)


def link_shared_groups(seqs: Sequence[PoseSequence], min_shared: int = 10) -> list[PoseSequence]:
    """Return the sequences with ``group`` merged wherever two clips share identical frames."""
    parent = list(range(len(seqs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    seen: dict[bytes, set[int]] = defaultdict(set)
    for i, s in enumerate(seqs):
        if s.frame != "world":
            continue
        for key in set(_fingerprints(s)):
            seen[key].add(i)
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for clips in seen.values():
        ordered = sorted(clips)
        for a in ordered:
            for b in ordered:
                if a < b:
                    counts[(a, b)] += 1
    for (a, b), n in counts.items():
        if n >= min_shared:
            parent[find(a)] = find(b)
    groups: dict[int, str] = {}
    for i, s in enumerate(seqs):
        groups.setdefault(find(i), s.group)
    return [replace(s, group=groups[find(i)]) if groups[find(i)] != s.group else s
            for i, s in enumerate(seqs)]


def link_same_dancers(seqs: Sequence[PoseSequence]) -> list[PoseSequence]:
    """Give a real video the split group of the named dancer it shows.

    A dancer known by name from one source (OpenPose's ``meta.json``: ``dancer:ana``) may
    appear in another's video, named first in its file name (``realvideo/salsa/
    ana_salsa_overlay.mp4``). Such clips join that dancer's group, so the same person is
    never on both sides of a split. Only clips of the same label are linked.
    """
    known = {(s.label, s.group) for s in seqs if s.group.startswith("dancer:")}
    out = []
    for s in seqs:
        if s.source == "realvideo":
            stem = Path(s.path).name.split("_")[0].lower()
            if (s.label, f"dancer:{stem}") in known:
                s = replace(s, group=f"dancer:{stem}", meta={**s.meta, "dancer": stem})
        out.append(s)
    return out


def group_counts(seqs: Sequence[PoseSequence]) -> dict[str, int]:
    """Number of independent groups per label."""
    out: dict[str, set[str]] = defaultdict(set)
    for s in seqs:
        out[s.label].add(s.group)
    return {k: len(v) for k, v in sorted(out.items())}


def split_labels(seqs: Sequence[PoseSequence], min_groups: int = 2
                 ) -> tuple[list[str], list[PoseSequence], list[PoseSequence]]:
    """(labels, in-set clips, out-of-set clips): a label needs ``min_groups`` groups to be a class."""
    counts = group_counts(seqs)
    labels = sorted(k for k, n in counts.items() if n >= min_groups)
    inset = [s for s in seqs if s.label in labels]
    outset = [s for s in seqs if s.label not in labels]
    return labels, inset, outset


@dataclass(frozen=True)
class Folds:
    """Grouped, label-stratified folds: ``assignment[group] = fold``."""

    assignment: dict[str, int]
    k: int

    def split(self, seqs: Sequence[PoseSequence], fold: int) -> tuple[list[PoseSequence], list[PoseSequence]]:
        train = [s for s in seqs if self.assignment[s.group] != fold]
        test = [s for s in seqs if self.assignment[s.group] == fold]
        return train, test


def make_folds(seqs: Sequence[PoseSequence], k: int, seed: int = 0) -> Folds:
    """Assign whole groups to ``k`` folds, dealing each label's groups round-robin.

    Every label with at least ``k`` groups appears in every test fold; a label with fewer
    (AIST++ genres have two clips here) is held out in as many folds as it has groups.
    """
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[str]] = defaultdict(list)
    for s in seqs:
        if s.group not in by_label[s.label]:
            by_label[s.label].append(s.group)
    assignment: dict[str, int] = {}
    offset = 0
    for label in sorted(by_label):
        groups = sorted(by_label[label])
        rng.shuffle(groups)
        for i, g in enumerate(groups):
            assignment.setdefault(g, (offset + i) % k)
        offset += len(groups)
    return Folds(assignment, k)


@dataclass(frozen=True)
class WindowSet:
    """Windows with their labels and the clip each came from."""

    x: np.ndarray          # (W, N, C) float32
    y: np.ndarray          # (W,) int
    clip: np.ndarray       # (W,) int index into clip_ids
    clip_ids: tuple[str, ...]
    clip_labels: tuple[str, ...]

    def __len__(self) -> int:
        return int(len(self.x))


_WORKER_SEQS: list[PoseSequence] = []


def _init_worker(seqs: list[PoseSequence]) -> None:
    global _WORKER_SEQS
    _WORKER_SEQS = seqs


def _draw(args: tuple[list[int], int, FeatureSpec, AugmentConfig]) -> tuple[np.ndarray, np.ndarray]:
    picks, seed, spec, cfg = args
    rng = np.random.default_rng(seed)
    out = np.zeros((len(picks), spec.window_frames, spec.num_channels), np.float32)
    ok = np.zeros(len(picks), bool)
    for i, ci in enumerate(picks):
        for _ in range(5):  # retry windows with no body in view
            feats, valid = sample_window(_WORKER_SEQS[ci], rng, spec, cfg)
            if valid >= 0.5:
                out[i], ok[i] = feats, True
                break
    return out, ok


def training_windows(seqs: Sequence[PoseSequence], labels: Sequence[str], spec: FeatureSpec,
                     per_class: int, seed: int, cfg: Optional[AugmentConfig] = None,
                     workers: Optional[int] = None, progress: bool = False,
                     real_share: Optional[float] = None) -> WindowSet:
    """``per_class`` augmented windows for each label, balanced over the label's groups.

    Each window picks a group of its label uniformly, then a clip of that group in
    proportion to its duration, so one long take or a family of near-duplicate clips
    cannot dominate a class. With ``real_share``, a label that has both real-camera groups
    (:func:`is_real`) and others draws that share of its windows from the real ones: three
    real dancers beside twelve mocap takes would otherwise be a fifth of the class.
    """
    cfg = cfg or AugmentConfig()
    rng = np.random.default_rng(seed)
    index = {name: i for i, name in enumerate(labels)}
    picks: list[int] = []
    for label in labels:
        members = [i for i, s in enumerate(seqs) if s.label == label]
        if not members:
            continue
        groups = sorted({seqs[i].group for i in members})
        real = sorted({seqs[i].group for i in members if is_real(seqs[i])})
        other = [g for g in groups if g not in real]
        for _ in range(per_class):
            if real and other and real_share is not None:
                pool = real if rng.random() < real_share else other
                g = pool[rng.integers(len(pool))]
            else:
                g = groups[rng.integers(len(groups))]
            cand = [i for i in members if seqs[i].group == g]
            w = np.array([seqs[i].duration for i in cand])
            picks.append(cand[rng.choice(len(cand), p=w / w.sum())])
    picks_arr = np.array(picks)
    rng.shuffle(picks_arr)
    workers = workers or min(2, os.cpu_count() or 1)
    chunks = [list(c) for c in np.array_split(picks_arr, max(1, len(picks_arr) // 200)) if len(c)]
    jobs = [(c, int(seed * 1000 + i), spec, cfg) for i, c in enumerate(chunks)]
    results: list[tuple[np.ndarray, np.ndarray]] = []
    bar = None
    if progress:
        from edge.core.optional import require

        bar = require("tqdm", "train").tqdm(total=len(picks_arr), desc="augmenting windows", unit="win", leave=False)
    if workers > 1:
        with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(list(seqs),)) as pool:
            for res, job in zip(pool.map(_draw, jobs), jobs):
                results.append(res)
                if bar is not None:
                    bar.update(len(job[0]))
    else:
        _init_worker(list(seqs))
        for job in jobs:
            results.append(_draw(job))
            if bar is not None:
                bar.update(len(job[0]))
    if bar is not None:
        bar.close()
    x = np.concatenate([r[0] for r in results])
    ok = np.concatenate([r[1] for r in results])
    order = np.concatenate([np.array(j[0]) for j in jobs])
    y = np.array([index[seqs[i].label] for i in order])
    return WindowSet(x[ok], y[ok], order[ok], tuple(s.clip_id for s in seqs), tuple(s.label for s in seqs))
