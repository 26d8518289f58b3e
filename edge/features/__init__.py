"""The numbers computed from landmarks and audio, written once for training and serving.

``motion``: the paper's pose features and edgerec's window representation (resampling,
band limit, normalisation, joint angles) that every model sees, in training and on the
device alike. ``audio``: numpy log-mel spectra and tempo, for the paper's audio features and
the recommender's song analysis.

May import: :mod:`edge.core`. The classifier and the recommender import it; it imports
neither.
"""

from edge.features.motion import (
    ANGLES,
    BODY_JOINTS,
    FEATURE_VERSION,
    READABLE_VERSIONS,
    SHOULDER_TO_TORSO,
    FeatureSpec,
    Track,
    body_points,
    frame_features,
    lowpass_kernel,
    normalise_window,
    paper_pose_features,
    paper_vector,
    resample_window,
    track_from_image_sequence,
    window_ends,
    window_features,
)

__all__ = ["ANGLES", "BODY_JOINTS", "FEATURE_VERSION", "READABLE_VERSIONS", "SHOULDER_TO_TORSO", "FeatureSpec",
           "Track", "body_points", "frame_features", "lowpass_kernel", "normalise_window", "paper_pose_features",
           "paper_vector", "resample_window", "track_from_image_sequence", "window_ends", "window_features"]
