"""``mnist-tui serve`` on a shared machine: token, Origin, session cap, the host asked for, bind first.

The real server runs in a thread on a free loopback port; each tab's "app" is a trivial
Python process (it speaks textual-serve's prelude and exits on the first byte of input),
so sessions are real processes that start and stop in milliseconds.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("textual_serve")
import aiohttp  # installed with textual-serve

from mnist_tui import cli
from mnist_tui.serve import GuardedServer, describe, replay_flags
from tests.conftest import REPO_ROOT

# textual-serve never awaits its app processes' exit, so a transport can be collected after the
# server thread's loop closed; the warning says nothing about the behaviour under test.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

TOKEN = "test-token-0123456789"
TRIVIAL_APP = shlex.join([sys.executable, "-c", "import sys; sys.stdout.write('__GANGLION__\\n'); "
                          "sys.stdout.flush(); sys.stdin.buffer.read(1)"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Running:
    server: GuardedServer
    port: int

    def url(self, path: str = "/", token: str | None = TOKEN, host: str = "127.0.0.1") -> str:
        query = f"?token={token}" if token is not None else ""
        return f"http://{host}:{self.port}{path}{query}"

    def ws(self, token: str = TOKEN) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/{token}"


@pytest.fixture
def running() -> Iterator[Running]:
    """A GuardedServer (max 2 sessions) serving in a thread until the test ends."""
    port = free_port()
    server = GuardedServer(TRIVIAL_APP, host="127.0.0.1", port=port, title="mnist-tui", token=TOKEN,
                           max_sessions=2, slot_wait=1.0)
    ready, failed = threading.Event(), []

    def serve() -> None:
        try:
            asyncio.run(server.run(on_ready=ready.set))
        except BaseException as exc:  # reported by the fixture below
            failed.append(exc)
            ready.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10) and not failed, failed
    yield Running(server, port)
    server.stop()
    thread.join(15)
    assert not thread.is_alive()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def status(url: str, **headers: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        return resp.status, await resp.text()


async def ws_status(url: str, **headers: str) -> int:
    """The HTTP status of a WebSocket handshake (101 if it was accepted)."""
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(url, headers=headers) as ws:
                await ws.close()
                return 101
        except aiohttp.WSServerHandshakeError as err:
            return err.status


def test_without_the_right_token_everything_is_403(running: Running) -> None:
    assert run(status(running.url(token=None)))[0] == 403
    code, text = run(status(running.url(token="wrong")))
    assert code == 403 and "access token" in text
    assert run(ws_status(f"ws://127.0.0.1:{running.port}/ws")) == 403  # textual-serve's own route
    assert run(ws_status(running.ws(token="wrong"))) == 403
    assert running.server.sessions == 0  # refused before any app process was started


def test_a_websocket_from_another_origin_is_refused(running: Running) -> None:
    assert run(ws_status(running.ws(), Origin="http://evil.example")) == 403
    assert run(ws_status(running.ws(), Origin=f"http://127.0.0.1:{running.port + 1}")) == 403
    assert run(ws_status(running.ws(), Origin="null")) == 403
    assert run(ws_status(running.ws(), Origin=f"http://127.0.0.1:{running.port}")) == 101
    assert run(ws_status(running.ws())) == 101  # no Origin (not a browser): the token suffices


def test_the_page_loads_and_its_websocket_uses_the_host_the_browser_asked_for(running: Running) -> None:
    code, page = run(status(running.url()))
    assert code == 200 and f'data-session-websocket-url="ws://127.0.0.1:{running.port}/ws/{TOKEN}"' in page
    code, page = run(status(running.url(), Host=f"gpu-box.example:{running.port}"))
    assert code == 200 and f"ws://gpu-box.example:{running.port}/ws/{TOKEN}" in page
    assert "0.0.0.0" not in page and 'href="/static/css/xterm.css"' in page
    assert run(status(running.url(), Host="evil\"><script>:1"))[0] == 400
    assert run(status(running.url("/static/js/textual.js", token=None)))[0] == 200  # assets are public

    async def headers() -> Any:
        async with aiohttp.ClientSession() as session, session.get(running.url()) as resp:
            return resp.headers

    got = run(headers())
    assert got["Referrer-Policy"] == "no-referrer" and got["X-Frame-Options"] == "DENY"


def test_sessions_beyond_the_cap_are_refused_with_a_message(running: Running) -> None:
    async def scenario() -> tuple[str, int | None, bool]:
        async with aiohttp.ClientSession() as session:
            first = await session.ws_connect(running.ws())
            second = await session.ws_connect(running.ws())
            await asyncio.sleep(0.3)
            assert running.server.sessions == 2
            third = await session.ws_connect(running.ws())
            message = await third.receive(timeout=5)
            closing = await third.receive(timeout=5)
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            await first.close()  # frees a slot: the next tab gets in
            fourth = await session.ws_connect(running.ws())
            await asyncio.sleep(0.3)
            admitted = not fourth.closed and running.server.sessions == 2
            for ws in (second, fourth):
                await ws.close()
            return message.data.decode(), third.close_code, admitted

    text, code, admitted = run(scenario())
    assert "all 2 sessions are in use (--max-sessions 2)" in text and code == 1013
    assert admitted


def cli_serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mnist_tui", "serve", *args], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})


def test_a_busy_port_is_one_line_and_no_serving_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = cli_serve("--port", str(port))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"mnist-tui: error: cannot serve on 127.0.0.1:{port}: "
                                                "Address already in use"]
    assert "serving" not in proc.stdout and "Ctrl+C" not in proc.stdout


def test_a_host_it_cannot_bind_claims_nothing() -> None:
    proc = cli_serve("--host", "203.0.113.7", "--port", str(free_port()))  # TEST-NET-3: not this machine's
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot serve on 203.0.113.7" in lines[0] and "Traceback" not in proc.stderr
    assert "serving" not in proc.stdout and "interface" not in proc.stdout


def test_every_flag_before_serve_reaches_each_tabs_command(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_serve(self: GuardedServer, debug: bool = False, on_ready: Any = None) -> None:
        seen.update(command=self.command, max_sessions=self.max_sessions)

    monkeypatch.setattr(GuardedServer, "serve", fake_serve)
    argv = ["--runs-dir", "/tmp/x y", "--data", "serve", "--model=cnn", "serve", "--max-sessions", "3"]
    assert cli.main(argv) == 0
    tail = seen["command"].split(" -m mnist_tui ", 1)[1]
    assert shlex.split(tail) == ["--runs-dir", "/tmp/x y", "--model", "cnn", "--data", "serve"]
    assert seen["max_sessions"] == 3
    assert cli.main(["serve", "--runs-dir", "/r"]) == 0  # --runs-dir after serve works too
    assert shlex.split(seen["command"].split(" -m mnist_tui ", 1)[1]) == ["--runs-dir", "/r"]
    assert cli.main(["serve"]) == 0 and seen["command"].endswith("-m mnist_tui")
    assert cli.main(["serve", "--max-sessions", "0"]) == 2


def test_replay_flags_round_trips_through_the_parser() -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["--epochs", "3", "--data=--odd", "--runs-dir", "serve", "serve"])
    again = parser.parse_args([*replay_flags(parser, args), "serve"])
    assert (again.epochs, again.data_path, again.runs_dir) == ("3", "--odd", "serve")


def test_the_serving_line_carries_the_token() -> None:
    line = describe("127.0.0.1", 8123, "abc")
    assert "http://127.0.0.1:8123/?token=abc" in line and "http://localhost:8123/?token=abc" in line
    wide = describe("0.0.0.0", 8000, "abc")
    assert "EVERY network interface" in wide and "0.0.0.0:8000/" not in wide and "?token=abc" in wide
    assert "[::1]:9000" in describe("::1", 9000, "t")
