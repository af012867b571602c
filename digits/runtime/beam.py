"""Decoding a line's CTC frames under a constraint: the likeliest texts a format allows.

- `beam_texts`: CTC prefix beam search (blank and non-blank endings summed per prefix), with
  an optional ``viable(prefix)`` test that prunes prefixes no allowed text starts with. So
  ``--expect date`` finds the best path that *is* a date, not a filter on one greedy answer.
- `forced_runs`: the best alignment (Viterbi over the CTC states) of a given text, as
  ``(class, first, last)`` frames per character, where greedy decoding read another text.

Numpy only, like `digits.runtime.sequence`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["BEAM", "beam_texts", "forced_runs"]

#: Prefixes kept per frame.
BEAM = 24
#: Classes under this probability at a frame are not tried there.
_FLOOR = 1e-4


def beam_texts(
    probs: np.ndarray,
    alphabet: str,
    viable: Callable[[str], bool] | None = None,
    width: int = BEAM,
) -> list[tuple[str, float]]:
    """``(text, log probability)`` of the ``width`` likeliest texts of frame probabilities
    ``probs (T, 1 + len(alphabet))`` (class 0 the blank) whose every prefix is ``viable``,
    best first."""
    logp = np.log(np.maximum(np.asarray(probs, np.float64), 1e-300))
    beams: dict[str, tuple[float, float]] = {"": (0.0, -np.inf)}  # (ends in blank, not)
    for t in range(len(logp)):
        tried = [c for c in np.flatnonzero(probs[t] > _FLOOR).tolist() if c != 0]
        grown: dict[str, list[float]] = {}
        for prefix, (blank, other) in beams.items():
            total = np.logaddexp(blank, other)
            _add(grown, prefix, 0, total + logp[t, 0])
            if prefix:  # the last character again, without a blank between: the same text
                last = alphabet.index(prefix[-1]) + 1
                _add(grown, prefix, 1, other + logp[t, last])
            for c in tried:
                text = prefix + alphabet[c - 1]
                if viable is not None and not viable(text):
                    continue
                repeat = bool(prefix) and alphabet[c - 1] == prefix[-1]
                _add(grown, text, 1, (blank if repeat else total) + logp[t, c])
        ranked = sorted(grown.items(), key=lambda kv: -np.logaddexp(*kv[1]))[:width]
        beams = {text: (b, o) for text, (b, o) in ranked}
    out = [(text, float(np.logaddexp(b, o))) for text, (b, o) in beams.items()]
    return sorted(out, key=lambda item: -item[1])


def _add(grown: dict, text: str, slot: int, value: float) -> None:
    pair = grown.setdefault(text, [-np.inf, -np.inf])
    pair[slot] = float(np.logaddexp(pair[slot], value))


def forced_runs(probs: np.ndarray, labels: list[int]) -> list[tuple[int, int, int]]:
    """The frames of each label in the likeliest CTC alignment of ``labels`` to ``probs``:
    ``(class, first, last)`` per label (empty when the text cannot fit the frames)."""
    steps = len(probs)
    states = [0]
    for label in labels:
        states += [label, 0]
    size = len(states)
    if not labels or steps < len(labels):
        return []
    logp = np.log(np.maximum(np.asarray(probs, np.float64)[:, states], 1e-300))
    score = np.full(size, -np.inf)
    score[0], score[1] = logp[0, 0], logp[0, 1]
    back = np.zeros((steps, size), np.int64)
    for t in range(1, steps):
        options = np.stack([score, np.r_[-np.inf, score[:-1]], np.r_[-np.inf, -np.inf, score[:-2]]])
        for s in range(size):  # two back only onto a label after a blank, unless repeated
            if s < 2 or states[s] == 0 or states[s] == states[s - 2]:
                options[2, s] = -np.inf
        choice = np.argmax(options, axis=0)
        back[t] = np.arange(size) - choice
        score = options[choice, np.arange(size)] + logp[t]
    state = size - 1 if score[size - 1] >= score[size - 2] else size - 2
    path = [state]
    for t in range(steps - 1, 0, -1):
        state = int(back[t, state])
        path.append(state)
    path.reverse()
    runs: dict[int, list[int]] = {}
    for t, s in enumerate(path):
        if s % 2 == 1:
            runs.setdefault(s // 2, []).append(t)
    return [(labels[i], min(runs[i]), max(runs[i])) for i in range(len(labels)) if i in runs]
