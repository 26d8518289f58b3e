"""The model card inside converted model files, read on the device without TensorFlow.

Every model edgerec writes describes itself with a *card* (labels, input spec, feature spec
and version, window and rate, normalisation, calibration, source model hash, the metrics
measured on that very file). Where it lives:

* ``.tflite``: in the flatbuffer's ``Model.metadata`` list, under the name
  :data:`CARD_KEY`, pointing at a buffer holding the card as UTF-8 JSON. Written by
  ``converters/tflite.py``; read here by a small pure-Python flatbuffer walker
  (:class:`TFLiteFile`), so reading needs neither TensorFlow nor the ``flatbuffers`` package.
* ``.onnx``: in ``ModelProto.metadata_props`` under the key :data:`CARD_KEY`. Written by
  ``converters/onnx.py``; read through ONNX Runtime's
  ``InferenceSession.get_modelmeta().custom_metadata_map`` (no ``onnx`` package needed).
* **Sidecar fallback**: ``NAME.card.json`` beside ``NAME.<suffix>``. Keras and baseline
  models always use it (``training.card``); for a converted file it is read only when the
  file carries no embedded card (for example a file converted by another tool), and an
  embedded card always wins over a sidecar.

A card read from a file is checked for the edgerec card marker (``format``).
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from edge.core import jsonio
from edge.core.files import read_regular_file, require_regular_file
from edge.core.optional import require

#: Name of the TFLite metadata entry / ONNX metadata_props key that holds the card.
CARD_KEY = "edgerec_card"
#: The ``format`` field of every edgerec card (the same as ``training.card.CARD_FORMAT``).
CARD_FORMAT = "edgerec-model-card"
#: TFLite flatbuffer file identifier (bytes 4..8).
TFLITE_IDENTIFIER = b"TFL3"


def sidecar_path(model_path: str | Path) -> Path:
    """``model.int8.tflite`` -> ``model.int8.card.json`` (the convention of ``training.card``)."""
    p = Path(model_path)
    return p.with_name(p.stem + ".card.json")


def sniff(head: bytes) -> Optional[str]:
    """Guess a model file's real format from its first bytes: tflite, onnx, keras, json or None."""
    if len(head) >= 8 and head[4:8] == TFLITE_IDENTIFIER:
        return "tflite"
    if head[:2] == b"PK":
        return "keras"  # a zip archive: .keras (or another zipped format)
    if head.lstrip()[:1] in (b"{", b"["):
        return "json"
    # ONNX ModelProto starts with field 1 (ir_version, varint) -> tag byte 0x08
    if head[:1] == b"\x08" and len(head) > 2 and head[1] < 0x80:
        return "onnx"
    return None


#: How error messages name a sniffed format.
FORMAT_NAMES = {"tflite": "a TFLite", "onnx": "an ONNX", "keras": "a Keras (zip)", "json": "a JSON"}


def looks_like(head: bytes) -> str:
    """Error-message hint such as '; it looks like an ONNX file' (empty when the format is unknown)."""
    real = sniff(head)
    return f"; it looks like {FORMAT_NAMES[real]} file" if real else ""


_CARD_FIX = "re-convert the model (edgerec convert) or fix its card"


def parse_card(text: str | bytes, where: str) -> dict[str, Any]:
    """Decode a card's JSON, check its marker and the fields the device relies on; every
    error is one line naming ``where``.

    Checked when present: ``labels`` (a non-empty list of names), ``hop_seconds`` (a positive
    finite number) and ``calibration`` (an object :meth:`Calibration.from_dict` accepts, whose
    temperature is a positive finite number), so a damaged card is refused here rather than
    turning into NaN probabilities at run time.
    """
    try:
        card = json.loads(text)
    except RecursionError:
        raise ValueError(f"{where}: model card is not valid JSON (nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too many digits
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{where}: model card is not valid JSON ({first[:200]})") from None
    except TypeError as exc:  # not text at all
        raise ValueError(f"{where}: model card is not valid JSON ({exc})") from None
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise ValueError(f"{where}: not an edgerec model card")
    _check_card(card, where)
    return card


def _check_card(card: dict[str, Any], where: str) -> None:
    labels = card.get("labels")
    if labels is not None and (not isinstance(labels, list) or not labels
                               or not all(isinstance(x, str) for x in labels)):
        raise ValueError(f"{where}: the card's labels must be a non-empty list of style names; {_CARD_FIX}")
    hop = card.get("hop_seconds")
    if hop is not None and (isinstance(hop, bool) or not isinstance(hop, (int, float))
                            or not math.isfinite(hop) or hop <= 0):
        raise ValueError(f"{where}: the card's hop_seconds must be a positive number, got {hop!r:.40}; "
                         f"{_CARD_FIX}")
    calib = card.get("calibration")
    if calib:
        if not isinstance(calib, dict):
            raise ValueError(f"{where}: the card's calibration must be an object, got {type(calib).__name__}; "
                             f"{_CARD_FIX}")
        t = calib.get("temperature")
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0:
            raise ValueError(f"{where}: the calibration temperature must be a positive finite number, got "
                             f"{t!r:.40}; {_CARD_FIX}")
        from edge.classify.calibration import Calibration

        try:
            Calibration.from_dict(calib)
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(f"{where}: damaged calibration in the card ({first[:200]}); {_CARD_FIX}") from None


def card_json(card: dict[str, Any]) -> bytes:
    """The canonical bytes of a card to embed (UTF-8, compact, key order kept)."""
    return jsonio.dumps({"format": CARD_FORMAT, **card}, separators=(",", ":")).encode("utf-8")


# ------------------------------------------------------------------ a minimal flatbuffer reader


class _Flatbuffer:
    """Bounds-checked reads of flatbuffer tables, vectors and strings from bytes."""

    def __init__(self, buf: bytes, where: str):
        self.buf = buf
        self.where = where
        # strings by position: a damaged file whose many entries share one huge string must
        # not make us copy it once per entry
        self._strings: dict[int, str] = {}

    def _bad(self, what: str) -> ValueError:
        return ValueError(f"{self.where}: truncated or corrupt TFLite file ({what})")

    def _read(self, fmt: str, pos: int) -> int:
        size = struct.calcsize(fmt)
        if pos < 0 or pos + size > len(self.buf):
            raise self._bad(f"offset {pos} beyond the end of the file at {len(self.buf)} bytes")
        return struct.unpack_from(fmt, self.buf, pos)[0]

    def root(self) -> int:
        return self._read("<I", 0)

    def field(self, table: int, index: int) -> Optional[int]:
        """Absolute position of field ``index`` of the table at ``table``, or None if absent."""
        vtable = table - self._read("<i", table)
        vsize = self._read("<H", vtable)
        slot = 4 + 2 * index
        if slot + 2 > vsize:
            return None
        off = self._read("<H", vtable + slot)
        return table + off if off else None

    def scalar(self, table: int, index: int, fmt: str, default: int = 0) -> int:
        pos = self.field(table, index)
        return default if pos is None else self._read(fmt, pos)

    def indirect(self, pos: int) -> int:
        return pos + self._read("<I", pos)

    def vector(self, table: int, index: int) -> tuple[int, int]:
        """(start of elements, length) of a vector field; (0, 0) when absent."""
        pos = self.field(table, index)
        if pos is None:
            return 0, 0
        vec = self.indirect(pos)
        n = self._read("<I", vec)
        return vec + 4, n

    def tables(self, table: int, index: int) -> list[int]:
        start, n = self.vector(table, index)
        return [self.indirect(start + 4 * i) for i in range(n)]

    def bytes_(self, table: int, index: int) -> bytes:
        start, n = self.vector(table, index)
        if start + n > len(self.buf):
            raise self._bad(f"a {n}-byte vector runs past the end of the file")
        return bytes(self.buf[start:start + n])

    def string(self, table: int, index: int) -> Optional[str]:
        pos = self.field(table, index)
        if pos is None:
            return None
        if pos not in self._strings:
            self._strings[pos] = self.bytes_(table, index).decode("utf-8", "replace")
        return self._strings[pos]


# TFLite schema field indices (tensorflow/lite/schema/schema.fbs)
_MODEL_VERSION, _MODEL_OPCODES, _MODEL_SUBGRAPHS, _MODEL_DESCRIPTION, _MODEL_BUFFERS = 0, 1, 2, 3, 4
_MODEL_METADATA = 6
_OPCODE_CUSTOM = 1
_BUFFER_DATA, _BUFFER_OFFSET, _BUFFER_SIZE = 0, 1, 2
_METADATA_NAME, _METADATA_BUFFER = 0, 1


@dataclass(frozen=True)
class TFLiteFile:
    """What the device needs to know about a .tflite file before running it."""

    version: int
    description: str
    metadata: dict[str, bytes]
    custom_ops: tuple[str, ...]
    num_subgraphs: int
    size: int
    #: (start, length) in the file of every buffer's data, by buffer index.
    buffers: tuple[tuple[int, int], ...] = ()

    @property
    def flex_ops(self) -> tuple[str, ...]:
        """Select-TF ("Flex") ops: the lean runtimes cannot run them."""
        return tuple(op for op in self.custom_ops if op.startswith("Flex"))

    @classmethod
    def parse(cls, data: bytes, where: str = "<bytes>") -> "TFLiteFile":
        """Walk Model -> operator codes, buffers and metadata, checking every offset."""
        if len(data) < 8:
            raise ValueError(f"{where}: truncated TFLite file ({len(data)} bytes)")
        if data[4:8] != TFLITE_IDENTIFIER:
            raise ValueError(f"{where}: not a TFLite flatbuffer (no {TFLITE_IDENTIFIER.decode()} identifier"
                             f"{looks_like(data[:16])})")
        fb = _Flatbuffer(data, where)
        model = fb.root()
        version = fb.scalar(model, _MODEL_VERSION, "<I")
        buffers = []
        for b in fb.tables(model, _MODEL_BUFFERS):
            offset = fb.scalar(b, _BUFFER_OFFSET, "<Q")
            if offset > 1:  # models over 2 GB keep buffers after the flatbuffer
                size = fb.scalar(b, _BUFFER_SIZE, "<Q")
                if offset + size > len(data):
                    raise fb._bad("a buffer runs past the end of the file")
                buffers.append((offset, size))
            else:
                start, n = fb.vector(b, _BUFFER_DATA)
                if start + n > len(data):
                    raise fb._bad("a buffer runs past the end of the file")
                buffers.append((start, n))
        metadata = {}
        copied: dict[int, bytes] = {}  # one copy per buffer, however many entries point at it
        for m in fb.tables(model, _MODEL_METADATA):
            name = fb.string(m, _METADATA_NAME) or ""
            index = fb.scalar(m, _METADATA_BUFFER, "<I")
            if index >= len(buffers):
                raise fb._bad(f"metadata {name!r} points at buffer {index} of {len(buffers)}")
            if index not in copied:
                start, n = buffers[index]
                copied[index] = bytes(data[start:start + n])
            metadata[name] = copied[index]
        custom = tuple(s for s in (fb.string(op, _OPCODE_CUSTOM) for op in fb.tables(model, _MODEL_OPCODES)) if s)
        _, subgraphs = fb.vector(model, _MODEL_SUBGRAPHS)
        if subgraphs == 0:
            raise fb._bad("no subgraphs")
        return cls(version, fb.string(model, _MODEL_DESCRIPTION) or "", metadata, custom, subgraphs, len(data),
                   tuple(buffers))

    @classmethod
    def read(cls, path: str | Path) -> "TFLiteFile":
        path = Path(path)
        return cls.parse(read_regular_file(path, "model file"), str(path))


# ------------------------------------------------------------------ reading cards


def read_tflite_card(path: str | Path, data: Optional[bytes] = None) -> Optional[dict[str, Any]]:
    """The card embedded in a .tflite file, or None if it has none."""
    info = TFLiteFile.parse(data if data is not None else read_regular_file(path, "model file"), str(path))
    raw = info.metadata.get(CARD_KEY)
    return None if raw is None else parse_card(raw, f"{path} (embedded card)")


def onnx_session(path: str | Path, options: Any = None, providers: Any = None) -> Any:
    """An ONNX Runtime session for ``path``; a bad file gives a one-line ValueError."""
    ort = require("onnxruntime", "edge")
    path = Path(path)
    try:
        return ort.InferenceSession(str(path), sess_options=options,
                                    providers=list(providers or ["CPUExecutionProvider"]))
    except Exception as exc:  # noqa: BLE001 - ORT raises its own exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        try:
            head = read_regular_file(path, "model file")[:16]
        except ValueError:
            head = b""
        hint = looks_like(head) if sniff(head) not in (None, "onnx") else " (truncated or corrupt?)"
        raise ValueError(f"{path}: ONNX Runtime cannot load it{hint}: {first[:200]}") from exc


def read_onnx_card(path: str | Path, session: Any = None) -> Optional[dict[str, Any]]:
    """The card in an .onnx file's ``metadata_props``, or None if it has none."""
    session = session if session is not None else onnx_session(path)
    try:
        raw = session.get_modelmeta().custom_metadata_map.get(CARD_KEY)
    except UnicodeDecodeError as exc:  # ONNX Runtime decodes every metadata value as UTF-8
        raise ValueError(f"{path}: damaged ONNX metadata (not UTF-8: {exc.reason} at byte {exc.start}); "
                         "re-convert the model (edgerec convert)") from None
    return None if raw is None else parse_card(raw, f"{path} (embedded card)")


def read_sidecar(path: str | Path) -> Optional[dict[str, Any]]:
    """The card in ``NAME.card.json`` beside ``path``, or None if there is no such file (a
    path there that is not a regular file is an error, not "none")."""
    side = sidecar_path(path)
    if not os.path.lexists(side):
        return None
    return parse_card(read_regular_file(side, "model card"), str(side))


def read_card(path: str | Path) -> dict[str, Any]:
    """The card of any model file: embedded for .tflite/.onnx, else the sidecar fallback.

    Raises a one-line ValueError naming the file when there is none or it is malformed.
    """
    path = Path(path)
    require_regular_file(path, "model file")
    suffix = path.suffix.lower()
    card = None
    if suffix == ".tflite":
        card = read_tflite_card(path)
    elif suffix == ".onnx":
        card = read_onnx_card(path)
    if card is None:
        card = read_sidecar(path)
    if card is None:
        raise ValueError(f"{path}: no edgerec model card inside it or beside it ({sidecar_path(path).name}); "
                         "convert it with `edgerec convert`")
    return card


def export_info(card: dict[str, Any]) -> dict[str, Any]:
    """The ``export`` section a converter adds to a card (empty for Keras models)."""
    return dict(card.get("export") or {})
