"""Per-batch metric history and its reduction to what a chart can show.

The training thread appends every batch (nothing is sampled away: the run directory gets
all of them too); charts plot a fixed number of buckets, so a redraw costs the same with
1k or 100k recorded batches.
"""

from __future__ import annotations

import math

import numpy as np


class Series:
    """An append-only float series with running sums, backed by growing NumPy arrays.

    ``append`` is the hot path (called per batch from the training thread): three array
    stores and a counter bump. The running sums of the finite values make any bucket mean or
    moving average a difference of two sums, so ``chart_points`` costs O(buckets), not
    O(batches): a chart of a 100k-batch run redraws as fast as one of 1k.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self._data = np.empty(capacity, dtype=np.float64)
        self._csum = np.zeros(capacity + 1, dtype=np.float64)  # sum of finite values before i
        self._ccount = np.zeros(capacity + 1, dtype=np.float64)  # how many finite values before i
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def append(self, value: float) -> None:
        n = self._n
        if n == len(self._data):
            grow = len(self._data)
            self._data = np.concatenate([self._data, np.empty(grow)])
            self._csum = np.concatenate([self._csum, np.zeros(grow)])
            self._ccount = np.concatenate([self._ccount, np.zeros(grow)])
        self._data[n] = value
        finite = math.isfinite(value)
        self._csum[n + 1] = self._csum[n] + (value if finite else 0.0)
        self._ccount[n + 1] = self._ccount[n] + (1.0 if finite else 0.0)
        self._n = n + 1  # publish last, so readers never see an unwritten slot

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` values (a resumed run abandons the rows of its partial epoch)."""
        self._n = max(0, min(n, self._n))

    def view(self) -> np.ndarray:
        return self._data[: self._n]

    @property
    def last(self) -> float:
        return float(self._data[self._n - 1]) if self._n else math.nan

    def chart_points(self, buckets: int, window: int,
                     span: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x, bucket means, centred moving average over ``window`` batches at each x).

        x is the 1-based batch index at each bucket's end; at most ``buckets`` points. With
        ``span`` (the run's planned batches) the buckets are cut from ``0..span`` instead of
        ``0..len``: a bucket, once full, keeps its value as the run goes on, so a chart drawn
        from them changes only at its right end (``--low-bandwidth`` sends just that).
        """
        n = self._n
        if n == 0 or buckets <= 0:
            empty = np.empty(0)
            return empty, empty, empty
        csum, ccount = self._csum[: n + 1], self._ccount[: n + 1]
        if span is not None and span >= n:
            edges = np.unique(np.linspace(0, span, min(buckets, span) + 1).astype(np.int64))
            edges = np.unique(np.append(edges[edges < n], n))  # the last bucket: filled so far
        else:
            edges = np.unique(np.linspace(0, n, min(buckets, n) + 1).astype(np.int64))
        starts, ends = edges[:-1], edges[1:]
        with np.errstate(invalid="ignore", divide="ignore"):
            counts = ccount[ends] - ccount[starts]
            means = np.where(counts > 0, (csum[ends] - csum[starts]) / np.maximum(counts, 1), np.nan)
            centre = (starts + ends - 1) // 2
            half = max(window, 1) // 2
            lo = np.maximum(centre - half, 0)
            hi = np.minimum(centre + half + 1, n)
            wcount = ccount[hi] - ccount[lo]
            smooth_line = np.where(wcount > 0, (csum[hi] - csum[lo]) / np.maximum(wcount, 1), np.nan)
        return ends.astype(np.float64), means, smooth_line


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average (shrinking at the ends), ignoring non-finite values.

    Centred rather than exponential so the smooth line runs through the raw points instead
    of lagging behind a falling loss.
    """
    n = len(values)
    if n == 0 or window <= 1:
        return values.astype(np.float64, copy=True)
    finite = np.isfinite(values)
    csum = np.concatenate([[0.0], np.cumsum(np.where(finite, values, 0.0))])
    ccount = np.concatenate([[0], np.cumsum(finite)])
    half = window // 2
    idx = np.arange(n)
    lo = np.maximum(idx - half, 0)
    hi = np.minimum(idx + half + 1, n)
    counts = ccount[hi] - ccount[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, (csum[hi] - csum[lo]) / np.maximum(counts, 1), np.nan)


def nice_ticks(n: int, count: int = 5) -> list[int]:
    """Whole-number x ticks (batches are counted, not measured)."""
    if n <= 1:
        return [1]
    return sorted({round(t) for t in np.linspace(1, n, count)})


def reduce(values: np.ndarray, buckets: int, how: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """Reduce ``values`` to at most ``buckets`` points: (x = 1-based index at bucket end, y).

    ``how`` is mean, min, max or last. Non-finite values are ignored by mean/min/max.
    """
    n = len(values)
    if n == 0 or buckets <= 0:
        return np.empty(0), np.empty(0)
    if n <= buckets:
        return np.arange(1, n + 1, dtype=np.float64), values.astype(np.float64, copy=False)
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    starts, ends = edges[:-1], edges[1:]
    keep = ends > starts
    starts, ends = starts[keep], ends[keep]
    xs = ends.astype(np.float64)
    if how == "last":
        return xs, values[ends - 1].astype(np.float64)
    finite = np.where(np.isfinite(values), values, np.nan)
    if how == "mean":
        clean = np.nan_to_num(finite, nan=0.0)
        counts = np.add.reduceat(np.isfinite(finite).astype(np.float64), starts)
        sums = np.add.reduceat(clean, starts)
        with np.errstate(invalid="ignore", divide="ignore"):
            return xs, np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    fill = np.inf if how == "min" else -np.inf
    ufunc = np.minimum if how == "min" else np.maximum
    out = ufunc.reduceat(np.where(np.isfinite(finite), finite, fill), starts)
    return xs, np.where(np.isfinite(out), out, np.nan)
