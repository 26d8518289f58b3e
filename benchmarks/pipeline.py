"""``edgerec bench pipeline``: the real runtime end to end, per stage.

Each configuration (video x threads x pose-every) is one ``edgerec run --video`` in its
own subprocess. Reported: per-stage latency percentiles (decode, pose, features,
classify, recommend; the last three run once per update, the first two per frame),
sustained FPS (frames / wall time), dropped frames (with ``--realtime``), peak memory, and
the share of the frame time spent in classification + recommendation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from benchmarks.models import SCHEMA, run_worker

#: Runtime summary stage -> report stage name (a file source's "capture" is decoding).
STAGES = {"capture": "decode", "pose": "pose", "features": "features", "classify": "classify",
          "recommend": "recommend", "frame_total": "frame_total"}


@dataclass(frozen=True)
class PipelineBenchConfig:
    threads: tuple[int, ...] = (1, 2)
    pose_every: tuple[int, ...] = (1,)
    pose: tuple[str, ...] = ("auto",)
    cores: Optional[int] = None
    max_frames: Optional[int] = None
    realtime: bool = False
    timeout_s: float = 900.0


def _total(stat: Optional[dict[str, Any]]) -> float:
    return float(stat["mean"]) * int(stat["n"]) if stat else 0.0


def summarise(summary: dict[str, Any]) -> dict[str, Any]:
    """The benchmark's view of a run summary."""
    lat = summary.get("latency_ms") or {}
    frame_total = _total(lat.get("frame_total"))
    cls_rec = _total(lat.get("classify")) + _total(lat.get("recommend"))
    per_update = _total(lat.get("features")) + cls_rec
    return {
        "frames": summary.get("frames"), "pose_runs": summary.get("pose_runs"),
        "frames_with_pose": summary.get("frames_with_pose"), "dropped": summary.get("dropped"),
        "wall_seconds": summary.get("wall_seconds"), "fps": summary.get("fps"),
        "updates": summary.get("updates"), "states": summary.get("states"),
        "stages_ms": {STAGES[k]: v for k, v in lat.items() if k in STAGES},
        "classify_recommend_share": round(cls_rec / frame_total, 5) if frame_total else None,
        "per_update_share": round(per_update / frame_total, 5) if frame_total else None,
        "pose_share": round(_total(lat.get("pose")) / frame_total, 5) if frame_total else None,
        "peak_rss_mb": summary.get("peak_rss_mb"), "pose_stage": summary.get("pose_stage"),
    }


def bench_pipeline(videos: Sequence[Path], config: PipelineBenchConfig,
                   progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    from benchmarks.env import environment

    started = time.time()
    results = []
    jobs = [(v, p, t, e) for v in videos for p in config.pose for t in config.threads for e in config.pose_every]
    for i, (video, pose, threads, every) in enumerate(jobs, 1):
        progress(f"[{i}/{len(jobs)}] {Path(video).name}, pose {pose}, {threads} thread(s), pose every {every}")
        args = ["pipeline", str(video), "--threads", str(threads), "--pose", pose, "--pose-every", str(every)]
        if config.max_frames:
            args += ["--max-frames", str(config.max_frames)]
        if config.realtime:
            args.append("--realtime")
        raw = run_worker(args, config.timeout_s, config.cores)
        row: dict[str, Any] = {"video": Path(video).name, "pose": pose, "threads": threads, "pose_every": every,
                               "realtime": config.realtime}
        row.update({"error": raw["error"]} if "error" in raw else summarise(raw))
        results.append(row)
    return {
        "schema": SCHEMA, "kind": "pipeline", "environment": environment(config.cores),
        "config": {"threads": list(config.threads), "pose_every": list(config.pose_every), "pose": list(config.pose),
                   "cores": config.cores, "max_frames": config.max_frames, "realtime": config.realtime},
        "results": results, "seconds": round(time.time() - started, 1),
    }
