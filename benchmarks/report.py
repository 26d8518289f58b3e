"""Benchmark reports people read: Markdown tables, a latency-vs-accuracy plot, comparisons.

:func:`write_report` turns a ``models`` and/or ``pipeline`` result (see
:mod:`benchmarks.models`, :mod:`benchmarks.pipeline`) into ``NAME.json``, ``NAME.md`` and
``NAME.png`` (p50 latency on a log axis against held-out clip macro-F1, the Pareto front
marked, every point labelled), and checks the performance targets against the numbers.
:func:`compare` prints B/A ratios per variant for two result files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable, Optional

from edge.core import jsonio
from edge.core.files import atomic_write_bytes, atomic_write_text


def _f(x: Any, nd: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def _f1(r: dict[str, Any]) -> Optional[float]:
    acc = r.get("accuracy") or {}
    v = acc.get("clip_macro_f1")
    return v if isinstance(v, (int, float)) and math.isfinite(v) else None


def pareto(points: list[tuple[float, float, Any]]) -> list[Any]:
    """Items not dominated: no other point is at least as fast and at least as accurate
    (and strictly better in one)."""
    front = []
    for x, y, item in points:
        dominated = any((x2 <= x and y2 >= y) and (x2 < x or y2 > y) for x2, y2, _ in points)
        if not dominated:
            front.append(item)
    return front


def _ok(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if "error" not in r]


def _fmt_kind(r: dict[str, Any]) -> str:
    return f"{r.get('arch') or '?'} {r.get('format') or '?'}"


# ------------------------------------------------------------------ targets


def model_targets(models: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's model targets, each with the numbers it was judged on."""
    rows = _ok(models["results"])
    one = [r for r in rows if r.get("threads") == 1]
    out = []
    paper_f32 = next((r for r in one if r.get("arch") == "paper" and r.get("format") == "tflite-float32"), None)
    edge_tfl = [r for r in one if r.get("arch") == "edge" and str(r.get("format", "")).startswith("tflite")]
    if paper_f32 and edge_tfl:
        best = min(edge_tfl, key=lambda r: r["p50_ms"])
        ratio = paper_f32["p50_ms"] / best["p50_ms"]
        f_edge, f_paper = _f1(best), _f1(paper_f32)
        ok = ratio >= 20 and (f_edge is not None and f_paper is not None and f_edge >= f_paper)
        out.append({"target": "edge's fastest TFLite p50 >= 20x lower than paper TFLite float32 (1 thread), "
                              "at macro-F1 no lower",
                    "met": ok, "measured": f"{best['format']} {best['p50_ms']:.4f} ms vs {paper_f32['p50_ms']:.3f} ms "
                                           f"= {ratio:.0f}x; clip macro-F1 {_f(f_edge)} vs {_f(f_paper)}"})
    f32 = next((r for r in one if r.get("arch") == "edge" and r.get("format") == "tflite-float32"), None)
    i8 = next((r for r in one if r.get("arch") == "edge" and r.get("format") == "tflite-int8"), None)
    if f32 and i8 and _f1(f32) is not None and _f1(i8) is not None:
        d = (_f1(i8) - _f1(f32)) * 100
        wf = ((i8.get("accuracy") or {}).get("window_macro_f1") or 0) - ((f32.get("accuracy") or {}).get("window_macro_f1") or 0)
        out.append({"target": "edge int8 within 1 point of float32 macro-F1", "met": abs(d) <= 1.0,
                    "measured": f"clip macro-F1 {d:+.2f} points, window macro-F1 {wf * 100:+.2f} points"})
    return out


def pipeline_targets(pipeline: dict[str, Any]) -> list[dict[str, Any]]:
    all_rows = [r for r in _ok(pipeline["results"]) if r.get("pose_every") == 1 and not r.get("realtime")]
    rows = [r for r in all_rows if r.get("pose_stage") != "mediapipe"]
    cores = pipeline["environment"].get("cores_pinned") or pipeline["environment"].get("cores_available")
    full = [r for r in rows if r["threads"] == cores] or rows
    if not full:
        return []
    worst = min(full, key=lambda r: r["fps"] or 0)
    shares = [r["classify_recommend_share"] for r in full if r.get("classify_recommend_share") is not None]
    pose = [r["pose_share"] for r in full if r.get("pose_share") is not None]
    out = []
    mp_rows = [r for r in all_rows if r.get("pose_stage") == "mediapipe"]
    if mp_rows and rows:
        videos = sorted({r["video"] for r in mp_rows} & {r["video"] for r in rows})
        best = [(max((r["fps"] for r in rows if r["video"] == v), default=0),
                 max((r["fps"] for r in mp_rows if r["video"] == v), default=0)) for v in videos]
        ratios = [a / b for a, b in best if a and b]
        out.append({"target": "native pose end to end >= 1.5x MediaPipe's FPS here (each at its best thread count)",
                    "met": bool(ratios) and min(ratios) >= 1.5,
                    "measured": f"{min(ratios):.2f}-{max(ratios):.2f}x over {len(ratios)} videos" if ratios else "-"})
        same = {(r["video"], r["threads"]): r for r in mp_rows}
        for t in sorted({r["threads"] for r in rows}):
            pairs = [(r["fps"], same[(r["video"], t)]["fps"]) for r in rows
                     if r["threads"] == t and (r["video"], t) in same and r.get("fps")]
            ratios = [a / b for a, b in pairs if b]
            if ratios:
                out.append({"target": f"native pose end to end >= 1.5x MediaPipe's FPS at {t} thread(s)",
                            "met": min(ratios) >= 1.5,
                            "measured": f"{min(ratios):.2f}-{max(ratios):.2f}x over {len(ratios)} videos"})
    return out + [
        {"target": f"end to end >= 25 FPS sustained on the sample videos ({worst['threads']} threads)",
         "met": (worst["fps"] or 0) >= 25,
         "measured": f"lowest {worst['fps']:.1f} FPS ({worst['video']}); all: "
                     + ", ".join(f"{r['video']} {r['fps']:.1f}" for r in full)},
        {"target": "classification + recommendation < 5% of per-frame time",
         "met": bool(shares) and max(shares) < 0.05,
         "measured": f"at most {max(shares) * 100:.2f}% of frame time; pose takes "
                     f"{min(pose) * 100:.1f}-{max(pose) * 100:.1f}%" if shares and pose else "-"},
    ]


# ------------------------------------------------------------------ markdown


def models_markdown(models: dict[str, Any]) -> list[str]:
    rows = models["results"]
    lines = ["| variant | format | backend | threads | size KiB | init ms | first ms | p50 ms | p90 ms | p99 ms "
             "| mean ms | peak RSS MiB | clip macro-F1 | window acc. |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (str(r.get("arch")), r.get("threads", 0), r.get("p50_ms", 1e9))):
        if "error" in r:
            lines.append(f"| {r['variant']} | | | {r.get('threads')} | | | | | | | | | | error: {r['error']} |")
            continue
        acc = r.get("accuracy") or {}
        lines.append(
            f"| {r['variant']} | {r.get('format')} | {r.get('backend')} | {r['threads']} | "
            f"{r['size_bytes'] / 1024:.0f} | {_f(r['init_ms'], 1)} | {_f(r['first_ms'], 2)} | {_f(r['p50_ms'], 4)} | "
            f"{_f(r['p90_ms'], 4)} | {_f(r['p99_ms'], 4)} | {_f(r['mean_ms'], 4)} | {_f(r['peak_rss_mb'], 0)} | "
            f"{_f(acc.get('clip_macro_f1'))} | {_f(acc.get('window_accuracy'))} |")
    scored = {(r.get("accuracy") or {}).get("scored_on") for r in rows if r.get("accuracy")}
    if scored - {None}:
        lines += ["", "Accuracy scored on: " + "; ".join(sorted(s for s in scored if s)) + "."]
    return lines


def advice(models: dict[str, Any], budgets_ms: tuple[float, ...] = (0.1, 0.5, 2.0, 10.0)) -> list[str]:
    """Which variant to deploy for a classifier latency budget (p50, 1 thread)."""
    one = [r for r in _ok(models["results"]) if r.get("threads") == 1 and _f1(r) is not None]
    if not one:
        return []
    lines = ["| classifier budget (p50, 1 thread) | deploy | p50 ms | clip macro-F1 | size KiB |", "|---|---|---|---|---|"]
    for b in budgets_ms:
        fit = [r for r in one if r["p50_ms"] <= b]
        if not fit:
            lines.append(f"| {b:g} ms | nothing fits | | | |")
            continue
        best = max(fit, key=lambda r: (_f1(r), -r["size_bytes"], -r["p50_ms"]))
        lines.append(f"| {b:g} ms | {best['variant']} | {best['p50_ms']:.4f} | {_f(_f1(best))} | "
                     f"{best['size_bytes'] / 1024:.0f} |")
    return lines


def pipeline_markdown(pipeline: dict[str, Any]) -> list[str]:
    lines = ["| video | pose | threads | pose every | frames | FPS | dropped | decode p50 | pose p50 / p90 | features p50 "
             "| classify p50 | recommend p50 | classify+recommend share | pose share | peak RSS MiB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in pipeline["results"]:
        if "error" in r:
            lines.append(f"| {r['video']} | {r.get('pose')} | {r['threads']} | {r['pose_every']} | error: {r['error']} |||||||||||")
            continue
        st = r["stages_ms"]
        g = (lambda k, q="p50": _f((st.get(k) or {}).get(q), 2))
        lines.append(
            f"| {r['video']} | {r.get('pose_stage') or r.get('pose')} | {r['threads']} | {r['pose_every']} | {r['frames']} | {_f(r['fps'], 1)} | {r['dropped']} | "
            f"{g('decode')} | {g('pose')} / {g('pose', 'p90')} | {g('features')} | {g('classify')} | {g('recommend')} | "
            f"{_f((r.get('classify_recommend_share') or 0) * 100, 2)}% | {_f((r.get('pose_share') or 0) * 100, 1)}% | "
            f"{_f(r.get('peak_rss_mb'), 0)} |")
    return lines


def _env_lines(env: dict[str, Any]) -> list[str]:
    libs = ", ".join(f"{k} {v}" for k, v in sorted(env.get("libraries", {}).items()))
    lines = [f"- machine: {env.get('cpu')} ({env.get('machine')}), {env.get('cores_available')} cores available "
             f"of {env.get('cores_total')}; Python {env.get('python')}; {env.get('platform')}",
             f"- git commit: {env.get('git_commit')}", f"- libraries: {libs}"]
    if env.get("device_profile"):
        lines.append(f"- device profile: {env['device_profile']}")
    return lines


def markdown(models: Optional[dict[str, Any]], pipeline: Optional[dict[str, Any]], command: str = "") -> str:
    out = ["# edgerec benchmark report", ""]
    env = (models or pipeline or {}).get("environment", {})
    out += _env_lines(env)
    if command:
        out.append(f"- command: `{command}`")
    out.append("")
    targets = (model_targets(models) if models else []) + (pipeline_targets(pipeline) if pipeline else [])
    if targets:
        out += ["## Targets", "", "| target | met | measured |", "|---|---|---|"]
        out += [f"| {t['target']} | {'yes' if t['met'] else '**no**'} | {t['measured']} |" for t in targets]
        out.append("")
    if models:
        cfg = models["config"]
        out += ["## Classifier variants", "",
                f"Single-window inference, {cfg['runs']} timed runs after {cfg['warmup']} warm-up runs, each "
                "variant and thread count in its own process (one run of the whole benchmark). "
                "Accuracy is the same for every thread count.", ""]
        out += models_markdown(models) + [""]
        adv = advice(models)
        if adv:
            out += ["### Which variant to deploy", ""] + adv + [""]
        out += ["![p50 latency against macro-F1](" + "PLOT" + ")", ""]
    if pipeline:
        cfg = pipeline["config"]
        out += ["## End to end (`edgerec run --video`)", "",
                f"Pose stage(s) `{', '.join(cfg['pose'])}`, default model and catalogue, every frame decoded"
                f"{' and paced in real time' if cfg['realtime'] else ''}; one run per row. Stage latencies in ms; "
                "features, classify and recommend run once per update (every 0.5 s), decode and pose per frame. "
                "Shares are of the summed per-frame time. MediaPipe's legacy solution takes no thread setting, so "
                "its rows for 1 and 2 threads run the same configuration; the native stage passes the thread "
                "count to LiteRT.", ""]
        out += pipeline_markdown(pipeline) + [""]
    return "\n".join(out)


# ------------------------------------------------------------------ plot


def plot(models: dict[str, Any], path: Path) -> Optional[Path]:
    """p50 latency (log x) against clip macro-F1, per thread count, Pareto front marked."""
    from edge.core.optional import require

    matplotlib = require("matplotlib", "train")
    matplotlib.use("Agg")
    plt = require("matplotlib.pyplot", "train")
    rows = [r for r in _ok(models["results"]) if _f1(r) is not None]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    markers = {1: "o", 2: "s", 4: "^", 8: "D"}
    colours = {"edge": "tab:green", "paper": "tab:red"}
    lowest = min(r["threads"] for r in rows)
    for threads in sorted({r["threads"] for r in rows}):
        pts = [r for r in rows if r["threads"] == threads]
        ax.scatter([r["p50_ms"] for r in pts], [_f1(r) for r in pts], marker=markers.get(threads, "x"),
                   c=[colours.get(str(r.get("arch")), "tab:blue") for r in pts], s=46,
                   alpha=0.9 if threads == lowest else 0.35,
                   label=f"{threads} thread{'s' if threads > 1 else ''}")
    # label the lowest-thread points only, staggered so variants with equal accuracy stay readable
    one = sorted((r for r in rows if r["threads"] == lowest), key=lambda r: (_f1(r), r["p50_ms"]))
    offsets = [(0, 10), (0, -14), (0, 22), (0, -26), (0, 34), (0, -38)]
    group: list[float] = []
    for r in one:
        group = [y for y in group if abs(y - _f1(r)) < 0.02] + [_f1(r)]
        dx, dy = offsets[(len(group) - 1) % len(offsets)]
        ax.annotate(r["variant"].replace(".tflite", " (tflite)").replace(".onnx", " (onnx)"),
                    (r["p50_ms"], _f1(r)), fontsize=7, xytext=(dx, dy), textcoords="offset points", ha="center",
                    arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "0.5"})
    front = pareto([(r["p50_ms"], _f1(r), r) for r in one])
    front.sort(key=lambda r: r["p50_ms"])
    ax.scatter([r["p50_ms"] for r in front], [_f1(r) for r in front], s=160, facecolors="none", edgecolors="black",
               linewidths=1.2, label=f"Pareto front ({lowest} thread)")
    if len(front) > 1:
        ax.step([r["p50_ms"] for r in front], [_f1(r) for r in front], where="post", color="black", lw=1, ls="--")
    ys = [_f1(r) for r in rows]
    ax.set_ylim(min(ys) - 0.08, max(ys) + 0.08)
    ax.set_xscale("log")
    ax.set_xlabel("p50 latency per window, ms (log scale)")
    ax.set_ylabel("held-out clip macro-F1")
    ax.set_title("edgerec classifiers: latency against accuracy (green: edge, red: paper)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    return save_png(fig, path)


# ------------------------------------------------------------------ files


def write_report(out_dir: Path, name: str, models: Optional[dict[str, Any]] = None,
                 pipeline: Optional[dict[str, Any]] = None, command: str = "") -> list[Path]:
    """Write ``NAME.json``, ``NAME.md`` and (with models) ``NAME.png`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    doc = {"schema": 1, "models": models, "pipeline": pipeline, "command": command,
           "targets": (model_targets(models) if models else []) + (pipeline_targets(pipeline) if pipeline else [])}
    atomic_write_text(out_dir / f"{name}.json", jsonio.dumps(doc, indent=1))
    written.append(out_dir / f"{name}.json")
    png = plot(models, out_dir / f"{name}.png") if models else None
    md = markdown(models, pipeline, command).replace("PLOT", png.name if png else "")
    if not png:
        md = md.replace("![p50 latency against macro-F1]()\n", "")
    atomic_write_text(out_dir / f"{name}.md", md + "\n")
    written.append(out_dir / f"{name}.md")
    if png:
        written.append(png)
    return written


def load_result(path: Path) -> dict[str, Any]:
    """A report JSON (``models``/``pipeline`` inside) or a bare models/pipeline result."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable benchmark JSON ({exc})") from None
    if not isinstance(doc, dict) or not ({"models", "pipeline", "kind"} & set(doc)):
        raise ValueError(f"{path}: not an edgerec benchmark file (no 'models', 'pipeline' or 'kind')")
    return doc


def _parts(doc: dict[str, Any]) -> dict[str, Optional[dict[str, Any]]]:
    if "kind" in doc:
        return {doc["kind"]: doc}
    return {"models": doc.get("models"), "pipeline": doc.get("pipeline")}


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Lines of a table: per variant, B / A ratios (below 1 = B is faster or smaller)."""
    pa, pb = _parts(a), _parts(b)
    lines: list[str] = []
    ma, mb = pa.get("models"), pb.get("models")
    if ma and mb:
        ia = {(r["variant"], r["threads"]): r for r in _ok(ma["results"])}
        lines += ["variant                          threads  p50 A ms   p50 B ms   B/A p50  B/A mean  B/A peak RSS"]
        for key, rb in sorted(((k, r) for r in _ok(mb["results"]) for k in [(r["variant"], r["threads"])]),
                              key=lambda kv: kv[0]):
            ra = ia.get(key)
            if ra is None:
                continue
            lines.append(f"{key[0]:32s} {key[1]:7d}  {ra['p50_ms']:9.4f}  {rb['p50_ms']:9.4f}  "
                         f"{rb['p50_ms'] / ra['p50_ms']:7.2f}  {rb['mean_ms'] / ra['mean_ms']:8.2f}  "
                         f"{rb['peak_rss_mb'] / ra['peak_rss_mb']:12.2f}")
    qa, qb = pa.get("pipeline"), pb.get("pipeline")
    if qa and qb:
        ia = {(r["video"], r.get("pose"), r["threads"], r["pose_every"]): r for r in _ok(qa["results"])}
        lines += ["video                pose       threads  pose-every  FPS A    FPS B    B/A FPS  B/A pose p50"]
        for rb in _ok(qb["results"]):
            key = (rb["video"], rb.get("pose"), rb["threads"], rb["pose_every"])
            ra = ia.get(key)
            if ra is None or not ra.get("fps"):
                continue
            pose_a = (ra["stages_ms"].get("pose") or {}).get("p50") or float("nan")
            pose_b = (rb["stages_ms"].get("pose") or {}).get("p50") or float("nan")
            lines.append(f"{key[0]:20s} {str(key[1]):10s} {key[2]:7d}  {key[3]:10d}  {ra['fps']:7.1f}  {rb['fps']:7.1f}  "
                         f"{rb['fps'] / ra['fps']:7.2f}  {pose_b / pose_a:12.2f}")
    if not lines:
        raise ValueError("the two files share no variant to compare")
    return lines


def save_png(fig, path: Path) -> Path:
    """Render a matplotlib figure to PNG bytes, close it, and write them atomically."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path
