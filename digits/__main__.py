"""``python -m digits predict PATH...``: see `digits.cli`."""

import sys

from digits.cli import main

sys.exit(main())
