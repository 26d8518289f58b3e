"""The conversion report: every model variant in every export format, checked and scored.

``edgerec export-report`` trains the ``edge`` and ``paper`` models on four of five grouped
folds (the same split as ``edgerec train``'s default), converts each to every row of
:data:`edge.classify.formats.FORMATS`, and writes a Markdown table (with JSON beside it) of file
size, agreement with Keras and macro-F1 on the held-out clips, as measured by the converter
on the converted file itself. Formats that fail their parity limits are converted anyway
(``accept_mismatch``) so the report can show by how much.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any, Optional, Sequence

from edge.classify.formats import FORMATS
from edge.core import jsonio
from training.card import atomic_write_text
from training.report import fmt_number

ARCHS = ("edge", "paper")


def row_from_file(model: str, path: Path) -> dict[str, Any]:
    """Size and parity of a converted file, read from the card embedded in it."""
    from edge.classify.metadata import read_card

    export = read_card(path).get("export") or {}
    parity = export.get("parity") or {}
    return {
        "model": model,
        "format": export.get("format"),
        "file": path.name,
        "size_bytes": path.stat().st_size,
        "max_abs_diff": parity.get("max_abs_diff"),
        "agreement": parity.get("agreement"),
        "passed": parity.get("passed"),
        "verified_on": parity.get("inputs"),
    }


def _scores(result: dict) -> dict[str, Optional[float]]:
    return {"window_macro_f1": (result.get("window") or {}).get("macro_f1"),
            "clip_macro_f1": (result.get("clip_mean") or {}).get("macro_f1"),
            "ood_unsure": (result.get("unsure") or {}).get("out_of_set_windows_unsure")}


def run_export_report(data_dir: str | Path, out_dir: str | Path, work_dir: str | Path,
                      archs: Sequence[str] = ARCHS, seed: int = 0, reuse: bool = False) -> Path:
    """Train, convert and score; write ``report.md`` and ``report.json`` to ``out_dir``.

    Every file (Keras included) is scored by :func:`training.evaluate.evaluate_loaded` on the
    same held-out inputs: the fold-0 test clips and the out-of-set clips. With ``reuse``,
    models already in ``work_dir`` are scored again instead of being retrained/converted.
    """
    from edge.core.optional import require
    from converters.convert import convert_model
    from converters.inputs import gather_inputs
    from converters.model import load_source
    from training.card import read_card
    from training.datasets import load_all
    from training.evaluate import clip_inputs, evaluate_loaded
    from training.train import TrainConfig, train

    tqdm = require("tqdm", "train").tqdm
    started = time.time()
    work, out = Path(work_dir), Path(out_dir)
    work.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    models: dict[str, Any] = {}
    all_seqs = load_all(data_dir, progress=True)
    for arch in archs:
        path = work / f"{arch}.keras"
        if not (reuse and path.exists()):
            train(data_dir, path, TrainConfig(arch=arch, seed=seed, test_fold=0), progress=True)
        card = read_card(path)
        test_ids = set(card["split"]["test_clips"])
        held = [s for s in all_seqs if s.clip_id in test_ids or s.label not in card["labels"]]
        held_inputs = clip_inputs(card, held)
        keras_scores = _scores(evaluate_loaded(path, held, held_inputs))
        params = card.get("params")
        if params is None:  # cards written before params were recorded for every arch
            params = int(require("keras", "train").models.load_model(path, compile=False).count_params())
        models[arch] = {"params": params, "keras_size_bytes": path.stat().st_size,
                        "train_seconds": card.get("train_seconds"), "held_out_clips": len(held), **keras_scores}
        inputs = None
        for fmt in tqdm(FORMATS, desc=f"converting {arch}", unit="format"):
            target = work / f"{arch}.{fmt.quant}{fmt.suffix}"
            if not (reuse and target.exists()):
                if inputs is None:
                    source = load_source(path)
                    inputs = gather_inputs(source.card, source.input_shape, Path(data_dir), Path(data_dir),
                                           need_calibration=True, seed=seed, progress=True)
                convert_model(path, fmt.target, fmt.quant, out=target, inputs=inputs, accept_mismatch=True)
            row = row_from_file(arch, target)
            row.update(_scores(evaluate_loaded(target, held, held_inputs)))
            rows.append(row)
    report = {
        "machine": {"platform": platform.platform(), "processor": platform.processor()},
        "data": str(data_dir), "seed": seed, "split": "grouped fold 0 of 5 held out (edgerec train's default)",
        "models": models, "rows": rows, "seconds": round(time.time() - started, 1), "reused": reuse,
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "report.json", jsonio.dumps(report, indent=1))
    return write_markdown(report, out)


def write_markdown(report: dict, out: Path) -> Path:
    lines = [
        "# Export formats: size, agreement with Keras, held-out accuracy",
        "",
        f"Generated by `edgerec export-report{' --reuse' if report.get('reused') else ''}` "
        f"({report['machine']['platform']}, {report['seconds']:.0f} s"
        f"{', scoring models trained and converted by an earlier full run' if report.get('reused') else ''}, one run). "
        f"Models trained with {report['split']}; every converted file was run in its edge backend "
        "(LiteRT or ONNX Runtime, 1 thread) on the held-out windows and compared with Keras on the same inputs. "
        "Every file, Keras included, was then scored with `edgerec evaluate`'s code on the same held-out "
        "clips: the fold-0 test clips (in-set styles; window and clip macro-F1, the paper's models have "
        "clip vectors only) and the out-of-set videos (share of windows answered unsure). Parity was measured "
        "by the converter on held-out windows (topped up with training clips where fewer than 50).",
        "",
        "| model | format | size | max abs diff (probs) | top-1 agreement | passes limits | window macro-F1 | "
        "clip macro-F1 | out-of-set windows unsure |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for arch, info in report["models"].items():
        lines.append(f"| {arch} ({info['params']:,} params) | Keras (.keras) | {info['keras_size_bytes'] / 1024:.0f} KiB "
                     f"| - | - | - | {fmt_number(info['window_macro_f1'])} | {fmt_number(info['clip_macro_f1'])} | "
                     f"{fmt_number(info['ood_unsure'], 2)} |")
        for r in (r for r in report["rows"] if r["model"] == arch):
            agreement = f"{100 * r['agreement']:.2f}%" if r["agreement"] is not None else "n/a"
            lines.append(
                f"| {arch} | {r['format']} | {r['size_bytes'] / 1024:.0f} KiB | {fmt_number(r['max_abs_diff'], 4)} | "
                f"{agreement} | {'yes' if r['passed'] else '**no**'} | {fmt_number(r['window_macro_f1'])} | "
                f"{fmt_number(r['clip_macro_f1'])} | {fmt_number(r['ood_unsure'], 2)} |")
    edge_rows = {r["format"]: r for r in report["rows"] if r["model"] == "edge"}
    if "tflite-int8" in edge_rows and "tflite-float32" in edge_rows and edge_rows["tflite-int8"]["window_macro_f1"] is not None:
        d = 100 * (edge_rows["tflite-int8"]["window_macro_f1"] - edge_rows["tflite-float32"]["window_macro_f1"])
        lines += ["", f"edge int8 against float32 (TFLite), window macro-F1: {d:+.2f} points "
                  f"({'within' if abs(d) <= 1 else 'NOT within'} the 1-point target)."]
    lines += [
        "",
        "Notes: for `tflite-int8` and `onnx-static` the input standardisation runs in the backend in float32 "
        "(recorded in the file's card), because one int8 scale cannot serve 101 raw channels of very different "
        "ranges. tf2onnx turns the paper model's LSTM/GRU into `Loop` nodes whose bodies ONNX Runtime's "
        "quantiser leaves in float32; its card says so. The paper model's recurrent layers quantise poorly: "
        "formats marked **no** are refused by `edgerec convert` unless `--accept-mismatch` is given.",
        "",
    ]
    path = out / "report.md"
    atomic_write_text(path, "\n".join(lines))
    return path
