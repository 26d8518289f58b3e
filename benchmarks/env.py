"""What a benchmark ran on: CPU, cores, library versions, git commit.

Every report records this, so numbers from two machines (or two commits) are never
compared without saying so.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Optional, Sequence

#: Distributions whose versions decide the numbers.
LIBRARIES = ("numpy", "ai-edge-litert", "tflite-runtime", "onnxruntime", "tensorflow-cpu", "tensorflow",
             "keras", "opencv-python-headless", "opencv-contrib-python", "mediapipe", "edgerec")
REPO = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux, else ``platform``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def available_cores() -> list[int]:
    """CPU ids this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def pin_cores(n: Optional[int]) -> list[int]:
    """Restrict this process (and the threads it starts later) to its first ``n`` cores.

    Approximates a smaller device's core budget: it does not make the cores slower, and
    caches and memory bandwidth stay those of this machine.
    """
    cores = available_cores()
    if n is None:
        return cores
    if n < 1 or n > len(cores):
        raise ValueError(f"--cores {n}: this machine offers {len(cores)} cores to this process")
    if not hasattr(os, "sched_setaffinity"):
        raise ValueError("--cores needs os.sched_setaffinity (Linux)")
    os.sched_setaffinity(0, set(cores[:n]))
    return cores[:n]


def git_commit() -> Optional[str]:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() + ("+dirty" if dirty else "")) if out.returncode == 0 else None


def versions(names: Sequence[str] = LIBRARIES) -> dict[str, str]:
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def environment(cores: Optional[int] = None) -> dict[str, Any]:
    """A JSON-able description of the machine and software for a report."""
    total = os.cpu_count() or 1
    return {
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cores_total": total,
        "cores_available": len(available_cores()),
        "cores_pinned": cores,
        "device_profile": (f"approximation: pinned to {cores} of {total} cores of this CPU; clock speed, "
                           "caches and memory are this machine's, not a Raspberry Pi's") if cores else None,
        "libraries": versions(),
        "git_commit": git_commit(),
    }
