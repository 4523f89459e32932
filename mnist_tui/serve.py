"""``mnist-tui serve``: the same app in a browser tab, through textual-serve.

textual-serve starts one ``mnist-tui`` process per browser connection and ends it when the
tab closes. The app treats that like quitting (SIGTERM/SIGHUP → stop after the batch, save
the run as 'stopped'), so the run store keeps everything a closed tab trained.

textual-serve itself has no authentication and accepts a WebSocket from any page, so on a
shared machine anyone (or any web site a local browser visits) could drive the app.
``GuardedServer`` adds, as one aiohttp middleware and two handler overrides:

* a per-server secret token, printed in the URL as Jupyter does (``/?token=…``), required
  on the page and on the WebSocket (whose path carries it); without it, 403;
* an Origin check: a WebSocket from a page of another origin is refused (403);
* a cap on concurrent sessions (each is an app process of ~0.5 GB), beyond which a
  connection is told so in the terminal and closed;
* a page whose WebSocket URL uses the host the browser asked for (``--host 0.0.0.0``
  served ``ws://0.0.0.0:…``, which no other machine can reach).

It also binds before saying anything: the "serving" line appears only once the socket is
listening, so a busy port is one error line, not a success message followed by a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import shlex
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

try:
    import aiohttp_jinja2
    from aiohttp import WSCloseCode, web
    from textual_serve.server import Server as _TextualServer
except ImportError:  # the [serve] extra is not installed: make_server says so
    _TextualServer = object

LOOPBACK = ("127.0.0.1", "localhost", "::1")
WILDCARD = ("0.0.0.0", "::", "")
DEFAULT_MAX_SESSIONS = 2
SLOT_WAIT_SECONDS = 3.0  # a reloading tab's old session needs a moment to end
OPEN_PATHS = ("/static/", "/download/")  # textual-serve's assets; download keys are secrets themselves
_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:\d+)?$|^\[[0-9A-Fa-f:.]+\](:\d+)?$")

Handler = Callable[["web.Request"], Awaitable["web.StreamResponse"]]


def app_command(app_args: Sequence[str]) -> str:
    """The command textual-serve runs per connection: this Python, this package."""
    return shlex.join([sys.executable, "-m", "mnist_tui", *app_args])


def replay_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """The top-level options of ``args`` as a command line, for each tab's app to run with.

    Rebuilt from what argparse parsed, not cut from the raw argv: slicing at the first
    ``serve`` lost the value of ``--data serve`` (and anything spelled ``--flag=value``
    past it). Every option of ``parser`` that differs from its default is replayed.
    """
    out: list[str] = []
    for action in parser._actions:  # argparse has no public list of a parser's options
        if not action.option_strings or isinstance(
                action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
            continue
        value = getattr(args, action.dest, action.default)
        if value is None or value is argparse.SUPPRESS or value == action.default:
            continue
        flag = max(action.option_strings, key=len)
        if action.nargs == 0:  # store_true / store_const
            out.append(flag)
        elif isinstance(action, argparse._AppendAction):
            for item in value:
                out += _flag_value(flag, item)
        elif isinstance(value, list):
            out += [flag, *map(str, value)]
        else:
            out += _flag_value(flag, value)
    return out


def _flag_value(flag: str, value: object) -> list[str]:
    text = str(value)
    return [f"{flag}={text}"] if text.startswith("-") else [flag, text]


def url_host(host: str) -> str:
    """``host`` as it goes in a URL: the machine's name for a wildcard, brackets for IPv6."""
    if host in WILDCARD:
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host


def describe(host: str, port: int, token: str = "") -> str:
    """The one line printed once the server listens: where, who can reach it, how to open it."""
    query = f"?token={token}" if token else ""
    if host in LOOPBACK:
        where = "this machine only"
    elif host in WILDCARD:
        where = "EVERY network interface it is reachable on"
    else:
        where = "the network at that address"
    tunnel = f"ssh -L {port}:localhost:{port} you@this-box" if host in LOOPBACK else ""
    return (f"serving mnist-tui at http://{url_host(host)}:{port}/{query} — bound to {host} ({where})."
            + (f" From your laptop: {tunnel}, then open http://localhost:{port}/{query}" if tunnel else "")
            + " Each browser tab runs its own app process; closing the tab stops its run and keeps it."
            + " Press Ctrl+C to stop.")


def _netloc(scheme: str, netloc: str) -> str:
    """``host[:port]`` lower-cased, without the scheme's default port."""
    netloc = netloc.lower()
    default = {"http": ":80", "https": ":443", "ws": ":80", "wss": ":443"}.get(scheme, "")
    return netloc[: -len(default)] if default and netloc.endswith(default) else netloc


def _same_origin(origin: str, host: str) -> bool:
    """Whether an Origin header names the host (and port) the request was sent to."""
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    if not parts.netloc or not host:
        return False
    return _netloc(parts.scheme, parts.netloc) == _netloc(parts.scheme, host)


class GuardedServer(_TextualServer):  # type: ignore[misc, valid-type]
    """textual-serve's Server with a token, an Origin check, a session cap and bind-first."""

    def __init__(self, command: str, host: str, port: int, title: str, *, token: str,
                 max_sessions: int = DEFAULT_MAX_SESSIONS, slot_wait: float = SLOT_WAIT_SECONDS) -> None:
        super().__init__(command, host=host, port=port, title=title)
        self.token = token
        self.max_sessions = max_sessions
        self.slot_wait = slot_wait
        self.sessions = 0
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ the app
    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.router.add_get("/ws/{token}", self.handle_websocket, name="guarded_websocket")
        app.middlewares.append(self._guard_middleware())
        return app

    def _guard_middleware(self) -> Any:
        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            origin = request.headers.get("Origin")
            if origin is not None and not _same_origin(origin, request.host):
                return _forbidden(f"cross-origin request refused (Origin {origin[:100]} is not "
                                  f"http://{request.host[:100]})")
            if not request.path.startswith(OPEN_PATHS):
                given = request.match_info.get("token") or request.query.get("token", "")
                if not secrets.compare_digest(given.encode(), self.token.encode()):
                    return _forbidden("open the URL `mnist-tui serve` printed: it carries the access token")
            response = await handler(request)
            if request.path == "/":
                response.headers.update({"Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
                                         "X-Frame-Options": "DENY",
                                         "Content-Security-Policy": "frame-ancestors 'none'"})
            return response

        return guard

    async def on_startup(self, app: web.Application) -> None:
        """Silent: textual-serve printed 'Serving … Press Ctrl+C' here, before binding."""

    async def handle_index(self, request: web.Request) -> web.Response:
        """The page, its WebSocket URL built from the Host the browser used (and the token)."""
        if not _HOST_RE.match(request.host):
            raise web.HTTPBadRequest(text="mnist-tui: bad Host header\n")
        secure = request.secure or request.headers.get("X-Forwarded-Proto", "") == "https"
        context = {
            "font_size": max(6, min(64, _to_int(request.query.get("fontsize", "16"), 16))),
            "app_websocket_url": f"{'wss' if secure else 'ws'}://{request.host}/ws/{self.token}",
            "config": {"static": {"url": "/static/"}},
            "application": {"name": self.title},
        }
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    # ----------------------------------------------------------------- sessions
    async def _claim_session(self) -> bool:
        """A session slot, waiting ``slot_wait`` for one (a reloaded tab frees its old one)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.slot_wait
        while self.sessions >= self.max_sessions:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.05)
        self.sessions += 1
        return True

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One app process per connection, up to ``max_sessions``; beyond, say so and close."""
        if not await self._claim_session():
            websocket = web.WebSocketResponse()
            await websocket.prepare(request)
            await websocket.send_bytes(self.sessions_full_message().encode())
            await websocket.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"all sessions in use")
            return websocket
        try:
            return await super().handle_websocket(request)
        finally:
            self.sessions -= 1

    def sessions_full_message(self) -> str:
        n = self.max_sessions
        return (f"\r\nmnist-tui: all {n} session{'s' if n != 1 else ''} are in use (--max-sessions {n}); "
                "close another tab of this server, then reload this one.\r\n")

    # ------------------------------------------------------------------ serving
    async def run(self, on_ready: Callable[[], None] | None = None) -> None:
        """Bind, call ``on_ready`` (the socket is listening), serve until ``stop``."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        # Open tabs get 5 s to end on Ctrl+C (aiohttp's default is 60), then are cancelled.
        runner = web.AppRunner(await self._make_app(), handle_signals=False, shutdown_timeout=5.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()  # OSError: busy port, foreign address
            if on_ready is not None:
                on_ready()
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def stop(self) -> None:
        """End ``run`` (from any thread, or a signal handler)."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    def serve(self, debug: bool = False, on_ready: Callable[[], None] | None = None) -> None:
        """Serve until Ctrl+C or SIGTERM; an OSError from binding propagates before ``on_ready``."""
        self.debug = debug
        self.initialize_logging()

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, self.stop)
            await self.run(on_ready)

        asyncio.run(main())


def bind_error_text(err: OSError) -> str:
    """'Address already in use', not asyncio's 'error while attempting to bind on address …'."""
    if err.errno and err.errno > 0:
        return os.strerror(err.errno)
    return str(err.strerror or err)


def _forbidden(why: str) -> web.Response:
    return web.Response(status=403, text=f"mnist-tui: forbidden: {why}\n")


def _to_int(value: str, default: int) -> int:
    try:
        return int(value)
    except ValueError:
        return default


def make_server(host: str, port: int, app_args: Sequence[str], *, max_sessions: int = DEFAULT_MAX_SESSIONS,
                token: str | None = None) -> GuardedServer:
    """The guarded server for ``mnist-tui serve``, with a fresh token unless one is given."""
    if _TextualServer is object:
        raise SystemExit("mnist-tui: error: serve needs textual-serve: pip install 'mnist-tui[serve]'")
    return GuardedServer(app_command(app_args), host=host, port=port, title="mnist-tui",
                         token=token or secrets.token_urlsafe(24), max_sessions=max_sessions)
