"""The export report's Markdown, from a report dict (the training and conversion are tested elsewhere)."""

from __future__ import annotations

from converters.report import write_markdown


def _row(fmt: str, f1: float | None, passed: bool = True) -> dict:
    return {"model": "edge", "format": fmt, "file": f"edge.{fmt}", "size_bytes": 204800, "max_abs_diff": 0.01,
            "agreement": 0.995, "passed": passed, "window_macro_f1": f1, "clip_macro_f1": f1, "ood_unsure": None}


def test_markdown_lists_every_row_and_the_int8_gap(tmp_path):
    report = {"machine": {"platform": "test"}, "seconds": 1.0, "split": "fold 0", "reused": False,
              "models": {"edge": {"params": 1234, "keras_size_bytes": 2048, "window_macro_f1": 0.9,
                                  "clip_macro_f1": 0.8, "ood_unsure": 0.5}},
              "rows": [_row("tflite-float32", 0.90), _row("tflite-int8", 0.885), _row("onnx-static", None, False)]}
    text = write_markdown(report, tmp_path).read_text()
    assert "| edge (1,234 params) | Keras (.keras) | 2 KiB |" in text
    assert "| edge | tflite-int8 | 200 KiB | 0.0100 | 99.50% | yes | 0.885 |" in text
    assert "| onnx-static |" in text and "**no**" in text and "n/a" in text
    assert "-1.50 points (NOT within the 1-point target)" in text
