"""Tests for training.models: the paper's Figure 4 network, its ablations and the config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from training.models import (
    ARCHITECTURES,
    ModelConfig,
    build_model,
    count_params,
    embedding_model,
)

# Figure 4 of the paper, row by row: (layer type, output shape, params). Input is 130x1.
FIGURE_4 = [
    ("Conv1D", (None, 128, 256), 1024),
    ("LeakyReLU", (None, 128, 256), 0),
    ("Conv1D", (None, 126, 256), 196864),
    ("LeakyReLU", (None, 126, 256), 0),
    ("MaxPooling1D", (None, 63, 256), 0),
    ("Dropout", (None, 63, 256), 0),
    ("Conv1D", (None, 61, 256), 196864),
    ("LeakyReLU", (None, 61, 256), 0),
    ("Conv1D", (None, 59, 256), 196864),
    ("LeakyReLU", (None, 59, 256), 0),
    ("MaxPooling1D", (None, 29, 256), 0),
    ("Dropout", (None, 29, 256), 0),
    ("Bidirectional", (None, 29, 512), 1050624),
    ("Dropout", (None, 29, 512), 0),
    ("Bidirectional", (None, 512), 1182720),
    ("Dropout", (None, 512), 0),
    ("Dense", (None, 256), 131328),
    ("LeakyReLU", (None, 256), 0),
    ("Dropout", (None, 256), 0),
    ("Dense", (None, 5), 1285),
]
PAPER_PARAMS = 2_957_573


def test_import_does_not_load_tensorflow() -> None:
    """Importing the module must stay cheap: TF/Keras only load when a model is built."""
    code = (
        "import sys, training.models; "
        "sys.exit(any(m in sys.modules for m in ('tensorflow', 'keras')))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_config_json_round_trip_and_validation() -> None:
    config = ModelConfig("paper", 5, (130, 1), batch_size=1, dropout=0.25, seed=7, unroll=True)
    again = ModelConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert isinstance(again.input_shape, tuple)
    with pytest.raises(ValueError, match="unknown ModelConfig keys"):
        ModelConfig.from_dict({**config.to_dict(), "bogus": 1})
    with pytest.raises(ValueError, match="dropout"):
        ModelConfig("paper", 5, (130, 1), dropout=1.0)


def test_unknown_arch_lists_known_ones() -> None:
    pytest.importorskip("tensorflow")
    with pytest.raises(ValueError, match="unknown arch 'nope'") as info:
        build_model(ModelConfig("nope", 5, (130, 1)))
    for name in ("paper", "paper-lstm-bigru", "paper-lstm-gru"):
        assert name in str(info.value)


def test_paper_model_matches_figure_4() -> None:
    pytest.importorskip("tensorflow")
    model = build_model(ModelConfig("paper", 5, (130, 1)))
    assert count_params(model) == PAPER_PARAMS
    assert tuple(model.inputs[0].shape) == (None, 130, 1)
    rows = [
        (type(layer).__name__, tuple(layer.output.shape), layer.count_params())
        for layer in model.layers
        if type(layer).__name__ != "InputLayer"
    ]
    assert rows == FIGURE_4
    assert model.layers[-1].name == "probs"
    assert model.get_layer("embedding").output.shape == (None, 256)
    # Compiled as in the paper.
    assert type(model.optimizer).__name__ == "RMSprop"
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.001)
    assert model.loss == "sparse_categorical_crossentropy"


def test_ablations_are_smaller_and_output_distributions() -> None:
    pytest.importorskip("tensorflow")
    x = np.random.default_rng(0).normal(size=(3, 130, 1)).astype("float32")
    for arch in ("paper-lstm-bigru", "paper-lstm-gru"):
        model = build_model(ModelConfig(arch, 5, (130, 1)))
        assert count_params(model) < PAPER_PARAMS
        probs = model.predict(x, verbose=0)
        assert probs.shape == (3, 5)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
        assert np.all(probs >= 0)
    assert count_params(build_model(ModelConfig("paper-lstm-gru", 5, (130, 1)))) < count_params(
        build_model(ModelConfig("paper-lstm-bigru", 5, (130, 1)))
    )


def test_batch_size_one_fixes_batch_dimension() -> None:
    pytest.importorskip("tensorflow")
    model = build_model(ModelConfig("paper", 5, (130, 1), batch_size=1))
    assert tuple(model.inputs[0].shape) == (1, 130, 1)
    assert tuple(model.outputs[0].shape) == (1, 5)
    assert count_params(model) == PAPER_PARAMS


def test_embedding_model_shares_weights() -> None:
    pytest.importorskip("tensorflow")
    model = build_model(ModelConfig("paper-lstm-gru", 4, (130, 1)))
    emb = embedding_model(model)
    x = np.random.default_rng(1).normal(size=(2, 130, 1)).astype("float32")
    vectors = emb.predict(x, verbose=0)
    assert vectors.shape == (2, 256)
    # The probs layer applied to the embedding reproduces the full model's output.
    dense = model.get_layer("probs")
    np.testing.assert_allclose(
        np.asarray(dense(vectors)), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )


def test_unrolled_model_matches_rolled() -> None:
    """Unrolling (needed for int8 TFLite) changes the graph, not the weights or outputs."""
    pytest.importorskip("tensorflow")
    x = np.random.default_rng(2).normal(size=(2, 130, 1)).astype("float32")
    rolled = build_model(ModelConfig("paper-lstm-gru", 5, (130, 1), seed=3))
    unrolled = build_model(ModelConfig("paper-lstm-gru", 5, (130, 1), seed=3, unroll=True))
    assert count_params(unrolled) == count_params(rolled)
    np.testing.assert_allclose(
        unrolled.predict(x, verbose=0), rolled.predict(x, verbose=0), rtol=1e-4, atol=1e-6
    )


def test_seed_controls_initial_weights() -> None:
    pytest.importorskip("tensorflow")

    def weights(seed: int) -> list[np.ndarray]:
        return build_model(ModelConfig("paper-lstm-gru", 5, (130, 1), seed=seed)).get_weights()

    a, b, c = weights(0), weights(0), weights(1)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not all(np.array_equal(u, w) for u, w in zip(a, c))


@pytest.mark.slow
def test_tiny_fit_is_reproducible() -> None:
    pytest.importorskip("tensorflow")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 130, 1)).astype("float32")
    y = rng.integers(0, 5, size=16)
    config = ModelConfig("paper", 5, (130, 1), seed=123)

    def train() -> list[np.ndarray]:
        model = build_model(config)
        initial = model.get_weights()
        history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        assert len(history.history["loss"]) == 2
        assert np.all(np.isfinite(history.history["loss"]))
        trained = model.get_weights()
        assert any(not np.array_equal(a, b) for a, b in zip(initial, trained))
        return trained

    first, second = train(), train()
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_edge_model_is_small_and_standardises_inside():
    pytest.importorskip("tensorflow")
    from training.models import ModelConfig, build_model, count_params, embedding_model

    channels = 101
    mean = np.linspace(-1, 1, channels)
    std = np.linspace(0.5, 2, channels)
    config = ModelConfig("edge", num_classes=7, input_shape=(50, channels), batch_size=1, optimizer="adam",
                         norm_mean=mean.tolist(), norm_std=std.tolist())
    model = build_model(config)
    assert count_params(model) <= 300_000
    assert model.input.shape[0] == 1
    # the baked-in standardisation: the first layer maps the stored mean to zero
    standardise = model.get_layer("standardise")
    x = np.broadcast_to(mean, (1, 50, channels)).astype("float32")
    assert np.abs(np.asarray(standardise(x))).max() < 1e-5
    probs = np.asarray(model(x))
    assert probs.shape == (1, 7) and abs(float(probs.sum()) - 1) < 1e-5
    assert embedding_model(model)(x).shape == (1, config.width)
    assert ModelConfig.from_dict(config.to_dict()) == config


@pytest.mark.slow
def test_edge_model_converts_to_tflite_builtins(tmp_path):
    """The edge model uses only ops TFLite has as builtins (no Flex/Select TF ops)."""
    tf = pytest.importorskip("tensorflow")
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    from training.models import ModelConfig, build_model

    config = ModelConfig("edge", num_classes=5, input_shape=(50, 101), batch_size=1, optimizer="adam",
                         norm_mean=[0.1] * 101, norm_std=[2.0] * 101, seed=3)
    model = build_model(config)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # fails on any Flex op
    blob = converter.convert()
    interp = litert.Interpreter(model_content=blob)
    interp.allocate_tensors()
    ops = {op["op_name"] for op in interp._get_ops_details()}
    assert not any("Flex" in op for op in ops), ops
    x = np.random.default_rng(0).normal(size=(1, 50, 101)).astype("float32")
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    out = interp.get_tensor(interp.get_output_details()[0]["index"])
    assert np.abs(out - np.asarray(model(x))).max() < 1e-5
