"""Turn a free-hand drawing into an MNIST-style 28×28 digit, and paint with a soft brush.

MNIST digits were made by fitting each NIST digit into a 20×20 box (keeping its aspect
ratio, with anti-aliasing) and then placing it in a 28×28 field so that its centre of mass
is at the centre. A model trained on MNIST only recognises drawings prepared the same way,
so the draw view runs every stroke through ``mnist_preprocess`` before classifying it.

Pure NumPy (no PIL, SciPy, Textual or TensorFlow) so it is cheap and testable alone.
"""

from __future__ import annotations

import math

import numpy as np

SIZE = 28  # MNIST's field
BOX = 20  # the box MNIST fitted every digit into
INK_FLOOR = 1.0 / 255.0  # below this a brush edge is invisible in uint8, so it is not ink


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    """(row, col) of the intensity-weighted mean pixel index.

    MNIST places this at (14, 14) in index coordinates (its digits' centres lie in
    [13.5, 14.5)). An empty image balances on its geometric centre, which is returned.
    """
    a = np.asarray(img, dtype=np.float64)
    a = np.where(a > 0, a, 0.0)
    mass = a.sum()
    if mass <= 0:
        return (a.shape[0] - 1) / 2.0, (a.shape[1] - 1) / 2.0
    rows = np.arange(a.shape[0], dtype=np.float64)
    cols = np.arange(a.shape[1], dtype=np.float64)
    return float(a.sum(axis=1) @ rows / mass), float(a.sum(axis=0) @ cols / mass)


def resample_matrix(n_in: int, n_out: int, scale: float | None = None) -> np.ndarray:
    """(n_out, n_in) weights of a separable anti-aliased resize along one axis.

    A triangle (bilinear) filter whose support widens by 1/scale when shrinking, as
    PIL's bilinear resize does: shrinking averages every source pixel it covers (no
    aliasing), enlarging interpolates, and a scale of exactly 1 is the identity.
    ``scale`` defaults to n_out/n_in; a smaller one leaves the content centred with
    partly covered edge pixels. Outside the source is background (zero), so edges
    fade to grey instead of being stretched to whole pixels.
    """
    scale = n_out / n_in if scale is None else scale
    support = max(1.0, 1.0 / scale)
    pad = math.ceil(support)
    margin = (n_out - n_in * scale) / 2  # output pixels left uncovered on each side
    centres = (np.arange(n_out, dtype=np.float64) + 0.5 - margin) / scale  # in source pixel units
    src = np.arange(-pad, n_in + pad, dtype=np.float64) + 0.5
    w = np.clip(1.0 - np.abs(src[None, :] - centres[:, None]) / support, 0.0, None)
    w /= w.sum(axis=1, keepdims=True)
    return w[:, pad : pad + n_in]


def mnist_preprocess(canvas: np.ndarray, *, box: int = BOX, size: int = SIZE) -> np.ndarray:
    """A drawing (H×W, 0 = background, higher = ink; float or uint8) → uint8 (size, size).

    Crop to the ink, scale so the longer side is ``box`` px (aspect ratio kept,
    anti-aliased), paste so the centre of mass is at (size/2, size/2) (to the nearest whole
    pixel, and never pushing ink off the field), stretch the maximum to 255.
    An empty drawing gives all zeros.
    """
    a = np.asarray(canvas, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"expected a 2-D drawing, got shape {a.shape}")
    out = np.zeros((size, size), dtype=np.uint8)
    peak = float(a.max()) if a.size else 0.0
    if not peak > 0:
        return out
    a = np.where(a > 0, a / peak, 0.0)
    a[a < INK_FLOOR] = 0.0
    rows = np.flatnonzero(a.any(axis=1))
    cols = np.flatnonzero(a.any(axis=0))
    crop = a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    f = box / max(h, w)
    # The short side may end mid-pixel (2.6 px): that pixel gets partial ink, as MNIST's did.
    new_h, new_w = max(1, math.ceil(h * f - 1e-9)), max(1, math.ceil(w * f - 1e-9))
    scaled = resample_matrix(h, new_h, f) @ crop @ resample_matrix(w, new_w, f).T
    cy, cx = centre_of_mass(scaled)
    # The whole-pixel shift that puts the centre of mass in [c - 0.5, c + 0.5), as in MNIST.
    centre = size // 2
    top = min(max(math.ceil(centre - 0.5 - cy), 0), size - new_h)
    left = min(max(math.ceil(centre - 0.5 - cx), 0), size - new_w)
    field = np.zeros((size, size), dtype=np.float64)
    field[top : top + new_h, left : left + new_w] = scaled
    field *= 255.0 / field.max()
    np.rint(field, out=field)
    out[:] = np.clip(field, 0, 255).astype(np.uint8)
    return out


def brush_coverage(radius: float, d: np.ndarray) -> np.ndarray:
    """Fraction of a pixel at distance ``d`` from the brush centre that the brush covers.

    Full inside ``radius - 0.5``, fading linearly to zero at ``radius + 0.5``: a cheap
    anti-aliased edge, so strokes have the soft grey rim MNIST digits have.
    """
    return np.clip(radius + 0.5 - d, 0.0, 1.0)


def stamp(
    canvas: np.ndarray,
    row: float,
    col: float,
    radius: float,
    value: float = 1.0,
    erase: bool = False,
) -> bool:
    """Press a soft round brush centred at pixel (row, col) into ``canvas`` in place.

    Painting keeps the darker of old and new ink (overlapping dabs do not add up to
    more than ``value``); erasing takes away ``value`` × coverage. Fractional centres
    are allowed (a half-block cell is two pixels tall). Returns True if a pixel changed.
    """
    h, w = canvas.shape
    reach = math.ceil(radius + 0.5)
    r0, r1 = max(0, math.floor(row) - reach), min(h, math.ceil(row) + reach + 1)
    c0, c1 = max(0, math.floor(col) - reach), min(w, math.ceil(col) + reach + 1)
    if r0 >= r1 or c0 >= c1:
        return False
    rr, cc = np.mgrid[r0:r1, c0:c1]
    cover = brush_coverage(radius, np.hypot(rr - row, cc - col))
    patch = canvas[r0:r1, c0:c1]
    before = patch.copy()
    if erase:
        # Subtract rather than scale: erasing where you painted, with the same brush,
        # removes the soft rim too instead of leaving a faint ghost.
        np.maximum(patch - (value * cover).astype(patch.dtype), 0, out=patch)
        patch[patch < INK_FLOOR * max(value, 1e-9)] = 0
    else:
        np.maximum(patch, (value * cover).astype(patch.dtype), out=patch)
    return not np.array_equal(before, patch)


def stamp_line(
    canvas: np.ndarray,
    start: tuple[float, float],
    end: tuple[float, float],
    radius: float,
    value: float = 1.0,
    erase: bool = False,
) -> bool:
    """Stamp every half pixel from ``start`` to ``end``: a fast drag leaves no gaps."""
    (r0, c0), (r1, c1) = start, end
    steps = max(1, math.ceil(2 * max(abs(r1 - r0), abs(c1 - c0))))
    changed = False
    for k in range(steps + 1):
        t = k / steps
        changed |= stamp(canvas, r0 + t * (r1 - r0), c0 + t * (c1 - c0), radius, value, erase)
    return changed
