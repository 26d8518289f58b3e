"""Feature windows in, style probabilities and "unsure" out.

``backends``: LiteRT and ONNX Runtime behind one interface, chosen by file suffix from the
one table of export formats (``formats``). ``metadata``: the model card embedded in a
``.tflite`` / ``.onnx`` file, read without TensorFlow. ``calibration``: temperature scaling
and the embedding-distance test behind "unsure". ``model``: a model file as the runtime
drives it. Later: user style packs.

May import: :mod:`edge.core` and :mod:`edge.features` (a card names its feature spec).
"""
