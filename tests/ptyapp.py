"""`mnist-tui` in a real pseudo-terminal, as a user's terminal (or an SSH session) runs it.

``session=True`` makes the app a session leader with the pty as its controlling terminal,
the way a login shell over SSH has it: ``hangup()`` then closes the terminal side, and the
kernel sends the app SIGHUP, exactly what a dropped SSH connection does.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time


class PtyApp:
    def __init__(self, args: list[str], env: dict[str, str], *, session: bool = False,
                 size: tuple[int, int] = (110, 34)) -> None:
        self.master, slave = pty.openpty()
        cols, rows = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

        def controlling_terminal() -> None:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen([sys.executable, "-m", "mnist_tui", *args], stdin=slave, stdout=slave,
                                     stderr=slave, env=env, close_fds=True, start_new_session=session,
                                     preexec_fn=controlling_terminal if session else None)
        os.close(slave)
        self.out = b""
        self.closed = False

    def write(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def read_until(self, marker: bytes, seconds: float, *, stop_on: bytes = b"\0no-marker") -> None:
        deadline = time.monotonic() + seconds
        while marker not in self.out and stop_on not in self.out and time.monotonic() < deadline:
            if select.select([self.master], [], [], 0.1)[0] and not self._read():
                return

    def drain(self) -> None:
        while select.select([self.master], [], [], 0.05)[0] and self._read():
            pass

    def _read(self) -> bool:
        try:
            self.out += os.read(self.master, 1 << 16)
            return True
        except OSError:
            return False

    def quit(self) -> int:
        os.write(self.master, b"q")
        # Keep reading, as a terminal does: the last frames and the terminal reset are written
        # on the way out, and a pty nobody reads fills up and blocks the app's writer thread.
        deadline = time.monotonic() + 45
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.drain()
        return self.proc.wait(timeout=1)

    def hangup(self) -> None:
        """The terminal goes away (an SSH drop): the kernel hangs up the app's session."""
        if not self.closed:
            os.close(self.master)
            self.closed = True

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.hangup()
