"""IDX (the original MNIST binary format) parsing.

Parsing is strict because a silently mis-read dataset trains a useless model; every
problem becomes a DatasetError that names the file and says what is wrong.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import Literal

import numpy as np

from mnist_tui.errors import DatasetError

IdxKind = Literal["images", "labels"]

IMAGES_MAGIC = 2051  # 0x00000803: unsigned byte, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned byte, 1 dimension
ROWS = COLS = 28
NUM_CLASSES = 10
GZIP_MAGIC = b"\x1f\x8b"

# Split -> kind -> base name; mirrors use either a dash or a dot before "idx".
IDX_BASENAMES: dict[str, dict[IdxKind, str]] = {
    "train": {"images": "train-images-idx3-ubyte", "labels": "train-labels-idx1-ubyte"},
    "test": {"images": "t10k-images-idx3-ubyte", "labels": "t10k-labels-idx1-ubyte"},
}


def candidate_names(basename: str) -> tuple[str, ...]:
    """All file names accepted for one IDX file, so common mirror layouts just work."""
    dotted = basename.replace("-idx", ".idx")
    return (basename, basename + ".gz", dotted, dotted + ".gz")


def _header_int(data: bytes, offset: int) -> int:
    """Read one big-endian uint32 from the header."""
    return int.from_bytes(data[offset : offset + 4], "big")


def parse_idx(data: bytes, kind: IdxKind, filename: str) -> np.ndarray:
    """Parse uncompressed IDX bytes into uint8 images (N,28,28) or labels (N,).

    Raises DatasetError (never anything else) for any malformed input, which a
    property-based test relies on.
    """
    if kind not in ("images", "labels"):
        raise DatasetError(f"{filename}: unknown IDX kind {kind!r}")
    expected_magic = IMAGES_MAGIC if kind == "images" else LABELS_MAGIC
    header_len = 16 if kind == "images" else 8
    if len(data) == 0:
        raise DatasetError(f"{filename}: file is empty (0 bytes)")
    if len(data) < 4:
        raise DatasetError(f"{filename}: truncated header ({len(data)} bytes)")
    magic = _header_int(data, 0)
    if magic != expected_magic:
        raise DatasetError(
            f"{filename}: wrong magic number for {kind}: expected {expected_magic} "
            f"(0x{expected_magic:08x}), found {magic} (0x{magic:08x})"
        )
    if len(data) < header_len:
        raise DatasetError(f"{filename}: truncated header ({len(data)} bytes, need {header_len})")
    count = _header_int(data, 4)
    item_size = 1
    if kind == "images":
        rows, cols = _header_int(data, 8), _header_int(data, 12)
        if (rows, cols) != (ROWS, COLS):
            raise DatasetError(f"{filename}: images are {rows}x{cols}, expected {ROWS}x{COLS}")
        item_size = ROWS * COLS
    payload = len(data) - header_len
    expected = count * item_size
    if payload != expected:
        what = "truncated" if payload < expected else "has trailing bytes"
        raise DatasetError(
            f"{filename}: {what}: header says {count} {kind} ({expected} bytes) "
            f"but payload is {payload} bytes"
        )
    arr = np.frombuffer(data, dtype=np.uint8, offset=header_len)
    if kind == "images":
        return arr.reshape(count, ROWS, COLS)
    if arr.size and int(arr.max()) >= NUM_CLASSES:
        raise DatasetError(f"{filename}: label value {int(arr.max())} out of range 0..{NUM_CLASSES - 1}")
    return arr


def read_idx_bytes(path: str | os.PathLike[str]) -> bytes:
    """Read a file, transparently gunzipping it, with user-readable errors."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{p}: file not found") from None
    except IsADirectoryError:
        raise DatasetError(f"{p}: is a directory, expected an IDX file") from None
    except PermissionError:
        raise DatasetError(f"{p}: permission denied (cannot read file)") from None
    except OSError as exc:
        raise DatasetError(f"{p}: cannot read file ({exc.strerror or exc})") from None
    if not raw:
        raise DatasetError(f"{p}: file is empty (0 bytes)")
    if raw[:2] == GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (gzip.BadGzipFile, EOFError, zlib.error, OSError) as exc:
            raise DatasetError(f"{p}: corrupt or truncated gzip data ({exc})") from None
    if p.name.endswith(".gz"):
        raise DatasetError(f"{p}: not gzip data despite the .gz name")
    return raw


def read_idx_file(path: str | os.PathLike[str], kind: IdxKind) -> np.ndarray:
    """Read and parse one (optionally gzipped) IDX file."""
    return parse_idx(read_idx_bytes(path), kind, str(path))


def find_idx_file(directory: Path, split: str, kind: IdxKind) -> Path:
    """Locate one of the four IDX files, accepting dash/dot and .gz variants."""
    names = candidate_names(IDX_BASENAMES[split][kind])
    for name in names:
        candidate = directory / name
        if candidate.exists():
            return candidate
    raise DatasetError(f"{directory}: missing {split} {kind} file (looked for {', '.join(names)})")


def load_idx_dir(
    directory: str | os.PathLike[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load x_train, y_train, x_test, y_test from a directory of IDX files."""
    d = Path(directory)
    if not d.exists():
        raise DatasetError(f"{d}: no such file or directory")
    if not d.is_dir():
        raise DatasetError(f"{d}: is a file, expected a directory of IDX files or a .npz")
    try:
        empty = not any(d.iterdir())
    except PermissionError:
        raise DatasetError(f"{d}: permission denied (cannot list directory)") from None
    if empty:
        raise DatasetError(f"{d}: directory is empty, expected MNIST IDX files")
    out: list[np.ndarray] = []
    for split in ("train", "test"):
        image_path = find_idx_file(d, split, "images")
        label_path = find_idx_file(d, split, "labels")
        images = read_idx_file(image_path, "images")
        labels = read_idx_file(label_path, "labels")
        if len(images) != len(labels):
            raise DatasetError(
                f"{d}: {image_path.name} has {len(images)} images but {label_path.name} "
                f"has {len(labels)} labels"
            )
        out += [images, labels]
    return out[0], out[1], out[2], out[3]
