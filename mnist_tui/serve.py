"""``mnist-tui serve``: the same app in a browser tab, through textual-serve.

textual-serve starts one ``mnist-tui`` process per browser connection and ends it when the
tab closes. The app treats that like quitting (SIGTERM/SIGHUP → stop after the batch, save
the run as 'stopped'), so the run store keeps everything a closed tab trained.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def app_command(app_args: Sequence[str]) -> str:
    """The command textual-serve runs per connection: this Python, this package."""
    return shlex.join([sys.executable, "-m", "mnist_tui", *app_args])


def make_server(host: str, port: int, app_args: Sequence[str]):
    try:
        from textual_serve.server import Server
    except ImportError:
        raise SystemExit("mnist-tui: error: serve needs textual-serve: pip install 'mnist-tui[serve]'") from None
    return Server(app_command(app_args), host=host, port=port, title="mnist-tui")


def describe(host: str, port: int) -> str:
    where = "this machine only" if host in LOOPBACK else "EVERY network interface it is reachable on"
    tunnel = f"ssh -L {port}:localhost:{port} you@this-box" if host in LOOPBACK else ""
    return (f"serving mnist-tui at http://{host}:{port}/ — bound to {host} ({where})."
            + (f" From your laptop: {tunnel}, then open http://localhost:{port}/" if tunnel else "")
            + " Each browser tab runs its own app process; closing the tab stops its run and keeps it.")
