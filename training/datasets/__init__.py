"""Dataset discovery: every source in a folder laid out like ``../shared/data``.

One table, :data:`SOURCES`, says how to find and load each source; :func:`discover` walks
any folder (the whole data root, one source's folder, or a copy with other clips) and
:func:`load` turns each hit into a :class:`edge.core.schema.PoseSequence`. The location defaults
to ``$EDGEREC_DATA`` or ``../shared/data`` next to the project.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from edge.core.errors import UserError
from edge.core.paths import DATA_ENV
from edge.core.paths import data_root as edge_data_root
from edge.sources.posefile import LANDMARK_SUFFIX, load_landmark_file
from edge.core.schema import PoseSequence

from . import aistpp, music2dance, openpose
from .files import is_regular_file

ENV_VAR = DATA_ENV


def data_root(explicit: Optional[str | Path] = None) -> Path:
    """The data folder: ``explicit``, else ``$EDGEREC_DATA``, else ``../shared/data``
    (one rule for training and the device: :func:`edge.core.paths.data_root`)."""
    return edge_data_root(explicit)


def _cmu_label(path: Path) -> str:
    """CMU takes carry no style in their names: the folder says it (``cmu_salsa`` -> salsa)."""
    name = path.parent.name
    return name[4:] if name.lower().startswith("cmu_") else name


def _load_cmu(path: Path) -> PoseSequence:
    from .cmu import load_cmu_bvh

    return load_cmu_bvh(path, label=_cmu_label(path))


# Discovery keeps regular files only: a FIFO, device or socket named like a data file is
# never a clip (opening a FIFO would block `data info` forever).


def _find_m2d(root: Path) -> list[Path]:
    hits = {p.parent for n in music2dance.SKELETON_NAMES for p in root.rglob(n) if is_regular_file(p)}
    return sorted(hits)


def _find_bvh(root: Path) -> list[Path]:
    return sorted(p for p in set(root.rglob("*.bvh")) | set(root.rglob("*.bvh.gz")) if is_regular_file(p))


def _find_aistpp(root: Path) -> list[Path]:
    return sorted(
        p for p in root.rglob("*.npy")
        if is_regular_file(p)
        and not p.name.endswith(LANDMARK_SUFFIX)
        and not p.name.endswith("_world.npy")
        and aistpp.find_scaler(p) is not None
    )


#: A folder of this name holds ``<style>/<clip>.mp4`` real videos with their landmark files.
REALVIDEO_FOLDER = "realvideo"


def _is_realvideo(path: Path) -> bool:
    return path.parent.parent.name == REALVIDEO_FOLDER


def _find_landmarks(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*" + LANDMARK_SUFFIX) if not _is_realvideo(p) and is_regular_file(p))


def _find_realvideo(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*" + LANDMARK_SUFFIX) if _is_realvideo(p) and is_regular_file(p))


def _load_realvideo(path: Path) -> PoseSequence:
    """A real video's landmarks, labelled by its style folder.

    Without a dancer's name the whole style folder is one split group (``bachata/`` is one
    couple); sharing a group never leaks, splitting one dancer's clips would.
    """
    from dataclasses import replace

    style = path.parent.name
    seq = load_landmark_file(path, label=style)
    stem = path.name[: -len(LANDMARK_SUFFIX)]
    return replace(seq, source="realvideo", group=f"realvideo:{style}", clip_id=f"realvideo:{style}/{stem}",
                   meta={**seq.meta, "real_video": True})


@dataclass(frozen=True)
class Source:
    """How to find one kind of clip in a folder and load it."""

    name: str
    description: str
    find: Callable[[Path], list[Path]]
    load: Callable[[Path], PoseSequence]


SOURCES: tuple[Source, ...] = (
    Source("music2dance", "3D mocap + song (DANCE_<C|R|W|T>_<n>/skeletons.json.gz)", _find_m2d, music2dance.load_clip),
    Source("cmu", "3D mocap BVH (<folder>/<subject>_<take>.bvh[.gz]; label = folder name without 'cmu_')", _find_bvh, _load_cmu),
    Source("aistpp", "2D COCO-17 keypoints (<genre>/<clip>.npy with kps_scaler.json in a folder above; label = folder name)", _find_aistpp, aistpp.load_clip),
    Source("openpose", "OpenPose BODY_25 JSON frames (<style>/<dancer>/json/, meta.json; label = style, "
           "group = dancer)", openpose.find_sequences, openpose.load_sequence),
    Source("realvideo", "real videos' MediaPipe landmark files (realvideo/<style>/; label = style folder)",
           _find_realvideo, _load_realvideo),
    Source("mediapipe", "MediaPipe 33-landmark files (<name>_mediapipe33.npy; label = file stem)", _find_landmarks, load_landmark_file),
)
SOURCE_BY_NAME = {s.name: s for s in SOURCES}


@dataclass(frozen=True)
class ClipRef:
    """A clip found on disk, not yet loaded."""

    source: str
    path: Path


def discover(root: str | Path, sources: Optional[tuple[str, ...]] = None) -> list[ClipRef]:
    """Every clip of every (or the named) source under ``root``, in a stable order (regular
    files only; an empty list when there are none: :func:`require_clips` says so)."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(
            f"{root}: data folder not found; pass --data or set {ENV_VAR} to the data folder"
        )
    if not root.is_dir():
        raise UserError(root, "is not a folder", f"pass --data or set {ENV_VAR} to the data folder")
    refs: list[ClipRef] = []
    for src in SOURCES:
        if sources is not None and src.name not in sources:
            continue
        refs.extend(ClipRef(src.name, p) for p in src.find(root))
    return refs


def layout_help() -> str:
    """The layouts :func:`discover` recognises, in one line (for "no clips found")."""
    return "expected one of: " + "; ".join(f"{s.name}: {s.description}" for s in SOURCES)


def require_clips(root: str | Path, sources: Optional[tuple[str, ...]] = None) -> list[ClipRef]:
    """:func:`discover`, but a folder with no clips is a :class:`UserError` naming the layouts."""
    refs = discover(root, sources)
    if not refs:
        which = f" of {', '.join(sources)}" if sources else ""
        raise UserError(root, f"no clips{which} found", layout_help())
    return refs


def load(ref: ClipRef) -> PoseSequence:
    """Load one discovered clip; malformed files raise ``ValueError`` naming the file."""
    return SOURCE_BY_NAME[ref.source].load(ref.path)


def load_all(
    root: str | Path, sources: Optional[tuple[str, ...]] = None, progress: bool = False,
    independent: bool = True,
) -> list[PoseSequence]:
    """Load every clip under ``root`` (with a progress bar when asked).

    With ``independent`` (the default, used by training, evaluation and conversion alike),
    motion that several clips share is removed or their groups merged
    (:func:`training.windows.remove_shared_motion`), so every consumer sees the same clips.
    """
    refs = discover(root, sources)
    if not progress:
        out = [load(r) for r in refs]
        return _independent(out) if independent else out
    from edge.core.optional import require

    tqdm = require("tqdm", "train").tqdm
    out = []
    # the context manager clears the bar even when a file is malformed, so the error
    # message starts on a clean line
    with tqdm(total=len(refs), desc="loading clips", unit="clip", leave=False) as bar:
        for r in refs:
            out.append(load(r))
            bar.update(1)
    return _independent(out) if independent else out


def _independent(seqs: list[PoseSequence]) -> list[PoseSequence]:
    from training.windows import remove_shared_motion

    return remove_shared_motion(seqs)
