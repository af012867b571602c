"""A gate for the tests of ``digits batch``: on PYTHONPATH with ``DIGITS_TEST_GATE=DIR``
set, while DIR holds a file ``closed``, every batch of inputs a worker reads
(`digits.apps.batch_work.BatchReader.rows`: a chunk in the local engine, an actor's call
in the Ray engine) first takes a token (a file) out of DIR, and waits while there is none.
A test releases tokens one by one (`batch_inputs.Gate`), so the number of batches a run
can finish is set by the test, not by the machine's speed. Without ``closed`` the gate is
open: the reads go through.

Loaded by Python at start-up (``sitecustomize``) in every process that has the folder on
PYTHONPATH: the driver, the workers it spawns, the processes of a Ray cluster started
with it. It imports nothing of the project: it wraps ``BatchReader.rows`` when (and only
where) `digits.apps.batch_work` is imported. Without ``DIGITS_TEST_GATE`` it does nothing.
"""

import importlib.abc
import importlib.machinery
import os
import sys
import time

_GATE = os.environ.get("DIGITS_TEST_GATE")
_MODULE = "digits.apps.batch_work"


def _take_token(gate: str) -> None:
    """Move one token out of ``gate`` (atomic: two workers never get the same one), or
    return at once while the gate is open."""
    taken = os.path.join(gate, "taken")
    open(os.path.join(gate, f"waiting-{os.getpid()}"), "w").close()  # seen by `Gate.waiting`
    while os.path.exists(os.path.join(gate, "closed")):
        for name in sorted(os.listdir(gate)):
            if name.startswith("token-"):
                try:
                    os.rename(os.path.join(gate, name), os.path.join(taken, name))
                    return
                except FileNotFoundError:  # another worker took it first
                    continue
        time.sleep(0.005)  # waiting for the test's next token, not for a time to pass


def _patch(module) -> None:
    ungated = module.BatchReader.rows

    def rows(self, paths, errors):
        _take_token(_GATE)
        out = ungated(self, paths, errors)
        done = f"read-{os.getpid()}-{time.monotonic_ns()}"  # one per read: `Gate.reads`
        open(os.path.join(_GATE, done), "w").close()
        return out

    module.BatchReader.rows = rows


class _WhenImported(importlib.abc.MetaPathFinder):
    """Finds `_MODULE` as Python would, and patches it once it has run."""

    def find_spec(self, name, path, target=None):
        if name != _MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            run = spec.loader.exec_module

            def exec_module(module):
                run(module)
                _patch(module)

            spec.loader.exec_module = exec_module
        return spec


if _GATE:
    sys.meta_path.insert(0, _WhenImported())
