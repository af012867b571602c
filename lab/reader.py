"""Train the sequence reader (`digits.runtime.sequence`): a conv-only CTC model over number lines.

    python -m lab.reader lab/recipes/reader.json [--set KEY=VALUE ...]

The lines are made on the fly from MNIST *training* digits (`digits.synth.lines`); a fixed
set of lines from the validation split's digits scores the model every ``eval_every`` steps
(whole-string accuracy, greedy CTC), and the best weights are kept. Then:

1. the Keras model goes to ``keras_path`` (under build/, not committed);
2. it is exported to LiteRT float32 (built-in ops only, any line width), checked with the
   LiteRT interpreter at two widths against Keras, and written with its sidecar;
3. its confidence threshold is chosen on lines of the validation digits of every
   `CALIBRATION_KINDS` kind, photo round trips included (`calibrate`): at most 0.5% of
   any kind's readings may be wrong and not flagged; ``--thresholds-only`` does only this;
4. that file is scored through `digits.runtime.sequence.SequenceReader` on lines of MNIST *test*
   digits of each `EVAL_KINDS` kind, and timed on 6-digit lines;
5. the report (recipe, learning curve, scores, command) goes to ``report``.

``--set`` overrides a recipe field (VALUE is JSON), e.g. ``--set minutes=12``: training then
stops after that many minutes, the learning rate's schedule following whichever of the
steps or the time runs out first.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np

from digits.paths import ROOT
from digits.runtime.modelfile import atomic_write_bytes, atomic_write_json, write_info
from digits.runtime.sequence import (
    ALPHABET,
    FRAME_WIDTH,
    INK_HEIGHT,
    LINE_HEIGHT,
    greedy_runs,
    softmax,
)
from digits.synth import lines
from lab import recipe as recipe_file

NUM_CLASSES = 11  # the CTC blank and ten digits (a reader with marks has more)


@dataclasses.dataclass
class Recipe:
    """The reader's training settings: every field can be set in the recipe file."""

    steps: int = 20000
    batch_size: int = 32
    learning_rate: float = 2e-3
    warmup_steps: int = 300
    seed: int = 1
    width: int = 24
    gap: list[float] = dataclasses.field(default_factory=lambda: list(lines.GAP_RANGE))
    lengths: list[int] = dataclasses.field(default_factory=lambda: [1, lines.MAX_DIGITS])
    photo: float = 0.2
    pen: float = 0.3
    blur: float = 0.3
    contact: float = 0.0  # share of lines whose digits are placed where their ink meets
    overlap: list[float] = dataclasses.field(default_factory=lambda: [-0.05, 0.35])
    detached: float = 0.0  # share of digits that are 4s and 5s drawn in separate strokes
    alphabet: str = ALPHABET[:10]  # what the reader reads: the digits, then marks of MARKS
    marks: float = 0.0  # share of lines that are numbers with marks (punctuation.KINDS)
    specks: float = 0.0  # share of lines with specks of dirt that are no mark
    eval_every: int = 500
    val_lines: int = 600
    test_lines: int = 300
    minutes: float | None = None
    init: str | None = None  # a Keras reader to start from (fine-tuning), else a new one
    keras_path: str = "build/reader/reader.keras"
    litert_path: str = "models/reader_float32.tflite"
    report: str = "lab/reports/reader.json"
    note: str = ""

    def spec(self) -> lines.LineSpec:
        """The training lines' `LineSpec`."""
        return lines.LineSpec(
            gap=tuple(self.gap),
            lengths=tuple(self.lengths),
            pen=self.pen,
            photo=self.photo,
            blur=self.blur,
            contact=self.contact,
            overlap=tuple(self.overlap),
            detached=self.detached,
            marks=self.marks,
            specks=self.specks,
        )


def load_recipe(path: str | Path, overrides: list[str] = ()) -> Recipe:
    """The recipe in the JSON file ``path``, with ``KEY=VALUE`` overrides applied; exits
    when the Keras and LiteRT files would share a sidecar (the same name but the suffix),
    which would leave the LiteRT file unverifiable after a whole training run."""
    recipe = recipe_file.load(path, Recipe, overrides)
    if Path(recipe.keras_path).with_suffix("") == Path(recipe.litert_path).with_suffix(""):
        raise SystemExit(
            f"{path}: keras_path and litert_path differ only in their suffix, so their "
            "sidecars (.json) would be one file; give them different names"
        )
    return recipe


def build_model(width: int = 24, classes: int = NUM_CLASSES, folded: bool = False):
    """The conv-only CTC reader: ``(N, LINE_HEIGHT, W, 1)`` -> logits ``(N, W / 4, classes)``.

    Three blocks of two 3x3 convolutions (``width``, 2x, 4x filters; batch norm, ReLU): the
    first two halve height and width, the third the height only; a ``(4, 1)`` convolution
    folds the remaining rows into a frame, a ``(1, 5)`` one looks at neighbouring frames.
    ``folded``: each batch norm folded into its convolution's bias, as in a LiteRT export
    (`lab.reader_rebuild`).
    """
    from digits.runtime.backend import keras

    layers = keras.layers

    def conv(x, filters, kernel=(3, 3), padding="same"):
        x = layers.Conv2D(filters, kernel, padding=padding, use_bias=folded)(x)
        if not folded:
            x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    inputs = keras.Input((LINE_HEIGHT, None, 1), name="line")
    x = inputs
    for filters, pool in ((width, (2, 2)), (2 * width, (2, 2)), (4 * width, (2, 1))):
        x = conv(conv(x, filters), filters)
        x = layers.MaxPooling2D(pool)(x)
    x = conv(x, 4 * width, (LINE_HEIGHT // 8, 1), padding="valid")
    x = conv(x, 4 * width, (1, 5))
    x = layers.Conv2D(classes, 1, name="logits")(x)
    outputs = layers.Reshape((-1, classes), name="frames")(x)
    return keras.Model(inputs, outputs, name="reader")


def make_steps(model, learning_rate: float):
    """Compiled training and forward functions (any batch and width, no retracing)."""
    from digits.runtime.backend import keras, tf

    optimizer = keras.optimizers.Adam(learning_rate, clipnorm=5.0)
    line = tf.TensorSpec((None, LINE_HEIGHT, None, 1), tf.float32)
    ints = tf.TensorSpec((None, lines.MAX_LABEL), tf.int32)
    vec = tf.TensorSpec((None,), tf.int32)

    @tf.function(input_signature=[line, ints, vec, vec])
    def train_step(x, y, label_length, frames):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            losses = keras.ops.ctc_loss(y, logits, label_length, frames, mask_index=0)
            loss = tf.reduce_mean(losses)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    @tf.function(input_signature=[line])
    def forward(x):
        return model(x, training=False)

    return optimizer, train_step, forward


def _schedule(recipe: Recipe, step: int, seconds: float) -> float:
    """Warm-up, then cosine decay over whichever of steps and minutes runs out first."""
    if step < recipe.warmup_steps:
        return recipe.learning_rate * (step + 1) / recipe.warmup_steps
    progress = step / recipe.steps
    if recipe.minutes:
        progress = max(progress, seconds / (60 * recipe.minutes))
    return recipe.learning_rate * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def validation_set(recipe: Recipe, images: np.ndarray, labels: np.ndarray) -> list:
    """Fixed validation lines (`pad_batch` arrays in batches of 64) of the validation digits."""
    rng = np.random.default_rng([recipe.seed, 999])
    spec = dataclasses.replace(recipe.spec(), photo=0.0)
    made = [lines.make_line(images, labels, rng, spec) for _ in range(recipe.val_lines)]
    made.sort(key=lambda m: m[0].shape[1])  # similar widths together: less padding
    return [
        (lines.pad_batch([m[0] for m in made[i : i + 64]], [m[1] for m in made[i : i + 64]]))
        for i in range(0, len(made), 64)
    ]


def texts_of(batch) -> list[str]:
    """The texts of a `pad_batch` batch."""
    _, y, label_length, _ = batch
    return ["".join(ALPHABET[c - 1] for c in row[:n]) for row, n in zip(y, label_length)]


def val_readings(forward, batches: list) -> list[tuple[str, str, float]]:
    """``(truth, greedy reading, CTC confidence)`` of each validation line."""
    from digits.runtime.sequence import ctc_probability

    out = []
    for batch in batches:
        logits = forward(batch[0]).numpy()
        for truth, frames, row in zip(texts_of(batch), batch[3], logits):
            probs = softmax(row[:frames])
            runs = [c for c, _, _ in greedy_runs(probs)]
            read = "".join(ALPHABET[c - 1] for c in runs)
            out.append((truth, read, ctc_probability(probs, runs)))
    return out


def choose_threshold(
    readings: dict[str, list[tuple[str, str, float]]], wrong_rate: float = 0.005
) -> float:
    """The lowest confidence threshold at which, in every kind of ``readings`` (``(truth,
    reading, confidence)`` lists), at most ``wrong_rate`` of the readings are wrong and
    unflagged (confidence at or above it)."""
    for threshold in np.round(np.arange(0.5, 1.0, 0.005), 3):
        if all(_confidently_wrong(r, threshold) <= wrong_rate for r in readings.values()):
            return float(threshold)
    return 0.995


def _confidently_wrong(readings: list[tuple[str, str, float]], threshold: float) -> float:
    return float(np.mean([t != r and c >= threshold for t, r, c in readings]))


#: The kinds of lines the threshold is chosen on: the benchmark's gap ranges, and digits
#: placed where their ink meets (then 0-35% of a height further left).
CALIBRATION_KINDS = (*lines.EVAL_KINDS, "contact")


def calibration_lines(recipe: Recipe, images, labels, kind: str, count: int) -> list:
    """``count`` lines of one `CALIBRATION_KINDS` kind from the *validation* digits, with the
    recipe's pen, blur and photo round trip (what `digits read` hands the reader)."""
    spec = dataclasses.replace(
        recipe.spec(), contact=float(kind == "contact"), detached=0.0, marks=float(kind == "marks")
    )
    if kind in lines.EVAL_KINDS:
        spec = dataclasses.replace(spec, gap=lines.EVAL_KINDS[kind])
    if kind == "detached":
        spec = dataclasses.replace(spec, detached=0.5)
    index = CALIBRATION_KINDS.index(kind) if kind in CALIBRATION_KINDS else len(CALIBRATION_KINDS)
    rng = np.random.default_rng([recipe.seed, 555, index])
    return [lines.make_line(images, labels, rng, spec) for _ in range(count)]


def calibrate(path: Path, recipe: Recipe, images, labels, count: int = 1000) -> dict:
    """Choose the LiteRT reader's ``low_confidence`` threshold on validation lines of every
    `CALIBRATION_KINDS` kind, and of numbers with marks for a reader of marks
    (`choose_threshold`), and write it into its sidecar."""
    from digits.runtime.sequence import SequenceReader

    reader = SequenceReader(path, num_threads=1)
    readings = {}
    for kind in (*CALIBRATION_KINDS, *("marks",) * (len(reader.alphabet) > 10)):
        made = calibration_lines(recipe, images, labels, kind, count)
        readings[kind] = [
            (t, r.text, r.confidence) for t, r in ((t, reader.read(i)) for i, t in made)
        ]
    threshold = choose_threshold(readings)
    write_info(path, low_confidence=threshold)
    return {
        "threshold": threshold,
        "lines_per_kind": count,
        "confidently_wrong": {
            k: round(_confidently_wrong(r, threshold), 4) for k, r in readings.items()
        },
        "whole": {
            k: round(float(np.mean([t == r for t, r, _ in v])), 4) for k, v in readings.items()
        },
    }


def train(recipe: Recipe, model, train_split, val_batches: list) -> dict:
    """Train ``model`` in place (best validation weights kept); returns the curve and best."""
    from tqdm import tqdm

    optimizer, train_step, forward = make_steps(model, recipe.learning_rate)
    spec, images, labels = recipe.spec(), *train_split
    curve, losses, best = [], [], {"val_whole": -1.0}
    best_weights, started = model.get_weights(), time.perf_counter()
    bar = tqdm(range(recipe.steps), desc="reader", mininterval=10)
    for step in bar:
        seconds = time.perf_counter() - started
        if recipe.minutes and seconds > 60 * recipe.minutes:
            break
        optimizer.learning_rate.assign(_schedule(recipe, step, seconds))
        batch = lines.training_batch(images, labels, step, recipe.batch_size, recipe.seed, spec)
        losses.append(float(train_step(*batch)))
        if (step + 1) % recipe.eval_every == 0 or step + 1 == recipe.steps:
            readings = val_readings(forward, val_batches)
            whole = float(np.mean([t == r for t, r, _ in readings]))
            point = {"step": step + 1, "seconds": round(time.perf_counter() - started, 1)}
            point.update(loss=round(float(np.mean(losses)), 4), val_whole=round(whole, 4))
            curve.append(point)
            losses = []
            bar.write(json.dumps(point))
            if whole > best["val_whole"]:
                best, best_weights = dict(point), model.get_weights()
                _checkpoint(model, recipe)
    model.set_weights(best_weights)
    return {"curve": curve, "best": best, "steps_run": step + 1}


def _checkpoint(model, recipe: Recipe) -> None:
    """The best weights so far at ``keras_path`` with ``.checkpoint`` before its suffix: a
    run cut short resumes from it (``--set init=...``)."""
    path = ROOT / recipe.keras_path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".checkpoint.partial.keras")
    model.save(partial)
    partial.replace(path.with_name(path.stem + ".checkpoint.keras"))


def convert(model) -> bytes:
    """The model as LiteRT float32 bytes, built-in ops only (fails rather than use Flex)."""
    import contextlib
    import io

    from digits.runtime.backend import tf
    from digits.runtime.quiet import held_stderr

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    with held_stderr(), contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


def litert_logits(data: bytes, x: np.ndarray) -> np.ndarray:
    """The logits of LiteRT reader bytes for one batch ``x (1, LINE_HEIGHT, W, 1)``."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=data)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def check_litert(data: bytes, model, widths: tuple[int, ...] = (64, 200)) -> float:
    """Run the LiteRT bytes at each width and compare with Keras; returns the largest
    difference of logits. Raises AssertionError on a wrong shape or a large difference."""
    classes = int(model.output_shape[-1])
    worst = 0.0
    for width in widths:
        x = np.random.default_rng(width).random((1, LINE_HEIGHT, width, 1), np.float32)
        got = litert_logits(data, x)
        want = np.asarray(model(x, training=False))
        if got.shape != (1, width // FRAME_WIDTH, classes):
            raise AssertionError(f"LiteRT output {got.shape} at width {width}")
        worst = max(worst, float(np.abs(got - want).max()))
    if worst > 1e-3:
        raise AssertionError(f"LiteRT and Keras logits differ by {worst:.2g}")
    return worst


def export_reader(model, out: str | Path, **fields) -> Path:
    """Convert, check (`check_litert`) and write ``out`` atomically with its sidecar."""
    data = convert(model)
    check_litert(data, model)
    out = Path(out)
    atomic_write_bytes(out, data)
    write_info(
        out,
        class_names=list(ALPHABET[: int(model.output_shape[-1]) - 1]),
        format="litert",
        quantize="none",
        kind="sequence",
        blank=0,
        line_height=LINE_HEIGHT,
        ink_height=INK_HEIGHT,
        frame_width=FRAME_WIDTH,
        **fields,
    )
    return out


def _edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


def score_kind(reader, kind_lines: list) -> dict:
    """Whole-string accuracy, digit accuracy (1 - edit distance / digits), flagged and
    confidently wrong (wrong, not flagged) readings of `SequenceReader` ``reader``."""
    readings = [(text, reader.read(image)) for image, text in kind_lines]
    wrong = np.array([r.text != t for t, r in readings])
    flagged = np.array([r.low_confidence for _, r in readings])
    errors = sum(_edit_distance(t, r.text) for t, r in readings)
    return {
        "lines": len(readings),
        "whole": round(float(1 - wrong.mean()), 4),
        "digits": round(max(0.0, 1 - errors / sum(len(t) for t, _ in readings)), 4),
        "confidently_wrong": round(float((wrong & ~flagged).mean()), 4),
        "flagged": round(float(flagged.mean()), 4),
    }


def evaluate(path: str | Path, count: int, seed: int = 7) -> dict:
    """Score the LiteRT reader on ``count`` test-digit lines of each kind; time 6-digit lines."""
    from digits.runtime.sequence import SequenceReader
    from digits.training.data import load_mnist

    _, (x_test, y_test) = load_mnist()
    reader = SequenceReader(path, num_threads=1)
    kinds = {
        kind: score_kind(reader, lines.eval_lines(x_test, y_test, kind, count, seed))
        for kind in lines.EVAL_KINDS
    }
    six = lines.eval_lines(x_test, y_test, "separated", 50, seed + 1, lengths=(6, 6))
    times = []
    for image, _ in six:
        started = time.perf_counter()
        reader.read(image)
        times.append(time.perf_counter() - started)
    return {"kinds": kinds, "latency_ms_6_digits_median": round(1000 * np.median(times[5:]), 3)}


def _load(path: Path):
    """A reader saved by an earlier run, to fine-tune."""
    from digits.runtime.backend import keras

    if not path.is_file():
        raise SystemExit(
            f"no reader to start from at {path}: train one first (lab/recipes/reader.json)"
        )
    return keras.models.load_model(path, compile=False)


def _sets(overrides: list[str]) -> list[str]:
    return [f"--set {item}" for item in overrides]


def _thresholds_only(args: argparse.Namespace, recipe: Recipe, x_val, y_val) -> int:
    """`calibrate` the reader already at ``litert_path``; the result goes into the report."""
    calibration = calibrate(ROOT / recipe.litert_path, recipe, x_val, y_val)
    report_path = ROOT / recipe.report
    report = json.loads(report_path.read_text()) if report_path.is_file() else {}
    report["low_confidence_threshold"] = calibration["threshold"]
    report["calibration"] = calibration
    report["calibration_command"] = " ".join(
        ["python -m lab.reader", str(args.recipe), *_sets(args.set), "--thresholds-only"]
    )
    report["test"] = evaluate(ROOT / recipe.litert_path, recipe.test_lines)
    atomic_write_json(report_path, report)
    print(json.dumps(calibration, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", type=Path, help="e.g. lab/recipes/reader.json")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--thresholds-only",
        action="store_true",
        help="only choose the low-confidence threshold of the recipe's LiteRT file again",
    )
    args = parser.parse_args(argv)
    recipe = load_recipe(args.recipe, args.set)
    from digits.runtime.backend import keras
    from digits.runtime.modelfile import save_keras_model
    from digits.training.data import load_mnist, split_validation

    keras.utils.set_random_seed(recipe.seed)
    (x_full, y_full), _ = load_mnist()
    train_split, (x_val, y_val) = split_validation(x_full, y_full)
    if args.thresholds_only:
        return _thresholds_only(args, recipe, x_val, y_val)
    val_batches = validation_set(recipe, x_val, y_val)
    if not ALPHABET.startswith(recipe.alphabet) or len(recipe.alphabet) < 10:
        raise SystemExit(f"alphabet must be the digits then marks of {ALPHABET!r}")
    classes = len(recipe.alphabet) + 1
    model = build_model(recipe.width, classes) if recipe.init is None else _load(ROOT / recipe.init)
    started = time.perf_counter()
    result = train(recipe, model, train_split, val_batches)
    out = export_reader(model, ROOT / recipe.litert_path, source=recipe.keras_path)
    calibration = calibrate(out, recipe, x_val, y_val)
    save_keras_model(model, ROOT / recipe.keras_path, low_confidence=calibration["threshold"])
    report = {
        "command": " ".join(["python -m lab.reader", str(args.recipe), *_sets(args.set)]),
        "recipe": dataclasses.asdict(recipe),
        "parameters": int(model.count_params()),
        **result,
        "train_seconds": round(time.perf_counter() - started, 1),
        "low_confidence_threshold": calibration["threshold"],
        "calibration": calibration,
        "litert": {"path": recipe.litert_path, "bytes": out.stat().st_size},
        "test": evaluate(out, recipe.test_lines),
    }
    atomic_write_json(ROOT / recipe.report, report)
    print(json.dumps(report["test"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
