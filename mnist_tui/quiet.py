"""Keep TensorFlow's native log lines off the terminal.

TensorFlow's C++ side writes to file descriptor 2 before (and regardless of)
``TF_CPP_MIN_LOG_LEVEL`` — e.g. "Could not find cuda drivers" — which garbles a full-screen
app and clutters CLI output. Environment variables do not silence those lines, so the CLI
points fd 2 at a log file (or /dev/null) and gives Python (and Textual, which draws on
``sys.__stderr__``) a duplicate of the real terminal stream.
"""

from __future__ import annotations

import os
import sys

NATIVE_LOG_ENV = "MNIST_TUI_NATIVE_LOG"
_done = False


def redirect_native_stderr() -> None:
    """Send fd 2 to ``$MNIST_TUI_NATIVE_LOG`` (default /dev/null); keep Python's stderr working."""
    global _done
    if _done:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        target = os.environ.get(NATIVE_LOG_ENV) or os.devnull
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:
        return  # no fd 2 or log not writable: leave things as they are
    os.dup2(fd, 2)
    os.close(fd)
    stream = os.fdopen(saved, "w", buffering=1, encoding=sys.stderr.encoding or "utf-8", errors="replace")
    sys.stderr = sys.__stderr__ = stream
    _done = True
