"""Music recommendations: a song catalogue, a dancer's movement tempo, and a ranking by style
fit and tempo fit, each recommendation explained in words.

**The paper's idea, adapted to songs.** Sharath M S et al. embed a dance with the
classifier's penultimate layer and rank songs by cosine similarity. That needs an embedding
of each *song* in the same space, which only exists for songs that come with a dance (the
mean embedding of that song's training windows), and those windows are not on the device.
So edgerec compares in the classifier's *output* space instead: each song carries a style
distribution (one-hot for a song whose style is known from its dataset or a user tag;
unknown style = uniform), and the style fit is the cosine similarity between the dancer's
calibrated style probabilities and the song's style vector. For a one-hot song this is
``p[style] / |p|``: near 1 when the dancer clearly dances that style. For a song of unknown
style it is ``1 / (sqrt(K) |p|)``: low for a confident dancer, high for a vague one, which is
the honest answer ("this song fits any style equally"). A song tagged with a style the model
does not know gets 0.

**Tempo.** Each song's BPM is estimated from its audio (:func:`edge.features.audio.estimate_tempo`)
or given by its metadata; the dancer's movement tempo is the periodicity of the summed joint
speed (:func:`movement_tempo`, the same estimator). Dancers often step at half or double the
beat, so the tempo fit is the best, over ratios 1/2, 1 and 2, of a Gaussian in log2 space
with :data:`TEMPO_SIGMA_OCTAVES` (0.1 octave, about 7 %): 5 % off gives 0.90, 10 % 0.63,
20 % 0.19.

**Score.** ``W_STYLE * style_fit + W_TEMPO * tempo_fit`` with weights 0.6 and 0.4: style is
what the user asked the system to recognise, tempo breaks ties between songs of the style and
rescues songs of unknown style that fit the movement. When the classifier is unsure, style
is ignored and songs are ranked by tempo alone; when a tempo is unknown, the score is the
style fit alone. The ``why`` string of every recommendation says which case applied.

**Hearing the room.** When the runtime hears the music (:mod:`edge.features.beat`), two
things change. The tempo fit compares each song with the *music's* tempo, which is measured
from many onsets and is steadier than the dancer's steps. And a third term joins: the
**sound fit**, the paper's "more like this", the similarity of the song's mean log-mel
spectrum with that of the last 10 s of the music playing (:func:`edge.recommend.sound.
sound_similarity`, centred on the catalogue's average spectrum, which spreads out the
paper's raw cosines, all near 1; neither picks songs of the query's style much above chance,
see that module, which is why sound is a quarter of the score). Weights then are :data:`W_STYLE_HEARD` 0.5,
:data:`W_TEMPO_HEARD` 0.25 and :data:`W_SOUND` 0.25 (unsure: tempo and sound, equally); a
song without a log-mel, or music too quiet to analyse, drops the term and the others are
renormalised. ``reports/audio/report.md`` measures how often each term alone puts songs of
the query's style in the top 5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from edge.recommend.catalog import Catalog, Song
from edge.recommend.sound import sound_similarity

#: Weight of the style fit in the score (documented in the module docstring).
W_STYLE = 0.6
#: Weight of the tempo fit in the score.
W_TEMPO = 0.4
#: Width of the tempo-fit Gaussian, in octaves (log2 units).
TEMPO_SIGMA_OCTAVES = 0.1
#: Weights when the music is heard (see the module docstring).
W_STYLE_HEARD = 0.5
W_TEMPO_HEARD = 0.25
W_SOUND = 0.25
#: Ratios song-beat / movement that count as matching (half time, same, double time).
TEMPO_RATIOS = (0.5, 1.0, 2.0)


@dataclass(frozen=True)
class Recommendation:
    song: Song
    score: float
    style_fit: float | None
    tempo_fit: float | None
    why: str
    #: How much the song sounds like the music playing (None when nothing is heard).
    sound_fit: float | None = None


# --------------------------------------------------------------------------------------
# Fits
# --------------------------------------------------------------------------------------


def _tempo_match(song_bpm: float, movement_bpm: float, sigma: float) -> tuple[float, float]:
    """(fit, ratio) where ratio in TEMPO_RATIOS is the best song-beat / movement relation."""
    best = (0.0, 1.0)
    for r in TEMPO_RATIOS:
        d = math.log2(song_bpm / (r * movement_bpm))
        f = math.exp(-0.5 * (d / sigma) ** 2)
        if f > best[0] + 1e-12:
            best = (f, r)
    return best


def tempo_fit(song_bpm: float, movement_bpm: float, sigma: float = TEMPO_SIGMA_OCTAVES) -> float:
    """How well a song's tempo fits a movement tempo, in [0, 1]; NaN when either is unknown.

    The best over ratios 1/2, 1, 2 of ``exp(-0.5 (log2(song / (r * movement)) / sigma)^2)``:
    symmetric in its arguments, and half or double tempo counts as a match.
    """
    s, m = float(song_bpm), float(movement_bpm)
    if not (math.isfinite(s) and math.isfinite(m) and s > 0 and m > 0):
        return float("nan")
    return _tempo_match(s, m, sigma)[0]


def style_vector(song: Song, labels: Sequence[str]) -> np.ndarray:
    """The song's style distribution over ``labels``: its embedding, or uniform if unknown."""
    if not song.embedding:
        return np.full(len(labels), 1.0 / max(len(labels), 1))
    return np.array([float(song.embedding.get(l, 0.0)) for l in labels])


def style_fit(probs: np.ndarray, song: Song, labels: Sequence[str]) -> float:
    """Cosine similarity between the dancer's style probabilities and the song's style vector."""
    p = np.asarray(probs, dtype=np.float64).ravel()
    if p.shape[0] != len(labels):
        raise ValueError(f"got {p.shape[0]} probabilities for {len(labels)} labels")
    v = style_vector(song, labels)
    n = float(np.linalg.norm(p) * np.linalg.norm(v))
    return 0.0 if n == 0 else float(np.clip(p @ v / n, 0.0, 1.0))


def movement_tempo(
    track_or_speed: Any,
    rate: float = 30.0,
    bpm_range: tuple[float, float] = (40.0, 200.0),
):
    """The dancer's movement tempo (steps per minute) as a :class:`edge.features.audio.TempoEstimate`.

    ``track_or_speed`` is an :class:`edge.features.Track` (times, xy, ok; the summed speed of
    the seen joints is computed at its own timestamps and interpolated to ``rate`` Hz) or a
    1-D speed envelope already sampled at ``rate`` Hz. The periodicity is found by
    :func:`edge.features.audio.estimate_periodicity_bpm`, the estimator used for the songs; an
    envelope too short for the slowest tempo gives ``bpm=nan, confidence=0``.
    """
    from edge.features.audio import TempoEstimate, estimate_periodicity_bpm

    if hasattr(track_or_speed, "xy") and hasattr(track_or_speed, "times"):
        from edge.features.beat import movement_envelope

        _, env = movement_envelope(track_or_speed.times, track_or_speed.xy, track_or_speed.ok, rate)
        if len(env) < 3:
            return TempoEstimate(bpm=float("nan"), confidence=0.0)
    else:
        env = np.asarray(track_or_speed, np.float64).ravel()
        env = np.where(np.isfinite(env), env, 0.0)
    try:
        return estimate_periodicity_bpm(env, rate, bpm_range, start_bpm=100.0)
    except ValueError:
        return TempoEstimate(bpm=float("nan"), confidence=0.0)


# --------------------------------------------------------------------------------------
# Ranking
# --------------------------------------------------------------------------------------


def _relation(ratio: float) -> str:
    return {0.5: " (you move at double the beat)", 2.0: " (you move at half the beat)"}.get(ratio, "")


def recommend(
    probs: np.ndarray,
    movement_bpm: float,
    catalog: Catalog | Iterable[Song],
    k: int = 3,
    labels: Sequence[str] = (),
    *,
    unsure: bool = False,
    w_style: float = W_STYLE,
    w_tempo: float = W_TEMPO,
    music_bpm: float = float("nan"),
    music_log_mel: np.ndarray | None = None,
    reference: np.ndarray | None = None,
) -> list[Recommendation]:
    """The ``k`` best songs for a dancer, best first, each with a ``why``.

    ``probs`` are the calibrated style probabilities over ``labels``; ``movement_bpm`` the
    dancer's movement tempo (NaN if unknown); ``unsure`` the runtime's "unknown style" flag,
    under which the ranking uses tempo (and sound) only. ``music_bpm`` and ``music_log_mel``
    describe the music playing when it is heard (NaN / None otherwise), ``reference`` the
    catalogue's average spectrum for the sound fit. Ties keep catalogue order.
    """
    songs = list(catalog.songs if isinstance(catalog, Catalog) else catalog)
    labels = list(labels)
    if not labels:
        raise ValueError("recommend needs the model's labels (the card's 'labels')")
    p = np.asarray(probs, dtype=np.float64).ravel()
    top = int(np.argmax(p)) if p.size else 0
    heard_bpm = float(music_bpm) if music_bpm is not None else float("nan")
    heard = math.isfinite(heard_bpm) and heard_bpm > 0
    mv = heard_bpm if heard else (float(movement_bpm) if movement_bpm is not None else float("nan"))
    tempo_known = math.isfinite(mv) and mv > 0
    listening = heard or music_log_mel is not None
    ws, wt, wn = (W_STYLE_HEARD, W_TEMPO_HEARD, W_SOUND) if listening else (w_style, w_tempo, 0.0)
    whose = "the music's" if heard else "your"
    unit = "BPM" if heard else "steps/min"
    out: list[Recommendation] = []
    for song in songs:
        sf_ = None if unsure else style_fit(p, song, labels)
        tf_, ratio = (None, 1.0)
        if tempo_known and math.isfinite(song.bpm) and song.bpm > 0:
            tf_, ratio = _tempo_match(song.bpm, mv, TEMPO_SIGMA_OCTAVES)
        nf_ = None
        if music_log_mel is not None and song.log_mel:
            v = sound_similarity(np.asarray(song.log_mel), music_log_mel, reference)
            nf_ = v if math.isfinite(v) else None

        parts = []
        if unsure:
            parts.append("style unsure, ranked by " + ("tempo and sound" if nf_ is not None else "tempo only"))
        elif song.style is None:
            parts.append(f"style unknown ({sf_:.0%} neutral fit to {labels[top]})")
        elif song.style in labels:
            parts.append(f"{song.style} {sf_:.0%} fit")
        else:
            parts.append(f"{song.style} is not a style the model knows (0% fit)")
        if tf_ is not None:
            rel = _relation(ratio) if not heard else {0.5: " (half time)", 2.0: " (double time)"}.get(ratio, "")
            parts.append(f"song {song.bpm:.0f} BPM vs {whose} {mv:.0f} {unit}{rel}: tempo {tf_:.0%} fit")
        elif not math.isfinite(song.bpm) or song.bpm <= 0:
            parts.append("song tempo unknown")
        else:
            parts.append(f"song {song.bpm:.0f} BPM; your tempo is not known yet")
        if nf_ is not None:
            parts.append(f"sounds {nf_:.0%} like the music playing")

        terms = [(ws, sf_), (wt, tf_), (wn, nf_)]
        used = [(w, f) for w, f in terms if f is not None and w > 0]
        if used:
            score = sum(w * f for w, f in used) / sum(w for w, _ in used)
        else:
            score = 0.0
            parts.append("no style or tempo to rank by")
        out.append(Recommendation(song, float(score), sf_, tf_, "; ".join(parts), nf_))
    order = sorted(range(len(out)), key=lambda i: (-out[i].score, i))
    return [out[i] for i in order[: max(int(k), 0)]]
