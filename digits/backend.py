"""Import TensorFlow and Keras once, without TensorFlow's start-up log lines.

TensorFlow 2.21 writes C++ log lines (oneDNN, CUDA drivers) to stderr while it loads,
and ``TF_CPP_MIN_LOG_LEVEL`` does not silence them; they would clutter the notebook,
the CLI and the test logs. The package's modules import ``tf`` and ``keras`` from here:
those lines are held back while TensorFlow loads, and shown only if the import fails.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__all__ = ["held_stderr", "keras", "tf"]


@contextlib.contextmanager
def held_stderr(expected: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Hold back what C++ libraries write to stderr inside the block; replay it if an
    exception other than the ``expected`` ones escapes."""
    # File descriptor 2 itself, not sys.stderr: in Jupyter, pytest and the CLI alike, that
    # is where C++ code writes, whatever Python's sys.stderr has been replaced with.
    stderr_fd = 2
    try:
        saved = os.dup(stderr_fd)
    except OSError:  # no stderr at all
        yield
        return
    sys.stderr.flush()
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), stderr_fd)
        failed = True
        try:
            yield
            failed = False
        except expected:
            failed = False
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, stderr_fd)
            os.close(saved)
            if failed:
                held.seek(0)
                sys.stderr.write(held.read().decode(errors="replace"))


with held_stderr():
    import keras
    import tensorflow as tf

    # Set up the devices now, while stderr is held: on a machine without a GPU the first
    # TensorFlow operation would otherwise log a "failed call to cuInit" error line.
    tf.config.list_logical_devices()
