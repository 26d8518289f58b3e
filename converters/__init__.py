"""Converters from trained Keras models to the edge formats (TFLite, ONNX).

One table, :data:`edge.classify.formats.FORMATS`, lists the formats; :func:`converters.convert.convert_model`
writes one, embeds the model card in it, runs it in its edge backend and checks it against
Keras before it is kept. ``edgerec convert`` (:mod:`converters.cli`) is the command line.

This package imports TensorFlow only inside functions, so importing it (and the CLI's
``--help``) stays cheap.
"""

from __future__ import annotations


class ConversionError(ValueError):
    """A conversion that cannot produce a usable file; the message says why in one line."""


class FlexOpsError(ConversionError):
    """The model needs Select-TF (Flex) ops, which the lean device runtimes cannot run."""


class ParityError(ConversionError):
    """The converted file disagrees with Keras beyond its format's tolerance."""


__all__ = ["ConversionError", "FlexOpsError", "ParityError"]
