"""Loading Keras-style ``mnist.npz`` archives without ever unpickling, and within bounds."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np

from mnist_tui.errors import DatasetError
from mnist_tui.fsguard import member_names, open_regular, open_zip, read_npy_member, read_upto, stat_path

from .idx import COLS, NUM_CLASSES, ROWS

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
ZIP_MAGIC = b"PK\x03\x04"
NPY_MAGIC = b"\x93NUMPY"


def _to_uint8(arr: np.ndarray, what: str, source: str) -> np.ndarray:
    """Convert integer (or integral float) arrays holding 0..255 to uint8, else fail."""
    if arr.dtype == np.uint8:
        return arr
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 255):
            raise DatasetError(f"{source}: {what} has values outside 0..255")
        return arr.astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        if arr.size and not (
            np.all(np.isfinite(arr))
            and np.all(arr == np.round(arr))
            and float(arr.min()) >= 0
            and float(arr.max()) <= 255
        ):
            raise DatasetError(
                f"{source}: {what} is {arr.dtype} with non-integer or out-of-range "
                "values, expected integers 0..255"
            )
        return arr.astype(np.uint8)
    raise DatasetError(f"{source}: {what} has unsupported dtype {arr.dtype}")


def validate_arrays(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    source: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Check shapes/dtypes/label range so every source yields the same guarantees."""
    out: list[np.ndarray] = []
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim != 3 or x.shape[1:] != (ROWS, COLS):
            raise DatasetError(f"{source}: x_{split} has shape {x.shape}, expected (N, {ROWS}, {COLS})")
        if y.ndim != 1:
            raise DatasetError(f"{source}: y_{split} has shape {y.shape}, expected (N,)")
        if len(x) != len(y):
            raise DatasetError(f"{source}: x_{split} has {len(x)} images but y_{split} has {len(y)} labels")
        x = _to_uint8(x, f"x_{split}", source)
        y = _to_uint8(y, f"y_{split}", source)
        if y.size and int(y.max()) >= NUM_CLASSES:
            raise DatasetError(
                f"{source}: y_{split} label value {int(y.max())} out of range 0..{NUM_CLASSES - 1}"
            )
        out += [x, y]
    return out[0], out[1], out[2], out[3]


def load_npz(
    path: str | os.PathLike[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load and validate x_train, y_train, x_test, y_test from an .npz archive.

    Bounded like every reader (see ``mnist_tui.fsguard``): only a regular file is opened,
    the zip directory's declared sizes are checked before anything is inflated, and each
    array's header before its data is read.
    """
    p = Path(path)
    if stat.S_ISDIR(stat_path(p, DatasetError).st_mode):
        raise DatasetError(f"{p}: is a directory, expected an .npz file")
    with open_regular(p, DatasetError, expected="an .npz file") as fh:
        head = read_upto(fh, len(NPY_MAGIC), DatasetError, p)
        if not head:
            raise DatasetError(f"{p}: file is empty (0 bytes)")
        if head.startswith(NPY_MAGIC):
            raise DatasetError(f"{p}: not an .npz archive (a single .npy array?)")
        if not head.startswith(ZIP_MAGIC):
            raise DatasetError(f"{p}: not an .npz archive (not a zip file)")
        fh.seek(0)
        with open_zip(fh, DatasetError, p, "an .npz archive") as archive:
            names = set(archive.namelist())
            missing = [k for k in NPZ_KEYS if f"{k}.npy" not in names]
            if missing:
                raise DatasetError(
                    f"{p}: missing key(s) {', '.join(missing)} "
                    f"(found: {', '.join(member_names(archive, '.npy')) or 'none'})"
                )
            arrays = [read_npy_member(archive, f"{k}.npy", DatasetError, p) for k in NPZ_KEYS]
    return validate_arrays(*arrays, source=str(p))
