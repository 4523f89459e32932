"""Read files a user named without trusting them: never block, never read without a bound.

Every reader of data and model files goes through here, so one set of rules holds
everywhere:

* only regular files are opened (a FIFO blocks ``open``, a device never ends), and the
  check is made on the open descriptor, so nothing can swap the file in between;
* every ``OSError`` from a path check becomes one readable phrase (a symlink loop says
  so, a 500-character name says it is too long) instead of a traceback;
* gzip data is inflated only as far as the caller asks (``BoundedGunzip``), so a bomb
  costs what the reader wanted and no more;
* a zip archive's directory (declared sizes, member count, compression, encryption) is
  checked before any member is read, and an ``.npy`` member's header before its data.

Each function takes the ``MnistTuiError`` subclass to raise, so the data layer raises
``DatasetError`` and the model layer ``ModelFileError`` with the same wording.
"""

from __future__ import annotations

import errno
import math
import os
import stat
import struct
import tokenize
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from mnist_tui.errors import MnistTuiError
from mnist_tui.textsafe import safe

MB = 1024 * 1024
# Full MNIST as an uncompressed .npz is ~55 MB and the biggest preset .keras ~38 MB:
# 512 MB is ten times either, and still a size one app process can afford to read.
MAX_FILE_BYTES = 512 * MB  # on disk, for any file we read
MAX_ARCHIVE_BYTES = 512 * MB  # declared uncompressed total of a zip archive's members
MAX_ZIP_MEMBERS = 1000  # an .npz holds 4-6 arrays, a .keras 3 files
MAX_ZIP_DIRECTORY_BYTES = 1 * MB  # the central directory, read before any check can run
MAX_GZIP_MEMBERS = 64  # MNIST files are one member; millions of empty ones would spin
CHUNK = 1 * MB

ErrorType = type[MnistTuiError]

# Everything zipfile / zlib / numpy's header parser raise on hostile bytes.
ARCHIVE_ERRORS: tuple[type[BaseException], ...] = (
    OSError, EOFError, ValueError, KeyError, TypeError, IndexError, OverflowError, RuntimeError,
    NotImplementedError, SyntaxError, struct.error, zlib.error, zipfile.BadZipFile,
    tokenize.TokenError,  # NumPy parses a .npy header as a Python literal: garbage can fail to tokenize
)

_ERRNO_TEXT = {
    errno.ENOENT: "no such file or directory",
    errno.ELOOP: "symlink loop (too many levels of symbolic links)",
    errno.EACCES: "permission denied (cannot read)",
    errno.EPERM: "permission denied (cannot read)",
    errno.ENAMETOOLONG: "file name too long",
    errno.ENOTDIR: "a component of the path is not a directory",
    errno.EISDIR: "is a directory",
}


def describe_os_error(err: OSError) -> str:
    """One lower-case phrase for an OSError, the same wherever a path is checked."""
    text = _ERRNO_TEXT.get(err.errno or 0)
    if text:
        return text
    return str(err.strerror or err or type(err).__name__)


def size_text(n: int) -> str:
    """Bytes for a message: MB above one, else plain bytes."""
    return f"{n / MB:,.0f} MB" if n >= MB else f"{n:,} bytes"


def user_path(raw: str | os.PathLike[str]) -> Path:
    """``~`` expanded when it can be (``~nobody/x`` raises in pathlib; keep it literal then)."""
    p = Path(raw)
    try:
        return p.expanduser()
    except RuntimeError:
        return p


def file_kind(mode: int) -> str:
    """What a non-regular file is, for 'is not a regular file (a FIFO)'."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISREG, "a regular file")):
        if test(mode):
            return name
    return "a special file"


def stat_path(path: Path, error: ErrorType) -> os.stat_result:
    """``os.stat`` (following symlinks) with every failure as one line naming the path."""
    try:
        return os.stat(path)
    except OSError as err:
        if err.errno == errno.ENOENT and os.path.islink(path):
            raise error(f"{path}: broken symlink (its target does not exist)") from None
        raise error(f"{path}: {describe_os_error(err)}") from None
    except ValueError:  # an embedded NUL byte
        raise error(f"{path}: invalid path (contains a NUL byte)") from None


def require_regular(path: Path, mode: int, error: ErrorType, expected: str = "") -> None:
    """Refuse anything but a regular file: reading a FIFO or a device blocks or never ends."""
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise error(f"{path}: is a directory" + (f", expected {expected}" if expected else ""))
    raise error(f"{path}: is not a regular file ({file_kind(mode)})")


def open_regular(path: Path, error: ErrorType, *, expected: str = "",
                 max_bytes: int = MAX_FILE_BYTES) -> BinaryIO:
    """Open a regular file for reading without ever blocking, or raise ``error``.

    ``O_NONBLOCK`` makes opening a FIFO return at once (no writer needed), and the
    ``fstat`` on the descriptor then refuses it; the stat before spares devices the open.
    """
    require_regular(path, stat_path(path, error).st_mode, error, expected)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise error(f"{path}: {describe_os_error(err)}") from None
    try:
        st = os.fstat(fd)
        require_regular(path, st.st_mode, error, expected)
        if st.st_size > max_bytes:
            raise error(f"{path}: is {size_text(st.st_size)}, more than the {size_text(max_bytes)} limit "
                        "for an MNIST file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_upto(stream: BinaryIO | BoundedGunzip, n: int, error: ErrorType, source: Path | str) -> bytes | bytearray:
    """At most ``n`` bytes (fewer only at the end of the data), read errors as ``error``."""
    try:
        return stream.read(n)
    except OSError as err:
        raise error(f"{source}: cannot read: {describe_os_error(err)}") from None


class BoundedGunzip:
    """A gzip stream inflated only as far as ``read`` asks.

    zlib does the gzip header, CRC and length checks in C (``gzip.GzipFile`` parses header
    fields byte by byte in Python); members are followed, up to ``MAX_GZIP_MEMBERS``.
    """

    def __init__(self, raw: BinaryIO, error: ErrorType, source: Path | str) -> None:
        self._raw, self._error, self._source = raw, error, source
        self._inflater: zlib._Decompress | None = None  # None between members
        self._pending = b""
        self._members = 0

    def _fail(self, why: str) -> MnistTuiError:
        return self._error(f"{self._source}: corrupt or truncated gzip data ({why})")

    def _fill(self) -> bool:
        """More compressed input; False at the end of the file (an error mid-member)."""
        self._pending = read_upto(self._raw, CHUNK, self._error, self._source)
        if self._pending:
            return True
        if self._inflater is not None:
            raise self._fail("the file ends before the end of the compressed stream")
        return False

    def read(self, n: int) -> bytearray:
        """Up to ``n`` inflated bytes, fewer only at the end (a bytearray: no copy of a big read)."""
        out = bytearray()
        while len(out) < n:
            if not self._pending and not self._fill():
                break
            if self._inflater is None:
                self._pending = self._pending.lstrip(b"\0")  # gzip allows zero padding after a member
                if not self._pending:
                    continue
                self._members += 1
                if self._members > MAX_GZIP_MEMBERS:
                    raise self._fail(f"more than {MAX_GZIP_MEMBERS} gzip members")
                self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                out += self._inflater.decompress(self._pending, n - len(out))
            except zlib.error as exc:
                raise self._fail(str(exc)) from None
            self._pending = self._inflater.unconsumed_tail
            if self._inflater.eof:
                self._pending = self._inflater.unused_data
                self._inflater = None
        return out

    def verify(self, limit: int) -> None:
        """Inflate (and drop) up to ``limit`` more bytes, raising if the stream is corrupt.

        A reader that found the content wrong calls this first, so a corrupt stream is
        reported as corrupt gzip rather than as whatever garbage it inflated to.
        """
        while limit > 0:
            chunk = self.read(min(CHUNK, limit))
            if not chunk:
                return
            limit -= len(chunk)


def _zip_directory_size(fh: BinaryIO) -> int | None:
    """The central directory's declared size, from the end record, before zipfile parses it."""
    end_record = getattr(zipfile, "_EndRecData", None)  # private but stable since Python 2
    if end_record is None:
        return None
    record = end_record(fh)
    fh.seek(0)
    return None if not record else int(record[5])  # _ECD_SIZE


def open_zip(fh: BinaryIO, error: ErrorType, source: Path | str, what: str,
             limit: int | None = None) -> zipfile.ZipFile:
    """A ``ZipFile`` whose directory passed the checks; ``what`` names the format in messages.

    Reading a member never yields more than its declared size (zipfile stops there and
    checks the CRC), so checking the declared sizes bounds everything read afterwards.
    """
    try:
        directory = _zip_directory_size(fh)
        if directory is not None and directory > MAX_ZIP_DIRECTORY_BYTES:
            raise error(f"{source}: zip directory is {size_text(directory)}, more than the "
                        f"{size_text(MAX_ZIP_DIRECTORY_BYTES)} limit for {what}")
        zf = zipfile.ZipFile(fh)
    except MnistTuiError:
        raise
    except ARCHIVE_ERRORS:
        raise error(f"{source}: not {what} (not a readable zip archive: corrupt, truncated or another "
                    "format?)") from None
    try:
        check_zip_directory(zf, error, source, what, limit)
    except BaseException:
        zf.close()
        raise
    return zf


def check_zip_directory(zf: zipfile.ZipFile, error: ErrorType, source: Path | str, what: str,
                        limit: int | None = None) -> None:
    """Refuse what no MNIST archive holds, from the directory alone: nothing is inflated.

    ``limit`` defaults to ``MAX_ARCHIVE_BYTES`` as it is at call time (tests lower it).
    """
    limit = MAX_ARCHIVE_BYTES if limit is None else limit
    infos = zf.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise error(f"{source}: zip archive has {len(infos):,} members, more than the {MAX_ZIP_MEMBERS} "
                    f"limit for {what}")
    total = 0
    for info in infos:
        name = safe(info.filename[:80])
        if info.flag_bits & 0x1:
            raise error(f"{source}: zip member {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise error(f"{source}: zip member {name!r} uses compression method {info.compress_type}, "
                        "expected stored or deflate")
        total += info.file_size
    if total > limit:
        raise error(f"{source}: zip archive declares {size_text(total)} uncompressed, more than the "
                    f"{size_text(limit)} limit for {what} (a decompression bomb?)")


def member_names(zf: zipfile.ZipFile, suffix: str = "") -> list[str]:
    """Member names with ``suffix`` stripped, for 'found: …' in messages (short and escaped)."""
    names = [n[: -len(suffix)] if suffix and n.endswith(suffix) else n for n in zf.namelist()]
    shown = [safe(n[:40]) for n in names[:10]]
    return shown + ([f"… {len(names) - 10} more"] if len(names) > 10 else [])


def read_npy_member(zf: zipfile.ZipFile, name: str, error: ErrorType, source: Path | str) -> np.ndarray:
    """One ``.npy`` member of an ``.npz``: header checked before a byte of data is allocated.

    ``np.load`` would allocate whatever shape the header claims (a 16-byte header can ask
    for a terabyte) and unpickle object arrays unless told not to; here the array must fit
    in the bytes the member actually declares, and object dtypes are refused outright.
    """
    label = safe(name.removesuffix(".npy"))
    try:
        info = zf.getinfo(name)
        with zf.open(info) as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise error(f"{source}: {label}: unsupported .npy format version {version}")
            if dtype.hasobject:
                raise error(f"{source}: {label} contains pickled/object data, which is refused for safety")
            if any(d < 0 for d in shape):
                raise error(f"{source}: {label}: negative dimension in shape {shape}")
            count = math.prod(shape)
            need = count * dtype.itemsize
            if max(need, count) > info.file_size:
                raise error(f"{source}: {label} claims shape {shape} ({size_text(need)}), more than its "
                            f"{size_text(info.file_size)} in the archive")
            buffer = bytearray(need)
            got = fh.readinto(buffer) if need else 0
            while got < need:
                more = fh.readinto(memoryview(buffer)[got:])
                if not more:
                    raise error(f"{source}: {label} is truncated ({got:,} of {need:,} bytes)")
                got += more
            while fh.read(CHUNK):  # the rest of the member, so zipfile checks its CRC
                pass
    except MnistTuiError:
        raise
    except ARCHIVE_ERRORS as exc:
        text = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise error(f"{source}: {label} is not a valid .npy array ({safe(text[:120])})") from None
    order = "F" if fortran else "C"
    if not need:  # no elements, or elements of no size: nothing to read
        return np.zeros(shape, dtype=dtype, order=order)
    return np.frombuffer(buffer, dtype=dtype, count=count).reshape(shape, order=order)
