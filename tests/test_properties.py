"""Property-based tests (hypothesis): whatever the input, the answer is a result or the
project's own exception, within a time budget.

Targets: `to_model_input` and `Predictor.predict` over arbitrary arrays (shape, dtype,
NaN/inf), arbitrary bytes, and mutated valid PNG/JPEG/GIF/WebP/BMP/TIFF files; the MNIST
loader over arbitrary pickled structures and bytes. A few hundred cases per target.
"""

from __future__ import annotations

import gzip
import pickle
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from digits.image import ImageError, NoDigitFound, to_model_input
from digits.synth import hostile
from digits.training.data import MnistDataError, load_mnist

OURS = (ImageError, NoDigitFound)
BUDGET_S = 5.0  # CPU seconds per input (CPU time, not the clock: the same on a busy machine)
SETTINGS = dict(
    deadline=None,  # the budget is asserted below, so a slow case fails with its input
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)

DTYPES = st.sampled_from(
    ["uint8", "uint16", ">u2", "int8", "int32", "int64", "float16", "float32", "float64"]
    + ["bool", "complex64", "U1", "O"]
)
SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=48)


@st.composite
def arrays(draw):
    dtype = np.dtype(draw(DTYPES))
    shape = draw(SHAPES)
    if dtype.kind == "O":
        return np.empty(shape, dtype=object)
    elements = None
    if dtype.kind == "f":
        elements = st.floats(allow_nan=True, allow_infinity=True, width=dtype.itemsize * 8)
    array = draw(hnp.arrays(dtype, shape, elements=elements))
    wrap = draw(st.sampled_from(["plain", "plain", "plain", "masked", "matrix", "strided"]))
    if wrap == "masked":
        return np.ma.masked_array(array, mask=np.zeros(array.shape, bool))
    if wrap == "matrix" and array.ndim == 2 and dtype.kind in "uifb":
        return np.asmatrix(array)
    if wrap == "strided" and array.ndim >= 2:
        return array[::-1, ::2]
    return array


def _check(call, value) -> None:
    start = time.process_time()
    try:
        call(value)
    except OURS:
        pass
    assert time.process_time() - start < BUDGET_S


@settings(max_examples=300, **SETTINGS)
@given(arrays())
def test_to_model_input_on_any_array(array):
    _check(to_model_input, array)


@settings(max_examples=200, **SETTINGS)
@given(arrays())
def test_predictor_on_any_array(predictor, array):
    start = time.process_time()
    try:
        prediction = predictor.predict(array)
        assert prediction.digit is None or 0 <= prediction.digit <= 9
        assert prediction.probabilities is None or np.isfinite(prediction.probabilities).all()
    except OURS:
        pass
    assert time.process_time() - start < BUDGET_S
    [answer] = predictor.predict_many([array], raise_errors=False)
    assert answer.digit is None or answer.error is None


@settings(max_examples=300, **SETTINGS)
@given(st.binary(max_size=4096))
def test_to_model_input_on_any_bytes(data):
    _check(to_model_input, data)


def _valid_files() -> list[bytes]:
    image = np.full((64, 48), 235, np.uint8)
    image[12:52, 20:28] = 20
    image[12:20, 12:28] = 20
    rgb = np.stack([image, image // 2 + 100, image], axis=-1)
    out = [hostile.encode(image, fmt) for fmt in ("PNG", "BMP", "GIF", "TIFF")]
    out += [hostile.encode(rgb, "JPEG", quality=80), hostile.encode(rgb, "JPEG", progressive=True)]
    out += [hostile.encode(rgb, "WEBP"), hostile.encode(rgb, "WEBP", lossless=True)]
    out += [hostile.upside_down_with_exif(image, "PNG")]
    return out


VALID = _valid_files()


@st.composite
def mutated_files(draw):
    data = bytearray(VALID[draw(st.integers(0, len(VALID) - 1))])
    for _ in range(draw(st.integers(1, 6))):
        actions = ["flip", "set", "set4", "cut", "insert", "repeat", "delete"]
        action = draw(st.sampled_from(actions))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if action == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "set" and data:
            data[at] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0xDA, 0xD9]))
        elif action == "set4":  # e.g. a chunk length or a dimension
            data[at : at + 4] = draw(st.binary(min_size=4, max_size=4))
        elif action == "cut":
            del data[at:]
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif action == "repeat":
            size = draw(st.integers(1, 64))
            data[at:at] = bytes(data[at : at + size]) * draw(st.integers(2, 50))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


@settings(max_examples=400, **SETTINGS)
@given(mutated_files())
def test_to_model_input_on_mutated_image_files(data):
    _check(to_model_input, data)


@pytest.mark.parametrize("data", VALID)
def test_the_unmutated_files_are_read(data):
    to_model_input(data)  # the mutations start from files that work


_LEAVES = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=5),
    hnp.arrays(
        st.sampled_from(["float32", "float64", "int64", "uint8"]),
        hnp.array_shapes(min_dims=0, max_dims=3, max_side=6),
    ),
)
_ANYTHING = st.recursive(
    _LEAVES,
    lambda inner: st.tuples(inner, inner) | st.lists(inner, max_size=4),
    max_leaves=8,
)


@st.composite
def _split(draw):
    """Mostly MNIST-like (images, labels) pairs: right or wrong shapes, dtypes, values."""
    n = draw(st.integers(0, 4))
    width = draw(st.sampled_from([784, 784, 784, 28, 0]))
    images = draw(hnp.arrays(st.sampled_from(["float32", "float64", "uint8", "int64"]), (n, width)))
    labels = draw(
        hnp.arrays(st.sampled_from(["int64", "float32", "uint8"]), (draw(st.integers(0, 4)),))
    )
    return draw(st.sampled_from([(images, labels), (images,), [images, labels], images]))


STRUCTURES = st.one_of(_ANYTHING, st.tuples(_split(), _split(), _split()))


@settings(max_examples=200, **SETTINGS)
@given(STRUCTURES)
def test_mnist_loader_on_any_pickled_structure(tmp_path_factory, payload):
    path = tmp_path_factory.mktemp("mnist") / "mnist.pkl.gz"
    with gzip.open(path, "wb") as handle:
        pickle.dump(payload, handle, protocol=4)
    with pytest.raises(MnistDataError):
        load_mnist(path)


@settings(max_examples=200, **SETTINGS)
@given(st.binary(max_size=2048), st.booleans(), st.sampled_from([".pkl.gz", ".npz"]))
def test_mnist_loader_on_any_bytes(tmp_path_factory, data, gzipped, suffix):
    path = tmp_path_factory.mktemp("mnist") / f"mnist{suffix}"
    path.write_bytes(gzip.compress(data) if gzipped else data)
    with pytest.raises(MnistDataError):
        load_mnist(path)
