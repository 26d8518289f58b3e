"""Style packs: dance styles a user teaches edgerec from a few clips, on the device, without
retraining (no TensorFlow).

A style is the mean of its example windows' embeddings in the shipped model's embedding
space (the penultimate layer the card's calibration already describes). It is recognised
by the same test the runtime's "unsure" uses: the Mahalanobis distance under the model's
shared, shrunk covariance (fitted on thousands of training windows, so a handful of
examples only has to place a mean, not estimate a covariance). Given the distances to every
class mean, the model's own and the pack's, the posterior under equal priors
(``softmax(-d²/2)``, linear discriminant analysis) splits the probability between them:
the model's own styles keep their calibrated network probabilities, scaled by their share,
and each user style gets its own. A window further than the model's distance threshold
from every mean stays "unsure".

A pack is a small JSON file (schema :data:`PACK_VERSION`), written atomically and validated
on load: types, sizes, finite numbers, and the fingerprint of the model whose embedding
it lives in, so a pack made with another model is refused rather than misread. It holds
statistics of the examples, never the clips.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import numpy as np

from edge.classify.calibration import mahalanobis
from edge.core import jsonio
from edge.core.errors import UserError
from edge.core.files import atomic_write_text, read_regular_file

PACK_FORMAT = "edgerec-style-pack"
PACK_VERSION = 1
#: Environment variable naming the default pack (else the user's config folder).
PACK_ENV = "EDGEREC_STYLES"
#: Longest style name, and the characters it may use.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.+-]{0,63}$")
MAX_STYLES = 256
_FIX = "re-create it with `edgerec styles add`, or pass another --styles/--pack file"


def default_pack_path() -> Path:
    """``$EDGEREC_STYLES``, else ``$XDG_CONFIG_HOME/edgerec/styles.json`` (``~/.config``)."""
    env = os.environ.get(PACK_ENV)
    if env:
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "edgerec" / "styles.json"


def check_name(name: str) -> str:
    """A style name as the CLI and the JSON lines will show it; one-line error otherwise."""
    name = name.strip()
    if not NAME_RE.match(name):
        raise UserError(repr(name), "not a usable style name",
                        "use 1-64 letters, digits, spaces or _ . + - starting with a letter or digit")
    return name


@dataclass(frozen=True)
class UserStyle:
    """One taught style: its mean embedding and what it was learned from."""

    name: str
    mean: np.ndarray            # (D,)
    windows: int                # example windows behind the mean
    examples: tuple[str, ...]   # the example clips' names (no paths beyond the name)
    #: Median distance of the example windows to their own mean (how tight the style is).
    spread: float
    music_tags: tuple[str, ...] = ()
    songs: tuple[str, ...] = ()
    created: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "mean": np.round(self.mean, 6).tolist(), "windows": self.windows,
                "examples": list(self.examples), "spread": round(float(self.spread), 4),
                "music_tags": list(self.music_tags), "songs": list(self.songs), "created": self.created}


@dataclass(frozen=True)
class ModelRef:
    """Which model's embedding a pack lives in."""

    fingerprint: str
    name: str
    labels: tuple[str, ...]
    embedding_dim: int
    feature_version: int

    def to_json(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "name": self.name, "labels": list(self.labels),
                "embedding_dim": self.embedding_dim, "feature_version": self.feature_version}


@dataclass(frozen=True)
class StylePack:
    model: ModelRef
    styles: tuple[UserStyle, ...] = ()
    path: Optional[str] = field(default=None, compare=False)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.styles]

    def get(self, name: str) -> Optional[UserStyle]:
        return next((s for s in self.styles if s.name.lower() == name.lower()), None)

    def with_style(self, style: UserStyle) -> "StylePack":
        """This pack with ``style`` added, or replacing the one of the same name."""
        kept = tuple(s for s in self.styles if s.name.lower() != style.name.lower())
        if len(kept) >= MAX_STYLES:
            raise UserError(self.path or "the pack", f"already holds {MAX_STYLES} styles", "remove some first")
        return replace(self, styles=kept + (style,))

    def without(self, name: str) -> "StylePack":
        if self.get(name) is None:
            raise UserError(self.path or "the pack", f"has no style {name!r}", f"its styles: {', '.join(self.names)}")
        return replace(self, styles=tuple(s for s in self.styles if s.name.lower() != name.lower()))

    def renamed(self, old: str, new: str) -> "StylePack":
        style = self.get(old)
        if style is None:
            raise UserError(self.path or "the pack", f"has no style {old!r}", f"its styles: {', '.join(self.names)}")
        new = check_name(new)
        if self.get(new) is not None and new.lower() != old.lower():
            raise UserError(self.path or "the pack", f"already has a style {new!r}", "remove it or pick another name")
        return replace(self, styles=tuple(replace(s, name=new) if s is style else s for s in self.styles))

    def to_json(self) -> dict[str, Any]:
        return {"format": PACK_FORMAT, "version": PACK_VERSION, "model": self.model.to_json(),
                "styles": [s.to_json() for s in self.styles]}


# ------------------------------------------------------------------ files


def save_pack(pack: StylePack, path: str | Path) -> Path:
    """Write ``pack`` atomically (temporary file, fsync, rename) and read it back."""
    path = Path(path)
    atomic_write_text(path, jsonio.dumps(pack.to_json(), indent=1) + "\n")
    return path


def _num(v: Any, where: str, what: str, lo: float = -math.inf, hi: float = math.inf) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
        raise UserError(where, f"{what} must be a finite number in [{lo:g}, {hi:g}], got {v!r}", _FIX)
    return float(v)


def _strs(v: Any, where: str, what: str, limit: int = 1000) -> tuple[str, ...]:
    if not isinstance(v, list) or len(v) > limit or not all(isinstance(x, str) and len(x) <= 500 for x in v):
        raise UserError(where, f"{what} must be a list of strings", _FIX)
    return tuple(v)


def parse_pack(data: Any, where: str) -> StylePack:
    """A validated :class:`StylePack` from parsed JSON; one-line :class:`UserError` otherwise."""
    if not isinstance(data, dict) or data.get("format") != PACK_FORMAT:
        raise UserError(where, f"not an edgerec style pack (format != {PACK_FORMAT!r})", _FIX)
    if data.get("version") != PACK_VERSION:
        raise UserError(where, f"style pack version {data.get('version')!r}, this edgerec reads {PACK_VERSION}", _FIX)
    m = data.get("model")
    if not isinstance(m, dict) or not isinstance(m.get("fingerprint"), str) or not isinstance(m.get("name"), str):
        raise UserError(where, "the pack names no model", _FIX)
    dim = int(_num(m.get("embedding_dim"), where, "model.embedding_dim", 1, 65536))
    model = ModelRef(m["fingerprint"], m["name"], _strs(m.get("labels", []), where, "model.labels"), dim,
                     int(_num(m.get("feature_version"), where, "model.feature_version", 0, 1000)))
    raw = data.get("styles")
    if not isinstance(raw, list) or len(raw) > MAX_STYLES:
        raise UserError(where, f"styles must be a list of at most {MAX_STYLES}", _FIX)
    styles, seen = [], set()
    for i, s in enumerate(raw):
        w = f"{where} (style {i + 1})"
        if not isinstance(s, dict) or not isinstance(s.get("name"), str):
            raise UserError(w, "a style without a name", _FIX)
        try:
            name = check_name(s["name"])
        except UserError as exc:
            raise UserError(w, f"{exc.what}: {exc.problem}", _FIX) from None
        if name.lower() in seen:
            raise UserError(w, f"a second style named {name!r}", _FIX)
        seen.add(name.lower())
        mean = s.get("mean")
        if not isinstance(mean, list) or len(mean) != dim:
            raise UserError(w, f"its mean must be a list of {dim} numbers", _FIX)
        vec = np.array([_num(x, w, "every mean value", -1e6, 1e6) for x in mean], np.float64)
        styles.append(UserStyle(name, vec, int(_num(s.get("windows"), w, "windows", 1, 1e9)),
                                _strs(s.get("examples", []), w, "examples"),
                                _num(s.get("spread", 0.0), w, "spread", 0, 1e6),
                                _strs(s.get("music_tags", []), w, "music_tags", 32),
                                _strs(s.get("songs", []), w, "songs", 256),
                                s.get("created", "") if isinstance(s.get("created", ""), str) else ""))
    return StylePack(model, tuple(styles), where)


def load_pack(path: str | Path) -> StylePack:
    """Read and validate a pack file (a regular file of strict JSON); never unpickled."""
    path = Path(path)
    raw = read_regular_file(path, "style pack", _FIX)
    try:
        data = jsonio.loads(raw)
    except RecursionError:
        raise UserError(path, "not a readable style pack (nested too deeply)", _FIX) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise UserError(path, f"not a readable style pack ({str(exc).splitlines()[0]})", _FIX) from None
    return replace(parse_pack(data, str(path)), path=str(path))


def load_or_new(path: str | Path, ref: ModelRef) -> StylePack:
    """The pack at ``path`` (checked against ``ref``), or a new empty one for ``ref``."""
    path = Path(path)
    if not path.exists():
        return StylePack(ref, (), str(path))
    pack = load_pack(path)
    check_model(pack, ref)
    return pack


# ------------------------------------------------------------------ the model side


def model_ref(model: Any) -> ModelRef:
    """The :class:`ModelRef` of a :class:`~edge.classify.model.StyleModel`: its weights'
    checksum (the card's ``weights_sha256``, else the file's sha256)."""
    import hashlib

    cal = getattr(model, "calibration", None)
    if cal is None:
        raise UserError(getattr(model, "path", "the model"), "has no embedding calibration, so styles cannot be "
                        "taught on it", "use the shipped model or one trained by `edgerec train` (edge arch)")
    record = (model.card or {}).get("weights_sha256") or {}
    fingerprint = record.get("value") if isinstance(record, dict) else None
    if not fingerprint:
        fingerprint = hashlib.sha256(Path(model.path).read_bytes()).hexdigest()
    return ModelRef(fingerprint, Path(model.path).name, tuple(model.labels), int(cal.class_means.shape[1]),
                    int(model.spec.version))


def check_model(pack: StylePack, ref: ModelRef) -> None:
    if pack.model.fingerprint != ref.fingerprint or pack.model.embedding_dim != ref.embedding_dim:
        raise UserError(pack.path or "the style pack",
                        f"was made with model {pack.model.name} ({pack.model.fingerprint[:12]}), not with "
                        f"{ref.name} ({ref.fingerprint[:12]})",
                        "teach the styles again with this model, or run with the model the pack was made with")


def learn_style(name: str, embeddings: np.ndarray, model: Any, examples: Sequence[str],
                music_tags: Iterable[str] = (), songs: Iterable[str] = ()) -> UserStyle:
    """A :class:`UserStyle` from the example windows' embeddings ``(N, D)``."""
    emb = np.asarray(embeddings, np.float64)
    if emb.ndim != 2 or len(emb) == 0:
        raise UserError(repr(name), "no example window had a dancer in view long enough",
                        "give clips with the whole body in view for at least 5 s")
    mean = emb.mean(axis=0)
    spread = float(np.median(mahalanobis(emb, mean[None], model.calibration.precision)))
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    return UserStyle(check_name(name), mean, len(emb), tuple(examples), spread, tuple(music_tags), tuple(songs), now)


@dataclass(frozen=True)
class Closest:
    name: str
    distance: float
    own: bool  # one of the model's styles (else a user style)


def closest_styles(style: UserStyle, pack: StylePack, model: Any) -> list[Closest]:
    """Every other style (the model's and the pack's), nearest first, by the distance of
    their means to ``style``'s mean."""
    cal = model.calibration
    names = list(model.labels) + [s.name for s in pack.styles if s.name.lower() != style.name.lower()]
    means = np.vstack([cal.class_means] + [s.mean[None] for s in pack.styles if s.name.lower() != style.name.lower()])
    d = mahalanobis(style.mean[None], means, cal.precision)[0]
    own = len(model.labels)
    return sorted((Closest(n, float(x), i < own) for i, (n, x) in enumerate(zip(names, d))), key=lambda c: c.distance)


class PackedStyleModel:
    """A :class:`~edge.classify.model.StyleModel` that also recognises a pack's styles (or,
    with ``only_pack``, only those); the interface the runtime drives."""

    def __init__(self, base: Any, pack: StylePack, only_pack: bool = False) -> None:
        if base.calibration is None:
            raise UserError(base.path, "has no embedding calibration; style packs need one",
                            "use the shipped model")
        check_model(pack, model_ref(base))
        if only_pack and not pack.styles:
            raise UserError(pack.path or "the style pack", "has no styles", "add one with `edgerec styles add`")
        self.base, self.pack, self.only_pack = base, pack, only_pack
        self.path, self.card, self.spec, self.hop_seconds = base.path, base.card, base.spec, base.hop_seconds
        self.calibration = base.calibration
        own = [] if only_pack else list(base.labels)
        self.labels: list[str] = own + [s.name for s in pack.styles]
        self.means = np.vstack([s.mean[None] for s in pack.styles]) if pack.styles else np.zeros((0, base.calibration
                                                                                                   .class_means.shape[1]))
        self.non_finite = 0

    @property
    def style_links(self) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
        """(style, music tags, song ids) of every user style, for
        :func:`edge.recommend.catalog.with_style_links` (the runtime applies it)."""
        return [(st.name, st.music_tags, st.songs) for st in self.pack.styles]

    def __call__(self, window: np.ndarray) -> tuple[np.ndarray, bool, float]:
        cal = self.calibration
        probs, emb = self.base.backend(window[None])
        if emb is None or not np.isfinite(emb).all() or not np.isfinite(probs).all():
            self.non_finite += 1
            return np.full(len(self.labels), 1.0 / len(self.labels)), True, float("nan")
        d_model = cal.distances(emb)
        a = cal.assess(probs, emb, d_model)
        d_own = d_model[0]
        d_pack = mahalanobis(emb, self.means, cal.precision)[0] if len(self.means) else np.zeros(0)
        d_all = d_pack if self.only_pack else np.concatenate([d_own, d_pack])
        logits = -0.5 * d_all ** 2
        q = np.exp(logits - logits.max())
        q /= q.sum()
        if self.only_pack:
            p = q
        else:
            k = len(self.base.labels)
            p = np.concatenate([a.probs[0] * q[:k].sum(), q[k:]])
        nearest = float(d_all.min())
        unsure = nearest > cal.distance_threshold or float(p.max()) < cal.prob_threshold
        if not self.only_pack and int(np.argmax(p)) < len(self.base.labels):
            unsure = unsure or bool(a.unsure[0])  # the model's own styles keep their own test
        return p, bool(unsure), nearest

    def close(self) -> None:
        self.base.close()
