"""Property-based fuzzing of every loader and file reader (issue 12: no traceback, no hang).

For each reader, Hypothesis feeds random bytes, mutations of a valid file (bit flips,
truncations, splices, overwrites, duplicated ranges: the seeds come from the real shared
data when it is present, else small synthesized files) and JSON documents of random shape
(a valid document with parts replaced by random values, or random JSON outright). The
property: the reader returns a valid result, or raises ``ValueError`` (``UserError``) or
``OSError`` with a one-line message naming the file. Anything else fails, and so does an
example still running after :data:`HANG_SECONDS` (a SIGALRM in the main thread).

Reproducible and repository-clean: ``derandomize=True`` (the same examples on every run)
and ``database=None`` (no ``.hypothesis`` folder). ``EDGEREC_FUZZ_EXAMPLES`` sets the
examples per reader (default :data:`DEFAULT_EXAMPLES`, about 30-60 s for the whole file on
two cores); raise it to fuzz longer on demand, e.g. ``EDGEREC_FUZZ_EXAMPLES=5000``. The
outcome counts per reader are printed at the end of the module.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import functools
import gzip
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis", reason="fuzzing needs hypothesis (the dev extra)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.configuration import set_hypothesis_home_dir  # noqa: E402

# Hypothesis caches (its constants and Unicode tables) even without a database; keep them out
# of the repository, in a temporary folder removed at exit.
_HOME = tempfile.mkdtemp(prefix="edgerec-hypothesis-")
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
set_hypothesis_home_dir(_HOME)

from conftest import real_data_root  # noqa: E402
from edge.classify.metadata import CARD_FORMAT, card_json, parse_card, read_card  # noqa: E402
from edge.core.schema import PoseSequence  # noqa: E402
from edge.recommend.catalog import Catalog, load_catalog  # noqa: E402
from edge.sources import posefile  # noqa: E402
from edge.sources.posefile import load_landmark_file  # noqa: E402
from training.datasets import aistpp, music2dance, openpose  # noqa: E402
from training.datasets.cmu import load_cmu_bvh  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = real_data_root()
DEFAULT_EXAMPLES = 500
EXAMPLES = max(1, int(os.environ.get("EDGEREC_FUZZ_EXAMPLES", DEFAULT_EXAMPLES)))
HANG_SECONDS = 5

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=4),  # per example; a hang is caught by the alarm below
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                           HealthCheck.large_base_example, HealthCheck.differing_executors],
)

#: reader -> Counter of outcomes ("results", "clean errors", "failures"), printed at the end.
OUTCOMES: dict[str, Counter] = defaultdict(Counter)


@pytest.fixture(scope="module", autouse=True)
def _report(pytestconfig):
    yield
    tr = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    if tr is None or not OUTCOMES:
        return
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        _write_outcomes(tr)


def _write_outcomes(tr) -> None:
    tr.write_line("")
    tr.write_line(f"fuzz outcomes ({EXAMPLES} examples per reader, set by EDGEREC_FUZZ_EXAMPLES; replays included):")
    for name, c in sorted(OUTCOMES.items()):
        tr.write_line(f"  {name:18s} {sum(c.values()):6d} examples: {c['results']:5d} results, "
                      f"{c['clean errors']:5d} clean errors, {c['failures']:3d} failures")


from test_readers import Hang, no_hang as time_limit  # noqa: E402  (one alarm for both suites)


def check(name: str, names: str | Path, call: Callable[[], Any], valid: Callable[[Any], None] = lambda r: None):
    """The property: a valid result, or a one-line ValueError/OSError naming ``names``."""
    try:
        with time_limit(HANG_SECONDS):
            result = call()
    except Hang:
        OUTCOMES[name]["failures"] += 1
        raise AssertionError(f"{name}: the reader hung (over {HANG_SECONDS} s)") from None
    except (ValueError, OSError) as exc:
        message = str(exc)
        ok = bool(message.strip()) and "\n" not in message.strip() and str(names) in message
        OUTCOMES[name]["clean errors" if ok else "failures"] += 1
        assert message.strip(), f"{name}: {type(exc).__name__} without a message"
        assert "\n" not in message.strip(), f"{name}: a message of several lines: {message!r}"
        assert str(names) in message, f"{name}: the message does not name {names}: {message!r}"
        return
    except BaseException:
        OUTCOMES[name]["failures"] += 1
        raise
    try:
        valid(result)
    except BaseException:
        OUTCOMES[name]["failures"] += 1
        raise
    OUTCOMES[name]["results"] += 1


def valid_sequence(seq: Any) -> None:
    assert isinstance(seq, PoseSequence)
    assert seq.num_frames >= 1 and np.isfinite(seq.points).all() and np.isfinite(seq.times).all()
    assert seq.fps > 0 and np.isfinite(seq.fps)


# ------------------------------------------------------------------ strategies


def _apply(seed: bytes, ops: list[tuple[str, int, int, bytes, bool]]) -> bytes:
    """Mutations of ``seed``; positions favour the ends (headers, footers, small tables)."""
    out = bytearray(seed)
    for op, a, b, chunk, from_end in ops:
        n = len(out)
        if n == 0:
            out += chunk
            continue
        scale = 1 << (4 + a % 20)  # a window of 16 B .. 8 MB from the start (or the end)
        pos = (a >> 5) % min(n, scale)
        if from_end:
            pos = n - 1 - pos
        length = 1 + b % 64
        if op == "flip":
            out[pos] ^= 1 << (b % 8)
        elif op == "truncate":
            del out[pos:]
        elif op == "insert":
            out[pos:pos] = chunk
        elif op == "delete":
            del out[pos:pos + length]
        elif op == "overwrite":
            out[pos:pos + len(chunk)] = chunk
        elif op == "duplicate":
            out[pos:pos] = out[pos:pos + length]
        elif op == "interesting":
            out[pos] = (0x00, 0xFF, 0x7F, 0x80, 0x01, 0x20, 0x22, 0x5B, 0x7B)[b % 9]
    return bytes(out)


_OPS = st.lists(st.tuples(st.sampled_from(["flip", "truncate", "insert", "delete", "overwrite", "duplicate",
                                           "interesting"]),
                          st.integers(0, 2 ** 40), st.integers(0, 2 ** 16), st.binary(min_size=1, max_size=24),
                          st.booleans()),
                min_size=1, max_size=5)


def mutations(*seeds: bytes) -> st.SearchStrategy[bytes]:
    return st.builds(_apply, st.sampled_from(seeds), _OPS)


RANDOM_BYTES = st.binary(max_size=2048)

_JSON_LEAF = (st.none() | st.booleans() | st.integers(-(2 ** 70), 2 ** 70)
              | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))
JSON_VALUES = st.recursive(_JSON_LEAF, lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=5), max_leaves=16)


@st.composite
def json_edits(draw, doc: Any) -> Any:
    """``doc`` with one to three parts replaced by random JSON (or removed)."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        parent, key, node = None, None, doc
        for _ in range(draw(st.integers(0, 5))):
            if isinstance(node, dict) and node:
                key = draw(st.sampled_from(sorted(node)))
            elif isinstance(node, list) and node:
                key = draw(st.integers(0, len(node) - 1))
            else:
                break
            parent, node = node, node[key]
        if parent is None:
            doc = draw(JSON_VALUES)
        elif isinstance(parent, dict) and draw(st.integers(0, 4)) == 0:
            del parent[key]
        else:
            parent[key] = draw(JSON_VALUES)
    return doc


def json_bytes(doc: Any) -> st.SearchStrategy[bytes]:
    """Every way a JSON file can be wrong: structured edits, random JSON, byte mutations."""
    valid = json.dumps(doc).encode()
    encode = lambda d: json.dumps(d, allow_nan=True).encode()  # noqa: E731 - NaN and Infinity too
    return st.one_of(json_edits(doc).map(encode), JSON_VALUES.map(encode), mutations(valid), RANDOM_BYTES,
                     st.just(valid))


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=arr.dtype.hasobject)
    return buf.getvalue()


@st.composite
def random_arrays(draw, typical: tuple[int, ...]) -> bytes:
    """np.save of arrays of odd dtypes and shapes (objects, structures, strings, NaN, inf)."""
    dtype = draw(st.sampled_from(["<f4", ">f8", "<f2", "<i8", "|u1", "|b1", "<c8", "<U3", "object",
                                  "structured", "<M8[s]"]))
    shape = draw(st.one_of(st.just(typical), st.lists(st.integers(0, 5), max_size=4).map(tuple),
                           st.just((0,) + typical[1:]), st.just((1,) + typical[1:])))
    n = int(np.prod(shape))
    if dtype == "object":
        arr = np.array([None] * n, dtype=object).reshape(shape)
    elif dtype == "structured":
        arr = np.zeros(shape, dtype=[("x", "<f4"), ("y", "<f4")])
    else:
        arr = np.zeros(shape, dtype=dtype)
        if arr.dtype.kind == "f":
            fill = draw(st.sampled_from([0.5, np.nan, np.inf, -np.inf, 1e30, -0.0]))
            with np.errstate(over="ignore"):
                arr = arr + np.asarray(fill, dtype=arr.dtype)
    return _npy(arr)


# ------------------------------------------------------------------ seeds


def _landmarks(frames: int = 8) -> np.ndarray:
    rng = np.random.default_rng(1)
    arr = rng.uniform(0.05, 0.95, (frames, 33, 4)).astype(np.float32)
    arr[2] = np.nan
    return arr


@functools.lru_cache(maxsize=None)
def _real_landmarks() -> list[bytes]:
    files = sorted((DATA / "realvideo").rglob("*_mediapipe33.npy")) if DATA.is_dir() else []
    return [_npy(np.load(files[0])[:20])] if files else []


TINY_BVH = """HIERARCHY
ROOT Hips
{
\tOFFSET 0 0.9 0
\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
\tJOINT lThigh
\t{
\t\tOFFSET 0.1 0 0
\t\tCHANNELS 3 Zrotation Xrotation Yrotation
\t\tJOINT lShin
\t\t{
\t\t\tOFFSET 0 -0.45 0
\t\t\tCHANNELS 3 Zrotation Xrotation Yrotation
\t\t\tEnd Site
\t\t\t{
\t\t\t\tOFFSET 0 -0.45 0
\t\t\t}
\t\t}
\t}
}
MOTION
Frames: 3
Frame Time: 0.008333
0 0.9 0 0 0 0 10 0 0 5 0 0
0.1 0.9 0 1 2 3 20 0 0 10 0 0
0.2 0.9 0 2 4 6 30 0 0 15 0 0
"""


@functools.lru_cache(maxsize=None)
def _bvh_seeds() -> list[bytes]:
    seeds = [TINY_BVH.encode(), gzip.compress(TINY_BVH.encode())]
    real = DATA / "cmu_salsa" / "60_01.bvh.gz"
    if real.is_file():
        text = gzip.decompress(real.read_bytes()).decode()
        head, motion = text.split("MOTION", 1)
        lines = motion.strip().splitlines()
        short = head + "MOTION\nFrames: 3\n" + "\n".join(lines[1:5]) + "\n"
        seeds += [short.encode(), gzip.compress(short.encode())]
    return seeds


@functools.lru_cache(maxsize=None)
def _m2d_doc() -> dict:
    real = DATA / "music2dance" / "DANCE_W_7" / "skeletons.json.gz"
    if real.is_file():
        doc = json.loads(gzip.decompress(real.read_bytes()))
        return {**doc, "length": 4, "skeletons": doc["skeletons"][:4], "center": doc["center"][:4]}
    return {"length": 4, "center": [[0.0, 90.0, 0.0]] * 4,
            "skeletons": [[[float(j), 10.0, 1.0] for j in range(23)]] * 4}


@functools.lru_cache(maxsize=None)
def _openpose_frame() -> dict:
    real = DATA / "openpose" / "salsa" / "Gustavo" / "json" / "frame-000000.json"
    if real.is_file():
        return json.loads(real.read_text())
    return {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": [100.0, 200.0, 0.9] * 25}]}


def _onnx_bytes(card: bytes) -> bytes:
    """A one-node (Identity) ONNX model carrying ``card``, encoded by hand (no onnx package)."""
    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            b, n = n & 0x7F, n >> 7
            out.append(b | (0x80 if n else 0))
            if not n:
                return bytes(out)

    def field(num: int, value: int | str | bytes) -> bytes:
        if isinstance(value, int):
            return varint(num << 3) + varint(value)
        value = value.encode() if isinstance(value, str) else value
        return varint(num << 3 | 2) + varint(len(value)) + value

    tensor = field(1, field(1, 1) + field(2, field(1, field(1, 1)) + field(1, field(1, 4))))
    info = lambda name: field(1, name) + field(2, tensor)  # noqa: E731
    node = field(1, "x") + field(2, "y") + field(3, "id") + field(4, "Identity")
    graph = field(1, node) + field(2, "g") + field(11, info("x")) + field(12, info("y"))
    return (field(1, 8) + field(2, "edgerec-test") + field(7, graph) + field(8, field(1, "") + field(2, 13))
            + field(14, field(1, "edgerec_card") + field(2, card)))


CARD = {"labels": ["salsa", "waltz"], "hop_seconds": 1.0, "preprocessing": "windows",
        "calibration": {"method": "temperature + mahalanobis", "temperature": 1.5,
                        "class_means": [[0.0, 0.0], [1.0, 1.0]], "precision": [[1.0, 0.0], [0.0, 1.0]],
                        "distance_threshold": 3.0, "prob_threshold": 0.5}}


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# ------------------------------------------------------------------ the readers


@FUZZ
@given(data=st.data())
def test_fuzz_landmark_npy(work, data):
    seeds = [_npy(_landmarks())] + list(_real_landmarks())
    raw = data.draw(st.one_of(mutations(*seeds), random_arrays((8, 33, 4)), RANDOM_BYTES))
    path = work / "clip_mediapipe33.npy"
    path.write_bytes(raw)
    check("landmark .npy", path, lambda: load_landmark_file(path, fps=30.0, image_size=(640, 360)), valid_sequence)


@FUZZ
@given(data=st.data())
def test_fuzz_landmark_sidecar(work, data):
    folder = work / "sidecar"
    folder.mkdir(exist_ok=True)
    npy = folder / "clip_mediapipe33.npy"
    if not npy.exists():
        np.save(npy, _landmarks())
    sidecar = {"schema": posefile.SIDECAR_SCHEMA, "schema_version": 1, "fps": 30.0, "width": 640, "height": 360,
               "frames": 8, "label": "salsa", "pose": "native"}
    posefile.sidecar_path(npy).write_bytes(data.draw(json_bytes(sidecar)))
    check("landmark sidecar", folder, lambda: load_landmark_file(npy), valid_sequence)


_BVH_TOKENS = ["", "{", "}", "ROOT", "JOINT", "End", "Site", "OFFSET", "CHANNELS", "MOTION", "HIERARCHY",
               "Frames:", "Frame Time:", "0", "-1", "3", "6", "1e999", "-1e308", "nan", "inf", "1-2", "1_0", "0x10",
               "abc", "Xposition", "Zrotation", "99999999999999999999", "\n", "\t", "\x00", "\xff"]


@st.composite
def bvh_token_edits(draw, text: str) -> bytes:
    """A BVH with one to four whitespace-separated tokens replaced, dropped or duplicated."""
    tokens = text.split(" ")
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(tokens) - 1))
        new = draw(st.sampled_from(_BVH_TOKENS) | st.text(max_size=6))
        tokens[i:i + 1] = draw(st.sampled_from([[new], [], [tokens[i], tokens[i]], [tokens[i] + new]]))
    return " ".join(tokens).encode("utf-8", "surrogatepass")


@FUZZ
@given(data=st.data())
def test_fuzz_bvh(work, data):
    seeds = list(_bvh_seeds())
    texts = [t.decode() for t in seeds if t[:2] != b"\x1f\x8b"]
    raw = data.draw(st.one_of(mutations(*seeds), st.sampled_from(texts).flatmap(bvh_token_edits), RANDOM_BYTES))
    path = work / ("60_01.bvh.gz" if raw[:2] == b"\x1f\x8b" else "60_01.bvh")
    path.write_bytes(raw)
    check("CMU BVH", path, lambda: load_cmu_bvh(path, label="salsa"), valid_sequence)


@FUZZ
@given(data=st.data())
def test_fuzz_music2dance(work, data):
    folder = work / "DANCE_W_1"
    folder.mkdir(exist_ok=True)
    doc = _m2d_doc()
    plain = json.dumps(doc).encode()
    skeleton = data.draw(st.one_of(
        json_edits(doc).map(lambda d: gzip.compress(json.dumps(d, allow_nan=True).encode())),
        mutations(gzip.compress(plain)), json_bytes(doc), RANDOM_BYTES))
    for name in music2dance.SKELETON_NAMES:
        (folder / name).unlink(missing_ok=True)
    (folder / data.draw(st.sampled_from(music2dance.SKELETON_NAMES))).write_bytes(skeleton)
    (folder / "config.json").write_bytes(data.draw(st.one_of(st.just(b'{"start_position": 65, "end_position": 1294}'),
                                                           json_bytes({"start_position": 65, "end_position": 1294}))))
    check("Music-to-Dance", folder, lambda: music2dance.load_clip(folder), valid_sequence)


@functools.lru_cache(maxsize=None)
def _aistpp_seed() -> bytes:
    real = sorted((DATA / "aistpp").rglob("*.npy")) if DATA.is_dir() else []
    return _npy(np.load(real[0])[:10]) if real else _npy(np.zeros((10, 34), np.float32))


@functools.lru_cache(maxsize=None)
def _asset(name: str) -> bytes:
    return (REPO / "edge" / "assets" / name).read_bytes()


@FUZZ
@given(data=st.data())
def test_fuzz_aistpp(work, data):
    root = work / "aist"
    (root / "house").mkdir(parents=True, exist_ok=True)
    seed = _aistpp_seed()
    path = root / "house" / "gHO_sFM_cAll_d19_mHO0_ch01.npy"
    path.write_bytes(data.draw(st.one_of(mutations(seed), random_arrays((10, 34)), RANDOM_BYTES)))
    scaler = {"mean": [958.14, 612.29], "scale": [132.31, 128.45], "note": "StandardScaler"}
    (root / aistpp.SCALER_NAME).write_bytes(data.draw(st.one_of(st.just(json.dumps(scaler).encode()),
                                                                json_bytes(scaler))))
    check("AIST++", root, lambda: aistpp.load_clip(path), valid_sequence)


@FUZZ
@given(data=st.data())
def test_fuzz_openpose(work, data):
    folder = work / "salsa" / "Dancer"
    (folder / "json").mkdir(parents=True, exist_ok=True)
    frame = _openpose_frame()
    good = json.dumps(frame).encode()
    meta = {"fps": 30.0, "width": 848, "height": 560, "dancer": "Dancer"}
    (folder / "meta.json").write_bytes(data.draw(st.one_of(st.just(json.dumps(meta).encode()), json_bytes(meta))))
    for i in range(3):
        (folder / "json" / f"frame-{i:06d}.json").write_bytes(good if i != 1 else data.draw(json_bytes(frame)))
    check("OpenPose", folder, lambda: openpose.load_sequence(folder), valid_sequence)


def _catalog_and_songs(path: Path) -> Catalog:
    loaded = load_catalog(path)
    for song in loaded.songs:  # resolving imports nothing; a refusal is one line naming the song
        try:
            assert isinstance(song.resolve(path), Path)
        except ValueError as exc:
            assert f"song {song.id!r}" in str(exc) and "\n" not in str(exc), str(exc)
    return loaded


@FUZZ
@given(data=st.data())
def test_fuzz_catalogue(work, data):
    doc = json.loads(_asset("default_catalog.json"))
    doc = {**doc, "songs": doc["songs"][:3] + [{**doc["songs"][0], "id": "local", "root": "catalog",
                                                "path": "../music/a.wav"}]}
    path = work / "catalog.json"
    path.write_bytes(data.draw(json_bytes(doc)))
    check("catalogue", path, lambda: _catalog_and_songs(path),
          lambda c: isinstance(c, Catalog) and len(c) > 0)


@FUZZ
@given(data=st.data())
def test_fuzz_card_tflite(work, data):
    seed = _asset("default_edge_float16.tflite")
    path = work / "model.tflite"
    path.write_bytes(data.draw(st.one_of(mutations(seed), mutations(seed[:4096]), RANDOM_BYTES,
                                         RANDOM_BYTES.map(lambda b: b[:4] + b"TFL3" + b[8:]))))
    check("card .tflite", path, lambda: read_card(path), lambda c: isinstance(c, dict))


@FUZZ
@given(data=st.data())
def test_fuzz_card_onnx(work, data):
    ort = pytest.importorskip("onnxruntime")
    ort.set_default_logger_severity(4)  # its own warnings about the broken graphs are noise here
    seed = _onnx_bytes(card_json(CARD))
    path = work / "model.onnx"
    path.write_bytes(data.draw(st.one_of(mutations(seed), json_bytes({"format": CARD_FORMAT, **CARD})
                                         .map(_onnx_bytes), RANDOM_BYTES)))
    check("card .onnx", path, lambda: read_card(path), lambda c: isinstance(c, dict))


@FUZZ
@given(data=st.data())
def test_fuzz_card_json(work, data):
    text = data.draw(json_bytes({"format": CARD_FORMAT, **CARD}))
    check("card JSON", "m.card.json", lambda: parse_card(text, "m.card.json"), lambda c: isinstance(c, dict))
    model = work / "m.keras"  # the same bytes as a sidecar, through read_card
    model.write_bytes(b"PK\x03\x04")
    side = work / "m.card.json"
    side.write_bytes(text)
    check("card JSON", side, lambda: read_card(model), lambda c: isinstance(c, dict))


@functools.lru_cache(maxsize=None)
def _wheel_seed() -> bytes:
    from edge.pose.models import MODEL_FILES

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mediapipe/__init__.py", "")
        for member, _, _ in MODEL_FILES.values():
            zf.writestr(member, b"TFL3" * 64)
    return buf.getvalue()


@FUZZ
@given(data=st.data())
def test_fuzz_pose_wheel(work, data):
    from edge.pose.models import fetch_pose_models

    wheel = work / "mediapipe-0.10.14-py3-none-any.whl"
    wheel.write_bytes(data.draw(st.one_of(mutations(_wheel_seed()), RANDOM_BYTES)))
    check("pose wheel", wheel.name, lambda: fetch_pose_models(work / "models", wheel))


@functools.lru_cache(maxsize=None)
def _audio_seeds() -> tuple[bytes, ...]:
    """A short WAV and FLAC of a tone with clicks, and (PyAV present) an MP4 with its AAC track."""
    sf = pytest.importorskip("soundfile")
    sr = 8000
    t = np.arange(int(0.4 * sr)) / sr
    y = (0.3 * np.sin(2 * np.pi * 440 * t) + (np.mod(t, 0.1) < 0.005)).astype(np.float32)
    out = []
    for fmt in ("WAV", "FLAC"):
        buf = io.BytesIO()
        sf.write(buf, y, sr, format=fmt)
        out.append(buf.getvalue())
    try:
        import av
    except ImportError:
        return tuple(out)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as box:
        stream = box.add_stream("aac", rate=sr)
        frame = av.AudioFrame.from_ndarray(y[None, :], format="flt", layout="mono")
        frame.sample_rate = sr
        for packet in stream.encode(frame):
            box.mux(packet)
        for packet in stream.encode(None):
            box.mux(packet)
    out.append(buf.getvalue())
    return tuple(out)


def _read_all_audio(make: Callable[[], Any]) -> list[Any]:
    """Every chunk of an audio source; its AudioError (one line, naming the file) as a ValueError."""
    from edge.sources.audio import AudioError

    try:
        source = make()
        try:
            return source.read_until(1e9)
        finally:
            source.close()
    except AudioError as exc:
        raise ValueError(str(exc)) from None


def _valid_chunks(chunks: list[Any]) -> None:
    for c in chunks:
        assert c.samples.ndim == 1 and c.samples.dtype == np.float32 and np.isfinite(c.samples).all()
        assert c.sample_rate > 0 and np.isfinite(c.t)


@FUZZ
@given(data=st.data())
def test_fuzz_audio_file(work, data):
    from edge.sources.audio import FileAudioSource

    raw = data.draw(st.one_of(mutations(*_audio_seeds()), RANDOM_BYTES))
    path = work / "music.wav"
    path.write_bytes(raw)
    check("audio file (--audio)", path, lambda: _read_all_audio(lambda: FileAudioSource(path)), _valid_chunks)


@FUZZ
@given(data=st.data())
def test_fuzz_video_sound_track(work, data):
    pytest.importorskip("av", reason="a video's sound track is read by PyAV (the audio extra)")
    from edge.sources.audio import VideoAudioSource

    raw = data.draw(st.one_of(mutations(*_audio_seeds()), RANDOM_BYTES))
    path = work / "dance.mp4"
    path.write_bytes(raw)
    check("video sound track", path, lambda: _read_all_audio(lambda: VideoAudioSource(path)), _valid_chunks)
