"""Which test digit the viewer shows: stepping, class filters, misclassified jumps, random.

Pure NumPy so it is unit-testable without a UI.
"""

from __future__ import annotations

import numpy as np


class DigitNavigator:
    def __init__(self, labels: np.ndarray, seed: int = 0) -> None:
        self.labels = np.asarray(labels)
        self.index = 0
        self.class_filter: int | None = None
        self.pred_filter: int | None = None  # with class_filter: one confusion-matrix cell
        self.predicted: np.ndarray | None = None
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.labels)

    def set_predictions(self, probs: np.ndarray | None) -> None:
        self.predicted = None if probs is None else np.asarray(probs).argmax(axis=1)

    def _candidates(self, misclassified: bool = False) -> np.ndarray:
        mask = np.ones(len(self.labels), dtype=bool)
        if self.class_filter is not None:
            mask &= self.labels == self.class_filter
        if self.pred_filter is not None:
            if self.predicted is None:
                return np.empty(0, dtype=np.int64)
            mask &= self.predicted == self.pred_filter
        if misclassified:
            if self.predicted is None:
                return np.empty(0, dtype=np.int64)
            mask &= self.predicted != self.labels
        return np.flatnonzero(mask)

    def _step(self, direction: int, misclassified: bool = False) -> bool:
        cand = self._candidates(misclassified)
        if len(cand) == 0:
            return False
        if direction > 0:
            pos = np.searchsorted(cand, self.index, side="right")
            self.index = int(cand[pos % len(cand)])
        else:
            pos = np.searchsorted(cand, self.index, side="left") - 1
            self.index = int(cand[pos % len(cand)])
        return True

    def next(self) -> bool:
        return self._step(+1)

    def previous(self) -> bool:
        return self._step(-1)

    def next_misclassified(self) -> bool:
        return self._step(+1, misclassified=True)

    def previous_misclassified(self) -> bool:
        return self._step(-1, misclassified=True)

    def random(self) -> bool:
        cand = self._candidates()
        if len(cand) == 0:
            return False
        self.index = int(self._rng.choice(cand))
        return True

    def filter_class(self, cls: int | None) -> bool:
        """Show only true class ``cls`` (None: all); jumps to its first digit from here on."""
        self.class_filter = cls
        self.pred_filter = None
        if cls is None or self.labels[self.index] == cls:
            return True
        return self._step(+1)

    def filter_pair(self, true_cls: int | None, pred_cls: int | None) -> bool:
        """Show only digits of true class ``true_cls`` predicted as ``pred_cls`` (None: any).

        One confusion-matrix cell, e.g. "all 4s predicted as 9". Starts at its first digit (a
        drill-down reads 1/15, not wherever the viewer happened to be). With no such digit (or
        no predictions yet) nothing changes and it returns False.
        """
        before = (self.class_filter, self.pred_filter)
        self.class_filter, self.pred_filter = true_cls, pred_cls
        cand = self._candidates()
        if len(cand) == 0:
            self.class_filter, self.pred_filter = before
            return False
        self.index = int(cand[0])
        return True

    def misclassified_count(self) -> int:
        return len(self._candidates(misclassified=True))

    def position(self) -> tuple[int, int]:
        """(1-based position of the current digit among the candidates, their count)."""
        cand = self._candidates()
        pos = int(np.searchsorted(cand, self.index)) + 1
        return pos, len(cand)
