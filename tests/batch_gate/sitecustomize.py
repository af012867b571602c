"""A gate for the tests of ``digits batch``: on PYTHONPATH with ``DIGITS_TEST_GATE=DIR``
set, every chunk a local worker reads first takes a token (a file) out of DIR, and waits
while there is none. A test releases tokens one by one (`batch_inputs.release`), so the
number of chunks a run can finish is set by the test, not by the machine's speed.

Loaded by Python at start-up (``sitecustomize``) in the driver and in the workers it
spawns; without ``DIGITS_TEST_GATE`` it does nothing.
"""

import os
import time

_GATE = os.environ.get("DIGITS_TEST_GATE")


def _take_token(gate: str) -> None:
    """Move one token out of ``gate`` (atomic: two workers never get the same one)."""
    taken = os.path.join(gate, "taken")
    open(os.path.join(gate, f"waiting-{os.getpid()}"), "w").close()  # seen by `Gate.waiting`
    while True:
        for name in sorted(os.listdir(gate)):
            if name.startswith("token-"):
                try:
                    os.rename(os.path.join(gate, name), os.path.join(taken, name))
                    return
                except FileNotFoundError:  # another worker took it first
                    continue
        time.sleep(0.005)  # waiting for the test's next token, not for a time to pass


def _gated(paths, errors):
    _take_token(_GATE)
    return _ungated(paths, errors)


if _GATE:
    import digits.apps.batch as _batch

    _ungated = _batch._work
    _batch._work = _gated
