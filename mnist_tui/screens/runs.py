"""The Runs view: every run in a sortable table, live progress of running ones, overlaid
curves, attach, resume, evaluate, delete and export.

A self-contained widget over ``mnist_tui.runs.store`` (the run directories are the store),
so the app hosts it in a tab, calls ``refresh_runs`` when a run ends and ``refresh_live``
while the tab shows. Everything it reads is small JSON plus the logs of overlaid runs
(cached per file version); exports run in a thread so a 100k-row run never freezes the UI.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.widgets.data_table import ColumnKey
from textual.worker import Worker, WorkerState, get_current_worker

from mnist_tui.render import palette
from mnist_tui.render.charset import symbols
from mnist_tui.runs import compare, milestones, store
from mnist_tui.runs.rundir import LOG, RunStoreError
from mnist_tui.runs.store import RunInfo
from mnist_tui.screens.confirm import ConfirmScreen
from mnist_tui.textsafe import safe
from mnist_tui.widgets.runs_chart import RunsChart

# (column key, header label, store sort key or None)
COLUMNS = (  # the id first and whole: runs of the same minute differ only at its end
    ("sel", symbols().check, None),
    ("id", "id", "id"),
    ("status", "status", "status"),
    ("preset", "preset", "preset"),
    ("data", "data", "dataset"),
    ("backend", "backend", "backend"),
    ("epochs", "epochs", "epochs"),
    ("batch", "batch", "batch"),
    ("lr", "lr", "lr"),
    ("optimizer", "opt", "optimizer"),
    ("acc", "test", "accuracy"),  # test accuracy (the detail line says so)
    ("duration", "time", "duration"),  # G shows instead one of TIME_MODES
)  # no "started" column: the id is the start time (S still sorts by it)
# What the time column shows (G cycles): (mode, header, store sort key or None). The time to
# 97/98/99 % validation accuracy, or the mean ± std of the test accuracy over the run's seed
# group, in one column: every column must fit 110 cells beside a whole id.
TIME_MODES = (("time", "time", "duration"), ("to97", "to97%", "to97"), ("to98", "to98%", "to98"),
              ("to99", "to99%", "to99"), ("seeds", "seeds", None))
SORT_CYCLE = ("started", "accuracy", "duration", "preset")  # S from the default goes to accuracy
STATUS_STYLE = {"done": palette.TRUE, "stopped": palette.VAL, "failed": palette.WRONG,
                "running": f"{palette.TRAIN} bold", "incomplete": palette.ACTIVATIONS["tanh"]}
SYM = symbols()
SELECTED = SYM.check
BACKEND_SHORT = {"tensorflow": "tf"}  # every column must fit 110 cells beside a whole id
PARTIAL_SECONDS = 0.25  # while a big store is read, show what has been read this often


class RunsView(Vertical, can_focus=True):
    """Lists the run store; ``space`` selects runs whose curves ``o`` overlays below.

    Focusable itself, so that its keys (f5 above all) work while the table is hidden (an
    empty store); the table takes the focus whenever it shows."""

    BINDINGS = [
        Binding("enter", "open", "Open/attach", id="runs.open"),  # the table turns enter into RowSelected
        Binding("space", "toggle_select", "Select", id="runs.select"),
        Binding("o", "overlay", "Overlay", id="runs.overlay"),
        Binding("a", "toggle_metric", "Loss/Acc", id="runs.metric"),
        Binding("S", "cycle_sort", "Sort", id="runs.sort"),
        Binding("R", "resume", "Resume", id="runs.resume"),
        Binding("T", "evaluate", "Test-evaluate", id="runs.evaluate"),
        Binding("delete", "delete", "Delete", id="runs.delete"),
        Binding("E", "export('csv')", "CSV", id="runs.export_csv"),
        Binding("J", "export('json')", "JSON", id="runs.export_json"),
        Binding("f5", "refresh_runs", "Refresh", id="runs.refresh", show=False),
        Binding("L", "load_model", "Load model", id="runs.load_model"),
        Binding("D", "diff", "Diff two", id="runs.diff"),
        Binding("G", "cycle_time", "Time/to 98%/seeds", id="runs.time_mode"),
        Binding("W", "sweeps", "Sweeps", id="runs.sweeps"),
        Binding("g", "code", "Code", id="runs.code"),
    ]

    @dataclass
    class LoadModel(Message):
        """Open this run's saved model in the viewer, confusion matrix and draw canvas."""

        path: Path

    @dataclass
    class OpenRun(Message):
        """Show this run in every tab: attach to it while it trains, else replay its record."""

        path: Path

    @dataclass
    class ResumeRun(Message):
        """Continue this stopped or crashed run from its last checkpoint."""

        path: Path

    @dataclass
    class EvaluateRun(Message):
        """Compute the final test evaluation a stop skipped."""

        path: Path

    def __init__(self, runs_dir: str | os.PathLike[str], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.runs_dir = Path(runs_dir).expanduser()
        self.runs: list[RunInfo] = []  # in table order
        self.selected: set[str] = set()
        self.overlaid: list[str] = []
        self.sort_key = "started"
        self.sort_descending: bool | None = None  # None: the key's natural direction
        self._metrics_cache: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}
        self._ready = False
        self._store_stamp: int | None = None  # the store directory's mtime at the last full listing
        self.groups: dict[str, compare.SeedGroup] = {}  # seed groups of the listed runs, by group key
        self.time_mode = "time"  # what the time column shows (TIME_MODES)

    def compose(self) -> ComposeResult:
        yield Static(f"No runs yet in {self.runs_dir}\n\nTrain one (s in the app, or `mnist-tui train`);"
                     " R refreshes.", id="runs-empty", markup=False)
        table: DataTable[Any] = DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="runs-detail")
        yield RunsChart(id="runs-chart")

    def on_mount(self) -> None:
        self._ready = True
        self.refresh_runs()

    def on_focus(self) -> None:
        if self.table.display:
            self.table.focus()

    # ------------------------------------------------------------------ public
    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#runs-table", DataTable)

    @property
    def chart(self) -> RunsChart:
        return self.query_one("#runs-chart", RunsChart)

    @property
    def cursor_run(self) -> RunInfo | None:
        row = self.table.cursor_row
        return self.runs[row] if self.runs and 0 <= row < len(self.runs) else None

    def refresh_runs(self) -> None:
        """Re-read the store (the app calls this when a run ends); keeps selection and cursor.

        The store is read off the UI thread (2,000 runs take about a second), newest first,
        and the table shows what has been read so far every quarter of a second."""
        if not self._ready:
            return  # not composed yet: on_mount lists the store
        self.loading = True
        self._list_store()

    @work(thread=True, exclusive=True, group="runs-list", exit_on_error=False)
    def _list_store(self) -> None:
        worker = get_current_worker()
        stamp = self._stamp()
        try:
            entries = sorted(self.runs_dir.iterdir(), key=lambda p: p.name, reverse=True)  # names start with a time
        except OSError:
            entries = []
        listed: list[RunInfo] = []
        shown = time.monotonic()
        for path in entries:
            if worker.is_cancelled:
                return
            try:
                if store.is_run_dir(path):
                    listed.append(store.load_run(path))
            except OSError:
                continue
            if time.monotonic() - shown > PARTIAL_SECONDS:
                shown = time.monotonic()
                self.app.call_from_thread(self._show_listed, list(listed), False)
        if not worker.is_cancelled:
            self._store_stamp = stamp
            self.app.call_from_thread(self._show_listed, listed, True)

    def _show_listed(self, listed: list[RunInfo], complete: bool) -> None:
        self.loading = not complete
        if not self.is_attached:
            return
        keep = self.cursor_run.id if self.cursor_run else None
        ids = {r.id for r in listed}
        paths = {r.path for r in listed}
        self._metrics_cache = {p: v for p, v in self._metrics_cache.items() if p in paths}
        self.selected &= ids
        self.overlaid = [i for i in self.overlaid if i in ids]
        had_focus = self.has_focus_within  # the keys stay here when the table hides or shows
        self.set_class(not listed and complete, "-empty")
        self._fill_table(listed, keep)
        if had_focus:
            if listed:
                self.table.focus()
            else:
                self.focus()  # a hidden table cannot keep the focus: the view itself takes the keys
        if complete:
            self._update_chart()
        else:
            self.query_one("#runs-detail", Static).update(Text(f"reading the run store… {len(listed):,} runs so far"))

    def _stamp(self) -> int | None:
        try:
            return self.runs_dir.stat().st_mtime_ns
        except OSError:
            return None

    def refresh_live(self) -> None:
        """While the tab shows: new or deleted runs re-list the store; otherwise only the
        running runs are re-read and their rows updated (progress, or how they ended)."""
        if not self._ready or self.loading:
            return
        if self._stamp() != self._store_stamp:
            self.refresh_runs()
            return
        for i, run in enumerate(self.runs):
            if run.status != store.RUNNING:
                continue
            fresh = store.load_run(run.path)
            self.runs[i] = fresh
            for (key, _, _), cell in zip(self._columns(), self._cells(fresh), strict=True):
                self.table.update_cell(fresh.id, key, cell)
            if fresh.id in self.overlaid:
                self._update_chart()
        self._show_detail()

    # ------------------------------------------------------------------ table
    def _fill_table(self, runs: list[RunInfo], cursor_id: str | None) -> None:
        self.runs = store.sort_runs(runs, self.sort_key, self.sort_descending)
        self.groups = compare.seed_groups(self.runs)
        table = self.table
        table.clear()  # the rows; the columns stay (re-made, a click's header could go stale)
        if not table.columns:
            for key, label, _ in COLUMNS:
                table.add_column(label, key=key)
        for key, label, sort in self._columns():
            if sort == self.sort_key:
                descending = store.SORTS[sort][1] if self.sort_descending is None else self.sort_descending
                label += f" {SYM.down}" if descending else f" {SYM.up}"
            column = table.columns[ColumnKey(key)]
            column.label = Text(label)
            column.content_width = max(column.content_width, len(label))
        table.refresh()
        for run in self.runs:
            table.add_row(*self._cells(run), key=run.id)
        if cursor_id is not None and cursor_id in (r.id for r in self.runs):
            table.move_cursor(row=[r.id for r in self.runs].index(cursor_id))
        self._show_detail()

    def _cells(self, run: RunInfo) -> tuple[Any, ...]:
        """Every text from the run's files goes through ``safe``: a directory name or a config
        value may hold terminal escapes."""
        return (
            SELECTED if run.id in self.selected else " ",
            Text(safe(run.id)),
            Text(safe(store.format_status(run, short=True)), style=STATUS_STYLE.get(run.status, "")),
            Text(safe(run.preset)),
            Text(safe(store.format_dataset(run))),
            Text(safe(BACKEND_SHORT.get(store.format_backend(run), store.format_backend(run)))),
            Text(store.format_epochs(run), justify="right"),
            Text(safe(store.format_config(run, "batch_size")), justify="right"),
            Text(safe(store.format_config(run, "learning_rate")), justify="right"),
            Text(safe(store.format_config(run, "optimizer"))),
            Text(store.format_accuracy(run.test_accuracy), justify="right"),
            Text(SYM.text(self._time_cell(run)), justify="right"),
        )

    def _columns(self) -> tuple[tuple[str, str, str | None], ...]:
        """COLUMNS with the time column as its mode shows it."""
        _, label, sort = next(m for m in TIME_MODES if m[0] == self.time_mode)
        return tuple((key, label, sort) if key == "duration" else (key, lab, srt) for key, lab, srt in COLUMNS)

    def _time_cell(self, run: RunInfo) -> str:
        if self.time_mode == "time":
            return store.format_duration(run.duration_s)
        if self.time_mode == "seeds":
            return self._seed_band(run) or "—"
        return store.format_duration(milestones.seconds_to(run.path, int(self.time_mode[2:]) / 100))

    def _seed_band(self, run: RunInfo) -> str:
        """``95.1±0.3``: the run's seed group over two or more seeds, else nothing."""
        group = self.groups.get(compare.group_key(run.config)) if run.config else None
        return "" if group is None or group.n < 2 else f"{group.mean * 100:.1f}±{group.std * 100:.1f}"

    def _show_detail(self) -> None:
        run = self.cursor_run
        text = ""
        if run is not None:
            model = run.model_file.name if run.model_file else "no model"
            reason = f" ({run.reason})" if run.reason else ""
            acc = store.format_accuracy(run.test_accuracy) + ("" if run.evaluated else " (last epoch; T evaluates)")
            band = self._seed_band(run)
            acc += f" (seeds {band})" if band else ""
            what = "Enter attaches" if run.status == store.RUNNING else "Enter opens"
            if run.status in ("stopped", "incomplete") or (run.status == "failed" and "loss became" not in run.reason):
                what += " · R resumes"
            text = (f"{run.id}: {run.status}{reason} · test acc {acc} · {model} · {what}"
                    f" · {len(self.selected)} selected · sort {self.sort_key} · to {milestones.describe(run.path)}")
            two = self._selected_groups()
            if len(two) == 2 and max(g.n for g in two) > 1:  # two configs over seeds: an improvement, or noise?
                text = compare.compare_groups(*two)
        self.query_one("#runs-detail", Static).update(Text(SYM.text(safe(text)), no_wrap=True, overflow="ellipsis"))

    def _selected_groups(self) -> list[compare.SeedGroup]:
        """The seed groups the selected runs belong to, the one started first first."""
        chosen = sorted((r for r in self.runs if r.id in self.selected and r.config), key=lambda r: (r.started, r.id))
        keys = list(dict.fromkeys(compare.group_key(r.config) for r in chosen))
        return [self.groups[k] for k in keys if k in self.groups]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """Clicking a header sorts by it; clicking the sorted column again flips the order."""
        event.stop()
        sort = dict((key, s) for key, _, s in self._columns()).get(str(event.column_key.value))
        if sort is None:
            return
        if sort == self.sort_key:
            current = store.SORTS[sort][1] if self.sort_descending is None else self.sort_descending
            self.sort_descending = not current
        else:
            self.sort_key, self.sort_descending = sort, None
        self._resort()

    def _resort(self) -> None:
        keep = self.cursor_run.id if self.cursor_run else None
        self._fill_table(list(self.runs), keep)

    # ------------------------------------------------------------------ actions
    def action_toggle_select(self) -> None:
        run = self.cursor_run
        if run is None:
            return
        self.selected ^= {run.id}
        self.table.update_cell(run.id, "sel", SELECTED if run.id in self.selected else " ")
        self.table.action_cursor_down()  # like a file manager: space marks and moves on
        self._show_detail()

    def action_open(self) -> None:
        """Show the cursor run in every tab (attached while it trains)."""
        run = self.cursor_run
        if run is not None:
            self.post_message(self.OpenRun(run.path))

    def action_resume(self) -> None:
        run = self.cursor_run
        if run is None:
            return
        if run.status == store.RUNNING:
            self.app.notify(f"{run.id} is still running.", severity="warning", timeout=3)
        elif run.status == "done":
            self.app.notify(f"{run.id} is done; `mnist-tui resume {run.id} --epochs N` trains it further.",
                            timeout=5)
        else:
            self.post_message(self.ResumeRun(run.path))

    def action_evaluate(self) -> None:
        run = self.cursor_run
        if run is None:
            return
        if run.status in (store.RUNNING, store.INCOMPLETE) or run.model_file is None:
            self.app.notify(f"{run.id} has no final model to evaluate ({run.status}).", severity="warning",
                            timeout=3)
            return
        self.post_message(self.EvaluateRun(run.path))

    def action_overlay(self) -> None:
        ids = [r.id for r in self.runs if r.id in self.selected]
        if not ids and self.cursor_run is not None:
            ids = [self.cursor_run.id]
        self.overlaid = ids
        self._update_chart()

    def action_load_model(self) -> None:
        run = self.cursor_run
        if run is None or run.model_file is None or not Path(run.model_file).exists():
            self.app.notify("This run has no saved model.", severity="warning", timeout=3)
            return
        self.post_message(self.LoadModel(Path(run.model_file)))

    def action_diff(self) -> None:
        """What changed between the two selected runs: flipped digits, confusion, curves."""
        from mnist_tui.screens.diff import open_diff

        open_diff(self, sorted((r for r in self.runs if r.id in self.selected), key=lambda r: (r.started, r.id)))

    def action_sweeps(self, new: bool = False) -> None:
        """Every sweep of the store with its live leaderboard; ``n`` there (or ``new``) starts one."""
        from mnist_tui.screens.sweep import SweepScreen

        self.app.push_screen(SweepScreen(self.runs_dir, base=getattr(self.app, "config", None), new=new))

    def action_cycle_time(self) -> None:
        """The time column: total time, time to 97/98/99 % validation accuracy, seed band."""
        at = [m[0] for m in TIME_MODES].index(self.time_mode)
        self.time_mode, header, sort = TIME_MODES[(at + 1) % len(TIME_MODES)]
        if sort is not None and self.sort_key in {m[2] for m in TIME_MODES}:
            self.sort_key, self.sort_descending = sort, None  # a sort by this column follows it
        self._resort()
        self.app.notify(f"Time column: {header}", timeout=2)

    def action_code(self) -> None:
        """The plain Keras (or NumPy) script of the cursor run's config, in a modal."""
        from mnist_tui.codegen import suggested_name
        from mnist_tui.runs.rundir import read_config
        from mnist_tui.screens.code import CodeScreen

        run = self.cursor_run
        if run is None:
            return
        try:
            cfg = read_config(run.path)
        except RunStoreError as err:
            self.app.notify(str(err), severity="error")
            return
        self.app.push_screen(CodeScreen(cfg, f"{run.id}: the code behind this run", run.path / suggested_name(cfg)))

    def action_toggle_metric(self) -> None:
        chart = self.chart
        chart.set_metric("accuracy" if chart.metric == "loss" else "loss")

    def action_cycle_sort(self) -> None:
        at = SORT_CYCLE.index(self.sort_key) if self.sort_key in SORT_CYCLE else -1
        self.sort_key, self.sort_descending = SORT_CYCLE[(at + 1) % len(SORT_CYCLE)], None
        self._resort()

    def action_refresh_runs(self) -> None:
        self.refresh_runs()

    def action_delete(self) -> None:
        run = self.cursor_run
        if run is None:
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                store.delete_run(run.path, self.runs_dir)
            except RunStoreError as err:
                self.app.notify(str(err), title="Not deleted", severity="error")
            else:
                self._metrics_cache.pop(run.path, None)
                self.app.notify(f"Deleted {run.id}")
            self.refresh_runs()

        self.app.push_screen(ConfirmScreen(safe(f"Delete {store.describe_for_delete(run)}? Its files and model go.")),
                             answered)

    def action_export(self, fmt: str) -> None:
        """Write ``export.csv`` / ``export.json`` into the run's directory, off the UI thread."""
        run = self.cursor_run
        if run is None:
            return
        out = run.path / f"export.{fmt}"
        self.run_worker(lambda: store.export_run(run, fmt, out), name=str(out), group="runs-export",
                        thread=True, exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "runs-export":
            return
        if event.state == WorkerState.SUCCESS:
            self.app.notify(f"Exported to {event.worker.result}")
        elif event.state == WorkerState.ERROR:
            self.app.notify(f"Export failed: {event.worker.error}", severity="error")

    # ------------------------------------------------------------------ chart
    def _metrics(self, run: RunInfo) -> dict[str, Any] | None:
        """The run's parsed metrics, re-read only when its log changed (a running run grows)."""
        try:
            st = (run.path / LOG).stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            return None
        cached = self._metrics_cache.get(run.path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            metrics = store.read_metrics(run)
        except (RunStoreError, OSError) as err:
            self.app.notify(f"{run.id}: {err}", severity="warning")
            return None
        self._metrics_cache[run.path] = (stamp, metrics)
        return metrics

    def _update_chart(self) -> None:
        by_id = {r.id: r for r in self.runs}
        curves = []
        for rid in self.overlaid:
            metrics = self._metrics(by_id[rid]) if rid in by_id else None
            if metrics is not None:
                curves.append((rid, metrics["batches"]))
        self.chart.set_runs(curves, compare.group_labels([r for r in self.runs if r.id in self.overlaid]))
