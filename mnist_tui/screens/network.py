"""Network view: what the layers learned, epoch by epoch, and what they do with one digit.

Three sections, like Explore's (keys 1/2/3 while the view has focus):

1. Weights: the first layer's units as 28×28 pictures of their incoming weights (dense
   presets), or the 32 first-layer 5×5 filters (cnn); arrows pick one to enlarge. Dead units
   (never responsive on the test set) are dimmed and counted.
2. Distributions: each layer's weight histogram at every epoch in the same bins, so the
   spread shows, and how far each layer moved per epoch (‖W_e − W_e−1‖ / ‖W_e−1‖).
3. One digit: the Viewer's current digit through every layer to the softmax.

Sections 1 and 2 draw the per-epoch network records the trainer writes (``RunHistory.
network_by_epoch``; ``[``/``]`` step through them); section 3 runs the run's latest checkpoint
with NumPy (``models.forward``) in a thread worker, never Keras and never on the UI thread.
Nothing is drawn while the tab is hidden: ``sync`` marks it stale and the tab's activation
paints it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Static, TabbedContent, TabPane

from mnist_tui.errors import MnistTuiError
from mnist_tui.history import RunHistory
from mnist_tui.models.network_record import record_meta, unit_images
from mnist_tui.render.bars import probability_bars
from mnist_tui.render.charset import symbols
from mnist_tui.render.digits import digit_text
from mnist_tui.render.network import (
    activation_text,
    as_picture,
    flow,
    grid_shape,
    histogram_rows,
    shrink,
    signed_legend,
    signed_text,
    spark,
    tiles,
    zoom,
)
from mnist_tui.widgets.digit_art import art_mode

SECTIONS = ("network-weights", "network-distributions", "network-digit")
NO_RECORD = ("No network record yet: the first one (epoch 0, the initial weights) comes as training starts, "
             "then one at every epoch end. Runs recorded before this version have none.")
MAPS_PER_PAGE = 8  # feature maps shown per conv layer at a time (, and . page through them)
MAX_HISTORY_ROWS = 8  # epochs shown per histogram: the first, the last, the one viewed, and between
CHECKPOINT, INITIAL = "checkpoint.npz", "checkpoint-initial.npz"  # as in mnist_tui.runs.rundir


class UnitGrid(Widget):
    """Thumbnails of the first layer's units or filters, as many as fit, the selected one's
    rows always in view. Pictures are built for the visible rows only."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.images: np.ndarray | None = None  # (K, h, w) signed weights, already shrunk or zoomed
        self.captions: list[str] = []
        self.dead: np.ndarray | None = None
        self.selected = 0
        self.mode = art_mode()
        self.per_row = 1

    def show(self, images: np.ndarray | None, captions: list[str], dead: np.ndarray | None, selected: int) -> None:
        self.images, self.captions, self.dead, self.selected = images, captions, dead, selected
        self.refresh()

    @property
    def tile_size(self) -> tuple[int, int]:
        """(columns, rows) of one tile: the picture plus its caption line."""
        if self.images is None:
            return 1, 1
        _, h, w = self.images.shape
        return w, (h + 1) // 2 + 1

    def render(self) -> Text:
        if self.images is None or not len(self.images):
            return Text(NO_RECORD, style="dim")
        width, height = self.tile_size
        self.per_row = grid_shape(self.size.width, width)
        rows_fit = max(1, self.size.height // height)
        row = self.selected // self.per_row
        first_row = max(0, min(row - rows_fit // 2, math.ceil(len(self.images) / self.per_row) - rows_fit))
        start = first_row * self.per_row
        stop = min(len(self.images), start + rows_fit * self.per_row)
        shown = range(start, stop)
        scale = float(np.abs(self.images).max()) or 1.0  # one scale for the grid: strong units look strong
        pictures = [signed_text(self.images[i], self.mode, scale) for i in shown]
        marked = [bool(self.dead is not None and i < len(self.dead) and self.dead[i]) for i in shown]
        return tiles(pictures, [self.captions[i] for i in shown], self.per_row, highlight=self.selected - start,
                     marked=marked)


class NetworkView(Vertical, can_focus=True):
    """The keys work while the view has focus (the app focuses it when its tab opens)."""

    BINDINGS = [
        Binding("1", "section(0)", "Weights", id="network.weights"),
        Binding("2", "section(1)", "Distributions", id="network.distributions"),
        Binding("3", "section(2)", "One digit", id="network.digit"),
        Binding("left", "move(-1, 0)", "Prev unit", id="network.left", show=False),
        Binding("right", "move(1, 0)", "Next unit", id="network.right", show=False),
        Binding("up", "move(0, -1)", "Unit above", id="network.up", show=False),
        Binding("down", "move(0, 1)", "Unit below", id="network.down", show=False),
        Binding("left_square_bracket", "epoch(-1)", "Epoch -1", id="network.prev_epoch"),
        Binding("right_square_bracket", "epoch(1)", "Epoch +1", id="network.next_epoch"),
        Binding("comma", "maps(-1)", "Prev maps", id="network.prev_maps", show=False),
        Binding("full_stop", "maps(1)", "Next maps", id="network.next_maps"),
    ]

    def __init__(self, history: RunHistory, *, run_path: Callable[[], Path | None] | None = None,
                 digit: Callable[[], int | None] | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.history = history
        self.run_path = run_path or (lambda: None)
        self.digit = digit
        self.epoch: int | None = None  # the record shown; None: the latest
        self.selected = 0
        self.map_page = 0
        self.sym = symbols()
        self.mode = art_mode()
        self._run_key: tuple[Any, ...] | None = None
        self._drawn: tuple[Any, ...] | None = None
        self._model: Any = None  # the ForwardModel of the latest checkpoint, loaded in a worker
        self._model_key: tuple[Any, ...] | None = None
        self._digit_key: tuple[Any, ...] | None = None
        self.activations: list[np.ndarray] | None = None  # the digit's, from the worker
        self.digit_index: int | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="network-title")
        with TabbedContent(id="network-tabs"):
            with TabPane("1 Weights", id=SECTIONS[0]), Horizontal(id="network-weights-body"):
                yield UnitGrid(id="network-grid")
                with Vertical(id="network-side"):
                    yield Static("", id="network-unit")
                    yield Static("", id="network-unit-info")
            with TabPane("2 Distributions", id=SECTIONS[1]), VerticalScroll(classes="network-scroll"):
                yield Static(NO_RECORD, id="network-histograms")
                yield Static("", id="network-updates")
            with TabPane("3 One digit", id=SECTIONS[2]), VerticalScroll(classes="network-scroll"):
                yield Static("", id="network-digit-text")

    # ------------------------------------------------------------------ state
    @property
    def section(self) -> str:
        tabs = self.query("#network-tabs").results(TabbedContent)
        return next((t.active for t in tabs), "")

    def epochs(self) -> list[int]:
        return self.history.network_epochs()

    def record(self) -> dict[str, np.ndarray] | None:
        epochs = self.epochs()
        if not epochs:
            return None
        epoch = self.epoch if self.epoch in epochs else epochs[-1]
        saved = self.history.network_by_epoch.get(epoch)
        return None if saved is None else saved.record

    def shown(self) -> bool:
        return all(node.display for node in self.ancestors_with_self if isinstance(node, Widget))

    def _state(self) -> tuple[Any, ...]:
        return (self._run_key, self.history.version, self.epoch, self.selected, self.map_page, self.section,
                self.digit_index, id(self.activations), self.size)

    # ------------------------------------------------------------------ the app's calls
    def sync(self) -> None:
        """New events of the followed run: repaint if shown (else when the tab opens)."""
        key = (self.run_path(), id(self.history.data), self.history.started)
        if key != self._run_key:  # another run (or a resume): start over
            self._run_key = key
            self.epoch, self.selected, self.map_page = None, 0, 0
            self.activations, self._model, self._model_key, self._digit_key = None, None, None, None
        if not self.shown():
            return
        self._update_digit()
        if self._state() != self._drawn:
            self.redraw()

    def activated(self) -> None:
        """The tab opened: focus (the keys are the view's) and paint what changed meanwhile."""
        self.focus()
        self.sync()

    def on_resize(self) -> None:
        if self.shown():
            self.redraw()

    # ------------------------------------------------------------------ drawing
    def redraw(self) -> None:
        self._drawn = self._state()
        record = self.record()
        self.query_one("#network-title", Static).update(self._title(record))
        section = self.section
        if section == SECTIONS[0]:
            self._draw_weights(record)
        elif section == SECTIONS[1]:
            self._draw_distributions()
        elif section == SECTIONS[2]:
            self._draw_digit()

    def _title(self, record: dict[str, np.ndarray] | None) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        if record is None:
            text.append("network: no record yet", style="bold")
            return text
        meta = record_meta(record)
        epoch, epochs = int(meta.get("epoch", 0)), self.epochs()
        what = "initial weights (epoch 0)" if epoch == 0 and len(epochs) > 1 else \
            "loaded model" if epoch == 0 else f"after epoch {epoch}"
        preset = meta.get("preset")
        text.append(f"{preset}: {what}" if preset else what, style="bold")
        if len(epochs) > 1:
            text.append(f" {self.sym.dot} [ ] epochs {epochs[0]}–{epochs[-1]}")
        hidden = meta.get("hidden")
        if hidden and "dead" in hidden:
            text.append(f" {self.sym.dot} dead units {hidden['dead']} of {hidden['units']}")
        if self.history.finished is None and self.history.phase:
            text.append(f" {self.sym.dot} training continues", style="dim")
        return self.sym.rich(text)

    def _draw_weights(self, record: dict[str, np.ndarray] | None) -> None:
        grid = self.query_one(UnitGrid)
        unit = self.query_one("#network-unit", Static)
        info = self.query_one("#network-unit-info", Static)
        if record is None:
            grid.show(None, [], None, 0)
            unit.update("")
            info.update("")
            return
        meta = record_meta(record)
        images = unit_images(record)
        if images is not None:
            hidden = meta.get("hidden") or {}
            self.selected = min(self.selected, len(images) - 1)
            dead = record.get("dead")
            grid.show(np.stack([shrink(im, 2) for im in images]), [f"#{i}" for i in range(len(images))], dead,
                      self.selected)
            w = images[self.selected]
            unit.update(signed_text(w, self.mode))
            lines = Text()
            lines.append(f"unit {self.selected} of {hidden.get('units', len(images))}", style="bold")
            lines.append(f"\nits 784 incoming weights\n{w.min():+.3f} {self.sym.ellipsis} {w.max():+.3f}\n")
            if dead is not None:
                is_dead = bool(dead[self.selected])
                lines.append("dead: never responsive on the test set" if is_dead else "alive", style="bold" if
                             is_dead else "")
                witness = record.get("witness")
                data = self.history.data
                if not is_dead and witness is not None and data is not None and data.y_test is not None \
                        and 0 <= int(witness[self.selected]) < len(data.y_test):
                    k = int(witness[self.selected])
                    lines.append(f"\nwakes on test #{k} (a {data.class_names[int(data.y_test[k])]})", style="dim")
                lines.append(f"\n{int(dead.sum())} of {len(dead)} units dead\n", style="dim")
            if len(images) < int(hidden.get("units", len(images))):
                lines.append(f"the first {len(images)} units are kept\n", style="dim")
            lines.append_text(signed_legend(self.mode, self.sym))
            lines.append(f"\n{self.sym.left}{self.sym.right}{self.sym.up}{self.sym.down} pick a unit", style="dim")
            info.update(self.sym.rich(lines))
            return
        filters = record.get("filters")
        if filters is None:
            grid.show(None, [], None, 0)
            unit.update(Text("This model's first layer has no pictures to show.", style="dim"))
            info.update("")
            return
        self.selected = min(self.selected, len(filters) - 1)
        grid.show(np.stack([zoom(f, 2) for f in filters]), [f"#{i}" for i in range(len(filters))], None,
                  self.selected)
        f = filters[self.selected]
        unit.update(signed_text(zoom(f, 5), self.mode, float(np.abs(f).max()) or 1.0))
        lines = Text()
        kh, kw = f.shape
        lines.append(f"filter {self.selected} of {len(filters)}", style="bold")
        lines.append(f"\n{kh}{self.sym.times}{kw} weights on the image\n{f.min():+.3f} {self.sym.ellipsis} "
                     f"{f.max():+.3f}\n")
        lines.append("3 One digit shows what it finds\n", style="dim")
        lines.append_text(signed_legend(self.mode, self.sym))
        lines.append(f"\n{self.sym.left}{self.sym.right}{self.sym.up}{self.sym.down} pick a filter", style="dim")
        info.update(self.sym.rich(lines))

    def _draw_distributions(self) -> None:
        hist = self.query_one("#network-histograms", Static)
        upd = self.query_one("#network-updates", Static)
        epochs = self.epochs()
        record = self.record()
        if record is None:
            hist.update(Text(NO_RECORD, style="dim"))
            upd.update("")
            return
        current = int(record_meta(record).get("epoch", 0))
        rows = _sample_epochs(epochs, current)
        records = {e: self.history.network_by_epoch[e].record for e in epochs}
        layers = record_meta(record).get("layers", [])
        text = Text(no_wrap=True, overflow="crop")
        text.append("weights per layer, the same bins at every epoch: watch them spread\n", style="bold")
        for i, layer in enumerate(layers):
            shape = self.sym.times.join(str(d) for d in layer["shape"])
            text.append(f"\n{layer['name']}  ({shape} kernel)\n", style="bold")
            by_epoch = [(e, records[e]["hist_counts"][i]) for e in rows if records[e] is not None
                        and i < len(records[e]["hist_counts"])]
            text.append_text(histogram_rows(by_epoch, record["hist_edges"][i], current, self.sym))
            text.append("\n")
        hist.update(self.sym.rich(text))
        moves = Text(no_wrap=True, overflow="crop")
        rule = "|W_e - W_e-1| / |W_e-1|" if self.sym.ascii else "‖W_e − W_e−1‖ / ‖W_e−1‖"
        moves.append(f"how far each layer moved in an epoch: {rule}\n", style="bold")
        later = [e for e in epochs if e > 0]
        name_w = max((len(layer["name"]) for layer in layers), default=0)
        for i, layer in enumerate(layers):
            values = [float(records[e]["updates"][i]) if records[e] is not None else math.nan for e in later]
            here = float(record["updates"][i])
            moves.append(f"{layer['name']:<{name_w}} ")
            moves.append(spark(values, self.sym), style="bold")
            moves.append(f"  epoch {current}: " + ("—" if not math.isfinite(here) else f"{here:.3f}"))
            moves.append(f"  {'|W|' if self.sym.ascii else '‖W‖'} {float(record['norms'][i]):.2f}\n", style="dim")
        if not later:
            moves.append("(after the first epoch)", style="dim")
        upd.update(self.sym.rich(moves))

    # ------------------------------------------------------------------ one digit
    def _current_digit(self) -> int | None:
        if self.digit is not None:
            return self.digit()
        nav = getattr(next(iter(self.app.query("ViewerView")), None), "nav", None)
        return getattr(nav, "index", 0) if nav is not None else 0

    def _update_digit(self) -> None:
        """Run the latest checkpoint on the Viewer's digit, in a worker, when either changed."""
        if self.section != SECTIONS[2]:
            return
        data, path = self.history.data, self.run_path()
        index = self._current_digit()
        if data is None or data.x_test is None or path is None or index is None or not 0 <= index < len(data.x_test):
            return
        model_key = (path, self.history.checkpoint_epoch, self.history.finished is not None)
        key = (model_key, index)
        if key == self._digit_key:
            return
        self._digit_key = key
        self._compute_digit(path, model_key, data.x_test[index], index)

    @work(thread=True, exclusive=True, group="network-digit", exit_on_error=False)
    def _compute_digit(self, path: Path, model_key: tuple[Any, ...], image: np.ndarray, index: int) -> None:
        from mnist_tui.models.forward import load_checkpoint

        model = self._model if self._model_key == model_key else None
        if model is None:
            try:
                model = load_checkpoint(path / CHECKPOINT)
            except MnistTuiError:
                return  # no checkpoint yet (before the first epoch end)
        acts = model.activations(image[None])
        with contextlib.suppress(RuntimeError):  # the app closed meanwhile
            self.app.call_from_thread(self._digit_ready, model, model_key, acts, index)

    def _digit_ready(self, model: Any, model_key: tuple[Any, ...], acts: list[np.ndarray], index: int) -> None:
        self._model, self._model_key = model, model_key
        self.activations, self.digit_index = acts, index
        if self.shown():
            self.redraw()

    def _draw_digit(self) -> None:
        out = self.query_one("#network-digit-text", Static)
        data = self.history.data
        if self.activations is None or self._model is None or data is None or data.x_test is None \
                or self.digit_index is None:
            out.update(Text("The Viewer's digit goes through the run's latest checkpoint here, once the first "
                            "epoch has ended (or a model is opened).", style="dim"))
            return
        out.update(self.sym.rich(self.digit_text(self._model, self.activations, data.x_test[self.digit_index],
                                                 int(data.y_test[self.digit_index]) if data.y_test is not None
                                                 else None, data.class_names)))

    def digit_text(self, model: Any, acts: list[np.ndarray], image: np.ndarray, label: int | None,
                   names: tuple[str, ...]) -> Text:
        """The digit, then every layer's output, ending in the softmax, laid out left to right."""
        sym = self.sym
        width = max(40, self.size.width - 2)
        epoch = f"after epoch {model.epoch}" if model.epoch else "the loaded model"
        head = Text(no_wrap=True, overflow="ellipsis")
        head.append(f"test digit #{self.digit_index}" + (f", true {names[label]}" if label is not None else ""),
                    style="bold")
        head.append(f", through the latest checkpoint ({epoch}) {sym.dot} the Viewer (v) picks the digit",
                    style="dim")
        blocks = [_block("input 28×28", digit_text(image, self.mode))]
        layers = list(model.layers)
        for i, (layer, out) in enumerate(zip(layers, acts, strict=True)):
            kind, values = layer["kind"], out[0]
            if kind in ("dropout", "flatten"):
                continue  # dropout is the identity at inference; flatten only reshapes
            act = layer.get("activation", "linear")
            if i == len(layers) - 1 and values.ndim == 1 and len(values) == len(names):
                bars = probability_bars(values, label, names, min(40, width), sym=sym)
                blocks.append(_block(f"{sym.right} dense {len(values)} softmax", bars))
                continue
            if values.ndim == 1:
                picture = as_picture(values)
                if picture.shape[1] < 20:
                    picture = zoom(picture, 2)
                art = signed_text(picture, self.mode) if values.min() < 0 else \
                    activation_text(picture, self.mode, 1.0 if act == "sigmoid" else None)
                active = f", {int((values > 0).sum())} > 0" if act == "relu" else ""
                blocks.append(_block(f"{sym.right} dense {len(values)} {act}{active}", art))
                continue
            channels = values.shape[-1]
            first = min(self.map_page * MAPS_PER_PAGE, max(0, channels - MAPS_PER_PAGE))
            chosen = range(first, min(channels, first + MAPS_PER_PAGE))
            h, w = values.shape[:2]
            factor = 2 if h > 16 else 1
            maps = [shrink(values[:, :, c], factor) for c in chosen]
            top = float(max((m.max() for m in maps), default=0.0)) or 1.0  # one scale: strong maps look strong
            pictures = [signed_text(m, self.mode) if m.min() < 0 else activation_text(m, self.mode, top) for m in maps]
            tile_w = pictures[0].split("\n")[0].cell_len if pictures else 1
            per_row = len(pictures) if grid_shape(width, tile_w) >= len(pictures) else (len(pictures) + 1) // 2
            name = f"conv {act}" if kind == "conv" else "max pool 2×2"
            title = f"{sym.right} {name}: {channels} maps {h}{sym.times}{w}, #{chosen.start}–{chosen.stop - 1} (, .)"
            blocks.append(_block(title, tiles(pictures, [f"#{c}" for c in chosen], per_row)))
        text = Text(no_wrap=True, overflow="crop")
        text.append_text(head)
        text.append("\n")
        text.append_text(flow(blocks, width))
        return text

    # ------------------------------------------------------------------ actions
    def action_section(self, index: int) -> None:
        self.query_one("#network-tabs", TabbedContent).active = SECTIONS[index]

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        event.stop()  # the app's own tab handler must not see the inner tabs
        self.refresh_bindings()
        self.sync()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Arrows pick units on Weights only, , and . page maps on One digit only."""
        if action == "move":
            return True if self.section == SECTIONS[0] else None
        if action == "maps":
            return True if self.section == SECTIONS[2] else None
        return True

    def action_move(self, dx: int, dy: int) -> None:
        record = self.record()
        if record is None:
            return
        count = len(record["units"]) if "units" in record else len(record.get("filters", ()))
        if not count:
            return
        per_row = self.query_one(UnitGrid).per_row
        self.selected = max(0, min(count - 1, self.selected + dx + dy * per_row))
        self.redraw()

    def action_epoch(self, step: int) -> None:
        epochs = self.epochs()
        if not epochs:
            self.app.notify("No network record yet.", severity="warning", timeout=2)
            return
        current = self.epoch if self.epoch in epochs else epochs[-1]
        index = max(0, min(len(epochs) - 1, epochs.index(current) + step))
        self.epoch = None if index == len(epochs) - 1 else epochs[index]
        self.redraw()

    def action_maps(self, step: int) -> None:
        self.map_page = max(0, min(7, self.map_page + step))  # 64 maps at most: 8 pages
        self.redraw()


def _block(title: str, body: Text) -> Text:
    """A titled picture for ``flow``: the title, cut to the picture's width, above it."""
    width = max((line.cell_len for line in body.split("\n")), default=0)
    block = Text(no_wrap=True, overflow="crop")
    block.append(title if len(title) <= max(width, 24) else title[:max(width, 24) - 1] + "…", style="bold")
    block.append("\n")
    block.append_text(body)
    return block


def _sample_epochs(epochs: list[int], current: int) -> list[int]:
    """At most MAX_HISTORY_ROWS epochs: the first, the last, the current one, evenly between."""
    if len(epochs) <= MAX_HISTORY_ROWS:
        return epochs
    picks = {epochs[0], epochs[-1], current}
    for k in np.linspace(0, len(epochs) - 1, MAX_HISTORY_ROWS - 1):
        if len(picks) >= MAX_HISTORY_ROWS:
            break
        picks.add(epochs[round(float(k))])
    return sorted(picks)
