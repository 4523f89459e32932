"""How fast does ``mnist-tui`` answer ``--help`` and paint its first frame?

Goals: ``mnist-tui --help`` < 0.5 s and time to first paint < 1.0 s. Every figure is also
printed as a ratio against baselines measured in the same run, alternating with the subject
(the machine is shared and noisy):

  --help       ``python -m mnist_tui --help`` vs ``python -c pass`` (interpreter start-up)
  first paint  ``python -m mnist_tui`` in a pseudo-terminal (110x34, TERM=xterm-256color),
               from spawn until the first screen's marker text (default "Setup", the first
               tab's label) has been written to the pty; then "q" and wait for the exit.
               Baselines: ``python -c pass`` and a minimal Textual hello-world app started
               the same way (the floor any Textual app pays).

Children get their own ``XDG_DATA_HOME`` (the app creates its runs directory there) and, by
default (``--pyc warm``), their own ``PYTHONPYCACHEPREFIX`` filled by one untimed warm-up run
of every command, so a stale or missing ``__pycache__`` (this environment sets
PYTHONDONTWRITEBYTECODE=1 while others edit the sources) does not add compile time.
``--pyc env`` keeps the environment as it is.

Usage:  python benchmarks/startup.py [--runs 10] [--paint-runs 8] [--no-importtime]
"""

from __future__ import annotations

import argparse
import fcntl
import math
import os
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_HELP_S = 0.5
GOAL_PAINT_S = 1.0
ROWS, COLS = 34, 110
PAINT_TIMEOUT = 30.0
EXIT_TIMEOUT = 10.0

HELLO_MARKER = "HelloBenchmark"
HELLO_APP = f"""
from textual.app import App
from textual.widgets import Footer, Header, Static

class Hello(App):
    BINDINGS = [("q", "quit", "Quit")]

    def compose(self):
        yield Header()
        yield Static({HELLO_MARKER!r})
        yield Footer()

Hello().run()
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed --help runs per variant (default 10, min 10)")
    parser.add_argument("--paint-runs", type=int, default=8, help="timed first-paint runs per variant (default 8)")
    parser.add_argument("--marker", default="Setup", help="text proving the app's first frame painted")
    parser.add_argument("--pyc", choices=("warm", "env"), default="warm",
                        help="warm: private, pre-filled bytecode cache (default); env: as the environment has it")
    parser.add_argument("--no-importtime", action="store_true", help="skip the -X importtime breakdown")
    parser.add_argument("--top", type=int, default=12, help="import-time offenders to list (default 12)")
    args = parser.parse_args(argv)
    if args.runs < 10 or args.paint_runs < 3:
        parser.error("--runs must be >= 10 and --paint-runs >= 3")
    return args


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def child_env(tmp: Path, pyc: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["XDG_DATA_HOME"] = str(tmp / "xdg")
    env["TERM"] = "xterm-256color"
    env["COLUMNS"], env["LINES"] = str(COLS), str(ROWS)
    env.pop("NO_COLOR", None)
    env.pop("TEXTUAL", None)  # no devtools
    if pyc == "warm":
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pyc")
    return env


# ------------------------------------------------------------------ --help
def time_command(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    return seconds


# ------------------------------------------------------------------ first paint
class PaintResult:
    def __init__(self, paint: float, first_byte: float, exit_s: float, killed: bool) -> None:
        self.paint, self.first_byte, self.exit_s, self.killed = paint, first_byte, exit_s, killed


def _drain(master: int, timeout: float) -> bytes | None:
    """Whatever the child wrote within ``timeout`` (b"" if nothing); None once the pty is closed."""
    ready, _, _ = select.select([master], [], [], timeout)
    if not ready:
        return b""
    try:
        data = os.read(master, 1 << 16)
    except OSError:  # EIO: every slave fd is closed, the child is gone
        return None
    return data or None


def time_first_paint(cmd: list[str], env: dict[str, str], marker: str) -> PaintResult:
    """Spawn ``cmd`` on a fresh 110x34 pty; seconds until ``marker`` has been written to it."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    needle = marker.encode()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT,
                            start_new_session=True, close_fds=True)
    os.close(slave)
    buf = b""
    first_byte = paint = math.nan
    try:
        while time.perf_counter() - start < PAINT_TIMEOUT:
            data = _drain(master, 0.05)
            now = time.perf_counter()
            if data is None:
                break
            if data and math.isnan(first_byte):
                first_byte = now - start
            buf += data
            if needle in buf[-(len(data) + len(needle)):]:
                paint = now - start
                break
        if math.isnan(paint):
            tail = re.sub(rb"\x1b\[[0-9;?<>=$]*[A-Za-z]", b"", buf)[-400:]
            raise RuntimeError(f"{marker!r} not seen on the pty within {PAINT_TIMEOUT:.0f} s "
                               f"(exit {proc.poll()}); last output: {tail!r}")
        # Quit with "q" and keep draining so the child never blocks on a full pty buffer.
        t_quit = time.perf_counter()
        os.write(master, b"q")
        killed = False
        while proc.poll() is None:
            if time.perf_counter() - t_quit > EXIT_TIMEOUT:
                os.killpg(proc.pid, signal.SIGKILL)
                killed = True
                break
            if _drain(master, 0.05) is None:
                break
        proc.wait(timeout=EXIT_TIMEOUT)
        return PaintResult(paint, first_byte, time.perf_counter() - t_quit, killed)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)


# ------------------------------------------------------------------ -X importtime
def importtime(cmd_args: list[str], env: dict[str, str], top: int) -> list[str]:
    """The slowest imports (cumulative µs, top-level modules plus their direct children)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *cmd_args], env=env, cwd=ROOT,
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rows: list[tuple[int, int, str]] = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            self_us, cum_us, indent, name = int(m[1]), int(m[2]), len(m[3]), m[4]
            if indent <= 3:  # a top-level import (1 space) or one it triggered directly (3)
                rows.append((cum_us, self_us, ("" if indent <= 1 else "  ") + name))
    total = sum(cum for cum, _, name in rows if not name.startswith(" "))
    out = [f"    {'cumulative':>10} {'self':>8}  module   (total {total / 1e3:.0f} ms of imports)"]
    for cum, self_us, name in sorted(rows, reverse=True)[:top]:
        out.append(f"    {cum / 1e3:>8.1f}ms {self_us / 1e3:>6.1f}ms  {name}")
    return out


# ------------------------------------------------------------------ main
def summary_row(label: str, values: list[float], base: float | None = None) -> str:
    med = statistics.median(values)
    ratio = f"  ×{med / base:6.2f}" if base else ""
    return f"  {label:<34} {len(values):>3} {med:>8.3f} {pct(values, 90):>8.3f} {min(values):>8.3f}{ratio}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "NOT MET"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t_wall = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mnist-tui-startup-") as tmp_name:
        tmp = Path(tmp_name)
        env = child_env(tmp, args.pyc)
        py = sys.executable
        baseline_cmd = [py, "-c", "pass"]
        help_cmd = [py, "-m", "mnist_tui", "--help"]
        app_cmd = [py, "-m", "mnist_tui"]
        hello_cmd = [py, "-c", HELLO_APP]
        print(f"python {sys.version.split()[0]} ({py}), {os.cpu_count()} CPU(s), load average "
              f"{os.getloadavg()[0]:.2f}; pty {COLS}x{ROWS}; bytecode cache: {args.pyc}"
              f"{' (PYTHONDONTWRITEBYTECODE set)' if os.environ.get('PYTHONDONTWRITEBYTECODE') else ''}")

        print("warming up (untimed): one run of every command ...", flush=True)
        time_command(baseline_cmd, env)
        time_command(help_cmd, env)
        time_first_paint(app_cmd, env, args.marker)
        time_first_paint(hello_cmd, env, HELLO_MARKER)

        # --help vs python -c pass, alternating
        help_t: dict[str, list[float]] = {"base": [], "help": []}
        for _ in range(args.runs):
            help_t["base"].append(time_command(baseline_cmd, env))
            help_t["help"].append(time_command(help_cmd, env))

        # first paint: app vs hello-world Textual app vs python -c pass, alternating
        paint: dict[str, list[PaintResult]] = {"app": [], "hello": []}
        base_paint: list[float] = []
        print(f"\n{'run':>3}  {'python -c pass':>14} {'hello paint':>12} {'app paint':>10} {'app 1st byte':>13}"
              f" {'app exit after q':>17}")
        for i in range(1, args.paint_runs + 1):
            base_paint.append(time_command(baseline_cmd, env))
            paint["hello"].append(time_first_paint(hello_cmd, env, HELLO_MARKER))
            paint["app"].append(r := time_first_paint(app_cmd, env, args.marker))
            print(f"{i:>3}  {base_paint[-1]:>14.3f} {paint['hello'][-1].paint:>12.3f} {r.paint:>10.3f}"
                  f" {r.first_byte:>13.3f} {r.exit_s:>16.3f}{' (killed)' if r.killed else ''}", flush=True)

        imports: list[tuple[str, list[str]]] = []
        if not args.no_importtime:
            imports.append(("python -X importtime -m mnist_tui --help", importtime(["-m", "mnist_tui", "--help"],
                                                                                   env, args.top)))
            imports.append(("python -X importtime -c 'import mnist_tui.app' (what the first paint imports)",
                            importtime(["-c", "import mnist_tui.app"], env, args.top)))

    base = statistics.median(help_t["base"] + base_paint)
    print(f"\n  {'seconds':<34} {'n':>3} {'median':>8} {'p90':>8} {'min':>8}  vs python -c pass (median)")
    print(summary_row("python -c pass (baseline)", help_t["base"] + base_paint))
    print(summary_row("python -m mnist_tui --help", help_t["help"], base))
    print(summary_row("minimal Textual app, first paint", [r.paint for r in paint["hello"]], base))
    print(summary_row("mnist-tui, first output byte", [r.first_byte for r in paint["app"]], base))
    print(summary_row(f"mnist-tui, first paint ({args.marker!r})", [r.paint for r in paint["app"]], base))
    print(summary_row("mnist-tui, exit after 'q'", [r.exit_s for r in paint["app"]]))
    killed = sum(r.killed for r in paint["app"])
    if killed:
        print(f"  warning: {killed} app run(s) did not exit within {EXIT_TIMEOUT:.0f} s of 'q' and were killed")

    help_med = statistics.median(help_t["help"])
    app_med = statistics.median(r.paint for r in paint["app"])
    hello_med = statistics.median(r.paint for r in paint["hello"])
    paired = statistics.median(h / b for b, h in zip(help_t["base"], help_t["help"], strict=True))
    for title, lines in imports:
        print(f"\n  {title}:")
        print("\n".join(lines))
    print()
    print(f"--help: median {help_med:.3f} s = ×{help_med / base:.2f} python -c pass (paired ×{paired:.2f}), "
          f"+{help_med - base:.3f} s over the interpreter;  goal < {GOAL_HELP_S} s: {verdict(help_med < GOAL_HELP_S)}")
    print(f"first paint: median {app_med:.3f} s = ×{app_med / base:.2f} python -c pass, "
          f"×{app_med / hello_med:.2f} minimal Textual app ({hello_med:.3f} s);  goal < {GOAL_PAINT_S} s: "
          f"{verdict(app_med < GOAL_PAINT_S)}")
    print(f"\nwall time {time.perf_counter() - t_wall:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
