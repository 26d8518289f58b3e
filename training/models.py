"""Keras classifiers for dance-style recognition, built from one small frozen config.

The reference model is the paper's Figure 4: two Conv1D blocks over the 130-value fused
pose+audio feature vector (treated as a 130-step, 1-channel sequence), then a
bidirectional LSTM, a bidirectional GRU and a dense head. The paper's results section also
reports two ablations that replace the bidirectional recurrent layers with plain ones;
they are registered here too so that the comparison can be reproduced.

Everything a trained model needs to be rebuilt lives in :class:`ModelConfig`, which
round-trips through JSON (``to_dict``/``from_dict``) so it can be stored in a model card.
Architectures are looked up by name in :data:`ARCHITECTURES`; new ones (such as a smaller
``edge`` model) are added with :func:`register_architecture` and get compilation, seeding
and the ``embedding``/``probs`` layer-name contract from :func:`build_model` for free.

TensorFlow/Keras are imported lazily, inside functions, so importing this module is cheap
and does not require the ``train`` extra until a model is actually built.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Callable

from edge.core.optional import require

if TYPE_CHECKING:  # pragma: no cover - typing only
    import keras

#: Name of the penultimate layer; its output is the song-matching embedding (the paper
#: recommends songs by cosine similarity of this layer's activations).
EMBEDDING_LAYER = "embedding"
#: Name of the final softmax layer.
PROBS_LAYER = "probs"
#: Optimizers a config may name (the paper uses RMSprop; the edge model trains with Adam).
OPTIMIZERS = ("rmsprop", "adam")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild (and re-train reproducibly) one classifier.

    Frozen so a config can be shared between the trainer, the converters and the model card
    without anyone mutating it underneath the others.

    Attributes:
        arch: key into :data:`ARCHITECTURES` (``"paper"``, ``"paper-lstm-bigru"``, ...).
        num_classes: number of dance styles; width of the ``probs`` layer.
        input_shape: per-sample shape without the batch axis, e.g. ``(130, 1)``.
        batch_size: fixed batch dimension, or ``None`` for a variable one. TFLite needs a
            fixed batch of 1 to convert recurrent layers, so converters rebuild with ``1``.
        dropout: rate of every Dropout layer (the paper does not state it).
        learning_rate: RMSprop learning rate (the paper uses 0.001).
        seed: passed to ``keras.utils.set_random_seed`` before building, so weight
            initialisation, dropout masks and shuffling in a following ``fit`` repeat.
        unroll: unroll recurrent layers into static per-step ops. Full-integer TFLite
            conversion cannot quantize the while-loop form of LSTM/GRU; unrolling removes it.
    """

    arch: str
    num_classes: int
    input_shape: tuple[int, ...]
    batch_size: int | None = None
    dropout: float = 0.3
    learning_rate: float = 0.001
    seed: int = 0
    unroll: bool = False
    optimizer: str = "rmsprop"
    width: int = 64
    norm_mean: tuple[float, ...] | None = None
    norm_std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        """Normalise ``input_shape`` to a tuple (JSON gives a list) and reject bad values early."""
        shape = tuple(int(d) for d in self.input_shape)
        object.__setattr__(self, "input_shape", shape)
        for name in ("norm_mean", "norm_std"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(float(v) for v in value))
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {self.optimizer!r}")
        if not shape or any(d < 1 for d in shape):
            raise ValueError(f"input_shape must be non-empty positive ints, got {shape}")
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {self.num_classes}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be None or >= 1, got {self.batch_size}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (``input_shape`` as a list) for the model card."""
        data = asdict(self)
        data["input_shape"] = list(self.input_shape)
        for name in ("norm_mean", "norm_std"):
            if data[name] is not None:
                data[name] = list(data[name])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Rebuild a config from :meth:`to_dict` output; unknown keys are an error, not ignored."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown ModelConfig keys {unknown}; known: {sorted(known)}")
        return cls(**data)


Builder = Callable[[ModelConfig], "keras.Model"]

#: Architecture name -> function building the (uncompiled) Keras model for a config.
#: Builders must name the penultimate layer ``embedding`` and the softmax ``probs``.
ARCHITECTURES: dict[str, Callable[[ModelConfig], keras.Model]] = {}


def register_architecture(name: str) -> Callable[[Builder], Builder]:
    """Decorator adding a builder to :data:`ARCHITECTURES` under ``name`` (no silent overwrite)."""

    def decorator(fn: Builder) -> Builder:
        if name in ARCHITECTURES:
            raise ValueError(f"architecture {name!r} is already registered")
        ARCHITECTURES[name] = fn
        return fn

    return decorator


def _paper_family(config: ModelConfig, first_rnn: str, second_rnn: str) -> keras.Model:
    """Figure 4's network with a choice of recurrent pair ("bilstm"/"lstm", "bigru"/"gru").

    Conv1D layers use 'valid' padding and Keras' default LeakyReLU slope, which is what the
    figure's shapes (130 -> 128 -> 126 -> 63 ...) and parameter counts imply.
    """
    keras = require("keras", "train")
    layers = keras.layers
    if len(config.input_shape) != 2:
        raise ValueError(
            f"arch {config.arch!r} needs input_shape (steps, channels), got {config.input_shape}"
        )
    units = 256
    inputs = keras.Input(shape=config.input_shape, batch_size=config.batch_size, name="features")
    x = inputs
    for block in (1, 2):
        for i in (1, 2):
            x = layers.Conv1D(units, 3, name=f"conv{block}_{i}")(x)
            x = layers.LeakyReLU(name=f"conv{block}_{i}_act")(x)
        x = layers.MaxPooling1D(2, name=f"pool{block}")(x)
        x = layers.Dropout(config.dropout, name=f"conv{block}_drop")(x)

    def rnn(kind: str, return_sequences: bool, name: str) -> Any:
        cell = layers.LSTM if kind.endswith("lstm") else layers.GRU
        layer = cell(units, return_sequences=return_sequences, unroll=config.unroll, name=name)
        return layers.Bidirectional(layer, name=f"bi_{name}") if kind.startswith("bi") else layer

    x = rnn(first_rnn, True, first_rnn.removeprefix("bi") + "1")(x)
    x = layers.Dropout(config.dropout, name="rnn1_drop")(x)
    x = rnn(second_rnn, False, second_rnn.removeprefix("bi") + "2")(x)
    x = layers.Dropout(config.dropout, name="rnn2_drop")(x)
    x = layers.Dense(units, name="dense")(x)
    # The activation (not the following Dropout) carries the name: at inference the two are
    # identical, and this way the embedding never depends on the training flag.
    x = layers.LeakyReLU(name=EMBEDDING_LAYER)(x)
    x = layers.Dropout(config.dropout, name="dense_drop")(x)
    outputs = layers.Dense(config.num_classes, activation="softmax", name=PROBS_LAYER)(x)
    return keras.Model(inputs, outputs, name=config.arch)


@register_architecture("paper")
def paper_model(config: ModelConfig) -> keras.Model:
    """The paper's BiLSTM-BiGRU classifier (Figure 4; 2,957,573 parameters for 5 classes)."""
    return _paper_family(config, "bilstm", "bigru")


@register_architecture("paper-lstm-bigru")
def paper_lstm_bigru_model(config: ModelConfig) -> keras.Model:
    """Ablation from the paper's results: first recurrent layer a plain LSTM, then BiGRU."""
    return _paper_family(config, "lstm", "bigru")


@register_architecture("paper-lstm-gru")
def paper_lstm_gru_model(config: ModelConfig) -> keras.Model:
    """Ablation from the paper's results: plain LSTM then plain GRU."""
    return _paper_family(config, "lstm", "gru")


@register_architecture("edge")
def edge_model(config: ModelConfig) -> keras.Model:
    """edgerec's on-device classifier: a small temporal CNN over a window of per-frame features.

    Input (frames, channels) from :func:`edge.features.window_features`. Per-channel
    standardisation is baked in (``norm_mean``/``norm_std``) so the file is self-contained.
    Three Conv1D blocks (batch-norm, ReLU, pooling) see about 2 s of motion at the top,
    global average and max pooling summarise the window, and a small dense ``embedding``
    feeds the softmax. Only Conv1D, pooling, dense and element-wise ops, so TFLite converts
    it to builtins (no Flex ops) and full-integer quantisation is straightforward; about
    150k parameters at ``width=64``.
    """
    keras = require("keras", "train")
    layers = keras.layers
    if len(config.input_shape) != 2:
        raise ValueError(f"arch 'edge' needs input_shape (frames, channels), got {config.input_shape}")
    inputs = keras.Input(shape=config.input_shape, batch_size=config.batch_size, name="features")
    x = inputs
    if config.norm_mean is not None and config.norm_std is not None:
        mean = list(config.norm_mean)
        var = [max(s, 1e-6) ** 2 for s in config.norm_std]
        x = layers.Normalization(axis=-1, mean=mean, variance=var, name="standardise")(x)
    w = config.width
    for i, (filters, kernel) in enumerate(((w, 5), (int(w * 1.5), 5), (w * 2, 3)), start=1):
        x = layers.Conv1D(filters, kernel, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
        if i < 3:
            x = layers.MaxPooling1D(2, name=f"pool{i}")(x)
    x = layers.Concatenate(name="summary")(
        [layers.GlobalAveragePooling1D(name="avg")(x), layers.GlobalMaxPooling1D(name="max")(x)]
    )
    x = layers.Dropout(config.dropout, name="summary_drop")(x)
    x = layers.Dense(w, activation="relu", name=EMBEDDING_LAYER)(x)
    x = layers.Dropout(config.dropout, name="embedding_drop")(x)
    outputs = layers.Dense(config.num_classes, activation="softmax", name=PROBS_LAYER)(x)
    return keras.Model(inputs, outputs, name=config.arch)


def build_model(config: ModelConfig) -> keras.Model:
    """Seed, build and compile the architecture named by ``config.arch``.

    Compiled as in the paper: RMSprop(``config.learning_rate``), sparse categorical
    cross-entropy (integer labels), accuracy. Seeding happens here, before any layer is
    created, so two builds from the same config start from identical weights.
    """
    try:
        builder = ARCHITECTURES[config.arch]
    except KeyError:
        raise ValueError(
            f"unknown arch {config.arch!r}; known architectures: {sorted(ARCHITECTURES)}"
        ) from None
    keras = require("keras", "train")
    keras.utils.set_random_seed(config.seed)
    model = builder(config)
    optimizer = {"rmsprop": keras.optimizers.RMSprop, "adam": keras.optimizers.Adam}[config.optimizer]
    model.compile(
        optimizer=optimizer(learning_rate=config.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def count_params(model: keras.Model) -> int:
    """Total parameter count (trainable and not), as in the summary's "Total params"."""
    return int(model.count_params())


def embedding_model(model: keras.Model) -> keras.Model:
    """A model mapping the classifier's inputs to its ``embedding`` layer's output.

    Shares weights with ``model``; used to compute song/performance vectors for
    cosine-similarity recommendation.
    """
    keras = require("keras", "train")
    try:
        layer = model.get_layer(EMBEDDING_LAYER)
    except ValueError:
        raise ValueError(
            f"model {model.name!r} has no layer named {EMBEDDING_LAYER!r}; "
            "every registered architecture must name its penultimate layer so"
        ) from None
    return keras.Model(model.inputs, layer.output, name=f"{model.name}_embedding")


def two_head(model: keras.Model) -> keras.Model:
    """A view of ``model`` returning (embedding, probs) for every input.

    Lives here, beside the layer names, so that evaluation and training both import it from
    the models module and not from each other.
    """
    keras = require("keras", "train")
    return keras.Model(model.inputs, [model.get_layer(EMBEDDING_LAYER).output, model.output])
