"""Few-shot style packs on real camera video (issue 13): ``edgerec fewshot``.

A user teaches edgerec a style from a few clips (:mod:`edge.runtime.teach`): the style is
the mean embedding of the clips' windows in the shipped model's embedding space, and
:class:`edge.classify.packs.PackedStyleModel` recognises it. This module measures how
well that works on the real-camera data there is, the way a user would see it:

* **Taught styles only** (``only_pack``, the user's own label set): "salsa" taught from
  20 s clips of salsa dancers and "bachata" from bachata clips, k = 1, 2, 3, 5 example
  clips each. Salsa leaves one dancer out: the test dancer's clips are scored by packs
  whose salsa examples come from the *other* dancers only. Bachata is one couple, so its
  examples and tests are different clips of the same couple (not an unseen-dancer test).
* **Mixed** (the model's own styles plus a taught bachata): do bachata clips show bachata,
  and do salsa clips still show salsa?
* **Baselines**: the shipped model's own decisions on the same salsa clips (optimistic: it
  was trained on these dancers), and a 1-nearest-neighbour classifier on standardised
  window statistics (per window the mean and standard deviation over time of each
  feature channel), with the same examples and tests.
* **Unsure**: a pack that only knows salsa, replayed on bachata and on the out-of-set
  videos; the model's own styles plus taught bachata on the videos.
* **Teaching time** after pose for a 30 s clip.
* **Fold models** (``fold_models``): the shipped model's embedding was trained on these
  salsa dancers and exposed to these bachata clips and videos as out-of-set examples, so
  the same protocol is repeated on one edge model per salsa dancer trained without that
  dancer and without any out-of-set clip (TensorFlow): the fair test of a user's own
  dancers and styles.

Every clip is replayed through the real :class:`~edge.runtime.loop.Runtime` once, with a
model that asks the shipped model and records, for each window the runtime classifies,
the network's probabilities, its embedding, the window's statistics and the order in
which the runtime fed and reset its smoother (:func:`record`). A pack's decisions are then
replayed from that record (:func:`replay_recorded`) through the real
:class:`~edge.classify.packs.PackedStyleModel` and a fresh
:class:`~edge.runtime.smoothing.StyleSmoother`, which is exactly what the runtime would do
(the windows, the still test and the resets do not depend on the model's answers), at a
small fraction of the cost; :func:`verify` replays some draws through the real runtime and
checks that both give the same result, and the report says so. Teaching embeddings are the
same record's embeddings: :func:`edge.runtime.teach.window_embeddings` records the same
windows (also checked by :func:`verify`).
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np

from edge.core.schema import PoseSequence
from edge.runtime.loop import Runtime, RuntimeConfig
from edge.runtime.smoothing import StyleSmoother
from training.realvideo import CONFIDENT, ClipResult, frames, segments, wilson

#: Example clips per taught style.
K_VALUES = (1, 2, 3, 5)
#: Random draws of the example clips per k.
DEFAULT_DRAWS = 20
#: The taught styles: salsa (several dancers: leave one dancer out) and bachata (one couple).
SALSA, BACHATA = "salsa", "bachata"
#: k of the "unsure" runs and of the done-when target.
TARGET_K = 3
TARGET = 0.9
#: Teaching-time runs, and the length of the clip taught from.
TIMING_RUNS = 5
TIMING_SECONDS = 30.0
#: Bootstrap resamples of the intervals.
BOOTSTRAP = 2000
#: The data sources read: real camera video only.
REAL_SOURCES = ("openpose", "realvideo", "mediapipe")
NO_MAJORITY = "tie"


# ------------------------------------------------------------------ recording a clip once


@dataclass(frozen=True)
class Recorded:
    """One clip as the runtime cut it, recorded once with one model.

    Row ``j`` of every array is the ``j``-th window the runtime asked the model about (a
    decided update: state ``style`` or ``unsure``); ``events`` is the order in which the
    runtime fed window ``j`` to its smoother (``j >= 0``) or reset it (``-1``).
    """

    clip_id: str
    label: str
    group: str
    source: str
    seconds: float
    emb: np.ndarray          # (W, D) embeddings (rows may be non-finite: never taught from)
    probs: np.ndarray        # (W, K) the network's raw probabilities
    base_p: np.ndarray       # (W, K) the model's own calibrated probabilities
    base_unsure: np.ndarray  # (W,) the model's own unsure flags
    stats: np.ndarray        # (W, 2C) per window: mean and std over time of each channel
    times: np.ndarray        # (W,) update times
    events: tuple[int, ...]
    appear: Optional[float]
    still: int

    @property
    def windows(self) -> int:
        return len(self.emb)

    def teach_embeddings(self) -> np.ndarray:
        """The embeddings :func:`edge.runtime.teach.window_embeddings` keeps (finite rows)."""
        return self.emb[np.isfinite(self.emb).all(axis=1)]


def window_stats(window: np.ndarray) -> np.ndarray:
    """The nearest-neighbour baseline's features of one (N, C) window: the mean and the
    standard deviation over time of every channel, (2C,)."""
    w = np.asarray(window, np.float64)
    return np.concatenate([w.mean(axis=0), w.std(axis=0)])


class _Tap:
    """The runtime's model interface: answers as ``base`` does and records what it computed
    for every window."""

    def __init__(self, base: Any) -> None:
        self.base, self.labels, self.spec, self.path = base, base.labels, base.spec, base.path
        self.hop_seconds, self.card = base.hop_seconds, base.card
        self.rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, bool, np.ndarray]] = []

    def __call__(self, window: np.ndarray) -> tuple[np.ndarray, bool, float]:
        probs, emb = self.base.backend(window[None])
        p, unsure, distance = self.base.decide(probs, emb)  # one inference: the record and the answer
        dim = self.base.calibration.class_means.shape[1]
        e = np.full(dim, np.nan) if emb is None else np.asarray(emb[0], np.float64)
        self.rows.append((np.asarray(probs[0], np.float64), e, np.asarray(p, np.float64), bool(unsure),
                          window_stats(window)))
        return p, unsure, distance

    def close(self) -> None:
        pass


class _LoggedSmoother:
    """The runtime's smoother, logging each update (the window fed) and each reset."""

    def __init__(self, inner: StyleSmoother, events: list[int], tap: _Tap) -> None:
        self.inner, self.events, self.tap = inner, events, tap

    def update(self, probs: np.ndarray, unsure: bool) -> tuple[np.ndarray, Optional[str]]:
        self.events.append(len(self.tap.rows) - 1)
        return self.inner.update(probs, unsure)

    def reset(self) -> None:
        self.events.append(-1)
        self.inner.reset()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def record(model: Any, seq: PoseSequence, config: RuntimeConfig = RuntimeConfig()) -> Recorded:
    """Replay ``seq`` once through a fresh :class:`Runtime` with ``model`` (the shipped one,
    or a :class:`FoldModel`) and record every classified window (see :class:`Recorded`)."""
    from edge.recommend import Catalog

    tap = _Tap(model)
    runtime = Runtime(tap, Catalog(songs=()), None, config)
    events: list[int] = []
    runtime.smoother = _LoggedSmoother(runtime.smoother, events, tap)  # type: ignore[assignment]
    appear: Optional[float] = None
    times: list[float] = []
    still = 0
    for frame in frames(seq):
        if appear is None and frame.pose is not None and frame.pose.found:
            appear = frame.t
        u = runtime.process(frame)
        if u is None:
            continue
        if u.state == "still":
            still += 1
        elif u.state in ("style", "unsure"):
            times.append(u.t)
    if len(times) != len(tap.rows) or sorted(j for j in events if j >= 0) != list(range(len(tap.rows))):
        raise RuntimeError(f"{seq.clip_id}: the runtime's decisions and the model calls disagree")
    k = len(model.labels)
    dim = model.calibration.class_means.shape[1]
    cols = list(zip(*tap.rows)) if tap.rows else [np.zeros((0, k)), np.zeros((0, dim)), np.zeros((0, k)),
                                                    np.zeros(0, bool), np.zeros((0, 2 * len(model.spec.channels)))]
    probs, emb, base_p, base_u, stats = (np.asarray(np.stack(c) if len(c) else c) for c in cols)
    return Recorded(seq.clip_id, seq.label, seq.group, seq.source, float(seq.duration), emb.reshape(-1, dim),
                    probs.reshape(-1, k), base_p.reshape(-1, k), base_u.astype(bool).reshape(-1),
                    stats, np.asarray(times, np.float64), tuple(events), appear, still)


# ------------------------------------------------------------------ replaying a record


class _Next:
    """A backend that answers with whatever the replay set for the current window."""

    def __init__(self) -> None:
        self.out: tuple[np.ndarray, np.ndarray] = (np.zeros((1, 1)), np.zeros((1, 1)))

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.out


class _RecordedBase:
    """The face of a :class:`~edge.classify.model.StyleModel` that
    :class:`~edge.classify.packs.PackedStyleModel` uses, answering from a record."""

    def __init__(self, real: Any) -> None:
        self.path, self.card, self.spec, self.hop_seconds = real.path, real.card, real.spec, real.hop_seconds
        self.calibration, self.labels = real.calibration, list(real.labels)
        self.backend = _Next()

    def close(self) -> None:
        pass


_NO_WINDOW = np.zeros(1, np.float32)

#: ``decide(rec, j)`` -> (probabilities over the model's labels, unsure) for window ``j``.
Decide = Callable[[Recorded, int], tuple[np.ndarray, bool]]


def base_decide(rec: Recorded, j: int) -> tuple[np.ndarray, bool]:
    """The model's own (recorded) answer."""
    return rec.base_p[j], bool(rec.base_unsure[j])


def pack_decide(model: Any) -> Decide:
    """A :class:`~edge.classify.packs.PackedStyleModel` built on a :class:`_RecordedBase`,
    answering from a record."""
    backend = model.base.backend

    def decide(rec: Recorded, j: int) -> tuple[np.ndarray, bool]:
        backend.out = (rec.probs[j][None], rec.emb[j][None])
        p, unsure, _ = model(_NO_WINDOW)
        return p, unsure

    return decide


@dataclass(frozen=True)
class Replayed:
    """What the runtime showed on a clip (:class:`ClipResult`) and the raw, unsmoothed
    window decisions (a style, or None for unsure)."""

    result: ClipResult
    window_labels: tuple[Optional[str], ...]


def replay_recorded(rec: Recorded, decide: Decide, labels: Sequence[str],
                    config: RuntimeConfig = RuntimeConfig()) -> Replayed:
    """What :func:`training.realvideo.replay` would return for this clip with a model that
    answers ``decide``: the recorded windows through a fresh :class:`StyleSmoother` in the
    runtime's order, counted the same way."""
    labels = list(labels)
    smoother = StyleSmoother(labels, config.prob_alpha, config.switch_margin, config.switch_updates)
    decided = right = unsure = shown = confident = 0
    counts: dict[str, int] = {}
    first_style = first_decision = None
    raw: list[Optional[str]] = [None] * rec.windows
    for j in rec.events:
        if j < 0:
            smoother.reset()
            continue
        p, u = decide(rec, j)
        raw[j] = None if u else labels[int(np.argmax(p))]
        smoothed, style = smoother.update(p, u)
        t = float(rec.times[j])
        decided += 1
        if first_decision is None and rec.appear is not None:
            first_decision = t - rec.appear
        if style is None:
            unsure += 1
            continue
        shown += 1
        counts[style] = counts.get(style, 0) + 1
        right += int(style == rec.label)
        confident += int(float(smoothed[labels.index(style)]) >= CONFIDENT)
        if first_style is None and rec.appear is not None:
            first_style = t - rec.appear
    res = ClipResult(rec.clip_id, rec.label, rec.group, rec.source, rec.label in labels, rec.seconds, decided,
                     right, unsure, shown, confident, counts, first_style, first_decision, rec.still)
    return Replayed(res, tuple(raw))


# ------------------------------------------------------------------ packs and the baseline


def make_pack(base: Any, examples: dict[str, Sequence[Recorded]]) -> Any:
    """A style pack teaching each style of ``examples`` from its example clips' windows,
    as ``edgerec styles add`` does (:func:`edge.classify.packs.learn_style`)."""
    from edge.classify.packs import StylePack, learn_style, model_ref

    pack = StylePack(model_ref(base))
    for name, clips in examples.items():
        emb = [c.teach_embeddings() for c in clips]
        used = [c.clip_id for c, e in zip(clips, emb) if len(e)]
        dim = base.calibration.class_means.shape[1]
        pack = pack.with_style(learn_style(name, np.vstack(emb) if emb else np.zeros((0, dim)), base, used))
    return pack


def packed_model(base: Any, pack: Any, only_pack: bool) -> Any:
    """The real :class:`~edge.classify.packs.PackedStyleModel` over a recorded base."""
    from edge.classify.packs import PackedStyleModel

    return PackedStyleModel(_RecordedBase(base), pack, only_pack=only_pack)


class NearestNeighbour:
    """1-NN on standardised window statistics (:func:`window_stats`), fitted on the example
    clips' windows; a clip's decision is the majority of its windows' labels."""

    def __init__(self, examples: dict[str, Sequence[Recorded]]) -> None:
        xs, ys = [], []
        for name, clips in examples.items():
            for c in clips:
                ok = np.isfinite(c.stats).all(axis=1)
                xs.append(c.stats[ok])
                ys += [name] * int(ok.sum())
        x = np.vstack(xs) if xs else np.zeros((0, 1))
        if not len(x):
            raise ValueError("the nearest-neighbour baseline got no example windows")
        self.mean = x.mean(axis=0)
        sd = x.std(axis=0)
        self.scale = np.where(sd > 1e-9, sd, 1.0)
        self.x = (x - self.mean) / self.scale
        self.y = np.asarray(ys)
        self.labels = list(examples)

    def predict(self, stats: np.ndarray) -> np.ndarray:
        if not len(stats):
            return np.zeros(0, dtype=self.y.dtype)
        z = (np.nan_to_num(np.asarray(stats, np.float64)) - self.mean) / self.scale
        d2 = (z * z).sum(1)[:, None] - 2 * z @ self.x.T + (self.x * self.x).sum(1)[None]
        return self.y[np.argmin(d2, axis=1)]


def majority(votes: Iterable[Optional[str]]) -> Optional[str]:
    """The most frequent vote; :data:`NO_MAJORITY` on a tie between the leaders, None
    without votes (a tie is never a style, as in :attr:`ClipResult.majority`)."""
    counts: dict[str, int] = {}
    for v in votes:
        key = "unsure" if v is None else v
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return None
    top = max(counts.values())
    leaders = [k for k, v in counts.items() if v == top]
    return leaders[0] if len(leaders) == 1 else NO_MAJORITY


# ------------------------------------------------------------------ the draws


@dataclass(frozen=True)
class Fold:
    """Salsa leave-one-dancer-out: the test dancer's clips, and the other dancers' clips
    the salsa examples are drawn from."""

    dancer: str
    test: tuple[int, ...]  # indices into the salsa clips
    pool: tuple[int, ...]


def salsa_folds(groups: Sequence[str]) -> list[Fold]:
    """One fold per dancer (group): its clips are tested, every other dancer's are the pool."""
    out = []
    for g in sorted(set(groups)):
        test = tuple(i for i, x in enumerate(groups) if x == g)
        pool = tuple(i for i, x in enumerate(groups) if x != g)
        out.append(Fold(g, test, pool))
    return out


def draw(pool: Sequence[int], k: int, rng: np.random.Generator) -> tuple[int, ...]:
    """``k`` distinct clips of ``pool``, uniformly at random (sorted)."""
    if k > len(pool):
        raise ValueError(f"cannot draw {k} example clips from {len(pool)}")
    return tuple(sorted(int(pool[i]) for i in rng.choice(len(pool), size=k, replace=False)))


def draw_rng(seed: int, k: int, d: int) -> np.random.Generator:
    """The generator of draw ``d`` of ``k``: the same examples whatever else is run."""
    return np.random.default_rng([seed, k, d])


# ------------------------------------------------------------------ rows and summaries


@dataclass
class Tally:
    """Test-clip outcomes of one (mode, k, style), kept per (draw, clip) for the intervals."""

    draws: int
    clips: list[str]
    correct: np.ndarray = field(init=False)
    count: np.ndarray = field(init=False)
    decided: int = 0
    right: int = 0
    unsure: int = 0
    mostly_unsure: int = 0
    windows: int = 0
    windows_right: int = 0
    windows_unsure: int = 0
    majorities: dict[str, int] = field(default_factory=dict)
    by_group: dict[str, list[int]] = field(default_factory=dict)  # group: [right, clips]
    group_majorities: dict[str, dict[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.correct = np.zeros((self.draws, len(self.clips)))
        self.count = np.zeros((self.draws, len(self.clips)))
        self._index = {c: i for i, c in enumerate(self.clips)}

    def add(self, d: int, label: str, clip: str, group: str, maj: Optional[str], decided: int = 0, right: int = 0,
            unsure: int = 0, window_labels: Sequence[Optional[str]] = ()) -> None:
        ok = maj == label
        i = self._index[clip]
        self.correct[d, i] += ok
        self.count[d, i] += 1
        self.decided += decided
        self.right += right
        self.unsure += unsure
        self.mostly_unsure += int(decided > 0 and unsure / decided >= 0.5)
        self.windows += len(window_labels)
        self.windows_right += sum(w == label for w in window_labels)
        self.windows_unsure += sum(w is None for w in window_labels)
        key = maj if maj is not None else "nothing decided"
        self.majorities[key] = self.majorities.get(key, 0) + 1
        g = self.by_group.setdefault(group, [0, 0])
        g[0] += ok
        g[1] += 1
        m = self.group_majorities.setdefault(group, {})
        m[key] = m.get(key, 0) + 1

    def summary(self, seed: int = 0) -> dict[str, Any]:
        n = int(self.count.sum())
        k = int(self.correct.sum())
        out: dict[str, Any] = {"clips": rate(k, n)}
        out["clips"].update(two_way_intervals(self.correct, self.count, seed))
        out["distinct_clips"] = int((self.count.sum(axis=0) > 0).sum())
        out["draws"] = self.draws
        out["majorities"] = dict(sorted(self.majorities.items()))
        out["mostly_unsure"] = rate(self.mostly_unsure, n)
        if self.decided:
            out["updates_right"] = rate(self.right, self.decided)
            out["updates_unsure"] = rate(self.unsure, self.decided)
        if self.windows:
            out["windows_right"] = rate(self.windows_right, self.windows)
            out["windows_unsure"] = rate(self.windows_unsure, self.windows)
        out["per_group"] = {g: rate(r, c) for g, (r, c) in sorted(self.by_group.items())}
        out["per_group_majorities"] = {g: dict(sorted(m.items())) for g, m in sorted(self.group_majorities.items())}
        per_draw = [float(self.correct[d].sum() / self.count[d].sum()) for d in range(self.draws)
                    if self.count[d].sum()]
        out["per_draw"] = [round(x, 4) for x in per_draw]
        return out


def rate(k: int, n: int) -> dict[str, Any]:
    lo, hi = wilson(int(k), int(n))
    return {"k": int(k), "n": int(n), "rate": None if n == 0 else k / n, "ci95": [lo, hi]}


def two_way_intervals(correct: np.ndarray, count: np.ndarray, seed: int = 0,
                      n: int = BOOTSTRAP) -> dict[str, list[Optional[float]]]:
    """95% percentile-bootstrap intervals of pooled accuracy from a (draws, clips) table:
    resampling draws (which examples a user gave), clips (which clips were tested), and
    both at once (the one the report quotes)."""
    c, m = np.asarray(correct, float), np.asarray(count, float)
    D, C = c.shape
    if D == 0 or C == 0 or m.sum() == 0:
        return {"ci95_draws": [None, None], "ci95_clips": [None, None], "ci95_boot": [None, None]}
    rng = np.random.default_rng(seed)
    out = {}
    for key, by_d, by_c in (("ci95_draws", True, False), ("ci95_clips", False, True), ("ci95_boot", True, True)):
        if (by_d and D < 2) or (by_c and C < 2):
            out[key] = [None, None]
            continue
        wd = rng.multinomial(D, np.full(D, 1 / D), size=n) if by_d else np.ones((n, D))
        wc = rng.multinomial(C, np.full(C, 1 / C), size=n) if by_c else np.ones((n, C))
        num = np.einsum("bd,dc,bc->b", wd, c, wc)
        den = np.einsum("bd,dc,bc->b", wd, m, wc)
        acc = num[den > 0] / den[den > 0]
        lo, hi = np.percentile(acc, [2.5, 97.5])
        out[key] = [float(lo), float(hi)]
    return out


# ------------------------------------------------------------------ loading


@dataclass(frozen=True)
class RealClips:
    salsa: tuple[PoseSequence, ...]     # 20 s clips, each of one dancer
    bachata: tuple[PoseSequence, ...]
    others: tuple[PoseSequence, ...]    # real clips of styles outside the model's and the pack's


def load_real_clips(data_dir: str | Path, max_k: int = max(K_VALUES)) -> RealClips:
    """The real-camera clips: salsa dancers' recordings cut into 20 s clips, the bachata
    clips, and every other real clip (out-of-set)."""
    from training import datasets

    data_dir = Path(data_dir)
    seqs = datasets.load_all(data_dir, REAL_SOURCES)  # links Ana's video to her OpenPose group
    salsa = tuple(seg for s in seqs if s.label == SALSA for seg in segments(s))
    bachata = tuple(seg for s in seqs if s.label == BACHATA for seg in segments(s))
    others = tuple(seg for s in seqs if s.label not in (SALSA, BACHATA) for seg in segments(s))
    dancers = sorted({s.group for s in salsa})
    if len(dancers) < 2:
        raise ValueError(f"{data_dir}: need real salsa clips of at least 2 dancers, found {len(dancers)}; "
                         "point --data at the shared data folder (openpose/salsa/<dancer>/)")
    smallest = min(sum(s.group != g for s in salsa) for g in dancers)
    if smallest < max_k:
        raise ValueError(f"{data_dir}: only {smallest} salsa clips outside one dancer, k goes to {max_k}; "
                         "add salsa recordings or lower the k values")
    if len(bachata) < max_k + 1:
        raise ValueError(f"{data_dir}: need at least {max_k + 1} bachata clips (realvideo/bachata/), "
                         f"found {len(bachata)}")
    return RealClips(salsa, bachata, others)


# ------------------------------------------------------------------ the protocol


def _bar(total: int, desc: str, progress: bool) -> Any:
    if not progress:
        return None
    from edge.core.optional import require

    return require("tqdm", "train").tqdm(total=total, desc=desc, unit="step", leave=False)


def _tick(bar: Any, n: int = 1) -> None:
    if bar is not None:
        bar.update(n)


def _close(bar: Any) -> None:
    if bar is not None:
        bar.close()


@dataclass(frozen=True)
class Setup:
    """One salsa fold, the model it is measured on, and every clip recorded under that
    model (the same clips in the same order for every fold)."""

    fold: Fold
    base: Any
    salsa: tuple[Recorded, ...]
    bachata: tuple[Recorded, ...]
    others: tuple[Recorded, ...]


def shipped_setups(base: Any, salsa: Sequence[Recorded], bachata: Sequence[Recorded],
                   others: Sequence[Recorded]) -> list[Setup]:
    """Every fold measured on one model (the shipped one)."""
    return [Setup(f, base, tuple(salsa), tuple(bachata), tuple(others))
            for f in salsa_folds([r.group for r in salsa])]


@dataclass(frozen=True)
class Examples:
    """One fold's example clips in one draw (indices into its clips)."""

    salsa: tuple[int, ...]    # from the fold's pool: never the test dancer
    bachata: tuple[int, ...]  # taught with salsa (only_pack)
    mixed: tuple[int, ...]    # taught alone, added to the model's own styles


def fold_examples(seed: int, k: int, d: int, setups: Sequence[Setup]) -> list[Examples]:
    """Draw ``d`` of ``k``: each fold draws its own examples, from one generator per (k, draw)."""
    rng = draw_rng(seed, k, d)
    out = []
    for s in setups:
        nb = tuple(range(len(s.bachata)))
        out.append(Examples(draw(s.fold.pool, k, rng), draw(nb, k, rng), draw(nb, k, rng)))
    return out


def _replay_into(tally: Tally, d: int, rec: Recorded, decide: Decide, labels: Sequence[str],
                 config: RuntimeConfig) -> ClipResult:
    rep = replay_recorded(rec, decide, labels, config)
    r = rep.result
    tally.add(d, rec.label, rec.clip_id, rec.group, r.majority, r.decided, r.right, r.unsure, rep.window_labels)
    return r


def run_fewshot(data_dir: str | Path, draws: int = DEFAULT_DRAWS, seed: int = 0,
                ks: Sequence[int] = K_VALUES, model_path: Optional[str | Path] = None, progress: bool = True,
                verify_replays: bool = True, timing_runs: int = TIMING_RUNS, fold_models: bool = True,
                quick: bool = False, config: RuntimeConfig = RuntimeConfig()) -> dict[str, Any]:
    """The whole measurement (see the module doc); a JSON-ready result.

    ``fold_models`` also trains one edge model per salsa dancer without that dancer and
    without any out-of-set clip (TensorFlow, a few minutes) and repeats the protocol on
    them: embeddings that never saw the test dancer, bachata or the videos.
    """
    from edge.classify.model import StyleModel
    from edge.classify.packs import model_ref
    from edge.core.assets import default_model_path

    if draws < 1:
        raise ValueError(f"--draws must be at least 1, got {draws}")
    ks = tuple(sorted(set(int(k) for k in ks)))
    if not ks or ks[0] < 1:
        raise ValueError(f"k values must be positive, got {ks}")
    started = time.perf_counter()
    clips = load_real_clips(data_dir, max(ks + (TARGET_K,)))
    model_path = Path(model_path) if model_path else default_model_path()
    base = StyleModel(model_path)
    try:
        ref = model_ref(base)
        recs = record_all(base, clips, config, progress, "recording clips (shipped model)")
        setups = shipped_setups(base, *recs)
        result = measure(setups, draws, seed, ks, progress, config)
        if verify_replays:
            result["verification"] = verify(setups, clips, seed, _verify_k(ks), config, progress)
        if timing_runs > 0:
            result["timing"] = teaching_time(base, data_dir, timing_runs)
        result["model"] = {"path": str(model_path), "name": ref.name, "fingerprint": ref.fingerprint,
                           "labels": list(ref.labels), "embedding_dim": ref.embedding_dim,
                           "distance_threshold": float(base.calibration.distance_threshold),
                           "prob_threshold": float(base.calibration.prob_threshold),
                           "outlier_exposure_clips": list(_get_card(base, "data", "outlier_exposure_clips") or [])}
    finally:
        base.close()
    salsa, bachata, others = recs
    if fold_models:
        t0 = time.perf_counter()
        models, training = train_fold_models(data_dir, [s.fold.dancer for s in setups], seed, quick, progress)
        fsetups = []
        for s in setups:
            m = models[s.fold.dancer]
            fr = record_all(m, clips, config, progress, f"recording clips ({s.fold.dancer}'s fold model)")
            fsetups.append(Setup(s.fold, m, *fr))
        fres = measure(fsetups, draws, seed, ks, progress, config, nn=False)
        fres.pop("examples")  # the same draws as the shipped model's (fold_examples): stored once
        if verify_replays:
            fres["verification"] = verify(fsetups[:1], clips, seed, _verify_k(ks), config, progress)
        fres["training"] = {**training, "seconds": round(time.perf_counter() - t0, 1)}
        result["fold_models"] = fres
    result["data"] = {
        "salsa_clips": [{"clip": r.clip_id, "dancer": r.group, "seconds": round(r.seconds, 1), "windows": r.windows}
                        for r in salsa],
        "bachata_clips": [{"clip": r.clip_id, "seconds": round(r.seconds, 1), "windows": r.windows}
                          for r in bachata],
        "out_of_set_clips": [{"clip": r.clip_id, "label": r.label, "seconds": round(r.seconds, 1),
                              "windows": r.windows} for r in others],
    }
    result["settings"] = {"draws": draws, "seed": seed, "k": list(ks), "target_k": TARGET_K, "target": TARGET,
                          "segment_seconds": 20.0, "bootstrap": BOOTSTRAP, "quick": quick,
                          "runtime": {"hop_seconds": config.hop_seconds, "prob_alpha": config.prob_alpha,
                                      "switch_updates": config.switch_updates, "min_valid": config.min_valid}}
    result["machine"] = machine()
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def _verify_k(ks: Sequence[int]) -> int:
    return min(ks, key=lambda k: abs(k - TARGET_K))


def _get_card(model: Any, *path: str) -> Any:
    d = getattr(model, "card", None)
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def record_all(model: Any, clips: RealClips, config: RuntimeConfig, progress: bool,
               desc: str) -> tuple[tuple[Recorded, ...], tuple[Recorded, ...], tuple[Recorded, ...]]:
    """Every clip recorded under ``model``: (salsa, bachata, others)."""
    bar = _bar(len(clips.salsa) + len(clips.bachata) + len(clips.others), desc, progress)
    out = []
    for seqs in (clips.salsa, clips.bachata, clips.others):
        rows = []
        for s in seqs:
            rows.append(record(model, s, config))
            _tick(bar)
        out.append(tuple(rows))
    _close(bar)
    return out[0], out[1], out[2]


def machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "arch": platform.machine(), "platform": platform.platform(),
            "python": platform.python_version(),
            "words": f"{os.cpu_count()}-core {platform.machine()}"}


def measure(setups: Sequence[Setup], draws: int, seed: int, ks: Sequence[int], progress: bool = False,
            config: RuntimeConfig = RuntimeConfig(), nn: bool = True) -> dict[str, Any]:
    """Every protocol on recorded clips, ``draws`` times per k (see the module doc)."""
    first = setups[0]
    names_s = [r.clip_id for r in first.salsa]
    names_b = [r.clip_id for r in first.bachata]
    names_o = [r.clip_id for r in first.others]
    out: dict[str, Any] = {"by_k": {}, "examples": {}}
    bar = _bar(len(ks) * draws, "few-shot draws", progress)
    limits: dict[str, Any] = {}
    for k in ks:
        target = k == TARGET_K
        keys = [("pack_salsa", names_s), ("pack_bachata", names_b), ("mixed_salsa", names_s),
                ("mixed_bachata", names_b)]
        if nn:
            keys += [("nn_salsa", names_s), ("nn_bachata", names_b)]
        if target:
            keys += [("salsa_only_salsa", names_s), ("salsa_only_bachata", names_b), ("salsa_only_others", names_o),
                     ("pack_others", names_o), ("mixed_others", names_o)]
        t = {key: Tally(draws, names) for key, names in keys}
        diag = _Diagnostics()
        by_mix: dict[str, dict[str, list[int]]] = {}
        examples = []
        for d in range(draws):
            chosen = []
            for setup, ex in zip(setups, fold_examples(seed, k, d, setups)):
                base, salsa, bachata, others = setup.base, setup.salsa, setup.bachata, setup.others
                # indices into data.salsa_clips / data.bachata_clips
                chosen.append({"dancer": setup.fold.dancer, "salsa": list(ex.salsa), "bachata": list(ex.bachata),
                               "mixed_bachata": list(ex.mixed)})
                taught = {SALSA: [salsa[i] for i in ex.salsa], BACHATA: [bachata[i] for i in ex.bachata]}
                pack = make_pack(base, taught)
                model = packed_model(base, pack, only_pack=True)
                decide = pack_decide(model)
                tests = [salsa[i] for i in setup.fold.test] + [b for i, b in enumerate(bachata) if i not in ex.bachata]
                knn = NearestNeighbour(taught) if nn else None
                for rec in tests:
                    key = "pack_salsa" if rec.label == SALSA else "pack_bachata"
                    r = _replay_into(t[key], d, rec, decide, model.labels, config)
                    if knn is not None:
                        votes = list(knn.predict(rec.stats))
                        t["nn_" + rec.label].add(d, rec.label, rec.clip_id, rec.group, majority(votes),
                                                 window_labels=votes)
                    if target:
                        diag.add(rec, pack, base)
                        if rec.label == SALSA:
                            mix = " + ".join(sorted({salsa[i].group for i in ex.salsa}))
                            cell = by_mix.setdefault(rec.group, {}).setdefault(mix, [0, 0])
                            cell[0] += int(r.majority == SALSA)
                            cell[1] += 1
                if target:
                    diag.add_pack(pack, base, others)
                    for rec in others:
                        _replay_into(t["pack_others"], d, rec, decide, model.labels, config)
                    # a pack that knows salsa only: the test dancer's clips, bachata and the videos
                    one = packed_model(base, make_pack(base, {SALSA: taught[SALSA]}), only_pack=True)
                    dec1 = pack_decide(one)
                    for rec, key in [(salsa[i], "salsa_only_salsa") for i in setup.fold.test] + \
                                    [(r, "salsa_only_bachata") for r in bachata] + \
                                    [(r, "salsa_only_others") for r in others]:
                        _replay_into(t[key], d, rec, dec1, one.labels, config)
                # the model's own styles plus a taught bachata
                mixed = packed_model(base, make_pack(base, {BACHATA: [bachata[i] for i in ex.mixed]}),
                                     only_pack=False)
                dec = pack_decide(mixed)
                tests = [salsa[i] for i in setup.fold.test] + [b for i, b in enumerate(bachata) if i not in ex.mixed]
                for rec in tests:
                    _replay_into(t["mixed_" + rec.label], d, rec, dec, mixed.labels, config)
                if target:
                    for rec in others:
                        _replay_into(t["mixed_others"], d, rec, dec, mixed.labels, config)
            examples.append(chosen)
            _tick(bar)
        out["by_k"][str(k)] = {key: tally.summary(seed) for key, tally in t.items()}
        out["examples"][str(k)] = examples
        if target:
            limits["diagnostics"] = diag.summary()
            limits["by_example_dancers"] = {g: {mix: rate(*c) for mix, c in sorted(v.items())}
                                            for g, v in sorted(by_mix.items())}
    _close(bar)
    out["base"] = base_results(setups, config)
    limits["all_examples"] = all_examples(setups, config)
    out["limits"] = limits
    return out


def _geometry(pack: Any, base: Any) -> tuple[Any, float, np.ndarray, Optional[np.ndarray]]:
    """The model's calibration and threshold, the pack's (salsa, bachata) means, and the
    model's own salsa mean (None if it has no salsa)."""
    cal = base.calibration
    means = np.vstack([pack.get(SALSA).mean, pack.get(BACHATA).mean])
    ms = cal.class_means[list(base.labels).index(SALSA)][None] if SALSA in base.labels else None
    return cal, float(cal.distance_threshold), means, ms


class _Diagnostics:
    """Where the test windows of the target k fall: Mahalanobis distances to the taught
    means, under the model's precision, against its distance threshold."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, list[float]]] = {}
        self.gaps: list[float] = []
        self.spreads: dict[str, list[float]] = {SALSA: [], BACHATA: []}
        self.thresholds: list[float] = []

    def _row(self, key: str) -> dict[str, list[float]]:
        return self.rows.setdefault(key, {"own": [], "other": [], "beyond": [], "nearer_other": [],
                                          "model_salsa": [], "to_salsa": [], "to_bachata": []})

    def add(self, rec: Recorded, pack: Any, base: Any) -> None:
        """One test clip's windows against ``pack``'s means."""
        from edge.classify.calibration import mahalanobis

        cal, thr, means, ms = _geometry(pack, base)
        emb = rec.teach_embeddings()
        row = self._row(rec.group if rec.label == SALSA else f"{BACHATA} clips")
        if len(emb):
            d = mahalanobis(emb, means, cal.precision)
            own, other = (d[:, 0], d[:, 1]) if rec.label == SALSA else (d[:, 1], d[:, 0])
            row["own"] += own.tolist()
            row["other"] += other.tolist()
            row["beyond"] += (d.min(axis=1) > thr).astype(float).tolist()
            row["nearer_other"] += (other < own).astype(float).tolist()
            if ms is not None:
                row["model_salsa"] += mahalanobis(emb, ms, cal.precision)[:, 0].tolist()

    def add_pack(self, pack: Any, base: Any, others: Sequence[Recorded] = ()) -> None:
        """Once per pack: its means' distance, the spreads, and where the out-of-set windows fall."""
        from edge.classify.calibration import mahalanobis

        cal, thr, means, ms = _geometry(pack, base)
        self.gaps.append(float(mahalanobis(means[:1], means[1:], cal.precision)[0, 0]))
        self.spreads[SALSA].append(pack.get(SALSA).spread)
        self.spreads[BACHATA].append(pack.get(BACHATA).spread)
        self.thresholds.append(thr)
        for o in others:
            e = o.teach_embeddings()
            if not len(e):
                continue
            d = mahalanobis(e, means, cal.precision)
            r = self._row(f"out-of-set: {o.label}")
            r["to_salsa"] += d[:, 0].tolist()
            r["to_bachata"] += d[:, 1].tolist()
            r["beyond"] += (d.min(axis=1) > thr).astype(float).tolist()
            if ms is not None:
                r["model_salsa"] += mahalanobis(e, ms, cal.precision)[:, 0].tolist()

    def summary(self) -> dict[str, Any]:
        def med(x: list[float]) -> Optional[float]:
            return float(np.median(x)) if x else None

        def mean(x: list[float]) -> Optional[float]:
            return float(np.mean(x)) if x else None

        return {"distance_threshold": med(self.thresholds),
                "means_apart": {"median": med(self.gaps), "min": float(min(self.gaps)) if self.gaps else None,
                                "max": float(max(self.gaps)) if self.gaps else None},
                "example_spread": {k: med(v) for k, v in self.spreads.items()},
                "test_windows": {g: {"windows": max(len(r["own"]), len(r["to_salsa"])),
                                     "median_to_own_mean": med(r["own"]), "median_to_other_mean": med(r["other"]),
                                     "median_to_salsa_mean": med(r["to_salsa"]),
                                     "median_to_bachata_mean": med(r["to_bachata"]),
                                     "beyond_threshold": mean(r["beyond"]),
                                     "nearer_other_mean": mean(r["nearer_other"]),
                                     "median_to_model_salsa_mean": med(r["model_salsa"])}
                                 for g, r in sorted(self.rows.items())}}


def _distinct_bases(setups: Sequence[Setup]) -> list[Setup]:
    seen, out = set(), []
    for s in setups:
        if id(s.base) not in seen:
            seen.add(id(s.base))
            out.append(s)
    return out


def base_results(setups: Sequence[Setup], config: RuntimeConfig = RuntimeConfig()) -> dict[str, Any]:
    """The models alone (their recorded decisions): each fold's model on its test dancer's
    salsa clips; every distinct model on the bachata and out-of-set clips."""
    first = setups[0]
    out: dict[str, Any] = {}
    ts = Tally(1, [r.clip_id for r in first.salsa])
    for s in setups:
        for i in s.fold.test:
            _replay_into(ts, 0, s.salsa[i], base_decide, s.base.labels, config)
    out["salsa"] = ts.summary()
    for key, names in (("bachata", [r.clip_id for r in first.bachata]), ("others", [r.clip_id for r in first.others])):
        t = Tally(1, names)
        for s in _distinct_bases(setups):
            for rec in getattr(s, key):
                _replay_into(t, 0, rec, base_decide, s.base.labels, config)
        out[key] = t.summary()
    out["models"] = len(_distinct_bases(setups))
    return out


def all_examples(setups: Sequence[Setup], config: RuntimeConfig = RuntimeConfig()) -> dict[str, Any]:
    """The ceiling of more examples: salsa taught from *every* clip of the other dancers
    (bachata from all its clips) per fold; bachata leave-one-clip-out (salsa from every
    salsa clip) on every distinct model. Deterministic: one pack per fold / per clip."""
    first = setups[0]
    ts = Tally(1, [r.clip_id for r in first.salsa])
    tb = Tally(1, [r.clip_id for r in first.bachata])
    for s in setups:
        m = packed_model(s.base, make_pack(s.base, {SALSA: [s.salsa[i] for i in s.fold.pool],
                                                    BACHATA: list(s.bachata)}), True)
        dec = pack_decide(m)
        for i in s.fold.test:
            _replay_into(ts, 0, s.salsa[i], dec, m.labels, config)
    for s in _distinct_bases(setups):
        for j, rec in enumerate(s.bachata):
            pack = make_pack(s.base, {SALSA: list(s.salsa), BACHATA: [b for i, b in enumerate(s.bachata) if i != j]})
            m = packed_model(s.base, pack, True)
            _replay_into(tb, 0, rec, pack_decide(m), m.labels, config)
    return {"salsa": ts.summary(), "bachata": tb.summary()}


# ------------------------------------------------------------------ fold models (TensorFlow)


class FoldModel:
    """A Keras edge model held in memory with the face of a
    :class:`~edge.classify.model.StyleModel` (``backend``, ``calibration``, ``card``), so
    style packs can be taught and recognised on it exactly as on a converted model."""

    def __init__(self, predict: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], labels: Sequence[str],
                 spec: Any, calibration: Any, name: str, fingerprint: str) -> None:
        self.predict = predict
        self.labels, self.spec, self.calibration = list(labels), spec, calibration
        self.path, self.hop_seconds = Path(name), 1.0
        self.card = {"weights_sha256": {"value": fingerprint}}
        self.non_finite = 0

    def backend(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.predict(x)

    def __call__(self, window: np.ndarray) -> tuple[np.ndarray, bool, float]:
        return self.decide(*self.backend(window[None]))

    def decide(self, probs: np.ndarray, emb: np.ndarray) -> tuple[np.ndarray, bool, float]:
        a = self.calibration.assess(probs, emb)
        p = a.probs[0]
        if not np.isfinite(p).all():
            self.non_finite += 1
            return np.full(len(self.labels), 1.0 / len(self.labels)), True, float("nan")
        return p, bool(a.unsure[0]), float(a.distance[0])

    def close(self) -> None:
        pass


def train_fold_models(data_dir: str | Path, dancers: Sequence[str], seed: int = 0, quick: bool = False,
                      progress: bool = True) -> tuple[dict[str, FoldModel], dict[str, Any]]:
    """One edge model per salsa dancer, trained as the shipped one is (``edgerec train``'s
    defaults) on every in-set clip except that dancer's, **without outlier exposure** (so it
    never saw bachata or the videos). Each fold's "unsure" threshold is scaled, as
    ``edgerec realvideo`` does, by the mean over the *other* dancers of the distance ratio
    of their clips under their own fold model: the test dancer never sets it."""
    from dataclasses import replace
    import hashlib

    from training.realvideo import REAL_ACCEPT_QUANTILE, SCALE_RANGE, distance_ratio, keras_predict
    from training.train import default_config, draw_windows, fit_window_model, keras_seed, load_dataset
    from training.windows import is_real

    cfg = replace(default_config(), seed=seed)
    if quick:
        cfg = replace(cfg, per_class=60, val_per_class=30, epochs=3)
    ds = load_dataset(data_dir)
    if SALSA not in ds.labels:
        raise ValueError(f"{data_dir}: salsa is not a trainable style here; the fold models need it")
    bar = _bar(len(dancers), "training fold models", progress)
    raw: dict[str, tuple[FoldModel, Optional[float], int]] = {}
    for g in dancers:
        train = [s for s in ds.inset if s.group != g]
        keras_seed(cfg.seed)
        tr, va = draw_windows(train, ds.labels, cfg)
        fitted = fit_window_model(train, ds.labels, cfg, windows=(tr, va), outliers=())
        digest = hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in fitted.model.get_weights())).hexdigest()
        model = FoldModel(keras_predict(fitted.model), ds.labels, cfg.spec, fitted.calibration,
                          f"fold-{g.split(':')[-1]}.keras", digest)
        test = [s for s in ds.inset if s.group == g and is_real(s)]
        raw[g] = (model, distance_ratio(model, test, REAL_ACCEPT_QUANTILE), int(fitted.history["epochs_run"]))
        _tick(bar)
    _close(bar)
    info: dict[str, Any] = {"config": {"per_class": cfg.per_class, "val_per_class": cfg.val_per_class,
                                       "epochs": cfg.epochs, "seed": cfg.seed, "outlier_exposure": False},
                            "folds": []}
    for g, (model, ratio, epochs) in raw.items():
        others = [r for h, (_, r, _) in raw.items() if h != g and r is not None]
        scale = float(np.clip(np.mean(others), *SCALE_RANGE)) if others else 1.0
        cal = model.calibration
        model.calibration = replace(cal, distance_threshold=cal.distance_threshold * scale)
        info["folds"].append({"dancer": g, "epochs": epochs, "own_distance_ratio": ratio, "threshold_scale": scale,
                              "validation_threshold": float(cal.distance_threshold),
                              "distance_threshold": float(model.calibration.distance_threshold),
                              "fingerprint": model.card["weights_sha256"]["value"]})
    return {g: m for g, (m, _, _) in raw.items()}, info


# ------------------------------------------------------------------ checks and timing


def _same(a: ClipResult, b: ClipResult) -> bool:
    da, db = a.to_dict(), b.to_dict()
    return all(da[k] == db[k] for k in ("decided", "right", "unsure", "shown", "confident_shown", "shown_counts",
                                          "majority", "first_style_s", "first_decision_s", "still"))


def verify(setups: Sequence[Setup], clips: RealClips, seed: int, k: int,
           config: RuntimeConfig = RuntimeConfig(), progress: bool = False) -> dict[str, Any]:
    """Replay draw 0 of ``k`` through the real runtime with the real
    :class:`~edge.classify.packs.PackedStyleModel` (every fold's two-style pack and mixed
    pack) and each fold's model alone on its test dancer's clips, and compare with the
    recorded replays; also compare the first fold's teaching embeddings with
    :func:`edge.runtime.teach.window_embeddings`."""
    from edge.classify.packs import PackedStyleModel
    from edge.runtime.teach import window_embeddings
    from training.realvideo import replay

    first = setups[0]
    seq = {r.clip_id: s for recs, seqs in ((first.salsa, clips.salsa), (first.bachata, clips.bachata),
                                           (first.others, clips.others)) for r, s in zip(recs, seqs)}
    jobs: list[tuple[Any, Decide, Sequence[str], Recorded]] = []  # (real model, recorded decide, labels, clip)
    emb_checks: list[tuple[Any, Recorded]] = []
    for s, ex in zip(setups, fold_examples(seed, k, 0, setups)):
        base, salsa, bachata = s.base, s.salsa, s.bachata
        pack = make_pack(base, {SALSA: [salsa[i] for i in ex.salsa], BACHATA: [bachata[i] for i in ex.bachata]})
        rec_m = packed_model(base, pack, True)
        real = PackedStyleModel(base, pack, only_pack=True)
        jobs += [(real, pack_decide(rec_m), rec_m.labels, salsa[i]) for i in s.fold.test]
        jobs += [(real, pack_decide(rec_m), rec_m.labels, b) for i, b in enumerate(bachata) if i not in ex.bachata]
        pack = make_pack(base, {BACHATA: [bachata[i] for i in ex.mixed]})
        rec_m = packed_model(base, pack, False)
        real = PackedStyleModel(base, pack, only_pack=False)
        jobs += [(real, pack_decide(rec_m), rec_m.labels, salsa[i]) for i in s.fold.test]
        jobs += [(real, pack_decide(rec_m), rec_m.labels, b) for i, b in enumerate(bachata) if i not in ex.mixed]
        jobs += [(base, base_decide, base.labels, salsa[i]) for i in s.fold.test]
        if not emb_checks:
            emb_checks = [(base, salsa[i]) for i in ex.salsa] + [(base, bachata[i]) for i in ex.bachata]
    bar = _bar(len(jobs) + len(emb_checks), "checking against the runtime", progress)
    same = 0
    mismatches = []
    for real, decide, labels, rec in jobs:
        a = replay(real, seq[rec.clip_id], config)
        b = replay_recorded(rec, decide, labels, config).result
        if _same(a, b):
            same += 1
        elif len(mismatches) < 5:
            mismatches.append(rec.clip_id)
        _tick(bar)
    worst, emb_same = 0.0, 0
    for base, rec in emb_checks:
        e = window_embeddings(base, frames(seq[rec.clip_id]), config=config)
        mine = rec.teach_embeddings()
        if e.shape == mine.shape:
            emb_same += 1
            worst = max(worst, float(np.abs(e - mine).max()) if len(e) else 0.0)
        else:
            worst = math.inf
        _tick(bar)
    _close(bar)
    return {"k": k, "draw": 0, "folds": [s.fold.dancer for s in setups], "replays": len(jobs), "identical": same,
            "mismatched_clips": mismatches, "teaching_clips": len(emb_checks), "teaching_windows_same_count": emb_same,
            "teaching_max_abs_difference": worst}


def teaching_time(base: Any, data_dir: str | Path, runs: int = TIMING_RUNS,
                  seconds: float = TIMING_SECONDS) -> dict[str, Any]:
    """Seconds :mod:`edge.runtime.teach` spends after pose to learn a style from a
    ``seconds`` stretch of landmarks (the runtime's window chain with the recording model,
    :func:`~edge.classify.packs.learn_style`, the closest-styles list and the atomic pack
    write, as :func:`edge.runtime.teach.teach` counts it), ``runs`` times."""
    from edge.classify.packs import StylePack, closest_styles, learn_style, model_ref, save_pack
    from edge.runtime.teach import window_embeddings
    from training import datasets

    seqs = [s for s in datasets.load_all(data_dir, ("openpose",)) if s.label == SALSA]
    seqs = [s for s in seqs if s.duration >= seconds]
    if not seqs:
        return {"runs": 0, "note": f"no salsa recording of {seconds:.0f} s or more"}
    src = max(seqs, key=lambda s: s.duration)
    clip = segments(src, seconds, 10.0)[0]
    times, windows = [], 0
    with tempfile.TemporaryDirectory(prefix="edgerec-fewshot-") as tmp:
        t0 = time.perf_counter()
        ref = model_ref(base)
        ref_s = time.perf_counter() - t0
        for i in range(runs):
            t0 = time.perf_counter()
            emb = window_embeddings(base, frames(clip))
            style = learn_style("salsa", emb, base, [clip.clip_id])
            pack = StylePack(ref).with_style(style)
            closest_styles(style, pack, base)
            save_pack(pack, Path(tmp) / f"styles-{i}.json")
            times.append(time.perf_counter() - t0)
            windows = len(emb)
    return {"runs": runs, "clip": clip.clip_id, "clip_seconds": round(clip.duration, 2), "windows": windows,
            "frames": clip.num_frames, "median_s": statistics.median(times), "min_s": min(times),
            "max_s": max(times), "all_s": [round(x, 4) for x in times], "model_ref_s": round(ref_s, 4),
            "target_s": 2.0}
