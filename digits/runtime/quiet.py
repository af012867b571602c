"""Hold back what C++ libraries (TensorFlow, LiteRT) write to stderr while they load.

Light on purpose: it imports nothing heavy, so that `digits.runtime.backend` (TensorFlow) and
`digits.runtime.runners` (LiteRT) can both use it without importing each other.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

__all__ = ["held_stderr"]


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
