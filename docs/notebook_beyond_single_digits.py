# Cells for the notebook section "Beyond single digits" (issue 16), ready to paste.
# Each "# %% [markdown]" / "# %%" block is one cell (jupytext percent format). The cells
# use only the package (digits.read, digits.training.data, digits.synth.samples) and need no files.

# %% [markdown]
# ## Beyond single digits
#
# People photograph a whole number: a meter reading, a postcode, a score. `digits.read`
# finds each digit in the image (dark on light or light on dark, a photo or a transparent
# canvas), merges the broken strokes of one digit, splits touching digits where the ink
# narrows (the model picks the cuts it is surest of), orders them left to right, and runs
# every digit through the same preprocessing and model as a single digit, in one batch.
# Below: a number written with six MNIST *test* digits, read back with its boxes.

# %%
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from digits.read import read_number
from digits.synth import samples
from digits.training.data import load_mnist

_, (x_test, y_test) = load_mnist()
rng = np.random.default_rng(16)
chosen = rng.choice(len(x_test), size=6, replace=False)
# Each digit as a small photo of dark ink on paper, side by side: one picture of a number.
photo = np.hstack([samples.render(x_test[i], rng, size=110, digit_fraction=0.7) for i in chosen])
written = "".join(str(int(y_test[i])) for i in chosen)

reading = read_number(photo)  # the shipped model, loaded once
fig, ax = plt.subplots(figsize=(10, 2.4))
ax.imshow(photo, cmap="gray")
for digit in reading.digits:
    x, y, w, h = digit.box
    ax.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor="tab:green", linewidth=1.5))
    ax.text(x, y - 3, f"{digit.label} ({digit.confidence:.0%})", color="tab:green", fontsize=9)
ax.set_title(f"written {written}, read {reading.text!r}, low confidence: {reading.low_confidence}")
ax.axis("off")
plt.show()

# %% [markdown]
# The same from the command line, one JSON object per image:
#
#     python -m digits read --json photo_of_a_number.jpg
#
# On the number benchmark (1,000 generated numbers of 2-8 MNIST test digits per set,
# `python -m digits.eval numbers`, see `docs/numbers.md`) the reader gets most
# whole numbers right when the digits are separated; digits that touch or overlap are
# much harder, and their figures are reported as they are.
#
# ### Your own symbols
#
# To teach the model other symbols (`+ - x =`, letters, ...), put the images of each class
# in its own subfolder and train the Deeper CNN on them; the class names travel with the
# model (a sidecar `MODEL.json`) and `predict`, `read` and `Predictor` print them:
#
#     python -m digits.synth symbols          # build/sets/symbols, or your own images
#     python -m digits train --data build/sets/symbols/train --epochs 8 --out symbols.h5
#     python -m digits predict --model symbols.h5 build/sets/symbols/test/x
#     python -m digits read --model symbols.h5 photo_of_a_sum.jpg
