"""TensorFlow's start-up log lines are held back, real failures are not hidden."""

import os

import pytest

from digits.runtime.quiet import held_stderr


def test_low_level_stderr_is_held_back(capfd):
    with held_stderr():
        os.write(2, b"I0000 oneDNN custom operations are on\n")
    assert "oneDNN" not in capfd.readouterr().err


def test_held_output_is_replayed_when_something_fails(capfd):
    with pytest.raises(RuntimeError):
        with held_stderr():
            os.write(2, b"E0000 the reason it failed\n")
            raise RuntimeError("boom")
    assert "the reason it failed" in capfd.readouterr().err


def test_expected_exceptions_are_not_replayed(capfd):
    with pytest.raises(KeyError):
        with held_stderr(expected=(KeyError,)):
            os.write(2, b"noise\n")
            raise KeyError("handled by the caller")
    assert "noise" not in capfd.readouterr().err


def test_importing_and_first_operation_print_nothing_on_stderr():
    import subprocess
    import sys

    code = "from digits.runtime.backend import tf; print(int(tf.reduce_sum(tf.ones(3))))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "3" and result.stderr == "", result.stderr
