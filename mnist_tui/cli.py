"""Command line: ``mnist-tui`` opens the app, ``train`` trains headless (in the foreground or
detached), ``attach`` follows a run in the app, ``resume`` continues one, ``runs`` lists and
controls the store, ``open`` browses a saved model, ``serve`` puts the app in a browser.

Imports neither TensorFlow nor Textual at module level, so ``--help`` answers at once;
errors a user can cause become one line on stderr and an exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any, TextIO

from mnist_tui import __version__
from mnist_tui.config import BACKENDS, PRESETS, TrainConfig, check_backend, config_from_mapping
from mnist_tui.errors import ConfigError, MnistTuiError
from mnist_tui.fields import FIELDS

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

# CLI flag → config field, from the one definition of the fields (mnist_tui/fields.py).
FLAGS: dict[str, str] = {f.flag: f.name for f in FIELDS}
FIELD_FLAGS = {name: flag for flag, name in FLAGS.items()}
ASCII_ENV = "MNIST_TUI_ASCII"  # what --ascii sets: serve tabs and trainer processes inherit it


def flag_for(field: str) -> str:
    """The flag a user typed for a config field (``learning_rate`` → ``--lr``)."""
    return FIELD_FLAGS.get(field, "--" + field.replace("_", "-"))


CHOICES: dict[str, tuple[str, ...]] = {f.name: f.choices for f in FIELDS if f.choices}


def presets_table() -> str:
    """The presets and their defaults, for --help and the README."""
    lines = ["presets (defaults; any flag overrides them):"]
    for p in PRESETS.values():
        c = p.config
        lines.append(
            f"  {p.name:<10} {c.optimizer} lr={c.learning_rate:g} epochs={c.epochs} batch={c.batch_size}"
            f" hidden={c.hidden_units} {c.activation} dropout={c.dropout:g} loss={c.loss}"
        )
        lines.append(f"  {'':<10} {p.title}; {p.reference}")
    return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    """argparse that prints one line (not the whole usage) and exits 2 on a bad flag."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _add_config_flags(parser: argparse.ArgumentParser, *, with_model_default: bool) -> None:
    # Without a model default (the sub-command), unset flags stay out of the namespace:
    # argparse copies a sub-parser's defaults over the parent's values, which silently
    # dropped flags given before the command (``mnist-tui --epochs 1 train``).
    default = None if with_model_default else argparse.SUPPRESS
    for f in FIELDS:
        kwargs: dict[str, Any] = {"dest": f.name, "default": default, "help": f.help}
        if f.cli_metavar is not None:
            kwargs["metavar"] = f.cli_metavar
        parser.add_argument(f.flag, **kwargs)
    if with_model_default:
        parser.set_defaults(preset="mlp")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mnist-tui",
        description="Train MNIST digit classifiers in the terminal and watch them learn.",
        epilog=presets_table() + "\n\nWith no command, opens the interactive app.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mnist-tui {__version__}")
    parser.add_argument("--runs-dir", default=None, metavar="DIR",
                        help="where runs are saved (default: $XDG_DATA_HOME/mnist-tui/runs)")
    parser.add_argument("--ascii", action="store_true",
                        help=f"draw with ASCII only (digits, bars, charts, arrows), for a terminal or font "
                             f"without Unicode; automatic in a non-UTF-8 locale (sets ${ASCII_ENV}=1)")
    parser.add_argument("--low-bandwidth", action="store_true",
                        help="for a slow link (SSH over a phone, a satellite): ≤ 1 KB/s to the terminal while a run "
                             "trains; charts every few seconds, the Viewer's digit when you move")
    _add_config_flags(parser, with_model_default=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    train = sub.add_parser(
        "train", help="train headless and save the run",
        description="Train a preset without the UI; writes a run directory as it goes.",
        epilog=presets_table(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_config_flags(train, with_model_default=False)
    train.add_argument("--out", "--runs-dir", dest="out", default=None, metavar="DIR",
                       help="parent directory for the run directory (default: $XDG_DATA_HOME/mnist-tui/runs)")
    train.add_argument("--log-every", type=int, default=0, metavar="N",
                       help="also print a line every N batches (0 = per epoch only)")
    train.add_argument("--no-save", action="store_true", help="do not keep the run directory")
    train.add_argument("--detach", action="store_true",
                       help="train in the background (its own process and session; survives logging out):"
                            " prints the run id and how to attach")
    code = sub.add_parser(
        "code", help="print the plain Keras (or NumPy) script that trains the same model",
        description="Print the script equivalent to `train` with the same flags: the data from the same source, "
                    "the same layers, optimizer, loss, epochs, batch size, validation and seed, in plain Keras "
                    "(NumPy for scratch). Run it with python: it reaches the accuracy `train` reaches.",
        epilog=presets_table(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_config_flags(code, with_model_default=False)
    code.add_argument("-o", "--out", dest="out", default=None, metavar="FILE", help="write it here (default: stdout)")
    attach = sub.add_parser(
        "attach", help="open the app on a run: its whole history, then live while it trains",
        description="Follow a run in the app: the charts fill with its history at once and then follow it "
                    "live; pause, stop and checkpoint it from there. Quitting the app leaves the run training.")
    attach.add_argument("run_id", metavar="RUN", nargs="?", default=None,
                        help="a run id or a unique prefix (default: the newest running run)")
    _runs_dir_flag(attach)
    resume = sub.add_parser(
        "resume", help="continue a stopped or crashed run from its last checkpoint",
        description="Continue a run in its own directory from its last checkpoint (weights and optimizer "
                    "state at the end of an epoch): the same id, epochs counting on. Rows of a partial epoch "
                    "are kept in the log but marked abandoned.")
    resume.add_argument("run_id", metavar="RUN", help="a run id or a unique prefix of one")
    resume.add_argument("--epochs", type=int, default=None, metavar="N",
                        help="train to N epochs in all (default: the run's own; needed to extend a done run)")
    resume.add_argument("--detach", action="store_true", help="continue in the background")
    resume.add_argument("--log-every", type=int, default=0, metavar="N", help=argparse.SUPPRESS)
    _runs_dir_flag(resume)
    _add_runs_parser(sub)
    _add_sweep_parser(sub)
    opener = sub.add_parser(
        "open", help="open a saved model (.keras, or a scratch .npz): evaluate it, then browse its predictions",
        description="Load a saved model in safe mode (no code from the file runs), evaluate it on the test set "
                    "and open the app on it: viewer, confusion matrix and draw-a-digit, no training needed.",
    )
    opener.add_argument("model_path", metavar="PATH", help="a model.keras or model.npz (e.g. from a run directory)")
    _add_config_flags(opener, with_model_default=False)
    server = sub.add_parser(
        "serve", help="serve the app in a browser tab (textual-serve)",
        description="Serve mnist-tui to a browser through textual-serve. Binds to 127.0.0.1 unless told "
                    "otherwise: reach it from your laptop through an SSH tunnel. The URL it prints carries a "
                    "fresh access token; without it (or from a page of another site) the app is refused.",
    )
    server.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    server.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    server.add_argument("--max-sessions", type=int, default=2, metavar="N",
                        help="browser tabs served at once, each its own app process of ~0.5 GB (default: 2)")
    _runs_dir_flag(server)
    return parser


SORT_CHOICES = ("started", "accuracy", "duration", "preset", "to97", "to98", "to99")
CONTROL_ACTIONS = {"pause": "paused", "resume": "resumed", "stop": "stopping (saving the run)",
                   "checkpoint": "saving the model after this batch"}
ACK_SECONDS = 3.0


def _runs_dir_flag(p: argparse.ArgumentParser) -> None:
    # SUPPRESS: keep a --runs-dir given before the command (see _add_config_flags).
    p.add_argument("--runs-dir", dest="runs_dir", default=argparse.SUPPRESS, metavar="DIR",
                   help="the run store (default: $XDG_DATA_HOME/mnist-tui/runs)")


def _add_runs_parser(sub: Any) -> None:
    """``mnist-tui runs list|export|delete|pause|resume|stop|checkpoint|evaluate``."""
    runs = sub.add_parser("runs", help="list, control, evaluate, export or delete runs",
                          description="The runs (every run, from the app or `train`), and control of live ones.")
    runs_sub = runs.add_subparsers(dest="runs_command", metavar="ACTION", parser_class=_Parser, required=True)
    runs_dir_flag = _runs_dir_flag

    lst = runs_sub.add_parser("list", help="list runs, newest first", description="List the saved runs.")
    runs_dir_flag(lst)
    lst.add_argument("--sort", choices=SORT_CHOICES, default="started",
                     help="order: started (newest first), accuracy (best first), duration (shortest first), preset, "
                          "to97/to98/to99 (training time to that validation accuracy, fastest first)")
    lst.add_argument("--json", action="store_true", help="print JSON instead of a table")
    exp = runs_sub.add_parser("export", help="export a run's metrics", description="Export a run's metrics.")
    exp.add_argument("run_id", metavar="ID", help="a run id or a unique prefix of one")
    exp.add_argument("--format", dest="fmt", choices=("csv", "json"), default="csv",
                     help="csv: every metrics.csv row; json: config, summary, batch and epoch rows")
    exp.add_argument("--out", default=None, metavar="FILE", help="write here (default: stdout)")
    runs_dir_flag(exp)
    rm = runs_sub.add_parser("delete", help="delete a run directory", description="Delete a saved run.")
    rm.add_argument("run_id", metavar="ID", help="a run id or a unique prefix of one")
    rm.add_argument("--yes", action="store_true", help="really delete (required)")
    runs_dir_flag(rm)
    for action, what in (("pause", "pause a running run after its current batch"),
                         ("resume", "resume a paused run"),
                         ("stop", "stop a running run after its current batch; the run is saved"),
                         ("checkpoint", "save a running run's model now, after its current batch")):
        ctl = runs_sub.add_parser(action, help=what, description=what[0].upper() + what[1:] + ".")
        ctl.add_argument("run_id", metavar="ID", help="a run id or a unique prefix of one")
        runs_dir_flag(ctl)
    ev = runs_sub.add_parser("evaluate", help="the final test evaluation a stop skipped",
                             description="Evaluate a stopped run's saved model on the test set and record it "
                                         "in its summary.")
    ev.add_argument("run_id", metavar="ID", help="a run id or a unique prefix of one")
    runs_dir_flag(ev)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    values = {f.name: getattr(args, f.name) for f in FIELDS if getattr(args, f.name, None) is not None}
    if "backend" not in values and os.environ.get("KERAS_BACKEND") in BACKENDS:
        values["backend"] = os.environ["KERAS_BACKEND"]  # Keras's own variable is the default
    return config_from_mapping(values)


def _fail(message: str, code: int) -> int:
    from mnist_tui.textsafe import safe

    print(f"mnist-tui: error: {safe(message)}", file=sys.stderr)  # paths and names come from files
    return code


# Flags that name a path or a run: an empty value is a mistake (a shell variable that was not
# set), never "use the default", least of all before a delete.
NAMED = {"runs_dir": "--runs-dir", "out": "--out", "data_path": "--data", "model_path": "PATH", "run_id": "ID"}


def _empty_flag(args: argparse.Namespace) -> str:
    for attr, flag in NAMED.items():
        value = getattr(args, attr, None)
        if isinstance(value, str) and not value.strip():
            return flag
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    empty = _empty_flag(args)
    if empty:
        return _fail(f"{empty}: is empty (leave it out for the default)", EXIT_USAGE)
    if args.ascii:
        os.environ[ASCII_ENV] = "1"  # read by mnist_tui.render.charset, here and in every child process
    if args.command == "runs":
        return run_runs(args)
    if args.command == "resume":
        return run_resume(args)
    if args.command == "sweep":
        return run_sweep(args)
    try:
        cfg = config_from_args(args)
    except ConfigError as err:
        return _fail(f"{flag_for(err.field)}: {err.reason}", EXIT_USAGE)
    if args.command == "code":
        return run_code(args, cfg)
    if cfg.backend != "tensorflow" or args.command in ("train", None, "open"):
        try:
            check_backend(cfg.backend)  # sets KERAS_BACKEND before anything imports Keras
        except ConfigError as err:
            return _fail(f"{flag_for(err.field)}: {err.reason}", EXIT_USAGE)
    if args.command == "train":
        return run_train(args, cfg)
    if args.command == "serve":
        return run_serve(args, argv)
    return run_app(args, cfg)


def run_code(args: argparse.Namespace, cfg: TrainConfig) -> int:
    """``mnist-tui code``: the config as a plain script, on stdout or in ``--out``."""
    from mnist_tui.codegen import script_for

    text = script_for(cfg)
    if args.out is None:
        with contextlib.suppress(BrokenPipeError):
            sys.stdout.write(text)
            sys.stdout.flush()
        return EXIT_OK
    from pathlib import Path

    from mnist_tui.runs.rundir import write_output

    try:
        written = write_output(Path(args.out).expanduser(), text.encode())
    except OSError as err:
        return _fail(f"--out: cannot write {args.out}: {err.strerror or err}", EXIT_ERROR)
    _say(f"wrote {written}", sys.stderr)
    return EXIT_OK


def run_app(args: argparse.Namespace, cfg: TrainConfig) -> int:
    from mnist_tui.quiet import redirect_native_stderr

    redirect_native_stderr()
    from mnist_tui.app import make_app

    open_model = getattr(args, "model_path", None)
    if open_model is not None:
        problem = _model_path_problem(open_model)
        if problem:
            return _fail(problem, EXIT_ERROR)
        cfg = _data_of_the_run(open_model, args, cfg)
    runs_dir = _runs_dir(args)
    attach = None
    if args.command == "attach":
        from mnist_tui.runs.rundir import RunStoreError

        try:
            attach = _pick_run(runs_dir, args.run_id).path
        except RunStoreError as err:
            return _fail(str(err), EXIT_ERROR)
    app = make_app(cfg, runs_dir=runs_dir, open_model=open_model, attach=attach,
                   low_bandwidth=bool(getattr(args, "low_bandwidth", False)), freeze_gc=True)
    app.run()
    return int(app.return_code or 0)


def _data_of_the_run(model: str, args: argparse.Namespace, cfg: TrainConfig) -> TrainConfig:
    """A model inside a run directory is evaluated on the data that run recorded (unless
    --data / --dataset say otherwise): ``open RUN/model.keras`` needs no flags."""
    from pathlib import Path

    from mnist_tui.runs.rundir import CONFIG, OWNER, is_marker, read_json

    run = Path(model).expanduser().parent
    recorded = read_json(run / CONFIG) if is_marker(read_json(run / OWNER)) else None
    if not isinstance(recorded, dict):
        return cfg
    changes: dict[str, Any] = {}
    if getattr(args, "data_path", None) is None and isinstance(recorded.get("data_path"), (str, type(None))):
        changes["data_path"] = recorded.get("data_path")
    from mnist_tui.config import DATASET_NAMES

    if getattr(args, "dataset", None) is None and recorded.get("dataset") in DATASET_NAMES:
        changes["dataset"] = recorded["dataset"]
    return cfg.with_changes(**changes) if changes else cfg


def _runs_dir(args: argparse.Namespace) -> Any:
    from pathlib import Path

    from mnist_tui.runs.rundir import default_runs_dir

    value = getattr(args, "runs_dir", None)
    return Path(value).expanduser() if value else default_runs_dir()


def _pick_run(runs_dir: Any, run_id: str | None) -> Any:
    """The run ``run_id`` names, or (None) the newest running one."""
    from mnist_tui.runs import store
    from mnist_tui.runs.rundir import RunStoreError

    if run_id is not None:
        return store.resolve_run(runs_dir, run_id)
    running = [r for r in store.list_runs(runs_dir) if r.status == store.RUNNING]
    if not running:
        raise RunStoreError(f"no run is training in {runs_dir} (name one: mnist-tui attach ID; "
                            "see mnist-tui runs list)")
    return running[0]


def _model_path_problem(path: str) -> str:
    """Cheap checks before the full-screen app starts, so a bad file is a one-line error in the shell."""
    from mnist_tui.errors import ModelFileError
    from mnist_tui.models.saved import check_model_path

    try:
        check_model_path(path)
    except ModelFileError as err:
        return str(err)
    return ""


def run_serve(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """Every browser tab gets its own app process, started with every flag given before ``serve``.

    The "serving" line is printed only once the socket listens; a bind failure is one line
    on stderr and exit 1. ``argv`` is unused: the flags are replayed from ``args``.
    """
    from mnist_tui.serve import bind_error_text, describe, make_server, replay_flags

    if not 0 < args.port < 65536:
        return _fail(f"--port: must be 1-65535, got {args.port}", EXIT_USAGE)
    if args.max_sessions < 1:
        return _fail(f"--max-sessions: must be at least 1, got {args.max_sessions}", EXIT_USAGE)
    server = make_server(args.host, args.port, replay_flags(build_parser(), args), max_sessions=args.max_sessions)
    try:
        server.serve(on_ready=lambda: print(describe(args.host, args.port, server.token), flush=True))
    except OSError as err:  # port in use, address not available, ...
        return _fail(f"cannot serve on {args.host}:{args.port}: {bind_error_text(err)}", EXIT_ERROR)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return EXIT_OK


def run_runs(args: argparse.Namespace) -> int:
    """``mnist-tui runs …``: 0 on success, 1 for an unknown run or an I/O error, 2 for usage."""
    from pathlib import Path

    from mnist_tui.runs import store
    from mnist_tui.runs.rundir import RunStoreError, default_runs_dir
    from mnist_tui.textsafe import safe

    runs_dir = Path(args.runs_dir).expanduser() if args.runs_dir else default_runs_dir()
    if args.runs_dir:  # a store named on the command line must be there (the default may not exist yet)
        if not runs_dir.exists():
            return _fail(f"{runs_dir}: no such directory (the run store to use)", EXIT_ERROR)
        if not runs_dir.is_dir():
            return _fail(f"{runs_dir}: not a directory (the run store to use)", EXIT_ERROR)
    try:
        if args.runs_command == "list":
            runs = store.sort_runs(store.list_runs(runs_dir), args.sort)
            if args.json:
                print(json.dumps([r.to_json() for r in runs], indent=1))  # JSON escapes control characters
            elif not runs:
                print(safe(f"No runs yet in {runs_dir}"))
            else:
                print(runs_table(runs))
            return EXIT_OK
        run = store.resolve_run(runs_dir, args.run_id)
        if args.runs_command == "delete" and not args.yes:
            return _fail(f"runs delete would delete {store.describe_for_delete(run)}; add --yes to really delete it",
                         EXIT_USAGE)
        if args.runs_command in CONTROL_ACTIONS:
            return _control(run, args.runs_command)
        if args.runs_command == "evaluate":
            return _evaluate(run)
        if args.runs_command == "export":
            result = store.export_run(run, args.fmt, args.out)
            if args.out is None:
                sys.stdout.write(str(result))
            else:
                print(safe(f"exported {run.id} to {result}"))
        else:
            store.delete_run(run, runs_dir)
            print(safe(f"deleted {run.id}"))
    except RunStoreError as err:
        return _fail(str(err), EXIT_ERROR)
    except BrokenPipeError:  # `mnist-tui runs export ID | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_OK


def _control(run: Any, command: str) -> int:
    """Send ``command`` through the run directory and wait for the trainer's acknowledgement."""
    import time

    from mnist_tui.events import ControlApplied
    from mnist_tui.runs import control, store
    from mnist_tui.runs.follow import LogReader

    if run.status != store.RUNNING:
        return _fail(f"run {run.id} is not running ({run.status})", EXIT_ERROR)
    reader = LogReader(run.path)
    reader.read_all()  # acknowledgements come after what is there now
    request = control.send(run.path, command, reason="mnist-tui runs " + command)
    deadline = time.monotonic() + ACK_SECONDS
    while time.monotonic() < deadline:
        for event in reader.read():
            if isinstance(event, ControlApplied) and event.request == request:
                if event.command == "refused":
                    return _fail(f"run {run.id} refused: {event.detail}", EXIT_ERROR)
                print(f"{run.id}: {CONTROL_ACTIONS[command]}")
                return EXIT_OK
        time.sleep(0.05)
    return _fail(f"run {run.id} did not acknowledge {command} within {ACK_SECONDS:g} s (is it stuck?); "
                 "the request stays queued", EXIT_ERROR)


def _evaluate(run: Any) -> int:
    from mnist_tui.quiet import redirect_native_stderr

    redirect_native_stderr()
    from mnist_tui.runs.process import run_job

    try:
        result = run_job(run.path, "evaluate")
    except MnistTuiError as err:
        return _fail(str(err), EXIT_ERROR)
    print(f"{run.id}: test accuracy {result.test_accuracy:.4f} loss {result.test_loss:.4f} (saved model,"
          " recorded in its summary)")
    return EXIT_OK


def runs_table(runs: Sequence[Any]) -> str:
    """Aligned plain-text columns for ``runs list``."""
    from mnist_tui.runs import store

    head = ("id", "status", "preset", "data", "backend", "epochs", "batch", "lr", "test acc", "duration", "started")
    rows = [(r.id, store.format_status(r), r.preset, store.format_dataset(r), store.format_backend(r),
             store.format_epochs(r), store.format_config(r, "batch_size"),
             store.format_config(r, "learning_rate"), store.format_accuracy(r.test_accuracy),
             store.format_duration(r.duration_s), store.format_started(r.started)) for r in runs]
    from mnist_tui.textsafe import safe

    rows = [tuple(safe(cell) for cell in row) for row in rows]  # names and values come from files
    widths = [max(len(row[i]) for row in (head, *rows)) for i in range(len(head))]
    right = {5, 6, 7, 8, 9}
    return "\n".join("  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in
                               enumerate(zip(row, widths, strict=True))).rstrip() for row in (head, *rows))


class ProgressPrinter:
    """Headless progress: a rich bar on a TTY, plain log-safe lines otherwise."""

    def __init__(self, cfg: TrainConfig, stream: TextIO, log_every: int) -> None:
        self.cfg = cfg
        self.stream = stream
        self.log_every = log_every
        self.tty = stream.isatty() and os.environ.get("TERM") != "dumb"
        self.progress: Any = None
        self.task: Any = None
        self.muted = False
        self.device = ""

    def mute(self) -> None:
        """Stop writing (the terminal hung up): the run must still stop and save, not fail on EIO."""
        self.muted = True

    def __call__(self, event: Any) -> None:
        if self.muted:
            self.close()
            return
        try:
            self._handle(event)
        except OSError:  # EIO / EPIPE: nobody is reading any more
            self.muted = True
            self.close()

    def _line(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(text, highlight=False, markup=False)
        else:
            print(text, file=self.stream, flush=True)

    def _handle(self, event: Any) -> None:
        from mnist_tui import events as ev

        if isinstance(event, ev.BatchEnd):
            if self.progress is not None:
                self.progress.update(self.task, completed=event.step,
                                     description=f"epoch {event.epoch}/{self.cfg.epochs}",
                                     loss=event.loss, acc=event.accuracy)
            if self.log_every and event.step % self.log_every == 0:
                self._line(f"epoch {event.epoch}/{self.cfg.epochs} step {event.step}/{event.steps}"
                           f" loss {event.loss:.4f} acc {event.accuracy:.4f}"
                           f" batch_loss {event.batch_loss:.4f} {event.samples_per_sec:,.0f} samples/s")
        elif isinstance(event, ev.EpochEnd):
            if self.progress is not None:
                self.progress.update(self.task, completed=0)
            self._line(f"epoch {event.epoch}/{event.epochs} loss {event.loss:.4f} acc {event.accuracy:.4f}"
                       f" val_loss {event.val_loss:.4f} val_acc {event.val_accuracy:.4f}"
                       f" {event.seconds:.1f}s")
        elif isinstance(event, ev.TrainerStarted):
            self.device = event.device
            if event.from_epoch:
                self._line(f"resuming after epoch {event.from_epoch} (its checkpoint), to {event.epochs} epochs")
        elif isinstance(event, ev.DataReady):
            self._line(f"{self.cfg.preset}: {event.n_train:,} train / {event.n_test:,} test images"
                       f" ({event.source}); validation on the {event.validation}"
                       + (f"; on {self.device}" if self.device else ""))
            if self.tty:
                self._start_bar(event.steps_per_epoch)
        elif isinstance(event, ev.PhaseChanged) and event.phase == ev.LOADING and event.detail.startswith("down"):
            self._line(event.detail)
        elif isinstance(event, ev.RunFinished):
            self.close()

    def _start_bar(self, steps: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f} acc {task.fields[acc]:.4f}"), TimeRemainingColumn(),
            console=Console(file=self.stream), transient=True,
        )
        self.task = self.progress.add_task(f"epoch 1/{self.cfg.epochs}", total=steps, loss=math.nan,
                                           acc=math.nan)
        self.progress.start()

    def close(self) -> None:
        if self.progress is not None:
            progress, self.progress = self.progress, None
            with contextlib.suppress(OSError):
                progress.stop()


def run_train(args: argparse.Namespace, cfg: TrainConfig) -> int:
    """``mnist-tui train``: make the run directory, then train it here (or detached)."""
    import shutil
    import tempfile

    from mnist_tui.quiet import redirect_native_stderr

    redirect_native_stderr()
    from mnist_tui.runs.rundir import RunStoreError, create_run_dir, default_runs_dir

    if args.log_every < 0:
        return _fail("--log-every: must be 0 or more", EXIT_USAGE)
    if args.no_save and args.detach:
        return _fail("--no-save and --detach: a detached run is followed through its directory; keep it",
                     EXIT_USAGE)
    problem = _data_problem(cfg)
    if problem:
        return _fail(problem, EXIT_ERROR)
    parent = tempfile.mkdtemp(prefix="mnist-tui-unsaved-") if args.no_save else (
        args.out or args.runs_dir or default_runs_dir())
    try:
        path = create_run_dir(parent, cfg)
    except RunStoreError as err:
        return _fail(str(err), EXIT_ERROR)
    if args.detach:
        return _start_detached(path, "train")
    try:
        return _foreground(path, "train", cfg, args.log_every, saved=not args.no_save)
    finally:
        if args.no_save:
            shutil.rmtree(parent, ignore_errors=True)


def _data_problem(cfg: TrainConfig) -> str | None:
    """A data path given (--data or $MNIST_TUI_DATA) that cannot be used, said in one line
    before anything loads: the trainer would only find out after importing its framework
    (3 s of JAX to say "no such file"), and a detached run only in its log."""
    from mnist_tui.data.sources import describe_source

    source = describe_source(cfg.dataset, cfg.data_path, online=False)
    return source.problem if source.kind in ("path", "env") else None


def run_resume(args: argparse.Namespace) -> int:
    """``mnist-tui resume RUN``: the same run directory, from its last checkpoint."""
    from mnist_tui.quiet import redirect_native_stderr

    redirect_native_stderr()
    from mnist_tui.runs import store
    from mnist_tui.runs.rundir import CONFIG, RunStoreError, atomic_write_json, read_config

    if args.epochs is not None and args.epochs < 1:
        return _fail("--epochs: must be at least 1", EXIT_USAGE)
    try:
        run = store.resolve_run(_runs_dir(args), args.run_id)
        if run.status == store.RUNNING:
            return _fail(f"run {run.id} is still running (attach to it: mnist-tui attach {run.id})", EXIT_ERROR)
        cfg = read_config(run.path)
        if args.epochs is not None and args.epochs != cfg.epochs:
            if args.epochs < run.epochs_completed:
                return _fail(f"--epochs: run {run.id} has already trained {run.epochs_completed} epochs",
                             EXIT_USAGE)
            cfg = cfg.with_changes(epochs=args.epochs)
            atomic_write_json(run.path / CONFIG, cfg.to_dict())
    except RunStoreError as err:
        return _fail(str(err), EXIT_ERROR)
    problem = _data_problem(cfg)  # the data it trained on may have moved since
    if problem:
        return _fail(problem, EXIT_ERROR)
    if args.detach:
        return _start_detached(run.path, "resume")
    return _foreground(run.path, "resume", cfg, args.log_every, saved=True)


def _start_detached(path: Any, action: str) -> int:
    """Hand the run to a trainer process of its own and say how to follow it."""
    from mnist_tui.runs.launch import start_detached

    try:
        proc = start_detached(path, action)
    except OSError as err:
        return _fail(f"cannot start the trainer process: {err.strerror or err}", EXIT_ERROR)
    _say(f"{path.name}: training in the background (pid {proc.pid}); output in {path / 'trainer.log'}",
         sys.stdout)
    _say(f"follow it: mnist-tui attach {path.name}    control it: mnist-tui runs pause|stop {path.name}",
         sys.stdout)
    return EXIT_OK


def _foreground(path: Any, action: str, cfg: TrainConfig, log_every: int, *, saved: bool) -> int:
    """Train (or resume) the run in ``path`` in this process, with progress on stdout.

    Ctrl+C, SIGTERM and SIGHUP stop after the current batch and save the run; a second one
    aborts. A run that fails before its data is ready leaves no directory behind.
    """
    import shutil

    from mnist_tui.events import DataReady
    from mnist_tui.runs.process import run_job
    from mnist_tui.training.control import TrainControl

    control = TrainControl()
    printer = ProgressPrinter(cfg, sys.stdout, log_every)
    interrupted = threading.Event()
    first_signal: list[int] = []
    got_data: list[bool] = []

    def emit(event: Any) -> None:
        if isinstance(event, DataReady):
            got_data.append(True)
        printer(event)

    def on_signal(signum: int, frame: Any) -> None:
        if interrupted.is_set():
            signal.default_int_handler(signum, frame)
        interrupted.set()
        first_signal.append(signum)
        control.stop(quick=True)
        if signum == getattr(signal, "SIGHUP", None):
            printer.mute()
        name = "" if signum == signal.SIGINT else f"{signal.Signals(signum).name}: "
        again = "Ctrl+C again" if signum == signal.SIGINT else "again"
        _say(f"mnist-tui: {name}stopping after this batch and saving the run ({again} to abort)", sys.stderr)

    stop_signals = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {signum: signal.signal(signum, on_signal) for signum in stop_signals}
    failed_early = False
    try:
        result = run_job(path, action, emit=emit, control=control)
    except ConfigError as err:
        failed_early = not got_data
        return _fail(f"{flag_for(err.field)}: {err.reason}", EXIT_USAGE)
    except MnistTuiError as err:
        failed_early = not got_data and action == "train"
        return _fail(str(err), EXIT_ERROR)
    except KeyboardInterrupt:
        return _fail("aborted", 128 + first_signal[0] if first_signal else EXIT_INTERRUPTED)
    except Exception as err:
        if os.environ.get("MNIST_TUI_DEBUG"):
            raise
        return _fail(f"{type(err).__name__}: {err}", EXIT_ERROR)
    finally:
        printer.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if failed_early and action == "train":
            shutil.rmtree(path, ignore_errors=True)  # nothing was trained: not a run worth keeping
    acc = "n/a" if math.isnan(result.test_accuracy) else f"{result.test_accuracy:.4f}"
    loss = "n/a" if math.isnan(result.test_loss) else f"{result.test_loss:.4f}"
    what = "test accuracy" if result.evaluated else f"test accuracy after epoch {result.epochs_completed}"
    _say(f"{result.status}: {what} {acc} loss {loss} after {result.epochs_completed} epoch(s)"
         f" in {result.train_seconds:.1f}s" + (f" — {result.reason}" if result.reason else ""), sys.stdout)
    if saved and result.run_dir:
        _say(f"run saved to {result.run_dir}", sys.stdout)
        if result.status == "stopped":
            name = os.path.basename(result.run_dir)
            _say(f"continue it: mnist-tui resume {name}    evaluate it: mnist-tui runs evaluate {name}",
                 sys.stdout)
    if result.status == "failed":
        return _fail(result.reason, EXIT_ERROR)
    # 128 + signal, as a shell reports it: 130 Ctrl+C (SIGINT), 143 SIGTERM, 129 SIGHUP.
    return 128 + first_signal[0] if first_signal else EXIT_OK


def _say(text: str, stream: TextIO) -> None:
    """Print (control characters from file names escaped), ignoring a terminal that hung up
    or a closed pipe (the run is saved regardless)."""
    from mnist_tui.textsafe import safe

    with contextlib.suppress(OSError):
        print(safe(text), file=stream, flush=True)


# ----------------------------------------------------------------------------- sweep
SWEEP_EPILOG = """Any config flag takes a comma-separated list, and the sweep trains every combination:
  mnist-tui sweep --model mlp --lr 1e-4,1e-3,1e-2 --batch-size 32,128 --seeds 0,1,2   # 18 runs
Each is a normal run in the run store (see `mnist-tui runs list`), tagged with its sweep.
Ctrl+C or SIGTERM stops the sweep cleanly: the current run is stopped after its batch and
saved, the rest stays queued; `mnist-tui sweep --resume SWEEP` continues it (finished runs
are reused, a stopped or killed run is resumed from its checkpoint)."""


def _add_sweep_parser(sub: Any) -> None:
    """``mnist-tui sweep``: a grid of configs × seeds, one trainer process after another."""
    sweep = sub.add_parser(
        "sweep", help="train a grid of configs (any config flag takes a comma list) × seeds",
        description="Queue the cartesian product of the given values (× --seeds) and train it, one run after "
                    "another, in the foreground (progress lines) or --detach'ed.",
        epilog=SWEEP_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_config_flags(sweep, with_model_default=False)
    sweep.add_argument("--seeds", default=None, metavar="LIST",
                       help="train every config with each of these seeds, e.g. 0,1,2 (the same as --seed 0,1,2): "
                            "runs that differ only in seed show their seed band")
    sweep.add_argument("--parallel", type=int, default=1, metavar="N",
                       help="trainers at once (default 1: each trainer already uses every core, so on a small "
                            "machine two trainers on two cores are slower than one after the other)")
    sweep.add_argument("--detach", action="store_true", help="run the sweep in the background (its own process)")
    sweep.add_argument("--resume", default=None, metavar="SWEEP",
                       help="continue a stopped or crashed sweep (an id or a unique prefix)")
    sweep.add_argument("--stop", default=None, metavar="SWEEP", help="stop a running sweep (the rest stays queued)")
    sweep.add_argument("--list", action="store_true", help="list the sweeps and their progress")
    _runs_dir_flag(sweep)


def run_sweep(args: argparse.Namespace) -> int:
    """0: every run done; 1: an error; 2: usage; 130: stopped (the rest stays queued)."""
    import threading

    from mnist_tui.runs import sweep as sw
    from mnist_tui.runs.rundir import RunStoreError

    runs_dir = _runs_dir(args)
    try:
        if args.list:
            return _list_sweeps(runs_dir)
        if args.stop:
            info = sw.resolve_sweep(runs_dir, args.stop)
            if not sw.runner_alive(info.record):
                return _fail(f"sweep {info.id} is not running ({info.state})", EXIT_ERROR)
            sw.request_stop(info.path)
            _say(f"{info.id}: stopping (the current run is saved; the rest stays queued)", sys.stdout)
            return EXIT_OK
        if args.resume:
            given = [flag_for(f.name) for f in FIELDS if f.name != "preset" and getattr(args, f.name, None) is not None]
            if given or args.seeds:
                flags = ", ".join(given) or "--seeds"
                return _fail(f"--resume continues the sweep as it was queued: leave out {flags}", EXIT_USAGE)
            info = sw.resolve_sweep(runs_dir, args.resume)
            if sw.runner_alive(info.record):
                return _fail(f"sweep {info.id} is still running (pid {info.record['owner'].get('pid')})", EXIT_ERROR)
            path = info.path
        else:
            if args.parallel < 1:
                return _fail("--parallel: must be at least 1", EXIT_USAGE)
            values = {f.name: getattr(args, f.name) for f in FIELDS if getattr(args, f.name, None) is not None}
            if "backend" not in values and os.environ.get("KERAS_BACKEND") in BACKENDS:
                values["backend"] = os.environ["KERAS_BACKEND"]  # Keras's own variable is the default
            try:
                plan = sw.plan_sweep(values, args.seeds)
            except ConfigError as err:
                return _fail(f"{flag_for(err.field) if err.field != 'seed' or not args.seeds else '--seeds'}: "
                             f"{err.reason}", EXIT_USAGE)
            path = sw.create_sweep(runs_dir, plan, args.parallel)
            _say(f"sweep {path.name}: {plan.describe()}", sys.stdout)
        if args.detach:
            proc = sw.start_detached_sweep(path)
            _say(f"{path.name}: sweeping in the background (pid {proc.pid}); output in {path / sw.SWEEP_LOG}",
                 sys.stdout)
            _say(f"watch it: mnist-tui (Runs tab, W)    stop it: mnist-tui sweep --stop {path.name}", sys.stdout)
            return EXIT_OK
        stop = threading.Event()
        say = lambda line: _say(line, sys.stdout)  # noqa: E731
        sw.install_stop_signals(stop, lambda line: _say(line, sys.stderr))
        state = sw.SweepRunner(path, say, stop).run()
    except RunStoreError as err:
        return _fail(str(err), EXIT_ERROR)
    if state == sw.STOPPED:
        return EXIT_INTERRUPTED
    left = [p for p in sw.read_sweep(path)["points"] if p.get("state") != sw.DONE]
    return EXIT_OK if state == sw.DONE and not left else EXIT_ERROR  # a run failed: its reason is above


def _list_sweeps(runs_dir: Any) -> int:
    from mnist_tui.runs import sweep as sw

    sweeps = sw.list_sweeps(runs_dir)
    if not sweeps:
        _say(f"No sweeps yet in {sw.sweeps_dir(runs_dir)}", sys.stdout)
    for info in sweeps:
        _say(f"{info.id}  {info.state:<10}  {info.summary()}", sys.stdout)
    return EXIT_OK
