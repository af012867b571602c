"""The two CNNs of the project: a Simple CNN baseline and a Deeper CNN.

Both take ``(N, 28, 28, 1)`` float32 images in [0, 1] (white digit on black, as in
MNIST) and return ``(N, 10)`` softmax probabilities. They use only built-in Keras
layers, so the saved ``.h5`` loads with plain ``keras.models.load_model``.
"""

from __future__ import annotations

from digits.runtime.backend import keras

layers = keras.layers

__all__ = [
    "INPUT_SHAPE",
    "NUM_CLASSES",
    "build_simple_cnn",
    "build_deeper_cnn",
    "compile_model",
    "build",
    "NAMES",
]

NAMES = ("simple", "deeper")

INPUT_SHAPE = (28, 28, 1)
# Batch-norm statistics follow the last ~10 batches (Keras' default 0.99 follows ~100), so
# they settle within a short run too.
BN_MOMENTUM = 0.9
NUM_CLASSES = 10


def build_simple_cnn() -> keras.Model:
    """The spec's Simple CNN: 2x (Conv2D + ReLU, MaxPool), Flatten, Dense(128), Dense(10)."""
    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE, name="image"),
            layers.Conv2D(32, 3, activation="relu", name="conv1"),
            layers.MaxPooling2D(name="pool1"),
            layers.Conv2D(64, 3, activation="relu", name="conv2"),
            layers.MaxPooling2D(name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dense(128, activation="relu", name="dense128"),
            layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities"),
        ],
        name="simple_cnn",
    )


def _conv_bn_relu(filters: int, name: str) -> list[layers.Layer]:
    return [
        layers.Conv2D(filters, 3, use_bias=False, name=f"{name}_conv"),
        layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn"),
        layers.ReLU(name=f"{name}_relu"),
    ]


def build_deeper_cnn(
    dropout_conv: float = 0.25,
    dropout_dense: float = 0.4,
    filters: tuple[int, int] = (32, 64),
    num_classes: int = NUM_CLASSES,
) -> keras.Model:
    """The spec's Deeper CNN: two blocks of 2x Conv2D, each block closed by MaxPool + Dropout,
    then Dense(256) + Dropout and Dense(10, softmax).

    Batch normalisation after every convolution and the dense layer lets it train
    quickly with a high learning rate; 'valid' convolutions keep it cheap on a CPU
    (28 -> 26 -> 24 -> 12 -> 10 -> 8 -> 4). ``filters`` are the widths of the two blocks;
    ``num_classes`` the number of outputs (10 digits, or a user's own symbols).
    """
    first, second = filters
    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE, name="image"),
            *_conv_bn_relu(first, "block1a"),
            *_conv_bn_relu(first, "block1b"),
            layers.MaxPooling2D(name="block1_pool"),
            layers.Dropout(dropout_conv, name="block1_dropout"),
            *_conv_bn_relu(second, "block2a"),
            *_conv_bn_relu(second, "block2b"),
            layers.MaxPooling2D(name="block2_pool"),
            layers.Dropout(dropout_conv, name="block2_dropout"),
            layers.Flatten(name="flatten"),
            layers.Dense(256, use_bias=False, name="dense256"),
            layers.BatchNormalization(momentum=BN_MOMENTUM, name="dense256_bn"),
            layers.ReLU(name="dense256_relu"),
            layers.Dropout(dropout_dense, name="dense_dropout"),
            layers.Dense(num_classes, activation="softmax", name="probabilities"),
        ],
        name="deeper_cnn",
    )


def compile_model(
    model: keras.Model, learning_rate=1e-3, steps_per_execution: int = 1
) -> keras.Model:
    """Adam + categorical cross-entropy (labels one-hot), tracking accuracy. XLA stays off:
    on these CPUs it made training about 4x slower."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
        jit_compile=False,
    )
    return model


def build(name: str) -> keras.Model:
    """Build a model by name: ``"simple"`` or ``"deeper"``."""
    builders = {"simple": build_simple_cnn, "deeper": build_deeper_cnn}
    if name not in builders:
        raise ValueError(f"Unknown model {name!r}; choose one of {sorted(builders)}")
    return builders[name]()
