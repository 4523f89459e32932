"""Comparing runs: seed groups and their bands, and what changed between two runs.

Was that learning rate better, or was it the seed? Runs whose configs differ only in the
seed are one *seed group*; a change between two groups counts as an improvement only when
their bands (min to max test accuracy over the seeds) do not overlap, else it is "within
seed noise". Which digits did a change fix, and which did it break? ``diff_runs`` lines up
two runs' test predictions (``predictions/epoch-NNNN.npy`` of their last counted epoch) and
lists the digits that flipped, with counts per class and both confusion matrices.

No Textual, no TensorFlow: the Runs tab, the diff view and the CLI all read these.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnist_tui.runs.follow import load_predictions
from mnist_tui.runs.milestones import epoch_curve
from mnist_tui.runs.rundir import PREDICTIONS, SUMMARY, TEST_SET, RunStoreError, read_json
from mnist_tui.runs.store import RunInfo

NOT_A_GROUP_FIELDS = ("seed",)  # what may differ inside a seed group
NOISE = "within seed noise"


# ----------------------------------------------------------------------------- seed groups
def group_key(config: dict[str, Any]) -> str:
    """The config without its seed, as a stable string: equal for runs that differ only in seed."""
    return json.dumps({k: v for k, v in config.items() if k not in NOT_A_GROUP_FIELDS}, sort_keys=True, default=str)


@dataclass(frozen=True)
class SeedGroup:
    """Runs of one config over several seeds, with their test accuracies."""

    key: str
    runs: tuple[RunInfo, ...]

    @property
    def accuracies(self) -> np.ndarray:
        return np.array([r.test_accuracy for r in self.runs if r.test_accuracy is not None], dtype=np.float64)

    @property
    def n(self) -> int:
        return len(self.accuracies)

    @property
    def mean(self) -> float:
        return float(self.accuracies.mean()) if self.n else math.nan

    @property
    def std(self) -> float:
        """The sample standard deviation over the seeds (0 for one seed)."""
        return float(self.accuracies.std(ddof=1)) if self.n > 1 else 0.0

    @property
    def low(self) -> float:
        return float(self.accuracies.min()) if self.n else math.nan

    @property
    def high(self) -> float:
        return float(self.accuracies.max()) if self.n else math.nan

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.runs[0].config) if self.runs else {}

    def text(self) -> str:
        """``95.12±0.31% (3 seeds)``"""
        if not self.n:
            return "—"
        return f"{self.mean * 100:.2f}±{self.std * 100:.2f}% ({self.n} seed{'s' * (self.n != 1)})"


def seed_groups(runs: Iterable[RunInfo]) -> dict[str, SeedGroup]:
    """Group key → its runs (every run with a config; a group may hold one run)."""
    members: dict[str, list[RunInfo]] = {}
    for run in runs:
        if run.config:
            members.setdefault(group_key(run.config), []).append(run)
    return {k: SeedGroup(k, tuple(v)) for k, v in members.items()}


def group_labels(runs: Iterable[RunInfo]) -> dict[str, str]:
    """Run id → a label for its seed group, for the groups with two or more of ``runs``:
    the values that tell the groups apart (``lr=0.1 batch=32``), or the model alone."""
    from mnist_tui.runs.sweep import point_label

    groups = [g for g in seed_groups(runs).values() if len(g.runs) >= 2]
    if not groups:
        return {}
    configs = [g.config for g in groups]
    differ = [k for k in configs[0] if k not in NOT_A_GROUP_FIELDS and any(c.get(k) != configs[0].get(k)
                                                                           for c in configs)]
    out = {}
    for g in groups:
        label = point_label({k: g.config.get(k) for k in differ}) if differ else str(g.config.get("preset", "?"))
        out.update({r.id: label for r in g.runs})
    return out


def changed_fields(a: dict[str, Any], b: dict[str, Any]) -> str:
    """``learning_rate 0.1→0.5, batch_size 32→64``: what differs between two configs, seed aside."""
    names = [k for k in dict.fromkeys([*a, *b]) if k not in NOT_A_GROUP_FIELDS and a.get(k) != b.get(k)]
    return ", ".join(f"{k} {_short(a.get(k))}→{_short(b.get(k))}" for k in names) or "same config"


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def verdict(a: SeedGroup, b: SeedGroup) -> str:
    """Whether B's change is an improvement over A: only when the seed bands separate."""
    if a.n == 0 or b.n == 0:
        return "no test accuracy to compare yet"
    delta = (b.mean - a.mean) * 100
    if a.n < 2 or b.n < 2:
        return (f"{delta:+.2f} pp, but with one seed a side it may be seed noise "
                "(train more seeds: mnist-tui sweep --seeds 0,1,2)")
    if b.low > a.high:
        return f"an improvement: {delta:+.2f} pp, the seed bands separate"
    if a.low > b.high:
        return f"worse: {delta:+.2f} pp, the seed bands separate"
    return f"{NOISE}: {delta:+.2f} pp, the seed bands overlap"


def compare_groups(a: SeedGroup, b: SeedGroup) -> str:
    """The detail line for two selected groups."""
    return f"{changed_fields(a.config, b.config)}: {a.text()} vs {b.text()}: {verdict(a, b)}"


# ----------------------------------------------------------------------------- two runs
@dataclass(frozen=True, eq=False)
class RunDiff:
    """Two runs on the same test set: their predictions, what flipped, both confusion matrices."""

    a: Path
    b: Path
    epoch_a: int
    epoch_b: int
    y_test: np.ndarray  # int64 (n,)
    x_test: np.ndarray | None  # uint8 (n, 28, 28)
    probs_a: np.ndarray  # float32 (n, 10)
    probs_b: np.ndarray
    class_names: tuple[str, ...]
    confusion_a: np.ndarray  # int64 (10, 10), rows = true
    confusion_b: np.ndarray

    @property
    def pred_a(self) -> np.ndarray:
        return np.asarray(self.probs_a.argmax(axis=1))

    @property
    def pred_b(self) -> np.ndarray:
        return np.asarray(self.probs_b.argmax(axis=1))

    @property
    def fixed(self) -> np.ndarray:
        """Indices wrong in A and right in B (what B fixed)."""
        return np.flatnonzero((self.pred_a != self.y_test) & (self.pred_b == self.y_test))

    @property
    def broken(self) -> np.ndarray:
        """Indices right in A and wrong in B (what B broke)."""
        return np.flatnonzero((self.pred_a == self.y_test) & (self.pred_b != self.y_test))

    def per_class(self) -> np.ndarray:
        """(classes, 2): per true class, how many B broke (right in A only) and fixed (right in B only)."""
        k = len(self.class_names)
        return np.stack([np.bincount(self.y_test[self.broken], minlength=k)[:k],
                         np.bincount(self.y_test[self.fixed], minlength=k)[:k]], axis=1)

    @property
    def confusion_delta(self) -> np.ndarray:
        return self.confusion_b - self.confusion_a


def last_predictions(path: Path) -> tuple[int, np.ndarray]:
    """The test predictions of the run's last counted epoch (or its newest file)."""
    curve = epoch_curve(path)
    tried = [curve.epochs[-1]] if curve.epochs else []
    try:
        files = sorted((path / PREDICTIONS).glob("epoch-*.npy"), reverse=True)
    except OSError:
        files = []
    tried += [int(f.stem.split("-")[1]) for f in files if f.stem.split("-")[1].isdigit()]
    for epoch in tried:
        probs = load_predictions(path, epoch)
        if probs is not None:
            return epoch, probs
    raise RunStoreError(f"run {path.name} has no test predictions yet (they are saved at each epoch end)")


def _test_set(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        with np.load(path / TEST_SET, allow_pickle=False) as npz:
            return npz["y_test"].astype(np.int64), npz["x_test"] if "x_test" in npz.files else None
    except (OSError, ValueError, KeyError) as err:
        raise RunStoreError(f"run {path.name} has no readable {TEST_SET}: {err}") from None


def _confusion(path: Path, y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """summary.json's final confusion matrix, else the one of the last epoch's predictions."""
    summary = read_json(path / SUMMARY)
    with_matrix = isinstance(summary, dict) and isinstance(summary.get("confusion_matrix"), list)
    if with_matrix:
        try:
            matrix = np.array(summary["confusion_matrix"], dtype=np.int64)  # type: ignore[index]
            if matrix.shape == (k, k) and matrix.sum() == len(y):
                return matrix
        except (TypeError, ValueError):
            pass
    return np.bincount(y * k + pred, minlength=k * k)[: k * k].reshape(k, k).astype(np.int64)


def diff_runs(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> RunDiff:
    """Line up runs A and B on their common test set; RunStoreError says why they cannot be."""
    pa, pb = Path(a), Path(b)
    y_a, x_a = _test_set(pa)
    y_b, _ = _test_set(pb)
    if y_a.shape != y_b.shape or not np.array_equal(y_a, y_b):
        raise RunStoreError(f"runs {pa.name} and {pb.name} were tested on different test sets")
    epoch_a, probs_a = last_predictions(pa)
    epoch_b, probs_b = last_predictions(pb)
    if probs_a.shape != probs_b.shape or len(probs_a) != len(y_a):
        raise RunStoreError(f"runs {pa.name} and {pb.name} have predictions of different shapes")
    k = probs_a.shape[1]
    names = _class_names(pa, k)
    return RunDiff(pa, pb, epoch_a, epoch_b, y_a, x_a, probs_a, probs_b, names,
                   _confusion(pa, y_a, probs_a.argmax(axis=1), k), _confusion(pb, y_a, probs_b.argmax(axis=1), k))


def _class_names(path: Path, k: int) -> tuple[str, ...]:
    summary = read_json(path / SUMMARY)
    data = summary.get("dataset") if isinstance(summary, dict) else None
    names = data.get("class_names") if isinstance(data, dict) else None
    if isinstance(names, list) and len(names) == k and all(isinstance(n, str) for n in names):
        return tuple(names)
    return tuple(str(i) for i in range(k))
