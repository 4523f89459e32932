"""IDX (the original MNIST binary format) parsing.

Parsing is strict because a silently mis-read dataset trains a useless model; every
problem becomes a DatasetError that names the file and says what is wrong. Reading is
bounded: the header is read first and only what it declares is read (or inflated) after.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np

from mnist_tui.errors import DatasetError
from mnist_tui.fsguard import BoundedGunzip, describe_os_error, file_kind, open_regular, read_upto, stat_path

IdxKind = Literal["images", "labels"]

IMAGES_MAGIC = 2051  # 0x00000803: unsigned byte, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned byte, 1 dimension
ROWS = COLS = 28
NUM_CLASSES = 10
GZIP_MAGIC = b"\x1f\x8b"
# Full MNIST is 70,000 images, EMNIST digits 240,000 for training: no header may declare more
# than this (392 MB of 28x28 images), whatever the file's size.
MAX_IDX_ITEMS = 500_000

# Split -> kind -> base name; mirrors use either a dash or a dot before "idx".
IDX_BASENAMES: dict[str, dict[IdxKind, str]] = {
    "train": {"images": "train-images-idx3-ubyte", "labels": "train-labels-idx1-ubyte"},
    "test": {"images": "t10k-images-idx3-ubyte", "labels": "t10k-labels-idx1-ubyte"},
}


def candidate_names(basename: str) -> tuple[str, ...]:
    """All file names accepted for one IDX file, so common mirror layouts just work."""
    dotted = basename.replace("-idx", ".idx")
    return (basename, basename + ".gz", dotted, dotted + ".gz")


def _header_int(data: bytes | bytearray, offset: int) -> int:
    """Read one big-endian uint32 from the header."""
    return int.from_bytes(data[offset : offset + 4], "big")


def _header_length(kind: IdxKind, filename: str) -> int:
    if kind not in ("images", "labels"):
        raise DatasetError(f"{filename}: unknown IDX kind {kind!r}")
    return 16 if kind == "images" else 8


def _parse_header(head: bytes | bytearray, kind: IdxKind, filename: str) -> int:
    """The item count from the first bytes of an IDX file, after checking magic, size and count.

    The count is bounded here, before any payload is read, so no header can make a
    reader allocate (or inflate) more than a dataset of ``MAX_IDX_ITEMS`` needs.
    """
    header_len = _header_length(kind, filename)
    expected_magic = IMAGES_MAGIC if kind == "images" else LABELS_MAGIC
    if len(head) == 0:
        raise DatasetError(f"{filename}: file is empty (0 bytes)")
    if len(head) < 4:
        raise DatasetError(f"{filename}: truncated header ({len(head)} bytes)")
    magic = _header_int(head, 0)
    if magic != expected_magic:
        raise DatasetError(
            f"{filename}: wrong magic number for {kind}: expected {expected_magic} "
            f"(0x{expected_magic:08x}), found {magic} (0x{magic:08x})"
        )
    if len(head) < header_len:
        raise DatasetError(f"{filename}: truncated header ({len(head)} bytes, need {header_len})")
    count = _header_int(head, 4)
    if kind == "images":
        rows, cols = _header_int(head, 8), _header_int(head, 12)
        if (rows, cols) != (ROWS, COLS):
            raise DatasetError(f"{filename}: images are {rows}x{cols}, expected {ROWS}x{COLS}")
    if count > MAX_IDX_ITEMS:
        raise DatasetError(f"{filename}: header declares {count:,} {kind}, more than the {MAX_IDX_ITEMS:,} "
                           "an MNIST-style dataset can hold")
    return count


def _item_size(kind: IdxKind) -> int:
    return ROWS * COLS if kind == "images" else 1


def _payload_error(payload: int, count: int, kind: IdxKind, filename: str, *,
                   at_least: bool = False) -> DatasetError | None:
    """What is wrong with a payload of ``payload`` bytes, if anything; ``at_least``: a bounded
    read stopped one byte past the declared size, so ``payload`` is a lower bound."""
    expected = count * _item_size(kind)
    if payload < expected:
        return DatasetError(f"{filename}: truncated: header says {count} {kind} ({expected} bytes) "
                            f"but payload is {payload} bytes")
    if payload > expected:
        found = "more" if at_least else f"{payload} bytes"
        return DatasetError(f"{filename}: has trailing bytes: more data than its header declares "
                            f"({count} {kind}, {expected} bytes; found {found})")
    return None


def _to_array(data: bytes | bytearray, offset: int, count: int, kind: IdxKind, filename: str) -> np.ndarray:
    """The checked payload as uint8 images (N,28,28) or labels (N,) in range."""
    arr = np.frombuffer(data, dtype=np.uint8, offset=offset, count=count * _item_size(kind))
    if kind == "images":
        return arr.reshape(count, ROWS, COLS)
    if arr.size and int(arr.max()) >= NUM_CLASSES:
        raise DatasetError(f"{filename}: label value {int(arr.max())} out of range 0..{NUM_CLASSES - 1}")
    return arr


def parse_idx(data: bytes, kind: IdxKind, filename: str) -> np.ndarray:
    """Parse uncompressed IDX bytes into uint8 images (N,28,28) or labels (N,).

    Raises DatasetError (never anything else) for any malformed input, which a
    property-based test relies on.
    """
    header_len = _header_length(kind, filename)
    count = _parse_header(data[:header_len], kind, filename)
    error = _payload_error(len(data) - header_len, count, kind, filename)
    if error is not None:
        raise error
    return _to_array(data, header_len, count, kind, filename)


@contextmanager
def _idx_stream(path: Path) -> Iterator[BinaryIO | BoundedGunzip]:
    """The file's uncompressed bytes as a stream: gzip (by content) is inflated on demand."""
    with open_regular(path, DatasetError, expected="an IDX file") as fh:
        magic = read_upto(fh, 2, DatasetError, path)
        if not magic:
            raise DatasetError(f"{path}: file is empty (0 bytes)")
        fh.seek(0)
        if magic == GZIP_MAGIC:
            yield BoundedGunzip(fh, DatasetError, path)
        elif path.name.endswith(".gz"):
            raise DatasetError(f"{path}: not gzip data despite the .gz name")
        else:
            yield fh


def read_idx_header(path: str | os.PathLike[str], kind: IdxKind) -> int:
    """The item count an IDX file's header declares (reads, or inflates, only the header)."""
    p = Path(path)
    with _idx_stream(p) as stream:
        return _parse_header(read_upto(stream, _header_length(kind, str(p)), DatasetError, p), kind, str(p))


def read_idx_file(path: str | os.PathLike[str], kind: IdxKind) -> np.ndarray:
    """Read and parse one (optionally gzipped) IDX file, header first.

    Only what the header declares is read (or inflated), plus one byte to notice more:
    a gzip bomb or an oversized file costs at most ``MAX_IDX_ITEMS`` images of memory.
    """
    p = Path(path)
    header_len = _header_length(kind, str(p))
    with _idx_stream(p) as stream:
        try:
            head = read_upto(stream, header_len, DatasetError, p)
            if not head and isinstance(stream, BoundedGunzip):
                raise DatasetError(f"{p}: no data (the gzip stream is empty)")
            count = _parse_header(head, kind, str(p))
            expected = count * _item_size(kind)
            payload = read_upto(stream, expected + 1, DatasetError, p)
            error = _payload_error(len(payload), count, kind, str(p), at_least=True)
            if error is None:
                return _to_array(payload, 0, count, kind, str(p))
            if len(payload) < expected:
                raise error
        except DatasetError:
            if isinstance(stream, BoundedGunzip):  # corrupt gzip inflates to garbage: say which it is
                stream.verify(MAX_IDX_ITEMS * ROWS * COLS + header_len)
            raise
    raise error  # more than declared: refused without reading (or inflating) any further


def find_idx_file(directory: Path, split: str, kind: IdxKind) -> Path:
    """Locate one of the four IDX files, accepting dash/dot and .gz variants.

    A name that exists in any form (even a broken or looping symlink) is returned, so
    opening it reports what is wrong with it rather than "missing".
    """
    names = candidate_names(IDX_BASENAMES[split][kind])
    for name in names:
        candidate = directory / name
        if os.path.lexists(candidate):
            return candidate
    raise DatasetError(f"{directory}: missing {split} {kind} file (looked for {', '.join(names)})")


def load_idx_dir(
    directory: str | os.PathLike[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load x_train, y_train, x_test, y_test from a directory of IDX files."""
    d = Path(directory)
    mode = stat_path(d, DatasetError).st_mode
    if stat.S_ISREG(mode):
        raise DatasetError(f"{d}: is a file, expected a directory of IDX files or a .npz")
    if not stat.S_ISDIR(mode):
        raise DatasetError(f"{d}: is not a regular file ({file_kind(mode)})")
    try:
        empty = not any(d.iterdir())
    except PermissionError:
        raise DatasetError(f"{d}: permission denied (cannot list directory)") from None
    except OSError as err:
        raise DatasetError(f"{d}: cannot list directory: {describe_os_error(err)}") from None
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
