"""EMNIST Sketch Lab core: data, label maps, preprocessing, models, training, evaluation, prediction.

Never imports gradio: the app (``app.py``) is a thin UI over this package.
"""

import os

# TensorFlow's C++ start-up chatter (oneDNN notes, CPU feature lists) hides our own messages.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
