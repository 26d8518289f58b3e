"""`edgerec fewshot`: the few-shot protocol's pieces on tiny synthetic data (the draws never
use the test dancer, the recorded replay equals the runtime's, the 1-NN baseline, the
intervals, the report), and the command end to end on the real data (slow)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from edge.classify.calibration import Calibration
from edge.classify.packs import PackedStyleModel
from edge.core.schema import LANDMARK, NUM_LANDMARKS, PoseSequence, uniform_times
from edge.features import FeatureSpec
from training.fewshot import (BACHATA, NO_MAJORITY, SALSA, FoldModel, NearestNeighbour, Recorded, Setup,
                              base_decide, draw, fold_examples, majority, make_pack, measure, pack_decide,
                              packed_model, record, replay_recorded, salsa_folds, two_way_intervals)
from training.fewshot_report import render_markdown, target_row, write
from training.realvideo import replay

LABELS = ["salsa", "waltz"]
DIM = 4


# ------------------------------------------------------------------ synthetic pieces


def _recorded(clip: str, label: str, group: str, centre: np.ndarray, windows: int = 6, seed: int = 0,
              stats_centre: float = 0.0) -> Recorded:
    """A clip as if the runtime had classified ``windows`` windows near ``centre``."""
    rng = np.random.default_rng(seed)
    emb = centre[None] + 0.3 * rng.standard_normal((windows, DIM))
    logits = rng.standard_normal((windows, len(LABELS)))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    stats = stats_centre + 0.1 * rng.standard_normal((windows, 6))
    return Recorded(clip, label, group, "synthetic", 10.0, emb, probs, probs.copy(), np.zeros(windows, bool),
                    stats, 3.0 + 0.5 * np.arange(windows), tuple(range(windows)), 0.0, 0)


def _calibration(threshold: float = 50.0) -> Calibration:
    means = np.stack([np.full(DIM, 5.0), np.full(DIM, -5.0)])
    return Calibration(1.0, means, np.eye(DIM), threshold, 0.5)


class _Predict:
    """A deterministic stand-in network: probabilities and a 4-d embedding from the window's
    mean and spread (so different motion gives different embeddings)."""

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, np.float64)
        m = x.mean(axis=(1, 2))
        s = x.std(axis=(1, 2))
        emb = np.stack([m, s, m * s, m - s], axis=1)
        logits = np.stack([m, -m], axis=1)
        p = np.exp(logits - logits.max(1, keepdims=True))
        return p / p.sum(1, keepdims=True), emb


def _model(threshold: float = 50.0) -> FoldModel:
    return FoldModel(_Predict(), LABELS, FeatureSpec(lag_seconds=0.5), _calibration(threshold), "synthetic.keras",
                     "f" * 64)


def _dancer(seconds: float = 16.0, fps: float = 30.0, freq: float = 1.2, gap: tuple[float, float] = (7.0, 9.5),
            clip: str = "syn:a") -> PoseSequence:
    """A stick figure stepping and swinging its limbs, with nobody in view during ``gap``
    (longer than the runtime's reset time, so its smoother is reset mid-clip)."""
    t = uniform_times(int(seconds * fps), fps)
    pts = np.zeros((len(t), NUM_LANDMARKS, 3), np.float32)
    base = {"nose": (320, 100), "left_shoulder": (350, 150), "right_shoulder": (290, 150), "left_elbow": (370, 200),
            "right_elbow": (270, 200), "left_wrist": (380, 250), "right_wrist": (260, 250), "left_hip": (340, 260),
            "right_hip": (300, 260), "left_knee": (345, 340), "right_knee": (295, 340), "left_ankle": (350, 420),
            "right_ankle": (290, 420)}
    swing = {"left_wrist": 30, "right_wrist": -30, "left_elbow": 15, "right_elbow": -15, "left_ankle": 20,
             "right_ankle": -20, "left_knee": 10, "right_knee": -10}
    sway = 20 * np.sin(2 * np.pi * freq * t)
    mask = np.zeros((len(t), NUM_LANDMARKS), bool)
    seen = ~((t >= gap[0]) & (t < gap[1]))
    for name, (x, y) in base.items():
        pts[:, LANDMARK[name], 0] = x + sway
        pts[:, LANDMARK[name], 1] = y + swing.get(name, 0) * np.sin(2 * np.pi * freq * t)
        mask[:, LANDMARK[name]] = seen
    return PoseSequence(points=pts, mask=mask, times=t, fps=fps, frame="image", label="salsa", group="dancer:x",
                        source="openpose", clip_id=clip, image_size=(640, 480))


# ------------------------------------------------------------------ the draws


def test_salsa_folds_never_put_the_test_dancer_in_the_pool():
    groups = ["dancer:a"] * 4 + ["dancer:b"] * 3 + ["dancer:c"] * 2
    folds = salsa_folds(groups)
    assert [f.dancer for f in folds] == ["dancer:a", "dancer:b", "dancer:c"]
    for f in folds:
        assert all(groups[i] == f.dancer for i in f.test)
        assert all(groups[i] != f.dancer for i in f.pool)
        assert sorted(f.test + f.pool) == list(range(len(groups)))
    # every clip is tested exactly once over the folds
    assert sorted(i for f in folds for i in f.test) == list(range(len(groups)))


def _setups(n_bachata: int = 6) -> list[Setup]:
    groups = ["dancer:a"] * 4 + ["dancer:b"] * 3 + ["dancer:c"] * 3
    salsa = tuple(_recorded(f"s{i}", SALSA, g, np.full(DIM, 3.0), seed=i) for i, g in enumerate(groups))
    bachata = tuple(_recorded(f"b{i}", BACHATA, "couple", np.full(DIM, -3.0), seed=100 + i) for i in range(n_bachata))
    others = (_recorded("o0", "ballet", "video:ballet", np.full(DIM, 40.0), seed=200),)
    model = _model()
    return [Setup(f, model, salsa, bachata, others) for f in salsa_folds(groups)]


def test_example_draws_never_use_the_test_dancer_and_repeat_with_the_seed():
    setups = _setups()
    groups = [r.group for r in setups[0].salsa]
    for k in (1, 2, 3):
        for d in range(30):
            exs = fold_examples(0, k, d, setups)
            for s, ex in zip(setups, exs):
                assert len(set(ex.salsa)) == len(ex.salsa) == k
                assert not {groups[i] for i in ex.salsa} & {s.fold.dancer}
                assert set(ex.salsa) <= set(s.fold.pool)
                assert len(set(ex.bachata)) == len(set(ex.mixed)) == k
            assert exs == fold_examples(0, k, d, setups)  # the same examples whatever ran before
    assert any(fold_examples(0, 2, d, setups) != fold_examples(1, 2, d, setups) for d in range(5))


def test_draw_refuses_more_examples_than_the_pool_holds():
    with pytest.raises(ValueError, match="cannot draw 3"):
        draw((1, 2), 3, np.random.default_rng(0))


# ------------------------------------------------------------------ votes, baseline, intervals


def test_majority_a_tie_is_never_a_style():
    assert majority(["salsa", "salsa", None]) == "salsa"
    assert majority(["salsa", None]) == NO_MAJORITY
    assert majority([None, None, "bachata"]) == "unsure"
    assert majority([]) is None


def test_nearest_neighbour_is_perfect_on_separable_windows():
    ex = {SALSA: [_recorded(f"s{i}", SALSA, "a", np.zeros(DIM), seed=i, stats_centre=5.0) for i in range(2)],
          BACHATA: [_recorded(f"b{i}", BACHATA, "b", np.zeros(DIM), seed=9 + i, stats_centre=-5.0) for i in range(2)]}
    nn = NearestNeighbour(ex)
    for label, centre in ((SALSA, 5.0), (BACHATA, -5.0)):
        test = _recorded("t", label, "c", np.zeros(DIM), windows=12, seed=42, stats_centre=centre)
        votes = list(nn.predict(test.stats))
        assert votes == [label] * 12
        assert majority(votes) == label


def test_two_way_intervals_bracket_the_pooled_rate():
    correct = np.ones((5, 4))
    iv = two_way_intervals(correct, np.ones((5, 4)))
    assert iv["ci95_boot"] == [1.0, 1.0]
    rng = np.random.default_rng(0)
    c = (rng.random((10, 6)) < 0.7).astype(float)
    iv = two_way_intervals(c, np.ones((10, 6)))
    for key in ("ci95_draws", "ci95_clips", "ci95_boot"):
        lo, hi = iv[key]
        assert 0.0 <= lo <= c.mean() <= hi <= 1.0
    assert two_way_intervals(np.ones((1, 1)), np.ones((1, 1)))["ci95_boot"] == [None, None]


# ------------------------------------------------------------------ the recorded replay is the runtime's


def test_recorded_replay_equals_the_runtime_for_the_model_and_its_packs():
    model = _model()
    seq = _dancer(clip="syn:a")
    other = _dancer(freq=0.6, gap=(0.0, 0.0), clip="syn:b")
    rec, rec_b = record(model, seq), record(model, other)
    assert rec.windows > 5 and -1 in rec.events  # the gap reset the smoother mid-clip
    same = ("decided", "right", "unsure", "shown", "shown_counts", "majority", "first_style_s", "first_decision_s",
            "still")

    def check(real, decide, labels):
        a, b = replay(real, seq), replay_recorded(rec, decide, labels).result
        assert {k: a.to_dict()[k] for k in same} == {k: b.to_dict()[k] for k in same}

    check(model, base_decide, model.labels)
    rb = dict(rec_b.__dict__, label=BACHATA, clip_id="syn:b")
    pack = make_pack(model, {SALSA: [rec], BACHATA: [Recorded(**rb)]})
    for only in (True, False):
        check(PackedStyleModel(model, pack, only_pack=only), pack_decide(packed_model(model, pack, only)),
              packed_model(model, pack, only).labels)


# ------------------------------------------------------------------ measure and the report


@pytest.fixture(scope="module")
def small_result() -> dict:
    setups = _setups()
    res = measure(setups, draws=2, seed=0, ks=(1, 3))
    res["data"] = {"salsa_clips": [{"clip": r.clip_id, "dancer": r.group, "seconds": 10.0, "windows": r.windows}
                                   for r in setups[0].salsa],
                   "bachata_clips": [{"clip": r.clip_id, "seconds": 10.0, "windows": r.windows}
                                     for r in setups[0].bachata],
                   "out_of_set_clips": [{"clip": r.clip_id, "label": r.label, "seconds": 10.0, "windows": r.windows}
                                        for r in setups[0].others]}
    res["settings"] = {"draws": 2, "seed": 0, "k": [1, 3], "target_k": 3, "target": 0.9, "bootstrap": 2000,
                       "quick": False}
    res["machine"] = {"words": "2-core x86_64", "platform": "test", "cores": 2, "arch": "x86_64"}
    res["model"] = {"name": "synthetic.keras", "fingerprint": "f" * 64, "distance_threshold": 50.0}
    res["command"] = "edgerec fewshot --draws 2 --seed 0"
    res["seconds"] = 1.0
    return res


def test_measure_scores_separable_taught_styles_perfectly(small_result):
    b = small_result["by_k"]["3"]
    assert b["pack_salsa"]["clips"]["rate"] == 1.0
    assert b["pack_bachata"]["clips"]["rate"] == 1.0
    # every salsa clip is tested once per draw; bachata's tests are the clips not drawn as examples
    assert b["pack_salsa"]["clips"]["n"] == 2 * 10
    assert b["pack_bachata"]["clips"]["n"] == 2 * 3 * (6 - 3)
    assert b["salsa_only_bachata"]["majorities"].get(BACHATA) is None  # a pack without bachata never shows it
    assert target_row(small_result)["met"]


def test_measure_repeats_exactly_with_the_seed(small_result):
    again = measure(_setups(), draws=2, seed=0, ks=(1, 3))
    for key in ("by_k", "examples", "base", "limits"):
        assert json.dumps(again[key], sort_keys=True) == json.dumps(small_result[key], sort_keys=True)
    # one pack per fold per draw is measured for where the out-of-set windows fall
    assert len(again["limits"]["diagnostics"]["test_windows"]["out-of-set: ballet"]) and \
        again["limits"]["diagnostics"]["test_windows"]["out-of-set: ballet"]["windows"] == 2 * 3 * 6


def test_report_renders_and_writes_atomically(small_result, tmp_path):
    md = render_markdown(small_result)
    for text in ("# Few-shot style packs", "edgerec fewshot --draws 2 --seed 0", "2-core x86_64",
                 "leave one dancer out", "same couple", "## The done-when target", "1-NN baseline",
                 "## \"Unsure\" for a style that was not taught"):
        assert text in md
    path = write(dict(small_result), tmp_path / "out")
    assert path.read_text() == md
    json.loads((tmp_path / "out" / "report.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    assert (tmp_path / "out" / "accuracy_vs_k.png").read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temporaries left


def test_report_renders_the_fold_model_check(small_result):
    fold = measure(_setups(), draws=2, seed=0, ks=(1, 3), nn=False)
    assert "nn_salsa" not in fold["by_k"]["3"]
    fold["training"] = {"config": {"per_class": 60, "epochs": 3, "seed": 0}, "seconds": 1.0,
                        "folds": [{"dancer": "dancer:a", "epochs": 3, "validation_threshold": 9.0,
                                   "threshold_scale": 0.9, "distance_threshold": 8.1}]}
    md = render_markdown({**small_result, "fold_models": fold})
    assert "## Fair check: fold models" in md
    assert "For a style the embedding has never seen" in md
    assert md.count("| fold models | salsa, leave one dancer out |") == 1


# ------------------------------------------------------------------ the command


@pytest.mark.slow
def test_fewshot_command_end_to_end(data_root, tmp_path):
    from edge.cli import main

    if not (data_root / "openpose" / "salsa").is_dir() or not (data_root / "realvideo" / "bachata").is_dir():
        pytest.skip(f"the real salsa and bachata clips are not in {data_root}")
    out = tmp_path / "fewshot"
    res = CliRunner().invoke(main, ["fewshot", "--data", str(data_root), "--out", str(out), "--draws", "2",
                                    "--no-fold-models"])
    assert res.exit_code == 0, res.output
    rep = json.loads((out / "report.json").read_text())
    assert rep["settings"]["draws"] == 2
    assert rep["verification"]["identical"] == rep["verification"]["replays"] > 0
    assert rep["verification"]["teaching_windows_same_count"] == rep["verification"]["teaching_clips"]
    assert rep["timing"]["runs"] > 0 and rep["timing"]["clip_seconds"] == pytest.approx(30.0, abs=0.5)
    assert {"1", "2", "3", "5"} == set(rep["by_k"])
    # leave one dancer out: no salsa example of a fold is the fold's dancer
    dancers = [c["dancer"] for c in rep["data"]["salsa_clips"]]
    for k, draws in rep["examples"].items():
        for folds in draws:
            for f in folds:
                assert len(f["salsa"]) == int(k) and all(dancers[i] != f["dancer"] for i in f["salsa"])
    md = (out / "report.md").read_text()
    assert "edgerec fewshot --draws 2 --seed 0 --no-fold-models" in md
    assert (out / "accuracy_vs_k.png").stat().st_size > 1000
