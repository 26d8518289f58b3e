"""One measurement in its own process, so its memory figures belong to it alone.

``python -m benchmarks.worker model FILE --threads N --runs R --warmup W [--cores C]``
loads one model file the way its format is deployed, and times single-window inferences
the way TFLite's ``benchmark_model`` and ``onnxruntime_perf_test`` do: initialisation,
the first inference, a warm-up, then ``R`` timed runs. ``python -m benchmarks.worker
pipeline VIDEO ...`` runs the real runtime end to end. Both print one JSON object on the
last line of stdout, including the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edge.core import jsonio


def _rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB.

    Linux's ``VmHWM`` belongs to this program's address space. ``ru_maxrss`` is not used
    on Linux: it survives ``exec`` and so reports the parent's peak at fork time (a parent
    that had loaded TensorFlow made every worker look 900 MB large).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def _current_rss_mb() -> float:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except (OSError, ValueError, IndexError):
        return float("nan")


def _open_converted(path: Path, threads: int) -> tuple[Callable[[np.ndarray], Any], dict, str]:
    from edge.classify.backends import load_backend

    backend = load_backend(path, threads=threads)
    return backend, backend.card, backend.name


def _open_keras(path: Path, threads: int) -> tuple[Callable[[np.ndarray], Any], dict, str]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    from training.card import read_card

    model = keras.models.load_model(path, compile=False)
    # a traced function is how a Keras model is served fastest; plain model.predict adds
    # per-call overhead that no deployment pays
    fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    return (lambda x: fn(tf.constant(x))), read_card(path), "tensorflow"


def _open_baseline(path: Path, threads: int) -> tuple[Callable[[np.ndarray], Any], dict, str]:
    from training.baseline import BaselineModel
    from training.card import read_card

    model = BaselineModel.load(path)
    return model.predict_proba, read_card(path), "numpy"


#: Model file suffix -> how it is opened for timing. Converted formats use the edge backends.
OPENERS: dict[str, Callable[[Path, int], tuple[Callable[[np.ndarray], Any], dict, str]]] = {
    ".tflite": _open_converted,
    ".onnx": _open_converted,
    ".keras": _open_keras,
    ".json": _open_baseline,
}


def _input_shape(card: dict) -> tuple[int, ...]:
    shape = (card.get("input") or {}).get("shape")
    if not shape:
        raise ValueError("the model card records no input shape")
    return tuple(int(d) for d in shape[1:])


def bench_model(path: Path, threads: int, runs: int, warmup: int, seed: int = 0) -> dict[str, Any]:
    """Time one model file: init, first inference, ``runs`` single-window inferences."""
    opener = OPENERS.get(path.suffix)
    if opener is None:
        raise ValueError(f"{path}: cannot benchmark {path.suffix!r} files; give .tflite, .onnx, .keras or .json")
    rss_before = _current_rss_mb()
    t0 = time.perf_counter()
    run, card, backend = opener(path, threads)
    init_ms = (time.perf_counter() - t0) * 1e3
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, *_input_shape(card))).astype(np.float32)
    t0 = time.perf_counter()
    run(x)
    first_ms = (time.perf_counter() - t0) * 1e3
    for _ in range(warmup):
        run(x)
    times = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter_ns()
        run(x)
        times[i] = (time.perf_counter_ns() - t0) / 1e6
    export = card.get("export") or {}
    return {
        "file": str(path), "size_bytes": path.stat().st_size, "arch": card.get("arch"),
        "format": export.get("format") or {".keras": "keras", ".json": "baseline-json"}.get(path.suffix),
        "backend": backend, "threads": threads, "runs": runs, "warmup": warmup,
        "init_ms": round(init_ms, 3), "first_ms": round(first_ms, 3),
        "mean_ms": round(float(times.mean()), 4), "p50_ms": round(float(np.percentile(times, 50)), 4),
        "p90_ms": round(float(np.percentile(times, 90)), 4), "p99_ms": round(float(np.percentile(times, 99)), 4),
        "min_ms": round(float(times.min()), 4),
        "rss_before_mb": rss_before, "peak_rss_mb": _rss_mb(),
    }


def bench_pipeline(video: str, threads: int, pose: str, pose_every: int, max_frames: int | None,
                   realtime: bool) -> dict[str, Any]:
    """Run ``edgerec run --video`` in this process and return its summary plus memory."""
    from edge.runtime.session import RunOptions, run_pipeline

    opts = RunOptions(video=video, threads=threads, pose=pose, pose_every=pose_every, max_frames=max_frames,
                      realtime=realtime, quiet=True)
    summary = run_pipeline(opts, emit=lambda _line: None, log=lambda _msg: None)
    summary["peak_rss_mb"] = _rss_mb()
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    sub = ap.add_subparsers(dest="kind", required=True)
    m = sub.add_parser("model")
    m.add_argument("file", type=Path)
    m.add_argument("--threads", type=int, default=1)
    m.add_argument("--runs", type=int, default=1000)
    m.add_argument("--warmup", type=int, default=50)
    m.add_argument("--cores", type=int, default=None)
    p = sub.add_parser("pipeline")
    p.add_argument("video")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--pose", default="auto")
    p.add_argument("--pose-every", type=int, default=1)
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--realtime", action="store_true")
    p.add_argument("--cores", type=int, default=None)
    args = ap.parse_args(argv)
    from benchmarks.env import pin_cores

    try:
        pinned = pin_cores(args.cores)
        if args.kind == "model":
            out = bench_model(args.file, args.threads, args.runs, args.warmup)
        else:
            out = bench_pipeline(args.video, args.threads, args.pose, args.pose_every, args.max_frames,
                                 args.realtime)
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one JSON line
        print(jsonio.dumps({"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}))
        return 1
    out["cores_used"] = len(pinned)
    print(jsonio.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
