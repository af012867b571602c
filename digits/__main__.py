"""``python -m digits ...`` and the ``digits`` command: see `digits.apps.cli`.

Ctrl-C ends any command with exit status 130 and one line on stderr, never a traceback.
While the command line's modules are imported, a Ctrl-C is noted and raised once they
are in place: an import cut halfway can leave the interpreter unable to exit cleanly.
"""

import signal
import sys


def run() -> int:
    """Run the command line (`digits.apps.cli.main`); returns the exit status."""
    noted: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, _frame: noted.append(number))
    try:
        from digits.apps.cli import main
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        if noted and callable(previous):
            previous(signal.SIGINT, None)  # Python's default handler: KeyboardInterrupt
        return main()
    except KeyboardInterrupt:
        print("\ndigits: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(run())
