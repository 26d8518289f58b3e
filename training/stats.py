"""Tables people read: the data inventory and evaluation summaries (rich)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Optional

from training import datasets


def data_table(root: str | Path, rate: float) -> list[dict[str, Any]]:
    """One row per (source, label): clips, independent groups, minutes, frames at ``rate``, audio."""
    seqs = datasets.load_all(root, progress=True)
    acc: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"clips": 0, "groups": set(), "seconds": 0.0, "frames": 0, "with_audio": 0, "native_fps": set()})
    for s in seqs:
        row = acc[(s.source, s.label)]
        row["clips"] += 1
        row["groups"].add(s.group)
        row["seconds"] += s.duration
        row["frames"] += int(s.duration * rate)
        row["with_audio"] += int(bool(s.audio_path))
        row["native_fps"].add(round(s.fps, 1))
    out = []
    for (source, label), r in sorted(acc.items()):
        fps = sorted(r["native_fps"])
        out.append({
            "source": source, "label": label, "clips": r["clips"], "groups": len(r["groups"]),
            "minutes": round(r["seconds"] / 60, 2), "frames_resampled": r["frames"],
            "audio": f"{r['with_audio']}/{r['clips']}",
            "native_fps": f"{fps[0]}" if len(fps) == 1 else f"{fps[0]}-{fps[-1]}",
        })
    return out


def render_data_table(rows: list[dict[str, Any]], root: str | Path, rate: float) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"edgerec data in {root} (frames after resampling to {rate:g} Hz)")
    for col in ("source", "label", "clips", "groups", "minutes", "native fps", "frames", "audio"):
        t.add_column(col, justify="left" if col in ("source", "label") else "right")
    for r in rows:
        t.add_row(r["source"], r["label"], str(r["clips"]), str(r["groups"]), f"{r['minutes']:.1f}",
                  r["native_fps"], str(r["frames_resampled"]), r["audio"])
    Console().print(t)
    Console().print("groups = independent units for splitting (clips sharing frames, and both partners of a "
                    "CMU take, count once)")


def render_evaluation(result: dict[str, Any]) -> None:
    """Print the headline numbers, per-class recall and the confusion matrix."""
    from rich.console import Console
    from rich.table import Table

    con = Console()
    labels = result["labels"]
    con.print(f"[bold]{result.get('model', '')}[/bold]: {result['clips_scored']} in-set clips, "
              f"{result['windows']} windows, {result['clips'] - result['clips_scored']} out-of-set clips "
              f"({result.get('seconds', '?')} s)")
    if not any(result.get(level) for level in ("window", "clip_majority", "clip_mean")):
        con.print("no in-set clips to score")
    else:
        summary = Table(title="scores")
        for col in ("level", "accuracy", "macro-F1", "weighted F1"):
            summary.add_column(col)
        for level in ("window", "clip_majority", "clip_mean"):
            r = result.get(level)
            if r:
                summary.add_row(level, f"{r['accuracy']:.3f}", f"{r['macro_f1']:.3f}", f"{r['weighted_f1']:.3f}")
        con.print(summary)
    r = result.get("window") or result.get("clip_majority")
    if r:
        cm = Table(title=f"confusion ({'windows' if result.get('window') else 'clips'}; rows = truth) and recall")
        cm.add_column("truth")
        for lab in labels:
            cm.add_column(lab[:8], justify="right")
        cm.add_column("recall", justify="right")
        for i, lab in enumerate(labels):
            sup = r["per_class"][lab]["support"]
            if sup:
                cm.add_row(lab, *[str(v) for v in r["confusion"][i]], f"{r['per_class'][lab]['recall']:.2f}")
        con.print(cm)
    u = result.get("unsure")
    if u:
        parts = []
        if u.get("in_set_windows_unsure") is not None:
            parts.append(f"{u['in_set_windows_unsure']:.0%} of in-set windows")
        if u.get("out_of_set_windows_unsure") is not None:
            parts.append(f"{u['out_of_set_windows_unsure']:.0%} of out-of-set windows "
                         f"({u['out_of_set_clips_mostly_unsure']}/{u['out_of_set_clips']} out-of-set clips mostly unsure)")
        if parts:
            con.print("unsure: " + ", ".join(parts))


def render_runtime_evaluation(result: dict[str, Any]) -> None:
    """Print what the runtime showed: per source, clips right, windows right, unsure, first style."""
    from rich.console import Console
    from rich.table import Table

    def rate(r: Optional[dict]) -> str:
        return "-" if not r or r.get("rate") is None else f"{r['rate']:.2f} ({r['k']}/{r['n']})"

    con = Console()
    con.print(f"[bold]{result['model']}[/bold] at the runtime's decision level on {result['data']}: "
              f"{result['all']['clips']} clips ({result['all']['in_set_clips']} of known styles)")
    table = Table(title="what `edgerec run` would show")
    for col in ("source", "clips", "clips right", "windows right", "in-set unsure", "first style s (med/max)",
                "out-of-set mostly unsure", "out-of-set confidently wrong"):
        table.add_column(col)
    rows = list(result["by_source"].items()) + [("all", result["all"])]
    for name, s in rows:
        first = s.get("first_style_s") or {}
        fs = "-" if first.get("median") is None else f"{first['median']:.1f}/{first['max']:.1f}"
        table.add_row(name, str(s["clips"]), rate(s.get("clips_right")), rate(s.get("windows_right")),
                      rate(s.get("in_set_unsure")), fs, rate(s.get("out_of_set_mostly_unsure")),
                      rate(s.get("out_of_set_confidently_wrong")))
    con.print(table)
