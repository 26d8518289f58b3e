"""Training side of edgerec: dataset loaders, augmentation, Keras models, evaluation.

Uses ``edge`` for everything a device also computes (features, schema), never the reverse.
"""
