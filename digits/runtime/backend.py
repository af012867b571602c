"""Import TensorFlow and Keras once, without TensorFlow's start-up log lines.

TensorFlow 2.21 writes C++ log lines (oneDNN, CUDA drivers) to stderr while it loads,
and ``TF_CPP_MIN_LOG_LEVEL`` does not silence them; they would clutter the notebook,
the CLI and the test logs. The package's modules import ``tf`` and ``keras`` from here:
those lines are held back while TensorFlow loads, and shown only if the import fails.
"""

from __future__ import annotations

import os

from digits.runtime.quiet import held_stderr

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__all__ = ["held_stderr", "keras", "tf"]


with held_stderr():
    import keras
    import tensorflow as tf

    # Set up the devices now, while stderr is held: on a machine without a GPU the first
    # TensorFlow operation would otherwise log a "failed call to cuInit" error line.
    tf.config.list_logical_devices()
