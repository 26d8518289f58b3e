"""The audio report (benchmarks/audio.py, ``edgerec bench audio``): its statistics, and a
--quick run on a few real songs that writes strictly parseable JSON with every section."""

from __future__ import annotations

import json
import math
import sys
from unittest import mock

import numpy as np
import pytest
from click.testing import CliRunner

from benchmarks.audio import auc, auc_ci, boot_ci, f_measure, render, tempo_relation
from edge.core import jsonio

SECTIONS = ("tempo", "beats", "on_beat", "recommend", "dancesport", "fused")


def test_f_measure_matches_within_70_ms_one_to_one():
    ref = np.arange(5.0, 15.0, 0.5)
    assert f_measure(ref, ref) == 1.0
    assert f_measure(ref + 0.06, ref) == 1.0
    assert f_measure(ref + 0.08, ref) == 0.0
    assert f_measure(ref + 0.25, ref) == 0.0  # the off-beat
    both = np.sort(np.concatenate([ref, ref + 0.25]))  # double tempo: precision 1/2, recall 1
    assert f_measure(both, ref) == pytest.approx(2 * 0.5 / 1.5)
    assert f_measure(np.array([1.0, 2.0]), np.array([1.0, 2.0])) != f_measure(np.array([1.0, 2.0]), np.array([1.0, 2.0]))  # all before 5 s: NaN


def test_tempo_relations_and_auc():
    assert tempo_relation(121, 120) == "match"
    assert tempo_relation(240, 121) == "double" and tempo_relation(60, 121) == "half"
    assert tempo_relation(180, 120) == "x3/2" and tempo_relation(100, 120) == "other"
    assert tempo_relation(float("nan"), 120) == "none"
    assert auc([2, 3], [0, 1]) == 1.0 and auc([0, 1], [2, 3]) == 0.0 and auc([1], [1]) == 0.5
    r = auc_ci([(np.array([1.0, 2.0]), np.array([0.0])), (np.array([3.0]), np.array([0.5, 4.0]))])
    assert r["clips"] == 2 and 0 <= r["value"] <= 1 and r["ci"][0] <= r["value"] <= r["ci"][1]


def test_bootstrap_is_seeded_and_resamples_clips():
    groups = [[0.0, 0.0, 0.0], [1.0], [0.5, 0.5]]
    a, b = boot_ci(groups), boot_ci(groups)
    assert a == b and a[0] <= 0.5 <= a[1]
    assert boot_ci([[1.0, 2.0]]) is None  # one clip: no interval


@pytest.fixture(scope="module")
def quick_report(data_root, tmp_path_factory):
    from benchmarks.cli import bench

    if not any((data_root / "music2dance").glob("DANCE_*/audio.opus")):
        pytest.skip(f"no Music-to-Dance songs under {data_root / 'music2dance'}")
    pytest.importorskip("librosa", reason="the audio report compares with librosa")
    out = tmp_path_factory.mktemp("audio")
    fused = {"kept": False, "reason": "no gain", "machine": "test", "command": "x", "notes": ["a note"],
             "rows": [{"variant": "pose+audio", "condition": "synced", "clips": 3, "metric": "macro-F1",
                       "value": 0.5, "ci": [0.4, 0.6]},
                      {"variant": "pose", "condition": "synced", "clips": 3, "metric": "macro-F1", "value": 0.5,
                       "ci": None}]}
    (out / "fused.json").write_text(json.dumps(fused))
    args = ["audio", "--quick", "--quiet", "--data", str(data_root), "--out", str(out)]
    with mock.patch.object(sys, "argv", ["edgerec", "bench", *args]):  # the command the report records
        res = CliRunner().invoke(bench, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return out


def test_quick_report_is_strict_json_with_every_section(quick_report):
    text = (quick_report / "report.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    doc = jsonio.loads(text)
    for key in SECTIONS + ("machine", "command", "seconds"):
        assert key in doc, key
    assert doc["quick"] is True and doc["command"].startswith("edgerec bench audio")
    assert doc["tempo"]["clips"]["music2dance"] >= 3
    g = doc["tempo"]["groups"]["music2dance"]["stream"]
    assert 0.0 <= g["within_4_percent"]["value"] <= 1.0
    assert doc["beats"]["groups"]["music2dance"]["settled"]["value"] is not None
    assert "synced" in doc["on_beat"]["groups"]["music2dance"]["all"]["mean_score"]
    assert set(doc["recommend"]["methods"]) == {"paper", "centred", "shape", "tempo", "random"}
    assert {r["meter"] for r in doc["dancesport"]["accuracy"]} >= {"none", "full band"}
    assert doc["fused"]["measured"] is True and doc["fused"]["rows"][0]["value"] == 0.5
    for png in ("tempo.png", "on_beat.png"):
        assert (quick_report / png).read_bytes()[:4] == b"\x89PNG"


def test_quick_report_markdown_states_machine_command_and_counts(quick_report):
    md = (quick_report / "report.md").read_text()
    for heading in ("## a. Tempo", "## b. Beats", "## c. On the beat", "## d. Recommender", "## e. DanceSport fit",
                    "## f. Fused model"):
        assert heading in md
    assert md.count("Machine:") >= 6 and md.count("Command: `edgerec bench audio") >= 5
    assert "Kept: **no**" in md and "a note" in md and "pose+audio" in md
    assert not list(quick_report.glob("*.tmp*")) and not list(quick_report.glob(".*"))


def test_without_fused_json_the_section_says_not_measured(quick_report):
    doc = jsonio.loads((quick_report / "report.json").read_text())
    md = render({**doc, "fused": {"measured": False}})
    assert "Not measured yet." in md
    assert math.isfinite(doc["seconds"])
