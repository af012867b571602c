"""``python -m digits predict PATH...``: see `digits.apps.cli`."""

import sys

from digits.apps.cli import main

sys.exit(main())
