"""edgerec's device runtime: pose, features, classifier backends and recommendations.

This package imports only numpy at import time; everything heavier is loaded lazily
through :func:`edge._optional.require`. It never imports TensorFlow.
"""

__version__ = "0.1.0"
