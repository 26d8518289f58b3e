"""Soak test: one long ``edgerec run --poses`` replay, to show memory stays flat and speed steady.

A shared landmark file is looped to ``--frames`` frames (a temporary ``.npy``, written
through a memory map so this process never holds it) and replayed through
:func:`edge.runtime.session.run_pipeline`, exactly what ``edgerec run --poses FILE --json -q
--no-dataset-songs`` does. Every ``--sample-every`` frames (at the first update past it)
the process's resident memory (``/proc/self/statm``) and the frames per second since the
previous sample are recorded.

Reported (``soak.json``, ``soak.png``): the samples (frame, rss_mib, fps, wall_s); RSS at the
end of the warm-up (the first ``--warmup`` share of the frames: model, catalogue, allocator
pools and the landmark file itself settle there) and at the end; growth after the warm-up in
percent and its slope in bytes per frame (a least-squares line over the samples after the
warm-up); the FPS of the first and last quarter of the run and their ratio; wall time.
Memory and speed are this machine's: the numbers belong in this report, not in a test.

``python -m benchmarks.soak --frames 300000 --out reports/reliability``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from edge.core.files import atomic_write_text

SCHEMA = 1
#: A real dancer's landmarks (MediaPipe on a real video, 14.6 s at 30 fps), under the data root.
DEFAULT_SOURCE = "realvideo/salsa/ana_salsa_overlay_mediapipe33.npy"


def rss_mib() -> float:
    """This process's resident memory now, MiB (``/proc/self/statm``; peak RSS elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def looped_landmarks(source: Path, frames: int, out: Path) -> tuple[float, tuple[int, int], int]:
    """Write ``source``'s landmarks repeated to ``frames`` rows at ``out``; (fps, size, rows of source)."""
    from edge.sources.frames import PoseFileSource

    src = PoseFileSource(source)
    arr, fps, size = src.arr, src.fps, src.size
    del src
    mm = np.lib.format.open_memmap(out, mode="w+", dtype=np.float32, shape=(frames, 33, 4))
    for start in range(0, frames, len(arr)):
        n = min(len(arr), frames - start)
        mm[start:start + n] = arr[:n]
    mm.flush()
    del mm
    return fps, size, len(arr)


def _quarter_fps(samples: list[dict[str, Any]], lo: float, hi: float) -> Optional[float]:
    """Frames per wall second between the samples nearest to frames ``lo`` and ``hi``."""
    if len(samples) < 2:
        return None
    a = min(samples, key=lambda s: abs(s["frame"] - lo))
    b = min(samples, key=lambda s: abs(s["frame"] - hi))
    if b["wall_s"] <= a["wall_s"]:
        return None
    return (b["frame"] - a["frame"]) / (b["wall_s"] - a["wall_s"])


def analyse(samples: list[dict[str, Any]], frames: int, warmup: float) -> dict[str, Any]:
    """Warm-up and end RSS, growth (% and bytes/frame) and the quarters' FPS from the samples."""
    out: dict[str, Any] = {"rss_warmup_mib": None, "rss_end_mib": None, "rss_max_after_warmup_mib": None,
                           "growth_pct": None, "growth_bytes_per_frame": None, "fps_first_quarter": None,
                           "fps_last_quarter": None, "fps_ratio_last_first": None}
    if not samples:
        return out
    warm_frame = warmup * frames
    after = [s for s in samples if s["frame"] >= warm_frame] or samples[-1:]
    base, end = after[0]["rss_mib"], samples[-1]["rss_mib"]
    out.update(rss_warmup_mib=round(base, 2), rss_end_mib=round(end, 2),
               rss_max_after_warmup_mib=round(max(s["rss_mib"] for s in after), 2),
               growth_pct=round(100.0 * (end - base) / base, 3) if base else None)
    if len(after) >= 3:
        x = np.array([s["frame"] for s in after], np.float64)
        y = np.array([s["rss_mib"] for s in after], np.float64) * 2**20
        out["growth_bytes_per_frame"] = round(float(np.polyfit(x, y, 1)[0]), 2)
    first = _quarter_fps(samples, samples[0]["frame"], frames / 4)
    last = _quarter_fps(samples, 3 * frames / 4, samples[-1]["frame"])
    out.update(fps_first_quarter=None if first is None else round(first, 1),
               fps_last_quarter=None if last is None else round(last, 1),
               fps_ratio_last_first=round(last / first, 3) if first and last else None)
    return out


def soak(frames: int = 300_000, source: Optional[Path] = None, sample_every: int = 1000, warmup: float = 0.1,
         progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """Replay ``source`` looped to ``frames`` frames through the runtime; the report dict."""
    from edge.core.paths import data_root
    from edge.runtime.session import RunOptions, run_pipeline

    if frames < 1 or sample_every < 1 or not 0 <= warmup < 1:
        raise ValueError("frames and sample_every must be positive and warmup a fraction below 1")
    source = Path(source) if source else data_root() / DEFAULT_SOURCE
    if not source.is_file():
        raise FileNotFoundError(f"{source}: landmark file not found (set EDGEREC_DATA or pass --source)")
    samples: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="edgerec-soak-") as tmp:
        path = Path(tmp) / "looped_mediapipe.npy"
        fps, size, rows = looped_landmarks(source, frames, path)
        progress(f"soak: {frames} frames ({source.name}, {rows} frames looped, {fps:g} fps) from {path}")
        state = {"next": 0, "t0": None, "last_frame": 0, "last_t": 0.0}

        def emit(line: str) -> None:
            d = json.loads(line)
            if d.get("type") != "update":
                return
            frame = int(d["frame"])
            if frame < state["next"]:
                return
            now = time.perf_counter()
            if state["t0"] is None:
                state["t0"] = now
            wall = now - state["t0"]
            span = wall - state["last_t"]
            fps_now = (frame - state["last_frame"]) / span if samples and span > 0 else None
            samples.append({"frame": frame, "rss_mib": round(rss_mib(), 3),
                            "fps": None if fps_now is None else round(fps_now, 1), "wall_s": round(wall, 3)})
            state.update(next=(frame // sample_every + 1) * sample_every, last_frame=frame, last_t=wall)
            if len(samples) % 50 == 0:
                progress(f"  frame {frame}: {samples[-1]['rss_mib']:.1f} MiB, {samples[-1]['fps']} FPS")

        opts = RunOptions(poses=str(path), fps=fps, size=size, json_lines=True, quiet=True, dataset_songs=False)
        started = time.perf_counter()
        summary = run_pipeline(opts, emit=emit, log=progress)
        wall = time.perf_counter() - started
    from benchmarks.env import environment

    report: dict[str, Any] = {
        "schema": SCHEMA, "kind": "soak",
        "command": f"python -m benchmarks.soak --frames {frames} --sample-every {sample_every} --warmup {warmup:g}",
        "source": str(source), "source_frames": rows, "fps_media": fps, "frames": summary["frames"],
        "updates": summary["updates"], "states": summary["states"], "warmup_fraction": warmup,
        "wall_seconds": round(wall, 2), "fps_overall": summary["fps"],
        "rss_peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 2),
        **analyse(samples, frames, warmup),
        "latency_ms": summary["latency_ms"], "samples": samples, "environment": environment(),
    }
    return report


def plot(report: dict[str, Any], path: Path) -> Path:
    """The memory curve (and FPS) against frames, written atomically as a PNG."""
    from edge.core.optional import require

    matplotlib = require("matplotlib", "train")
    matplotlib.use("Agg")
    plt = require("matplotlib.pyplot", "train")
    s = report["samples"]
    fig, ax = plt.subplots(figsize=(9, 4.8), dpi=110)
    ax.plot([p["frame"] for p in s], [p["rss_mib"] for p in s], color="tab:blue", lw=1.4, label="resident memory")
    warm = report["warmup_fraction"] * report["frames"]
    ax.axvline(warm, color="0.5", ls="--", lw=1, label="end of warm-up")
    ax.set_xlabel("frame")
    ax.set_ylabel("RSS, MiB", color="tab:blue")
    lo = min(p["rss_mib"] for p in s)
    hi = max(p["rss_mib"] for p in s)
    ax.set_ylim(max(lo - max(0.1 * lo, 5), 0), hi + max(0.1 * hi, 5))
    ax2 = ax.twinx()
    f = [(p["frame"], p["fps"]) for p in s if p["fps"] is not None]
    ax2.plot([a for a, _ in f], [b for _, b in f], color="tab:orange", lw=0.6, alpha=0.6, label="FPS")
    ax2.set_ylabel("frames per second", color="tab:orange")
    ax2.set_ylim(0, max([b for _, b in f] or [1]) * 1.15)
    growth = report.get("growth_pct")
    ax.set_title(f"edgerec soak: {report['frames']:,} frames, RSS {report['rss_warmup_mib']} -> "
                 f"{report['rss_end_mib']} MiB after warm-up ({growth:+.2f}%)" if growth is not None
                 else f"edgerec soak: {report['frames']:,} frames", fontsize=10)
    ax.grid(True, alpha=0.3)
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], loc="lower right", fontsize=8)
    fig.tight_layout()
    from benchmarks.report import save_png

    return save_png(fig, path)


def write(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """``soak.json`` and ``soak.png`` in ``out_dir``, each written atomically."""
    out_dir = Path(out_dir)
    js = out_dir / "soak.json"
    atomic_write_text(js, json.dumps(report, indent=1) + "\n")
    return [js, plot(report, out_dir / "soak.png")]


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=300_000, help="frames to replay (default 300000)")
    ap.add_argument("--source", type=Path, default=None,
                    help=f"landmark file to loop (default $EDGEREC_DATA/{DEFAULT_SOURCE})")
    ap.add_argument("--sample-every", type=int, default=1000, help="frames between memory samples")
    ap.add_argument("--warmup", type=float, default=0.1, help="share of the frames counted as warm-up")
    ap.add_argument("--out", type=Path, default=Path("reports/reliability"), help="folder for soak.json/.png")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    log = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    try:
        report = soak(args.frames, args.source, args.sample_every, args.warmup, log)
    except (FileNotFoundError, ValueError) as exc:
        print(f"soak: {exc}", file=sys.stderr)
        return 2
    paths = write(report, args.out)
    g, b = report["growth_pct"], report["growth_bytes_per_frame"]
    print(f"soak: {report['frames']} frames in {report['wall_seconds']:.0f} s; RSS {report['rss_warmup_mib']} MiB "
          f"after warm-up -> {report['rss_end_mib']} MiB at the end ({g:+.2f}%, {b} bytes/frame); FPS first "
          f"quarter {report['fps_first_quarter']}, last {report['fps_last_quarter']}; wrote "
          f"{', '.join(map(str, paths))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
