"""Sweeps in the app: every sweep of the store, a live leaderboard of one, and a form that
starts a new one.

The leaderboard lists each grid point with its run's state, epoch, best and last validation
accuracy, test accuracy, time, time to 98 % and a sparkline of its validation curve (one
scale for the whole board, so the curves compare); any column sorts (``S`` or a header
click). ``Enter`` attaches to the point's run: the screen closes and posts the Runs tab's
``OpenRun``. The form (``n``) takes a comma-separated list in any config field and launches
the sweep runner as a detached process (``runs.sweep``): the app only reads its record.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Input, Label, Static
from textual.widgets.data_table import ColumnKey

from mnist_tui.config import TrainConfig, preset_config
from mnist_tui.errors import ConfigError
from mnist_tui.fields import FIELDS
from mnist_tui.render.charset import symbols
from mnist_tui.render.compare import sparkline
from mnist_tui.runs import store
from mnist_tui.runs import sweep as sw
from mnist_tui.runs.rundir import RunStoreError
from mnist_tui.screens.runs import STATUS_STYLE, RunsView
from mnist_tui.textsafe import safe

SYM = symbols()
REFRESH_SECONDS = 1.0
SPARK_WIDTH = 12


def _num(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


# (column key, header, sort value or None, descending first)
BOARD: tuple[tuple[str, str, Callable[[sw.Row], Any] | None, bool], ...] = (
    ("n", "#", lambda r: r.index, False),
    ("point", "point", lambda r: r.label, False),
    ("state", "state", lambda r: r.state, False),
    ("epoch", "epoch", lambda r: r.epochs, True),
    ("best", "best val", lambda r: _num(r.best_val), True),
    ("last", "last val", lambda r: _num(r.last_val), True),
    ("test", "test", lambda r: _num(r.test_accuracy), True),
    ("time", "time", lambda r: _num(r.seconds), False),
    ("to98", "to98%", lambda r: _num(r.to_98), False),
    ("curve", "val curve", None, False),
)
SORT_KEYS = tuple(key for key, _, value, _ in BOARD if value is not None)


def sort_rows(rows: list[sw.Row], key: str, descending: bool | None = None) -> list[sw.Row]:
    """Rows by a board column; unknown values (not yet trained, not reached) last."""
    spec = next(b for b in BOARD if b[0] == key)
    value, desc = spec[2], spec[3] if descending is None else descending
    assert value is not None
    known = [r for r in rows if value(r) is not None]
    known.sort(key=value, reverse=desc)
    return known + [r for r in rows if value(r) is None]


def _pct(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value * 100:.2f}"


class SweepScreen(Screen[None]):
    """The sweeps of a run store (top) and the highlighted one's leaderboard (below)."""

    BINDINGS = [
        Binding("escape", "close", "Back", id="sweep.back"),
        Binding("n", "new_sweep", "New sweep", id="sweep.new"),
        Binding("S", "cycle_sort", "Sort", id="sweep.sort"),
        Binding("X", "stop_sweep", "Stop sweep", id="sweep.stop"),
        Binding("R", "resume_sweep", "Resume sweep", id="sweep.resume"),
        Binding("f5", "refresh_board", "Refresh", id="sweep.refresh", show=False),
    ]

    def __init__(self, runs_dir: str | os.PathLike[str], *, base: TrainConfig | None = None,
                 new: bool = False) -> None:
        super().__init__()
        self.runs_dir = Path(runs_dir).expanduser()
        self.base = base
        self.open_form = new
        self.sweeps: list[sw.SweepInfo] = []
        self.current: str | None = None  # the sweep whose leaderboard shows
        self.rows: list[sw.Row] = []  # in board order
        self.sort_key = "n"
        self.sort_descending: bool | None = None

    def compose(self) -> ComposeResult:
        yield Static(SYM.text(f"Sweeps in {safe(str(sw.sweeps_dir(self.runs_dir)))}"), id="sweep-title")
        sweeps: DataTable[Any] = DataTable(id="sweep-list", cursor_type="row", zebra_stripes=True)
        yield sweeps
        yield Static("", id="sweep-detail")
        board: DataTable[Any] = DataTable(id="sweep-board", cursor_type="row", zebra_stripes=True)
        yield board
        yield Static(SYM.text("Enter: attach to the run · n: new sweep · S or a header: sort · X: stop · "
                              "R: resume · Tab: sweeps/leaderboard · Esc: back"), id="sweep-hint")

    def on_mount(self) -> None:
        self.list_table.add_columns("sweep", "state", "progress", "updated")
        for key, label, _, _ in BOARD:
            self.board.add_column(label, key=key)
        self.refresh_board()
        self.set_interval(REFRESH_SECONDS, self.refresh_board)
        (self.board if self.sweeps else self.list_table).focus()
        if self.open_form:
            self.call_after_refresh(self.action_new_sweep)

    @property
    def list_table(self) -> DataTable[Any]:
        return self.query_one("#sweep-list", DataTable)

    @property
    def board(self) -> DataTable[Any]:
        return self.query_one("#sweep-board", DataTable)

    @property
    def sweep(self) -> sw.SweepInfo | None:
        return next((s for s in self.sweeps if s.id == self.current), None)

    # ------------------------------------------------------------------ reading
    def refresh_board(self) -> None:
        """Re-read the sweeps and the shown one's runs (small JSON files and epoch lines)."""
        self.sweeps = sw.list_sweeps(self.runs_dir)
        table = self.list_table
        keep = self.current
        ids = [s.id for s in self.sweeps]
        same = [str(k.value) for k in table.rows] == ids
        if not same:
            table.clear()
        for info in self.sweeps:
            cells = (Text(safe(info.id)), Text(info.state, style=STATUS_STYLE.get(info.state, "")),
                     Text(SYM.text(safe(info.summary()))),
                     Text(store.format_started(str(info.record.get("updated", "")), "%H:%M:%S")))
            if same:  # in place: no cursor jump, no flicker, once a second
                for column, cell in zip(table.ordered_columns, cells, strict=True):
                    table.update_cell(info.id, column.key, cell)
            else:
                table.add_row(*cells, key=info.id)
        if keep not in ids:
            keep = ids[0] if ids else None
        self.current = keep
        if keep is not None and not same:
            table.move_cursor(row=ids.index(keep), animate=False)
        self._fill_board()

    def _fill_board(self) -> None:
        info = self.sweep
        board = self.board
        cursor = self.rows[board.cursor_row].index if self.rows and 0 <= board.cursor_row < len(self.rows) else None
        self.rows = sort_rows(sw.leaderboard(info), self.sort_key, self.sort_descending) if info else []
        for key, label, _, desc in BOARD:
            if key == self.sort_key:
                down = desc if self.sort_descending is None else self.sort_descending
                label += f" {SYM.down}" if down else f" {SYM.up}"
            column = board.columns[ColumnKey(key)]
            column.label = Text(label)
            column.content_width = max(column.content_width, len(label))
        board.refresh()  # the sort arrow, also when the rows stay where they are
        keys = [str(r.index) for r in self.rows]
        same = [str(k.value) for k in board.rows] == keys
        if not same:
            board.clear()
        vals = [v for r in self.rows for v in r.curve.val_accuracy if math.isfinite(v)]
        low, high = (min(vals), max(vals)) if vals else (0.0, 1.0)
        for row in self.rows:
            cells = self._cells(row, low, high)
            if same:
                for column, cell in zip(board.ordered_columns, cells, strict=True):
                    board.update_cell(str(row.index), column.key, cell)
            else:
                board.add_row(*cells, key=str(row.index))
        if not same and cursor is not None and cursor in [r.index for r in self.rows]:
            board.move_cursor(row=[r.index for r in self.rows].index(cursor), animate=False)
        self._show_detail()

    def _cells(self, row: sw.Row, low: float, high: float) -> tuple[Any, ...]:
        epochs = f"{row.epochs}/{row.total_epochs}" if row.total_epochs else str(row.epochs)
        return (
            Text(str(row.index + 1), justify="right"),
            Text(SYM.text(safe(row.label))),
            Text(row.state, style=STATUS_STYLE.get(row.state, "")),
            Text(epochs, justify="right"),
            Text(_pct(row.best_val), justify="right"),
            Text(_pct(row.last_val), justify="right"),
            Text(_pct(row.test_accuracy), justify="right"),
            Text(store.format_duration(row.seconds), justify="right"),
            Text(store.format_duration(row.to_98), justify="right"),
            Text(sparkline(row.curve.val_accuracy, SPARK_WIDTH, low, high, SYM)),
        )

    def _show_detail(self) -> None:
        info = self.sweep
        if info is None:
            text = "No sweeps yet: n starts one (or `mnist-tui sweep --lr 1e-3,1e-2 --seeds 0,1`)."
        else:
            reason = str(info.record.get("reason") or "")
            text = f"{info.id}: {info.state}" + (f" ({reason})" if reason else "") + f" · {info.summary()}"
            text += f" · sorted by {self.sort_key}"
            if info.state in (sw.STOPPED, sw.INCOMPLETE):
                text += " · R resumes"
        self.query_one("#sweep-detail", Static).update(Text(SYM.text(safe(text)), no_wrap=True,
                                                            overflow="ellipsis"))

    # ------------------------------------------------------------------ events
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        stale = event.cursor_row != event.data_table.cursor_row  # from before a rebuild
        if event.data_table.id == "sweep-list" and not stale and event.row_key.value != self.current:
            self.current = event.row_key.value
            self._fill_board()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.data_table.id == "sweep-list":
            self.board.focus()
        else:
            self.action_attach()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        key = str(event.column_key.value)
        if event.data_table.id != "sweep-board" or key not in SORT_KEYS:
            return
        if key == self.sort_key:
            desc = next(b[3] for b in BOARD if b[0] == key)
            self.sort_descending = not (desc if self.sort_descending is None else self.sort_descending)
        else:
            self.sort_key, self.sort_descending = key, None
        self._fill_board()

    # ------------------------------------------------------------------ actions
    def action_close(self) -> None:
        self.dismiss(None)

    def action_attach(self) -> None:
        """Close and show the run in every tab, as the Runs tab's Enter does."""
        board = self.board
        row = self.rows[board.cursor_row] if self.rows and 0 <= board.cursor_row < len(self.rows) else None
        if row is None or row.path is None:
            self.app.notify("This grid point has no run yet (queued).", severity="warning", timeout=3)
            return
        path = row.path
        self.dismiss(None)
        self.app.post_message(RunsView.OpenRun(path))

    def action_cycle_sort(self) -> None:
        at = SORT_KEYS.index(self.sort_key) if self.sort_key in SORT_KEYS else -1
        self.sort_key, self.sort_descending = SORT_KEYS[(at + 1) % len(SORT_KEYS)], None
        self._fill_board()

    def action_stop_sweep(self) -> None:
        info = self.sweep
        if info is None or not sw.runner_alive(info.record):
            self.app.notify("This sweep is not running.", severity="warning", timeout=3)
            return
        try:
            sw.request_stop(info.path)
        except RunStoreError as err:
            self.app.notify(str(err), severity="error")
            return
        self.app.notify(f"Stopping {info.id}: the current run is saved, the rest stays queued.", timeout=4)

    def action_resume_sweep(self) -> None:
        info = self.sweep
        if info is None:
            return
        finished = info.counts().get(sw.DONE) == len(info.points)
        if sw.runner_alive(info.record) or finished:
            self.app.notify(f"{info.id} is {info.state}: nothing to resume.", severity="warning", timeout=3)
            return
        self._launch(info.path, "Resuming")

    def action_new_sweep(self) -> None:
        def started(path: Path | None) -> None:
            if path is not None:
                self.current = path.name
                self._launch(path, "Started")

        self.app.push_screen(SweepForm(self.runs_dir, self.base), started)

    def _launch(self, path: Path, what: str) -> None:
        try:
            sw.start_detached_sweep(path)
        except (OSError, RunStoreError) as err:
            self.app.notify(f"Cannot start the sweep runner: {err}", severity="error")
            return
        self.app.notify(f"{what} sweep {path.name} in the background.", timeout=4)
        self.refresh_board()
        self.board.focus()

    def action_refresh_board(self) -> None:
        self.refresh_board()


# ----------------------------------------------------------------------------- the form
class SweepForm(ModalScreen[Path | None]):
    """One input per config field; each takes a comma-separated list (``1e-3,1e-2``). Empty
    fields keep the model's default (shown grey). Dismisses with the new sweep's directory
    (created, not yet started), or None."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="sweepform.cancel"),
        Binding("ctrl+s", "start", "Start sweep", id="sweepform.start"),
    ]

    def __init__(self, runs_dir: Path, base: TrainConfig | None = None) -> None:
        super().__init__()
        self.runs_dir = runs_dir
        self.base = base or preset_config("mlp")
        self.plan: sw.SweepPlan | None = None

    def compose(self) -> ComposeResult:
        defaults = preset_config(self.base.preset)
        with Vertical(id="sweep-form"):
            yield Label(SYM.text("New sweep: any field takes a comma-separated list (e.g. lr 1e-3,1e-2); "
                                 "the sweep trains every combination × seeds, one run after another."))
            with VerticalScroll(id="sweep-fields"):
                for f in FIELDS:
                    value = getattr(self.base, f.name)
                    given = f.name == "preset" or value != getattr(defaults, f.name)
                    with Horizontal(classes="sweep-row"):
                        yield Label(f.label)
                        yield Input(f.text(value) if given else "", placeholder=f.text(getattr(defaults, f.name))
                                    or f.placeholder, id=f"sweep-{f.name}", tooltip=f.help, compact=True)
                with Horizontal(classes="sweep-row"):
                    yield Label("Seeds")
                    yield Input("", placeholder="e.g. 0,1,2 (runs that differ only in seed: a seed band)",
                                id="sweep-seeds", compact=True)
                with Horizontal(classes="sweep-row"):
                    yield Label("Parallel")
                    yield Input("1", id="sweep-parallel", compact=True,
                                tooltip="trainers at once: on a small machine two trainers on two cores are "
                                        "slower than one after the other")
            yield Static("", id="sweep-plan")
            with Horizontal(id="sweep-buttons"):
                yield Button("Start sweep (ctrl+s)", id="sweep-start", variant="primary", compact=True)
                yield Button("Cancel (esc)", id="sweep-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#sweep-preset", Input).focus()
        self._check()

    def values(self) -> dict[str, str]:
        return {f.name: text for f in FIELDS if (text := self.query_one(f"#sweep-{f.name}", Input).value.strip())}

    def _check(self) -> str:
        """The plan for what is typed, or what is wrong with it ("" when it can start)."""
        seeds = self.query_one("#sweep-seeds", Input).value.strip() or None
        problem = ""
        try:
            self.plan = sw.plan_sweep(self.values(), seeds)
            parallel = self.parallel
            if parallel is None:
                problem = "parallel: must be a whole number, at least 1"
        except ConfigError as err:
            self.plan, problem = None, str(err)
        plan = self.query_one("#sweep-plan", Static)
        if problem:
            plan.update(Text(SYM.text(safe(problem)), style="bold red"))
        elif self.plan is not None:
            plan.update(Text(SYM.text(f"{self.plan.describe()}, {self.parallel} at a time")))
        return problem

    @property
    def parallel(self) -> int | None:
        try:
            n = int(self.query_one("#sweep-parallel", Input).value.strip() or "1")
        except ValueError:
            return None
        return n if n >= 1 else None

    def on_input_changed(self, event: Input.Changed) -> None:
        self._check()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_start()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "sweep-start":
            self.action_start()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_start(self) -> None:
        problem = self._check()
        if problem or self.plan is None or self.parallel is None:
            self.app.notify(f"Cannot start the sweep: {problem}", severity="error", timeout=6)
            return
        try:
            path = sw.create_sweep(self.runs_dir, self.plan, self.parallel)
        except RunStoreError as err:
            self.app.notify(str(err), severity="error")
            return
        self.dismiss(path)
