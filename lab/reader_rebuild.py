"""Rebuild a trainable Keras reader from a LiteRT reader file, optionally with more classes.

    python -m lab.reader_rebuild models/reader_float32.tflite build/reader/rebuilt.keras \
        [--alphabet "0123456789.,-/:"]

The LiteRT export folded each batch normalisation into its convolution, so the Keras model
built here has the same convolutions with biases and no batch normalisation
(`lab.reader.build_model(..., folded=True)`); its logits equal the LiteRT file's (checked
at two widths). With ``--alphabet`` longer than the file's classes, the logits layer gains
the new classes: the old rows are kept, the new ones start small with a low bias, so the
rebuilt reader reads as before until fine-tuning (`lab.reader` with ``init``) teaches them.
The Keras model sits under build/ (not committed); only what fine-tuning exports ships.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from digits.runtime.sequence import ALPHABET

#: The bias new classes start at: about e^-4 of a frame's mass until they are trained.
NEW_CLASS_BIAS = -4.0


def litert_convolutions(path: str | Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``(kernel HWIO, bias)`` of each CONV_2D op of a LiteRT file, in graph order."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    out = []
    for op in interpreter._get_ops_details():
        if op["op_name"] != "CONV_2D":
            continue
        _, weights, bias = (int(i) for i in op["inputs"])
        kernel = interpreter.get_tensor(weights).transpose(1, 2, 3, 0)  # OHWI -> HWIO
        out.append((kernel, interpreter.get_tensor(bias)))
    return out


def rebuild(path: str | Path, alphabet: str = ALPHABET[:10], seed: int = 0):
    """A folded Keras reader with the LiteRT file's weights and ``len(alphabet) + 1``
    classes (the first ones the file's own)."""
    from lab.reader import build_model

    convs = litert_convolutions(path)
    width = convs[0][0].shape[-1]
    model = build_model(width, classes=len(alphabet) + 1, folded=True)
    layers = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    if len(layers) != len(convs):
        raise SystemExit(f"{path}: {len(convs)} convolutions, the reader has {len(layers)}")
    rng = np.random.default_rng(seed)
    for layer, (kernel, bias) in zip(layers, convs):
        want = layer.get_weights()[0].shape
        if want[-1] > kernel.shape[-1]:  # the logits layer, widened
            extra = want[-1] - kernel.shape[-1]
            scale = float(kernel.std())
            kernel = np.concatenate([kernel, rng.normal(0, scale, (*kernel.shape[:-1], extra))], -1)
            bias = np.concatenate([bias, np.full(extra, NEW_CLASS_BIAS)])
        layer.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return model


def check(path: str | Path, model, classes: int) -> float:
    """The largest difference between the LiteRT file's logits and the model's first
    ``classes`` logits, at two widths."""
    from lab.reader import litert_logits

    worst = 0.0
    for width in (64, 200):
        x = np.random.default_rng(width).random((1, 32, width, 1), np.float32)
        got = litert_logits(Path(path).read_bytes(), x)
        want = np.asarray(model(x, training=False))[..., :classes]
        worst = max(worst, float(np.abs(got - want).max()))
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("litert", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--alphabet", default=ALPHABET[:10])
    args = parser.parse_args(argv)
    from digits.runtime.modelfile import read_info

    known = len(read_info(args.litert).class_names)
    if not args.alphabet.startswith(ALPHABET[:known]):
        raise SystemExit(f"--alphabet must start with the file's {known} classes")
    model = rebuild(args.litert, args.alphabet)
    worst = check(args.litert, model, known + 1)
    if worst > 1e-3:
        raise SystemExit(f"rebuilt logits differ from {args.litert} by {worst:.2g}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    print(
        f"{args.out}: {len(args.alphabet) + 1} classes, logits within {worst:.1g} of {args.litert}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
