"""A checksum of a converted model's weights, recorded in its card and verified at load.

A flipped bit in a weight loads without complaint in both runtimes and answers with
confident nonsense (or NaN), so the card carries the sha256 of exactly the bytes that make
the network, computed the same way by the converter and by the device:

* ``.tflite``: the data of every buffer a tensor points at (the weights and constants), in
  buffer order; metadata buffers (the card lives in one, so it cannot hash itself) are
  not tensors' and stay out;
* ``.onnx``: the serialised ``graph`` field of the ``ModelProto`` (nodes and initialisers);
  the card lives in ``metadata_props``, outside it.

Both are read with a few lines of wire-format parsing, so the device needs neither the
TFLite schema nor the ``onnx`` package.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Optional

from edge.classify.metadata import _MODEL_SUBGRAPHS, TFLiteFile, _Flatbuffer

#: Card key of the record: ``{"algorithm": "sha256", "scope": ..., "value": hex}``.
CARD_FIELD = "weights_sha256"
_ONNX_GRAPH_FIELD = 7
# TFLite schema: SubGraph.tensors is field 0, Tensor.buffer field 2.
_SUBGRAPH_TENSORS, _TENSOR_BUFFER = 0, 2


def _tflite_digest(data: bytes, where: str) -> str:
    info = TFLiteFile.parse(data, where)
    fb = _Flatbuffer(data, where)
    used: set[int] = set()
    for subgraph in fb.tables(fb.root(), _MODEL_SUBGRAPHS):
        for tensor in fb.tables(subgraph, _SUBGRAPH_TENSORS):
            used.add(fb.scalar(tensor, _TENSOR_BUFFER, "<I"))
    h = hashlib.sha256()
    for i in sorted(used):
        if i >= len(info.buffers):
            raise ValueError(f"{where}: a tensor points at buffer {i} of {len(info.buffers)}; the file is damaged")
        start, n = info.buffers[i]
        h.update(i.to_bytes(4, "little") + n.to_bytes(8, "little"))
        h.update(data[start:start + n])
    return h.hexdigest()


def _varint(data: bytes, pos: int, where: str) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError(f"{where}: truncated or damaged ONNX file (bad varint)")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _onnx_digest(data: bytes, where: str) -> str:
    pos, graph = 0, None
    while pos < len(data):
        key, pos = _varint(data, pos, where)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _varint(data, pos, where)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            n, pos = _varint(data, pos, where)
            if field == _ONNX_GRAPH_FIELD:
                graph = data[pos:pos + n]
            pos += n
        else:
            raise ValueError(f"{where}: damaged ONNX file (wire type {wire})")
        if pos > len(data):
            raise ValueError(f"{where}: truncated ONNX file")
    if graph is None:
        raise ValueError(f"{where}: an ONNX file without a graph")
    return hashlib.sha256(graph).hexdigest()


def weights_digest(data: bytes, suffix: str, where: str = "<model>") -> dict[str, str]:
    """The record to put in a card for the model bytes ``data`` (a ``.tflite``/``.onnx``)."""
    suffix = suffix.lower()
    if suffix == ".tflite":
        return {"algorithm": "sha256", "scope": "tflite-tensor-buffers", "value": _tflite_digest(data, where)}
    if suffix == ".onnx":
        return {"algorithm": "sha256", "scope": "onnx-graph", "value": _onnx_digest(data, where)}
    raise ValueError(f"{where}: no weights checksum for {suffix!r} files")


def verify_weights(path: str | Path, card: dict[str, Any], data: Optional[bytes] = None) -> bool:
    """Check the weights of ``path`` against its card; ``True`` when checked, ``False`` when
    the card records no checksum (files converted before checksums). Raises ``ValueError``
    (one line, naming the file and the fix) when they differ."""
    record = card.get(CARD_FIELD)
    if record is None:
        return False
    path = Path(path)
    if not isinstance(record, dict) or record.get("algorithm") != "sha256" or not isinstance(record.get("value"), str):
        raise ValueError(f"{path}: the card's {CARD_FIELD} record is malformed; re-convert the model (edgerec convert)")
    raw = data if data is not None else path.read_bytes()
    got = weights_digest(raw, path.suffix, str(path))
    if got["scope"] != record.get("scope") or got["value"] != record["value"]:
        raise ValueError(f"{path}: the weights do not match the checksum in the model card (the file is damaged "
                         "or was modified); download or convert it again (edgerec convert)")
    return True
