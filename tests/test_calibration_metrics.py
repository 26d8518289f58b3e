"""Calibration ("unsure") and the metrics, against hand-made cases and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

from edge.classify.calibration import Calibration, fit_calibration, fit_temperature, temper
from training.metrics import bootstrap_interval, report


def test_temper_identity_and_flattening():
    p = np.array([[0.7, 0.2, 0.1]])
    assert np.allclose(temper(p, 1.0), p)
    flat = temper(p, 4.0)
    assert flat.max() < p.max() and np.isclose(flat.sum(), 1.0)


def test_fit_temperature_cools_an_overconfident_model():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 2000)
    correct = rng.random(2000) < 0.7  # right 70% of the time ...
    pred = np.where(correct, y, (y + 1) % 3)
    probs = np.full((2000, 3), 0.005)
    probs[np.arange(2000), pred] = 0.99  # ... but always 99% sure
    t = fit_temperature(probs, y)
    assert t > 1.5
    assert abs(temper(probs, t).max(axis=1).mean() - 0.7) < 0.08


def test_distance_and_unsure():
    rng = np.random.default_rng(1)
    means = np.array([[0.0, 0.0], [10.0, 0.0]])
    fit_y = rng.integers(0, 2, 500)
    fit_emb = means[fit_y] + rng.normal(0, 1, (500, 2))
    val_y = rng.integers(0, 2, 400)
    val_emb = means[val_y] + rng.normal(0, 1, (400, 2))
    val_probs = np.eye(2)[val_y] * 0.9 + 0.05
    cal = fit_calibration(val_probs, val_emb, val_y, 2, fit_emb, fit_y, accept_quantile=0.95)
    assert np.allclose(cal.class_means, means, atol=0.3)
    assert cal.distance(means).max() < 0.5
    a = cal.assess(val_probs, val_emb)
    assert 0.02 < a.unsure.mean() < 0.1  # about 5% of in-set windows are beyond the threshold
    far = cal.assess(np.array([[0.99, 0.01]]), np.array([[5.0, 40.0]]))
    assert far.unsure.all()  # confident, but far from everything seen in training
    again = Calibration.from_dict(cal.to_dict())
    assert np.allclose(again.distance(val_emb), cal.distance(val_emb), atol=1e-4)


def test_report_matches_sklearn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(2)
    y = rng.integers(0, 4, 300)
    p = np.where(rng.random(300) < 0.8, y, rng.integers(0, 4, 300))
    labels = ["a", "b", "c", "d"]
    r = report(y, p, labels)
    assert r["accuracy"] == pytest.approx(sk.accuracy_score(y, p))
    assert r["macro_f1"] == pytest.approx(sk.f1_score(y, p, average="macro"))
    assert r["weighted_f1"] == pytest.approx(sk.f1_score(y, p, average="weighted"))
    assert np.array_equal(r["confusion"], sk.confusion_matrix(y, p, labels=range(4)))
    rec = sk.recall_score(y, p, average=None)
    assert [r["per_class"][k]["recall"] for k in labels] == pytest.approx(list(rec))


def test_report_macro_f1_ignores_absent_classes_and_interval_brackets():
    y = np.array([0, 0, 1, 1])
    p = np.array([0, 0, 1, 0])
    r = report(y, p, ["a", "b", "c"])
    assert r["per_class"]["c"]["support"] == 0
    assert r["macro_f1"] == pytest.approx(np.mean([0.8, 2 / 3]))
    lo, hi = bootstrap_interval(y, p, np.arange(4), ["a", "b", "c"], n=200)
    assert lo <= r["macro_f1"] <= hi
