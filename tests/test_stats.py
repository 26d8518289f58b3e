"""The evaluation summary prints for every shape of result, including out-of-set only."""

from __future__ import annotations

from training.stats import render_evaluation


def test_render_out_of_set_only(capsys):
    result = {"model": "m.keras", "labels": ["a", "b"], "clips": 2, "clips_scored": 0, "windows": 0,
              "window": None, "clip_majority": None, "clip_mean": None, "seconds": 0.1,
              "unsure": {"in_set_windows_unsure": None, "in_set_accuracy_when_sure": None,
                         "out_of_set_windows_unsure": 0.75, "out_of_set_clips_mostly_unsure": 2,
                         "out_of_set_clips": 2, "out_of_set_windows_confident_wrong": 0.0}}
    render_evaluation(result)
    out = capsys.readouterr().out
    assert "no in-set clips to score" in out and "75% of out-of-set windows" in out
