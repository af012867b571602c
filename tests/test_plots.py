"""Figures: each function returns a matplotlib figure that reads well."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from digits.training import plots  # noqa: E402


def test_training_curves_have_whole_epochs_and_plain_loss_labels():
    history = {"loss": [0.5, 0.1, 0.05], "val_loss": [0.3, 0.08, 0.06]}
    history |= {"accuracy": [0.9, 0.97, 0.99], "val_accuracy": [0.93, 0.98, 0.985]}
    fig = plots.training_curves({"Simple CNN": history})
    fig.canvas.draw()
    ax_loss, ax_acc = fig.axes
    ticks = [t for t in ax_acc.get_xticks() if 1 <= t <= 3]
    assert ticks and all(float(t).is_integer() for t in ticks)
    minor = [t.get_text() for t in ax_loss.yaxis.get_minorticklabels()]
    assert not any(minor)  # no cluttered minor labels on the log axis


def test_confusion_matrices_label_the_diagonal_and_leave_zeros_blank():
    matrix = np.diag(np.full(10, 980))
    matrix[3, 5] = 7
    fig = plots.confusion_matrices({"Deeper CNN": matrix})
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("980") == 10 and "7" in texts and "0" not in texts


def test_pair_examples_leave_out_directions_without_mistakes():
    images = np.zeros((4, 28, 28), np.uint8)
    labels, predicted = np.array([3, 3, 5, 4]), np.array([5, 3, 5, 4])
    fig = plots.pair_examples(images, labels, predicted, [(3, 5), (4, 9)], per_pair=2)
    shown = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert shown == ["3 read as 5\n(1×)"]
    empty = plots.pair_examples(images, labels, labels, [(3, 5)])
    assert "No test digit" in empty.axes[0].texts[0].get_text()


def test_long_file_names_are_shortened_keeping_their_end():
    assert plots._short("a.png") == "a.png"
    short = plots._short("a_very_long_file_name_of_a_digit_7.png")
    assert len(short) == 14 and short.endswith("_7.png")
