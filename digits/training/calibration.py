"""Calibrated confidence: temperature scaling, expected calibration error, thresholds.

A model's top probability is *calibrated* when, among the answers given with confidence
about p, a fraction about p is right. Temperature scaling fits one number T on held-out
data (the validation split) so that ``softmax(log(p) / T)`` minimises the negative
log-likelihood; it changes the confidences, never the answers. `digits.predict.Predictor`
applies the temperature stored in the model's sidecar (`digits.runtime.modelfile.write_info`).

    >>> t = fit_temperature(val_probabilities, y_val)
    >>> expected_calibration_error(calibrate(test_probabilities, t), y_test)

`choose_threshold` picks the ``low_confidence`` threshold from the validation answers:
the highest one that flags at most a given share of the right answers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from digits.predict import calibrate

__all__ = [
    "BINS",
    "calibrate",
    "choose_threshold",
    "expected_calibration_error",
    "fit_temperature",
    "negative_log_likelihood",
    "reliability",
    "save_reliability_diagram",
    "threshold_tradeoff",
    "uncalibrate",
]

#: Equal-width confidence bins used for the ECE and the reliability diagram.
BINS = 15


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean ``-log p(label)`` (probabilities clipped at 1e-12)."""
    picked = probabilities[np.arange(len(labels)), np.asarray(labels, dtype=int)]
    return float(-np.log(np.clip(picked.astype(np.float64), 1e-12, 1.0)).mean())


def fit_temperature(
    probabilities: np.ndarray, labels: np.ndarray, low: float = 0.05, high: float = 20.0
) -> float:
    """The temperature T in [low, high] minimising the NLL of ``softmax(log(p) / T)``.

    The NLL is convex in 1/T, so a golden-section search over log T finds the minimum.
    """
    if len(labels) == 0:
        raise ValueError("fit_temperature needs at least one example")
    a, b = np.log(low), np.log(high)
    ratio = (np.sqrt(5.0) - 1.0) / 2.0

    def loss(log_t: float) -> float:
        return negative_log_likelihood(calibrate(probabilities, float(np.exp(log_t))), labels)

    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = loss(c), loss(d)
    for _ in range(60):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = loss(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = loss(d)
    return float(np.exp((a + b) / 2.0))


def uncalibrate(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Undo `calibrate`: the raw model probabilities behind calibrated ones."""
    return calibrate(probabilities, 1.0 / temperature)


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> dict:
    """Per confidence bin: count, mean confidence and accuracy (None for empty bins)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels, dtype=int)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    counts, conf, acc = [], [], []
    for b in range(bins):
        members = index == b
        n = int(members.sum())
        counts.append(n)
        conf.append(float(confidence[members].mean()) if n else None)
        acc.append(float(correct[members].mean()) if n else None)
    return {"edges": edges.tolist(), "count": counts, "confidence": conf, "accuracy": acc}


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS
) -> float:
    """ECE: the count-weighted mean |accuracy - confidence| over equal-width bins."""
    table = reliability(probabilities, labels, bins)
    total = sum(table["count"])
    if total == 0:
        return 0.0
    return float(
        sum(
            n * abs(a - c)
            for n, a, c in zip(table["count"], table["accuracy"], table["confidence"])
            if n
        )
        / total
    )


def threshold_tradeoff(
    confidence: np.ndarray, correct: np.ndarray, thresholds: list[float]
) -> list[dict]:
    """For each threshold: the share of right answers flagged (confidence below it), the
    share of wrong answers flagged, and the share of all answers wrong and not flagged."""
    confidence, correct = np.asarray(confidence), np.asarray(correct, dtype=bool)
    rows = []
    for t in thresholds:
        flagged = confidence < t
        rows.append(
            {
                "threshold": round(float(t), 4),
                "right_flagged": _share(flagged & correct, correct),
                "wrong_flagged": _share(flagged & ~correct, ~correct),
                "wrong_not_flagged_of_all": round(float((~flagged & ~correct).mean()), 5)
                if len(correct)
                else 0.0,
            }
        )
    return rows


def _share(part: np.ndarray, whole: np.ndarray) -> float | None:
    n = int(whole.sum())
    return round(float(part.sum()) / n, 5) if n else None


def choose_threshold(
    confidence: np.ndarray, correct: np.ndarray, max_right_flagged: float = 0.01
) -> float:
    """The highest threshold (rounded down to 0.01) that flags at most
    ``max_right_flagged`` of the right answers as ``low_confidence``."""
    right = np.sort(np.asarray(confidence)[np.asarray(correct, dtype=bool)])
    if right.size == 0:
        raise ValueError("choose_threshold needs at least one right answer")
    allowed = int(np.floor(max_right_flagged * right.size))
    # Flagging is "confidence < t": t may go up to the (allowed + 1)-th lowest confidence.
    limit = float(right[min(allowed, right.size - 1)])
    return float(np.floor(limit * 100) / 100)


def save_reliability_diagram(
    panels: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]], path: str | Path
) -> Path:
    """Save reliability diagrams, one panel per ``(title, raw, calibrated, labels)``:
    accuracy against confidence per bin, before and after calibration, with the ECE."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from digits.runtime.modelfile import atomic_write_bytes

    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.2), squeeze=False)
    for ax, (title, raw, calibrated, labels) in zip(axes[0], panels):
        ax.plot([0, 1], [0, 1], color="gray", linestyle=":", linewidth=1)
        for name, probabilities, style in (
            ("before", raw, dict(color="tab:red", marker="o", linestyle="--")),
            ("after", calibrated, dict(color="tab:blue", marker="s")),
        ):
            table = reliability(probabilities, labels)
            points = [(c, a) for c, a in zip(table["confidence"], table["accuracy"]) if c]
            ece = expected_calibration_error(probabilities, labels)
            ax.plot(*zip(*points), label=f"{name}: ECE {ece:.2%}", **style)
        ax.set(title=f"{title} (n={len(labels)})", xlabel="confidence", xlim=(0, 1.01))
        ax.set(ylim=(0, 1.01))
        ax.legend(loc="upper left", fontsize=8)
    axes[0][0].set_ylabel("accuracy")
    fig.tight_layout()
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())
