"""Renderers and generators of every benchmark set, drawn from fixed seeds.

- `samples`: an MNIST digit drawn the way users hand it in (paper, ink, light, canvas);
- `photo`: the same as a phone photo of a sheet;
- `numbers`, `nondigits`, `symbols`: numbers, things that are not digits, own symbols;
- `sets`: the sets themselves, generated on demand into a cache and checked against the
  manifests in ``digits/synth/manifests/`` (``python -m digits.synth``).

Nothing here is imported by the prediction path.
"""
