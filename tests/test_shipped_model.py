"""The committed model file: loads with plain Keras, scores what reports/metrics.json says."""

import json

import numpy as np
import pytest

from digits.paths import EXAMPLES_DIR, REPORTS_DIR
from digits.paths import MODEL_PATH as MODEL

pytestmark = pytest.mark.skipif(not MODEL.exists(), reason="no shipped model yet: run `make run`")


@pytest.fixture(scope="module")
def shipped():
    from tensorflow.keras.models import load_model  # exactly as the spec's snippet

    return load_model(MODEL)


def test_shipped_model_scores_what_the_report_says(shipped, mnist):
    from digits.training import data

    _, (x_test, y_test) = mnist
    predicted = shipped.predict(data.scale(x_test), batch_size=1000, verbose=0).argmax(axis=1)
    accuracy = float(np.mean(predicted == y_test))
    metrics = json.loads((REPORTS_DIR / "metrics.json").read_text())
    assert accuracy == pytest.approx(metrics["saved_model"]["test_accuracy"], abs=1e-4)
    assert accuracy >= 0.99


def test_the_specs_snippet_still_runs(shipped):
    import cv2

    img = cv2.imread(str(EXAMPLES_DIR / "7_a.png"), cv2.IMREAD_GRAYSCALE)
    img = cv2.resize(img, (28, 28))
    img = 255 - img
    img = img.astype("float32") / 255.0
    img = img.reshape(1, 28, 28, 1)
    prediction = shipped.predict(img, verbose=0)
    assert prediction.shape == (1, 10) and 0 <= int(np.argmax(prediction)) <= 9
