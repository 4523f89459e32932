"""The setup form: preset picker plus one field per config value, validated as you type.

The fields, their labels, choices, help and checks all come from ``mnist_tui.fields``
(defined once). Every bad value shows its message right under its field at the same time,
and the form posts ``ConfigChanged`` with either a valid config or all the per-field
errors, so Start can refuse naming every one.

The data path is checked too (exists, readable, looks like IDX files or an .npz), but in a
thread worker after a short pause in typing: a file system can hang (a dead network mount)
and the UI must not. One check runs at a time (the text typed meanwhile is checked next),
so a hung mount holds one thread, not one per keystroke; the result counts only for the
text it was made for.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.timer import Timer
from textual.widgets import Input, Label, Select

from mnist_tui.config import TrainConfig, config_errors, parse_field, preset_config
from mnist_tui.errors import ConfigError
from mnist_tui.fields import FIELDS, Field
from mnist_tui.messages import ConfigChanged
from mnist_tui.render.charset import symbols
from mnist_tui.render.datapath import DataPathReport, check_data_path
from mnist_tui.render.explore import steps_per_epoch

PATH_DEBOUNCE = 0.3  # seconds of no typing before the data path is checked
FULL_TRAIN_SIZE = 60_000  # until the data source's own count is known


def field_text(cfg: TrainConfig, name: str) -> str:
    """A config value as its field shows it."""
    return next(f for f in FIELDS if f.name == name).text(getattr(cfg, name))


def is_select(f: Field) -> bool:
    return f.kind in ("choice", "bool")


class HyperparamsForm(VerticalScroll):
    """Every config field, laid out label | control, with an inline error line each."""

    path_debounce: ClassVar[float] = PATH_DEBOUNCE  # tests on a loaded machine type slower

    def __init__(self, config: TrainConfig, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._initial = config
        self.errors: dict[str, str] = {}
        self.config: TrainConfig | None = config
        self._filling = False
        self._preset = config.preset
        self.symbols = symbols()
        self.path_report: tuple[tuple[str, str], DataPathReport] | None = None  # ((text, dataset), report)
        self._path_timer: Timer | None = None
        self._path_busy = False  # a check is running
        self._path_again = False  # and the text changed since it started
        self._count = FULL_TRAIN_SIZE

    def compose(self) -> ComposeResult:
        for f in FIELDS:
            with Horizontal(classes="field-row", id=f"row-{f.name}"):
                yield Label(f.label, classes="field-label")
                value = f.text(getattr(self._initial, f.name))
                if is_select(f):
                    yield Select([(v, v) for v in f.choices], value=value, allow_blank=False, compact=True,
                                 id=f"field-{f.name}", tooltip=f.help)
                else:
                    yield Input(value, placeholder=f.placeholder, compact=True, id=f"field-{f.name}",
                                tooltip=f.help)
            yield Label("", classes="field-error", id=f"error-{f.name}")
            if f.name == "batch_size":
                yield Label("", classes="field-hint", id="hint-steps")
            elif f.name == "data_path":  # which data a run will use (SetupView fills it in)
                yield Label("", classes="field-hint", id="hint-data")

    def on_mount(self) -> None:
        self._revalidate()
        self._check_path_soon(delay=0.0)

    # -- reading
    def _raw_values(self) -> dict[str, Any]:
        return {f.name: self.query_one(f"#field-{f.name}").value for f in FIELDS}  # type: ignore[attr-defined]

    def _path_key(self) -> tuple[str, str]:
        values = self._raw_values()
        return str(values["data_path"] or "").strip(), str(values["dataset"])

    def _revalidate(self) -> None:
        """Parse and check every field; all errors go next to their fields; post the outcome."""
        errors: dict[str, str] = {}
        parsed: dict[str, Any] = {}
        for name, raw in self._raw_values().items():
            try:
                parsed[name] = parse_field(name, raw)
            except ConfigError as err:
                errors[name] = err.reason
        errors.update({k: v for k, v in config_errors(parsed).items() if k not in errors})
        path_problem = self._path_problem()
        if path_problem and "data_path" not in errors:
            errors["data_path"] = path_problem
        cfg: TrainConfig | None = None
        if not errors:
            cfg = preset_config(parsed["preset"]).with_changes(**parsed)
        self.errors = {f.name: errors[f.name] for f in FIELDS if f.name in errors}  # in form order
        self.config = cfg
        for f in FIELDS:
            label = self.query_one(f"#error-{f.name}", Label)
            message = self.errors.get(f.name, "")
            label.update(f"{self.symbols.hint} {self.symbols.text(message)}" if message else "")
            label.set_class(bool(message), "-visible")
            self.query_one(f"#row-{f.name}").set_class(bool(message), "-invalid")
        self._show_steps(cfg)
        self.post_message(ConfigChanged(cfg, dict(self.errors)))

    def _path_problem(self) -> str | None:
        """The data path's message, if the last check was of the text the field holds now."""
        if self.path_report is None:
            return None
        key, report = self.path_report
        return report.problem if key == self._path_key() else None

    def _show_steps(self, cfg: TrainConfig | None) -> None:
        """Steps per epoch = ceil(N / batch size), next to the batch size: the tutorial's arithmetic."""
        hint = self.query_one("#hint-steps", Label)
        hint.display = cfg is not None  # no empty row under the field while the form has errors
        if cfg is None:
            return
        n = self._count if cfg.limit is None else min(cfg.limit, self._count)
        n -= int(n * cfg.val_split)
        steps = steps_per_epoch(max(n, 0), cfg.batch_size)
        sym = self.symbols
        hint.update(f"{sym.hint} {steps:,} steps/epoch = {sym.ceil_open}{n:,} / {cfg.batch_size:,}{sym.ceil_close}")

    # -- the data path, off the UI thread
    def _check_path_soon(self, delay: float | None = None) -> None:
        delay = self.path_debounce if delay is None else delay
        if self._path_timer is not None:
            self._path_timer.stop()
        self._path_timer = self.set_timer(delay, self._start_path_check) if delay else None
        if not delay:
            self._start_path_check()

    def _start_path_check(self) -> None:
        self._path_timer = None
        if self._path_busy:
            self._path_again = True  # checked when the running one returns
            return
        self._path_busy = True
        text, dataset = self._path_key()
        self._check_path(text, dataset)

    @work(thread=True, group="data-path", exit_on_error=False)
    def _check_path(self, text: str, dataset: str) -> None:
        report = DataPathReport("cannot check it")
        try:
            report = check_data_path(text, dataset)
        finally:
            with contextlib.suppress(RuntimeError):  # the app closed meanwhile
                self.app.call_from_thread(self._path_checked, (text, dataset), report)

    def _path_checked(self, key: tuple[str, str], report: DataPathReport) -> None:
        self._path_busy = False
        if self._path_again and self.is_attached:
            self._path_again = False
            self._start_path_check()
        if not self.is_attached or key != self._path_key():
            return  # typed on since: the newer text is being checked
        self.path_report = (key, report)
        if report.train_count is not None:
            self._count = report.train_count
        elif report.problem is None:
            self._count = FULL_TRAIN_SIZE
        self._revalidate()

    # -- filling and events
    def fill(self, cfg: TrainConfig) -> None:
        """Put a config's values into the fields (used when a preset is picked); the data
        path stays as typed."""
        self._filling = True
        self._preset = cfg.preset
        try:
            for f in FIELDS:
                if f.name != "data_path":
                    self.query_one(f"#field-{f.name}").value = f.text(getattr(cfg, f.name))  # type: ignore[attr-defined]
        finally:
            self._filling = False
        self._revalidate()

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if self._filling:
            return
        if event.select.id == "field-preset" and isinstance(event.value, str) and event.value != self._preset:
            # A different preset: load its recipe (Select also posts Changed on mount: ignore that).
            self._preset = event.value
            base = preset_config(event.value)
            keep = {"dataset": self.query_one("#field-dataset", Select).value}
            self.fill(base.with_changes(**keep))
            return
        if event.select.id == "field-dataset":
            self._check_path_soon(delay=0.0)  # another dataset: another size in Keras's cache
        self._revalidate()

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if event.input.id == "field-data_path":
            self._check_path_soon()
        if not self._filling:
            self._revalidate()

