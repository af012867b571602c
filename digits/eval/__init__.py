"""One entry point for every benchmark: ``python -m digits.eval SET...``.

Each module here measures one set (photos, robustness, numbers, nondigits, symbols, litert,
mnist_format) and returns a report; `digits.eval.report` writes it as JSON with the command
that made it and prints its table.
"""
