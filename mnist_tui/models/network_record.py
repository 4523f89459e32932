"""What the layers hold at an epoch end, small enough to keep for every epoch of a run.

The Network tab shows how a model's weights change as it learns: the first layer's units
(or filters) as pictures, each layer's weight distribution, how far each layer moved in an
epoch and how many hidden units are dead. The checkpoint already holds every weight, but
only the latest one is kept and a cnn's is 12 MB; this record is computed from the same
snapshot (``_Loop.snapshot``: ``w000``… + ``meta``) by the recorder's checkpoint thread,
never the training thread, and keeps only what the tab draws (a few kB to ~100 kB).

Pure NumPy, so the trainer writes it and the app reads it without any framework. Contents
(one ``.npz``, see ``network_record``):

* ``hist_counts`` (L, BINS + 2) int32 and ``hist_edges`` (L, BINS + 1): every kernel's
  weights in fixed bins (the first and last counts are the weights beyond the edges), the
  same bins at every epoch so the distribution can be watched spreading;
* ``norms`` and ``updates`` (L,): ‖W‖ and ‖W_e − W_{e−1}‖ / ‖W_{e−1}‖ (NaN without a
  previous epoch);
* dense first layers: ``units`` (K, 28, 28) int8 with ``unit_scale`` (K,), the first
  ``MAX_UNITS`` units' incoming weights, ``dead`` (U,) bool over the test set and
  ``witness`` (U,) int32, a test image each live unit responds to (-1: dead);
* conv first layers: ``filters`` (F, kh, kw) float32.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

RECORD_FORMAT = "mnist-tui-network"
BINS = 48  # histogram bins between the edges (plus one below and one above)
EDGE_FACTOR = 5.0  # the edges are ± this many Glorot limits: where initial weights lie, and room to spread
MAX_UNITS = 128  # first-layer units kept as images (mlp has 512: the first 128 are a fair sample)
# A unit is "responsive" on an image when its output still changes with its input there. A
# unit responsive on no test image is dead: relu outputs 0, sigmoid/tanh are saturated.
SATURATED = {"sigmoid": 4.6, "tanh": 2.65}  # |z| beyond which σ' < 0.01 (sigmoid) or tanh' < 0.02
FIRST_CHUNK = (256, 1024)  # test images tried on every unit first; only units still silent see the rest


@dataclass(frozen=True, eq=False)
class WeightLayer:
    """One dense or conv layer of a snapshot: its kernel and bias, and what it is."""

    index: int  # position in the checkpoint's layer list
    kind: str  # dense or conv
    activation: str
    kernel: np.ndarray
    bias: np.ndarray

    @property
    def name(self) -> str:
        if self.kind == "conv":
            kh, kw, _, out = self.kernel.shape
            return f"conv {out}@{kh}×{kw} {self.activation}"
        return f"dense {self.kernel.shape[1]} {self.activation}"


def snapshot_meta(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    meta = json.loads(str(arrays["meta"]))
    if not isinstance(meta, dict):
        raise ValueError("the snapshot's meta is not an object")
    return meta


def weight_layers(arrays: dict[str, np.ndarray]) -> list[WeightLayer]:
    """The snapshot's dense and conv layers, their weights paired in the checkpoint's order."""
    meta = snapshot_meta(arrays)
    weights = [arrays[k] for k in sorted(k for k in arrays if k.startswith("w"))]
    it = iter(weights)
    out: list[WeightLayer] = []
    for i, layer in enumerate(meta.get("layers") or []):
        if layer.get("kind") in ("dense", "conv"):
            kernel, bias = next(it), next(it)
            out.append(WeightLayer(i, layer["kind"], str(layer.get("activation", "linear")), kernel, bias))
    return out


def kernels(arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Every layer's kernel: what the next epoch's update sizes are measured against."""
    return [layer.kernel for layer in weight_layers(arrays)]


def counts_dead_units(arrays: dict[str, np.ndarray]) -> bool:
    """Whether a record of this snapshot counts dead units (its first layer is dense on the
    784 pixels, with a layer after it), so needs the test images."""
    layers = weight_layers(arrays)
    return len(layers) > 1 and layers[0].kind == "dense" and layers[0].kernel.shape[0] == 784


def histogram_edges(kernel_shape: Sequence[int]) -> np.ndarray:
    """Fixed bin edges for a kernel of this shape: ± EDGE_FACTOR Glorot limits, so every
    epoch of a run (and a resumed attempt) uses the same bins without knowing the others."""
    if len(kernel_shape) == 4:
        kh, kw, cin, cout = kernel_shape
        fan_in, fan_out = kh * kw * cin, kh * kw * cout
    else:
        fan_in, fan_out = int(kernel_shape[0]), int(kernel_shape[-1])
    limit = math.sqrt(6.0 / max(1, fan_in + fan_out))
    reach = float(f"{EDGE_FACTOR * limit:.2g}")
    return np.linspace(-reach, reach, BINS + 1, dtype=np.float32)


def histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts in ``edges``' bins, plus the values below the first edge and above the last one
    at either end: the counts always sum to ``values.size``."""
    v = np.asarray(values, dtype=np.float32).ravel()
    lo, hi = float(edges[0]), float(edges[-1])
    width = (hi - lo) / (len(edges) - 1)
    v = np.where(np.isfinite(v), v, np.float32(hi + width))  # NaN and ±inf count as beyond: a diverged run shows
    idx = np.clip(np.floor((v - lo) / width), -1, len(edges)).astype(np.int64) + 1
    idx = np.minimum(idx, len(edges))  # 0: below the first edge; len(edges): above the last
    idx[v == hi] = len(edges) - 1  # the last edge belongs to the last bin, as np.histogram has it
    return np.bincount(idx, minlength=len(edges) + 1).astype(np.int32)


def responsive(z: np.ndarray, activation: str) -> np.ndarray:
    """Whether each pre-activation puts its unit where its output follows its input."""
    if activation == "relu":
        return z > 0
    bound = SATURATED.get(activation)
    if bound is None:
        return np.ones(z.shape, dtype=bool)  # linear: never dead
    return np.abs(z) < bound


def scaled_images(x_test: np.ndarray) -> np.ndarray:
    """(N, 784) float32 in [0, 1]: what ``dead_units`` multiplies. A caller that counts dead
    units every epoch converts once and passes this instead of the uint8 images."""
    return np.asarray(x_test).reshape(len(x_test), -1).astype(np.float32) / np.float32(255.0)


def dead_units(x_test: np.ndarray, kernel: np.ndarray, bias: np.ndarray, activation: str) -> np.ndarray:
    """(U,) bool: the units of a dense layer on the flat image that no test image makes
    responsive (``find_dead_units`` without witnesses)."""
    return find_dead_units(x_test, kernel, bias, activation)[0]


def find_dead_units(x_test: np.ndarray, kernel: np.ndarray, bias: np.ndarray, activation: str,
                    witnesses: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(dead (U,) bool, witness (U,) int32): the units no test image makes responsive, and for
    the others the first image found that does (-1 for dead ones). Exact, at a fraction of the
    full pass: a unit whose ``witnesses`` image (last epoch's) still works is alive at the
    cost of one dot product; the rest see the first 256 images, those still silent the next
    1,024, and only those still silent the rest (a dead unit costs 1/U of a full pass).
    ``x_test``: uint8 images, or ``scaled_images`` of them (no conversion per epoch)."""
    x = np.asarray(x_test).reshape(len(x_test), -1)
    scaled = x.dtype == np.float32
    units = kernel.shape[1]
    alive = np.zeros(units, dtype=bool)
    found_at = np.full(units, -1, dtype=np.int32)
    w, b = np.asarray(kernel, dtype=np.float32), np.asarray(bias, dtype=np.float32)
    if witnesses is not None and len(witnesses) == units:
        idx = np.flatnonzero((witnesses >= 0) & (witnesses < len(x)))
        rows = x[witnesses[idx]]
        if not scaled:
            rows = rows.astype(np.float32) / np.float32(255.0)
        z = (rows * w[:, idx].T).sum(axis=1) + b[idx]
        hit = idx[responsive(z, activation)]
        alive[hit], found_at[hit] = True, witnesses[hit]
    cuts = [0, *np.cumsum(FIRST_CHUNK).tolist(), len(x)]
    for start, stop in itertools.pairwise(cuts):
        todo = np.flatnonzero(~alive)
        if not len(todo) or start >= len(x):
            break
        for a in range(start, min(stop, len(x)), 2048):  # bounded memory however many images
            chunk = x[a:min(a + 2048, stop)]
            if not scaled:
                chunk = chunk.astype(np.float32) / np.float32(255.0)
            on = responsive(chunk @ w[:, todo] + b[todo], activation)
            found = on.any(axis=0)
            alive[todo[found]] = True
            found_at[todo[found]] = a + on.argmax(axis=0)[found]
            todo = todo[~found]
            if not len(todo):
                break
    return ~alive, found_at


def network_record(arrays: dict[str, np.ndarray], x_test: np.ndarray | None = None,
                   previous: Sequence[np.ndarray] | None = None,
                   witnesses: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The record of one snapshot (checkpoint arrays). ``x_test`` (uint8 test images, or
    ``scaled_images``) lets dead units be counted, ``witnesses`` (the last record's
    ``witness``) makes that cheap; ``previous`` (the last epoch's ``kernels``) gives update
    sizes."""
    meta = snapshot_meta(arrays)
    layers = weight_layers(arrays)
    if not layers:
        raise ValueError("the snapshot has no dense or conv layer")
    edges = np.stack([histogram_edges(layer.kernel.shape) for layer in layers])
    counts = np.stack([histogram(layer.kernel, e) for layer, e in zip(layers, edges, strict=True)])
    norms = np.array([np.linalg.norm(layer.kernel.astype(np.float32)) for layer in layers], dtype=np.float32)
    updates = np.full(len(layers), np.nan, dtype=np.float32)
    if previous is not None and len(previous) == len(layers):
        for i, (layer, before) in enumerate(zip(layers, previous, strict=True)):
            if before.shape == layer.kernel.shape:
                base = float(np.linalg.norm(before.astype(np.float32)))
                step = float(np.linalg.norm(layer.kernel.astype(np.float32) - before.astype(np.float32)))
                updates[i] = step / base if base > 0 else np.nan
    out: dict[str, np.ndarray] = {"hist_counts": counts, "hist_edges": edges, "norms": norms, "updates": updates}
    first = layers[0]
    hidden: dict[str, Any] | None = None
    if first.kind == "dense" and first.kernel.shape[0] == 784 and len(layers) > 1:  # as counts_dead_units
        k = min(MAX_UNITS, first.kernel.shape[1])
        images = np.ascontiguousarray(first.kernel[:, :k].T, dtype=np.float32).reshape(k, 28, 28)
        scale = np.abs(images).reshape(k, -1).max(axis=1) / np.float32(127.0)
        scale[scale == 0] = 1.0
        out["units"] = np.clip(np.rint(images / scale[:, None, None]), -127, 127).astype(np.int8)
        out["unit_scale"] = scale.astype(np.float32)
        hidden = {"units": int(first.kernel.shape[1]), "shown": k, "activation": first.activation}
        if x_test is not None and len(x_test):
            out["dead"], out["witness"] = find_dead_units(x_test, first.kernel, first.bias, first.activation,
                                                          witnesses)
            hidden["dead"] = int(out["dead"].sum())
            hidden["tested_on"] = len(x_test)
    elif first.kind == "conv":
        out["filters"] = np.ascontiguousarray(np.moveaxis(first.kernel[:, :, 0, :], -1, 0), dtype=np.float32)
    out["meta"] = np.array(json.dumps({
        "format": RECORD_FORMAT, "version": 1, "epoch": int(meta.get("epoch", 0)), "preset": meta.get("preset", ""),
        "layers": [{"name": layer.name, "kind": layer.kind, "activation": layer.activation,
                    "shape": list(layer.kernel.shape), "index": layer.index} for layer in layers],
        "hidden": hidden,
    }))
    return out


def record_bytes(record: dict[str, np.ndarray]) -> bytes:
    """The record as an .npz, stored: deflate saved under 10 % (the int8 weights hardly
    compress) for 10 ms of CPU per epoch taken from the training next to it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in record.items():
            with archive.open(f"{name}.npy", "w") as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
    return buf.getvalue()


def read_record(path: str | Path) -> dict[str, np.ndarray] | None:
    """A record file's arrays, or None when it is missing, torn or not a record."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            record = {k: npz[k] for k in npz.files}
        meta = json.loads(str(record["meta"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if not isinstance(meta, dict) or meta.get("format") != RECORD_FORMAT:
        return None
    return record


def record_meta(record: dict[str, np.ndarray]) -> dict[str, Any]:
    """The record's description: epoch, preset, layers (name, kind, shape), hidden units."""
    meta = json.loads(str(record["meta"]))
    return meta if isinstance(meta, dict) else {}


def unit_images(record: dict[str, np.ndarray]) -> np.ndarray | None:
    """(K, 28, 28) float32: the kept first-layer units' weights, back to their scale."""
    if "units" not in record:
        return None
    return record["units"].astype(np.float32) * record["unit_scale"].astype(np.float32)[:, None, None]


def record_size(record: dict[str, np.ndarray]) -> int:
    """Bytes the record takes on disk."""
    return len(record_bytes(record))
