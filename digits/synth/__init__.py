"""Generators of the benchmark sets: numbers (`numbers`), non-digits (`nondigits`).

Each module draws its images from fixed seeds, so anyone can regenerate a set; its
``main`` is the command behind ``scripts/make_<set>_set.py``. Nothing here is imported by
the prediction path.
"""
