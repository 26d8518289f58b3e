"""``edgerec bench models``: latency, memory, size and held-out accuracy of model files.

Each (file, thread count) runs in a fresh subprocess (:mod:`benchmarks.worker`) so that
initialisation and peak memory are that variant's alone. Accuracy does not depend on the
thread count, so each file is scored once, in this process, with the code
``edgerec evaluate`` uses, on the clips its card says were held out (plus the out-of-set
clips, which count only towards "unsure").
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from edge.core import jsonio

from benchmarks.worker import OPENERS

#: Schema version of the benchmark JSON files.
SCHEMA = 1


@dataclass(frozen=True)
class ModelBenchConfig:
    threads: tuple[int, ...] = (1, 2)
    runs: int = 1000
    warmup: int = 50
    cores: Optional[int] = None
    accuracy: bool = True
    timeout_s: float = 900.0


def find_models(paths: Sequence[str | Path]) -> list[Path]:
    """Model files named, or every benchmarkable file in the folders named (sorted)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(sorted(f for f in p.iterdir() if f.suffix in OPENERS and not f.name.endswith(".card.json")))
        elif p.is_file():
            found.append(p)
        else:
            raise ValueError(f"{p}: no such model file or folder")
    if not found:
        raise ValueError(f"no model files (.tflite, .onnx, .keras, .json) in {', '.join(map(str, paths))}")
    return found


def run_worker(args: list[str], timeout_s: float, cores: Optional[int] = None) -> dict[str, Any]:
    """Run ``python -m benchmarks.worker ARGS [--cores N]`` and parse its last JSON line;
    a failure or a timeout comes back as ``{"error": ...}``."""
    if cores:
        args = [*args, "--cores", str(cores)]
    try:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.worker", *args], capture_output=True, text=True,
                              timeout=timeout_s, cwd=Path(__file__).resolve().parents[1])
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"worker exited with {proc.returncode}: {tail}"}
    return json.loads(lines[-1])


def held_out_scores(paths: Sequence[Path], data_dir: Path,
                    progress: Callable[[str], None] = lambda m: None) -> dict[str, dict[str, Any]]:
    """Clip-level macro-F1, window accuracy and macro-F1 of each file on its held-out clips."""
    from edge.classify.metadata import read_card as read_embedded
    from training.card import read_card as read_sidecar_card
    from training.datasets import load_all
    from training.evaluate import clip_inputs, evaluate_loaded

    seqs = load_all(data_dir)
    inputs_cache: dict[str, Any] = {}
    out: dict[str, dict[str, Any]] = {}
    for path in paths:
        progress(f"scoring {path.name}")
        try:
            card = read_embedded(path) if path.suffix in (".tflite", ".onnx") else read_sidecar_card(path)
            test_ids = set((card.get("split") or {}).get("test_clips") or [])
            labels = set(card["labels"])
            if test_ids:
                held = [s for s in seqs if s.clip_id in test_ids or s.label not in labels]
                on = f"held-out clips of the card's split ({len(test_ids)}) + out-of-set clips"
            else:
                held = list(seqs)
                on = "every clip (the card has no held-out split: not a generalisation score)"
            key = jsonio.dumps([card.get("preprocessing"), card.get("feature_spec"), card.get("hop_seconds"),
                              card.get("eval_camera"), sorted(c.clip_id for c in held)], sort_keys=True)
            if key not in inputs_cache:
                inputs_cache[key] = clip_inputs(card, held)
            r = evaluate_loaded(path, held, inputs_cache[key])
            window, clip = r.get("window") or {}, r.get("clip_mean") or {}
            out[str(path)] = {
                "clip_macro_f1": clip.get("macro_f1"), "window_accuracy": window.get("accuracy"),
                "window_macro_f1": window.get("macro_f1"), "clips_scored": r.get("clips_scored"),
                "ood_unsure": (r.get("unsure") or {}).get("out_of_set_windows_unsure"), "scored_on": on,
            }
        except Exception as exc:  # noqa: BLE001 - one bad file must not sink the report
            out[str(path)] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
    return out


def bench_models(paths: Sequence[Path], config: ModelBenchConfig, data_dir: Optional[Path],
                 progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """Benchmark every file at every thread count; returns the report dict (see README)."""
    from benchmarks.env import environment

    started = time.time()
    results: list[dict[str, Any]] = []
    jobs = [(p, t) for p in paths for t in config.threads]
    for i, (path, threads) in enumerate(jobs, 1):
        progress(f"[{i}/{len(jobs)}] {path.name}, {threads} thread(s)")
        args = ["model", str(path), "--threads", str(threads), "--runs", str(config.runs),
                "--warmup", str(config.warmup)]
        r = run_worker(args, config.timeout_s, config.cores)
        r.setdefault("file", str(path))
        r.setdefault("threads", threads)
        r["variant"] = path.name
        results.append(r)
    accuracy: dict[str, dict[str, Any]] = {}
    if config.accuracy and data_dir is not None:
        accuracy = held_out_scores(paths, data_dir, progress)
    for r in results:
        r["accuracy"] = accuracy.get(r["file"])
    return {
        "schema": SCHEMA, "kind": "models", "environment": environment(config.cores),
        "config": {"threads": list(config.threads), "runs": config.runs, "warmup": config.warmup,
                   "cores": config.cores, "data": str(data_dir) if data_dir else None},
        "results": results, "seconds": round(time.time() - started, 1),
    }
