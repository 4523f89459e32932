"""Command line: ``mnist-tui`` opens the app, ``mnist-tui train`` trains headless.

Imports neither TensorFlow nor Textual at module level, so ``--help`` answers at once;
errors a user can cause become one line on stderr and an exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any, TextIO

from mnist_tui import __version__
from mnist_tui.config import (
    ACTIVATIONS,
    DATASET_NAMES,
    FIELD_HELP,
    LOSSES,
    OPTIMIZERS,
    PRESETS,
    TrainConfig,
    config_from_mapping,
)
from mnist_tui.errors import ConfigError, MnistTuiError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

# CLI flag → config field. Every config field has a flag.
FLAGS: dict[str, str] = {
    "--model": "preset",
    "--dataset": "dataset",
    "--data": "data_path",
    "--optimizer": "optimizer",
    "--lr": "learning_rate",
    "--momentum": "momentum",
    "--epochs": "epochs",
    "--batch-size": "batch_size",
    "--hidden-units": "hidden_units",
    "--activation": "activation",
    "--dropout": "dropout",
    "--loss": "loss",
    "--limit": "limit",
    "--val-split": "val_split",
    "--seed": "seed",
}
FIELD_FLAGS = {name: flag for flag, name in FLAGS.items()}


def flag_for(field: str) -> str:
    """The flag a user typed for a config field (``learning_rate`` → ``--lr``)."""
    return FIELD_FLAGS.get(field, "--" + field.replace("_", "-"))


CHOICES = {"preset": tuple(PRESETS), "dataset": DATASET_NAMES, "optimizer": OPTIMIZERS,
           "activation": ACTIVATIONS, "loss": LOSSES}


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
    for flag, name in FLAGS.items():
        kwargs: dict[str, Any] = {"dest": name, "default": default, "help": FIELD_HELP[name]}
        if name in CHOICES:
            kwargs["metavar"] = "{" + ",".join(CHOICES[name]) + "}"
        if name == "data_path":
            kwargs["metavar"] = "PATH"
        parser.add_argument(flag, **kwargs)
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
    train.add_argument("--no-save", action="store_true", help="do not write a run directory")
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    values = {name: getattr(args, name) for name in FLAGS.values() if getattr(args, name, None) is not None}
    return config_from_mapping(values)


def _fail(message: str, code: int) -> int:
    print(f"mnist-tui: error: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cfg = config_from_args(args)
    except ConfigError as err:
        return _fail(f"{flag_for(err.field)}: {err.reason}", EXIT_USAGE)
    if args.command == "train":
        return run_train(args, cfg)
    return run_app(args, cfg)


def run_app(args: argparse.Namespace, cfg: TrainConfig) -> int:
    from mnist_tui.quiet import redirect_native_stderr

    redirect_native_stderr()
    from mnist_tui.app import make_app
    from mnist_tui.runs.rundir import default_runs_dir

    app = make_app(cfg, runs_dir=args.runs_dir or default_runs_dir())
    app.run()
    return int(app.return_code or 0)


class ProgressPrinter:
    """Headless progress: a rich bar on a TTY, plain log-safe lines otherwise."""

    def __init__(self, cfg: TrainConfig, stream: TextIO, log_every: int) -> None:
        self.cfg = cfg
        self.stream = stream
        self.log_every = log_every
        self.tty = stream.isatty() and os.environ.get("TERM") != "dumb"
        self.progress: Any = None
        self.task: Any = None

    def _line(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(text, highlight=False, markup=False)
        else:
            print(text, file=self.stream, flush=True)

    def __call__(self, event: Any) -> None:
        from mnist_tui.training import events as ev

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
        elif isinstance(event, ev.DataReady):
            self._line(f"{self.cfg.preset}: {event.n_train:,} train / {event.n_test:,} test images"
                       f" ({event.source}); validation on the {event.validation}")
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
            self.progress.stop()
            self.progress = None


def run_train(args: argparse.Namespace, cfg: TrainConfig) -> int:
    from mnist_tui.quiet import redirect_native_stderr

    redirect_native_stderr()
    from mnist_tui.runs.rundir import default_runs_dir
    from mnist_tui.training.control import TrainControl
    from mnist_tui.training.trainer import train

    if args.log_every < 0:
        return _fail("--log-every: must be 0 or more", EXIT_USAGE)
    control = TrainControl()
    printer = ProgressPrinter(cfg, sys.stdout, args.log_every)
    interrupted = threading.Event()

    def on_sigint(signum: int, frame: Any) -> None:
        if interrupted.is_set():
            signal.default_int_handler(signum, frame)
        interrupted.set()
        control.stop()
        print("mnist-tui: stopping after this batch (Ctrl+C again to abort)", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, on_sigint)
    runs_dir = None if args.no_save else (args.out or args.runs_dir or default_runs_dir())
    try:
        result = train(cfg, printer, control, runs_dir=runs_dir)
    except ConfigError as err:
        return _fail(f"{flag_for(err.field)}: {err.reason}", EXIT_USAGE)
    except MnistTuiError as err:
        return _fail(str(err), EXIT_ERROR)
    except KeyboardInterrupt:
        return _fail("aborted", EXIT_INTERRUPTED)
    except Exception as err:
        if os.environ.get("MNIST_TUI_DEBUG"):
            raise
        return _fail(f"{type(err).__name__}: {err}", EXIT_ERROR)
    finally:
        printer.close()
        signal.signal(signal.SIGINT, previous)
    acc = "n/a" if math.isnan(result.test_accuracy) else f"{result.test_accuracy:.4f}"
    loss = "n/a" if math.isnan(result.test_loss) else f"{result.test_loss:.4f}"
    print(f"{result.status}: test accuracy {acc} loss {loss} after {result.epochs_completed} epoch(s)"
          f" in {result.train_seconds:.1f}s" + (f" — {result.reason}" if result.reason else ""), flush=True)
    if result.run_dir:
        print(f"run saved to {result.run_dir}", flush=True)
    if result.status == "failed":
        return _fail(result.reason, EXIT_ERROR)
    return EXIT_INTERRUPTED if interrupted.is_set() else EXIT_OK
