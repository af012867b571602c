"""Tools that remake committed files from the reports: the README tables, the cover image
and the sample images in digit_examples/. Run them as ``python scripts/NAME.py``."""
