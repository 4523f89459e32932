"""What the setup form says about a data path as it is typed: exists, readable, looks like
MNIST (IDX files or a Keras-style .npz), and how many training images it holds.

Only headers are read, through ``mnist_tui.fsguard``: only regular files are opened (a FIFO
never blocks the open), every ``OSError`` becomes a phrase (a symlink loop, a 500-character
name), and nothing here raises. The form still calls it from a thread worker, because even
a ``stat`` can hang on a dead network mount, and the UI must not.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_tui.data.idx import IDX_BASENAMES, candidate_names, find_idx_file, read_idx_header
from mnist_tui.data.sources import peek_train_count
from mnist_tui.errors import DatasetError
from mnist_tui.fsguard import (
    ARCHIVE_ERRORS,
    describe_os_error,
    file_kind,
    member_names,
    open_regular,
    open_zip,
    stat_path,
    user_path,
)
from mnist_tui.textsafe import safe

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
MAX_MESSAGE = 120  # a field's message, whatever the file system said
IDX_NAMES = frozenset(name for split in IDX_BASENAMES.values() for base in split.values()
                      for name in candidate_names(base))


@dataclass(frozen=True)
class DataPathReport:
    """The outcome of checking one path: ``problem`` is the field's message (None: usable);
    ``train_count`` the training images its header declares, when known."""

    problem: str | None
    train_count: int | None = None


def check_data_path(raw: str, dataset: str = "mnist") -> DataPathReport:
    """Check the form's data path text; empty means $MNIST_TUI_DATA or Keras's cache, whose
    size is peeked the same safe way. Never raises, never blocks on a special file."""
    text = raw.strip()
    if not text:
        return DataPathReport(None, peek_train_count(dataset, None))
    path = user_path(text)
    try:
        return _check(path)
    except DatasetError as err:
        return DataPathReport(_short(str(err), path))
    except OSError as err:  # anything fsguard did not already phrase
        return DataPathReport(describe_os_error(err))
    except Exception as err:  # a check must never take the form down
        return DataPathReport(_short(f"cannot check it: {type(err).__name__}: {err}", path))


def _check(path: Path) -> DataPathReport:
    mode = stat_path(path, DatasetError).st_mode
    if stat.S_ISDIR(mode):
        return _check_idx_dir(path)
    if not stat.S_ISREG(mode):
        raise DatasetError(f"{path}: is not a regular file ({file_kind(mode)})")
    if path.suffix.lower() == ".npz":
        return _check_npz(path)
    if path.name in IDX_NAMES:
        raise DatasetError(f"{path}: is one IDX file: give the directory that holds all four")
    raise DatasetError(f"{path}: is a file, expected a directory of IDX files or a .npz file")


def _check_idx_dir(directory: Path) -> DataPathReport:
    try:
        with os.scandir(directory) as entries:
            empty = next(entries, None) is None
    except OSError as err:
        raise DatasetError(f"{directory}: cannot list it: {describe_os_error(err)}") from None
    if empty:
        raise DatasetError(f"{directory}: directory is empty, expected MNIST IDX files")
    count = 0
    for split in ("train", "test"):
        for kind in ("images", "labels"):
            try:
                found = find_idx_file(directory, split, kind)  # type: ignore[arg-type]
            except DatasetError:  # its message lists all four spellings: too long under a field
                expected = IDX_BASENAMES[split][kind]  # type: ignore[index]
                raise DatasetError(f"{directory}: no {split} {kind} IDX file ({expected}[.gz])") from None
            n = read_idx_header(found, kind)  # type: ignore[arg-type]
            if (split, kind) == ("train", "images"):
                count = n
    return DataPathReport(None, count)


def _check_npz(path: Path) -> DataPathReport:
    with open_regular(path, DatasetError, expected="a .npz file") as fh, \
            open_zip(fh, DatasetError, path, "an .npz archive") as zf:
        names = {n.removesuffix(".npy") for n in zf.namelist()}
        missing = [k for k in NPZ_KEYS if k not in names]
        if missing:
            found = ", ".join(member_names(zf, ".npy")) or "nothing"
            raise DatasetError(f"{path}: not an MNIST .npz: no {', '.join(missing)} (found: {found})")
        try:
            with zf.open("x_train.npy") as member:
                major, _ = np.lib.format.read_magic(member)
                read_header = (np.lib.format.read_array_header_1_0 if major == 1
                               else np.lib.format.read_array_header_2_0)
                shape, _, _ = read_header(member)
        except ARCHIVE_ERRORS:
            raise DatasetError(f"{path}: x_train is not a valid .npy array") from None
    if len(shape) != 3 or tuple(shape[1:]) != (28, 28):
        raise DatasetError(f"{path}: x_train has shape {tuple(shape)}, expected (N, 28, 28)")
    return DataPathReport(None, int(shape[0]))


def _short(message: str, path: Path) -> str:
    """The message without the path the user just typed (a 500-character name would fill the
    screen), inner paths shown relative to it, escaped and cut to MAX_MESSAGE."""
    for prefix in (f"{path}: ", f"{path}{os.sep}"):
        if message.startswith(prefix):
            message = message[len(prefix):]
            break
    message = message.replace(f"{path}{os.sep}", "")
    message = safe(message)
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"
